// SPDX-License-Identifier: GPL-2.0
#include "journal.hpp"

#include "util.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <fcntl.h>
#include <fstream>
#include <sstream>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <sys/stat.h>
#include <unistd.h>

namespace offl {

using json = nlohmann::json;

const JournalEntry *Journal::find(pid_t tid, uint64_t start_time) const
{
	auto it = by_tid_.find(tid);
	if (it == by_tid_.end() || it->second.start_time != start_time)
		return nullptr;
	return &it->second;
}

namespace {

json attr_json(const SchedAttr &a);
SchedAttr attr_from(const json &j);

json entry_json(const JournalEntry &e)
{
	return json{{"tid", e.tid},
		    {"tgid", e.tgid},
		    {"start_time", e.start_time},
		    {"comm", e.comm},
		    {"original", attr_json(e.original)},
		    {"applied", attr_json(e.applied)}};
}

JournalEntry entry_from(const json &j)
{
	JournalEntry e;
	e.tid = j.at("tid").get<pid_t>();
	e.tgid = j.at("tgid").get<pid_t>();
	e.start_time = j.at("start_time").get<uint64_t>();
	e.comm = j.value("comm", std::string());
	e.original = attr_from(j.at("original"));
	e.applied = attr_from(j.at("applied"));
	if (e.tid <= 0 || e.tgid <= 0)
		throw std::invalid_argument("bad pid in state file");
	return e;
}

std::string dump(const json &j)
{
	// Replace invalid UTF-8 (comm is arbitrary bytes) instead of throwing.
	return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

// Test hook (crash tests): SIGKILL ourselves right after the Nth
// write-ahead record, OFFLINECTL_TEST_CRASH_AT=N.
void crash_hook()
{
	static long at = [] {
		const char *v = getenv("OFFLINECTL_TEST_CRASH_AT");
		return v ? strtol(v, nullptr, 10) : 0L;
	}();
	static long n = 0;
	if (at > 0 && ++n == at)
		kill(getpid(), SIGKILL);
}

// The state directory, opened without following a symlink, and checked to
// be ours alone: no other user may plant or swap a file in it.
int open_state_dir(const std::string &path, std::string &name, std::string &err)
{
	size_t slash = path.rfind('/');
	std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
	name = slash == std::string::npos ? path : path.substr(slash + 1);
	if (name.empty() || name == "." || name == "..") {
		err = path + ": not a file name";
		return -1;
	}
	if (mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
		err = dir + ": " + errno_str(errno);
		return -1;
	}
	int fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		err = dir + ": " + errno_str(errno);
		return -1;
	}
	struct stat st;
	if (fstat(fd, &st) != 0 || st.st_uid != geteuid() || (st.st_mode & 0022) != 0) {
		err = dir + ": the state directory must be owned by uid " + std::to_string(geteuid()) +
		      " and writable by no one else";
		close(fd);
		return -1;
	}
	return fd;
}

bool write_all(int fd, const std::string &data)
{
	const char *p = data.data();
	size_t left = data.size();
	while (left > 0) {
		ssize_t n = write(fd, p, left);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return false;
		}
		p += n;
		left -= static_cast<size_t>(n);
	}
	return true;
}

} // namespace

void Journal::append(const std::string &line)
{
	if (log_fd_ < 0)
		return;
	std::string l = line + "\n";
	if (!write_all(log_fd_, l)) {
		// A full /run: say nothing here (no logger); the next compact()
		// reports the error.
	}
	crash_hook();
}

void Journal::record(const JournalEntry &e)
{
	auto it = by_tid_.find(e.tid);
	if (it != by_tid_.end() && it->second.start_time == e.start_time) {
		// Changed again (e.g. new nice): the original stays the first one.
		it->second.applied = e.applied;
	} else {
		by_tid_[e.tid] = e;
	}
	if (log_fd_ >= 0)
		append(dump(json{{"op", "set"}, {"e", entry_json(by_tid_[e.tid])}}));
}

void Journal::erase(pid_t tid)
{
	if (by_tid_.erase(tid) && log_fd_ >= 0)
		append(dump(json{{"op", "erase"}, {"tid", tid}}));
}

void Journal::clear()
{
	by_tid_.clear();
	sections_.clear();
	if (log_fd_ >= 0)
		append(dump(json{{"op", "clear"}}));
}

