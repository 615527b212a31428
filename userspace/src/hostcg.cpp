// SPDX-License-Identifier: GPL-2.0
#include "hostcg.hpp"

#include "pinning.hpp"
#include "util.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <sys/stat.h>
#include <unistd.h>
#include <map>
#include <set>

namespace offl {

using json = nlohmann::json;

HostCgroupStage::HostCgroupStage(SystemOps &ops, Logger &log, const Config &cfg, Topology topo, std::string proc_root)
	: ops_(ops), log_(log), cfg_(cfg.host_cgroup), topo_(std::move(topo)),
	  reserved_(placement_policy(cfg.placement, topo_).reserved), proc_root_(std::move(proc_root)), cg_(cfg_.root)
{
}

void HostCgroupStage::config_changed(const Config &cfg)
{
	const bool was = cfg_.enabled;
	const std::string old_name = cfg_.name, old_root = cfg_.root;
	if (was && (!cfg.host_cgroup.enabled || cfg.host_cgroup.name != old_name || cfg.host_cgroup.root != old_root ||
		    cfg.host_cgroup.slices != cfg_.slices)) {
		log_.info("host cgroup: ", cfg.host_cgroup.enabled ? "moved" : "disabled",
			  ": moving host tasks back");
		restore(false);
	}
	cfg_ = cfg.host_cgroup;
	reserved_ = placement_policy(cfg.placement, topo_).reserved;
	cg_ = CgroupFs(cfg_.root);
	ready_ = false; // limits may have changed: set them again
	said_.clear();
}

std::vector<int> HostCgroupStage::cpus() const
{
	return cfg_.cpus.empty() ? reserved_ : cfg_.cpus;
}

std::vector<std::string> HostCgroupStage::hierarchies() const
{
	if (version_ == CgroupVersion::V2)
		return {""};
	std::vector<std::string> h = {"cpuset"};
	if (CgroupFs::exists(cg_.root() + "/memory"))
		h.push_back("memory");
	return h;
}

bool HostCgroupStage::setup(const ReconcileContext &ctx)
{
	if (ready_)
		return true;
	version_ = cg_.version();
	if (version_ == CgroupVersion::None) {
		if (said_.insert("nocg").second)
			log_.warn("host cgroup: no cgroup v2 (", cg_.root(), "/cgroup.controllers) nor v1 cpuset (",
				  cg_.root(), "/cpuset) found: host tasks are not isolated");
		return false;
	}
	const std::vector<int> c = cpus();
	const std::string mem = cfg_.memory_max ? std::to_string(*cfg_.memory_max) : std::string("max");
	if (ctx.dry_run) {
		if (said_.insert("dry").second)
			ctx.plan_out << "would create cgroup " << cfg_.name << " (" << cgroup_version_name(version_)
				     << ") cpuset.cpus " << (c.empty() ? std::string("(all)") : format_cpu_list(c))
				     << ", memory " << mem << '\n';
		ready_ = true;
		return true;
	}
	auto fail = [&](const std::string &what, int err) {
		if (said_.insert("setup " + what).second)
			log_.warn("host cgroup: ", what, ": ", errno_str(err), "; host tasks are not isolated");
		return false;
	};
	// Every level of the path, with the controllers enabled on the way.
	for (const std::string &h : hierarchies()) {
		std::string dir = h.empty() ? cg_.root() : cg_.root() + "/" + h;
		std::string_view rest = cfg_.name;
		while (!rest.empty()) {
			size_t slash = rest.find('/');
			std::string part(rest.substr(0, slash));
			rest = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash + 1);
			if (part.empty())
				continue;
			if (h.empty()) {
				auto have = CgroupFs::read(dir, "cgroup.controllers").value_or("");
				auto on = CgroupFs::read(dir, "cgroup.subtree_control").value_or("");
				auto words = split_ws(trim(have));
				auto enabled = split_ws(trim(on));
				std::string enable;
				for (std::string_view ctl : {"cpuset", "memory"})
					if (std::find(words.begin(), words.end(), ctl) != words.end() &&
					    std::find(enabled.begin(), enabled.end(), ctl) == enabled.end())
						enable += (enable.empty() ? "+" : " +") + std::string(ctl);
				if (!enable.empty())
					if (int e = CgroupFs::write(dir, "cgroup.subtree_control", enable))
						log_.warn("host cgroup: cannot enable ", enable, " in ", dir, ": ",
							  errno_str(e));
			}
			std::string parent = dir;
			dir += "/" + part;
			if (!CgroupFs::exists(dir)) {
				if (int e = CgroupFs::make(dir))
					return fail("mkdir " + dir, e);
				created_.push_back(dir);
				checkpoint();
			}
			if (h == "cpuset") {
				// v1 cpusets start empty: inherit before narrowing.
				for (const char *f : {"cpuset.cpus", "cpuset.mems"}) {
					auto cur = CgroupFs::read(dir, f).value_or("");
					if (trim(cur).empty())
						if (auto pv = CgroupFs::read(parent, f))
							CgroupFs::write(dir, f, std::string(trim(*pv)));
				}
			}
		}
		if (h.empty() || h == "cpuset") {
			if (!c.empty()) {
				if (int e = CgroupFs::write(dir, "cpuset.cpus", format_cpu_list(c)))
					return fail("cpuset.cpus of " + dir, e);
				if (h.empty() && cfg_.partition != "member") {
					// A partition root needs exclusive CPUs; the
					// kernel says "root invalid (...)" otherwise.
					if (int e = CgroupFs::write(dir, "cpuset.cpus.partition", cfg_.partition))
						return fail("cpuset.cpus.partition of " + dir, e);
					auto st = CgroupFs::read(dir, "cpuset.cpus.partition").value_or("");
					if (trim(st) != cfg_.partition)
						log_.warn("host cgroup: ", dir, "/cpuset.cpus.partition is \"",
							  std::string(trim(st)), "\"");
				}
			} else if (said_.insert("nocpus").second) {
				log_.warn("host cgroup: no reserved CPUs ([placement] reserved_cpus or [host_cgroup] "
					  "cpus): host tasks are not confined to any CPUs");
			}
		}
		if (h.empty() || h == "memory") {
			const char *file = h.empty() ? "memory.max" : "memory.limit_in_bytes";
			std::string v = h.empty() ? mem : (cfg_.memory_max ? mem : std::string("-1"));
			if (int e = CgroupFs::write(dir, file, v))
				return fail(std::string(file) + " of " + dir, e);
		}
	}
	log_.info("host cgroup ", cgroup_version_name(version_), " ", cfg_.name, ": cpuset.cpus ",
		  c.empty() ? std::string("(all)") : format_cpu_list(c),
		  version_ == CgroupVersion::V2 ? " (partition " + cfg_.partition + ")" : std::string(), ", memory ", mem);
	ready_ = true;
	return true;
}

