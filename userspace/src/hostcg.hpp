// SPDX-License-Identifier: GPL-2.0
// Host task isolation: processes of the configured classes (host and
// critical by default) go into one cgroup whose cpuset is the reserved host
// CPUs and whose memory is capped ([host_cgroup]).  cgroup v2 (one
// directory, cpuset + memory controllers), or v1 (a cpuset and a memory
// hierarchy) on older hosts.  Never moved: PID 1, kernel threads, the agent,
// Open vSwitch, real-time tasks, VM processes (any vCPU/VM-service thread),
// exempt tasks.  Each process is moved once per identity (pid + start
// time) and recorded (state file section "host_cgroup"); restore() moves
// the ones still there back to where they came from and removes the cgroup
// it created.  A process someone moves out again is left where they put it.
#pragma once

#include "agent.hpp"
#include "cgroupfs.hpp"
#include "topology.hpp"

#include <map>
#include <set>

namespace offl {

class HostCgroupStage : public Stage {
public:
	// The cpuset is [host_cgroup] cpus, else the reserved host CPUs of
	// [placement] (on this topology).
	HostCgroupStage(SystemOps &ops, Logger &log, const Config &cfg, Topology topo, std::string proc_root = "/proc");

	const char *name() const override { return "host_cgroup"; }
	void reconcile(const ReconcileContext &ctx) override;
	void restore(bool dry_run) override;
	void config_changed(const Config &cfg) override;
	std::string state() const override;
	void load_state(const std::string &json) override;

	CgroupVersion version() const { return version_; }
	// The cgroup path (v2) / per-hierarchy path (v1) tasks are moved to.
	std::string target() const { return "/" + cfg_.name; }
	size_t moved() const { return moved_.size(); }

	struct Moved {
		uint64_t start = 0;
		std::string comm;
		std::map<std::string, std::string> from; // hierarchy ("" = v2) -> path
	};

private:
	bool setup(const ReconcileContext &ctx);
	void limit_slices(const ReconcileContext &ctx);
	bool movable(const Snapshot &snap, const std::vector<Verdict> &v, size_t first, size_t end) const;
	void evict(const ReconcileContext &ctx, const ProcessInfo &p, pid_t ppid, const Verdict &v);
	// A cgroup another manager owns (user sessions, Kubernetes pods, VM
	// scopes, a delegated subtree): its processes are never moved out.
	bool foreign(const ProcessInfo &p) const;
	// Where a process that was not moved in by us (born in our cgroup)
	// belongs: its parent's original cgroup, else where most moved
	// processes came from, else the cgroup above ours.  Never a guess of "/"
	// while anything better is known.
	std::string origin_for(pid_t ppid, const std::string &hier) const;
	std::vector<std::string> hierarchies() const; // "" for v2; "cpuset", "memory" for v1
	std::vector<int> cpus() const;

	SystemOps &ops_;
	Logger &log_;
	HostCgroupConfig cfg_;
	Topology topo_;
	std::vector<int> reserved_;
	std::string proc_root_;
	CgroupFs cg_;
	CgroupVersion version_ = CgroupVersion::None;
	bool ready_ = false;
	std::vector<std::string> created_; // directories we made (rmdir on restore)
	std::map<pid_t, Moved> moved_;
	// slices mode: cgroup dir -> file -> original value
	std::map<std::string, std::map<std::string, std::string>> slice_orig_;
	std::set<std::pair<pid_t, uint64_t>> seen_; // identities handled (moved or left)
	std::set<std::string> said_;
};

} // namespace offl
