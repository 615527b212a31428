// SPDX-License-Identifier: GPL-2.0
/*
 * colo_demo: what SCHED_OFFLINE changes, in one table.
 *
 * For each way of running batch work (none, SCHED_NORMAL, SCHED_IDLE,
 * SCHED_OFFLINE), start HOGS CPU hogs and a timer-driven online probe
 * (1 ms period, SCHED_OTHER), all pinned to the last CPU, for SECONDS.
 * Print the probe's wakeup latency percentiles and the share of that CPU
 * the batch work got. Runs in the guest; numbers are only comparable
 * within a boot. (Hogs on every vCPU of a single-threaded TCG guest make
 * vCPUs wait for each other's turn, which would swamp what is measured.)
 *
 *   colo_demo [SECONDS [HOGS]]
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
	int nr_hogs = argc > 2 ? atoi(argv[2]) : 4;
	int ncpu = nr_cpus(), probe_cpu = ncpu - 1, c, i;
	bool have_offline = sched_offline_present();

	prctl(PR_SET_TIMERSLACK, 1);
	printf("%d hog(s) and the probe on CPU %d, %.1f s per case%s\n\n",
	       nr_hogs, probe_cpu, seconds,
	       have_offline ? "" : " (kernel without SCHED_OFFLINE: that row is skipped)");
	printf("%-15s %9s %9s %9s %11s\n", "batch work as", "p50 us",
	       "p99 us", "max us", "batch CPU");
	for (c = 0; c < NR_CASES; c++) {
		pid_t hogs[MAX_HOGS];
		int nhogs = 0;
		uint64_t before = 0, after = 0, t0, t, next, wall, p50, p99, max;
		size_t n = 0;

		if (c == OFFLINE && !have_offline)
			continue;
		if (c != NONE)
			for (i = 0; i < nr_hogs && nhogs < MAX_HOGS; i++)
				hogs[nhogs++] = spawn_hog(probe_cpu, policy[c], 0);
		sleep_ns(50000000);
		for (i = 0; i < nhogs; i++)
			before += task_runtime(hogs[i]);

		pin_to_cpu(0, probe_cpu);
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
		kill_all(hogs, nhogs);
		pin_to_cpu(0, 0);

		p50 = permille(lat, n, 500);
		p99 = permille(lat, n, 990);
		max = lat[n - 1];
		printf("%-15s %9llu %9llu %9llu %10.1f%%\n", name[c],
		       (unsigned long long)p50 / 1000,
		       (unsigned long long)p99 / 1000,
		       (unsigned long long)max / 1000,
		       100.0 * (after - before) / wall);
	}
	printf("\nbatch CPU: share of CPU %d the hogs got while the probe ran there.\n",
	       probe_cpu);
	return 0;
}
