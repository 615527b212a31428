// SPDX-License-Identifier: GPL-2.0
/*
 * schedlat: run-queue latency histograms per scheduling class (wakeup ->
 * running), and run-queue wait ("steal") per vCPU thread, from BPF
 * programs on the sched tracepoints (libbpf, no BTF needed).
 *
 *   schedlat [-d SECONDS] [-i MS] [-p PREFIX] [--json] [-v]
 *
 * Runs until SIGINT/SIGTERM or for SECONDS; then prints a log2 histogram
 * per class that had wakeups, and the steal (time runnable but not
 * running / wall time) of every thread whose name starts with PREFIX
 * (default "CPU ", QEMU's "CPU N/KVM" vCPU threads). --json prints the same
 * as one JSON object. The class of each task comes from sched_getscheduler()
 * of every thread in /proc, refreshed every MS milliseconds (default 100):
 * the kernel's prio cannot tell SCHED_OFFLINE from SCHED_OTHER. Wakeups of
 * tasks not resolved yet count as "unknown".
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <sched.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "schedlat.h"
#include "schedlat.skel.h"

#define PID_LIMIT	(1 << 22)	/* pid_max's ceiling */
#define MAX_VCPUS	1024

static const char * const class_name[SL_NR_CLASSES] = {
	"unknown", "fair", "idle", "rt", "deadline", "ext", "offline",
};
static const char * const kind_name[SL_NR_KINDS] = { "wakeup", "preempted" };

static struct {
	double duration;
	int interval_ms;
	bool json, verbose;
	const char *prefix;
} opt = { 0, 100, false, false, "CPU " };

static volatile sig_atomic_t stop;
static unsigned char cls_cache[PID_LIMIT];	/* class + 1; 0: not set */

struct vcpu {
	int pid, tid;
	char comm[32];
};
static struct vcpu vcpus[MAX_VCPUS];
static int nr_vcpus;

static void on_signal(int sig) { stop = 1; }

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_DEBUG || (level == LIBBPF_WARN && !opt.verbose))
		return 0;
	return vfprintf(stderr, fmt, ap);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int class_of_policy(int policy)
{
	switch (policy & ~0x40000000 /* SCHED_RESET_ON_FORK */) {
	case 0: case 3: return SL_FAIR;		/* OTHER, BATCH */
	case 5: return SL_IDLE;
	case 1: case 2: return SL_RT;		/* FIFO, RR */
	case 6: return SL_DL;
	case 7: return SL_EXT;
	case 8: return SL_OFFLINE;
	default: return SL_UNKNOWN;
	}
}

static int read_line(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");
	size_t n;

	if (!f)
		return -1;
	if (!fgets(buf, len, f)) {
		fclose(f);
		return -1;
	}
	fclose(f);
	n = strlen(buf);
	if (n && buf[n - 1] == '\n')
		buf[n - 1] = 0;
	return 0;
}

static bool known_vcpu(int tid)
{
	for (int i = 0; i < nr_vcpus; i++)
		if (vcpus[i].tid == tid)
			return true;
	return false;
}

/* Resolve the class of every thread into the cls map; note vCPU threads */
static void scan_tasks(int cls_fd)
{
	DIR *proc = opendir("/proc");
	struct dirent *p;

	if (!proc)
		return;
	while ((p = readdir(proc))) {
		char path[300];
		struct dirent *t;
		DIR *task;
		int pid = atoi(p->d_name);

		if (pid <= 0)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task", pid);
		task = opendir(path);
		if (!task)
			continue;
		while ((t = readdir(task))) {
			int tid = atoi(t->d_name), policy, c;
			__u32 key = tid;
			__u8 val;

			if (tid <= 0 || tid >= PID_LIMIT)
				continue;
			policy = sched_getscheduler(tid);
			if (policy < 0)
				continue;
			c = class_of_policy(policy);
			if (cls_cache[tid] != c + 1) {
				val = c;
				if (!bpf_map_update_elem(cls_fd, &key, &val, BPF_ANY))
					cls_cache[tid] = c + 1;
			}
			if (opt.prefix[0] && nr_vcpus < MAX_VCPUS && !known_vcpu(tid)) {
				char comm[64];

				snprintf(path, sizeof(path), "/proc/%d/task/%d/comm", pid, tid);
				if (!read_line(path, comm, sizeof(comm)) &&
				    !strncmp(comm, opt.prefix, strlen(opt.prefix))) {
					vcpus[nr_vcpus].pid = pid;
					vcpus[nr_vcpus].tid = tid;
					snprintf(vcpus[nr_vcpus].comm, sizeof(vcpus[0].comm), "%s", comm);
					nr_vcpus++;
				}
			}
		}
		closedir(task);
	}
	closedir(proc);
}

