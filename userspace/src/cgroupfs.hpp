// SPDX-License-Identifier: GPL-2.0
// Files of a cgroup file system rooted anywhere: the real /sys/fs/cgroup,
// or a fake tree in a temp dir (tests).  Only plain file operations, so a
// fake tree is just directories and files.
#pragma once

#include <optional>
#include <string>
#include <sys/types.h>
#include <vector>

namespace offl {

enum class CgroupVersion { None, V1, V2 };
const char *cgroup_version_name(CgroupVersion v);

class CgroupFs {
public:
	explicit CgroupFs(std::string root = "/sys/fs/cgroup") : root_(std::move(root)) {}

	const std::string &root() const { return root_; }
	// v2: root/cgroup.controllers; v1: root/cpuset/cpuset.cpus.
	CgroupVersion version() const;
	// Directory of a cgroup path ("/a/b") in the v2 tree, or in the v1
	// hierarchy of `controller` ("cpuset", "memory").
	std::string dir(const std::string &cgroup, const std::string &controller = "") const;

	static std::optional<std::string> read(const std::string &dir, const std::string &file);
	// 0 or errno.  append: O_APPEND (cgroup.procs, tasks).  O_CREAT is
	// passed so a fake tree gets its files; a real cgroupfs only has the
	// files its kernel made (creating others fails).
	static int write(const std::string &dir, const std::string &file, const std::string &value,
			 bool append = false);
	static int make(const std::string &dir);   // mkdir, EEXIST is fine
	static int remove(const std::string &dir); // rmdir
	static bool exists(const std::string &path);
	// Pids in cgroup.procs (empty when unreadable).
	static std::vector<pid_t> procs(const std::string &dir);

private:
	std::string root_;
};

// "N:cpuset,cpu:/path" lines of /proc/PID/cgroup -> the path of the
// hierarchy holding `controller` ("" -> the v2 "0::" line).
std::optional<std::string> cgroup_path_of(std::string_view proc_cgroup, std::string_view controller);

} // namespace offl