bool HostCgroupStage::movable(const Snapshot &snap, const std::vector<Verdict> &v, size_t first, size_t end) const
{
	const Verdict &lead = v[first];
	if (lead.builtin() && lead.reason != Reason::VmVcpu && lead.reason != Reason::VmService)
		return false; // PID 1, kernel thread, self, exiting, RT, OVS
	if (std::find(cfg_.classes.begin(), cfg_.classes.end(), lead.cls) == cfg_.classes.end())
		return false;
	for (size_t i = first; i < end; i++) {
		const Verdict &t = v[i];
		if (t.cls == Class::Vcpu || t.cls == Class::VmService || t.cls == Class::Exempt)
			return false;
		if (snap.tasks[i].kthread())
			return false;
	}
	return true;
}

// Slices mode: the listed cgroups get the limits in place; checked every
// pass, since systemd may rewrite them (daemon-reload).
void HostCgroupStage::limit_slices(const ReconcileContext &ctx)
{
	version_ = cg_.version();
	if (version_ != CgroupVersion::V2) {
		if (said_.insert("slices-v1").second)
			log_.warn("host cgroup: slices need cgroup v2 (", cg_.root(), "/cgroup.controllers): not isolating");
		return;
	}
	const std::vector<int> c = cpus();
	std::vector<std::pair<std::string, std::string>> want;
	if (!c.empty())
		want.emplace_back("cpuset.cpus", format_cpu_list(c));
	if (cfg_.memory_max)
		want.emplace_back("memory.max", std::to_string(*cfg_.memory_max));
	for (const std::string &sl : cfg_.slices) {
		const std::string dir = cg_.dir(sl);
		if (!CgroupFs::exists(dir)) {
			if (said_.insert("noslice " + sl).second)
				log_.warn("host cgroup: ", dir, " does not exist");
			continue;
		}
		// The controllers on the way down (root first).
		std::string parent = cg_.root();
		std::string_view rest = sl;
		while (!rest.empty()) {
			size_t slash = rest.find('/', 1);
			std::string part(rest.substr(0, slash));
			rest = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash);
			auto on = CgroupFs::read(parent, "cgroup.subtree_control").value_or("");
			auto words = split_ws(trim(on));
			std::string enable;
			for (std::string_view ctl : {"cpuset", "memory"})
				if (std::find(words.begin(), words.end(), ctl) == words.end())
					enable += (enable.empty() ? "+" : " +") + std::string(ctl);
			if (!enable.empty() && !ctx.dry_run)
				CgroupFs::write(parent, "cgroup.subtree_control", enable);
			parent += part;
		}
		for (const auto &[file, value] : want) {
			std::string cur(trim(CgroupFs::read(dir, file).value_or("")));
			if (cur == value)
				continue;
			if (ctx.dry_run) {
				if (said_.insert("dry " + dir + file).second)
					ctx.plan_out << "would set " << dir << "/" << file << " " << cur << " -> " << value << '\n';
				ctx.stage_changes++;
				continue;
			}
			auto &orig = slice_orig_[dir];
			if (!orig.count(file))
				orig[file] = cur;
			if (int e = CgroupFs::write(dir, file, value)) {
				if (said_.insert("slice " + dir + file).second)
					log_.warn("host cgroup: cannot set ", dir, "/", file, ": ", errno_str(e));
				continue;
			}
			ctx.stage_changes++;
			log_.info("host cgroup: ", dir, "/", file, " ", cur.empty() ? "(empty)" : cur, " -> ", value);
		}
	}
}

