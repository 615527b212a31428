#!/usr/bin/env bash
# Build one kernel variant for the QEMU guest, out of tree, with ccache.
#
#   scripts/build-kernel.sh VARIANT [make targets...]
#
#   variant    tree               fragments (kernel-config/)            result
#   default    build/linux        base + Kconfig.offline                build/kernel/bzImage
#   debug      build/linux        base + Kconfig.offline + debug        build/kernel-debug/bzImage
#   off        build/linux        base + off (SCHED_OFFLINE=n)          build/kernel-off/bzImage
#   kasan      build/linux        base + Kconfig.offline + debug+kasan  build/kernel-kasan/bzImage
#   ext        build/linux        base + Kconfig.offline + ext (BPF, BTF, build/kernel-ext/bzImage
#                                 SCHED_CLASS_EXT)
#   nohz       build/linux        base + Kconfig.offline + nohz         build/kernel-nohz/bzImage
#                                 (NO_HZ_FULL, for nohz_full= guests)
#   distro     build/linux        base + Kconfig.offline + distro       build/kernel-distro/bzImage
#                                 (a distribution's scheduler options:
#                                 CFS_BANDWIDTH, NUMA_BALANCING, KVM, ...)
#   distro-unpatched  build/linux-base  base + distro              build/kernel-distro-unpatched/bzImage
#   unpatched  build/linux-base   base (6.12 + upstream fixes, tag       build/kernel-unpatched/bzImage
#                                 "baseline": kernel-patches/baseline)
#   bisect     build/linux-bisect base + Kconfig.offline (used by check-series.sh; the caller
#                                 checks the wanted commit out, nothing is copied)
#   w1, w1-base  build/linux, build/linux-base with the default fragments:
#              check-series.sh's W=1/sparse builds of kernel/sched/ (own object dirs)
#
# build/linux is made equal to base + kernel-patches/series first
# (scripts/prepare-kernel.sh, which only rewrites changed files, so objects
# are reused).  The config is tinyconfig + fragments, merged with
# scripts/kconfig/merge_config.sh and olddefconfig in a scratch directory,
# then verified option by option; the build directory's .config is replaced
# only when it changed.  Objects and vmlinux stay in build/obj/VARIANT.
#
# Options (environment): JOBS (default 3), CC (default "ccache gcc"),
# SKIP_PREPARE=1 (do not touch build/linux), V=1 (verbose make).
# Takes build/.cpu.lock for the whole run.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

variant=${1:?usage: build-kernel.sh default|debug|off|kasan|unpatched|bisect [targets]}
shift
targets=("$@")
jobs=${JOBS:-3}
cc=${CC:-ccache gcc}
cfgdir=$top/kernel-config
relaxed=0
case $variant in
default)   tree=linux;        frags=(base.config ../Kconfig.offline);         out=kernel ;;
debug)     tree=linux;        frags=(base.config ../Kconfig.offline debug.config); out=kernel-debug ;;
off)       tree=linux;        frags=(base.config off.config);                 out=kernel-off ;;
kasan)     tree=linux;        frags=(base.config ../Kconfig.offline debug.config kasan.config); out=kernel-kasan ;;
ext)       tree=linux;        frags=(base.config ../Kconfig.offline ext.config); out=kernel-ext ;;
nohz)      tree=linux;        frags=(base.config ../Kconfig.offline nohz.config); out=kernel-nohz ;;
distro)    tree=linux;        frags=(base.config ../Kconfig.offline distro.config); out=kernel-distro ;;
distro-unpatched) tree=linux-base; frags=(base.config distro.config);      out=kernel-distro-unpatched ;;
unpatched) tree=linux-base;   frags=(base.config);                            out=kernel-unpatched ;;
bisect)    tree=linux-bisect; frags=(base.config ../Kconfig.offline);         out=; relaxed=1 ;;
w1)        tree=linux;        frags=(base.config ../Kconfig.offline);         out= ;;
w1-base)   tree=linux-base;   frags=(base.config ../Kconfig.offline);         out=; relaxed=1 ;;
*) die "unknown variant '$variant' (default, debug, off, kasan, ext, nohz, distro, distro-unpatched, unpatched, bisect, w1, w1-base)" ;;
esac
src=$top/build/$tree
obj=$top/build/obj/$variant
scratch=$top/build/obj/.config-$variant
log=$top/build/obj/$variant.config.log

t0=$SECONDS
take_cpu_lock
kbuild_env

# --- source tree ------------------------------------------------------
# build/linux-base: 6.12 plus the upstream fixes at the head of the series
# (tag "baseline", made by prepare-kernel.sh from kernel-patches/baseline),
# so that comparisons measure the offline class alone
ensure_base_worktree() {
	"$top/scripts/prepare-kernel.sh" >/dev/null
	if ! git -C "$src" rev-parse -q --verify HEAD >/dev/null 2>&1; then
		note "creating worktree build/linux-base at tag baseline"
		git -C "$top/build/linux" worktree prune
		rm -rf "$src"
		git -C "$top/build/linux" worktree add -q --detach "$src" baseline
	fi
	git -C "$src" diff --quiet HEAD || die "build/linux-base has local changes"
	[ "$(git -C "$src" rev-parse HEAD)" = "$(git -C "$src" rev-parse 'baseline^{commit}')" ] ||
		git -C "$src" checkout -q --detach baseline
}

