// SPDX-License-Identifier: GPL-2.0
// The only translation unit that includes toml++ (header-only mode, so the
// static binary needs no libtomlplusplus.so).
#define TOML_HEADER_ONLY 1
#define TOML_ENABLE_FORMATTERS 0
#include <toml++/toml.h>

#include "config.hpp"

#include "util.hpp"

#include <cmath>
#include <fstream>
#include <sstream>

namespace offl {

const char *action_name(Action a)
{
	switch (a) {
	case Action::Offline: return "offline";
	case Action::Online: return "online";
	case Action::Keep: return "keep";
	}
	return "?";
}

ConfigError::ConfigError(std::string file, int line, const std::string &msg)
	: std::runtime_error((file.empty() ? std::string("<config>") : file) +
			     (line > 0 ? ":" + std::to_string(line) : std::string()) + ": " + msg),
	  file_(std::move(file)), line_(line), msg_(msg)
{
}

std::vector<uid_t> default_vm_uids(const std::string &passwd_path)
{
	std::vector<uid_t> out;
	for (const char *n : {"libvirt-qemu", "qemu"})
		if (auto u = lookup_user(n, passwd_path); u && *u != 0)
			out.push_back(*u);
	return out;
}

void mark_grants(Config &c)
{
	for (Rule &r : c.classify.rules)
		r.grants = class_grants(r.cls) || c.settings(r.cls).action == Action::Online;
}

std::vector<std::string> config_warnings(const Config &c)
{
	std::vector<std::string> out;
	for (const Rule &r : c.classify.rules) {
		if (!(r.grants || class_grants(r.cls)) || r.anchored())
			continue;
		std::string where = r.file.empty() ? std::string("built-in") : r.file + ":" + std::to_string(r.line);
		out.push_back(where + ": rule " + quoted(r.name) + " grants class " + class_name(r.cls) +
			      " by names any user can give a process (" +
			      (r.exe ? "exe alone: any user can run a root-owned binary as themselves"
				     : "comm/thread/cmdline") +
			      "): anchor it with uid/user or cgroup");
	}
	return out;
}

Config default_config()
{
	Config c;
	c.classify.vm_uids = default_vm_uids("/etc/passwd");
	c.settings(Class::Vcpu).action = Action::Online;
	c.settings(Class::VmService).action = Action::Online;
	c.settings(Class::Critical).action = Action::Online;
	c.settings(Class::Batch).action = Action::Offline;
	c.settings(Class::Host).action = Action::Keep;
	c.settings(Class::Exempt).action = Action::Keep;
	return c;
}

std::optional<uid_t> lookup_user(std::string_view name, const std::string &passwd_path)
{
	std::ifstream in(passwd_path);
	std::string line;
	while (std::getline(in, line)) {
		// name:passwd:uid:...
		size_t c1 = line.find(':');
		if (c1 == std::string::npos || std::string_view(line).substr(0, c1) != name)
			continue;
		size_t c2 = line.find(':', c1 + 1);
		if (c2 == std::string::npos)
			continue;
		size_t c3 = line.find(':', c2 + 1);
		auto uid = parse_num<uid_t>(std::string_view(line).substr(c2 + 1, c3 - c2 - 1));
		if (uid)
			return uid;
	}
	return std::nullopt;
}

namespace {

// toml++ 3.3 (Debian 12) reaches __builtin_unreachable() when it asks
// "is this whitespace?" about some non-ASCII code points (upstream issue
// marzer/tomlplusplus#295, found again by our fuzz target): undefined
// behaviour on a typo such as a stray "é".  Those code points are refused
// here, before toml++ sees them, wherever toml++ may ask that question:
// outside comments and single-line or literal strings.
bool tomlpp_whitespace_ub(char32_t c)
{
	if (c < 0xA0 || c > 0xFEFF)
		return false;
	const uint64_t child = (static_cast<uint64_t>(c) - 0xA0) / 0x3FA;
	if ((1ULL << child) & 0x7FFFFFFFFFFFF75EULL)
		return false;
	if (c == 0xA0 || c == 0x3000 || c == 0xFEFF)
		return false;
	return child != 5 && child != 7; // those have explicit cases
}

void check_toml_text(std::string_view s, const std::string &path)
{
	enum { Normal, Comment, Basic, Literal, MlBasic, MlLiteral } st = Normal;
	int line = 1;
	for (size_t i = 0; i < s.size(); i++) {
		const unsigned char ch = static_cast<unsigned char>(s[i]);
		if (ch == '\n') {
			line++;
			if (st == Comment || st == Basic || st == Literal)
				st = Normal;
			continue;
		}
		auto at = [&](std::string_view w) { return s.substr(i, w.size()) == w; };
		switch (st) {
		case Normal:
			if (ch == '#')
				st = Comment;
			else if (at("\"\"\"")) {
				st = MlBasic;
				i += 2;
			} else if (ch == '"')
				st = Basic;
			else if (at("'''")) {
				st = MlLiteral;
				i += 2;
			} else if (ch == '\'')
				st = Literal;
			break;
		case Comment:
			continue;
		case Basic:
			if (ch == '\\' && i + 1 < s.size() && s[i + 1] != '\n')
				i++;
			else if (ch == '"')
				st = Normal;
			continue;
		case Literal:
			if (ch == '\'')
				st = Normal;
			continue;
		case MlBasic:
			if (ch == '\\') {
				if (i + 1 < s.size() && s[i + 1] != '\n')
					i++; // an escaped character (never a line end)
				continue;
			}
			if (at("\"\"\"")) {
				st = Normal;
				i += 2;
				continue;
			}
			break; // line-ending backslashes make toml++ test whitespace
		case MlLiteral:
			if (at("'''")) {
				st = Normal;
				i += 2;
			}
			continue;
		}
		if (ch < 0x80)
			continue;
		// Decode one UTF-8 sequence (toml++ reports malformed ones).
		char32_t cp = 0;
		size_t len = ch >= 0xF0 ? 4 : ch >= 0xE0 ? 3 : ch >= 0xC0 ? 2 : 1;
		if (len == 1 || i + len > s.size())
			continue;
		cp = ch & (0x7F >> len);
		for (size_t k = 1; k < len; k++)
			cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
		if (tomlpp_whitespace_ub(cp)) {
			char msg[128];
			snprintf(msg, sizeof(msg),
				 "character U+%04X is only supported in comments and strings",
				 static_cast<unsigned>(cp));
			throw ConfigError(path, line, msg);
		}
		i += len - 1;
	}
}

class Parser {
public:
	Parser(const std::string &path, const ConfigParseOptions &opt) : path_(path), opt_(opt) {}

