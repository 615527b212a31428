#!/usr/bin/env bash
# The test driver behind `make test` (and `make test-full`).
#
#   scripts/test-all.sh [test|full]
#
# Runs every stage, keeps going after a failure, counts results and ends
# with exactly one line "N passed, N failed" (exit 1 on any failure).
# Counted: each build stage, each agent unit test (ctest), each TAP test
# case in a guest run (the harness's own results, nested in the suite's
# TAP), and per guest run one "guest healthy" check (booted, finished in
# time, no kernel WARNING/BUG/lockdep/stall splat).  Skipped tests and
# stages are listed but counted in neither number.
#
# Each stage's full output is in build/logs/test/NN-STAGE.log; the terminal
# gets one line per stage (plus TAP results and, on failure, the log tail).
# VERBOSE=1 streams everything.  INCLUDE_FAIL_DEMO=1 adds the always-
# failing selftest, to see that a failing test fails the run.
set -uo pipefail
. "$(dirname "$0")/lib.sh"

mode=${1:-test}
case $mode in test|full) ;; *) die "usage: test-all.sh [test|full]" ;; esac
cd "$top"
logdir=$top/build/logs/test
rm -rf "$logdir"
mkdir -p "$logdir"

# The fail demo gets its own initramfs, so it never leaks into other runs.
initrd=build/initramfs.cpio.gz
if [ "${INCLUDE_FAIL_DEMO:-0}" = 1 ]; then
	initrd=build/initramfs-fail-demo.cpio.gz
	export INITRAMFS_OUT=$top/$initrd
fi

passed=0 failed=0 skipped=0
rows=()
declare -A kernel_ok=()
n=0
t_all=$SECONDS

# Stage times exclude waiting for build/.cpu.lock (other users of the
# machine); the wait is shown separately.
wait_log=$logdir/.lock-wait
lock_wait() { # seconds waited since the last call
	local w=0 x
	if [ -f "$wait_log" ]; then
		while read -r x; do w=$((w + x)); done <"$wait_log"
		rm -f "$wait_log"
	fi
	echo $w
}
export CPU_LOCK_WAIT_LOG=$wait_log
total_wait=0
add_row() { # NAME RESULT SECONDS NOTES
	local w
	w=$(lock_wait)
	total_wait=$((total_wait + w))
	local t=$(($3 - w))
	[ $t -ge 0 ] || t=0
	local note=$4
	[ "$w" = 0 ] || note="$note (+$(fmt_secs "$w") waiting for the lock)"
	rows+=("$(printf '%-16s %-5s %8s  %s' "$1" "$2" "$(fmt_secs $t)" "$note")")
}

# run_cmd LOG CMD...: run with output to LOG (and the terminal if VERBOSE)
run_cmd() {
	local log=$1; shift
	if [ "${VERBOSE:-0}" = 1 ]; then
		"$@" 2>&1 | tee "$log"
		return "${PIPESTATUS[0]}"
	fi
	"$@" >"$log" 2>&1
}

# stage NAME CMD...: a stage counted as one test; exit 77 means skipped
stage() {
	local name=$1; shift
	n=$((n + 1))
	local log=$logdir/$(printf '%02d' $n)-$name.log t0=$SECONDS rc
	echo "=== [$n] $name: $*"
	run_cmd "$log" "$@"
	rc=$?
	local dt=$((SECONDS - t0))
	if [ $rc = 0 ]; then
		passed=$((passed + 1))
		add_row "$name" PASS $dt ""
		echo "    PASS  $name ($(fmt_secs $dt))"
	elif [ $rc = 77 ]; then
		skipped=$((skipped + 1))
		add_row "$name" SKIP $dt "$(tail -1 "$log")"
		echo "    SKIP  $name: $(tail -1 "$log")"
	else
		failed=$((failed + 1))
		add_row "$name" FAIL $dt "exit $rc, log $log"
		echo "    FAIL  $name (exit $rc, $(fmt_secs $dt)); last lines of $log:"
		tail -40 "$log" | sed 's/^/    | /'
	fi
	return $rc
}

kernel_stage() {
	local variant=$1 name=kernel${1:+-$1}
	[ "$variant" = default ] && name=kernel
	if stage "$name" scripts/build-kernel.sh "$variant"; then
		kernel_ok[$variant]=1
	else
		kernel_ok[$variant]=0
	fi
}

