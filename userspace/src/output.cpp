// SPDX-License-Identifier: GPL-2.0
#include "output.hpp"

#include "qmp.hpp"
#include "topology.hpp"

#include <chrono>
#include <map>
#include <set>
#include <thread>

#include "apply.hpp"
#include "journal.hpp"
#include "util.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <dirent.h>
#include <sys/utsname.h>

namespace offl {

using json = nlohmann::json;

KernelInfo collect_kernel_info(const ProcFs &procfs)
{
	KernelInfo k;
	struct utsname u;
	if (uname(&u) == 0)
		k.release = u.release;
	k.sched_offline = procfs.read_file("sched_offline").has_value();
	k.offline_policy = k.sched_offline ? kSchedOffline : kSchedIdle;
	std::string dir = procfs.root() + "/sys/kernel";
	if (DIR *d = opendir(dir.c_str())) {
		while (struct dirent *e = readdir(d)) {
			std::string_view n = e->d_name;
			if (n.substr(0, 14) != "sched_offline_")
				continue;
			auto v = procfs.read_file("sys/kernel/" + std::string(n));
			k.sysctls.emplace_back(std::string(n), v ? std::string(trim(*v)) : "?");
		}
		closedir(d);
		std::sort(k.sysctls.begin(), k.sysctls.end());
	}
	return k;
}

std::string agent_pidfile(const Config &cfg)
{
	std::string dir = "/run/offlinectl";
	if (!cfg.state_file.empty()) {
		size_t slash = cfg.state_file.rfind('/');
		dir = slash == std::string::npos ? "." : cfg.state_file.substr(0, slash);
	}
	return dir + "/agent.pid";
}

pid_t running_agent(const ProcFs &procfs, const Config &cfg)
{
	std::ifstream in(agent_pidfile(cfg));
	pid_t pid = 0;
	if (!(in >> pid) || pid <= 0)
		return 0;
	auto comm = procfs.read_file(std::to_string(pid) + "/comm");
	if (!comm || trim(*comm) != "offlinectl")
		return 0;
	return pid;
}

namespace {

std::optional<uint64_t> run_delay_ns(const ProcFs &procfs, pid_t tgid, pid_t tid)
{
	auto txt = procfs.read_file(std::to_string(tgid) + "/task/" + std::to_string(tid) + "/schedstat");
	if (!txt)
		return std::nullopt;
	auto f = split_ws(trim(*txt));
	if (f.size() < 2)
		return std::nullopt;
	return parse_num<uint64_t>(f[1]);
}

std::string affinity_of(const ProcFs &procfs, pid_t tgid, pid_t tid)
{
	auto txt = procfs.read_file(std::to_string(tgid) + "/task/" + std::to_string(tid) + "/status");
	if (!txt)
		return {};
	auto st = parse_status(*txt);
	return st ? st->cpus_allowed_list : std::string();
}

void collect_vm_status(const ProcFs &procfs, const StatusOptions &opt, const Snapshot &snap,
		       const std::optional<std::string> &placement_state, StatusData &s)
{
	// The agent's plan (state file): which VMs it placed, what did not fit.
	std::map<pid_t, std::pair<int, std::vector<int>>> plan; // tgid -> node, unplaced
	if (placement_state) {
		json j = json::parse(*placement_state, nullptr, false);
		if (j.is_object() && j.contains("plan") && j["plan"].is_array())
			for (const json &p : j["plan"]) {
				if (!p.is_object() || !p.contains("tgid"))
					continue;
				const json &u = p.value("unplaced", json::array());
				std::vector<int> un;
				for (const json &x : u)
					if (x.is_number_integer())
						un.push_back(x.get<int>());
				plan[p["tgid"].get<pid_t>()] = {p.value("node", -1), un};
			}
	}
	auto topo = read_topology(opt.sys_root);
	if (topo)
		s.topology = topo->describe();
	s.steal_interval_s = opt.steal_interval_s;
	std::map<pid_t, uint64_t> d0;
	for (const VmInfo &vm : s.vms) {
		VmStatus vs;
		std::set<int> nodes;
		for (const VcpuThread &t : vm.vcpus) {
			VcpuStatus v;
			v.index = t.index;
			v.tid = t.tid;
			v.cpus = affinity_of(procfs, vm.tgid, t.tid);
			if (auto l = parse_cpu_list(v.cpus); l && topo)
				v.node = topo->node_of_set(*l);
			nodes.insert(v.node);
			if (auto d = run_delay_ns(procfs, vm.tgid, t.tid))
				d0[t.tid] = *d;
			vs.vcpus.push_back(std::move(v));
		}
		if (nodes.size() == 1)
			vs.node = *nodes.begin();
		vs.emulator_cpus = affinity_of(procfs, vm.tgid, vm.tgid);
		if (auto it = plan.find(vm.tgid); it != plan.end()) {
			vs.planned = true;
			vs.plan_node = it->second.first;
			vs.unplaced = it->second.second;
		}
		if (opt.qmp == StatusOptions::Qmp::Always || (opt.qmp == StatusOptions::Qmp::Unnamed && vm.vcpus.empty()))
			for (const ProcessInfo &p : snap.processes)
				if (p.tgid == vm.tgid && !(vs.qmp_socket = qemu_qmp_socket(p.cmdline)).empty()) {
					if (auto r = qmp_execute(vs.qmp_socket, "query-cpus-fast", vs.qmp_error, 1000, p.uid))
						vs.qmp_vcpus = parse_query_cpus_fast(*r);
				}
		s.vm_status.push_back(std::move(vs));
	}
	if (opt.steal_interval_s <= 0 || d0.empty())
		return;
	auto t0 = std::chrono::steady_clock::now();
	std::this_thread::sleep_for(std::chrono::duration<double>(opt.steal_interval_s));
	const double wall =
		std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0).count();
	for (size_t i = 0; i < s.vms.size(); i++)
		for (VcpuStatus &v : s.vm_status[i].vcpus) {
			auto d1 = run_delay_ns(procfs, s.vms[i].tgid, v.tid);
			auto it = d0.find(v.tid);
			if (d1 && it != d0.end() && *d1 >= it->second && wall > 0)
				v.steal_pct = 100.0 * static_cast<double>(*d1 - it->second) / wall;
		}
}

} // namespace

