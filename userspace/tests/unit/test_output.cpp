// SPDX-License-Identifier: GPL-2.0
#include "fake_proc.hpp"
#include "output.hpp"
#include "top.hpp"
#include "vm.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <sstream>
#include <thread>

using namespace offl;
using offl::testing::FakeProcess;
using offl::testing::FakeProcTree;
using offl::testing::FakeTask;

namespace {

void add_vm(FakeProcTree &tree, pid_t pid, int vcpus)
{
	FakeProcess p;
	p.leader.tid = pid;
	p.leader.comm = "qemu-system-x86";
	p.leader.start_time = 50;
	p.exe = "/usr/bin/qemu-system-x86_64";
	p.argv = {p.exe, "-name", "guest=web1,debug-threads=on", "-smp", std::to_string(vcpus)};
	p.cgroup = "0::/machine.slice/machine-qemu\\x2d1\\x2dweb1.scope/libvirt/emulator\n";
	for (int i = 0; i < vcpus; i++) {
		FakeTask t = p.leader;
		t.tid = pid + 1 + i;
		t.comm = "CPU " + std::to_string(vcpus - 1 - i) + "/KVM"; // out of order
		t.cpu_ns = 1000;
		p.threads.push_back(t);
	}
	FakeTask io = p.leader;
	io.tid = pid + 1 + vcpus;
	io.comm = "IO mon_iothread";
	p.threads.push_back(io);
	tree.add(p);
}

Config cfg_with_rule()
{
	Config c = parse_config("[agent]\nstate_file = \"\"\n[classes.host]\npolicy = \"offline\"\n"
				"[[rule]]\nname = \"crit\"\nclass = \"critical\"\ncomm = \"sshd\"\n",
				"/etc/offlinectl/offlinectl.toml");
	return c;
}

void add_simple(FakeProcTree &tree, pid_t pid, const std::string &comm, int policy = 0)
{
	FakeProcess p;
	p.leader.tid = pid;
	p.leader.comm = comm;
	p.leader.policy = policy;
	p.leader.cpu_ns = 5'000'000;
	p.exe = "/usr/sbin/" + comm;
	p.argv = {p.exe};
	tree.add(p);
}

} // namespace

TEST(VmName, FromCmdline)
{
	EXPECT_EQ(qemu_vm_name("qemu -name guest=web1,debug-threads=on"), "web1");
	EXPECT_EQ(qemu_vm_name("qemu -name web2"), "web2");
	EXPECT_EQ(qemu_vm_name("qemu -name debug-threads=on,web3"), "web3");
	EXPECT_EQ(qemu_vm_name("qemu -m 1G"), "");
}

