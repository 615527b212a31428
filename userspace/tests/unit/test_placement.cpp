// SPDX-License-Identifier: GPL-2.0
// The vCPU placement planner: examples on 1-, 2- and 4-node topologies and
// randomised property tests (no overlap, nothing reserved, every vCPU placed
// or reported, NUMA locality, stability).
#include "placement.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <random>
#include <set>

using namespace offl;

namespace {

VmRequest vm(pid_t pid, int nvcpu, uint64_t start = 0)
{
	VmRequest r;
	r.tgid = pid;
	r.start_time = start ? start : static_cast<uint64_t>(pid);
	r.name = "vm" + std::to_string(pid);
	for (int i = 0; i < nvcpu; i++)
		r.vcpus.push_back(i);
	return r;
}

std::map<int, double> loads(const PlacementPlan &p)
{
	std::map<int, double> l;
	for (const VmPlacement &v : p.vms)
		for (const VcpuPlacement &b : v.vcpus)
			for (int c : b.cpus)
				l[c] += 1.0 / static_cast<double>(b.cpus.size());
	return l;
}

std::vector<int> cpus_of(const VmPlacement &v)
{
	std::vector<int> all;
	for (const VcpuPlacement &b : v.vcpus)
		all.insert(all.end(), b.cpus.begin(), b.cpus.end());
	std::sort(all.begin(), all.end());
	all.erase(std::unique(all.begin(), all.end()), all.end());
	return all;
}

} // namespace

TEST(Topology, UniformAndReserved)
{
	Topology t = uniform_topology(2, 4);
	EXPECT_EQ(t.cpu_count(), 8u);
	EXPECT_EQ(t.node_of(5), 1);
	EXPECT_EQ(t.node_of(9), -1);
	EXPECT_EQ(t.node_of_set({0, 3}), 0);
	EXPECT_EQ(t.node_of_set({3, 4}), -1);
	EXPECT_EQ(spread_reserved(t, 2), (std::vector<int>{0, 4}));
	EXPECT_EQ(spread_reserved(t, 3), (std::vector<int>{0, 1, 4}));
	EXPECT_EQ(spread_reserved(t, 100).size(), 8u);
	EXPECT_EQ(t.describe(), "node0 0-3, node1 4-7");
}

TEST(Placement, OneToOneOnOneNode)
{
	Topology t = uniform_topology(1, 8);
	PlacementPolicy pol;
	pol.reserved = {0, 1};
	PlacementPlan p = plan_placement(t, pol, {vm(100, 2), vm(200, 3)}, {});
	ASSERT_EQ(p.vms.size(), 2u);
	EXPECT_EQ(p.unplaced(), 0u);
	EXPECT_EQ(p.placed_new, 5u);
	std::set<int> used;
	for (const VmPlacement &v : p.vms) {
		EXPECT_EQ(v.node, 0);
		EXPECT_EQ(v.emulator_cpus, (std::vector<int>{0, 1}));
		for (const VcpuPlacement &b : v.vcpus) {
			ASSERT_EQ(b.cpus.size(), 1u);
			EXPECT_GE(b.cpus[0], 2) << "reserved CPU given to a vCPU";
			EXPECT_TRUE(used.insert(b.cpus[0]).second) << "CPU " << b.cpus[0] << " shared";
		}
	}
}

TEST(Placement, HostFullPlacesWhatFitsAndReportsTheRest)
{
	Topology t = uniform_topology(1, 4);
	PlacementPolicy pol;
	pol.reserved = {0};
	PlacementPlan p = plan_placement(t, pol, {vm(100, 2), vm(200, 2)}, {});
	EXPECT_EQ(p.find(100)->vcpus.size(), 2u);
	EXPECT_EQ(p.find(200)->vcpus.size(), 1u);
	EXPECT_EQ(p.find(200)->unplaced, (std::vector<int>{1}));
	EXPECT_EQ(p.unplaced(), 1u);
	ASSERT_FALSE(p.notes.empty());
	EXPECT_NE(p.notes.back().find("do not fit"), std::string::npos) << p.notes.back();
	// Ratio below 1 keeps head room: 3 allocatable x 0.5 -> 1 vCPU.
	pol.ratio = 0.5;
	p = plan_placement(t, pol, {vm(100, 2)}, {});
	EXPECT_EQ(p.find(100)->vcpus.size(), 1u);
	EXPECT_EQ(p.unplaced(), 1u);
}

