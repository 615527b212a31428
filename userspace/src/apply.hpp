// SPDX-License-Identifier: GPL-2.0
// From verdicts to scheduling-policy changes, and the guarded write.
//
// plan() is pure: (snapshot, verdicts, config, journal, offline policy) ->
// list of changes.  Applier executes a plan through SystemOps, one task at a
// time, with the PID-reuse guard:
//
//   1. open a pidfd for the task (PIDFD_THREAD for threads on 6.9+);
//   2. re-read its start time: a different one means the PID was reused,
//      nothing is written;
//   3. read its current attributes (nice is preserved) and write;
//   4. if the pidfd says the task exited meanwhile (or the pidfd cannot
//      vouch for a thread), read the start time again: if the PID now
//      belongs to another task the write may have hit it, so its previous
//      attributes are written back and the race is reported.
//
// ESRCH/EPERM and other errors are per task: counted, reported, never fatal.
#pragma once

#include "classify.hpp"
#include "config.hpp"
#include "journal.hpp"
#include "log.hpp"
#include "procfs.hpp"
#include "sysops.hpp"

#include <functional>
#include <optional>
#include <ostream>
#include <set>
#include <string>
#include <vector>

namespace offl {

enum class ChangeKind : uint8_t {
	MarkOffline, // -> SCHED_OFFLINE / SCHED_IDLE
	MarkOnline,  // offline -> SCHED_OTHER (class must be online)
	Restore,     // undo what the agent set (journal)
};
const char *change_kind_name(ChangeKind k);

struct Change {
	size_t task = 0; // index into Snapshot::tasks
	ChangeKind kind = ChangeKind::MarkOffline;
	int to_policy = 0;
	std::optional<int> nice; // forced nice; otherwise the task's own
};

// The policy that means "offline" on this kernel.
class OfflineBackend {
public:
	OfflineBackend(SystemOps &ops, Logger &log) : ops_(ops), log_(log) {}
	// SCHED_OFFLINE when /proc/sched_offline exists, else SCHED_IDLE
	// (logged once per process).
	int offline_policy();
	bool fallback() { return offline_policy() != kSchedOffline; }
	void reset() { policy_ = -1; }

private:
	SystemOps &ops_;
	Logger &log_;
	int policy_ = -1;
	bool said_ = false;
};

// Is this policy "offline" given the backend's offline policy?
inline bool is_offline_policy(int policy, int offline_policy)
{
	return policy == kSchedOffline || policy == offline_policy;
}

std::optional<Change> plan_task(const TaskInfo &t, size_t index, const Verdict &v, const Config &cfg,
				const Journal &journal, int offline_policy);
std::vector<Change> plan(const Snapshot &snap, const std::vector<Verdict> &verdicts, const Config &cfg,
			 const Journal &journal, int offline_policy);

enum class Outcome : uint8_t {
	Applied,
	Unchanged,    // nothing to do (already in the wanted state)
	Changed,      // someone else changed the task since: left alone
	Vanished,     // ESRCH / exited
	Reused,       // PID now belongs to another task: not touched
	RaceReverted, // PID reused during the write: reverted, reported
	Denied,       // EPERM
	Failed,       // any other errno
};
const char *outcome_name(Outcome o);

struct GuardResult {
	Outcome outcome = Outcome::Failed;
	int err = 0;
	SchedAttr before;
	SchedAttr after;
};

// cur -> wanted attributes, or nullopt to leave the task alone
// (`changed` set when that is because someone else changed it).
using TargetFn = std::function<std::optional<SchedAttr>(const SchedAttr &cur, bool &changed)>;

// The PID-reuse guard around one write.
GuardResult guarded_set(SystemOps &ops, pid_t tgid, pid_t tid, uint64_t start_time, const TargetFn &target);

struct ApplyStats {
	size_t planned = 0, applied = 0, unchanged = 0, changed = 0, vanished = 0, reused = 0, raced = 0,
	       denied = 0, failed = 0;
	void add(Outcome o);
	std::string summary(const char *done = "changed") const;
};

class Applier {
public:
	Applier(SystemOps &ops, Logger &log, OfflineBackend &backend) : ops_(ops), log_(log), backend_(backend) {}

	// Executes the plan and records offline marks in the journal.  (A dry
	// run never gets here: the agent prints the plan instead.)
	ApplyStats apply(const std::vector<Change> &changes, const Snapshot &snap, Journal &journal);

	// Undo every journal entry (exit).  Entries are removed as they are
	// handled.
	ApplyStats restore_all(Journal &journal);

	// One task, outside any plan (offlinectl set/unset).
	GuardResult set_offline(pid_t tgid, pid_t tid, uint64_t start_time, std::optional<int> nice);
	GuardResult set_online(pid_t tgid, pid_t tid, uint64_t start_time);

private:
	void report(const TaskInfo &t, const char *what, const GuardResult &r);

	SystemOps &ops_;
	Logger &log_;
	OfflineBackend &backend_;
	// Identities already warned about (EPERM repeats every resync).
	std::set<std::pair<pid_t, uint64_t>> warned_;
};

std::string format_change(const Change &c, const TaskInfo &t, const ProcessInfo &p, const Verdict &v,
			  const ClassifyPolicy &pol);

} // namespace offl
