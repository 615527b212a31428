// SPDX-License-Identifier: GPL-2.0
/*
 * /proc/sys/kernel/sched_offline_loadavg: with 0, runnable offline tasks
 * stay out of /proc/loadavg; with 1 they count, as SCHED_IDLE tasks do.
 *
 * The kernel samples the load every 5 s into a 1-minute exponential
 * average, so each phase runs 11 s (two samples): 16 runnable tasks raise
 * the 1-minute figure by about 16 * (1 - e^(-10/60)) = 2.5 over that.
 * The hogs share one CPU so that the guest's other vCPUs stay idle.
 */
#include "offline_util.h"
#include "kselftest_harness.h"

#define SYSCTL		"/proc/sys/kernel/sched_offline_loadavg"
#define NR_HOGS		16
#define PHASE_NS	11000000000ull

static double loadavg1(void)
{
	char buf[128];

	if (read_file("/proc/loadavg", buf, sizeof(buf)))
		return -1;
	return atof(buf);
}

TEST(offline_tasks_in_loadavg_by_sysctl)
{
	int cpu = nr_cpus() - 1, i;
	double base, hidden, shown;
	pid_t pids[NR_HOGS];
	char old[16];

	if (!sched_offline_expected())
		SKIP(return, "kernel built without SCHED_OFFLINE");
	if (access(SYSCTL, F_OK))
		SKIP(return, "no %s", SYSCTL);
	ASSERT_EQ(0, read_file(SYSCTL, old, sizeof(old)));
	pin_to_cpu(0, 0);

	ASSERT_EQ(0, write_file(SYSCTL, "0"));
	base = loadavg1();
	for (i = 0; i < NR_HOGS; i++)
		pids[i] = spawn_hog(cpu, SCHED_OFFLINE, 0);
	sleep_ns(PHASE_NS);
	hidden = loadavg1();

	ASSERT_EQ(0, write_file(SYSCTL, "1"));
	sleep_ns(PHASE_NS);
	shown = loadavg1();
	for (i = 0; i < NR_HOGS; i++)
		EXPECT_FALSE(child_failed(pids[i]));
	kill_all(pids, NR_HOGS);
	write_file(SYSCTL, old);

	TH_LOG("1-min load: %.2f before, %.2f after 11 s of %d offline hogs hidden, %.2f after 11 s shown",
	       base, hidden, NR_HOGS, shown);
	/* Hidden: the test's own wakeups only */
	EXPECT_GT(base + 0.8, hidden);
	/* Shown: most of the expected 2.5 on top */
	EXPECT_LT(hidden + 1.5, shown);
}

TEST(bad_values_keep_the_old_one)
{
	static const char *const bad[] = { "2", "-1", "x", "4294967296" };
	char before[16], after[16];
	unsigned int i;

	if (access(SYSCTL, F_OK))
		SKIP(return, "no %s", SYSCTL);
	ASSERT_EQ(0, read_file(SYSCTL, before, sizeof(before)));
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		EXPECT_NE(0, write_file(SYSCTL, bad[i])) TH_LOG("value '%s'", bad[i]);
		ASSERT_EQ(0, read_file(SYSCTL, after, sizeof(after)));
		EXPECT_STREQ(before, after);
	}
}

TEST_HARNESS_MAIN
