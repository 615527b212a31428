#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# End-to-end test of vCPU placement and host isolation (busybox sh; TAP).
# Needs 2+ NUMA nodes with 3+ CPUs each (scripts/vmtest --numa --smp 6).
#
#   1. fake VMs A (2 vCPUs) and B (1 vCPU) alone, then with batch hogs
#      pinned one per CPU and a busy host daemon, no agent: vCPU steal
#      (run-queue wait / wall time from schedstat) is measured;
#   2. the agent starts (resync every 10 minutes, so only events can
#      explain what happens later): A and B get non-overlapping one-to-one
#      bindings on a node each, off the reserved CPUs; the host daemon lands
#      in the host cgroup (cpuset = reserved CPUs); steal is measured again:
#      what the hogs add over the VMs alone must be far below what they add
#      without the agent (same run);
#   3. VM C (1 vCPU) started later is bound through the event path within a
#      bounded time; VM D (2 vCPUs) does not fit and is reported, unbound;
#   4. A exits: D gets A's CPUs (exit event -> re-plan);
#   5. SIGTERM: affinities and the cgroup move are undone;
#   6. a second agent without the proc connector (events = "pid-files")
#      binds a VM as soon as its pid file appears;
#   7. agent --once with overcommit_ratio 2: range bindings within the
#      load limit, a 4-vCPU VM on a shared set of 2 CPUs.
#
# Environment: OFFLINECTL, HELPER (default: beside this script), MEASURE_S
# (seconds per steal measurement, default 2), BOUND_S (event-path bound,
# default 3).

here=$(cd "$(dirname "$0")" && pwd)
OFFLINECTL=${OFFLINECTL:-$here/offlinectl}
HELPER=${HELPER:-$here/offlinectl-e2e-helper}
MEASURE_S=${MEASURE_S:-2}
BOUND_S=${BOUND_S:-3}

# shellcheck source=e2e_lib.sh
. "$here/e2e_lib.sh"
e2e_start "$OFFLINECTL" "$HELPER"
nodes=$(ls -d /sys/devices/system/node/node[0-9]* 2>/dev/null | wc -l)
if [ "$nodes" -lt 2 ]; then
	echo "1..0 # SKIP needs 2 NUMA nodes (scripts/vmtest --numa), found $nodes"
	exit 0
fi
# cpulist -> space separated CPUs
expand() {
	echo "$1" | tr ',' '\n' | while IFS=- read -r a b; do
		[ -n "$a" ] || continue
		[ -n "$b" ] || b=$a
		i=$a
		while [ "$i" -le "$b" ]; do echo "$i"; i=$((i + 1)); done
	done | tr '\n' ' '
}
node0=$(expand "$(cat /sys/devices/system/node/node0/cpulist)")
node1=$(expand "$(cat /sys/devices/system/node/node1/cpulist)")
set -- $node0; n0=$#; r0=$1
set -- $node1; n1=$#; r1=$1
if [ "$n0" -lt 3 ] || [ "$n1" -lt 3 ]; then
	echo "1..0 # SKIP needs 3+ CPUs per node (node0: $node0, node1: $node1)"
	exit 0
fi
node_of() {
	case " $node0 " in *" $1 "*) echo 0; return ;; esac
	case " $node1 " in *" $1 "*) echo 1; return ;; esac
	echo -1
}
ncpu=$(grep -c '^processor' /proc/cpuinfo)
diag "node0: $node0, node1: $node1; reserved host CPUs $r0,$r1"

