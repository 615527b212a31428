// SPDX-License-Identifier: GPL-2.0
// libFuzzer target: the TOML config parser must either return a config or
// throw ConfigError (with a file name and line), never crash or hang.
#include "config.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 64 * 1024)
		return 0;
	std::string_view text(reinterpret_cast<const char *>(data), size);
	offl::ConfigParseOptions opt;
	opt.passwd_path = "/nonexistent";
	try {
		offl::Config c = offl::parse_config(text, "fuzz.toml", opt);
		// Exercise the compiled rules on a task.
		offl::ProcessInfo p;
		p.tgid = 100;
		p.comm = "sshd";
		p.exe = "/usr/sbin/sshd";
		p.cmdline = "sshd -D";
		p.cgroup = "/system.slice/ssh.service";
		offl::TaskInfo t;
		t.tid = 100;
		t.tgid = 100;
		t.comm = "sshd";
		t.policy = 0;
		(void)offl::classify(t, p, c.classify);
	} catch (const offl::ConfigError &e) {
		if (e.file() != "fuzz.toml")
			abort();
	}
	return 0;
}
