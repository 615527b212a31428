#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# `make bench`: the side-by-side benchmarks of design.md section 6.
#
#   1. builds what is missing (patched kernel, unpatched kernel unless
#      BENCH_BUILD_UNPATCHED=0, agent, guest programs, schedlat, initramfs);
#   2. boots the patched kernel once (preempt=full) and runs every variant
#      of the offline load interleaved over BENCH_ROUNDS rounds
#      (bench/guest/bench-guest.sh): metrics 1, 2, 3, 5, and metric 4's
#      ping-pong first thing in the boot;
#   3. boots the unpatched and the patched kernel alternately,
#      BENCH_HOTPATH_BOOTS times each, for the hot-path comparison (metric 4);
#   4. runs the agent micro-benchmarks (metric 6) under build/.cpu.lock;
#   5. writes build/bench/report.md, report.json and PNG plots
#      (bench/report.py; gnuplot), and with BENCH_README=1 the results
#      section of README.md (+ bench/results/latency.png).
#
# Knobs (environment): BENCH_ROUNDS=5, BENCH_S=2 (seconds per latency,
# share and co-location measurement), BENCH_TPUT_S=2, BENCH_HOTPATH_BOOTS=2,
# BENCH_PP_LOOPS=20000, BENCH_PP_REPEATS=5, BENCH_AGENT_REPS=5,
# BENCH_BUILD_UNPATCHED=1, BENCH_README=0.  Guest boots take build/.cpu.lock
# (scripts/vmtest), one at a time; nothing here runs beside a kernel build.
# Exit status: 0 when every boot ran and the report was written (targets
# missed are findings, reported, not failures).
set -euo pipefail
. "$(dirname "$0")/../scripts/lib.sh"
cd "$top"

ROUNDS=${BENCH_ROUNDS:-5}
S=${BENCH_S:-2}
TS=${BENCH_TPUT_S:-2}
HP=${BENCH_HOTPATH_BOOTS:-2}
PPL=${BENCH_PP_LOOPS:-20000}
PPR=${BENCH_PP_REPEATS:-5}
AREPS=${BENCH_AGENT_REPS:-5}
out=$top/build/bench
logs=$out/logs
t_start=$SECONDS

rm -rf "$logs" "$out"/*.png "$out"/*.dat "$out"/report.* "$out"/boots.tsv "$out"/agent-bench.json
mkdir -p "$logs"

# --- 1. build ------------------------------------------------------------------
note "building the patched kernel if needed (log: build/bench/logs/kernel.log)"
scripts/build-kernel.sh default >"$logs/kernel.log" 2>&1 || { tail -20 "$logs/kernel.log" >&2; die "kernel build failed"; }
unpatched=build/kernel-unpatched/bzImage
if [ ! -f "$unpatched" ]; then
	if [ "${BENCH_BUILD_UNPATCHED:-1}" = 1 ]; then
		note "building the unpatched kernel (long on a cold cache; BENCH_BUILD_UNPATCHED=0 skips it)"
		scripts/build-kernel.sh unpatched >"$logs/kernel-unpatched.log" 2>&1 ||
			{ tail -20 "$logs/kernel-unpatched.log" >&2; die "unpatched kernel build failed"; }
	else
		warn "no $unpatched and BENCH_BUILD_UNPATCHED=0: no hot-path comparison"
	fi
fi
make -s agent >"$logs/agent-build.log" 2>&1 || warn "make agent failed (log $logs/agent-build.log): no co-location agent or agent benchmarks if nothing was built before"
make -s -C bench/guest >"$logs/guest-build.log" 2>&1 || die "bench/guest did not build (log $logs/guest-build.log)"
make -s -C userspace/bpf >"$logs/bpf-build.log" 2>&1 || warn "userspace/bpf did not build: no schedlat probe"
scripts/build-initramfs.sh >"$logs/initramfs.log" 2>&1 || { tail -20 "$logs/initramfs.log" >&2; die "initramfs build failed"; }

cat >"$out/config.json" <<EOF
{"command": "make bench${BENCH_ROUNDS:+ BENCH_ROUNDS=$BENCH_ROUNDS}", "rounds": $ROUNDS, "secs": $S, "tput_secs": $TS,
 "hotpath_boots": $HP, "pingpong_loops": $PPL, "pingpong_repeats": $PPR, "agent_reps": $AREPS,
 "date": "$(date -u '+%Y-%m-%d %H:%M UTC')", "git": "$(git log -1 --format=%h 2>/dev/null)",
 "host": "$(nproc) CPUs, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)",
 "qemu": "$(qemu-system-x86_64 --version | head -1)"}
EOF

# --- 2./3. guest boots -------------------------------------------------------------
printf '# label\tkernel\tconsole log\tverdict\tqemu command line\n' >"$out/boots.tsv"
boot() { # LABEL KERNEL TIMEOUT APPEND...
	local label=$1 kernel=$2 tmo=$3 t0=$SECONDS
	shift 3
	local args=() a
	for a in "$@"; do args+=(--append "$a"); done
	note "boot $label: $kernel ($*)"
	scripts/vmtest --quiet --kernel "$kernel" --timeout "$tmo" --append preempt=full "${args[@]}" \
		--add bench/guest/bench-guest.sh:/bench.sh \
		--add build/bench/guest/sobench:/usr/bin/sobench \
		--add build/bench/guest/pipe_pingpong:/usr/bin/pipe_pingpong \
		--out "$logs/$label.console.log" --result "$logs/$label.result" \
		-- sh /bench.sh >"$logs/$label.vmtest.log" 2>&1 || true
	local verdict qemu
	verdict=$(sed -n 's/^verdict=//p' "$logs/$label.result" 2>/dev/null)
	qemu=$(sed -n 's/^vmtest: \(qemu-system-.*\)/\1/p' "$logs/$label.vmtest.log" | head -1 |
		sed 's/-initrd [^ ]*/-initrd build\/initramfs.cpio.gz+bench files/')
	printf '%s\t%s\t%s\t%s\t%s\n' "$label" "$kernel" "logs/$label.console.log" "${verdict:-none}" "$qemu" >>"$out/boots.tsv"
	note "boot $label: ${verdict:-no verdict} in $(fmt_secs $((SECONDS - t0))), $(grep -c '^BENCH {' "$logs/$label.console.log" 2>/dev/null || echo 0) measurements"
	[ "$verdict" = PASS ] || warn "boot $label: $(tail -1 "$logs/$label.vmtest.log")"
}

