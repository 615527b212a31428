// SPDX-License-Identifier: GPL-2.0
// The agent: scan -> classify -> plan -> apply, the reload and restore
// paths, and the Stage hook through which agent part 2 adds vCPU placement
// and host-task isolation.  No loop and no signal handling here (loop.hpp):
// everything is callable from tests with a fake /proc and a fake SystemOps.
#pragma once

#include <chrono>
#include <functional>

#include "apply.hpp"
#include "classify.hpp"
#include "config.hpp"
#include "journal.hpp"
#include "log.hpp"
#include "procfs.hpp"
#include "sysops.hpp"

#include <array>
#include <memory>
#include <ostream>
#include <set>
#include <string>
#include <tuple>
#include <vector>

namespace offl {

struct AgentOptions {
	std::string proc_root = "/proc";
	std::string config_path; // "" = built-in defaults (reload keeps them)
	bool config_required = true; // false: a missing file means defaults
	bool dry_run = false;     // print the plan, change nothing
	bool keep_on_exit = false;
	ConfigParseOptions parse;
};

struct ReconcileContext {
	const Snapshot &snap;
	const std::vector<Verdict> &verdicts;
	const Config &cfg;
	bool dry_run;
	bool full; // a full resync (false: a few processes after events)
	std::ostream &plan_out;
	size_t &stage_changes; // stages count what they changed (or would)
};

// A reconcile step after the scheduling policy (agent part 2: vCPU
// placement, host cgroup isolation).  Stages see the same snapshot and
// verdicts, must honour dry_run, and undo their changes in restore().
class Stage {
public:
	virtual ~Stage() = default;
	virtual const char *name() const = 0;
	virtual void reconcile(const ReconcileContext &ctx) = 0;
	virtual void restore(bool dry_run) { (void)dry_run; }
	virtual void config_changed(const Config &cfg) { (void)cfg; }
	// What the stage changed, as JSON text kept in the state file ("" =
	// nothing), so that an agent restarted after a crash still restores
	// it; load_state() gets it back when the stage is added.
	virtual std::string state() const { return {}; }
	virtual void load_state(const std::string &json) { (void)json; }
	// Set by the agent: writes state() to the journal's log.  A stage calls
	// it after noting a change in its state and before making it
	// (write-ahead), so a crash between the two still restores it.
	void set_checkpoint(std::function<void()> f) { checkpoint_ = std::move(f); }

protected:
	void checkpoint()
	{
		if (checkpoint_)
			checkpoint_();
	}

public:
	// A task exited (event path).  true: the stage needs a re-plan (the
	// agent then reconciles the task's process, or with nothing when the
	// process is gone, so the stage re-plans from what it knows).
	virtual bool task_exited(pid_t tid, pid_t tgid)
	{
		(void)tid;
		(void)tgid;
		return false;
	}

private:
	std::function<void()> checkpoint_;
};

struct ReconcileReport {
	size_t processes = 0, tasks = 0;
	std::array<size_t, kNumClasses> per_class{};
	size_t changes = 0;
	size_t stage_changes = 0; // affinities, cgroup moves, ... (stages)
	ApplyStats stats;
	uint64_t scan_ns = 0, classify_ns = 0, apply_ns = 0;
};

class Agent {
public:
	Agent(AgentOptions opt, Config cfg, SystemOps &ops, Logger &log, std::ostream &plan_out);
	~Agent();

	// Full resync of every task.
	ReconcileReport reconcile();
	// Just these processes/threads (event path); unknown pids are skipped.
	ReconcileReport reconcile_pids(const std::vector<pid_t> &pids);

	// Re-read the config file.  On error the old config stays and false
	// is returned; the error is logged with file:line.
	bool reload();

	// Undo what the agent changed (journal), then drop the state file.
	ApplyStats restore();
	// What exit does: restore unless keep_on_exit / dry-run; save state.
	void finish();

	const Config &config() const { return cfg_; }
	const Journal &journal() const { return journal_; }
	const AgentOptions &options() const { return opt_; }
	OfflineBackend &backend() { return backend_; }
	void add_stage(std::unique_ptr<Stage> s);
	// A task exited: true when a stage wants a reconcile of `tgid`.
	bool task_exited(pid_t tid, pid_t tgid);

private:
	ReconcileReport run(const Snapshot &snap, bool full);
	void save_state(bool force = false);
	void load_state();
	void record_inherited(const Snapshot &snap);

	AgentOptions opt_;
	Config cfg_;
	SystemOps &ops_;
	Logger &log_;
	std::ostream &plan_out_;
	ProcFs procfs_;
	OfflineBackend backend_;
	Applier applier_;
	Journal journal_;
	std::vector<std::unique_ptr<Stage>> stages_;
	std::chrono::steady_clock::time_point last_compact_{};
	bool exiting_ = false; // restore(): an empty journal removes the files
	// Dry-run changes already printed (tid, start time, policy).
	std::set<std::tuple<pid_t, uint64_t, int>> printed_;
};

} // namespace offl
