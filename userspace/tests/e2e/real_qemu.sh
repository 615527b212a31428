#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# offlinectl against a real QEMU on this machine: start
# qemu-system-x86_64 (TCG, the project's tiny kernel and initramfs, paused
# with -S so it costs no CPU, -name guest=...,debug-threads=on, QMP on a
# unix socket) and check that
#   - status finds its vCPU threads by name ("CPU N/TCG"),
#   - QMP query-cpus-fast (real handshake) names the same threads,
#   - agent --once --dry-run with placement on plans one-to-one bindings
#     for exactly those threads (dry run: the machine is shared).
# Exit 77 (skipped) without qemu-system-x86_64 or the kernel/initramfs.
#
#   real_qemu.sh OFFLINECTL [REPO_ROOT]
set -u
bin=$1
top=${2:-$(cd "$(dirname "$0")/../../.." && pwd)}
kernel=$top/build/kernel/bzImage
initrd=$top/build/initramfs.cpio.gz
command -v qemu-system-x86_64 >/dev/null || { echo "SKIP: no qemu-system-x86_64"; exit 77; }
[ -f "$kernel" ] && [ -f "$initrd" ] || { echo "SKIP: no $kernel or $initrd"; exit 77; }
command -v python3 >/dev/null || { echo "SKIP: no python3"; exit 77; }

tmp=$(mktemp -d)
qpid=""
trap '[ -n "$qpid" ] && kill "$qpid" 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; [ -f "$tmp/qemu.log" ] && sed 's/^/qemu: /' "$tmp/qemu.log"; exit 1; }

qemu-system-x86_64 -name guest=offlinectl-real,debug-threads=on -accel tcg -smp 2 -m 128 \
	-kernel "$kernel" -initrd "$initrd" -append "console=ttyS0 panic=-1" \
	-display none -serial none -monitor none -no-reboot -S \
	-qmp "unix:$tmp/qmp.sock,server=on,wait=off" >"$tmp/qemu.log" 2>&1 &
qpid=$!
i=0
while [ $i -lt 100 ]; do
	n=$(cat /proc/$qpid/task/*/comm 2>/dev/null | grep -c '^CPU [0-9]*/TCG$')
	[ "$n" -ge 2 ] && [ -S "$tmp/qmp.sock" ] && break
	kill -0 "$qpid" 2>/dev/null || fail "qemu exited"
	sleep 0.1
	i=$((i + 1))
done
[ "$n" -ge 2 ] || fail "no 'CPU N/TCG' threads in qemu $qpid"
# The vCPU threads by name, as /proc shows them: "index tid" lines.
for t in /proc/$qpid/task/*; do
	c=$(cat "$t/comm")
	case "$c" in "CPU "*"/TCG") i=${c#CPU }; echo "${i%/TCG} ${t##*/}" ;; esac
done | sort -n >"$tmp/byname"
echo "vCPU threads by name:"; sed 's/^/  /' "$tmp/byname"

# A root-run QEMU outside a VM cgroup is a VM only for a config that says so.
cat >"$tmp/c.toml" <<EOT
[agent]
state_file = ""
[classify]
# QEMU run by root here: a VM by owner uid (classify.hpp)
vm_users = ["root"]
default_class = "exempt"
[placement]
enabled = true
reserved_cpus = 0
EOT
"$bin" -c "$tmp/c.toml" status --json --qmp --steal-interval 0.2 >"$tmp/status.json" || fail "status failed"
python3 - "$tmp/status.json" "$qpid" "$tmp/byname" "$tmp/qmp.sock" <<'PY' || fail "status does not match"
import json, sys
st = json.load(open(sys.argv[1]))
pid = int(sys.argv[2])
byname = {int(a): int(b) for a, b in (l.split() for l in open(sys.argv[3]))}
vm = [v for v in st["vms"] if v["pid"] == pid]
assert vm, "status lists no VM with pid %d: %s" % (pid, [v["pid"] for v in st["vms"]])
vm = vm[0]
assert vm["name"] == "offlinectl-real", vm["name"]
found = {v["index"]: v["tid"] for v in vm["vcpus"]}
assert found == byname, "by name: status %s, /proc %s" % (found, byname)
q = vm.get("qmp")
assert q and q["socket"] == sys.argv[4], q
assert "error" not in q, q
qv = {int(k): v for k, v in q["vcpus"].items()}
assert qv == byname, "QMP query-cpus-fast %s, names %s" % (qv, byname)
for v in vm["vcpus"]:
    assert v["steal_pct"] is not None and v["steal_pct"] >= 0, v
