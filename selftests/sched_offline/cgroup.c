// SPDX-License-Identifier: GPL-2.0
/*
 * cgroup v2 cpu.offline: 1 makes the offline class the effective class of
 * the fair tasks of a group and of its descendant groups, while their own
 * policy (SCHED_OTHER here) stays and sched_getscheduler() reports it.
 *
 * The class is not visible from user space, so it is observed two ways:
 *  - behaviour: a task pinned beside a SCHED_OTHER hog of the root group
 *    gets ~0 of the CPU when it is offline and about half of it when it is
 *    fair; "share" below is always the task's CPU time over its own plus
 *    the hog's, so it is 50% for a fair task whatever else runs there;
 *  - /proc/sched_offline's nr_offline (queued and running offline tasks)
 *    of that CPU, or summed over every CPU.
 *
 * Cases: bad values are refused and keep the old one; a task attached to
 * an offline group goes offline and comes back with 0 or a move to the
 * root; offline group tasks fill idle CPUs; the setting is inherited by
 * child groups (created after the write), by tasks attached to them, by
 * children forked inside and by tasks already there when it is written;
 * the group's cpu.stat counts what its offline task runs.
 *
 * Every case builds its groups under a directory of its own, and its
 * teardown moves the tasks back to the root group, kills them and removes
 * the groups, also after a failed ASSERT. Skipped where the kernel has no
 * cpu.offline.
 */
#include <poll.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include "offline_util.h"
#include "kselftest_harness.h"

#define CG_ROOT		"/sys/fs/cgroup"
#define TEST_CPU	1		/* where hogs and measured tasks run */
#define SETTLE_NS	100000000ull	/* after each change, before a window */
#define WINDOW_NS	1000000000ull
#define SHORT_NS	500000000ull
#define MAX_PIDS	16
#define MAX_GROUPS	8
#define OFF_MAX		0.02		/* share of an offline task beside a hog */
#define FAIR_MIN	0.30		/* ... of a fair one */
#define FAIR_MAX	0.70

FIXTURE(offline_cg) {
	char top[128];			/* this case's directory */
	char groups[MAX_GROUPS][256];	/* created, in order (top first) */
	int nr_groups;
	pid_t pids[MAX_PIDS];		/* our children */
	int nr_pids;
	pid_t orphans[MAX_PIDS];	/* their children (we are subreaper) */
	int nr_orphans;
	bool added_cpu, added_cpuset;	/* to root's subtree_control by us */
};

/* write() of @len bytes of @val to @dir/@file: 0 or the errno */
static int cg_write_len(const char *dir, const char *file, const char *val,
			size_t len)
{
	char path[320];
	ssize_t n;
	int fd, err = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	fd = open(path, O_WRONLY);
	if (fd < 0)
		return errno;
	n = write(fd, val, len);
	if (n < 0)
		err = errno;
	else if ((size_t)n != len)
		err = EIO;
	close(fd);
	return err;
}

static int cg_write(const char *dir, const char *file, const char *val)
{
	return cg_write_len(dir, file, val, strlen(val));
}

/* @dir/@file as a number; -1 if unreadable */
static long long cg_read_ll(const char *dir, const char *file)
{
	char path[320], buf[64];

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	if (read_file(path, buf, sizeof(buf)) || !buf[0])
		return -1;
	return atoll(buf);
}

/* The value of the line "@key N" of @dir/@file (cpu.stat); -1 if absent */
static long long cg_stat(const char *dir, const char *file, const char *key)
{
	char path[320], buf[4096], *line, *save = NULL;
	size_t klen = strlen(key);

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	if (read_file(path, buf, sizeof(buf)))
		return -1;
	for (line = strtok_r(buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save))
		if (!strncmp(line, key, klen) && line[klen] == ' ')
			return atoll(line + klen + 1);
	return -1;
}

static int cg_attach(const char *dir, pid_t pid)
{
	char val[32];

	snprintf(val, sizeof(val), "%d", pid);
	return cg_write(dir, "cgroup.procs", val);
}

/* Whether @ctl is listed in @dir/@file (cgroup.controllers and the like) */
static bool cg_has(const char *dir, const char *file, const char *ctl)
{
	char path[320], buf[512], *tok, *save = NULL;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	if (read_file(path, buf, sizeof(buf)))
		return false;
	for (tok = strtok_r(buf, " \n", &save); tok; tok = strtok_r(NULL, " \n", &save))
		if (!strcmp(tok, ctl))
			return true;
	return false;
}

