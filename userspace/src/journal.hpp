// SPDX-License-Identifier: GPL-2.0
// What the agent changed, so it can undo it: one entry per task it moved
// offline, keyed by (tid, start time) so a reused PID never matches.  Kept
// in memory and, when a state file is configured, on disk, so that an agent
// restarted after a crash still knows what to restore.
#pragma once

#include "procfs.hpp"
#include "sysops.hpp"

#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace offl {

struct JournalEntry {
	pid_t tid = 0;
	pid_t tgid = 0;
	uint64_t start_time = 0;
	std::string comm;
	SchedAttr original; // before the agent touched it
	SchedAttr applied;  // what the agent set
};

class Journal {
public:
	const JournalEntry *find(pid_t tid, uint64_t start_time) const;
	void record(const JournalEntry &e); // keeps the first original
	void erase(pid_t tid);
	// Drop entries whose task is gone (not in the snapshot, or the PID now
	// belongs to a task with another start time).
	size_t prune(const Snapshot &snap);

	std::vector<JournalEntry> entries() const;
	size_t size() const { return by_tid_.size(); }
	bool empty() const { return by_tid_.empty() && sections_.empty(); }
	void clear()
	{
		by_tid_.clear();
		sections_.clear();
	}

	// Stages' own records (JSON text, "stages" in the state file).  ""
	// removes the section.  true when the section changed.
	bool set_section(const std::string &name, const std::string &json);
	std::optional<std::string> section(const std::string &name) const;

	// JSON round trip; load() ignores a missing file and returns false (with
	// err) on a corrupt one.
	std::string to_json() const;
	bool from_json(const std::string &text, std::string &err);
	bool save(const std::string &path, std::string &err) const;
	bool load(const std::string &path, std::string &err);

private:
	std::unordered_map<pid_t, JournalEntry> by_tid_;
	std::map<std::string, std::string> sections_;
};

} // namespace offl
