// SPDX-License-Identifier: GPL-2.0
#include "fake_proc.hpp"
#include "procfs.hpp"

#include <gtest/gtest.h>

using namespace offl;
using offl::testing::FakeProcess;
using offl::testing::FakeProcTree;
using offl::testing::FakeTask;

namespace {
const char *kRealStat =
	"5080 (cat) R 5078 5078 3698 0 -1 4194304 102 0 0 0 7 3 0 0 20 0 1 0 75831 3133440 388 "
	"18446744073709551615 94118020161536 94118020181417 140728493485088 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0 "
	"94118020197424 94118020199040 94118908665856 140728493488779 140728493488799 140728493488799 "
	"140728493490155 0\n";
}

TEST(ParseStat, RealLine)
{
	auto s = parse_stat(kRealStat);
	ASSERT_TRUE(s);
	EXPECT_EQ(s->pid, 5080);
	EXPECT_EQ(s->comm, "cat");
	EXPECT_EQ(s->state, 'R');
	EXPECT_EQ(s->ppid, 5078);
	EXPECT_EQ(s->flags, 4194304u);
	EXPECT_EQ(s->utime, 7u);
	EXPECT_EQ(s->stime, 3u);
	EXPECT_EQ(s->nice, 0);
	EXPECT_EQ(s->start_time, 75831u);
	EXPECT_EQ(s->processor, 1);
	EXPECT_EQ(s->policy, 0);
}

TEST(ParseStat, CommWithSpacesAndParentheses)
{
	FakeTask t;
	t.tid = 77;
	t.comm = "a) b) (c";
	t.nice = 19;
	t.policy = 8;
	t.start_time = 500;
	auto s = parse_stat(FakeProcTree::stat_line(t, 1));
	ASSERT_TRUE(s);
	EXPECT_EQ(s->comm, "a) b) (c");
	EXPECT_EQ(s->nice, 19);
	EXPECT_EQ(s->policy, 8);
	EXPECT_EQ(s->start_time, 500u);

	t.comm = "CPU 0/KVM";
	s = parse_stat(FakeProcTree::stat_line(t, 1));
	ASSERT_TRUE(s);
	EXPECT_EQ(s->comm, "CPU 0/KVM");

	t.comm = ")";
	s = parse_stat(FakeProcTree::stat_line(t, 1));
	ASSERT_TRUE(s);
	EXPECT_EQ(s->comm, ")");

	t.comm = "";
	s = parse_stat(FakeProcTree::stat_line(t, 1));
	ASSERT_TRUE(s);
	EXPECT_EQ(s->comm, "");
}

TEST(ParseStat, KernelThreadFlagAndRealtime)
{
	FakeTask t;
	t.tid = 12;
	t.comm = "ksoftirqd/0";
	t.flags = offl::testing::kKthreadFlags;
	t.policy = 1;
	t.rt_priority = 50;
	auto s = parse_stat(FakeProcTree::stat_line(t, 1));
	ASSERT_TRUE(s);
	EXPECT_TRUE(s->flags & kPfKthread);
	EXPECT_EQ(s->policy, 1);
	EXPECT_EQ(s->rt_priority, 50u);
}

TEST(ParseStat, ShortAndBrokenLines)
{
	// Old kernels end before processor/rt_priority/policy: accepted.
	auto s = parse_stat("1 (init) S 0 1 1 0 -1 4194560 1 2 3 4 5 6 7 8 20 0 1 0 9 100 10\n");
	ASSERT_TRUE(s);
	EXPECT_EQ(s->start_time, 9u);
	EXPECT_EQ(s->policy, -1);
	EXPECT_EQ(s->processor, -1);
	// Up to the start time is required.
	EXPECT_FALSE(parse_stat("1 (init) S 0 1 1 0 -1 4194560 1 2 3 4 5 6 7 8 20 0 1 0\n"));
	EXPECT_FALSE(parse_stat(""));
	EXPECT_FALSE(parse_stat("garbage"));
	EXPECT_FALSE(parse_stat("1 (x"));
	EXPECT_FALSE(parse_stat("x (y) S 0"));
	EXPECT_FALSE(parse_stat("1 (x) S zz 1 1 0 -1 4194560 1 2 3 4 5 6 7 8 20 0 1 0 9 100 10\n"));
	// nice out of range means it is not a stat line.
	EXPECT_FALSE(parse_stat("1 (x) S 0 1 1 0 -1 4194560 1 2 3 4 5 6 7 8 20 99 1 0 9 100 10\n"));
	// Garbage after a valid prefix is refused, not truncated.
	EXPECT_FALSE(parse_stat("1 (x) S 0 1 1 0 -1 4194560 1 2 3 4 5 6 7 8 20 0 1 0 9 100 10 1 2 3 4 5 6 7 8 9 "
				"10 11 12 13 14 x 1 0\n"));
}

