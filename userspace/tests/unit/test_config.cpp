// SPDX-License-Identifier: GPL-2.0
#include "config.hpp"
#include "fake_proc.hpp"

#include <gtest/gtest.h>

using namespace offl;

namespace {

// Expect parse_config to fail at `line` with a message containing `what`.
void expect_error(const std::string &text, int line, const std::string &what)
{
	try {
		parse_config(text, "/etc/offlinectl/test.toml");
		ADD_FAILURE() << "no error for:\n" << text;
	} catch (const ConfigError &e) {
		EXPECT_EQ(e.file(), "/etc/offlinectl/test.toml");
		EXPECT_EQ(e.line(), line) << e.what();
		EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
		EXPECT_EQ(std::string(e.what()).rfind("/etc/offlinectl/test.toml:" + std::to_string(line) + ": ", 0), 0u)
			<< e.what();
	}
}

} // namespace

TEST(Config, BuiltInDefaultsAreConservative)
{
	Config c = default_config();
	EXPECT_EQ(c.settings(Class::Vcpu).action, Action::Online);
	EXPECT_EQ(c.settings(Class::VmService).action, Action::Online);
	EXPECT_EQ(c.settings(Class::Critical).action, Action::Online);
	EXPECT_EQ(c.settings(Class::Batch).action, Action::Offline);
	EXPECT_EQ(c.settings(Class::Host).action, Action::Keep);
	EXPECT_EQ(c.classify.default_class, Class::Host);
	EXPECT_TRUE(c.classify.exempt_openvswitch);
	EXPECT_FALSE(c.classify.classify_realtime);
}

TEST(Config, ShippedExampleParses)
{
	Config c = load_config(OFFLINECTL_EXAMPLES_DIR "/offlinectl.toml");
	EXPECT_EQ(c.settings(Class::Host).action, Action::Offline);
	EXPECT_EQ(c.settings(Class::Batch).action, Action::Offline);
	EXPECT_EQ(c.settings(Class::Critical).action, Action::Online);
	EXPECT_TRUE(c.classify.exempt_openvswitch);
	EXPECT_DOUBLE_EQ(c.resync_interval_s, 10.0);
	ASSERT_GE(c.classify.rules.size(), 2u);
	const Rule &crit = c.classify.rules[0];
	EXPECT_EQ(crit.cls, Class::Critical);
	EXPECT_GT(crit.line, 1);
	// Anchored by exe + uid 0 (issue 13: no grant by a name alone).
	ASSERT_TRUE(crit.exe.has_value());
	EXPECT_FALSE(crit.comm.has_value());
	EXPECT_EQ(crit.uids, (std::vector<uid_t>{0}));
	for (const char *name : {"/usr/sbin/sshd", "/usr/lib/systemd/systemd-journald", "/usr/sbin/libvirtd",
				 "/usr/bin/kubelet"})
		EXPECT_TRUE(crit.exe->match(name)) << name;
	EXPECT_FALSE(crit.exe->match("/usr/bin/bash"));
	EXPECT_TRUE(config_warnings(c).empty());
	// Issue 13 item 4: no process moves out of its unit by default.
	EXPECT_FALSE(c.host_cgroup.enabled);
	EXPECT_EQ(c.host_cgroup.slices, (std::vector<std::string>{"/system.slice"}));
}

TEST(Config, E2eConfigParses)
{
	Config c = load_config(OFFLINECTL_E2E_DIR "/e2e.toml");
	EXPECT_EQ(c.classify.default_class, Class::Exempt);
	EXPECT_EQ(c.state_file, "");
	EXPECT_DOUBLE_EQ(c.resync_interval_s, 1.0);
}

TEST(Config, GeneratedHostConfigParses)
{
	EXPECT_NO_THROW(parse_config(offl::testing::generated_host_config(), "gen.toml"));
}