	Config parse(std::string_view text)
	{
		check_toml_text(text, path_);
		toml::table root;
		try {
			root = toml::parse(text, std::string_view(path_));
		} catch (const toml::parse_error &e) {
			throw ConfigError(path_, static_cast<int>(e.source().begin.line),
					  std::string(e.description()));
		}
		Config c = default_config();
		c.path = path_;
		c.classify.vm_uids = default_vm_uids(opt_.passwd_path);
		for (auto &&[k, v] : root) {
			std::string_view key = k.str();
			if (key == "agent")
				agent(table(v, k), c);
			else if (key == "classify")
				classify(table(v, k), c);
			else if (key == "classes")
				classes(table(v, k), c);
			else if (key == "rule")
				rules(v, k, c);
			else if (key == "placement")
				placement(table(v, k), c);
			else if (key == "host_cgroup")
				host_cgroup(table(v, k), c);
			else
				fail(k, "unknown key '" + std::string(key) +
						"' (expected [agent], [classify], [classes.NAME], [[rule]], [placement] "
						"or [host_cgroup])");
		}
		mark_grants(c);
		return c;
	}

private:
	[[noreturn]] void fail(const toml::source_region &src, const std::string &msg) const
	{
		throw ConfigError(path_, static_cast<int>(src.begin.line), msg);
	}
	[[noreturn]] void fail(const toml::key &k, const std::string &msg) const { fail(k.source(), msg); }
	[[noreturn]] void fail(const toml::node &n, const std::string &msg) const { fail(n.source(), msg); }

	const toml::table &table(const toml::node &v, const toml::key &k) const
	{
		if (!v.is_table())
			fail(k, "'" + std::string(k.str()) + "' must be a table");
		return *v.as_table();
	}

	bool boolean(const toml::node &v, const toml::key &k) const
	{
		if (auto b = v.value_exact<bool>())
			return *b;
		fail(v.is_value() ? v.source() : k.source(), "'" + std::string(k.str()) + "' must be true or false");
	}

