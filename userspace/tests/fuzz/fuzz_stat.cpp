// SPDX-License-Identifier: GPL-2.0
// libFuzzer target: the /proc parsers (stat, status, cgroup, cmdline,
// sched_offline) on arbitrary bytes.  Checks the stat parser's invariants.
#include "procfs.hpp"
#include "util.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	std::string_view text(reinterpret_cast<const char *>(data), size);
	if (auto st = offl::parse_stat(text)) {
		// comm sits between the first " (" and the last ')'.
		if (st->comm.size() + 2 > size)
			abort();
		if (st->nice < -20 || st->nice > 19)
			abort();
	}
	(void)offl::parse_status(text);
	(void)offl::parse_cgroup(text);
	(void)offl::parse_cmdline(text);
	(void)offl::parse_sched_offline(text);
	(void)offl::parse_vcpu_thread_name(text);
	(void)offl::parse_cpu_list(text);
	return 0;
}
