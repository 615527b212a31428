#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Adversarial end-to-end test of `offlinectl agent` (issue 13; busybox sh
# compatible; prints TAP).  An unprivileged user (nobody, uid 65534) tries
# to get what the agent grants, by naming processes:
#   - fake QEMUs with "CPU N/KVM" threads: by comm (prctl), by argv[0]
#     (exec -a), by a copy of the binary in the user's home, and the
#     root-owned binary run by the user outside any VM cgroup;
#   - a fake QEMU whose vCPU threads carry no names and whose QMP socket
#     accepts and never answers;
#   - processes named sshd and ovs-vswitchd (copies, and a root-owned
#     ovs-vswitchd run by the user);
#   - a 4 KiB argv[0] crafted against a backtracking regex in an admin rule;
#   - a fork storm while the daemon runs.
# All of them must stay offline (the config makes uid 65534 "host") and
# unpinned, nothing of theirs exempt, critical or a VM; the agent must not
# connect to the user's QMP socket; `agent --once` must finish within its
# budget and the daemon must keep classifying new tasks during the storm.
# A real VM (root's QEMU binary in a machine-qemu scope, started offline)
# is the control: it is moved online.
#
# Environment: OFFLINECTL, HELPER (default: beside this script).

here=$(cd "$(dirname "$0")" && pwd)
OFFLINECTL=${OFFLINECTL:-$here/offlinectl}
HELPER=${HELPER:-$here/offlinectl-e2e-helper}
U=65534
ONCE_BUDGET_CS=${ONCE_BUDGET_CS:-500}   # agent --once: 5 s
NEW_TASK_BUDGET_DS=${NEW_TASK_BUDGET_DS:-30} # a new task offline within 3 s, storm or not
P99_BUDGET_US=${P99_BUDGET_US:-250000}

