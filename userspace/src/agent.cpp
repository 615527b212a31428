// SPDX-License-Identifier: GPL-2.0
#include "agent.hpp"

#include "util.hpp"

#include <chrono>
#include <unordered_map>
#include <cstdio>
#include <unistd.h>

namespace offl {

namespace {

uint64_t now_ns()
{
	return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
					     std::chrono::steady_clock::now().time_since_epoch())
					     .count());
}

} // namespace

Agent::Agent(AgentOptions opt, Config cfg, SystemOps &ops, Logger &log, std::ostream &plan_out)
	: opt_(std::move(opt)), cfg_(std::move(cfg)), ops_(ops), log_(log), plan_out_(plan_out),
	  procfs_(opt_.proc_root), backend_(ops, log), applier_(ops, log, backend_)
{
	cfg_.classify.self_tgid = ops_.self_tgid();
	load_state();
}

Agent::~Agent() = default;

void Agent::add_stage(std::unique_ptr<Stage> s)
{
	if (auto sec = journal_.section(s->name()))
		s->load_state(*sec);
	// A stage writes its record ahead of each change it makes.
	Stage *st = s.get();
	if (!opt_.dry_run)
		s->set_checkpoint([this, st] { journal_.set_section(st->name(), st->state()); });
	stages_.push_back(std::move(s));
}

bool Agent::task_exited(pid_t tid, pid_t tgid)
{
	bool want = false;
	for (auto &s : stages_)
		want |= s->task_exited(tid, tgid);
	return want;
}

void Agent::load_state()
{
	if (cfg_.state_file.empty())
		return;
	std::string err;
	if (!journal_.load(cfg_.state_file, err)) {
		log_.warn("ignoring state file: ", err);
		journal_.clear();
	} else if (journal_.stale()) {
		log_.info("state file ", cfg_.state_file, " is from an earlier boot: nothing in it is restored");
	} else if (!journal_.empty()) {
		log_.info("state file ", cfg_.state_file, ": ", journal_.size(),
			  " task(s) changed by an earlier run");
	}
	if (opt_.dry_run)
		return;
	// From here on every change is written ahead.
	if (!journal_.attach(cfg_.state_file, err))
		log_.warn("cannot write the state file (changes will not survive a crash): ", err);
	last_compact_ = std::chrono::steady_clock::now();
}

void Agent::save_state(bool force)
{
	if (opt_.dry_run || cfg_.state_file.empty() || !journal_.attached())
		return;
	std::string err;
	if (journal_.empty() && exiting_) {
		journal_.remove_files(); // nothing left to restore
		journal_.detach();
		return;
	}
	// The log already holds every change: compact at most once a second.
	const auto now = std::chrono::steady_clock::now();
	if (!force && (journal_.log_empty() || now - last_compact_ < std::chrono::seconds(1)))
		return;
	last_compact_ = now;
	if (!journal_.compact(err))
		log_.warn("cannot write state file: ", err);
}

void Agent::record_inherited(const Snapshot &snap)
{
	// Children and new threads of tasks the agent made offline are born
	// offline (the kernel copies the policy on fork): nobody would put
	// them back.  Record them, with the parent's original attributes.
	const int offpol = backend_.offline_policy();
	if (journal_.empty())
		return;
	std::unordered_map<pid_t, uint64_t> start; // tid -> start time, this snapshot
	start.reserve(snap.tasks.size());
	for (const TaskInfo &t : snap.tasks)
		start.emplace(t.tid, t.start_time);
	for (const TaskInfo &t : snap.tasks) {
		if (t.policy != offpol || journal_.find(t.tid, t.start_time))
			continue;
		const JournalEntry *from = nullptr;
		if (t.tid != t.tgid)
			if (auto it = start.find(t.tgid); it != start.end())
				from = journal_.find(t.tgid, it->second);
		if (!from && t.ppid > 1) {
			// The parent may be outside this (partial) snapshot.
			if (auto it = start.find(t.ppid); it != start.end())
				from = journal_.find(t.ppid, it->second);
			else if (auto st = procfs_.start_time(t.ppid, t.ppid); st && *st <= t.start_time)
				from = journal_.find(t.ppid, *st);
		}
		if (!from)
			continue;
		JournalEntry e{t.tid, t.tgid, t.start_time, t.comm, from->original, from->applied};
		e.applied.policy = offpol;
		e.applied.nice = t.nice;
		if (e.original.nice == from->applied.nice)
			e.original.nice = t.nice;
		journal_.record(e);
		log_.debug("recorded ", t.tid, " ", quoted(t.comm), ": born offline of ", from->tid);
	}
}

