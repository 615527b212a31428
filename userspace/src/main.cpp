// SPDX-License-Identifier: GPL-2.0
#include "cli.hpp"

#include <exception>
#include <iostream>

int main(int argc, char **argv)
{
	try {
		return offl::run_cli(argc, argv);
	} catch (const std::exception &e) {
		std::cerr << "offlinectl: error: " << e.what() << "\n";
		return offl::kExitFailure;
	}
}
