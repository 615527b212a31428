// SPDX-License-Identifier: GPL-2.0
/*
 * Time-bounded stress of the offline class: for OFFLINE_STRESS_SECS seconds
 * (default 10) these run at the same time, each in its own process:
 *  - offline fork/exit storms: SCHED_OFFLINE workers fork children that set
 *    SCHED_OFFLINE (some with SCHED_FLAG_RESET_ON_FORK and a negative nice),
 *    fork grandchildren that spin briefly and exit; some children exit
 *    before their grandchildren (reaped by the worker as a subreaper). Each
 *    grandchild checks it was born SCHED_OFFLINE (nice reset when asked);
 *  - busy tasks with a random busy/sleep duty cycle whose policy flaps
 *    between SCHED_OFFLINE, SCHED_OTHER, SCHED_IDLE and SCHED_BATCH with
 *    nice changes, set by themselves and by a controller process, which
 *    also flips the starvation guard's period (sched_offline_starve_ms, 0
 *    included) and sched_offline_psi now and then;
 *  - affinity changes of busy tasks and storm workers: random masks, a
 *    third of them a single CPU;
 *  - cgroup v2 moves between two child groups with the cpu and cpuset
 *    controllers, their cpuset.cpus and cpu.weight rewritten meanwhile
 *    (cpu.offline toggled too where the kernel has it); cgroup2 is mounted
 *    at a private path when it is not mounted (skipped if impossible);
 *  - CPU hotplug cycles through /sys/devices/system/cpu/cpuN/online, N > 0
 *    (skipped when not writable).
 * It passes when every process finishes within a bounded time after the
 * deadline, each part that ran counted work (> 0; offline work included,
 * and the class's own offline runtime and preemption counters in
 * /proc/sched_offline grew), no unexpected error came back and all CPUs
 * are online at the end. The
 * host runner fails the run on any kernel WARNING/BUG/lockdep/RCU stall.
 */
#include <stdarg.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include "offline_util.h"
#include "kselftest_harness.h"

#define STARVE_SYSCTL	"/proc/sys/kernel/sched_offline_starve_ms"
#define PSI_SYSCTL	"/proc/sys/kernel/sched_offline_psi"

#ifndef SCHED_BATCH
#define SCHED_BATCH		3
#endif
#ifndef SCHED_RESET_ON_FORK
#define SCHED_RESET_ON_FORK	0x40000000
#endif

#define MAX_BUSY	32
#define NR_STORM	2
#define MAX_CPUS	64
#define GRACE_NS	30000000000ull	/* wait after the deadline, + duration */

enum { W_BUSY, W_STORM, W_POLICY, W_AFFINITY, W_CGROUP, W_HOTPLUG };

struct stress {
	uint64_t deadline;
	int nbusy, ncpus;
	pid_t busy[MAX_BUSY];
	pid_t storm[NR_STORM];
	/* counters, updated with atomics */
	uint64_t busy_loops, busy_offline_loops, busy_self_changes;
	uint64_t forks, grandchildren, orphans, storm_bad_policy, storm_bad_nice;
	uint64_t policy_changes, policy_esrch;
	uint64_t affinity_changes, affinity_single, affinity_einval;
	uint64_t moves, cg_writes, cg_offline_toggles;
	uint64_t hotplug_cycles, hotplug_busy;
	uint64_t sysctl_writes;
	int cgroup_ran, hotplug_ran;
	char cgroup_note[256], hotplug_note[256];
	char err[512];
};

static struct stress *st;

#define ADD(field, n)	__atomic_fetch_add(&st->field, (n), __ATOMIC_RELAXED)

static void fail_note(const char *fmt, ...)
{
	char buf[256];
	va_list ap;
	size_t len;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	len = strlen(st->err);
	if (len + strlen(buf) + 3 < sizeof(st->err))
		snprintf(st->err + len, sizeof(st->err) - len, "%s; ", buf);
}

static uint64_t rnd_state;

static uint64_t rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 7;
	rnd_state ^= rnd_state << 17;
	return rnd_state;
}

static void rnd_seed(void)
{
	rnd_state = now_ns() ^ ((uint64_t)getpid() << 32) ^ 0x9e3779b97f4a7c15ull;
	rnd();
}

static bool running(void)
{
	return now_ns() < st->deadline;
}

/* A part that has not counted anything yet may go on a little longer */
static bool overtime_ok(void)
{
	return now_ns() < st->deadline + 10000000000ull;
}