void HostCgroupStage::reconcile(const ReconcileContext &ctx)
{
	if (!cfg_.enabled)
		return;
	if (!cfg_.slices.empty()) {
		limit_slices(ctx);
		return;
	}
	if (!setup(ctx))
		return;
	const Snapshot &snap = ctx.snap;
	// Tasks are grouped by process, leader first.
	for (size_t i = 0; i < snap.tasks.size();) {
		size_t end = i + 1;
		while (end < snap.tasks.size() && snap.tasks[end].proc == snap.tasks[i].proc)
			end++;
		const size_t first = i;
		i = end;
		const TaskInfo &lead = snap.tasks[first];
		const ProcessInfo &p = snap.process_of(lead);
		if (p.tgid != lead.tid)
			continue;
		if (!movable(snap, ctx.verdicts, first, end)) {
			evict(ctx, p, lead.ppid, ctx.verdicts[first]);
			continue;
		}
		if (foreign(p)) {
			if (said_.insert("foreign " + p.cgroup).second)
				log_.debug("host cgroup: ", p.cgroup, " belongs to another manager: its processes stay");
			continue;
		}
		if (seen_.count({p.tgid, p.start_time}))
			continue; // moved once already, or found in place
		if (version_ == CgroupVersion::V2 && p.cgroup == target()) {
			seen_.insert({p.tgid, p.start_time});
			continue;
		}
		if (ctx.dry_run) {
			ctx.plan_out << "would move " << p.tgid << " " << offl::quoted(p.comm) << " ["
				     << class_name(ctx.verdicts[first].cls) << "] cgroup " << p.cgroup << " -> "
				     << target() << '\n';
			ctx.stage_changes++;
			seen_.insert({p.tgid, p.start_time});
			continue;
		}
		int err = 0;
		auto h = ops_.open_pid(p.tgid, p.tgid, err);
		if (!h && err != ENOSYS)
			continue; // gone (ENOSYS: no pidfd_open, start times decide)
		auto st = ops_.start_time(p.tgid, p.tgid);
		if (!st || *st != p.start_time)
			continue;
		Moved m;
		m.start = p.start_time;
		m.comm = p.comm;
		auto raw = CgroupFs::read(proc_root_ + "/" + std::to_string(p.tgid), "cgroup");
		if (!raw)
			continue;
		bool ok = true;
		for (const std::string &hier : hierarchies()) {
			auto from = cgroup_path_of(*raw, hier);
			if (!from) {
				ok = false;
				break;
			}
			m.from[hier] = *from;
		}
		if (!ok)
			continue;
		// The pidfd holds the identity: a reused pid is not written.
		if (h && h->exited())
			continue;
		// Write-ahead: the move is in the state file before it happens.
		moved_[p.tgid] = m;
		checkpoint();
		size_t done = 0;
		for (const std::string &hier : hierarchies()) {
			err = CgroupFs::write(cg_.dir(target(), hier), "cgroup.procs", std::to_string(p.tgid), true);
			if (err)
				break;
			done++;
		}
		seen_.insert({p.tgid, p.start_time});
		// Checked after the write too: had the process exited and its pid
		// been reused in between, the newcomer was moved.  Its cgroup of
		// before is unknown, so it is not moved back on a guess; restore
		// sweeps our cgroup.
		if (!err && (!h || h->exited())) {
			auto again = ops_.start_time(p.tgid, p.tgid);
			if (!again || *again != p.start_time) {
				moved_.erase(p.tgid);
				checkpoint();
				if (again)
					log_.warn("host cgroup: pid ", p.tgid, " was reused while moving it: the new task is in ",
						  target(), " until restore");
				continue;
			}
		}
		if (err) {
			if (err != ESRCH && said_.insert("mv " + std::to_string(p.tgid)).second)
				log_.warn("host cgroup: cannot move ", p.tgid, " ", offl::quoted(p.comm), ": ",
					  errno_str(err));
			if (done == 0) {
				moved_.erase(p.tgid);
				checkpoint();
				continue;
			}
		}
		ctx.stage_changes++;
		log_.debug("host cgroup: moved ", p.tgid, " ", offl::quoted(p.comm), " [",
			   class_name(ctx.verdicts[first].cls), "] from ", p.cgroup);
	}
	// Identities that are gone.
	if (ctx.full) {
		std::set<std::pair<pid_t, uint64_t>> live;
		for (const ProcessInfo &p : snap.processes)
			live.insert({p.tgid, p.start_time});
		for (auto it = seen_.begin(); it != seen_.end();)
			it = live.count(*it) ? std::next(it) : seen_.erase(it);
		for (auto it = moved_.begin(); it != moved_.end();)
			it = live.count({it->first, it->second.start}) ? std::next(it) : moved_.erase(it);
	}
}

