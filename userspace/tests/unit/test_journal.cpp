// SPDX-License-Identifier: GPL-2.0
#include "fake_proc.hpp"
#include "journal.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <sys/stat.h>
#include <unistd.h>

using namespace offl;

TEST(Journal, RecordKeepsTheFirstOriginal)
{
	Journal j;
	j.record(JournalEntry{10, 10, 100, "a", SchedAttr{kSchedBatch, 1}, SchedAttr{kSchedOffline, 1}});
	j.record(JournalEntry{10, 10, 100, "a", SchedAttr{kSchedOffline, 1}, SchedAttr{kSchedOffline, 5}});
	ASSERT_EQ(j.size(), 1u);
	EXPECT_EQ(j.find(10, 100)->original.policy, kSchedBatch);
	EXPECT_EQ(j.find(10, 100)->applied.nice, 5);
	EXPECT_EQ(j.find(10, 101), nullptr);
	// A new task on the same pid replaces the stale entry.
	j.record(JournalEntry{10, 10, 200, "b", SchedAttr{kSchedOther}, SchedAttr{kSchedOffline}});
	EXPECT_EQ(j.find(10, 200)->original.policy, kSchedOther);
	EXPECT_EQ(j.find(10, 100), nullptr);
}

TEST(Journal, PruneDropsGoneAndReused)
{
	Journal j;
	for (pid_t p : {10, 11, 12})
		j.record(JournalEntry{p, p, 100, "x", SchedAttr{}, SchedAttr{kSchedOffline}});
	Snapshot s;
	s.processes.resize(1);
	TaskInfo t;
	t.tid = 10;
	t.start_time = 100;
	s.tasks.push_back(t);
	t.tid = 11;
	t.start_time = 555; // reused
	s.tasks.push_back(t);
	EXPECT_EQ(j.prune(s), 2u);
	EXPECT_NE(j.find(10, 100), nullptr);
	EXPECT_EQ(j.size(), 1u);
}

TEST(Journal, JsonRoundTripAndFiles)
{
	Journal j;
	SchedAttr rt;
	rt.policy = kSchedFifo;
	rt.priority = 50;
	rt.flags = kSchedFlagResetOnFork;
	j.record(JournalEntry{10, 9, 12345678901ULL, "comm with \"quotes\" \xff", rt, SchedAttr{kSchedOffline, -3}});
	offl::testing::FakeProcTree dir;
	std::string path = dir.root() + "/run/state.json";
	std::string err;
	// Missing file is not an error.
	Journal k;
	EXPECT_TRUE(k.load(path, err)) << err;
	EXPECT_TRUE(k.empty());
	ASSERT_TRUE(j.save(path, err)) << err;
	ASSERT_TRUE(k.load(path, err)) << err;
	const JournalEntry *e = k.find(10, 12345678901ULL);
	ASSERT_NE(e, nullptr);
	EXPECT_EQ(e->tgid, 9);
	EXPECT_EQ(e->original, rt);
	EXPECT_EQ(e->applied.nice, -3);

	dir.write_file("bad.json", "{\"version\": 1, \"changed\": [{\"tid\": \"x\"}]}");
	Journal bad;
	EXPECT_FALSE(bad.load(dir.root() + "/bad.json", err));
	EXPECT_NE(err.find("bad.json"), std::string::npos);
	dir.write_file("v2.json", "{\"version\": 2, \"changed\": []}");
	EXPECT_FALSE(bad.load(dir.root() + "/v2.json", err));
}

// Issue 13 item 6: write-ahead.  What record()/erase()/set_section() did
// since the last compaction is in PATH.log; a torn last line (crash while
// writing) is dropped; a state of another boot is not restored.
TEST(Journal, WriteAheadLogReplaysAfterACrash)
{
	offl::testing::FakeProcTree dir;
	const std::string path = dir.root() + "/run/state.json";
	std::string err;
	{
		Journal j;
		j.set_boot_id("boot-A");
		ASSERT_TRUE(j.attach(path, err)) << err;
		j.record(JournalEntry{10, 10, 100, "a", SchedAttr{kSchedOther}, SchedAttr{kSchedOffline}});
		j.record(JournalEntry{11, 11, 101, "b", SchedAttr{kSchedBatch}, SchedAttr{kSchedOffline}});
		j.record(JournalEntry{12, 12, 102, "c", SchedAttr{kSchedOther}, SchedAttr{kSchedOffline}});
		j.erase(11);
		j.set_section("host-cgroup", "{\"moved\":[]}");
		// no compact(): the process "dies" here
	}
	{
		std::ofstream(path + ".log", std::ios::app) << "{\"op\":\"set\",\"e\":{\"tid\":13"; // torn
	}
	Journal k;
	k.set_boot_id("boot-A");
	ASSERT_TRUE(k.load(path, err)) << err;
	EXPECT_FALSE(k.stale());
	EXPECT_EQ(k.size(), 2u);
	EXPECT_NE(k.find(10, 100), nullptr);
	EXPECT_EQ(k.find(11, 101), nullptr);
	EXPECT_NE(k.find(12, 102), nullptr);
	EXPECT_EQ(k.section("host-cgroup").value_or(""), "{\"moved\":[]}");

	// Compaction folds the log into the snapshot.
	ASSERT_TRUE(k.attach(path, err)) << err;
	struct stat st;
	ASSERT_EQ(stat((path + ".log").c_str(), &st), 0);
	EXPECT_EQ(st.st_size, 0);
	ASSERT_EQ(stat(path.c_str(), &st), 0);
	EXPECT_EQ(st.st_mode & 0777, 0600u);
	k.detach();

	// After a reboot none of those pids is ours.
	Journal other;
	other.set_boot_id("boot-B");
	ASSERT_TRUE(other.load(path, err)) << err;
	EXPECT_TRUE(other.stale());
	EXPECT_TRUE(other.empty());
}

TEST(Journal, StateDirectoryMustBeOursAlone)
{
	offl::testing::FakeProcTree dir;
	std::string err;
	Journal j;
	j.record(JournalEntry{10, 10, 100, "a", SchedAttr{kSchedOther}, SchedAttr{kSchedOffline}});
	mkdir((dir.root() + "/open").c_str(), 0777);
	chmod((dir.root() + "/open").c_str(), 0777);
	EXPECT_FALSE(j.save(dir.root() + "/open/state.json", err));
	EXPECT_NE(err.find("writable by no one else"), std::string::npos) << err;
	// A symlinked directory is not followed.
	mkdir((dir.root() + "/real").c_str(), 0700);
	ASSERT_EQ(symlink((dir.root() + "/real").c_str(), (dir.root() + "/link").c_str()), 0);
	err.clear();
	EXPECT_FALSE(j.save(dir.root() + "/link/state.json", err));
	// A symlink planted at the state file's name is replaced, not followed.
	ASSERT_EQ(symlink("/etc/passwd-victim", (dir.root() + "/real/state.json").c_str()), 0);
	ASSERT_TRUE(j.save(dir.root() + "/real/state.json", err)) << err;
	struct stat st;
	ASSERT_EQ(lstat((dir.root() + "/real/state.json").c_str(), &st), 0);
	EXPECT_TRUE(S_ISREG(st.st_mode));
	EXPECT_NE(access("/etc/passwd-victim", F_OK), 0);
}
