// SPDX-License-Identifier: GPL-2.0
/*
 * Core scheduling (CONFIG_SCHED_CORE, prctl(PR_SCHED_CORE)) with the offline
 * class, in a guest with SMT siblings (scripts/vmtest --smt):
 *  - SCHED_OFFLINE tasks can get, share and keep core-scheduling cookies
 *    (PR_SCHED_CORE_GET returns what CREATE / SHARE_TO / SHARE_FROM set,
 *    across policy changes and fork);
 *  - an online hog with cookie A on one thread of a core, an offline hog on
 *    the sibling: with another cookie (or none) the offline hog is forced
 *    idle while the core runs cookie A, and the online hog's CPU time is not
 *    reduced vs. alone; with cookie A too the offline hog runs on the
 *    sibling as if the online hog were not there;
 *  - two offline hogs with different cookies on the two siblings of a core
 *    (no online work): the core runs one cookie at a time, and the offline
 *    comparator (prio_less) lets both make progress.
 * Shares are ratios of schedstat runtimes measured in the same run.
 * SKIPs without CONFIG_SCHED_CORE (EINVAL) or SMT siblings (ENODEV).
 */
#include <sys/random.h>
#include "offline_util.h"
#include "kselftest_harness.h"

#ifndef PR_SCHED_CORE
#define PR_SCHED_CORE			62
#define PR_SCHED_CORE_GET		0
#define PR_SCHED_CORE_CREATE		1
#define PR_SCHED_CORE_SHARE_TO		2
#define PR_SCHED_CORE_SHARE_FROM	3
#endif
#define PIDTYPE_PID	0

#define WINDOW_NS	1000000000ull

static int core_get(pid_t pid, unsigned long *cookie)
{
	*cookie = 0;
	return prctl(PR_SCHED_CORE, PR_SCHED_CORE_GET, pid, PIDTYPE_PID,
		     (unsigned long)cookie);
}

/*
 * PR_SCHED_CORE_GET reports a cookie as a hash of its address, 0 until the
 * kernel's pointer-hash key is filled once the crng is ready, which takes a
 * while in a freshly booted guest: wait for the crng (getrandom() blocks
 * until then), then for @pid's cookie to read as non-zero; 0 on success.
 */
static int wait_cookie_id(pid_t pid, unsigned long *cookie)
{
	uint64_t end;
	char b;

	if (getrandom(&b, 1, 0) != 1)
		return -1;
	end = now_ns() + 2000000000ull;
	do {
		if (core_get(pid, cookie))
			return -1;
		if (*cookie)
			return 0;
		sleep_ns(10000000);
	} while (now_ns() < end);
	return -1;
}

static int core_create(pid_t pid)
{
	return prctl(PR_SCHED_CORE, PR_SCHED_CORE_CREATE, pid, PIDTYPE_PID, 0);
}

/* Give @to the cookie of @from, through a helper so the test stays clean */
static int core_copy(pid_t from, pid_t to)
{
	int status;
	pid_t pid = fork();

	if (pid == 0) {
		if (prctl(PR_SCHED_CORE, PR_SCHED_CORE_SHARE_FROM, from, PIDTYPE_PID, 0))
			_exit(1);
		if (prctl(PR_SCHED_CORE, PR_SCHED_CORE_SHARE_TO, to, PIDTYPE_PID, 0))
			_exit(2);
		_exit(0);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status) ? -1 : 0;
}

/* First CPU of each thread_siblings_list of @cpu and its first sibling */
static int siblings_of(int cpu, int *a, int *b)
{
	char path[96], buf[64], *p;

	snprintf(path, sizeof(path),
		 "/sys/devices/system/cpu/cpu%d/topology/thread_siblings_list", cpu);
	if (read_file(path, buf, sizeof(buf)))
		return -1;
	*a = strtol(buf, &p, 10);
	if (*p != ',' && *p != '-')
		return -1;	/* one thread per core */
	*b = strtol(p + 1, NULL, 10);
	return 0;
}

