// SPDX-License-Identifier: GPL-2.0
#include "qmp.hpp"

#include "util.hpp"

#include <nlohmann/json.hpp>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <algorithm>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

namespace offl {

using json = nlohmann::json;

namespace {

class Conn {
public:
	explicit Conn(int timeout_ms)
		: deadline_(std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms)) {}
	~Conn()
	{
		if (fd_ >= 0)
			close(fd_);
	}

	bool open(const std::string &path, std::string &err)
	{
		struct sockaddr_un sa = {};
		sa.sun_family = AF_UNIX;
		if (path.size() >= sizeof(sa.sun_path)) {
			err = "socket path too long";
			return false;
		}
		memcpy(sa.sun_path, path.c_str(), path.size() + 1);
		fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (fd_ < 0 || (connect(fd_, reinterpret_cast<struct sockaddr *>(&sa), sizeof(sa)) != 0 &&
				errno != EINPROGRESS)) {
			err = "connect " + path + ": " + errno_str(errno);
			return false;
		}
		return wait(POLLOUT, err);
	}

	bool send(const std::string &line, std::string &err)
	{
		std::string data = line + "\r\n";
		size_t off = 0;
		while (off < data.size()) {
			if (!wait(POLLOUT, err))
				return false;
			ssize_t n = ::send(fd_, data.data() + off, data.size() - off, MSG_NOSIGNAL);
			if (n < 0 && (errno == EAGAIN || errno == EINTR))
				continue;
			if (n < 0) {
				err = "send: " + errno_str(errno);
				return false;
			}
			off += static_cast<size_t>(n);
		}
		return true;
	}

	// Next JSON object that is not an asynchronous event.
	std::optional<json> next(std::string &err)
	{
		for (;;) {
			size_t nl;
			while ((nl = buf_.find('\n')) != std::string::npos) {
				std::string line = buf_.substr(0, nl);
				buf_.erase(0, nl + 1);
				if (trim(line).empty())
					continue;
				json j = json::parse(line, nullptr, false);
				if (j.is_discarded() || !j.is_object()) {
					err = "malformed QMP message";
					return std::nullopt;
				}
				if (j.contains("event"))
					continue;
				return j;
			}
			if (buf_.size() > (1 << 20)) {
				err = "QMP message too long";
				return std::nullopt;
			}
			if (!wait(POLLIN, err))
				return std::nullopt;
			char tmp[4096];
			ssize_t n = recv(fd_, tmp, sizeof(tmp), 0);
			if (n < 0 && (errno == EAGAIN || errno == EINTR))
				continue;
			if (n <= 0) {
				err = n == 0 ? "QMP socket closed" : "recv: " + errno_str(errno);
				return std::nullopt;
			}
			buf_.append(tmp, static_cast<size_t>(n));
		}
	}

	int fd() const { return fd_; }

private:
	bool wait(short ev, std::string &err)
	{
		for (;;) {
			auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline_ -
											 std::chrono::steady_clock::now());
			if (left.count() <= 0) {
				err = "QMP timeout";
				return false;
			}
			struct pollfd p = {fd_, ev, 0};
			int r = poll(&p, 1, static_cast<int>(left.count()));
			if (r < 0 && errno == EINTR)
				continue;
			if (r < 0) {
				err = "poll: " + errno_str(errno);
				return false;
			}
			if (r == 0)
				continue;
			if (p.revents & (POLLERR | POLLNVAL)) {
				err = "QMP socket error";
				return false;
			}
			return true;
		}
	}

	int fd_ = -1;
	std::string buf_;
	std::chrono::steady_clock::time_point deadline_;
};

} // namespace

