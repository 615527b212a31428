// SPDX-License-Identifier: GPL-2.0
#include "loop.hpp"

#include "util.hpp"

#include <cerrno>
#include <cmath>
#include <csignal>
#include <exception>
#include <poll.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

namespace offl {

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

} // namespace

void block_agent_signals()
{
	sigset_t s = agent_sigset();
	sigprocmask(SIG_BLOCK, &s, nullptr);
}

int run_agent_loop(Agent &agent, Logger &log, std::vector<EventSource *> sources)
{
	block_agent_signals();
	sigset_t s = agent_sigset();
	int sfd = signalfd(-1, &s, SFD_CLOEXEC);
	int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
	if (sfd < 0 || tfd < 0) {
		log.error("cannot create signalfd/timerfd: ", errno_str(errno));
		return 1;
	}
	double interval = agent.config().resync_interval_s;
	arm_timer(tfd, interval);
	log.info("agent running: resync every ", interval, " s", agent.options().dry_run ? " (dry run)" : "",
		 "; SIGHUP reloads ", agent.options().config_path.empty() ? "(built-in defaults)" : agent.options().config_path,
		 ", SIGUSR1 resyncs, SIGTERM ", agent.options().keep_on_exit ? "exits" : "restores and exits");

	guarded(log, "resync", [&] { agent.reconcile(); });

	std::vector<TaskEvent> events;
	for (;;) {
		std::vector<struct pollfd> pfds = {{sfd, POLLIN, 0}, {tfd, POLLIN, 0}};
		for (EventSource *src : sources)
			pfds.push_back({src->fd(), POLLIN, 0});
		int r = poll(pfds.data(), pfds.size(), -1);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			log.error("poll: ", errno_str(errno));
			agent.finish();
			return 1;
		}
		bool resync = false;
		if (pfds[0].revents & POLLIN) {
			struct signalfd_siginfo si;
			while (read(sfd, &si, sizeof(si)) == static_cast<ssize_t>(sizeof(si))) {
				switch (si.ssi_signo) {
				case SIGTERM:
				case SIGINT:
					log.info("received ", si.ssi_signo == SIGTERM ? "SIGTERM" : "SIGINT");
					agent.finish();
					close(sfd);
					close(tfd);
					return 0;
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
				// Only one signal is read per round so a flood cannot
				// starve the timer.
				break;
			}
		}
		if (pfds[1].revents & POLLIN) {
			uint64_t expirations;
			if (read(tfd, &expirations, sizeof(expirations)) > 0)
				resync = true;
		}
		std::vector<pid_t> pids;
		for (size_t i = 0; i < sources.size(); i++) {
			if (!(pfds[2 + i].revents & (POLLIN | POLLERR | POLLHUP)))
				continue;
			events.clear();
			if (!sources[i]->read(events)) {
				log.warn("event source ", sources[i]->name(), " failed; relying on resync");
				sources.erase(sources.begin() + static_cast<long>(i));
				resync = true;
				break;
			}
			for (const TaskEvent &e : events) {
				if (e.kind == TaskEvent::Kind::Overflow)
					resync = true;
				else if (e.kind != TaskEvent::Kind::Exit)
					pids.push_back(e.tid);
			}
		}
		if (resync)
			guarded(log, "resync", [&] { agent.reconcile(); });
		else if (!pids.empty())
			guarded(log, "event reconcile", [&] { agent.reconcile_pids(pids); });
	}
}

} // namespace offl
