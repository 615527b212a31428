// SPDX-License-Identifier: GPL-2.0
/*
 * Fork inheritance of SCHED_OFFLINE, SCHED_RESET_ON_FORK (the child stays
 * offline, only a negative nice resets), and policy flapping between
 * SCHED_NORMAL and SCHED_OFFLINE under load for a fixed time.
 */
#include <pthread.h>
#include "offline_util.h"
#include "kselftest_harness.h"

/* Fork a child that reports its policy and nice through its exit status */
static int child_policy_nice(int *nice)
{
	int status;
	pid_t pid = fork();

	if (pid == 0) {
		int n = getpriority(PRIO_PROCESS, 0);

		/* Exit status: bit 7 = offline, low bits = nice + 20 */
		_exit((sched_getscheduler(0) == SCHED_OFFLINE ? 128 : 0) | (n + 20));
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	*nice = (WEXITSTATUS(status) & 127) - 20;
	return WEXITSTATUS(status) & 128 ? SCHED_OFFLINE : SCHED_OTHER;
}

TEST(fork_inherits)
{
	int nice;

	if (!sched_offline_expected())
		SKIP(return, "kernel built without SCHED_OFFLINE");

	ASSERT_EQ(0, set_policy_full(0, SCHED_OFFLINE, 4, 0, 0));
	EXPECT_EQ(SCHED_OFFLINE, child_policy_nice(&nice));
	EXPECT_EQ(4, nice);
	ASSERT_EQ(0, set_policy_full(0, SCHED_OTHER, 0, 0, 0));
}

TEST(reset_on_fork_keeps_offline)
{
	int nice;

	if (!sched_offline_expected())
		SKIP(return, "kernel built without SCHED_OFFLINE");

	/* A negative nice is reset, the class is kept */
	ASSERT_EQ(0, set_policy_full(0, SCHED_OFFLINE, -5, 0,
				     SCHED_FLAG_RESET_ON_FORK));
	EXPECT_EQ(SCHED_OFFLINE | SCHED_RESET_ON_FORK, sched_getscheduler(0));
	EXPECT_EQ(SCHED_OFFLINE, child_policy_nice(&nice));
	EXPECT_EQ(0, nice);

	/* A positive nice stays */
	ASSERT_EQ(0, set_policy_full(0, SCHED_OFFLINE, 6, 0,
				     SCHED_FLAG_RESET_ON_FORK));
	EXPECT_EQ(SCHED_OFFLINE, child_policy_nice(&nice));
	EXPECT_EQ(6, nice);

	ASSERT_EQ(0, set_policy_full(0, SCHED_OTHER, 0, 0, 0));
}

struct flapper {
	pid_t target;		/* 0: itself */
	uint64_t until;
	unsigned long flips;
	int error;
};

static void *flap(void *arg)
{
	struct flapper *f = arg;
	volatile unsigned long spin;

	while (now_ns() < f->until) {
		int policy = (f->flips & 1) ? SCHED_OTHER : SCHED_OFFLINE;

		if (set_policy_full(f->target, policy, f->flips % 10, 0, 0) &&
		    errno != ESRCH) {
			f->error = errno;
			break;
		}
		f->flips++;
		for (spin = 0; spin < 2000; spin++)
			;
	}
	return NULL;
}

/*
 * Threads flip themselves and CPU hogs between the classes while the
 * hogs run, for a fixed time. The runner fails the test on any splat.
 */
TEST(policy_flapping_under_load)
{
	int n = nr_cpus(), i;
	pid_t hogs[64];
	pthread_t th[64];
	struct flapper f[64];
	unsigned long total = 0;
	uint64_t until = now_ns() + 2000000000ull;

	if (!sched_offline_expected())
		SKIP(return, "kernel built without SCHED_OFFLINE");
	if (n > 32)
		n = 32;

	for (i = 0; i < n; i++)
		hogs[i] = spawn_hog(-1, SCHED_OTHER, 0);
	for (i = 0; i < 2 * n; i++) {
		f[i] = (struct flapper){ .until = until };
		if (i < n)
			f[i].target = hogs[i];
		ASSERT_EQ(0, pthread_create(&th[i], NULL, flap, &f[i]));
	}
	/*
	 * Join the threads that flip the hogs first: they stay online. The
	 * self-flippers may be offline behind online hogs until these die.
	 */
	for (i = 0; i < n; i++)
		pthread_join(th[i], NULL);
	for (i = 0; i < n; i++)
		EXPECT_FALSE(child_failed(hogs[i]));
	kill_all(hogs, n);
	for (i = n; i < 2 * n; i++)
		pthread_join(th[i], NULL);
	for (i = 0; i < 2 * n; i++) {
		EXPECT_EQ(0, f[i].error);
		total += f[i].flips;
	}
	TH_LOG("%lu policy changes in 2 s", total);
	/*
	 * The online threads that flip the hogs made progress. The
	 * self-flippers may starve while offline behind online hogs: that
	 * is the class working, so only their completion is checked.
	 */
	for (i = 0; i < n; i++)
		EXPECT_LT(10, f[i].flips);
	for (i = n; i < 2 * n; i++)
		EXPECT_LT(0, f[i].flips);
}

TEST_HARNESS_MAIN
