#!/usr/bin/env bash
# Build build/initramfs.cpio.gz: busybox-static, /init (scripts/guest/init),
# the static selftests under /selftests, the peer suites (peer-tests/: test_cpu,
# pi_stress and trinity runs) under /peer, cyclictest, hackbench, chrt and
# pi_stress (with their shared libraries and the loader), trinity when the
# host has it (Debian package trinity), and, when build/userspace/offlinectl
# exists, everything in build/userspace/ under /opt/offlinectl (offlinectl
# also on PATH; the agent's e2e test runs as /opt/offlinectl/agent_e2e.sh),
# and schedlat (userspace/bpf) as /usr/bin/schedlat with its test under
# /opt/schedlat.
#
#   EXTRA_BINS="/usr/bin/foo ..."  more host binaries (+ libs) into /usr/bin
#   INCLUDE_FAIL_DEMO=1            build the always-failing selftest too
#   INITRAMFS_OUT=PATH             write there instead of build/initramfs.cpio.gz
set -euo pipefail
. "$(dirname "$0")/lib.sh"

out=${INITRAMFS_OUT:-$top/build/initramfs.cpio.gz}
mkdir -p "$top/build"
stage=$(mktemp -d "$top/build/.initramfs-root.XXXXXX")
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage"/{bin,sbin,usr/bin,usr/sbin,etc,proc,sys,dev,tmp,run,root,mnt,var/tmp,lib64}

make -s -C "$top/selftests/sched_offline" install INSTALL_PATH="$stage/selftests" \
	INCLUDE_FAIL_DEMO="${INCLUDE_FAIL_DEMO:-0}" >&2
# suites nobody here wrote (upstream's cgroup test_cpu, rt-tests, trinity)
make -s -C "$top/peer-tests" install INSTALL_PATH="$stage/peer" >&2

# busybox and its applets, each where busybox itself says it belongs
bb=$(command -v busybox)
file -L "$bb" | grep -q 'statically linked' || die "$bb is not static: install busybox-static"
cp "$bb" "$stage/bin/busybox"
"$bb" --list-full | while read -r a; do
	[ -e "$stage/$a" ] || [ -L "$stage/$a" ] || ln -s /bin/busybox "$stage/$a"
done

install -m 755 "$top/scripts/guest/init" "$stage/init"
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$stage/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$stage/etc/group"

# a host binary and, when dynamic, its ldd libraries at the same paths
add_bin() {
	local src=$1 dst=$2 lib
	mkdir -p "$(dirname "$stage$dst")"
	cp -L "$src" "$stage$dst"
	if ! file -L "$src" | grep -q 'statically linked'; then
		ldd "$src" | grep -o '/[^ ]*' | while read -r lib; do
			[ -e "$stage$lib" ] && continue
			mkdir -p "$(dirname "$stage$lib")"
			cp -L "$lib" "$stage$lib"
		done
	fi
}

for b in cyclictest hackbench chrt pi_stress ${EXTRA_BINS:-}; do
	p=$(command -v "$b" || true)
	if [ -z "$p" ]; then
		warn "$b not found on the host: not in the initramfs"
		continue
	fi
	add_bin "$p" "/usr/bin/$(basename "$p")"
done
[ -e "$stage/usr/bin/chrt" ] || warn "no chrt in the guest"
# the syscall fuzzer of peer-tests/trinity.sh (optional: about 11 MB)
if p=$(command -v trinity); then
	add_bin "$p" /usr/bin/trinity
else
	note "trinity not installed on the host: the guest has no syscall fuzzer"
fi

# the agent and whatever its build put beside it (e2e script, helper, config)
if [ -x "$top/build/userspace/offlinectl" ]; then
	for f in "$top"/build/userspace/*; do
		[ -f "$f" ] || continue
		if file -L "$f" | grep -q ELF; then
			add_bin "$f" "/opt/offlinectl/$(basename "$f")"
		else
			install -D -m "$(stat -c %a "$f")" "$f" "$stage/opt/offlinectl/$(basename "$f")"
		fi
	done
	ln -s /opt/offlinectl/offlinectl "$stage/usr/bin/offlinectl"
else
	note "build/userspace/offlinectl not built: guest has no agent"
fi

# the libbpf tool (userspace/bpf, static) and its in-guest test
if make -s -C "$top/userspace/bpf" >&2; then
	add_bin "$top/build/bpf/schedlat" /usr/bin/schedlat
	install -D -m 755 "$top/userspace/bpf/schedlat_test.sh" "$stage/opt/schedlat/schedlat_test.sh"
else
	warn "userspace/bpf did not build: the guest has no schedlat"
fi

"$top/scripts/mkcpio.sh" "$stage" "$out" \
	"nod /dev/console 600 0 0 c 5 1" "nod /dev/null 666 0 0 c 1 3"
note "${out#$top/}: $(du -h "$out" | cut -f1), selftests: $(tr '\n' ' ' <"$stage/selftests/tests.list")"
