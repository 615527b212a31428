#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Run the peer suites in the guest (they are in /peer) and print TAP 13 the
# way selftests/sched_offline/run_tests.sh does: one line per suite, its own
# TAP nested under it with "# ", so scripts/test-all.sh counts each case.
#
#   /peer/run.sh [SUITE...]     test_cpu, pi_stress, trinity (default: all
#                               that are installed; trinity only when asked)
#   PEER_TIMEOUT=S              per-suite limit (default 600)
#   PEER_XFAIL=a,b              case names that fail on unpatched 6.12 in the
#                               same guest too: their "not ok" becomes
#                               "ok ... # SKIP" with that reason, counted as
#                               skipped, never as passed.  Empty by default;
#                               scripts/test-all.sh sets what it measured.
#
# Exit status: 0 when every suite passed or skipped, 1 otherwise.
dir=$(cd "$(dirname "$0")" && pwd)
cd "$dir" || exit 1
timeout_s=${PEER_TIMEOUT:-600}
xfail=" $(echo "${PEER_XFAIL:-}" | tr ',' ' ') "

suites=$*
[ -n "$suites" ] || suites="test_cpu pi_stress"

n=0
for s in $suites; do n=$((n + 1)); done
echo "TAP version 13"
echo "1..$n"
i=0
failed=0
res=/tmp/.peer.$$
for s in $suites; do
	i=$((i + 1))
	case $s in
	test_cpu) cmd=./test_cpu ;;
	*) cmd="sh ./$s.sh" ;;
	esac
	echo "# peer: $s ($cmd)"
	start=$(cut -d' ' -f1 /proc/uptime)
	{
		timeout -s KILL "$timeout_s" $cmd 2>&1
		echo $? >"$res.rc"
	} | awk -v xfail="$xfail" -v res="$res" '
		/^not ok [0-9]+ / {
			name = $4
			if (index(xfail, " " name " ")) {
				sub(/^not ok/, "ok")
				$0 = $0 " # SKIP expected failure, as on unpatched 6.12 (PEER_XFAIL)"
				xf++
			} else if ($0 !~ /# TODO/)
				bad++
		}
		{ print "# " $0; fflush() }
		END { print (bad + 0) " " (xf + 0) > res }'
	rc=$(cat "$res.rc" 2>/dev/null || echo 255)
	read -r bad xf <"$res" 2>/dev/null
	rm -f "$res" "$res.rc"
	end=$(cut -d' ' -f1 /proc/uptime)
	echo "# $s: exit=$rc, $(awk "BEGIN { printf \"%.1f\", $end - $start }") s guest time"
	# a suite whose only failures are expected ones passes; anything
	# else that exits non-zero fails
	if [ "$rc" = 0 ] || { [ "$rc" = 1 ] && [ "${bad:-0}" = 0 ] && [ "${xf:-0}" -gt 0 ]; }; then
		echo "ok $i peer: $s"
	elif [ "$rc" = 4 ]; then
		echo "ok $i peer: $s # SKIP"
	elif [ "$rc" = 137 ]; then
		echo "not ok $i peer: $s # TIMEOUT $timeout_s seconds"
		failed=$((failed + 1))
	else
		echo "not ok $i peer: $s # exit=$rc"
		failed=$((failed + 1))
	fi
done
echo "# peer: $((n - failed)) of $n suites passed"
[ "$failed" -eq 0 ]