/* mkdir @parent/@name, remembered for the teardown; path into @out */
static int cg_mkdir(FIXTURE_DATA(offline_cg) *self, const char *parent,
		    const char *name, char *out, size_t len)
{
	char path[256];

	if (self->nr_groups >= MAX_GROUPS)
		return E2BIG;
	snprintf(path, sizeof(path), "%s/%s", parent, name);
	if (mkdir(path, 0755))
		return errno;
	snprintf(self->groups[self->nr_groups++], sizeof(self->groups[0]), "%s", path);
	if (out)
		snprintf(out, len, "%s", path);
	return 0;
}

/* rmdir, again while the killed tasks finish their exit (EBUSY) */
static void cg_rmdir(const char *path)
{
	uint64_t end = now_ns() + 5000000000ull;

	while (rmdir(path) && errno == EBUSY && now_ns() < end)
		sleep_ns(10000000);
}

static void cg_cleanup(FIXTURE_DATA(offline_cg) *self)
{
	int i;

	for (i = 0; i < self->nr_orphans; i++)
		cg_attach(CG_ROOT, self->orphans[i]);
	for (i = 0; i < self->nr_pids; i++)
		cg_attach(CG_ROOT, self->pids[i]);
	for (i = 0; i < self->nr_orphans; i++)
		kill(self->orphans[i], SIGKILL);
	kill_all(self->pids, self->nr_pids);
	/* Their parents are reaped: the orphans are ours now */
	for (i = 0; i < self->nr_orphans; i++)
		waitpid(self->orphans[i], NULL, 0);
	self->nr_pids = self->nr_orphans = 0;

	for (i = self->nr_groups - 1; i >= 0; i--) {
		cg_write(self->groups[i], "cpu.offline", "0");
		cg_rmdir(self->groups[i]);
	}
	self->nr_groups = 0;
	/* Best effort: busy while another group still uses them */
	if (self->added_cpuset)
		cg_write(CG_ROOT, "cgroup.subtree_control", "-cpuset");
	if (self->added_cpu)
		cg_write(CG_ROOT, "cgroup.subtree_control", "-cpu");
	self->added_cpu = self->added_cpuset = false;
}

FIXTURE_SETUP(offline_cg)
{
	char path[256];
	int err;

	if (!sched_offline_expected())
		SKIP(return, "kernel built without SCHED_OFFLINE");
	ASSERT_LE(2, nr_cpus());
	/* Orphaned grandchildren are reparented to us, to be reaped */
	ASSERT_EQ(0, prctl(PR_SET_CHILD_SUBREAPER, 1));
	ASSERT_EQ(0, pin_to_cpu(0, 0));

	if (access(CG_ROOT "/cgroup.controllers", F_OK)) {
		mkdir(CG_ROOT, 0755);
		ASSERT_EQ(0, mount("none", CG_ROOT, "cgroup2", 0, NULL))
			TH_LOG("mount cgroup2: %s", strerror(errno));
	}
	if (!cg_has(CG_ROOT, "cgroup.controllers", "cpu"))
		SKIP(return, "no cpu controller in " CG_ROOT);
	if (!cg_has(CG_ROOT, "cgroup.subtree_control", "cpu")) {
		ASSERT_EQ(0, cg_write(CG_ROOT, "cgroup.subtree_control", "+cpu"));
		self->added_cpu = true;
	}
	if (cg_has(CG_ROOT, "cgroup.controllers", "cpuset") &&
	    !cg_has(CG_ROOT, "cgroup.subtree_control", "cpuset"))
		self->added_cpuset =
			!cg_write(CG_ROOT, "cgroup.subtree_control", "+cpuset");

	snprintf(path, sizeof(path), "offline-cgroup-%d", getpid());
	err = cg_mkdir(self, CG_ROOT, path, self->top, sizeof(self->top));
	if (err) {
		cg_cleanup(self);
		ASSERT_EQ(0, err) TH_LOG("mkdir %s/%s: %s", CG_ROOT, path, strerror(err));
	}
	snprintf(path, sizeof(path), "%s/cpu.offline", self->top);
	if (access(path, F_OK)) {
		cg_cleanup(self);
		SKIP(return, "no cpu.offline in cgroup v2 (kernel without the knob)");
	}
	err = cg_write(self->top, "cgroup.subtree_control", "+cpu");
	if (err) {
		cg_cleanup(self);
		ASSERT_EQ(0, err) TH_LOG("+cpu in %s: %s", self->top, strerror(err));
	}
}

