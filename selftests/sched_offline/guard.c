// SPDX-License-Identifier: GPL-2.0
/*
 * The starvation guard (sched_offline_starve_ms): an offline task that
 * holds i_rwsem, a lock without priority inheritance, while online hogs
 * occupy every CPU gets short bursts in kernel mode, so an online writer
 * of the same file waits about one starve period instead of as long as the
 * hogs run. With the guard off the same setup must block the writer for
 * the whole (bounded) window: that proves the test sets the inversion up.
 * An offline task in user mode gets nothing from the guard.
 *
 * The inversion is made deterministic with userfaultfd: the offline task
 * O writes to a tmpfs file from a buffer whose pages are missing. shmem
 * takes the inode lock, faults on the buffer inside generic_perform_write()
 * and sleeps in the userfault handler holding the lock. The test then
 * starts the hogs, resolves the fault (O is runnable in kernel mode, behind
 * the hogs) and lets an online writer W block on the lock.
 */
#include <linux/magic.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include "offline_util.h"
#include "kselftest_harness.h"

#define STARVE		"/proc/sys/kernel/sched_offline_starve_ms"
#define RT_RUNTIME	"/proc/sys/kernel/sched_rt_runtime_us"
#define OWNER_CPU	1
#define MAX_CPUS	64
#define GUARD_ON_MS	50		/* starve_ms of the guard-on runs */
#define SETTLE_NS	100000000ull	/* hogs up before O is woken */
#define WINDOW_NS	3000000000ull	/* W waits at most this long */
#define FAULT_WAIT_MS	5000		/* for O to fault on its buffer */
#define JOIN_WAIT_S	5		/* for O and W once the hogs are gone */
#define HOG_PRIO	10		/* SCHED_FIFO priorities, RT case */
#define WRITER_PRIO	20
#define CONTROL_PRIO	30

#ifndef TMPFS_MAGIC
#define TMPFS_MAGIC	0x01021994
#endif

/* A userfaultfd after the API handshake, or -1 with errno set */
static int uffd_open(void)
{
	struct uffdio_api api = { .api = UFFD_API };
	int fd, err;

	/* Kernel-mode faults are wanted: no UFFD_USER_MODE_ONLY */
	fd = syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return -1;
	if (ioctl(fd, UFFDIO_API, &api)) {
		err = errno;
		close(fd);
		errno = err;
		return -1;
	}
	return fd;
}

/* A tmpfs directory for the test file: /dev/shm or /tmp, else a mount */
static bool tmpfs_dir(char *dir, size_t len, bool *mounted)
{
	static const char * const cand[] = { "/dev/shm", "/tmp" };
	struct statfs sf;
	size_t i;

	*mounted = false;
	for (i = 0; i < ARRAY_SIZE(cand); i++) {
		if (!statfs(cand[i], &sf) && sf.f_type == TMPFS_MAGIC &&
		    !access(cand[i], W_OK)) {
			snprintf(dir, len, "%s", cand[i]);
			return true;
		}
	}
	snprintf(dir, len, "/tmp/sched_offline_guard.XXXXXX");
	if (!mkdtemp(dir))
		return false;
	if (mount("tmpfs", dir, "tmpfs", 0, "size=4m")) {
		rmdir(dir);
		return false;
	}
	*mounted = true;
	return true;
}

/* One run of the inversion: set up by the controller, O, W and results */
struct inversion {
	bool rt;			/* SCHED_FIFO hogs and writer */
	int fd_o, fd_w;			/* two opens of the same file */
	char *buf;			/* O's source: missing, uffd-registered */
	char *wbuf;			/* W's source */
	size_t o_len, w_len;
	pthread_t o_th, w_th;
	int go[2];			/* W writes once this pipe has a byte */

	atomic_int o_state;		/* 1 writing, 2 done, -1 setup failed */
	ssize_t o_ret;
	int o_errno;

	_Atomic uint64_t w_start;	/* W's clock when it called write() */
	atomic_int w_state;		/* 2 done, -1 setup failed */
	ssize_t w_ret;
	int w_errno;
	uint64_t w_ns;			/* W's write() latency */

	long long bursts;		/* guard_bursts growth on O's CPU */
	bool stopped;			/* W's window ran out: hogs stopped */
	bool order_ok;			/* file holds W's data over O's */
	bool leaked;			/* O or W never ended: keep buffers */
	char err[160];			/* why the run could not be done */
};