StatusData collect_status(const ProcFs &procfs, const Config &cfg, const std::string &version,
			  const StatusOptions &opt)
{
	StatusData s;
	s.version = version;
	s.kernel = collect_kernel_info(procfs);
	s.config_path = cfg.path;
	s.rules = cfg.classify.rules.size();
	Snapshot snap = procfs.scan();
	s.processes = snap.processes.size();
	s.tasks = snap.tasks.size();
	s.scan_ms = static_cast<double>(snap.scan_ns) / 1e6;
	std::vector<Verdict> v = classify_all(snap, cfg.classify);
	Journal journal;
	std::string err;
	std::optional<std::string> placement_state;
	if (!cfg.state_file.empty() && journal.load(cfg.state_file, err)) {
		placement_state = journal.section("placement");
		journal.prune(snap);
		s.journal_entries = journal.size();
		s.journal_known = true;
	}
	s.state_file = cfg.state_file;
	s.agent_pid = running_agent(procfs, cfg);
	for (size_t i = 0; i < snap.tasks.size(); i++) {
		if (v[i].cls == Class::Exempt && static_cast<size_t>(v[i].reason) < s.exempt_by_reason.size())
			s.exempt_by_reason[static_cast<size_t>(v[i].reason)]++;
		ClassCount &c = s.classes[static_cast<size_t>(v[i].cls)];
		c.tasks++;
		if (is_offline_policy(snap.tasks[i].policy, s.kernel.offline_policy))
			c.offline++;
		if (plan_task(snap.tasks[i], i, v[i], cfg, journal, s.kernel.offline_policy))
			c.would_change++;
	}
	for (Class c : kAllClasses)
		s.actions[static_cast<size_t>(c)] =
			c == Class::Exempt ? Action::Keep : cfg.settings(c).action;
	s.vms = discover_vms(snap, v);
	collect_vm_status(procfs, opt, snap, placement_state, s);
	if (auto txt = procfs.read_file("sched_offline"))
		s.cpus = parse_sched_offline(*txt);
	return s;
}

