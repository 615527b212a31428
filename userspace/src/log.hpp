// SPDX-License-Identifier: GPL-2.0
// Minimal leveled logger: one line per message on a stream (stderr by
// default, which systemd forwards to the journal).  Tests capture it.
#pragma once

#include <iostream>
#include <sstream>
#include <string>

namespace offl {

enum class LogLevel { Error = 0, Warn = 1, Info = 2, Debug = 3 };

class Logger {
public:
	explicit Logger(std::ostream &out = std::cerr, LogLevel level = LogLevel::Info)
		: out_(&out), level_(level) {}

	void set_level(LogLevel l) { level_ = l; }
	LogLevel level() const { return level_; }
	void set_stream(std::ostream &o) { out_ = &o; }
	bool enabled(LogLevel l) const { return l <= level_; }

	template <typename... A> void error(const A &...a) { emit(LogLevel::Error, a...); }
	template <typename... A> void warn(const A &...a) { emit(LogLevel::Warn, a...); }
	template <typename... A> void info(const A &...a) { emit(LogLevel::Info, a...); }
	template <typename... A> void debug(const A &...a) { emit(LogLevel::Debug, a...); }

private:
	template <typename... A> void emit(LogLevel l, const A &...a)
	{
		if (!enabled(l))
			return;
		std::ostringstream s;
		s << "offlinectl: ";
		if (l == LogLevel::Error)
			s << "error: ";
		else if (l == LogLevel::Warn)
			s << "warning: ";
		(s << ... << a);
		s << '\n';
		*out_ << s.str() << std::flush;
	}

	std::ostream *out_;
	LogLevel level_;
};

} // namespace offl
