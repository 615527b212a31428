// SPDX-License-Identifier: GPL-2.0
#include "placement.hpp"

#include "util.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <optional>
#include <set>

namespace offl {

namespace {

constexpr double kEps = 1e-9;

std::string vm_str(const VmRequest &r)
{
	return "VM " + std::to_string(r.tgid) + (r.name.empty() ? std::string() : " " + offl::quoted(r.name));
}

class Planner {
public:
	Planner(const Topology &topo, const PlacementPolicy &pol) : topo_(topo), pol_(pol)
	{
		one_to_one_ = pol.ratio <= 1.0 + kEps;
		cpu_max_ = one_to_one_ ? 1.0 : pol.ratio;
		std::set<int> reserved(pol.reserved.begin(), pol.reserved.end());
		for (const NumaNode &n : topo.nodes) {
			Node &nd = nodes_[n.id];
			for (int c : n.cpus)
				if (!reserved.count(c)) {
					nd.cpus.push_back(c);
					load_[c] = 0;
					node_of_[c] = n.id;
				}
			const double alloc = static_cast<double>(nd.cpus.size());
			nd.budget = one_to_one_ ? std::floor(alloc * pol.ratio + kEps) : alloc * pol.ratio;
		}
	}

	double capacity() const
	{
		double c = 0;
		for (const auto &[id, n] : nodes_)
			c += n.budget;
		return c;
	}

	double free(int node) const
	{
		const Node &n = nodes_.at(node);
		return n.budget - n.used;
	}

	// Can `count` vCPUs share `cpus` (each adds count/k to every CPU)?
	bool fits(const std::vector<int> &cpus, double count, std::string *why = nullptr) const
	{
		if (cpus.empty()) {
			if (why)
				*why = "empty CPU set";
			return false;
		}
		const double add = count / static_cast<double>(cpus.size());
		std::map<int, double> per_node;
		for (int c : cpus) {
			auto it = load_.find(c);
			if (it == load_.end()) {
				if (why)
					*why = "CPU " + std::to_string(c) + " is reserved or offline";
				return false;
			}
			if (one_to_one_ && cpus.size() != 1) {
				if (why)
					*why = "a range binding while the ratio is <= 1 (one-to-one)";
				return false;
			}
			if (it->second + add > cpu_max_ + kEps) {
				if (why)
					*why = "CPU " + std::to_string(c) + (one_to_one_ ? " is taken" : " is full");
				return false;
			}
			per_node[node_of_.at(c)] += add;
		}
		for (const auto &[node, a] : per_node)
			if (nodes_.at(node).used + a > nodes_.at(node).budget + kEps) {
				if (why)
					*why = "node " + std::to_string(node) + " is full";
				return false;
			}
		return true;
	}

	void commit(const std::vector<int> &cpus, double count)
	{
		const double add = count / static_cast<double>(cpus.size());
		for (int c : cpus) {
			load_[c] += add;
			nodes_[node_of_.at(c)].used += add;
		}
	}

	// m vCPUs on one node: one set per vCPU, or nullopt.  prefer: a set
	// the VM already uses (hot-plug joins it when it can).
	std::optional<std::vector<std::vector<int>>> place_group(int node, size_t m, const std::vector<int> *prefer)
	{
		Node &nd = nodes_.at(node);
		const double dm = static_cast<double>(m);
		if (m == 0 || free(node) + kEps < dm)
			return std::nullopt;
		std::vector<std::vector<int>> out;
		if (one_to_one_) {
			for (int c : nd.cpus)
				if (load_[c] < kEps && out.size() < m)
					out.push_back({c});
			if (out.size() < m)
				return std::nullopt;
			for (const auto &s : out)
				commit(s, 1);
			return out;
		}
		if (prefer && topo_.node_of_set(*prefer) == node && fits(*prefer, dm)) {
			commit(*prefer, dm);
			return std::vector<std::vector<int>>(m, *prefer);
		}
		std::vector<int> order = nd.cpus;
		std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return load_[a] < load_[b] - kEps; });
		size_t k0 = static_cast<size_t>(std::ceil(dm / pol_.ratio - kEps));
		k0 = std::max<size_t>(1, std::min(k0, order.size()));
		for (size_t k = k0; k <= order.size(); k++) {
			std::vector<int> set(order.begin(), order.begin() + static_cast<long>(k));
			std::sort(set.begin(), set.end());
			if (fits(set, dm)) {
				commit(set, dm);
				return std::vector<std::vector<int>>(m, set);
			}
		}
		return std::nullopt;
	}