void print_status(const StatusData &s, std::ostream &out)
{
	out << "offlinectl " << s.version << "\n";
	out << "kernel:  " << s.kernel.release << ": ";
	if (s.kernel.sched_offline)
		out << "SCHED_OFFLINE available (/proc/sched_offline)\n";
	else
		out << "no SCHED_OFFLINE; offline tasks use SCHED_IDLE\n";
	for (const auto &[k, v] : s.kernel.sysctls)
		out << "  " << k << " = " << v << "\n";
	out << "config:  " << (s.config_path.empty() ? "built-in defaults" : s.config_path) << " (" << s.rules
	    << " rules)\n";
	char buf[160];
	snprintf(buf, sizeof(buf), "tasks:   %zu in %zu processes (scanned in %.1f ms)\n", s.tasks, s.processes,
		 s.scan_ms);
	out << buf;
	out << "agent:   ";
	if (s.agent_pid)
		out << "running, pid " << s.agent_pid;
	else
		out << "not running";
	if (s.journal_known)
		out << "; " << s.journal_entries << " task(s) changed by offlinectl (" << s.state_file << ")";
	out << "\n\n";
	snprintf(buf, sizeof(buf), "%-11s %-8s %7s %8s %8s\n", "CLASS", "POLICY", "TASKS", "OFFLINE", "PENDING");
	out << buf;
	for (Class c : kAllClasses) {
		const ClassCount &cc = s.classes[static_cast<size_t>(c)];
		snprintf(buf, sizeof(buf), "%-11s %-8s %7zu %8zu %8zu\n", class_name(c),
			 c == Class::Exempt ? "-" : action_name(s.actions[static_cast<size_t>(c)]), cc.tasks,
			 cc.offline, cc.would_change);
		out << buf;
	}
	std::string ex;
	for (size_t r = 0; r < s.exempt_by_reason.size(); r++) {
		if (!s.exempt_by_reason[r])
			continue;
		ex += (ex.empty() ? "" : ", ") + std::to_string(s.exempt_by_reason[r]) + " " +
		      reason_name(static_cast<Reason>(r));
	}
	if (!ex.empty())
		out << "exempt:  " << ex << "\n";
	if (!s.vms.empty()) {
		out << "\nVMs" << (s.topology.empty() ? std::string() : " (" + s.topology + ")");
		if (s.steal_interval_s > 0)
			out << ", steal = run-queue wait over " << s.steal_interval_s << " s";
		out << ":\n";
		size_t i_vm = 0;
		for (const VmInfo &vm : s.vms) {
			out << "  pid " << vm.tgid;
			if (!vm.name.empty())
				out << " name " << offl::quoted(vm.name);
			out << ": " << vm.vcpus.size() << " vCPU thread(s)";
			if (!vm.vcpus.empty()) {
				out << " [";
				for (size_t i = 0; i < vm.vcpus.size(); i++)
					out << (i ? " " : "") << vm.vcpus[i].index << ":" << vm.vcpus[i].tid;
				out << "]";
			}
			out << ", " << vm.service_threads.size() << " service thread(s)\n";
			if (i_vm < s.vm_status.size()) {
				const VmStatus &vs = s.vm_status[i_vm];
				out << "    node " << (vs.node >= 0 ? std::to_string(vs.node) : std::string("-"))
				    << ", emulator threads on CPUs " << (vs.emulator_cpus.empty() ? "?" : vs.emulator_cpus);
				if (vs.planned)
					out << "; placed by the agent"
					    << (vs.unplaced.empty() ? std::string()
								    : ", vCPU(s) " + format_cpu_list(vs.unplaced) +
									      " did not fit (left unbound)");
				out << "\n";
				if (!vs.qmp_socket.empty()) {
					out << "    QMP " << vs.qmp_socket << ": ";
					if (!vs.qmp_error.empty()) {
						out << vs.qmp_error << "\n";
					} else {
						bool agree = vs.qmp_vcpus.size() == vm.vcpus.size();
						for (const VcpuThread &t : vm.vcpus) {
							auto q = vs.qmp_vcpus.find(t.index);
							agree &= q != vs.qmp_vcpus.end() && q->second == t.tid;
						}
						out << vs.qmp_vcpus.size() << " vCPU(s), thread ids "
						    << (agree ? "agree with the thread names" : "DIFFER from the thread names")
						    << "\n";
					}
				}
				for (const VcpuStatus &v : vs.vcpus) {
					char steal[24] = "-", node[16] = "-";
					if (v.steal_pct >= 0)
						snprintf(steal, sizeof(steal), "%.1f%%", v.steal_pct);
					if (v.node >= 0)
						snprintf(node, sizeof(node), "%d", v.node);
					snprintf(buf, sizeof(buf), "    vCPU %-3d tid %-7d CPUs %-12s node %-3s steal %s\n",
						 v.index, v.tid, v.cpus.c_str(), node, steal);
					out << buf;
				}
			}
			i_vm++;
		}
	}
	if (s.cpus) {
		out << "\n";
		snprintf(buf, sizeof(buf), "%4s %8s %8s %10s %16s %9s %7s %7s %7s\n", "CPU", "ONLINE%", "CAPACITY",
			 "NR_OFFLINE", "OFFLINE_RUNTIME", "PREEMPTS", "PULLS", "PUSHES", "GUARD");
		out << buf;
		for (const auto &r : s.cpus->rows) {
			snprintf(buf, sizeof(buf), "%4d %8.1f %8d %10llu %14.3fs %9llu %7llu %7llu %7llu\n", r.cpu,
				 r.online_avg_pct, r.capacity, static_cast<unsigned long long>(r.nr_offline),
				 static_cast<double>(r.offline_runtime_ns) / 1e9,
				 static_cast<unsigned long long>(r.preempts), static_cast<unsigned long long>(r.pulls),
				 static_cast<unsigned long long>(r.pushes),
				 static_cast<unsigned long long>(r.guard_bursts));
			out << buf;
		}
	}
}

