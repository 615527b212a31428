// SPDX-License-Identifier: GPL-2.0
// Task lifecycle events feeding the agent between full resyncs.
//
// Part 1 of the agent has no event source: the periodic resync is the whole
// mechanism.  The agent loop already polls any EventSource it is given and
// reacts with a targeted reconcile of the named processes, or a full resync
// on Overflow, so the netlink proc connector / inotify sources (agent part
// 2) plug in without touching the loop's users.
#pragma once

#include <cstdint>
#include <sys/types.h>
#include <vector>

namespace offl {

struct TaskEvent {
	enum class Kind { Fork, Exec, Comm, Exit, Overflow };
	Kind kind = Kind::Overflow;
	pid_t tid = 0;
	pid_t tgid = 0;
	// CLOCK_MONOTONIC ns when the kernel produced it (proc connector), or
	// when it was read (other sources): the start of event-to-policy
	// latency.
	uint64_t ts_ns = 0;
};

class EventSource {
public:
	virtual ~EventSource() = default;
	virtual const char *name() const = 0;
	// A pollable fd (readable when events are pending).
	virtual int fd() const = 0;
	// Drain pending events; false when the source broke (the loop then
	// drops it and relies on resync).  Lost events must be reported as
	// one Overflow event (e.g. ENOBUFS on the proc connector).
	virtual bool read(std::vector<TaskEvent> &out) = 0;
};

} // namespace offl
