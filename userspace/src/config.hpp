// SPDX-License-Identifier: GPL-2.0
// The agent's TOML configuration (see userspace/examples/offlinectl.toml for
// every key).  Loading is all-or-nothing: the first problem raises
// ConfigError naming file:line, and nothing of the file is used.
#pragma once

#include "classify.hpp"

#include <array>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace offl {

// What the agent does with the tasks of a class.
enum class Action : uint8_t {
	Offline, // SCHED_OFFLINE (SCHED_IDLE on kernels without it)
	Online,  // never offline: a task found offline is moved to SCHED_OTHER
	Keep,    // left as it is (what the agent changed earlier is restored)
};
const char *action_name(Action a);

struct ClassSettings {
	Action action = Action::Keep;
	std::optional<int> nice; // nice for offline tasks; default: keep theirs
};

// vCPU placement ([placement]; pinning.hpp, placement.hpp).
struct PlacementConfig {
	bool enabled = false;
	double ratio = 1.0;               // overcommit_ratio
	size_t reserved_count = 0;        // reserved_cpus = N: spread over nodes
	std::vector<int> reserved_cpus;   // reserved_cpus = "0,4": exactly these
	bool rebalance = false;
	bool pin_emulator = true;         // emulator_threads = "reserved" | "keep"
	bool move_memory = true;          // memory = "follow" | "keep"
	bool qmp = true;                  // ask QMP (-qmp unix:PATH) for vCPU tids
};

// Host task isolation ([host_cgroup]; hostcg.hpp).
struct HostCgroupConfig {
	bool enabled = false;
	std::string name = "offlinectl-host"; // cgroup directory under root
	std::string root = "/sys/fs/cgroup";  // cgroup2 mount, or the v1 parent
	std::vector<Class> classes = {Class::Host, Class::Critical};
	std::optional<uint64_t> memory_max;   // bytes; nullopt: no limit
	std::vector<int> cpus;                // "" -> the reserved CPUs
	// v2 cpuset.cpus.partition: "member" (default: the reserved CPUs stay
	// usable by batch work in other cgroups), "root" or "isolated" (the
	// CPUs become exclusive to the host cgroup).
	std::string partition = "member";
	// Non-empty: limit these existing cgroups in place (cgroup v2), e.g.
	// "/system.slice", instead of moving processes: what a systemd host
	// needs, where a service moved out of its unit's cgroup is no longer
	// stopped or restarted with it.
	std::vector<std::string> slices;
};

struct Config {
	std::string path; // "" for the built-in defaults
	ClassifyPolicy classify;
	std::array<ClassSettings, kNumClasses> classes{};
	double resync_interval_s = 10.0;
	bool restore_on_exit = true;
	std::string state_file = "/run/offlinectl/state.json";
	// Event sources between resyncs: "auto" (proc connector, else the
	// pid-file watch), "proc-connector", "pid-files", "none".
	std::string events = "auto";
	std::vector<std::string> pid_dirs = {"/run", "/run/libvirt/qemu", "/run/qemu"};
	bool io_uring = true;
	PlacementConfig placement;
	HostCgroupConfig host_cgroup;

	const ClassSettings &settings(Class c) const { return classes[static_cast<size_t>(c)]; }
	ClassSettings &settings(Class c) { return classes[static_cast<size_t>(c)]; }
};

class ConfigError : public std::runtime_error {
public:
	ConfigError(std::string file, int line, const std::string &msg);
	const std::string &file() const { return file_; }
	int line() const { return line_; }
	const std::string &message() const { return msg_; }

private:
	std::string file_;
	int line_;
	std::string msg_;
};

struct ConfigParseOptions {
	std::string passwd_path = "/etc/passwd"; // for user = "name"
};

// Conservative built-in defaults, used when no config file exists: vCPUs,
// VM services and critical services online, batch offline, host tasks left
// as they are (the shipped example config makes them offline).
Config default_config();

Config parse_config(std::string_view text, const std::string &path, const ConfigParseOptions &opt = {});
Config load_config(const std::string &path, const ConfigParseOptions &opt = {});

// Rules that grant online/critical/exempt on names alone (comm, thread,
// cmdline, exe without uid): any user can satisfy them by naming a
// process.  One line each, "file:line: rule ... ".
std::vector<std::string> config_warnings(const Config &c);
// Rule::grants from each rule's class and that class's policy.
void mark_grants(Config &c);
// uids of libvirt-qemu and qemu in passwd_path (those that exist).
std::vector<uid_t> default_vm_uids(const std::string &passwd_path);

// uid of a user name from a passwd-format file (no NSS: works in a static
// binary).
std::optional<uid_t> lookup_user(std::string_view name, const std::string &passwd_path);

} // namespace offl
