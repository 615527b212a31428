// SPDX-License-Identifier: GPL-2.0
// `offlinectl top`: per-CPU offline capacity (from /proc/sched_offline, or
// busy % from /proc/stat on kernels without it) and CPU use per class (from
// /proc/<pid>/task/<tid>/schedstat, nanoseconds), as rates between two
// samples.
#pragma once

#include "classify.hpp"
#include "procfs.hpp"

#include <array>
#include <map>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

namespace offl {

struct CpuTimes {
	int cpu = -1;
	uint64_t busy = 0, total = 0; // jiffies from /proc/stat
};
std::vector<CpuTimes> parse_proc_stat_cpus(std::string_view text);

struct TopSample {
	uint64_t mono_ns = 0;
	std::optional<SchedOfflineTable> offline;
	std::vector<CpuTimes> cpus;
	// (tid, start time) -> (class, policy, cpu ns)
	struct Task {
		Class cls;
		int policy;
		uint64_t cpu_ns;
	};
	std::map<std::pair<pid_t, uint64_t>, Task> tasks;
};

TopSample take_top_sample(const ProcFs &procfs, const ClassifyPolicy &pol);

struct TopClassRow {
	size_t tasks = 0, offline = 0;
	double cpu_pct = 0; // 100 = one CPU
};
struct TopCpuRow {
	int cpu = -1;
	std::optional<double> online_avg_pct;
	std::optional<int> capacity;
	std::optional<uint64_t> nr_offline;
	std::optional<double> offline_pct;    // offline runtime / interval
	std::optional<double> preempts_per_s, pulls_per_s, pushes_per_s, guard_per_s;
	std::optional<double> busy_pct;       // from /proc/stat
};
struct TopView {
	double interval_s = 0;
	bool sched_offline = false;
	std::vector<TopCpuRow> cpus;
	std::array<TopClassRow, kNumClasses> classes{};
};

TopView compute_top(const TopSample &a, const TopSample &b, int offline_policy);
void print_top(const TopView &v, std::ostream &out);

} // namespace offl
