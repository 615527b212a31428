// SPDX-License-Identifier: GPL-2.0
#include "classify.hpp"
#include "config.hpp"
#include "fake_proc.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <regex>

using namespace offl;

namespace {

struct T {
	ProcessInfo p;
	TaskInfo t;
};

T task(pid_t tgid, pid_t tid, const std::string &comm, const std::string &thread_comm = "")
{
	T x;
	x.p.tgid = tgid;
	x.p.comm = comm;
	x.p.exe = "/usr/bin/" + comm;
	x.p.argv0 = x.p.exe;
	x.p.cmdline = x.p.exe + " --serve";
	x.p.cgroup = "/system.slice/" + comm + ".service";
	x.p.uid = 0;
	x.p.exe_uid = 0; // an installed binary: root's, 0755
	x.p.exe_gid = 0;
	x.p.exe_mode = 0755;
	x.t.tid = tid;
	x.t.tgid = tgid;
	x.t.comm = thread_comm.empty() ? comm : thread_comm;
	x.t.policy = kSchedOther;
	x.t.state = 'S';
	x.t.uid = 0;
	return x;
}

Rule rule(Class c, const std::string &name)
{
	Rule r;
	r.cls = c;
	r.name = name;
	return r;
}

ClassifyPolicy catch_all(Class c)
{
	ClassifyPolicy pol;
	Rule r = rule(c, "everything");
	r.comm = Matcher(".*");
	pol.rules.push_back(r);
	return pol;
}

} // namespace

TEST(Matcher, LiteralAlternationIsExact)
{
	Matcher m("sshd|libvirtd|kubelet");
	EXPECT_TRUE(m.match("sshd"));
	EXPECT_TRUE(m.match("kubelet"));
	EXPECT_FALSE(m.match("sshd-session"));
	EXPECT_FALSE(m.match("xsshd"));
	EXPECT_FALSE(m.match(""));
}

TEST(Matcher, RegexIsAnchored)
{
	Matcher m("qemu-.*");
	EXPECT_TRUE(m.match("qemu-kvm"));
	EXPECT_FALSE(m.match("my-qemu-kvm"));
	Matcher n("(a|b)+");
	EXPECT_TRUE(n.match("abba"));
	EXPECT_FALSE(n.match("abc"));
	EXPECT_THROW(Matcher("(unclosed"), PatternError);
	EXPECT_THROW(Matcher("(a)\\1"), PatternError); // backreference: not RE2
	Matcher any(".*x");
	EXPECT_FALSE(any.match(std::string(100000, 'a')));
}

// Issue 13 item 3: a rule with nested quantifiers against a 4 KiB command
// line a user crafted.  std::regex (backtracking) takes exponential time on
// this; RE2 is linear.  The bound is generous: a 2-core build box, loaded.
TEST(Matcher, NestedQuantifiersStayLinear)
{
	const std::vector<std::string> patterns = {"(a+)+b", "(a|aa)*c", "(.*a){12}x", "(a*)*b.*"};
	const std::string input(4096, 'a');
	for (const auto &pat : patterns) {
		Matcher m(pat);
		auto t0 = std::chrono::steady_clock::now();
		EXPECT_FALSE(m.match(input)) << pat;
		auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
				  .count();
		EXPECT_LT(ms, 200) << pat;
	}
}

TEST(Matcher, FastPathsAgreeWithStdRegex)
{
	const std::vector<std::string> patterns = {"qemu.*", ".*KVM", ".*agent_e2e.*", "sshd|kubelet", "a",
						   ".*", ".*a.*b.*", "(x|y).*", ".*-jar /opt/.*", "a\\.*"};
	const std::vector<std::string> inputs = {"", "qemu", "qemu-kvm", "CPU 0/KVM", "KVM", "x agent_e2e.sh y",
						 "agent_e2e", "sshd", "kubelet", "a", "ab", "a.", "a..",
						 "java -jar /opt/app.jar", "line\nqemu", "qemu\nx", "x\nKVM",
						 "ag\nent_e2e"};
	for (const auto &pat : patterns) {
		Matcher m(pat);
		std::regex re(pat, std::regex::ECMAScript);
		for (const auto &in : inputs)
			EXPECT_EQ(m.match(in), std::regex_match(in, re)) << "pattern " << pat << " input " << in;
	}
}