FIXTURE_TEARDOWN(offline_cg)
{
	cg_cleanup(self);
}

static pid_t track(FIXTURE_DATA(offline_cg) *self, pid_t pid)
{
	if (pid > 0 && self->nr_pids < MAX_PIDS)
		self->pids[self->nr_pids++] = pid;
	return pid;
}

/* A SCHED_OTHER spinner, forked here (root group), pinned to @cpu if >= 0 */
static pid_t spinner(FIXTURE_DATA(offline_cg) *self, int cpu)
{
	return track(self, spawn_hog(cpu, SCHED_OTHER, 0));
}

/* Move @pid into @cg and pin it (again: a cpuset move may reset affinity) */
static int attach_pinned(const char *cg, pid_t pid, int cpu)
{
	int err = cg_attach(cg, pid);

	if (!err && cpu >= 0 && pin_to_cpu(pid, cpu))
		err = errno;
	return err;
}

/*
 * A child that waits on a pipe and, for each byte, forks a SCHED_OTHER
 * spinner and writes its pid back; it runs on @cpu. Its children die with
 * it (PR_SET_PDEATHSIG).
 */
struct forker {
	pid_t pid;
	int cmd;	/* we write */
	int res;	/* we read */
};

static int spawn_forker(FIXTURE_DATA(offline_cg) *self, int cpu, struct forker *f)
{
	int cmd[2], res[2];
	pid_t pid;

	if (pipe(cmd))
		return -1;
	if (pipe(res)) {
		close(cmd[0]);
		close(cmd[1]);
		return -1;
	}
	pid = fork();
	if (pid == 0) {
		char c;

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		close(cmd[1]);
		close(res[0]);
		if (pin_to_cpu(0, cpu))
			_exit(2);
		while (read(cmd[0], &c, 1) == 1) {
			pid_t q = fork();

			if (q == 0) {
				volatile unsigned long spin = 0;

				prctl(PR_SET_PDEATHSIG, SIGKILL);
				close(cmd[0]);
				close(res[1]);
				for (;;)
					spin++;
			}
			if (write(res[1], &q, sizeof(q)) != sizeof(q))
				_exit(3);
		}
		_exit(0);
	}
	close(cmd[0]);
	close(res[1]);
	if (pid < 0) {
		close(cmd[1]);
		close(res[0]);
		return -1;
	}
	track(self, pid);
	*f = (struct forker){ .pid = pid, .cmd = cmd[1], .res = res[0] };
	return 0;
}

/* Have @f fork a spinner; its pid, or -1 */
static pid_t forker_fork(FIXTURE_DATA(offline_cg) *self, struct forker *f)
{
	struct pollfd pfd = { .fd = f->res, .events = POLLIN };
	pid_t q = -1;

	if (write(f->cmd, "f", 1) != 1)
		return -1;
	if (poll(&pfd, 1, 10000) != 1 ||
	    read(f->res, &q, sizeof(q)) != sizeof(q) || q <= 0)
		return -1;
	if (self->nr_orphans < MAX_PIDS)
		self->orphans[self->nr_orphans++] = q;
	return q;
}

/* What @task got of the CPU it shares with @hog; -1 if neither ran */
static double share(uint64_t task, uint64_t hog)
{
	return task + hog ? (double)task / (task + hog) : -1;
}

/*
 * Shares beside @hog (pids[0]) of pids[1..n-1] over @ns into @s; false
 * (logged) if the CPU was not mostly busy with them, so shares mean little
 */
static bool shares(struct __test_metadata *_metadata, const char *what,
		   const pid_t *pids, int n, uint64_t ns, double *s)
{
	uint64_t d[MAX_PIDS], wall, sum = 0;
	int i;

	wall = measure_runtimes(pids, n, d, ns);
	for (i = 0; i < n; i++)
		sum += d[i];
	for (i = 1; i < n; i++) {
		s[i] = share(d[i], d[0]);
		TH_LOG("%s: task %d got %.2f%% beside the hog (%.1f ms, hog %.1f ms, CPU busy %.0f%% of %.0f ms)",
		       what, pids[i], 100 * s[i], d[i] / 1e6, d[0] / 1e6,
		       100.0 * sum / wall, wall / 1e6);
	}
	return sum > wall / 2;
}

