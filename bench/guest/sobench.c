// SPDX-License-Identifier: GPL-2.0
/*
 * sobench: the in-guest scheduling benchmarks of `make bench` (design.md
 * section 6). Each subcommand sets up the offline load as one VARIANT,
 * measures for a bounded time and prints one line
 *
 *   BENCH {"metric":...,"variant":...,"round":N,...}
 *
 * that bench/report.py reads from the console log. Times are guest
 * CLOCK_MONOTONIC and /proc/<pid>/schedstat (ns); under -icount they follow
 * the instructions executed, so only figures of one boot are compared.
 *
 * VARIANT (how the offline load runs):
 *   none      no offline load (the baseline; "none2" is the A/A twin)
 *   normal    SCHED_NORMAL, nice 0
 *   nice19    SCHED_NORMAL, nice 19
 *   idle      SCHED_IDLE
 *   cgweight1 SCHED_NORMAL in a cgroup with cpu.weight = 1
 *   cgidle    SCHED_NORMAL in a cgroup with cpu.idle = 1
 *   offline   SCHED_OFFLINE
 *
 *   sobench hogs VARIANT N CPU         N hogs on CPU (-1: unpinned) until killed
 *   sobench chain VARIANT N CPU SECS   wake-chain latency probe, N hogs on CPU
 *   sobench tput VARIANT N SECS        one CPU-bound online worker per CPU,
 *                                      N hogs per CPU; online work done
 *   sobench share VARIANT PCT SECS [H] online busy PCT% of each CPU's wall
 *                                      time (10 ms periods), H
 *                                      unpinned hogs per CPU (default 2);
 *                                      offline share of the spare CPU
 *   sobench steal SECS [PREFIX]        run_delay / wall of every thread named
 *                                      PREFIX* (default "CPU "), e.g. vCPUs
 *
 * The round number comes from $BENCH_ROUND (default 0).
 */
#include <pthread.h>
#include <dirent.h>
#include <sys/stat.h>
#include "../../selftests/sched_offline/offline_util.h"

#define MAX_HOGS	1024
#define CG_ROOT		"/sys/fs/cgroup"

struct variant {
	const char *name;
	int policy;		/* -1: no hogs */
	int nice;
	const char *cgroup;	/* NULL: stay in the root group */
	const char *cg_file, *cg_val;
};

static const struct variant variants[] = {
	{ "none",	-1, 0, NULL, NULL, NULL },
	{ "none2",	-1, 0, NULL, NULL, NULL },
	{ "normal",	SCHED_OTHER, 0, NULL, NULL, NULL },
	{ "nice19",	SCHED_OTHER, 19, NULL, NULL, NULL },
	{ "idle",	SCHED_IDLE, 0, NULL, NULL, NULL },
	{ "cgweight1",	SCHED_OTHER, 0, CG_ROOT "/sobench-weight1", "cpu.weight", "1" },
	{ "cgidle",	SCHED_OTHER, 0, CG_ROOT "/sobench-idle", "cpu.idle", "1" },
	{ "offline",	SCHED_OFFLINE, 0, NULL, NULL, NULL },
};

static const struct variant *V;
static int round_nr;

static void die(const char *what)
{
	fprintf(stderr, "sobench: %s: %s\n", what, strerror(errno));
	exit(1);
}

static const struct variant *find_variant(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(variants) / sizeof(variants[0]); i++)
		if (!strcmp(variants[i].name, name))
			return &variants[i];
	fprintf(stderr, "sobench: unknown variant %s\n", name);
	exit(2);
}

/* Make the variant's cgroup (once per boot) */
static void setup_cgroup(const struct variant *v)
{
	char path[256];

	if (!v->cgroup)
		return;
	/* the cpu controller for the root's children; harmless if on */
	write_file(CG_ROOT "/cgroup.subtree_control", "+cpu");
	if (mkdir(v->cgroup, 0755) && errno != EEXIST)
		die(v->cgroup);
	snprintf(path, sizeof(path), "%s/%s", v->cgroup, v->cg_file);
	if (write_file(path, v->cg_val))
		die(path);
}

/*
 * A hog of the variant: pinned to @cpu (or unpinned when negative), in
 * the variant's cgroup and policy. Exits 3 when it cannot get there.
 */
