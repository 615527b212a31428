// SPDX-License-Identifier: GPL-2.0
// Agent micro-benchmarks (design section 6, metric 6):
//   BM_ScanAndClassify   full scan of a 10,000-task fake /proc tree in the
//                        real file formats + classification (target
//                        <= 150 ms on one core)
//   BM_Scan              the scan alone
//   BM_ClassifyOnly      classification of 10,000 parsed tasks (<= 5 ms)
//   BM_Plan              plan (what to change) for 10,000 classified tasks
//   BM_ParseStat         one /proc/<pid>/stat line
//   BM_PlacementPlan     vCPU placement for 100 VMs on 256 CPUs (2 NUMA
//                        nodes, 4 reserved host CPUs), from scratch, at
//                        overcommit ratio 1 (one-to-one) and 2 (ranges)
//   BM_PlacementReplan   the same after one more VM starts (the event
//                        path: the previous plan is kept where valid)
//   BM_EventReconcile    one process event on the 10,000-task host:
//                        Agent::reconcile_pids() re-reads that process,
//                        classifies it and applies its policy (through a
//                        fake SystemOps: the agent's own cost, no syscalls)
// The tree lives in $TMPDIR (use a tmpfs for numbers close to /proc, which
// is memory-backed too).
#include "agent.hpp"
#include "apply.hpp"
#include "classify.hpp"
#include "config.hpp"
#include "fake_proc.hpp"
#include "fake_sysops.hpp"
#include "log.hpp"
#include "placement.hpp"
#include "procfs.hpp"
#include "topology.hpp"

#include <benchmark/benchmark.h>

#include <memory>
#include <sstream>

using namespace offl;