TEST(CgroupUnder, ComponentBoundaries)
{
	EXPECT_TRUE(cgroup_under("/batch.slice", "/batch.slice"));
	EXPECT_TRUE(cgroup_under("/batch.slice/job.scope", "/batch.slice"));
	EXPECT_TRUE(cgroup_under("/batch.slice/job.scope", "/batch.slice/"));
	EXPECT_FALSE(cgroup_under("/batch.slicex", "/batch.slice"));
	EXPECT_FALSE(cgroup_under("/", "/batch.slice"));
	EXPECT_TRUE(cgroup_under("/anything", "/"));
	EXPECT_FALSE(cgroup_under("", "/"));
}

TEST(Classify, BuiltinExemptionsBeatEveryRule)
{
	ClassifyPolicy pol = catch_all(Class::Batch);
	pol.self_tgid = 4242;

	T init = task(1, 1, "systemd");
	EXPECT_EQ(classify(init.t, init.p, pol), (Verdict{Class::Exempt, Reason::Pid1}));
	T init_thread = task(1, 5, "systemd", "sd-worker");
	EXPECT_EQ(classify(init_thread.t, init_thread.p, pol).reason, Reason::Pid1);

	T kt = task(12, 12, "ksoftirqd/0");
	kt.t.flags = kPfKthread;
	kt.p.kthread = true;
	EXPECT_EQ(classify(kt.t, kt.p, pol).reason, Reason::KernelThread);
	T kthreadd = task(2, 2, "kthreadd");
	EXPECT_EQ(classify(kthreadd.t, kthreadd.p, pol).reason, Reason::KernelThread);
	// A task flagged PF_KTHREAD is exempt whatever its process looks like.
	T kflag = task(50, 50, "weird");
	kflag.t.flags = kPfKthread;
	EXPECT_EQ(classify(kflag.t, kflag.p, pol).reason, Reason::KernelThread);

	T self = task(4242, 4243, "offlinectl");
	EXPECT_EQ(classify(self.t, self.p, pol).reason, Reason::Self);

	T zombie = task(300, 300, "defunct");
	zombie.t.state = 'Z';
	EXPECT_EQ(classify(zombie.t, zombie.p, pol).reason, Reason::Exiting);

	for (int rt : {kSchedFifo, kSchedRr, kSchedDeadline}) {
		T r = task(400, 400, "rtapp");
		r.t.policy = rt;
		EXPECT_EQ(classify(r.t, r.p, pol).reason, Reason::Realtime);
	}
	T normal = task(500, 500, "worker");
	EXPECT_EQ(classify(normal.t, normal.p, pol), (Verdict{Class::Batch, Reason::Rule, 0}));
}

TEST(Classify, RealtimeClassifiedOnlyWhenAsked)
{
	ClassifyPolicy pol = catch_all(Class::Batch);
	pol.classify_realtime = true;
	T r = task(400, 400, "rtapp");
	r.t.policy = kSchedFifo;
	EXPECT_EQ(classify(r.t, r.p, pol).cls, Class::Batch);
	// PID 1 and kernel threads stay exempt even then.
	T init = task(1, 1, "systemd");
	init.t.policy = kSchedFifo;
	EXPECT_EQ(classify(init.t, init.p, pol).reason, Reason::Pid1);
}

TEST(Classify, OpenVswitchExemptByDefault)
{
	ClassifyPolicy pol = catch_all(Class::Batch);
	T ovs = task(600, 601, "ovs-vswitchd", "handler12");
	EXPECT_EQ(classify(ovs.t, ovs.p, pol).reason, Reason::OpenVswitch);
	T db = task(700, 700, "renamed");
	db.p.exe = "/usr/sbin/ovsdb-server";
	EXPECT_EQ(classify(db.t, db.p, pol).reason, Reason::OpenVswitch);
	pol.exempt_openvswitch = false;
	EXPECT_EQ(classify(ovs.t, ovs.p, pol).cls, Class::Batch);
}

