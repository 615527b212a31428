// SPDX-License-Identifier: GPL-2.0
// Host task isolation on fake cgroup v2 and v1 trees: who is moved, the
// limits written, restore, crash + restart, dry run.
#include "agent.hpp"
#include "fake_proc.hpp"
#include "fake_sysops.hpp"
#include "hostcg.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

using namespace offl;
using offl::testing::FakeProcess;
using offl::testing::FakeProcTree;
using offl::testing::FakeSystemOps;
using offl::testing::FakeTask;
namespace fs = std::filesystem;

namespace {

std::string slurp(const std::string &path)
{
	std::ifstream in(path);
	std::stringstream s;
	s << in.rdbuf();
	return s.str();
}

std::vector<pid_t> pids_in(const std::string &file)
{
	std::vector<pid_t> out;
	std::istringstream in(slurp(file));
	pid_t p;
	while (in >> p)
		out.push_back(p);
	std::sort(out.begin(), out.end());
	return out;
}

class HostCgroupTest : public ::testing::TestWithParam<CgroupVersion> {
protected:
	void SetUp() override
	{
		v2_ = GetParam() == CgroupVersion::V2;
		cg_ = tree_.root() + "/cgroup";
		if (v2_) {
			fs::create_directories(cg_ + "/system.slice/rsyslog.service");
			fs::create_directories(cg_ + "/system.slice/ssh.service");
			std::ofstream(cg_ + "/cgroup.controllers") << "cpuset cpu io memory pids\n";
			std::ofstream(cg_ + "/cgroup.subtree_control") << "cpu\n";
		} else {
			fs::create_directories(cg_ + "/cpuset");
			fs::create_directories(cg_ + "/memory/system.slice/rsyslog.service");
			fs::create_directories(cg_ + "/memory/system.slice/ssh.service");
			std::ofstream(cg_ + "/cpuset/cpuset.cpus") << "0-7\n";
			std::ofstream(cg_ + "/cpuset/cpuset.mems") << "0-1\n";
		}
		config("");
		tree_.add_kthread(2, "kthreadd", 1);
		ops_.add(2, 2, 1);
		proc(1, "systemd", "/init.scope");
		proc(100, "sshd", "/system.slice/ssh.service");
		proc(200, "rsyslogd", "/system.slice/rsyslog.service", {201});
		proc(300, "hog", "/batch.slice");
		proc(400, "ovs-vswitchd", "/system.slice/ovs.service");
		proc(500, "node-exporter", "/system.slice/ne.service");
		FakeProcess q = make(600, "qemu-system-x86", "/machine.slice/machine-qemu-vm.scope", {601, 602});
		q.threads[0].comm = "CPU 0/KVM";
		q.threads[1].comm = "IO mon_iothread";
		add(q);
		FakeProcess rt = make(700, "rtapp", "/system.slice/rt.service", {});
		rt.leader.policy = kSchedFifo;
		rt.leader.rt_priority = 5;
		add(rt);
	}

	void config(const std::string &extra, const std::string &host_cgroup = "")
	{
		std::ofstream(tree_.root() + "/offlinectl.toml")
			<< "[agent]\nstate_file = \"" << state_ << "\"\n"
			<< "[classes.host]\npolicy = \"offline\"\n"
			<< "[placement]\nreserved_cpus = \"0,4\"\n"
			<< "[host_cgroup]\nenabled = true\nroot = \"" << cg_ << "\"\nmemory_max = \"1G\"\n"
			<< host_cgroup
			<< "[[rule]]\nclass = \"critical\"\ncomm = \"sshd\"\n"
			<< "[[rule]]\nclass = \"batch\"\ncomm = \"hog\"\n"
			<< "[[rule]]\nclass = \"exempt\"\ncomm = \"node-exporter\"\n"
			<< extra;
	}
	// v1: services sit in the root cpuset, their own memory cgroup.
	std::string proc_cgroup(const std::string &path, const std::string &cpuset = "/") const
	{
		if (v2_)
			return "0::" + path + "\n";
		return "12:memory:" + path + "\n11:cpuset:" + cpuset + "\n1:name=systemd:" + path + "\n";
	}
	FakeProcess make(pid_t pid, const std::string &comm, const std::string &cgroup, std::vector<pid_t> threads)
	{
		FakeProcess p = offl::testing::make_process(pid, comm, threads, {}, "/usr/sbin/");

		p.cgroup = proc_cgroup(cgroup);
		return p;
	}
	void add(const FakeProcess &p)
	{
		tree_.add(p);
		ops_.add(p.leader.tid, p.leader.tid, p.leader.start_time);
		for (const auto &t : p.threads)
			ops_.add(t.tid, p.leader.tid, t.start_time);
	}
	void proc(pid_t pid, const std::string &comm, const std::string &cgroup, std::vector<pid_t> threads = {})
	{
		add(make(pid, comm, cgroup, std::move(threads)));
	}
	// What the kernel would show after the moves.
	void kernel_moved(pid_t pid, const std::string &path)
	{
		tree_.write_file(std::to_string(pid) + "/cgroup", proc_cgroup(path, path));
	}
	std::unique_ptr<Agent> agent(bool dry = false)
	{
		AgentOptions o;
		o.proc_root = tree_.root();
		o.config_path = tree_.root() + "/offlinectl.toml";
		o.dry_run = dry;
		auto a = std::make_unique<Agent>(o, load_config(o.config_path), ops_, log_, plan_);
		auto st = std::make_unique<HostCgroupStage>(ops_, log_, a->config(), uniform_topology(2, 4), tree_.root());
		stage_ = st.get();
		a->add_stage(std::move(st));
		return a;
	}
	std::string dir(const std::string &hier, const std::string &path) const
	{
		return cg_ + (v2_ ? "" : "/" + hier) + path;
	}

