# Shared helpers for the sched-offline scripts.  Source it; it sets $top.
# shellcheck shell=bash

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

die() { echo "${0##*/}: error: $*" >&2; exit 1; }
warn() { echo "${0##*/}: warning: $*" >&2; }
note() { echo "${0##*/}: $*" >&2; }

# One CPU-heavy job (kernel build, timing-sensitive guest) at a time on this
# machine: everything that builds a kernel or boots a guest takes an exclusive
# flock on build/.cpu.lock for as long as it runs.  Interactive users may do
# the same by hand: `flock build/.cpu.lock make ...`.  A child of a script
# that holds the lock inherits it (SCHED_OFFLINE_CPU_LOCK is set), so nested
# scripts do not deadlock on themselves.
CPU_LOCK=${CPU_LOCK:-$top/build/.cpu.lock}
# True when an ancestor of this shell holds the lock already, e.g. someone
# ran `flock build/.cpu.lock scripts/build-kernel.sh ...`: taking it again
# on a new open file would wait forever.
cpu_lock_held_by_ancestor() {
	local ino holders p=$$
	ino=$(stat -c %i "$CPU_LOCK" 2>/dev/null) || return 1
	holders=" $(awk -v ino="$ino" '$2 == "FLOCK" { n = split($6, a, ":"); if (a[n] == ino) printf "%s ", $5 }' /proc/locks 2>/dev/null)"
	[ "$holders" != " " ] || return 1
	while [ -n "$p" ] && [ "$p" -gt 1 ]; do
		[[ $holders == *" $p "* ]] && return 0
		p=$(awk '{ print $4 }' "/proc/$p/stat" 2>/dev/null)
	done
	return 1
}

take_cpu_lock() {
	[ "${SCHED_OFFLINE_CPU_LOCK:-}" = "$CPU_LOCK" ] && return 0
	mkdir -p "$(dirname "$CPU_LOCK")"
	if cpu_lock_held_by_ancestor; then
		export SCHED_OFFLINE_CPU_LOCK=$CPU_LOCK
		return 0
	fi
	exec 9>>"$CPU_LOCK"
	if ! flock -n 9; then
		note "waiting for $CPU_LOCK (another kernel build or guest is running)"
		local t0=$SECONDS
		flock 9
		note "got $CPU_LOCK after $((SECONDS - t0)) s"
		# test-all.sh reports stage times without the time spent waiting
		[ -z "${CPU_LOCK_WAIT_LOG:-}" ] || echo $((SECONDS - t0)) >>"$CPU_LOCK_WAIT_LOG"
	fi
	export SCHED_OFFLINE_CPU_LOCK=$CPU_LOCK
}

# Number of patches named by kernel-patches/series (comments, blanks ignored).
series_count() {
	local s=$top/kernel-patches/series
	[ -f "$s" ] || { echo 0; return; }
	sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$s" | wc -l
}

# Kernel builds: the same ccache for every tree and checkout of this project.
# CCACHE_BASEDIR makes the absolute paths of a clone relative, so a fresh
# clone (CI) hits the objects an earlier clone put there.
kbuild_env() {
	export CCACHE_BASEDIR=$top
	export KBUILD_BUILD_USER=sched-offline KBUILD_BUILD_HOST=vmtest
	# A constant build number keeps linux_banner the same size in every
	# build, so bloat-o-meter compares the code, not the build counter.
	export KBUILD_BUILD_VERSION=1
	# With -g the build would hash the directory; keep it out of the key.
	export CCACHE_NOHASHDIR=1
}

fmt_secs() { printf '%dm%02ds' $(($1 / 60)) $(($1 % 60)); }