TEST(Classify, QemuOnlyByRootOwnedExeInVmCgroupOrOfVmUser)
{
	ClassifyPolicy pol = catch_all(Class::Batch);
	pol.vm_uids = {64055};
	auto vm = [](pid_t tgid, pid_t tid, const std::string &exe, const std::string &thread) {
		T x = task(tgid, tid, "qemu-system-x86", thread);
		x.p.exe = exe;
		x.p.argv0 = exe;
		x.p.cgroup = "/machine.slice/machine-qemu\\x2d1\\x2dvm.scope/libvirt/emulator";
		return x;
	};
	T a = vm(800, 801, "/usr/bin/qemu-system-x86_64", "CPU 0/KVM");
	EXPECT_EQ(qemu_match(a.p, pol), "exe+cgroup");
	EXPECT_EQ(classify(a.t, a.p, pol), (Verdict{Class::Vcpu, Reason::VmVcpu, -1, 0}));

	// libvirt-qemu's VM outside machine.slice: by uid.
	T b = vm(810, 815, "/usr/bin/qemu-system-aarch64", "CPU 7/TCG");
	b.p.cgroup = "/system.slice/whatever.service";
	b.p.uid = 64055;
	EXPECT_EQ(qemu_match(b.p, pol), "exe+uid");
	EXPECT_EQ(classify(b.t, b.p, pol).vcpu, 7);

	// KubeVirt: a pod cgroup.
	T k = vm(820, 821, "/usr/libexec/qemu-kvm", "IO mon_iothread");
	k.p.cgroup = "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-podX.slice/cri-containerd-Y.scope";
	k.p.uid = 107;
	EXPECT_EQ(qemu_match(k.p, pol), "exe+cgroup");
	EXPECT_EQ(classify(k.t, k.p, pol), (Verdict{Class::VmService, Reason::VmService}));

	// The main thread and vhost workers are vm-service.
	T main_thread = vm(800, 800, "/usr/bin/qemu-system-x86_64", "qemu-system-x86");
	EXPECT_EQ(classify(main_thread.t, main_thread.p, pol).cls, Class::VmService);
	T vhost = vm(800, 830, "/usr/bin/qemu-system-x86_64", "vhost-800");
	EXPECT_EQ(classify(vhost.t, vhost.p, pol).cls, Class::VmService);

	// Not QEMU: a thread called "CPU 0/KVM" elsewhere is just a task.
	T fake = task(900, 901, "myapp", "CPU 0/KVM");
	EXPECT_EQ(classify(fake.t, fake.p, pol).cls, Class::Batch);
	T kvmtool = vm(910, 910, "/usr/bin/kvm", "kvm");
	EXPECT_EQ(classify(kvmtool.t, kvmtool.p, pol).cls, Class::Batch);
	pol.extra_vm_names = {"kvm"};
	EXPECT_EQ(classify(kvmtool.t, kvmtool.p, pol).cls, Class::VmService);
	pol.detect_vms = false;
	EXPECT_EQ(classify(a.t, a.p, pol).cls, Class::Batch);
}