// A process born in the host cgroup (a child of a host daemon) that is not
// a host task itself (a VM started from a shell, a batch job) must not stay
// confined to the reserved CPUs: it goes to the root cgroup.
bool HostCgroupStage::foreign(const ProcessInfo &p) const
{
	for (const char *g : {"/user.slice", "/kubepods*", "/machine.slice", "/machine"})
		if (cgroup_glob_under(p.cgroup, g))
			return true;
	// Delegated (systemd Delegate=, a container manager): the cgroup's
	// directory belongs to another uid.
	if (version_ == CgroupVersion::V2 && p.cgroup != "/" && !p.cgroup.empty()) {
		struct stat st;
		if (stat(cg_.dir(p.cgroup).c_str(), &st) == 0 && st.st_uid != 0 && st.st_uid != geteuid())
			return true;
	}
	return false;
}

std::string HostCgroupStage::origin_for(pid_t ppid, const std::string &hier) const
{
	if (auto it = moved_.find(ppid); it != moved_.end())
		if (auto f = it->second.from.find(hier); f != it->second.from.end())
			return f->second;
	std::map<std::string, int> votes;
	for (const auto &[pid, m] : moved_)
		if (auto it = m.from.find(hier); it != m.from.end())
			votes[it->second]++;
	std::string common;
	int best = 0;
	for (const auto &[from, n] : votes)
		if (n > best)
			best = n, common = from;
	if (!common.empty())
		return common;
	size_t slash = target().rfind('/');
	return slash == 0 ? "/" : target().substr(0, slash);
}

