// SPDX-License-Identifier: GPL-2.0
#include "procevents.hpp"

#include "util.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <fcntl.h>
#include <linux/cn_proc.h>
#include <linux/connector.h>
#include <linux/netlink.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <unistd.h>

namespace offl {

uint64_t monotonic_ns()
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return static_cast<uint64_t>(ts.tv_sec) * 1000000000ULL + static_cast<uint64_t>(ts.tv_nsec);
}

void parse_proc_connector(const void *buf, size_t len, std::vector<TaskEvent> &out)
{
	const char *p = static_cast<const char *>(buf);
	size_t off = 0;
	while (off + sizeof(struct nlmsghdr) <= len) {
		struct nlmsghdr nh;
		memcpy(&nh, p + off, sizeof(nh));
		if (nh.nlmsg_len < sizeof(nh) || off + nh.nlmsg_len > len)
			break;
		const size_t payload = nh.nlmsg_len - NLMSG_HDRLEN;
		const char *data = p + off + NLMSG_HDRLEN;
		off += NLMSG_ALIGN(nh.nlmsg_len);
		if (nh.nlmsg_type == NLMSG_ERROR || nh.nlmsg_type == NLMSG_NOOP)
			continue;
		if (payload < sizeof(struct cn_msg))
			continue;
		struct cn_msg cn;
		memcpy(&cn, data, sizeof(cn));
		if (cn.id.idx != CN_IDX_PROC || cn.id.val != CN_VAL_PROC)
			continue;
		// The event may be shorter than the full union in newer
		// headers; copy what is there into a zeroed struct.
		struct proc_event ev;
		memset(&ev, 0, sizeof(ev));
		size_t n = std::min<size_t>({payload - sizeof(struct cn_msg), static_cast<size_t>(cn.len), sizeof(ev)});
		if (n < offsetof(struct proc_event, event_data))
			continue;
		memcpy(&ev, data + sizeof(struct cn_msg), n);
		TaskEvent e;
		e.ts_ns = ev.timestamp_ns;
		switch (ev.what) {
		case proc_event::PROC_EVENT_FORK:
			e.kind = TaskEvent::Kind::Fork;
			e.tid = ev.event_data.fork.child_pid;
			e.tgid = ev.event_data.fork.child_tgid;
			break;
		case proc_event::PROC_EVENT_EXEC:
			e.kind = TaskEvent::Kind::Exec;
			e.tid = ev.event_data.exec.process_pid;
			e.tgid = ev.event_data.exec.process_tgid;
			break;
		case proc_event::PROC_EVENT_COMM:
			e.kind = TaskEvent::Kind::Comm;
			e.tid = ev.event_data.comm.process_pid;
			e.tgid = ev.event_data.comm.process_tgid;
			break;
		case proc_event::PROC_EVENT_EXIT:
			e.kind = TaskEvent::Kind::Exit;
			e.tid = ev.event_data.exit.process_pid;
			e.tgid = ev.event_data.exit.process_tgid;
			break;
		default:
			continue; // uid/gid/sid/ptrace/coredump, the subscription ack
		}
		if (e.tid <= 0)
			continue;
		out.push_back(e);
	}
}

std::unique_ptr<ProcConnector> ProcConnector::open(std::string &err)
{
	int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_CONNECTOR);
	if (fd < 0) {
		err = "socket(NETLINK_CONNECTOR): " + errno_str(errno);
		return nullptr;
	}
	// A large buffer makes ENOBUFS rare (fork storms); ENOBUFS still
	// means a resync.  RCVBUFFORCE needs CAP_NET_ADMIN, which the
	// subscription needs anyway.
	int sz = 4 << 20;
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz)) != 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	struct sockaddr_nl sa = {};
	sa.nl_family = AF_NETLINK;
	sa.nl_groups = CN_IDX_PROC;
	sa.nl_pid = 0; // let the kernel pick a port id
	if (bind(fd, reinterpret_cast<struct sockaddr *>(&sa), sizeof(sa)) != 0) {
		err = "bind(proc connector): " + errno_str(errno);
		close(fd);
		return nullptr;
	}
	// nlmsghdr + cn_msg + the listen op, built byte by byte (cn_msg ends
	// in a flexible array).
	alignas(struct nlmsghdr) char msg[NLMSG_SPACE(sizeof(struct cn_msg) + sizeof(enum proc_cn_mcast_op))] = {};
	struct nlmsghdr nh = {};
	nh.nlmsg_len = NLMSG_LENGTH(sizeof(struct cn_msg) + sizeof(enum proc_cn_mcast_op));
	nh.nlmsg_type = NLMSG_DONE;
	nh.nlmsg_pid = 0;
	struct cn_msg cn = {};
	cn.id.idx = CN_IDX_PROC;
	cn.id.val = CN_VAL_PROC;
	cn.len = sizeof(enum proc_cn_mcast_op);
	enum proc_cn_mcast_op op = PROC_CN_MCAST_LISTEN;
	memcpy(msg, &nh, sizeof(nh));
	memcpy(msg + NLMSG_HDRLEN, &cn, sizeof(cn));
	memcpy(msg + NLMSG_HDRLEN + sizeof(cn), &op, sizeof(op));
	const size_t msg_len = nh.nlmsg_len;
	if (send(fd, msg, msg_len, 0) != static_cast<ssize_t>(msg_len)) {
		err = "subscribing to the proc connector: " + errno_str(errno);
		close(fd);
		return nullptr;
	}
	return std::unique_ptr<ProcConnector>(new ProcConnector(fd));
}