static pid_t spawn_variant_hog(const struct variant *v, int cpu)
{
	pid_t pid = fork();

	if (pid < 0)
		die("fork");
	if (pid == 0) {
		volatile unsigned long spin = 0;
		char path[256], me[32];

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (cpu >= 0 ? pin_to_cpu(0, cpu) : unpin(0))
			_exit(2);
		if (v->cgroup) {
			snprintf(path, sizeof(path), "%s/cgroup.procs", v->cgroup);
			snprintf(me, sizeof(me), "%d", getpid());
			if (write_file(path, me))
				_exit(3);
		}
		if (set_policy_full(0, v->policy, v->nice, 0, 0))
			_exit(3);
		for (;;)
			spin++;
	}
	return pid;
}

static pid_t hogs[MAX_HOGS];
static int nr_hogs;

/* @n hogs on each CPU of @cpus[0..ncpus) */
static void start_hogs(const struct variant *v, int n, const int *cpus, int ncpus)
{
	int i, c;

	if (v->policy < 0)
		return;
	setup_cgroup(v);
	for (c = 0; c < ncpus; c++)
		for (i = 0; i < n && nr_hogs < MAX_HOGS; i++)
			hogs[nr_hogs++] = spawn_variant_hog(v, cpus[c]);
	sleep_ns(100000000);	/* let them start and settle */
	for (i = 0; i < nr_hogs; i++)
		if (child_failed(hogs[i])) {
			fprintf(stderr, "sobench: a %s hog could not set itself up\n", v->name);
			kill_all(hogs, nr_hogs);
			exit(1);
		}
}

static uint64_t hogs_runtime(void)
{
	uint64_t sum = 0;
	int i;

	for (i = 0; i < nr_hogs; i++)
		sum += task_runtime(hogs[i]);
	return sum;
}

static void stop_hogs(void)
{
	kill_all(hogs, nr_hogs);
	nr_hogs = 0;
}

/*
 * Column sums of /proc/sched_offline over all CPUs (counters only: the
 * per-CPU state columns are left out), for the kernel's view of what
 * the offline class did during a measurement.
 */
#define KSTAT_MAX 16
struct kstat {
	int n;
	char name[KSTAT_MAX][40];
	unsigned long long v[KSTAT_MAX];
};

static void read_kstat(struct kstat *k)
{
	char buf[16384], *line, *save = NULL, *tok, *s2;
	int i;

	memset(k, 0, sizeof(*k));
	if (read_file("/proc/sched_offline", buf, sizeof(buf)))
		return;
	line = strtok_r(buf, "\n", &save);
	for (tok = strtok_r(line, " ", &s2); tok && k->n < KSTAT_MAX; tok = strtok_r(NULL, " ", &s2))
		snprintf(k->name[k->n++], sizeof(k->name[0]), "%s", tok);
	while ((line = strtok_r(NULL, "\n", &save)))
		for (i = 0, tok = strtok_r(line, " ", &s2); tok && i < k->n;
		     tok = strtok_r(NULL, " ", &s2), i++)
			k->v[i] += strtoull(tok, NULL, 10);
}

static void emit_kstat(const struct kstat *a, const struct kstat *b)
{
	bool first = true;
	int i;

	if (!a->n || a->n != b->n)
		return;
	printf(",\"kstat\":{");
	for (i = 0; i < a->n; i++) {
		if (!strcmp(a->name[i], "cpu") || !strcmp(a->name[i], "online_avg_pct") ||
		    !strcmp(a->name[i], "capacity") || !strcmp(a->name[i], "nr_offline"))
			continue;
		printf("%s\"%s\":%llu", first ? "" : ",", a->name[i], b->v[i] - a->v[i]);
		first = false;
	}
	printf("}");
}

static void emit_head(const char *metric)
{
	printf("BENCH {\"metric\":\"%s\",\"variant\":\"%s\",\"round\":%d", metric,
	       V ? V->name : "", round_nr);
}

/* ---- hogs: for cyclictest, which runs beside them ---- */

static volatile sig_atomic_t stop_flag;
static void on_term(int sig) { stop_flag = 1; }

static int cmd_hogs(int argc, char **argv)
{
	int n = atoi(argv[1]), cpu = atoi(argv[2]);

	signal(SIGTERM, on_term);
	signal(SIGINT, on_term);
	start_hogs(V, n, &cpu, 1);
	printf("ready\n");
	fflush(stdout);
	while (!stop_flag)
		pause();
	stop_hogs();
	return 0;
}

/* ---- chain: waker on CPU 0 -> reader on CPU k -> second reader on CPU k ---- */

#define PERIOD_NS	1000000ull
#define MAX_SAMPLES	100000

static int pipe_ab[2], pipe_bc[2];
static int chain_cpu;
static uint64_t hop1[MAX_SAMPLES], chain[MAX_SAMPLES];
static volatile size_t nr_samples;