namespace {

constexpr size_t kTasks = 10000;

struct World {
	offl::testing::FakeProcTree tree;
	size_t made = 0;
	Config cfg;
	Snapshot snap;
	World()
	{
		made = offl::testing::generate_host(tree, kTasks, 1);
		cfg = parse_config(offl::testing::generated_host_config(), "bench.toml");
		snap = ProcFs(tree.root()).scan();
	}
};

World &world()
{
	static World w;
	return w;
}

void BM_ScanAndClassify(benchmark::State &state)
{
	World &w = world();
	ProcFs fs(w.tree.root());
	size_t tasks = 0;
	for (auto _ : state) {
		Snapshot s = fs.scan();
		std::vector<Verdict> v = classify_all(s, w.cfg.classify);
		benchmark::DoNotOptimize(v.data());
		tasks = s.tasks.size();
	}
	state.counters["tasks"] = static_cast<double>(tasks);
	state.counters["tasks/s"] = benchmark::Counter(static_cast<double>(tasks), benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_ScanAndClassify)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_Scan(benchmark::State &state)
{
	World &w = world();
	ProcFs fs(w.tree.root());
	for (auto _ : state) {
		Snapshot s = fs.scan();
		benchmark::DoNotOptimize(s.tasks.data());
	}
}
BENCHMARK(BM_Scan)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_ClassifyOnly(benchmark::State &state)
{
	World &w = world();
	for (auto _ : state) {
		std::vector<Verdict> v = classify_all(w.snap, w.cfg.classify);
		benchmark::DoNotOptimize(v.data());
	}
	state.counters["tasks"] = static_cast<double>(w.snap.tasks.size());
}
BENCHMARK(BM_ClassifyOnly)->Unit(benchmark::kMillisecond);

void BM_ClassifyOnlyRegexRules(benchmark::State &state)
{
	// Same, with every rule a real regex (no literal fast path).
	World &w = world();
	Config cfg = parse_config(R"TOML([[rule]]
class = "critical"
comm = "(sshd|systemd-journal|libvirtd|kubelet)"
[[rule]]
class = "host"
exe = "/usr/sbin/(rsyslogd|syslog-ng)"
[[rule]]
class = "batch"
cmdline = "stress-ng .*"
)TOML",
				  "regex.toml");
	for (auto _ : state) {
		std::vector<Verdict> v = classify_all(w.snap, cfg.classify);
		benchmark::DoNotOptimize(v.data());
	}
}
BENCHMARK(BM_ClassifyOnlyRegexRules)->Unit(benchmark::kMillisecond);

void BM_Plan(benchmark::State &state)
{
	World &w = world();
	std::vector<Verdict> v = classify_all(w.snap, w.cfg.classify);
	Journal j;
	for (auto _ : state) {
		std::vector<Change> c = plan(w.snap, v, w.cfg, j, kSchedOffline);
		benchmark::DoNotOptimize(c.data());
	}
}
BENCHMARK(BM_Plan)->Unit(benchmark::kMicrosecond);

void BM_ParseStat(benchmark::State &state)
{
	offl::testing::FakeTask t;
	t.tid = 123456;
	t.comm = "CPU 3/KVM";
	std::string line = offl::testing::FakeProcTree::stat_line(t, 8);
	for (auto _ : state) {
		auto s = parse_stat(line);
		benchmark::DoNotOptimize(s);
	}
}
BENCHMARK(BM_ParseStat);

// 100 VMs of 1, 2, 4 and 2 vCPUs (225 vCPUs), oldest first
std::vector<VmRequest> hundred_vms(size_t n = 100)
{
	static const int sizes[] = {1, 2, 4, 2};
	std::vector<VmRequest> vms;
	for (size_t i = 0; i < n; i++) {
		VmRequest r;
		r.tgid = static_cast<pid_t>(10000 + i);
		r.start_time = 1000 + i;
		r.name = "vm" + std::to_string(i);
		for (int v = 0; v < sizes[i % 4]; v++)
			r.vcpus.push_back(v);
		vms.push_back(std::move(r));
	}
	return vms;
}

PlacementPolicy policy_with_ratio(const Topology &topo, double ratio)
{
	PlacementPolicy pol;
	pol.ratio = ratio;
	pol.reserved = spread_reserved(topo, 4);
	return pol;
}

void BM_PlacementPlan(benchmark::State &state)
{
	Topology topo = uniform_topology(2, 128);
	PlacementPolicy pol = policy_with_ratio(topo, static_cast<double>(state.range(0)));
	std::vector<VmRequest> vms = hundred_vms();
	size_t unplaced = 0;
	for (auto _ : state) {
		PlacementPlan p = plan_placement(topo, pol, vms, {});
		unplaced = p.unplaced();
		benchmark::DoNotOptimize(p.vms.data());
	}
	state.counters["vms"] = static_cast<double>(vms.size());
	state.counters["unplaced"] = static_cast<double>(unplaced);
}
BENCHMARK(BM_PlacementPlan)->Arg(1)->Arg(2)->Unit(benchmark::kMicrosecond);

void BM_PlacementReplan(benchmark::State &state)
{
	Topology topo = uniform_topology(2, 128);
	PlacementPolicy pol = policy_with_ratio(topo, static_cast<double>(state.range(0)));
	std::vector<VmRequest> vms = hundred_vms(99);
	PlacementPlan before = plan_placement(topo, pol, vms, {});
	vms = hundred_vms(100);
	size_t kept = 0;
	for (auto _ : state) {
		PlacementPlan p = plan_placement(topo, pol, vms, before.vms);
		kept = p.kept;
		benchmark::DoNotOptimize(p.vms.data());
	}
	state.counters["kept"] = static_cast<double>(kept);
}
BENCHMARK(BM_PlacementReplan)->Arg(1)->Arg(2)->Unit(benchmark::kMicrosecond);

void BM_EventReconcile(benchmark::State &state)
{
	World &w = world();
	offl::testing::FakeSystemOps ops;
	for (const TaskInfo &t : w.snap.tasks)
		ops.add(t.tid, t.tgid, t.start_time, t.policy < 0 ? 0 : t.policy, t.nice);
	// a batch process: the event changes its policy
	pid_t target = 0;
	std::vector<Verdict> v = classify_all(w.snap, w.cfg.classify);
	for (size_t i = 0; i < w.snap.tasks.size() && !target; i++)
		if (v[i].cls == Class::Batch)
			target = w.snap.tasks[i].tgid;
	if (!target) {
		state.SkipWithError("no batch process in the generated host");
		return;
	}
	AgentOptions o;
	o.proc_root = w.tree.root();
	o.keep_on_exit = true;
	Config cfg = w.cfg;
	cfg.state_file = "";
	std::ostringstream logs, plan_out;
	Logger log(logs, LogLevel::Error);
	Agent agent(o, cfg, ops, log, plan_out);
	size_t changes = 0;
	for (auto _ : state) {
		state.PauseTiming();
		for (auto &[tid, t] : ops.tasks)
			if (t.tgid == target)
				t.attr.policy = 0; // the process was just (re)started online
		state.ResumeTiming();
		ReconcileReport r = agent.reconcile_pids({target});
		changes = r.changes;
	}
	state.counters["changes"] = static_cast<double>(changes);
}
BENCHMARK(BM_EventReconcile)->Unit(benchmark::kMicrosecond);

} // namespace

BENCHMARK_MAIN();