tmp=${TMPDIR:-/tmp}
mkdir -p "$tmp"
WORK=$(mktemp -d "$tmp/offlinectl-numa.XXXXXX") || { echo "1..0 # SKIP no temp dir"; exit 0; }
pids=""
agent_pid=""
cleanup() {
	[ -n "$agent_pid" ] && kill "$agent_pid" 2>/dev/null && wait "$agent_pid" 2>/dev/null
	for p in $pids; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
for name in qemu-system-x86_64 e2e-hostd e2e-batch-hog; do cp "$HELPER" "$WORK/$name"; done
cat >"$WORK/numa.toml" <<EOT
[agent]
resync_interval = "10m"
state_file = "$WORK/state.json"
events = "proc-connector"

[classify]
default_class = "exempt"
# the fake VMs run as root from a root-owned copy (a VM: classify.hpp)
vm_users = ["root"]

[classes.host]
policy = "offline"

[classes.batch]
policy = "offline"

[placement]
enabled = true
overcommit_ratio = 1.0
reserved_cpus = "$r0,$r1"

[host_cgroup]
enabled = true
classes = ["host"]
memory_max = "256M"

[[rule]]
name = "the test script"
class = "exempt"
cmdline = ".*agent_numa_e2e.*"

[[rule]]
class = "batch"
comm = "e2e-batch-hog"

[[rule]]
class = "host"
comm = "e2e-hostd"
EOT

start() { "$@" & pids="$pids $!"; last=$!; }
vcpu_tids() {
	for t in $(tids "$1"); do
		case "$(cat "/proc/$1/task/$t/comm" 2>/dev/null)" in "CPU "*"/KVM") echo "$t" ;; esac
	done
}
aff() { sed -n 's/^Cpus_allowed_list:[[:space:]]*//p' "/proc/$1/status" 2>/dev/null; }
cgroup_of() { sed -n 's/^0:://p' "/proc/$1/cgroup" 2>/dev/null; }
uptime_cs() { u=$(cut -d' ' -f1 /proc/uptime); echo "${u%.*}${u#*.}"; }
wait_vcpus() { # PID COUNT
	i=0
	while [ "$(vcpu_tids "$1" | wc -l)" -lt "$2" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
}
# Every vCPU of PID bound to one CPU each?  Prints the CPUs.
bound_cpus() {
	out=""
	for t in $(vcpu_tids "$1"); do
		a=$(aff "$t")
		case "$a" in *[-,]* | "") return 1 ;; esac
		out="$out $a"
	done
	echo "$out"
}
wait_bound() { # PID SECONDS -> guest centiseconds it took, or fails
	t0=$(uptime_cs)
	i=0
	while [ $i -lt $(($2 * 20)) ]; do
		if bound_cpus "$1" >/dev/null; then
			echo $(($(uptime_cs) - t0))
			return 0
		fi
		sleep 0.05
		i=$((i + 1))
	done
	return 1
}
# per mille of wall time the given tids waited on a run queue, summed
steal() {
	list="$*"
	s0=0
	for t in $list; do set -- $(cat "/proc/$t/schedstat" 2>/dev/null); s0=$((s0 + ${2:-0})); done
	t0=$(uptime_cs)
	sleep "$MEASURE_S"
	s1=0
	for t in $list; do set -- $(cat "/proc/$t/schedstat" 2>/dev/null); s1=$((s1 + ${2:-0})); done
	t1=$(uptime_cs)
	w=$(((t1 - t0) * 10000000))
	[ $w -gt 0 ] || w=1
	echo $(((s1 - s0) * 1000 / w))
}

# --- 1. no agent ----------------------------------------------------------------
# Long duty periods: few wakeups, so the emulation's wakeup delay (below)
# weighs little against what competing hogs take.
start "$WORK/qemu-system-x86_64" -name guest=A,debug-threads=on -smp 2 --duty 20:20 --timeout 600
vmA=$last
wait_vcpus "$vmA" 2
start "$WORK/qemu-system-x86_64" -name guest=B,debug-threads=on -smp 1 --duty 20:20 --timeout 600
vmB=$last
wait_vcpus "$vmB" 1
ts="$(vcpu_tids "$vmA") $(vcpu_tids "$vmB")"
# Single-threaded TCG serves one guest CPU at a time, so a woken vCPU waits
# for QEMU to come back to its CPU even with nothing else runnable there:
# this floor is measured first and the hogs are judged by what they add.
steal_alone=$(steal $ts)
diag "vCPU steal alone: $steal_alone per mille (sum over 3 vCPUs; the emulation's floor)"
i=0
hogs=""
while [ $i -lt "$ncpu" ]; do
	start "$WORK/e2e-batch-hog" --cpu $i --timeout 600
	hogs="$hogs $last"
	i=$((i + 1))