/* O: offline on OWNER_CPU, write()s from the missing buffer */
static void *owner(void *arg)
{
	struct inversion *v = arg;

	if (pin_to_cpu(0, OWNER_CPU) || set_policy(0, SCHED_OFFLINE)) {
		v->o_errno = errno;
		atomic_store(&v->o_state, -1);
		return NULL;
	}
	atomic_store(&v->o_state, 1);
	/* Takes i_rwsem, then sleeps in the userfault handler holding it */
	v->o_ret = write(v->fd_o, v->buf, v->o_len);
	v->o_errno = errno;
	atomic_store(&v->o_state, 2);
	return NULL;
}

/* W: online writer of the same file, times its write() */
static void *writer(void *arg)
{
	struct inversion *v = arg;
	uint64_t t0;
	char go;
	int ret;

	ret = unpin(0);
	if (!ret)
		ret = v->rt ? set_policy_full(0, SCHED_FIFO, 0, WRITER_PRIO, 0)
			    : set_policy_full(0, SCHED_OTHER, 0, 0, 0);
	if (ret) {
		v->w_errno = errno;
		atomic_store(&v->w_state, -1);
		return NULL;
	}
	/*
	 * Created before the inversion starts: creating a thread maps its
	 * stack, which would wait behind O's mmap_lock, not its i_rwsem.
	 */
	if (read(v->go[0], &go, 1) != 1) {
		v->w_errno = errno;
		atomic_store(&v->w_state, -1);
		return NULL;
	}
	t0 = now_ns();
	atomic_store(&v->w_start, t0);
	v->w_ret = write(v->fd_w, v->wbuf, v->w_len);
	v->w_errno = errno;
	v->w_ns = now_ns() - t0;
	atomic_store(&v->w_state, 2);
	return NULL;
}

static int join_by(pthread_t th, time_t secs)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += secs;
	return pthread_timedjoin_np(th, NULL, &ts);
}

/*
 * One run with the current sched_offline_starve_ms. Never aborts: every
 * path kills the hogs and ends O and W, v->err says what went wrong.
 */