/*
 * Skip reason, or NULL when the kernel does core scheduling here: creating
 * a cookie for a throw-away child says EINVAL without CONFIG_SCHED_CORE and
 * ENODEV without SMT.
 */
static const char *core_sched_missing(void)
{
	static char why[128];
	int a, b, err = 0;
	pid_t child;

	if (!sched_offline_expected())
		return "kernel built without SCHED_OFFLINE";
	if (siblings_of(0, &a, &b))
		return "no SMT siblings for cpu0 (boot the guest with --smt)";
	child = fork();
	if (child == 0) {
		pause();
		_exit(0);
	}
	if (core_create(child))
		err = errno;
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	if (err == EINVAL || err == ENODEV) {
		snprintf(why, sizeof(why), "PR_SCHED_CORE_CREATE: %s (%s)", strerror(err),
			 err == EINVAL ? "no CONFIG_SCHED_CORE" : "no SMT");
		return why;
	}
	return NULL;
}

/* A core (two sibling CPUs) away from cpu0, where the test itself runs */
static int pick_core(int *x, int *y)
{
	int n = nr_cpus(), c0a, c0b, cpu;

	if (siblings_of(0, &c0a, &c0b))
		return -1;
	for (cpu = 1; cpu < n; cpu++) {
		if (cpu == c0a || cpu == c0b)
			continue;
		if (siblings_of(cpu, x, y))
			return -1;
		return 0;
	}
	return -1;
}

static void measure(pid_t *pids, int n, uint64_t *delta, uint64_t *wall)
{
	uint64_t before[8], t0;
	int i;

	for (i = 0; i < n; i++)
		before[i] = task_runtime(pids[i]);
	t0 = now_ns();
	sleep_ns(WINDOW_NS);
	for (i = 0; i < n; i++)
		delta[i] = task_runtime(pids[i]) - before[i];
	*wall = now_ns() - t0;
}

TEST(offline_tasks_get_and_share_cookies)
{
	unsigned long c1, c2, c3;
	const char *why = core_sched_missing();
	pid_t a, b;

	if (why)
		SKIP(return, "%s", why);

	a = spawn_hog(-1, SCHED_OFFLINE, 5);
	b = spawn_hog(-1, SCHED_OFFLINE, 0);
	ASSERT_LT(0, a);
	ASSERT_LT(0, b);
	/* The children set their own policy: give them the time to run */
	ASSERT_EQ(SCHED_OFFLINE, wait_for_policy(a, SCHED_OFFLINE, 2000000000ull));
	ASSERT_EQ(SCHED_OFFLINE, wait_for_policy(b, SCHED_OFFLINE, 2000000000ull));
	ASSERT_FALSE(child_failed(a));
	ASSERT_FALSE(child_failed(b));

	ASSERT_EQ(0, core_get(a, &c1));
	EXPECT_EQ(0, c1);
	ASSERT_EQ(0, core_create(a)) TH_LOG("CREATE for an offline task: %s",
					    strerror(errno));
	ASSERT_EQ(0, wait_cookie_id(a, &c1)) TH_LOG("GET: no cookie id after CREATE");
	EXPECT_NE(0, c1);
	ASSERT_EQ(SCHED_OFFLINE, sched_getscheduler(a));

	/* Shared to another offline task: the same cookie */
	ASSERT_EQ(0, core_copy(a, b));
	ASSERT_EQ(0, core_get(b, &c2));
	EXPECT_EQ(c1, c2);

	/* Policy changes keep the cookie */
	ASSERT_EQ(0, set_policy(b, SCHED_OTHER));
	ASSERT_EQ(0, core_get(b, &c3));
	EXPECT_EQ(c1, c3);
	ASSERT_EQ(0, set_policy(b, SCHED_OFFLINE));
	ASSERT_EQ(0, core_get(b, &c3));
	EXPECT_EQ(c1, c3);

	/* A new cookie for b differs from a's */
	ASSERT_EQ(0, core_create(b));
	ASSERT_EQ(0, core_get(b, &c3));
	EXPECT_NE(0, c3);
	EXPECT_NE(c1, c3);
	EXPECT_EQ(SCHED_OFFLINE, sched_getscheduler(b));

	kill_all(&a, 1);
	kill_all(&b, 1);
}

