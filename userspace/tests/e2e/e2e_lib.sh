# SPDX-License-Identifier: GPL-2.0
# Shared by the agent's end-to-end tests (sourced, busybox sh): TAP
# counters and output, the root/prerequisite check, and task inspection.

n=0
failed=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $*"; }
check() { d=$1; shift; if "$@"; then ok "$d"; else not_ok "$d"; fi; }
diag() { echo "# $*"; }

# e2e_start FILE...: the TAP header; skip the whole test (exit 0) when a
# file is missing or when not root
e2e_start() {
	echo "TAP version 13"
	for f in "$@"; do
		[ -e "$f" ] || { echo "1..0 # SKIP missing $f"; exit 0; }
	done
	[ "$(id -u)" = 0 ] || { echo "1..0 # SKIP needs root"; exit 0; }
}

# policy PID: field 41 of /proc/PID/stat, or "gone"
policy() {
	s=$(cat "/proc/$1/stat" 2>/dev/null) || { echo gone; return; }
	s=${s##*) }
	# shellcheck disable=SC2086
	set -- $s
	shift 38
	echo "$1"
}
tids() { ls "/proc/$1/task" 2>/dev/null; }
