// SPDX-License-Identifier: GPL-2.0
/*
 * A killed offline task must exit while online work fills its CPU, and
 * stay able to until it is gone: every path that recomputes its class
 * after get_signal() has dequeued the SIGKILL (the autogroup move in
 * do_exit(), the PI de-boost in futex_exit_release()) must keep it out
 * of the class that starves it. The starvation guard is off here, so
 * nothing but the kill lift lets the dying task run; without the lift
 * its parent waits for as long as the online hogs run (the window).
 */
#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include "offline_util.h"
#include "kselftest_harness.h"

#define STARVE_SYSCTL	"/proc/sys/kernel/sched_offline_starve_ms"
#define AUTOGROUP_SYSCTL "/proc/sys/kernel/sched_autogroup_enabled"
#define NR_HOGS		2
#define WINDOW_NS	3000000000ull	/* how long the hogs run at most */
#define EXIT_BOUND_NS	500000000ull	/* a kill takes a few ticks at most */

/* Shared with the forked victim: its PI futex and how far it got */
struct shared {
	_Atomic uint32_t futex;
	atomic_int ready;
};

static long futex(_Atomic uint32_t *uaddr, int op, const struct timespec *ts)
{
	return syscall(SYS_futex, uaddr, op, 0, ts, NULL, 0);
}

FIXTURE(kill)
{
	char starve[32];
	int cpu;
	pid_t hogs[NR_HOGS];
	struct shared *sh;
};

FIXTURE_SETUP(kill)
{
	int i;

	if (!sched_offline_expected())
		SKIP(return, "kernel built without SCHED_OFFLINE");
	self->cpu = nr_cpus() - 1;
	ASSERT_EQ(0, read_file(STARVE_SYSCTL, self->starve, sizeof(self->starve)));
	/* No guard bursts: only the kill lift may let the victim run */
	ASSERT_EQ(0, write_file(STARVE_SYSCTL, "0"));
	self->sh = mmap(NULL, sizeof(*self->sh), PROT_READ | PROT_WRITE,
			MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->sh);
	for (i = 0; i < NR_HOGS; i++)
		self->hogs[i] = 0;
}

FIXTURE_TEARDOWN(kill)
{
	kill_all(self->hogs, NR_HOGS);
	if (self->starve[0])
		write_file(STARVE_SYSCTL, self->starve);
}

enum victim_kind { PLAIN, NEW_SESSION, PI_OWNER };

/* An offline spinner pinned to @cpu; see enum victim_kind */
static pid_t spawn_victim(struct shared *sh, int cpu, enum victim_kind kind)
{
	pid_t pid = fork();

	if (pid)
		return pid;
	/* A new session is a new autogroup: do_exit() moves it back */
	if (kind == NEW_SESSION && setsid() < 0)
		_exit(2);
	if (pin_to_cpu(0, cpu) || set_policy(0, SCHED_OFFLINE))
		_exit(3);
	if (kind == PI_OWNER) {
		uint32_t zero = 0;

		/* Uncontended PI lock: the futex word holds the owner's TID */
		if (!atomic_compare_exchange_strong(&sh->futex, &zero, gettid()))
			_exit(4);
	}
	atomic_store(&sh->ready, 1);
	for (;;)
		;
}

static void *pi_waiter(void *arg)
{
	struct shared *sh = arg;
	struct timespec deadline;

	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += 10;
	/* Lifts the owner into an online class while it waits */
	return (void *)(long)futex(&sh->futex, FUTEX_LOCK_PI, &deadline);
}

/*
 * Kill the victim once it is starved behind the hogs; returns how long
 * its parent waited to reap it, or WINDOW_NS if it did not exit while the
 * hogs ran (then the hogs are stopped to let it go).
 */
static uint64_t kill_and_reap(struct __test_metadata *_metadata,
			      FIXTURE_DATA(kill) *self, enum victim_kind kind)
{
	pthread_t waiter;
	pid_t victim;
	uint64_t t0, before, starved, waited = WINDOW_NS;
	int i, status;

	victim = spawn_victim(self->sh, self->cpu, kind);
	EXPECT_LT(0, victim);
	while (!atomic_load(&self->sh->ready)) {
		if (child_failed(victim)) {
			TH_LOG("victim failed to set itself up");
			_metadata->exit_code = KSFT_FAIL;
			return 0;
		}
		sleep_ns(1000000);
	}
	for (i = 0; i < NR_HOGS; i++)
		self->hogs[i] = spawn_hog(self->cpu, SCHED_OTHER, 0);
	sleep_ns(100000000);
	before = task_runtime(victim);
	sleep_ns(200000000);
	starved = task_runtime(victim) - before;
	TH_LOG("victim got %llu us of CPU in 200 ms behind online hogs",
	       (unsigned long long)starved / 1000);
	/* The trap is set: the victim runs only if something lifts it */
	EXPECT_GT(5000000, starved);

	if (kind == PI_OWNER) {
		EXPECT_EQ(0, pthread_create(&waiter, NULL, pi_waiter, self->sh));
		sleep_ns(100000000);
	}

	t0 = now_ns();
	EXPECT_EQ(0, kill(victim, SIGKILL));
	while (now_ns() - t0 < WINDOW_NS) {
		if (waitpid(victim, &status, WNOHANG) == victim) {
			waited = now_ns() - t0;
			break;
		}
		sleep_ns(1000000);
	}
	kill_all(self->hogs, NR_HOGS);
	if (waited == WINDOW_NS)
		waitpid(victim, &status, 0);
	if (kind == PI_OWNER) {
		void *ret;

		pthread_join(waiter, &ret);
		/* The waiter got the lock of the dead owner */
		EXPECT_EQ(0, (long)ret);
	}
	EXPECT_TRUE(WIFSIGNALED(status));
	TH_LOG("killed offline task reaped after %llu ms (bound %llu ms, window %llu ms)",
	       (unsigned long long)waited / 1000000,
	       (unsigned long long)EXIT_BOUND_NS / 1000000,
	       (unsigned long long)WINDOW_NS / 1000000);
	return waited;
}

TEST_F(kill, killed_beside_online_hogs)
{
	EXPECT_GT(EXIT_BOUND_NS, kill_and_reap(_metadata, self, PLAIN));
}

/*
 * do_exit() -> sched_autogroup_exit_task() -> sched_move_task() recomputes
 * the class after the SIGKILL was dequeued. AUTOGROUP=y is the default of
 * every distribution; the test kernels have it on.
 */
TEST_F(kill, killed_in_own_autogroup)
{
	char buf[8];

	if (read_file(AUTOGROUP_SYSCTL, buf, sizeof(buf)) || buf[0] != '1')
		SKIP(return, "autogroup not built in or disabled");
	EXPECT_GT(EXIT_BOUND_NS, kill_and_reap(_metadata, self, NEW_SESSION));
}

/*
 * A fair waiter lifts the offline owner of a PI futex; the owner is then
 * killed. futex_exit_release() hands the lock to the waiter and de-boosts
 * the owner, which recomputes its class on the way out.
 */
TEST_F(kill, killed_pi_owner_with_fair_waiter)
{
	EXPECT_GT(EXIT_BOUND_NS, kill_and_reap(_metadata, self, PI_OWNER));
}

TEST_HARNESS_MAIN
