// SPDX-License-Identifier: GPL-2.0
#include "memmove.hpp"

#include "util.hpp"

#include <chrono>

namespace offl {

MemoryMover::MemoryMover(SystemOps &ops, Logger &log, bool async) : ops_(ops), log_(log), async_(async)
{
}

MemoryMover::~MemoryMover()
{
	if (!th_.joinable())
		return;
	std::unique_lock<std::mutex> l(s_->m);
	s_->stop = true;
	const size_t dropped = s_->q.size();
	s_->q.clear();
	s_->cv.notify_all();
	const bool idle = s_->idle_cv.wait_for(l, kStopWait, [&] { return !s_->busy; });
	l.unlock();
	if (dropped)
		log_.info("placement: ", dropped, " queued memory move(s) dropped on exit");
	if (idle) {
		th_.join();
	} else {
		log_.warn("placement: a migrate_pages still running after ",
			  static_cast<long>(kStopWait.count()), " ms: not waited for");
		th_.detach(); // it holds s_; the process is on its way out
	}
}

void MemoryMover::submit(pid_t pid, uint64_t start_time, std::vector<int> from, int node)
{
	Job j{pid, start_time, std::move(from), node};
	if (!async_) {
		run(ops_, log_, j);
		return;
	}
	{
		std::lock_guard<std::mutex> l(s_->m);
		bool replaced = false;
		for (Job &q : s_->q)
			if (q.pid == pid) {
				q = j;
				replaced = true;
			}
		if (!replaced)
			s_->q.push_back(std::move(j));
		if (!th_.joinable()) {
			auto sync = s_;
			SystemOps &ops = ops_;
			Logger &log = log_;
			th_ = std::thread([sync, &ops, &log] { worker(sync, ops, log); });
		}
	}
	s_->cv.notify_one();
}

void MemoryMover::drain()
{
	if (!async_)
		return;
	std::unique_lock<std::mutex> l(s_->m);
	s_->idle_cv.wait(l, [&] { return s_->q.empty() && !s_->busy; });
}

void MemoryMover::worker(std::shared_ptr<Sync> sync, SystemOps &ops, Logger &log)
{
	std::unique_lock<std::mutex> l(sync->m);
	for (;;) {
		sync->cv.wait(l, [&] { return sync->stop || !sync->q.empty(); });
		if (sync->q.empty() && sync->stop)
			return;
		Job j = std::move(sync->q.front());
		sync->q.pop_front();
		sync->busy = true;
		l.unlock();
		run(ops, log, j);
		l.lock();
		sync->busy = false;
		sync->idle_cv.notify_all();
		if (sync->stop)
			return; // the owner may be gone: touch nothing of it
	}
}

void MemoryMover::run(SystemOps &ops, Logger &log, const Job &j)
{
	// The process may have exited, or its pid been reused, meanwhile.
	auto st = ops.start_time(j.pid, j.pid);
	if (!st || *st != j.start)
		return;
	const auto t0 = std::chrono::steady_clock::now();
	long left = 0;
	int err = ops.migrate_pages(j.pid, j.from, {j.node}, left);
	const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
	// migrate_pages(2) takes a pid (there is no pidfd form): confirm
	// afterwards that it was still the VM.
	auto again = ops.start_time(j.pid, j.pid);
	if (again && *again != j.start) {
		log.warn("placement: pid ", j.pid, " was reused while moving the memory of VM ", j.pid,
			 ": the new process's memory may have moved to node ", j.node);
		return;
	}
	if (err)
		log.warn("placement: migrate_pages of VM ", j.pid, " to node ", j.node, ": ", errno_str(err));
	else
		log.info("placement: VM ", j.pid, " memory -> node ", j.node, " in ", static_cast<long>(ms), " ms",
			 left ? " (" + std::to_string(left) + " pages could not move)" : std::string());
}

} // namespace offl