std::string status_json(const StatusData &s)
{
	json j;
	j["version"] = s.version;
	j["kernel"] = {{"release", s.kernel.release},
		       {"sched_offline", s.kernel.sched_offline},
		       {"offline_policy", s.kernel.offline_policy},
		       {"offline_policy_name", policy_name(s.kernel.offline_policy)}};
	json sys = json::object();
	for (const auto &[k, v] : s.kernel.sysctls)
		sys[k] = v;
	j["kernel"]["sysctls"] = sys;
	j["config"] = {{"path", s.config_path.empty() ? json(nullptr) : json(s.config_path)}, {"rules", s.rules}};
	j["processes"] = s.processes;
	j["tasks"] = s.tasks;
	j["scan_ms"] = s.scan_ms;
	if (s.journal_known)
		j["changed_by_agent"] = s.journal_entries;
	j["agent_pid"] = s.agent_pid ? json(s.agent_pid) : json(nullptr);
	json exr = json::object();
	for (size_t r = 0; r < s.exempt_by_reason.size(); r++)
		if (s.exempt_by_reason[r])
			exr[reason_name(static_cast<Reason>(r))] = s.exempt_by_reason[r];
	j["exempt_by_reason"] = exr;
	json classes = json::object();
	for (Class c : kAllClasses) {
		const ClassCount &cc = s.classes[static_cast<size_t>(c)];
		classes[class_name(c)] = {{"policy", c == Class::Exempt ? "exempt" : action_name(s.actions[static_cast<size_t>(c)])},
					  {"tasks", cc.tasks},
					  {"offline", cc.offline},
					  {"pending", cc.would_change}};
	}
	j["classes"] = classes;
	json vms = json::array();
	for (const VmInfo &vm : s.vms) {
		json vc = json::array();
		for (const auto &v : vm.vcpus)
			vc.push_back({{"index", v.index}, {"tid", v.tid}});
		json entry = {{"pid", vm.tgid},
			      {"name", vm.name},
			      {"exe", vm.exe},
			      {"cgroup", vm.cgroup},
			      {"vcpus", vc},
			      {"service_threads", vm.service_threads}};
		const size_t i = static_cast<size_t>(vms.size());
		if (i < s.vm_status.size()) {
			const VmStatus &vs = s.vm_status[i];
			entry["node"] = vs.node >= 0 ? json(vs.node) : json(nullptr);
			if (!vs.qmp_socket.empty()) {
				json q = {{"socket", vs.qmp_socket}};
				if (!vs.qmp_error.empty())
					q["error"] = vs.qmp_error;
				json m = json::object();
				for (const auto &[idx, tid] : vs.qmp_vcpus)
					m[std::to_string(idx)] = tid;
				q["vcpus"] = m;
				entry["qmp"] = q;
			}
			entry["emulator_cpus"] = vs.emulator_cpus;
			if (vs.planned)
				entry["agent_plan"] = {{"node", vs.plan_node >= 0 ? json(vs.plan_node) : json(nullptr)},
						       {"unplaced", vs.unplaced}};
			json& jv = entry["vcpus"];
			for (size_t k = 0; k < vs.vcpus.size() && k < jv.size(); k++) {
				jv[k]["cpus"] = vs.vcpus[k].cpus;
				jv[k]["node"] = vs.vcpus[k].node >= 0 ? json(vs.vcpus[k].node) : json(nullptr);
				jv[k]["steal_pct"] = vs.vcpus[k].steal_pct >= 0 ? json(vs.vcpus[k].steal_pct) : json(nullptr);
			}
		}
		vms.push_back(std::move(entry));
	}
	j["vms"] = vms;
	if (s.cpus) {
		json rows = json::array();
		for (const auto &r : s.cpus->rows) {
			json row = {{"cpu", r.cpu},
				    {"online_avg_pct", r.online_avg_pct},
				    {"capacity", r.capacity},
				    {"nr_offline", r.nr_offline},
				    {"offline_runtime_ns", r.offline_runtime_ns},
				    {"preempts", r.preempts},
				    {"pulls", r.pulls},
				    {"pushes", r.pushes},
				    {"guard_bursts", r.guard_bursts}};
			for (const auto &[k, v] : r.extra)
				row[k] = v;
			rows.push_back(row);
		}
		j["cpus"] = rows;
	} else {
		j["cpus"] = nullptr;
	}
	return j.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
}