static void spin_ns(uint64_t ns)
{
	uint64_t end = now_ns() + ns;

	while (now_ns() < end)
		;
}

static const int policies[] = { SCHED_OFFLINE, SCHED_OTHER, SCHED_IDLE, SCHED_BATCH };

static int rnd_policy(void)
{
	return policies[rnd() % 4];
}

static int rnd_nice(void)
{
	return (int)(rnd() % 25) - 5;	/* -5..19 */
}

/* Fork a worker running @fn; it dies with the test */
static pid_t worker(int (*fn)(void))
{
	pid_t pid = fork();

	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		rnd_seed();
		_exit(fn());
	}
	return pid;
}

/* A busy task: random duty cycle, sometimes changes its own policy */
static int busy_fn(void)
{
	uint64_t loops = 0;

	while (running()) {
		spin_ns(200000 + rnd() % 1800000);
		if ((sched_getscheduler(0) & ~SCHED_RESET_ON_FORK) == SCHED_OFFLINE)
			ADD(busy_offline_loops, 1);
		ADD(busy_loops, 1);
		if (++loops % 16 == 0 &&
		    !set_policy_full(0, rnd_policy(), rnd_nice(), 0, 0))
			ADD(busy_self_changes, 1);
		if (rnd() % 4)
			sleep_ns(rnd() % 2000000);
	}
	return 0;
}

/* A grandchild: born SCHED_OFFLINE (nice reset if asked), spins, exits */
static void grandchild(bool reset)
{
	int pol = sched_getscheduler(0) & ~SCHED_RESET_ON_FORK;

	if (pol != SCHED_OFFLINE)
		_exit(1);
	if (reset && getpriority(PRIO_PROCESS, 0) < 0)
		_exit(2);
	spin_ns(rnd() % 500000);
	_exit(0);
}

static void reap_children(bool block)
{
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, block ? 0 : WNOHANG)) > 0) {
		if (!WIFEXITED(status))
			continue;
		if (WEXITSTATUS(status) == 1)
			ADD(storm_bad_policy, 1);
		else if (WEXITSTATUS(status) == 2)
			ADD(storm_bad_nice, 1);
	}
}

/* Offline fork/exit storm */
static int storm_fn(void)
{
	if (set_policy_full(0, SCHED_OFFLINE, (int)(rnd() % 20), 0, 0))
		return 10;
	/* Orphaned grandchildren come back to this worker */
	prctl(PR_SET_CHILD_SUBREAPER, 1);

	while (running()) {
		bool reset = rnd() % 3 == 0, orphan = rnd() % 4 == 0;
		int k = 1 + rnd() % 3, i;
		pid_t child = fork();

		if (child < 0) {
			reap_children(true);
			continue;
		}
		if (child == 0) {
			rnd_seed();
			if (set_policy_full(0, SCHED_OFFLINE,
					    reset ? -(int)(rnd() % 5) - 1 : rnd_nice(), 0,
					    reset ? SCHED_FLAG_RESET_ON_FORK : 0))
				_exit(11);
			for (i = 0; i < k; i++)
				if (fork() == 0)
					grandchild(reset);
			if (!orphan)
				while (wait(NULL) > 0)
					;
			_exit(0);
		}
		ADD(forks, 1);
		ADD(grandchildren, k);
		if (orphan)
			ADD(orphans, 1);
		reap_children(false);
		if (rnd() % 8 == 0)
			sleep_ns(rnd() % 1000000);
	}
	reap_children(true);
	return 0;
}

static pid_t rnd_busy(void)
{
	return st->busy[rnd() % st->nbusy];
}

static pid_t rnd_target(void)
{
	if (rnd() % 4 == 0)
		return st->storm[rnd() % NR_STORM];
	return rnd_busy();
}

/* Flaps the busy tasks' policies and nice values */
/* The starvation guard's period and PSI accounting change under load */
static const char *const starve_values[] = { "0", "10", "50", "100" };
static char old_starve[16], old_psi[16];

static void flap_sysctl(void)
{
	if (old_starve[0] &&
	    !write_file(STARVE_SYSCTL, starve_values[rnd() % 4]))
		ADD(sysctl_writes, 1);
	if (old_psi[0] && !write_file(PSI_SYSCTL, rnd() % 2 ? "1" : "0"))
		ADD(sysctl_writes, 1);
}