done
start "$WORK/e2e-hostd" --mode hog --timeout 600
hostd=$last
sleep 0.5
check "fake VMs A and B have 3 vCPU threads" [ "$(echo $ts | wc -w)" -eq 3 ]
steal_without=$(steal $ts)
diag "vCPU steal without the agent: $steal_without per mille (sum over 3 vCPUs)"

# --- 2. agent ---------------------------------------------------------------------
"$OFFLINECTL" -v -c "$WORK/numa.toml" agent >"$WORK/agent.log" 2>&1 &
agent_pid=$!
tA=$(wait_bound "$vmA" 10) && tB=$(wait_bound "$vmB" 10)
check "agent binds A and B one-to-one" [ -n "$tA" ] && [ -n "$tB" ]
cA=$(bound_cpus "$vmA")
cB=$(bound_cpus "$vmB")
diag "A vCPUs on CPUs$cA, B on$cB"
distinct() { [ "$(echo "$@" | tr ' ' '\n' | sort -u | wc -l)" -eq "$#" ]; }
check "no CPU carries two vCPUs" distinct $cA $cB
not_reserved() { for c in "$@"; do [ "$c" != "$r0" ] && [ "$c" != "$r1" ] || return 1; done; }
check "no vCPU on a reserved host CPU" not_reserved $cA $cB
same_node() { nd=$(node_of "$1"); for c in "$@"; do [ "$(node_of "$c")" = "$nd" ] || return 1; done; echo "$nd"; }
ndA=$(same_node $cA) && ndB=$(same_node $cB)
check "A on one node ($ndA), B on the other ($ndB)" [ -n "$ndA" ] && [ -n "$ndB" ] && [ "$ndA" != "$ndB" ]
check "emulator thread of A on the reserved CPU of its node" \
	[ "$(aff "$vmA")" = "$([ "$ndA" = 0 ] && echo "$r0" || echo "$r1")" ]
