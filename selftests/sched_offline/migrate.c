// SPDX-License-Identifier: GPL-2.0
/*
 * Offline tasks that are queued (waiting behind online work) or running
 * through affinity changes, cpuset changes, cgroup moves, CPU hot-unplug
 * and exit. Each case checks that the tasks keep running where they may
 * and nowhere else; the runner fails on any kernel splat.
 */
#include <sys/mount.h>
#include <sys/stat.h>
#include "offline_util.h"
#include "kselftest_harness.h"

/*
 * Did @pid get more than 2% of a CPU over @ns? A queued offline task may
 * get a starvation-guard burst (<= 0.2% of a CPU, and only until it
 * reaches user space), which is not running.
 */
static bool runs(pid_t pid, uint64_t ns)
{
	uint64_t before = task_runtime(pid);

	sleep_ns(ns);
	return task_runtime(pid) - before > ns / 50;
}

TEST(affinity_change_while_queued)
{
	int n = nr_cpus(), i;
	pid_t online, off[4];

	if (!sched_offline_expected())
		SKIP(return, "kernel built without SCHED_OFFLINE");
	ASSERT_LE(2, n);
	pin_to_cpu(0, 0);

	/* Queued behind an online hog on the last CPU */
	online = spawn_hog(n - 1, SCHED_OTHER, 0);
	for (i = 0; i < 4; i++)
		off[i] = spawn_hog(n - 1, SCHED_OFFLINE, 0);
	sleep_ns(100000000);
	for (i = 0; i < 4; i++)
		EXPECT_FALSE(runs(off[i], 50000000));

	/* Move them one by one to the other CPUs: now they run */
	for (i = 0; i < 4; i++) {
		ASSERT_EQ(0, pin_to_cpu(off[i], i % (n - 1)));
	}
	sleep_ns(100000000);
	for (i = 0; i < 4; i++) {
		EXPECT_TRUE(runs(off[i], 200000000));
		EXPECT_EQ(i % (n - 1), task_cpu(off[i]));
	}
	/* And back: they stop again */
	for (i = 0; i < 4; i++)
		ASSERT_EQ(0, pin_to_cpu(off[i], n - 1));
	sleep_ns(100000000);
	for (i = 0; i < 4; i++)
		EXPECT_EQ(n - 1, task_cpu(off[i]));
	EXPECT_TRUE(runs(online, 100000000));

	kill_all(off, 4);	/* exit while queued */
	kill_all(&online, 1);
}

TEST(exit_while_queued)
{
	int n = nr_cpus(), round, i;
	pid_t online, off[16];

	if (!sched_offline_expected())
		SKIP(return, "kernel built without SCHED_OFFLINE");
	pin_to_cpu(0, 0);
	online = spawn_hog(n - 1, SCHED_OTHER, 0);
	for (round = 0; round < 5; round++) {
		for (i = 0; i < 16; i++)
			off[i] = spawn_hog(i % 2 ? n - 1 : -1, SCHED_OFFLINE, i % 20);
		sleep_ns(20000000);
		kill_all(off, 16);
	}
	EXPECT_FALSE(child_failed(online));
	kill_all(&online, 1);
}

static const char *cg_root = "/sys/fs/cgroup";

static int cg_setup(char *path, size_t len, const char *name)
{
	char buf[256];

	if (access("/sys/fs/cgroup/cgroup.controllers", F_OK)) {
		mkdir("/sys/fs/cgroup", 0755);
		if (mount("none", "/sys/fs/cgroup", "cgroup2", 0, NULL))
			return -1;
	}
	snprintf(buf, sizeof(buf), "%s/cgroup.subtree_control", cg_root);
	write_file(buf, "+cpu +cpuset");
	snprintf(path, len, "%s/%s", cg_root, name);
	mkdir(path, 0755);
	return access(path, F_OK);
}

static int cg_attach(const char *cg, pid_t pid)
{
	char buf[300], val[32];

	snprintf(buf, sizeof(buf), "%s/cgroup.procs", cg);
	snprintf(val, sizeof(val), "%d", pid);
	return write_file(buf, val);
}

