// SPDX-License-Identifier: GPL-2.0
#include "procfs.hpp"

#include "util.hpp"

#include <cerrno>
#include <chrono>
#include <cstring>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <fcntl.h>
#include <unistd.h>

namespace offl {

const char *policy_name(int policy)
{
	switch (policy) {
	case kSchedOther: return "SCHED_OTHER";
	case kSchedFifo: return "SCHED_FIFO";
	case kSchedRr: return "SCHED_RR";
	case kSchedBatch: return "SCHED_BATCH";
	case kSchedIdle: return "SCHED_IDLE";
	case kSchedDeadline: return "SCHED_DEADLINE";
	case kSchedExt: return "SCHED_EXT";
	case kSchedOffline: return "SCHED_OFFLINE";
	default: return "unknown";
	}
}

namespace {

// Parse one unsigned/signed decimal field; advances p past it and one
// separating space.  Returns false on anything but digits.
template <typename T> bool next_field(const char *&p, const char *end, T &out)
{
	while (p < end && *p == ' ')
		p++;
	const char *q = p;
	while (q < end && *q != ' ' && *q != '\n')
		q++;
	auto [r, ec] = std::from_chars(p, q, out);
	if (ec != std::errc() || r != q)
		return false;
	p = q;
	return true;
}

bool skip_field(const char *&p, const char *end)
{
	while (p < end && *p == ' ')
		p++;
	if (p >= end || *p == '\n')
		return false;
	while (p < end && *p != ' ' && *p != '\n')
		p++;
	return true;
}

} // namespace

std::optional<StatInfo> parse_stat(std::string_view text)
{
	// "pid (comm) S ppid ..."; comm may contain spaces and ')' so it ends
	// at the last ')' of the line.
	StatInfo s;
	size_t open = text.find(" (");
	size_t close = text.rfind(')');
	if (open == std::string_view::npos || close == std::string_view::npos || close < open + 1)
		return std::nullopt;
	auto pid = parse_num<pid_t>(text.substr(0, open));
	if (!pid || *pid < 0)
		return std::nullopt;
	s.pid = *pid;
	s.comm.assign(text.substr(open + 2, close - open - 2));

	const char *p = text.data() + close + 1;
	const char *end = text.data() + text.size();
	// field 3: state
	while (p < end && *p == ' ')
		p++;
	if (p >= end || *p == '\n')
		return std::nullopt;
	s.state = *p++;
	if (p < end && *p != ' ')
		return std::nullopt;

	long long v = 0;
	unsigned long long u = 0;
	// Fields 4..22 are required, the rest optional (old kernels).
	for (int field = 4; field <= 41; field++) {
		bool ok;
		switch (field) {
		case 4: ok = next_field(p, end, v); s.ppid = static_cast<pid_t>(v); break;
		case 9: ok = next_field(p, end, u); s.flags = static_cast<unsigned>(u); break;
		case 14: ok = next_field(p, end, u); s.utime = u; break;
		case 15: ok = next_field(p, end, u); s.stime = u; break;
		case 18: ok = next_field(p, end, v); s.priority = static_cast<int>(v); break;
		case 19: ok = next_field(p, end, v); s.nice = static_cast<int>(v); break;
		case 20: ok = next_field(p, end, v); s.num_threads = static_cast<int>(v); break;
		case 22: ok = next_field(p, end, u); s.start_time = u; break;
		case 39: ok = next_field(p, end, v); s.processor = static_cast<int>(v); break;
		case 40: ok = next_field(p, end, u); s.rt_priority = static_cast<unsigned>(u); break;
		case 41: ok = next_field(p, end, v); s.policy = static_cast<int>(v); break;
		default: ok = skip_field(p, end); break;
		}
		if (!ok) {
			if (field <= 22)
				return std::nullopt;
			// A short line is fine, a garbled field is not.
			while (p < end && *p == ' ')
				p++;
			if (p < end && *p != '\n')
				return std::nullopt;
			if (field <= 39)
				s.processor = -1;
			if (field <= 40)
				s.rt_priority = 0;
			s.policy = -1;
			break;
		}
	}
	if (s.nice < -20 || s.nice > 19)
		return std::nullopt;
	return s;
}

std::optional<StatusInfo> parse_status(std::string_view text)
{
	StatusInfo st;
	bool have_uid = false;
	while (!text.empty()) {
		size_t nl = text.find('\n');
		std::string_view line = text.substr(0, nl);
		text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
		size_t colon = line.find(':');
		if (colon == std::string_view::npos)
			continue;
		std::string_view key = line.substr(0, colon);
		std::string_view val = trim(line.substr(colon + 1));
		switch (key.empty() ? 0 : key[0]) {
		case 'T':
			if (key == "Tgid") {
				auto v = parse_num<pid_t>(val);
				if (!v)
					return std::nullopt;
				st.tgid = *v;
			}
			break;
		case 'P':
			if (key == "PPid") {
				auto v = parse_num<pid_t>(val);
				if (!v)
					return std::nullopt;
				st.ppid = *v;
			}
			break;
		case 'U':
			if (key == "Uid") {
				auto f = split_ws(val);
				if (f.size() < 2)
					return std::nullopt;
				auto r = parse_num<uid_t>(f[0]);
				auto e = parse_num<uid_t>(f[1]);
				if (!r || !e)
					return std::nullopt;
				st.ruid = *r;
				st.euid = *e;
				have_uid = true;
			}
			break;
		case 'C':
			if (key == "Cpus_allowed_list")
				st.cpus_allowed_list.assign(val);
			break;
		case 'K':
			if (key == "Kthread") {
				auto v = parse_num<int>(val);
				if (v)
					st.kthread = *v;
			}
			break;
		default:
			break;
		}
	}
	if (!have_uid || st.tgid < 0)
		return std::nullopt;
	return st;
}

std::optional<std::string> parse_cgroup(std::string_view text)
{
	std::optional<std::string> v2, systemd, first;
	while (!text.empty()) {
		size_t nl = text.find('\n');
		std::string_view line = text.substr(0, nl);
		text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
		if (line.empty())
			continue;
		// hierarchy-ID:controller-list:path (path may contain ':')
		size_t c1 = line.find(':');
		if (c1 == std::string_view::npos)
			return std::nullopt;
		size_t c2 = line.find(':', c1 + 1);
		if (c2 == std::string_view::npos)
			return std::nullopt;
		std::string_view id = line.substr(0, c1);
		std::string_view ctl = line.substr(c1 + 1, c2 - c1 - 1);
		std::string_view path = line.substr(c2 + 1);
		if (!parse_num<unsigned>(id))
			return std::nullopt;
		if (id == "0" && ctl.empty() && !v2)
			v2 = std::string(path);
		else if (ctl == "name=systemd" && !systemd)
			systemd = std::string(path);
		if (!first)
			first = std::string(path);
	}
	if (v2)
		return v2;
	if (systemd)
		return systemd;
	if (first)
		return first;
	return std::string();
}

Cmdline parse_cmdline(std::string_view raw)
{
	Cmdline c;
	while (!raw.empty() && raw.back() == '\0')
		raw.remove_suffix(1);
	size_t nul = raw.find('\0');
	c.argv0.assign(raw.substr(0, nul));
	c.joined.assign(raw);
	for (char &ch : c.joined)
		if (ch == '\0')
			ch = ' ';
	return c;
}

std::optional<int> parse_vcpu_thread_name(std::string_view comm)
{
	// QEMU: "CPU %d/%s" with the accelerator name (KVM, TCG, HVF, ...).
	if (comm.size() < 7 || comm.substr(0, 4) != "CPU ")
		return std::nullopt;
	std::string_view rest = comm.substr(4);
	size_t slash = rest.find('/');
	if (slash == std::string_view::npos || slash == 0)
		return std::nullopt;
	auto idx = parse_num<int>(rest.substr(0, slash));
	if (!idx || *idx < 0)
		return std::nullopt;
	std::string_view accel = rest.substr(slash + 1);
	if (accel.empty())
		return std::nullopt;
	for (char ch : accel)
		if (!(ch >= 'A' && ch <= 'Z'))
			return std::nullopt;
	return idx;
}

std::optional<SchedOfflineTable> parse_sched_offline(std::string_view text)
{
	SchedOfflineTable t;
	bool header = true;
	int col_cpu = -1;
	while (!text.empty()) {
		size_t nl = text.find('\n');
		std::string_view line = text.substr(0, nl);
		text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
		auto f = split_ws(line);
		if (f.empty())
			continue;
		if (header) {
			for (size_t i = 0; i < f.size(); i++) {
				t.columns.emplace_back(f[i]);
				if (f[i] == "cpu")
					col_cpu = static_cast<int>(i);
			}
			if (col_cpu < 0)
				return std::nullopt;
			header = false;
			continue;
		}
		if (f.size() != t.columns.size())
			return std::nullopt;
		SchedOfflineRow r;
		for (size_t i = 0; i < f.size(); i++) {
			const std::string &name = t.columns[i];
			std::string_view v = f[i];
			bool ok = true;
			auto u64 = [&](uint64_t &dst) {
				auto x = parse_num<uint64_t>(v);
				ok = x.has_value();
				if (ok)
					dst = *x;
			};
			if (name == "cpu") {
				// accept "3" and "cpu3"
				std::string_view n = v.substr(0, 3) == "cpu" ? v.substr(3) : v;
				auto x = parse_num<int>(n);
				ok = x && *x >= 0;
				if (ok)
					r.cpu = *x;
			} else if (name == "online_avg_pct") {
				auto x = parse_num<double>(v);
				ok = x.has_value();
				if (ok)
					r.online_avg_pct = *x;
			} else if (name == "capacity") {
				auto x = parse_num<int>(v);
				ok = x.has_value();
				if (ok)
					r.capacity = *x;
			} else if (name == "nr_offline") {
				u64(r.nr_offline);
			} else if (name == "offline_runtime_ns") {
				u64(r.offline_runtime_ns);
			} else if (name == "preempts") {
				u64(r.preempts);
			} else if (name == "pulls") {
				u64(r.pulls);
			} else if (name == "pushes") {
				u64(r.pushes);
			} else if (name == "guard_bursts") {
				u64(r.guard_bursts);
			} else {
				r.extra.emplace_back(name, std::string(v));
			}
			if (!ok)
				return std::nullopt;
		}
		t.rows.push_back(std::move(r));
	}
	if (header)
		return std::nullopt;
	return t;
}

const TaskInfo *Snapshot::find_task(pid_t tid) const
{
	for (const auto &t : tasks)
		if (t.tid == tid)
			return &t;
	return nullptr;
}

// ---------------------------------------------------------------------------
// File access.  Everything is read with openat() relative to directory fds so
// the kernel resolves short paths; ENOENT/ESRCH mean the task went away.

namespace {

// Read a whole file into buf; returns 0 or an errno value.
int read_at(int dirfd, const char *path, std::string &buf, size_t limit = 1 << 20)
{
	int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return errno;
	// A short read is the end of the file: true for regular files and
	// for /proc's seq_file and single-buffer files, and it saves the extra
	// read() that would return 0 (a third of the syscalls of a scan).
	buf.resize(4096);
	size_t have = 0;
	int err = 0;
	for (;;) {
		ssize_t n = read(fd, buf.data() + have, buf.size() - have);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			err = errno;
			break;
		}
		have += static_cast<size_t>(n);
		if (have < buf.size() || have >= limit)
			break;
		buf.resize(buf.size() * 2);
	}
	buf.resize(have);
	close(fd);
	return err;
}

int open_dir_at(int dirfd, const char *path)
{
	return openat(dirfd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

// readdir() without DIR: fdopendir() costs an fcntl() and an fstat() per
// directory, and a scan opens one per process.
template <typename F> void for_each_numeric_entry(int dirfd_owned, F &&f)
{
	alignas(8) char buf[16384];
	for (;;) {
		long n = syscall(SYS_getdents64, dirfd_owned, buf, sizeof(buf));
		if (n <= 0)
			break;
		for (long off = 0; off < n;) {
			struct Dirent64 {
				uint64_t d_ino;
				int64_t d_off;
				unsigned short d_reclen;
				unsigned char d_type;
				char d_name[1];
			};
			const auto *e = reinterpret_cast<const Dirent64 *>(buf + off);
			off += e->d_reclen;
			const char *name = e->d_name;
			if (name[0] < '1' || name[0] > '9')
				continue;
			auto v = parse_num<pid_t>(name);
			if (v)
				f(*v);
		}
	}
	close(dirfd_owned);
}

} // namespace

ProcFs::ProcFs(std::string root) : root_(std::move(root))
{
	rootfd_ = open(root_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (root_ != "/proc") {
		std::string r = root_;
		while (r.size() > 1 && r.back() == '/')
			r.pop_back();
		fake_fs_prefix_ = r + "/.fs";
	}
}

ProcFs::~ProcFs()
{
	if (rootfd_ >= 0)
		close(rootfd_);
}

std::optional<std::string> ProcFs::read_file(const std::string &rel) const
{
	std::string buf;
	if (rootfd_ < 0 || read_at(rootfd_, rel.c_str(), buf) != 0)
		return std::nullopt;
	return buf;
}

std::optional<StatInfo> ProcFs::read_stat(pid_t tgid, pid_t tid) const
{
	char path[64];
	snprintf(path, sizeof(path), "%d/task/%d/stat", tgid, tid);
	std::string buf;
	if (rootfd_ < 0 || read_at(rootfd_, path, buf) != 0)
		return std::nullopt;
	auto st = parse_stat(buf);
	if (!st || st->pid != tid)
		return std::nullopt;
	return st;
}

std::optional<uint64_t> ProcFs::start_time(pid_t tgid, pid_t tid) const
{
	auto st = read_stat(tgid, tid);
	if (!st)
		return std::nullopt;
	return st->start_time;
}

std::optional<pid_t> ProcFs::tgid_of(pid_t tid) const
{
	char path[48];
	snprintf(path, sizeof(path), "%d/status", tid);
	std::string buf;
	if (rootfd_ < 0 || read_at(rootfd_, path, buf) != 0)
		return std::nullopt;
	auto st = parse_status(buf);
	if (!st)
		return std::nullopt;
	return st->tgid;
}

std::optional<uint64_t> ProcFs::task_cpu_ns(pid_t tgid, pid_t tid) const
{
	char path[64];
	snprintf(path, sizeof(path), "%d/task/%d/schedstat", tgid, tid);
	std::string buf;
	if (rootfd_ < 0 || read_at(rootfd_, path, buf) != 0)
		return std::nullopt;
	auto f = split_ws(trim(buf));
	if (f.empty())
		return std::nullopt;
	return parse_num<uint64_t>(f[0]);
}

bool ProcFs::read_process(int pdir, pid_t tgid, const ScanOptions &opt, Snapshot &snap) const
{
	std::string buf;
	char path[48];

	// The leader's stat first: it gives comm, start time and the kthread
	// flag for the process.
	snprintf(path, sizeof(path), "task/%d/stat", tgid);
	if (read_at(pdir, path, buf) != 0)
		return false;
	auto lst = parse_stat(buf);
	if (!lst || lst->pid != tgid)
		return false;

	ProcessInfo p;
	p.tgid = tgid;
	p.comm = lst->comm;
	p.start_time = lst->start_time;
	p.kthread = (lst->flags & kPfKthread) != 0;

	if (opt.process_details && !p.kthread) {
		if (read_at(pdir, "cmdline", buf, 64 * 1024) == 0) {
			Cmdline c = parse_cmdline(buf);
			p.argv0 = std::move(c.argv0);
			p.cmdline = std::move(c.joined);
		}
		char link[4096];
		ssize_t n = readlinkat(pdir, "exe", link, sizeof(link) - 1);
		if (n > 0) {
			std::string_view e(link, static_cast<size_t>(n));
			constexpr std::string_view del = " (deleted)";
			if (e.size() > del.size() && e.substr(e.size() - del.size()) == del) {
				e.remove_suffix(del.size());
				p.exe_deleted = true;
			}
			p.exe.assign(e);
			// A fake tree (tests) points exe at files of its own
			// under ROOT/.fs: show the path they stand for.
			if (fake_fs_prefix_.size() && p.exe.compare(0, fake_fs_prefix_.size(), fake_fs_prefix_) == 0)
				p.exe.erase(0, fake_fs_prefix_.size());
			struct stat st;
			if (fstatat(pdir, "exe", &st, 0) == 0) {
				p.exe_uid = st.st_uid;
				p.exe_gid = st.st_gid;
				p.exe_mode = st.st_mode & 07777;
			}
		}
	}
	// Kernel threads live in the root cgroup and are exempt whatever it
	// is: skip the read (hosts have hundreds of them).
	if (opt.process_details && !p.kthread && read_at(pdir, "cgroup", buf) == 0) {
		if (auto cg = parse_cgroup(buf))
			p.cgroup = std::move(*cg);
	}

	const uint32_t pidx = static_cast<uint32_t>(snap.processes.size());
	const size_t first_task = snap.tasks.size();

	auto add_task = [&](pid_t tid, StatInfo &&st) {
		TaskInfo t;
		t.tid = tid;
		t.tgid = tgid;
		t.ppid = st.ppid;
		t.comm = std::move(st.comm);
		t.state = st.state;
		t.flags = st.flags;
		t.policy = st.policy;
		t.nice = st.nice;
		t.rt_priority = st.rt_priority;
		t.start_time = st.start_time;
		t.utime = st.utime;
		t.stime = st.stime;
		t.processor = st.processor;
		t.proc = pidx;
		if (tid != tgid && !opt.thread_status) {
			t.uid = snap.tasks[first_task].uid;
			snap.tasks.push_back(std::move(t));
			return;
		}
		snprintf(path, sizeof(path), "task/%d/status", tid);
		if (read_at(pdir, path, buf) == 0) {
			if (auto ss = parse_status(buf)) {
				// /proc/<tid> of a non-leader thread also
				// resolves: never take a thread for a process.
				if (ss->tgid != tgid)
					return;
				t.uid = ss->euid;
				t.cpus_allowed = std::move(ss->cpus_allowed_list);
			}
		} else if (tid != tgid) {
			return; // thread vanished
		}
		snap.tasks.push_back(std::move(t));
	};

	const int num_threads = lst->num_threads;
	add_task(tgid, std::move(*lst));
	if (snap.tasks.size() == first_task)
		return false;
	p.uid = snap.tasks.back().uid;

	// A single-threaded process (stat's num_threads) needs no task/
	// listing; a thread created since is found by the next resync.
	if (opt.threads && num_threads != 1) {
		int tdir = open_dir_at(pdir, "task");
		if (tdir >= 0) {
			for_each_numeric_entry(tdir, [&](pid_t tid) {
				if (tid == tgid)
					return;
				snprintf(path, sizeof(path), "task/%d/stat", tid);
				if (read_at(pdir, path, buf) != 0)
					return;
				auto st = parse_stat(buf);
				if (!st || st->pid != tid)
					return;
				add_task(tid, std::move(*st));
			});
		}
	}
	snap.processes.push_back(std::move(p));
	return true;
}

Snapshot ProcFs::scan(const ScanOptions &opt) const
{
	auto t0 = std::chrono::steady_clock::now();
	Snapshot snap;
	if (rootfd_ < 0)
		return snap;
	int d = open_dir_at(rootfd_, ".");
	if (d < 0)
		return snap;
	snap.processes.reserve(1024);
	snap.tasks.reserve(4096);
	for_each_numeric_entry(d, [&](pid_t pid) {
		char name[16];
		snprintf(name, sizeof(name), "%d", pid);
		int pdir = open_dir_at(rootfd_, name);
		if (pdir < 0)
			return;
		read_process(pdir, pid, opt, snap);
		close(pdir);
	});
	snap.scan_ns = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
						     std::chrono::steady_clock::now() - t0)
						     .count());
	return snap;
}

Snapshot ProcFs::scan_process(pid_t pid, const ScanOptions &opt) const
{
	Snapshot snap;
	if (rootfd_ < 0 || pid <= 0)
		return snap;
	auto tgid = tgid_of(pid);
	if (!tgid)
		return snap;
	char name[16];
	snprintf(name, sizeof(name), "%d", *tgid);
	int pdir = open_dir_at(rootfd_, name);
	if (pdir < 0)
		return snap;
	read_process(pdir, *tgid, opt, snap);
	close(pdir);
	return snap;
}

} // namespace offl