	std::string string(const toml::node &v, const toml::key &k) const
	{
		if (auto s = v.value_exact<std::string>())
			return *s;
		fail(v.is_value() ? v.source() : k.source(), "'" + std::string(k.str()) + "' must be a string");
	}

	// Seconds: 10, 2.5, "10s", "500ms", "1m".
	double seconds(const toml::node &v, const toml::key &k) const
	{
		double s = -1;
		if (auto i = v.value_exact<int64_t>()) {
			s = static_cast<double>(*i);
		} else if (auto d = v.value_exact<double>()) {
			s = *d;
		} else if (auto str = v.value_exact<std::string>()) {
			std::string_view t = trim(*str);
			double mul = 1;
			if (t.size() > 2 && t.substr(t.size() - 2) == "ms") {
				mul = 0.001;
				t.remove_suffix(2);
			} else if (!t.empty() && t.back() == 's') {
				t.remove_suffix(1);
			} else if (!t.empty() && t.back() == 'm') {
				mul = 60;
				t.remove_suffix(1);
			}
			auto n = parse_num<double>(trim(t));
			if (n)
				s = *n * mul;
			else
				fail(v, "'" + std::string(k.str()) + "': cannot parse duration '" + *str +
						"' (use seconds, or a string like \"500ms\", \"10s\", \"1m\")");
		} else {
			fail(v.is_value() ? v.source() : k.source(),
			     "'" + std::string(k.str()) + "' must be a number of seconds");
		}
		if (!std::isfinite(s) || s < 0.1 || s > 86400)
			fail(v, "'" + std::string(k.str()) + "' must be between 0.1 s and 1 day");
		return s;
	}

	Class class_value(const toml::node &v, const toml::key &k) const
	{
		std::string s = string(v, k);
		auto c = class_from_name(s);
		if (!c)
			fail(v, "unknown class '" + s +
					"' (one of vcpu, vm-service, host, critical, batch, exempt)");
		return *c;
	}

	void agent(const toml::table &t, Config &c) const
	{
		for (auto &&[k, v] : t) {
			std::string_view key = k.str();
			if (key == "resync_interval")
				c.resync_interval_s = seconds(v, k);
			else if (key == "restore_on_exit")
				c.restore_on_exit = boolean(v, k);
			else if (key == "state_file")
				c.state_file = string(v, k);
			else if (key == "events") {
				c.events = string(v, k);
				if (c.events != "auto" && c.events != "proc-connector" && c.events != "pid-files" &&
				    c.events != "none")
					fail(v, "events must be \"auto\", \"proc-connector\", \"pid-files\" or \"none\"");
			} else if (key == "pid_dirs")
				c.pid_dirs = string_list(v, k);
			else if (key == "io_uring")
				c.io_uring = boolean(v, k);
			else
				fail(k, "unknown key '" + std::string(key) +
						"' in [agent] (resync_interval, restore_on_exit, state_file, events, pid_dirs, "
						"io_uring)");
		}
	}

	std::vector<int> cpu_list(const toml::node &v, const toml::key &k) const
	{
		std::string str = string(v, k);
		auto l = parse_cpu_list(trim(str));
		if (!l)
			fail(v, "'" + std::string(k.str()) + "': bad CPU list '" + str + "' (e.g. \"0-3,8\")");
		for (int cpu : *l)
			if (cpu < 0 || cpu > 8191)
				fail(v, "'" + std::string(k.str()) + "': CPU " + std::to_string(cpu) + " out of range");
		return *l;
	}

