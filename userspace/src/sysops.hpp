// SPDX-License-Identifier: GPL-2.0
// The thin layer between the agent and the kernel: pidfds, start times and
// sched_{get,set}attr.  Everything that changes the system goes through
// SystemOps so tests can fake it and count the calls.
#pragma once

#include <cerrno>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <sys/types.h>
#include <vector>

namespace offl {

struct SchedAttr {
	int policy = 0;
	int nice = 0;
	unsigned priority = 0; // sched_priority (RT)
	uint64_t flags = 0;    // SCHED_FLAG_*; only RESET_ON_FORK is carried
	// SCHED_DEADLINE parameters, kept so a restore is exact.
	uint64_t runtime = 0, deadline = 0, period = 0;

	bool operator==(const SchedAttr &) const = default;
};

inline constexpr uint64_t kSchedFlagResetOnFork = 0x01;

// A handle that pins the identity of a task while we act on it.
class PidHandle {
public:
	virtual ~PidHandle() = default;
	// The task behind the handle has exited (pidfd readable).
	virtual bool exited() const = 0;
	// false when the handle only tracks the thread group (kernels without
	// PIDFD_THREAD): the caller must confirm a thread by its start time.
	virtual bool precise() const = 0;
};

class SystemOps {
public:
	virtual ~SystemOps() = default;

	// nullptr with err set (ESRCH: gone; ENOSYS/EINVAL: no pidfd support).
	virtual std::unique_ptr<PidHandle> open_pid(pid_t tgid, pid_t tid, int &err) = 0;
	virtual std::optional<uint64_t> start_time(pid_t tgid, pid_t tid) = 0;
	// 0 or an errno value.
	virtual int get_sched(pid_t tid, SchedAttr &out) = 0;
	virtual int set_sched(pid_t tid, const SchedAttr &attr) = 0;
	// /proc/sched_offline exists (the kernel has the offline class).
	virtual bool has_sched_offline() = 0;
	virtual pid_t self_tgid() = 0;

	// CPU affinity of one thread (sched_{get,set}affinity); 0 or errno.
	// The defaults say ENOSYS so a SystemOps that predates placement still
	// builds; LinuxSystemOps and the test fake implement them.
	virtual int get_affinity(pid_t tid, std::vector<int> &cpus)
	{
		(void)tid;
		(void)cpus;
		return ENOSYS;
	}
	virtual int set_affinity(pid_t tid, const std::vector<int> &cpus)
	{
		(void)tid;
		(void)cpus;
		return ENOSYS;
	}
	// migrate_pages(2) of a process from the nodes `from` to `to`; 0 or
	// errno.  `left` gets the number of pages that could not be moved.
	virtual int migrate_pages(pid_t pid, const std::vector<int> &from, const std::vector<int> &to, long &left)
	{
		(void)pid;
		(void)from;
		(void)to;
		left = 0;
		return ENOSYS;
	}
};

// The real thing, reading /proc under proc_root.
class LinuxSystemOps : public SystemOps {
public:
	explicit LinuxSystemOps(std::string proc_root = "/proc");

	std::unique_ptr<PidHandle> open_pid(pid_t tgid, pid_t tid, int &err) override;
	std::optional<uint64_t> start_time(pid_t tgid, pid_t tid) override;
	int get_sched(pid_t tid, SchedAttr &out) override;
	int set_sched(pid_t tid, const SchedAttr &attr) override;
	bool has_sched_offline() override;
	pid_t self_tgid() override;
	int get_affinity(pid_t tid, std::vector<int> &cpus) override;
	int set_affinity(pid_t tid, const std::vector<int> &cpus) override;
	int migrate_pages(pid_t pid, const std::vector<int> &from, const std::vector<int> &to, long &left) override;

private:
	std::string root_;
};

// Raw syscalls (glibc 2.36 has no wrappers for these).
int sys_sched_getattr(pid_t tid, SchedAttr &out);
int sys_sched_setattr(pid_t tid, const SchedAttr &attr);

} // namespace offl