i=0
while [ "$(cgroup_of "$hostd")" != /offlinectl-host ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
check "host daemon moved to the host cgroup ($(cgroup_of "$hostd"))" [ "$(cgroup_of "$hostd")" = /offlinectl-host ]
check "host cgroup cpuset is the reserved CPUs ($(cat /sys/fs/cgroup/offlinectl-host/cpuset.cpus 2>/dev/null))" \
	[ "$(cat /sys/fs/cgroup/offlinectl-host/cpuset.cpus 2>/dev/null)" = "$r0,$r1" ]
check "host daemon runs on the reserved CPUs only ($(aff "$hostd"))" [ "$(aff "$hostd")" = "$r0,$r1" ]
check "host cgroup memory.max set" [ "$(cat /sys/fs/cgroup/offlinectl-host/memory.max 2>/dev/null)" = 268435456 ]
for h in $hogs; do diag "batch hog $h: policy $(sed 's/.*) //' /proc/$h/stat | cut -d' ' -f39)"; done
steal_with=$(steal $ts)
diag "vCPU steal with the agent: $steal_with per mille (without: $steal_without, alone: $steal_alone)"
add_without=$((steal_without - steal_alone))
add_with=$((steal_with - steal_alone))
[ "$add_with" -ge 0 ] || add_with=0
if [ "$add_without" -lt 100 ]; then
	not_ok "hogs added no steal to judge ($steal_without vs $steal_alone per mille alone)"
else
	# In single-threaded TCG a busy guest CPU takes an interrupt (the
	# vCPU's timer) only when QEMU's round robin comes back to it, so a
	# vCPU woken beside an offline hog still waits, whatever the hog's
	# class; with 5:5 ms duty cycles the hogs added ~1350-1400 per mille
	# without the agent and 470-610 with it; on hardware the offline case
	# is close to the floor.  Judged with a 2x margin.
	check "steal the hogs add: with the agent <= 1/2 of without ($add_with vs $add_without per mille)" \
		[ $((add_with * 2)) -le "$add_without" ]
fi
"$OFFLINECTL" -c "$WORK/numa.toml" status --steal-interval 1 2>&1 | sed -n '/^VMs/,/^$/p' | sed 's/^/# /'

# --- 3. event path ------------------------------------------------------------------
start "$WORK/qemu-system-x86_64" -name guest=C,debug-threads=on -smp 1 --duty 5:5 --timeout 600
vmC=$last
if tC=$(wait_bound "$vmC" "$BOUND_S"); then
	ok "VM C started later is bound within ${BOUND_S}s through events (took $((tC * 10)) ms guest time)"
else
	not_ok "VM C started later is bound within ${BOUND_S}s through events"
fi
cC=$(bound_cpus "$vmC")
check "C's CPU ($cC) is free of A and B" distinct $cA $cB $cC
start "$WORK/qemu-system-x86_64" -name guest=D,debug-threads=on -smp 2 --duty 5:5 --timeout 600
vmD=$last
wait_vcpus "$vmD" 2
i=0
while ! grep -q "VM $vmD .*do not fit" "$WORK/agent.log" && [ $i -lt $((BOUND_S * 10)) ]; do sleep 0.1; i=$((i + 1)); done
check "VM D does not fit and is reported" grep -q "VM $vmD .*do not fit" "$WORK/agent.log"
unbound() { for t in $(vcpu_tids "$1"); do case "$(aff "$t")" in *[-,]*) ;; *) return 1 ;; esac; done; }
check "VM D is left unbound, not bound over others" unbound "$vmD"

# --- 4. an exit frees CPUs ----------------------------------------------------------
kill "$vmA"
wait "$vmA" 2>/dev/null
if tD=$(wait_bound "$vmD" "$BOUND_S"); then
	ok "A's exit frees its CPUs: D bound within ${BOUND_S}s ($((tD * 10)) ms guest time)"
else
	not_ok "A's exit frees its CPUs: D bound within ${BOUND_S}s"
fi
cD=$(bound_cpus "$vmD")
check "D got A's CPUs ($cD vs$cA)" [ "$(echo $cD | tr ' ' '\n' | sort | tr '\n' ' ')" = "$(echo $cA | tr ' ' '\n' | sort | tr '\n' ' ')" ]
check "B and C kept their CPUs" [ "$(bound_cpus "$vmB")" = "$cB" ] && [ "$(bound_cpus "$vmC")" = "$cC" ]

# --- 5. exit restores -----------------------------------------------------------------
kill -TERM "$agent_pid"
wait "$agent_pid"
rc=$?
agent_pid=""
grep -E "latency|event ->|placement:|host cgroup|do not fit|memory ->|events:|resync:" "$WORK/agent.log" | sed 's/^/# agent: /'
check "agent exits 0 on SIGTERM" [ "$rc" -eq 0 ]
check "vCPU affinities restored ($(aff "$(vcpu_tids "$vmB")"))" [ "$(aff "$(vcpu_tids "$vmB")")" = "0-$((ncpu - 1))" ]
check "host daemon back in its cgroup ($(cgroup_of "$hostd"))" [ "$(cgroup_of "$hostd")" = / ]
check "host cgroup removed" [ ! -d /sys/fs/cgroup/offlinectl-host ]

# --- 6. the pid-file fallback ----------------------------------------------------------
# No proc connector: a VM that writes a pid file (QEMU's -pidfile) is seen
# through inotify on the pid-file directory.
kill "$vmD"
wait "$vmD" 2>/dev/null
mkdir -p "$WORK/run"
sed -e 's/^events = .*/events = "pid-files"/' -e "s|^\[agent\]|[agent]\npid_dirs = [\"$WORK/run\"]|" \
	"$WORK/numa.toml" >"$WORK/pidfiles.toml"
