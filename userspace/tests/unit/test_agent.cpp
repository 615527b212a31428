// SPDX-License-Identifier: GPL-2.0
#include "agent.hpp"
#include "fake_proc.hpp"
#include "fake_sysops.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <sstream>

using namespace offl;
using offl::testing::FakeProcess;
using offl::testing::FakeProcTree;
using offl::testing::FakeSystemOps;
using offl::testing::FakeTask;

namespace {

const char *kConfig = R"TOML([agent]
resync_interval = 5
state_file = ""

[classes.host]
policy = "offline"

[[rule]]
name = "critical"
class = "critical"
comm = "sshd"

[[rule]]
name = "batch"
class = "batch"
comm = "hog"
)TOML";

// A small host kept identical in a fake /proc tree and a fake kernel.
class AgentTest : public ::testing::Test {
protected:
	void SetUp() override
	{
		tree_.add_kthread(2, "kthreadd", 1);
		tree_.add_kthread(3, "ksoftirqd/0", 2);
		ops_.add(2, 2, 1);
		ops_.add(3, 3, 2);
		proc(1, "systemd", {});
		proc(100, "sshd", {});
		proc(200, "hog", {201});
		proc(300, "rsyslogd", {301});
		proc(400, "qemu-system-x86", {401, 402, 403}, {"CPU 0/KVM", "CPU 1/KVM", "IO mon_iothread"});
		FakeProcess rt = make(500, "rtapp", {});
		rt.leader.policy = kSchedFifo;
		rt.leader.rt_priority = 10;
		add(rt);
		ops_.tasks[500].attr.policy = kSchedFifo;
		write_config(kConfig);
	}

	FakeProcess make(pid_t pid, const std::string &comm, std::vector<pid_t> threads,
			 std::vector<std::string> names = {})
	{
		return offl::testing::make_process(pid, comm, threads, names);
	}
	void add(const FakeProcess &p)
	{
		tree_.add(p);
		ops_.add(p.leader.tid, p.leader.tid, p.leader.start_time, p.leader.policy, p.leader.nice);
		for (const auto &t : p.threads)
			ops_.add(t.tid, p.leader.tid, t.start_time, t.policy, t.nice);
	}
	void proc(pid_t pid, const std::string &comm, std::vector<pid_t> threads, std::vector<std::string> names = {})
	{
		add(make(pid, comm, std::move(threads), std::move(names)));
	}
	void write_config(const std::string &text)
	{
		std::ofstream(tree_.root() + "/offlinectl.toml") << text;
	}
	// Keep the fake /proc in step with the fake kernel after writes.
	void sync_tree_from_ops()
	{
		Snapshot s = ProcFs(tree_.root()).scan();
		std::map<pid_t, int> nthreads;
		for (const TaskInfo &t : s.tasks)
			nthreads[t.tgid]++;
		for (const TaskInfo &t : s.tasks) {
			auto it = ops_.tasks.find(t.tid);
			if (it == ops_.tasks.end())
				continue;
			FakeTask ft;
			ft.tid = t.tid;
			ft.comm = t.comm;
			ft.flags = t.flags;
			ft.start_time = t.start_time;
			ft.policy = it->second.attr.policy;
			ft.nice = it->second.attr.nice;
			ft.rt_priority = it->second.attr.priority;
			tree_.write_file(std::to_string(t.tgid) + "/task/" + std::to_string(t.tid) + "/stat",
					 FakeProcTree::stat_line(ft, nthreads[t.tgid]));
		}
	}
	std::unique_ptr<Agent> agent(bool dry_run = false, bool keep = false)
	{
		AgentOptions o;
		o.proc_root = tree_.root();
		o.config_path = tree_.root() + "/offlinectl.toml";
		o.dry_run = dry_run;
		o.keep_on_exit = keep;
		Config c = load_config(o.config_path);
		return std::make_unique<Agent>(o, c, ops_, log_, plan_);
	}
	int policy(pid_t tid) { return ops_.tasks.at(tid).attr.policy; }

	FakeProcTree tree_;
	FakeSystemOps ops_;
	std::ostringstream logs_;
	Logger log_{logs_, LogLevel::Debug};
	std::ostringstream plan_;
};

} // namespace

TEST_F(AgentTest, OnceMarksBatchAndHostAndLeavesTheRest)
{
	auto a = agent();
	ReconcileReport r = a->reconcile();
	EXPECT_EQ(r.tasks, 13u);
	EXPECT_EQ(policy(200), kSchedOffline); // batch
	EXPECT_EQ(policy(201), kSchedOffline);
	EXPECT_EQ(policy(300), kSchedOffline); // host (default class)
	EXPECT_EQ(policy(301), kSchedOffline);
	EXPECT_EQ(policy(100), kSchedOther); // critical
	for (pid_t t : {400, 401, 402, 403})
		EXPECT_EQ(policy(t), kSchedOther) << t; // VM
	EXPECT_EQ(policy(500), kSchedFifo);         // real-time: exempt
	// PID 1 and kernel threads were never even opened.
	for (const auto &[tid, attr] : ops_.writes)
		EXPECT_TRUE(tid != 1 && tid != 2 && tid != 3 && tid != 500) << tid;
	EXPECT_EQ(r.stats.applied, 4u);
	EXPECT_EQ(r.per_class[static_cast<size_t>(Class::Vcpu)], 2u);
	EXPECT_EQ(r.per_class[static_cast<size_t>(Class::VmService)], 2u);
	EXPECT_EQ(a->journal().size(), 4u);

	// A second pass finds nothing to do.
	sync_tree_from_ops();
	size_t writes = ops_.writes.size();
	r = a->reconcile();
	EXPECT_EQ(r.changes, 0u);
	EXPECT_EQ(ops_.writes.size(), writes);
}

