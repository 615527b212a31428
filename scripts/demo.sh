#!/usr/bin/env bash
# `make demo`: build what is missing or stale (kernel, agent, initramfs), boot
# the patched kernel and run the demo in the guest: bench/demo-guest.sh when
# it exists, else scripts/guest/demo-placeholder.sh, which says plainly that
# the offline class is not there yet and shows the upstream baseline.
#
#   DEMO_ARGS="..."   extra scripts/vmtest options (e.g. --smp 8)
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$top"

t0=$SECONDS
mkdir -p build/logs
note "building the kernel if needed (log: build/logs/demo-kernel.log)"
if ! scripts/build-kernel.sh default >build/logs/demo-kernel.log 2>&1; then
	tail -30 build/logs/demo-kernel.log >&2
	die "kernel build failed"
fi
make -s agent
scripts/build-initramfs.sh
note "built in $(fmt_secs $((SECONDS - t0)))"

if [ -f bench/demo-guest.sh ]; then
	make -s -C bench/guest
	job=(--add bench/demo-guest.sh:/demo.sh
	     --add build/bench/guest/colo_demo:/usr/bin/colo_demo)
else
	note "bench/demo-guest.sh not there yet: running the placeholder demo"
	job=(--add scripts/guest/demo-placeholder.sh:/demo.sh)
fi
# shellcheck disable=SC2086
scripts/vmtest --timeout 600 --append preempt=full ${DEMO_ARGS:-} "${job[@]}" -- sh /demo.sh
