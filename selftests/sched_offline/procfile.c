// SPDX-License-Identifier: GPL-2.0
/*
 * /proc/sched_offline is world-readable: a user who reads it in a loop
 * must not slow down the scheduling of anybody else. A 1 ms timer probe
 * runs on the last CPU beside offline hogs; every other CPU runs a loop
 * that reads the file every READ_GAP_NS, or the same loop reading
 * /proc/stat, a per-CPU file of the same kind that takes no run queue
 * lock. (Under single-threaded TCG a busier vCPU delays the others' timers
 * whatever it does, so the control must cost about what a read costs.)
 * Both cases run in one boot, interleaved, and the probe's p99 wakeup
 * latency beside the readers must stay within a wide margin of the one
 * beside the control.
 */
#include <stdatomic.h>
#include <sys/mman.h>
#include "offline_util.h"
#include "kselftest_harness.h"

#define PERIOD_NS	1000000ull
#define WINDOW_NS	1000000000ull
#define ROUNDS		3
#define MAX_SAMPLES	(ROUNDS * (WINDOW_NS / PERIOD_NS) + 16)
#define MAX_CPUS	64
#define READ_GAP_NS	200000ull

enum { STAT, READ, NR_CASES };
static const char * const case_name[] = { "/proc/stat readers", "/proc/sched_offline readers" };

/* A loop on @cpu that reads /proc/sched_offline (@reader) or /proc/stat */
static pid_t spawn_loop(int cpu, bool reader, _Atomic uint64_t *loops)
{
	pid_t pid = fork();
	char buf[4096];

	if (pid)
		return pid;
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (pin_to_cpu(0, cpu))
		_exit(2);
	for (;;) {
		int fd = open(reader ? "/proc/sched_offline" : "/proc/stat",
			      O_RDONLY);

		if (fd < 0)
			_exit(3);
		while (read(fd, buf, sizeof(buf)) > 0)
			;
		close(fd);
		atomic_fetch_add(loops, 1);
		sleep_ns(READ_GAP_NS);
	}
}

TEST(readers_do_not_delay_wakeups)
{
	static uint64_t v[NR_CASES][MAX_SAMPLES];
	size_t n[NR_CASES] = { 0 };
	uint64_t p99[NR_CASES], reads = 0;
	_Atomic uint64_t *loops;
	int cpus = nr_cpus(), probe_cpu = cpus - 1, r, c, i;
	pid_t hogs[2], loop[MAX_CPUS];

	if (!sched_offline_expected())
		SKIP(return, "kernel built without SCHED_OFFLINE");
	ASSERT_LE(2, cpus);
	ASSERT_GE(MAX_CPUS, cpus);
	loops = mmap(NULL, sizeof(*loops), PROT_READ | PROT_WRITE,
		     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, loops);

	/* Offline work on the probe's CPU: the file has something to say */
	hogs[0] = spawn_hog(probe_cpu, SCHED_OFFLINE, 0);
	hogs[1] = spawn_hog(probe_cpu, SCHED_OFFLINE, 0);
	for (r = 0; r < ROUNDS; r++) {
		for (c = 0; c < NR_CASES; c++) {
			int k = (c + r) % NR_CASES;
			uint64_t before = atomic_load(loops);

			for (i = 0; i < probe_cpu; i++)
				loop[i] = spawn_loop(i, k == READ, loops);
			sleep_ns(50000000);
			timer_probe(probe_cpu, WINDOW_NS, PERIOD_NS, v[k], &n[k],
				    MAX_SAMPLES);
			kill_all(loop, probe_cpu);
			if (k == READ)
				reads += atomic_load(loops) - before;
		}
	}
	kill_all(hogs, 2);

	for (c = 0; c < NR_CASES; c++) {
		/* The probe ran (a lockdep kernel under TCG misses many) */
		ASSERT_LT(ROUNDS * WINDOW_NS / PERIOD_NS / 8, n[c]);
		p99[c] = permille(v[c], n[c], 990);
		TH_LOG("probe beside %s: p50 %llu us, p99 %llu us, %zu wakeups",
		       case_name[c], (unsigned long long)permille(v[c], n[c], 500) / 1000,
		       (unsigned long long)p99[c] / 1000, n[c]);
	}
	TH_LOG("%llu reads of /proc/sched_offline in %d s", (unsigned long long)reads,
	       ROUNDS);
	/* The readers read: the case is what it claims */
	EXPECT_LT(100, reads);
	/* Wide: lockdep kernels under TCG swing hundreds of us either way */
	EXPECT_GE(p99[STAT] * 2 + 200000, p99[READ]);
}

TEST_HARNESS_MAIN
