// SPDX-License-Identifier: GPL-2.0
#include "loop.hpp"

#include "procevents.hpp"
#include "util.hpp"

#include <liburing.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <csignal>
#include <exception>
#include <map>
#include <memory>
#include <poll.h>
#include <set>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

namespace offl {

void LatencyStats::add(uint64_t ns)
{
	n_++;
	max_ = std::max(max_, ns);
	if (samples_.size() < kMax) {
		samples_.push_back(ns);
	} else {
		samples_[next_] = ns;
		next_ = (next_ + 1) % kMax;
	}
}

uint64_t LatencyStats::percentile(double p) const
{
	if (samples_.empty())
		return 0;
	std::vector<uint64_t> s = samples_;
	std::sort(s.begin(), s.end());
	size_t i = static_cast<size_t>(std::ceil(p / 100.0 * static_cast<double>(s.size()))) ;
	i = std::clamp<size_t>(i, 1, s.size()) - 1;
	return s[i];
}

std::string LatencyStats::summary() const
{
	char buf[128];
	snprintf(buf, sizeof(buf), "n=%zu p50=%.0fus p99=%.0fus max=%.0fus", n_,
		 static_cast<double>(percentile(50)) / 1e3, static_cast<double>(percentile(99)) / 1e3,
		 static_cast<double>(max_) / 1e3);
	return buf;
}

namespace {

sigset_t agent_sigset()
{
	sigset_t s;
	sigemptyset(&s);
	sigaddset(&s, SIGHUP);
	sigaddset(&s, SIGTERM);
	sigaddset(&s, SIGINT);
	sigaddset(&s, SIGUSR1);
	return s;
}

bool arm_timer(int tfd, double seconds)
{
	struct itimerspec its = {};
	double whole = std::floor(seconds);
	its.it_value.tv_sec = static_cast<time_t>(whole);
	its.it_value.tv_nsec = static_cast<long>((seconds - whole) * 1e9);
	if (its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0)
		its.it_value.tv_nsec = 1;
	its.it_interval = its.it_value;
	return timerfd_settime(tfd, 0, &its, nullptr) == 0;
}

// A failed pass (out of memory, say) is logged and the next one tried:
// dying here would leave the tasks changed with nobody to restore them.
template <typename F> void guarded(Logger &log, const char *what, F &&f)
{
	try {
		f();
	} catch (const std::exception &e) {
		log.error(what, " failed: ", e.what());
	}
}

// Which of a set of fds are readable.
class Waiter {
public:
	virtual ~Waiter() = default;
	virtual const char *name() const = 0;
	// ready[i] for fds[i]; false on a fatal error (errno set).
	virtual bool wait(const std::vector<int> &fds, std::vector<bool> &ready) = 0;
};

class PollWaiter : public Waiter {
public:
	const char *name() const override { return "poll"; }
	bool wait(const std::vector<int> &fds, std::vector<bool> &ready) override
	{
		std::vector<struct pollfd> p;
		for (int fd : fds)
			p.push_back({fd, POLLIN, 0});
		int r;
		do {
			r = poll(p.data(), p.size(), -1);
		} while (r < 0 && errno == EINTR);
		if (r < 0)
			return false;
		ready.assign(fds.size(), false);
		for (size_t i = 0; i < fds.size(); i++)
			ready[i] = (p[i].revents & (POLLIN | POLLERR | POLLHUP)) != 0;
		return true;
	}
};

// One-shot IORING_OP_POLL_ADD per fd, re-armed after it fires.
class UringWaiter : public Waiter {
public:
	static std::unique_ptr<UringWaiter> create(int &err)
	{
		auto w = std::unique_ptr<UringWaiter>(new UringWaiter);
		err = -io_uring_queue_init(16, &w->ring_, 0);
		if (err)
			return nullptr;
		w->ok_ = true;
		return w;
	}
	~UringWaiter() override
	{
		if (ok_)
			io_uring_queue_exit(&ring_);
	}
	const char *name() const override { return "io_uring"; }
	bool wait(const std::vector<int> &fds, std::vector<bool> &ready) override
	{
		for (int fd : fds) {
			if (armed_.count(fd))
				continue;
			struct io_uring_sqe *sqe = io_uring_get_sqe(&ring_);
			if (!sqe) {
				io_uring_submit(&ring_);
				sqe = io_uring_get_sqe(&ring_);
				if (!sqe) {
					errno = EBUSY;
					return false;
				}
			}
			io_uring_prep_poll_add(sqe, fd, POLLIN);
			io_uring_sqe_set_data64(sqe, static_cast<uint64_t>(fd));
			armed_.insert(fd);
		}
		int r;
		do {
			r = io_uring_submit_and_wait(&ring_, 1);
		} while (r == -EINTR);
		if (r < 0) {
			errno = -r;
			return false;
		}
		ready.assign(fds.size(), false);
		struct io_uring_cqe *cqe;
		unsigned head, seen = 0;
		io_uring_for_each_cqe(&ring_, head, cqe)
		{
			seen++;
			const int fd = static_cast<int>(io_uring_cqe_get_data64(cqe));
			armed_.erase(fd);
			// Errors too: the source's read() reports them.
			for (size_t i = 0; i < fds.size(); i++)
				if (fds[i] == fd)
					ready[i] = true;
		}
		io_uring_cq_advance(&ring_, seen);
		return true;
	}

private:
	UringWaiter() = default;
	struct io_uring ring_ = {};
	bool ok_ = false;
	std::set<int> armed_;
};

} // namespace

void block_agent_signals()
{
	sigset_t s = agent_sigset();
	sigprocmask(SIG_BLOCK, &s, nullptr);
}

int run_agent_loop(Agent &agent, Logger &log, std::vector<EventSource *> sources, LoopOptions opt)
{
	block_agent_signals();
	sigset_t s = agent_sigset();
	int sfd = signalfd(-1, &s, SFD_CLOEXEC | SFD_NONBLOCK);
	int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (sfd < 0 || tfd < 0) {
		log.error("cannot create signalfd/timerfd: ", errno_str(errno));
		return 1;
	}
	std::unique_ptr<Waiter> waiter;
	if (opt.io_uring) {
		int err = 0;
		waiter = UringWaiter::create(err);
		if (!waiter)
			log.info("io_uring unavailable (", errno_str(err), "): using poll(2)");
	}
	if (!waiter)
		waiter = std::make_unique<PollWaiter>();
	double interval = agent.config().resync_interval_s;
	arm_timer(tfd, interval);
	std::string src_names;
	for (EventSource *src : sources)
		src_names += std::string(src_names.empty() ? "" : ", ") + src->name();
	log.info("agent running: resync every ", interval, " s; events: ",
		 src_names.empty() ? std::string("none (resync only)") : src_names, " (", waiter->name(), ")",
		 agent.options().dry_run ? " (dry run)" : "", "; SIGHUP reloads ",
		 agent.options().config_path.empty() ? "(built-in defaults)" : agent.options().config_path,
		 ", SIGUSR1 resyncs, SIGTERM ", agent.options().keep_on_exit ? "exits" : "restores and exits");

	guarded(log, "resync", [&] { agent.reconcile(); });

	LatencyStats lat, work;
	std::vector<TaskEvent> events;
	std::vector<bool> ready;
	auto finish = [&](int rc) {
		if (lat.count())
			log.info("event-to-policy latency: ", lat.summary(), "; of which reconcile: ", work.summary());
		agent.finish();
		close(sfd);
		close(tfd);
		return rc;
	};
	for (;;) {
		std::vector<int> fds = {sfd, tfd};
		for (EventSource *src : sources)
			fds.push_back(src->fd());
		if (!waiter->wait(fds, ready)) {
			log.error(waiter->name(), ": ", errno_str(errno));
			return finish(1);
		}
		bool resync = false;
		if (ready[0]) {
			struct signalfd_siginfo si;
			// Only one signal is read per round so a flood cannot
			// starve the timer.
			if (read(sfd, &si, sizeof(si)) == static_cast<ssize_t>(sizeof(si))) {
				switch (si.ssi_signo) {
				case SIGTERM:
				case SIGINT:
					log.info("received ", si.ssi_signo == SIGTERM ? "SIGTERM" : "SIGINT");
					return finish(0);
				case SIGHUP:
					log.info("received SIGHUP: reloading configuration");
					if (agent.reload()) {
						if (agent.config().resync_interval_s != interval) {
							interval = agent.config().resync_interval_s;
							arm_timer(tfd, interval);
						}
						resync = true;
					}
					break;
				case SIGUSR1:
					resync = true;
					break;
				default:
					break;
				}
			}
		}
		if (ready[1]) {
			uint64_t expirations;
			if (read(tfd, &expirations, sizeof(expirations)) > 0)
				resync = true;
		}
		std::vector<pid_t> pids;
		// Per pid the latest event (an exec or comm change after a fork
		// is what makes a task classifiable): latency counts from there.
		std::map<pid_t, uint64_t> latest;
		for (size_t i = 0; i < sources.size(); i++) {
			if (!ready[2 + i])
				continue;
			events.clear();
			if (!sources[i]->read(events)) {
				log.warn("event source ", sources[i]->name(), " failed; relying on resync");
				sources.erase(sources.begin() + static_cast<long>(i));
				resync = true;
				break;
			}
			for (const TaskEvent &e : events) {
				pid_t pid = 0;
				if (e.kind == TaskEvent::Kind::Overflow) {
					log.debug("event source ", sources[i]->name(), ": events lost: resync");
					resync = true;
				} else if (e.kind == TaskEvent::Kind::Exit) {
					// Only exits a stage cares about (a VM or one
					// of its vCPUs) cost a reconcile.
					if (agent.task_exited(e.tid, e.tgid))
						pid = e.tgid;
				} else {
					pid = e.tid;
				}
				if (pid <= 0)
					continue;
				auto [it, fresh] = latest.emplace(pid, e.ts_ns);
				if (fresh)
					pids.push_back(pid);
				else
					it->second = std::max(it->second, e.ts_ns);
			}
		}
		if (resync) {
			guarded(log, "resync", [&] { agent.reconcile(); });
		} else if (!pids.empty()) {
			guarded(log, "event reconcile", [&] {
				const uint64_t t0 = monotonic_ns();
				ReconcileReport r = agent.reconcile_pids(pids);
				const size_t did = r.stats.applied + r.stage_changes + (agent.options().dry_run ? r.changes : 0);
				const uint64_t now = monotonic_ns();
				uint64_t first_ts = UINT64_MAX;
				for (const auto &[pid, ts] : latest)
					first_ts = std::min(first_ts, ts);
				if (did && first_ts != UINT64_MAX && first_ts <= now) {
					lat.add(now - first_ts);
					work.add(now - t0);
					log.debug("event -> policy applied in ", (now - first_ts) / 1000, " us (reconcile ",
						  (now - t0) / 1000, " us; ", did, " change(s), ", pids.size(), " task(s))");
				}
			});
		}
	}
}

} // namespace offl
