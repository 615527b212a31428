// SPDX-License-Identifier: GPL-2.0
#include "classify.hpp"

#include "util.hpp"

#include <algorithm>
#include <fnmatch.h>

#include <re2/re2.h>

namespace offl {

const char *class_name(Class c)
{
	switch (c) {
	case Class::Vcpu: return "vcpu";
	case Class::VmService: return "vm-service";
	case Class::Host: return "host";
	case Class::Critical: return "critical";
	case Class::Batch: return "batch";
	case Class::Exempt: return "exempt";
	}
	return "?";
}

std::optional<Class> class_from_name(std::string_view s)
{
	for (Class c : kAllClasses)
		if (s == class_name(c))
			return c;
	return std::nullopt;
}

const char *reason_name(Reason r)
{
	switch (r) {
	case Reason::Pid1: return "pid1";
	case Reason::KernelThread: return "kernel-thread";
	case Reason::Self: return "self";
	case Reason::Exiting: return "exiting";
	case Reason::Realtime: return "realtime";
	case Reason::OpenVswitch: return "openvswitch";
	case Reason::VmVcpu: return "vm-vcpu";
	case Reason::VmService: return "vm-service";
	case Reason::Rule: return "rule";
	case Reason::Default: return "default";
	}
	return "?";
}

namespace {

bool is_literal_alternation(std::string_view p)
{
	for (char c : p) {
		switch (c) {
		case '\\': case '^': case '$': case '.': case '?': case '*':
		case '+': case '(': case ')': case '[': case ']': case '{':
		case '}':
			return false;
		default:
			break;
		}
	}
	return true;
}

std::string_view basename_of(std::string_view path)
{
	size_t slash = path.rfind('/');
	return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

bool is_qemu_name(std::string_view base, const ClassifyPolicy &pol)
{
	if (base.substr(0, 12) == "qemu-system-" && base.size() > 12)
		return true;
	if (base == "qemu-kvm")
		return true;
	for (const auto &n : pol.extra_vm_names)
		if (base == n)
			return true;
	return false;
}

bool is_ovs_name(std::string_view base)
{
	return base == "ovs-vswitchd" || base == "ovsdb-server";
}

} // namespace

Matcher::Matcher(std::string pattern) : pattern_(std::move(pattern))
{
	// Compile with RE2 first, so every pattern gets the same error
	// reporting whatever path matches it later.
	RE2::Options o;
	o.set_encoding(RE2::Options::EncodingLatin1);
	o.set_log_errors(false);
	auto re = std::make_shared<const RE2>(pattern_, o);
	if (!re->ok())
		throw PatternError(re->error());
	std::string_view p = pattern_;
	if (is_literal_alternation(p)) {
		kind_ = Kind::Literals;
		for (;;) {
			size_t bar = p.find('|');
			literals_.emplace(p.substr(0, bar));
			if (bar == std::string_view::npos)
				break;
			p.remove_prefix(bar + 1);
		}
		return;
	}
	const bool lead = p.size() >= 2 && p.substr(0, 2) == ".*";
	const bool trail = p.size() >= 2 && p.substr(p.size() - 2) == ".*" &&
			   (p.size() < 3 || p[p.size() - 3] != '\\');
	std::string_view mid = p.substr(lead ? 2 : 0);
	if (trail && mid.size() >= 2)
		mid.remove_suffix(2);
	if ((lead || trail) && !mid.empty() && mid.find('|') == std::string_view::npos &&
	    is_literal_alternation(mid)) {
		lit_ = std::string(mid);
		kind_ = lead && trail ? Kind::Contains : lead ? Kind::Suffix : Kind::Prefix;
		regex_ = std::move(re); // for inputs with a newline ('.' stops there)
		return;
	}
	kind_ = Kind::Regex;
	regex_ = std::move(re);
}

bool Matcher::match(std::string_view s) const
{
	switch (kind_) {
	case Kind::Literals:
		// A short std::string per lookup: cheaper than it sounds and
		// portable (no heterogeneous lookup needed).
		return literals_.count(std::string(s)) != 0;
	case Kind::Prefix:
	case Kind::Suffix:
	case Kind::Contains:
		if (s.find('\n') != std::string_view::npos)
			break; // exact semantics: '.' does not match '\n'
		if (kind_ == Kind::Prefix)
			return s.size() >= lit_.size() && s.substr(0, lit_.size()) == lit_;
		if (kind_ == Kind::Suffix)
			return s.size() >= lit_.size() && s.substr(s.size() - lit_.size()) == lit_;
		return s.find(lit_) != std::string_view::npos;
	case Kind::Regex:
		break;
	}
	return RE2::FullMatch(re2::StringPiece(s.data(), s.size()), *regex_);
}

bool cgroup_under(std::string_view path, std::string_view prefix)
{
	while (prefix.size() > 1 && prefix.back() == '/')
		prefix.remove_suffix(1);
	if (prefix == "/")
		return !path.empty() && path[0] == '/';
	if (path.size() < prefix.size() || path.substr(0, prefix.size()) != prefix)
		return false;
	return path.size() == prefix.size() || path[prefix.size()] == '/';
}

bool class_grants(Class c)
{
	return c == Class::Critical || c == Class::Exempt || c == Class::Vcpu || c == Class::VmService;
}

bool cgroup_glob_under(std::string_view path, std::string_view pattern)
{
	if (pattern.empty() || pattern[0] != '/' || path.empty() || path[0] != '/')
		return false;
	for (;;) {
		while (!pattern.empty() && pattern[0] == '/')
			pattern.remove_prefix(1);
		while (!path.empty() && path[0] == '/')
			path.remove_prefix(1);
		if (pattern.empty())
			return true;
		if (path.empty())
			return false;
		size_t ps = pattern.find('/'), cs = path.find('/');
		std::string pc(pattern.substr(0, ps)), cc(path.substr(0, cs));
		if (fnmatch(pc.c_str(), cc.c_str(), 0) != 0)
			return false;
		pattern = ps == std::string_view::npos ? std::string_view{} : pattern.substr(ps);
		path = cs == std::string_view::npos ? std::string_view{} : path.substr(cs);
	}
}

namespace {

bool vm_anchor_cgroup(const ProcessInfo &p, const ClassifyPolicy &pol)
{
	for (const auto &g : pol.vm_cgroups)
		if (cgroup_glob_under(p.cgroup, g))
			return true;
	return false;
}

bool vm_anchor_uid(const ProcessInfo &p, const ClassifyPolicy &pol)
{
	return std::find(pol.vm_uids.begin(), pol.vm_uids.end(), p.uid) != pol.vm_uids.end();
}

} // namespace

std::string_view qemu_match(const ProcessInfo &p, const ClassifyPolicy &pol)
{
	// Only the binary that runs counts, by its own path: comm is set
	// with prctl(PR_SET_NAME), argv[0] with exec -a, a copy of QEMU
	// anywhere else is the user's file.  So: a root-owned QEMU binary,
	// in a VM cgroup or run by a VM owner uid.
	if (p.kthread || p.exe.empty() || !is_qemu_name(basename_of(p.exe), pol) || !p.exe_root_owned())
		return {};
	if (vm_anchor_cgroup(p, pol))
		return "exe+cgroup";
	if (vm_anchor_uid(p, pol))
		return "exe+uid";
	return {};
}

std::string qemu_untrusted_why(const ProcessInfo &p, const ClassifyPolicy &pol)
{
	if (p.kthread || !pol.detect_vms || !qemu_match(p, pol).empty())
		return {};
	const bool by_exe = !p.exe.empty() && is_qemu_name(basename_of(p.exe), pol);
	const bool by_name = is_qemu_name(p.comm, pol) || (!p.argv0.empty() && is_qemu_name(basename_of(p.argv0), pol));
	if (!by_exe && !by_name)
		return {};
	if (!by_exe)
		return "named like QEMU (comm or argv[0]) but its executable " + offl::quoted(p.exe) +
		       " is not a QEMU binary: not a VM";
	if (!p.exe_root_owned())
		return "executable " + offl::quoted(p.exe) + " is not a root-owned binary: not a VM";
	return "QEMU outside the VM cgroups (vm_cgroups) and not run by a VM owner (vm_users): not a VM";
}

bool is_openvswitch(const ProcessInfo &p)
{
	if (p.kthread || p.exe.empty() || !is_ovs_name(basename_of(p.exe)) || !p.exe_root_owned())
		return false;
	return p.uid == 0 || cgroup_under(p.cgroup, "/system.slice");
}

bool rule_matches_process(const Rule &r, const ProcessInfo &p)
{
	if (!r.uids.empty()) {
		bool any = false;
		for (uid_t u : r.uids)
			any |= (u == p.uid);
		if (!any)
			return false;
	}
	if (r.cgroup && !cgroup_under(p.cgroup, *r.cgroup))
		return false;
	if (r.comm && !r.comm->match(p.comm))
		return false;
	if (r.exe && (!r.exe->match(p.exe) || ((r.grants || class_grants(r.cls)) && !p.exe_root_owned())))
		return false;
	if (r.cmdline && !r.cmdline->match(p.cmdline))
		return false;
	return true;
}

bool rule_matches(const Rule &r, const TaskInfo &t, const ProcessInfo &p)
{
	if (r.thread && !r.thread->match(t.comm))
		return false;
	return rule_matches_process(r, p);
}

namespace {

// Steps 1-3 of the order; nullopt when the rules decide.
std::optional<Verdict> builtin_verdict(const TaskInfo &t, const ProcessInfo &p, const ClassifyPolicy &pol,
				       bool is_qemu)
{
	if (t.tgid == 1)
		return Verdict{Class::Exempt, Reason::Pid1};
	if (t.kthread() || p.kthread || t.tgid == 2)
		return Verdict{Class::Exempt, Reason::KernelThread};
	if (pol.self_tgid > 0 && t.tgid == pol.self_tgid)
		return Verdict{Class::Exempt, Reason::Self};
	if (t.state == 'Z' || t.state == 'X' || t.state == 'x')
		return Verdict{Class::Exempt, Reason::Exiting};
	if (!pol.classify_realtime && is_realtime_policy(t.policy))
		return Verdict{Class::Exempt, Reason::Realtime};
	if (pol.exempt_openvswitch && is_openvswitch(p))
		return Verdict{Class::Exempt, Reason::OpenVswitch};
	if (is_qemu) {
		if (auto idx = parse_vcpu_thread_name(t.comm); idx && t.tid != t.tgid)
			return Verdict{Class::Vcpu, Reason::VmVcpu, -1, *idx};
		return Verdict{Class::VmService, Reason::VmService};
	}
	return std::nullopt;
}

} // namespace

Verdict classify(const TaskInfo &t, const ProcessInfo &p, const ClassifyPolicy &pol)
{
	bool qemu = pol.detect_vms && !qemu_match(p, pol).empty();
	if (auto v = builtin_verdict(t, p, pol, qemu))
		return *v;
	for (size_t i = 0; i < pol.rules.size(); i++)
		if (rule_matches(pol.rules[i], t, p))
			return Verdict{pol.rules[i].cls, Reason::Rule, static_cast<int>(i)};
	return Verdict{pol.default_class, Reason::Default};
}

std::vector<Verdict> classify_all(const Snapshot &snap, const ClassifyPolicy &pol)
{
	std::vector<Verdict> out;
	out.reserve(snap.tasks.size());
	const size_t nrules = pol.rules.size();
	// Per-process memo of the process-level part of each rule:
	// 0 = not computed, 1 = match, 2 = no match.
	std::vector<uint8_t> memo(nrules);
	uint32_t memo_proc = UINT32_MAX;
	bool qemu = false;

	for (const TaskInfo &t : snap.tasks) {
		const ProcessInfo &p = snap.processes[t.proc];
		if (t.proc != memo_proc) {
			memo_proc = t.proc;
			std::fill(memo.begin(), memo.end(), 0);
			qemu = pol.detect_vms && !qemu_match(p, pol).empty();
		}
		if (auto v = builtin_verdict(t, p, pol, qemu)) {
			out.push_back(*v);
			continue;
		}
		Verdict v{pol.default_class, Reason::Default};
		for (size_t i = 0; i < nrules; i++) {
			const Rule &r = pol.rules[i];
			if (r.thread && !r.thread->match(t.comm))
				continue;
			if (memo[i] == 0)
				memo[i] = rule_matches_process(r, p) ? 1 : 2;
			if (memo[i] == 1) {
				v = Verdict{r.cls, Reason::Rule, static_cast<int>(i)};
				break;
			}
		}
		out.push_back(v);
	}
	return out;
}

std::string describe(const Verdict &v, const TaskInfo &t, const ProcessInfo &p, const ClassifyPolicy &pol)
{
	switch (v.reason) {
	case Reason::Pid1:
		return "built-in: PID 1 (init) is never touched";
	case Reason::KernelThread:
		return "built-in: kernel thread (PF_KTHREAD) is never touched";
	case Reason::Self:
		return "built-in: the agent itself";
	case Reason::Exiting:
		return "built-in: task is exiting (zombie)";
	case Reason::Realtime:
		return std::string("built-in: real-time task (") + policy_name(t.policy) +
		       "); set realtime = \"classify\" in [agent] to include it";
	case Reason::OpenVswitch:
		return "built-in: Open vSwitch is exempt (exempt_openvswitch = false turns this off)";
	case Reason::VmVcpu:
		return "built-in: vCPU " + std::to_string(v.vcpu) + " thread " + offl::quoted(t.comm) +
		       " of QEMU process " + std::to_string(t.tgid) + " (matched by " +
		       std::string(qemu_match(p, pol)) + ")";
	case Reason::VmService:
		return "built-in: non-vCPU thread " + offl::quoted(t.comm) + " of QEMU process " +
		       std::to_string(t.tgid) + " (matched by " + std::string(qemu_match(p, pol)) + ")";
	case Reason::Rule: {
		if (v.rule < 0 || static_cast<size_t>(v.rule) >= pol.rules.size())
			return "rule #" + std::to_string(v.rule + 1);
		const Rule &r = pol.rules[static_cast<size_t>(v.rule)];
		std::string s = "rule " + offl::quoted(r.name);
		if (!r.file.empty())
			s += " (" + r.file + ":" + std::to_string(r.line) + ")";
		if (auto w = qemu_untrusted_why(p, pol); !w.empty())
			s += "; " + w;
		return s;
	}
	case Reason::Default:
		if (auto w = qemu_untrusted_why(p, pol); !w.empty())
			return "no rule matched: default class; " + w;
		return "no rule matched: default class";
	}
	return "?";
}

} // namespace offl
