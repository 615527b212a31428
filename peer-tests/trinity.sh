#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Debian's trinity syscall fuzzer (unchanged), restricted to the scheduler
# syscalls and clone/futex/prctl, with offline hogs running: trinity runs
# as nobody (uid 65534: no --dangerous, it cannot re-class init or the
# hogs) and starts in SCHED_OFFLINE itself (offline_run -c), so its
# children's sched_setattr()/sched_setscheduler() calls move tasks into
# and out of the offline class.  SCHED_IDLE stands in on a kernel without
# the class.  The verdict is trinity's exit status, the number of syscalls
# it reports, offline_run's hog checks, and (on the host, scripts/vmtest)
# a kernel log free of WARNING/BUG/lockdep splats.
#
#   TRINITY_OPS=N      syscalls in all (-N, default 20000)
#   TRINITY_SEED=S     random seed (default 1, so runs repeat)
#   TRINITY_SYSCALLS=a,b   fuzz only these (default: the list below), e.g.
#                      scripts/vmtest --append TRINITY_SYSCALLS=sched_yield \
#                        -- /peer/run.sh trinity
ops=${TRINITY_OPS:-20000}
seed=${TRINITY_SEED:-1}
if ! command -v trinity >/dev/null; then
	echo "no trinity in this guest (apt-get install trinity, then make initramfs)"
	exit 4
fi
echo "TAP version 13"
echo "1..1"
work=/tmp/trinity-work
rm -rf "$work"
mkdir -p "$work"
chown 65534:65534 "$work"
log=/tmp/trinity.$$.log
list="sched_setattr sched_getattr sched_setscheduler sched_getscheduler
	sched_setparam sched_getparam sched_setaffinity sched_getaffinity
	sched_yield sched_get_priority_max sched_get_priority_min
	sched_rr_get_interval clone clone3 futex futex_waitv prctl"
[ -z "${TRINITY_SYSCALLS:-}" ] || list=$(echo "$TRINITY_SYSCALLS" | tr ',' ' ')
calls=
for c in $list; do
	calls="$calls -c $c"
done
echo "# offline_run -n $(nproc) -c -u 65534 -- trinity --arch 64 -q -N $ops -s $seed -C 4 --disable-fds=sockets,perf,drm $calls"
(cd "$work" && /peer/offline_run -n "$(nproc)" -c -u 65534 -- \
	trinity --arch 64 -q -N "$ops" -s "$seed" -C 4 --disable-fds=sockets,perf,drm $calls) >"$log" 2>&1
rc=$?
# trinity redraws its status line with \r; keep the lines that say things
tr '\r' '\n' <"$log" | grep -v '^$' | tail -60 | sed 's/^/# /'
ran=$(tr '\r' '\n' <"$log" | sed -n 's/.*Ran \([0-9][0-9]*\) syscalls.*/\1/p' | tail -1)
rm -f "$log"
if [ "$rc" = 0 ] && [ "${ran:-0}" -ge "$ops" ]; then
	echo "ok 1 trinity # $ran syscalls"
	exit 0
fi
echo "not ok 1 trinity # exit $rc, ${ran:-unknown number of} syscalls of $ops"
exit 1