TEST_F(AgentTest, DryRunChangesNothing)
{
	auto a = agent(true);
	ReconcileReport r = a->reconcile();
	EXPECT_EQ(r.changes, 4u);
	EXPECT_TRUE(ops_.writes.empty());
	EXPECT_EQ(ops_.open_calls, 0);
	std::string plan = plan_.str();
	EXPECT_NE(plan.find("would set 200 \"hog\" [batch] SCHED_OTHER nice 0 -> SCHED_OFFLINE"), std::string::npos)
		<< plan;
	EXPECT_NE(plan.find("rule \"batch\""), std::string::npos) << plan;
	// Printed once, not at every resync.
	a->reconcile();
	EXPECT_EQ(plan_.str(), plan);
	a->finish();
	EXPECT_TRUE(ops_.writes.empty());
}

TEST_F(AgentTest, FallsBackToSchedIdle)
{
	ops_.sched_offline = false;
	auto a = agent();
	a->reconcile();
	EXPECT_EQ(policy(200), kSchedIdle);
	EXPECT_EQ(policy(300), kSchedIdle);
	EXPECT_NE(logs_.str().find("no SCHED_OFFLINE"), std::string::npos);
}

TEST_F(AgentTest, RestoreOnExitUnlessKept)
{
	{
		auto a = agent();
		a->reconcile();
		sync_tree_from_ops();
		a->finish();
		EXPECT_EQ(policy(200), kSchedOther);
		EXPECT_EQ(policy(301), kSchedOther);
		EXPECT_NE(logs_.str().find("restored the policy of 4 of 4"), std::string::npos) << logs_.str();
	}
	sync_tree_from_ops();
	{
		auto a = agent(false, true);
		a->reconcile();
		size_t writes = ops_.writes.size();
		a->finish();
		EXPECT_EQ(ops_.writes.size(), writes);
		EXPECT_EQ(policy(200), kSchedOffline);
	}
}

TEST_F(AgentTest, ReloadKeepsOldConfigOnError)
{
	auto a = agent();
	ASSERT_EQ(a->config().classify.rules.size(), 2u);
	write_config(std::string(kConfig) + "\n[[rule]]\nclass = \"batch\"\ncomm = \"(broken\"\n");
	EXPECT_FALSE(a->reload());
	EXPECT_EQ(a->config().classify.rules.size(), 2u);
	EXPECT_NE(logs_.str().find("offlinectl.toml:20: bad regular expression"), std::string::npos) << logs_.str();
	EXPECT_NE(logs_.str().find("keeping the previous configuration"), std::string::npos);
	// The old config still works.
	a->reconcile();
	EXPECT_EQ(policy(200), kSchedOffline);

	// A good reload takes effect: hog becomes critical (online) again.
	sync_tree_from_ops();
	write_config("[agent]\nstate_file = \"\"\n[[rule]]\nclass = \"critical\"\ncomm = \"hog\"\n");
	EXPECT_TRUE(a->reload());
	EXPECT_EQ(a->config().classify.rules.size(), 1u);
	a->reconcile();
	EXPECT_EQ(policy(200), kSchedOther);     // restored from journal
	EXPECT_EQ(policy(300), kSchedOther);     // host is "keep" now: restored
	EXPECT_EQ(a->journal().size(), 0u);
}

TEST_F(AgentTest, PidReusedBetweenScanAndApply)
{
	auto a = agent();
	ops_.reuse(200, 200, 7777); // hog exited, pid 200 is someone else now
	a->reconcile();
	EXPECT_EQ(policy(200), kSchedOther);
	EXPECT_EQ(policy(201), kSchedOffline);
}

TEST_F(AgentTest, PerTaskErrorsAreNotFatal)
{
	ops_.set_errno[200] = EPERM;
	ops_.exit_task(300);
	auto a = agent();
	ReconcileReport r = a->reconcile();
	EXPECT_EQ(r.stats.denied, 1u);
	EXPECT_EQ(r.stats.vanished, 1u);
	EXPECT_EQ(policy(201), kSchedOffline);
	EXPECT_EQ(policy(301), kSchedOffline);
}