TEST(Config, AllKeys)
{
	Config c = parse_config(R"TOML(
[agent]
resync_interval = "500ms"
restore_on_exit = false
state_file = "/tmp/s.json"

[classify]
default_class = "batch"
realtime = "classify"
exempt_openvswitch = false
detect_vms = false
vm_names = ["kvm", "qemu-custom"]

[classes.batch]
policy = "offline"
nice = 10

[classes.host]
policy = "online"

[[rule]]
class = "critical"
thread = "GC.*"
exe = "/usr/bin/java"
cmdline = ".*-jar.*"
cgroup = "/system.slice/app.service"
uid = [0, 1000]
)TOML",
				"x.toml");
	EXPECT_DOUBLE_EQ(c.resync_interval_s, 0.5);
	EXPECT_FALSE(c.restore_on_exit);
	EXPECT_EQ(c.state_file, "/tmp/s.json");
	EXPECT_EQ(c.classify.default_class, Class::Batch);
	EXPECT_TRUE(c.classify.classify_realtime);
	EXPECT_FALSE(c.classify.exempt_openvswitch);
	EXPECT_FALSE(c.classify.detect_vms);
	EXPECT_EQ(c.classify.extra_vm_names.size(), 2u);
	EXPECT_EQ(c.settings(Class::Batch).nice, 10);
	EXPECT_EQ(c.settings(Class::Host).action, Action::Online);
	ASSERT_EQ(c.classify.rules.size(), 1u);
	const Rule &r = c.classify.rules[0];
	EXPECT_EQ(r.name, "rule #1");
	EXPECT_EQ(r.line, 21);
	EXPECT_EQ(r.uids, (std::vector<uid_t>{0, 1000}));
	EXPECT_EQ(*r.cgroup, "/system.slice/app.service");
}

TEST(Config, Durations)
{
	EXPECT_DOUBLE_EQ(parse_config("[agent]\nresync_interval = 30\n", "x").resync_interval_s, 30);
	EXPECT_DOUBLE_EQ(parse_config("[agent]\nresync_interval = 2.5\n", "x").resync_interval_s, 2.5);
	EXPECT_DOUBLE_EQ(parse_config("[agent]\nresync_interval = \"1m\"\n", "x").resync_interval_s, 60);
	EXPECT_DOUBLE_EQ(parse_config("[agent]\nresync_interval = \"10s\"\n", "x").resync_interval_s, 10);
	expect_error("[agent]\nresync_interval = 0\n", 2, "between");
	expect_error("[agent]\nresync_interval = \"soon\"\n", 2, "cannot parse duration");
	expect_error("[agent]\nresync_interval = true\n", 2, "number of seconds");
}

TEST(Config, ErrorsNameFileAndLine)
{
	expect_error("[agent]\nresync_interval = \n", 2, "");          // TOML syntax
	expect_error("# c\n\n[bogus]\nx = 1\n", 3, "unknown key 'bogus'");
	expect_error("[agent]\nresync = 3\n", 2, "unknown key 'resync' in [agent]");
	expect_error("[agent]\nrestore_on_exit = \"yes\"\n", 2, "true or false");
	expect_error("[classify]\ndefault_class = \"offline\"\n", 2, "unknown class 'offline'");
	expect_error("[classify]\ndefault_class = \"vcpu\"\n", 2, "VM detection");
	expect_error("[classify]\nrealtime = \"yes\"\n", 2, "realtime");
	expect_error("[classify]\nvm_names = [1]\n", 2, "only strings");
	expect_error("[classes.exempt]\npolicy = \"offline\"\n", 1, "cannot be configured");
	expect_error("[classes.gpu]\npolicy = \"offline\"\n", 1, "unknown class 'gpu'");
	expect_error("[classes.batch]\npolicy = \"idle\"\n", 2, "policy must be");
	expect_error("[classes.batch]\nnice = 20\n", 2, "-20 to 19");
	expect_error("[classes.batch]\nweight = 2\n", 2, "unknown key 'weight'");
	expect_error("\n\n[[rule]]\ncomm = \"x\"\n", 3, "needs a class");
	expect_error("[[rule]]\nclass = \"batch\"\n", 1, "matches nothing");
	expect_error("[[rule]]\nclass = \"batch\"\ncomm = \"(x\"\n", 3, "bad regular expression");
	expect_error("[[rule]]\nclass = \"bulk\"\ncomm = \"x\"\n", 2, "unknown class 'bulk'");
	expect_error("[[rule]]\nclass = \"batch\"\nuid = -1\n", 3, "uid");
	expect_error("[[rule]]\nclass = \"batch\"\nuid = []\n", 3, "empty");
	expect_error("[[rule]]\nclass = \"batch\"\ncgroup = \"batch.slice\"\n", 3, "absolute");
	expect_error("[[rule]]\nclass = \"batch\"\ncomm = \"x\"\nprio = 3\n", 4, "unknown key 'prio'");
	expect_error("rule = 3\n", 1, "[[rule]]");
	expect_error("agent = 3\n", 1, "must be a table");
	// The second of two rules is reported at its own line.
	expect_error("[[rule]]\nclass = \"batch\"\ncomm = \"a\"\n\n[[rule]]\nclass = \"batch\"\nexe = \"[\"\n", 7,
		     "bad regular expression");
}