TEST_F_TIMEOUT(offline_cg, bad_values, 60)
{
	/* An empty write() writes nothing and returns 0 before any handler */
	static const char *const bad[] = { "2", "-1", "abc", " ", "4294967297" };
	char g[256];
	unsigned int i, round;

	/* Not on the root group */
	EXPECT_NE(0, access(CG_ROOT "/cpu.offline", F_OK));

	ASSERT_EQ(0, cg_mkdir(self, self->top, "g", g, sizeof(g)));
	EXPECT_EQ(0, cg_read_ll(g, "cpu.offline"));

	for (round = 0; round < 2; round++) {
		/* Round 0 keeps 1 through the bad writes, round 1 keeps 0 */
		long long want = round == 0;

		ASSERT_EQ(0, cg_write(g, "cpu.offline", want ? "1" : "0"));
		ASSERT_EQ(want, cg_read_ll(g, "cpu.offline"));
		for (i = 0; i < ARRAY_SIZE(bad); i++) {
			EXPECT_EQ(EINVAL, cg_write_len(g, "cpu.offline", bad[i],
						       strlen(bad[i])))
				TH_LOG("value '%s'", bad[i]);
			EXPECT_EQ(want, cg_read_ll(g, "cpu.offline"))
				TH_LOG("after '%s'", bad[i]);
		}
	}
	/* What a shell writes */
	EXPECT_EQ(0, cg_write(g, "cpu.offline", "1\n"));
	EXPECT_EQ(1, cg_read_ll(g, "cpu.offline"));
	EXPECT_EQ(0, cg_write(g, "cpu.offline", "0\n"));
	EXPECT_EQ(0, cg_read_ll(g, "cpu.offline"));
	/* The parent's own value is untouched */
	EXPECT_EQ(0, cg_read_ll(self->top, "cpu.offline"));
}

TEST_F_TIMEOUT(offline_cg, effective_class, 60)
{
	char g[256];
	pid_t p[2];	/* hog, spinner */
	double s[2];
	bool busy;

	ASSERT_EQ(0, cg_mkdir(self, self->top, "g", g, sizeof(g)));
	ASSERT_EQ(0, cg_write(g, "cpu.offline", "1"));

	p[1] = spinner(self, TEST_CPU);
	ASSERT_LT(0, p[1]);
	sleep_ns(20000000);
	ASSERT_FALSE(child_failed(p[1]));
	ASSERT_EQ(0, attach_pinned(g, p[1], TEST_CPU));
	p[0] = spinner(self, TEST_CPU);
	ASSERT_LT(0, p[0]);
	ASSERT_EQ(0, attach_pinned(CG_ROOT, p[0], TEST_CPU));
	sleep_ns(SETTLE_NS);

	/* Offline by its group: nothing beside an online hog */
	busy = shares(_metadata, "cpu.offline=1", p, 2, WINDOW_NS, s);
	EXPECT_TRUE(busy);
	EXPECT_LE(0, s[1]);
	EXPECT_GT(OFF_MAX, s[1]);
	EXPECT_EQ(SCHED_OTHER, sched_getscheduler(p[1]));
	EXPECT_LE(1, offline_stat(TEST_CPU, "nr_offline"));
	EXPECT_EQ(1, cg_read_ll(g, "cpu.offline"));

	/* 0: its own class, a fair share */
	ASSERT_EQ(0, cg_write(g, "cpu.offline", "0"));
	sleep_ns(SETTLE_NS);
	busy = shares(_metadata, "cpu.offline=0", p, 2, WINDOW_NS, s);
	EXPECT_TRUE(busy);
	EXPECT_LE(FAIR_MIN, s[1]);
	EXPECT_GE(FAIR_MAX, s[1]);
	EXPECT_EQ(0, offline_stat(TEST_CPU, "nr_offline"));
	EXPECT_EQ(SCHED_OTHER, sched_getscheduler(p[1]));

	/* 1 again, then out of the group: its own class again */
	ASSERT_EQ(0, cg_write(g, "cpu.offline", "1"));
	sleep_ns(SETTLE_NS);
	busy = shares(_metadata, "cpu.offline=1 again", p, 2, SHORT_NS, s);
	EXPECT_GT(OFF_MAX, s[1]);
	EXPECT_LE(1, offline_stat(TEST_CPU, "nr_offline"));

	ASSERT_EQ(0, attach_pinned(CG_ROOT, p[1], TEST_CPU));
	sleep_ns(SETTLE_NS);
	busy = shares(_metadata, "moved to the root group", p, 2, WINDOW_NS, s);
	EXPECT_TRUE(busy);
	EXPECT_LE(FAIR_MIN, s[1]);
	EXPECT_GE(FAIR_MAX, s[1]);
	EXPECT_EQ(0, offline_stat(TEST_CPU, "nr_offline"));
	EXPECT_EQ(SCHED_OTHER, sched_getscheduler(p[1]));
	/* The group keeps its setting */
	EXPECT_EQ(1, cg_read_ll(g, "cpu.offline"));

	EXPECT_FALSE(child_failed(p[0]));
	EXPECT_FALSE(child_failed(p[1]));
}

