#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# In-guest driver of `make bench` (busybox sh).  Prints one "BENCH {json}"
# line per measurement; bench/report.py collects them from the console log.
#
# Environment (from the kernel command line through vmtest --append):
#   BENCH_MODE=main     every metric, every variant, BENCH_ROUNDS rounds
#   BENCH_MODE=hotpath  only the pipe ping-pong (metric 4), for kernels
#                       booted alternately
#   BENCH_ROUNDS=3      rounds (variants interleaved, order rotated per round)
#   BENCH_S=2           seconds per latency / share / co-location measurement
#   BENCH_TPUT_S=2      seconds per throughput measurement
#   BENCH_PP_LOOPS=20000 BENCH_PP_REPEATS=5   pipe ping-pong size
#   BENCH_ONLY=latency,tput,share,colo        the metrics to run (main mode)
#
# Variants of the offline load: none (baseline), none2 (its A/A twin),
# normal, nice19, idle, cgweight1, cgidle, offline (see sobench.c).
MODE=${BENCH_MODE:-main}
ONLY=${BENCH_ONLY:-latency,tput,share,colo}
R=${BENCH_ROUNDS:-3}
S=${BENCH_S:-2}
TS=${BENCH_TPUT_S:-2}
PPL=${BENCH_PP_LOOPS:-20000}
PPR=${BENCH_PP_REPEATS:-5}
B=/usr/bin
PROBE_CPU=$(($(nproc) - 1))
VARIANTS="none normal nice19 idle cgweight1 cgidle offline none2"
[ -e /proc/sched_offline ] || VARIANTS=$(echo "$VARIANTS" | sed 's/ offline//')
fail=0

info() { echo "BENCH-INFO $*"; }

# rotate N WORDS...: the words, starting at index N mod count
rotate() {
	k=$1
	shift
	c=$#
	k=$((k % c))
	i=0
	out=""
	for w in "$@"; do
		if [ $i -ge $k ]; then out="$out $w"; fi
		i=$((i + 1))
	done
	i=0
	for w in "$@"; do
		if [ $i -lt $k ]; then out="$out $w"; fi
		i=$((i + 1))
	done
	echo $out
}

pingpong() { # ROUND
	$B/pipe_pingpong "$PPL" "$PPR" 0 | awk -v r="$1" -v k="$(uname -r)" '
		/us\/round trip/ {
			for (i = 1; i <= NF; i++) if ($i == "us/round") us = $(i - 1)
			printf "BENCH {\"metric\":\"pingpong\",\"variant\":\"none\",\"round\":%d,\"repeat\":%d,\"loops\":%d,\"us_per_rt\":%s}\n", r, n++, $5, us
		}'
}

# cyclictest --policy other on the probe CPU beside 4 hogs of VARIANT
cyclic() { # VARIANT
	v=$1
	rm -f /tmp/hogs.out /tmp/ct.hist
	hp=""
	if [ "${v#none}" = "$v" ]; then
		$B/sobench hogs "$v" 4 "$PROBE_CPU" >/tmp/hogs.out &
		hp=$!
		i=0
		while ! grep -q ready /tmp/hogs.out 2>/dev/null; do
			i=$((i + 1))
			if [ $i -gt 300 ] || ! kill -0 $hp 2>/dev/null; then
				echo "BENCH-ERROR hogs of $v did not start"
				fail=1
				return
			fi
			usleep 20000
		done
	fi
	cyclictest --policy other -q -m -D "$S" -i 1000 -a "$PROBE_CPU" -t 1 \
		-h 20000 --histfile=/tmp/ct.hist >/dev/null 2>&1 || {
		echo "BENCH-ERROR cyclictest failed ($v)"
		fail=1
	}
	[ -n "$hp" ] && { kill $hp; wait $hp; }
	awk -v v="$v" -v r="$ROUND" '
		# busybox awk reads "000100" as octal: strip the zeros first
		function num(x) { sub(/^[ \t]*0*/, "", x); return x + 0 }
		/^[0-9]+[ \t]+[0-9]+/ { k = num($1); c[k] = num($2); n += c[k]; next }
		/Histogram Overflows/ { split($0, a, ":"); ovf = num(a[2]) }
		/Max Latencies/ { split($0, a, ":"); max = num(a[2]) }
		function pct(q,   need, s, b) {
			need = q * (n + ovf); if (need < 1) need = 1
			s = 0
			for (b = 0; b < 20000; b++) { s += c[b]; if (s >= need) return b }
			return max
		}
		END {
			if (n + ovf == 0) exit 1
			printf "BENCH {\"metric\":\"cyclictest\",\"variant\":\"%s\",\"round\":%d,\"hogs\":%d,\"n\":%d,\"overflows\":%d,\"p50\":%d,\"p99\":%d,\"p999\":%d,\"max\":%d}\n", v, r, (v ~ /^none/) ? 0 : 4, n + ovf, ovf, pct(0.5), pct(0.99), pct(0.999), max
		}' /tmp/ct.hist || { echo "BENCH-ERROR no cyclictest histogram ($v)"; fail=1; }
}