std::optional<std::string> qmp_execute(const std::string &socket, const std::string &command, std::string &err,
				       int timeout_ms, std::optional<uid_t> peer_uid)
{
	Conn c(timeout_ms);
	if (!c.open(socket, err))
		return std::nullopt;
	if (peer_uid) {
		struct ucred cred = {};
		socklen_t len = sizeof(cred);
		if (getsockopt(c.fd(), SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
			err = "SO_PEERCRED: " + errno_str(errno);
			return std::nullopt;
		}
		if (cred.uid != *peer_uid) {
			err = "QMP socket " + socket + " is served by uid " + std::to_string(cred.uid) + " (pid " +
			      std::to_string(cred.pid) + "), not the VM's uid " + std::to_string(*peer_uid) +
			      ": not asked";
			return std::nullopt;
		}
	}
	auto greeting = c.next(err);
	if (!greeting)
		return std::nullopt;
	if (!greeting->contains("QMP")) {
		err = "no QMP greeting";
		return std::nullopt;
	}
	if (!c.send(R"({"execute":"qmp_capabilities"})", err))
		return std::nullopt;
	auto caps = c.next(err);
	if (!caps)
		return std::nullopt;
	if (!caps->contains("return")) {
		err = "qmp_capabilities refused: " + caps->dump();
		return std::nullopt;
	}
	if (!c.send(json{{"execute", command}}.dump(), err))
		return std::nullopt;
	auto reply = c.next(err);
	if (!reply)
		return std::nullopt;
	if (!reply->contains("return")) {
		err = command + " failed: " + reply->dump();
		return std::nullopt;
	}
	return reply->at("return").dump();
}

std::map<int, pid_t> parse_query_cpus_fast(const std::string &text)
{
	std::map<int, pid_t> out;
	json j = json::parse(text, nullptr, false);
	if (!j.is_array())
		return out;
	for (const json &cpu : j) {
		if (!cpu.is_object() || !cpu.contains("cpu-index") || !cpu.contains("thread-id"))
			continue;
		const json &idx = cpu["cpu-index"], &tid = cpu["thread-id"];
		if (!idx.is_number_integer() || !tid.is_number_integer())
			continue;
		// Range-checked before narrowing: a 64-bit index must not
		// turn into a negative vCPU.
		const int64_t i = idx.get<int64_t>(), t = tid.get<int64_t>();
		if (i < 0 || i > 4095 || t <= 0 || t > 0x3fffffff)
			continue;
		out[static_cast<int>(i)] = static_cast<pid_t>(t);
	}
	return out;
}

std::map<int, pid_t> qmp_vcpu_threads(const std::string &socket, std::optional<uid_t> peer_uid, std::string *err,
				      int timeout_ms)
{
	std::string e;
	auto r = qmp_execute(socket, "query-cpus-fast", e, timeout_ms, peer_uid);
	if (err)
		*err = e;
	if (!r)
		return {};
	return parse_query_cpus_fast(*r);
}

AsyncQmp::AsyncQmp(Ask ask, int timeout_ms) : ask_(std::move(ask))
{
	if (!ask_)
		ask_ = [timeout_ms](const QmpTarget &t, std::string &err) {
			return qmp_vcpu_threads(t.socket, t.uid, &err, timeout_ms);
		};
	th_ = std::thread([this] { worker(); });
}

AsyncQmp::~AsyncQmp()
{
	{
		std::lock_guard<std::mutex> l(mu_);
		stop_ = true;
	}
	cv_.notify_all();
	th_.join();
}

std::optional<std::map<int, pid_t>> AsyncQmp::lookup(const QmpTarget &t)
{
	std::lock_guard<std::mutex> l(mu_);
	Entry &e = vms_[t.tgid];
	if (e.start != t.start_time) // a new process under that pid
		e = Entry{t.start_time};
	if (e.answer) {
		auto a = std::move(e.answer);
		e.answer.reset();
		return a;
	}
	if (e.queued || std::chrono::steady_clock::now() < e.not_before)
		return std::nullopt;
	e.queued = true;
	queue_.push_back(t);
	cv_.notify_one();
	return std::nullopt;
}

void AsyncQmp::drain()
{
	std::unique_lock<std::mutex> l(mu_);
	idle_.wait(l, [this] { return queue_.empty() && !busy_; });
}

std::string AsyncQmp::last_error(pid_t tgid)
{
	std::lock_guard<std::mutex> l(mu_);
	auto it = vms_.find(tgid);
	return it == vms_.end() ? std::string() : it->second.err;
}

void AsyncQmp::worker()
{
	std::unique_lock<std::mutex> l(mu_);
	for (;;) {
		cv_.wait(l, [this] { return stop_ || !queue_.empty(); });
		if (stop_)
			return;
		QmpTarget t = std::move(queue_.front());
		queue_.pop_front();
		busy_ = true;
		l.unlock();
		std::string err;
		auto m = ask_(t, err);
		l.lock();
		busy_ = false;
		Entry &e = vms_[t.tgid];
		if (e.start == t.start_time) {
			e.queued = false;
			e.err = err;
			if (!m.empty()) {
				e.answer = std::move(m);
				e.backoff = std::chrono::milliseconds(0);
			} else {
				e.backoff = e.backoff.count() == 0 ? std::chrono::milliseconds(1000)
								   : std::min(e.backoff * 2, std::chrono::milliseconds(60000));
				e.not_before = std::chrono::steady_clock::now() + e.backoff;
			}
		}
		// Forget VMs nobody asked about for long (exited).
		if (vms_.size() > 4096)
			for (auto it = vms_.begin(); it != vms_.end();)
				it = !it->second.queued && !it->second.answer ? vms_.erase(it) : std::next(it);
		if (queue_.empty())
			idle_.notify_all();
	}
}

} // namespace offl