#define NR_FILL 3

/*
 * Which policies follow the group: SCHED_BATCH and SCHED_IDLE tasks run
 * offline like SCHED_OTHER ones; a SCHED_FIFO task keeps its class (it
 * asked for a guarantee) and still takes the CPU from a fair hog.
 */
TEST_F_TIMEOUT(offline_cg, policies, 60)
{
	static const struct {
		int policy, prio;
		bool offline;
		const char *name;
	} cases[] = {
		{ 3 /* SCHED_BATCH */, 0, true, "SCHED_BATCH" },
		{ SCHED_IDLE, 0, true, "SCHED_IDLE" },
		{ SCHED_FIFO, 1, false, "SCHED_FIFO" },
	};
	char g[256];
	unsigned int i;

	ASSERT_EQ(0, cg_mkdir(self, self->top, "g", g, sizeof(g)));
	ASSERT_EQ(0, cg_write(g, "cpu.offline", "1"));
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		pid_t p[2];	/* hog, task */
		double s[2];

		p[0] = spinner(self, TEST_CPU);
		p[1] = spinner(self, TEST_CPU);
		ASSERT_LT(0, p[0]);
		ASSERT_LT(0, p[1]);
		ASSERT_EQ(0, attach_pinned(CG_ROOT, p[0], TEST_CPU));
		ASSERT_EQ(0, set_policy_full(p[1], cases[i].policy, 0,
					     cases[i].prio, 0));
		ASSERT_EQ(0, attach_pinned(g, p[1], TEST_CPU));
		sleep_ns(SETTLE_NS);
		EXPECT_TRUE(shares(_metadata, cases[i].name, p, 2, SHORT_NS, s));
		EXPECT_EQ(cases[i].policy, sched_getscheduler(p[1]));
		if (cases[i].offline) {
			EXPECT_GT(OFF_MAX, s[1]) TH_LOG("%s", cases[i].name);
		} else {
			EXPECT_LT(0.8, s[1]) TH_LOG("%s", cases[i].name);
		}
		kill_all(p, 2);
	}
}

