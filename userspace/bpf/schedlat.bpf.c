// SPDX-License-Identifier: GPL-2.0
/*
 * schedlat: run-queue latency per scheduling class and run-queue wait per
 * task, from the sched tracepoints. Classic tracepoint programs: the
 * kernel has no BTF, so the context structs below are written from
 * /sys/kernel/tracing/events/sched/<event>/format (6.12); schedlat.c checks
 * those offsets against the running kernel's format files before loading.
 *
 * p->prio cannot tell SCHED_OFFLINE from fair tasks (both 100..139), so the
 * class of each pid comes from the cls map, which userspace fills from
 * sched_getscheduler() and refreshes while it runs.
 */
#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "schedlat.h"

char LICENSE[] SEC("license") = "GPL";

/* common header of every trace event */
struct trace_common {
	unsigned short common_type;
	unsigned char common_flags;
	unsigned char common_preempt_count;
	int common_pid;
};

/* sched_wakeup, sched_wakeup_new (sched_wakeup_template) */
struct wakeup_ctx {
	struct trace_common c;
	char comm[16];		/* offset 8 */
	int pid;		/* 24 */
	int prio;		/* 28 */
	int target_cpu;		/* 32 */
};

/* sched_switch */
struct switch_ctx {
	struct trace_common c;
	char prev_comm[16];	/* 8 */
	int prev_pid;		/* 24 */
	int prev_prio;		/* 28 */
	long prev_state;	/* 32 */
	char next_comm[16];	/* 40 */
	int next_pid;		/* 56 */
	int next_prio;		/* 60 */
};

/* TASK_REPORT_MAX: what sched_switch reports for a preempted task */
#define SL_STATE_PREEMPTED	0x100

struct start {
	__u64 ts;
	__u32 kind;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SL_MAX_PIDS);
	__type(key, __u32);
	__type(value, struct start);
} start SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SL_MAX_PIDS);
	__type(key, __u32);
	__type(value, __u8);
} cls SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SL_HIST_SIZE);
	__type(key, __u32);
	__type(value, __u64);
} hist SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SL_NR_KINDS * SL_NR_CLASSES);
	__type(key, __u32);
	__type(value, struct sl_sum);
} sum SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, SL_MAX_PIDS);
	__type(key, __u32);
	__type(value, struct sl_pidstat);
} pidstat SEC(".maps");

/* events dropped because a map was full */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} lost SEC(".maps");

static __always_inline __u32 log2_u64(__u64 v)
{
	__u32 r = 0, shift;

	shift = (v > 0xffffffffULL) << 5; v >>= shift; r |= shift;
	shift = (v > 0xffff) << 4; v >>= shift; r |= shift;
	shift = (v > 0xff) << 3; v >>= shift; r |= shift;
	shift = (v > 0xf) << 2; v >>= shift; r |= shift;
	shift = (v > 0x3) << 1; v >>= shift; r |= shift;
	r |= (v >> 1);
	return r;
}

static __always_inline void count_lost(void)
{
	__u32 zero = 0;
	__u64 *l = bpf_map_lookup_elem(&lost, &zero);

	if (l)
		__sync_fetch_and_add(l, 1);
}

static __always_inline void enqueued(__u32 pid, __u32 kind)
{
	struct start s = { .ts = bpf_ktime_get_ns(), .kind = kind };

	if (!pid)
		return;
	if (bpf_map_update_elem(&start, &pid, &s, BPF_ANY))
		count_lost();
}

SEC("tracepoint/sched/sched_wakeup")
int sl_wakeup(struct wakeup_ctx *ctx)
{
	enqueued(ctx->pid, SL_WAKEUP);
	return 0;
}

SEC("tracepoint/sched/sched_wakeup_new")
int sl_wakeup_new(struct wakeup_ctx *ctx)
{
	enqueued(ctx->pid, SL_WAKEUP);
	return 0;
}

SEC("tracepoint/sched/sched_switch")
int sl_switch(struct switch_ctx *ctx)
{
	__u32 prev = ctx->prev_pid, next = ctx->next_pid, c = SL_UNKNOWN, idx, b;
	__u64 now = bpf_ktime_get_ns(), delta, us;
	struct sl_pidstat *ps, zero_ps = {};
	struct sl_sum *sm;
	struct start *s;
	__u8 *cp;
	__u64 *h;

	/* still runnable: waits on the run queue from now on */
	if (ctx->prev_state == 0 || ctx->prev_state == SL_STATE_PREEMPTED)
		enqueued(prev, SL_PREEMPT);

	if (!next)
		return 0;
	s = bpf_map_lookup_elem(&start, &next);
	if (!s)
		return 0;
	delta = now - s->ts;
	idx = s->kind < SL_NR_KINDS ? s->kind : SL_WAKEUP;
	bpf_map_delete_elem(&start, &next);

	cp = bpf_map_lookup_elem(&cls, &next);
	if (cp && *cp < SL_NR_CLASSES)
		c = *cp;
	else if (ctx->next_prio < 100)
		c = SL_RT;	/* prio tells RT and DL apart from the rest */
	idx = idx * SL_NR_CLASSES + c;

	sm = bpf_map_lookup_elem(&sum, &idx);
	if (sm) {
		__sync_fetch_and_add(&sm->count, 1);
		__sync_fetch_and_add(&sm->sum_ns, delta);
		if (delta > sm->max_ns)
			sm->max_ns = delta;	/* racy max: good enough */
	}
	us = delta / 1000;
	b = us ? log2_u64(us) + 1 : 0;
	if (b >= SL_NR_BUCKETS)
		b = SL_NR_BUCKETS - 1;
	idx = idx * SL_NR_BUCKETS + b;
	h = bpf_map_lookup_elem(&hist, &idx);
	if (h)
		__sync_fetch_and_add(h, 1);

	ps = bpf_map_lookup_elem(&pidstat, &next);
	if (!ps) {
		bpf_map_update_elem(&pidstat, &next, &zero_ps, BPF_NOEXIST);
		ps = bpf_map_lookup_elem(&pidstat, &next);
	}
	if (ps) {
		__sync_fetch_and_add(&ps->wait_ns, delta);
		__sync_fetch_and_add(&ps->waits, 1);
		if (delta > ps->max_ns)
			ps->max_ns = delta;
	}
	return 0;
}
