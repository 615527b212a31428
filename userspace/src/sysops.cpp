// SPDX-License-Identifier: GPL-2.0
#include "sysops.hpp"

#include "procfs.hpp"

#include <cerrno>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

namespace offl {

namespace {

// struct sched_attr as of Linux 5.3 (SCHED_ATTR_SIZE_VER1, 56 bytes).
struct KernelSchedAttr {
	uint32_t size;
	uint32_t sched_policy;
	uint64_t sched_flags;
	int32_t sched_nice;
	uint32_t sched_priority;
	uint64_t sched_runtime;
	uint64_t sched_deadline;
	uint64_t sched_period;
	uint32_t sched_util_min;
	uint32_t sched_util_max;
};
static_assert(sizeof(KernelSchedAttr) == 56);

constexpr unsigned kPidfdThread = O_EXCL; // PIDFD_THREAD, Linux 6.9

class PidfdHandle : public PidHandle {
public:
	PidfdHandle(int fd, bool precise) : fd_(fd), precise_(precise) {}
	~PidfdHandle() override { close(fd_); }
	bool exited() const override
	{
		struct pollfd p = {fd_, POLLIN, 0};
		int r;
		do {
			r = poll(&p, 1, 0);
		} while (r < 0 && errno == EINTR);
		return r > 0 && (p.revents & (POLLIN | POLLHUP)) != 0;
	}
	bool precise() const override { return precise_; }

private:
	int fd_;
	bool precise_;
};

int pidfd_open(pid_t pid, unsigned flags)
{
	return static_cast<int>(syscall(SYS_pidfd_open, pid, flags));
}

} // namespace

int sys_sched_getattr(pid_t tid, SchedAttr &out)
{
	KernelSchedAttr a{};
	if (syscall(SYS_sched_getattr, tid, &a, sizeof(a), 0) != 0)
		return errno;
	out.policy = static_cast<int>(a.sched_policy);
	out.nice = a.sched_nice;
	out.priority = a.sched_priority;
	out.flags = a.sched_flags & kSchedFlagResetOnFork;
	out.runtime = a.sched_runtime;
	out.deadline = a.sched_deadline;
	out.period = a.sched_period;
	return 0;
}

int sys_sched_setattr(pid_t tid, const SchedAttr &attr)
{
	// sched_setattr() ignores sched_nice for SCHED_IDLE (not a "fair"
	// policy to the kernel): set the nice first so the fallback keeps it.
	if (attr.policy == kSchedIdle && setpriority(PRIO_PROCESS, static_cast<id_t>(tid), attr.nice) != 0)
		return errno == EACCES ? EPERM : errno;
	KernelSchedAttr a{};
	a.size = sizeof(a);
	a.sched_policy = static_cast<uint32_t>(attr.policy);
	a.sched_flags = attr.flags & kSchedFlagResetOnFork;
	a.sched_nice = attr.nice;
	a.sched_priority = attr.priority;
	a.sched_runtime = attr.runtime;
	a.sched_deadline = attr.deadline;
	a.sched_period = attr.period;
	if (syscall(SYS_sched_setattr, tid, &a, 0) != 0)
		return errno;
	return 0;
}

LinuxSystemOps::LinuxSystemOps(std::string proc_root) : root_(std::move(proc_root)) {}

std::unique_ptr<PidHandle> LinuxSystemOps::open_pid(pid_t tgid, pid_t tid, int &err)
{
	err = 0;
	if (tid == tgid) {
		int fd = pidfd_open(tid, 0);
		if (fd < 0) {
			err = errno;
			return nullptr;
		}
		return std::make_unique<PidfdHandle>(fd, true);
	}
	int fd = pidfd_open(tid, kPidfdThread);
	if (fd >= 0)
		return std::make_unique<PidfdHandle>(fd, true);
	if (errno == ESRCH) {
		err = ESRCH;
		return nullptr;
	}
	// No PIDFD_THREAD (before 6.9): pin the thread group instead.
	fd = pidfd_open(tgid, 0);
	if (fd < 0) {
		err = errno;
		return nullptr;
	}
	return std::make_unique<PidfdHandle>(fd, false);
}

std::optional<uint64_t> LinuxSystemOps::start_time(pid_t tgid, pid_t tid)
{
	char path[96];
	snprintf(path, sizeof(path), "%s/%d/task/%d/stat", root_.c_str(), tgid, tid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return std::nullopt;
	char buf[1024];
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return std::nullopt;
	auto st = parse_stat(std::string_view(buf, static_cast<size_t>(n)));
	if (!st || st->pid != tid)
		return std::nullopt;
	return st->start_time;
}

int LinuxSystemOps::get_sched(pid_t tid, SchedAttr &out)
{
	return sys_sched_getattr(tid, out);
}

int LinuxSystemOps::set_sched(pid_t tid, const SchedAttr &attr)
{
	return sys_sched_setattr(tid, attr);
}

bool LinuxSystemOps::has_sched_offline()
{
	struct stat st;
	return stat((root_ + "/sched_offline").c_str(), &st) == 0;
}

pid_t LinuxSystemOps::self_tgid()
{
	return getpid();
}

namespace {

constexpr size_t kMaxCpus = 8192;

} // namespace

int LinuxSystemOps::get_affinity(pid_t tid, std::vector<int> &cpus)
{
	cpu_set_t *set = CPU_ALLOC(kMaxCpus);
	size_t sz = CPU_ALLOC_SIZE(kMaxCpus);
	CPU_ZERO_S(sz, set);
	int err = 0;
	if (sched_getaffinity(tid, sz, set) != 0) {
		err = errno;
	} else {
		cpus.clear();
		for (size_t c = 0; c < kMaxCpus; c++)
			if (CPU_ISSET_S(c, sz, set))
				cpus.push_back(static_cast<int>(c));
	}
	CPU_FREE(set);
	return err;
}

int LinuxSystemOps::set_affinity(pid_t tid, const std::vector<int> &cpus)
{
	cpu_set_t *set = CPU_ALLOC(kMaxCpus);
	size_t sz = CPU_ALLOC_SIZE(kMaxCpus);
	CPU_ZERO_S(sz, set);
	for (int c : cpus)
		if (c >= 0 && static_cast<size_t>(c) < kMaxCpus)
			CPU_SET_S(static_cast<size_t>(c), sz, set);
	int err = sched_setaffinity(tid, sz, set) != 0 ? errno : 0;
	CPU_FREE(set);
	return err;
}

int LinuxSystemOps::migrate_pages(pid_t pid, const std::vector<int> &from, const std::vector<int> &to, long &left)
{
	// Node masks as arrays of unsigned long, maxnode bits.
	constexpr unsigned long kMaxNode = 1024;
	unsigned long oldm[kMaxNode / (8 * sizeof(unsigned long))] = {};
	unsigned long newm[kMaxNode / (8 * sizeof(unsigned long))] = {};
	constexpr size_t bits = 8 * sizeof(unsigned long);
	for (int n : from)
		if (n >= 0 && static_cast<unsigned long>(n) < kMaxNode)
			oldm[static_cast<size_t>(n) / bits] |= 1UL << (static_cast<size_t>(n) % bits);
	for (int n : to)
		if (n >= 0 && static_cast<unsigned long>(n) < kMaxNode)
			newm[static_cast<size_t>(n) / bits] |= 1UL << (static_cast<size_t>(n) % bits);
	long r = syscall(SYS_migrate_pages, pid, kMaxNode, oldm, newm);
	if (r < 0) {
		left = 0;
		return errno;
	}
	left = r;
	return 0;
}

} // namespace offl
