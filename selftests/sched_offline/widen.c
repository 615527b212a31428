// SPDX-License-Identifier: GPL-2.0
/*
 * Offline tasks that wait on a CPU held by online work must move once
 * they are allowed elsewhere, in whatever order the policy, the affinity
 * and the cpuset change: `taskset` on a running batch job, a cpuset that
 * grows, an agent that moves a job between cgroups. An online hog runs
 * on CPU 0; offline spinners start confined to CPU 0, then get every CPU.
 * They must fill the idle CPUs, as they do when they had every CPU from
 * the start.
 */
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include "offline_util.h"
#include "kselftest_harness.h"

#define CG_ROOT		"/sys/fs/cgroup"
#define CG		CG_ROOT "/offline-widen"
#define SETTLE_NS	200000000ull
#define WINDOW_NS	2000000000ull
#define MAX_TASKS	63
/* Of an idle CPU's time, what the offline tasks must fill together */
#define FILL_MIN	0.80
/* ... and what each must get of its fair share at least */
#define EACH_MIN	0.50

enum widen_order {
	POLICY_THEN_AFFINITY,	/* offline, pinned to CPU 0, then widened */
	AFFINITY_THEN_POLICY,	/* pinned, widened, then offline */
	CPUSET_GROWS,		/* offline in a cpuset of CPU 0 that grows */
	GROUP_OFFLINE_CPUSET,	/* cpu.offline group, cpuset grows */
	CGROUP_MOVE,		/* offline in a CPU 0 cpuset, moved out */
};

FIXTURE(widen)
{
	int n, nr;
	pid_t online;
	pid_t off[MAX_TASKS];
	bool cg;
};

FIXTURE_VARIANT(widen)
{
	enum widen_order order;
};

FIXTURE_VARIANT_ADD(widen, policy_then_affinity)
{
	.order = POLICY_THEN_AFFINITY,
};

FIXTURE_VARIANT_ADD(widen, affinity_then_policy)
{
	.order = AFFINITY_THEN_POLICY,
};

FIXTURE_VARIANT_ADD(widen, cpuset_grows)
{
	.order = CPUSET_GROWS,
};

FIXTURE_VARIANT_ADD(widen, group_offline_cpuset_grows)
{
	.order = GROUP_OFFLINE_CPUSET,
};

FIXTURE_VARIANT_ADD(widen, cgroup_move)
{
	.order = CGROUP_MOVE,
};

static int cg_file(const char *file, const char *val)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", CG, file);
	return write_file(path, val);
}

static int cg_attach(const char *dir, pid_t pid)
{
	char path[256], val[32];

	snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	snprintf(val, sizeof(val), "%d", pid);
	return write_file(path, val);
}

static bool cg_setup(void)
{
	if (access(CG_ROOT "/cgroup.controllers", F_OK)) {
		mkdir(CG_ROOT, 0755);
		if (mount("none", CG_ROOT, "cgroup2", 0, NULL))
			return false;
	}
	write_file(CG_ROOT "/cgroup.subtree_control", "+cpu +cpuset");
	mkdir(CG, 0755);
	/* A run killed midway may have left the group behind */
	cg_file("cpu.offline", "0");
	return !cg_file("cpuset.cpus", "0");
}

/*
 * A spinner confined to CPU 0, by its affinity or by joining the test's
 * cpuset (@cg), then made offline (@offline). It confines itself before
 * the parent goes on, so no step of the parent's can race with its own;
 * the parent sets the policy, as an offline child beside the online hog
 * could not tell it is ready.
 */
