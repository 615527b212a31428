#!/bin/sh
# Guest side of `make demo` until bench/demo-guest.sh exists: an online
# latency probe (cyclictest, SCHED_OTHER, 1 ms timer, CPU 3) alone and next
# to 4 CPU hogs on the same CPU, as SCHED_NORMAL and as SCHED_IDLE.  The
# SCHED_OFFLINE row is only run when the kernel has the class AND a way to
# use it; otherwise it says so.  Every hog row prints the hogs' CPU time, so
# a quiet row can be told from a row where the hogs did not run.
LOOPS=${DEMO_LOOPS:-3000}
CPU=3
[ "$(nproc)" -gt $CPU ] || CPU=$(($(nproc) - 1))

hr() { echo "--------------------------------------------------------------------------"; }

# percentiles from cyclictest's histogram file ("usec count" rows + overflows)
pctl() {
	awk '
	/^[0-9]/ { n[$1 + 0] += $2; tot += $2; next }
	/# Histogram Overflows:/ { over += $4 }
	/# Max Latencies:/ { max = $4 }
	END {
		tot += over
		split("50 99 99.9", q, " ")
		for (i = 1; i <= 3; i++) {
			want = tot * q[i] / 100; c = 0; v = ">20000"
			for (u = 0; u <= 20000; u++) { c += n[u]; if (c >= want) { v = u; break } }
			printf "%8s", v
		}
		printf "%8d", max
	}' "$1"
}

hog_cpu_ms() { # sum of the hogs' run time (schedstat, ns) in ms
	t=0
	for p in $HOGS; do
		v=$(cut -d' ' -f1 /proc/$p/schedstat 2>/dev/null || echo 0)
		t=$((t + v / 1000000))
	done
	echo $t
}

HOGS=
start_hogs() { # $1: "" or a chrt option
	HOGS=
	for i in 1 2 3 4; do
		if [ -n "$1" ]; then
			chrt $1 0 taskset -c $CPU sh -c 'while :; do :; done' &
		else
			taskset -c $CPU sh -c 'while :; do :; done' &
		fi
		HOGS="$HOGS $!"
	done
	sleep 0.2
}
stop_hogs() { for p in $HOGS; do kill $p; done; wait 2>/dev/null; HOGS=; }

row() { # $1 label; hog CPU time is taken over the probe's run only
	h0=$(hog_cpu_ms)
	up0=$(cut -d' ' -f1 /proc/uptime)
	cyclictest -q -m --policy=other -t1 -a $CPU -i 1000 -l $LOOPS \
		-h 20000 --histfile=/tmp/hist >/dev/null 2>&1
	up1=$(cut -d' ' -f1 /proc/uptime)
	h1=$(hog_cpu_ms)
	printf '%-26s%s' "$1" "$(pctl /tmp/hist)"
	if [ -n "$HOGS" ]; then
		printf '   hogs ran %5d ms in %s s\n' $((h1 - h0)) \
			"$(awk "BEGIN { printf \"%.2f\", $up1 - $up0 }")"
	else
		echo
	fi
}

# keep this shell and its helpers off the probe's CPU
taskset -p -c 0-$((CPU - 1)) $$ >/dev/null 2>&1

hr
echo " sched-offline demo -- PLACEHOLDER (bench/demo-guest.sh is not written yet)"
echo " kernel: $(uname -r) $(uname -v)"
echo " $(cat /proc/cmdline)"
if [ -e /proc/sched_offline ]; then
	echo " This kernel has /proc/sched_offline, but the real demo script is missing."
else
	echo " The SCHED_OFFLINE class is NOT in this kernel yet (no /proc/sched_offline)."
	echo " Below are upstream policies only; nothing here is the offline class."
fi
hr
echo " online probe: cyclictest, SCHED_OTHER, 1 ms timer, CPU $CPU, $LOOPS loops"
echo " offline load: 4 busy loops pinned to CPU $CPU"
echo
printf '%-26s%8s%8s%8s%8s\n' "offline load" "p50" "p99" "p99.9" "max"
printf '%-26s%8s%8s%8s%8s\n' "" "us" "us" "us" "us"
row "none (baseline)"
start_hogs ""
row "4 x SCHED_NORMAL"
stop_hogs
if command -v chrt >/dev/null; then
	start_hogs "-i"
	row "4 x SCHED_IDLE"
	stop_hogs
else
	echo "4 x SCHED_IDLE            (no chrt in the guest)"
fi
if [ -e /proc/sched_offline ]; then
	echo "4 x SCHED_OFFLINE         not run: needs bench/demo-guest.sh"
else
	echo "4 x SCHED_OFFLINE         not available: kernel lacks the class"
fi
hr
