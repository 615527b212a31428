// SPDX-License-Identifier: GPL-2.0
#include "vm.hpp"

#include "util.hpp"

#include <algorithm>
#include <map>

namespace offl {

std::string qemu_vm_name(std::string_view cmdline)
{
	auto args = split_ws(cmdline);
	for (size_t i = 0; i + 1 < args.size(); i++) {
		if (args[i] != "-name" && args[i] != "--name")
			continue;
		std::string_view v = args[i + 1];
		// Comma-separated options; the name is "guest=NAME" or the
		// first bare element.
		std::string_view bare;
		while (!v.empty()) {
			size_t comma = v.find(',');
			std::string_view opt = v.substr(0, comma);
			v = comma == std::string_view::npos ? std::string_view{} : v.substr(comma + 1);
			if (opt.substr(0, 6) == "guest=")
				return std::string(opt.substr(6));
			if (bare.empty() && opt.find('=') == std::string_view::npos)
				bare = opt;
		}
		return std::string(bare);
	}
	return {};
}

namespace {

// "a=1,b=2,bare" -> value of key ("" if absent); bare elements as key "".
std::string opt_value(std::string_view opts, std::string_view key)
{
	while (!opts.empty()) {
		size_t comma = opts.find(',');
		std::string_view o = opts.substr(0, comma);
		opts = comma == std::string_view::npos ? std::string_view{} : opts.substr(comma + 1);
		size_t eq = o.find('=');
		if (eq != std::string_view::npos && o.substr(0, eq) == key)
			return std::string(o.substr(eq + 1));
	}
	return {};
}

} // namespace

std::string qemu_qmp_socket(std::string_view cmdline)
{
	auto args = split_ws(cmdline);
	std::map<std::string, std::string> chardev_path; // id -> path
	std::vector<std::string> control_chardevs;
	for (size_t i = 0; i + 1 < args.size(); i++) {
		std::string_view a = args[i], v = args[i + 1];
		if (a == "-qmp" || a == "--qmp") {
			if (v.substr(0, 5) == "unix:") {
				std::string_view rest = v.substr(5);
				std::string p = opt_value(rest, "path");
				return p.empty() ? std::string(rest.substr(0, rest.find(','))) : p;
			}
		} else if (a == "-chardev" || a == "--chardev") {
			if (v.substr(0, 7) == "socket,") {
				std::string id = opt_value(v, "id"), path = opt_value(v, "path");
				if (!id.empty() && !path.empty())
					chardev_path[id] = path;
			}
		} else if (a == "-mon" || a == "--mon") {
			if (opt_value(v, "mode") == "control")
				control_chardevs.push_back(opt_value(v, "chardev"));
		}
	}
	for (const std::string &id : control_chardevs)
		if (auto it = chardev_path.find(id); it != chardev_path.end())
			return it->second;
	return {};
}

std::vector<VmInfo> discover_vms(const Snapshot &snap, const std::vector<Verdict> &verdicts)
{
	std::map<pid_t, VmInfo> vms;
	for (size_t i = 0; i < snap.tasks.size() && i < verdicts.size(); i++) {
		const Verdict &v = verdicts[i];
		if (v.reason != Reason::VmVcpu && v.reason != Reason::VmService)
			continue;
		const TaskInfo &t = snap.tasks[i];
		auto [it, fresh] = vms.try_emplace(t.tgid);
		VmInfo &vm = it->second;
		if (fresh) {
			const ProcessInfo &p = snap.process_of(t);
			vm.tgid = t.tgid;
			vm.name = qemu_vm_name(p.cmdline);
			vm.exe = p.exe;
			vm.cgroup = p.cgroup;
		}
		if (v.reason == Reason::VmVcpu)
			vm.vcpus.push_back(VcpuThread{v.vcpu, t.tid, i});
		else
			vm.service_threads.push_back(t.tid);
	}
	std::vector<VmInfo> out;
	for (auto &[tgid, vm] : vms) {
		std::sort(vm.vcpus.begin(), vm.vcpus.end(),
			  [](const VcpuThread &a, const VcpuThread &b) { return a.index < b.index; });
		out.push_back(std::move(vm));
	}
	return out;
}

} // namespace offl