	FakeProcTree tree_;
	FakeSystemOps ops_;
	std::ostringstream logs_;
	Logger log_{logs_, LogLevel::Debug};
	std::ostringstream plan_;
	std::string cg_;
	std::string state_ = tree_.root() + "/state.json";
	bool v2_ = true;
	HostCgroupStage *stage_ = nullptr;
};

} // namespace

TEST_P(HostCgroupTest, MovesHostAndCriticalOnly)
{
	auto a = agent();
	a->reconcile();
	EXPECT_EQ(stage_->version(), GetParam());
	const std::string cpuset = dir("cpuset", "/offlinectl-host");
	EXPECT_EQ(pids_in(cpuset + "/cgroup.procs"), (std::vector<pid_t>{100, 200})) << logs_.str();
	EXPECT_EQ(slurp(cpuset + "/cpuset.cpus"), "0,4\n");
	if (v2_) {
		EXPECT_EQ(slurp(cpuset + "/memory.max"), std::to_string(1ULL << 30) + "\n");
		std::string sc = slurp(cg_ + "/cgroup.subtree_control");
		EXPECT_NE(sc.find("+cpuset"), std::string::npos) << sc;
		EXPECT_NE(sc.find("+memory"), std::string::npos) << sc;
	} else {
		EXPECT_EQ(slurp(cpuset + "/cpuset.mems"), "0-1\n") << "v1 cpuset.mems inherited";
		const std::string mem = dir("memory", "/offlinectl-host");
		EXPECT_EQ(pids_in(mem + "/cgroup.procs"), (std::vector<pid_t>{100, 200}));
		EXPECT_EQ(slurp(mem + "/memory.limit_in_bytes"), std::to_string(1ULL << 30) + "\n");
	}
	// Once per process: a second pass writes nothing new.
	kernel_moved(100, "/offlinectl-host");
	kernel_moved(200, "/offlinectl-host");
	a->reconcile();
	EXPECT_EQ(pids_in(cpuset + "/cgroup.procs"), (std::vector<pid_t>{100, 200}));
	// A new host daemon is moved by the event path.
	proc(800, "crond", "/system.slice/cron.service");
	fs::create_directories(dir("memory", "/system.slice/cron.service"));
	a->reconcile_pids({800});
	EXPECT_EQ(pids_in(cpuset + "/cgroup.procs"), (std::vector<pid_t>{100, 200, 800}));
	kernel_moved(800, "/offlinectl-host");
	// Someone moves rsyslogd out again: left there, not restored.
	kernel_moved(200, "/elsewhere");
	a->finish();
	EXPECT_EQ(pids_in(dir("cpuset", "/system.slice/ssh.service") + "/cgroup.procs").size(), v2_ ? 1u : 0u);
	if (v2_) {
		EXPECT_EQ(pids_in(cg_ + "/system.slice/ssh.service/cgroup.procs"), (std::vector<pid_t>{100}));
		EXPECT_EQ(pids_in(cg_ + "/system.slice/cron.service/cgroup.procs"), (std::vector<pid_t>{800}));
		EXPECT_TRUE(pids_in(cg_ + "/system.slice/rsyslog.service/cgroup.procs").empty());
	} else {
		// v1: back to / in cpuset, to the service's memory cgroup.
		EXPECT_EQ(pids_in(cg_ + "/cpuset/cgroup.procs"), (std::vector<pid_t>{100, 800}));
		EXPECT_EQ(pids_in(cg_ + "/memory/system.slice/ssh.service/cgroup.procs"), (std::vector<pid_t>{100}));
	}
	EXPECT_NE(logs_.str().find("moved 2 of 3 process(es) back (1 had been moved elsewhere since)"),
		  std::string::npos)
		<< logs_.str();
}

