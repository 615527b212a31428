// SPDX-License-Identifier: GPL-2.0
// The VMs on the host as seen from a classified snapshot: QEMU processes,
// their vCPU threads (by index) and service threads.  Used by `status` and
// by vCPU placement (agent part 2).
#pragma once

#include "classify.hpp"
#include "procfs.hpp"

#include <string>
#include <vector>

namespace offl {

struct VcpuThread {
	int index = -1;
	pid_t tid = 0;
	size_t task = 0; // index into Snapshot::tasks
};

struct VmInfo {
	pid_t tgid = 0;
	std::string name;   // from -name (guest=NAME or NAME), else ""
	std::string exe;
	std::string cgroup;
	std::vector<VcpuThread> vcpus; // sorted by index
	std::vector<pid_t> service_threads;
};

// "-name guest=foo,debug-threads=on" / "-name foo" -> "foo".
std::string qemu_vm_name(std::string_view cmdline);

// The QMP unix socket of a QEMU command line: "-qmp unix:PATH[,...]", or
// "-chardev socket,id=X,path=PATH,..." with "-mon chardev=X,mode=control".
// "" when there is none.
std::string qemu_qmp_socket(std::string_view cmdline);

std::vector<VmInfo> discover_vms(const Snapshot &snap, const std::vector<Verdict> &verdicts);

} // namespace offl
