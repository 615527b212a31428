// SPDX-License-Identifier: GPL-2.0
/*
 * The SCHED_OFFLINE system call interface: policy set/get, argument
 * validation, priority range, and who may enter or leave the class.
 * On a kernel built without CONFIG_SCHED_OFFLINE (booted with
 * sched_offline_expect=0) the policy must be refused with EINVAL.
 */
#include "offline_util.h"
#include "kselftest_harness.h"

#define NOBODY 65534

/* Run @fn in a child as an unprivileged user; returns its exit status */
static int as_nobody(int (*fn)(void *), void *arg, rlim_t rlim_nice)
{
	struct rlimit rl = { rlim_nice, rlim_nice };
	int status;
	pid_t pid = fork();

	if (pid == 0) {
		if (setrlimit(RLIMIT_NICE, &rl))
			_exit(100);
		if (setresgid(NOBODY, NOBODY, NOBODY) ||
		    setresuid(NOBODY, NOBODY, NOBODY))
			_exit(101);
		_exit(fn(arg));
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

TEST(feature_presence)
{
	if (sched_offline_expected()) {
		ASSERT_TRUE(sched_offline_present());
	} else {
		ASSERT_FALSE(sched_offline_present());
		/* The kernel without the class refuses the policy */
		ASSERT_EQ(-1, set_policy(0, SCHED_OFFLINE));
		ASSERT_EQ(EINVAL, errno);
		ASSERT_EQ(-1, sched_get_priority_max(SCHED_OFFLINE));
		ASSERT_EQ(EINVAL, errno);
		ASSERT_EQ(SCHED_OTHER, sched_getscheduler(0));
	}
}

TEST(set_and_get)
{
	struct offline_sched_attr attr;
	struct sched_param sp = { 0 };

	if (!sched_offline_expected())
		SKIP(return, "kernel built without SCHED_OFFLINE");

	ASSERT_EQ(0, setpriority(PRIO_PROCESS, 0, 3));
	ASSERT_EQ(0, set_policy(0, SCHED_OFFLINE));
	ASSERT_EQ(SCHED_OFFLINE, sched_getscheduler(0));
	ASSERT_EQ(0, get_attr(0, &attr));
	EXPECT_EQ(SCHED_OFFLINE, attr.sched_policy);
	EXPECT_EQ(3, attr.sched_nice);
	EXPECT_EQ(0, attr.sched_priority);

	/* sched_nice sets the weight inside the class */
	ASSERT_EQ(0, set_policy_full(0, SCHED_OFFLINE, 7, 0, 0));
	EXPECT_EQ(7, getpriority(PRIO_PROCESS, 0));
	ASSERT_EQ(SCHED_OFFLINE, sched_getscheduler(0));

	/* The legacy call works too, and keeps nice */
	ASSERT_EQ(0, sched_setscheduler(0, SCHED_OTHER, &sp));
	ASSERT_EQ(0, sched_setscheduler(0, SCHED_OFFLINE, &sp));
	EXPECT_EQ(SCHED_OFFLINE, sched_getscheduler(0));
	EXPECT_EQ(7, getpriority(PRIO_PROCESS, 0));

	ASSERT_EQ(0, set_policy_full(0, SCHED_OTHER, 0, 0, 0));
	EXPECT_EQ(SCHED_OTHER, sched_getscheduler(0));
}

/* /proc/<pid>/sched shows the policy */
TEST(proc_pid_sched_policy)
{
	char buf[8192], *p;

	if (!sched_offline_expected())
		SKIP(return, "kernel built without SCHED_OFFLINE");

	ASSERT_EQ(0, set_policy(0, SCHED_OFFLINE));
	ASSERT_EQ(0, read_file("/proc/self/sched", buf, sizeof(buf)));
	ASSERT_EQ(0, set_policy(0, SCHED_OTHER));
	p = strstr(buf, "policy");
	ASSERT_NE(NULL, p);
	p = strchr(p, ':');
	ASSERT_NE(NULL, p);
	EXPECT_EQ(SCHED_OFFLINE, atoi(p + 1));
}

TEST(bad_arguments)
{
	int before;

	if (!sched_offline_expected())
		SKIP(return, "kernel built without SCHED_OFFLINE");

	before = sched_getscheduler(0);
	/* A priority is for RT policies only */
	ASSERT_EQ(-1, set_policy_full(0, SCHED_OFFLINE, 0, 1, 0));
	EXPECT_EQ(EINVAL, errno);
	/* Unknown flags */
	ASSERT_EQ(-1, set_policy_full(0, SCHED_OFFLINE, 0, 0, 1ull << 40));
	EXPECT_EQ(EINVAL, errno);
	/* The neighbouring unused policy number stays invalid */
	ASSERT_EQ(-1, set_policy_full(0, 9, 0, 0, 0));
	EXPECT_EQ(EINVAL, errno);
	/* Nothing changed */
	EXPECT_EQ(before, sched_getscheduler(0));
}

TEST(priority_range)
{
	if (!sched_offline_expected())
		SKIP(return, "kernel built without SCHED_OFFLINE");

	EXPECT_EQ(0, sched_get_priority_min(SCHED_OFFLINE));
	EXPECT_EQ(0, sched_get_priority_max(SCHED_OFFLINE));
}

static int enter_offline(void *arg)
{
	if (set_policy(0, SCHED_OFFLINE))
		return 10;
	if (sched_getscheduler(0) != SCHED_OFFLINE)
		return 11;
	return 0;
}

TEST(unprivileged_enter)
{
	if (!sched_offline_expected())
		SKIP(return, "kernel built without SCHED_OFFLINE");

	EXPECT_EQ(0, as_nobody(enter_offline, NULL, 0));
}

static int leave_offline(void *arg)
{
	if (set_policy(0, SCHED_OFFLINE))
		return 10;
	if (set_policy(0, SCHED_OTHER) == 0)
		return 0;
	return errno == EPERM ? 1 : 12;
}

/* Leaving is a raise: RLIMIT_NICE must allow the task's nice value */
TEST(unprivileged_leave_needs_rlimit)
{
	if (!sched_offline_expected())
		SKIP(return, "kernel built without SCHED_OFFLINE");

	/* nice 0 needs RLIMIT_NICE >= 20 */
	EXPECT_EQ(1, as_nobody(leave_offline, NULL, 0));
	EXPECT_EQ(0, as_nobody(leave_offline, NULL, 20));
}

static int lower_nice_offline(void *arg)
{
	if (set_policy_full(0, SCHED_OFFLINE, 5, 0, 0))
		return 10;
	if (set_policy_full(0, SCHED_OFFLINE, 0, 0, 0) == 0)
		return 0;
	return errno == EPERM ? 1 : 12;
}

TEST(unprivileged_nice_reduction_checked)
{
	if (!sched_offline_expected())
		SKIP(return, "kernel built without SCHED_OFFLINE");

	EXPECT_EQ(1, as_nobody(lower_nice_offline, NULL, 0));
	EXPECT_EQ(0, as_nobody(lower_nice_offline, NULL, 20));
}

static int touch_other(void *arg)
{
	pid_t victim = *(pid_t *)arg;

	if (set_policy_full(victim, SCHED_OFFLINE, 0, 0, 0) == 0)
		return 0;
	return errno == EPERM ? 1 : 12;
}

TEST(other_users_task)
{
	pid_t victim;

	if (!sched_offline_expected())
		SKIP(return, "kernel built without SCHED_OFFLINE");

	victim = fork();
	ASSERT_LE(0, victim);
	if (victim == 0) {
		pause();
		_exit(0);
	}
	EXPECT_EQ(1, as_nobody(touch_other, &victim, 20));
	EXPECT_EQ(SCHED_OTHER, sched_getscheduler(victim));
	kill(victim, SIGKILL);
	waitpid(victim, NULL, 0);
}

TEST(kernel_thread_refused)
{
	char comm[64] = "";

	if (!sched_offline_expected())
		SKIP(return, "kernel built without SCHED_OFFLINE");

	/* PID 2 is kthreadd */
	ASSERT_EQ(0, read_file("/proc/2/comm", comm, sizeof(comm)));
	ASSERT_EQ(0, strncmp(comm, "kthreadd", 8));
	ASSERT_EQ(-1, set_policy_full(2, SCHED_OFFLINE, 0, 0, 0));
	EXPECT_EQ(EPERM, errno);
	EXPECT_EQ(SCHED_OTHER, sched_getscheduler(2));
}

TEST(sysctl_range_checked)
{
	const char *path = "/proc/sys/kernel/sched_offline_slice_us";
	char before[32], after[32];

	if (!sched_offline_expected())
		SKIP(return, "kernel built without SCHED_OFFLINE");

	ASSERT_EQ(0, read_file(path, before, sizeof(before)));
	EXPECT_EQ(-1, write_file(path, "0"));
	EXPECT_EQ(-1, write_file(path, "99"));
	EXPECT_EQ(-1, write_file(path, "1000001"));
	EXPECT_EQ(-1, write_file(path, "abc"));
	ASSERT_EQ(0, read_file(path, after, sizeof(after)));
	EXPECT_STREQ(before, after);
	ASSERT_EQ(0, write_file(path, "2000"));
	ASSERT_EQ(0, read_file(path, after, sizeof(after)));
	EXPECT_EQ(2000, atoi(after));
	ASSERT_EQ(0, write_file(path, before));
}

TEST(proc_sched_offline_format)
{
	char buf[16384], *line, *save = NULL;
	int lines = 0;

	if (!sched_offline_expected())
		SKIP(return, "kernel built without SCHED_OFFLINE");

	ASSERT_EQ(0, read_file("/proc/sched_offline", buf, sizeof(buf)));
	line = strtok_r(buf, "\n", &save);
	ASSERT_NE(NULL, line);
	EXPECT_EQ(0, strncmp(line, "cpu online_avg_pct capacity nr_offline", 38));
	while ((line = strtok_r(NULL, "\n", &save)))
		lines++;
	EXPECT_EQ(nr_cpus(), lines);
}

TEST_HARNESS_MAIN