static void *chain_b(void *arg)
{
	uint64_t t0;
	size_t i = 0;

	pin_to_cpu(0, chain_cpu);
	while (read(pipe_ab[0], &t0, sizeof(t0)) == sizeof(t0) && t0) {
		uint64_t t = now_ns();

		if (i < MAX_SAMPLES)
			hop1[i++] = t - t0;
		if (write(pipe_bc[1], &t0, sizeof(t0)) != sizeof(t0))
			break;
	}
	t0 = 0;
	if (write(pipe_bc[1], &t0, sizeof(t0)) != sizeof(t0))
		return NULL;
	return NULL;
}

static void *chain_c(void *arg)
{
	uint64_t t0;
	size_t i = 0;

	pin_to_cpu(0, chain_cpu);
	while (read(pipe_bc[0], &t0, sizeof(t0)) == sizeof(t0) && t0) {
		if (i < MAX_SAMPLES)
			chain[i++] = now_ns() - t0;
	}
	nr_samples = i;
	return NULL;
}

static void print_pcts(const char *key, uint64_t *v, size_t n)
{
	double p50 = permille(v, n, 500) / 1e3;	/* sorts v */

	printf(",\"%s\":{\"n\":%zu,\"p50\":%.1f,\"p99\":%.1f,\"p999\":%.1f,\"max\":%.1f}",
	       key, n, p50, permille(v, n, 990) / 1e3,
	       permille(v, n, 999) / 1e3, n ? v[n - 1] / 1e3 : 0.0);
}

static int cmd_chain(int argc, char **argv)
{
	int n = atoi(argv[1]);
	double secs = atof(argv[3]);
	uint64_t t0, next, end, stop = 0, hog0, hog1;
	pthread_t b, c;
	size_t sent = 0, nb;

	chain_cpu = atoi(argv[2]);
	prctl(PR_SET_TIMERSLACK, 1);
	if (pipe(pipe_ab) || pipe(pipe_bc))
		die("pipe");
	start_hogs(V, n, &chain_cpu, 1);
	pin_to_cpu(0, 0);
	if (pthread_create(&b, NULL, chain_b, NULL) || pthread_create(&c, NULL, chain_c, NULL))
		die("pthread_create");
	sleep_ns(20000000);
	hog0 = hogs_runtime();
	t0 = next = now_ns();
	end = t0 + secs * 1e9;
	while (now_ns() < end && sent < MAX_SAMPLES) {
		struct timespec ts;
		uint64_t t;

		next += PERIOD_NS;
		ts.tv_sec = next / 1000000000ull;
		ts.tv_nsec = next % 1000000000ull;
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
		t = now_ns();
		if (write(pipe_ab[1], &t, sizeof(t)) != sizeof(t))
			die("write");
		sent++;
		if (t > next + PERIOD_NS)
			next = t;
	}
	if (write(pipe_ab[1], &stop, sizeof(stop)) != sizeof(stop))
		die("write");
	pthread_join(b, NULL);
	pthread_join(c, NULL);
	hog1 = hogs_runtime();
	end = now_ns();
	stop_hogs();
	nb = sent < MAX_SAMPLES ? sent : MAX_SAMPLES;
	emit_head("chain");
	printf(",\"hogs\":%d,\"cpu\":%d,\"secs\":%.3f,\"sent\":%zu,\"hog_cpu\":%.4f",
	       n, chain_cpu, (end - t0) / 1e9, sent,
	       (double)(hog1 - hog0) / (end - t0));
	print_pcts("hop1_us", hop1, nb);
	print_pcts("chain_us", chain, nr_samples);
	printf("}\n");
	return nr_samples ? 0 : 1;
}

/* ---- tput: one CPU-bound online worker per CPU ---- */

struct worker {
	pthread_t th;
	int cpu;
	uint64_t end, ops, runtime, pct;
	volatile int *go;
	pid_t tid;
};

