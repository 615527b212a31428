// SPDX-License-Identifier: GPL-2.0
/*
 * Every /proc/sys/kernel/sched_offline_* file is range-checked: values out
 * of range and garbage are refused with EINVAL and the old value is kept;
 * the bounds themselves are accepted. The files are the ones the kernel
 * exposes (a sysctl added by a later patch is checked once it exists); the
 * ranges of the known ones come from the design contract, an unknown one
 * gets the garbage checks only.
 */
#include <dirent.h>
#include "offline_util.h"
#include "kselftest_harness.h"

#define SYSCTL_DIR "/proc/sys/kernel"

static const struct range {
	const char *name;
	unsigned long min, max;
	/* Besides min - 1 and max + 1, refused; besides min and max, valid */
	const char *bad[4], *good[4];
} ranges[] = {
	{ "sched_offline_slice_us",	100,	1000000 },
	{ "sched_offline_period_us",	1000,	1000000 },
	{ "sched_offline_wait_step_us",	1000,	1000000 },
	{ "sched_offline_loadavg",	0,	1 },
	{ "sched_offline_psi",		0,	1 },
	/* 0 turns the starvation guard off; 1..9 are refused */
	{ "sched_offline_starve_ms",	10,	10000, { "1" }, { "0", "100" } },
};

static const char * const garbage[] = {
	"abc", "-1", "12abc", "1.5", "1e3", "4294967296",
	"99999999999999999999", "--5", "+",
};

/* write(2) of @val to @path: 0 or the errno */
static int write_err(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY), err = 0;
	ssize_t n;

	if (fd < 0)
		return errno;
	n = write(fd, val, strlen(val));
	if (n < 0)
		err = errno;
	else if (n != (ssize_t)strlen(val))
		err = EIO;
	close(fd);
	return err;
}

static const struct range *range_of(const char *name)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(ranges); i++)
		if (!strcmp(ranges[i].name, name))
			return &ranges[i];
	return NULL;
}

/* Check one file; returns the number of failed checks */
static int check_one(struct __test_metadata *_metadata, const char *name)
{
	const struct range *r = range_of(name);
	char path[300], before[64], now[64], val[32], lo[32], hi[32];
	const char *bad_vals[ARRAY_SIZE(garbage) + 2 + ARRAY_SIZE(r->bad)];
	size_t i, nbad = 0;
	int bad = 0, err;

	snprintf(path, sizeof(path), "%s/%s", SYSCTL_DIR, name);
	if (read_file(path, before, sizeof(before))) {
		TH_LOG("%s: cannot read: %s", name, strerror(errno));
		return 1;
	}

	/* Out of range, and garbage: EINVAL, value unchanged */
	for (i = 0; i < ARRAY_SIZE(garbage); i++)
		bad_vals[nbad++] = garbage[i];
	if (r) {
		if (r->min) {	/* below 0 is garbage above */
			snprintf(lo, sizeof(lo), "%lu", r->min - 1);
			bad_vals[nbad++] = lo;
		}
		snprintf(hi, sizeof(hi), "%lu", r->max + 1);
		bad_vals[nbad++] = hi;
		for (i = 0; i < ARRAY_SIZE(r->bad) && r->bad[i]; i++)
			bad_vals[nbad++] = r->bad[i];
	}
	for (i = 0; i < nbad; i++) {
		const char *v = bad_vals[i];

		err = write_err(path, v);
		if (err != EINVAL) {
			TH_LOG("%s: writing \"%s\" gave %s, not EINVAL", name, v,
			       err ? strerror(err) : "success");
			bad++;
		}
		if (read_file(path, now, sizeof(now)) || strcmp(before, now)) {
			TH_LOG("%s: \"%s\" changed the value from %.*s to %.*s", name, v,
			       (int)strcspn(before, "\n"), before,
			       (int)strcspn(now, "\n"), now);
			bad++;
			write_err(path, before);
		}
	}
	if (!r) {
		TH_LOG("%s: range unknown to this test, garbage checked only", name);
		return bad;
	}

	/* The bounds, and the other valid values, are accepted and read back */
	for (i = 0; i < 2 + ARRAY_SIZE(r->good); i++) {
		const char *v = i < 2 ? val : r->good[i - 2];
		unsigned long want;

		if (!v)
			break;
		if (i < 2)
			snprintf(val, sizeof(val), "%lu", i ? r->max : r->min);
		want = strtoul(v, NULL, 10);
		err = write_err(path, v);
		if (err) {
			TH_LOG("%s: writing the valid %s gave %s", name, v, strerror(err));
			bad++;
			continue;
		}
		if (read_file(path, now, sizeof(now)) || strtoul(now, NULL, 10) != want) {
			TH_LOG("%s: wrote %s, reads back %s", name, v, now);
			bad++;
		}
	}
	err = write_err(path, before);
	if (err) {
		TH_LOG("%s: cannot restore %s: %s", name, before, strerror(err));
		bad++;
	}
	TH_LOG("%s: %lu..%lu checked, value %.*s kept", name, r->min, r->max,
	       (int)strcspn(before, "\n"), before);
	return bad;
}

TEST(every_sysctl_range_checked)
{
	const char *must[] = { "sched_offline_slice_us", "sched_offline_period_us" };
	struct dirent *de;
	int files = 0, bad = 0;
	size_t i;
	DIR *d;

	if (!sched_offline_expected()) {
		/* Nothing of the feature is there */
		d = opendir(SYSCTL_DIR);
		ASSERT_NE(NULL, d);
		while ((de = readdir(d)))
			EXPECT_NE(0, strncmp(de->d_name, "sched_offline_", 14))
				TH_LOG("%s on a kernel without SCHED_OFFLINE", de->d_name);
		closedir(d);
		SKIP(return, "kernel built without SCHED_OFFLINE");
	}

	/* The ones every kernel of the series has */
	for (i = 0; i < sizeof(must) / sizeof(must[0]); i++) {
		char path[128];

		snprintf(path, sizeof(path), "%s/%s", SYSCTL_DIR, must[i]);
		EXPECT_EQ(0, access(path, W_OK)) TH_LOG("%s missing", path);
	}

	d = opendir(SYSCTL_DIR);
	ASSERT_NE(NULL, d);
	while ((de = readdir(d))) {
		if (strncmp(de->d_name, "sched_offline_", 14))
			continue;
		files++;
		bad += check_one(_metadata, de->d_name);
	}
	closedir(d);
	TH_LOG("%d sched_offline_* sysctls checked", files);
	EXPECT_LE(2, files);
	EXPECT_EQ(0, bad);
}

/* A refused write in the middle of valid ones leaves the last valid value */
TEST(valid_write_after_refused_one)
{
	const char *path = SYSCTL_DIR "/sched_offline_period_us";
	char before[64], now[64];

	if (!sched_offline_expected())
		SKIP(return, "kernel built without SCHED_OFFLINE");
	ASSERT_EQ(0, read_file(path, before, sizeof(before)));
	ASSERT_EQ(0, write_err(path, "20000"));
	EXPECT_EQ(EINVAL, write_err(path, "999"));
	ASSERT_EQ(0, read_file(path, now, sizeof(now)));
	EXPECT_EQ(20000, atoi(now));
	EXPECT_EQ(EINVAL, write_err(path, "20000x"));
	ASSERT_EQ(0, read_file(path, now, sizeof(now)));
	EXPECT_EQ(20000, atoi(now));
	ASSERT_EQ(0, write_err(path, before));
}

TEST_HARNESS_MAIN
