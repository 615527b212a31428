// SPDX-License-Identifier: GPL-2.0
#include "apply.hpp"

#include "util.hpp"

#include <cerrno>
#include <sstream>

namespace offl {

const char *change_kind_name(ChangeKind k)
{
	switch (k) {
	case ChangeKind::MarkOffline: return "mark offline";
	case ChangeKind::MarkOnline: return "mark online";
	case ChangeKind::Restore: return "restore";
	}
	return "?";
}

const char *outcome_name(Outcome o)
{
	switch (o) {
	case Outcome::Applied: return "applied";
	case Outcome::Unchanged: return "unchanged";
	case Outcome::Changed: return "changed-by-others";
	case Outcome::Vanished: return "vanished";
	case Outcome::Reused: return "pid-reused";
	case Outcome::RaceReverted: return "reuse-race";
	case Outcome::Denied: return "denied";
	case Outcome::Failed: return "failed";
	}
	return "?";
}

int OfflineBackend::offline_policy()
{
	if (policy_ < 0) {
		policy_ = ops_.has_sched_offline() ? kSchedOffline : kSchedIdle;
		if (policy_ == kSchedIdle && !said_) {
			log_.warn("this kernel has no SCHED_OFFLINE (no /proc/sched_offline): "
				  "offline tasks get SCHED_IDLE instead");
			said_ = true;
		}
	}
	return policy_;
}

std::optional<Change> plan_task(const TaskInfo &t, size_t index, const Verdict &v, const Config &cfg,
				const Journal &journal, int offline_policy)
{
	if (t.policy < 0)
		return std::nullopt; // kernel does not report the policy: hands off
	const Action action = v.cls == Class::Exempt ? Action::Keep : cfg.settings(v.cls).action;
	const JournalEntry *je = journal.find(t.tid, t.start_time);

	switch (action) {
	case Action::Offline: {
		std::optional<int> nice = cfg.settings(v.cls).nice;
		if (t.policy == offline_policy && (!nice || t.nice == *nice))
			return std::nullopt;
		return Change{index, ChangeKind::MarkOffline, offline_policy, nice};
	}
	case Action::Online:
		if (!is_offline_policy(t.policy, offline_policy))
			return std::nullopt;
		if (je)
			return Change{index, ChangeKind::Restore, je->original.policy, std::nullopt};
		return Change{index, ChangeKind::MarkOnline, kSchedOther, std::nullopt};
	case Action::Keep:
		if (je && t.policy == je->applied.policy)
			return Change{index, ChangeKind::Restore, je->original.policy, std::nullopt};
		return std::nullopt;
	}
	return std::nullopt;
}

std::vector<Change> plan(const Snapshot &snap, const std::vector<Verdict> &verdicts, const Config &cfg,
			 const Journal &journal, int offline_policy)
{
	std::vector<Change> out;
	for (size_t i = 0; i < snap.tasks.size() && i < verdicts.size(); i++)
		if (auto c = plan_task(snap.tasks[i], i, verdicts[i], cfg, journal, offline_policy))
			out.push_back(*c);
	return out;
}

GuardResult guarded_set(SystemOps &ops, pid_t tgid, pid_t tid, uint64_t start_time, const TargetFn &target)
{
	GuardResult r;
	int err = 0;
	std::unique_ptr<PidHandle> h = ops.open_pid(tgid, tid, err);
	if (!h && err == ESRCH) {
		r.outcome = Outcome::Vanished;
		r.err = ESRCH;
		return r;
	}
	// With the pidfd held, confirm it is still the task we classified.
	auto st = ops.start_time(tgid, tid);
	if (!st) {
		r.outcome = Outcome::Vanished;
		return r;
	}
	if (*st != start_time) {
		r.outcome = Outcome::Reused;
		return r;
	}
	SchedAttr cur;
	err = ops.get_sched(tid, cur);
	if (err != 0) {
		r.outcome = err == ESRCH ? Outcome::Vanished : Outcome::Failed;
		r.err = err;
		return r;
	}
	r.before = cur;
	bool changed = false;
	std::optional<SchedAttr> want = target(cur, changed);
	if (!want) {
		r.outcome = changed ? Outcome::Changed : Outcome::Unchanged;
		return r;
	}
	r.after = *want;
	err = ops.set_sched(tid, *want);
	if (err != 0) {
		r.err = err;
		r.outcome = err == ESRCH ? Outcome::Vanished : err == EPERM ? Outcome::Denied : Outcome::Failed;
		return r;
	}
	// A live pidfd proves the PID was never free during the write.
	if (h && h->precise() && !h->exited()) {
		r.outcome = Outcome::Applied;
		return r;
	}
	// Exited meanwhile, or no precise handle: who holds the PID now?
	auto now = ops.start_time(tid, tid);
	if (!now) {
		r.outcome = Outcome::Vanished;
		return r;
	}
	if (*now != start_time) {
		// The PID was reused between the check and the write, and the
		// write landed on the newcomer.  What it had before is unknown
		// (what was read belongs to the task that exited): nothing is
		// written back on a guess.  Reported; the newcomer's own fork
		// or exec event (or the next resync) classifies it.
		r.outcome = Outcome::RaceReverted;
		return r;
	}
	r.outcome = Outcome::Applied;
	return r;
}

void ApplyStats::add(Outcome o)
{
	switch (o) {
	case Outcome::Applied: applied++; break;
	case Outcome::Unchanged: unchanged++; break;
	case Outcome::Changed: changed++; break;
	case Outcome::Vanished: vanished++; break;
	case Outcome::Reused: reused++; break;
	case Outcome::RaceReverted: raced++; break;
	case Outcome::Denied: denied++; break;
	case Outcome::Failed: failed++; break;
	}
}

std::string ApplyStats::summary(const char *done) const
{
	std::ostringstream s;
	s << applied << " " << done;
	if (planned)
		s << ", " << planned << " planned";
	if (unchanged)
		s << ", " << unchanged << " already right";
	if (changed)
		s << ", " << changed << " changed by others";
	if (vanished)
		s << ", " << vanished << " gone";
	if (reused)
		s << ", " << reused << " pid reused";
	if (raced)
		s << ", " << raced << " pid reuse race(s)";
	if (denied)
		s << ", " << denied << " denied";
	if (failed)
		s << ", " << failed << " failed";
	return s.str();
}

namespace {

std::string attr_str(const SchedAttr &a)
{
	std::string s = policy_name(a.policy);
	if (is_realtime_policy(a.policy))
		s += " prio " + std::to_string(a.priority);
	else
		s += " nice " + std::to_string(a.nice);
	return s;
}

std::string task_str(pid_t tid, pid_t tgid, std::string_view comm)
{
	std::string s = std::to_string(tid);
	if (tid != tgid)
		s += " (thread of " + std::to_string(tgid) + ")";
	return s + " " + offl::quoted(comm);
}

} // namespace

void Applier::report(const TaskInfo &t, const char *what, const GuardResult &r)
{
	switch (r.outcome) {
	case Outcome::Applied:
		log_.debug(what, " ", task_str(t.tid, t.tgid, t.comm), ": ", attr_str(r.before), " -> ",
			   attr_str(r.after));
		break;
	case Outcome::RaceReverted:
		log_.warn("pid ", t.tid, " was reused while being changed: the new task got ", attr_str(r.after),
			  " (not reverted: its own attributes are unknown; it is classified as a new task)");
		break;
	case Outcome::Denied:
	case Outcome::Failed:
		if (warned_.insert({t.tid, t.start_time}).second)
			log_.warn("cannot set ", task_str(t.tid, t.tgid, t.comm), " ", what, ": ",
				  errno_str(r.err));
		break;
	default:
		log_.debug(what, " ", task_str(t.tid, t.tgid, t.comm), ": ", outcome_name(r.outcome));
		break;
	}
}

ApplyStats Applier::apply(const std::vector<Change> &changes, const Snapshot &snap, Journal &journal)
{
	ApplyStats stats;
	for (const Change &c : changes) {
		const TaskInfo &t = snap.tasks[c.task];
		const int snap_policy = t.policy;
		GuardResult r;
		switch (c.kind) {
		case ChangeKind::MarkOffline:
		case ChangeKind::MarkOnline: {
			const int to = c.to_policy;
			const std::optional<int> nice = c.nice;
			const bool offline = c.kind == ChangeKind::MarkOffline;
			const bool had = journal.find(t.tid, t.start_time) != nullptr;
			r = guarded_set(ops_, t.tgid, t.tid, t.start_time,
					[&](const SchedAttr &cur, bool &changed) -> std::optional<SchedAttr> {
						if (cur.policy != snap_policy) {
							changed = true;
							return std::nullopt;
						}
						if (cur.policy == to && (!nice || cur.nice == *nice))
							return std::nullopt;
						SchedAttr a;
						a.policy = to;
						a.nice = nice.value_or(cur.nice);
						a.flags = cur.flags & kSchedFlagResetOnFork;
						// Write-ahead: on disk before the change.
						if (offline)
							journal.record(JournalEntry{t.tid, t.tgid, t.start_time, t.comm, cur, a});
						return a;
					});
			if (offline && r.outcome == Outcome::Applied) {
				const JournalEntry *je = journal.find(t.tid, t.start_time);
				if (!je || !(je->applied == r.after))
					journal.record(JournalEntry{t.tid, t.tgid, t.start_time, t.comm, r.before, r.after});
			}
			else if (offline && !had && journal.find(t.tid, t.start_time))
				journal.erase(t.tid); // not changed after all
			if (r.outcome == Outcome::Failed && r.err == EINVAL && to == kSchedOffline)
				log_.warn("the kernel refused SCHED_OFFLINE for ", t.tid,
					  " (EINVAL) although /proc/sched_offline exists");
			report(t, c.kind == ChangeKind::MarkOffline ? "offline" : "online", r);
			break;
		}
		case ChangeKind::Restore: {
			const JournalEntry *je = journal.find(t.tid, t.start_time);
			if (!je)
				continue;
			const JournalEntry e = *je;
			r = guarded_set(ops_, t.tgid, t.tid, t.start_time,
					[&](const SchedAttr &cur, bool &changed) -> std::optional<SchedAttr> {
						if (cur.policy != e.applied.policy) {
							changed = true;
							return std::nullopt;
						}
						SchedAttr a = e.original;
						if (cur.nice != e.applied.nice)
							a.nice = cur.nice; // reniced since: keep it
						return a;
					});
			journal.erase(t.tid);
			report(t, "restore", r);
			break;
		}
		}
		stats.add(r.outcome);
	}
	return stats;
}

ApplyStats Applier::restore_all(Journal &journal)
{
	ApplyStats stats;
	for (const JournalEntry &e : journal.entries()) {
		GuardResult r = guarded_set(ops_, e.tgid, e.tid, e.start_time,
					    [&](const SchedAttr &cur, bool &changed) -> std::optional<SchedAttr> {
						    if (cur.policy != e.applied.policy) {
							    changed = true;
							    return std::nullopt;
						    }
						    SchedAttr a = e.original;
						    if (cur.nice != e.applied.nice)
							    a.nice = cur.nice;
						    return a;
					    });
		TaskInfo t;
		t.tid = e.tid;
		t.tgid = e.tgid;
		t.comm = e.comm;
		t.start_time = e.start_time;
		report(t, "restore", r);
		stats.add(r.outcome);
		journal.erase(e.tid);
	}
	return stats;
}

GuardResult Applier::set_offline(pid_t tgid, pid_t tid, uint64_t start_time, std::optional<int> nice)
{
	const int to = backend_.offline_policy();
	return guarded_set(ops_, tgid, tid, start_time,
			   [&](const SchedAttr &cur, bool &) -> std::optional<SchedAttr> {
				   if (cur.policy == to && (!nice || cur.nice == *nice))
					   return std::nullopt;
				   SchedAttr a;
				   a.policy = to;
				   a.nice = nice.value_or(cur.nice);
				   a.flags = cur.flags & kSchedFlagResetOnFork;
				   return a;
			   });
}

GuardResult Applier::set_online(pid_t tgid, pid_t tid, uint64_t start_time)
{
	const int off = backend_.offline_policy();
	return guarded_set(ops_, tgid, tid, start_time,
			   [&](const SchedAttr &cur, bool &) -> std::optional<SchedAttr> {
				   if (!is_offline_policy(cur.policy, off))
					   return std::nullopt;
				   SchedAttr a;
				   a.policy = kSchedOther;
				   a.nice = cur.nice;
				   a.flags = cur.flags & kSchedFlagResetOnFork;
				   return a;
			   });
}

std::string format_change(const Change &c, const TaskInfo &t, const ProcessInfo &p, const Verdict &v,
			  const ClassifyPolicy &pol)
{
	std::ostringstream s;
	s << task_str(t.tid, t.tgid, t.comm) << " [" << class_name(v.cls) << "] " << policy_name(t.policy)
	  << " nice " << t.nice << " -> " << policy_name(c.to_policy);
	if (c.to_policy != kSchedFifo && c.to_policy != kSchedRr && c.to_policy != kSchedDeadline)
		s << " nice " << c.nice.value_or(t.nice);
	s << " (" << change_kind_name(c.kind) << "; " << describe(v, t, p, pol) << ")";
	return s.str();
}

} // namespace offl
