#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# In-guest test of schedlat (busybox sh, prints TAP).  Needs root, tracefs,
# and the agent's test helper and offlinectl (built by `make agent`).
#
# On the last CPU: a fake VM whose vCPU thread "CPU 0/KVM" is an online
# duty-cycle hog (20 ms busy, 10 ms asleep), an online periodic task and an
# offline periodic task (1 ms of work every 20 ms each, the offline one
# marked by `offlinectl set`); schedlat runs for DURATION seconds (latency).
# Then on the CPU before it a second fake VM's vCPU beside a fair CPU hog
# joins, and schedlat runs again (steal).  They must:
#   - load, attach and print JSON and text histograms;
#   - count wakeups of the offline class (SCHED_IDLE on kernels without
#     SCHED_OFFLINE) and of the fair class;
#   - show the offline task's mean wakeup->running latency at least 5x the
#     online periodic task's class (it waits for the online hog's sleep);
#   - show the vCPU beside the fair hog with steal > 20% and at least twice
#     the steal of the vCPU that shares its CPU with offline work;
#   - agree with /proc/<tid>/schedstat run_delay on both vCPUs' steal
#     (within 5 percentage points or 30%).
#
#   SCHEDLAT  path of schedlat (default: on PATH)
#   HELPER    offlinectl-e2e-helper (default /opt/offlinectl/...)
#   DURATION  seconds (default 3)
SCHEDLAT=${SCHEDLAT:-$(command -v schedlat)}
HELPER=${HELPER:-/opt/offlinectl/offlinectl-e2e-helper}
OFFLINECTL=${OFFLINECTL:-$(command -v offlinectl)}
DURATION=${DURATION:-3}

n=0
failed=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $*"; }
diag() { echo "# $*"; }

echo "TAP version 13"
for f in "$SCHEDLAT" "$HELPER" "$OFFLINECTL"; do
	if [ -z "$f" ] || [ ! -x "$f" ]; then
		echo "1..0 # SKIP missing ${f:-schedlat/offlinectl}"
		exit 0
	fi
done
[ "$(id -u)" = 0 ] || { echo "1..0 # SKIP needs root"; exit 0; }
echo "1..8"

ncpu=$(nproc)
A=$((ncpu - 1))
B=$((ncpu > 1 ? ncpu - 2 : 0))
if [ -e /proc/sched_offline ]; then OFFCLASS=offline; else OFFCLASS=idle; fi
diag "$ncpu CPUs; online hog + periodic tasks on CPU $A, fair hog beside a vCPU on CPU $B; offline class: $OFFCLASS"

W=$(mktemp -d /tmp/schedlat-test.XXXXXX)
pids=""
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	rm -rf "$W"
}
trap cleanup EXIT
for name in qemu-system-x86_64 sl-online sl-offline sl-hog; do cp "$HELPER" "$W/$name"; done

# VM A: one vCPU, 20 ms busy / 10 ms asleep, on CPU A
taskset -c "$A" "$W/qemu-system-x86_64" -name guest=a,debug-threads=on -smp 1 --duty 20:10 --timeout 60 &
vma=$!
taskset -c "$A" "$W/sl-online" --mode daemon --timeout 60 &
online=$!
taskset -c "$A" "$W/sl-offline" --mode daemon --timeout 60 &
offline=$!
pids="$vma $online $offline"
usleep 300000
# the helpers' threads inherit the affinity; pin every thread to be sure
for p in $vma $online $offline; do for t in $(ls /proc/$p/task); do taskset -p -c "$A" "$t" >/dev/null; done; done
"$OFFLINECTL" -q set "$offline" || diag "offlinectl set $offline failed"

# run 1: latency per class, with only CPU A's tasks (a fair hog elsewhere
# would make fair tasks wait too)
if "$SCHEDLAT" --duration "$DURATION" --json >"$W/lat.json" 2>"$W/err"; then
	ok "schedlat --json ran for $DURATION s"
else
	not_ok "schedlat --json failed: $(cat "$W/err")"
fi
J=$(cat "$W/lat.json")
diag "json: $(echo "$J" | cut -c1-600)"

case "$J" in
	"{\"duration_s\":"*"\"vcpus\":["*"]}") ok "JSON has duration, classes and vcpus" ;;
	*) not_ok "JSON shape" ;;
esac

