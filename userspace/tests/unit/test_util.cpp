// SPDX-License-Identifier: GPL-2.0
#include "util.hpp"

#include <gtest/gtest.h>

using namespace offl;

TEST(Util, CpuListRoundTrip)
{
	auto v = parse_cpu_list("0-3,8,10-11");
	ASSERT_TRUE(v);
	EXPECT_EQ(*v, (std::vector<int>{0, 1, 2, 3, 8, 10, 11}));
	EXPECT_EQ(format_cpu_list(*v), "0-3,8,10-11");
	EXPECT_EQ(parse_cpu_list("")->size(), 0u);
	EXPECT_EQ(parse_cpu_list(" 5 \n")->at(0), 5);
	EXPECT_FALSE(parse_cpu_list("3-1"));
	EXPECT_FALSE(parse_cpu_list("a"));
	EXPECT_FALSE(parse_cpu_list("1,,2"));
	EXPECT_EQ(format_cpu_list({}), "");
}

TEST(Util, SplitWsAndTrim)
{
	auto f = split_ws("  a \tb  c ");
	ASSERT_EQ(f.size(), 3u);
	EXPECT_EQ(f[2], "c");
	EXPECT_EQ(trim(" \t x y \n"), "x y");
}

TEST(Util, QuotedEscapesControlAndQuotes)
{
	EXPECT_EQ(quoted("a b"), "\"a b\"");
	EXPECT_EQ(quoted("a\"b\n"), "\"a\\\"b\\x0a\"");
}

TEST(Util, ParseNumStrict)
{
	EXPECT_EQ(parse_num<int>("42"), 42);
	EXPECT_FALSE(parse_num<int>("42x"));
	EXPECT_FALSE(parse_num<int>(""));
	EXPECT_FALSE(parse_num<unsigned>("-1"));
}
