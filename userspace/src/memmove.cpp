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
	{
		std::lock_guard<std::mutex> l(m_);
		stop_ = true;
	}
	cv_.notify_all();
	th_.join();
}

void MemoryMover::submit(pid_t pid, uint64_t start_time, std::vector<int> from, int node)
{
	Job j{pid, start_time, std::move(from), node};
	if (!async_) {
		run(j);
		return;
	}
	{
		std::lock_guard<std::mutex> l(m_);
		bool replaced = false;
		for (Job &q : q_)
			if (q.pid == pid) {
				q = j;
				replaced = true;
			}
		if (!replaced)
			q_.push_back(std::move(j));
		if (!th_.joinable())
			th_ = std::thread([this] { worker(); });
	}
	cv_.notify_one();
}

void MemoryMover::drain()
{
	if (!async_)
		return;
	std::unique_lock<std::mutex> l(m_);
	idle_cv_.wait(l, [&] { return q_.empty() && !busy_; });
}

void MemoryMover::worker()
{
	std::unique_lock<std::mutex> l(m_);
	for (;;) {
		cv_.wait(l, [&] { return stop_ || !q_.empty(); });
		if (q_.empty() && stop_)
			return;
		Job j = std::move(q_.front());
		q_.pop_front();
		busy_ = true;
		l.unlock();
		run(j);
		l.lock();
		busy_ = false;
		if (q_.empty())
			idle_cv_.notify_all();
	}
}

void MemoryMover::run(const Job &j)
{
	// The process may have exited, or its pid been reused, meanwhile.
	auto st = ops_.start_time(j.pid, j.pid);
	if (!st || *st != j.start)
		return;
	const auto t0 = std::chrono::steady_clock::now();
	long left = 0;
	int err = ops_.migrate_pages(j.pid, j.from, {j.node}, left);
	const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
	if (err)
		log_.warn("placement: migrate_pages of VM ", j.pid, " to node ", j.node, ": ", errno_str(err));
	else
		log_.info("placement: VM ", j.pid, " memory -> node ", j.node, " in ", static_cast<long>(ms), " ms",
			  left ? " (" + std::to_string(left) + " pages could not move)" : std::string());
}

} // namespace offl