ProcConnector::~ProcConnector()
{
	close(fd_);
}

bool ProcConnector::read(std::vector<TaskEvent> &out)
{
	alignas(struct nlmsghdr) char buf[16384];
	for (int rounds = 0; rounds < 64; rounds++) {
		ssize_t n = recv(fd_, buf, sizeof(buf), 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return true;
			if (errno == ENOBUFS) {
				// Events were dropped: the loop resyncs.
				overflows_++;
				TaskEvent e;
				e.kind = TaskEvent::Kind::Overflow;
				e.ts_ns = monotonic_ns();
				out.push_back(e);
				continue;
			}
			return false;
		}
		if (n == 0)
			return false;
		parse_proc_connector(buf, static_cast<size_t>(n), out);
	}
	return true; // more pending: the next round gets them
}

std::unique_ptr<PidFileWatch> PidFileWatch::open(const std::vector<std::string> &dirs, std::string &err)
{
	int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (fd < 0) {
		err = "inotify_init1: " + errno_str(errno);
		return nullptr;
	}
	std::unique_ptr<PidFileWatch> w(new PidFileWatch(fd));
	for (const std::string &d : dirs) {
		int wd = inotify_add_watch(fd, d.c_str(), IN_CLOSE_WRITE | IN_MOVED_TO | IN_DELETE | IN_MOVED_FROM |
								  IN_ONLYDIR);
		if (wd < 0)
			continue;
		w->wds_.emplace_back(wd, d);
		w->watched_.push_back(d);
	}
	if (w->watched_.empty()) {
		err = "none of the pid-file directories can be watched";
		return nullptr;
	}
	return w;
}

PidFileWatch::~PidFileWatch()
{
	close(fd_);
}

bool PidFileWatch::read(std::vector<TaskEvent> &out)
{
	alignas(struct inotify_event) char buf[8192];
	for (;;) {
		ssize_t n = ::read(fd_, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return true;
		if (n <= 0)
			return false;
		const uint64_t now = monotonic_ns();
		for (ssize_t off = 0; off + static_cast<ssize_t>(sizeof(struct inotify_event)) <= n;) {
			struct inotify_event ev;
			memcpy(&ev, buf + off, sizeof(ev));
			const char *name = buf + off + sizeof(struct inotify_event);
			off += static_cast<ssize_t>(sizeof(struct inotify_event) + ev.len);
			TaskEvent e;
			e.ts_ns = now;
			if (ev.mask & IN_Q_OVERFLOW) {
				out.push_back(e); // Overflow
				continue;
			}
			std::string file = ev.len ? std::string(name, strnlen(name, ev.len)) : std::string();
			if (file.size() < 5 || file.compare(file.size() - 4, 4, ".pid") != 0)
				continue;
			if (ev.mask & (IN_DELETE | IN_MOVED_FROM)) {
				out.push_back(e); // something stopped: resync
				continue;
			}
			std::string dir;
			for (const auto &[wd, d] : wds_)
				if (wd == ev.wd)
					dir = d;
			int pfd = ::open((dir + "/" + file).c_str(), O_RDONLY | O_CLOEXEC);
			if (pfd < 0)
				continue;
			char pb[32] = {};
			ssize_t r = ::read(pfd, pb, sizeof(pb) - 1);
			close(pfd);
			auto pid = r > 0 ? parse_num<pid_t>(trim(std::string_view(pb, static_cast<size_t>(r))))
					 : std::nullopt;
			if (!pid || *pid <= 0) {
				out.push_back(e);
				continue;
			}
			e.kind = TaskEvent::Kind::Exec;
			e.tid = e.tgid = *pid;
			out.push_back(e);
		}
	}
}

} // namespace offl
