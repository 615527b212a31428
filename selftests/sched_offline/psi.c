// SPDX-License-Identifier: GPL-2.0
/*
 * /proc/sys/kernel/sched_offline_psi: with 0 (the default) an offline task
 * that waits for its CPU is not CPU pressure; with 1 it is, as any
 * runnable task is.
 *
 * One CPU runs an online hog and offline hogs behind it; the guest's
 * other CPUs stay idle, so the system-wide "some" figure of
 * /proc/pressure/cpu is that CPU's: near 100% of the window while the
 * waiting offline hogs count, near 0 while they do not. Both phases run
 * in the same boot, and the sysctl flips while the hogs wait, which also
 * checks that PSI's per-task state stays consistent across the flip (the
 * kernel logs "psi: inconsistent task state!" otherwise).
 */
#include "offline_util.h"
#include "kselftest_harness.h"

#define SYSCTL		"/proc/sys/kernel/sched_offline_psi"
#define PRESSURE	"/proc/pressure/cpu"
#define NR_OFFLINE	3
#define WINDOW_NS	1000000000ull

/* The "some" line's total= field: microseconds of CPU pressure so far */
static long long some_total_us(void)
{
	char buf[256], *p;

	if (read_file(PRESSURE, buf, sizeof(buf)))
		return -1;
	p = strstr(buf, "total=");
	return p ? atoll(p + 6) : -1;
}

/* Pressure over one window, in permille of the window */
static long long pressure_permille(void)
{
	long long t0 = some_total_us(), t1;

	sleep_ns(WINDOW_NS);
	t1 = some_total_us();
	if (t0 < 0 || t1 < 0)
		return -1;
	return (t1 - t0) * 1000 / (long long)(WINDOW_NS / 1000);
}

/*
 * Pressure after a sysctl flip: waiting tasks change accounting at their
 * next run, so let each offline hog run once (stop @online a moment).
 */
static long long pressure_after_flip(pid_t online)
{
	kill(online, SIGSTOP);
	sleep_ns(WINDOW_NS / 10);
	kill(online, SIGCONT);
	sleep_ns(WINDOW_NS / 5);
	return pressure_permille();
}

/* Whether the kernel log holds a PSI consistency complaint */
static bool psi_complained(void)
{
	char rec[1024];
	bool found = false;
	int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK);
	ssize_t n;

	if (fd < 0)
		return false;
	while ((n = read(fd, rec, sizeof(rec) - 1)) > 0 || (n < 0 && errno == EPIPE)) {
		if (n <= 0)
			continue;
		rec[n] = 0;
		if (strstr(rec, "psi: inconsistent task state"))
			found = true;
	}
	close(fd);
	return found;
}

TEST(waiting_offline_tasks_by_sysctl)
{
	int cpu = nr_cpus() - 1, i;
	long long hidden, shown, hidden_again, alone;
	pid_t online, offline[NR_OFFLINE];
	char old[16];

	if (!sched_offline_expected())
		SKIP(return, "kernel built without SCHED_OFFLINE");
	if (access(SYSCTL, F_OK))
		SKIP(return, "no %s", SYSCTL);
	if (some_total_us() < 0)
		SKIP(return, "no %s (CONFIG_PSI off or psi=0)", PRESSURE);
	ASSERT_LT(1, nr_cpus());
	ASSERT_EQ(0, read_file(SYSCTL, old, sizeof(old)));
	pin_to_cpu(0, 0);

	ASSERT_EQ(0, write_file(SYSCTL, "0"));
	online = spawn_hog(cpu, SCHED_OTHER, 0);
	sleep_ns(WINDOW_NS / 5);
	/* An online hog alone: no task waits, the baseline */
	alone = pressure_permille();

	for (i = 0; i < NR_OFFLINE; i++)
		offline[i] = spawn_hog(cpu, SCHED_OFFLINE, 0);
	sleep_ns(WINDOW_NS / 5);
	hidden = pressure_permille();

	ASSERT_EQ(0, write_file(SYSCTL, "1"));
	shown = pressure_after_flip(online);
	ASSERT_EQ(0, write_file(SYSCTL, "0"));
	hidden_again = pressure_after_flip(online);

	EXPECT_FALSE(child_failed(online));
	for (i = 0; i < NR_OFFLINE; i++)
		EXPECT_FALSE(child_failed(offline[i]));
	kill_all(offline, NR_OFFLINE);
	kill_all(&online, 1);
	write_file(SYSCTL, old);

	TH_LOG("CPU some pressure, permille of 1 s: online hog alone %lld, + %d offline hogs waiting: hidden %lld, shown %lld, hidden again %lld",
	       alone, NR_OFFLINE, hidden, shown, hidden_again);
	ASSERT_LE(0, alone);
	/* The setup makes pressure when waiting tasks count ... */
	EXPECT_LT(500, shown);
	/* ... and the hidden phases show what the CPU shows without them */
	EXPECT_GT(alone + 100, hidden);
	EXPECT_GT(alone + 100, hidden_again);
	EXPECT_FALSE(psi_complained());
}

/* Bad values of the sysctl: sysctl.c, with every sched_offline_* sysctl */

TEST_HARNESS_MAIN