agent_stage() {
	n=$((n + 1))
	local log=$logdir/$(printf '%02d' $n)-agent.log t0=$SECONDS rc
	echo "=== [$n] agent: make agent-test"
	run_cmd "$log" make -s agent-test
	rc=$?
	local dt=$((SECONDS - t0)) sum p f
	if [ $rc = 77 ]; then
		skipped=$((skipped + 1))
		add_row agent SKIP $dt "$(tail -1 "$log")"
		echo "    SKIP  agent: $(tail -1 "$log")"
		return
	fi
	# ctest: "100% tests passed, 0 tests failed out of 42"
	sum=$(grep -E 'tests passed, [0-9]+ tests? failed out of [0-9]+' "$log" | tail -1)
	if [ -n "$sum" ]; then
		f=$(sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\1/' <<<"$sum")
		p=$(( $(sed -E 's/.* out of ([0-9]+).*/\1/' <<<"$sum") - f ))
		passed=$((passed + p)); failed=$((failed + f))
	fi
	if [ $rc = 0 ]; then
		passed=$((passed + 1))
		add_row agent PASS $dt "build + ${sum:-ctest}"
		echo "    PASS  agent (${sum:-no ctest summary}, $(fmt_secs $dt))"
	else
		failed=$((failed + 1))
		add_row agent FAIL $dt "${sum:-build failed}, log $log"
		echo "    FAIL  agent (exit $rc); last lines of $log:"
		tail -40 "$log" | sed 's/^/    | /'
	fi
}

# guest_stage NAME VARIANT TIMEOUT [vmtest args]: boot that kernel, run the suite
guest_stage() {
	local name=$1 variant=$2 tmo=$3; shift 3
	n=$((n + 1))
	local base=$logdir/$(printf '%02d' $n)-$name
	local t0=$SECONDS dir=kernel
	[ "$variant" = default ] || dir=kernel-$variant
	echo "=== [$n] $name: scripts/vmtest --kernel build/$dir/bzImage $*"
	if [ "${kernel_ok[$variant]:-0}" != 1 ] || [ "${initramfs_ok:-0}" != 1 ]; then
		failed=$((failed + 1))
		add_row "$name" FAIL 0 "not run: kernel '$variant' or initramfs did not build"
		echo "    FAIL  $name: not run (kernel '$variant' or initramfs did not build)"
		return
	fi
	run_cmd "$base.log" scripts/vmtest --kernel "build/$dir/bzImage" --initrd "$initrd" --timeout "$tmo" \
		--out "$base.console.log" --result "$base.result" "$@"
	local dt=$((SECONDS - t0))
	local health verdict p f s
	health=$(sed -n 's/^health=//p' "$base.result" 2>/dev/null)
	verdict=$(sed -n 's/^verdict=//p' "$base.result" 2>/dev/null)
	# leaves: the harness's results ("# ok N ...") under each program line;
	# a program with no nested TAP counts itself; a failing program whose
	# cases all passed (crash, timeout, bad exit) counts one failure.
	read -r p f s < <(awk '
		/^# (not )?ok [0-9]+/ {
			inner++
			if ($0 ~ /^# not ok/ && $0 !~ /# TODO/) ifail++
			else if ($0 ~ /# SKIP/) iskip++
			else ipass++
			next
		}
		/^(not )?ok [0-9]+/ {
			bad = ($0 ~ /^not ok/ && $0 !~ /# TODO/)
			if (inner) { pass += ipass; fail += ifail; skip += iskip; if (bad && !ifail) fail++ }
			else if (bad) fail++
			else if ($0 ~ /# SKIP/) skip++
			else pass++
			inner = ipass = ifail = iskip = 0
		}
		END { print pass + 0, fail + 0, skip + 0 }' "$base.console.log" 2>/dev/null || echo "0 0 0")
	passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
	grep -E '^(not )?ok [0-9]+|^# not ok [0-9]+' "$base.console.log" 2>/dev/null | sed 's/^/    /'
	if [ "$health" = ok ]; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
	fi
	local what="tests: $p passed, $f failed, $s skipped; guest ${health:-unknown}"
	if [ "$verdict" = PASS ]; then
		add_row "$name" PASS $dt "$what"
		echo "    PASS  $name ($what, $(fmt_secs $dt))"
	else
		add_row "$name" FAIL $dt "$what; log $base.console.log"
		echo "    FAIL  $name ($what, $(fmt_secs $dt))"
		grep -E '^vmtest: (FAIL|kernel splat|failing)' -A6 "$base.log" | sed 's/^/    | /'
		[ "$health" = ok ] || tail -25 "$base.console.log" | sed 's/^/    | /'
	fi
}

echo "sched-offline $mode: $(git log -1 --format='%h %s' 2>/dev/null), series: $(series_count) patches"

agent_stage
kernel_stage default
if stage initramfs scripts/build-initramfs.sh; then initramfs_ok=1; else initramfs_ok=0; fi
guest_stage guest-full default 600 --append preempt=full
guest_stage guest-none default 600 --append preempt=none
# the agent's end-to-end test (userspace/tests/e2e), when the agent built it
if [ -f build/userspace/agent_e2e.sh ] && [ -x build/userspace/offlinectl ]; then
	guest_stage guest-agent-e2e default 600 --append preempt=full -- /opt/offlinectl/agent_e2e.sh
else
	n=$((n + 1)); skipped=$((skipped + 1))
	add_row guest-agent-e2e SKIP 0 "no build/userspace/agent_e2e.sh"
	echo "=== [$n] guest-agent-e2e: SKIP (no build/userspace/agent_e2e.sh)"
fi
# the agent against an unprivileged user who names processes (issue 13; ~10 s of guest)
if [ -f build/userspace/agent_trust_e2e.sh ] && [ -x build/userspace/offlinectl ]; then
	guest_stage guest-agent-trust default 300 --append preempt=full -- /opt/offlinectl/agent_trust_e2e.sh
else
	n=$((n + 1)); skipped=$((skipped + 1))
	add_row guest-agent-trust SKIP 0 "no build/userspace/agent_trust_e2e.sh"
	echo "=== [$n] guest-agent-trust: SKIP (no build/userspace/agent_trust_e2e.sh)"
fi
# the agent SIGKILLed mid-pass, then `offlinectl restore` (issue 13)
if [ -f build/userspace/agent_crash_e2e.sh ] && [ -x build/userspace/offlinectl ]; then
	guest_stage guest-agent-crash default 300 --append preempt=full -- /opt/offlinectl/agent_crash_e2e.sh
else
	n=$((n + 1)); skipped=$((skipped + 1))
	add_row guest-agent-crash SKIP 0 "no build/userspace/agent_crash_e2e.sh"
	echo "=== [$n] guest-agent-crash: SKIP (no build/userspace/agent_crash_e2e.sh)"
fi
# vCPU placement and host isolation on 2 NUMA nodes (about 15 s of guest)
if [ -f build/userspace/agent_numa_e2e.sh ] && [ -x build/userspace/offlinectl ]; then
	guest_stage guest-agent-numa default 300 --numa --smp 6 --append preempt=full -- /opt/offlinectl/agent_numa_e2e.sh
else
	n=$((n + 1)); skipped=$((skipped + 1))
	add_row guest-agent-numa SKIP 0 "no build/userspace/agent_numa_e2e.sh"
	echo "=== [$n] guest-agent-numa: SKIP (no build/userspace/agent_numa_e2e.sh)"
fi
# schedlat, the libbpf tool (userspace/bpf), when the initramfs has it
if [ -f build/bpf/schedlat ]; then
	guest_stage guest-schedlat default 300 --append preempt=full -- /opt/schedlat/schedlat_test.sh
else
	n=$((n + 1)); skipped=$((skipped + 1))
	add_row guest-schedlat SKIP 0 "no build/bpf/schedlat (clang, bpftool, libbpf-dev?)"
	echo "=== [$n] guest-schedlat: SKIP (no build/bpf/schedlat)"
fi
# core scheduling with offline tasks: 2 cores x 2 threads (about 15 s)
guest_stage guest-core-sched default 120 --smt --append preempt=full --append SELFTEST_FILTER=smoke,core_sched
# suites nobody here wrote (peer-tests/, in the guest's /peer): upstream's
# cgroup test_cpu, and rt-tests' pi_stress beside SCHED_OFFLINE hogs.
# PEER_XFAIL reports these cases' failures as skipped, never as passed;
# each fails on unpatched 6.12 in the same guest too: test_cpucg_stats
# wants cpu.stat usage within 1% of 2 s and misses it now and then under
# TCG (2 of 6 unpatched runs, 2026-12); base.config has no CFS_BANDWIDTH,
# so the two cpu.max cases always fail here (the distro kernel of
# test-full has it and runs them).
peer_xfail_flaky=test_cpucg_stats
peer_xfail_base=$peer_xfail_flaky,test_cpucg_max,test_cpucg_max_nested
guest_stage guest-peer default 300 --append preempt=full \
	--append PEER_XFAIL=$peer_xfail_base -- /peer/run.sh test_cpu pi_stress
kernel_stage off
guest_stage guest-off off 600 --append preempt=full
kernel_stage debug
guest_stage guest-debug debug 900 --append preempt=full
# trinity (sched_* syscalls, clone, futex, prctl; a fixed count) on the
# lockdep kernel with offline hogs; skipped when the host has no trinity.
# 4000 calls (~100 s of guest time): with sched_yield in the mix, offline
# trinity children yield to the offline hogs and 20000 calls outrun the
# 600 s suite limit; test-full runs the unpatched/distro comparisons
guest_stage guest-trinity-debug debug 600 --append preempt=full --append TRINITY_OPS=4000 -- /peer/run.sh trinity

if [ "$mode" = full ]; then
	guest_stage guest-numa-smt default 600 --numa --smt --append preempt=voluntary
	# the long stress on the debug kernel (OFFLINE_STRESS_SECS of stress)
	guest_stage guest-stress-debug debug 900 --append preempt=full \
		--append SELFTEST_FILTER=stress --append OFFLINE_STRESS_SECS=120 --append KSFT_TIMEOUT=600
	kernel_stage kasan
	guest_stage guest-kasan kasan 1500 --mem 2G --append preempt=full
	kernel_stage unpatched
	guest_stage guest-unpatched unpatched 600 --append preempt=full
	# the peer suites on unpatched 6.12: what the patched kernels must match
	guest_stage guest-peer-unpatched unpatched 600 --append preempt=full \
		--append PEER_XFAIL=$peer_xfail_base -- /peer/run.sh test_cpu pi_stress trinity
	# a distribution's scheduler config (distro.config: CFS_BANDWIDTH,
	# NUMA_BALANCING, KVM, ...), its default preemption (voluntary), two
	# NUMA nodes: the whole selftest suite and every peer suite, patched
	# and unpatched
	kernel_stage distro
	guest_stage guest-distro distro 600 --numa
	guest_stage guest-distro-peer distro 600 --numa --append PEER_XFAIL=$peer_xfail_flaky \
		-- /peer/run.sh test_cpu pi_stress trinity
	kernel_stage distro-unpatched
	guest_stage guest-distro-unpatched-peer distro-unpatched 600 --numa --append PEER_XFAIL=$peer_xfail_flaky \
		-- /peer/run.sh test_cpu pi_stress trinity
	# sched_ext: a BPF scheduler in switch-all mode leaves offline tasks be
	kernel_stage ext
	if [ "${kernel_ok[ext]:-0}" = 1 ] && stage scx-tools scripts/build-scx.sh; then
		guest_stage guest-ext ext 300 --append preempt=full --append SELFTEST_FILTER=smoke,ext
	fi
	# full dynticks: offline tasks sharing a nohz_full CPU keep its tick
	# (not share.c: /proc/<pid>/schedstat lags for a task running tickless)
	kernel_stage nohz
	guest_stage guest-nohz nohz 300 --append preempt=full --append nohz_full=1-3 \
		--append SELFTEST_FILTER=smoke,nohz,preempt
	stage check-series scripts/check-series.sh
	if [ -x bench/run.sh ]; then
		stage bench bench/run.sh
	else
		stage bench sh -c 'echo "bench/run.sh not there yet"; exit 77'
	fi
fi

total=$((SECONDS - t_all))
{
	echo
	echo "=== summary ($mode, $(fmt_secs $total) wall, $(fmt_secs $((total - total_wait))) without waiting for build/.cpu.lock)"
	printf '%-16s %-5s %8s  %s\n' stage result time notes
	printf '%s\n' "${rows[@]}"
	[ "$skipped" = 0 ] || echo "($skipped skipped, counted in neither number)"
} | tee "$logdir/summary.txt"
echo "$passed passed, $failed failed" | tee -a "$logdir/summary.txt"
[ "$failed" = 0 ]