static int policy_fn(void)
{
	while (running()) {
		pid_t pid = rnd_busy();
		uint64_t flags = rnd() % 4 == 0 ? SCHED_FLAG_RESET_ON_FORK : 0;

		if (!set_policy_full(pid, rnd_policy(), rnd_nice(), 0, flags))
			ADD(policy_changes, 1);
		else if (errno == ESRCH)
			ADD(policy_esrch, 1);
		else
			fail_note("sched_setattr(%d): %s", pid, strerror(errno));
		if (rnd() % 64 == 0)
			flap_sysctl();
		if (rnd() % 2)
			sleep_ns(rnd() % 1000000);
	}
	return 0;
}

/* Random affinity masks, a third of them a single CPU */
static int affinity_fn(void)
{
	int n = st->ncpus;

	while (running()) {
		pid_t pid = rnd_target();
		bool single = rnd() % 3 == 0;
		cpu_set_t set;
		int cpu;

		CPU_ZERO(&set);
		if (single) {
			CPU_SET(rnd() % n, &set);
		} else {
			uint64_t bits = rnd();

			for (cpu = 0; cpu < n; cpu++)
				if (bits & (1ull << cpu))
					CPU_SET(cpu, &set);
			if (!CPU_COUNT(&set))
				CPU_SET(rnd() % n, &set);
		}
		/* EINVAL: only hot-unplugged CPUs, or none of its cpuset */
		if (!sched_setaffinity(pid, sizeof(set), &set)) {
			ADD(affinity_changes, 1);
			if (single)
				ADD(affinity_single, 1);
		} else if (errno == EINVAL) {
			ADD(affinity_einval, 1);
		} else if (errno != ESRCH) {
			fail_note("sched_setaffinity(%d): %s", pid, strerror(errno));
		}
		if (rnd() % 2)
			sleep_ns(rnd() % 2000000);
	}
	return 0;
}

static char cg_root[128], cg_a[192], cg_b[192];

static int cg_write(const char *dir, const char *file, const char *val)
{
	char path[300];

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	return write_file(path, val);
}

/* Set up two child groups with cpu and cpuset; false (with a note) if not */
static bool cg_setup(void)
{
	char path[300], buf[512];
	int n = st->ncpus;

	snprintf(cg_root, sizeof(cg_root), "/sys/fs/cgroup");
	if (access("/sys/fs/cgroup/cgroup.controllers", F_OK)) {
		snprintf(cg_root, sizeof(cg_root), "/tmp/offline-stress-cg");
		mkdir(cg_root, 0755);
		if (access("/tmp/offline-stress-cg/cgroup.controllers", F_OK) &&
		    mount("none", cg_root, "cgroup2", 0, NULL)) {
			snprintf(st->cgroup_note, sizeof(st->cgroup_note),
				 "cannot mount cgroup2: %s", strerror(errno));
			return false;
		}
	}
	snprintf(path, sizeof(path), "%s/cgroup.controllers", cg_root);
	if (read_file(path, buf, sizeof(buf)) || !strstr(buf, "cpu") ||
	    !strstr(buf, "cpuset")) {
		snprintf(st->cgroup_note, sizeof(st->cgroup_note),
			 "no cpu/cpuset controller in %.120s", cg_root);
		return false;
	}
	cg_write(cg_root, "cgroup.subtree_control", "+cpu");
	cg_write(cg_root, "cgroup.subtree_control", "+cpuset");
	snprintf(cg_a, sizeof(cg_a), "%s/offline-stress-a", cg_root);
	snprintf(cg_b, sizeof(cg_b), "%s/offline-stress-b", cg_root);
	mkdir(cg_a, 0755);
	mkdir(cg_b, 0755);
	snprintf(buf, sizeof(buf), "0-%d", n > 2 ? n / 2 : n - 1);
	if (cg_write(cg_a, "cpuset.cpus", buf) || cg_write(cg_a, "cpu.weight", "50")) {
		snprintf(st->cgroup_note, sizeof(st->cgroup_note),
			 "cannot configure %.180s: %s", cg_a, strerror(errno));
		return false;
	}
	return true;
}

