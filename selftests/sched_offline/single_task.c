// SPDX-License-Identifier: GPL-2.0
/*
 * single_task_running() is KVM's "is anything else runnable here?": when
 * it says no, a halting vCPU stops polling and directed yield gives up.
 * Offline tasks yield to a vCPU thread at once, so to a task above
 * offline they are no other task; to an offline task they still are.
 * The kernel shows the answer for the reader's CPU in debugfs
 * (sched/offline_single_task), as no KVM runs in the test guest.
 */
#include <sys/mount.h>
#include "offline_util.h"
#include "kselftest_harness.h"

#define DEBUGFS		"/sys/kernel/debug"
#define SINGLE_FILE	DEBUGFS "/sched/offline_single_task"
#define TEST_CPU	1

static int single_task_once(void)
{
	char buf[8];

	if (read_file(SINGLE_FILE, buf, sizeof(buf)))
		return -1;
	return buf[0] == '1';
}

/*
 * The answer over 20 reads 5 ms apart: 1 if any read said 1. A kworker
 * or a timer softirq thread runnable on the CPU at one read makes that
 * read a true 0; a task that counts for good makes every read 0.
 */
static int single_task(void)
{
	int i, r, any = 0;

	for (i = 0; i < 20; i++) {
		r = single_task_once();
		if (r < 0)
			return r;
		any |= r;
		sleep_ns(5000000);
	}
	return any;
}

FIXTURE(single)
{
	pid_t hogs[3];
};

FIXTURE_SETUP(single)
{
	if (!sched_offline_expected())
		SKIP(return, "kernel built without SCHED_OFFLINE");
	if (access(DEBUGFS "/sched", F_OK))
		mount("none", DEBUGFS, "debugfs", 0, NULL);
	ASSERT_EQ(0, access(SINGLE_FILE, R_OK)) {
		TH_LOG("no %s: kernel without SCHED_DEBUG?", SINGLE_FILE);
	}
	ASSERT_LE(2, nr_cpus());
	ASSERT_EQ(0, pin_to_cpu(0, TEST_CPU));
	memset(self->hogs, 0, sizeof(self->hogs));
}

FIXTURE_TEARDOWN(single)
{
	kill_all(self->hogs, 3);
	set_policy(0, SCHED_OTHER);
}

/* A task above offline sees offline tasks queued beside it as no task */
TEST_F(single, offline_tasks_are_no_other_task)
{
	ASSERT_EQ(1, single_task());
	self->hogs[0] = spawn_hog(TEST_CPU, SCHED_OFFLINE, 0);
	self->hogs[1] = spawn_hog(TEST_CPU, SCHED_OFFLINE, 0);
	ASSERT_EQ(SCHED_OFFLINE, wait_for_policy(self->hogs[0], SCHED_OFFLINE, 1000000000ull));
	ASSERT_EQ(SCHED_OFFLINE, wait_for_policy(self->hogs[1], SCHED_OFFLINE, 1000000000ull));
	sleep_ns(50000000);
	ASSERT_EQ(TEST_CPU, task_cpu(self->hogs[0]));
	ASSERT_EQ(TEST_CPU, task_cpu(self->hogs[1]));
	/* Queued behind this fair reader: halt polling may go on */
	EXPECT_EQ(1, single_task());
	/* A fair task is another task, whatever else is queued */
	self->hogs[2] = spawn_hog(TEST_CPU, SCHED_OTHER, 0);
	sleep_ns(50000000);
	EXPECT_EQ(0, single_task());
}

/* To an offline task, another offline task is another task */
TEST_F(single, offline_reader_counts_offline_tasks)
{
	self->hogs[0] = spawn_hog(TEST_CPU, SCHED_OFFLINE, 0);
	ASSERT_EQ(SCHED_OFFLINE, wait_for_policy(self->hogs[0], SCHED_OFFLINE, 1000000000ull));
	ASSERT_EQ(0, set_policy(0, SCHED_OFFLINE));
	sleep_ns(50000000);
	EXPECT_EQ(0, single_task());
}

TEST_HARNESS_MAIN
