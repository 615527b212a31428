// SPDX-License-Identifier: GPL-2.0
/*
 * Priority inheritance across the class boundary: an offline task owns a
 * PI futex while online CPU hogs occupy every CPU, so it gets no CPU; a
 * fair task then blocks on the futex. The owner must be lifted into the
 * fair class and release the lock promptly. Without the lift the waiter
 * waits until the (bounded) timeout.
 */
#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include "offline_util.h"
#include "kselftest_harness.h"

#define CRITICAL_NS	30000000ull	/* owner's own CPU time under the lock */
#define TIMEOUT_S	5

static _Atomic uint32_t futex_word;
static atomic_int owner_tid, locked, go, owner_done;

static long futex(_Atomic uint32_t *uaddr, int op, const struct timespec *ts)
{
	return syscall(SYS_futex, uaddr, op, 0, ts, NULL, 0);
}

static void *owner(void *arg)
{
	int cpu = *(int *)arg;
	uint32_t zero = 0;
	uint64_t start;

	pin_to_cpu(0, cpu);
	atomic_store(&owner_tid, gettid());
	if (set_policy(0, SCHED_OFFLINE))
		return (void *)1;
	/* Uncontended PI lock: the futex word holds the owner's TID */
	if (!atomic_compare_exchange_strong(&futex_word, &zero, gettid()))
		return (void *)2;
	atomic_store(&locked, 1);
	/* The critical section starts once the online hogs are up */
	while (!atomic_load(&go))
		sleep_ns(1000000);
	start = thread_cpu_ns();
	while (thread_cpu_ns() - start < CRITICAL_NS)
		;
	if (futex(&futex_word, FUTEX_UNLOCK_PI, NULL))
		return (void *)3;
	atomic_store(&owner_done, 1);
	return NULL;
}

TEST(fair_waiter_lifts_offline_owner)
{
	int n = nr_cpus(), i, owner_cpu;
	pid_t hogs[64];
	pthread_t th;
	void *ret;
	uint64_t before, starved, t0, waited;
	struct timespec deadline;

	if (!sched_offline_expected())
		SKIP(return, "kernel built without SCHED_OFFLINE");
	ASSERT_LE(2, n);
	ASSERT_GE(64, n);
	owner_cpu = n - 1;

	ASSERT_EQ(0, pthread_create(&th, NULL, owner, &owner_cpu));
	while (!atomic_load(&locked))
		sleep_ns(1000000);

	/* Online hogs on every CPU: the offline owner is starved now */
	for (i = 0; i < n; i++)
		hogs[i] = spawn_hog(i, SCHED_OTHER, 0);
	sleep_ns(50000000);
	atomic_store(&go, 1);
	before = task_runtime(atomic_load(&owner_tid));
	sleep_ns(200000000);
	starved = task_runtime(atomic_load(&owner_tid)) - before;
	TH_LOG("owner got %llu us of CPU in 200 ms behind online hogs",
	       (unsigned long long)starved / 1000);
	/* The inversion is set up: the owner makes no progress */
	EXPECT_GT(5000000, starved);
	EXPECT_FALSE(atomic_load(&owner_done));

	/* A fair waiter blocks on the lock; bounded by a timeout */
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += TIMEOUT_S;
	t0 = now_ns();
	i = futex(&futex_word, FUTEX_LOCK_PI, &deadline);
	waited = now_ns() - t0;
	TH_LOG("fair waiter got the lock after %llu ms (owner needed %llu ms of CPU)",
	       (unsigned long long)waited / 1000000,
	       (unsigned long long)CRITICAL_NS / 1000000);
	EXPECT_EQ(0, i);
	/* Owner shares a CPU with one hog: about 2x its CPU need, bound 20x */
	EXPECT_GT(20 * CRITICAL_NS, waited);
	if (i == 0)
		futex(&futex_word, FUTEX_UNLOCK_PI, NULL);

	kill_all(hogs, n);
	pthread_join(th, &ret);
	EXPECT_EQ(NULL, ret);
	/* The lift was temporary: the owner reports and keeps its policy */
	EXPECT_TRUE(atomic_load(&owner_done));
}

TEST_HARNESS_MAIN
