// SPDX-License-Identifier: GPL-2.0
/*
 * The sched_offline:sched_offline_migrate tracepoint: every move of an
 * offline task by the offline balancer is recorded, with its reason, and
 * the records agree with the pulls/pushes/moves counters of
 * /proc/sched_offline over the same interval.
 */
#include <sys/mount.h>
#include <sys/stat.h>
#include "offline_util.h"
#include "kselftest_harness.h"

#define TRACING		"/sys/kernel/tracing"
#define EVENT		TRACING "/events/sched_offline/sched_offline_migrate"

static bool tracefs_ready(void)
{
	if (!access(TRACING "/trace", F_OK))
		return true;
	mkdir(TRACING, 0755);
	return !mount("nodev", TRACING, "tracefs", 0, NULL) &&
	       !access(TRACING "/trace", F_OK);
}

static long migrations(void)
{
	return offline_stat(-1, "pulls") + offline_stat(-1, "pushes") +
	       offline_stat(-1, "moves");
}

/* Count lines of the trace buffer that contain @what */
static int count_in_trace(const char *what)
{
	char line[512];
	int n = 0;
	FILE *f = fopen(TRACING "/trace", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strstr(line, what))
			n++;
	fclose(f);
	return n;
}

TEST(every_balancer_move_is_traced)
{
	int n = nr_cpus(), nr = 2 * n, i, events, pulls, others;
	pid_t pids[64];
	long m0, m1;

	if (!sched_offline_expected())
		SKIP(return, "kernel built without SCHED_OFFLINE");
	if (!tracefs_ready())
		SKIP(return, "no tracefs");
	ASSERT_EQ(0, access(EVENT "/enable", W_OK));
	ASSERT_GE(64, nr);
	pin_to_cpu(0, 0);

	ASSERT_EQ(0, write_file(TRACING "/tracing_on", "0"));
	ASSERT_EQ(0, write_file(TRACING "/trace", ""));
	ASSERT_EQ(0, write_file(EVENT "/enable", "1"));

	/* Hogs queued on CPU 0, then free to spread: pulls and pushes */
	for (i = 0; i < nr; i++)
		pids[i] = spawn_hog(0, SCHED_OFFLINE, 0);
	sleep_ns(50000000);
	m0 = migrations();
	ASSERT_EQ(0, write_file(TRACING "/tracing_on", "1"));
	for (i = 0; i < nr; i++)
		ASSERT_EQ(0, unpin(pids[i]));
	sleep_ns(500000000);
	/* Stopped tasks do not move: counters and trace end together */
	for (i = 0; i < nr; i++)
		kill(pids[i], SIGSTOP);
	sleep_ns(20000000);
	ASSERT_EQ(0, write_file(TRACING "/tracing_on", "0"));
	m1 = migrations();
	kill_all(pids, nr);

	events = count_in_trace("sched_offline_migrate:");
	pulls = count_in_trace("reason=pull");
	others = count_in_trace("reason=push") + count_in_trace("reason=move");
	write_file(EVENT "/enable", "0");
	write_file(TRACING "/tracing_on", "1");

	TH_LOG("%d hogs let loose from CPU 0: %ld migrations counted, %d traced (%d pulls, %d pushes/moves)",
	       nr, m1 - m0, events, pulls, others);
	/* The hogs had to leave CPU 0 for the others: something moved */
	EXPECT_LE(n - 1, events);
	/* Each record names a reason, and records match the counters */
	EXPECT_EQ(events, pulls + others);
	EXPECT_EQ(m1 - m0, events);
}

TEST_HARNESS_MAIN
