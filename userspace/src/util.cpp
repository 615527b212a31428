// SPDX-License-Identifier: GPL-2.0
#include "util.hpp"

#include <algorithm>
#include <cstring>

namespace offl {

std::string errno_str(int err)
{
	char buf[128];
	// GNU strerror_r returns a pointer that may or may not be buf.
	const char *s = strerror_r(err, buf, sizeof(buf));
	return s;
}

std::vector<std::string_view> split_ws(std::string_view s)
{
	std::vector<std::string_view> out;
	size_t i = 0;
	while (i < s.size()) {
		while (i < s.size() && (s[i] == ' ' || s[i] == '\t'))
			i++;
		size_t j = i;
		while (j < s.size() && s[j] != ' ' && s[j] != '\t')
			j++;
		if (j > i)
			out.push_back(s.substr(i, j - i));
		i = j;
	}
	return out;
}

std::optional<std::vector<int>> parse_cpu_list(std::string_view s)
{
	std::vector<int> cpus;
	s = trim(s);
	if (s.empty())
		return cpus;
	while (!s.empty()) {
		size_t comma = s.find(',');
		std::string_view item = trim(s.substr(0, comma));
		s = comma == std::string_view::npos ? std::string_view{} : s.substr(comma + 1);
		size_t dash = item.find('-');
		if (dash == std::string_view::npos) {
			auto v = parse_num<int>(item);
			if (!v || *v < 0)
				return std::nullopt;
			cpus.push_back(*v);
			continue;
		}
		auto a = parse_num<int>(item.substr(0, dash));
		auto b = parse_num<int>(item.substr(dash + 1));
		if (!a || !b || *a < 0 || *b < *a || *b - *a > 65536)
			return std::nullopt;
		for (int c = *a; c <= *b; c++)
			cpus.push_back(c);
	}
	std::sort(cpus.begin(), cpus.end());
	cpus.erase(std::unique(cpus.begin(), cpus.end()), cpus.end());
	return cpus;
}

std::string format_cpu_list(const std::vector<int> &cpus)
{
	std::string out;
	for (size_t i = 0; i < cpus.size();) {
		size_t j = i;
		while (j + 1 < cpus.size() && cpus[j + 1] == cpus[j] + 1)
			j++;
		if (!out.empty())
			out += ',';
		out += std::to_string(cpus[i]);
		if (j > i)
			out += '-' + std::to_string(cpus[j]);
		i = j + 1;
	}
	return out;
}

std::string quoted(std::string_view s)
{
	std::string out = "\"";
	for (char c : s) {
		if (c == '"' || c == '\\') {
			out += '\\';
			out += c;
		} else if (static_cast<unsigned char>(c) < 0x20) {
			char b[8];
			snprintf(b, sizeof(b), "\\x%02x", static_cast<unsigned char>(c));
			out += b;
		} else {
			out += c;
		}
	}
	out += '"';
	return out;
}

} // namespace offl
