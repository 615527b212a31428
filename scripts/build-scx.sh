#!/usr/bin/env bash
# Build scx_simple (tools/sched_ext of the patched tree) against the BTF of
# the "ext" kernel (scripts/build-kernel.sh ext), then rebuild the initramfs
# with it as /usr/bin/scx_simple, for selftests/sched_offline/ext.c.
# Needs clang, bpftool, libbpf-dev and libelf-dev (scripts/install-deps.sh).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/lib.sh"

vmlinux=$top/build/obj/ext/vmlinux
[ -f "$vmlinux" ] || die "no $vmlinux: run scripts/build-kernel.sh ext first"
for t in clang bpftool; do
	command -v "$t" >/dev/null || die "$t not installed"
done

out=$top/build/scx
mkdir -p "$out"
take_cpu_lock
nice make -C "$top/build/linux/tools/sched_ext" O="$out" \
	VMLINUX_BTF="$vmlinux" BPFTOOL="$(command -v bpftool)" \
	-j"$(nproc)" scx_simple
bin=$out/build/bin/scx_simple
[ -x "$bin" ] || die "scx_simple did not build"
note "built $bin"
EXTRA_BINS="$bin" "$top/scripts/build-initramfs.sh"