std::optional<ExplainData> collect_explain(const ProcFs &procfs, const Config &cfg, pid_t pid, int offline_policy)
{
	ScanOptions opt;
	opt.thread_status = true;
	Snapshot snap = procfs.scan_process(pid, opt);
	if (snap.processes.empty())
		return std::nullopt;
	ExplainData e;
	e.asked = pid;
	e.process = snap.processes[0];
	e.offline_policy = offline_policy;
	e.config_path = cfg.path;
	std::vector<Verdict> v = classify_all(snap, cfg.classify);
	Journal journal;
	std::string err;
	if (!cfg.state_file.empty())
		journal.load(cfg.state_file, err);
	bool found = false;
	for (size_t i = 0; i < snap.tasks.size(); i++) {
		const TaskInfo &t = snap.tasks[i];
		ExplainTask et;
		et.task = t;
		et.verdict = v[i];
		et.why = describe(v[i], t, snap.process_of(t), cfg.classify);
		et.action = v[i].cls == Class::Exempt ? Action::Keep : cfg.settings(v[i].cls).action;
		if (auto c = plan_task(t, i, v[i], cfg, journal, offline_policy)) {
			std::string to = policy_name(c->to_policy);
			et.plan = std::string(policy_name(t.policy)) + " -> " + to + " (" + change_kind_name(c->kind) + ")";
		}
		if (t.tid == pid) {
			e.tasks.insert(e.tasks.begin(), std::move(et));
			found = true;
		} else {
			e.tasks.push_back(std::move(et));
		}
	}
	if (!found)
		return std::nullopt; // the pid vanished between the two reads
	return e;
}

