// SPDX-License-Identifier: GPL-2.0
// Moving a VM's memory to its node (migrate_pages(2)) takes as long as
// copying it: seconds for a large VM, and every page unmapped costs a TLB
// shootdown on the CPUs running the VM.  MemoryMover does it on a worker
// thread so the agent's event loop is not held up; a newer request for the
// same process replaces a queued one.  Synchronous mode (tests, fakes)
// runs each request at once.
#pragma once

#include "log.hpp"
#include "sysops.hpp"

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

namespace offl {

class MemoryMover {
public:
	MemoryMover(SystemOps &ops, Logger &log, bool async);
	~MemoryMover(); // finishes the queue
	MemoryMover(const MemoryMover &) = delete;
	MemoryMover &operator=(const MemoryMover &) = delete;

	// Move the pages of pid (if it still has this start time) from the
	// nodes `from` to `node`.
	void submit(pid_t pid, uint64_t start_time, std::vector<int> from, int node);
	// Wait until every request so far is done.
	void drain();

private:
	struct Job {
		pid_t pid;
		uint64_t start;
		std::vector<int> from;
		int node;
	};
	void run(const Job &j);
	void worker();

	SystemOps &ops_;
	Logger &log_;
	bool async_;
	std::mutex m_;
	std::condition_variable cv_, idle_cv_;
	std::deque<Job> q_;
	bool busy_ = false, stop_ = false;
	std::thread th_;
};

} // namespace offl