	void placement(const toml::table &t, Config &c) const
	{
		PlacementConfig &p = c.placement;
		for (auto &&[k, v] : t) {
			std::string_view key = k.str();
			if (key == "enabled") {
				p.enabled = boolean(v, k);
			} else if (key == "overcommit_ratio") {
				std::optional<double> r;
				if (auto i = v.value_exact<int64_t>())
					r = static_cast<double>(*i);
				else if (auto d = v.value_exact<double>())
					r = *d;
				if (!r || !std::isfinite(*r) || *r < 0.05 || *r > 64)
					fail(v.is_value() ? v.source() : k.source(),
					     "overcommit_ratio must be a number from 0.05 to 64 (1.0: one-to-one)");
				p.ratio = *r;
			} else if (key == "reserved_cpus") {
				if (auto n = v.value_exact<int64_t>()) {
					if (*n < 0 || *n > 8192)
						fail(v, "reserved_cpus must be a count (0..8192) or a CPU list string");
					p.reserved_count = static_cast<size_t>(*n);
					p.reserved_cpus.clear();
				} else {
					p.reserved_cpus = cpu_list(v, k);
					p.reserved_count = 0;
				}
			} else if (key == "rebalance") {
				p.rebalance = boolean(v, k);
			} else if (key == "emulator_threads") {
				std::string s = string(v, k);
				if (s != "reserved" && s != "keep")
					fail(v, "emulator_threads must be \"reserved\" or \"keep\"");
				p.pin_emulator = s == "reserved";
			} else if (key == "memory") {
				std::string s = string(v, k);
				if (s != "follow" && s != "keep")
					fail(v, "memory must be \"follow\" (cpuset.mems + migrate_pages) or \"keep\"");
				p.move_memory = s == "follow";
			} else if (key == "qmp") {
				p.qmp = boolean(v, k);
			} else {
				fail(k, "unknown key '" + std::string(key) +
						"' in [placement] (enabled, overcommit_ratio, reserved_cpus, rebalance, "
						"emulator_threads, memory, qmp)");
			}
		}
	}

	// Bytes: 1073741824, "512M", "2G", "max".
	std::optional<uint64_t> bytes(const toml::node &v, const toml::key &k) const
	{
		if (auto i = v.value_exact<int64_t>()) {
			if (*i <= 0)
				fail(v, "'" + std::string(k.str()) + "' must be positive");
			return static_cast<uint64_t>(*i);
		}
		std::string s = string(v, k);
		std::string_view t = trim(s);
		if (t == "max")
			return std::nullopt;
		uint64_t mul = 1;
		if (!t.empty()) {
			switch (t.back()) {
			case 'K': case 'k': mul = 1ULL << 10; break;
			case 'M': case 'm': mul = 1ULL << 20; break;
			case 'G': case 'g': mul = 1ULL << 30; break;
			case 'T': case 't': mul = 1ULL << 40; break;
			default: break;
			}
			if (mul != 1)
				t.remove_suffix(1);
		}
		auto n = parse_num<uint64_t>(t);
		if (!n || *n == 0 || *n > (~0ULL) / mul)
			fail(v, "'" + std::string(k.str()) + "': cannot parse size '" + s +
					"' (bytes, or \"512M\", \"2G\", \"max\")");
		return *n * mul;
	}

	void host_cgroup(const toml::table &t, Config &c) const
	{
		HostCgroupConfig &h = c.host_cgroup;
		for (auto &&[k, v] : t) {
			std::string_view key = k.str();
			if (key == "enabled") {
				h.enabled = boolean(v, k);
			} else if (key == "name") {
				h.name = string(v, k);
				if (h.name.empty() || h.name.find("..") != std::string::npos || h.name[0] == '/')
					fail(v, "name must be a relative cgroup path such as \"offlinectl-host\"");
			} else if (key == "root") {
				h.root = string(v, k);
				if (h.root.empty() || h.root[0] != '/')
					fail(v, "root must be an absolute path (the cgroup2 mount point)");
			} else if (key == "classes") {
				h.classes.clear();
				for (const std::string &name : string_list(v, k)) {
					auto cls = class_from_name(name);
					if (!cls || *cls == Class::Vcpu || *cls == Class::VmService || *cls == Class::Exempt)
						fail(v, "classes: '" + name + "' cannot be moved (host, critical, batch)");
					h.classes.push_back(*cls);
				}
			} else if (key == "memory_max") {
				h.memory_max = bytes(v, k);
			} else if (key == "cpus") {
				h.cpus = cpu_list(v, k);
			} else if (key == "slices") {
				h.slices = string_list(v, k);
				for (const std::string &sl : h.slices)
					if (sl.size() < 2 || sl[0] != '/' || sl.find("..") != std::string::npos)
						fail(v, "slices must be cgroup paths such as \"/system.slice\"");
			} else if (key == "partition") {
				h.partition = string(v, k);
				if (h.partition != "member" && h.partition != "root" && h.partition != "isolated")
					fail(v, "partition must be \"member\", \"root\" or \"isolated\"");
			} else {
				fail(k, "unknown key '" + std::string(key) +
						"' in [host_cgroup] (enabled, name, root, classes, memory_max, cpus, "
						"partition, slices)");
			}
		}
	}

