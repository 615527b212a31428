#!/usr/bin/env bash
# Developer helper: write the commits base..HEAD of a kernel work tree
# (default build/linux-dev, a git worktree of build/linux on a branch) to
# kernel-patches/ as a git format-patch series, and rewrite the series file.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
dev=${1:-$top/build/linux-dev}
out=$top/kernel-patches

git -C "$dev" diff --quiet HEAD || { echo "export-patches: $dev has uncommitted changes" >&2; exit 1; }
rm -f "$out"/*.patch
git -C "$dev" format-patch -q --no-signature --zero-commit -o "$out" base..HEAD
( cd "$out" && ls -1 -- *.patch > series )
echo "export-patches: $(wc -l < "$out/series") patches"
remarks=$("$dev/scripts/checkpatch.pl" --strict --terse $(sed "s|^|$out/|" "$out/series") \
	2>/dev/null | grep -E 'ERROR|WARNING|CHECK' || true)
if [ -n "$remarks" ]; then
	echo "$remarks"
	echo "export-patches: checkpatch --strict has remarks (above)"
else
	echo "export-patches: checkpatch --strict clean"
fi
