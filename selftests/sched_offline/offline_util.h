/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Shared helpers for the sched_offline selftests: sched_setattr(), CPU
 * hogs in child processes, per-task CPU time from schedstat, time-bounded
 * loops and percentiles.
 *
 * Every measurement is in nanoseconds of CLOCK_MONOTONIC or of
 * /proc/<pid>/schedstat (sum_exec_runtime, run_delay), never tick-based.
 */
#ifndef OFFLINE_UTIL_H
#define OFFLINE_UTIL_H

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef SCHED_IDLE
#define SCHED_IDLE		5
#endif
#ifndef SCHED_OFFLINE
#define SCHED_OFFLINE		8
#endif
#ifndef SCHED_FLAG_RESET_ON_FORK
#define SCHED_FLAG_RESET_ON_FORK	0x01
#endif

struct offline_sched_attr {
	uint32_t size;
	uint32_t sched_policy;
	uint64_t sched_flags;
	int32_t  sched_nice;
	uint32_t sched_priority;
	uint64_t sched_runtime;
	uint64_t sched_deadline;
	uint64_t sched_period;
	uint32_t sched_util_min;
	uint32_t sched_util_max;
};

static inline int set_policy_full(pid_t pid, int policy, int nice,
				  uint32_t prio, uint64_t flags)
{
	struct offline_sched_attr attr = {
		.size = sizeof(attr),
		.sched_policy = policy,
		.sched_flags = flags,
		.sched_nice = nice,
		.sched_priority = prio,
	};

	return syscall(SYS_sched_setattr, pid, &attr, 0);
}

/* Set @policy keeping the task's nice value */
static inline int set_policy(pid_t pid, int policy)
{
	errno = 0;
	int nice = getpriority(PRIO_PROCESS, pid);

	if (nice == -1 && errno)
		return -1;
	return set_policy_full(pid, policy, nice, 0, 0);
}

static inline int get_attr(pid_t pid, struct offline_sched_attr *attr)
{
	memset(attr, 0, sizeof(*attr));
	return syscall(SYS_sched_getattr, pid, attr, sizeof(*attr), 0);
}

static inline bool sched_offline_present(void)
{
	return access("/proc/sched_offline", F_OK) == 0;
}

/*
 * Whether the kernel under test is expected to have SCHED_OFFLINE. The
 * host runner boots kernels built without it with sched_offline_expect=0
 * on the command line, which the kernel passes to init's environment.
 */
static inline bool sched_offline_expected(void)
{
	const char *e = getenv("sched_offline_expect");

	return !e || strcmp(e, "0") != 0;
}