// Issue 13 item 1: what a user can forge never makes a VM.
TEST(Classify, ForgedQemuIsNotAVm)
{
	ClassifyPolicy pol = catch_all(Class::Host);
	pol.vm_uids = {64055};
	auto user = [](const std::string &comm, const std::string &exe, const std::string &argv0) {
		T x = task(1200, 1201, comm, "CPU 0/KVM");
		x.p.exe = exe;
		x.p.argv0 = argv0;
		x.p.uid = 1000;
		x.t.uid = 1000;
		x.p.cgroup = "/user.slice/user-1000.slice/session-3.scope";
		return x;
	};
	// prctl(PR_SET_NAME, "qemu-system-x86"): comm only.
	T by_comm = user("qemu-system-x86", "/usr/bin/python3", "python3");
	// exec -a qemu-system-x86_64 job
	T by_argv0 = user("job", "/home/u/job", "qemu-system-x86_64");
	by_argv0.p.exe_uid = 1000;
	// a copy of the real binary in the user's home
	T by_copy = user("qemu-system-x86", "/home/u/qemu-system-x86_64", "/home/u/qemu-system-x86_64");
	by_copy.p.exe_uid = 1000;
	// the real, root-owned binary run by the user in their session
	T real_bin = user("qemu-system-x86", "/usr/bin/qemu-system-x86_64", "qemu-system-x86_64");
	// a root-owned binary anyone may write
	T writable = user("qemu-system-x86", "/opt/qemu-system-x86_64", "qemu-system-x86_64");
	writable.p.cgroup = "/machine.slice/machine-qemu\\x2d2\\x2dvm.scope";
	writable.p.exe_mode = 0777;
	for (const T *x : {&by_comm, &by_argv0, &by_copy, &real_bin, &writable}) {
		EXPECT_EQ(qemu_match(x->p, pol), "") << x->p.exe;
		Verdict v = classify(x->t, x->p, pol);
		EXPECT_EQ(v.cls, Class::Host) << x->p.exe;
		EXPECT_NE(describe(v, x->t, x->p, pol).find("not a VM"), std::string::npos)
			<< describe(v, x->t, x->p, pol);
	}
	// A user's process in a "machine-qemu" cgroup of its own making is
	// impossible (root's cgroups), but a lookalike name elsewhere is not:
	T lookalike = user("qemu-system-x86", "/usr/bin/qemu-system-x86_64", "qemu-system-x86_64");
	lookalike.p.cgroup = "/user.slice/user-1000.slice/machine-qemu-x.scope";
	EXPECT_EQ(qemu_match(lookalike.p, pol), "");
}

TEST(Classify, ForgedOpenVswitchAndCriticalAreNotGranted)
{
	ClassifyPolicy pol = catch_all(Class::Host);
	// A user process named ovs-vswitchd (comm, or a copy of the binary).
	T ovs = task(1300, 1300, "ovs-vswitchd");
	ovs.p.exe = "/home/u/ovs-vswitchd";
	ovs.p.exe_uid = 1000;
	ovs.p.uid = 1000;
	ovs.p.cgroup = "/user.slice/user-1000.slice/session-3.scope";
	EXPECT_EQ(classify(ovs.t, ovs.p, pol).cls, Class::Host);
	// The real binary run by a user outside system.slice.
	ovs.p.exe = "/usr/sbin/ovs-vswitchd";
	ovs.p.exe_uid = 0;
	EXPECT_EQ(classify(ovs.t, ovs.p, pol).cls, Class::Host);
	// Run by root: exempt.
	ovs.p.uid = 0;
	EXPECT_EQ(classify(ovs.t, ovs.p, pol).reason, Reason::OpenVswitch);

	// The shipped critical rule: exe + uid 0.  A user's sshd (comm, a
	// copy, or the real binary run as the user) is not critical.
	Config cfg = load_config(std::string(OFFLINECTL_EXAMPLES_DIR) + "/offlinectl.toml");
	EXPECT_TRUE(config_warnings(cfg).empty()) << config_warnings(cfg).front();
	T sshd = task(1400, 1400, "sshd");
	sshd.p.exe = "/home/u/sshd";
	sshd.p.exe_uid = 1000;
	sshd.p.uid = 1000;
	sshd.p.cgroup = "/user.slice/user-1000.slice/session-3.scope";
	EXPECT_EQ(classify(sshd.t, sshd.p, cfg.classify).cls, Class::Host);
	sshd.p.exe = "/usr/sbin/sshd";
	sshd.p.exe_uid = 0;
	EXPECT_EQ(classify(sshd.t, sshd.p, cfg.classify).cls, Class::Host);
	sshd.p.uid = 0;
	EXPECT_EQ(classify(sshd.t, sshd.p, cfg.classify).cls, Class::Critical);
	// Root's sshd replaced by a file someone else may write: no grant.
	sshd.p.exe_mode = 0757;
	EXPECT_EQ(classify(sshd.t, sshd.p, cfg.classify).cls, Class::Host);
}

