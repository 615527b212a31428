// SPDX-License-Identifier: GPL-2.0
// Agent micro-benchmarks (design section 6, metric 6):
//   BM_ScanAndClassify   full scan of a 10,000-task fake /proc tree in the
//                        real file formats + classification (target
//                        <= 150 ms on one core)
//   BM_Scan              the scan alone
//   BM_ClassifyOnly      classification of 10,000 parsed tasks (<= 5 ms)
//   BM_Plan              plan (what to change) for 10,000 classified tasks
//   BM_ParseStat         one /proc/<pid>/stat line
// The tree lives in $TMPDIR (use a tmpfs for numbers close to /proc, which
// is memory-backed too).
#include "apply.hpp"
#include "classify.hpp"
#include "config.hpp"
#include "fake_proc.hpp"
#include "procfs.hpp"

#include <benchmark/benchmark.h>

#include <memory>

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

} // namespace

BENCHMARK_MAIN();