print("status: VM %d, vCPUs by name %s = by QMP %s" % (pid, found, qv))
PY

"$bin" -c "$tmp/c.toml" agent --once --dry-run >"$tmp/plan" 2>"$tmp/plan.err" || fail "agent --dry-run failed: $(cat "$tmp/plan.err")"
grep "VM $qpid " "$tmp/plan" | sed 's/^/  /'
ncpu=$(nproc --all 2>/dev/null || getconf _NPROCESSORS_ONLN)
while read -r idx tid; do
	if [ "$ncpu" -ge 2 ]; then
		grep -q "^would bind VM $qpid \"offlinectl-real\" vCPU $idx (tid $tid) CPUs .* -> [0-9]*$" "$tmp/plan" ||
			fail "no one-to-one binding planned for vCPU $idx (tid $tid)"
	fi
done <"$tmp/byname"
# Two vCPUs, two different CPUs.
[ "$(grep "^would bind VM $qpid .*vCPU" "$tmp/plan" | sed 's/.*-> //' | sort -u | wc -l)" -eq "$(wc -l <"$tmp/byname")" ] ||
	[ "$ncpu" -lt 2 ] || fail "bindings overlap"

# A VM whose threads carry no names (no debug-threads=on): its vCPU threads
# come from QMP alone, and get bindings all the same (on the CPUs the first
# one leaves free).
kill "$qpid"
wait "$qpid" 2>/dev/null
qpid=""
qemu-system-x86_64 -name guest=offlinectl-noname -accel tcg -smp 2 -m 128 \
	-kernel "$kernel" -initrd "$initrd" -append "console=ttyS0 panic=-1" \
	-display none -serial none -monitor none -no-reboot -S \
	-qmp "unix:$tmp/qmp2.sock,server=on,wait=off" >"$tmp/qemu2.log" 2>&1 &
q2=$!
i=0
while [ ! -S "$tmp/qmp2.sock" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
sleep 0.2
"$bin" -c "$tmp/c.toml" status --json --steal-interval 0 >"$tmp/status2.json" || fail "status failed"
python3 - "$tmp/status2.json" "$q2" >"$tmp/qmp2" <<'PY' || { kill $q2; fail "QMP-only VM not found"; }
import json, sys
st = json.load(open(sys.argv[1]))
vm = [v for v in st["vms"] if v["pid"] == int(sys.argv[2])][0]
assert vm["vcpus"] == [], vm["vcpus"]
q = vm["qmp"]["vcpus"]
assert len(q) == 2, vm["qmp"]
for k, v in sorted(q.items()):
    print(k, v)
PY
"$bin" -c "$tmp/c.toml" agent --once --dry-run >"$tmp/plan2" 2>&1 || { kill $q2; fail "agent --dry-run failed"; }
grep "VM $q2 " "$tmp/plan2" | sed 's/^/  /'
while read -r idx tid; do
	grep -q "^would bind VM $q2 \"offlinectl-noname\" vCPU $idx (tid $tid) CPUs .* -> [0-9]*$" "$tmp/plan2" ||
		{ kill $q2; fail "no binding planned for QMP vCPU $idx (tid $tid)"; }
done <"$tmp/qmp2"
kill $q2
echo "real qemu: ok"