# count and sum_ns of wakeups of CLASS
wstat() { echo "$J" | sed -n "s/.*\"$1\":{\"wakeup\":{\"count\":\([0-9]*\),\"sum_ns\":\([0-9]*\).*/\1 \2/p"; }
set -- $(wstat "$OFFCLASS"); oc=${1:-0}; os=${2:-0}
set -- $(wstat fair); fc=${1:-0}; fs=${2:-0}
diag "$OFFCLASS: $oc wakeups, $os ns; fair: $fc wakeups, $fs ns"
if [ "$oc" -ge 20 ]; then ok "$OFFCLASS class has $oc wakeups (>= 20)"; else not_ok "$OFFCLASS class has $oc wakeups (< 20)"; fi
if [ "$fc" -ge 20 ]; then ok "fair class has $fc wakeups (>= 20)"; else not_ok "fair class has $fc wakeups (< 20)"; fi
if [ "$oc" -gt 0 ] && [ "$fc" -gt 0 ]; then
	om=$((os / oc)); fm=$((fs / fc))
	if [ "$om" -ge $((5 * fm)) ]; then
		ok "$OFFCLASS mean wakeup latency $((om / 1000)) us >= 5x fair $((fm / 1000)) us"
	else
		not_ok "$OFFCLASS mean wakeup latency $((om / 1000)) us < 5x fair $((fm / 1000)) us"
	fi
else
	not_ok "no wakeups to compare"
fi

# run 2: steal.  VM B: one vCPU, 5 ms busy / 5 ms asleep, beside a fair
# hog on CPU B; VM A still shares CPU A with the periodic tasks
taskset -c "$B" "$W/qemu-system-x86_64" -name guest=b,debug-threads=on -smp 1 --duty 5:5 --timeout 60 &
vmb=$!
taskset -c "$B" "$W/sl-hog" --mode hog --threads 1 --timeout 60 &
hog=$!
pids="$pids $vmb $hog"
usleep 300000
for p in $vmb $hog; do for t in $(ls /proc/$p/task); do taskset -p -c "$B" "$t" >/dev/null; done; done
vcpu_tid() { for t in $(ls /proc/$1/task); do [ "$(cat /proc/$1/task/$t/comm)" = "CPU 0/KVM" ] && echo "$t"; done; }
ta=$(vcpu_tid $vma)
tb=$(vcpu_tid $vmb)
delay() { cut -d' ' -f2 "/proc/$1/schedstat"; }
uptime_ns() { u=$(cut -d' ' -f1 /proc/uptime); echo "$(( ${u%.*} * 1000000000 + 1${u#*.}0000000 - 1000000000 ))"; }
da0=$(delay "$ta"); db0=$(delay "$tb"); u0=$(uptime_ns)
"$SCHEDLAT" --duration "$DURATION" --json >"$W/steal.json" 2>"$W/err" || diag "schedlat (run 2) failed: $(cat "$W/err")"
da1=$(delay "$ta"); db1=$(delay "$tb"); u1=$(uptime_ns)
J=$(cat "$W/steal.json")

# steal (per mille) of TID from the JSON
steal() { echo "$J" | sed 's/},{/}\n{/g' | sed -n "s/.*\"tid\":$1,.*\"steal\":\([0-9.]*\).*/\1/p" | awk '{ printf "%d", $1 * 1000 }'; }
sa=$(steal "$ta"); sb=$(steal "$tb")
diag "vCPU A (tid $ta) steal ${sa:-?}/1000, vCPU B beside the hog (tid $tb) ${sb:-?}/1000"
if [ -n "$sa" ] && [ -n "$sb" ] && [ "$sb" -gt 200 ] && [ "$sb" -ge $((2 * sa)) ]; then
	ok "steal: vCPU beside a fair hog $sb/1000 > 200 and >= 2x the vCPU beside offline work ($sa/1000)"
else
	not_ok "steal: vCPU beside a fair hog ${sb:-?}/1000 (want > 200 and >= 2x), other ${sa:-?}/1000"
fi
# schedstat over the same window (a little longer: it brackets schedlat)
wall=$((u1 - u0))
ka=$(( (da1 - da0) * 1000 / wall )); kb=$(( (db1 - db0) * 1000 / wall ))
diag "schedstat run_delay: vCPU A $ka/1000, vCPU B $kb/1000 over $((wall / 1000000)) ms"
close() { d=$(($1 - $2)); [ $d -lt 0 ] && d=$((-d)); [ $d -le 50 ] || [ $((d * 10)) -le $((3 * $2)) ]; }
if [ -n "$sa" ] && [ -n "$sb" ] && close "$sa" "$ka" && close "$sb" "$kb"; then
	ok "BPF steal agrees with schedstat run_delay (A $sa~$ka, B $sb~$kb per mille)"
else
	not_ok "BPF steal disagrees with schedstat run_delay (A ${sa:-?} vs $ka, B ${sb:-?} vs $kb per mille)"
fi

if "$SCHEDLAT" -d 1 >"$W/out.txt" 2>"$W/err" && grep -q "^class $OFFCLASS:" "$W/out.txt" &&
	grep -q 'usecs' "$W/out.txt" && grep -q 'CPU 0/KVM' "$W/out.txt"; then
	ok "text output has the $OFFCLASS histogram and the vCPU threads"
else
	not_ok "text output: $(head -c 300 "$W/out.txt") $(cat "$W/err")"
fi
sed 's/^/# /' "$W/out.txt" | head -40
[ $failed = 0 ]
