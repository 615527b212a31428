/* SPDX-License-Identifier: GPL-2.0 */
/* Shared between schedlat.bpf.c and schedlat.c */
#ifndef SCHEDLAT_H
#define SCHEDLAT_H

/* Scheduling classes as userspace resolves them per task (cls map) */
enum schedlat_class {
	SL_UNKNOWN,	/* not resolved yet (userspace fills the map) */
	SL_FAIR,	/* SCHED_OTHER, SCHED_BATCH */
	SL_IDLE,	/* SCHED_IDLE */
	SL_RT,		/* SCHED_FIFO, SCHED_RR */
	SL_DL,		/* SCHED_DEADLINE */
	SL_EXT,		/* SCHED_EXT */
	SL_OFFLINE,	/* SCHED_OFFLINE (8) */
	SL_NR_CLASSES,
};

/* Why the task waited on the run queue */
enum schedlat_kind {
	SL_WAKEUP,	/* woken (or new): wakeup -> running */
	SL_PREEMPT,	/* preempted while runnable: switched out -> running */
	SL_NR_KINDS,
};

#define SL_NR_BUCKETS	32	/* log2 buckets of microseconds */
#define SL_HIST_SIZE	(SL_NR_KINDS * SL_NR_CLASSES * SL_NR_BUCKETS)
#define SL_MAX_PIDS	16384

/* per-task run-queue waits (pidstat map) */
struct sl_pidstat {
	unsigned long long wait_ns;	/* total time runnable, not running */
	unsigned long long waits;	/* number of such waits */
	unsigned long long max_ns;
};

/* class totals (sum map), per kind and class */
struct sl_sum {
	unsigned long long count;
	unsigned long long sum_ns;
	unsigned long long max_ns;
};

#endif
