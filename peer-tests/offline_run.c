// SPDX-License-Identifier: GPL-2.0
/*
 * offline_run: put the offline class in the mix of a peer suite.
 *
 *   offline_run [-n HOGS] [-c] [-u UID] [-- CMD [ARGS...]]
 *
 * Starts HOGS CPU hogs (default: one per CPU, not pinned) in SCHED_OFFLINE
 * and, with CMD, runs CMD beside them (-c: CMD itself in SCHED_OFFLINE too,
 * inherited by what it forks; -u: CMD as that uid/gid, e.g. 65534), waits
 * for it and stops the hogs.  Without CMD the hogs run until a signal.
 *
 * On a kernel booted with sched_offline_expect=0 (no SCHED_OFFLINE: the
 * unpatched or =n kernel, see scripts/vmtest) policy 8 must be refused with
 * EINVAL and SCHED_IDLE stands in, so the same suite runs there as the
 * baseline.  On any other kernel a refused policy 8 is a failure.
 *
 * Prints "# offline_run: ..." lines (TAP comments).  Exit status: CMD's
 * (128 + signal when killed), or 1 when the hogs could not be set up, died,
 * left their policy, or got no CPU time at all.
 */
#include <errno.h>
#include <grp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SCHED_IDLE_	5
#define SCHED_OFFLINE_	8
#define MAX_HOGS	256

struct attr {
	uint32_t size, policy;
	uint64_t flags;
	int32_t nice;
	uint32_t prio;
	uint64_t runtime, deadline, period;
	uint32_t util_min, util_max;
};

static int set_policy(pid_t pid, int policy)
{
	struct attr a = { .size = sizeof(a), .policy = policy };

	errno = 0;
	a.nice = getpriority(PRIO_PROCESS, pid);
	if (a.nice == -1 && errno)
		return -1;
	return syscall(SYS_sched_setattr, pid, &a, 0);
}

static int get_policy(pid_t pid)
{
	struct attr a = { 0 };

	if (syscall(SYS_sched_getattr, pid, &a, sizeof(a), 0))
		return -1;
	return a.policy;
}

static uint64_t runtime_ns(pid_t pid)
{
	char path[64];
	unsigned long long run = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/schedstat", pid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	if (fscanf(f, "%llu", &run) != 1)
		run = 0;
	fclose(f);
	return run;
}

static int expected(void)
{
	const char *e = getenv("sched_offline_expect");

	return !e || strcmp(e, "0") != 0;
}

static pid_t hogs[MAX_HOGS];
static int nhogs;

static void stop_hogs(void)
{
	int i;

	for (i = 0; i < nhogs; i++)
		if (hogs[i] > 0)
			kill(hogs[i], SIGKILL);
	for (i = 0; i < nhogs; i++)
		if (hogs[i] > 0)
			waitpid(hogs[i], NULL, 0);
}

static volatile sig_atomic_t stop;
static void on_signal(int sig) { (void)sig; stop = 1; }

int main(int argc, char **argv)
{
	int n = (int)sysconf(_SC_NPROCESSORS_ONLN), in_class = 0, opt, i;
	int policy = SCHED_OFFLINE_, rc = 0, status, failed = 0;
	long uid = -1;
	const char *pname = "SCHED_OFFLINE";
	uint64_t total = 0, least = UINT64_MAX;
	pid_t cmd = 0;

	while ((opt = getopt(argc, argv, "n:cu:")) != -1) {
		switch (opt) {
		case 'n': n = atoi(optarg); break;
		case 'c': in_class = 1; break;
		case 'u': uid = atol(optarg); break;
		default:
			fprintf(stderr, "usage: offline_run [-n HOGS] [-c] [-u UID] [-- CMD...]\n");
			return 2;
		}
	}
	if (n < 0 || n > MAX_HOGS)
		n = MAX_HOGS;

	/* Which class: policy 8 must work exactly when the kernel has it. */
	if (set_policy(0, SCHED_OFFLINE_) == 0) {
		if (!expected()) {
			printf("# offline_run: policy 8 accepted but sched_offline_expect=0\n");
			return 1;
		}
	} else if (errno == EINVAL && !expected()) {
		policy = SCHED_IDLE_;
		pname = "SCHED_IDLE (no SCHED_OFFLINE on this kernel)";
	} else {
		printf("# offline_run: sched_setattr(SCHED_OFFLINE): %s\n", strerror(errno));
		return 1;
	}
	/* back to SCHED_OTHER for this process; children choose their own */
	{
		struct attr a = { .size = sizeof(a), .policy = 0 };

		if (syscall(SYS_sched_setattr, 0, &a, 0)) {
			printf("# offline_run: back to SCHED_OTHER: %s\n", strerror(errno));
			return 1;
		}
	}
	printf("# offline_run: %d hog(s) in %s%s\n", n, pname,
	       optind < argc ? (in_class ? ", command in that class too" : ", command in SCHED_OTHER") : "");
	fflush(stdout);

	for (i = 0; i < n; i++) {
		pid_t pid = fork();

		if (pid < 0) {
			perror("fork");
			stop_hogs();
			return 1;
		}
		if (pid == 0) {
			volatile unsigned long spin = 0;

			prctl(PR_SET_PDEATHSIG, SIGKILL);
			if (set_policy(0, policy))
				_exit(3);
			for (;;)
				spin++;
		}
		hogs[nhogs++] = pid;
	}

	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);

	if (optind < argc) {
		cmd = fork();
		if (cmd < 0) {
			perror("fork");
			stop_hogs();
			return 1;
		}
		if (cmd == 0) {
			signal(SIGINT, SIG_DFL);
			signal(SIGTERM, SIG_DFL);
			if (in_class && set_policy(0, policy)) {
				perror("offline_run: command's policy");
				_exit(126);
			}
			if (uid >= 0 && (setgroups(0, NULL) || setgid(uid) || setuid(uid))) {
				perror("offline_run: dropping privileges");
				_exit(126);
			}
			execvp(argv[optind], argv + optind);
			perror(argv[optind]);
			_exit(127);
		}
		while (waitpid(cmd, &status, 0) < 0) {
			if (errno != EINTR) {
				perror("waitpid");
				status = 1 << 8;
				break;
			}
			if (stop)
				kill(cmd, SIGTERM);
		}
		rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
		printf("# offline_run: command exited %s %d\n",
		       WIFEXITED(status) ? "with" : "on signal",
		       WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
	} else {
		while (!stop)
			pause();
	}

	/* the hogs must still be there, in their class, and have run */
	for (i = 0; i < nhogs; i++) {
		uint64_t r = runtime_ns(hogs[i]);
		int p = get_policy(hogs[i]);

		if (waitpid(hogs[i], &status, WNOHANG) == hogs[i]) {
			printf("# offline_run: hog %d died (status 0x%x)\n", hogs[i], status);
			hogs[i] = 0;
			failed = 1;
			continue;
		}
		if (p != policy) {
			printf("# offline_run: hog %d has policy %d, not %d\n", hogs[i], p, policy);
			failed = 1;
		}
		total += r;
		if (r < least)
			least = r;
	}
	if (nhogs)
		printf("# offline_run: hogs ran %.3f s in all, the least one %.3f s\n",
		       total / 1e9, least == UINT64_MAX ? 0.0 : least / 1e9);
	if (nhogs && total == 0) {
		printf("# offline_run: the hogs never ran\n");
		failed = 1;
	}
	stop_hogs();
	fflush(stdout);
	if (failed)
		return rc ? rc : 1;
	return rc;
}