TEST(Placement, MostFreeNodeWinsAndVmsStayOnOneNode)
{
	Topology t = uniform_topology(2, 4);
	PlacementPolicy pol;
	pol.reserved = {0, 4};
	// Tie: node 0.  Then node 1 has more free.
	PlacementPlan p = plan_placement(t, pol, {vm(100, 2), vm(200, 2)}, {});
	EXPECT_EQ(p.find(100)->node, 0);
	EXPECT_EQ(p.find(200)->node, 1);
	EXPECT_EQ(p.find(100)->emulator_cpus, (std::vector<int>{0}));
	EXPECT_EQ(p.find(200)->emulator_cpus, (std::vector<int>{4}));
	// A 1-vCPU VM: both nodes have 1 free; lowest id.  A 3-vCPU VM that
	// no node can hold anymore spans nodes or is reported.
	PlacementPlan q = plan_placement(t, pol, {vm(100, 2), vm(200, 2), vm(300, 1)}, p.vms);
	EXPECT_EQ(q.find(300)->node, 0);
	EXPECT_EQ(q.kept, 4u);
	EXPECT_EQ(q.moved, 0u);
	// Node 1 is emptier after VM 200 goes: a new 2-vCPU VM lands there on
	// the CPUs VM 200 had.
	PlacementPlan r = plan_placement(t, pol, {vm(100, 2), vm(300, 1), vm(400, 2)}, q.vms);
	EXPECT_EQ(r.find(400)->node, 1);
	EXPECT_EQ(cpus_of(*r.find(400)), cpus_of(*p.find(200)));
}

TEST(Placement, TooBigForOneNodeSpans)
{
	Topology t = uniform_topology(2, 4);
	PlacementPolicy pol;
	PlacementPlan p = plan_placement(t, pol, {vm(100, 6)}, {});
	EXPECT_EQ(p.find(100)->node, -1);
	EXPECT_EQ(p.find(100)->vcpus.size(), 6u);
	EXPECT_EQ(p.unplaced(), 0u);
	EXPECT_EQ(p.find(100)->nodes(t), (std::vector<int>{0, 1}));
}

TEST(Placement, StabilityAndRebalance)
{
	Topology t = uniform_topology(2, 4);
	PlacementPolicy pol;
	// VM 100 alone takes node 0; VM 50 (older, but seen later, e.g. after
	// a restart of the agent with a lost state) would go first when
	// planning from scratch.
	PlacementPlan a = plan_placement(t, pol, {vm(100, 3, 100)}, {});
	EXPECT_EQ(cpus_of(*a.find(100)), (std::vector<int>{0, 1, 2}));
	PlacementPlan b = plan_placement(t, pol, {vm(100, 3, 100), vm(50, 3, 50)}, a.vms);
	EXPECT_EQ(cpus_of(*b.find(100)), (std::vector<int>{0, 1, 2})) << "existing binding moved";
	EXPECT_EQ(b.find(50)->node, 1);
	EXPECT_EQ(b.moved, 0u);
	pol.rebalance = true;
	PlacementPlan c = plan_placement(t, pol, {vm(100, 3, 100), vm(50, 3, 50)}, b.vms);
	EXPECT_EQ(c.find(50)->node, 0);
	EXPECT_EQ(c.find(100)->node, 1);
	EXPECT_EQ(c.moved, 6u);
	PlacementPlan d = plan_placement(t, pol, {vm(100, 3, 100), vm(50, 3, 50)}, c.vms);
	EXPECT_EQ(d.moved, 0u) << "planning from scratch is deterministic";
	EXPECT_EQ(d.kept, 6u);
}