/* Moves tasks between the groups and rewrites their cpuset and weight */
static int cgroup_fn(void)
{
	const char *weights[] = { "1", "100", "10000" };
	char val[32], off[300];
	int n = st->ncpus;
	bool has_offline;

	snprintf(off, sizeof(off), "%s/cpu.offline", cg_b);
	has_offline = access(off, W_OK) == 0;
	/* At least one move even when a slow kernel starts it late */
	while (running() || (!st->moves && overtime_ok())) {
		pid_t pid = rnd_target();
		const char *cg = rnd() % 2 ? cg_a : cg_b;

		snprintf(val, sizeof(val), "%d", pid);
		if (!cg_write(cg, "cgroup.procs", val))
			ADD(moves, 1);
		else if (errno != ESRCH)
			fail_note("move %d to %s: %s", pid, cg, strerror(errno));

		switch (rnd() % 16) {
		case 0: {	/* a random CPU range, or every CPU */
			int lo = rnd() % n, hi = lo + rnd() % (n - lo);

			if (rnd() % 3 == 0)
				snprintf(val, sizeof(val), "0-%d", n - 1);
			else
				snprintf(val, sizeof(val), "%d-%d", lo, hi);
			if (!cg_write(cg_b, "cpuset.cpus", val))
				ADD(cg_writes, 1);
			break;
		}
		case 1:
			if (!cg_write(rnd() % 2 ? cg_a : cg_b, "cpu.weight",
				      weights[rnd() % 3]))
				ADD(cg_writes, 1);
			break;
		case 2:
			if (has_offline &&
			    !cg_write(cg_b, "cpu.offline", rnd() % 2 ? "1" : "0"))
				ADD(cg_offline_toggles, 1);
			break;
		}
		if (rnd() % 2)
			sleep_ns(rnd() % 2000000);
	}
	if (has_offline)
		cg_write(cg_b, "cpu.offline", "0");
	return 0;
}

static bool hp_ok[MAX_CPUS];

static int cpu_online_set(int cpu, bool on)
{
	char path[64];

	snprintf(path, sizeof(path), "/sys/devices/system/cpu/cpu%d/online", cpu);
	return write_file(path, on ? "1" : "0");
}

static int cpu_online_get(int cpu)
{
	char path[64], buf[8];

	snprintf(path, sizeof(path), "/sys/devices/system/cpu/cpu%d/online", cpu);
	if (read_file(path, buf, sizeof(buf)))
		return cpu == 0 ? 1 : -1;	/* cpu0 often has no file */
	return atoi(buf);
}

/* Bring @cpu back, retrying for a few seconds; false if it stays down */
static bool cpu_up(int cpu)
{
	uint64_t end = now_ns() + 5000000000ull;

	while (cpu_online_set(cpu, true)) {
		if (cpu_online_get(cpu) == 1)
			return true;
		if (now_ns() > end)
			return false;
		sleep_ns(10000000);
	}
	return true;
}

static bool hp_setup(void)
{
	char path[64];
	int cpu, nr = 0;

	for (cpu = 1; cpu < st->ncpus && cpu < MAX_CPUS; cpu++) {
		snprintf(path, sizeof(path), "/sys/devices/system/cpu/cpu%d/online", cpu);
		hp_ok[cpu] = access(path, W_OK) == 0 && cpu_online_get(cpu) == 1;
		nr += hp_ok[cpu];
	}
	if (!nr)
		snprintf(st->hotplug_note, sizeof(st->hotplug_note),
			 "no writable /sys/devices/system/cpu/cpuN/online for N > 0");
	return nr > 0;
}

/* Hot-unplug a random CPU, wait a little, plug it back */
static int hotplug_fn(void)
{
	/* At least one cycle, however slow hotplug is on this kernel */
	while (running() || (!st->hotplug_cycles && overtime_ok())) {
		int cpu = 1 + rnd() % (st->ncpus - 1);

		if (!hp_ok[cpu])
			continue;
		if (cpu_online_set(cpu, false)) {
			ADD(hotplug_busy, 1);	/* EBUSY and the like */
			sleep_ns(1000000);
			continue;
		}
		sleep_ns(rnd() % 20000000);
		if (!cpu_up(cpu)) {
			fail_note("cpu%d does not come back online: %s", cpu,
				  strerror(errno));
			return 20;
		}
		ADD(hotplug_cycles, 1);
		sleep_ns(rnd() % 30000000);
	}
	return 0;
}

struct proc {
	pid_t pid;
	int kind;
	bool done;
	int status;
};

