// SPDX-License-Identifier: GPL-2.0
// Runs a fuzz target's LLVMFuzzerTestOneInput over files or directories of
// inputs (the seed corpus), so every build checks the targets still work.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

namespace {
int run_file(const std::filesystem::path &p)
{
	std::ifstream in(p, std::ios::binary);
	std::vector<char> buf((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
	LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t *>(buf.data()), buf.size());
	return 1;
}
} // namespace

int main(int argc, char **argv)
{
	int n = 0;
	for (int i = 1; i < argc; i++) {
		std::filesystem::path p(argv[i]);
		if (std::filesystem::is_directory(p)) {
			for (const auto &e : std::filesystem::directory_iterator(p))
				if (e.is_regular_file())
					n += run_file(e.path());
		} else {
			n += run_file(p);
		}
	}
	std::printf("replayed %d input(s)\n", n);
	return n > 0 ? 0 : 1;
}