TEST(cpuset_and_cgroup_moves)
{
	char a[256], b[256], buf[300], cpus[16];
	int n = nr_cpus(), i, j;
	pid_t off[4];

	if (!sched_offline_expected())
		SKIP(return, "kernel built without SCHED_OFFLINE");
	ASSERT_LE(2, n);
	ASSERT_EQ(0, cg_setup(a, sizeof(a), "offline-test-a"));
	ASSERT_EQ(0, cg_setup(b, sizeof(b), "offline-test-b"));

	snprintf(buf, sizeof(buf), "%s/cpuset.cpus", a);
	ASSERT_EQ(0, write_file(buf, "0"));
	snprintf(cpus, sizeof(cpus), "1-%d", n - 1);
	snprintf(buf, sizeof(buf), "%s/cpuset.cpus", b);
	ASSERT_EQ(0, write_file(buf, cpus));

	for (i = 0; i < 4; i++)
		off[i] = spawn_hog(-1, SCHED_OFFLINE, 0);
	for (j = 0; j < 6; j++) {
		const char *cg = j % 2 ? b : a;

		for (i = 0; i < 4; i++)
			ASSERT_EQ(0, cg_attach(cg, off[i]));
		sleep_ns(100000000);
		for (i = 0; i < 4; i++) {
			int cpu = task_cpu(off[i]);

			EXPECT_TRUE(j % 2 ? cpu >= 1 : cpu == 0);
			EXPECT_EQ(SCHED_OFFLINE, sched_getscheduler(off[i]));
		}
	}
	/* Shrink the cpuset under them */
	snprintf(buf, sizeof(buf), "%s/cpuset.cpus", b);
	ASSERT_EQ(0, write_file(buf, "1"));
	sleep_ns(100000000);
	for (i = 0; i < 4; i++) {
		EXPECT_EQ(1, task_cpu(off[i]));
		EXPECT_TRUE(runs(off[i], 300000000));
	}
	for (i = 0; i < 4; i++)
		cg_attach(cg_root, off[i]);
	kill_all(off, 4);
	rmdir(a);
	rmdir(b);
}

static int cpu_online_set(int cpu, bool on)
{
	char path[64];

	snprintf(path, sizeof(path), "/sys/devices/system/cpu/cpu%d/online", cpu);
	return write_file(path, on ? "1" : "0");
}

TEST(cpu_hotplug_with_queued_offline_tasks)
{
	int n = nr_cpus(), cycle, i;
	int victim;
	pid_t online, off[6];

	if (!sched_offline_expected())
		SKIP(return, "kernel built without SCHED_OFFLINE");
	ASSERT_LE(3, n);
	victim = n - 1;
	pin_to_cpu(0, 0);

	/* Some offline tasks run on the victim, some wait behind online work */
	online = spawn_hog(victim, SCHED_OTHER, 0);
	for (i = 0; i < 6; i++)
		off[i] = spawn_hog(-1, SCHED_OFFLINE, 0);
	for (i = 0; i < 6; i++)
		pin_to_cpu(off[i], i % 2 ? victim : 1);

	for (cycle = 0; cycle < 3; cycle++) {
		sleep_ns(50000000);
		ASSERT_EQ(0, cpu_online_set(victim, false));
		sleep_ns(100000000);
		for (i = 0; i < 6; i++) {
			EXPECT_NE(victim, task_cpu(off[i]));
			EXPECT_FALSE(child_failed(off[i]));
		}
		ASSERT_EQ(0, cpu_online_set(victim, true));
		for (i = 0; i < 6; i++)
			pin_to_cpu(off[i], i % 2 ? victim : 1);
	}
	/* All of them still get CPU time somewhere once the online hog goes */
	kill_all(&online, 1);
	sleep_ns(50000000);
	for (i = 0; i < 6; i++)
		EXPECT_TRUE(runs(off[i], 400000000));
	kill_all(off, 6);
}

TEST_HARNESS_MAIN
