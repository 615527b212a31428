#!/usr/bin/env bash
# Pack a staging directory into a gzip'd newc cpio for -initrd, owned by
# root, with device nodes, without needing root: the list goes through the
# kernel's usr/gen_init_cpio (built from build/linux on first use).
#
#   scripts/mkcpio.sh STAGING_DIR OUT.cpio.gz [extra gen_init_cpio lines...]
#
# Timestamps are fixed (SOURCE_DATE_EPOCH or 0) so equal input gives an
# equal archive.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

stage=${1:?usage: mkcpio.sh STAGING_DIR OUT.cpio.gz [lines...]}
out=${2:?usage: mkcpio.sh STAGING_DIR OUT.cpio.gz [lines...]}
shift 2
stage=$(cd "$stage" && pwd)

gen=$top/build/tools/gen_init_cpio
gsrc=$top/build/linux/usr/gen_init_cpio.c
if [ ! -x "$gen" ] || [ "$gsrc" -nt "$gen" ]; then
	[ -f "$gsrc" ] || "$top/scripts/prepare-kernel.sh" >&2
	mkdir -p "$(dirname "$gen")"
	gcc -O2 -o "$gen" "$gsrc"
fi

list=$(mktemp)
trap 'rm -f "$list"' EXIT
(
	cd "$stage"
	find . -mindepth 1 | LC_ALL=C sort | while IFS= read -r p; do
		name=${p#.}
		mode=$(stat -c %a "$p")
		if [ -L "$p" ]; then
			echo "slink $name $(readlink "$p") 777 0 0"
		elif [ -d "$p" ]; then
			echo "dir $name $mode 0 0"
		elif [ -f "$p" ]; then
			echo "file $name $stage/${p#./} $mode 0 0"
		fi
	done
	for l in "$@"; do echo "$l"; done
) >"$list"
"$gen" -t "${SOURCE_DATE_EPOCH:-0}" "$list" | gzip -n -6 >"$out.tmp"
mv "$out.tmp" "$out"
