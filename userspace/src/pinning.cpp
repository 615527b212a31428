// SPDX-License-Identifier: GPL-2.0
#include "pinning.hpp"

#include "util.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>

namespace offl {

using json = nlohmann::json;

PlacementPolicy placement_policy(const PlacementConfig &pc, const Topology &topo)
{
	PlacementPolicy p;
	p.ratio = pc.ratio;
	p.rebalance = pc.rebalance;
	if (!pc.reserved_cpus.empty()) {
		for (int c : pc.reserved_cpus)
			if (topo.node_of(c) >= 0)
				p.reserved.push_back(c);
	} else {
		p.reserved = spread_reserved(topo, pc.reserved_count);
	}
	return p;
}

PinningStage::PinningStage(SystemOps &ops, Logger &log, const Config &cfg, Topology topo, std::string cgroup_root,
			   QmpLookup qmp, bool async_memory)
	: ops_(ops), log_(log), cfg_(cfg.placement), topo_(std::move(topo)), cg_(std::move(cgroup_root)),
	  qmp_(std::move(qmp)), mover_(ops, log, async_memory)
{
	pol_ = placement_policy(cfg_, topo_);
	if (cfg_.enabled)
		log_.info("placement: ", topo_.describe(), "; reserved host CPUs ",
			  pol_.reserved.empty() ? std::string("none") : format_cpu_list(pol_.reserved), "; ratio ",
			  cfg_.ratio, pol_.ratio <= 1.0 ? " (one-to-one)" : " (range binding)", "; capacity ",
			  placement_capacity(topo_, pol_), " vCPUs");
}

void PinningStage::config_changed(const Config &cfg)
{
	const bool was = cfg_.enabled;
	cfg_ = cfg.placement;
	pol_ = placement_policy(cfg_, topo_);
	dirty_ = true;
	said_.clear();
	printed_.clear();
	if (was && !cfg_.enabled) {
		log_.info("placement disabled: putting vCPU affinities back");
		restore(false);
		vms_.clear();
		plan_ = {};
	}
}

PinningStage::Vm PinningStage::collect(const VmInfo &info, const ProcessInfo &p, const Snapshot &snap)
{
	Vm vm;
	vm.req.tgid = info.tgid;
	vm.req.start_time = p.start_time;
	vm.req.name = info.name;
	vm.cgroup = info.cgroup;
	auto start_of = [&](pid_t tid) -> uint64_t {
		const TaskInfo *t = snap.find_task(tid);
		return t ? t->start_time : 0;
	};
	for (const VcpuThread &v : info.vcpus)
		vm.vcpus[v.index].push_back(Thread{v.tid, snap.tasks[v.task].start_time});
	for (pid_t tid : info.service_threads)
		vm.service.push_back(Thread{tid, start_of(tid)});
	// QMP only for VMs whose vCPU threads carry no names (QEMU without
	// debug-threads=on): libvirt always names them, and its monitor socket
	// is libvirt's alone.  Only VMs (classify.hpp: a root-owned QEMU in a
	// VM cgroup or of a VM owner) get here, the peer must be of the QEMU
	// process's uid, and the daemon asks off the loop thread.  Answers are
	// kept per process; a thread count change asks again, at most every
	// 5 s (QEMU's I/O pool changes the count all the time).
	if (cfg_.qmp && qmp_ && vm.vcpus.empty()) {
		vm.qmp_socket = qemu_qmp_socket(p.cmdline);
		if (!vm.qmp_socket.empty()) {
			const size_t nthreads = info.service_threads.size();
			const auto now = std::chrono::steady_clock::now();
			QmpAnswer &qa = qmp_cache_[info.tgid];
			if (qa.start != p.start_time)
				qa = QmpAnswer{p.start_time};
			if ((!qa.have || qa.threads != nthreads) && now >= qa.next_ask) {
				if (auto r = qmp_(QmpTarget{vm.qmp_socket, info.tgid, p.start_time, p.uid})) {
					qa.vcpus = std::move(*r);
					qa.have = true;
					qa.threads = nthreads;
					qa.next_ask = now + std::chrono::seconds(5);
				}
			}
			auto c = qmp_cache_.find(info.tgid);
			for (const auto &[idx, qtid] : c->second.vcpus) {
				const pid_t tid = qtid; // clang 14: no lambda capture of a binding
				const TaskInfo *t = snap.find_task(tid);
				if (!t || t->tgid != info.tgid)
					continue;
				vm.vcpus[idx].push_back(Thread{tid, t->start_time});
				auto it = std::find_if(vm.service.begin(), vm.service.end(),
						       [tid](const Thread &s) { return s.tid == tid; });
				if (it != vm.service.end())
					vm.service.erase(it);
			}
		}
	}
	for (const auto &[idx, threads] : vm.vcpus)
		vm.req.vcpus.push_back(idx);
	return vm;
}

bool PinningStage::task_exited(pid_t tid, pid_t tgid)
{
	if (!cfg_.enabled)
		return false;
	auto it = vms_.find(tgid);
	if (it == vms_.end())
		return false;
	if (tid == tgid) {
		log_.debug("placement: VM ", tgid, " exited: re-plan");
		vms_.erase(it);
		changed_.erase(tid);
		dirty_ = true;
		return true;
	}
	for (const auto &[idx, threads] : it->second.vcpus)
		for (const Thread &t : threads)
			if (t.tid == tid) {
				log_.debug("placement: vCPU ", idx, " (tid ", tid, ") of VM ", tgid, " exited: re-plan");
				changed_.erase(tid);
				// The process may be gone before it is scanned
				// again: re-plan whatever the scan finds.
				dirty_ = true;
				return true;
			}
	return false;
}

void PinningStage::reconcile(const ReconcileContext &ctx)
{
	if (!cfg_.enabled)
		return;
	std::vector<VmInfo> found = discover_vms(ctx.snap, ctx.verdicts);
	std::map<pid_t, Vm> now;
	for (const VmInfo &info : found) {
		const ProcessInfo *p = nullptr;
		for (const ProcessInfo &pi : ctx.snap.processes)
			if (pi.tgid == info.tgid)
				p = &pi;
		if (p)
			now.emplace(info.tgid, collect(info, *p, ctx.snap));
	}
	bool changed = dirty_;
	if (dirty_ && !ctx.full) {
		// After exits: drop VMs whose process is gone (its own exit
		// event may come later, or have been lost).
		for (auto it = vms_.begin(); it != vms_.end();) {
			auto st = ops_.start_time(it->first, it->first);
			if (!st || *st != it->second.req.start_time)
				it = vms_.erase(it);
			else
				++it;
		}
	}
	if (ctx.full) {
		// Everything is in the snapshot: VMs not in it are gone.
		for (auto it = vms_.begin(); it != vms_.end();)
			if (!now.count(it->first)) {
				it = vms_.erase(it);
				changed = true;
			} else {
				++it;
			}
	} else {
		// Only the processes in the snapshot are news.
		for (const ProcessInfo &p : ctx.snap.processes)
			if (!now.count(p.tgid) && vms_.erase(p.tgid))
				changed = true;
	}
	for (auto &[tgid, vm] : now) {
		auto it = vms_.find(tgid);
		if (it == vms_.end() || it->second.req.start_time != vm.req.start_time ||
		    it->second.req.vcpus != vm.req.vcpus)
			changed = true;
		vms_[tgid] = std::move(vm);
	}
	// Partial pass with nothing about VMs: nothing to do.  One that only
	// saw VMs whose vCPUs did not change (QEMU starting a worker thread,
	// say) looks at those VMs alone.
	if (!ctx.full && !changed) {
		if (now.empty())
			return;
		std::set<pid_t> only;
		for (const auto &[tgid, vm] : now)
			only.insert(tgid);
		apply(ctx, &only);
		return;
	}
	{
		std::vector<VmRequest> reqs;
		for (const auto &[tgid, vm] : vms_)
			reqs.push_back(vm.req);
		plan_ = plan_placement(topo_, pol_, reqs, plan_.vms);
		dirty_ = false;
		for (const std::string &n : plan_.notes)
			if (said_.insert(n).second)
				log_.warn("placement: ", n);
		if (plan_.moved || plan_.placed_new)
			log_.info("placement: ", vms_.size(), " VM(s): ", plan_.placed_new, " vCPU(s) placed, ",
				  plan_.moved, " moved, ", plan_.kept, " kept, ", plan_.unplaced(), " unplaced");
	}
	apply(ctx);
}

bool PinningStage::ensure(pid_t tgid, const Thread &t, const std::vector<int> &cpus, const std::string &what,
			  const ReconcileContext &ctx)
{
	if (cpus.empty())
		return false;
	if (ctx.dry_run) {
		std::vector<int> cur;
		if (ops_.get_affinity(t.tid, cur) != 0 || cur == cpus)
			return false;
		if (printed_.emplace(t.tid, t.start, format_cpu_list(cpus)).second)
			ctx.plan_out << "would bind " << what << " (tid " << t.tid << ") CPUs " << format_cpu_list(cur)
				     << " -> " << format_cpu_list(cpus) << '\n';
		ctx.stage_changes++;
		return true;
	}
	int err = 0;
	auto h = ops_.open_pid(tgid, t.tid, err);
	if (!h && err != ENOSYS)
		return false; // gone (ENOSYS: no pidfd_open, start times decide)
	auto st = ops_.start_time(tgid, t.tid);
	if (!st || *st != t.start)
		return false; // reused: not ours
	std::vector<int> cur;
	if ((err = ops_.get_affinity(t.tid, cur)) != 0)
		return false;
	if (cur == cpus)
		return false;
	if ((err = ops_.set_affinity(t.tid, cpus)) != 0) {
		if (err != ESRCH && said_.insert("aff " + std::to_string(t.tid) + " " + std::to_string(t.start)).second)
			log_.warn("placement: cannot bind ", what, " (tid ", t.tid, ") to CPUs ", format_cpu_list(cpus),
				  ": ", errno_str(err));
		return false;
	}
	if (!h || h->exited() || !h->precise()) {
		auto again = ops_.start_time(tgid, t.tid);
		if (!again) // reused by a task of another process?
			again = ops_.start_time(t.tid, t.tid);
		if (!again || *again != t.start) {
			// The newcomer's own affinity is unknown (what was read
			// was the exited task's): not written back on a guess.
			if (again)
				log_.warn("placement: tid ", t.tid, " was reused while binding it: the new task got CPUs ",
					  format_cpu_list(cpus), " (not reverted)");
			return false;
		}
	}
	auto it = changed_.find(t.tid);
	if (it == changed_.end() || it->second.start != t.start)
		changed_[t.tid] = Changed{tgid, t.start, cur, cpus};
	else
		it->second.applied = cpus;
	log_.debug("placement: ", what, " (tid ", t.tid, ") CPUs ", format_cpu_list(cur), " -> ",
		   format_cpu_list(cpus));
	ctx.stage_changes++;
	return true;
}

void PinningStage::put_back(pid_t tid)
{
	auto it = changed_.find(tid);
	if (it == changed_.end())
		return;
	Changed c = it->second;
	changed_.erase(it);
	int err = 0;
	auto h = ops_.open_pid(c.tgid, tid, err);
	if (!h && err != ENOSYS)
		return;
	auto st = ops_.start_time(c.tgid, tid);
	if (!st || *st != c.start)
		return;
	std::vector<int> cur;
	if (ops_.get_affinity(tid, cur) != 0 || cur != c.applied)
		return; // someone else changed it since: theirs now
	ops_.set_affinity(tid, c.original);
	if (!h || h->exited() || !h->precise()) {
		auto again = ops_.start_time(c.tgid, tid);
		if (!again || *again != c.start)
			log_.warn("placement: tid ", tid, " was reused while putting its affinity back");
	}
}

void PinningStage::move_memory(const VmPlacement &vp, const Vm &vm, const ReconcileContext &ctx)
{
	if (!cfg_.move_memory || vp.node < 0 || topo_.nodes.size() < 2)
		return;
	auto it = mem_node_.find(vp.tgid);
	if (it != mem_node_.end() && it->second.first == vm.req.start_time && it->second.second == vp.node)
		return;
	const std::string node = std::to_string(vp.node);
	if (ctx.dry_run) {
		if (printed_.emplace(vp.tgid, vm.req.start_time, "mem" + node).second)
			ctx.plan_out << "would move the memory of VM " << vp.tgid << " to node " << node << '\n';
		return;
	}
	// Its own cgroup (only this VM in it, cpuset controller there):
	// cpuset.mems makes new allocations follow.
	if (cg_.version() == CgroupVersion::V2 && !vm.cgroup.empty() && vm.cgroup != "/") {
		std::string dir = cg_.dir(vm.cgroup);
		auto procs = CgroupFs::procs(dir);
		if (procs.size() == 1 && procs[0] == vp.tgid && CgroupFs::exists(dir + "/cpuset.mems")) {
			auto old = CgroupFs::read(dir, "cpuset.mems");
			if (old && !mems_orig_.count(dir))
				mems_orig_[dir] = std::string(trim(*old));
			if (int e = CgroupFs::write(dir, "cpuset.mems", node))
				log_.warn("placement: cannot set ", dir, "/cpuset.mems: ", errno_str(e));
		}
	}
	std::vector<int> from;
	for (const NumaNode &n : topo_.nodes)
		if (n.id != vp.node)
			from.push_back(n.id);
	mover_.submit(vp.tgid, vm.req.start_time, std::move(from), vp.node);
	mem_node_[vp.tgid] = {vm.req.start_time, vp.node};
}

void PinningStage::apply(const ReconcileContext &ctx, const std::set<pid_t> *only)
{
	for (const VmPlacement &vp : plan_.vms) {
		if (only && !only->count(vp.tgid))
			continue;
		auto it = vms_.find(vp.tgid);
		if (it == vms_.end())
			continue;
		const Vm &vm = it->second;
		std::string who = "VM " + std::to_string(vp.tgid);
		if (!vm.req.name.empty())
			who.append(" ").append(offl::quoted(vm.req.name));
		for (const VcpuPlacement &b : vp.vcpus) {
			auto t = vm.vcpus.find(b.vcpu);
			if (t == vm.vcpus.end())
				continue;
			for (const Thread &th : t->second)
				ensure(vp.tgid, th, b.cpus, who + " vCPU " + std::to_string(b.vcpu), ctx);
		}
		for (int idx : vp.unplaced) {
			auto t = vm.vcpus.find(idx);
			if (t == vm.vcpus.end() || ctx.dry_run)
				continue;
			for (const Thread &th : t->second)
				put_back(th.tid);
		}
		// A VM none of whose vCPUs is placed (it does not fit, or it is
		// going away) has no node: its other threads are left alone.
		if (vp.vcpus.empty())
			continue;
		if (cfg_.pin_emulator && !pol_.reserved.empty())
			for (const Thread &th : vm.service)
				ensure(vp.tgid, th, vp.emulator_cpus, who + " emulator thread", ctx);
		move_memory(vp, vm, ctx);
	}
	// Bindings of VMs that are gone: forget them (the tasks exited).
	for (auto it = changed_.begin(); it != changed_.end();)
		if (!vms_.count(it->second.tgid))
			it = changed_.erase(it);
		else
			++it;
	for (auto it = mem_node_.begin(); it != mem_node_.end();)
		if (!vms_.count(it->first))
			it = mem_node_.erase(it);
		else
			++it;
	for (auto it = qmp_cache_.begin(); it != qmp_cache_.end();)
		if (!vms_.count(it->first))
			it = qmp_cache_.erase(it);
		else
			++it;
}

void PinningStage::restore(bool dry_run)
{
	if (dry_run)
		return;
	mover_.drain();
	std::vector<pid_t> tids;
	for (const auto &[tid, c] : changed_)
		tids.push_back(tid);
	size_t n = tids.size();
	for (pid_t tid : tids)
		put_back(tid);
	for (const auto &[dir, mems] : mems_orig_)
		CgroupFs::write(dir, "cpuset.mems", mems);
	if (n || !mems_orig_.empty())
		log_.info("placement: put back the affinity of ", n, " thread(s)",
			  mems_orig_.empty() ? std::string() : " and cpuset.mems of " + std::to_string(mems_orig_.size()) + " cgroup(s)",
			  " (memory already moved stays where it is)");
	mems_orig_.clear();
	changed_.clear();
	mem_node_.clear();
	// Nothing is bound any more: the next pass plans afresh.
	plan_ = {};
	vms_.clear();
	dirty_ = true;
}

std::string PinningStage::state() const
{
	if (changed_.empty() && mems_orig_.empty() && plan_.vms.empty())
		return {};
	json aff = json::array();
	for (const auto &[tid, c] : changed_)
		aff.push_back({{"tid", tid}, {"tgid", c.tgid}, {"start_time", c.start}, {"original", c.original},
			       {"applied", c.applied}});
	json mems = json::object();
	for (const auto &[dir, m] : mems_orig_)
		mems[dir] = m;
	json plan = json::array();
	for (const VmPlacement &v : plan_.vms) {
		json vc = json::array();
		for (const VcpuPlacement &b : v.vcpus)
			vc.push_back({{"vcpu", b.vcpu}, {"cpus", b.cpus}});
		plan.push_back({{"tgid", v.tgid},
				{"start_time", v.start_time},
				{"node", v.node},
				{"vcpus", vc},
				{"unplaced", v.unplaced}});
	}
	return json{{"affinity", aff}, {"cpuset_mems", mems}, {"plan", plan}}.dump();
}

void PinningStage::load_state(const std::string &text)
{
	try {
		json j = json::parse(text);
		for (const auto &a : j.value("affinity", json::array()))
			changed_[a.at("tid").get<pid_t>()] =
				Changed{a.at("tgid").get<pid_t>(), a.at("start_time").get<uint64_t>(),
					a.at("original").get<std::vector<int>>(), a.at("applied").get<std::vector<int>>()};
		const json mems = j.value("cpuset_mems", json::object()); // items() needs it alive
		for (const auto &[dir, m] : mems.items())
			mems_orig_[dir] = m.get<std::string>();
		// The previous plan keeps bindings stable across a restart.
		for (const auto &p : j.value("plan", json::array())) {
			VmPlacement v;
			v.tgid = p.at("tgid").get<pid_t>();
			v.start_time = p.at("start_time").get<uint64_t>();
			v.node = p.value("node", -1);
			v.unplaced = p.value("unplaced", std::vector<int>{});
			for (const auto &b : p.at("vcpus"))
				v.vcpus.push_back(VcpuPlacement{b.at("vcpu").get<int>(), b.at("cpus").get<std::vector<int>>()});
			plan_.vms.push_back(std::move(v));
		}
		if (!changed_.empty())
			log_.info("placement: state file: ", changed_.size(), " thread affinity(ies) set by an earlier run");
	} catch (const json::exception &e) {
		log_.warn("placement: ignoring its part of the state file: ", e.what());
		changed_.clear();
		mems_orig_.clear();
		plan_ = {};
	}
}

} // namespace offl