TEST_F_TIMEOUT(offline_cg, fills_idle, 60)
{
	uint64_t before[NR_FILL], d[NR_FILL], t0, wall;
	int n = nr_cpus(), nr = n > NR_FILL ? NR_FILL : n - 1, i, good = 0;
	long long nr_off, min_off = -1, max_off = -1;
	pid_t p[NR_FILL];
	char g[256];

	ASSERT_EQ(0, cg_mkdir(self, self->top, "g", g, sizeof(g)));
	/* Unpinned: the test itself stays on CPU 0 and mostly sleeps */
	for (i = 0; i < nr; i++) {
		p[i] = spinner(self, -1);
		ASSERT_LT(0, p[i]);
	}
	sleep_ns(20000000);
	for (i = 0; i < nr; i++) {
		ASSERT_FALSE(child_failed(p[i]));
		ASSERT_EQ(0, cg_attach(g, p[i]));
	}
	/* Written while they run: they switch now */
	ASSERT_EQ(0, cg_write(g, "cpu.offline", "1"));
	sleep_ns(3 * SETTLE_NS);

	for (i = 0; i < nr; i++)
		before[i] = task_runtime(p[i]);
	t0 = now_ns();
	for (int k = 0; k < 10; k++) {
		sleep_ns(WINDOW_NS / 10);
		nr_off = offline_stat(-1, "nr_offline");
		if (nr_off >= nr)
			good++;
		if (min_off < 0 || nr_off < min_off)
			min_off = nr_off;
		if (nr_off > max_off)
			max_off = nr_off;
	}
	for (i = 0; i < nr; i++)
		d[i] = task_runtime(p[i]) - before[i];
	wall = now_ns() - t0;

	TH_LOG("%d spinners of an offline group, no other load: nr_offline summed over CPUs %lld..%lld, %d of 10 samples >= %d",
	       nr, min_off, max_off, good, nr);
	for (i = 0; i < nr; i++) {
		TH_LOG("spinner %d: %.1f%% of a CPU, now on CPU %d, policy %d",
		       p[i], 100.0 * d[i] / wall, task_cpu(p[i]),
		       sched_getscheduler(p[i]));
		EXPECT_LT(wall / 2, d[i]);
		EXPECT_EQ(SCHED_OTHER, sched_getscheduler(p[i]));
		EXPECT_FALSE(child_failed(p[i]));
	}
	ASSERT_LE(0, max_off);
	/* Counted as offline tasks, in (nearly) every sample */
	EXPECT_LE(nr, max_off);
	EXPECT_LE(8, good);

	/* And not any more with 0 */
	ASSERT_EQ(0, cg_write(g, "cpu.offline", "0"));
	sleep_ns(SETTLE_NS);
	nr_off = offline_stat(-1, "nr_offline");
	TH_LOG("cpu.offline=0: nr_offline summed over CPUs %lld", nr_off);
	EXPECT_GT(nr, nr_off);
}

TEST_F_TIMEOUT(offline_cg, inheritance, 90)
{
	char g[256], c[256];
	int n = nr_cpus(), fork_cpu = n > 2 ? 2 : 0;
	struct forker f;
	pid_t p[3];	/* hog, attached to g/c, forked inside g/c */
	double s[3];
	bool busy;

	ASSERT_EQ(0, cg_mkdir(self, self->top, "g", g, sizeof(g)));
	ASSERT_EQ(0, cg_write(g, "cgroup.subtree_control", "+cpu"));
	ASSERT_EQ(0, cg_write(g, "cpu.offline", "1"));
	/* A child group made after the write: own value 0, offline in effect */
	ASSERT_EQ(0, cg_mkdir(self, g, "c", c, sizeof(c)));
	EXPECT_EQ(1, cg_read_ll(g, "cpu.offline"));
	EXPECT_EQ(0, cg_read_ll(c, "cpu.offline"));

	/* Attached after the write */
	p[1] = spinner(self, TEST_CPU);
	ASSERT_LT(0, p[1]);
	sleep_ns(20000000);
	ASSERT_FALSE(child_failed(p[1]));
	ASSERT_EQ(0, attach_pinned(c, p[1], TEST_CPU));

	/* Forked inside the subtree after the write, on an idle CPU, then moved */
	ASSERT_EQ(0, spawn_forker(self, fork_cpu, &f));
	sleep_ns(20000000);
	ASSERT_FALSE(child_failed(f.pid));
	ASSERT_EQ(0, attach_pinned(c, f.pid, fork_cpu));
	p[2] = forker_fork(self, &f);
	ASSERT_LT(0, p[2]);
	ASSERT_EQ(0, pin_to_cpu(p[2], TEST_CPU));
	EXPECT_EQ(SCHED_OTHER, sched_getscheduler(f.pid));

	p[0] = spinner(self, TEST_CPU);
	ASSERT_LT(0, p[0]);
	ASSERT_EQ(0, attach_pinned(CG_ROOT, p[0], TEST_CPU));
	sleep_ns(SETTLE_NS);

	busy = shares(_metadata, "g=1, in g/c", p, 3, SHORT_NS, s);
	EXPECT_TRUE(busy);
	EXPECT_LE(0, s[1]);
	EXPECT_GT(OFF_MAX, s[1]);
	EXPECT_LE(0, s[2]);
	EXPECT_GT(OFF_MAX, s[2]);
	EXPECT_EQ(SCHED_OTHER, sched_getscheduler(p[1]));
	EXPECT_EQ(SCHED_OTHER, sched_getscheduler(p[2]));
	EXPECT_LE(2, offline_stat(TEST_CPU, "nr_offline"));

	/* 0 on g: both back in their own class */
	ASSERT_EQ(0, cg_write(g, "cpu.offline", "0"));
	sleep_ns(SETTLE_NS);
	busy = shares(_metadata, "g=0", p, 3, SHORT_NS, s);
	EXPECT_TRUE(busy);
	/*
	 * Both tasks sit in one group that weighs as much as the hog: each
	 * gets a quarter of the CPU, a third of its own time plus the hog's.
	 */
	EXPECT_LE(FAIR_MIN * 2 / 3, s[1]);
	EXPECT_GE(FAIR_MAX, s[1]);
	EXPECT_LE(FAIR_MIN * 2 / 3, s[2]);
	EXPECT_GE(FAIR_MAX, s[2]);
	EXPECT_EQ(0, offline_stat(TEST_CPU, "nr_offline"));

	/* 1 on g while they run in g/c: existing tasks switch too */
	ASSERT_EQ(0, cg_write(g, "cpu.offline", "1"));
	sleep_ns(SETTLE_NS);
	busy = shares(_metadata, "g=1 again, tasks already in g/c", p, 3, SHORT_NS, s);
	EXPECT_TRUE(busy);
	EXPECT_GT(OFF_MAX, s[1]);
	EXPECT_GT(OFF_MAX, s[2]);
	EXPECT_LE(2, offline_stat(TEST_CPU, "nr_offline"));
	EXPECT_EQ(SCHED_OTHER, sched_getscheduler(p[1]));
	EXPECT_EQ(SCHED_OTHER, sched_getscheduler(p[2]));
	EXPECT_EQ(0, cg_read_ll(c, "cpu.offline"));

	EXPECT_FALSE(child_failed(p[0]));
	EXPECT_FALSE(child_failed(p[1]));
	EXPECT_FALSE(child_failed(f.pid));
	close(f.cmd);
	close(f.res);
}