TEST(ParseStatus, Fields)
{
	FakeTask t;
	t.tid = 300;
	t.uid = 1000;
	t.cpus = "0-1,3";
	auto s = parse_status(FakeProcTree::status_text(t, 299, 2, false));
	ASSERT_TRUE(s);
	EXPECT_EQ(s->tgid, 299);
	EXPECT_EQ(s->euid, 1000u);
	EXPECT_EQ(s->cpus_allowed_list, "0-1,3");
	EXPECT_EQ(s->kthread, 0);

	EXPECT_EQ(parse_status("Tgid:\t5\nUid:\t1\t2\t3\t4\n")->euid, 2u);
	EXPECT_EQ(parse_status("Tgid:\t5\nUid:\t1\t2\t3\t4\n")->ruid, 1u);
	EXPECT_FALSE(parse_status("Tgid:\t5\n"));          // no Uid
	EXPECT_FALSE(parse_status("Uid:\t1\t2\t3\t4\n"));  // no Tgid
	EXPECT_FALSE(parse_status("Tgid:\tx\nUid:\t1\t2\n"));
	EXPECT_FALSE(parse_status(""));
}

TEST(ParseCgroup, V2HybridAndV1)
{
	EXPECT_EQ(*parse_cgroup("0::/system.slice/ssh.service\n"), "/system.slice/ssh.service");
	EXPECT_EQ(*parse_cgroup("9:name=systemd:/user.slice\n4:memory:/foo\n0::/system.slice/x.service\n"),
		  "/system.slice/x.service");
	EXPECT_EQ(*parse_cgroup("9:name=systemd:/user.slice\n4:memory:/foo\n"), "/user.slice");
	EXPECT_EQ(*parse_cgroup("4:memory:/foo\n3:cpuset:/\n"), "/foo");
	EXPECT_EQ(*parse_cgroup("0::/a:b:c\n"), "/a:b:c");
	EXPECT_EQ(*parse_cgroup(""), "");
	EXPECT_FALSE(parse_cgroup("garbage\n"));
	EXPECT_FALSE(parse_cgroup("x:cpu:/\n"));
}

TEST(ParseCmdline, NulSeparated)
{
	using namespace std::string_literals;
	auto c = parse_cmdline("/usr/bin/qemu-system-x86_64\0-name\0guest=vm1\0"s);
	EXPECT_EQ(c.argv0, "/usr/bin/qemu-system-x86_64");
	EXPECT_EQ(c.joined, "/usr/bin/qemu-system-x86_64 -name guest=vm1");
	EXPECT_EQ(parse_cmdline("").joined, "");
	EXPECT_EQ(parse_cmdline("sshd: root [priv]").argv0, "sshd: root [priv]");
}

TEST(ParseVcpu, ThreadNames)
{
	EXPECT_EQ(parse_vcpu_thread_name("CPU 0/KVM"), 0);
	EXPECT_EQ(parse_vcpu_thread_name("CPU 12/TCG"), 12);
	EXPECT_EQ(parse_vcpu_thread_name("CPU 3/HVF"), 3);
	EXPECT_FALSE(parse_vcpu_thread_name("CPU x/KVM"));
	EXPECT_FALSE(parse_vcpu_thread_name("CPU 1/kvm"));
	EXPECT_FALSE(parse_vcpu_thread_name("CPU 1/"));
	EXPECT_FALSE(parse_vcpu_thread_name("CPU1/KVM"));
	EXPECT_FALSE(parse_vcpu_thread_name("IO mon_iothread"));
	EXPECT_FALSE(parse_vcpu_thread_name("CPU -1/KVM"));
}

