// SPDX-License-Identifier: GPL-2.0
// A minimal QMP client: connect to a QEMU monitor's unix socket, read the
// greeting, negotiate (qmp_capabilities), run one command.  Used for
// query-cpus-fast (vCPU index -> host thread id) when a VM's threads carry
// no names.  Every step is bounded by a timeout; any failure gives an
// empty answer, never an exception.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <sys/types.h>
#include <thread>

namespace offl {

// The "return" member of the reply to `command` (JSON text), or nullopt
// with err set.  With peer_uid, the socket's other end (SO_PEERCRED) must
// be a process of that uid: the VM's own QEMU, not something a user
// listens on at the path the command line names.
std::optional<std::string> qmp_execute(const std::string &socket, const std::string &command, std::string &err,
				       int timeout_ms = 1000, std::optional<uid_t> peer_uid = std::nullopt);

// A VM's monitor: the socket its command line names and the QEMU process's
// uid (what the peer must be).
struct QmpTarget {
	std::string socket;
	pid_t tgid = 0;
	uint64_t start_time = 0;
	uid_t uid = static_cast<uid_t>(-1);
};

// query-cpus-fast: cpu-index -> thread-id ({} on any failure).
std::map<int, pid_t> qmp_vcpu_threads(const std::string &socket, std::optional<uid_t> peer_uid = std::nullopt,
				      std::string *err = nullptr, int timeout_ms = 1000);

// The daemon's QMP client: asks on a thread of its own, so that a monitor
// that never answers costs the event loop nothing.  lookup() returns the
// answer once one has arrived (and forgets it: the caller keeps it), else
// queues the question (once per VM) and returns nullopt.  A VM whose
// monitor failed is asked again only after a backoff (1 s, doubling to
// 60 s).
class AsyncQmp {
public:
	using Ask = std::function<std::map<int, pid_t>(const QmpTarget &, std::string &err)>;
	explicit AsyncQmp(Ask ask = {}, int timeout_ms = 1000);
	~AsyncQmp();
	AsyncQmp(const AsyncQmp &) = delete;
	AsyncQmp &operator=(const AsyncQmp &) = delete;

	std::optional<std::map<int, pid_t>> lookup(const QmpTarget &t);
	// Wait until no question is queued or being asked (tests).
	void drain();
	// The last failure per VM (tgid), for logs.
	std::string last_error(pid_t tgid);

private:
	struct Entry {
		uint64_t start = 0;
		bool queued = false;
		std::optional<std::map<int, pid_t>> answer;
		std::chrono::steady_clock::time_point not_before{};
		std::chrono::milliseconds backoff{0};
		std::string err;
	};
	void worker();

	Ask ask_;
	std::mutex mu_;
	std::condition_variable cv_, idle_;
	std::deque<QmpTarget> queue_;
	std::map<pid_t, Entry> vms_;
	bool busy_ = false, stop_ = false;
	std::thread th_;
};

// Parse a query-cpus-fast "return" array (JSON text); {} when malformed.
std::map<int, pid_t> parse_query_cpus_fast(const std::string &json_return);

} // namespace offl
