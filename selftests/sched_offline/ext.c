// SPDX-License-Identifier: GPL-2.0
/*
 * sched_ext interplay: while a BPF scheduler runs every fair task
 * (scx_simple, switch-all mode), SCHED_OFFLINE tasks stay in the offline
 * class, below everything the BPF scheduler runs, and keep their policy.
 *
 * Needs a kernel with CONFIG_SCHED_CLASS_EXT and the scx_simple binary
 * from tools/sched_ext in the guest (make test-full's guest-ext stage puts
 * it there); skips otherwise.
 */
#include <sys/wait.h>
#include "offline_util.h"
#include "kselftest_harness.h"

#define SCX_STATE	"/sys/kernel/sched_ext/state"
#define SCX_SIMPLE	"/usr/bin/scx_simple"
#define WINDOW_NS	1000000000ull

static bool scx_state_is(const char *want, uint64_t wait_ns)
{
	uint64_t end = now_ns() + wait_ns;
	char buf[32];

	do {
		if (!read_file(SCX_STATE, buf, sizeof(buf)) &&
		    !strncmp(buf, want, strlen(want)))
			return true;
		sleep_ns(10000000);
	} while (now_ns() < end);
	return false;
}

/* Share of @a in the CPU time @a and @b got together over a window */
static double share_of(pid_t a, pid_t b)
{
	uint64_t a0 = task_runtime(a), b0 = task_runtime(b), da, db;

	sleep_ns(WINDOW_NS);
	da = task_runtime(a) - a0;
	db = task_runtime(b) - b0;
	return da + db ? (double)da / (da + db) : -1;
}

TEST(offline_stays_offline_under_scx)
{
	int cpu = nr_cpus() - 1;
	double off_share, off_share_after;
	pid_t scx, online, offline;
	int status;

	if (!sched_offline_expected())
		SKIP(return, "kernel built without SCHED_OFFLINE");
	if (access(SCX_STATE, F_OK))
		SKIP(return, "kernel built without SCHED_CLASS_EXT");
	if (access(SCX_SIMPLE, X_OK))
		SKIP(return, "no %s in the guest", SCX_SIMPLE);
	ASSERT_LT(1, nr_cpus());
	pin_to_cpu(0, 0);

	scx = fork();
	ASSERT_LE(0, scx);
	if (scx == 0) {
		int fd = open("/dev/null", O_WRONLY);

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(fd, 1);
		execl(SCX_SIMPLE, SCX_SIMPLE, (char *)NULL);
		_exit(127);
	}
	ASSERT_TRUE(scx_state_is("enabled", 10 * WINDOW_NS))
		TH_LOG("scx_simple did not enable");

	online = spawn_hog(cpu, SCHED_OTHER, 0);
	offline = spawn_hog(cpu, SCHED_OFFLINE, 0);
	ASSERT_LT(0, online);
	ASSERT_LT(0, offline);
	ASSERT_EQ(SCHED_OFFLINE, wait_for_policy(offline, SCHED_OFFLINE, WINDOW_NS));
	sleep_ns(WINDOW_NS / 5);
	off_share = share_of(offline, online);
	EXPECT_EQ(SCHED_OFFLINE, sched_getscheduler(offline));
	EXPECT_LE(1, offline_stat(cpu, "nr_offline"));

	/* Back to the fair class: the offline task is unchanged */
	kill(scx, SIGINT);
	EXPECT_EQ(scx, waitpid(scx, &status, 0));
	EXPECT_TRUE(scx_state_is("disabled", 10 * WINDOW_NS));
	sleep_ns(WINDOW_NS / 5);
	off_share_after = share_of(offline, online);
	EXPECT_EQ(SCHED_OFFLINE, sched_getscheduler(offline));

	EXPECT_FALSE(child_failed(online));
	EXPECT_FALSE(child_failed(offline));
	kill_all(&offline, 1);
	kill_all(&online, 1);

	TH_LOG("offline hog's share beside a SCHED_OTHER hog: %.2f%% under scx_simple, %.2f%% after",
	       100 * off_share, 100 * off_share_after);
	/* Beside a task of the BPF scheduler it gets what the guard gives */
	EXPECT_LE(0, off_share);
	EXPECT_GT(0.02, off_share);
	EXPECT_LE(0, off_share_after);
	EXPECT_GT(0.02, off_share_after);
}

TEST_HARNESS_MAIN
