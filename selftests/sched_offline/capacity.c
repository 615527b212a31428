// SPDX-License-Identifier: GPL-2.0
/*
 * The per-CPU offline capacity in /proc/sched_offline: an online task that
 * keeps CPU k busy 20%, 50% and 80% of the time makes CPU k's capacity
 * about 0.8, 0.5 and 0.2 of 1024 (+-0.1) within a few periods of the
 * change, while idle CPUs stay near 1024; offline work on a CPU does not
 * lower its capacity.
 */
#include <sys/mman.h>
#include "offline_util.h"
#include "kselftest_harness.h"

#define DUTY_PERIOD_NS	5000000ull	/* the online task's busy/sleep cycle */

/* Median of a few capacity readings over @ns */
static long capacity_of(int cpu, uint64_t ns)
{
	uint64_t v[5];
	int i;

	for (i = 0; i < 5; i++) {
		v[i] = offline_stat(cpu, "capacity");
		sleep_ns(ns / 5);
	}
	return permille(v, 5, 500);
}

/* Online worker: busy *duty per mille of each period, sleeps the rest */
static pid_t spawn_duty(int cpu, volatile int *duty)
{
	return spawn_duty_worker(cpu, DUTY_PERIOD_NS, duty, false);
}

TEST(capacity_follows_online_load)
{
	static const int duty[] = { 200, 500, 800, 200 };
	int n = nr_cpus(), cpu = n - 1, i, other;
	volatile int *shared;
	pid_t worker;

	if (!sched_offline_expected())
		SKIP(return, "kernel built without SCHED_OFFLINE");
	ASSERT_LE(3, n);
	ASSERT_NE(-1, offline_stat(cpu, "capacity"));
	pin_to_cpu(0, 0);

	shared = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
		      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, shared);
	*shared = duty[0];
	worker = spawn_duty(cpu, shared);
	ASSERT_LT(0, worker);

	for (i = 0; i < 4; i++) {
		long cap, want = 1024 - 1024 * duty[i] / 1000;

		uint64_t run0, t0, used;

		*shared = duty[i];
		/* A few periods (10 ms by default) to converge */
		sleep_ns(100000000);
		run0 = task_runtime(worker);
		t0 = now_ns();
		cap = capacity_of(cpu, 200000000);
		used = (task_runtime(worker) - run0) * 1000 / (now_ns() - t0);
		TH_LOG("online duty %d%% (measured %llu.%llu%%): capacity %ld (expected %ld +- 102), online_avg_pct %ld",
		       duty[i] / 10, (unsigned long long)used / 10,
		       (unsigned long long)used % 10, cap, want,
		       (long)offline_stat(cpu, "online_avg_pct"));
		EXPECT_GE(102, labs(cap - want));
	}
	/* CPUs with nothing on them */
	for (other = 1; other < cpu; other++) {
		long cap = offline_stat(other, "capacity");

		TH_LOG("idle CPU %d: capacity %ld", other, cap);
		EXPECT_LE(1024 * 9 / 10, cap);
	}
	kill_all(&worker, 1);
}

TEST(offline_work_is_spare_capacity)
{
	int cpu = nr_cpus() - 1;
	pid_t hog;
	long cap;

	if (!sched_offline_expected())
		SKIP(return, "kernel built without SCHED_OFFLINE");
	pin_to_cpu(0, 0);
	hog = spawn_hog(cpu, SCHED_OFFLINE, 0);
	sleep_ns(200000000);
	cap = capacity_of(cpu, 200000000);
	TH_LOG("CPU %d running an offline hog: capacity %ld", cpu, cap);
	EXPECT_LE(1024 * 9 / 10, cap);
	ASSERT_FALSE(child_failed(hog));
	kill_all(&hog, 1);

	hog = spawn_hog(cpu, SCHED_OTHER, 0);
	sleep_ns(200000000);
	cap = capacity_of(cpu, 200000000);
	TH_LOG("CPU %d running an online hog: capacity %ld", cpu, cap);
	EXPECT_GE(1024 / 10, cap);
	kill_all(&hog, 1);
}

TEST_HARNESS_MAIN
