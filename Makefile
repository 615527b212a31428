# sched-offline: top-level entry points.  See README.md.
#
#   make demo        build what is needed, boot the patched kernel, show the
#                    online latency probe against offline CPU hogs
#   make test        what CI runs (scripts/test-all.sh): agent unit tests,
#                    default kernel + selftests with preempt=full and =none,
#                    CONFIG_SCHED_OFFLINE=n kernel + selftests, lockdep kernel
#                    + selftests; ends with "N passed, N failed"
#   make bench       bench/run.sh: every offline-load variant side by side in
#                    one guest boot, hot path against the unpatched kernel,
#                    agent micro-benchmarks -> build/bench/report.md (+ .json,
#                    PNG plots); BENCH_ROUNDS=N, BENCH_README=1 (see the script)
#   make schedlat    the libbpf latency/steal tool -> build/bpf/schedlat
#   make test-full   test + SMT/NUMA guest, KASAN, unpatched kernel,
#                    sched_ext kernel with scx_simple, nohz_full kernel,
#                    scripts/check-series.sh (per-patch builds, checkpatch,
#                    W=1/sparse, bloat-o-meter), benchmarks
#
# Kernel builds and guest boots take build/.cpu.lock, one at a time.

SHELL := /bin/bash
export INCLUDE_FAIL_DEMO ?= 0
# the machine-wide "one heavy job at a time" lock (scripts/lib.sh uses it too)
export CPU_LOCK ?= $(CURDIR)/build/.cpu.lock
VMTEST_ARGS ?=

.PHONY: all kernel kernel-debug kernel-off kernel-kasan kernel-unpatched \
	selftests initramfs agent agent-test vmtest test test-full demo bench schedlat \
	check-series clean help

all: kernel initramfs

help:
	@sed -n '2,/^$$/p' Makefile | sed 's/^# \{0,1\}//'

kernel:
	scripts/build-kernel.sh default
kernel-debug:
	scripts/build-kernel.sh debug
kernel-off:
	scripts/build-kernel.sh off
kernel-kasan:
	scripts/build-kernel.sh kasan
kernel-unpatched:
	scripts/build-kernel.sh unpatched

selftests:
	@test -f build/linux/tools/testing/selftests/kselftest_harness.h || \
		scripts/prepare-kernel.sh
	$(MAKE) -C selftests/sched_offline install

initramfs:
	scripts/build-initramfs.sh

# The agent belongs to userspace/ (another work stream); this target only
# drives its CMake build (ccache'd; the project may place the binary itself),
# makes sure the binary is at build/userspace/offlinectl and, for agent-test,
# runs ctest.  agent-test exits 77 (skipped) while there is no
# userspace/CMakeLists.txt yet.
AGENT_BUILD := build/userspace-cmake
agent:
	@if [ ! -f userspace/CMakeLists.txt ]; then \
		echo "agent: userspace/CMakeLists.txt does not exist yet: nothing to build"; \
		exit 0; fi; \
	set -e; \
	mkdir -p build; \
	cmake -S userspace -B $(AGENT_BUILD) -DCMAKE_BUILD_TYPE=Release \
		-DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache; \
	scripts/with-cpu-lock cmake --build $(AGENT_BUILD) -j3; \
	bin=$$(find $(AGENT_BUILD) -name offlinectl -type f -perm -u+x | head -1); \
	if [ -n "$$bin" ]; then mkdir -p build/userspace; cp "$$bin" build/userspace/offlinectl; fi; \
	if [ ! -x build/userspace/offlinectl ]; then \
		echo "agent: the build made no offlinectl binary"; exit 1; fi; \
	echo "agent: build/userspace/offlinectl"

agent-test:
	@if [ ! -f userspace/CMakeLists.txt ]; then \
		echo "agent: userspace/CMakeLists.txt does not exist yet: skipped"; exit 77; fi
	@$(MAKE) --no-print-directory agent
	scripts/with-cpu-lock ctest --test-dir $(AGENT_BUILD) --output-on-failure

vmtest:
	scripts/vmtest $(VMTEST_ARGS)

test:
	scripts/test-all.sh test

test-full:
	scripts/test-all.sh full

check-series:
	scripts/check-series.sh

demo:
	scripts/demo.sh

bench:
	bench/run.sh

schedlat:
	$(MAKE) -C userspace/bpf

# Objects, images, logs and the agent build.  Keeps the kernel trees
# (build/linux and its worktrees, which other work may live in) and ccache.
clean:
	rm -rf build/obj build/kernel build/kernel-* build/initramfs* \
		build/selftests build/logs build/userspace build/userspace-cmake \
		build/tools build/bpf build/bench
