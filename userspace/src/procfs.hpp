// SPDX-License-Identifier: GPL-2.0
// Discovery of processes and threads from /proc (or a fake tree rooted
// anywhere, for tests and benchmarks), and the pure parsers behind it.
//
// Parsers take the file contents and return std::nullopt on malformed input;
// they never throw.  The scanner drops any task that vanishes while it is
// being read: a missing file in the middle of a scan is normal, not an error.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <vector>

namespace offl {

inline constexpr unsigned kPfKthread = 0x00200000; // PF_KTHREAD

// Scheduling policies (uapi); SCHED_OFFLINE is this project's class.
inline constexpr int kSchedOther = 0;
inline constexpr int kSchedFifo = 1;
inline constexpr int kSchedRr = 2;
inline constexpr int kSchedBatch = 3;
inline constexpr int kSchedIdle = 5;
inline constexpr int kSchedDeadline = 6;
inline constexpr int kSchedExt = 7;
inline constexpr int kSchedOffline = 8;

const char *policy_name(int policy);
inline bool is_realtime_policy(int p) { return p == kSchedFifo || p == kSchedRr || p == kSchedDeadline; }

// Fields of /proc/<pid>/task/<tid>/stat this project uses.
struct StatInfo {
	pid_t pid = 0;
	std::string comm;
	char state = '?';
	pid_t ppid = 0;
	unsigned flags = 0;
	uint64_t utime = 0, stime = 0; // clock ticks
	int priority = 0;
	int nice = 0;
	int num_threads = 0;
	uint64_t start_time = 0; // clock ticks since boot
	int processor = -1;
	unsigned rt_priority = 0;
	int policy = -1; // -1: kernel too old to say
};
std::optional<StatInfo> parse_stat(std::string_view text);

struct StatusInfo {
	pid_t tgid = -1;
	pid_t ppid = -1;
	uid_t ruid = static_cast<uid_t>(-1), euid = static_cast<uid_t>(-1);
	std::string cpus_allowed_list;
	int kthread = -1; // "Kthread:" line (6.x); -1 when absent
};
std::optional<StatusInfo> parse_status(std::string_view text);

// The cgroup path used for rule matching: the cgroup v2 ("0::") path when
// present, else the name=systemd hierarchy, else the first line's path.
std::optional<std::string> parse_cgroup(std::string_view text);

// NUL-separated argv -> (argv[0], space-joined command line).
struct Cmdline {
	std::string argv0;
	std::string joined;
};
Cmdline parse_cmdline(std::string_view raw);

// "CPU 3/KVM", "CPU 0/TCG" -> 3 / 0.  Anything else -> nullopt.
std::optional<int> parse_vcpu_thread_name(std::string_view comm);

// /proc/sched_offline: header of column names, then one row per CPU.
struct SchedOfflineRow {
	int cpu = -1;
	double online_avg_pct = 0;
	int capacity = 0; // 0..1024
	uint64_t nr_offline = 0;
	uint64_t offline_runtime_ns = 0;
	uint64_t preempts = 0, pulls = 0, pushes = 0, guard_bursts = 0;
	std::vector<std::pair<std::string, std::string>> extra; // unknown columns
};
struct SchedOfflineTable {
	std::vector<std::string> columns;
	std::vector<SchedOfflineRow> rows;
};
std::optional<SchedOfflineTable> parse_sched_offline(std::string_view text);

// One process (thread group).  Everything here comes from the leader.
struct ProcessInfo {
	pid_t tgid = 0;
	std::string comm;
	std::string exe;     // readlink(exe) without " (deleted)"; "" if unknown
	std::string argv0;
	std::string cmdline; // argv joined by spaces
	std::string cgroup;
	uid_t uid = static_cast<uid_t>(-1); // effective uid
	uint64_t start_time = 0;
	bool kthread = false;
	bool exe_deleted = false;
	// The executable file itself (stat through /proc/<pid>/exe, so a
	// deleted or replaced binary is the inode that runs): owner, group,
	// mode.  exe_uid == -1 when it could not be read.
	uid_t exe_uid = static_cast<uid_t>(-1);
	gid_t exe_gid = static_cast<gid_t>(-1);
	unsigned exe_mode = 0;

	// A binary only root can have written: owned by root, writable by
	// neither others nor a group other than root.  What a user cannot
	// forge by copying a binary to their home or naming a process.
	bool exe_root_owned() const
	{
		return exe_uid == 0 && (exe_mode & 0002) == 0 && ((exe_mode & 0020) == 0 || exe_gid == 0);
	}
};

struct TaskInfo {
	pid_t tid = 0;
	pid_t tgid = 0;
	pid_t ppid = 0;
	std::string comm;
	char state = '?';
	unsigned flags = 0;
	int policy = -1;
	int nice = 0;
	unsigned rt_priority = 0;
	uint64_t start_time = 0;
	uint64_t utime = 0, stime = 0;
	int processor = -1;
	uid_t uid = static_cast<uid_t>(-1);
	std::string cpus_allowed; // list format, e.g. "0-3"; "" = not read
	uint32_t proc = 0;        // index into Snapshot::processes

	bool kthread() const { return (flags & kPfKthread) != 0; }
};

struct Snapshot {
	std::vector<ProcessInfo> processes;
	std::vector<TaskInfo> tasks; // grouped by process, leader first
	uint64_t scan_ns = 0;        // how long the scan took

	const ProcessInfo &process_of(const TaskInfo &t) const { return processes[t.proc]; }
	const TaskInfo *find_task(pid_t tid) const;
};

struct ScanOptions {
	bool threads = true;         // read every thread, not only leaders
	bool process_details = true; // exe, cmdline, cgroup
	// /proc/<pid>/task/<tid>/status of non-leader threads (their own
	// affinity and uid).  Off by default: classification needs neither
	// (rules match the process's uid) and it is a third of a scan's
	// syscalls; threads then inherit the leader's uid and have an empty
	// cpus_allowed.  explain turns it on.
	bool thread_status = false;
};

// Reads a /proc tree.  root is "/proc" on a live system.
class ProcFs {
public:
	explicit ProcFs(std::string root = "/proc");
	~ProcFs();
	ProcFs(const ProcFs &) = delete;
	ProcFs &operator=(const ProcFs &) = delete;

	const std::string &root() const { return root_; }

	// Every process and thread.  Tasks that vanish mid-read are left out.
	Snapshot scan(const ScanOptions &opt = {}) const;

	// One process with its threads (empty snapshot if it does not exist).
	// Accepts a thread id too: the whole thread group is returned.
	Snapshot scan_process(pid_t pid, const ScanOptions &opt = {}) const;

	// Fresh start time of a task, for the PID-reuse guard.
	std::optional<uint64_t> start_time(pid_t tgid, pid_t tid) const;
	std::optional<StatInfo> read_stat(pid_t tgid, pid_t tid) const;

	// Thread group id of any task id (reads /proc/<tid>/status).
	std::optional<pid_t> tgid_of(pid_t tid) const;

	// Whole small file relative to root ("sched_offline", "stat", ...).
	std::optional<std::string> read_file(const std::string &rel) const;

	// ns of CPU time from /proc/<tgid>/task/<tid>/schedstat (first field).
	std::optional<uint64_t> task_cpu_ns(pid_t tgid, pid_t tid) const;

private:
	bool read_process(int pdir, pid_t tgid, const ScanOptions &opt, Snapshot &snap) const;

	std::string root_;
	std::string fake_fs_prefix_; // ROOT/.fs for a tree other than /proc
	int rootfd_ = -1;
};

} // namespace offl