	// Node ids, most free capacity first (lowest id on a tie).
	std::vector<int> nodes_by_free() const
	{
		std::vector<int> ids;
		for (const auto &[id, n] : nodes_)
			ids.push_back(id);
		std::stable_sort(ids.begin(), ids.end(), [&](int a, int b) { return free(a) > free(b) + kEps; });
		return ids;
	}

	bool one_to_one() const { return one_to_one_; }
	double used_total() const
	{
		double u = 0;
		for (const auto &[id, n] : nodes_)
			u += n.used;
		return u;
	}

private:
	struct Node {
		std::vector<int> cpus; // allocatable
		double budget = 0;
		double used = 0;
	};
	const Topology &topo_;
	const PlacementPolicy &pol_;
	bool one_to_one_ = true;
	double cpu_max_ = 1;
	std::map<int, Node> nodes_;
	std::map<int, double> load_;
	std::map<int, int> node_of_;
};

} // namespace

const VcpuPlacement *VmPlacement::find(int vcpu) const
{
	for (const VcpuPlacement &v : vcpus)
		if (v.vcpu == vcpu)
			return &v;
	return nullptr;
}

std::vector<int> VmPlacement::nodes(const Topology &topo) const
{
	std::set<int> s;
	for (const VcpuPlacement &v : vcpus)
		for (int c : v.cpus)
			s.insert(topo.node_of(c));
	return {s.begin(), s.end()};
}

size_t PlacementPlan::unplaced() const
{
	size_t n = 0;
	for (const VmPlacement &v : vms)
		n += v.unplaced.size();
	return n;
}

const VmPlacement *PlacementPlan::find(pid_t tgid) const
{
	for (const VmPlacement &v : vms)
		if (v.tgid == tgid)
			return &v;
	return nullptr;
}

double placement_capacity(const Topology &topo, const PlacementPolicy &pol)
{
	return Planner(topo, pol).capacity();
}

