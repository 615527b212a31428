#!/usr/bin/env bash
# Install every build and test dependency of sched-offline from Debian 12
# packages. Idempotent and non-interactive; needs root (or sudo).
set -euo pipefail

pkgs=(
	# kernel build
	linux-source-6.12 build-essential bc bison flex libelf-dev libssl-dev
	cpio xz-utils ccache sparse kmod dwarves python3 python3-ply perl rsync
	# guest
	qemu-system-x86 busybox-static
	# agent and its tests/benchmarks
	cmake g++ pkg-config liburing-dev libbpf-dev libelf-dev zlib1g-dev
	clang llvm bpftool libtomlplusplus-dev libcli11-dev nlohmann-json3-dev
	libgtest-dev libgmock-dev googletest libbenchmark-dev
	libre2-dev
	# benchmarks and report; rt-tests' pi_stress is a peer suite too
	rt-tests gnuplot-nox
	# peer suites (peer-tests/): the syscall fuzzer; optional, the guest
	# gets it only when installed
	trinity
)

SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo

missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
		missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
	echo "install-deps: all ${#pkgs[@]} packages already installed"
	exit 0
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