run() { # CMD...: run, count a failure
	"$@" || { echo "BENCH-ERROR failed: $*"; fail=1; }
}

# --- metric 5: fake VM + host daemons + batch -------------------------------
COLO=/tmp/colo
colo_setup() {
	mkdir -p $COLO
	h=/opt/offlinectl/offlinectl-e2e-helper
	for n in qemu-system-x86_64 colo-hostd colo-batch; do cp $h $COLO/$n; done
	# pin: the agent's vCPU placement (one-to-one, CPU 0 reserved for the
	# host, emulator threads there) and host daemons confined to the
	# reserved CPU by its host cgroup; the policies of host and batch work
	# are kept.  pin+offline: the same, with host and batch work offline.
	for pol in keep offline; do
		cat >$COLO/colo-$pol.toml <<EOF
# make bench, metric 5 (bench/guest/bench-guest.sh)
[agent]
restore_on_exit = false
state_file = ""

[classify]
default_class = "exempt"

[classes.host]
policy = "$pol"

[classes.batch]
policy = "$pol"

[placement]
enabled = true
overcommit_ratio = 1.0
reserved_cpus = "0"
emulator_threads = "reserved"
memory = "keep"

[host_cgroup]
enabled = true
classes = ["host"]

[[rule]]
name = "bench host daemon"
class = "host"
comm = "colo-hostd"

[[rule]]
name = "bench batch job"
class = "batch"
comm = "colo-batch"
EOF
	done
}

