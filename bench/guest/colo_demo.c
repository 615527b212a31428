// SPDX-License-Identifier: GPL-2.0
/*
 * colo_demo: what SCHED_OFFLINE changes, in one table.
 *
 * For each way of running batch work (none, SCHED_NORMAL, SCHED_IDLE,
 * SCHED_OFFLINE), start HOGS CPU hogs on every CPU and a timer-driven
 * online probe (1 ms period, SCHED_OTHER) pinned to the last CPU, for
 * SECONDS. Print the probe's wakeup latency percentiles and the CPU the
 * batch work got, as a share of all CPUs and of the time the online side
 * left free. Runs in the guest; numbers are only comparable within a boot.
 *
 *   colo_demo [SECONDS [HOGS_PER_CPU]]
 */
#include "../../selftests/sched_offline/offline_util.h"

#define PERIOD_NS	1000000ull
#define MAX_HOGS	256

enum { NONE, NORMAL, IDLE, OFFLINE, NR_CASES };
static const char * const name[] = {
	"no batch work", "SCHED_NORMAL", "SCHED_IDLE", "SCHED_OFFLINE",
};
static const int policy[] = { -1, SCHED_OTHER, SCHED_IDLE, SCHED_OFFLINE };

static uint64_t lat[200000];

int main(int argc, char **argv)
{
	double seconds = argc > 1 ? atof(argv[1]) : 2.0;
	int per_cpu = argc > 2 ? atoi(argv[2]) : 2;
	int ncpu = nr_cpus(), probe_cpu = ncpu - 1, c, i;
	bool have_offline = sched_offline_present();

	prctl(PR_SET_TIMERSLACK, 1);
	printf("%d CPUs, %d hog(s) per CPU, probe on CPU %d, %.1f s per case%s\n\n",
	       ncpu, per_cpu, probe_cpu, seconds,
	       have_offline ? "" : " (kernel without SCHED_OFFLINE: that row is skipped)");
	printf("%-15s %9s %9s %9s %11s %13s\n", "batch work as", "p50 us",
	       "p99 us", "max us", "batch CPU", "probe CPU");
	for (c = 0; c < NR_CASES; c++) {
		pid_t hogs[MAX_HOGS];
		int nhogs = 0;
		uint64_t before = 0, after = 0, t0, t, next, wall, probe0;
		size_t n = 0;

		if (c == OFFLINE && !have_offline)
			continue;
		if (c != NONE)
			for (i = 0; i < ncpu * per_cpu && nhogs < MAX_HOGS; i++)
				hogs[nhogs++] = spawn_hog(i % ncpu, policy[c], 0);
		sleep_ns(50000000);
		for (i = 0; i < nhogs; i++)
			before += task_runtime(hogs[i]);

		pin_to_cpu(0, probe_cpu);
		probe0 = task_runtime(getpid());
		t0 = next = now_ns();
		while ((t = now_ns()) - t0 < seconds * 1e9 && n < 200000) {
			struct timespec ts;

			next += PERIOD_NS;
			ts.tv_sec = next / 1000000000ull;
			ts.tv_nsec = next % 1000000000ull;
			clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
			t = now_ns();
			lat[n++] = t > next ? t - next : 0;
			if (t > next + PERIOD_NS)
				next = t;
		}
		wall = now_ns() - t0;
		for (i = 0; i < nhogs; i++)
			after += task_runtime(hogs[i]);
		probe0 = task_runtime(getpid()) - probe0;
		kill_all(hogs, nhogs);

		printf("%-15s %9llu %9llu %9llu %10.1f%% %12.2f%%\n", name[c],
		       (unsigned long long)permille(lat, n, 500) / 1000,
		       (unsigned long long)permille(lat, n, 990) / 1000,
		       (unsigned long long)lat[n - 1] / 1000,
		       100.0 * (after - before) / ((double)wall * ncpu),
		       100.0 * probe0 / wall);
	}
	printf("\nbatch CPU: share of all CPUs the hogs got; probe CPU: the online task's own use.\n");
	return 0;
}
