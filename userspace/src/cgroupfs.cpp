// SPDX-License-Identifier: GPL-2.0
#include "cgroupfs.hpp"

#include "util.hpp"

#include <cerrno>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace offl {

const char *cgroup_version_name(CgroupVersion v)
{
	switch (v) {
	case CgroupVersion::V1: return "v1";
	case CgroupVersion::V2: return "v2";
	case CgroupVersion::None: break;
	}
	return "none";
}

CgroupVersion CgroupFs::version() const
{
	if (exists(root_ + "/cgroup.controllers"))
		return CgroupVersion::V2;
	if (exists(root_ + "/cpuset/cpuset.cpus"))
		return CgroupVersion::V1;
	return CgroupVersion::None;
}

std::string CgroupFs::dir(const std::string &cgroup, const std::string &controller) const
{
	std::string d = root_;
	if (!controller.empty())
		d += "/" + controller;
	if (!cgroup.empty() && cgroup != "/")
		d += cgroup[0] == '/' ? cgroup : "/" + cgroup;
	return d;
}

std::optional<std::string> CgroupFs::read(const std::string &dir, const std::string &file)
{
	int fd = open((dir + "/" + file).c_str(), O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return std::nullopt;
	std::string out;
	char buf[4096];
	for (;;) {
		ssize_t n = ::read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		out.append(buf, static_cast<size_t>(n));
	}
	close(fd);
	return out;
}

int CgroupFs::write(const std::string &dir, const std::string &file, const std::string &value, bool append)
{
	int fd = open((dir + "/" + file).c_str(), O_WRONLY | O_CLOEXEC | O_CREAT | (append ? O_APPEND : O_TRUNC), 0644);
	if (fd < 0)
		return errno;
	std::string v = value + "\n";
	ssize_t n;
	do {
		n = ::write(fd, v.data(), v.size());
	} while (n < 0 && errno == EINTR);
	int err = n < 0 ? errno : 0;
	close(fd);
	return err;
}

int CgroupFs::make(const std::string &dir)
{
	if (mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST)
		return errno;
	return 0;
}

int CgroupFs::remove(const std::string &dir)
{
	return rmdir(dir.c_str()) == 0 ? 0 : errno;
}

bool CgroupFs::exists(const std::string &path)
{
	struct stat st;
	return stat(path.c_str(), &st) == 0;
}

std::vector<pid_t> CgroupFs::procs(const std::string &dir)
{
	std::vector<pid_t> out;
	auto text = read(dir, "cgroup.procs");
	if (!text)
		return out;
	for (std::string_view w : split_ws(*text)) {
		// split_ws splits on spaces/tabs; pids are one per line.
		size_t start = 0;
		while (start < w.size()) {
			size_t nl = w.find('\n', start);
			auto p = parse_num<pid_t>(trim(w.substr(start, nl == std::string_view::npos ? nl : nl - start)));
			if (p)
				out.push_back(*p);
			if (nl == std::string_view::npos)
				break;
			start = nl + 1;
		}
	}
	return out;
}

std::optional<std::string> cgroup_path_of(std::string_view text, std::string_view controller)
{
	while (!text.empty()) {
		size_t nl = text.find('\n');
		std::string_view line = text.substr(0, nl);
		text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
		size_t c1 = line.find(':');
		if (c1 == std::string_view::npos)
			continue;
		size_t c2 = line.find(':', c1 + 1);
		if (c2 == std::string_view::npos)
			continue;
		std::string_view ctrls = line.substr(c1 + 1, c2 - c1 - 1);
		std::string_view path = trim(line.substr(c2 + 1));
		if (controller.empty()) {
			if (line.substr(0, c1) == "0" && ctrls.empty())
				return std::string(path);
			continue;
		}
		while (!ctrls.empty()) {
			size_t comma = ctrls.find(',');
			if (ctrls.substr(0, comma) == controller)
				return std::string(path);
			if (comma == std::string_view::npos)
				break;
			ctrls.remove_prefix(comma + 1);
		}
	}
	return std::nullopt;
}

} // namespace offl