static inline uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static inline void sleep_ns(uint64_t ns)
{
	struct timespec ts = { ns / 1000000000ull, ns % 1000000000ull };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static inline int nr_cpus(void)
{
	return (int)sysconf(_SC_NPROCESSORS_ONLN);
}

static inline int pin_to_cpu(pid_t pid, int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(pid, sizeof(set), &set);
}

static inline int unpin(pid_t pid)
{
	cpu_set_t set;
	int cpu;

	CPU_ZERO(&set);
	for (cpu = 0; cpu < CPU_SETSIZE && cpu < 1024; cpu++)
		CPU_SET(cpu, &set);
	return sched_setaffinity(pid, sizeof(set), &set);
}

/* sum_exec_runtime and run_delay of a task, in ns; false if it is gone */
/* The CPU @pid last ran on (field 39 of /proc/<pid>/stat), -1 if unknown */
static inline int task_cpu(pid_t pid)
{
	char buf[1024], *p;
	int field, cpu = -1;
	FILE *f;

	snprintf(buf, sizeof(buf), "/proc/%d/stat", pid);
	f = fopen(buf, "r");
	if (!f)
		return -1;
	p = fgets(buf, sizeof(buf), f);
	fclose(f);
	/* comm may hold spaces: count fields after its closing ')' (field 2) */
	p = p ? strrchr(buf, ')') : NULL;
	for (field = 2; p && field < 39; field++)
		p = strchr(p + 1, ' ');
	if (p)
		cpu = atoi(p + 1);
	return cpu;
}

static inline bool read_schedstat(pid_t pid, uint64_t *run, uint64_t *delay)
{
	char path[64];
	unsigned long long r = 0, d = 0;
	FILE *f;
	int n;

	snprintf(path, sizeof(path), "/proc/%d/schedstat", pid);
	f = fopen(path, "r");
	if (!f)
		return false;
	n = fscanf(f, "%llu %llu", &r, &d);
	fclose(f);
	if (run)
		*run = r;
	if (delay)
		*delay = d;
	return n == 2;
}

static inline uint64_t task_runtime(pid_t pid)
{
	uint64_t run = 0;

	read_schedstat(pid, &run, NULL);
	return run;
}

/*
 * A CPU hog in a child process, in @policy at @nice: pinned to @cpu, or
 * free to run on every CPU when @cpu is negative. It dies with the parent.
 */
static inline pid_t spawn_hog_prio(int cpu, int policy, int nice, int prio)
{
	pid_t pid = fork();

	if (pid < 0)
		return -1;
	if (pid == 0) {
		volatile unsigned long spin = 0;

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (cpu >= 0 ? pin_to_cpu(0, cpu) : unpin(0))
			_exit(2);
		if (set_policy_full(0, policy, nice, prio, 0))
			_exit(3);
		for (;;)
			spin++;
	}
	return pid;
}

static inline pid_t spawn_hog(int cpu, int policy, int nice)
{
	return spawn_hog_prio(cpu, policy, nice, 0);
}

/* CPU time each of @pids got over @ns into @delta; the wall time it took */
static inline uint64_t measure_runtimes(const pid_t *pids, int n,
					uint64_t *delta, uint64_t ns)
{
	uint64_t before[n], t0;
	int i;

	for (i = 0; i < n; i++)
		before[i] = task_runtime(pids[i]);
	t0 = now_ns();
	sleep_ns(ns);
	for (i = 0; i < n; i++)
		delta[i] = task_runtime(pids[i]) - before[i];
	return now_ns() - t0;
}

static inline void kill_all(pid_t *pids, int n)
{
	int i;

	for (i = 0; i < n; i++)
		if (pids[i] > 0)
			kill(pids[i], SIGKILL);
	for (i = 0; i < n; i++)
		if (pids[i] > 0)
			waitpid(pids[i], NULL, 0);
}

/* Has the child exited early (it failed to set itself up)? */
static inline bool child_failed(pid_t pid)
{
	int status;

	return waitpid(pid, &status, WNOHANG) == pid;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* The p-th per-mille value of @v (sorted in place), p in 0..1000 */
static inline uint64_t permille(uint64_t *v, size_t n, unsigned int p)
{
	size_t i;

	if (!n)
		return 0;
	qsort(v, n, sizeof(*v), cmp_u64);
	i = (n * p) / 1000;
	if (i >= n)
		i = n - 1;
	return v[i];
}

static inline int write_file(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = write(fd, val, strlen(val));
	close(fd);
	return n == (ssize_t)strlen(val) ? 0 : -1;
}

static inline int read_file(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = 0;
	return 0;
}

/*
 * Column @col of CPU @cpu's line in /proc/sched_offline, by header name;
 * with @cpu < 0, the column summed over every CPU line. -1 if missing.
 */
static inline long long offline_stat(int cpu, const char *col)
{
	char buf[16384], *line, *save = NULL, *tok, *s2;
	long long sum = 0;
	int idx = -1, i;

	if (read_file("/proc/sched_offline", buf, sizeof(buf)))
		return -1;
	line = strtok_r(buf, "\n", &save);
	for (i = 0, tok = line ? strtok_r(line, " ", &s2) : NULL; tok;
	     tok = strtok_r(NULL, " ", &s2), i++)
		if (!strcmp(tok, col))
			idx = i;
	if (idx < 0)
		return -1;
	while ((line = strtok_r(NULL, "\n", &save))) {
		char *f[32];
		int n = 0;

		for (tok = strtok_r(line, " ", &s2); tok && n < 32;
		     tok = strtok_r(NULL, " ", &s2))
			f[n++] = tok;
		if (n <= idx)
			continue;
		if (cpu < 0)
			sum += atoll(f[idx]);
		else if (atoi(f[0]) == cpu)
			return atoll(f[idx]);
	}
	return cpu < 0 ? sum : -1;
}

/* CPU time of the calling thread */
static inline uint64_t thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/*
 * Online (SCHED_OTHER) worker pinned to @cpu: each @period_ns it is busy
 * for *@duty per mille of the period, then sleeps to the next period start
 * (skipping periods it missed). Busy is measured on the clock when
 * !@by_cpu_time (the CPU's load is what counts), on its own CPU time when
 * @by_cpu_time (what it asks for is what counts; delays cost it periods).
 * *@duty may change while it runs.
 */
static inline pid_t spawn_duty_worker(int cpu, uint64_t period_ns,
				      volatile int *duty, bool by_cpu_time)
{
	pid_t pid = fork();

	if (pid == 0) {
		uint64_t next = now_ns();

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		pin_to_cpu(0, cpu);
		for (;;) {
			uint64_t busy = period_ns * *duty / 1000;
			struct timespec ts;

			if (by_cpu_time) {
				uint64_t until = thread_cpu_ns() + busy;

				while (thread_cpu_ns() < until)
					;
			} else {
				while (now_ns() < next + busy)
					;
			}
			next += period_ns;
			if (next < now_ns())
				next = now_ns();
			ts.tv_sec = next / 1000000000ull;
			ts.tv_nsec = next % 1000000000ull;
			clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
		}
	}
	return pid;
}

/* Wait up to @ns for @pid (a child setting its own policy) to be @policy */
static inline int wait_for_policy(pid_t pid, int policy, uint64_t ns)
{
	uint64_t end = now_ns() + ns;
	int cur;

	while ((cur = sched_getscheduler(pid)) != policy && now_ns() < end)
		sleep_ns(1000000);
	return cur;
}


/*
 * Timer-driven wakeup probe on @cpu for @window_ns: sleeps to absolute
 * deadlines @period_ns apart and appends each wakeup's lateness to @v
 * (at most @max entries, *@n of them used).
 */
static inline void timer_probe(int cpu, uint64_t window_ns, uint64_t period_ns,
			       uint64_t *v, size_t *n, size_t max)
{
	uint64_t start = now_ns(), next = start;
	struct timespec ts;

	pin_to_cpu(0, cpu);
	while (now_ns() - start < window_ns && *n < max) {
		uint64_t t;

		next += period_ns;
		ts.tv_sec = next / 1000000000ull;
		ts.tv_nsec = next % 1000000000ull;
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
			;
		t = now_ns();
		v[(*n)++] = t > next ? t - next : 0;
		if (t > next + period_ns)	/* overran: restart the grid */
			next = t;
	}
}

#endif /* OFFLINE_UTIL_H */
