// SPDX-License-Identifier: GPL-2.0
// libFuzzer target: what the agent parses from the kernel and QEMU for
// placement and events: proc connector datagrams, QMP query-cpus-fast
// replies, QEMU command lines (QMP socket, VM name), cgroup files.
// Checks the invariants callers rely on.
#include "cgroupfs.hpp"
#include "procevents.hpp"
#include "qmp.hpp"
#include "vm.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	std::vector<offl::TaskEvent> ev;
	offl::parse_proc_connector(data, size, ev);
	for (const offl::TaskEvent &e : ev)
		if (e.tid <= 0 && e.kind != offl::TaskEvent::Kind::Overflow)
			abort(); // the loop would reconcile pid 0
	// Each event needs a netlink header, a connector header and the
	// event's fixed part.
	if (ev.size() * 16 > size)
		abort();
	std::string text(reinterpret_cast<const char *>(data), size);
	for (const auto &[idx, tid] : offl::parse_query_cpus_fast(text))
		if (idx < 0 || tid <= 0)
			abort();
	(void)offl::qemu_qmp_socket(text);
	(void)offl::qemu_vm_name(text);
	(void)offl::cgroup_path_of(text, "cpuset");
	(void)offl::cgroup_path_of(text, "");
	return 0;
}