void HostCgroupStage::evict(const ReconcileContext &ctx, const ProcessInfo &p, pid_t ppid, const Verdict &v)
{
	if (p.kthread || v.cls == Class::Exempt) // exempt: never touched
		return;
	if (version_ == CgroupVersion::V2 && p.cgroup != target())
		return;
	if (version_ == CgroupVersion::V1) {
		auto raw = CgroupFs::read(proc_root_ + "/" + std::to_string(p.tgid), "cgroup");
		auto cs = raw ? cgroup_path_of(*raw, "cpuset") : std::nullopt;
		if (!cs || *cs != target())
			return;
	}
	if (ctx.dry_run) {
		ctx.plan_out << "would move " << p.tgid << " " << offl::quoted(p.comm) << " [" << class_name(v.cls)
			     << "] out of " << target() << " to " << origin_for(ppid, hierarchies().front()) << "\n";
		ctx.stage_changes++;
		return;
	}
	int err = 0;
	auto h = ops_.open_pid(p.tgid, p.tgid, err);
	auto st = h || err == ENOSYS ? ops_.start_time(p.tgid, p.tgid) : std::nullopt;
	if (!st || *st != p.start_time || (h && h->exited()))
		return;
	err = 0;
	// Back where its parent came from (never simply "/": the root
	// cgroup has no limits at all).
	std::string to;
	for (const std::string &hier : hierarchies()) {
		to = origin_for(ppid, hier);
		err = err ? err : CgroupFs::write(cg_.dir(to, hier), "cgroup.procs", std::to_string(p.tgid), true);
	}
	if (err) {
		if (err != ESRCH && said_.insert("ev " + std::to_string(p.tgid)).second)
			log_.warn("host cgroup: cannot move ", p.tgid, " ", offl::quoted(p.comm), " out of ", target(), ": ",
				  errno_str(err));
		return;
	}
	moved_.erase(p.tgid);
	ctx.stage_changes++;
	log_.info("host cgroup: ", p.tgid, " ", offl::quoted(p.comm), " [", class_name(v.cls), "] was born in ",
		  target(), ": moved to ", to);
}

