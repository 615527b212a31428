#!/usr/bin/env bash
# Series hygiene checks for `make test-full` (each prints PASS/FAIL/SKIP):
#
#   checkpatch   scripts/checkpatch.pl --strict on every patch of the series
#   bisect       every prefix of the series builds on its own (worktree
#                build/linux-bisect, objects in build/obj/bisect, default config)
#   warnings     W=1 and sparse (C=2) over kernel/sched/: the patched tree may
#                add no warning the unpatched tree does not have
#   bloat        bloat-o-meter of the CONFIG_SCHED_OFFLINE=n build against the
#                unpatched build: must be a zero delta
#
#   scripts/check-series.sh [checkpatch|bisect|warnings|bloat ...]  (default: all)
#   BISECT_FROM=K   build only prefixes K..N (e.g. after changing patch K)
#
# Builds take build/.cpu.lock (through build-kernel.sh).
set -uo pipefail
. "$(dirname "$0")/lib.sh"
cd "$top"

checks=("$@")
[ ${#checks[@]} -gt 0 ] || checks=(checkpatch bisect warnings bloat)
logdir=$top/build/logs/check-series
mkdir -p "$logdir"
results=()
fail=0

result() { # NAME PASS|FAIL|SKIP TEXT
	results+=("$(printf '%-11s %-4s %s' "$1" "$2" "$3")")
	echo "check-series: $2 $1: $3"
	[ "$2" != FAIL ] || fail=1
}

# build/linux changes under running builds otherwise: prepare under the lock
"$top/scripts/with-cpu-lock" "$top/scripts/prepare-kernel.sh" ||
	{ result prepare FAIL "series does not apply"; exit 1; }
mapfile -t patches < <(sed -e 's/#.*//' -e '/^[[:space:]]*$/d' kernel-patches/series 2>/dev/null)
np=${#patches[@]}

check_checkpatch() {
	if [ "$np" = 0 ]; then result checkpatch SKIP "series is empty"; return; fi
	local p bad=0 out sum
	for p in "${patches[@]}"; do
		out=$(cd build/linux && ./scripts/checkpatch.pl --strict --color=never \
			"$top/kernel-patches/$p" 2>&1)
		sum=$(grep -E '^total: ' <<<"$out" | tail -1)
		echo "$out" >"$logdir/checkpatch-$p.log"
		if grep -q '^total: 0 errors, 0 warnings, 0 checks' <<<"$out"; then
			echo "  $p: clean"
		else
			echo "  $p: ${sum:-checkpatch failed}"
			grep -E '^(ERROR|WARNING|CHECK):' <<<"$out" | head -10 | sed 's/^/    /'
			bad=$((bad + 1))
		fi
	done
	if [ $bad = 0 ]; then
		result checkpatch PASS "$np patches, 0 errors, 0 warnings, 0 checks"
	else
		result checkpatch FAIL "$bad of $np patches not clean (logs: $logdir/checkpatch-*.log)"
	fi
}

check_bisect() {
	if [ "$np" = 0 ]; then result bisect SKIP "series is empty"; return; fi
	local wt=$top/build/linux-bisect k rev bad=0
	if ! git -C "$wt" rev-parse -q --verify HEAD >/dev/null 2>&1; then
		git -C build/linux worktree prune
		rm -rf "$wt"
		git -C build/linux worktree add -q --detach "$wt" base || {
			result bisect FAIL "cannot create worktree $wt"; return; }
	fi
	local from=${BISECT_FROM:-1}
	for ((k = from; k <= np; k++)); do
		rev=$(git -C build/linux rev-parse "HEAD~$((np - k))")
		git -C "$wt" checkout -q -f --detach "$rev"
		git -C "$wt" clean -q -fdx
		echo "  [$k/$np] ${patches[k - 1]}"
		if scripts/build-kernel.sh bisect >"$logdir/bisect-$k.log" 2>&1; then
			echo "      builds"
		else
			echo "      DOES NOT BUILD (log: $logdir/bisect-$k.log)"
			grep -E 'error:|Error [0-9]' "$logdir/bisect-$k.log" | head -5 | sed 's/^/      /'
			bad=$((bad + 1))
		fi
	done
	if [ $bad = 0 ]; then
		if [ "$from" = 1 ]; then
			result bisect PASS "all $np prefixes of the series build"
		else
			result bisect PASS "prefixes $from..$np of the series build (BISECT_FROM=$from)"
		fi
	else
		result bisect FAIL "$bad of $np prefixes do not build"
	fi
}

# file:line:col: warning: text -> file: warning: text (paths from the tree
# root).  A header's warnings repeat once per file that includes it, and a
# new file that includes sched.h repeats them again: count those once.
norm_warnings() {
	local all
	all=$(grep -E '^[^ :]+\.[ch]:[0-9]+(:[0-9]+)?: (warning|error):' "$1" |
		sed -E -e 's#^.*/build/linux(-base)?/##' -e 's#^(\.\./)+linux(-base)?/##' \
			-e 's#:[0-9]+(:[0-9]+)?: #: #')
	{
		grep -v '^[^:]*\.h: ' <<<"$all"
		grep '^[^:]*\.h: ' <<<"$all" | LC_ALL=C sort -u
	} | grep . | LC_ALL=C sort
}

check_warnings() {
	local v log
	for v in w1 w1-base; do
		log=$logdir/warnings-$v.log
		rm -f "build/obj/$v/kernel/sched/"*.o
		if ! scripts/build-kernel.sh "$v" W=1 C=2 kernel/sched/ >"$log" 2>&1; then
			result warnings FAIL "W=1 C=2 build of kernel/sched/ failed in '$v' (log: $log)"
			return
		fi
		norm_warnings "$log" >"$logdir/warnings-$v.txt"
	done
	local new
	new=$(LC_ALL=C comm -23 "$logdir/warnings-w1.txt" "$logdir/warnings-w1-base.txt")
	local nb np_
	nb=$(grep -c . "$logdir/warnings-w1-base.txt")
	np_=$(grep -c . "$logdir/warnings-w1.txt")
	if [ -z "$new" ]; then
		result warnings PASS "kernel/sched/ W=1 + sparse: $np_ warnings patched, $nb unpatched, none new"
	else
		# the new ones with their line numbers, from the raw log
		local f m
		sort -u <<<"$new" | while IFS= read -r w; do
			f=${w%%: *}; m=${w#*: }
			grep -F "$f:" "$logdir/warnings-w1.log" | grep -F -- "$m" |
				sed -E 's#^.*/build/linux/##; s#^(\.\./)+linux/##' | sort -u | head -10
		done | sed 's/^/    /'
		result warnings FAIL "$(grep -c . <<<"$new") new W=1/sparse warnings in kernel/sched/ (logs: $logdir/warnings-*.log)"
	fi
}

check_bloat() {
	local v
	for v in off unpatched; do
		scripts/build-kernel.sh "$v" >"$logdir/bloat-$v.log" 2>&1 || {
			result bloat FAIL "kernel '$v' did not build (log: $logdir/bloat-$v.log)"; return; }
	done
	local out
	out=$(build/linux/scripts/bloat-o-meter build/obj/unpatched/vmlinux build/obj/off/vmlinux 2>&1)
	echo "$out" >"$logdir/bloat.txt"
	if head -1 <<<"$out" | grep -q '^add/remove: 0/0 grow/shrink: 0/0 up/down: 0/0 (0)$'; then
		result bloat PASS "CONFIG_SCHED_OFFLINE=n vs unpatched: $(head -1 <<<"$out")"
	else
		head -20 <<<"$out" | sed 's/^/    /'
		result bloat FAIL "CONFIG_SCHED_OFFLINE=n differs from unpatched: $(head -1 <<<"$out")"
	fi
}

for c in "${checks[@]}"; do
	case $c in
	checkpatch|bisect|warnings|bloat) "check_$c" ;;
	*) result "$c" FAIL "unknown check" ;;
	esac
done

echo
echo "check-series: $np patches"
printf '  %s\n' "${results[@]}"
exit $fail
