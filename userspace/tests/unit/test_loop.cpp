// SPDX-License-Identifier: GPL-2.0
// The agent loop with a scripted event source: events reconcile their
// processes, Overflow resyncs, exits reach the stages, SIGHUP reloads,
// SIGTERM restores and ends it; with io_uring and with poll(2).
#include "agent.hpp"
#include "fake_proc.hpp"
#include "fake_sysops.hpp"
#include "loop.hpp"
#include "procevents.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <csignal>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>
#include <unistd.h>

using namespace offl;
using offl::testing::FakeProcess;
using offl::testing::FakeProcTree;
using offl::testing::FakeSystemOps;

namespace {

// Events written by the test thread, delivered through a pipe.
class ScriptedSource : public EventSource {
public:
	ScriptedSource() { EXPECT_EQ(pipe(p_), 0); }
	~ScriptedSource() override
	{
		close(p_[0]);
		close(p_[1]);
	}
	const char *name() const override { return "scripted"; }
	int fd() const override { return p_[0]; }
	bool read(std::vector<TaskEvent> &out) override
	{
		char c;
		if (::read(p_[0], &c, 1) != 1)
			return false;
		std::lock_guard<std::mutex> l(m_);
		out.insert(out.end(), pending_.begin(), pending_.end());
		pending_.clear();
		return true;
	}
	void send(std::vector<TaskEvent> ev)
	{
		{
			std::lock_guard<std::mutex> l(m_);
			pending_.insert(pending_.end(), ev.begin(), ev.end());
		}
		EXPECT_EQ(write(p_[1], "x", 1), 1);
	}

private:
	int p_[2];
	std::mutex m_;
	std::vector<TaskEvent> pending_;
};

class CountingStage : public Stage {
public:
	std::atomic<int> full{0}, partial{0}, exits{0}, restores{0};
	std::atomic<size_t> last_processes{0};
	const char *name() const override { return "counting"; }
	void reconcile(const ReconcileContext &ctx) override
	{
		(ctx.full ? full : partial)++;
		last_processes = ctx.snap.processes.size();
	}
	void restore(bool) override { restores++; }
	bool task_exited(pid_t tid, pid_t tgid) override
	{
		if (tgid != 400)
			return false;
		exits++;
		return tid == tgid;
	}
};

template <typename Pred> bool eventually(Pred p)
{
	for (int i = 0; i < 300; i++) {
		if (p())
			return true;
		std::this_thread::sleep_for(std::chrono::milliseconds(10));
	}
	return false;
}

class LoopTest : public ::testing::TestWithParam<bool> {};

} // namespace

TEST_P(LoopTest, EventsOverflowExitsSignals)
{
	FakeProcTree tree;
	FakeSystemOps ops;
	FakeProcess hog;
	hog.leader.tid = 300;
	hog.leader.comm = "hog";
	hog.exe = "/usr/bin/hog";
	tree.add(hog);
	ops.add(300, 300, hog.leader.start_time);
	std::ofstream(tree.root() + "/c.toml") << "[agent]\nresync_interval = \"60m\"\nstate_file = \"\"\n"
					       << "[[rule]]\nclass = \"batch\"\ncomm = \"hog\"\n";
	AgentOptions o;
	o.proc_root = tree.root();
	o.config_path = tree.root() + "/c.toml";
	std::ostringstream logs, plan;
	Logger log(logs, LogLevel::Debug);
	Agent agent(o, load_config(o.config_path), ops, log, plan);
	auto st = std::make_unique<CountingStage>();
	CountingStage *s = st.get();
	agent.add_stage(std::move(st));
	ScriptedSource src;

	block_agent_signals(); // before the thread: it inherits the mask
	std::thread driver([&] {
		ASSERT_TRUE(eventually([&] { return s->full >= 1; })) << "no initial resync";
		EXPECT_EQ(ops.tasks[300].attr.policy, kSchedOffline);
		// Someone moved the hog back; its exec event: that process
		// alone is reconciled, and it is offline again.
		ops.tasks[300].attr.policy = kSchedOther;
		src.send({{TaskEvent::Kind::Exec, 300, 300, monotonic_ns()}});
		EXPECT_TRUE(eventually([&] { return s->partial >= 1; }));
		EXPECT_EQ(s->last_processes.load(), 1u);
		EXPECT_TRUE(eventually([&] { return ops.tasks[300].attr.policy == kSchedOffline; }));
		// Exits: ignored unless a stage cares.
		int partial = s->partial;
		src.send({{TaskEvent::Kind::Exit, 301, 301, 0}});
		std::this_thread::sleep_for(std::chrono::milliseconds(50));
		EXPECT_EQ(s->partial.load(), partial) << "an exit nobody cares about cost a reconcile";
		src.send({{TaskEvent::Kind::Exit, 400, 400, monotonic_ns()}});
		EXPECT_TRUE(eventually([&] { return s->exits >= 1 && s->partial > partial; }));
		// Lost events: a full resync.
		int full = s->full;
		src.send({{TaskEvent::Kind::Overflow, 0, 0, 0}});
		EXPECT_TRUE(eventually([&] { return s->full > full; }));
		// SIGUSR1: a full resync too.
		full = s->full;
		kill(getpid(), SIGUSR1);
		EXPECT_TRUE(eventually([&] { return s->full > full; }));
		kill(getpid(), SIGTERM);
	});
	LoopOptions lo;
	lo.io_uring = GetParam();
	int rc = run_agent_loop(agent, log, {&src}, lo);
	driver.join();
	EXPECT_EQ(rc, 0);
	EXPECT_EQ(s->restores.load(), 1);
	EXPECT_EQ(ops.tasks[300].attr.policy, kSchedOther) << "SIGTERM restores";
	EXPECT_NE(logs.str().find(GetParam() ? "(io_uring)" : "(poll)"), std::string::npos) << logs.str();
	EXPECT_NE(logs.str().find("event -> policy applied"), std::string::npos) << logs.str();
}

INSTANTIATE_TEST_SUITE_P(Waiters, LoopTest, ::testing::Values(true, false),
			 [](const auto &param_info) { return std::string(param_info.param ? "io_uring" : "poll"); });
