// SPDX-License-Identifier: GPL-2.0
/*
 * pipe_pingpong: the scheduler hot-path probe of `perf bench sched pipe`.
 * Two processes pinned to one CPU bounce a byte through two pipes, so
 * every round trip is two wakeups and two context switches through the
 * fair fast path of __pick_next_task(). Prints the time per round trip.
 *
 * In a guest run with -icount, guest time follows the instructions
 * executed, so the figure is an instruction count in disguise: compare
 * kernels (and an A/A pair) booted the same way.
 *
 *   pipe_pingpong [ROUND_TRIPS [REPEATS [CPU]]]
 */
#include "../../selftests/sched_offline/offline_util.h"

static void bounce(int in, int out, long n, bool first)
{
	char c = 0;

	while (n--) {
		if (first && write(out, &c, 1) != 1)
			_exit(1);
		if (read(in, &c, 1) != 1)
			_exit(1);
		if (!first && write(out, &c, 1) != 1)
			_exit(1);
	}
}

int main(int argc, char **argv)
{
	long loops = argc > 1 ? atol(argv[1]) : 100000;
	int repeats = argc > 2 ? atoi(argv[2]) : 5;
	int cpu = argc > 3 ? atoi(argv[3]) : 0;
	int r;

	pin_to_cpu(0, cpu);
	for (r = 0; r < repeats; r++) {
		int ab[2], ba[2], status;
		uint64_t t0, t;
		pid_t pid;

		if (pipe(ab) || pipe(ba))
			return 1;
		t0 = now_ns();
		pid = fork();
		if (pid == 0) {
			bounce(ab[0], ba[1], loops, false);
			_exit(0);
		}
		bounce(ba[0], ab[1], loops, true);
		waitpid(pid, &status, 0);
		t = now_ns() - t0;
		printf("pipe_pingpong round %d: %ld round trips, %.3f us/round trip\n",
		       r, loops, t / 1000.0 / loops);
		close(ab[0]);
		close(ab[1]);
		close(ba[0]);
		close(ba[1]);
	}
	return 0;
}
