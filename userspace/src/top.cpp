// SPDX-License-Identifier: GPL-2.0
#include "top.hpp"

#include "apply.hpp"
#include "util.hpp"

#include <chrono>
#include <cstdio>

namespace offl {

std::vector<CpuTimes> parse_proc_stat_cpus(std::string_view text)
{
	std::vector<CpuTimes> out;
	while (!text.empty()) {
		size_t nl = text.find('\n');
		std::string_view line = text.substr(0, nl);
		text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
		if (line.substr(0, 3) != "cpu" || line.size() < 4 || line[3] < '0' || line[3] > '9')
			continue;
		auto f = split_ws(line);
		if (f.size() < 5)
			continue;
		auto cpu = parse_num<int>(f[0].substr(3));
		if (!cpu)
			continue;
		CpuTimes c;
		c.cpu = *cpu;
		// user nice system idle iowait irq softirq steal ...
		for (size_t i = 1; i < f.size() && i <= 8; i++) {
			auto v = parse_num<uint64_t>(f[i]);
			if (!v)
				break;
			c.total += *v;
			if (i != 4 && i != 5)
				c.busy += *v;
		}
		out.push_back(c);
	}
	return out;
}

TopSample take_top_sample(const ProcFs &procfs, const ClassifyPolicy &pol)
{
	TopSample s;
	s.mono_ns = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
						  std::chrono::steady_clock::now().time_since_epoch())
						  .count());
	if (auto t = procfs.read_file("sched_offline"))
		s.offline = parse_sched_offline(*t);
	if (auto t = procfs.read_file("stat"))
		s.cpus = parse_proc_stat_cpus(*t);
	ScanOptions opt;
	Snapshot snap = procfs.scan(opt);
	std::vector<Verdict> v = classify_all(snap, pol);
	for (size_t i = 0; i < snap.tasks.size(); i++) {
		const TaskInfo &t = snap.tasks[i];
		auto ns = procfs.task_cpu_ns(t.tgid, t.tid);
		if (!ns) // no schedstat: fall back to ticks (USER_HZ = 100)
			ns = (t.utime + t.stime) * 10'000'000ULL;
		s.tasks[{t.tid, t.start_time}] = TopSample::Task{v[i].cls, t.policy, *ns};
	}
	return s;
}

TopView compute_top(const TopSample &a, const TopSample &b, int offline_policy)
{
	TopView v;
	double dt_ns = b.mono_ns > a.mono_ns ? static_cast<double>(b.mono_ns - a.mono_ns) : 1.0;
	v.interval_s = dt_ns / 1e9;
	v.sched_offline = b.offline.has_value();
	for (const auto &[key, t] : b.tasks) {
		TopClassRow &row = v.classes[static_cast<size_t>(t.cls)];
		row.tasks++;
		if (is_offline_policy(t.policy, offline_policy))
			row.offline++;
		auto it = a.tasks.find(key);
		uint64_t before = it == a.tasks.end() ? 0 : it->second.cpu_ns;
		if (it == a.tasks.end())
			continue; // new task: its whole lifetime is not this interval
		if (t.cpu_ns > before)
			row.cpu_pct += static_cast<double>(t.cpu_ns - before) / dt_ns * 100.0;
	}
	if (b.offline) {
		for (const auto &r : b.offline->rows) {
			TopCpuRow c;
			c.cpu = r.cpu;
			c.online_avg_pct = r.online_avg_pct;
			c.capacity = r.capacity;
			c.nr_offline = r.nr_offline;
			if (a.offline) {
				for (const auto &p : a.offline->rows) {
					if (p.cpu != r.cpu)
						continue;
					auto rate = [&](uint64_t now, uint64_t prev) {
						return now >= prev ? static_cast<double>(now - prev) / v.interval_s : 0.0;
					};
					c.offline_pct = r.offline_runtime_ns >= p.offline_runtime_ns
								? static_cast<double>(r.offline_runtime_ns - p.offline_runtime_ns) /
									  dt_ns * 100.0
								: 0.0;
					c.preempts_per_s = rate(r.preempts, p.preempts);
					c.pulls_per_s = rate(r.pulls, p.pulls);
					c.pushes_per_s = rate(r.pushes, p.pushes);
					c.guard_per_s = rate(r.guard_bursts, p.guard_bursts);
				}
			}
			v.cpus.push_back(c);
		}
	}
	for (const auto &cb : b.cpus) {
		for (const auto &ca : a.cpus) {
			if (ca.cpu != cb.cpu || cb.total <= ca.total)
				continue;
			double busy = static_cast<double>(cb.busy - ca.busy) / static_cast<double>(cb.total - ca.total) * 100.0;
			bool merged = false;
			for (auto &row : v.cpus)
				if (row.cpu == cb.cpu) {
					row.busy_pct = busy;
					merged = true;
				}
			if (!merged) {
				TopCpuRow row;
				row.cpu = cb.cpu;
				row.busy_pct = busy;
				v.cpus.push_back(row);
			}
		}
	}
	return v;
}

namespace {

std::string opt_num(const std::optional<double> &v, int decimals)
{
	if (!v)
		return "-";
	char b[32];
	snprintf(b, sizeof(b), "%.*f", decimals, *v);
	return b;
}

} // namespace

void print_top(const TopView &v, std::ostream &out)
{
	char buf[200];
	snprintf(buf, sizeof(buf), "offlinectl top: interval %.2f s, %s\n\n", v.interval_s,
		 v.sched_offline ? "SCHED_OFFLINE kernel" : "no SCHED_OFFLINE (SCHED_IDLE fallback)");
	out << buf;
	if (v.sched_offline)
		snprintf(buf, sizeof(buf), "%4s %6s %8s %8s %6s %8s %9s %7s %7s %7s\n", "CPU", "BUSY%", "ONLINE%",
			 "CAPACITY", "NR_OFF", "OFFLINE%", "PREEMPT/s", "PULL/s", "PUSH/s", "GUARD/s");
	else
		snprintf(buf, sizeof(buf), "%4s %6s\n", "CPU", "BUSY%");
	out << buf;
	for (const auto &c : v.cpus) {
		if (v.sched_offline)
			snprintf(buf, sizeof(buf), "%4d %6s %8s %8s %6s %8s %9s %7s %7s %7s\n", c.cpu,
				 opt_num(c.busy_pct, 1).c_str(), opt_num(c.online_avg_pct, 1).c_str(),
				 c.capacity ? std::to_string(*c.capacity).c_str() : "-",
				 c.nr_offline ? std::to_string(*c.nr_offline).c_str() : "-",
				 opt_num(c.offline_pct, 1).c_str(), opt_num(c.preempts_per_s, 0).c_str(),
				 opt_num(c.pulls_per_s, 0).c_str(), opt_num(c.pushes_per_s, 0).c_str(),
				 opt_num(c.guard_per_s, 0).c_str());
		else
			snprintf(buf, sizeof(buf), "%4d %6s\n", c.cpu, opt_num(c.busy_pct, 1).c_str());
		out << buf;
	}
	out << "\n";
	snprintf(buf, sizeof(buf), "%-11s %7s %8s %8s\n", "CLASS", "TASKS", "OFFLINE", "CPU%");
	out << buf;
	for (Class c : kAllClasses) {
		const TopClassRow &r = v.classes[static_cast<size_t>(c)];
		snprintf(buf, sizeof(buf), "%-11s %7zu %8zu %8.1f\n", class_name(c), r.tasks, r.offline, r.cpu_pct);
		out << buf;
	}
	out.flush();
}

} // namespace offl