void HostCgroupStage::restore(bool dry_run)
{
	if (dry_run)
		return;
	for (const auto &[dir, files] : slice_orig_)
		for (const auto &[file, value] : files) {
			// An empty cpuset.cpus means "the parent's": write it back
			// as it was.
			if (int e = CgroupFs::write(dir, file, value.empty() && file == "memory.max" ? "max" : value))
				log_.warn("host cgroup: cannot put back ", dir, "/", file, ": ", errno_str(e));
		}
	if (!slice_orig_.empty())
		log_.info("host cgroup: put back the limits of ", slice_orig_.size(), " cgroup(s)");
	slice_orig_.clear();
	if (version_ == CgroupVersion::None)
		version_ = cg_.version();
	size_t back = 0, left = 0;
	for (const auto &[pid, m] : moved_) {
		int err = 0;
		auto h = ops_.open_pid(pid, pid, err);
		auto st = h || err == ENOSYS ? ops_.start_time(pid, pid) : std::nullopt;
		if (!st || *st != m.start || (h && h->exited()))
			continue; // gone
		auto raw = CgroupFs::read(proc_root_ + "/" + std::to_string(pid), "cgroup");
		bool ours = true;
		for (const auto &[hier, from] : m.from) {
			auto now = raw ? cgroup_path_of(*raw, hier) : std::nullopt;
			if (now && *now != target())
				ours = false; // someone moved it on: theirs
		}
		if (!ours) {
			left++;
			continue;
		}
		bool ok = true;
		for (const auto &[hier, from] : m.from)
			if (int e = CgroupFs::write(cg_.dir(from, hier), "cgroup.procs", std::to_string(pid), true)) {
				ok = false;
				if (e != ESRCH)
					log_.warn("host cgroup: cannot move ", pid, " ", offl::quoted(m.comm), " back to ",
						  from, ": ", errno_str(e));
			}
		back += ok;
	}
	if (!moved_.empty())
		log_.info("host cgroup: moved ", back, " of ", moved_.size(), " process(es) back",
			  left ? " (" + std::to_string(left) + " had been moved elsewhere since)" : std::string());
	// Whatever is still in our cgroup was born there (children of the
	// processes moved in) or moved in by a run that crashed: it goes where
	// its parent came from, else where most moved processes came from,
	// else the cgroup above ours; never left confined (and rmdir would
	// fail with EBUSY).
	size_t swept = 0;
	for (const std::string &hier : hierarchies()) {
		const std::string dir = cg_.dir(target(), hier);
		std::set<pid_t> done; // tried once (a child forked meanwhile shows up next round)
		for (const auto &[pid, m] : moved_)
			done.insert(pid); // handled above
		for (int round = 0; round < 3; round++) {
			std::vector<pid_t> left_pids;
			for (pid_t pid : CgroupFs::procs(dir))
				if (done.insert(pid).second)
					left_pids.push_back(pid);
			if (left_pids.empty())
				break;
			for (pid_t pid : left_pids) {
				pid_t ppid = 0;
				if (auto stat = CgroupFs::read(proc_root_ + "/" + std::to_string(pid), "stat"))
					if (auto ps = parse_stat(*stat))
						ppid = ps->ppid;
				const std::string to = origin_for(ppid, hier);
				int e = CgroupFs::write(cg_.dir(to, hier), "cgroup.procs", std::to_string(pid), true);
				if (e && e != ESRCH)
					log_.warn("host cgroup: cannot move ", pid, " out of ", target(), " to ", to, ": ",
						  errno_str(e));
				else if (!e)
					swept++;
			}
		}
	}
	if (swept)
		log_.info("host cgroup: moved ", swept, " more process(es) out of ", target(),
			  " (born there, or moved by an earlier run)");
	moved_.clear();
	seen_.clear();
	for (auto it = created_.rbegin(); it != created_.rend(); ++it)
		if (int e = CgroupFs::remove(*it); e && e != ENOENT)
			log_.warn("host cgroup: cannot remove ", *it, ": ", errno_str(e));
	created_.clear();
	ready_ = false;
}

std::string HostCgroupStage::state() const
{
	if (moved_.empty() && created_.empty() && slice_orig_.empty())
		return {};
	json mv = json::array();
	for (const auto &[pid, m] : moved_)
		mv.push_back({{"pid", pid}, {"start_time", m.start}, {"comm", m.comm}, {"from", m.from}});
	return json{{"moved", mv}, {"created", created_}, {"slices", slice_orig_}}.dump(-1, ' ', false,
											 json::error_handler_t::replace);
}

void HostCgroupStage::load_state(const std::string &text)
{
	try {
		json j = json::parse(text);
		for (const auto &m : j.value("moved", json::array())) {
			Moved x;
			x.start = m.at("start_time").get<uint64_t>();
			x.comm = m.value("comm", std::string());
			x.from = m.at("from").get<std::map<std::string, std::string>>();
			moved_[m.at("pid").get<pid_t>()] = x;
			seen_.insert({m.at("pid").get<pid_t>(), x.start});
		}
		created_ = j.value("created", std::vector<std::string>{});
		slice_orig_ = j.value("slices", std::map<std::string, std::map<std::string, std::string>>{});
		if (!moved_.empty())
			log_.info("host cgroup: state file: ", moved_.size(), " process(es) moved by an earlier run");
	} catch (const json::exception &e) {
		log_.warn("host cgroup: ignoring its part of the state file: ", e.what());
		moved_.clear();
		created_.clear();
		slice_orig_.clear();
	}
}

} // namespace offl