static const char *kind_name[] = {
	[W_BUSY] = "busy", [W_STORM] = "storm", [W_POLICY] = "policy",
	[W_AFFINITY] = "affinity", [W_CGROUP] = "cgroup", [W_HOTPLUG] = "hotplug",
};

static int stress_secs(void)
{
	const char *e = getenv("OFFLINE_STRESS_SECS");
	int s = e ? atoi(e) : 0;

	return s > 0 ? s : 10;
}

TEST(all_at_once)
{
	struct proc procs[MAX_BUSY + NR_STORM + 4];
	int secs = stress_secs(), nproc = 0, i, left, cpu;
	uint64_t t0, end, grace;
	long long run0, pre0, pull0, run1, pre1, pull1;

	if (!sched_offline_expected())
		SKIP(return, "kernel built without SCHED_OFFLINE");
	st = mmap(NULL, sizeof(*st), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, st);
	memset(st, 0, sizeof(*st));
	st->ncpus = sysconf(_SC_NPROCESSORS_CONF);
	if (st->ncpus > MAX_CPUS)
		st->ncpus = MAX_CPUS;
	ASSERT_LE(2, st->ncpus);
	st->nbusy = nr_cpus() < MAX_BUSY ? nr_cpus() : MAX_BUSY;
	if (read_file(STARVE_SYSCTL, old_starve, sizeof(old_starve)))
		old_starve[0] = 0;
	if (read_file(PSI_SYSCTL, old_psi, sizeof(old_psi)))
		old_psi[0] = 0;
	run0 = offline_stat(-1, "offline_runtime_ns");
	pre0 = offline_stat(-1, "preempts");
	pull0 = offline_stat(-1, "pulls");
	t0 = now_ns();
	st->deadline = t0 + secs * 1000000000ull;
	TH_LOG("%d s of stress on %d CPUs: %d busy tasks, %d storms",
	       secs, nr_cpus(), st->nbusy, NR_STORM);

	/* Workers first: the controllers need their pids */
	for (i = 0; i < st->nbusy; i++) {
		st->busy[i] = worker(busy_fn);
		ASSERT_LT(0, st->busy[i]);
		procs[nproc++] = (struct proc){ st->busy[i], W_BUSY };
	}
	for (i = 0; i < NR_STORM; i++) {
		st->storm[i] = worker(storm_fn);
		ASSERT_LT(0, st->storm[i]);
		procs[nproc++] = (struct proc){ st->storm[i], W_STORM };
	}
	procs[nproc++] = (struct proc){ worker(policy_fn), W_POLICY };
	procs[nproc++] = (struct proc){ worker(affinity_fn), W_AFFINITY };
	st->cgroup_ran = cg_setup();
	if (st->cgroup_ran)
		procs[nproc++] = (struct proc){ worker(cgroup_fn), W_CGROUP };
	else
		TH_LOG("cgroup moves skipped: %s", st->cgroup_note);
	st->hotplug_ran = hp_setup();
	if (st->hotplug_ran)
		procs[nproc++] = (struct proc){ worker(hotplug_fn), W_HOTPLUG };
	else
		TH_LOG("CPU hotplug skipped: %s", st->hotplug_note);
	for (i = 0; i < nproc; i++)
		ASSERT_LT(0, procs[i].pid);

	/* Everything must be gone within a bounded time after the deadline */
	grace = GRACE_NS + secs * 1000000000ull;
	end = st->deadline + grace;
	do {
		sleep_ns(100000000);
		left = 0;
		for (i = 0; i < nproc; i++) {
			if (!procs[i].done &&
			    waitpid(procs[i].pid, &procs[i].status, WNOHANG) == procs[i].pid)
				procs[i].done = true;
			left += !procs[i].done;
		}
	} while (left && now_ns() < end);
	TH_LOG("all done %.1f s after the deadline",
	       (double)(now_ns() - st->deadline) / 1e9);

	for (i = 0; i < nproc; i++) {
		if (procs[i].done)
			continue;
		TH_LOG("%s worker %d still there %.0f s after the deadline (state: see /proc/%d/stack)",
		       kind_name[procs[i].kind], procs[i].pid, grace / 1e9,
		       procs[i].pid);
		kill(procs[i].pid, SIGKILL);
		waitpid(procs[i].pid, NULL, 0);
	}
	EXPECT_EQ(0, left) TH_LOG("stuck workers");
	run1 = offline_stat(-1, "offline_runtime_ns");
	pre1 = offline_stat(-1, "preempts");
	pull1 = offline_stat(-1, "pulls");

	TH_LOG("storms: %llu forks, %llu grandchildren, %llu orphaned",
	       (unsigned long long)st->forks, (unsigned long long)st->grandchildren,
	       (unsigned long long)st->orphans);
	TH_LOG("busy: %llu loops, %llu of them SCHED_OFFLINE, %llu own policy changes",
	       (unsigned long long)st->busy_loops,
	       (unsigned long long)st->busy_offline_loops,
	       (unsigned long long)st->busy_self_changes);
	TH_LOG("policy changes: %llu (+%llu ESRCH after exit), guard/PSI sysctl writes %llu",
	       (unsigned long long)st->policy_changes,
	       (unsigned long long)st->policy_esrch,
	       (unsigned long long)st->sysctl_writes);
	if (old_starve[0])
		EXPECT_EQ(0, write_file(STARVE_SYSCTL, old_starve));
	if (old_psi[0])
		EXPECT_EQ(0, write_file(PSI_SYSCTL, old_psi));
	TH_LOG("affinity changes: %llu, %llu of them single CPU (+%llu EINVAL)",
	       (unsigned long long)st->affinity_changes,
	       (unsigned long long)st->affinity_single,
	       (unsigned long long)st->affinity_einval);
	if (st->cgroup_ran)
		TH_LOG("cgroup moves: %llu, cpuset/weight writes %llu, cpu.offline toggles %llu",
		       (unsigned long long)st->moves, (unsigned long long)st->cg_writes,
		       (unsigned long long)st->cg_offline_toggles);
	if (st->hotplug_ran)
		TH_LOG("hotplug cycles: %llu (+%llu refused unplugs)",
		       (unsigned long long)st->hotplug_cycles,
		       (unsigned long long)st->hotplug_busy);

	for (i = 0; i < nproc; i++)
		if (procs[i].done)
			EXPECT_TRUE(WIFEXITED(procs[i].status) &&
				    WEXITSTATUS(procs[i].status) == 0)
				TH_LOG("%s worker %d: status 0x%x", kind_name[procs[i].kind],
				       procs[i].pid, procs[i].status);
	EXPECT_STREQ("", st->err);

	/* The class itself counted the work (/proc/sched_offline, all CPUs) */
	TH_LOG("/proc/sched_offline: +%.3f s offline runtime, +%lld preempts, +%lld pulls",
	       (run1 - run0) / 1e9, pre1 - pre0, pull1 - pull0);
	if (run0 >= 0 && run1 >= 0)
		EXPECT_LT(0, run1 - run0);
	if (pre0 >= 0 && pre1 >= 0)
		EXPECT_LT(0, pre1 - pre0);

	/* Every part did real work, offline work included */
	EXPECT_LT(0, st->forks);
	EXPECT_LT(0, st->grandchildren);
	EXPECT_LT(0, st->busy_offline_loops);
	EXPECT_LT(0, st->policy_changes);
	EXPECT_LT(0, st->affinity_changes);
	EXPECT_LT(0, st->affinity_single);
	if (st->cgroup_ran)
		EXPECT_LT(0, st->moves);
	if (st->hotplug_ran)
		EXPECT_LT(0, st->hotplug_cycles);
	/* Offline children of an offline parent are born offline */
	EXPECT_EQ(0, st->storm_bad_policy);
	EXPECT_EQ(0, st->storm_bad_nice);

	/* All CPUs back online (bring them back if not, for later tests) */
	for (cpu = 1; cpu < st->ncpus; cpu++) {
		if (!hp_ok[cpu])
			continue;
		EXPECT_EQ(1, cpu_online_get(cpu)) TH_LOG("cpu%d left offline", cpu);
		if (cpu_online_get(cpu) != 1)
			cpu_up(cpu);
	}
	EXPECT_EQ(st->ncpus, nr_cpus());

	if (st->cgroup_ran) {
		rmdir(cg_a);
		rmdir(cg_b);
	}
	TH_LOG("%.1f s in all", (double)(now_ns() - t0) / 1e9);
	munmap(st, sizeof(*st));
}

/* The harness's 30 s default is too short for a long stress */
static void __attribute__((constructor)) stress_timeout(void)
{
	_all_at_once_object.timeout = 2 * stress_secs() + 90;
}

TEST_HARNESS_MAIN
