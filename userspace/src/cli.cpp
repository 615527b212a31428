// SPDX-License-Identifier: GPL-2.0
#include "cli.hpp"

#include "agent.hpp"
#include "apply.hpp"
#include "config.hpp"
#include "log.hpp"
#include "loop.hpp"
#include "output.hpp"
#include "hostcg.hpp"
#include "pinning.hpp"
#include "procevents.hpp"
#include "qmp.hpp"
#include "procfs.hpp"
#include "sysops.hpp"
#include "top.hpp"
#include "util.hpp"

#include <CLI/CLI.hpp>

#include <cerrno>
#include <optional>
#include <fcntl.h>
#include <iostream>
#include <sys/file.h>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>

#ifndef OFFLINECTL_VERSION
#define OFFLINECTL_VERSION "0.0.0"
#endif

namespace offl {

namespace {

constexpr const char *kDefaultConfig = "/etc/offlinectl/offlinectl.toml";

struct Globals {
	std::string config;
	bool config_given = false;
	std::string proc_root = "/proc";
	std::string sys_root = "/sys";
	std::string passwd = "/etc/passwd";
	int verbose = 0;
	bool quiet = false;
};

struct UsageError : std::runtime_error {
	using std::runtime_error::runtime_error;
};

// Loads the config the user named, or the default file when it exists, or
// the built-in defaults.  Throws ConfigError.
Config load_effective_config(const Globals &g)
{
	ConfigParseOptions po;
	po.passwd_path = g.passwd;
	if (g.config_given)
		return load_config(g.config, po);
	if (access(kDefaultConfig, F_OK) == 0)
		return load_config(kDefaultConfig, po);
	return default_config();
}

void require_live_proc(const Globals &g, const char *what)
{
	if (g.proc_root != "/proc")
		throw UsageError(std::string(what) + " changes real tasks and cannot be used with --proc-root " +
				 g.proc_root + " (use --dry-run)");
}

// One agent per host: flock a pid file beside the state file.
class PidLock {
public:
	bool acquire(const std::string &path, Logger &log)
	{
		size_t slash = path.rfind('/');
		if (slash != std::string::npos && slash > 0)
			mkdir(path.substr(0, slash).c_str(), 0755);
		fd_ = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
		if (fd_ < 0) {
			log.warn("cannot open ", path, " (", errno_str(errno), "): not guarding against a second agent");
			return true;
		}
		if (flock(fd_, LOCK_EX | LOCK_NB) != 0) {
			char buf[32] = {};
			ssize_t n = pread(fd_, buf, sizeof(buf) - 1, 0);
			std::string pid = n > 0 ? std::string(trim(std::string_view(buf, static_cast<size_t>(n)))) : "?";
			log.error("another offlinectl agent (pid ", pid, ") holds ", path,
				  "; send it SIGUSR1 to resync, SIGHUP to reload");
			return false;
		}
		std::string me = std::to_string(getpid()) + "\n";
		if (ftruncate(fd_, 0) != 0 || pwrite(fd_, me.data(), me.size(), 0) < 0)
			log.warn("cannot write ", path, ": ", errno_str(errno));
		path_ = path;
		return true;
	}
	~PidLock()
	{
		if (!path_.empty())
			unlink(path_.c_str());
		if (fd_ >= 0)
			close(fd_);
	}

private:
	int fd_ = -1;
	std::string path_;
};

struct AgentArgs {
	bool once = false;
	bool dry_run = false;
	bool keep_on_exit = false;
	bool check_config = false;
	bool restore = false; // `offlinectl restore`
};

int cmd_agent(const Globals &g, const AgentArgs &a, Logger &log)
{
	Config cfg = load_effective_config(g);
	const auto warnings = config_warnings(cfg);
	if (a.check_config) {
		for (const std::string &w : warnings)
			std::cerr << "warning: " << w << "\n";
		std::cout << (cfg.path.empty() ? std::string("built-in defaults") : cfg.path) << ": OK, "
			  << cfg.classify.rules.size() << " rule(s)";
		if (!warnings.empty())
			std::cout << ", " << warnings.size() << " warning(s)";
		std::cout << "\n";
		return kExitOk;
	}
	for (const std::string &w : warnings)
		log.warn(w);
	if (cfg.path.empty())
		log.info("no ", kDefaultConfig, ": built-in defaults (batch offline; host tasks left as they are)");
	if (!a.dry_run)
		require_live_proc(g, "agent");
	if (!a.dry_run && geteuid() != 0)
		log.warn("not running as root: only tasks of uid ", geteuid(), " can be changed");

	PidLock lock;
	if (!a.dry_run && !lock.acquire(agent_pidfile(cfg), log))
		return kExitFailure;

	AgentOptions opt;
	opt.proc_root = g.proc_root;
	opt.config_path = g.config_given ? g.config : (cfg.path.empty() ? std::string(kDefaultConfig) : cfg.path);
	opt.config_required = g.config_given;
	opt.dry_run = a.dry_run;
	opt.keep_on_exit = a.keep_on_exit;
	opt.parse.passwd_path = g.passwd;
	LinuxSystemOps ops(g.proc_root);
	auto add_stages = [&](Agent &agent, bool daemon) {
		auto topo = read_topology(g.sys_root);
		if (!topo) {
			log.warn("cannot read the CPU topology under ", g.sys_root, ": assuming one node, CPUs 0-",
				 std::max(0L, sysconf(_SC_NPROCESSORS_ONLN) - 1));
			topo = uniform_topology(1, static_cast<int>(std::max(1L, sysconf(_SC_NPROCESSORS_ONLN))));
		}
		// The daemon asks QMP on a thread of its own (a monitor that
		// never answers must not hold the event loop); --once asks inline.
		QmpLookup qmp;
		if (daemon) {
			auto async = std::make_shared<AsyncQmp>();
			qmp = [async](const QmpTarget &t) { return async->lookup(t); };
		} else {
			qmp = [&log](const QmpTarget &t) -> std::optional<std::map<int, pid_t>> {
				std::string err;
				auto m = qmp_vcpu_threads(t.socket, t.uid, &err);
				if (!err.empty())
					log.warn("placement: QMP of VM ", t.tgid, ": ", err);
				return m;
			};
		}
		agent.add_stage(std::make_unique<PinningStage>(ops, log, agent.config(), *topo,
							       agent.config().host_cgroup.root, std::move(qmp), daemon));
		agent.add_stage(std::make_unique<HostCgroupStage>(ops, log, agent.config(), *topo, g.proc_root));
	};

	if (a.restore) {
		// Undo what the state file records; nothing is classified or
		// applied first (the agent would re-apply before a SIGTERM).
		if (cfg.state_file.empty()) {
			log.error("restore: no state_file in the configuration: nothing recorded");
			return kExitFailure;
		}
		Agent agent(opt, std::move(cfg), ops, log, std::cout);
		add_stages(agent, false);
		if (agent.journal().stale()) {
			std::cout << "restore: the state file is from an earlier boot: nothing to restore\n";
			agent.restore();
			return kExitOk;
		}
		const size_t n = agent.journal().size();
		ApplyStats st = agent.restore();
		std::cout << "restore: " << st.applied << " of " << n << " task(s) put back (" << st.summary("restored")
			  << ")\n";
		return st.failed ? kExitFailure : kExitOk;
	}
	if (a.once) {
		Agent agent(opt, std::move(cfg), ops, log, std::cout);
		add_stages(agent, false);
		ReconcileReport r = agent.reconcile();
		if (a.dry_run && r.changes == 0 && r.stage_changes == 0)
			std::cout << "nothing to change\n";
		return (r.stats.denied || r.stats.failed) ? kExitFailure : kExitOk;
	}
	block_agent_signals();
	Agent agent(opt, std::move(cfg), ops, log, std::cout);
	add_stages(agent, true);
	// Event sources (read at start; a reload does not switch them).
	const Config &c = agent.config();
	std::unique_ptr<ProcConnector> pc;
	std::unique_ptr<PidFileWatch> pw;
	std::vector<EventSource *> sources;
	std::string err;
	if (c.events == "auto" || c.events == "proc-connector") {
		if (g.proc_root != "/proc")
			log.info("--proc-root: no proc connector (it reports this host's tasks)");
		else if ((pc = ProcConnector::open(err)))
			sources.push_back(pc.get());
		else
			log.warn("proc connector unavailable (", err, ")",
				 c.events == "auto" ? ": watching pid files instead" : "");
	}
	if (c.events == "pid-files" || (c.events == "auto" && !pc)) {
		if ((pw = PidFileWatch::open(c.pid_dirs, err)))
			sources.push_back(pw.get());
		else
			log.warn("pid-file watch unavailable (", err, "): resync only");
	}
	LoopOptions lo;
	lo.io_uring = c.io_uring;
	return run_agent_loop(agent, log, sources, lo);
}

int cmd_status(const Globals &g, bool as_json, double steal_interval, StatusOptions::Qmp qmp)
{
	Config cfg = load_effective_config(g);
	ProcFs procfs(g.proc_root);
	StatusOptions so;
	so.sys_root = g.sys_root;
	so.steal_interval_s = steal_interval;
	so.qmp = qmp;
	StatusData s = collect_status(procfs, cfg, OFFLINECTL_VERSION, so);
	if (as_json)
		std::cout << status_json(s);
	else
		print_status(s, std::cout);
	return kExitOk;
}

int cmd_explain(const Globals &g, pid_t pid, bool as_json, Logger &log)
{
	Config cfg = load_effective_config(g);
	cfg.classify.self_tgid = getpid();
	ProcFs procfs(g.proc_root);
	KernelInfo k = collect_kernel_info(procfs);
	auto e = collect_explain(procfs, cfg, pid, k.offline_policy);
	if (!e) {
		log.error("no such process: ", pid);
		return kExitFailure;
	}
	if (as_json)
		std::cout << explain_json(*e);
	else
		print_explain(*e, std::cout);
	return kExitOk;
}

int cmd_run(std::optional<int> nice, const std::vector<std::string> &cmd, Logger &log)
{
	if (cmd.empty())
		throw UsageError("run: no command given (offlinectl run [--nice N] -- CMD [ARGS...])");
	LinuxSystemOps ops;
	OfflineBackend backend(ops, log);
	SchedAttr cur;
	if (int e = sys_sched_getattr(0, cur); e != 0) {
		log.error("sched_getattr: ", errno_str(e));
		return kExitFailure;
	}
	SchedAttr want;
	want.policy = backend.offline_policy();
	want.nice = nice.value_or(cur.nice);
	want.flags = cur.flags & kSchedFlagResetOnFork;
	if (int e = sys_sched_setattr(0, want); e != 0) {
		log.error("cannot switch to ", policy_name(want.policy), " nice ", want.nice, ": ", errno_str(e));
		return kExitFailure;
	}
	log.debug("running ", cmd[0], " in ", policy_name(want.policy), " nice ", want.nice);
	std::vector<char *> argv;
	for (const auto &s : cmd)
		argv.push_back(const_cast<char *>(s.c_str()));
	argv.push_back(nullptr);
	execvp(argv[0], argv.data());
	int e = errno;
	log.error("cannot run ", cmd[0], ": ", errno_str(e));
	return e == ENOENT ? 127 : 126;
}

int cmd_set(const Globals &g, bool offline, const std::vector<pid_t> &pids, std::optional<int> nice,
	    bool only_thread, Logger &log)
{
	require_live_proc(g, offline ? "set" : "unset");
	ProcFs procfs(g.proc_root);
	LinuxSystemOps ops(g.proc_root);
	OfflineBackend backend(ops, log);
	Applier applier(ops, log, backend);
	int rc = kExitOk;
	for (pid_t pid : pids) {
		Snapshot snap = procfs.scan_process(pid);
		if (snap.processes.empty()) {
			log.error("no such process: ", pid);
			rc = kExitFailure;
			continue;
		}
		const bool whole = !only_thread && snap.processes[0].tgid == pid;
		for (const TaskInfo &t : snap.tasks) {
			if (!whole && t.tid != pid)
				continue;
			std::string who = std::to_string(t.tid) + " " + offl::quoted(t.comm);
			if (t.tgid == 1 || t.kthread() || snap.processes[0].kthread) {
				log.error(who, ": refusing to change ",
					  t.tgid == 1 ? "PID 1" : "a kernel thread");
				rc = kExitFailure;
				continue;
			}
			GuardResult r = offline ? applier.set_offline(t.tgid, t.tid, t.start_time, nice)
						: applier.set_online(t.tgid, t.tid, t.start_time);
			switch (r.outcome) {
			case Outcome::Applied:
				std::cout << who << ": " << policy_name(r.before.policy) << " -> "
					  << policy_name(r.after.policy) << " (nice " << r.after.nice << ")\n";
				break;
			case Outcome::Unchanged:
				std::cout << who << ": already " << policy_name(r.before.policy) << "\n";
				break;
			case Outcome::Vanished:
			case Outcome::Reused:
				std::cout << who << ": exited\n";
				break;
			default:
				log.error(who, ": ", outcome_name(r.outcome), r.err ? ": " + errno_str(r.err) : "");
				rc = kExitFailure;
				break;
			}
		}
	}
	return rc;
}

int cmd_top(const Globals &g, int iterations, double delay)
{
	Config cfg = load_effective_config(g);
	cfg.classify.self_tgid = getpid();
	ProcFs procfs(g.proc_root);
	KernelInfo k = collect_kernel_info(procfs);
	const bool tty = isatty(STDOUT_FILENO);
	TopSample prev = take_top_sample(procfs, cfg.classify);
	for (int i = 0; iterations <= 0 || i < iterations; i++) {
		std::this_thread::sleep_for(std::chrono::duration<double>(delay));
		TopSample cur = take_top_sample(procfs, cfg.classify);
		TopView v = compute_top(prev, cur, k.offline_policy);
		if (tty && iterations != 1)
			std::cout << "\033[H\033[2J";
		else if (i > 0)
			std::cout << "\n";
		print_top(v, std::cout);
		prev = std::move(cur);
	}
	return kExitOk;
}

} // namespace

int run_cli(int argc, char **argv)
{
	CLI::App app{"offlinectl: keep a host's online and offline work in the scheduling classes its config "
		     "describes (SCHED_OFFLINE, or SCHED_IDLE on kernels without it)",
		     "offlinectl"};
	app.set_version_flag("-V,--version", std::string("offlinectl ") + OFFLINECTL_VERSION);
	app.require_subcommand(1);
	app.fallthrough();
	app.footer("Exit status: 0 success, 1 runtime failure, 2 usage or configuration error.\n"
		   "Default config: " + std::string(kDefaultConfig) + " (built-in defaults when it does not exist).");

	Globals g;
	app.add_option("-c,--config", g.config, "configuration file (TOML)")->type_name("FILE");
	app.add_option("--proc-root", g.proc_root, "read tasks from this /proc tree (testing; read-only commands and --dry-run)")
		->type_name("DIR");
	app.add_option("--sys-root", g.sys_root, "read the CPU/NUMA topology from this sysfs tree (testing)")
		->type_name("DIR");
	app.add_option("--passwd", g.passwd, "passwd file for user = \"name\" rules")->type_name("FILE");
	app.add_flag("-v,--verbose", g.verbose, "debug output (every change the agent makes)");
	app.add_flag("-q,--quiet", g.quiet, "only warnings and errors");

	AgentArgs aa;
	CLI::App *agent = app.add_subcommand("agent", "run the daemon: classify every task, apply, keep it so");
	agent->add_flag("--once", aa.once, "classify and apply once, then exit (changes are kept)");
	agent->add_flag("-n,--dry-run", aa.dry_run, "print the plan, change nothing");
	agent->add_flag("--keep-on-exit", aa.keep_on_exit, "leave changed tasks as they are on SIGTERM");
	agent->add_flag("--check-config", aa.check_config, "validate the configuration and exit");

	AgentArgs ra;
	ra.restore = true;
	CLI::App *restore = app.add_subcommand("restore", "undo everything the state file records (policies, affinities, "
							  "cgroup moves) without running the agent");

	bool status_json_flag = false;
	double status_steal = 0.5;
	CLI::App *status = app.add_subcommand("status", "kernel support, tasks per class, VMs with their bindings, NUMA node "
							"and per-vCPU steal, per-CPU offline state");
	status->add_flag("--json", status_json_flag, "machine-readable output");
	status->add_option("--steal-interval", status_steal,
			   "seconds over which vCPU steal (run-queue wait / wall time) is sampled; 0: do not sample")
		->check(CLI::Range(0.0, 60.0));
	bool status_qmp = false, status_no_qmp = false;
	status->add_flag("--qmp", status_qmp,
			 "ask every VM's QMP socket (-qmp unix:PATH) for its vCPU threads (default: only VMs whose "
			 "threads carry no names; a libvirt monitor socket belongs to libvirt)");
	status->add_flag("--no-qmp", status_no_qmp, "never ask QMP");

	pid_t explain_pid = 0;
	bool explain_json_flag = false;
	CLI::App *explain = app.add_subcommand("explain", "show a task's facts, class, the rule that decided it, and the plan");
	explain->add_option("PID", explain_pid, "process or thread id")->required()->check(CLI::PositiveNumber);
	explain->add_flag("--json", explain_json_flag, "machine-readable output");

	std::optional<int> run_nice;
	std::vector<std::string> run_cmd;
	CLI::App *run = app.add_subcommand("run", "run a command offline: offlinectl run [--nice N] -- CMD [ARGS...]");
	run->add_option("--nice", run_nice, "nice value (weight among offline tasks)")->check(CLI::Range(-20, 19));
	run->add_option("CMD", run_cmd, "command and its arguments");
	// Everything from CMD on belongs to CMD; offlinectl's own options
	// must come before it.
	run->prefix_command();
	run->fallthrough(false);

	std::vector<pid_t> set_pids;
	std::optional<int> set_nice;
	bool set_thread = false;
	CLI::App *set = app.add_subcommand("set", "mark processes (all their threads) offline");
	set->add_option("PID", set_pids, "process ids")->required()->check(CLI::PositiveNumber);
	set->add_option("--nice", set_nice, "nice value to set")->check(CLI::Range(-20, 19));
	set->add_flag("--thread", set_thread, "only the given thread, not its whole process");

	std::vector<pid_t> unset_pids;
	bool unset_thread = false;
	CLI::App *unset = app.add_subcommand("unset", "move offline processes back to SCHED_OTHER");
	unset->add_option("PID", unset_pids, "process ids")->required()->check(CLI::PositiveNumber);
	unset->add_flag("--thread", unset_thread, "only the given thread, not its whole process");

	int top_n = 0;
	bool top_once = false;
	double top_delay = 1.0;
	CLI::App *top = app.add_subcommand("top", "live per-CPU offline capacity and CPU use per class");
	top->add_option("-n,--iterations", top_n, "refresh this many times, then exit (0: forever)")
		->check(CLI::NonNegativeNumber);
	top->add_flag("--once", top_once, "one refresh (same as -n 1)");
	top->add_option("-d,--delay", top_delay, "seconds between refreshes")->check(CLI::Range(0.05, 3600.0));

	try {
		app.parse(argc, argv);
	} catch (const CLI::ParseError &e) {
		int rc = app.exit(e);
		return rc == 0 ? kExitOk : kExitUsage;
	}
	g.config_given = app.count("--config") > 0;

	Logger log(std::cerr, g.quiet ? LogLevel::Warn : g.verbose > 0 ? LogLevel::Debug : LogLevel::Info);

	try {
		if (*agent)
			return cmd_agent(g, aa, log);
		if (*restore)
			return cmd_agent(g, ra, log);
		if (*status)
			return cmd_status(g, status_json_flag, status_steal,
					  status_no_qmp ? StatusOptions::Qmp::Never
					  : status_qmp  ? StatusOptions::Qmp::Always
							: StatusOptions::Qmp::Unnamed);
		if (*explain)
			return cmd_explain(g, explain_pid, explain_json_flag, log);
		if (*run) {
			// CLI11 leaves "--" and whatever followed the first
			// positional in remaining().
			std::vector<std::string> cmd = run_cmd;
			bool dashdash = false;
			for (const auto &r : run->remaining()) {
				if (r == "--" && !dashdash) {
					dashdash = true;
					continue;
				}
				cmd.push_back(r);
			}
			return cmd_run(run_nice, cmd, log);
		}
		if (*set)
			return cmd_set(g, true, set_pids, set_nice, set_thread, log);
		if (*unset)
			return cmd_set(g, false, unset_pids, std::nullopt, unset_thread, log);
		if (*top)
			return cmd_top(g, top_once ? 1 : top_n, top_delay);
	} catch (const ConfigError &e) {
		log.error(e.what());
		return kExitUsage;
	} catch (const UsageError &e) {
		log.error(e.what());
		return kExitUsage;
	}
	return kExitUsage;
}

} // namespace offl