static pid_t spawn_confined(bool cg, bool offline)
{
	int fd[2];
	char c = 0;
	pid_t pid;

	if (pipe(fd))
		return -1;
	pid = fork();
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		close(fd[0]);
		/* In a cpuset, ask for every CPU: the cpuset alone confines */
		if (cg ? unpin(0) || write_file(CG "/cgroup.procs", "0") :
			 pin_to_cpu(0, 0))
			_exit(2);
		if (write(fd[1], &c, 1) != 1)
			_exit(4);
		for (;;)
			;
	}
	close(fd[1]);
	if (pid > 0 && read(fd[0], &c, 1) != 1) {
		waitpid(pid, NULL, 0);
		pid = -1;
	}
	close(fd[0]);
	if (pid > 0 && offline && set_policy(pid, SCHED_OFFLINE)) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		pid = -1;
	}
	return pid;
}

FIXTURE_SETUP(widen)
{
	int i;

	if (!sched_offline_expected())
		SKIP(return, "kernel built without SCHED_OFFLINE");
	self->n = nr_cpus();
	ASSERT_LE(2, self->n);
	ASSERT_GE(MAX_TASKS + 1, self->n);
	/* One spinner per CPU the online hog leaves idle */
	self->nr = self->n - 1;

	self->online = spawn_hog(0, SCHED_OTHER, 0);
	ASSERT_LT(0, self->online);
	if (variant->order >= CPUSET_GROWS) {
		ASSERT_TRUE(cg_setup());
		self->cg = true;
	}

	for (i = 0; i < self->nr; i++) {
		self->off[i] = spawn_confined(self->cg,
					      variant->order != AFFINITY_THEN_POLICY &&
					      variant->order != GROUP_OFFLINE_CPUSET);
		ASSERT_LT(0, self->off[i]);
	}
	/* After they joined: offline members could not say they are ready */
	if (variant->order == GROUP_OFFLINE_CPUSET) {
		ASSERT_EQ(0, cg_file("cpu.offline", "1"));
	}
	/* Long enough for the balancer to give up on them (pinned) */
	sleep_ns(SETTLE_NS);
	for (i = 0; i < self->nr; i++)
		EXPECT_EQ(0, task_cpu(self->off[i]));
}

FIXTURE_TEARDOWN(widen)
{
	kill_all(self->off, self->nr);
	kill_all(&self->online, 1);
	if (self->cg)
		rmdir(CG);
}

TEST_F(widen, offline_tasks_leave_the_busy_cpu)
{
	uint64_t delta[MAX_TASKS], wall, sum = 0, least = ~0ull;
	char cpus[16];
	int i;

	snprintf(cpus, sizeof(cpus), "0-%d", self->n - 1);
	for (i = 0; i < self->nr; i++) {
		switch (variant->order) {
		case POLICY_THEN_AFFINITY:
			ASSERT_EQ(0, unpin(self->off[i]));
			break;
		case AFFINITY_THEN_POLICY:
			ASSERT_EQ(0, unpin(self->off[i]));
			ASSERT_EQ(0, set_policy(self->off[i], SCHED_OFFLINE));
			break;
		case CGROUP_MOVE:
			ASSERT_EQ(0, cg_attach(CG_ROOT, self->off[i]));
			break;
		default:
			break;
		}
	}
	if (variant->order == CPUSET_GROWS ||
	    variant->order == GROUP_OFFLINE_CPUSET) {
		ASSERT_EQ(0, cg_file("cpuset.cpus", cpus));
	}

	sleep_ns(SETTLE_NS);
	wall = measure_runtimes(self->off, self->nr, delta, WINDOW_NS);
	for (i = 0; i < self->nr; i++) {
		sum += delta[i];
		if (delta[i] < least)
			least = delta[i];
		TH_LOG("offline spinner %d on CPU %d: %.1f%% of a CPU", i,
		       task_cpu(self->off[i]), 100.0 * delta[i] / wall);
	}
	TH_LOG("together %.1f%% of the %d idle CPUs' time", 100.0 * sum /
	       (wall * self->nr), self->nr);
	EXPECT_LT(FILL_MIN * wall * self->nr, sum);
	EXPECT_LT(EACH_MIN * wall, least);
	if (self->cg)
		for (i = 0; i < self->nr; i++)
			cg_attach(CG_ROOT, self->off[i]);
}

TEST_HARNESS_MAIN