common=(BENCH_S="$S" BENCH_TPUT_S="$TS" BENCH_PP_LOOPS="$PPL" BENCH_PP_REPEATS="$PPR")
boot main build/kernel/bzImage $((600 + ROUNDS * 600)) BENCH_MODE=main BENCH_ROUNDS="$ROUNDS" "${common[@]}"
if [ -f "$unpatched" ]; then
	for i in $(seq 1 "$HP"); do
		boot "hotpath-unpatched-$i" "$unpatched" 300 BENCH_MODE=hotpath BENCH_ROUNDS=1 "${common[@]}"
		boot "hotpath-patched-$i" build/kernel/bzImage 300 BENCH_MODE=hotpath BENCH_ROUNDS=1 "${common[@]}"
	done
fi

# --- 4. agent micro-benchmarks -------------------------------------------------------
ab=build/userspace-cmake/bench-agent/offlinectl_bench
if [ -x "$ab" ]; then
	note "agent micro-benchmarks ($AREPS repetitions, under the CPU lock)"
	tmp=$(mktemp -d /dev/shm/offlinectl-bench.XXXXXX 2>/dev/null || mktemp -d)
	TMPDIR=$tmp scripts/with-cpu-lock taskset -c 0 "$ab" --benchmark_repetitions="$AREPS" \
		--benchmark_min_time=0.2 --benchmark_out="$out/agent-bench.json" --benchmark_out_format=json \
		>"$logs/agent-bench.log" 2>&1 || warn "agent benchmarks failed (log $logs/agent-bench.log)"
	rm -rf "$tmp"
else
	warn "no $ab: no agent micro-benchmarks"
fi

# --- 5. report -----------------------------------------------------------------------
readme=()
[ "${BENCH_README:-0}" = 1 ] && readme=(--readme README.md --readme-plot bench/results)
python3 bench/report.py "$out" "${readme[@]}"
note "build/bench/report.md (+ report.json, $(ls "$out"/*.png 2>/dev/null | wc -l) plots) in $(fmt_secs $((SECONDS - t_start)))"
# every boot must have run to the end
! grep -qv -e '^#' -e $'\tPASS\t' "$out/boots.tsv" || { warn "a boot did not pass: see build/bench/boots.tsv"; exit 1; }