TEST_F_TIMEOUT(offline_cg, cpu_stat, 60)
{
	long long u0, u1, r0, r1;
	uint64_t t0, wall, run, usage_ns, class_ns;
	char g[256];
	pid_t p;

	ASSERT_EQ(0, cg_mkdir(self, self->top, "g", g, sizeof(g)));
	ASSERT_EQ(0, cg_write(g, "cpu.offline", "1"));
	p = spinner(self, TEST_CPU);
	ASSERT_LT(0, p);
	sleep_ns(20000000);
	ASSERT_FALSE(child_failed(p));
	ASSERT_EQ(0, attach_pinned(g, p, TEST_CPU));
	sleep_ns(SETTLE_NS);

	u0 = cg_stat(g, "cpu.stat", "usage_usec");
	r0 = offline_stat(TEST_CPU, "offline_runtime_ns");
	run = task_runtime(p);
	t0 = now_ns();
	sleep_ns(WINDOW_NS);
	u1 = cg_stat(g, "cpu.stat", "usage_usec");
	r1 = offline_stat(TEST_CPU, "offline_runtime_ns");
	run = task_runtime(p) - run;
	wall = now_ns() - t0;
	ASSERT_LE(0, u0);
	ASSERT_LE(u0, u1);
	usage_ns = (u1 - u0) * 1000ull;
	class_ns = r0 >= 0 && r1 >= r0 ? r1 - r0 : 0;

	TH_LOG("offline spinner on an idle CPU over %.0f ms: ran %.1f ms, group usage_usec +%.1f ms, CPU %d offline_runtime_ns +%.1f ms",
	       wall / 1e6, run / 1e6, usage_ns / 1e6, TEST_CPU, class_ns / 1e6);
	/* It ran, in the offline class ... */
	EXPECT_LT(wall / 2, run);
	EXPECT_LE(1, offline_stat(TEST_CPU, "nr_offline"));
	EXPECT_LT(run * 8 / 10, class_ns);
	EXPECT_EQ(SCHED_OTHER, sched_getscheduler(p));
	/* ... and its group was charged for it */
	EXPECT_LT(run * 8 / 10, usage_ns);
	EXPECT_GT(run * 12 / 10, usage_ns);
	EXPECT_FALSE(child_failed(p));
}

TEST_HARNESS_MAIN