/* An offline task with a cookie forks: the child keeps policy and cookie */
TEST(offline_fork_inherits_cookie)
{
	const char *why = core_sched_missing();
	unsigned long mine, child_cookie;
	int status;
	pid_t pid;

	if (why)
		SKIP(return, "%s", why);

	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		pid_t c;

		if (set_policy(0, SCHED_OFFLINE))
			_exit(1);
		if (core_create(0) || wait_cookie_id(0, &mine))
			_exit(2);
		c = fork();
		if (c == 0) {
			if (sched_getscheduler(0) != SCHED_OFFLINE)
				_exit(1);
			if (core_get(0, &child_cookie) || child_cookie != mine)
				_exit(1);
			_exit(0);
		}
		if (c < 0 || waitpid(c, &status, 0) != c || !WIFEXITED(status) ||
		    WEXITSTATUS(status))
			_exit(3);
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
}

/*
 * Online hog with cookie A on thread x of a core; offline hog on sibling y
 * with: another cookie, no cookie, cookie A.
 */
TEST(offline_sibling_of_cookied_online_task)
{
	const char *why = core_sched_missing();
	uint64_t d[2], wall, alone, off_alone;
	double on_alone, on_other, on_none, on_same, off_other, off_none, off_same;
	int x, y;
	pid_t on, off, pids[2];

	if (why)
		SKIP(return, "%s", why);
	if (pick_core(&x, &y))
		SKIP(return, "no second core: needs 2 cores with 2 threads (--smt, smp >= 4)");
	pin_to_cpu(0, 0);
	TH_LOG("core of cpu%d and cpu%d, test on cpu0", x, y);

	on = spawn_hog(x, SCHED_OTHER, 0);
	ASSERT_LT(0, on);
	sleep_ns(50000000);
	ASSERT_EQ(0, core_create(on));

	/* The online hog alone */
	pids[0] = on;
	measure(pids, 1, d, &wall);
	alone = d[0];
	on_alone = (double)alone / wall;

	/* An offline hog with its own cookie on the sibling: forced idle */
	off = spawn_hog(y, SCHED_OFFLINE, 0);
	ASSERT_LT(0, off);
	ASSERT_EQ(SCHED_OFFLINE, wait_for_policy(off, SCHED_OFFLINE, 2000000000ull));
	ASSERT_EQ(0, core_create(off));
	sleep_ns(100000000);
	pids[1] = off;
	measure(pids, 2, d, &wall);
	on_other = (double)d[0] / wall;
	off_other = (double)d[1] / wall;

	/* Without a cookie: forced idle as well */
	kill_all(&off, 1);
	off = spawn_hog(y, SCHED_OFFLINE, 0);
	ASSERT_LT(0, off);
	ASSERT_EQ(SCHED_OFFLINE, wait_for_policy(off, SCHED_OFFLINE, 2000000000ull));
	sleep_ns(100000000);
	pids[1] = off;
	measure(pids, 2, d, &wall);
	on_none = (double)d[0] / wall;
	off_none = (double)d[1] / wall;

	/* With the online hog's cookie: it runs on the sibling */
	ASSERT_EQ(0, core_copy(on, off));
	sleep_ns(100000000);
	measure(pids, 2, d, &wall);
	on_same = (double)d[0] / wall;
	off_same = (double)d[1] / wall;

	/* The same offline hog alone, for its own baseline */
	kill_all(&on, 1);
	sleep_ns(50000000);
	measure(&off, 1, d, &wall);
	off_alone = d[0];
	kill_all(&off, 1);

	TH_LOG("online alone %.3f; beside offline with another cookie: online %.3f offline %.3f",
	       on_alone, on_other, off_other);
	TH_LOG("beside offline without cookie: online %.3f offline %.3f",
	       on_none, off_none);
	TH_LOG("beside offline with the same cookie: online %.3f offline %.3f; offline alone %.3f",
	       on_same, off_same, (double)off_alone / wall);

	ASSERT_LT(0.5, on_alone) TH_LOG("the online hog did not run: nothing measured");
	/* The online task keeps its CPU */
	EXPECT_LT(0.8 * on_alone, on_other);
	EXPECT_LT(0.8 * on_alone, on_none);
	EXPECT_LT(0.8 * on_alone, on_same);
	/* Offline with another cookie (or none): forced idle */
	EXPECT_GT(0.1 * on_alone, off_other);
	EXPECT_GT(0.1 * on_alone, off_none);
	/* Offline with the same cookie: runs as if alone */
	EXPECT_LT(0.6 * ((double)off_alone / wall), off_same);
}

