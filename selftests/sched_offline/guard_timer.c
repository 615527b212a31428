// SPDX-License-Identifier: GPL-2.0
/*
 * The starvation guard waits as a deferred deadline server: what offline
 * tasks get on their own is charged to it, and a charge that uses up its
 * runtime pushes it a period further, cancelling and re-arming its
 * hrtimer. The guard's runtime (period / 512) is far below a tick, so an
 * offline task that runs on its own must not re-arm the timer at every
 * tick. Count the deadline timer starts (hrtimer_start of dl_task_timer)
 * on a CPU that runs one offline hog, against the same CPU running one
 * fair hog (the fair server's own re-arms), in one boot.
 */
#include <sys/mount.h>
#include "offline_util.h"
#include "kselftest_harness.h"

#define TRACEFS		"/sys/kernel/tracing"
#define WINDOW_NS	1000000000ull
#define TEST_CPU	1

/* hrtimer_start events of deadline timers on @cpu in the trace buffer */
static long dl_timer_starts(int cpu)
{
	char path[128], line[512];
	long n = 0;
	FILE *f;

	snprintf(path, sizeof(path), TRACEFS "/per_cpu/cpu%d/trace", cpu);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strstr(line, "hrtimer_start:") &&
		    strstr(line, "function=dl_task_timer"))
			n++;
	fclose(f);
	return n;
}

/* Timer starts on TEST_CPU over WINDOW_NS while a @policy hog runs there */
static long count_with_hog(int policy)
{
	pid_t hog = spawn_hog(TEST_CPU, policy, 0);
	long n;

	if (hog < 0)
		return -1;
	sleep_ns(200000000);
	write_file(TRACEFS "/trace", "");
	write_file(TRACEFS "/tracing_on", "1");
	sleep_ns(WINDOW_NS);
	write_file(TRACEFS "/tracing_on", "0");
	n = dl_timer_starts(TEST_CPU);
	kill_all(&hog, 1);
	return n;
}

TEST(guard_timer_not_rearmed_per_tick)
{
	long offline, fair;
	char starve[32];

	if (!sched_offline_expected())
		SKIP(return, "kernel built without SCHED_OFFLINE");
	if (access(TRACEFS "/events", F_OK))
		mount("nodev", TRACEFS, "tracefs", 0, NULL);
	ASSERT_EQ(0, access(TRACEFS "/events/timer/hrtimer_start/enable", W_OK));
	ASSERT_EQ(0, read_file("/proc/sys/kernel/sched_offline_starve_ms",
			       starve, sizeof(starve)));
	ASSERT_NE('0', starve[0]);
	/* The test process stays off TEST_CPU */
	ASSERT_EQ(0, pin_to_cpu(0, 0));

	write_file(TRACEFS "/tracing_on", "0");
	write_file(TRACEFS "/buffer_size_kb", "1024");
	ASSERT_EQ(0, write_file(TRACEFS "/events/timer/hrtimer_start/enable", "1"));
	fair = count_with_hog(SCHED_OTHER);
	offline = count_with_hog(SCHED_OFFLINE);
	write_file(TRACEFS "/events/timer/hrtimer_start/enable", "0");
	write_file(TRACEFS "/trace", "");

	TH_LOG("deadline timer starts in 1 s on CPU %d: %ld beside a fair hog (fair server), %ld beside an offline hog (guard)",
	       TEST_CPU, fair, offline);
	ASSERT_LE(0, fair);
	ASSERT_LE(0, offline);
	/* The guard's bookkeeping costs about what the fair server's does */
	EXPECT_GE(3 * fair + 10, offline);
}

TEST_HARNESS_MAIN
