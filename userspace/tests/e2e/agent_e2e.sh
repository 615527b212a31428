#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# End-to-end test of `offlinectl agent` (busybox sh compatible; prints TAP).
#
# Starts a fake VM (offlinectl-e2e-helper copied as qemu-system-x86_64, with
# threads "CPU 0/KVM".. running a busy/sleep duty cycle), a second fake VM
# started offline through `offlinectl run`, a fake host daemon, a fake
# critical service and batch hogs; runs `offlinectl agent --once` and then
# the daemon; checks policies from /proc:
#   batch and host tasks     -> SCHED_OFFLINE (8), or SCHED_IDLE (5) on a
#                               kernel without /proc/sched_offline
#   vCPU threads, QEMU's other threads, critical service -> SCHED_OTHER (0)
#   PID 1 and every kernel thread -> unchanged
#   vCPU run-queue wait (schedstat) drops once the hogs are offline, and the
#   hogs still get CPU time (they fill the vCPUs' idle time)
#   daemon: marks a new hog within a few resyncs, keeps its config on a bad
#   SIGHUP reload, restores the policies on SIGTERM; --dry-run changes nothing
#
# Environment:
#   OFFLINECTL  path of offlinectl       (default: beside this script)
#   HELPER      path of the helper       (default: beside this script)
#   CONFIG      test config              (default: agent_e2e.toml beside it)
#   E2E_SCOPE   test: only the test's processes are classified (safe on a
#               development host; default); host: every guest task not
#               matched by a rule is class "host" (offline)
#   MEASURE_S   seconds per CPU-share measurement (default 2)

here=$(cd "$(dirname "$0")" && pwd)
OFFLINECTL=${OFFLINECTL:-$here/offlinectl}
HELPER=${HELPER:-$here/offlinectl-e2e-helper}
CONFIG=${CONFIG:-$here/agent_e2e.toml}
E2E_SCOPE=${E2E_SCOPE:-test}
MEASURE_S=${MEASURE_S:-2}

n=0
failed=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $*"; }
skip() { n=$((n + 1)); echo "ok $n - $* # SKIP"; }
check() { # check DESCRIPTION COMMAND...
	d=$1
	shift
	if "$@"; then ok "$d"; else not_ok "$d"; fi
}
diag() { echo "# $*"; }

echo "TAP version 13"
for f in "$OFFLINECTL" "$HELPER" "$CONFIG"; do
	if [ ! -e "$f" ]; then
		echo "1..0 # SKIP missing $f"
		exit 0
	fi
done
if [ "$(id -u)" != 0 ]; then
	echo "1..0 # SKIP needs root (changes other tasks' policies)"
	exit 0
fi