/*
 * Hogs of @policy with cookies A and B on the two siblings @x, @y: their
 * CPU shares over one window
 */
static int cookie_pair(int policy, int x, int y, double *a, double *b)
{
	uint64_t d[2], wall;
	pid_t pids[2];
	int ret = -1;

	pids[0] = spawn_hog(x, policy, 0);
	pids[1] = spawn_hog(y, policy, 0);
	if (pids[0] < 0 || pids[1] < 0)
		goto out;
	if (wait_for_policy(pids[0], policy, 2000000000ull) != policy ||
	    wait_for_policy(pids[1], policy, 2000000000ull) != policy)
		goto out;
	if (core_create(pids[0]) || core_create(pids[1]))
		goto out;
	/*
	 * 300 ms: one make test run in ~55 saw two offline cookies overlap
	 * for half of the window (1.467 of a core); not reproduced in 44
	 * runs since (<= 1.265). If the overlap follows the cookie change,
	 * settling longer avoids it; if it lasts, the test still fails.
	 */
	sleep_ns(300000000);
	measure(pids, 2, d, &wall);
	*a = (double)d[0] / wall;
	*b = (double)d[1] / wall;
	ret = 0;
out:
	kill_all(pids, 2);
	return ret;
}

/*
 * Two hogs with different cookies on the siblings of one core, no other
 * work: the core runs one cookie at a time, so together they get about one
 * CPU (as much as the control, +0.25), and each gets at least 30% of it.
 * SCHED_OTHER hogs are the control, measured in the same run. The margin
 * is the window in which the sibling still runs the other cookie until it
 * takes the resched IPI: under single-threaded TCG that takes up to
 * milliseconds, and the control itself has read 0.99-1.15; offline pairs
 * read 1.08-1.20 (they flip once per 4 ms slice).
 */
TEST(offline_cookies_alternate_on_a_core)
{
	const char *why = core_sched_missing();
	double fa, fb, a, b;
	int x, y;

	if (why)
		SKIP(return, "%s", why);
	if (pick_core(&x, &y))
		SKIP(return, "no second core: needs 2 cores with 2 threads (--smt, smp >= 4)");
	pin_to_cpu(0, 0);

	ASSERT_EQ(0, cookie_pair(SCHED_OTHER, x, y, &fa, &fb));
	ASSERT_EQ(0, cookie_pair(SCHED_OFFLINE, x, y, &a, &b));
	TH_LOG("cookies A on cpu%d, B on cpu%d: SCHED_OTHER %.3f + %.3f = %.3f, "
	       "SCHED_OFFLINE %.3f + %.3f = %.3f", x, y, fa, fb, fa + fb, a, b, a + b);

	/* The control shows core scheduling at work */
	ASSERT_GT(1.4, fa + fb) TH_LOG("fair cookies share the core: no core scheduling here?");
	ASSERT_LT(0.5, fa + fb);
	/*
	 * One cookie at a time for offline tasks too: no more CPU in all than
	 * the control got (with a margin), else different cookies overlapped
	 */
	EXPECT_GT(fa + fb + 0.25, a + b)
		TH_LOG("different offline cookies ran on the core at once for %.0f%% of the time",
		       100 * (a + b - (fa + fb)));
	/* ... and both make progress (the offline prio_less comparator) */
	EXPECT_LT(0.3, a);
	EXPECT_LT(0.3, b);
}

TEST_HARNESS_MAIN