# shellcheck source=e2e_lib.sh
. "$here/e2e_lib.sh"
e2e_start "$OFFLINECTL" "$HELPER"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/offlinectl-trust.XXXXXX") || { echo "1..0 # SKIP no temp dir"; exit 0; }
chmod 755 "$WORK"
pids=""
agent_pid=""
SCOPE=/sys/fs/cgroup/machine.slice/machine-qemu\\x2d1\\x2dok.scope
cleanup() {
	[ -n "$agent_pid" ] && kill "$agent_pid" 2>/dev/null
	for p in $pids; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	sleep 0.2
	rmdir "$SCOPE" /sys/fs/cgroup/machine.slice 2>/dev/null
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

OFF=5
[ -e /proc/sched_offline ] && OFF=8
ncpu=$(grep -c '^processor' /proc/cpuinfo)
allcpus=$(sed -n 's/^Cpus_allowed_list:[[:space:]]*//p' /proc/self/status)
diag "$ncpu CPUs ($allcpus), offline policy $OFF"

HOMEU=$WORK/home
ROOTBIN=$WORK/bin
mkdir -p "$HOMEU" "$ROOTBIN"
for name in qemu-system-x86_64 ovs-vswitchd; do
	cp "$HELPER" "$ROOTBIN/$name" && chmod 755 "$ROOTBIN/$name"
done
for name in qemu-system-x86_64 sshd ovs-vswitchd; do
	cp "$HELPER" "$HOMEU/$name"
done
chown -R "$U:$U" "$HOMEU"
chmod 755 "$HOMEU"
LONG=$(head -c 4000 /dev/zero | tr '\0' a)

placement=false
[ "$ncpu" -ge 2 ] && placement=true
cat >"$WORK/trust.toml" <<EOT
[agent]
resync_interval = 1
state_file = ""
[classify]
default_class = "exempt"
[classes.host]
policy = "offline"
[classes.batch]
policy = "offline"
[placement]
enabled = $placement
reserved_cpus = 1
memory = "keep"
qmp = true
[[rule]]
name = "critical services by path, run as root (shipped)"
class = "critical"
exe = "/usr/(s?bin|lib/systemd|lib/openssh)/(sshd|sshd-session|systemd-journald|systemd-logind|libvirtd|virtqemud|virtlogd|kubelet|containerd)"
uid = 0
[[rule]]
name = "an admin's rule with nested quantifiers"
class = "batch"
cmdline = "([a-z]+ ?)+ --batch"
[[rule]]
name = "the unprivileged user"
class = "host"
uid = $U
EOT

# --- helpers ----------------------------------------------------------------
aff() { sed -n 's/^Cpus_allowed_list:[[:space:]]*//p' "/proc/$1/status" 2>/dev/null; }
all_policy() {
	[ -n "$(tids "$1")" ] || { diag "process $1 is gone"; return 1; }
	for t in $(tids "$1"); do
		p=$(policy "$t")
		[ "$p" = "$2" ] || { diag "task $t ($(cat /proc/$t/comm 2>/dev/null)) of $1: policy $p, want $2"; return 1; }
	done
	return 0
}
all_unpinned() {
	[ -n "$(tids "$1")" ] || { diag "process $1 is gone"; return 1; }
	for t in $(tids "$1"); do
		cpus=$(aff "$t")
		[ "$cpus" = "$allcpus" ] || { diag "task $t ($(cat /proc/$t/comm 2>/dev/null)) of $1: CPUs $cpus, want $allcpus"; return 1; }
	done
	return 0
}
uptime_cs() { u=$(cut -d' ' -f1 /proc/uptime); echo "${u%.*}${u#*.}"; }
start() { "$@" & pids="$pids $!"; last=$!; }
as_user() { start "$HELPER" --exec-as "$U" "$@"; } # ARGV0 PATH ARGS...
explain_class() {
	"$OFFLINECTL" -c "$WORK/trust.toml" explain "$1" >"$WORK/explain.out" 2>&1 ||
		sed 's/^/# explain failed: /' "$WORK/explain.out" | head -5 >&2
	sed -n 's/^  class: *//p' "$WORK/explain.out" | head -1
}

# --- actors -----------------------------------------------------------------
as_user job "$HELPER" --mode vm --comm qemu-system-x86 -smp 2 --timeout 120
a_comm=$last
as_user qemu-system-x86_64 "$HELPER" -smp 2 --timeout 120
a_argv0=$last
as_user "$HOMEU/qemu-system-x86_64" "$HOMEU/qemu-system-x86_64" -name guest=evil,debug-threads=on -smp 2 --timeout 120
a_copy=$last
as_user qemu-system-x86_64 "$ROOTBIN/qemu-system-x86_64" -name guest=evil2 -smp 2 --timeout 120
a_real=$last
as_user qemu-system-x86_64 "$ROOTBIN/qemu-system-x86_64" --anon -smp 2 --timeout 120 \
	-qmp "unix:$HOMEU/qmp.sock,server=on,wait=off" --qmp-listen "$HOMEU/qmp.sock"
a_qmp=$last
as_user sshd "$HOMEU/sshd" --mode daemon --comm sshd --timeout 120
a_sshd=$last
as_user ovs-vswitchd "$HOMEU/ovs-vswitchd" --mode daemon --timeout 120
a_ovs=$last
as_user ovs-vswitchd "$ROOTBIN/ovs-vswitchd" --mode daemon --timeout 120
a_ovs_real=$last
as_user "$LONG" "$HELPER" --mode daemon --timeout 120
a_long=$last
actors="$a_comm $a_argv0 $a_copy $a_real $a_qmp $a_sshd $a_ovs $a_ovs_real $a_long"

# The control: root's QEMU binary in a libvirt machine scope, started offline.
vm_ok=""
if [ -e /sys/fs/cgroup/cgroup.controllers ] && mkdir -p "$SCOPE" 2>/dev/null; then
	start sh -c "echo \$\$ >'$SCOPE/cgroup.procs' && exec '$OFFLINECTL' -q run -- '$ROOTBIN/qemu-system-x86_64' -name guest=ok,debug-threads=on -smp 1 --timeout 120"
	vm_ok=$last
else
	diag "no cgroup2 at /sys/fs/cgroup: the real-VM control is skipped"
fi
sleep 1
for a in $actors; do
	[ "$(tids "$a" | wc -l)" -ge 1 ] || diag "actor $a did not start"
done

# --- agent --once -------------------------------------------------------------
t0=$(uptime_cs)
timeout 20 "$OFFLINECTL" -c "$WORK/trust.toml" agent --once >"$WORK/once.log" 2>&1
rc=$?
t1=$(uptime_cs)
sed 's/^/# once: /' "$WORK/once.log" | cut -c1-200 | head -40
once_cs=$((t1 - t0))
diag "agent --once: exit $rc in $((once_cs * 10)) ms"
once_ok() { [ "$rc" -ne 124 ] && [ "$rc" -ne 143 ] && [ "$once_cs" -le "$ONCE_BUDGET_CS" ]; }
check "agent --once finishes within $((ONCE_BUDGET_CS * 10)) ms despite a 4 KiB argv[0] against a backtracking rule ($((once_cs * 10)) ms, exit $rc)" once_ok
for a in $actors; do
	what="$(cat /proc/$a/comm 2>/dev/null) ($a, exe $(readlink /proc/$a/exe 2>/dev/null | sed "s|$WORK|WORK|"))"
	check "user's $what stays offline ($OFF)" all_policy "$a" "$OFF"
	check "user's $what stays unpinned" all_unpinned "$a"
	c=$(explain_class "$a")
	check "user's $what is class host (explain: $c)" [ "$c" = host ]
done
"$OFFLINECTL" -c "$WORK/trust.toml" explain "$a_copy" 2>&1 | grep -E "why|not a VM" | head -3 | sed 's/^/# explain: /'
check "the agent never connected to the user's QMP socket" [ ! -s "$HOMEU/qmp.sock.log" ]
if [ -n "$vm_ok" ]; then
	check "control: root's QEMU in a machine-qemu scope is a VM, moved online" all_policy "$vm_ok" 0
	c=$(explain_class "$vm_ok")
	check "control: its main thread is class vm-service (explain: $c)" [ "$c" = vm-service ]
fi

# --- daemon under a fork storm ----------------------------------------------------
"$OFFLINECTL" -v -c "$WORK/trust.toml" agent >"$WORK/agent.log" 2>&1 &
agent_pid=$!
sleep 1
as_user forkstorm "$HELPER" --mode forkstorm --count 3000
storm=$last
sleep 0.3
as_user late "$HELPER" --mode daemon --timeout 60
late=$last
t0=$(uptime_cs)
i=0
while ! all_policy "$late" "$OFF" >/dev/null 2>&1 && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
t1=$(uptime_cs)
check "during a fork storm a new user task goes offline within $((NEW_TASK_BUDGET_DS * 100)) ms ($(((t1 - t0) * 10)) ms)" \
	[ $i -le "$NEW_TASK_BUDGET_DS" ]
wait "$storm" 2>/dev/null
resyncs=$(grep -c "resync" "$WORK/agent.log")
diag "log lines mentioning resync during the run: $resyncs"
still() { all_policy "$1" "$OFF" && all_unpinned "$1"; }
for a in $actors; do
	check "under the daemon, after the storm, actor $a is still offline and unpinned" still "$a"
done
kill -TERM "$agent_pid"
wait "$agent_pid"
rc=$?
agent_pid=""
grep -E "latency|ENOBUFS|lost|resync" "$WORK/agent.log" | tail -8 | cut -c1-200 | sed 's/^/# agent: /'
check "daemon exits 0 on SIGTERM" [ "$rc" -eq 0 ]
p99=$(sed -n 's/.*event-to-policy latency: n=[0-9]* p50=[0-9]*us p99=\([0-9]*\)us.*/\1/p' "$WORK/agent.log" | tail -1)
if [ -n "$p99" ]; then
	check "event-to-policy p99 within ${P99_BUDGET_US} us (${p99} us)" [ "$p99" -le "$P99_BUDGET_US" ]
else
	diag "no event-to-policy latency summary (no proc connector?)"
fi

echo "1..$n"
[ "$failed" -eq 0 ]
