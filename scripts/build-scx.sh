#!/usr/bin/env bash
# Build scx_simple (tools/sched_ext of the patched tree) against the BTF of
# the "ext" kernel (scripts/build-kernel.sh ext), then rebuild the initramfs
# with it as /usr/bin/scx_simple, for selftests/sched_offline/ext.c.
# Needs clang and libelf-dev (scripts/install-deps.sh); bpftool and libbpf
# come from the tree (Debian 12's bpftool 7.1 cannot make struct_ops skeletons).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/lib.sh"

vmlinux=$top/build/obj/ext/vmlinux
[ -f "$vmlinux" ] || die "no $vmlinux: run scripts/build-kernel.sh ext first"
for t in clang; do
	command -v "$t" >/dev/null || die "$t not installed"
done

out=$top/build/scx
mkdir -p "$out"
take_cpu_lock
nice make -C "$top/build/linux/tools/sched_ext" O="$out" \
	VMLINUX_BTF="$vmlinux" \
	-j"$(nproc)" scx_simple
bin=$out/build/bin/scx_simple
[ -x "$bin" ] || die "scx_simple did not build"
note "built $bin"
EXTRA_BINS="$bin" "$top/scripts/build-initramfs.sh"
