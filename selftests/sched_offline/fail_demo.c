// SPDX-License-Identifier: GPL-2.0
/*
 * A test that always fails, to show that a failing selftest fails the run.
 * Built only with `make selftests INCLUDE_FAIL_DEMO=1` (or
 * `make test INCLUDE_FAIL_DEMO=1`).
 */
#include "kselftest_harness.h"

TEST(deliberate_failure)
{
	TH_LOG("this test fails on purpose (built with INCLUDE_FAIL_DEMO=1)");
	EXPECT_EQ(1, 2);
}

TEST_HARNESS_MAIN