// Issue 13 item 4: processes of cgroups other managers own (login
// sessions under user-UID.slice with their TasksMax, pods, VM scopes) are
// never moved out of them.
TEST_P(HostCgroupTest, SessionsPodsAndVmScopesStayWhereTheyAre)
{
	proc(810, "bash", "/user.slice/user-1000.slice/session-1.scope");
	proc(820, "pause", "/kubepods.slice/kubepods-besteffort.slice/pod1.slice");
	proc(830, "swtpm", "/machine.slice/machine-qemu-1-vm.scope");
	auto a = agent();
	a->reconcile();
	auto in = pids_in(dir("cpuset", "/offlinectl-host") + "/cgroup.procs");
	for (pid_t p : {810, 820, 830})
		EXPECT_EQ(std::count(in.begin(), in.end(), p), 0) << p << " was moved\n" << logs_.str();
	EXPECT_EQ(std::count(in.begin(), in.end(), 100), 1) << "sshd (system.slice) still moves";
}

TEST_P(HostCgroupTest, VmOrBatchBornInTheHostCgroupIsMovedOut)
{
	// A VM there is one of a VM owner (it is in no VM cgroup).
	config("[classify]\nvm_users = [64055]\n");
	auto a = agent();
	a->reconcile();
	// A host daemon starts a QEMU and a batch job: they inherit its
	// cgroup, where they would be confined to the reserved CPUs.
	FakeProcess q = make(900, "qemu-system-x86", "/offlinectl-host", {901});
	q.leader.uid = 64055;
	q.threads[0].uid = 64055;
	q.leader.ppid = 100; // started by sshd (a session), which came from ssh.service
	q.cgroup = proc_cgroup("/offlinectl-host", "/offlinectl-host");
	q.threads[0].comm = "CPU 0/KVM";
	add(q);
	FakeProcess b = make(950, "hog", "/offlinectl-host", {});
	b.leader.ppid = 100;
	b.cgroup = proc_cgroup("/offlinectl-host", "/offlinectl-host");
	add(b);
	FakeProcess e = make(960, "node-exporter", "/offlinectl-host", {});
	e.cgroup = proc_cgroup("/offlinectl-host", "/offlinectl-host");
	add(e);
	a->reconcile_pids({900, 950, 960});
	// Issue 13 item 4: back where their parent came from, never "/".
	EXPECT_EQ(pids_in(dir("cpuset", v2_ ? "/system.slice/ssh.service" : "/") + "/cgroup.procs"),
		  (std::vector<pid_t>{900, 950}))
		<< "the VM and the batch job leave, the exempt task is not touched\n" << logs_.str();
	if (!v2_) {
		EXPECT_EQ(pids_in(cg_ + "/memory/system.slice/ssh.service/cgroup.procs"), (std::vector<pid_t>{900, 950}));
	}
	EXPECT_NE(logs_.str().find("was born in /offlinectl-host: moved to /system.slice/ssh.service"),
		  std::string::npos) << logs_.str();
}

TEST_P(HostCgroupTest, PartitionRoot)
{
	config("", "partition = \"root\"\n");
	auto a = agent();
	a->reconcile();
	const std::string d = dir("cpuset", "/offlinectl-host");
	if (v2_) {
		EXPECT_EQ(slurp(d + "/cpuset.cpus.partition"), "root\n");
		EXPECT_NE(logs_.str().find("(partition root)"), std::string::npos) << logs_.str();
	} else {
		EXPECT_FALSE(fs::exists(d + "/cpuset.cpus.partition")) << "v1 has no partitions";
	}
}

TEST_P(HostCgroupTest, RestartedAgentRestoresTheEarlierRunsMoves)
{
	{
		auto a = agent();
		a->reconcile();
		// crash: no finish()
	}
	kernel_moved(100, "/offlinectl-host");
	kernel_moved(200, "/offlinectl-host");
	// Written ahead: in the snapshot or the log after it.
	ASSERT_NE((slurp(state_) + slurp(state_ + ".log")).find("host_cgroup"), std::string::npos);
	auto b = agent();
	b->finish();
	EXPECT_EQ(pids_in(dir("memory", "/system.slice/ssh.service") + "/cgroup.procs"), (std::vector<pid_t>{100}));
	EXPECT_FALSE(fs::exists(state_)) << "state file dropped once everything is restored";
}