/*
 * The context structs of schedlat.bpf.c are written from the 6.12 format
 * files: refuse to run on a kernel whose layout differs.
 */
static const char *tracefs(void)
{
	static const char * const dirs[] = { "/sys/kernel/tracing", "/sys/kernel/debug/tracing" };
	struct stat st;

	for (int i = 0; i < 2; i++) {
		char p[128];

		snprintf(p, sizeof(p), "%s/events/sched", dirs[i]);
		if (!stat(p, &st))
			return dirs[i];
	}
	/* not mounted: try (the busybox guest mounts it in /init) */
	if (!mount("nodev", "/sys/kernel/tracing", "tracefs", 0, NULL) &&
	    !stat("/sys/kernel/tracing/events/sched", &st))
		return "/sys/kernel/tracing";
	return NULL;
}

static int field_offset(const char *dir, const char *event, const char *field)
{
	char path[256], line[512], want[96];
	FILE *f;
	int off = -1;

	snprintf(path, sizeof(path), "%s/events/sched/%s/format", dir, event);
	f = fopen(path, "r");
	if (!f)
		return -1;
	snprintf(want, sizeof(want), " %s;", field);
	while (fgets(line, sizeof(line), f)) {
		char *o = strstr(line, "offset:");

		if (strstr(line, want) && o) {
			off = atoi(o + 7);
			break;
		}
	}
	fclose(f);
	return off;
}

static int check_layout(void)
{
	static const struct { const char *ev, *field; int off; } want[] = {
		{ "sched_wakeup", "pid", 24 },
		{ "sched_wakeup_new", "pid", 24 },
		{ "sched_switch", "prev_pid", 24 },
		{ "sched_switch", "prev_state", 32 },
		{ "sched_switch", "next_pid", 56 },
		{ "sched_switch", "next_prio", 60 },
	};
	const char *dir = tracefs();

	if (!dir) {
		fprintf(stderr, "schedlat: no tracefs (mount -t tracefs nodev /sys/kernel/tracing)\n");
		return -1;
	}
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		int off = field_offset(dir, want[i].ev, want[i].field);

		if (off != want[i].off) {
			fprintf(stderr, "schedlat: %s.%s is at offset %d in this kernel, the BPF program expects %d\n",
				want[i].ev, want[i].field, off, want[i].off);
			return -1;
		}
	}
	return 0;
}

struct result {
	__u64 hist[SL_HIST_SIZE];
	struct sl_sum sum[SL_NR_KINDS * SL_NR_CLASSES];
	__u64 lost;
};

static void read_result(struct schedlat_bpf *skel, struct result *r)
{
	int hfd = bpf_map__fd(skel->maps.hist), sfd = bpf_map__fd(skel->maps.sum);
	__u32 k, zero = 0;

	memset(r, 0, sizeof(*r));
	for (k = 0; k < SL_HIST_SIZE; k++)
		bpf_map_lookup_elem(hfd, &k, &r->hist[k]);
	for (k = 0; k < SL_NR_KINDS * SL_NR_CLASSES; k++)
		bpf_map_lookup_elem(sfd, &k, &r->sum[k]);
	bpf_map_lookup_elem(bpf_map__fd(skel->maps.lost), &zero, &r->lost);
}

/* bucket b holds [lo, hi) microseconds */
static unsigned long long bucket_lo(int b) { return b ? 1ull << (b - 1) : 0; }
static unsigned long long bucket_hi(int b) { return 1ull << b; }

/* upper bound (us) of the bucket holding the q-quantile */
static unsigned long long hist_quantile(const __u64 *h, __u64 n, double q)
{
	__u64 need = (__u64)(q * n + 0.999999), s = 0;

	if (!need)
		need = 1;
	for (int b = 0; b < SL_NR_BUCKETS; b++) {
		s += h[b];
		if (s >= need)
			return bucket_hi(b);
	}
	return bucket_hi(SL_NR_BUCKETS - 1);
}

