// SPDX-License-Identifier: GPL-2.0
// Small helpers shared by every module: errno text, string trimming, number
// parsing without exceptions or locale.
#pragma once

#include <charconv>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace offl {

std::string errno_str(int err);

inline std::string_view trim(std::string_view s)
{
	while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\n' || s.front() == '\r'))
		s.remove_prefix(1);
	while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\n' || s.back() == '\r'))
		s.remove_suffix(1);
	return s;
}

template <typename T>
std::optional<T> parse_num(std::string_view s)
{
	T v{};
	if (s.empty())
		return std::nullopt;
	auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
	if (ec != std::errc() || p != s.data() + s.size())
		return std::nullopt;
	return v;
}

// Split on any run of spaces/tabs.
std::vector<std::string_view> split_ws(std::string_view s);

// "0-3,8,10-11" -> {0,1,2,3,8,10,11}; nullopt on malformed input.
std::optional<std::vector<int>> parse_cpu_list(std::string_view s);
std::string format_cpu_list(const std::vector<int> &cpus);

// Quote a string for human output (comm may hold spaces and parentheses).
std::string quoted(std::string_view s);

} // namespace offl