TEST(Placement, PidReuseIsANewVm)
{
	Topology t = uniform_topology(1, 4);
	PlacementPolicy pol;
	PlacementPlan a = plan_placement(t, pol, {vm(100, 1, 7)}, {});
	PlacementPlan b = plan_placement(t, pol, {vm(100, 1, 8)}, a.vms);
	EXPECT_EQ(b.kept, 0u);
	EXPECT_EQ(b.placed_new, 1u);
}

TEST(Placement, HotplugStaysOnTheVmsNode)
{
	Topology t = uniform_topology(2, 4);
	PlacementPolicy pol;
	PlacementPlan a = plan_placement(t, pol, {vm(100, 2), vm(200, 1)}, {});
	EXPECT_EQ(a.find(100)->node, 0);
	EXPECT_EQ(a.find(200)->node, 1);
	PlacementPlan b = plan_placement(t, pol, {vm(100, 4), vm(200, 1)}, a.vms);
	EXPECT_EQ(b.find(100)->node, 0) << "hot-plugged vCPUs left the VM's node";
	EXPECT_EQ(b.kept, 3u);
	EXPECT_EQ(b.placed_new, 2u);
	// Unplug: the CPU is free again.
	PlacementPlan c = plan_placement(t, pol, {vm(100, 1), vm(200, 1)}, b.vms);
	EXPECT_EQ(c.find(100)->vcpus.size(), 1u);
	EXPECT_EQ(c.kept, 2u);
}

TEST(Placement, RangeBinding)
{
	Topology t = uniform_topology(1, 4);
	PlacementPolicy pol;
	pol.ratio = 2.0;
	PlacementPlan p = plan_placement(t, pol, {vm(100, 4), vm(200, 2), vm(300, 2)}, {});
	EXPECT_EQ(p.unplaced(), 0u);
	// 4 vCPUs at r = 2 share a set of 2 CPUs.
	const VmPlacement &a = *p.find(100);
	for (const VcpuPlacement &b : a.vcpus)
		EXPECT_EQ(b.cpus, a.vcpus[0].cpus);
	EXPECT_EQ(a.vcpus[0].cpus.size(), 2u);
	for (const auto &[cpu, l] : loads(p))
		EXPECT_LE(l, 2.0 + 1e-9) << "CPU " << cpu;
	// 8 of 8 slots used: the next vCPU does not fit.
	PlacementPlan q = plan_placement(t, pol, {vm(100, 4), vm(200, 2), vm(300, 2), vm(400, 1)}, p.vms);
	EXPECT_EQ(q.unplaced(), 1u);
	EXPECT_EQ(q.kept, 8u);
	// Dropping the ratio to 1 forces the range bindings to move.
	pol.ratio = 1.0;
	PlacementPlan r = plan_placement(t, pol, {vm(100, 4)}, p.vms);
	EXPECT_EQ(r.moved, 4u);
	EXPECT_FALSE(r.notes.empty());
	for (const VcpuPlacement &b : r.find(100)->vcpus)
		EXPECT_EQ(b.cpus.size(), 1u);
}

TEST(Placement, ReservingACpuForcesItsVcpuToMove)
{
	Topology t = uniform_topology(1, 4);
	PlacementPolicy pol;
	PlacementPlan a = plan_placement(t, pol, {vm(100, 2)}, {});
	EXPECT_EQ(cpus_of(*a.find(100)), (std::vector<int>{0, 1}));
	pol.reserved = {0};
	PlacementPlan b = plan_placement(t, pol, {vm(100, 2)}, a.vms);
	EXPECT_EQ(cpus_of(*b.find(100)), (std::vector<int>{1, 2}));
	EXPECT_EQ(b.kept, 1u);
	EXPECT_EQ(b.moved, 1u);
}