static const __u64 *hist_of(const struct result *r, int kind, int c)
{
	return &r->hist[(kind * SL_NR_CLASSES + c) * SL_NR_BUCKETS];
}

static void print_text(const struct result *r, double secs, int pstat_fd)
{
	printf("schedlat: %.2f s; run-queue latency, wakeup -> running, per class\n", secs);
	for (int c = 0; c < SL_NR_CLASSES; c++) {
		const struct sl_sum *s = &r->sum[SL_WAKEUP * SL_NR_CLASSES + c];
		const __u64 *h = hist_of(r, SL_WAKEUP, c);
		__u64 top = 0;
		int lo = SL_NR_BUCKETS, hi = 0;

		if (!s->count)
			continue;
		for (int b = 0; b < SL_NR_BUCKETS; b++)
			if (h[b]) {
				if (b < lo)
					lo = b;
				hi = b;
				if (h[b] > top)
					top = h[b];
			}
		printf("\nclass %s: %llu wakeups, mean %.1f us, p50 < %llu us, p99 < %llu us, max %.1f us\n",
		       class_name[c], s->count, s->sum_ns / 1e3 / s->count,
		       hist_quantile(h, s->count, 0.5), hist_quantile(h, s->count, 0.99),
		       s->max_ns / 1e3);
		printf("%22s : %-10s %s\n", "usecs", "count", "distribution");
		for (int b = lo; b <= hi; b++) {
			int stars = top ? (int)(40 * h[b] / top) : 0;
			char bar[41];

			memset(bar, '*', stars);
			bar[stars] = 0;
			printf("%10llu -> %-9llu : %-10llu |%-40s|\n", bucket_lo(b),
			       bucket_hi(b) - 1, (unsigned long long)h[b], bar);
		}
	}
	printf("\nper-vCPU-thread steal (run-queue wait / wall time), threads named \"%s*\":\n", opt.prefix);
	if (!nr_vcpus)
		printf("  none\n");
	else
		printf("  %7s %7s  %-16s %8s %8s %10s\n", "pid", "tid", "comm", "steal", "waits", "max us");
	for (int i = 0; i < nr_vcpus; i++) {
		struct sl_pidstat ps = {};
		__u32 key = vcpus[i].tid;

		bpf_map_lookup_elem(pstat_fd, &key, &ps);
		printf("  %7d %7d  %-16s %7.2f%% %8llu %10.1f\n", vcpus[i].pid, vcpus[i].tid,
		       vcpus[i].comm, 100.0 * ps.wait_ns / (secs * 1e9), ps.waits, ps.max_ns / 1e3);
	}
	if (r->lost)
		printf("\n%llu events lost (map full)\n", (unsigned long long)r->lost);
}

static void json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			printf("\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			printf("\\u%04x", *s);
		else
			putchar(*s);
	}
	putchar('"');
}

static void print_json(const struct result *r, double secs, int pstat_fd)
{
	bool first = true;

	printf("{\"duration_s\":%.3f,\"bucket_unit\":\"us\",\"lost\":%llu,\"classes\":{",
	       secs, (unsigned long long)r->lost);
	for (int c = 0; c < SL_NR_CLASSES; c++) {
		bool any = false;

		for (int k = 0; k < SL_NR_KINDS; k++)
			any |= r->sum[k * SL_NR_CLASSES + c].count > 0;
		if (!any)
			continue;
		printf("%s\"%s\":{", first ? "" : ",", class_name[c]);
		first = false;
		for (int k = 0; k < SL_NR_KINDS; k++) {
			const struct sl_sum *s = &r->sum[k * SL_NR_CLASSES + c];
			const __u64 *h = hist_of(r, k, c);
			bool fb = true;

			printf("%s\"%s\":{\"count\":%llu,\"sum_ns\":%llu,\"max_ns\":%llu,"
			       "\"p50_us_below\":%llu,\"p99_us_below\":%llu,\"buckets\":[",
			       k ? "," : "", kind_name[k], s->count, s->sum_ns, s->max_ns,
			       s->count ? hist_quantile(h, s->count, 0.5) : 0,
			       s->count ? hist_quantile(h, s->count, 0.99) : 0);
			for (int b = 0; b < SL_NR_BUCKETS; b++) {
				if (!h[b])
					continue;
				printf("%s[%llu,%llu,%llu]", fb ? "" : ",", bucket_lo(b), bucket_hi(b),
				       (unsigned long long)h[b]);
				fb = false;
			}
			printf("]}");
		}
		printf("}");
	}
	printf("},\"vcpu_prefix\":");
	json_str(opt.prefix);
	printf(",\"vcpus\":[");
	for (int i = 0; i < nr_vcpus; i++) {
		struct sl_pidstat ps = {};
		__u32 key = vcpus[i].tid;

		bpf_map_lookup_elem(pstat_fd, &key, &ps);
		printf("%s{\"pid\":%d,\"tid\":%d,\"comm\":", i ? "," : "", vcpus[i].pid, vcpus[i].tid);
		json_str(vcpus[i].comm);
		printf(",\"steal\":%.6f,\"wait_ns\":%llu,\"waits\":%llu,\"max_wait_ns\":%llu}",
		       ps.wait_ns / (secs * 1e9), ps.wait_ns, ps.waits, ps.max_ns);
	}
	printf("]}\n");
}