static uint64_t thread_cputime(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static void *tput_worker(void *arg)
{
	struct worker *w = arg;
	volatile uint64_t x = 0;
	uint64_t ops = 0, c0;

	pin_to_cpu(0, w->cpu);
	while (!*w->go)
		sched_yield();
	c0 = thread_cputime();
	for (;;) {
		int i;

		for (i = 0; i < 4096; i++)
			x = x * 6364136223846793005ull + 1442695040888963407ull;
		ops++;
		if (now_ns() >= w->end)
			break;
	}
	w->ops = ops;
	w->runtime = thread_cputime() - c0;
	return NULL;
}

static int cmd_tput(int argc, char **argv)
{
	int n = atoi(argv[1]), ncpu = nr_cpus(), i, cpus[256];
	double secs = atof(argv[2]);
	struct worker w[256];
	volatile int go = 0;
	uint64_t t0, t1, hog0, hog1, ops = 0, minops = ~0ull, run = 0;
	struct kstat k0, k1;

	if (ncpu > 256)
		ncpu = 256;
	for (i = 0; i < ncpu; i++)
		cpus[i] = i;
	start_hogs(V, n, cpus, ncpu);
	t0 = now_ns() + 20000000ull;
	for (i = 0; i < ncpu; i++) {
		w[i].cpu = i;
		w[i].go = &go;
		w[i].end = t0 + secs * 1e9;
		if (pthread_create(&w[i].th, NULL, tput_worker, &w[i]))
			die("pthread_create");
	}
	while (now_ns() < t0)
		sleep_ns(1000000);
	hog0 = hogs_runtime();
	read_kstat(&k0);
	go = 1;
	for (i = 0; i < ncpu; i++) {
		pthread_join(w[i].th, NULL);
		ops += w[i].ops;
		run += w[i].runtime;
		if (w[i].ops < minops)
			minops = w[i].ops;
	}
	t1 = now_ns();
	hog1 = hogs_runtime();
	read_kstat(&k1);
	stop_hogs();
	/*
	 * online_cpu: the workers' CPU time over their own window (go ->
	 * end), so the join afterwards does not count; hog_cpu covers go ->
	 * after the joins, when the hogs also get the CPUs the workers left.
	 */
	emit_head("tput");
	printf(",\"per_cpu\":%d,\"secs\":%.3f,\"ops\":%llu,\"min_cpu_ops\":%llu,"
	       "\"online_cpu\":%.4f,\"hog_cpu\":%.4f",
	       n, (t1 - t0) / 1e9, (unsigned long long)ops,
	       (unsigned long long)minops, (double)run / (secs * 1e9 * ncpu),
	       (double)(hog1 - hog0) / ((t1 - t0) * (double)ncpu));
	emit_kstat(&k0, &k1);
	printf("}\n");
	return 0;
}

/* ---- share: online duty PCT% per CPU, offline hogs soak up the rest ---- */

#define DUTY_NS 10000000ull

static void *duty_worker(void *arg)
{
	struct worker *w = arg;
	volatile uint64_t x = 0;
	uint64_t next, busy = DUTY_NS * w->pct / 100, c0;

	pin_to_cpu(0, w->cpu);
	w->tid = syscall(SYS_gettid);
	while (!*w->go)
		sleep_ns(1000000);
	c0 = thread_cputime();
	next = now_ns();
	while (next < w->end) {
		struct timespec ts;

		/*
		 * Busy for PCT% of each period of wall time. Not of CPU time:
		 * single-threaded TCG runs the vCPUs in turns of up to a
		 * quarter tick, so a thread's CPU clock jumps by milliseconds
		 * and a CPU-time budget would overshoot by as much.
		 */
		while (now_ns() < next + busy)
			for (int i = 0; i < 256; i++)
				x++;
		next += DUTY_NS;
		if (now_ns() > next)
			next = now_ns();	/* overran: no catching up */
		ts.tv_sec = next / 1000000000ull;
		ts.tv_nsec = next % 1000000000ull;
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
	}
	w->runtime = thread_cputime() - c0;
	return NULL;
}

static int cmd_share(int argc, char **argv)
{
	int pct = atoi(argv[1]), per_cpu = argc > 3 ? atoi(argv[3]) : 2;
	int ncpu = nr_cpus(), i, unpinned = -1;
	double secs = atof(argv[2]), spare, wall_cpu;
	struct worker w[256];
	volatile int go = 0;
	uint64_t t0, t1, hog0, hog1, online = 0;
	struct kstat k0, k1;

	if (ncpu > 256)
		ncpu = 256;
	for (i = 0; i < ncpu; i++)
		start_hogs(V, per_cpu, &unpinned, 1);
	t0 = now_ns() + 50000000ull;
	for (i = 0; i < ncpu; i++) {
		w[i].cpu = i;
		w[i].pct = pct;
		w[i].go = &go;
		w[i].end = t0 + secs * 1e9;
		if (pthread_create(&w[i].th, NULL, duty_worker, &w[i]))
			die("pthread_create");
	}
	while (now_ns() < t0)
		sleep_ns(1000000);
	hog0 = hogs_runtime();
	read_kstat(&k0);
	go = 1;
	for (i = 0; i < ncpu; i++) {
		pthread_join(w[i].th, NULL);
		online += w[i].runtime;
	}
	t1 = now_ns();
	hog1 = hogs_runtime();
	read_kstat(&k1);
	stop_hogs();
	wall_cpu = (double)(t1 - t0) * ncpu;
	spare = wall_cpu - online;
	emit_head("share");
	printf(",\"online_pct\":%d,\"hogs_per_cpu\":%d,\"secs\":%.3f,"
	       "\"online_cpu\":%.4f,\"online_demand_met\":%.4f,"
	       "\"offline_cpu\":%.4f,\"offline_of_spare\":%.4f,\"utilisation\":%.4f",
	       pct, V->policy < 0 ? 0 : per_cpu, (t1 - t0) / 1e9,
	       online / wall_cpu, online / (wall_cpu * pct / 100.0),
	       (hog1 - hog0) / wall_cpu,
	       spare > 0 ? (hog1 - hog0) / spare : 0.0,
	       (online + (hog1 - hog0)) / wall_cpu);
	emit_kstat(&k0, &k1);
	printf("}\n");
	return 0;
}

/* ---- steal: run_delay / wall of threads named PREFIX* ---- */

struct thr {
	pid_t pid, tid;
	char comm[32];
	uint64_t run0, delay0;
};

static int cmd_steal(int argc, char **argv)
{
	double secs = atof(argv[0]);
	const char *prefix = argc > 1 ? argv[1] : "CPU ";
	struct thr t[256];
	int n = 0, i;
	DIR *proc = opendir("/proc");
	struct dirent *p;
	uint64_t t0, t1;
	double sum = 0, max = 0;

	if (!proc)
		die("/proc");
	while ((p = readdir(proc)) && n < 256) {
		char path[300];
		DIR *task;
		struct dirent *q;

		if (p->d_name[0] < '1' || p->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/task", p->d_name);
		task = opendir(path);
		if (!task)
			continue;
		while ((q = readdir(task)) && n < 256) {
			char cpath[600], comm[64];
			size_t len;

			if (q->d_name[0] == '.')
				continue;
			snprintf(cpath, sizeof(cpath), "/proc/%s/task/%s/comm", p->d_name, q->d_name);
			if (read_file(cpath, comm, sizeof(comm)))
				continue;
			len = strlen(comm);
			if (len && comm[len - 1] == '\n')
				comm[len - 1] = 0;
			if (strncmp(comm, prefix, strlen(prefix)))
				continue;
			t[n].pid = atoi(p->d_name);
			t[n].tid = atoi(q->d_name);
			snprintf(t[n].comm, sizeof(t[n].comm), "%s", comm);
			n++;
		}
		closedir(task);
	}
	closedir(proc);
	t0 = now_ns();
	for (i = 0; i < n; i++)
		read_schedstat(t[i].tid, &t[i].run0, &t[i].delay0);
	sleep_ns(secs * 1e9);
	t1 = now_ns();
	emit_head("steal");
	printf(",\"secs\":%.3f,\"threads\":[", (t1 - t0) / 1e9);
	for (i = 0; i < n; i++) {
		uint64_t run = 0, delay = 0;
		double s;

		read_schedstat(t[i].tid, &run, &delay);
		s = (double)(delay - t[i].delay0) / (t1 - t0);
		sum += s;
		if (s > max)
			max = s;
		printf("%s{\"tid\":%d,\"comm\":\"%s\",\"steal\":%.4f,\"run\":%.4f}",
		       i ? "," : "", t[i].tid, t[i].comm, s,
		       (double)(run - t[i].run0) / (t1 - t0));
	}
	printf("],\"mean\":%.4f,\"max\":%.4f}\n", n ? sum / n : 0.0, max);
	return n ? 0 : 1;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: sobench hogs VARIANT N CPU | chain VARIANT N CPU SECS |\n"
		"       tput VARIANT N SECS | share VARIANT PCT SECS [H] | steal SECS [PREFIX]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *e = getenv("BENCH_ROUND");

	round_nr = e ? atoi(e) : 0;
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 3)
		usage();
	if (!strcmp(argv[1], "steal"))
		return cmd_steal(argc - 2, argv + 2);
	V = find_variant(argv[2]);
	if (!strcmp(argv[1], "hogs") && argc == 5)
		return cmd_hogs(argc - 2, argv + 2);
	if (!strcmp(argv[1], "chain") && argc == 6)
		return cmd_chain(argc - 2, argv + 2);
	if (!strcmp(argv[1], "tput") && argc == 5)
		return cmd_tput(argc - 2, argv + 2);
	if (!strcmp(argv[1], "share") && (argc == 5 || argc == 6))
		return cmd_share(argc - 2, argv + 2);
	usage();
	return 2;
}
