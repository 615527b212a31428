// SPDX-License-Identifier: GPL-2.0
#include "fake_proc.hpp"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <stdexcept>
#include <sys/stat.h>
#include <unistd.h>

namespace fs = std::filesystem;

namespace offl::testing {

FakeProcTree::FakeProcTree()
{
	// /proc is memory-backed: build the fake one in memory too (tmpfs
	// /dev/shm) unless TMPDIR says otherwise.  Tens of thousands of small
	// files on a disk file system take tens of seconds.
	const char *tmp = getenv("TMPDIR");
	std::string dir = tmp && *tmp ? tmp : access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
	std::string tmpl = dir + "/offlinectl-fakeproc-XXXXXX";
	std::vector<char> buf(tmpl.begin(), tmpl.end());
	buf.push_back('\0');
	if (!mkdtemp(buf.data()))
		throw std::runtime_error("mkdtemp failed");
	root_ = buf.data();
}

FakeProcTree::~FakeProcTree()
{
	std::error_code ec;
	fs::remove_all(root_, ec);
}

void FakeProcTree::write_file(const std::string &rel, const std::string &content)
{
	fs::path p = fs::path(root_) / rel;
	fs::create_directories(p.parent_path());
	std::ofstream o(p, std::ios::binary | std::ios::trunc);
	o << content;
}

void FakeProcTree::remove_file(const std::string &rel)
{
	std::error_code ec;
	fs::remove(fs::path(root_) / rel, ec);
}

void FakeProcTree::remove_task(pid_t tgid, pid_t tid)
{
	std::error_code ec;
	fs::remove_all(fs::path(root_) / std::to_string(tgid) / "task" / std::to_string(tid), ec);
	if (tid == tgid)
		fs::remove_all(fs::path(root_) / std::to_string(tgid), ec);
}

std::string FakeProcTree::stat_line(const FakeTask &t, int num_threads)
{
	// 52 fields, as Linux 6.x prints them.
	char buf[1024];
	int prio = t.policy == 1 || t.policy == 2 ? -1 - static_cast<int>(t.rt_priority) : 20 + t.nice;
	snprintf(buf, sizeof(buf),
		 "%d (%s) %c %d %d %d 0 -1 %u 1234 0 0 0 %llu %llu 0 0 %d %d %d 0 %llu 12345678 321 "
		 "18446744073709551615 94000000000000 94000000100000 140720000000000 0 0 0 0 0 0 0 0 0 17 %d %u "
		 "%d 0 0 0 94000000200000 94000000300000 94000001000000 140720000001000 140720000001100 "
		 "140720000001100 140720000002000 0\n",
		 t.tid, t.comm.c_str(), t.state, t.ppid, t.tid, t.tid, t.flags,
		 static_cast<unsigned long long>(t.utime), static_cast<unsigned long long>(t.stime), prio, t.nice,
		 num_threads, static_cast<unsigned long long>(t.start_time), t.processor, t.rt_priority, t.policy);
	return buf;
}

std::string FakeProcTree::status_text(const FakeTask &t, pid_t tgid, int num_threads, bool kthread)
{
	char buf[4096];
	snprintf(buf, sizeof(buf),
		 "Name:\t%s\nUmask:\t0022\nState:\t%c (sleeping)\nTgid:\t%d\nNgid:\t0\nPid:\t%d\nPPid:\t%d\n"
		 "TracerPid:\t0\nUid:\t%u\t%u\t%u\t%u\nGid:\t%u\t%u\t%u\t%u\nFDSize:\t64\nGroups:\t \n"
		 "NStgid:\t%d\nNSpid:\t%d\nNSpgid:\t%d\nNSsid:\t%d\nKthread:\t%d\n"
		 "VmPeak:\t  123456 kB\nVmSize:\t  123456 kB\nVmLck:\t       0 kB\nVmPin:\t       0 kB\n"
		 "VmHWM:\t    4567 kB\nVmRSS:\t    4567 kB\nRssAnon:\t    1234 kB\nRssFile:\t    3333 kB\n"
		 "RssShmem:\t       0 kB\nVmData:\t    2222 kB\nVmStk:\t     132 kB\nVmExe:\t      20 kB\n"
		 "VmLib:\t    1528 kB\nVmPTE:\t      48 kB\nVmSwap:\t       0 kB\nHugetlbPages:\t       0 kB\n"
		 "CoreDumping:\t0\nTHP_enabled:\t1\nuntag_mask:\t0xffffffffffffffff\nThreads:\t%d\n"
		 "SigQ:\t0/96365\nSigPnd:\t0000000000000000\nShdPnd:\t0000000000000000\n"
		 "SigBlk:\t0000000000000000\nSigIgn:\t0000000000001000\nSigCgt:\t0000000180004a02\n"
		 "CapInh:\t0000000000000000\nCapPrm:\t000001ffffffffff\nCapEff:\t000001ffffffffff\n"
		 "CapBnd:\t000001ffffffffff\nCapAmb:\t0000000000000000\nNoNewPrivs:\t0\nSeccomp:\t0\n"
		 "Seccomp_filters:\t0\nSpeculation_Store_Bypass:\tthread vulnerable\n"
		 "SpeculationIndirectBranch:\tconditional enabled\nCpus_allowed:\tf\nCpus_allowed_list:\t%s\n"
		 "Mems_allowed:\t00000000,00000001\nMems_allowed_list:\t0\nvoluntary_ctxt_switches:\t150\n"
		 "nonvoluntary_ctxt_switches:\t3\n",
		 t.comm.c_str(), t.state, tgid, t.tid, t.ppid, t.uid, t.uid, t.uid, t.uid, t.uid, t.uid, t.uid,
		 t.uid, tgid, t.tid, tgid, tgid, kthread ? 1 : 0, num_threads, t.cpus.c_str());
	return buf;
}

void FakeProcTree::add(const FakeProcess &p)
{
	const pid_t pid = p.leader.tid;
	const std::string base = std::to_string(pid);
	const int nthreads = 1 + static_cast<int>(p.threads.size());
	const bool kthread = (p.leader.flags & 0x00200000) != 0;
	write_file(base + "/stat", stat_line(p.leader, nthreads));
	write_file(base + "/status", status_text(p.leader, pid, nthreads, kthread));
	write_file(base + "/comm", p.leader.comm + "\n");
	std::string cmd;
	for (const auto &a : p.argv) {
		cmd += a;
		cmd.push_back('\0');
	}
	write_file(base + "/cmdline", cmd);
	write_file(base + "/cgroup", p.cgroup);
	if (!p.exe.empty()) {
		fs::path link = fs::path(root_) / base / "exe";
		std::error_code ec;
		fs::remove(link, ec);
		// A real file under ROOT/.fs stands for the binary (ProcFs
		// shows the path without that prefix), with the owner and
		// mode the test asks for: what the trust checks stat.
		const std::string shown = p.exe + (p.exe_deleted ? " (deleted)" : "");
		fs::path file = fs::path(root_ + "/.fs" + shown);
		fs::create_directories(file.parent_path(), ec);
		if (!fs::exists(file, ec))
			std::ofstream(file, std::ios::binary) << "#!fake\n";
		if (chown(file.c_str(), p.exe_uid, p.exe_gid) != 0 && p.exe_uid != geteuid())
			fprintf(stderr, "fake_proc: chown %s: %s\n", file.c_str(), strerror(errno));
		chmod(file.c_str(), p.exe_mode);
		fs::create_symlink(file, link);
	}
	auto add_task = [&](const FakeTask &t) {
		const std::string td = base + "/task/" + std::to_string(t.tid);
		write_file(td + "/stat", stat_line(t, nthreads));
		write_file(td + "/status", status_text(t, pid, nthreads, kthread));
		write_file(td + "/comm", t.comm + "\n");
		write_file(td + "/schedstat", std::to_string(t.cpu_ns) + " 1000 10\n");
	};
	add_task(p.leader);
	for (const auto &t : p.threads) {
		add_task(t);
		// /proc/<tid>/status resolves for threads on a real /proc
		// (hidden from readdir there; the scanner skips the directory
		// here because it has no task/<tid>/stat).
		write_file(std::to_string(t.tid) + "/status", status_text(t, pid, nthreads, kthread));
	}
}

void FakeProcTree::add_kthread(pid_t pid, const std::string &comm, uint64_t start_time)
{
	FakeProcess p;
	p.leader.tid = pid;
	p.leader.comm = comm;
	p.leader.flags = kKthreadFlags;
	p.leader.ppid = pid == 2 ? 0 : 2;
	p.leader.start_time = start_time;
	add(p);
}

size_t generate_host(FakeProcTree &tree, size_t ntasks, unsigned seed)
{
	std::mt19937 rng(seed);
	size_t made = 0;
	pid_t pid = 1;
	uint64_t start = 5;
	auto next_pid = [&]() { return pid++; };

	auto proc = [&](const std::string &comm, const std::string &exe, std::vector<std::string> argv,
			const std::string &cgroup, uid_t uid, int nthreads, const std::vector<std::string> &tnames) {
		FakeProcess p;
		p.leader.tid = next_pid();
		p.leader.comm = comm.substr(0, 15);
		p.leader.uid = uid;
		p.leader.start_time = start++;
		p.leader.cpu_ns = rng() % 1000000000;
		p.exe = exe;
		p.argv = std::move(argv);
		p.cgroup = "0::" + cgroup + "\n";
		for (int i = 0; i < nthreads; i++) {
			FakeTask t = p.leader;
			t.tid = next_pid();
			t.comm = tnames.empty() ? p.leader.comm : tnames[static_cast<size_t>(i) % tnames.size()];
			t.start_time = start++;
			p.threads.push_back(t);
		}
		tree.add(p);
		made += 1 + static_cast<size_t>(nthreads);
	};

	// init and kthreadd
	proc("systemd", "/usr/lib/systemd/systemd", {"/sbin/init", "splash"}, "/init.scope", 0, 0, {});
	tree.add_kthread(next_pid(), "kthreadd", start++);
	made++;
	const size_t kthreads = ntasks / 8;
	const char *knames[] = {"kworker/0:1H-kblockd", "ksoftirqd/3", "migration/2", "rcu_preempt", "kcompactd0"};
	for (size_t i = 0; i < kthreads; i++) {
		tree.add_kthread(next_pid(), knames[i % 5], start++);
		made++;
	}
	proc("systemd-journald", "/usr/lib/systemd/systemd-journald", {"/usr/lib/systemd/systemd-journald"},
	     "/system.slice/systemd-journald.service", 0, 1, {"journal-offline"});
	proc("sshd", "/usr/sbin/sshd", {"sshd: /usr/sbin/sshd -D [listener] 0 of 10-100 startups"},
	     "/system.slice/ssh.service", 0, 0, {});
	proc("ovs-vswitchd", "/usr/sbin/ovs-vswitchd", {"ovs-vswitchd", "unix:/var/run/openvswitch/db.sock"},
	     "/system.slice/ovs-vswitchd.service", 0, 8, {"handler1", "revalidator2", "urcu3"});

	int vm = 0;
	while (made < ntasks) {
		switch (rng() % 10) {
		case 0:
		case 1: { // a VM: 4-16 vCPUs + service threads
			int vcpus = 4 + static_cast<int>(rng() % 13);
			std::vector<std::string> names;
			for (int i = 0; i < vcpus; i++)
				names.push_back("CPU " + std::to_string(i) + "/KVM");
			names.push_back("IO mon_iothread");
			names.push_back("worker");
			names.push_back("vhost-" + std::to_string(pid));
			std::string name = "vm" + std::to_string(vm++);
			proc("qemu-system-x86_64", "/usr/bin/qemu-system-x86_64",
			     {"/usr/bin/qemu-system-x86_64", "-name", "guest=" + name + ",debug-threads=on", "-m", "4096",
			      "-smp", std::to_string(vcpus)},
			     "/machine.slice/machine-qemu\\x2d" + std::to_string(vm) + "\\x2d" + name + ".scope/libvirt/emulator",
			     64055, vcpus + 3, names);
			break;
		}
		case 2:
		case 3: // batch job
			proc("stress-ng", "/usr/bin/stress-ng", {"stress-ng", "--cpu", "4", "--timeout", "1h"},
			     "/batch.slice/job-" + std::to_string(pid) + ".scope", 1000, static_cast<int>(rng() % 4), {});
			break;
		case 4: // java service with many threads
			proc("java", "/usr/lib/jvm/java-17/bin/java", {"java", "-Xmx2g", "-jar", "/opt/app/app.jar"},
			     "/system.slice/app.service", 998, 20 + static_cast<int>(rng() % 20),
			     {"GC Thread#0", "C2 CompilerThre", "VM Thread", "http-nio-8080-e"});
			break;
		case 5: // kubelet
			proc("kubelet", "/usr/bin/kubelet", {"/usr/bin/kubelet", "--config=/var/lib/kubelet/config.yaml"},
			     "/system.slice/kubelet.service", 0, 10, {});
			break;
		default: // small host daemons
			proc("rsyslogd", "/usr/sbin/rsyslogd", {"/usr/sbin/rsyslogd", "-n", "-iNONE"},
			     "/system.slice/rsyslog.service", 0, static_cast<int>(rng() % 3), {"in:imuxsock", "rs:main Q:Reg"});
			break;
		}
	}
	return made;
}

std::string generated_host_config()
{
	return R"TOML([agent]
resync_interval = 10
state_file = ""

[classes.host]
policy = "offline"

[[rule]]
name = "critical services"
class = "critical"
comm = "sshd|systemd-journal|systemd-journald|libvirtd|virtqemud|kubelet"

[[rule]]
name = "log shipper"
class = "host"
exe = "/usr/sbin/(rsyslogd|syslog-ng)"

[[rule]]
name = "batch slice"
class = "batch"
cgroup = "/batch.slice"

[[rule]]
name = "java apps by cmdline"
class = "batch"
cmdline = "java .*-jar /opt/batch/.*"

[[rule]]
name = "uid 1000"
class = "batch"
uid = 1000
)TOML";
}

} // namespace offl::testing