TEST(Placement, FourNodes)
{
	Topology t = uniform_topology(4, 4);
	PlacementPolicy pol;
	pol.reserved = spread_reserved(t, 4); // 0, 4, 8, 12
	std::vector<VmRequest> reqs;
	for (int i = 0; i < 4; i++)
		reqs.push_back(vm(100 + i, 3));
	PlacementPlan p = plan_placement(t, pol, reqs, {});
	std::set<int> nodes;
	for (const VmPlacement &v : p.vms) {
		EXPECT_GE(v.node, 0);
		nodes.insert(v.node);
	}
	EXPECT_EQ(nodes.size(), 4u) << "one VM per node";
	EXPECT_EQ(placement_capacity(t, pol), 12.0);
}

// --- properties ------------------------------------------------------------

namespace {

struct Checker {
	const Topology &t;
	const PlacementPolicy &pol;

	void check(const PlacementPlan &p, const std::vector<VmRequest> &reqs, const std::string &ctx)
	{
		SCOPED_TRACE(ctx);
		std::set<int> reserved(pol.reserved.begin(), pol.reserved.end());
		std::set<int> taken;
		ASSERT_EQ(p.vms.size(), reqs.size());
		for (const VmRequest &r : reqs) {
			const VmPlacement *v = p.find(r.tgid);
			ASSERT_NE(v, nullptr);
			std::multiset<int> seen;
			for (const VcpuPlacement &b : v->vcpus)
				seen.insert(b.vcpu);
			for (int u : v->unplaced)
				seen.insert(u);
			std::multiset<int> want(r.vcpus.begin(), r.vcpus.end());
			EXPECT_EQ(seen, want) << "every vCPU placed or reported, exactly once";
			for (const VcpuPlacement &b : v->vcpus) {
				ASSERT_FALSE(b.cpus.empty());
				for (int c : b.cpus) {
					EXPECT_FALSE(reserved.count(c)) << "reserved CPU " << c;
					EXPECT_GE(t.node_of(c), 0) << "offline CPU " << c;
				}
				if (pol.ratio <= 1.0) {
					ASSERT_EQ(b.cpus.size(), 1u);
					EXPECT_TRUE(taken.insert(b.cpus[0]).second) << "overlap on CPU " << b.cpus[0];
				}
			}
		}
		double cpu_max = pol.ratio <= 1.0 ? 1.0 : pol.ratio;
		std::map<int, double> node_load;
		for (const auto &[cpu, l] : loads(p)) {
			EXPECT_LE(l, cpu_max + 1e-6) << "CPU " << cpu << " overloaded";
			node_load[t.node_of(cpu)] += l;
		}
		for (const NumaNode &n : t.nodes) {
			double alloc = 0;
			for (int c : n.cpus)
				alloc += reserved.count(c) ? 0 : 1;
			double budget = pol.ratio <= 1.0 ? std::floor(alloc * pol.ratio + 1e-9) : alloc * pol.ratio;
			EXPECT_LE(node_load[n.id], budget + 1e-6) << "node " << n.id << " over budget";
		}
	}
};

// Free vCPU slots per node under a plan (one-to-one only).
std::map<int, double> free_slots(const Topology &t, const PlacementPolicy &pol, const PlacementPlan &p)
{
	std::set<int> reserved(pol.reserved.begin(), pol.reserved.end());
	std::map<int, double> f;
	for (const NumaNode &n : t.nodes) {
		double alloc = 0;
		for (int c : n.cpus)
			alloc += reserved.count(c) ? 0 : 1;
		f[n.id] = std::floor(alloc * pol.ratio + 1e-9);
	}
	for (const auto &[cpu, l] : loads(p))
		f[t.node_of(cpu)] -= l;
	return f;
}

} // namespace

class PlacementProperty : public ::testing::TestWithParam<int> {};

