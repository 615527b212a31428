// SPDX-License-Identifier: GPL-2.0
/*
 * Smoke test of the test pipeline: the guest booted, user space works, the
 * harness reports TAP.  Also the one check every kernel variant shares: the
 * SCHED_OFFLINE policy number is accepted exactly when /proc/sched_offline
 * says the class exists (CONFIG_SCHED_OFFLINE=n and unpatched kernels must
 * refuse it with EINVAL).
 */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/vfs.h>

#include "kselftest_harness.h"

#ifndef SCHED_OFFLINE
#define SCHED_OFFLINE 8
#endif
#ifndef PROC_SUPER_MAGIC
#define PROC_SUPER_MAGIC 0x9fa0
#endif

static int have_sched_offline(void)
{
	return access("/proc/sched_offline", F_OK) == 0;
}

TEST(proc_is_mounted)
{
	struct statfs sfs;

	ASSERT_EQ(0, statfs("/proc", &sfs));
	EXPECT_EQ(PROC_SUPER_MAGIC, sfs.f_type);
	EXPECT_EQ(0, access("/proc/self/stat", R_OK));
}

TEST(policy_is_sched_other)
{
	EXPECT_EQ(SCHED_OTHER, sched_getscheduler(0));
}

TEST(cpus_visible)
{
	long online = sysconf(_SC_NPROCESSORS_ONLN);
	cpu_set_t set;

	ASSERT_GE(online, 1);
	ASSERT_EQ(0, sched_getaffinity(0, sizeof(set), &set));
	EXPECT_EQ(online, CPU_COUNT(&set));
	TH_LOG("%ld CPUs online", online);
}

TEST(sched_offline_proc)
{
	char line[512];
	FILE *f;
	int rows = 0;

	if (!have_sched_offline())
		SKIP(return, "/proc/sched_offline missing: this kernel has no SCHED_OFFLINE class "
		     "(series not applied yet, or CONFIG_SCHED_OFFLINE=n)");
	f = fopen("/proc/sched_offline", "r");
	ASSERT_NE(NULL, f);
	ASSERT_NE(NULL, fgets(line, sizeof(line), f)) TH_LOG("no header line");
	while (fgets(line, sizeof(line), f))
		rows++;
	fclose(f);
	EXPECT_GE(rows, sysconf(_SC_NPROCESSORS_ONLN)) TH_LOG("expected one line per CPU");
}

TEST(policy_number_matches_feature)
{
	struct sched_param sp = { .sched_priority = 0 };
	int ret = sched_setscheduler(0, SCHED_OFFLINE, &sp);
	int err = errno;

	if (!have_sched_offline()) {
		EXPECT_EQ(-1, ret);
		EXPECT_EQ(EINVAL, err);
		return;
	}
	ASSERT_EQ(0, ret) TH_LOG("sched_setscheduler(SCHED_OFFLINE): %s", strerror(err));
	EXPECT_EQ(SCHED_OFFLINE, sched_getscheduler(0));
	ASSERT_EQ(0, sched_setscheduler(0, SCHED_OTHER, &sp));
	EXPECT_EQ(SCHED_OTHER, sched_getscheduler(0));
}

TEST_HARNESS_MAIN