TEST(Config, UserNamesFromPasswd)
{
	offl::testing::FakeProcTree dir; // just a temp dir
	dir.write_file("passwd", "root:x:0:0:root:/root:/bin/bash\nbuilder:x:1500:1500::/home/b:/bin/sh\n");
	ConfigParseOptions opt;
	opt.passwd_path = dir.root() + "/passwd";
	Config c = parse_config("[[rule]]\nclass = \"batch\"\nuser = [\"builder\", \"root\"]\n", "x.toml", opt);
	EXPECT_EQ(c.classify.rules[0].uids, (std::vector<uid_t>{1500, 0}));
	try {
		parse_config("[[rule]]\nclass = \"batch\"\nuser = \"nobody-here\"\n", "x.toml", opt);
		ADD_FAILURE();
	} catch (const ConfigError &e) {
		EXPECT_EQ(e.line(), 3);
		EXPECT_NE(std::string(e.what()).find("unknown user 'nobody-here'"), std::string::npos);
	}
	EXPECT_EQ(lookup_user("builder", opt.passwd_path), 1500u);
	EXPECT_FALSE(lookup_user("build", opt.passwd_path));
}

TEST(Config, MissingFile)
{
	try {
		load_config("/nonexistent/offlinectl.toml");
		ADD_FAILURE();
	} catch (const ConfigError &e) {
		EXPECT_EQ(e.file(), "/nonexistent/offlinectl.toml");
		EXPECT_NE(std::string(e.what()).find("cannot open"), std::string::npos);
	}
}

TEST(Config, NonAsciiThatTripsTomlppIsRefusedCleanly)
{
	// toml++ 3.3 hits __builtin_unreachable() on these (tomlplusplus#295).
	EXPECT_NO_THROW(parse_config("# caf\xc3\xa9 \xc2\xa7\n[[rule]]\nname = \"caf\xc3\xa9\"\nclass = \"batch\"\n"
				     "comm = 'x\xc2\xa7'\n",
				     "x.toml"));
	expect_error("[agent]\nstate_file = caf\xc3\xa9\n", 2, "U+00E9");
	expect_error("\xef\xb9\xbf", 1, "U+FE7F");
	expect_error("[[rule]]\nclass = \"batch\"\nname = \"\"\"\\\n\xc2\xa7\"\"\"\ncomm = \"x\"\n", 4, "U+00A7");
	// Other non-ASCII outside strings is left to toml++ to report.
	expect_error("\xe4\xb8\xad = 1\n", 1, "");
}

