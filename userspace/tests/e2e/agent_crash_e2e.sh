#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Crash test of `offlinectl agent` (issue 13 items 5 and 6; busybox sh
# compatible; prints TAP).  The agent is SIGKILLed in the middle of a pass,
# deterministically, right after its Nth write-ahead record (test hook
# OFFLINECTL_TEST_CRASH_AT=N), for several N; then `offlinectl restore`
# (which runs no pass of its own) must put every changed task back to
# SCHED_OTHER and every process back in its cgroup, remove the host cgroup
# and the state files.  Also: restore refuses while an agent runs, and a
# state file of another boot restores nothing.
#
# Environment: OFFLINECTL, HELPER (default: beside this script).

here=$(cd "$(dirname "$0")" && pwd)
OFFLINECTL=${OFFLINECTL:-$here/offlinectl}
HELPER=${HELPER:-$here/offlinectl-e2e-helper}
U=65534

# shellcheck source=e2e_lib.sh
. "$here/e2e_lib.sh"
e2e_start "$OFFLINECTL" "$HELPER"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/offlinectl-crash.XXXXXX") || { echo "1..0 # SKIP no temp dir"; exit 0; }
chmod 755 "$WORK"
pids=""
agent_pid=""
HOSTCG=/sys/fs/cgroup/offlinectl-crash-host
cleanup() {
	[ -n "$agent_pid" ] && kill "$agent_pid" 2>/dev/null
	for p in $pids; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	rmdir "$HOSTCG" 2>/dev/null
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

OFF=5
[ -e /proc/sched_offline ] && OFF=8
hostcg=false
[ -e /sys/fs/cgroup/cgroup.controllers ] && hostcg=true
diag "offline policy $OFF, host cgroup: $hostcg"
STATE=$WORK/run/state.json
cat >"$WORK/crash.toml" <<EOT
[agent]
resync_interval = 1
state_file = "$STATE"
[classify]
default_class = "exempt"
[classes.host]
policy = "offline"
[host_cgroup]
enabled = $hostcg
name = "offlinectl-crash-host"
cpus = "0"
classes = ["host"]
[[rule]]
name = "the unprivileged user"
class = "host"
uid = $U
EOT

cgroup_of() { sed -n 's/^0:://p' "/proc/$1/cgroup" 2>/dev/null; }
all_policy() {
	[ -n "$(tids "$1")" ] || { diag "process $1 is gone"; return 1; }
	for t in $(tids "$1"); do
		p=$(policy "$t")
		[ "$p" = "$2" ] || { diag "task $t of $1: policy $p, want $2"; return 1; }
	done
	return 0
}
start() { "$@" & pids="$pids $!"; last=$!; }

actors=""
for i in 1 2 3 4; do
	# 3 threads each (main, "CPU 0/KVM", "IO mon_iothread"), mostly asleep
	start "$HELPER" --exec-as "$U" "crash-actor-$i" "$HELPER" --mode vm -smp 1 --duty 1:50 --timeout 300
	actors="$actors $last"
done
sleep 0.5
orig_cg=$(cgroup_of $last)
diag "actors:$actors (cgroup $orig_cg)"

no_state() { [ ! -e "$STATE" ] && [ ! -s "$STATE.log" ]; }
all_back() {
	for a in $actors; do
		all_policy "$a" 0 || return 1
		if $hostcg && [ "$(cgroup_of "$a")" != "$orig_cg" ]; then
			diag "actor $a in $(cgroup_of "$a"), want $orig_cg"
			return 1
		fi
	done
	return 0
}
offline_count() {
	c=0
	for a in $actors; do for t in $(tids "$a"); do [ "$(policy "$t")" = "$OFF" ] && c=$((c + 1)); done; done
	echo $c
}

# Records: one per thread made offline (12), one per cgroup move (4), the
# host cgroup's creation: crash at the first, in the middle, near the end, and
# after processes were moved into the host cgroup (16).
for at in 1 2 4 7 11 14 16; do
	OFFLINECTL_TEST_CRASH_AT=$at "$OFFLINECTL" -c "$WORK/crash.toml" agent --once >"$WORK/once.$at.log" 2>&1
	rc=$?
	changed=$(offline_count)
	moved=0
	$hostcg && [ -e "$HOSTCG/cgroup.procs" ] && moved=$(wc -l <"$HOSTCG/cgroup.procs")
	diag "crash at record $at: exit $rc, $changed thread(s) offline, $moved process(es) in the host cgroup"
	check "agent killed at write-ahead record $at (exit $rc)" [ "$rc" -eq 137 ]
	"$OFFLINECTL" -c "$WORK/crash.toml" restore >"$WORK/restore.$at.log" 2>&1
	rc=$?
	sed 's/^/# restore: /' "$WORK/restore.$at.log" | head -6
	check "restore after the crash at record $at exits 0 (exit $rc)" [ "$rc" -eq 0 ]
	check "after crash $at + restore: every task SCHED_OTHER, every process in its cgroup" all_back
	check "after crash $at + restore: host cgroup removed" [ ! -d "$HOSTCG" ]
	check "after crash $at + restore: state files removed" no_state
done

# A complete --once, then restore.
"$OFFLINECTL" -c "$WORK/crash.toml" agent --once >"$WORK/once.log" 2>&1
check "agent --once (no crash) changed every actor's threads ($(offline_count))" [ "$(offline_count)" -eq 12 ]
"$OFFLINECTL" -c "$WORK/crash.toml" restore >"$WORK/restore.log" 2>&1
sed 's/^/# restore: /' "$WORK/restore.log" | head -4
check "restore after a complete run puts everything back" all_back

# restore refuses while an agent runs.
"$OFFLINECTL" -c "$WORK/crash.toml" agent >"$WORK/agent.log" 2>&1 &
agent_pid=$!
i=0
while [ "$(offline_count)" -lt 12 ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
"$OFFLINECTL" -c "$WORK/crash.toml" restore >"$WORK/restore.busy.log" 2>&1
rc=$?
sed 's/^/# restore: /' "$WORK/restore.busy.log" | head -3
check "restore refuses while an agent runs (exit $rc)" [ "$rc" -ne 0 ]
check "... and changes nothing" [ "$(offline_count)" -eq 12 ]
kill -KILL "$agent_pid"
wait "$agent_pid" 2>/dev/null
agent_pid=""
# A state file of another boot: nothing in it is ours.
if [ -e "$STATE" ]; then
	sed 's/"boot_id": *"[^"]*"/"boot_id": "00000000-0000-0000-0000-000000000000"/' "$STATE" >"$STATE.x" && mv "$STATE.x" "$STATE"
	chmod 600 "$STATE"
	: >"$STATE.log"
	"$OFFLINECTL" -c "$WORK/crash.toml" restore >"$WORK/restore.stale.log" 2>&1
	sed 's/^/# restore: /' "$WORK/restore.stale.log" | head -3
	check "a state file of another boot restores nothing" grep -q "earlier boot" "$WORK/restore.stale.log"
	check "... the tasks stay as they are" [ "$(offline_count)" -eq 12 ]
else
	not_ok "the SIGKILLed daemon left no state file"
fi

echo "1..$n"
[ "$failed" -eq 0 ]