ReconcileReport Agent::run(const Snapshot &snap, bool full)
{
	ReconcileReport rep;
	rep.processes = snap.processes.size();
	rep.tasks = snap.tasks.size();
	rep.scan_ns = snap.scan_ns;

	uint64_t t0 = now_ns();
	std::vector<Verdict> verdicts = classify_all(snap, cfg_.classify);
	for (const Verdict &v : verdicts)
		rep.per_class[static_cast<size_t>(v.cls)]++;
	uint64_t t1 = now_ns();
	rep.classify_ns = t1 - t0;

	if (full)
		journal_.prune(snap);
	if (!opt_.dry_run)
		record_inherited(snap);
	const int offpol = backend_.offline_policy();
	std::vector<Change> changes = plan(snap, verdicts, cfg_, journal_, offpol);
	rep.changes = changes.size();

	if (opt_.dry_run) {
		for (const Change &c : changes) {
			const TaskInfo &t = snap.tasks[c.task];
			if (!printed_.emplace(t.tid, t.start_time, c.to_policy).second)
				continue;
			plan_out_ << "would set "
				  << format_change(c, t, snap.process_of(t), verdicts[c.task], cfg_.classify)
				  << '\n';
		}
		plan_out_.flush();
		rep.stats.planned = changes.size();
	} else {
		rep.stats = applier_.apply(changes, snap, journal_);
	}

	ReconcileContext ctx{snap, verdicts, cfg_, opt_.dry_run, full, plan_out_, rep.stage_changes};
	for (auto &s : stages_) {
		s->reconcile(ctx);
		if (!opt_.dry_run)
			journal_.set_section(s->name(), s->state());
	}
	save_state();
	rep.apply_ns = now_ns() - t1;
	return rep;
}

ReconcileReport Agent::reconcile()
{
	Snapshot snap = procfs_.scan();
	ReconcileReport rep = run(snap, true);
	auto ms = [](uint64_t ns) { return static_cast<double>(ns) / 1e6; };
	char timing[96];
	snprintf(timing, sizeof(timing), "scan %.1f ms, classify %.1f ms, apply %.1f ms", ms(rep.scan_ns),
		 ms(rep.classify_ns), ms(rep.apply_ns));
	if (rep.changes || rep.stats.denied || rep.stats.failed)
		log_.info("resync: ", rep.tasks, " tasks in ", rep.processes, " processes; ",
			  opt_.dry_run ? std::to_string(rep.changes) + " changes planned (dry run)"
				       : rep.stats.summary(),
			  " (", timing, ")");
	else
		log_.debug("resync: ", rep.tasks, " tasks, nothing to change (", timing, ")");
	return rep;
}

ReconcileReport Agent::reconcile_pids(const std::vector<pid_t> &pids)
{
	Snapshot merged;
	std::set<pid_t> seen;
	for (pid_t pid : pids) {
		auto tgid = procfs_.tgid_of(pid);
		if (!tgid || !seen.insert(*tgid).second)
			continue;
		Snapshot one = procfs_.scan_process(*tgid);
		const uint32_t base = static_cast<uint32_t>(merged.processes.size());
		for (auto &p : one.processes)
			merged.processes.push_back(std::move(p));
		for (auto &t : one.tasks) {
			t.proc += base;
			merged.tasks.push_back(std::move(t));
		}
	}
	return run(merged, false);
}

bool Agent::reload()
{
	if (opt_.config_path.empty()) {
		log_.info("reload: no config file, built-in defaults stay");
		return true;
	}
	Config fresh;
	try {
		if (!opt_.config_required && access(opt_.config_path.c_str(), F_OK) != 0 && errno == ENOENT)
			fresh = default_config();
		else
			fresh = load_config(opt_.config_path, opt_.parse);
	} catch (const ConfigError &e) {
		log_.error(e.what());
		log_.error("reload failed: keeping the previous configuration");
		return false;
	}
	fresh.classify.self_tgid = ops_.self_tgid();
	if (fresh.state_file != cfg_.state_file && !opt_.dry_run) {
		// Move what we know to the new place.
		journal_.remove_files();
		journal_.detach();
		cfg_.state_file = fresh.state_file;
		std::string err;
		if (!cfg_.state_file.empty() && !journal_.attach(cfg_.state_file, err))
			log_.warn("cannot write state file: ", err);
	}
	cfg_ = std::move(fresh);
	printed_.clear();
	for (auto &s : stages_)
		s->config_changed(cfg_);
	log_.info("reloaded ", opt_.config_path, " (", cfg_.classify.rules.size(), " rules)");
	return true;
}

ApplyStats Agent::restore()
{
	exiting_ = true;
	ApplyStats st;
	for (auto it = stages_.rbegin(); it != stages_.rend(); ++it) {
		(*it)->restore(opt_.dry_run);
		if (!opt_.dry_run)
			journal_.set_section((*it)->name(), (*it)->state());
	}
	if (opt_.dry_run)
		return st;
	st = applier_.restore_all(journal_);
	save_state(true);
	return st;
}

void Agent::finish()
{
	if (opt_.dry_run) {
		log_.info("exiting (dry run: nothing was changed)");
		return;
	}
	if (opt_.keep_on_exit || !cfg_.restore_on_exit) {
		save_state(true);
		log_.info("exiting; ", journal_.size(), " task(s) left as set (",
			  opt_.keep_on_exit ? "--keep-on-exit" : "restore_on_exit = false", ")");
		return;
	}
	size_t n = journal_.size();
	ApplyStats st = restore();
	log_.info("exiting; restored the policy of ", st.applied, " of ", n, " task(s) the agent changed (",
		  st.summary("restored"), ")");
}

} // namespace offl
