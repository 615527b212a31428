// SPDX-License-Identifier: GPL-2.0
// Builds fake /proc trees (real file formats) in a temporary directory, for
// unit tests and benchmarks.
#pragma once

#include <cstdint>
#include <string>
#include <sys/types.h>
#include <vector>

namespace offl::testing {

struct FakeTask {
	pid_t tid = 0;
	std::string comm;
	char state = 'S';
	unsigned flags = 0x00400100; // PF_FORKNOEXEC|PF_RANDOMIZE-ish, no PF_KTHREAD
	int policy = 0;
	int nice = 0;
	unsigned rt_priority = 0;
	uint64_t start_time = 1000;
	uid_t uid = 0;
	pid_t ppid = 1;
	std::string cpus = "0-3";
	uint64_t utime = 0, stime = 0;
	uint64_t cpu_ns = 0; // schedstat
	int processor = 0;
};

struct FakeProcess {
	FakeTask leader;            // leader.tid is the pid
	std::string exe;            // "" = no exe link (kernel thread)
	bool exe_deleted = false;
	// The binary's owner and mode (a real file under ROOT/.fs): by
	// default root's, not writable by others, as an installed binary.
	uid_t exe_uid = 0;
	gid_t exe_gid = 0;
	unsigned exe_mode = 0755;
	std::vector<std::string> argv;
	std::string cgroup = "0::/"; // raw /proc/<pid>/cgroup contents
	std::vector<FakeTask> threads;
};

// Kernel-thread flags (PF_KTHREAD | PF_NOFREEZE | ...).
inline constexpr unsigned kKthreadFlags = 0x00208040;

class FakeProcTree {
public:
	FakeProcTree();
	~FakeProcTree();
	FakeProcTree(const FakeProcTree &) = delete;
	FakeProcTree &operator=(const FakeProcTree &) = delete;

	const std::string &root() const { return root_; }

	void add(const FakeProcess &p);
	void add_kthread(pid_t pid, const std::string &comm, uint64_t start_time = 10);
	// Remove one task directory (simulates an exit mid-scan) or a file.
	void remove_task(pid_t tgid, pid_t tid);
	void remove_file(const std::string &rel);
	void write_file(const std::string &rel, const std::string &content);

	static std::string stat_line(const FakeTask &t, int num_threads);
	static std::string status_text(const FakeTask &t, pid_t tgid, int num_threads, bool kthread);

private:
	std::string root_;
};

// A plausible host: kernel threads, systemd services, sshd, QEMU VMs with
// vCPU threads (comm cut to 15 characters), batch jobs, multi-threaded
// daemons.  Returns the number of tasks created (>= ntasks).
size_t generate_host(FakeProcTree &tree, size_t ntasks, unsigned seed = 1);

// The config used with generate_host by the benchmark and tests.
std::string generated_host_config();

// A process as tests build them: start times derived from the ids, exe
// under @dir, thread i named names[i] (the process's comm when absent).
inline FakeProcess make_process(pid_t pid, const std::string &comm,
				const std::vector<pid_t> &threads,
				const std::vector<std::string> &names = {},
				const std::string &dir = "/usr/bin/")
{
	FakeProcess p;
	p.leader.tid = pid;
	p.leader.comm = comm;
	p.leader.start_time = 1000 + static_cast<uint64_t>(pid);
	p.exe = dir + comm;
	p.argv = {p.exe};
	// QEMU runs where a VM runs (classify.hpp: a VM is a root-owned QEMU
	// binary in a VM cgroup or of a VM owner uid): a libvirt scope.
	if (comm.rfind("qemu-", 0) == 0)
		p.cgroup = "0::/machine.slice/machine-qemu\\x2d" + std::to_string(pid) + "\\x2dvm.scope/libvirt/emulator\n";
	for (size_t i = 0; i < threads.size(); i++) {
		FakeTask t = p.leader;
		t.tid = threads[i];
		t.comm = i < names.size() ? names[i] : comm;
		t.start_time = 1000 + static_cast<uint64_t>(threads[i]);
		p.threads.push_back(t);
	}
	return p;
}

} // namespace offl::testing
