// SPDX-License-Identifier: GPL-2.0
// The host's CPU and NUMA topology: online CPUs grouped by node, read from
// sysfs (or a fake tree rooted anywhere, for tests).  A plain value: the
// placement planner takes it as input and never reads the system itself.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace offl {

struct NumaNode {
	int id = 0;
	std::vector<int> cpus; // online CPUs, sorted
};

struct Topology {
	std::vector<NumaNode> nodes; // sorted by id; nodes without CPUs left out

	std::vector<int> all_cpus() const;
	// Node of a CPU, -1 when the CPU is not online.
	int node_of(int cpu) const;
	const NumaNode *node(int id) const;
	size_t cpu_count() const;
	// -1 when cpus is empty or spans several nodes.
	int node_of_set(const std::vector<int> &cpus) const;
	// "0-3" etc. for every node: "node0 0-3, node1 4-7".
	std::string describe() const;
};

// n nodes of per_node consecutive CPUs each (tests, benchmarks).
Topology uniform_topology(int nodes, int per_node);

// /sys/devices/system/node/node*/cpulist intersected with
// /sys/devices/system/cpu/online.  Without NUMA support (no node
// directory) every online CPU is on node 0.  nullopt when not even the
// online CPU list can be read.
std::optional<Topology> read_topology(const std::string &sys_root = "/sys");

// Pick `count` reserved host CPUs, spread over the nodes round-robin, the
// lowest-numbered CPUs of each node first (so every node keeps a host CPU
// for its VMs' emulator threads).
std::vector<int> spread_reserved(const Topology &topo, size_t count);

} // namespace offl
