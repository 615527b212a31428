#!/usr/bin/env bash
# Unpack a 6.12 kernel tree into build/linux (a git repository whose first
# commit, tagged "base", is the pristine tree) and make its checkout equal
# to base + kernel-patches/series.
#
# The series is applied into a temporary index and committed there; the
# work tree is then moved to that commit with "git checkout", which only
# rewrites files whose content differs.  Object files in the out-of-tree
# build directories therefore stay valid for every file the series change
# did not touch.
#
#   KSRC=/path/to/linux-6.12.y   use that tree instead of Debian's tarball
#   SERIES=none                  leave the tree pristine (unpatched build)
#
# Tag "baseline" marks base + the patches kernel-patches/baseline names
# (upstream fixes at the head of the series): the tree that
# build-kernel.sh's unpatched variant builds for comparisons.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
tree=$top/build/linux
tarball=/usr/src/linux-source-6.12.tar.xz
series_dir=$top/kernel-patches
want=${SERIES:-$series_dir/series}

die() { echo "prepare-kernel: $*" >&2; exit 1; }

G() { git -C "$tree" -c user.name=sched-offline -c user.email=build@localhost "$@"; }

if ! G rev-parse -q --verify refs/tags/base >/dev/null 2>&1; then
	rm -rf "$tree" "$tree.tmp"
	mkdir -p "$tree.tmp"
	if [ -n "${KSRC:-}" ]; then
		[ -f "$KSRC/Makefile" ] || die "KSRC=$KSRC is not a kernel tree"
		echo "prepare-kernel: copying $KSRC"
		rsync -a --exclude=.git "$KSRC"/ "$tree.tmp"/
	else
		[ -f "$tarball" ] || die "$tarball missing: run scripts/install-deps.sh"
		echo "prepare-kernel: unpacking $tarball"
		tar -xf "$tarball" -C "$tree.tmp" --strip-components=1
	fi
	grep -q '^PATCHLEVEL = 12$' "$tree.tmp/Makefile" ||
		die "not a 6.12 kernel tree"
	mv "$tree.tmp" "$tree"
	G init -q
	G add -A -f . >/dev/null
	G commit -q -m "base: $(make -s -C "$tree" kernelversion)"
	G tag base
fi

# Content hash of what we want applied: the series file and its patches.
if [ "$want" = none ]; then
	patches=()
else
	[ -f "$want" ] || die "no series file $want"
	mapfile -t patches < <(sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$want")
fi
stamp=$( { echo "${patches[*]:-}"; for p in "${patches[@]}"; do
	cat "$series_dir/$p"; done; } | sha1sum | cut -d' ' -f1)

# The patches that make up the comparison baseline (see kernel-patches/baseline)
baseline=()
[ "$want" = none ] || [ ! -f "$series_dir/baseline" ] ||
	mapfile -t baseline < <(sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$series_dir/baseline")

cur=$(G config --get offline.stamp || true)
if [ "$cur" = "$stamp" ] && G diff --quiet HEAD &&
   G rev-parse -q --verify refs/tags/baseline >/dev/null; then
	echo "prepare-kernel: tree up to date (${#patches[@]} patches)"
	exit 0
fi

idx=$(mktemp)
trap 'rm -f "$idx"' EXIT
export GIT_INDEX_FILE=$idx
G read-tree base
commit=$(G rev-parse base)
G tag -f baseline "$commit" >/dev/null
nb=0
for p in "${patches[@]}"; do
	[ -f "$series_dir/$p" ] || die "series names $p, which does not exist"
	G apply --cached --whitespace=nowarn "$series_dir/$p" 2>/tmp/apply.err ||
		die "patch $p does not apply: $(head -3 /tmp/apply.err)"
	subj=$(sed -n 's/^Subject: \(\[PATCH[^]]*\] \)\?//p' "$series_dir/$p" | head -1)
	commit=$(G commit-tree "$(G write-tree)" -p "$commit" -m "${subj:-$p}")
	# the baseline patches come first, in the series' order
	if [ "$nb" -lt "${#baseline[@]}" ] && [ "$p" = "${baseline[$nb]}" ]; then
		nb=$((nb + 1))
		G tag -f baseline "$commit" >/dev/null
	fi
done
[ "$nb" -eq "${#baseline[@]}" ] ||
	die "kernel-patches/baseline must name the first patches of the series, in order"
unset GIT_INDEX_FILE

G checkout -q -f "$commit"
G clean -q -fdx -e '/.offline-*'
G config offline.stamp "$stamp"
echo "prepare-kernel: applied ${#patches[@]} patches -> $(G rev-parse --short HEAD)"
