// SPDX-License-Identifier: GPL-2.0
// `status` and `explain`: collect from the live system (or a fake /proc)
// into plain structs, then render as text or JSON (nlohmann-json).
#pragma once

#include "classify.hpp"
#include "config.hpp"
#include "procfs.hpp"
#include "vm.hpp"

#include <array>
#include <map>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

namespace offl {

struct KernelInfo {
	std::string release;
	bool sched_offline = false; // /proc/sched_offline exists
	int offline_policy = kSchedIdle;
	std::vector<std::pair<std::string, std::string>> sysctls; // sched_offline_*
};
KernelInfo collect_kernel_info(const ProcFs &procfs);

struct ClassCount {
	size_t tasks = 0;
	size_t offline = 0; // currently in the offline policy
	size_t would_change = 0;
};

// One vCPU thread as status sees it: its affinity right now, the NUMA node
// that affinity lies in, and its steal (run-queue wait growth / wall time,
// from schedstat, over the status sampling interval).
struct VcpuStatus {
	int index = -1;
	pid_t tid = 0;
	std::string cpus; // Cpus_allowed_list
	int node = -1;    // -1: spans nodes or unknown
	double steal_pct = -1; // -1: not sampled
};
struct VmStatus {
	int node = -1; // all vCPUs on this node, else -1
	std::vector<VcpuStatus> vcpus;
	std::string emulator_cpus; // affinity of the main thread
	std::string qmp_socket;    // from the command line ("" none)
	std::map<int, pid_t> qmp_vcpus; // query-cpus-fast: index -> tid
	std::string qmp_error;
	// The running agent's plan for this VM (state file), if it has one.
	bool planned = false;
	int plan_node = -1;
	std::vector<int> unplaced; // vCPUs the agent could not place
};

struct StatusOptions {
	std::string sys_root = "/sys";
	double steal_interval_s = 0; // 0: do not sample steal
	// Ask a VM's QMP socket for its vCPU threads: Never, only when its
	// threads carry no names (a libvirt monitor socket is libvirt's), or
	// Always.
	enum class Qmp { Never, Unnamed, Always } qmp = Qmp::Never;
};

struct StatusData {
	std::string version;
	KernelInfo kernel;
	std::string config_path; // "" built-in
	size_t rules = 0;
	size_t processes = 0, tasks = 0;
	double scan_ms = 0;
	std::array<ClassCount, kNumClasses> classes{};
	std::array<Action, kNumClasses> actions{};
	std::vector<VmInfo> vms;
	std::vector<VmStatus> vm_status; // parallel to vms
	std::string topology;            // "node0 0-3, node1 4-7"
	double steal_interval_s = 0;
	std::optional<SchedOfflineTable> cpus;
	size_t journal_entries = 0; // tasks the agent changed (state file)
	bool journal_known = false;
	std::string state_file;
	pid_t agent_pid = 0; // a running agent (pid file beside the state file)
	std::array<size_t, 16> exempt_by_reason{}; // index: Reason
};

// The pid file a running agent holds: beside the state file.
std::string agent_pidfile(const Config &cfg);
// The pid of a running agent (pid file + /proc check), or 0.
pid_t running_agent(const ProcFs &procfs, const Config &cfg);

StatusData collect_status(const ProcFs &procfs, const Config &cfg, const std::string &version,
			  const StatusOptions &opt = {});
void print_status(const StatusData &s, std::ostream &out);
std::string status_json(const StatusData &s);

struct ExplainTask {
	TaskInfo task;
	Verdict verdict;
	std::string why;
	Action action = Action::Keep;
	std::string plan; // "" nothing to do, else the change
};

struct ExplainData {
	pid_t asked = 0;
	ProcessInfo process;
	std::vector<ExplainTask> tasks; // the asked task first
	int offline_policy = kSchedIdle;
	std::string config_path;
};

// nullopt when the pid does not exist.
std::optional<ExplainData> collect_explain(const ProcFs &procfs, const Config &cfg, pid_t pid,
					   int offline_policy);
void print_explain(const ExplainData &e, std::ostream &out);
std::string explain_json(const ExplainData &e);

} // namespace offl
