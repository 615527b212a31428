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
	void clear();

	// Stages' own records (JSON text, "stages" in the state file).  ""
	// removes the section.  true when the section changed.
	bool set_section(const std::string &name, const std::string &json);
	std::optional<std::string> section(const std::string &name) const;

	// JSON round trip; load() ignores a missing file and returns false (with
	// err) on a corrupt one.
	std::string to_json() const;
	bool from_json(const std::string &text, std::string &err);
	// Atomic: a new file (O_TMPFILE, else O_EXCL) in the state directory,
	// renamed over PATH; the directory must be root-only (owned by us, not
	// writable by group or others; created 0700 when missing), and no
	// name in it is followed as a symlink.
	bool save(const std::string &path, std::string &err) const;
	// The snapshot at PATH, then the records appended to PATH.log since
	// (a torn last line is dropped).  A state of another boot (boot id) is
	// not loaded: stale() says so and the journal stays empty.
	bool load(const std::string &path, std::string &err);
	bool stale() const { return stale_; }

	// Write-ahead (issue 13): after attach(PATH), record(), erase(),
	// set_section() and clear() append a line to PATH.log before they
	// return, so whoever calls them before acting has the intent on disk
	// (the page cache outlives a SIGKILL or OOM kill; a reboot makes the
	// state stale anyway, so no fsync).  compact() writes the snapshot and
	// empties the log.  attach() compacts at once.
	bool attach(const std::string &path, std::string &err);
	void detach();
	bool attached() const { return log_fd_ >= 0; }
	bool compact(std::string &err);
	// Nothing written ahead since the last compaction.
	bool log_empty() const;
	// Remove PATH and PATH.log (nothing left to restore).
	void remove_files();

	// The running kernel's boot id (/proc/sys/kernel/random/boot_id);
	// tests set their own.
	static std::string current_boot_id();
	void set_boot_id(std::string id) { boot_id_ = std::move(id); }
	const std::string &boot_id() const { return boot_id_; }

	Journal() = default;
	~Journal() { detach(); }
	Journal(const Journal &) = delete;
	Journal &operator=(const Journal &) = delete;

private:
	void append(const std::string &line);
	void replay(const std::string &line);

	std::unordered_map<pid_t, JournalEntry> by_tid_;
	std::map<std::string, std::string> sections_;
	std::string boot_id_ = current_boot_id();
	std::string path_;
	int log_fd_ = -1;
	bool stale_ = false;
};

} // namespace offl
