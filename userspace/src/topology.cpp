// SPDX-License-Identifier: GPL-2.0
#include "topology.hpp"

#include "util.hpp"

#include <algorithm>
#include <dirent.h>
#include <fstream>
#include <set>
#include <sstream>

namespace offl {

std::vector<int> Topology::all_cpus() const
{
	std::vector<int> out;
	for (const NumaNode &n : nodes)
		out.insert(out.end(), n.cpus.begin(), n.cpus.end());
	std::sort(out.begin(), out.end());
	return out;
}

int Topology::node_of(int cpu) const
{
	for (const NumaNode &n : nodes)
		if (std::binary_search(n.cpus.begin(), n.cpus.end(), cpu))
			return n.id;
	return -1;
}

const NumaNode *Topology::node(int id) const
{
	for (const NumaNode &n : nodes)
		if (n.id == id)
			return &n;
	return nullptr;
}

size_t Topology::cpu_count() const
{
	size_t c = 0;
	for (const NumaNode &n : nodes)
		c += n.cpus.size();
	return c;
}

int Topology::node_of_set(const std::vector<int> &cpus) const
{
	int node = -1;
	for (int c : cpus) {
		int n = node_of(c);
		if (n < 0 || (node >= 0 && n != node))
			return -1;
		node = n;
	}
	return node;
}

std::string Topology::describe() const
{
	std::string s;
	for (const NumaNode &n : nodes) {
		if (!s.empty())
			s += ", ";
		s += "node" + std::to_string(n.id) + " " + format_cpu_list(n.cpus);
	}
	return s;
}

Topology uniform_topology(int nodes, int per_node)
{
	Topology t;
	for (int n = 0; n < nodes; n++) {
		NumaNode node;
		node.id = n;
		for (int c = 0; c < per_node; c++)
			node.cpus.push_back(n * per_node + c);
		t.nodes.push_back(std::move(node));
	}
	return t;
}

namespace {

std::optional<std::vector<int>> read_list(const std::string &path)
{
	std::ifstream in(path);
	if (!in)
		return std::nullopt;
	std::string line;
	std::getline(in, line);
	return parse_cpu_list(trim(line));
}

} // namespace

std::optional<Topology> read_topology(const std::string &sys_root)
{
	auto online = read_list(sys_root + "/devices/system/cpu/online");
	if (!online)
		return std::nullopt;
	std::set<int> on(online->begin(), online->end());
	Topology t;
	std::string ndir = sys_root + "/devices/system/node";
	if (DIR *d = opendir(ndir.c_str())) {
		while (struct dirent *e = readdir(d)) {
			std::string_view name = e->d_name;
			if (name.substr(0, 4) != "node")
				continue;
			auto id = parse_num<int>(name.substr(4));
			if (!id)
				continue;
			auto cpus = read_list(ndir + "/" + std::string(name) + "/cpulist");
			if (!cpus)
				continue;
			NumaNode n;
			n.id = *id;
			for (int c : *cpus)
				if (on.count(c))
					n.cpus.push_back(c);
			std::sort(n.cpus.begin(), n.cpus.end());
			if (!n.cpus.empty())
				t.nodes.push_back(std::move(n));
		}
		closedir(d);
	}
	std::sort(t.nodes.begin(), t.nodes.end(), [](const NumaNode &a, const NumaNode &b) { return a.id < b.id; });
	// CPUs no node claims (or no NUMA at all) go to the first node.
	std::set<int> seen;
	for (const NumaNode &n : t.nodes)
		seen.insert(n.cpus.begin(), n.cpus.end());
	std::vector<int> orphans;
	for (int c : on)
		if (!seen.count(c))
			orphans.push_back(c);
	if (!orphans.empty()) {
		if (t.nodes.empty())
			t.nodes.push_back(NumaNode{0, {}});
		auto &cpus = t.nodes.front().cpus;
		cpus.insert(cpus.end(), orphans.begin(), orphans.end());
		std::sort(cpus.begin(), cpus.end());
	}
	return t;
}

std::vector<int> spread_reserved(const Topology &topo, size_t count)
{
	std::vector<int> out;
	count = std::min(count, topo.cpu_count());
	for (size_t round = 0; out.size() < count; round++)
		for (const NumaNode &n : topo.nodes)
			if (round < n.cpus.size() && out.size() < count)
				out.push_back(n.cpus[round]);
	std::sort(out.begin(), out.end());
	return out;
}

} // namespace offl
