// SPDX-License-Identifier: GPL-2.0
// The offlinectl command line (CLI11).  Exit codes: 0 success, 1 runtime
// failure (including per-task failures of agent --once/set/unset), 2 usage
// or configuration error; `run` exits with the command's status, or 126/127
// when the command cannot be executed (like env(1)).
#pragma once

namespace offl {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;

int run_cli(int argc, char **argv);

} // namespace offl
