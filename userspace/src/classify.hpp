// SPDX-License-Identifier: GPL-2.0
// Classification: task facts + rules -> class + reason.  Pure functions, no
// system access, so every decision can be unit-tested and explained.
//
// Order (first match wins):
//   1. built-in exemptions nobody can remove: PID 1 (and its threads),
//      kernel threads, the agent itself, exiting tasks (zombies), and
//      real-time tasks unless the config asks to classify them;
//   2. Open vSwitch (ovs-vswitchd, ovsdb-server) exempt unless the config
//      turns that off;
//   3. VM detection: QEMU processes; their "CPU N/<ACCEL>" threads are
//      `vcpu`, every other thread (main loop, I/O threads, vhost workers)
//      is `vm-service`;
//   4. config rules, in file order;
//   5. the config's default class (built-in default: `host`).
#pragma once

#include "procfs.hpp"

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

namespace re2 {
class RE2;
}

namespace offl {

enum class Class : uint8_t { Vcpu, VmService, Host, Critical, Batch, Exempt };
inline constexpr size_t kNumClasses = 6;
inline constexpr std::array<Class, kNumClasses> kAllClasses = {
	Class::Vcpu, Class::VmService, Class::Host, Class::Critical, Class::Batch, Class::Exempt};

const char *class_name(Class c);
std::optional<Class> class_from_name(std::string_view s);

// A bad pattern (Matcher's constructor).
class PatternError : public std::invalid_argument {
public:
	using std::invalid_argument::invalid_argument;
};

// A regular expression matched against the whole string (implicitly
// anchored, like a shell pattern: "sshd" does not match "sshd-session").
// Regexes are RE2 (linear time in the input, no backtracking: a command
// line a user crafted cannot stall the agent, whatever the pattern), bytes
// (Latin-1) rather than UTF-8, '.' not matching a newline.  What nearly
// every real rule looks like is matched without a regex engine at all:
// a literal or an alternation of literals ("sshd|libvirtd|kubelet") with a
// hash set, and "LIT.*", ".*LIT" and ".*LIT.*" with a prefix, suffix or
// substring test.
class Matcher {
public:
	// Throws PatternError on a bad pattern (or one RE2 does not support:
	// backreferences, lookaround).
	explicit Matcher(std::string pattern);

	bool match(std::string_view s) const;
	const std::string &pattern() const { return pattern_; }

private:
	enum class Kind : uint8_t { Literals, Prefix, Suffix, Contains, Regex };
	std::string pattern_;
	Kind kind_ = Kind::Literals;
	std::unordered_set<std::string> literals_; // Literals
	std::string lit_;                          // Prefix/Suffix/Contains
	std::shared_ptr<const re2::RE2> regex_;
};

struct Rule {
	std::string name;     // for explain; defaults to "rule #N"
	Class cls = Class::Host;
	std::optional<Matcher> comm;    // process name (leader's comm)
	std::optional<Matcher> thread;  // the task's own comm
	std::optional<Matcher> exe;     // full path of the executable
	std::optional<Matcher> cmdline; // argv joined by spaces
	std::optional<std::string> cgroup; // path prefix, on '/' boundaries
	std::vector<uid_t> uids;        // any of (effective uid)
	std::string file;               // where it was defined
	int line = 0;
	// Does the rule grant something (online, critical, exempt, a VM's
	// class)?  Set by the config loader from the class and its policy;
	// class_grants(cls) counts too.  A granting rule's `exe` matches only
	// a root-owned binary (ProcessInfo::exe_root_owned).
	bool grants = false;

	bool has_process_part() const { return comm || exe || cmdline || cgroup || !uids.empty(); }
	// Anchored to something a user cannot forge: a cgroup (users cannot
	// enter root's cgroups) or a uid.  exe alone is not: any user can run
	// a root-owned binary as themselves (with LD_PRELOAD, under ptrace);
	// exe + uid is, since a user cannot run a binary as another uid (a
	// set-uid binary runs as a secure exec: LD_PRELOAD ignored, no ptrace).
	bool anchored() const { return cgroup.has_value() || !uids.empty(); }
};

// Classes whose tasks get something an unprivileged task cannot take by
// itself: online (out of SCHED_OFFLINE), confined to reserved CPUs,
// untouched.
bool class_grants(Class c);

// Glob over cgroup path components ('*' and '?' within a component), as a
// prefix: "/machine.slice/machine-qemu*" matches that scope and every
// cgroup below it.
bool cgroup_glob_under(std::string_view path, std::string_view pattern);

struct ClassifyPolicy {
	std::vector<Rule> rules;
	Class default_class = Class::Host;
	bool classify_realtime = false;  // false: RT tasks are exempt
	bool exempt_openvswitch = true;
	bool detect_vms = true;
	std::vector<std::string> extra_vm_names; // more QEMU binary basenames
	// What makes a QEMU process a VM (on top of a root-owned QEMU binary,
	// by the exe's name; comm and argv[0] never count): its cgroup under
	// one of vm_cgroups, or its uid one of vm_uids.
	std::vector<std::string> vm_cgroups = {"/machine.slice/machine-qemu*", "/kubepods*"};
	std::vector<uid_t> vm_uids; // config: vm_users (default libvirt-qemu, qemu)
	pid_t self_tgid = 0;                     // the agent (never touched)
};

enum class Reason : uint8_t {
	Pid1,
	KernelThread,
	Self,
	Exiting,
	Realtime,
	OpenVswitch,
	VmVcpu,
	VmService,
	Rule,
	Default,
};
const char *reason_name(Reason r);

struct Verdict {
	Class cls = Class::Exempt;
	Reason reason = Reason::Default;
	int rule = -1; // index into ClassifyPolicy::rules when reason == Rule
	int vcpu = -1; // vCPU index when reason == VmVcpu

	bool builtin() const { return reason != Reason::Rule && reason != Reason::Default; }
	bool operator==(const Verdict &) const = default;
};

// How the process was recognised as a VM ("" when it is not one):
// "exe+cgroup" or "exe+uid".
std::string_view qemu_match(const ProcessInfo &p, const ClassifyPolicy &pol);
// Does the process call itself QEMU (comm, exe or argv[0]) without being
// a VM by qemu_match?  For explain: why it was not taken for one.
std::string qemu_untrusted_why(const ProcessInfo &p, const ClassifyPolicy &pol);
// Open vSwitch as it is installed: a root-owned ovs-vswitchd/ovsdb-server
// binary run by root or from a system service.
bool is_openvswitch(const ProcessInfo &p);
bool cgroup_under(std::string_view path, std::string_view prefix);

// Does the process-level part of the rule match (everything but `thread`)?
bool rule_matches_process(const Rule &r, const ProcessInfo &p);
bool rule_matches(const Rule &r, const TaskInfo &t, const ProcessInfo &p);

Verdict classify(const TaskInfo &t, const ProcessInfo &p, const ClassifyPolicy &pol);

// Whole snapshot; result[i] is the verdict of snap.tasks[i].  Process-level
// rule results are computed once per process, not once per thread.
std::vector<Verdict> classify_all(const Snapshot &snap, const ClassifyPolicy &pol);

// Human explanation of a verdict, e.g.
// "rule \"critical services\" (/etc/offlinectl/offlinectl.toml:31)".
std::string describe(const Verdict &v, const TaskInfo &t, const ProcessInfo &p,
		     const ClassifyPolicy &pol);

} // namespace offl