TEST(Status, CountsVmsAndCpus)
{
	FakeProcTree tree;
	tree.add_kthread(2, "kthreadd");
	add_simple(tree, 1, "systemd");
	add_simple(tree, 10, "sshd");
	add_simple(tree, 20, "cron", kSchedOffline);
	add_vm(tree, 100, 3);
	tree.write_file("sched_offline",
			"cpu online_avg_pct capacity nr_offline offline_runtime_ns preempts pulls pushes guard_bursts\n"
			"0 25.0 768 1 1000 2 3 4 5\n1 0.0 1024 0 0 0 0 0 0\n");
	tree.write_file("sys/kernel/sched_offline_period_us", "100000\n");

	Config cfg = cfg_with_rule();
	StatusData s = collect_status(ProcFs(tree.root()), cfg, "9.9");
	EXPECT_TRUE(s.kernel.sched_offline);
	EXPECT_EQ(s.kernel.offline_policy, kSchedOffline);
	ASSERT_EQ(s.kernel.sysctls.size(), 1u);
	EXPECT_EQ(s.kernel.sysctls[0].second, "100000");
	EXPECT_EQ(s.tasks, 9u);
	EXPECT_EQ(s.classes[static_cast<size_t>(Class::Vcpu)].tasks, 3u);
	EXPECT_EQ(s.classes[static_cast<size_t>(Class::VmService)].tasks, 2u);
	EXPECT_EQ(s.classes[static_cast<size_t>(Class::Critical)].tasks, 1u);
	EXPECT_EQ(s.classes[static_cast<size_t>(Class::Host)].tasks, 1u);
	EXPECT_EQ(s.classes[static_cast<size_t>(Class::Host)].offline, 1u);
	EXPECT_EQ(s.classes[static_cast<size_t>(Class::Host)].would_change, 0u);
	EXPECT_EQ(s.classes[static_cast<size_t>(Class::Exempt)].tasks, 2u);
	ASSERT_EQ(s.vms.size(), 1u);
	EXPECT_EQ(s.vms[0].name, "web1");
	ASSERT_EQ(s.vms[0].vcpus.size(), 3u);
	EXPECT_EQ(s.vms[0].vcpus[0].index, 0);
	EXPECT_EQ(s.vms[0].vcpus[0].tid, 103);
	ASSERT_TRUE(s.cpus);
	EXPECT_EQ(s.cpus->rows[0].capacity, 768);

	std::ostringstream text;
	print_status(s, text);
	EXPECT_NE(text.str().find("SCHED_OFFLINE available"), std::string::npos) << text.str();
	EXPECT_NE(text.str().find("name \"web1\": 3 vCPU thread(s) [0:103 1:102 2:101]"), std::string::npos)
		<< text.str();

	auto j = nlohmann::json::parse(status_json(s));
	EXPECT_EQ(j["version"], "9.9");
	EXPECT_EQ(j["kernel"]["offline_policy"], 8);
	EXPECT_EQ(j["classes"]["vcpu"]["tasks"], 3);
	EXPECT_EQ(j["classes"]["host"]["policy"], "offline");
	EXPECT_EQ(j["vms"][0]["vcpus"].size(), 3u);
	EXPECT_EQ(j["cpus"][1]["capacity"], 1024);
	EXPECT_EQ(j["config"]["path"], "/etc/offlinectl/offlinectl.toml");
	EXPECT_EQ(j["exempt_by_reason"]["kernel-thread"], 1);
	EXPECT_EQ(j["exempt_by_reason"]["pid1"], 1);
	EXPECT_TRUE(j["agent_pid"].is_null());
}

TEST(Status, WithoutSchedOffline)
{
	FakeProcTree tree;
	add_simple(tree, 20, "cron", kSchedIdle);
	StatusData s = collect_status(ProcFs(tree.root()), default_config(), "1");
	EXPECT_FALSE(s.kernel.sched_offline);
	EXPECT_EQ(s.kernel.offline_policy, kSchedIdle);
	EXPECT_FALSE(s.cpus);
	auto j = nlohmann::json::parse(status_json(s));
	EXPECT_TRUE(j["cpus"].is_null());
	EXPECT_EQ(j["classes"]["host"]["offline"], 1);
	std::ostringstream text;
	print_status(s, text);
	EXPECT_NE(text.str().find("SCHED_IDLE"), std::string::npos);
	EXPECT_NE(text.str().find("built-in defaults"), std::string::npos);
}

TEST(Explain, VcpuThreadAndRule)
{
	FakeProcTree tree;
	add_vm(tree, 100, 2);
	add_simple(tree, 10, "sshd", kSchedOffline);
	tree.write_file("101/status", FakeProcTree::status_text([] {
		FakeTask t;
		t.tid = 101;
		return t;
	}(), 100, 4, false));
	Config cfg = cfg_with_rule();
	ProcFs fs(tree.root());

	auto e = collect_explain(fs, cfg, 101, kSchedOffline);
	ASSERT_TRUE(e);
	EXPECT_EQ(e->tasks[0].task.tid, 101);
	EXPECT_EQ(e->tasks[0].verdict.cls, Class::Vcpu);
	EXPECT_EQ(e->tasks.size(), 4u);
	std::ostringstream out;
	print_explain(*e, out);
	EXPECT_NE(out.str().find("thread of process 100"), std::string::npos) << out.str();
	EXPECT_NE(out.str().find("vCPU 1"), std::string::npos) << out.str();
	EXPECT_NE(out.str().find("nothing to do"), std::string::npos) << out.str();

	e = collect_explain(fs, cfg, 10, kSchedOffline);
	ASSERT_TRUE(e);
	EXPECT_EQ(e->tasks[0].verdict.cls, Class::Critical);
	EXPECT_EQ(e->tasks[0].plan, "SCHED_OFFLINE -> SCHED_OTHER (mark online)");
	auto j = nlohmann::json::parse(explain_json(*e));
	EXPECT_EQ(j["tasks"][0]["class"], "critical");
	EXPECT_EQ(j["tasks"][0]["rule"], 0);
	EXPECT_NE(j["tasks"][0]["why"].get<std::string>().find("/etc/offlinectl/offlinectl.toml:5"),
		  std::string::npos);

	EXPECT_FALSE(collect_explain(fs, cfg, 9999, kSchedOffline));
}