TEST(Config, WarnsAboutGrantsByName)
{
	Config c = parse_config("[[rule]]\nclass = \"critical\"\ncomm = \"sshd\"\n"
				"[[rule]]\nclass = \"exempt\"\nexe = \"/usr/sbin/foo\"\n"
				"[[rule]]\nclass = \"critical\"\nexe = \"/usr/sbin/foo\"\nuid = 0\n"
				"[[rule]]\nclass = \"batch\"\ncomm = \"x\"\n"
				"[[rule]]\nclass = \"exempt\"\ncgroup = \"/system.slice/a.service\"\n",
				"t.toml");
	auto w = config_warnings(c);
	ASSERT_EQ(w.size(), 2u);
	EXPECT_NE(w[0].find("t.toml:1"), std::string::npos) << w[0];
	EXPECT_NE(w[1].find("t.toml:4"), std::string::npos) << w[1];
}

TEST(CgroupGlob, Components)
{
	EXPECT_TRUE(cgroup_glob_under("/machine.slice/machine-qemu\\x2d1\\x2dvm.scope", "/machine.slice/machine-qemu*"));
	EXPECT_TRUE(cgroup_glob_under("/machine.slice/machine-qemu-1.scope/libvirt/vcpu0", "/machine.slice/machine-qemu*"));
	EXPECT_FALSE(cgroup_glob_under("/machine.slice", "/machine.slice/machine-qemu*"));
	EXPECT_FALSE(cgroup_glob_under("/user.slice/machine.slice/machine-qemu-1.scope", "/machine.slice/machine-qemu*"));
	EXPECT_FALSE(cgroup_glob_under("/machine.slicex/machine-qemu-1.scope", "/machine.slice/machine-qemu*"));
	EXPECT_TRUE(cgroup_glob_under("/kubepods/burstable/podX/ctr", "/kubepods*"));
	EXPECT_TRUE(cgroup_glob_under("/kubepods.slice/a", "/kubepods*"));
	EXPECT_FALSE(cgroup_glob_under("/", "/kubepods*"));
	EXPECT_FALSE(cgroup_glob_under("", "/kubepods*"));
}

TEST(Classify, RuleOrderFirstMatchWins)
{
	ClassifyPolicy pol;
	pol.default_class = Class::Host;
	Rule crit = rule(Class::Critical, "critical");
	crit.comm = Matcher("sshd|kubelet");
	Rule batch_uid = rule(Class::Batch, "uid 1000");
	batch_uid.uids = {1000, 1001};
	Rule batch_cg = rule(Class::Batch, "batch slice");
	batch_cg.cgroup = "/batch.slice";
	Rule thread_rule = rule(Class::Exempt, "gc threads");
	thread_rule.thread = Matcher("GC Thread#[0-9]+");
	thread_rule.comm = Matcher("java");
	pol.rules = {crit, thread_rule, batch_uid, batch_cg};

	T sshd = task(100, 100, "sshd");
	sshd.p.uid = 1000; // would match uid rule too: critical comes first
	EXPECT_EQ(classify(sshd.t, sshd.p, pol), (Verdict{Class::Critical, Reason::Rule, 0}));

	T user = task(200, 200, "make");
	user.p.uid = 1001;
	EXPECT_EQ(classify(user.t, user.p, pol), (Verdict{Class::Batch, Reason::Rule, 2}));

	T job = task(300, 300, "stress");
	job.p.cgroup = "/batch.slice/job-1.scope";
	EXPECT_EQ(classify(job.t, job.p, pol).rule, 3);

	T gc = task(400, 401, "java", "GC Thread#3");
	EXPECT_EQ(classify(gc.t, gc.p, pol), (Verdict{Class::Exempt, Reason::Rule, 1}));
	T other = task(400, 402, "java", "http-worker");
	EXPECT_EQ(classify(other.t, other.p, pol), (Verdict{Class::Host, Reason::Default}));

	// Reordering changes the answer.
	std::swap(pol.rules[0], pol.rules[2]);
	EXPECT_EQ(classify(sshd.t, sshd.p, pol).cls, Class::Batch);
}

