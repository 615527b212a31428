#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Command-line behaviour of the offlinectl binary: exit codes, messages,
# read-only commands on the live /proc, dry runs.  Changes nothing on the
# host except a sleep(1) process it starts itself.
# usage: cli_smoke.sh OFFLINECTL EXAMPLE_CONFIG
set -u
BIN=$1
EXAMPLE=$2
T=$(mktemp -d)
trap 'rm -rf "$T"; [ -n "${sp:-}" ] && kill "$sp" 2>/dev/null' EXIT
fails=0
n=0
expect() { # expect RC DESCRIPTION CMD...
	want=$1
	what=$2
	shift 2
	"$@" >"$T/out" 2>"$T/err"
	rc=$?
	n=$((n + 1))
	if [ "$rc" -ne "$want" ]; then
		echo "FAIL: $what: exit $rc, want $want: $*"
		sed 's/^/  out: /' "$T/out" | head -20
		sed 's/^/  err: /' "$T/err" | head -20
		fails=$((fails + 1))
	else
		echo "ok: $what"
	fi
}
grep_out() { # grep_out DESCRIPTION PATTERN (in last out+err)
	n=$((n + 1))
	if cat "$T/out" "$T/err" | grep -q -- "$2"; then echo "ok: $1"; else
		echo "FAIL: $1: no '$2' in output"
		sed 's/^/  out: /' "$T/out" | head -20
		sed 's/^/  err: /' "$T/err" | head -20
		fails=$((fails + 1))
	fi
}

expect 0 "--version" "$BIN" --version
grep_out "version string" "offlinectl [0-9]"
expect 0 "--help" "$BIN" --help
grep_out "help lists subcommands" "explain"
expect 2 "no subcommand is a usage error" "$BIN"
expect 2 "unknown subcommand" "$BIN" frobnicate
expect 2 "explain needs a PID" "$BIN" explain
expect 2 "explain PID must be a number" "$BIN" explain abc
expect 2 "set needs a PID" "$BIN" set
expect 2 "run needs a command" "$BIN" run
expect 2 "missing config file" "$BIN" -c /nonexistent.toml agent --check-config
grep_out "missing config names the file" "/nonexistent.toml"
expect 0 "example config validates" "$BIN" -c "$EXAMPLE" agent --check-config
printf '[agent]\nresync_interval = 5\n\n[[rule]]\nclass = "batch"\ncomm = "(oops"\n' >"$T/bad.toml"
expect 2 "bad config is exit 2" "$BIN" -c "$T/bad.toml" agent --once --dry-run
grep_out "bad config error names file:line" "bad.toml:6: bad regular expression"
expect 2 "--proc-root refuses to change real tasks" "$BIN" --proc-root "$T" agent --once
expect 0 "status (live /proc)" "$BIN" -c "$EXAMPLE" status
grep_out "status shows classes" "critical"
expect 0 "status --json" "$BIN" -c "$EXAMPLE" status --json
grep_out "status json has classes" '"classes"'
expect 0 "explain self shell" "$BIN" -c "$EXAMPLE" explain $$
grep_out "explain says why" "why:"
expect 0 "explain --json PID 1" "$BIN" -c "$EXAMPLE" explain --json 1
grep_out "PID 1 is exempt" '"reason": "pid1"'
expect 1 "explain of a missing pid" "$BIN" explain 999999999
expect 0 "agent --once --dry-run on the live host" "$BIN" -c "$EXAMPLE" agent --once --dry-run
expect 0 "top --once" "$BIN" -c "$EXAMPLE" top --once -d 0.2
grep_out "top prints classes" "vm-service"
expect 0 "run -- true" "$BIN" run -- true
expect 127 "run of a missing command" "$BIN" run -- /nonexistent/cmd
expect 0 "run --nice 7 sets policy and nice" "$BIN" run --nice 7 -- sh -c 'cat /proc/self/stat'
pol=$(sed 's/.*) //' "$T/out" | cut -d' ' -f39)
nice=$(sed 's/.*) //' "$T/out" | cut -d' ' -f17)
n=$((n + 1))
if { [ "$pol" = 8 ] || [ "$pol" = 5 ]; } && [ "$nice" = 7 ]; then echo "ok: run child policy $pol nice $nice"; else
	echo "FAIL: run child policy $pol nice $nice"
	fails=$((fails + 1))
fi
expect 1 "set refuses PID 1" "$BIN" set 1
sleep 30 &
sp=$!
expect 0 "set PID" "$BIN" set "$sp"
grep_out "set reports the change" "SCHED_"
pol=$(sed 's/.*) //' "/proc/$sp/stat" | cut -d' ' -f39)
n=$((n + 1))
if [ "$pol" = 8 ] || [ "$pol" = 5 ]; then echo "ok: set made it offline ($pol)"; else
	echo "FAIL: set: policy $pol"
	fails=$((fails + 1))
fi
if [ "$(id -u)" = 0 ]; then
	expect 0 "unset PID" "$BIN" unset "$sp"
	pol=$(sed 's/.*) //' "/proc/$sp/stat" | cut -d' ' -f39)
	n=$((n + 1))
	if [ "$pol" = 0 ]; then echo "ok: unset made it SCHED_OTHER"; else
		echo "FAIL: unset: policy $pol"
		fails=$((fails + 1))
	fi
fi
echo "$n checks, $fails failed"
[ "$fails" -eq 0 ]
