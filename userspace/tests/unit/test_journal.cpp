// SPDX-License-Identifier: GPL-2.0
#include "fake_proc.hpp"
#include "journal.hpp"

#include <gtest/gtest.h>

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