TEST_F(AgentTest, StateFileLetsARestartedAgentRestore)
{
	std::string cfg = kConfig;
	const std::string from = "state_file = \"\"";
	cfg.replace(cfg.find(from), from.size(), "state_file = \"" + tree_.root() + "/run/state.json\"");
	write_config(cfg);
	{
		auto a = agent(false, true);
		a->reconcile();
		a->finish(); // kept, state saved
	}
	sync_tree_from_ops();
	{
		auto a = agent();
		EXPECT_EQ(a->journal().size(), 4u);
		a->reconcile(); // nothing to change
		a->finish();    // restores what the first run changed
	}
	EXPECT_EQ(policy(200), kSchedOther);
	EXPECT_EQ(policy(301), kSchedOther);
	std::ifstream gone(tree_.root() + "/run/state.json");
	EXPECT_FALSE(gone.good());
}

TEST_F(AgentTest, ReconcilePidsOnlyTouchesThose)
{
	auto a = agent();
	ReconcileReport r = a->reconcile_pids({201});
	EXPECT_EQ(r.tasks, 2u); // the whole thread group of 201
	EXPECT_EQ(policy(200), kSchedOffline);
	EXPECT_EQ(policy(300), kSchedOther);
}

TEST_F(AgentTest, OfflineVmIsBroughtBackOnline)
{
	// A QEMU that inherited SCHED_OFFLINE from an offline parent.
	FakeProcess vm = make(600, "qemu-system-x86", {601}, {"CPU 0/KVM"});
	vm.leader.policy = kSchedOffline;
	vm.threads[0].policy = kSchedOffline;
	add(vm);
	auto a = agent();
	a->reconcile();
	EXPECT_EQ(policy(600), kSchedOther);
	EXPECT_EQ(policy(601), kSchedOther);
}

namespace {
class RecordingStage : public Stage {
public:
	int calls = 0, restores = 0;
	bool saw_dry = false;
	size_t vcpus = 0;
	const char *name() const override { return "recording"; }
	void reconcile(const ReconcileContext &ctx) override
	{
		calls++;
		saw_dry = ctx.dry_run;
		for (const Verdict &v : ctx.verdicts)
			vcpus += v.cls == Class::Vcpu;
	}
	void restore(bool) override { restores++; }
};
} // namespace

TEST_F(AgentTest, StagesSeeEveryReconcile)
{
	auto a = agent(true);
	auto st = std::make_unique<RecordingStage>();
	RecordingStage *s = st.get();
	a->add_stage(std::move(st));
	a->reconcile();
	a->finish();
	EXPECT_EQ(s->calls, 1);
	EXPECT_TRUE(s->saw_dry);
	EXPECT_EQ(s->vcpus, 2u);
}

// Issue 13 item 6: a crash (SIGKILL, OOM kill) in the middle of a pass
// loses nothing: every change is in the state file before it is made.
// The "crash" is an exception out of the second sched_setattr; the agent
// object is dropped without finish(), as a killed process would be.
TEST_F(AgentTest, CrashMidPassLosesNothing)
{
	std::string cfg = kConfig;
	const std::string from = "state_file = \"\"";
	cfg.replace(cfg.find(from), from.size(), "state_file = \"" + tree_.root() + "/run/state.json\"");
	write_config(cfg);
	int sets = 0;
	ops_.before_set = [&](pid_t) {
		if (++sets == 2)
			throw std::runtime_error("SIGKILL");
	};
	{
		auto a = agent();
		EXPECT_THROW(a->reconcile(), std::runtime_error);
	}
	ops_.before_set = {};
	std::vector<pid_t> offline;
	for (pid_t t : {200, 201, 300, 301})
		if (policy(t) == kSchedOffline)
			offline.push_back(t);
	ASSERT_EQ(offline.size(), 1u) << "one change made before the crash";
	sync_tree_from_ops();
	auto b = agent();
	EXPECT_GE(b->journal().size(), 1u) << "the change made before the crash is recorded";
	b->restore();
	EXPECT_EQ(policy(offline[0]), kSchedOther) << logs_.str();
}

// Issue 13 item 5: children and new threads of a task the agent made
// offline are born offline; they are recorded and restored on exit.
TEST_F(AgentTest, ChildrenBornOfflineAreRestored)
{
	auto a = agent();
	a->reconcile();
	ASSERT_EQ(policy(300), kSchedOffline); // rsyslogd: host -> offline
	// rsyslogd forks a helper; the kernel copies the policy.
	FakeProcess child = make(350, "rsyslog-helper", {});
	child.leader.ppid = 300;
	child.leader.policy = kSchedOffline;
	add(child);
	// and a new thread
	FakeProcess rs = make(300, "rsyslogd", {301, 302});
	rs.leader.policy = kSchedOffline;
	for (auto &t : rs.threads)
		t.policy = kSchedOffline;
	tree_.add(rs);
	ops_.add(302, 300, rs.threads[1].start_time, kSchedOffline, 0);
	a->reconcile_pids({350, 302});
	a->finish();
	EXPECT_EQ(policy(350), kSchedOther) << logs_.str();
	EXPECT_EQ(policy(302), kSchedOther) << logs_.str();
	EXPECT_EQ(policy(300), kSchedOther);
}