TEST(Classify, AllFieldsOfARuleMustMatch)
{
	ClassifyPolicy pol;
	Rule r = rule(Class::Batch, "and");
	r.comm = Matcher("worker");
	r.exe = Matcher("/opt/.*");
	r.cmdline = Matcher(".*--batch.*");
	r.uids = {1000};
	pol.rules = {r};
	T t = task(100, 100, "worker");
	t.p.exe = "/opt/worker";
	t.p.cmdline = "/opt/worker --batch --n 3";
	t.p.uid = 1000;
	EXPECT_EQ(classify(t.t, t.p, pol).cls, Class::Batch);
	t.p.uid = 0;
	EXPECT_EQ(classify(t.t, t.p, pol).cls, Class::Host);
	t.p.uid = 1000;
	t.p.cmdline = "/opt/worker";
	EXPECT_EQ(classify(t.t, t.p, pol).cls, Class::Host);
}

TEST(Classify, ClassifyAllAgreesWithClassify)
{
	offl::testing::FakeProcTree tree;
	offl::testing::generate_host(tree, 3000, 7);
	Config cfg = parse_config(offl::testing::generated_host_config(), "gen.toml");
	cfg.classify.self_tgid = 4;
	Snapshot snap = ProcFs(tree.root()).scan();
	ASSERT_GE(snap.tasks.size(), 3000u);
	std::vector<Verdict> all = classify_all(snap, cfg.classify);
	ASSERT_EQ(all.size(), snap.tasks.size());
	std::array<size_t, kNumClasses> per{};
	for (size_t i = 0; i < snap.tasks.size(); i++) {
		const TaskInfo &t = snap.tasks[i];
		ASSERT_EQ(all[i], classify(t, snap.process_of(t), cfg.classify)) << "task " << t.tid;
		per[static_cast<size_t>(all[i].cls)]++;
	}
	// Every class shows up in a generated host.
	for (Class c : kAllClasses)
		EXPECT_GT(per[static_cast<size_t>(c)], 0u) << class_name(c);
}

TEST(Classify, DescribeNamesTheRuleAndItsLine)
{
	Config cfg = parse_config("[[rule]]\nname = \"critical\"\nclass = \"critical\"\ncomm = \"sshd\"\n", "/etc/x.toml");
	T s = task(100, 100, "sshd");
	Verdict v = classify(s.t, s.p, cfg.classify);
	std::string d = describe(v, s.t, s.p, cfg.classify);
	EXPECT_NE(d.find("\"critical\""), std::string::npos) << d;
	EXPECT_NE(d.find("/etc/x.toml:1"), std::string::npos) << d;

	T vcpu = task(800, 801, "qemu-system-x86", "CPU 2/KVM");
	vcpu.p.exe = "/usr/bin/qemu-system-x86_64";
	vcpu.p.cgroup = "/machine.slice/machine-qemu-1-vm.scope";
	v = classify(vcpu.t, vcpu.p, cfg.classify);
	d = describe(v, vcpu.t, vcpu.p, cfg.classify);
	EXPECT_NE(d.find("vCPU 2"), std::string::npos) << d;
	EXPECT_NE(d.find("exe+cgroup"), std::string::npos) << d;
}

TEST(Classify, ClassNames)
{
	for (Class c : kAllClasses)
		EXPECT_EQ(class_from_name(class_name(c)), c);
	EXPECT_FALSE(class_from_name("offline"));
}
