// SPDX-License-Identifier: GPL-2.0
/*
 * offlinectl-e2e-helper: the actors of the agent end-to-end test, one
 * static binary that agent_e2e.sh copies under the names it needs.
 *
 *   qemu-system-x86_64 [-name guest=N,debug-threads=on] [-smp N] [--duty B:S] [--pin]
 *       a fake VM: threads "CPU 0/KVM".."CPU N-1/KVM" run a duty cycle of
 *       B ms busy, S ms asleep (--pin: vCPU i on CPU i mod #CPUs, as a
 *       one-to-one binding would); plus an "IO mon_iothread" thread
 *   --mode hog [--threads N] [--cpu C]   busy loop (batch work), on CPU C
 *   --mode daemon                  1 ms of work every 20 ms (host daemon)
 *   --mode forkstorm --count N     fork N children that exit at once, then exit
 *   --comm NAME                    set the process name (prctl) first
 *   --qmp-listen PATH              (vm) a unix socket that never answers;
 *                                  each connection appends a line to PATH.log
 *   --anon                         (vm) vCPU threads keep the process name
 *   --exec-as UID ARGV0 PATH ARGS...  (first argument only) drop to UID
 *       (group too, no supplementary groups) and exec PATH with argv[0]
 *       ARGV0: an unprivileged user's `exec -a` for busybox sh
 *
 * Without --mode the role comes from the program name ("qemu" -> vm,
 * "hog" -> hog, anything else -> daemon).  Every role exits after
 * --timeout seconds (default 600) and when its parent dies.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <grp.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long busy_ms = 5, sleep_ms = 5;
static int pin_vcpus, anon_vcpus;
static const char *qmp_listen;

static void pin_to(long cpu)
{
	cpu_set_t set;
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	if (n < 1)
		n = 1;
	CPU_ZERO(&set);
	CPU_SET((int)(cpu % n), &set);
	sched_setaffinity(0, sizeof(set), &set); /* best effort */
}

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void spin_ms(long ms)
{
	long long end = now_ns() + ms * 1000000LL;
	volatile unsigned long x = 0;

	while (now_ns() < end)
		for (int i = 0; i < 1000; i++)
			x++;
}

static void sleep_for_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0)
		;
}

static void *vcpu_thread(void *arg)
{
	char name[16];

	snprintf(name, sizeof(name), "CPU %ld/KVM", (long)arg);
	if (!anon_vcpus)
		prctl(PR_SET_NAME, name, 0, 0, 0);
	if (pin_vcpus)
		pin_to((long)arg);
	for (;;) {
		spin_ms(busy_ms);
		sleep_for_ms(sleep_ms);
	}
	return NULL;
}

static void *io_thread(void *arg)
{
	(void)arg;
	prctl(PR_SET_NAME, "IO mon_iothread", 0, 0, 0);
	for (;;)
		sleep_for_ms(100);
	return NULL;
}

/* Accepts, logs, never says a word (a QMP monitor that hangs). */
static void *qmp_thread(void *arg)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	char logpath[4200];

	(void)arg;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", qmp_listen);
	snprintf(logpath, sizeof(logpath), "%s.log", qmp_listen);
	unlink(qmp_listen);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, 64)) {
		perror("--qmp-listen");
		return NULL;
	}
	for (;;) {
		int c = accept(fd, NULL, NULL);
		FILE *f;

		if (c < 0)
			continue;
		f = fopen(logpath, "a");
		if (f) {
			fprintf(f, "connection\n");
			fclose(f);
		}
		/* kept open, never answered */
	}
	return NULL;
}

static void *hog_thread(void *arg)
{
	volatile unsigned long x = 0;

	(void)arg;
	for (;;)
		x++;
	return NULL;
}

static void on_alarm(int sig)
{
	(void)sig;
	_exit(0);
}

int main(int argc, char **argv)
{
	const char *mode = NULL;
	const char *base = strrchr(argv[0], '/');
	long smp = 4, threads = 1, timeout = 600, cpu = -1;
	pthread_t t;

	const char *comm = NULL;
	long count = 1000;

	base = base ? base + 1 : argv[0];
	if (argc >= 5 && !strcmp(argv[1], "--exec-as")) {
		uid_t uid = (uid_t)strtoul(argv[2], NULL, 10);

		if (setgroups(0, NULL) || setgid(uid) || setuid(uid)) {
			perror("--exec-as");
			return 1;
		}
		const char *path = argv[4];

		argv[4] = argv[3]; /* argv[0] of the new program */
		execv(path, argv + 4);
		perror("execv");
		return 127;
	}
	for (int i = 1; i < argc; i++) {
		const char *next = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(argv[i], "--mode") && next)
			mode = argv[++i];
		else if (!strcmp(argv[i], "-smp") && next)
			smp = strtol(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--threads") && next)
			threads = strtol(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--cpu") && next)
			cpu = strtol(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--comm") && next)
			comm = argv[++i];
		else if (!strcmp(argv[i], "--qmp-listen") && next)
			qmp_listen = argv[++i];
		else if (!strcmp(argv[i], "--count") && next)
			count = strtol(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--anon"))
			anon_vcpus = 1;
		else if (!strcmp(argv[i], "--pin"))
			pin_vcpus = 1;
		else if (!strcmp(argv[i], "--timeout") && next)
			timeout = strtol(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--duty") && next) {
			if (sscanf(argv[++i], "%ld:%ld", &busy_ms, &sleep_ms) != 2) {
				fprintf(stderr, "--duty BUSY_MS:SLEEP_MS\n");
				return 2;
			}
		}
	}
	if (!mode)
		mode = strstr(base, "qemu") ? "vm" : strstr(base, "hog") ? "hog" : "daemon";
	if (smp < 1 || smp > 256 || threads < 1 || threads > 256 || busy_ms < 0 || sleep_ms < 0) {
		fprintf(stderr, "bad arguments\n");
		return 2;
	}

	if (comm)
		prctl(PR_SET_NAME, comm, 0, 0, 0);
	prctl(PR_SET_PDEATHSIG, SIGTERM, 0, 0, 0);
	signal(SIGALRM, on_alarm);
	alarm((unsigned)timeout);

	if (!strcmp(mode, "vm")) {
		if (qmp_listen && pthread_create(&t, NULL, qmp_thread, NULL))
			return 1;
		for (long i = 0; i < smp; i++)
			if (pthread_create(&t, NULL, vcpu_thread, (void *)i))
				return 1;
		if (pthread_create(&t, NULL, io_thread, NULL))
			return 1;
		for (;;)
			pause();
	} else if (!strcmp(mode, "hog")) {
		if (cpu >= 0)
			pin_to(cpu);
		for (long i = 1; i < threads; i++)
			if (pthread_create(&t, NULL, hog_thread, NULL))
				return 1;
		hog_thread(NULL);
	} else if (!strcmp(mode, "forkstorm")) {
		for (long i = 0; i < count; i++) {
			pid_t c = fork();

			if (c == 0)
				_exit(0);
			if (c < 0)
				sleep_for_ms(1);
			while (waitpid(-1, NULL, WNOHANG) > 0)
				;
		}
		while (wait(NULL) > 0)
			;
		return 0;
	} else if (!strcmp(mode, "daemon")) {
		for (;;) {
			spin_ms(1);
			sleep_for_ms(20);
		}
	}
	fprintf(stderr, "unknown mode %s\n", mode);
	return 2;
}