colo() { # MODE: noagent | pin | pin+offline | isolated
	m=$1
	pids=""
	# one VM with a vCPU per non-reserved CPU, 50% busy each (5 ms / 5 ms)
	$COLO/qemu-system-x86_64 -name guest=bench,debug-threads=on -smp $PROBE_CPU \
		--duty 5:5 --timeout 120 &
	vm=$!
	$COLO/colo-hostd --mode daemon --timeout 120 &
	pids="$pids $!"
	$COLO/colo-hostd --mode daemon --timeout 120 &
	pids="$pids $!"
	$COLO/colo-batch --mode hog --threads "$(nproc)" --timeout 120 &
	pids="$pids $!"
	usleep 300000
	case $m in
	pin|isolated) cfg=$COLO/colo-keep.toml ;;
	pin+offline) cfg=$COLO/colo-offline.toml ;;
	*) cfg="" ;;
	esac
	if [ -n "$cfg" ]; then
		/opt/offlinectl/offlinectl -q -c "$cfg" agent --once >/tmp/agent.out 2>&1 ||
			{ echo "BENCH-ERROR offlinectl agent --once ($m) failed: $(head -c 400 /tmp/agent.out)"; fail=1; }
	fi
	# control: nothing beside the vCPUs on their CPUs (batch on CPU 0 too),
	# what single-threaded TCG alone makes of run_delay with busy vCPUs
	if [ "$m" = isolated ]; then
		for p in $pids; do
			for t in $(ls /proc/$p/task); do taskset -p -c 0 "$t" >/dev/null; done
		done
	fi
	usleep 200000
	# what each thread ended up as: comm, policy (stat field 41), CPUs
	st=""
	for p in $vm $pids; do
		for t in $(ls /proc/$p/task 2>/dev/null); do
			s=$(cat /proc/$p/task/$t/stat 2>/dev/null) || continue
			s=${s##*) }
			# shellcheck disable=SC2086
			set -- $s
			shift 38
			st="$st [$(cat /proc/$p/task/$t/comm) policy=$1 cpus=$(taskset -p "$t" | sed 's/.*: //')]"
		done
	done
	info "colo $m round $ROUND:$st"
	# the agent must have pinned each vCPU to a CPU of its own, not CPU 0
	if [ -n "$cfg" ]; then
		for t in $(ls /proc/$vm/task); do
			case "$(cat /proc/$vm/task/$t/comm)" in "CPU "*"/KVM")
				c=$(taskset -p "$t" | sed 's/.*: //')
				case $c in 2|4|8) ;; *) echo "BENCH-ERROR $m: vCPU thread $t has CPU mask $c, not one CPU of 1-3"; fail=1 ;; esac
			esac
		done
	fi
	if [ -x $B/schedlat ]; then
		$B/schedlat --duration "$S" --json --vcpu-prefix "CPU " >/tmp/schedlat.json 2>/tmp/schedlat.err &
		lp=$!
	fi
	run $B/sobench steal "$S" "CPU " >/tmp/steal.out
	sed "s/\"variant\":\"\"/\"variant\":\"$m\"/" /tmp/steal.out
	if [ -n "${lp:-}" ]; then
		if wait $lp; then
			printf 'BENCH {"metric":"schedlat","variant":"%s","round":%d,"report":%s}\n' \
				"$m" "$ROUND" "$(tr -d '\n' </tmp/schedlat.json)"
		else
			echo "BENCH-ERROR schedlat failed: $(cat /tmp/schedlat.err)"
			fail=1
		fi
		lp=""
	fi
	kill $vm $pids 2>/dev/null
	wait $vm $pids 2>/dev/null
}

info "kernel $(uname -r) $(uname -v)"
info "cmdline $(cat /proc/cmdline)"
info "mode $MODE rounds $R secs $S tput_secs $TS cpus $(nproc) probe_cpu $PROBE_CPU variants $VARIANTS"
info "sched_offline $([ -e /proc/sched_offline ] && echo present || echo absent)"

if [ "$MODE" = hotpath ]; then
	r=0
	while [ $r -lt "$R" ]; do
		pingpong $r
		r=$((r + 1))
	done
	exit $fail
fi

# metric 4 first, before any offline task has existed in this boot
pingpong 0

[ -x /opt/offlinectl/offlinectl ] && colo_setup
ROUND=0
while [ $ROUND -lt "$R" ]; do
	export BENCH_ROUND=$ROUND
	info "round $ROUND"
	# rotate by 3 per round, so each variant moves through the order
	ORDER=$(rotate $((ROUND * 3)) $VARIANTS)
	info "round $ROUND order $ORDER"
	case ,$ONLY, in *,latency,*)
		for v in $ORDER; do
			cyclic "$v"
			run $B/sobench chain "$v" 4 "$PROBE_CPU" "$S"
		done
	esac
	case ,$ONLY, in *,tput,*)
		for n in 1 8 32; do
			for v in $ORDER; do run $B/sobench tput "$v" $n "$TS"; done
		done
	esac
	case ,$ONLY, in *,share,*)
		for pct in 20 50 80; do
			for v in $ORDER; do run $B/sobench share "$v" $pct "$S" 2; done
		done
	esac
	case ,$ONLY, in *,colo,*) ;; *) ROUND=$((ROUND + 1)); continue ;; esac
	if [ -x /opt/offlinectl/offlinectl ]; then
		for m in $(rotate "$ROUND" noagent pin pin+offline isolated); do colo "$m"; done
	else
		echo "BENCH-ERROR no /opt/offlinectl/offlinectl: no co-location scenario"
		fail=1
	fi
	ROUND=$((ROUND + 1))
done
exit $fail
