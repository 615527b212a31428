// SPDX-License-Identifier: GPL-2.0
// Event sources: proc connector parsing (raw datagrams), the live
// connector where the test may open it, the pid-file watch, latency stats.
#include "loop.hpp"
#include "procevents.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <linux/cn_proc.h>
#include <linux/connector.h>
#include <linux/netlink.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

using namespace offl;

namespace {

// One netlink message carrying one proc_event.
std::vector<char> datagram(const proc_event &ev, unsigned idx = CN_IDX_PROC)
{
	std::vector<char> buf(NLMSG_SPACE(sizeof(cn_msg) + sizeof(proc_event)));
	nlmsghdr nh = {};
	nh.nlmsg_len = static_cast<__u32>(NLMSG_LENGTH(sizeof(cn_msg) + sizeof(proc_event)));
	nh.nlmsg_type = NLMSG_DONE;
	cn_msg cn = {};
	cn.id.idx = idx;
	cn.id.val = CN_VAL_PROC;
	cn.len = sizeof(proc_event);
	memcpy(buf.data(), &nh, sizeof(nh));
	memcpy(buf.data() + NLMSG_HDRLEN, &cn, sizeof(cn));
	memcpy(buf.data() + NLMSG_HDRLEN + sizeof(cn), &ev, sizeof(ev));
	return buf;
}

} // namespace

TEST(ProcConnector, ParsesForkExecCommExit)
{
	std::vector<char> all;
	proc_event ev = {};
	ev.what = proc_event::PROC_EVENT_FORK;
	ev.timestamp_ns = 111;
	ev.event_data.fork.parent_pid = 1;
	ev.event_data.fork.child_pid = 501;
	ev.event_data.fork.child_tgid = 500;
	auto d = datagram(ev);
	all.insert(all.end(), d.begin(), d.end());
	ev = {};
	ev.what = proc_event::PROC_EVENT_EXEC;
	ev.timestamp_ns = 222;
	ev.event_data.exec.process_pid = 600;
	ev.event_data.exec.process_tgid = 600;
	d = datagram(ev);
	all.insert(all.end(), d.begin(), d.end());
	ev = {};
	ev.what = proc_event::PROC_EVENT_UID; // ignored
	ev.event_data.id.process_pid = 9;
	d = datagram(ev);
	all.insert(all.end(), d.begin(), d.end());
	ev = {};
	ev.what = proc_event::PROC_EVENT_COMM;
	ev.event_data.comm.process_pid = 602;
	ev.event_data.comm.process_tgid = 600;
	d = datagram(ev);
	all.insert(all.end(), d.begin(), d.end());
	ev = {};
	ev.what = proc_event::PROC_EVENT_EXIT;
	ev.event_data.exit.process_pid = 600;
	ev.event_data.exit.process_tgid = 600;
	d = datagram(ev);
	all.insert(all.end(), d.begin(), d.end());
	ev = {};
	ev.what = proc_event::PROC_EVENT_EXEC;
	ev.event_data.exec.process_pid = 77;
	d = datagram(ev, 9); // another connector: not ours
	all.insert(all.end(), d.begin(), d.end());

	std::vector<TaskEvent> out;
	parse_proc_connector(all.data(), all.size(), out);
	ASSERT_EQ(out.size(), 4u);
	EXPECT_EQ(out[0].kind, TaskEvent::Kind::Fork);
	EXPECT_EQ(out[0].tid, 501);
	EXPECT_EQ(out[0].tgid, 500);
	EXPECT_EQ(out[0].ts_ns, 111u);
	EXPECT_EQ(out[1].kind, TaskEvent::Kind::Exec);
	EXPECT_EQ(out[1].tid, 600);
	EXPECT_EQ(out[1].ts_ns, 222u);
	EXPECT_EQ(out[2].kind, TaskEvent::Kind::Comm);
	EXPECT_EQ(out[2].tid, 602);
	EXPECT_EQ(out[2].tgid, 600);
	EXPECT_EQ(out[3].kind, TaskEvent::Kind::Exit);

	// Truncated input: no crash, nothing invented.
	for (size_t cut = 0; cut < d.size(); cut += 7) {
		std::vector<TaskEvent> o;
		parse_proc_connector(all.data(), cut, o);
		EXPECT_LE(o.size(), 1u);
	}
}