TEST(Top, RatesFromTwoSamples)
{
	TopSample a, b;
	a.mono_ns = 0;
	b.mono_ns = 1'000'000'000;
	a.tasks[{10, 1}] = {Class::Batch, kSchedOffline, 1'000'000'000};
	b.tasks[{10, 1}] = {Class::Batch, kSchedOffline, 1'500'000'000};
	b.tasks[{11, 1}] = {Class::Vcpu, kSchedOther, 9'000'000'000}; // new: not counted
	a.offline = parse_sched_offline("cpu capacity offline_runtime_ns preempts\n0 1024 0 0\n");
	b.offline = parse_sched_offline("cpu capacity offline_runtime_ns preempts\n0 512 250000000 40\n");
	a.cpus = parse_proc_stat_cpus("cpu  1 1 1 1\ncpu0 100 0 0 100 0 0 0 0\n");
	b.cpus = parse_proc_stat_cpus("cpu  1 1 1 1\ncpu0 150 0 0 150 0 0 0 0\n");
	TopView v = compute_top(a, b, kSchedOffline);
	EXPECT_NEAR(v.classes[static_cast<size_t>(Class::Batch)].cpu_pct, 50.0, 1e-6);
	EXPECT_EQ(v.classes[static_cast<size_t>(Class::Batch)].offline, 1u);
	EXPECT_EQ(v.classes[static_cast<size_t>(Class::Vcpu)].tasks, 1u);
	EXPECT_NEAR(v.classes[static_cast<size_t>(Class::Vcpu)].cpu_pct, 0.0, 1e-6);
	ASSERT_EQ(v.cpus.size(), 1u);
	EXPECT_EQ(*v.cpus[0].capacity, 512);
	EXPECT_NEAR(*v.cpus[0].offline_pct, 25.0, 1e-6);
	EXPECT_NEAR(*v.cpus[0].preempts_per_s, 40.0, 1e-6);
	EXPECT_NEAR(*v.cpus[0].busy_pct, 50.0, 1e-6);
	std::ostringstream out;
	print_top(v, out);
	EXPECT_NE(out.str().find("batch"), std::string::npos);
}

TEST(Top, SampleOfAFakeTree)
{
	FakeProcTree tree;
	add_simple(tree, 10, "sshd");
	tree.write_file("stat", "cpu  1 2 3 4\ncpu0 1 2 3 4 0 0 0 0\ncpu1 1 2 3 4 0 0 0 0\nintr 5\n");
	Config cfg = cfg_with_rule();
	TopSample s = take_top_sample(ProcFs(tree.root()), cfg.classify);
	ASSERT_EQ(s.tasks.size(), 1u);
	EXPECT_EQ(s.tasks.begin()->second.cpu_ns, 5'000'000u);
	EXPECT_EQ(s.tasks.begin()->second.cls, Class::Critical);
	EXPECT_EQ(s.cpus.size(), 2u);
}

TEST(Status, RunningAgentFromPidFile)
{
	FakeProcTree tree;
	add_simple(tree, 77, "offlinectl");
	add_simple(tree, 78, "other");
	Config cfg = default_config();
	cfg.state_file = tree.root() + "/run/state.json";
	EXPECT_EQ(agent_pidfile(cfg), tree.root() + "/run/agent.pid");
	ProcFs fs(tree.root());
	EXPECT_EQ(running_agent(fs, cfg), 0);
	tree.write_file("run/agent.pid", "77\n");
	EXPECT_EQ(running_agent(fs, cfg), 77);
	tree.write_file("run/agent.pid", "78\n"); // stale: pid reused
	EXPECT_EQ(running_agent(fs, cfg), 0);
	tree.write_file("run/agent.pid", "garbage");
	EXPECT_EQ(running_agent(fs, cfg), 0);
}

TEST(Status, VmBindingsNodesAndSteal)
{
	FakeProcTree tree;
	add_simple(tree, 1, "systemd");
	add_vm(tree, 100, 2); // vCPU 1 = tid 101, vCPU 0 = tid 102
	tree.write_file("sysfs/devices/system/cpu/online", "0-7\n");
	tree.write_file("sysfs/devices/system/node/node0/cpulist", "0-3\n");
	tree.write_file("sysfs/devices/system/node/node1/cpulist", "4-7\n");
	auto bind = [&](pid_t tid, const std::string &cpus) {
		FakeTask t;
		t.tid = tid;
		t.cpus = cpus;
		tree.write_file("100/task/" + std::to_string(tid) + "/status",
				FakeProcTree::status_text(t, 100, 4, false));
	};
	bind(101, "5");
	bind(102, "6");
	bind(100, "4");
	Config cfg = cfg_with_rule();
	StatusOptions so;
	so.sys_root = tree.root() + "/sysfs";
	so.steal_interval_s = 0.2;
	// vCPU 0 waits 50 ms on a run queue during the sampling interval.
	std::thread waiter([&] {
		std::this_thread::sleep_for(std::chrono::milliseconds(50));
		tree.write_file("100/task/102/schedstat", "1000 50001000 11\n");
	});
	StatusData s = collect_status(ProcFs(tree.root()), cfg, "9.9", so);
	waiter.join();
	ASSERT_EQ(s.vm_status.size(), 1u);
	const VmStatus &vs = s.vm_status[0];
	EXPECT_EQ(s.topology, "node0 0-3, node1 4-7");
	EXPECT_EQ(vs.node, 1);
	EXPECT_EQ(vs.emulator_cpus, "4");
	ASSERT_EQ(vs.vcpus.size(), 2u);
	EXPECT_EQ(vs.vcpus[0].tid, 102);
	EXPECT_EQ(vs.vcpus[0].cpus, "6");
	EXPECT_EQ(vs.vcpus[0].node, 1);
	// 50 ms of 200+ ms.
	EXPECT_GT(vs.vcpus[0].steal_pct, 10.0);
	EXPECT_LE(vs.vcpus[0].steal_pct, 25.1);
	EXPECT_EQ(vs.vcpus[1].steal_pct, 0.0);
	std::ostringstream text;
	print_status(s, text);
	EXPECT_NE(text.str().find("node 1, emulator threads on CPUs 4"), std::string::npos) << text.str();
	EXPECT_NE(text.str().find("vCPU 1   tid 101     CPUs 5            node 1   steal 0.0%"), std::string::npos)
		<< text.str();
	auto j = nlohmann::json::parse(status_json(s));
	EXPECT_EQ(j["vms"][0]["node"], 1);
	EXPECT_EQ(j["vms"][0]["vcpus"][0]["cpus"], "6");
	EXPECT_GT(j["vms"][0]["vcpus"][0]["steal_pct"].get<double>(), 10.0);
	// A VM spread over both nodes has no node.
	bind(101, "1");
	so.steal_interval_s = 0;
	StatusData t = collect_status(ProcFs(tree.root()), cfg, "9.9", so);
	EXPECT_EQ(t.vm_status[0].node, -1);
	EXPECT_LT(t.vm_status[0].vcpus[0].steal_pct, 0) << "not sampled";
	EXPECT_TRUE(nlohmann::json::parse(status_json(t))["vms"][0]["node"].is_null());
}
