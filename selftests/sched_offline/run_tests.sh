#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Run the sched_offline selftests (in the guest, or on any host) and print
# TAP 13: one line per test program, its own TAP passed through indented
# with "# " as the kernel's kselftest runner does.
#
#   run_tests.sh [NAME...]       run the named tests only
#   SELFTEST_FILTER="a b"        the same, from the environment, or from the
#                                guest's kernel command line as
#                                SELFTEST_FILTER=a,b
#   KSFT_TIMEOUT=S               per-program timeout (default: settings file,
#                                else 300 s)
#
# Exit status: 0 when every program passed or skipped, 1 otherwise.
# Program exit codes follow kselftest: 0 pass, 4 skip, anything else fail.

dir=$(cd "$(dirname "$0")" && pwd)
cd "$dir" || exit 1

timeout_s=${KSFT_TIMEOUT:-}
if [ -z "$timeout_s" ] && [ -f settings ]; then
	timeout_s=$(sed -n 's/^timeout=//p' settings)
fi
timeout_s=${timeout_s:-300}

if [ -f tests.list ]; then
	all=$(cat tests.list)
else
	all=$(for f in *; do
		[ "$f" = run_tests.sh ] && continue
		[ -f "$f" ] && [ -x "$f" ] && echo "$f"
	done)
fi

want=$(echo "$* ${SELFTEST_FILTER:-}" | tr ',' ' ')
tests=
for t in $all; do
	if [ -n "$(echo $want)" ]; then
		hit=
		for w in $want; do
			case $t in $w|$w.sh) hit=1 ;; esac
		done
		[ -n "$hit" ] || continue
	fi
	tests="$tests $t"
done

n=0
for t in $tests; do n=$((n + 1)); done
echo "TAP version 13"
echo "1..$n"
[ "$n" -gt 0 ] || echo "# no tests selected (filter: $want)"

rc_file=/tmp/.ksft_rc.$$
i=0
failed=0
for t in $tests; do
	i=$((i + 1))
	echo "# selftests: sched_offline: $t"
	start=$(cut -d' ' -f1 /proc/uptime 2>/dev/null)
	{
		timeout -s KILL "$timeout_s" "./$t" 2>&1
		echo $? >"$rc_file"
	} | sed 's/^/# /'
	rc=$(cat "$rc_file" 2>/dev/null || echo 255)
	rm -f "$rc_file"
	end=$(cut -d' ' -f1 /proc/uptime 2>/dev/null)
	[ -n "$start" ] && [ -n "$end" ] &&
		echo "# $t: exit=$rc, $(awk "BEGIN { printf \"%.1f\", $end - $start }") s"
	case $rc in
	0) echo "ok $i selftests: sched_offline: $t" ;;
	4) echo "ok $i selftests: sched_offline: $t # SKIP" ;;
	124|137) echo "not ok $i selftests: sched_offline: $t # TIMEOUT ${timeout_s} seconds"
		failed=$((failed + 1)) ;;
	*) echo "not ok $i selftests: sched_offline: $t # exit=$rc"
		failed=$((failed + 1)) ;;
	esac
done
echo "# sched_offline: $((n - failed)) of $n programs passed"
[ "$failed" -eq 0 ]