	void classify(const toml::table &t, Config &c) const
	{
		for (auto &&[k, v] : t) {
			std::string_view key = k.str();
			if (key == "default_class") {
				Class cls = class_value(v, k);
				if (cls == Class::Vcpu || cls == Class::VmService)
					fail(v, "default_class cannot be '" + std::string(class_name(cls)) +
							"': those classes come from VM detection");
				c.classify.default_class = cls;
			} else if (key == "realtime") {
				std::string s = string(v, k);
				if (s == "exempt")
					c.classify.classify_realtime = false;
				else if (s == "classify")
					c.classify.classify_realtime = true;
				else
					fail(v, "realtime must be \"exempt\" or \"classify\"");
			} else if (key == "exempt_openvswitch") {
				c.classify.exempt_openvswitch = boolean(v, k);
			} else if (key == "detect_vms") {
				c.classify.detect_vms = boolean(v, k);
			} else if (key == "vm_names") {
				c.classify.extra_vm_names = string_list(v, k);
				for (const std::string &n : c.classify.extra_vm_names)
					if (n.empty() || n.find('/') != std::string::npos)
						fail(v, "vm_names are binary file names such as \"qemu-kvm\"");
			} else if (key == "vm_cgroups") {
				c.classify.vm_cgroups = string_list(v, k);
				for (const std::string &g : c.classify.vm_cgroups)
					if (g.size() < 2 || g[0] != '/' || g.find("..") != std::string::npos)
						fail(v, "vm_cgroups must be cgroup paths (globs per component) such as "
							"\"/machine.slice/machine-qemu*\"");
			} else if (key == "vm_users") {
				c.classify.vm_uids.clear();
				auto one = [&](const toml::node &e) {
					if (auto u = e.value_exact<int64_t>()) {
						if (*u < 0 || *u > 0xfffffffeLL)
							fail(e, "vm_users: a uid must be a non-negative integer");
						c.classify.vm_uids.push_back(static_cast<uid_t>(*u));
					} else if (auto n = e.value_exact<std::string>()) {
						auto uid = lookup_user(*n, opt_.passwd_path);
						if (!uid)
							fail(e, "unknown user '" + *n + "' (not in " + opt_.passwd_path + ")");
						c.classify.vm_uids.push_back(*uid);
					} else {
						fail(e, "vm_users must be user names or uids");
					}
				};
				if (const toml::array *a = v.as_array()) {
					for (const toml::node &e : *a)
						one(e);
				} else {
					one(v);
				}
			} else {
				fail(k, "unknown key '" + std::string(key) +
						"' in [classify] (default_class, realtime, exempt_openvswitch, "
						"detect_vms, vm_names, vm_cgroups, vm_users)");
			}
		}
	}

	std::vector<std::string> string_list(const toml::node &v, const toml::key &k) const
	{
		std::vector<std::string> out;
		if (auto s = v.value_exact<std::string>()) {
			out.push_back(*s);
			return out;
		}
		const toml::array *a = v.as_array();
		if (!a)
			fail(v.is_value() ? v.source() : k.source(),
			     "'" + std::string(k.str()) + "' must be a string or an array of strings");
		for (const toml::node &e : *a) {
			auto s = e.value_exact<std::string>();
			if (!s)
				fail(e, "'" + std::string(k.str()) + "' must contain only strings");
			out.push_back(*s);
		}
		return out;
	}

	void classes(const toml::table &t, Config &c) const
	{
		for (auto &&[k, v] : t) {
			auto cls = class_from_name(k.str());
			if (!cls)
				fail(k, "unknown class '" + std::string(k.str()) +
						"' in [classes] (vcpu, vm-service, host, critical, batch)");
			if (*cls == Class::Exempt)
				fail(k, "class 'exempt' cannot be configured: exempt tasks are never touched");
			ClassSettings &s = c.settings(*cls);
			for (auto &&[k2, v2] : table(v, k)) {
				std::string_view key = k2.str();
				if (key == "policy") {
					std::string p = string(v2, k2);
					if (p == "offline")
						s.action = Action::Offline;
					else if (p == "online")
						s.action = Action::Online;
					else if (p == "keep")
						s.action = Action::Keep;
					else
						fail(v2, "policy must be \"offline\", \"online\" or \"keep\", not \"" +
								 p + "\"");
				} else if (key == "nice") {
					auto n = v2.value_exact<int64_t>();
					if (!n || *n < -20 || *n > 19)
						fail(v2.is_value() ? v2.source() : k2.source(),
						     "nice must be an integer from -20 to 19");
					s.nice = static_cast<int>(*n);
				} else {
					fail(k2, "unknown key '" + std::string(key) + "' in [classes." +
							 std::string(k.str()) + "] (policy, nice)");
				}
			}
		}
	}

