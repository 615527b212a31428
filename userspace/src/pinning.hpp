// SPDX-License-Identifier: GPL-2.0
// The placement stage: VMs from the classified snapshot -> plan_placement()
// -> vCPU and emulator-thread affinities, and memory that follows the VM's
// node (cpuset.mems of the VM's own cgroup, migrate_pages(2) for pages
// already placed).  Every write goes through SystemOps with the PID-reuse
// guard; what was changed is recorded (state file section "placement") and
// put back by restore().
#pragma once

#include "agent.hpp"
#include "cgroupfs.hpp"
#include "memmove.hpp"
#include "placement.hpp"
#include "topology.hpp"
#include "qmp.hpp"
#include "vm.hpp"

#include <chrono>
#include <functional>
#include <optional>
#include <map>
#include <set>

namespace offl {

// QMP lookup of vCPU thread ids: (VM's monitor) -> vCPU index -> tid, or
// nullopt while there is no answer (the daemon asks on a thread of its
// own: AsyncQmp).  Injected so tests need no QEMU.
using QmpLookup = std::function<std::optional<std::map<int, pid_t>>(const QmpTarget &)>;

PlacementPolicy placement_policy(const PlacementConfig &pc, const Topology &topo);

class PinningStage : public Stage {
public:
	// async_memory: migrate_pages on a worker thread (the daemon); false
	// runs it inline (tests, `agent --once`).
	PinningStage(SystemOps &ops, Logger &log, const Config &cfg, Topology topo,
		     std::string cgroup_root = "/sys/fs/cgroup", QmpLookup qmp = {}, bool async_memory = false);

	const char *name() const override { return "placement"; }
	void reconcile(const ReconcileContext &ctx) override;
	void restore(bool dry_run) override;
	void config_changed(const Config &cfg) override;
	std::string state() const override;
	void load_state(const std::string &json) override;
	bool task_exited(pid_t tid, pid_t tgid) override;

	const PlacementPlan &plan() const { return plan_; }
	const Topology &topology() const { return topo_; }
	const PlacementPolicy &policy() const { return pol_; }

	struct Thread {
		pid_t tid = 0;
		uint64_t start = 0;
	};
	struct Vm {
		VmRequest req;
		std::map<int, std::vector<Thread>> vcpus; // index -> threads
		std::vector<Thread> service;
		std::string cgroup;
		std::string qmp_socket;
	};

private:
	Vm collect(const VmInfo &info, const ProcessInfo &p, const Snapshot &snap);
	// only: the VMs to look at (nullptr: all).
	void apply(const ReconcileContext &ctx, const std::set<pid_t> *only = nullptr);
	bool ensure(pid_t tgid, const Thread &t, const std::vector<int> &cpus, const std::string &what,
		    const ReconcileContext &ctx);
	void put_back(pid_t tid);
	void move_memory(const VmPlacement &vp, const Vm &vm, const ReconcileContext &ctx);

	SystemOps &ops_;
	Logger &log_;
	PlacementConfig cfg_;
	Topology topo_;
	PlacementPolicy pol_;
	CgroupFs cg_;
	QmpLookup qmp_;
	std::map<pid_t, Vm> vms_;
	PlacementPlan plan_;
	bool dirty_ = false; // VMs changed since the last plan

	struct Changed {
		pid_t tgid = 0;
		uint64_t start = 0;
		std::vector<int> original, applied;
	};
	std::map<pid_t, Changed> changed_;
	std::map<pid_t, std::pair<uint64_t, int>> mem_node_; // tgid -> (start, node)
	std::map<std::string, std::string> mems_orig_;      // cgroup dir -> cpuset.mems
	std::set<std::string> said_;                         // notes and warnings given
	struct QmpAnswer {
		uint64_t start = 0;
		size_t threads = 0;
		bool have = false;
		std::map<int, pid_t> vcpus;
		std::chrono::steady_clock::time_point next_ask{};
	};
	std::map<pid_t, QmpAnswer> qmp_cache_;
	MemoryMover mover_; // last: its worker stops before the rest goes
	std::set<std::tuple<pid_t, uint64_t, std::string>> printed_; // dry run
};

} // namespace offl