case $tree in
linux)
	[ "${SKIP_PREPARE:-0}" = 1 ] || "$top/scripts/prepare-kernel.sh" ;;
linux-base)
	ensure_base_worktree ;;
linux-bisect)
	[ -f "$src/Makefile" ] || die "build/linux-bisect missing (scripts/check-series.sh sets it up)" ;;
esac

# --- config -------------------------------------------------------------
# Feature symbols may be missing from Kconfig while kernel-patches/series is
# empty (and in early patches of a bisect build): warn then, fail otherwise.
feature_syms=$(sed -n 's/^\(# \)\?CONFIG_\([A-Za-z0-9_]*\)[= ].*/\2/p' \
	"$top/Kconfig.offline" "$cfgdir/off.config" | sort -u)
nseries=$(series_count)

mkdir -p "$scratch" "$obj"
{
	make -C "$src" O="$scratch" CC="$cc" tinyconfig
	frag_paths=()
	for f in "${frags[@]}"; do frag_paths+=("$cfgdir/$f"); done
	"$src/scripts/kconfig/merge_config.sh" -m -O "$scratch" "$scratch/.config" "${frag_paths[@]}"
	make -C "$src" O="$scratch" CC="$cc" olddefconfig
} >"$log" 2>&1 || { tail -30 "$log" >&2; die "config step failed (log: $log)"; }

# Wanted value per symbol: the last fragment that names it wins (merge order).
declare -A want=()
order=()
for f in "${frags[@]}"; do
	while IFS= read -r line; do
		if [[ $line =~ ^CONFIG_([A-Za-z0-9_]+)=(.*)$ ]]; then
			sym=${BASH_REMATCH[1]}; val=${BASH_REMATCH[2]}
		elif [[ $line =~ ^#\ CONFIG_([A-Za-z0-9_]+)\ is\ not\ set ]]; then
			sym=${BASH_REMATCH[1]}; val=n
		else
			continue
		fi
		[ -n "${want[$sym]+x}" ] || order+=("$sym")
		want[$sym]=$val
	done <"$cfgdir/$f"
done

known_syms=
is_known() {
	[ -n "$known_syms" ] || known_syms=$(grep -rhoE --include='Kconfig*' \
		'^[[:space:]]*(menu)?config[[:space:]]+[A-Za-z0-9_]+' "$src" |
		awk '{print $2}' | sort -u)
	grep -qx "$1" <<<"$known_syms"
}

bad=0
for sym in "${order[@]}"; do
	val=${want[$sym]}
	got=$(sed -n "s/^CONFIG_$sym=\(.*\)/\1/p" "$scratch/.config")
	if [ -z "$got" ] && grep -q "^# CONFIG_$sym is not set" "$scratch/.config"; then
		got=n
	fi
	[ "$got" = "$val" ] && continue
	if ! is_known "$sym"; then
		if grep -qx "$sym" <<<"$feature_syms" && { [ "$nseries" -eq 0 ] || [ $relaxed = 1 ]; }; then
			warn "CONFIG_$sym does not exist in this tree yet" \
				"(kernel-patches/series has $nseries patches): ignored"
			continue
		fi
		echo "CONFIG_$sym: requested '$val' but no such Kconfig symbol in build/$tree" >&2
		bad=1
		continue
	fi
	# A symbol whose dependencies are not met is absent from .config: = n.
	if [ "$val" = n ] && [ -z "$got" ]; then
		continue
	fi
	echo "CONFIG_$sym: requested '$val', got '${got:-absent (unmet dependency)}'" >&2
	bad=1
done
[ $bad = 0 ] || die "config of variant '$variant' is not as requested (fragments: ${frags[*]}; log: $log)"

if ! cmp -s "$scratch/.config" "$obj/.config"; then
	note "config of '$variant' changed: updating build/obj/$variant/.config"
	cp "$scratch/.config" "$obj/.config"
fi

# --- build ----------------------------------------------------------------
note "building '$variant' in build/obj/$variant (make -j$jobs, CC=$cc)"
make -C "$src" O="$obj" CC="$cc" -j"$jobs" ${V:+V=$V} "${targets[@]}"
if [ "$variant" = default ]; then
	# uapi headers for the selftests (SCHED_OFFLINE and friends)
	make -C "$src" O="$obj" -s headers
fi

if [ -n "$out" ] && [ ${#targets[@]} -eq 0 ]; then
	mkdir -p "$top/build/$out"
	cp "$obj/arch/x86/boot/bzImage" "$top/build/$out/bzImage.tmp"
	mv "$top/build/$out/bzImage.tmp" "$top/build/$out/bzImage"
	cp "$obj/.config" "$top/build/$out/config"
	note "$variant: build/$out/bzImage ($(stat -c %s "$top/build/$out/bzImage") bytes)," \
		"vmlinux in build/obj/$variant, $(fmt_secs $((SECONDS - t0)))"
else
	note "$variant: done in $(fmt_secs $((SECONDS - t0)))"
fi
