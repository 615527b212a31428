// SPDX-License-Identifier: GPL-2.0
#include "journal.hpp"

#include "util.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <fcntl.h>
#include <fstream>
#include <sstream>
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

void Journal::record(const JournalEntry &e)
{
	auto it = by_tid_.find(e.tid);
	if (it != by_tid_.end() && it->second.start_time == e.start_time) {
		// Changed again (e.g. new nice): the original stays the first one.
		it->second.applied = e.applied;
		return;
	}
	by_tid_[e.tid] = e;
}

void Journal::erase(pid_t tid)
{
	by_tid_.erase(tid);
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
		return true;
	}
	if (it != sections_.end() && it->second == text)
		return false;
	sections_[name] = text;
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
		arr.push_back(json{{"tid", e.tid},
				   {"tgid", e.tgid},
				   {"start_time", e.start_time},
				   {"comm", e.comm},
				   {"original", attr_json(e.original)},
				   {"applied", attr_json(e.applied)}});
	json root{{"version", 1}, {"changed", std::move(arr)}};
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
		std::unordered_map<pid_t, JournalEntry> m;
		for (const auto &j : root.at("changed")) {
			JournalEntry e;
			e.tid = j.at("tid").get<pid_t>();
			e.tgid = j.at("tgid").get<pid_t>();
			e.start_time = j.at("start_time").get<uint64_t>();
			e.comm = j.value("comm", std::string());
			e.original = attr_from(j.at("original"));
			e.applied = attr_from(j.at("applied"));
			if (e.tid <= 0 || e.tgid <= 0) {
				err = "bad pid in state file";
				return false;
			}
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
	}
}

bool Journal::save(const std::string &path, std::string &err) const
{
	// Create the parent directory (one level: /run/offlinectl).
	size_t slash = path.rfind('/');
	if (slash != std::string::npos && slash > 0)
		mkdir(path.substr(0, slash).c_str(), 0755);
	std::string tmp = path + ".tmp";
	int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		err = tmp + ": " + errno_str(errno);
		return false;
	}
	std::string data = to_json();
	const char *p = data.data();
	size_t left = data.size();
	while (left > 0) {
		ssize_t n = write(fd, p, left);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			err = tmp + ": " + errno_str(errno);
			close(fd);
			unlink(tmp.c_str());
			return false;
		}
		p += n;
		left -= static_cast<size_t>(n);
	}
	close(fd);
	if (rename(tmp.c_str(), path.c_str()) != 0) {
		err = path + ": " + errno_str(errno);
		unlink(tmp.c_str());
		return false;
	}
	return true;
}

bool Journal::load(const std::string &path, std::string &err)
{
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
	return true;
}

} // namespace offl