void print_explain(const ExplainData &e, std::ostream &out)
{
	const ExplainTask &t = e.tasks.front();
	const ProcessInfo &p = e.process;
	out << "task " << t.task.tid << " " << offl::quoted(t.task.comm);
	if (t.task.tid != t.task.tgid)
		out << ", thread of process " << p.tgid << " " << offl::quoted(p.comm);
	out << "\n";
	out << "  exe:      " << (p.exe.empty() ? "-" : p.exe) << (p.exe_deleted ? " (deleted)" : "") << "\n";
	out << "  cmdline:  " << (p.cmdline.empty() ? "-" : p.cmdline) << "\n";
	out << "  cgroup:   " << (p.cgroup.empty() ? "-" : p.cgroup) << "\n";
	out << "  uid:      " << t.task.uid << "\n";
	out << "  policy:   " << policy_name(t.task.policy);
	if (is_realtime_policy(t.task.policy))
		out << " prio " << t.task.rt_priority;
	else
		out << " nice " << t.task.nice;
	out << "\n  cpus:     " << (t.task.cpus_allowed.empty() ? "-" : t.task.cpus_allowed) << "\n";
	out << "  class:    " << class_name(t.verdict.cls) << "\n";
	out << "  why:      " << t.why << "\n";
	out << "  action:   "
	    << (t.verdict.cls == Class::Exempt ? "none (exempt)" : std::string(action_name(t.action)) + " class")
	    << "; " << (t.plan.empty() ? "nothing to do" : "the agent would change " + t.plan) << "\n";
	if (e.tasks.size() > 1) {
		out << "  other threads of process " << p.tgid << ":\n";
		char buf[256];
		for (size_t i = 1; i < e.tasks.size(); i++) {
			const ExplainTask &o = e.tasks[i];
			snprintf(buf, sizeof(buf), "    %7d %-18s %-10s %-14s %s\n", o.task.tid,
				 offl::quoted(o.task.comm).c_str(), class_name(o.verdict.cls), policy_name(o.task.policy),
				 o.plan.empty() ? "" : ("-> " + o.plan).c_str());
			out << buf;
		}
	}
}

std::string explain_json(const ExplainData &e)
{
	json tasks = json::array();
	for (const ExplainTask &t : e.tasks) {
		tasks.push_back({{"tid", t.task.tid},
				 {"comm", t.task.comm},
				 {"policy", t.task.policy},
				 {"policy_name", policy_name(t.task.policy)},
				 {"nice", t.task.nice},
				 {"rt_priority", t.task.rt_priority},
				 {"uid", t.task.uid},
				 {"cpus_allowed", t.task.cpus_allowed},
				 {"class", class_name(t.verdict.cls)},
				 {"reason", reason_name(t.verdict.reason)},
				 {"rule", t.verdict.rule >= 0 ? json(t.verdict.rule) : json(nullptr)},
				 {"vcpu", t.verdict.vcpu >= 0 ? json(t.verdict.vcpu) : json(nullptr)},
				 {"why", t.why},
				 {"action", t.verdict.cls == Class::Exempt ? "exempt" : action_name(t.action)},
				 {"plan", t.plan.empty() ? json(nullptr) : json(t.plan)}});
	}
	json j = {{"pid", e.asked},
		  {"process",
		   {{"tgid", e.process.tgid},
		    {"comm", e.process.comm},
		    {"exe", e.process.exe},
		    {"cmdline", e.process.cmdline},
		    {"cgroup", e.process.cgroup},
		    {"uid", e.process.uid},
		    {"kthread", e.process.kthread}}},
		  {"offline_policy", e.offline_policy},
		  {"config", e.config_path.empty() ? json(nullptr) : json(e.config_path)},
		  {"tasks", tasks}};
	return j.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
}

} // namespace offl