"$OFFLINECTL" -v -c "$WORK/pidfiles.toml" agent >"$WORK/agent2.log" 2>&1 &
agent_pid=$!
i=0
while ! grep -q "agent running" "$WORK/agent2.log" && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
check "second agent watches pid files" grep -q "events: pid-file watch" "$WORK/agent2.log"
wait_bound "$vmB" 5 >/dev/null
start "$WORK/qemu-system-x86_64" -name guest=E,debug-threads=on -smp 1 --duty 5:5 --timeout 600
vmE=$last
wait_vcpus "$vmE" 1
sleep 0.5
check "without an event VM E stays unbound" unbound "$vmE"
echo "$vmE" >"$WORK/run/E.pid"
if tE=$(wait_bound "$vmE" "$BOUND_S"); then
	ok "VM E bound within ${BOUND_S}s of its pid file ($((tE * 10)) ms guest time)"
else
	not_ok "VM E bound within ${BOUND_S}s of its pid file"
fi
kill -TERM "$agent_pid"
wait "$agent_pid"
agent_pid=""
grep -E "latency|events:" "$WORK/agent2.log" | sed 's/^/# agent 2: /'

# --- 7. range binding (overcommit_ratio 2) -------------------------------------------------
sed -e 's/^overcommit_ratio = .*/overcommit_ratio = 2.0/' "$WORK/numa.toml" >"$WORK/range.toml"
# B stays (1 vCPU); F (4 vCPUs) must then fit on the other node alone.
kill "$vmC" "$vmE"
wait "$vmC" "$vmE" 2>/dev/null
start "$WORK/qemu-system-x86_64" -name guest=F,debug-threads=on -smp 4 --duty 5:5 --timeout 600
vmF=$last
wait_vcpus "$vmF" 4
"$OFFLINECTL" -c "$WORK/range.toml" agent --once >"$WORK/agent3.log" 2>&1
check "agent --once with ratio 2 exits 0" [ $? -eq 0 ]
# Every vCPU of B and F: a CPU set off the reserved CPUs, on one node;
# per CPU the load (a vCPU on k CPUs counts 1/k) at most 2; F's 4 vCPUs
# share one set of ceil(4/2) = 2 CPUs.
loads=$WORK/loads
: >"$loads"
range_ok=1
for vm in $vmB $vmF; do
	for t in $(vcpu_tids "$vm"); do
		set -- $(expand "$(aff "$t")")
		k=$#
		[ "$k" -lt "$ncpu" ] || { diag "vCPU $t of $vm unbound ($(aff "$t"))"; range_ok=0; continue; }
		not_reserved "$@" || { diag "vCPU $t on a reserved CPU: $*"; range_ok=0; }
		same_node "$@" >/dev/null || { diag "vCPU $t spans nodes: $*"; range_ok=0; }
		for c in "$@"; do echo "$c $k" >>"$loads"; done
	done
done
check "range bindings: off the reserved CPUs, one node each" [ "$range_ok" = 1 ]
over=$(awk '{l[$1] += 1000 / $2} END {for (c in l) if (l[c] > 2001) print c ":" l[c]}' "$loads")
diag "per-CPU load (per mille of a vCPU): $(awk '{l[$1] += 1000 / $2} END {for (c in l) printf "%s:%d ", c, l[c]}' "$loads")"
check "no CPU carries more than 2 vCPUs' worth${over:+ ($over)}" [ -z "$over" ]
fsets=$(for t in $(vcpu_tids "$vmF"); do aff "$t"; done | sort -u)
check "F's 4 vCPUs share one set of 2 CPUs ($(echo $fsets))" \
	[ "$(echo "$fsets" | wc -l)" -eq 1 ] && [ "$(expand "$fsets" | wc -w)" -eq 2 ]
sed 's/^/# agent 3: /' "$WORK/agent3.log" | grep -E "placement|warning"

echo "1..$n"
[ "$failed" -eq 0 ]