tmp=${TMPDIR:-/tmp}
mkdir -p "$tmp"
WORK=$(mktemp -d "$tmp/offlinectl-e2e.XXXXXX") || { echo "1..0 # SKIP cannot create a temp dir in $tmp"; exit 0; }
pids=""
agent_pid=""
cleanup() {
	[ -n "$agent_pid" ] && kill "$agent_pid" 2>/dev/null
	for p in $pids; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

for name in qemu-system-x86_64 e2e-hostd e2e-critical e2e-batch-hog; do
	cp "$HELPER" "$WORK/$name"
done
sed "s/^default_class = .*/default_class = \"$([ "$E2E_SCOPE" = host ] && echo host || echo exempt)\"/" \
	"$CONFIG" >"$WORK/e2e.toml"

if [ -e /proc/sched_offline ]; then
	OFF=8
	diag "kernel has SCHED_OFFLINE: expecting policy 8"
else
	OFF=5
	diag "kernel has no SCHED_OFFLINE (/proc/sched_offline missing): expecting the SCHED_IDLE fallback, policy 5"
fi
ncpu=$(grep -c '^processor' /proc/cpuinfo)
[ "$ncpu" -ge 1 ] || ncpu=1
diag "$ncpu CPUs, scope $E2E_SCOPE"

# --- helpers reading /proc ---------------------------------------------------
# policy TID: field 41 of /proc/TID/stat (comm may contain spaces and ')').
policy() {
	s=$(cat "/proc/$1/stat" 2>/dev/null) || { echo gone; return; }
	s=${s##*) }
	# shellcheck disable=SC2086
	set -- $s
	shift 38
	echo "$1"
}
tids() { ls "/proc/$1/task" 2>/dev/null; }
comm() { cat "/proc/$1/comm" 2>/dev/null; }
# all TIDs of PID have policy P?
all_policy() {
	for t in $(tids "$1"); do
		p=$(policy "$t")
		if [ "$p" != "$2" ]; then
			diag "task $t ($(comm "$t")) of $1 has policy $p, expected $2"
			return 1
		fi
	done
	return 0
}
vcpu_tids() {
	for t in $(tids "$1"); do
		case "$(comm "$t")" in "CPU "*"/KVM") echo "$t" ;; esac
	done
}
# sum of field N (1: run ns, 2: wait ns) of schedstat over TIDs
schedstat_sum() {
	f=$1
	shift
	sum=0
	for t in "$@"; do
		s=$(cat "/proc/$t/schedstat" 2>/dev/null) || continue
		# shellcheck disable=SC2086
		set -- $s
		if [ "$f" = 1 ]; then sum=$((sum + $1)); else sum=$((sum + $2)); fi
	done
	echo "$sum"
}
uptime_cs() { u=$(cut -d' ' -f1 /proc/uptime); echo "${u%.*}${u#*.}"; }
# policies of PID 1 and all kernel threads (flags & PF_KTHREAD) as "tid:policy"
kthread_policies() {
	for d in /proc/[0-9]*; do
		p=${d#/proc/}
		s=$(cat "$d/stat" 2>/dev/null) || continue
		s=${s##*) }
		# shellcheck disable=SC2086
		set -- $s
		flags=$7
		if [ "$p" = 1 ] || [ $((flags & 0x00200000)) -ne 0 ]; then
			shift 38
			echo "$p:$1"
		fi
	done
}
wait_policy() { # wait_policy PID POLICY SECONDS
	i=0
	while [ $i -lt $(($3 * 10)) ]; do
		all_policy "$1" "$2" >/dev/null 2>&1 && return 0
		sleep 0.1
		i=$((i + 1))
	done
	all_policy "$1" "$2"
}
start() { "$@" & pids="$pids $!"; last=$!; }

# --- actors -----------------------------------------------------------------
# vCPU i and hog i share CPU i (the vCPUs pinned one-to-one, as agent part 2
# binds them), so what a vCPU gets depends on the hogs' class.
start "$WORK/qemu-system-x86_64" -name guest=e2e,debug-threads=on -smp "$ncpu" --duty 5:5 --pin --timeout 300
vm=$last
start "$OFFLINECTL" -q run -- "$WORK/qemu-system-x86_64" -name guest=e2e-offline,debug-threads=on -smp 2 --duty 1:20 --timeout 300
vm_off=$last
start "$WORK/e2e-hostd" --timeout 300
hostd=$last
start "$WORK/e2e-critical" --timeout 300
crit=$last
# Every thread must exist before the hogs start: an offline process gets no
# CPU once they run (on a SCHED_OFFLINE kernel), so it would create its
# threads only after `agent --once` has come and gone.
i=0
while { [ "$(vcpu_tids "$vm" | wc -l)" -lt "$ncpu" ] || [ "$(vcpu_tids "$vm_off" | wc -l)" -lt 2 ]; } &&
	[ $i -lt 100 ]; do
	sleep 0.1
	i=$((i + 1))
done
check "fake VM has $ncpu vCPU threads named 'CPU N/KVM'" [ "$(vcpu_tids "$vm" | wc -l)" -eq "$ncpu" ]
check "VM started by 'offlinectl run' is offline ($OFF)" all_policy "$vm_off" "$OFF"

vcpus=$(vcpu_tids "$vm")
hogs=""
measure() { # prints "vcpu_run vcpu_wait hog_run", per mille of wall time, summed
	r0=$(schedstat_sum 1 $vcpus)
	w0=$(schedstat_sum 2 $vcpus)
	h0=$(schedstat_sum 1 $(for h in $hogs; do tids "$h"; done))
	t0=$(uptime_cs)
	sleep "$MEASURE_S"
	r1=$(schedstat_sum 1 $vcpus)
	w1=$(schedstat_sum 2 $vcpus)
	h1=$(schedstat_sum 1 $(for h in $hogs; do tids "$h"; done))
	t1=$(uptime_cs)
	wall_ns=$(((t1 - t0) * 10000000))
	[ $wall_ns -gt 0 ] || wall_ns=1
	echo "$(((r1 - r0) * 1000 / wall_ns)) $(((w1 - w0) * 1000 / wall_ns)) $(((h1 - h0) * 1000 / wall_ns))"
}
set -- $(measure)
run_alone=$1
wait_alone=$2
diag "vCPUs alone:       run $run_alone, run-queue wait $wait_alone (per mille of wall time, sum over $ncpu vCPUs)"

i=0
while [ $i -lt "$ncpu" ]; do
	start "$WORK/e2e-batch-hog" --cpu $i --timeout 300
	hogs="$hogs $last"
	i=$((i + 1))
done
sleep 0.5
before_k=$(kthread_policies | sort)
set -- $(measure)
run_before=$1
wait_before=$2
hog_before=$3
diag "with online hogs:  run $run_before, wait $wait_before; hogs run $hog_before"

# --- agent --once -------------------------------------------------------------
out=$("$OFFLINECTL" -c "$WORK/e2e.toml" agent --once 2>&1)
rc=$?
echo "$out" | sed 's/^/# /'
check "offlinectl agent --once exits 0" [ "$rc" -eq 0 ]
for h in $hogs; do
	check "batch hog $h is policy $OFF" all_policy "$h" "$OFF"
done
check "host daemon is policy $OFF" all_policy "$hostd" "$OFF"
check "critical service stays SCHED_OTHER" all_policy "$crit" 0
check "vCPU and service threads of the VM untouched (SCHED_OTHER)" all_policy "$vm" 0
check "VM started offline is moved online (class vcpu/vm-service)" all_policy "$vm_off" 0
after_k=$(kthread_policies | sort)
# kworkers come and go meanwhile: judge the threads that exist both times
changed_k=$(printf '%s\n%s\n' "$before_k" "$after_k" | awk -F: '
	NF == 2 { if ($1 in pol && pol[$1] != $2) print $1; pol[$1] = $2 }')
check "PID 1 and kernel threads untouched" [ -z "$changed_k" ]
if [ "$E2E_SCOPE" = host ]; then
	check "explain PID 1 says built-in exemption" sh -c "'$OFFLINECTL' -c '$WORK/e2e.toml' explain 1 | grep -q 'PID 1'"
fi

# The second VM was offline while the vCPUs ran alone; online now, it would
# compete with them: stop it so the three measurements compare like with like.
kill "$vm_off" 2>/dev/null
set -- $(measure)
run_after=$1
wait_after=$2
hog_after=$3
diag "with offline hogs: run $run_after, wait $wait_after; hogs run $hog_after"
for t in $vcpus; do
	diag "  vCPU $t ($(comm "$t")) on CPU $(grep Cpus_allowed_list "/proc/$t/status" | cut -f2): schedstat $(cat "/proc/$t/schedstat")"
done
"$OFFLINECTL" -c "$WORK/e2e.toml" top --once -d 1 2>&1 | sed 's/^/# /'
# Ratios within this run (design s.5).  Seen in the 4-CPU TCG guest: the
# vCPUs keep 84-94% of their alone run time beside offline hogs (SCHED_IDLE
# hogs about the same there) and 64-70% beside online ones; on hardware the
# offline case is ~100%.  Single-threaded TCG serves one guest CPU at a time,
# so a woken vCPU also waits for QEMU to come back to its CPU when the others
# are busy, whatever the hogs' class: the run-queue wait is reported, not
# judged.
if [ "$run_alone" -lt 100 ]; then
	skip "vCPUs get their CPU back (they hardly ran alone: $run_alone per mille)"
else
	check "vCPUs with offline hogs keep >= 75% of their run time alone ($run_after vs $run_alone)" \
		[ $((run_after * 100)) -ge $((run_alone * 75)) ]
	check "vCPUs run >= 1.1x more with offline hogs than with online ones ($run_after vs $run_before)" \
		[ $((run_after * 10)) -ge $((run_before * 11)) ]
fi
check "offline hogs still run in the vCPUs' idle time ($hog_after per mille)" [ "$hog_after" -ge 100 ]

# --- dry run --------------------------------------------------------------------
start "$WORK/e2e-batch-hog" --timeout 300
dry=$last
sleep 0.2
out=$("$OFFLINECTL" -c "$WORK/e2e.toml" agent --once --dry-run 2>&1)
check "--dry-run prints the plan" sh -c "echo \"\$1\" | grep -q 'would set $dry '" sh "$out"
check "--dry-run changes nothing" all_policy "$dry" 0

# --- daemon: resync, SIGHUP, SIGTERM restore --------------------------------------
cp "$WORK/e2e.toml" "$WORK/daemon.toml"
"$OFFLINECTL" -c "$WORK/daemon.toml" agent >"$WORK/agent.log" 2>&1 &
agent_pid=$!
check "daemon marks a task started before it" wait_policy "$dry" "$OFF" 5
start "$WORK/e2e-batch-hog" --timeout 300
late=$last
check "daemon marks a new batch task by resync" wait_policy "$late" "$OFF" 5
echo 'this is [not toml' >"$WORK/daemon.toml"
kill -HUP "$agent_pid"
sleep 0.5
check "daemon survives a bad SIGHUP reload" kill -0 "$agent_pid"
wait_log() { # wait_log PATTERN SECONDS
	i=0
	while [ $i -lt $(($2 * 10)) ]; do
		grep -q "$1" "$WORK/agent.log" && return 0
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}
check "bad reload is logged with file:line" wait_log "daemon.toml:1" 5
start "$WORK/e2e-batch-hog" --timeout 300
late2=$last
check "old config still applied after the bad reload" wait_policy "$late2" "$OFF" 5
kill -TERM "$agent_pid"
wait "$agent_pid"
rc=$?
agent_pid=""
sed 's/^/# agent: /' "$WORK/agent.log"
check "daemon exits 0 on SIGTERM" [ "$rc" -eq 0 ]
check "SIGTERM restores what the daemon changed" all_policy "$late" 0
check "SIGTERM restores the second task too" all_policy "$late2" 0
check "tasks set by --once (before the daemon) stay offline" all_policy "$hostd" "$OFF"

echo "1..$n"
[ "$failed" -eq 0 ]
