// SPDX-License-Identifier: GPL-2.0
// Event sources for the agent loop:
//
//   ProcConnector  the netlink proc connector (fork, exec, comm, exit of
//                  every task; needs CAP_NET_ADMIN and CONFIG_PROC_EVENTS).
//                  A full receive buffer loses events: ENOBUFS is reported
//                  as one Overflow event, which makes the loop resync.
//   PidFileWatch   the fallback: inotify on directories holding pid files
//                  (/run, /run/libvirt/qemu, ...).  A pid file written
//                  names a process to reconcile; one removed means
//                  something stopped: resync.  Coarser (only daemons and VMs
//                  that write pid files), but needs no privilege.
//
// Parsing is separate from the sockets so tests feed it raw bytes.
#pragma once

#include "events.hpp"

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

namespace offl {

uint64_t monotonic_ns();

// Netlink datagram(s) from the proc connector -> events (appended).
// Malformed parts are skipped.
void parse_proc_connector(const void *buf, size_t len, std::vector<TaskEvent> &out);

class ProcConnector : public EventSource {
public:
	// nullptr with err set when the connector cannot be opened or
	// subscribed (EPERM without CAP_NET_ADMIN, EPROTONOSUPPORT without
	// CONFIG_CONNECTOR).
	static std::unique_ptr<ProcConnector> open(std::string &err);
	~ProcConnector() override;

	const char *name() const override { return "proc connector"; }
	int fd() const override { return fd_; }
	bool read(std::vector<TaskEvent> &out) override;
	size_t overflows() const { return overflows_; }

private:
	explicit ProcConnector(int fd) : fd_(fd) {}
	int fd_;
	size_t overflows_ = 0;
};

class PidFileWatch : public EventSource {
public:
	// Watches every directory of `dirs` that exists; nullptr with err when
	// none can be watched.
	static std::unique_ptr<PidFileWatch> open(const std::vector<std::string> &dirs, std::string &err);
	~PidFileWatch() override;

	const char *name() const override { return "pid-file watch"; }
	int fd() const override { return fd_; }
	bool read(std::vector<TaskEvent> &out) override;
	const std::vector<std::string> &watched() const { return watched_; }

private:
	explicit PidFileWatch(int fd) : fd_(fd) {}
	int fd_;
	std::vector<std::pair<int, std::string>> wds_;
	std::vector<std::string> watched_;
};

} // namespace offl