static void usage(int rc)
{
	fprintf(rc ? stderr : stdout,
		"usage: schedlat [-d SECONDS] [-i MS] [-p PREFIX] [-j|--json] [-v]\n"
		"  -d, --duration S     stop after S seconds (default: at SIGINT/SIGTERM)\n"
		"  -i, --interval MS    refresh the per-task classes every MS ms (default 100)\n"
		"  -p, --vcpu-prefix P  steal of threads whose name starts with P (default \"CPU \")\n"
		"  -j, --json           one JSON object instead of text\n"
		"  -v, --verbose        libbpf warnings\n");
	exit(rc);
}

int main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "duration", required_argument, NULL, 'd' },
		{ "interval", required_argument, NULL, 'i' },
		{ "vcpu-prefix", required_argument, NULL, 'p' },
		{ "json", no_argument, NULL, 'j' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	struct schedlat_bpf *skel;
	struct result *r;
	double t0, t1;
	int c, err;

	while ((c = getopt_long(argc, argv, "d:i:p:jvh", lopts, NULL)) != -1) {
		switch (c) {
		case 'd': opt.duration = atof(optarg); break;
		case 'i': opt.interval_ms = atoi(optarg); break;
		case 'p': opt.prefix = optarg; break;
		case 'j': opt.json = true; break;
		case 'v': opt.verbose = true; break;
		case 'h': usage(0); break;
		default: usage(2);
		}
	}
	if (optind != argc || opt.interval_ms <= 0 || opt.duration < 0)
		usage(2);
	libbpf_set_print(libbpf_print);
	if (check_layout())
		return 1;
	skel = schedlat_bpf__open_and_load();
	if (!skel) {
		fprintf(stderr, "schedlat: cannot load the BPF programs: %s\n", strerror(errno));
		return 1;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	/* classes first, so the first wakeups already find them */
	scan_tasks(bpf_map__fd(skel->maps.cls));
	err = schedlat_bpf__attach(skel);
	if (err) {
		fprintf(stderr, "schedlat: cannot attach to the sched tracepoints: %s\n", strerror(-err));
		schedlat_bpf__destroy(skel);
		return 1;
	}
	t0 = now_s();
	while (!stop && (!opt.duration || now_s() - t0 < opt.duration)) {
		double left = opt.duration ? opt.duration - (now_s() - t0) : 1e9;
		double step = opt.interval_ms / 1e3;
		struct timespec ts;

		if (step > left)
			step = left > 0 ? left : 0;
		ts.tv_sec = (time_t)step;
		ts.tv_nsec = (long)((step - ts.tv_sec) * 1e9);
		nanosleep(&ts, NULL);
		scan_tasks(bpf_map__fd(skel->maps.cls));
	}
	t1 = now_s();
	schedlat_bpf__detach(skel);
	r = calloc(1, sizeof(*r));
	if (!r)
		return 1;
	read_result(skel, r);
	if (opt.json)
		print_json(r, t1 - t0, bpf_map__fd(skel->maps.pidstat));
	else
		print_text(r, t1 - t0, bpf_map__fd(skel->maps.pidstat));
	free(r);
	schedlat_bpf__destroy(skel);
	return 0;
}