	std::optional<Matcher> matcher(const toml::node &v, const toml::key &k) const
	{
		std::string pat = string(v, k);
		try {
			return Matcher(pat);
		} catch (const PatternError &e) {
			fail(v, "bad regular expression for '" + std::string(k.str()) + "': " + pat + " (" +
					e.what() + ")");
		}
	}

	void rules(const toml::node &v, const toml::key &k, Config &c) const
	{
		const toml::array *arr = v.as_array();
		if (!arr || !arr->is_array_of_tables())
			fail(k, "'rule' must be written as [[rule]] tables");
		for (const toml::node &n : *arr) {
			const toml::table &t = *n.as_table();
			Rule r;
			r.file = path_;
			r.line = static_cast<int>(t.source().begin.line);
			bool have_class = false;
			for (auto &&[k2, v2] : t) {
				std::string_view key = k2.str();
				if (key == "name") {
					r.name = string(v2, k2);
				} else if (key == "class") {
					r.cls = class_value(v2, k2);
					have_class = true;
				} else if (key == "comm") {
					r.comm = matcher(v2, k2);
				} else if (key == "thread") {
					r.thread = matcher(v2, k2);
				} else if (key == "exe") {
					r.exe = matcher(v2, k2);
				} else if (key == "cmdline") {
					r.cmdline = matcher(v2, k2);
				} else if (key == "cgroup") {
					std::string cg = string(v2, k2);
					if (cg.empty() || cg[0] != '/')
						fail(v2, "cgroup must be an absolute cgroup path such as "
							 "\"/batch.slice\"");
					r.cgroup = cg;
				} else if (key == "uid") {
					add_uids(v2, k2, r);
				} else if (key == "user") {
					for (const std::string &name : string_list(v2, k2)) {
						auto uid = lookup_user(name, opt_.passwd_path);
						if (!uid)
							fail(v2, "unknown user '" + name + "' (not in " +
									 opt_.passwd_path + ")");
						r.uids.push_back(*uid);
					}
				} else {
					fail(k2, "unknown key '" + std::string(key) +
							 "' in [[rule]] (name, class, comm, thread, exe, cmdline, "
							 "cgroup, uid, user)");
				}
			}
			if (!have_class)
				fail(t.source(), "[[rule]] needs a class");
			if (!r.has_process_part() && !r.thread)
				fail(t.source(), "[[rule]] matches nothing: give at least one of comm, thread, "
						 "exe, cmdline, cgroup, uid, user");
			if (r.name.empty())
				r.name = "rule #" + std::to_string(c.classify.rules.size() + 1);
			c.classify.rules.push_back(std::move(r));
		}
	}

	void add_uids(const toml::node &v, const toml::key &k, Rule &r) const
	{
		auto one = [&](const toml::node &e) {
			auto u = e.value_exact<int64_t>();
			if (!u || *u < 0 || *u > 0xfffffffeLL)
				fail(e.is_value() ? e.source() : k.source(),
				     "uid must be a non-negative integer or an array of them");
			r.uids.push_back(static_cast<uid_t>(*u));
		};
		if (const toml::array *a = v.as_array()) {
			if (a->empty())
				fail(v, "uid must not be an empty array");
			for (const toml::node &e : *a)
				one(e);
		} else {
			one(v);
		}
	}

	const std::string &path_;
	const ConfigParseOptions &opt_;
};

} // namespace

Config parse_config(std::string_view text, const std::string &path, const ConfigParseOptions &opt)
{
	Parser p(path, opt);
	return p.parse(text);
}

Config load_config(const std::string &path, const ConfigParseOptions &opt)
{
	std::ifstream in(path, std::ios::binary);
	if (!in)
		throw ConfigError(path, 0, "cannot open config: " + errno_str(errno));
	std::ostringstream s;
	s << in.rdbuf();
	if (in.bad())
		throw ConfigError(path, 0, "cannot read config: " + errno_str(errno));
	return parse_config(s.str(), path, opt);
}

} // namespace offl
