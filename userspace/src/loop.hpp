// SPDX-License-Identifier: GPL-2.0
// The daemon's event loop: signalfd (HUP reload, TERM/INT exit, USR1
// resync now), timerfd (periodic resync) and any EventSource, multiplexed
// with poll(2).  Agent part 2 swaps the multiplexer for liburing; Agent
// itself does not change.
#pragma once

#include "agent.hpp"
#include "events.hpp"
#include "log.hpp"

#include <vector>

namespace offl {

// Blocks the signals the loop handles.  Call before starting any thread.
void block_agent_signals();

// Runs until SIGTERM/SIGINT; returns the process exit code.
int run_agent_loop(Agent &agent, Logger &log, std::vector<EventSource *> sources = {});

} // namespace offl