TEST(Config, PlacementAndHostCgroup)
{
	Config d = default_config();
	EXPECT_FALSE(d.placement.enabled);
	EXPECT_FALSE(d.host_cgroup.enabled);
	Config c = parse_config(R"TOML(
[placement]
enabled = true
overcommit_ratio = 1.5
reserved_cpus = 4
rebalance = true
emulator_threads = "keep"
memory = "keep"
qmp = false

[host_cgroup]
enabled = true
name = "host.slice/offlinectl"
root = "/tmp/cg"
classes = ["host", "batch"]
memory_max = "2G"
cpus = "0,4"
)TOML",
				"t.toml");
	EXPECT_TRUE(c.placement.enabled);
	EXPECT_DOUBLE_EQ(c.placement.ratio, 1.5);
	EXPECT_EQ(c.placement.reserved_count, 4u);
	EXPECT_TRUE(c.placement.reserved_cpus.empty());
	EXPECT_TRUE(c.placement.rebalance);
	EXPECT_FALSE(c.placement.pin_emulator);
	EXPECT_FALSE(c.placement.move_memory);
	EXPECT_FALSE(c.placement.qmp);
	EXPECT_TRUE(c.host_cgroup.enabled);
	EXPECT_EQ(c.host_cgroup.name, "host.slice/offlinectl");
	EXPECT_EQ(c.host_cgroup.root, "/tmp/cg");
	EXPECT_EQ(c.host_cgroup.classes, (std::vector<Class>{Class::Host, Class::Batch}));
	EXPECT_EQ(c.host_cgroup.memory_max, std::optional<uint64_t>(2ULL << 30));
	EXPECT_EQ(c.host_cgroup.cpus, (std::vector<int>{0, 4}));
	Config l = parse_config("[placement]\nreserved_cpus = \"0-1,8\"\n[host_cgroup]\nmemory_max = \"max\"\n", "t");
	EXPECT_EQ(l.placement.reserved_cpus, (std::vector<int>{0, 1, 8}));
	EXPECT_FALSE(l.host_cgroup.memory_max);
	EXPECT_EQ(parse_config("[host_cgroup]\nmemory_max = 1048576\n", "t").host_cgroup.memory_max,
		  std::optional<uint64_t>(1048576));

	expect_error("[placement]\novercommit_ratio = 0\n", 2, "overcommit_ratio");
	expect_error("[placement]\novercommit_ratio = \"2\"\n", 2, "overcommit_ratio");
	expect_error("[placement]\nreserved_cpus = \"0-\"\n", 2, "bad CPU list");
	expect_error("[placement]\nreserved_cpus = -1\n", 2, "count");
	expect_error("[placement]\nemulator_threads = \"vcpu\"\n", 2, "emulator_threads");
	expect_error("[placement]\nmemory = \"bind\"\n", 2, "memory must be");
	expect_error("[placement]\nratio = 2\n", 2, "unknown key 'ratio' in [placement]");
	expect_error("[host_cgroup]\nclasses = [\"vcpu\"]\n", 2, "cannot be moved");
	expect_error("[host_cgroup]\nname = \"../x\"\n", 2, "relative cgroup path");
	expect_error("[host_cgroup]\nroot = \"sys/fs/cgroup\"\n", 2, "absolute");
	expect_error("[host_cgroup]\nmemory_max = \"2X\"\n", 2, "cannot parse size");
	expect_error("[host_cgroup]\nmemory_max = 0\n", 2, "positive");
	expect_error("[host_cgroup]\npartition = \"exclusive\"\n", 2, "partition must be");
	expect_error("[host_cgroup]\nslices = [\"system.slice\"]\n", 2, "slices must be");
	EXPECT_EQ(parse_config("[host_cgroup]\nslices = \"/system.slice\"\n", "t").host_cgroup.slices,
		  (std::vector<std::string>{"/system.slice"}));
	EXPECT_EQ(parse_config("[host_cgroup]\npartition = \"isolated\"\n", "t").host_cgroup.partition, "isolated");
	EXPECT_EQ(default_config().host_cgroup.partition, "member");
}