TEST_P(HostCgroupTest, DryRunChangesNothing)
{
	auto a = agent(true);
	a->reconcile();
	EXPECT_FALSE(fs::exists(dir("cpuset", "/offlinectl-host")));
	std::string out = plan_.str();
	EXPECT_NE(out.find("would create cgroup offlinectl-host"), std::string::npos) << out;
	EXPECT_NE(out.find("would move 100 \"sshd\" [critical]"), std::string::npos) << out;
	EXPECT_NE(out.find("would move 200 \"rsyslogd\" [host]"), std::string::npos) << out;
	EXPECT_EQ(out.find("would move 300"), std::string::npos) << "batch is not moved by default";
	EXPECT_EQ(out.find("would move 600"), std::string::npos) << "VM moved";
	EXPECT_EQ(out.find("would move 1 "), std::string::npos) << "PID 1 moved";
}

TEST_P(HostCgroupTest, NoCgroupFsIsAWarningNotAFailure)
{
	fs::remove_all(cg_);
	auto a = agent();
	a->reconcile();
	EXPECT_NE(logs_.str().find("host tasks are not isolated"), std::string::npos);
	a->finish();
}

INSTANTIATE_TEST_SUITE_P(Versions, HostCgroupTest, ::testing::Values(CgroupVersion::V2, CgroupVersion::V1),
			 [](const auto &param_info) { return std::string(cgroup_version_name(param_info.param)); });

TEST_P(HostCgroupTest, SlicesAreLimitedInPlace)
{
	if (!v2_) {
		config("", "slices = [\"/system.slice\"]\n");
		auto a = agent();
		a->reconcile();
		EXPECT_NE(logs_.str().find("slices need cgroup v2"), std::string::npos) << logs_.str();
		EXPECT_FALSE(fs::exists(dir("cpuset", "/offlinectl-host"))) << "v1: nothing moved either";
		return;
	}
	fs::create_directories(cg_ + "/user.slice");
	for (const char *sl : {"/system.slice", "/user.slice"}) {
		std::ofstream(cg_ + sl + "/cpuset.cpus") << "\n";
		std::ofstream(cg_ + sl + "/memory.max") << "max\n";
	}
	config("", "slices = [\"/system.slice\", \"/user.slice\", \"/nope.slice\"]\n");
	{
		auto a = agent();
		a->reconcile();
		EXPECT_FALSE(fs::exists(cg_ + "/offlinectl-host")) << "slices mode moves nobody";
		EXPECT_TRUE(pids_in(cg_ + "/system.slice/ssh.service/cgroup.procs").empty());
		EXPECT_EQ(slurp(cg_ + "/system.slice/cpuset.cpus"), "0,4\n");
		EXPECT_EQ(slurp(cg_ + "/user.slice/memory.max"), std::to_string(1ULL << 30) + "\n");
		EXPECT_NE(slurp(cg_ + "/cgroup.subtree_control").find("+cpuset"), std::string::npos);
		EXPECT_NE(logs_.str().find("/nope.slice does not exist"), std::string::npos);
		// systemd rewrote it (daemon-reload): the next pass fixes it.
		std::ofstream(cg_ + "/system.slice/cpuset.cpus") << "0-7\n";
		a->reconcile();
		EXPECT_EQ(slurp(cg_ + "/system.slice/cpuset.cpus"), "0,4\n");
		// crash: no finish()
	}
	auto b = agent();
	b->finish();
	EXPECT_EQ(slurp(cg_ + "/system.slice/cpuset.cpus"), "\n") << "restored by the restarted agent";
	EXPECT_EQ(slurp(cg_ + "/user.slice/memory.max"), "max\n");
	EXPECT_FALSE(fs::exists(state_));
}

TEST(CgroupFs, PathOfAHierarchy)
{
	const char *v1 = "12:memory:/system.slice/a.service\n11:cpuset,cpu:/x\n1:name=systemd:/system.slice/a.service\n"
			 "0::/user.slice\n";
	EXPECT_EQ(cgroup_path_of(v1, "memory"), std::optional<std::string>("/system.slice/a.service"));
	EXPECT_EQ(cgroup_path_of(v1, "cpu"), std::optional<std::string>("/x"));
	EXPECT_EQ(cgroup_path_of(v1, "cpuset"), std::optional<std::string>("/x"));
	EXPECT_EQ(cgroup_path_of(v1, ""), std::optional<std::string>("/user.slice"));
	EXPECT_FALSE(cgroup_path_of(v1, "blkio"));
	EXPECT_FALSE(cgroup_path_of("garbage", ""));
}
