#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# rt-tests' pi_stress (Debian's binary, unchanged) with the offline class in
# the mix: 2 offline hogs per CPU (offline_run; SCHED_IDLE on a kernel
# without the class) compete with pi_stress's FIFO/RR inversion groups.
# Passes when pi_stress exits 0 (its watchdog saw no deadlocked group) and
# performed inversions, and offline_run found its hogs alive, in their
# class and run.  Prints nested TAP, one case per pi_stress run.
#
#   PI_STRESS_SECS=S   guest seconds per run (default 15)
secs=${PI_STRESS_SECS:-15}
hogs=$(($(nproc) * 2))
if ! command -v pi_stress >/dev/null; then
	echo "no pi_stress in this guest"
	exit 4
fi
echo "TAP version 13"
echo "1..3"
i=0
bad=0
log=/tmp/pi_stress.$$.log
run() { # NAME PI_STRESS_ARGS...
	name=$1
	shift
	i=$((i + 1))
	echo "# $name: offline_run -n $hogs -- pi_stress -q -D $secs $*"
	./offline_run -n "$hogs" -- pi_stress -q -D "$secs" "$@" >"$log" 2>&1
	rc=$?
	sed 's/^/# /' "$log"
	inv=$(sed -n 's/.*Total inversion performed: *\([0-9][0-9]*\).*/\1/p' "$log" | tail -1)
	if [ "$rc" = 0 ] && [ "${inv:-0}" -gt 0 ]; then
		echo "ok $i $name # $inv inversions"
	else
		echo "not ok $i $name # exit $rc, ${inv:-no} inversions"
		bad=1
	fi
	rm -f "$log"
}
run pi_stress_fifo
run pi_stress_rr --rr
# all inversion groups on one CPU, offline hogs on it and beside it
run pi_stress_uniprocessor --uniprocessor
exit $bad
