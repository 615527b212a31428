// SPDX-License-Identifier: GPL-2.0
// vCPU placement: a pure function (topology + VMs + policy + the previous
// plan -> bindings).  No system access; the PlacementStage (pinning.hpp)
// turns a plan into affinities and memory moves.
//
//   allocatable = online CPUs - reserved host CPUs
//   ratio r <= 1: one-to-one.  Each vCPU gets one PCPU of its own, never
//       shared with another vCPU; a node takes at most floor(alloc x r)
//       vCPUs (r < 1 keeps head room).
//   ratio r > 1: range binding.  A VM's vCPUs share a set of
//       ceil(n / r) PCPUs (more when those are loaded), sets of different
//       VMs may overlap, and no PCPU carries more than r vCPUs' worth of
//       load (a vCPU on a set of k PCPUs counts 1/k on each); a node takes
//       at most alloc x r vCPUs.
//   NUMA: a VM goes to the node with the most free capacity among those
//       that hold all its vCPUs (lowest id on a tie); a VM no node can hold
//       spans nodes (most free first); what does not fit anywhere is
//       reported as unplaced, never overlapped.
//   Stability: a vCPU keeps its previous binding while it is still valid
//       (CPUs allocatable, no overlap, load within r), unless rebalance is
//       set; new vCPUs of a placed VM (hot-plug) prefer its node and set.
//   Order: oldest VM first (start time, then pid), so a plan is
//       deterministic and planning from scratch (rebalance) twice gives the
//       same answer.
#pragma once

#include "topology.hpp"

#include <cstdint>
#include <string>
#include <sys/types.h>
#include <vector>

namespace offl {

struct PlacementPolicy {
	double ratio = 1.0;        // overcommit ratio r (> 0)
	std::vector<int> reserved; // host CPUs, never given to vCPUs
	bool rebalance = false;    // re-plan from scratch every time
};

struct VmRequest {
	pid_t tgid = 0;
	uint64_t start_time = 0;
	std::string name;
	std::vector<int> vcpus; // vCPU indices
};

struct VcpuPlacement {
	int vcpu = -1;
	std::vector<int> cpus; // sorted
	bool operator==(const VcpuPlacement &) const = default;
};

struct VmPlacement {
	pid_t tgid = 0;
	uint64_t start_time = 0;
	std::string name;
	int node = -1;                     // -1: spans nodes, or nothing placed
	std::vector<VcpuPlacement> vcpus;  // placed vCPUs, by index
	std::vector<int> unplaced;         // vCPU indices that did not fit
	std::vector<int> emulator_cpus;    // for QEMU's other threads

	const VcpuPlacement *find(int vcpu) const;
	std::vector<int> nodes(const Topology &topo) const; // nodes its vCPUs use
};

struct PlacementPlan {
	std::vector<VmPlacement> vms; // oldest first
	size_t kept = 0;              // vCPUs that kept their previous binding
	size_t moved = 0;             // vCPUs whose previous binding changed
	size_t placed_new = 0;        // vCPUs placed for the first time
	std::vector<std::string> notes; // why bindings moved, what did not fit

	size_t unplaced() const;
	const VmPlacement *find(pid_t tgid) const;
};

PlacementPlan plan_placement(const Topology &topo, const PlacementPolicy &pol, const std::vector<VmRequest> &vms,
			     const std::vector<VmPlacement> &previous);

// Capacity of the host under a policy, in vCPUs (the planner's budget).
double placement_capacity(const Topology &topo, const PlacementPolicy &pol);

} // namespace offl
