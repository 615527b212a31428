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
#include <chrono>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace offl {

class MemoryMover {
public:
	MemoryMover(SystemOps &ops, Logger &log, bool async);
	// Drops what is queued and waits for a running migrate_pages at most
	// stop_wait (a large VM takes longer than a unit's stop timeout):
	// then it is left to finish on its own (the process is exiting).
	~MemoryMover();
	static constexpr std::chrono::milliseconds kStopWait{3000};
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
	// Shared with the worker, which may outlive this object (see the
	// destructor).
	struct Sync {
		std::mutex m;
		std::condition_variable cv, idle_cv;
		std::deque<Job> q;
		bool busy = false, stop = false;
	};
	// Static: the worker may outlive this object and touches none of it.
	static void run(SystemOps &ops, Logger &log, const Job &j);
	static void worker(std::shared_ptr<Sync> sync, SystemOps &ops, Logger &log);

	SystemOps &ops_;
	Logger &log_;
	bool async_;
	std::shared_ptr<Sync> s_ = std::make_shared<Sync>();
	std::thread th_;
};

} // namespace offl
