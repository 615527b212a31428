// SPDX-License-Identifier: GPL-2.0
/*
 * Full dynticks: a nohz_full CPU stops its tick while it runs one task,
 * but offline tasks that share a CPU take turns at the tick. Two offline
 * hogs on a nohz_full CPU must split it, as two SCHED_OTHER hogs do,
 * instead of the first one keeping it until something else happens to
 * interrupt it.
 *
 * Needs CONFIG_NO_HZ_FULL and nohz_full= on the command line (make
 * test-full's guest-nohz stage); skips otherwise.
 */
#include "offline_util.h"
#include "kselftest_harness.h"

#define NOHZ_FULL	"/sys/devices/system/cpu/nohz_full"
#define STARVE		"/proc/sys/kernel/sched_offline_starve_ms"
#define WINDOW_NS	2000000000ull
#define NR_WINDOWS	20

/* The last CPU of the nohz_full list, -1 if there is none */
static int last_nohz_cpu(void)
{
	char buf[256], *p;
	int cpu = -1;

	if (read_file(NOHZ_FULL, buf, sizeof(buf)))
		return -1;
	for (p = buf; *p; p++) {
		if (*p >= '0' && *p <= '9') {
			cpu = strtol(p, &p, 10);
			if (!*p)
				break;
		}
	}
	return cpu;
}

/*
 * In how many of NR_WINDOWS short windows both of two hogs of @policy on
 * @cpu got at least a fifth of their time. Short: a nohz_full CPU still
 * gets a remote tick once a second, which alone would even out a 1 s
 * window while each 100 ms belongs to one hog.
 */
static int shared_windows(struct __test_metadata *_metadata, int cpu, int policy)
{
	uint64_t a0, b0, a, b;
	int i, shared = 0;
	pid_t pids[2];

	pids[0] = spawn_hog(cpu, policy, 0);
	pids[1] = spawn_hog(cpu, policy, 0);
	EXPECT_LT(0, pids[0]);
	EXPECT_LT(0, pids[1]);
	sleep_ns(WINDOW_NS / 5);
	for (i = 0; i < NR_WINDOWS; i++) {
		a0 = task_runtime(pids[0]);
		b0 = task_runtime(pids[1]);
		sleep_ns(WINDOW_NS / NR_WINDOWS);
		a = task_runtime(pids[0]) - a0;
		b = task_runtime(pids[1]) - b0;
		if (a + b && 5 * a >= a + b && 5 * b >= a + b)
			shared++;
	}
	EXPECT_FALSE(child_failed(pids[0]));
	EXPECT_FALSE(child_failed(pids[1]));
	kill_all(pids, 2);
	TH_LOG("policy %d on nohz_full CPU %d: both ran in %d of %d windows of %llu ms",
	       policy, cpu, shared, NR_WINDOWS,
	       (unsigned long long)(WINDOW_NS / NR_WINDOWS / 1000000));
	return shared;
}

TEST(offline_tasks_share_a_nohz_full_cpu)
{
	int cpu = last_nohz_cpu();
	char old[16] = "";
	int fair, offline;

	if (!sched_offline_expected())
		SKIP(return, "kernel built without SCHED_OFFLINE");
	if (cpu < 1)
		SKIP(return, "no nohz_full CPU (CONFIG_NO_HZ_FULL and nohz_full=)");
	pin_to_cpu(0, 0);

	/* Only the tick may end a slice: no guard timer in between */
	if (!read_file(STARVE, old, sizeof(old)))
		ASSERT_EQ(0, write_file(STARVE, "0"));
	fair = shared_windows(_metadata, cpu, SCHED_OTHER);
	offline = shared_windows(_metadata, cpu, SCHED_OFFLINE);
	if (old[0])
		write_file(STARVE, old);
	/* The setup is sound: fair hogs take turns there */
	EXPECT_LE(NR_WINDOWS * 8 / 10, fair);
	EXPECT_LE(NR_WINDOWS * 8 / 10, offline);
}

TEST_HARNESS_MAIN
