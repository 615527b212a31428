// SPDX-License-Identifier: GPL-2.0
// A minimal QMP client: connect to a QEMU monitor's unix socket, read the
// greeting, negotiate (qmp_capabilities), run one command.  Used for
// query-cpus-fast (vCPU index -> host thread id) when a VM's threads carry
// no names.  Every step is bounded by a timeout; any failure gives an
// empty answer, never an exception.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <sys/types.h>

namespace offl {

// The "return" member of the reply to `command` (JSON text), or nullopt
// with err set.
std::optional<std::string> qmp_execute(const std::string &socket, const std::string &command, std::string &err,
				       int timeout_ms = 1000);

// query-cpus-fast: cpu-index -> thread-id ({} on any failure).
std::map<int, pid_t> qmp_vcpu_threads(const std::string &socket);

// Parse a query-cpus-fast "return" array (JSON text); {} when malformed.
std::map<int, pid_t> parse_query_cpus_fast(const std::string &json_return);

} // namespace offl