PlacementPlan plan_placement(const Topology &topo, const PlacementPolicy &pol, const std::vector<VmRequest> &vms,
			     const std::vector<VmPlacement> &previous)
{
	Planner pl(topo, pol);
	PlacementPlan plan;

	std::vector<VmRequest> reqs = vms;
	std::sort(reqs.begin(), reqs.end(), [](const VmRequest &a, const VmRequest &b) {
		return a.start_time != b.start_time ? a.start_time < b.start_time : a.tgid < b.tgid;
	});
	for (VmRequest &r : reqs) {
		std::sort(r.vcpus.begin(), r.vcpus.end());
		r.vcpus.erase(std::unique(r.vcpus.begin(), r.vcpus.end()), r.vcpus.end());
	}

	std::map<pid_t, const VmPlacement *> prev;
	for (const VmPlacement &p : previous)
		prev[p.tgid] = &p;
	auto prev_of = [&](const VmRequest &r) -> const VmPlacement * {
		auto it = prev.find(r.tgid);
		if (it == prev.end() || it->second->start_time != r.start_time)
			return nullptr;
		return it->second;
	};

	plan.vms.resize(reqs.size());
	std::vector<const VmPlacement *> prevs(reqs.size(), nullptr);

	// Pass 1: keep what is still valid, oldest VM first.
	for (size_t i = 0; i < reqs.size(); i++) {
		const VmRequest &r = reqs[i];
		VmPlacement &out = plan.vms[i];
		out.tgid = r.tgid;
		out.start_time = r.start_time;
		out.name = r.name;
		const VmPlacement *p = prevs[i] = prev_of(r);
		if (!p)
			continue;
		for (int idx : r.vcpus) {
			const VcpuPlacement *b = p->find(idx);
			if (!b)
				continue;
			if (pol.rebalance)
				continue;
			std::string why;
			if (pl.fits(b->cpus, 1, &why)) {
				pl.commit(b->cpus, 1);
				out.vcpus.push_back(*b);
				plan.kept++;
			} else {
				plan.notes.push_back(vm_str(r) + " vCPU " + std::to_string(idx) + ": binding " +
						     format_cpu_list(b->cpus) + " no longer valid (" + why +
						     "), re-placed");
			}
		}
	}

	// Pass 2: everything without a binding.
	for (size_t i = 0; i < reqs.size(); i++) {
		const VmRequest &r = reqs[i];
		VmPlacement &out = plan.vms[i];
		std::vector<int> pending;
		for (int idx : r.vcpus)
			if (!out.find(idx))
				pending.push_back(idx);
		if (!pending.empty()) {
			// Hot-plug: the VM's node, and (range binding) its set.
			std::set<int> kept_nodes;
			std::optional<std::vector<int>> common;
			bool same_set = !out.vcpus.empty();
			for (const VcpuPlacement &v : out.vcpus) {
				kept_nodes.insert(topo.node_of_set(v.cpus));
				if (!common)
					common = v.cpus;
				else if (*common != v.cpus)
					same_set = false;
			}
			const std::vector<int> *prefer = same_set && common ? &*common : nullptr;
			std::optional<std::vector<std::vector<int>>> sets;
			if (kept_nodes.size() == 1 && *kept_nodes.begin() >= 0)
				sets = pl.place_group(*kept_nodes.begin(), pending.size(), prefer);
			if (!sets && out.vcpus.empty())
				for (int node : pl.nodes_by_free())
					if ((sets = pl.place_group(node, pending.size(), nullptr)))
						break;
			size_t next = 0;
			auto assign = [&](const std::vector<std::vector<int>> &s) {
				for (const auto &cpus : s)
					out.vcpus.push_back(VcpuPlacement{pending[next++], cpus});
			};
			if (sets) {
				assign(*sets);
			} else {
				// No node holds them all: span, most free node first,
				// until not even one more vCPU fits anywhere (so a
				// re-plan of the same VMs places nothing more).
				for (bool progress = true; progress && next < pending.size();) {
					progress = false;
					for (int node : pl.nodes_by_free()) {
						size_t m = std::min(pending.size() - next,
								    static_cast<size_t>(std::floor(pl.free(node) + kEps)));
						for (; m > 0; m--) {
							if (auto s = pl.place_group(node, m, nullptr)) {
								assign(*s);
								progress = true;
								break;
							}
						}
						if (next == pending.size())
							break;
					}
				}
				if (next > 0 && next <= pending.size())
					plan.notes.push_back(vm_str(r) + ": " + std::to_string(pending.size()) +
							     " vCPU(s) fit on no single node: spread over nodes");
				for (; next < pending.size(); next++)
					out.unplaced.push_back(pending[next]);
				if (!out.unplaced.empty()) {
					char buf[64];
					snprintf(buf, sizeof(buf), "%.3g of %.3g", pl.used_total(), pl.capacity());
					plan.notes.push_back(vm_str(r) + ": vCPU(s) " + format_cpu_list(out.unplaced) +
							     " do not fit (host full: " + buf +
							     " vCPU slots used); left unbound");
				}
			}
			for (int idx : pending)
				if (const VcpuPlacement *b = out.find(idx)) {
					const VcpuPlacement *old = prevs[i] ? prevs[i]->find(idx) : nullptr;
					if (!old)
						plan.placed_new++;
					else if (old->cpus != b->cpus)
						plan.moved++;
					else
						plan.kept++;
				}
		}
		std::sort(out.vcpus.begin(), out.vcpus.end(),
			  [](const VcpuPlacement &a, const VcpuPlacement &b) { return a.vcpu < b.vcpu; });
		std::vector<int> all;
		for (const VcpuPlacement &v : out.vcpus)
			all.insert(all.end(), v.cpus.begin(), v.cpus.end());
		std::sort(all.begin(), all.end());
		all.erase(std::unique(all.begin(), all.end()), all.end());
		out.node = topo.node_of_set(all);
		// Emulator threads: the reserved CPUs of the VM's node, else all
		// reserved CPUs, else (nothing reserved) the VM's own CPUs.
		std::vector<int> res = pol.reserved;
		std::sort(res.begin(), res.end());
		if (out.node >= 0)
			for (int c : res)
				if (topo.node_of(c) == out.node)
					out.emulator_cpus.push_back(c);
		if (out.emulator_cpus.empty())
			for (int c : res)
				if (topo.node_of(c) >= 0)
					out.emulator_cpus.push_back(c);
		if (out.emulator_cpus.empty())
			out.emulator_cpus = all;
	}
	return plan;
}

} // namespace offl