TEST(ProcConnector, LiveForkAndExitOfAChild)
{
	std::string err;
	auto pc = ProcConnector::open(err);
	if (!pc)
		GTEST_SKIP() << "proc connector unavailable here: " << err;
	pid_t child = fork();
	if (child == 0)
		_exit(0);
	waitpid(child, nullptr, 0);
	bool fork_seen = false, exit_seen = false;
	const uint64_t deadline = monotonic_ns() + 2000000000ULL;
	while ((!fork_seen || !exit_seen) && monotonic_ns() < deadline) {
		struct pollfd p = {pc->fd(), POLLIN, 0};
		if (poll(&p, 1, 100) <= 0)
			continue;
		std::vector<TaskEvent> ev;
		ASSERT_TRUE(pc->read(ev));
		for (const TaskEvent &e : ev) {
			if (e.tid != child)
				continue;
			if (e.kind == TaskEvent::Kind::Fork) {
				fork_seen = true;
				EXPECT_EQ(e.tgid, child);
				// Kernel timestamp on our clock: recent.
				EXPECT_LE(e.ts_ns, monotonic_ns());
				EXPECT_GT(e.ts_ns + 2000000000ULL, monotonic_ns());
			}
			exit_seen |= e.kind == TaskEvent::Kind::Exit;
		}
	}
	if (!fork_seen && !exit_seen)
		GTEST_SKIP() << "subscribed but no events (kernel without CONFIG_PROC_EVENTS, or a container)";
	EXPECT_TRUE(fork_seen);
	EXPECT_TRUE(exit_seen);
}

TEST(PidFileWatch, PidFilesBecomeEvents)
{
	char dir[] = "/tmp/offlinectl-pidw.XXXXXX";
	ASSERT_NE(mkdtemp(dir), nullptr);
	std::string err;
	auto w = PidFileWatch::open({dir, "/nonexistent/dir"}, err);
	ASSERT_NE(w, nullptr) << err;
	EXPECT_EQ(w->watched(), (std::vector<std::string>{dir}));
	std::ofstream(std::string(dir) + "/vm1.pid") << "4242\n";
	std::ofstream(std::string(dir) + "/notes.txt") << "ignored\n";
	std::ofstream(std::string(dir) + "/bad.pid") << "x\n";
	std::vector<TaskEvent> ev;
	struct pollfd p = {w->fd(), POLLIN, 0};
	ASSERT_EQ(poll(&p, 1, 1000), 1);
	ASSERT_TRUE(w->read(ev));
	ASSERT_EQ(ev.size(), 2u);
	EXPECT_EQ(ev[0].kind, TaskEvent::Kind::Exec);
	EXPECT_EQ(ev[0].tid, 4242);
	EXPECT_EQ(ev[1].kind, TaskEvent::Kind::Overflow) << "unreadable pid file: resync";
	unlink((std::string(dir) + "/vm1.pid").c_str());
	ev.clear();
	ASSERT_EQ(poll(&p, 1, 1000), 1);
	ASSERT_TRUE(w->read(ev));
	ASSERT_EQ(ev.size(), 1u);
	EXPECT_EQ(ev[0].kind, TaskEvent::Kind::Overflow) << "removed pid file: resync";
	unlink((std::string(dir) + "/notes.txt").c_str());
	unlink((std::string(dir) + "/bad.pid").c_str());
	rmdir(dir);
	EXPECT_FALSE(PidFileWatch::open({"/nonexistent/dir"}, err));
}

TEST(LatencyStats, Percentiles)
{
	LatencyStats s;
	EXPECT_EQ(s.percentile(99), 0u);
	for (uint64_t i = 1; i <= 100; i++)
		s.add(i * 1000);
	EXPECT_EQ(s.count(), 100u);
	EXPECT_EQ(s.percentile(50), 50000u);
	EXPECT_EQ(s.percentile(99), 99000u);
	EXPECT_EQ(s.max(), 100000u);
	EXPECT_EQ(s.summary(), "n=100 p50=50us p99=99us max=100us");
	for (size_t i = 0; i < LatencyStats::kMax; i++)
		s.add(7);
	EXPECT_EQ(s.percentile(99), 7u) << "keeps only the last kMax samples";
	EXPECT_EQ(s.max(), 100000u);
}

TEST(ProcConnector, LostEventsBecomeOneOverflow)
{
	std::string err;
	auto pc = ProcConnector::open(err);
	if (!pc)
		GTEST_SKIP() << "proc connector unavailable here: " << err;
	// A tiny receive buffer and a burst of forks: the kernel drops events
	// and the next recv() says ENOBUFS.
	int one = 1;
	ASSERT_EQ(setsockopt(pc->fd(), SOL_SOCKET, SO_RCVBUFFORCE, &one, sizeof(one)), 0);
	for (int i = 0; i < 200; i++) {
		pid_t c = fork();
		if (c == 0)
			_exit(0);
		waitpid(c, nullptr, 0);
	}
	std::vector<TaskEvent> ev;
	ASSERT_TRUE(pc->read(ev));
	size_t overflow = 0;
	for (const TaskEvent &e : ev)
		overflow += e.kind == TaskEvent::Kind::Overflow;
	if (ev.empty())
		GTEST_SKIP() << "no events at all (kernel without CONFIG_PROC_EVENTS, or a container)";
	EXPECT_GE(overflow, 1u) << ev.size() << " events, none lost?";
	EXPECT_EQ(pc->overflows(), overflow);
}