TEST_P(PlacementProperty, RandomHostsKeepTheInvariants)
{
	const int nodes = GetParam();
	std::mt19937 rng(static_cast<unsigned>(nodes) * 7919u);
	const double ratios[] = {0.5, 0.75, 1.0, 1.0, 1.5, 2.0, 3.0};
	for (int round = 0; round < 300; round++) {
		const int per_node = 2 + static_cast<int>(rng() % 7);
		Topology t = uniform_topology(nodes, per_node);
		PlacementPolicy pol;
		pol.ratio = ratios[rng() % std::size(ratios)];
		pol.reserved = spread_reserved(t, rng() % static_cast<unsigned>(nodes + 2));
		Checker chk{t, pol};
		std::vector<VmRequest> reqs;
		PlacementPlan plan;
		pid_t next_pid = 100;
		for (int step = 0; step < 12; step++) {
			std::string ctx = "nodes " + std::to_string(nodes) + " x " + std::to_string(per_node) +
					  ", ratio " + std::to_string(pol.ratio) + ", round " + std::to_string(round) +
					  ", step " + std::to_string(step);
			const unsigned op = rng() % 10;
			const PlacementPlan before = plan;
			std::vector<VmRequest> old = reqs;
			int added_vcpus = 0;
			if (op < 6 || reqs.empty()) { // a VM starts
				added_vcpus = 1 + static_cast<int>(rng() % static_cast<unsigned>(per_node + 1));
				reqs.push_back(vm(next_pid, added_vcpus, static_cast<uint64_t>(next_pid)));
				next_pid++;
			} else if (op < 8) { // a VM stops
				reqs.erase(reqs.begin() + static_cast<long>(rng() % reqs.size()));
			} else { // hot-plug or unplug one vCPU
				VmRequest &r = reqs[rng() % reqs.size()];
				if (rng() % 2 || r.vcpus.size() == 1)
					r.vcpus.push_back(static_cast<int>(r.vcpus.size()));
				else
					r.vcpus.pop_back();
			}
			plan = plan_placement(t, pol, reqs, before.vms);
			chk.check(plan, reqs, ctx);
			if (::testing::Test::HasFailure())
				return;
			// Stability: bindings of VMs that were there stay put
			// when nothing forces them (capacity only grew or
			// stayed for them: nothing was reserved meanwhile).
			for (const VmPlacement &b : before.vms) {
				const VmPlacement *a = plan.find(b.tgid);
				if (!a)
					continue;
				for (const VcpuPlacement &v : b.vcpus)
					if (const VcpuPlacement *now = a->find(v.vcpu)) {
						EXPECT_EQ(now->cpus, v.cpus) << ctx << ": VM " << b.tgid << " vCPU "
									  << v.vcpu << " moved";
					}
			}
			EXPECT_EQ(plan.moved, 0u) << ctx;
			// A new VM lands on one node when one can hold it
			// (one-to-one: free slots are exactly what fits), on
			// the node with the most free slots among those.
			if (added_vcpus > 0 && pol.ratio <= 1.0) {
				auto f = free_slots(t, pol, before);
				const VmPlacement *v = plan.find(next_pid - 1);
				double best = -1;
				for (const auto &[n, fr] : f)
					if (fr >= added_vcpus)
						best = std::max(best, fr);
				if (best >= 0) {
					ASSERT_GE(v->node, 0) << ctx << ": VM fits one node but spans";
					EXPECT_EQ(f[v->node], best) << ctx << ": not the node with most free capacity";
					EXPECT_TRUE(v->unplaced.empty()) << ctx;
				}
			}
			// Re-planning an unchanged set is a no-op.
			PlacementPlan again = plan_placement(t, pol, reqs, plan.vms);
			EXPECT_EQ(again.moved + again.placed_new, 0u) << ctx;
			EXPECT_EQ(again.unplaced(), plan.unplaced()) << ctx;
		}
		// Rebalance from scratch keeps every invariant too.
		pol.rebalance = true;
		PlacementPlan rb = plan_placement(t, pol, reqs, plan.vms);
		chk.check(rb, reqs, "rebalance");
		if (::testing::Test::HasFailure())
			return;
	}
}

INSTANTIATE_TEST_SUITE_P(Nodes, PlacementProperty, ::testing::Values(1, 2, 4));
