// SPDX-License-Identifier: GPL-2.0
// The daemon's event loop: signalfd (HUP reload, TERM/INT exit, USR1
// resync now), timerfd (periodic resync) and any EventSource (proc
// connector, pid-file watch), multiplexed with io_uring poll requests
// (liburing), or poll(2) where io_uring is unavailable (kernel without it,
// io_uring_disabled, seccomp).  Agent itself knows nothing about it.
#pragma once

#include "agent.hpp"
#include "events.hpp"
#include "log.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace offl {

// Blocks the signals the loop handles.  Call before starting any thread.
void block_agent_signals();

// Event-to-policy-applied latency: from the kernel's event timestamp to
// the end of the reconcile that applied something for it.
class LatencyStats {
public:
	void add(uint64_t ns);
	size_t count() const { return n_; }
	// Percentile over the kept samples (the last kMax), in ns.
	uint64_t percentile(double p) const;
	uint64_t max() const { return max_; }
	std::string summary() const; // "n=12 p50=85us p99=310us max=310us"

	static constexpr size_t kMax = 4096;

private:
	std::vector<uint64_t> samples_;
	size_t n_ = 0, next_ = 0;
	uint64_t max_ = 0;
};

struct LoopOptions {
	bool io_uring = true; // false: poll(2)
};

// Runs until SIGTERM/SIGINT; returns the process exit code.
int run_agent_loop(Agent &agent, Logger &log, std::vector<EventSource *> sources = {}, LoopOptions opt = {});

} // namespace offl