static void run_inversion(struct inversion *v, int n, const char *path)
{
	long page = sysconf(_SC_PAGESIZE);
	pid_t hogs[MAX_CPUS] = { 0 };
	bool o_started = false, w_started = false, copied = false;
	struct uffdio_register reg;
	struct uffdio_copy copy;
	struct uffd_msg msg;
	struct pollfd pfd;
	long long b0 = -1, b1 = -1;
	char *src = NULL, *got = NULL;
	int uffd = -1, i;
	uint64_t t;

	v->o_len = 4 * page;
	v->w_len = page;
	v->fd_o = v->fd_w = -1;
	v->go[0] = v->go[1] = -1;
	v->buf = MAP_FAILED;
	v->bursts = -1;

	v->fd_o = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	v->fd_w = open(path, O_RDWR);
	if (v->fd_o < 0 || v->fd_w < 0) {
		snprintf(v->err, sizeof(v->err), "open %s: %s", path, strerror(errno));
		goto out;
	}
	v->buf = mmap(NULL, v->o_len, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	src = malloc(v->o_len);
	v->wbuf = malloc(v->w_len);
	got = malloc(v->o_len);
	if (v->buf == MAP_FAILED || !src || !v->wbuf || !got) {
		snprintf(v->err, sizeof(v->err), "out of memory");
		goto out;
	}
	memset(src, 'O', v->o_len);
	memset(v->wbuf, 'W', v->w_len);

	uffd = uffd_open();
	if (uffd < 0) {
		snprintf(v->err, sizeof(v->err), "userfaultfd: %s", strerror(errno));
		goto out;
	}
	reg.range.start = (unsigned long)v->buf;
	reg.range.len = v->o_len;
	reg.mode = UFFDIO_REGISTER_MODE_MISSING;
	if (ioctl(uffd, UFFDIO_REGISTER, &reg)) {
		snprintf(v->err, sizeof(v->err), "UFFDIO_REGISTER: %s", strerror(errno));
		goto out;
	}

	/* W waits for its cue from here on */
	if (pipe(v->go) || pthread_create(&v->w_th, NULL, writer, v)) {
		snprintf(v->err, sizeof(v->err), "cannot create the online writer");
		goto out;
	}
	w_started = true;

	/* O takes the inode lock and blocks on the missing page */
	if (pthread_create(&v->o_th, NULL, owner, v)) {
		snprintf(v->err, sizeof(v->err), "cannot create the offline writer");
		goto out;
	}
	o_started = true;
	pfd.fd = uffd;
	pfd.events = POLLIN;
	if (poll(&pfd, 1, FAULT_WAIT_MS) != 1 ||
	    read(uffd, &msg, sizeof(msg)) != sizeof(msg)) {
		snprintf(v->err, sizeof(v->err),
			 "offline writer never faulted on its buffer (state %d, %s)",
			 atomic_load(&v->o_state), strerror(v->o_errno));
		goto out;
	}
	if (msg.event != UFFD_EVENT_PAGEFAULT ||
	    msg.arg.pagefault.address < (unsigned long)v->buf ||
	    msg.arg.pagefault.address >= (unsigned long)v->buf + v->o_len ||
	    atomic_load(&v->o_state) != 1) {
		snprintf(v->err, sizeof(v->err),
			 "unexpected userfault: event %u at %llx, writer state %d",
			 msg.event, (unsigned long long)msg.arg.pagefault.address,
			 atomic_load(&v->o_state));
		goto out;
	}

	/* Online hogs on every CPU; O still sleeps holding i_rwsem */
	for (i = 0; i < n; i++)
		hogs[i] = v->rt ? spawn_hog_prio(i, SCHED_FIFO, 0, HOG_PRIO)
				: spawn_hog(i, SCHED_OTHER, 0);
	sleep_ns(SETTLE_NS);
	for (i = 0; i < n; i++) {
		if (hogs[i] <= 0 || child_failed(hogs[i])) {
			hogs[i] = -1;
			snprintf(v->err, sizeof(v->err), "hog on CPU %d failed", i);
			goto out;
		}
	}
	b0 = offline_stat(OWNER_CPU, "guard_bursts");

	/* O wakes up in kernel mode, holding the lock, behind a hog */
	memset(&copy, 0, sizeof(copy));
	copy.dst = (unsigned long)v->buf;
	copy.src = (unsigned long)src;
	copy.len = v->o_len;
	if (ioctl(uffd, UFFDIO_COPY, &copy)) {
		snprintf(v->err, sizeof(v->err), "UFFDIO_COPY: %s", strerror(errno));
		goto out;
	}
	copied = true;

	/* W blocks on i_rwsem; the hogs stay for WINDOW_NS of its wait */
	t = now_ns();
	if (write(v->go[1], "g", 1) != 1) {
		snprintf(v->err, sizeof(v->err), "cannot start the online writer");
		goto out;
	}
	for (;;) {
		uint64_t s = atomic_load(&v->w_start);

		if (atomic_load(&v->w_state))
			break;
		if (now_ns() - (s ? s : t) >= WINDOW_NS) {
			v->stopped = true;
			break;
		}
		sleep_ns(1000000);
	}
	b1 = offline_stat(OWNER_CPU, "guard_bursts");
	if (b0 >= 0 && b1 >= 0)
		v->bursts = b1 - b0;

out:
	/* Let O and W finish: no hogs, no missing page */
	kill_all(hogs, n);
	if (o_started && !copied && uffd >= 0) {
		memset(&copy, 0, sizeof(copy));
		copy.dst = (unsigned long)v->buf;
		copy.src = (unsigned long)src;
		copy.len = v->o_len;
		if (ioctl(uffd, UFFDIO_COPY, &copy)) {
			/* Closing the userfaultfd wakes every faulting thread */
			close(uffd);
			uffd = -1;
		}
	}
	/* A W that never got its cue gets EOF and gives up */
	if (v->go[1] >= 0)
		close(v->go[1]);
	if (w_started && join_by(v->w_th, JOIN_WAIT_S)) {
		v->leaked = true;
		if (!v->err[0])
			snprintf(v->err, sizeof(v->err), "online writer never finished");
	}
	if (o_started && join_by(v->o_th, JOIN_WAIT_S)) {
		v->leaked = true;
		if (!v->err[0])
			snprintf(v->err, sizeof(v->err), "offline writer never finished");
	}
	if (!v->err[0] && atomic_load(&v->o_state) < 0)
		snprintf(v->err, sizeof(v->err), "offline writer setup: %s",
			 strerror(v->o_errno));
	if (!v->err[0] && atomic_load(&v->w_state) < 0)
		snprintf(v->err, sizeof(v->err), "online writer setup: %s",
			 strerror(v->w_errno));

	/* O wrote first, W then overwrote the start of it */
	if (!v->err[0] && v->o_ret == (ssize_t)v->o_len &&
	    pread(v->fd_w, got, v->o_len, 0) == (ssize_t)v->o_len)
		v->order_ok = !memcmp(got, v->wbuf, v->w_len) &&
			      !memcmp(got + v->w_len, src + v->w_len,
				      v->o_len - v->w_len);

	if (uffd >= 0)
		close(uffd);
	if (v->fd_o >= 0)
		close(v->fd_o);
	if (v->fd_w >= 0)
		close(v->fd_w);
	if (v->go[0] >= 0)
		close(v->go[0]);
	unlink(path);
	if (v->leaked)
		return;		/* a thread may still use the buffers */
	if (v->buf != MAP_FAILED)
		munmap(v->buf, v->o_len);
	free(src);
	free(v->wbuf);
	free(got);
}

/*
 * inversion_fair and inversion_rt: the same two runs, guard on
 * (starve_ms = GUARD_ON_MS), then off (0), with fair or with RT hogs.
 */
static void inversion(struct __test_metadata *_metadata, bool rt)
{
	static struct inversion runs[2];
	char starve[2][16];
	struct offline_sched_attr saved;
	char old_starve[32], old_rt[32], dir[64], path[128];
	bool mounted, set_ok = true;
	cpu_set_t saved_aff;
	int n = nr_cpus(), i, fd;

	if (!sched_offline_expected())
		SKIP(return, "kernel built without SCHED_OFFLINE");
	if (access(STARVE, F_OK))
		SKIP(return, "no %s", STARVE);
	fd = uffd_open();
	if (fd < 0)
		SKIP(return, "no userfaultfd: %s", strerror(errno));
	close(fd);
	ASSERT_LE(2, n);
	ASSERT_GE(MAX_CPUS, n);
	ASSERT_EQ(0, read_file(STARVE, old_starve, sizeof(old_starve)));
	if (rt)
		ASSERT_EQ(0, read_file(RT_RUNTIME, old_rt, sizeof(old_rt)));
	ASSERT_EQ(0, get_attr(0, &saved));
	ASSERT_EQ(0, sched_getaffinity(0, sizeof(saved_aff), &saved_aff));
	ASSERT_TRUE(tmpfs_dir(dir, sizeof(dir), &mounted));
	snprintf(path, sizeof(path), "%s/sched_offline_guard.%d", dir, getpid());
	memset(runs, 0, sizeof(runs));
	snprintf(starve[0], sizeof(starve[0]), "%d", GUARD_ON_MS);
	snprintf(starve[1], sizeof(starve[1]), "0");

	/* No ASSERT from here to the restore below */
	pin_to_cpu(0, 0);
	if (rt) {
		/* No RT throttling: nothing but the guard can run O */
		if (write_file(RT_RUNTIME, "-1")) {
			TH_LOG("cannot turn RT throttling off: %s", strerror(errno));
			set_ok = false;
		} else if (set_policy_full(0, SCHED_FIFO, 0, CONTROL_PRIO, 0)) {
			TH_LOG("cannot make the controller SCHED_FIFO: %s",
			       strerror(errno));
			set_ok = false;
		}
	}
	for (i = 0; i < 2 && set_ok; i++) {
		if (write_file(STARVE, starve[i])) {
			TH_LOG("cannot set %s to %s: %s", STARVE, starve[i],
			       strerror(errno));
			set_ok = false;
			break;
		}
		runs[i].rt = rt;
		run_inversion(&runs[i], n, path);
		if (runs[i].err[0])
			break;
	}
	set_policy_full(0, saved.sched_policy, saved.sched_nice,
			saved.sched_priority, 0);
	sched_setaffinity(0, sizeof(saved_aff), &saved_aff);
	EXPECT_EQ(0, write_file(STARVE, old_starve));
	if (rt)
		EXPECT_EQ(0, write_file(RT_RUNTIME, old_rt));
	if (mounted) {
		umount(dir);
		rmdir(dir);
	}

	ASSERT_TRUE(set_ok);
	for (i = 0; i < 2; i++) {
		struct inversion *v = &runs[i];

		ASSERT_STREQ("", v->err) TH_LOG("starve_ms=%s", starve[i]);
		TH_LOG("%s hogs, starve_ms=%s: online writer waited %llu ms%s; guard_bursts on CPU %d +%lld",
		       rt ? "SCHED_FIFO" : "SCHED_OTHER", starve[i],
		       (unsigned long long)v->w_ns / 1000000,
		       v->stopped ? " (hogs stopped at the window's end)" : "",
		       OWNER_CPU, v->bursts);
		EXPECT_EQ((ssize_t)v->o_len, v->o_ret)
			TH_LOG("offline write: %s", strerror(v->o_errno));
		EXPECT_EQ((ssize_t)v->w_len, v->w_ret)
			TH_LOG("online write: %s", strerror(v->w_errno));
		EXPECT_TRUE(v->order_ok)
			TH_LOG("the file does not hold W's data over O's");
	}

	/*
	 * Guard on: W waits a few starve periods at most. Usually one: the
	 * first burst lets O finish. A burst ends at the tick after its
	 * runtime ran out and the overrun delays the next one, so when O
	 * needs a second burst (under TCG its kernel work is ~50x slower
	 * than on hardware) W can wait 10-12 periods: allow 20.
	 */
	EXPECT_FALSE(runs[0].stopped);
	EXPECT_GE(20ull * GUARD_ON_MS * 1000000, runs[0].w_ns);
	EXPECT_LT(0, runs[0].bursts);
	/* Guard off: W is stuck until the hogs go, or this is no inversion */
	EXPECT_LE(WINDOW_NS * 9 / 10, runs[1].w_ns)
		TH_LOG("guard off: W got the lock early, the inversion was not set up");
	EXPECT_TRUE(runs[1].stopped);
	EXPECT_EQ(0, runs[1].bursts);
}

TEST(inversion_fair)
{
	inversion(_metadata, false);
}

TEST(inversion_rt)
{
	inversion(_metadata, true);
}

/*
 * A user-mode offline spinner behind online hogs gets nothing from the
 * guard, at its most aggressive setting: one burst marks it, no more.
 */
TEST(user_mode_starved)
{
	int n = nr_cpus(), i;
	pid_t spinner, hogs[MAX_CPUS] = { 0 };
	uint64_t before, r0 = 0, r1 = 0;
	long long b0 = -1, b1 = -1;
	char old[32];
	bool ok = true;

	if (!sched_offline_expected())
		SKIP(return, "kernel built without SCHED_OFFLINE");
	if (access(STARVE, F_OK))
		SKIP(return, "no %s", STARVE);
	ASSERT_LE(2, n);
	ASSERT_GE(MAX_CPUS, n);
	ASSERT_EQ(0, read_file(STARVE, old, sizeof(old)));
	pin_to_cpu(0, 0);
	ASSERT_EQ(0, write_file(STARVE, "10"));

	/* No ASSERT from here to the restore below */
	spinner = spawn_hog(OWNER_CPU, SCHED_OFFLINE, 0);
	if (spinner <= 0 ||
	    wait_for_policy(spinner, SCHED_OFFLINE, 2000000000ull) != SCHED_OFFLINE) {
		TH_LOG("offline spinner did not start");
		ok = false;
	}
	/* It runs as an ordinary offline task first: eligible for bursts */
	before = task_runtime(spinner);
	sleep_ns(50000000);
	before = task_runtime(spinner) - before;
	b0 = offline_stat(OWNER_CPU, "guard_bursts");
	for (i = 0; ok && i < n; i++)
		hogs[i] = spawn_hog(i, SCHED_OTHER, 0);
	if (ok) {
		sleep_ns(200000000);
		r0 = task_runtime(spinner);
		sleep_ns(2000000000ull);
		r1 = task_runtime(spinner);
		b1 = offline_stat(OWNER_CPU, "guard_bursts");
		for (i = 0; i < n; i++)
			if (hogs[i] <= 0 || child_failed(hogs[i])) {
				TH_LOG("hog on CPU %d failed", i);
				hogs[i] = -1;
				ok = false;
			}
		if (child_failed(spinner)) {
			TH_LOG("offline spinner died");
			spinner = -1;
			ok = false;
		}
	}
	kill_all(hogs, n);
	kill_all(&spinner, 1);
	EXPECT_EQ(0, write_file(STARVE, old));

	ASSERT_TRUE(ok);
	TH_LOG("offline spinner: %llu us in 50 ms alone, %llu us in 2 s behind online hogs with starve_ms=10; guard_bursts on CPU %d +%lld",
	       (unsigned long long)before / 1000,
	       (unsigned long long)(r1 - r0) / 1000, OWNER_CPU, b1 - b0);
	EXPECT_LT(1000000, before);
	/* < 0.1% of the window */
	EXPECT_GT(2000000, r1 - r0);
	ASSERT_LE(0, b0);
	/* The guard did fire for it, and still gave user code nothing */
	EXPECT_LE(1, b1 - b0);
}

TEST_HARNESS_MAIN