TEST(ParseSchedOffline, HeaderNamedColumns)
{
	auto t = parse_sched_offline(
		"cpu online_avg_pct capacity nr_offline offline_runtime_ns preempts pulls pushes guard_bursts\n"
		"0 12.5 896 2 123456789 10 3 1 0\n"
		"1 0.0 1024 0 0 0 0 0 7\n");
	ASSERT_TRUE(t);
	ASSERT_EQ(t->rows.size(), 2u);
	EXPECT_EQ(t->rows[0].cpu, 0);
	EXPECT_DOUBLE_EQ(t->rows[0].online_avg_pct, 12.5);
	EXPECT_EQ(t->rows[0].capacity, 896);
	EXPECT_EQ(t->rows[0].nr_offline, 2u);
	EXPECT_EQ(t->rows[0].offline_runtime_ns, 123456789u);
	EXPECT_EQ(t->rows[1].guard_bursts, 7u);
}

TEST(ParseSchedOffline, ReorderedAndUnknownColumns)
{
	auto t = parse_sched_offline("capacity cpu new_thing preempts\n512 cpu3 xyz 4\n");
	ASSERT_TRUE(t);
	ASSERT_EQ(t->rows.size(), 1u);
	EXPECT_EQ(t->rows[0].cpu, 3);
	EXPECT_EQ(t->rows[0].capacity, 512);
	EXPECT_EQ(t->rows[0].preempts, 4u);
	ASSERT_EQ(t->rows[0].extra.size(), 1u);
	EXPECT_EQ(t->rows[0].extra[0].first, "new_thing");
}

TEST(ParseSchedOffline, Malformed)
{
	EXPECT_FALSE(parse_sched_offline(""));
	EXPECT_FALSE(parse_sched_offline("capacity\n1024\n")); // no cpu column
	EXPECT_FALSE(parse_sched_offline("cpu capacity\n0\n")); // short row
	EXPECT_FALSE(parse_sched_offline("cpu capacity\n0 lots\n"));
	EXPECT_TRUE(parse_sched_offline("cpu capacity\n")); // no CPUs yet
}

namespace {

FakeProcess make_proc(pid_t pid, const std::string &comm, std::vector<pid_t> threads = {})
{
	FakeProcess p;
	p.leader.tid = pid;
	p.leader.comm = comm;
	p.leader.start_time = 1000 + static_cast<uint64_t>(pid);
	p.leader.uid = 1000;
	p.exe = "/usr/bin/" + comm;
	p.argv = {"/usr/bin/" + comm, "--flag"};
	p.cgroup = "0::/system.slice/" + comm + ".service\n";
	for (pid_t t : threads) {
		FakeTask ft = p.leader;
		ft.tid = t;
		ft.comm = comm + "-w";
		ft.start_time = 2000 + static_cast<uint64_t>(t);
		p.threads.push_back(ft);
	}
	return p;
}

} // namespace