void Journal::replay(const std::string &line)
{
	json j = json::parse(line);
	const std::string op = j.at("op").get<std::string>();
	if (op == "set") {
		JournalEntry e = entry_from(j.at("e"));
		by_tid_[e.tid] = e;
	} else if (op == "erase") {
		by_tid_.erase(j.at("tid").get<pid_t>());
	} else if (op == "section") {
		std::string name = j.at("name").get<std::string>(), text = j.at("json").get<std::string>();
		if (text.empty())
			sections_.erase(name);
		else
			sections_[name] = text;
	} else if (op == "clear") {
		by_tid_.clear();
		sections_.clear();
	} else {
		throw std::invalid_argument("unknown record " + op);
	}
}

std::string Journal::current_boot_id()
{
	std::ifstream in("/proc/sys/kernel/random/boot_id");
	std::string id;
	std::getline(in, id);
	return std::string(trim(id));
}

bool Journal::attach(const std::string &path, std::string &err)
{
	detach();
	std::string name;
	int dfd = open_state_dir(path, name, err);
	if (dfd < 0)
		return false;
	log_fd_ = openat(dfd, (name + ".log").c_str(), O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	int e = errno;
	close(dfd);
	if (log_fd_ < 0) {
		err = path + ".log: " + errno_str(e);
		return false;
	}
	path_ = path;
	return compact(err);
}

void Journal::detach()
{
	if (log_fd_ >= 0)
		close(log_fd_);
	log_fd_ = -1;
	path_.clear();
}

bool Journal::log_empty() const
{
	struct stat st;
	return log_fd_ >= 0 && fstat(log_fd_, &st) == 0 && st.st_size == 0;
}

bool Journal::compact(std::string &err)
{
	if (log_fd_ < 0)
		return true;
	if (!save(path_, err))
		return false;
	if (ftruncate(log_fd_, 0) != 0) {
		err = path_ + ".log: " + errno_str(errno);
		return false;
	}
	return true;
}

void Journal::remove_files()
{
	std::string path = path_;
	if (path.empty())
		return;
	unlink(path.c_str());
	if (log_fd_ >= 0 && ftruncate(log_fd_, 0) != 0) {
		// nothing useful to do
	}
	unlink((path + ".log").c_str());
}

size_t Journal::prune(const Snapshot &snap)
{
	std::unordered_map<pid_t, uint64_t> live;
	live.reserve(snap.tasks.size());
	for (const auto &t : snap.tasks)
		live.emplace(t.tid, t.start_time);
	size_t n = 0;
	for (auto it = by_tid_.begin(); it != by_tid_.end();) {
		auto l = live.find(it->first);
		if (l == live.end() || l->second != it->second.start_time) {
			it = by_tid_.erase(it);
			n++;
		} else {
			++it;
		}
	}
	return n;
}

bool Journal::set_section(const std::string &name, const std::string &text)
{
	auto it = sections_.find(name);
	if (text.empty()) {
		if (it == sections_.end())
			return false;
		sections_.erase(it);
	} else {
		if (it != sections_.end() && it->second == text)
			return false;
		sections_[name] = text;
	}
	if (log_fd_ >= 0)
		append(dump(json{{"op", "section"}, {"name", name}, {"json", text}}));
	return true;
}

std::optional<std::string> Journal::section(const std::string &name) const
{
	auto it = sections_.find(name);
	if (it == sections_.end())
		return std::nullopt;
	return it->second;
}

std::vector<JournalEntry> Journal::entries() const
{
	std::vector<JournalEntry> v;
	v.reserve(by_tid_.size());
	for (const auto &[tid, e] : by_tid_)
		v.push_back(e);
	std::sort(v.begin(), v.end(), [](const auto &a, const auto &b) { return a.tid < b.tid; });
	return v;
}

namespace {

json attr_json(const SchedAttr &a)
{
	return json{{"policy", a.policy}, {"nice", a.nice},       {"priority", a.priority},
		    {"flags", a.flags},   {"runtime", a.runtime}, {"deadline", a.deadline},
		    {"period", a.period}};
}

SchedAttr attr_from(const json &j)
{
	SchedAttr a;
	a.policy = j.at("policy").get<int>();
	a.nice = j.at("nice").get<int>();
	a.priority = j.value("priority", 0u);
	a.flags = j.value("flags", uint64_t{0});
	a.runtime = j.value("runtime", uint64_t{0});
	a.deadline = j.value("deadline", uint64_t{0});
	a.period = j.value("period", uint64_t{0});
	return a;
}

} // namespace

std::string Journal::to_json() const
{
	json arr = json::array();
	for (const auto &e : entries())
		arr.push_back(entry_json(e));
	json root{{"version", 1}, {"changed", std::move(arr)}};
	if (!boot_id_.empty())
		root["boot_id"] = boot_id_;
	if (!sections_.empty()) {
		json st = json::object();
		for (const auto &[name, text] : sections_)
			st[name] = json::parse(text, nullptr, false);
		root["stages"] = std::move(st);
	}
	// Replace invalid UTF-8 (comm is arbitrary bytes) instead of throwing.
	return root.dump(1, '\t', false, json::error_handler_t::replace) + "\n";
}

bool Journal::from_json(const std::string &text, std::string &err)
{
	try {
		json root = json::parse(text);
		if (root.at("version").get<int>() != 1) {
			err = "unsupported state file version";
			return false;
		}
		stale_ = false;
		if (root.contains("boot_id") && !boot_id_.empty() &&
		    root.at("boot_id").get<std::string>() != boot_id_) {
			// Another boot: none of those pids is ours.
			stale_ = true;
			by_tid_.clear();
			sections_.clear();
			return true;
		}
		std::unordered_map<pid_t, JournalEntry> m;
		for (const auto &j : root.at("changed")) {
			JournalEntry e = entry_from(j);
			m[e.tid] = e;
		}
		std::map<std::string, std::string> sec;
		if (root.contains("stages"))
			for (const auto &[name, val] : root.at("stages").items())
				if (!val.is_discarded() && !val.is_null())
					sec[name] = val.dump();
		by_tid_ = std::move(m);
		sections_ = std::move(sec);
		return true;
	} catch (const json::exception &e) {
		err = e.what();
		return false;
	} catch (const std::invalid_argument &e) {
		err = e.what();
		return false;
	}
}

bool Journal::save(const std::string &path, std::string &err) const
{
	std::string name;
	int dfd = open_state_dir(path, name, err);
	if (dfd < 0)
		return false;
	const std::string tmp = "." + name + ".tmp";
	// An unnamed file, linked in only once complete; O_EXCL where the
	// file system has no O_TMPFILE.
	int fd = openat(dfd, ".", O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600);
	bool named = false;
	if (fd < 0) {
		unlinkat(dfd, tmp.c_str(), 0);
		fd = openat(dfd, tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		named = true;
	}
	if (fd < 0) {
		err = path + ": " + errno_str(errno);
		close(dfd);
		return false;
	}
	bool ok = write_all(fd, to_json());
	int e = errno;
	if (ok && !named) {
		char proc[64];
		snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
		unlinkat(dfd, tmp.c_str(), 0);
		ok = linkat(AT_FDCWD, proc, dfd, tmp.c_str(), AT_SYMLINK_FOLLOW) == 0;
		e = errno;
	}
	close(fd);
	if (ok) {
		ok = renameat(dfd, tmp.c_str(), dfd, name.c_str()) == 0;
		e = errno;
	}
	if (!ok) {
		err = path + ": " + errno_str(e);
		unlinkat(dfd, tmp.c_str(), 0);
	}
	close(dfd);
	return ok;
}

bool Journal::load(const std::string &path, std::string &err)
{
	stale_ = false;
	std::ifstream in(path);
	if (!in) {
		if (errno == ENOENT)
			return true;
		err = path + ": " + errno_str(errno);
		return false;
	}
	std::ostringstream s;
	s << in.rdbuf();
	if (!from_json(s.str(), err)) {
		err = path + ": " + err;
		return false;
	}
	if (stale_)
		return true;
	// The records written ahead since that snapshot.
	std::ifstream lg(path + ".log");
	std::string line;
	int n = 0;
	while (std::getline(lg, line)) {
		n++;
		if (lg.eof())
			break; // no newline: torn by a crash mid-write
		try {
			replay(line);
		} catch (const std::exception &e) {
			err = path + ".log:" + std::to_string(n) + ": " + e.what();
			return false;
		}
	}
	return true;
}

} // namespace offl
