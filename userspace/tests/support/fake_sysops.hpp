// SPDX-License-Identifier: GPL-2.0
// A SystemOps that models tasks in memory: tests drive PID reuse, exits,
// EPERM and kernels without SCHED_OFFLINE, and count every write.
#pragma once

#include "sysops.hpp"

#include <cerrno>
#include <functional>
#include <map>
#include <memory>
#include <vector>

namespace offl::testing {

class FakeSystemOps : public SystemOps {
public:
	struct Task {
		pid_t tgid = 0;
		uint64_t start = 0;
		SchedAttr attr;
		uint64_t generation = 0; // bumped when the pid is reused
	};

	std::map<pid_t, Task> tasks;
	bool sched_offline = true;
	bool pidfd_thread = true; // PIDFD_THREAD support
	bool no_pidfd = false;    // open_pid fails with ENOSYS
	pid_t self = 424242;
	std::map<pid_t, int> set_errno; // forced errors
	std::vector<std::pair<pid_t, SchedAttr>> writes;
	int open_calls = 0;
	// Called just before a set_sched reaches the "kernel": simulate races.
	std::function<void(pid_t)> before_set;

	void add(pid_t tid, pid_t tgid, uint64_t start, int policy = 0, int nice = 0)
	{
		Task t;
		t.tgid = tgid;
		t.start = start;
		t.attr.policy = policy;
		t.attr.nice = nice;
		t.generation = next_gen_++;
		tasks[tid] = t;
		affinity.erase(tid);
	}
	void exit_task(pid_t tid)
	{
		tasks.erase(tid);
		affinity.erase(tid);
	}
	void reuse(pid_t tid, pid_t new_tgid, uint64_t new_start, int policy = 0, int nice = 0)
	{
		add(tid, new_tgid, new_start, policy, nice);
	}

	class Handle : public PidHandle {
	public:
		Handle(FakeSystemOps &ops, pid_t tid, uint64_t gen, bool precise)
			: ops_(ops), tid_(tid), gen_(gen), precise_(precise) {}
		bool exited() const override
		{
			auto it = ops_.tasks.find(tid_);
			return it == ops_.tasks.end() || it->second.generation != gen_;
		}
		bool precise() const override { return precise_; }

	private:
		FakeSystemOps &ops_;
		pid_t tid_;
		uint64_t gen_;
		bool precise_;
	};

	std::unique_ptr<PidHandle> open_pid(pid_t tgid, pid_t tid, int &err) override
	{
		open_calls++;
		if (no_pidfd) { // a kernel before 5.3: pidfd_open is ENOSYS
			err = ENOSYS;
			return nullptr;
		}
		auto it = tasks.find(tid);
		if (it == tasks.end()) {
			err = ESRCH;
			return nullptr;
		}
		err = 0;
		bool precise = tid == tgid || pidfd_thread;
		return std::make_unique<Handle>(*this, tid, it->second.generation, precise);
	}

	std::optional<uint64_t> start_time(pid_t tgid, pid_t tid) override
	{
		auto it = tasks.find(tid);
		if (it == tasks.end())
			return std::nullopt;
		if (tgid != tid && it->second.tgid != tgid)
			return std::nullopt; // /proc/<tgid>/task/<tid> does not exist
		return it->second.start;
	}

	int get_sched(pid_t tid, SchedAttr &out) override
	{
		auto it = tasks.find(tid);
		if (it == tasks.end())
			return ESRCH;
		out = it->second.attr;
		return 0;
	}

	int set_sched(pid_t tid, const SchedAttr &attr) override
	{
		if (before_set)
			before_set(tid);
		auto it = tasks.find(tid);
		if (it == tasks.end())
			return ESRCH;
		if (auto e = set_errno.find(tid); e != set_errno.end())
			return e->second;
		if (attr.policy == 8 && !sched_offline)
			return EINVAL;
		writes.emplace_back(tid, attr);
		it->second.attr = attr;
		return 0;
	}

	bool has_sched_offline() override { return sched_offline; }
	pid_t self_tgid() override { return self; }

	// Affinities: a task not in the map runs on all_cpus.
	std::vector<int> all_cpus = {0, 1, 2, 3, 4, 5, 6, 7};
	std::map<pid_t, std::vector<int>> affinity;
	std::vector<std::pair<pid_t, std::vector<int>>> affinity_writes;
	std::map<pid_t, int> affinity_errno;
	struct Migration {
		pid_t pid;
		std::vector<int> from, to;
	};
	std::vector<Migration> migrations;
	int migrate_errno = 0;

	int get_affinity(pid_t tid, std::vector<int> &cpus) override
	{
		if (!tasks.count(tid))
			return ESRCH;
		auto it = affinity.find(tid);
		cpus = it == affinity.end() ? all_cpus : it->second;
		return 0;
	}
	int set_affinity(pid_t tid, const std::vector<int> &cpus) override
	{
		if (before_set)
			before_set(tid);
		if (!tasks.count(tid))
			return ESRCH;
		if (auto e = affinity_errno.find(tid); e != affinity_errno.end())
			return e->second;
		if (cpus.empty())
			return EINVAL;
		affinity[tid] = cpus;
		affinity_writes.emplace_back(tid, cpus);
		return 0;
	}
	int migrate_pages(pid_t pid, const std::vector<int> &from, const std::vector<int> &to, long &left) override
	{
		left = 0;
		if (!tasks.count(pid))
			return ESRCH;
		if (migrate_errno)
			return migrate_errno;
		migrations.push_back({pid, from, to});
		return 0;
	}

private:
	uint64_t next_gen_ = 1;
};

} // namespace offl::testing