TEST(ProcFsScan, ProcessesAndThreads)
{
	FakeProcTree tree;
	tree.add(make_proc(1, "systemd"));
	tree.add_kthread(2, "kthreadd");
	tree.add(make_proc(100, "daemon", {101, 102}));
	FakeProcess del = make_proc(200, "upgraded");
	del.exe_deleted = true;
	tree.add(del);

	ProcFs fs(tree.root());
	Snapshot s = fs.scan();
	ASSERT_EQ(s.processes.size(), 4u);
	ASSERT_EQ(s.tasks.size(), 6u);

	const TaskInfo *w = s.find_task(102);
	ASSERT_NE(w, nullptr);
	EXPECT_EQ(w->tgid, 100);
	EXPECT_EQ(w->comm, "daemon-w");
	EXPECT_EQ(w->uid, 1000u);           // the process's
	EXPECT_EQ(w->cpus_allowed, "");     // not read by default
	EXPECT_EQ(s.find_task(100)->cpus_allowed, "0-3");
	ScanOptions full;
	full.thread_status = true;
	Snapshot s2 = fs.scan(full);
	EXPECT_EQ(s2.find_task(102)->cpus_allowed, "0-3");
	const ProcessInfo &p = s.process_of(*w);
	EXPECT_EQ(p.comm, "daemon");
	EXPECT_EQ(p.exe, "/usr/bin/daemon");
	EXPECT_EQ(p.cmdline, "/usr/bin/daemon --flag");
	EXPECT_EQ(p.cgroup, "/system.slice/daemon.service");

	const TaskInfo *k = s.find_task(2);
	ASSERT_NE(k, nullptr);
	EXPECT_TRUE(k->kthread());
	EXPECT_TRUE(s.process_of(*k).kthread);
	EXPECT_EQ(s.process_of(*k).exe, "");

	const TaskInfo *u = s.find_task(200);
	ASSERT_NE(u, nullptr);
	EXPECT_EQ(s.process_of(*u).exe, "/usr/bin/upgraded");
	EXPECT_TRUE(s.process_of(*u).exe_deleted);

	// Leader first within each process.
	for (size_t i = 0; i < s.tasks.size(); i++) {
		if (i == 0 || s.tasks[i].proc != s.tasks[i - 1].proc) {
			EXPECT_EQ(s.tasks[i].tid, s.tasks[i].tgid);
		}
	}
}

TEST(ProcFsScan, VanishedTasksAreSkipped)
{
	FakeProcTree tree;
	tree.add(make_proc(100, "a", {101, 102}));
	tree.add(make_proc(200, "b"));
	tree.add(make_proc(300, "c"));
	// A thread exited: its directory is gone.
	tree.remove_task(100, 101);
	// A thread exiting mid-read: stat is there, status is gone (only
	// read with thread_status).
	tree.remove_file("100/task/102/status");
	// A process exited between readdir and reading: only the dir shell
	// remains.
	tree.remove_file("200/task/200/stat");
	tree.remove_file("200/stat");
	// A stat that belongs to another pid (reused while we read).
	tree.write_file("300/task/300/stat", FakeProcTree::stat_line([] {
		FakeTask t;
		t.tid = 301;
		t.comm = "other";
		return t;
	}(), 1));

	ProcFs fs(tree.root());
	ScanOptions full;
	full.thread_status = true;
	Snapshot s = fs.scan(full);
	ASSERT_EQ(s.processes.size(), 1u);
	ASSERT_EQ(s.tasks.size(), 1u);
	EXPECT_EQ(s.tasks[0].tid, 100);
	EXPECT_EQ(fs.scan().tasks.size(), 2u); // 102's stat is still there
}

TEST(ProcFsScan, ScanProcessAndStartTime)
{
	FakeProcTree tree;
	tree.add(make_proc(100, "a", {101}));
	// /proc/<tid>/status resolves for threads on a real /proc.
	tree.write_file("101/status", FakeProcTree::status_text([] {
		FakeTask t;
		t.tid = 101;
		return t;
	}(), 100, 2, false));
	ProcFs fs(tree.root());
	EXPECT_EQ(fs.scan_process(100).tasks.size(), 2u);
	Snapshot viat = fs.scan_process(101);
	ASSERT_EQ(viat.processes.size(), 1u);
	EXPECT_EQ(viat.processes[0].tgid, 100);
	EXPECT_TRUE(fs.scan_process(999).tasks.empty());
	EXPECT_EQ(fs.start_time(100, 101), 2101u);
	EXPECT_FALSE(fs.start_time(100, 999));
	EXPECT_EQ(fs.task_cpu_ns(100, 101), 0u);
}

TEST(ProcFsScan, MissingRootGivesEmptySnapshot)
{
	ProcFs fs("/nonexistent/proc");
	EXPECT_TRUE(fs.scan().tasks.empty());
	EXPECT_FALSE(fs.read_file("sched_offline"));
}

TEST(ProcFsScan, LiveProcFindsOurselves)
{
	ProcFs fs("/proc");
	Snapshot s = fs.scan_process(getpid());
	ASSERT_FALSE(s.processes.empty());
	EXPECT_EQ(s.processes[0].tgid, getpid());
	EXPECT_GE(s.tasks[0].policy, 0);
}
