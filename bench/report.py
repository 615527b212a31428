#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Build build/bench/report.{md,json} and PNG plots from the console logs of
`make bench` (bench/run.sh).  Standard library only; plots with gnuplot.

  bench/report.py BENCH_DIR [--readme FILE] [--readme-plot DIR]

BENCH_DIR/boots.tsv lists the guest boots (label, kernel, console log,
verdict, QEMU command line); every "BENCH {json}" line of every log is kept
in report.json ("raw"), nothing is dropped.  Figures are medians over
rounds with [min-max]; ratios are to the baseline ("none") of the same
round; "none2" is the baseline's A/A twin, the noise floor.
"""
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
from collections import defaultdict

VARIANTS = ["none", "none2", "normal", "nice19", "idle", "cgweight1", "cgidle", "offline"]
VNAME = {
    "none": "no offline load (baseline)",
    "none2": "baseline again (A/A)",
    "normal": "SCHED_NORMAL",
    "nice19": "nice 19",
    "idle": "SCHED_IDLE",
    "cgweight1": "cgroup cpu.weight=1",
    "cgidle": "cgroup cpu.idle=1",
    "offline": "SCHED_OFFLINE",
}
COLO = ["noagent", "pin", "pin+offline", "isolated"]
CNAME = {
    "noagent": "no agent (all SCHED_NORMAL, unpinned)",
    "pin": "agent, pinning only (vCPUs 1:1, host daemons on CPU 0)",
    "pin+offline": "agent, pinning + host/batch offline",
    "isolated": "control: pinned, batch moved to CPU 0 (nothing beside the vCPUs)",
}


SHORT = {"noagent": "no agent", "pin": "agent: pinning", "pin+offline": "agent: pinning + offline",
         "isolated": "control: nothing beside vCPUs"}


def med(xs):
    return statistics.median(xs) if xs else None


def spread(xs):
    return (min(xs), max(xs)) if xs else (None, None)


def summ(xs):
    """median, min, max, n of a list (None entries dropped: they are reported as n)"""
    xs = [x for x in xs if x is not None]
    if not xs:
        return {"median": None, "min": None, "max": None, "n": 0, "values": []}
    return {"median": med(xs), "min": min(xs), "max": max(xs), "n": len(xs), "values": xs}


def fmt(s, digits=2, pct=False, unit=""):
    if s is None or s.get("median") is None:
        return "n/a"
    f = (lambda v: f"{100 * v:.{digits}f}%") if pct else (lambda v: f"{v:.{digits}f}{unit}")
    if s["n"] == 1:
        return f"{f(s['median'])} (1 run)"
    return f"{f(s['median'])} [{f(s['min'])}-{f(s['max'])}]"


def parse_logs(bench_dir):
    boots, raw, errors, info = [], [], [], defaultdict(list)
    with open(os.path.join(bench_dir, "boots.tsv")) as f:
        for line in f:
            if not line.strip() or line.startswith("#"):
                continue
            label, kernel, log, verdict, qemu = (line.rstrip("\n").split("\t") + [""] * 5)[:5]
            boots.append({"label": label, "kernel": kernel, "log": log, "verdict": verdict, "qemu": qemu})
    for b in boots:
        path = b["log"] if os.path.isabs(b["log"]) else os.path.join(bench_dir, b["log"])
        try:
            text = open(path, errors="replace").read()
        except OSError as e:
            errors.append(f"{b['label']}: cannot read {path}: {e}")
            continue
        for ln in text.splitlines():
            ln = ln.strip("\r")
            if ln.startswith("BENCH {"):
                try:
                    rec = json.loads(ln[6:])
                except ValueError as e:
                    errors.append(f"{b['label']}: bad line {ln[:80]}: {e}")
                    continue
                rec["boot"] = b["label"]
                raw.append(rec)
            elif ln.startswith("BENCH-ERROR"):
                errors.append(f"{b['label']}: {ln[12:]}")
            elif ln.startswith("BENCH-INFO"):
                info[b["label"]].append(ln[11:])
            elif ln.startswith("VMTEST-INFO: kernel"):
                b["uname"] = ln.split("kernel", 1)[1].strip()
    return boots, raw, errors, info


def by_round(raw, metric, boot="main", **match):
    """{round: {variant: record}} for records of metric matching **match"""
    out = defaultdict(dict)
    for r in raw:
        if r.get("metric") != metric or r.get("boot") != boot:
            continue
        if any(r.get(k) != v for k, v in match.items()):
            continue
        out[r["round"]][r["variant"]] = r
    return out


def ratio_series(rounds, get, variants=VARIANTS):
    """per variant: list over rounds of get(rec)/get(baseline rec of the round)"""
    res = {}
    for v in variants:
        xs = []
        for rnd in sorted(rounds):
            base, cur = rounds[rnd].get("none"), rounds[rnd].get(v)
            if base is None or cur is None:
                continue
            b, c = get(base), get(cur)
            xs.append(c / b if b else None)
        res[v] = summ(xs)
    return res


def abs_series(rounds, get, variants=VARIANTS):
    return {v: summ([get(rounds[r][v]) for r in sorted(rounds) if v in rounds[r]]) for v in variants}


def kstat_series(rounds, variant):
    """/proc/sched_offline counter deltas of one variant's runs, per second"""
    out = defaultdict(list)
    for rnd in sorted(rounds):
        r = rounds[rnd].get(variant)
        if not r or "kstat" not in r:
            continue
        for k, v in r["kstat"].items():
            out[k].append(v / r["secs"])
    return {k: summ(v) for k, v in out.items()}


def kstat_line(ks):
    if not ks:
        return "no /proc/sched_offline counters"
    parts = []
    for k, v in ks.items():
        if v["median"] is None:
            continue
        if k.endswith("_ns"):
            parts.append(f"{k[:-3]} {v['median'] / 1e9 * 100:.1f}% of a CPU")
        else:
            parts.append(f"{k} {v['median']:.0f}/s")
    return ", ".join(parts)


def analyse(boots, raw):
    S = {}
    # --- metric 1: wakeup latency -------------------------------------------------
    ct = by_round(raw, "cyclictest")
    ch = by_round(raw, "chain")
    m1 = {}
    for q in ("p50", "p99", "p999", "max"):
        m1[f"cyclictest_{q}_ratio"] = ratio_series(ct, lambda r, q=q: r[q])
        m1[f"cyclictest_{q}_us"] = abs_series(ct, lambda r, q=q: r[q])
        m1[f"chain_{q}_ratio"] = ratio_series(ch, lambda r, q=q: r["chain_us"][q])
        m1[f"chain_{q}_us"] = abs_series(ch, lambda r, q=q: r["chain_us"][q])
    m1["offline_load_cpu"] = abs_series(ch, lambda r: r["hog_cpu"])
    S["m1_latency"] = m1
    # --- metric 2: throughput -----------------------------------------------------
    m2 = {}
    for n in (1, 8, 32):
        rounds = by_round(raw, "tput", per_cpu=n)
        m2[str(n)] = {
            "ratio": ratio_series(rounds, lambda r: r["ops"]),
            "online_cpu_ratio": ratio_series(rounds, lambda r: r["online_cpu"]),
            "offline_cpu": abs_series(rounds, lambda r: r["hog_cpu"]),
            "kstat_offline": kstat_series(rounds, "offline"),
        }
    S["m2_throughput"] = m2
    # --- metric 3: offline share ----------------------------------------------------
    m3 = {}
    for pct in (20, 50, 80):
        rounds = by_round(raw, "share", online_pct=pct)
        m3[str(pct)] = {
            "offline_of_spare": abs_series(rounds, lambda r: r["offline_of_spare"]),
            "utilisation": abs_series(rounds, lambda r: r["utilisation"]),
            "online_cpu_ratio": ratio_series(rounds, lambda r: r["online_cpu"]),
            "kstat_offline": kstat_series(rounds, "offline"),
        }
    S["m3_share"] = m3
    # --- metric 4: hot path ----------------------------------------------------------
    per_boot = defaultdict(list)
    for r in raw:
        if r["metric"] == "pingpong":
            per_boot[r["boot"]].append(r["us_per_rt"])
    kern = {b["label"]: b["kernel"] for b in boots}
    boot_meds = {b: med(v) for b, v in per_boot.items()}
    groups = defaultdict(list)
    for b, m in boot_meds.items():
        groups["unpatched" if "unpatched" in kern.get(b, "") else "patched"].append(m)
    m4 = {"per_boot": {b: summ(v) for b, v in per_boot.items()},
          "patched": summ(groups["patched"]), "unpatched": summ(groups["unpatched"])}
    # noise floor: the largest relative spread between boots of one kernel, and
    # between repeats inside one boot
    floors = []
    for g in groups.values():
        if len(g) >= 2:
            floors.append((max(g) - min(g)) / min(g))
    rep = [(max(v) - min(v)) / min(v) for v in per_boot.values() if len(v) >= 2]
    m4["aa_between_boots"] = max(floors) if floors else None
    m4["aa_within_boot"] = max(rep) if rep else None
    if m4["patched"]["median"] and m4["unpatched"]["median"]:
        m4["delta"] = m4["patched"]["median"] / m4["unpatched"]["median"] - 1
    else:
        m4["delta"] = None
    S["m4_hotpath"] = m4
    # --- metric 5: co-location -------------------------------------------------------
    st = by_round(raw, "steal")
    sl = by_round(raw, "schedlat")
    m5 = {}
    for m in COLO:
        bpf = []
        for rnd in sorted(sl):
            rec = sl[rnd].get(m)
            if rec:
                vs = [x["steal"] for x in rec["report"].get("vcpus", []) if x["comm"].endswith("/KVM")]
                bpf.append(statistics.mean(vs) if vs else None)
        m5[m] = {
            "steal_mean": summ([st[r][m]["mean"] for r in sorted(st) if m in st[r]]),
            "steal_max": summ([st[r][m]["max"] for r in sorted(st) if m in st[r]]),
            "steal_bpf_mean": summ(bpf),
        }
    S["m5_colo"] = m5
    return S


def agent_bench(bench_dir):
    path = os.path.join(bench_dir, "agent-bench.json")
    if not os.path.exists(path):
        return None
    try:
        data = json.load(open(path))
    except ValueError:
        return None
    runs = defaultdict(list)
    unit = {}
    counters = {}
    for b in data.get("benchmarks", []):
        if b.get("run_type") == "aggregate":
            continue
        name = b["name"].replace("/real_time", "")
        runs[name].append(b["real_time"])
        unit[name] = b.get("time_unit", "ns")
        counters[name] = {k: v for k, v in b.items() if k in ("tasks", "vms", "unplaced", "kept", "changes")}
    return {"context": data.get("context", {}),
            "benchmarks": {n: dict(summ(v), unit=unit[n], counters=counters[n]) for n, v in runs.items()}}


def to_ms(s, unit):
    f = {"ns": 1e-6, "us": 1e-3, "ms": 1.0, "s": 1e3}[unit]
    return s * f


def targets(S, agent):
    t = []
    m1 = S["m1_latency"]
    for probe in ("cyclictest", "chain"):
        r = m1[f"{probe}_p99_ratio"]["offline"]
        t.append({"target": f"online p99 wakeup latency with SCHED_OFFLINE load <= 1.05x baseline ({probe})",
                  "value": r["median"], "shown": fmt(r, 3, unit="x"),
                  "beside": "SCHED_IDLE " + fmt(m1[f"{probe}_p99_ratio"]["idle"], 2, unit="x") +
                            ", cpu.idle " + fmt(m1[f"{probe}_p99_ratio"]["cgidle"], 2, unit="x"),
                  "met": r["median"] is not None and r["median"] <= 1.05})
    r = S["m2_throughput"]["32"]["ratio"]["offline"]
    t.append({"target": "online throughput with 32 offline tasks per CPU >= 99.5% of baseline",
              "value": r["median"], "shown": fmt(r, 2, pct=True) + "; online CPU time " +
              fmt(S["m2_throughput"]["32"]["online_cpu_ratio"]["offline"], 2, pct=True),
              "beside": "SCHED_IDLE " + fmt(S["m2_throughput"]["32"]["ratio"]["idle"], 1, pct=True) +
                        ", A/A " + fmt(S["m2_throughput"]["32"]["ratio"]["none2"], 1, pct=True),
              "met": r["median"] is not None and r["median"] >= 0.995})
    shares = [S["m3_share"][p]["offline_of_spare"]["offline"]["median"] for p in ("20", "50", "80")]
    ok = all(x is not None for x in shares)
    t.append({"target": "offline share of spare CPU >= 95% (at 20/50/80% online)",
              "value": min(shares) if ok else None,
              "shown": " / ".join(f"{100 * x:.1f}%" if x is not None else "n/a" for x in shares),
              "beside": "SCHED_IDLE " + " / ".join(
                  f"{100 * S['m3_share'][p]['offline_of_spare']['idle']['median']:.1f}%"
                  if S['m3_share'][p]['offline_of_spare']['idle']['median'] is not None else "n/a"
                  for p in ("20", "50", "80")),
              "met": ok and min(shares) >= 0.95})
    m4 = S["m4_hotpath"]
    floor = max([x for x in (m4["aa_between_boots"], m4["aa_within_boot"]) if x is not None], default=None)
    t.append({"target": "hot path (no offline task) vs unpatched within the A/A noise floor",
              "value": m4["delta"],
              "shown": "n/a" if m4["delta"] is None else f"{100 * m4['delta']:+.2f}%",
              "beside": "noise floor " + ("n/a" if floor is None else f"{100 * floor:.2f}%") +
                        " (between boots of one kernel " + ("n/a" if m4["aa_between_boots"] is None else f"{100 * m4['aa_between_boots']:.2f}%") +
                        ", between repeats " + ("n/a" if m4["aa_within_boot"] is None else f"{100 * m4['aa_within_boot']:.2f}%") + ")",
              "met": m4["delta"] is not None and floor is not None and abs(m4["delta"]) <= floor})
    m5 = S["m5_colo"]
    a, n = m5["pin+offline"]["steal_mean"], m5["noagent"]["steal_mean"]
    t.append({"target": "vCPU steal < 1% with the agent vs > 30% without",
              "value": a["median"], "shown": f"{fmt(a, 1, pct=True)} vs {fmt(n, 1, pct=True)}",
              "beside": "pinning only " + fmt(m5["pin"]["steal_mean"], 1, pct=True) +
                        "; emulator floor (nothing beside the vCPUs) " + fmt(m5["isolated"]["steal_mean"], 1, pct=True),
              "met": a["median"] is not None and n["median"] is not None and a["median"] < 0.01 and n["median"] > 0.30})
    if agent:
        b = agent["benchmarks"].get("BM_ScanAndClassify")
        if b:
            v = to_ms(b["median"], b["unit"])
            t.append({"target": "agent: scan + classify of 10k tasks <= 150 ms (host, one core)",
                      "value": v, "shown": f"{v:.1f} ms", "beside": "", "met": v <= 150})
        b = agent["benchmarks"].get("BM_ClassifyOnly")
        if b:
            v = to_ms(b["median"], b["unit"])
            t.append({"target": "agent: classify 10k parsed tasks <= 5 ms",
                      "value": v, "shown": f"{v:.2f} ms", "beside": "", "met": v <= 5})
    return t


# ---------------------------------------------------------------- plots (gnuplot)

def gnuplot(bench_dir, name, script, data):
    dat = os.path.join(bench_dir, f"{name}.dat")
    with open(dat, "w") as f:
        f.write(data)
    png = os.path.join(bench_dir, f"{name}.png")
    full = (f"set terminal pngcairo noenhanced size 900,480 font 'DejaVu Sans,10'\nset output '{png}'\n"
            "set style data histograms\nset style histogram clustered gap 1\n"
            "set style fill solid 0.85 border -1\nset boxwidth 0.9\nset key top left\n"
            "set grid ytics\nset xtics rotate by -20\n" + script.replace("DAT", dat))
    try:
        subprocess.run(["gnuplot"], input=full, text=True, check=True, capture_output=True)
        return os.path.basename(png)
    except (OSError, subprocess.CalledProcessError) as e:
        print(f"report.py: gnuplot failed for {name}: {getattr(e, 'stderr', e)}", file=sys.stderr)
        return None


def val(s):
    return "NaN" if s is None or s.get("median") is None else f"{s['median']:.6g}"


def plots(bench_dir, S):
    out = {}
    m1 = S["m1_latency"]
    rows = "# variant cyclictest_p99 chain_p99\n" + "".join(
        f"\"{VNAME[v]}\" {val(m1['cyclictest_p99_ratio'][v])} {val(m1['chain_p99_ratio'][v])}\n" for v in VARIANTS)
    out["latency"] = gnuplot(bench_dir, "latency",
                             "set title 'Online wakeup latency p99 beside 4 CPU hogs, ratio to baseline (log scale)'\n"
                             "set logscale y\nset yrange [0.5:*]\nset ylabel 'p99 / baseline p99'\n"
                             "plot 'DAT' using 2:xtic(1) title 'cyclictest --policy other', '' using 3 title 'wake chain'\n",
                             rows)
    m2 = S["m2_throughput"]
    rows = "# variant n1 n8 n32\n" + "".join(
        f"\"{VNAME[v]}\" " + " ".join(val(m2[n]["ratio"][v]) for n in ("1", "8", "32")) + "\n" for v in VARIANTS)
    out["throughput"] = gnuplot(bench_dir, "throughput",
                                "set title 'Online CPU-bound throughput, ratio to baseline'\nset yrange [0:1.1]\n"
                                "set ylabel 'online work / baseline'\n"
                                "plot 'DAT' using 2:xtic(1) title '1 offline task/CPU', '' using 3 title '8/CPU', '' using 4 title '32/CPU'\n",
                                rows)
    m3 = S["m3_share"]
    rows = "# variant p20 p50 p80\n" + "".join(
        f"\"{VNAME[v]}\" " + " ".join(val(m3[p]["offline_of_spare"][v]) for p in ("20", "50", "80")) + "\n"
        for v in VARIANTS if not v.startswith("none"))
    out["share"] = gnuplot(bench_dir, "share",
                           "set title 'Offline CPU time / spare CPU time'\nset yrange [0:1.1]\n"
                           "plot 'DAT' using 2:xtic(1) title 'online 20%', '' using 3 title 'online 50%', '' using 4 title 'online 80%'\n",
                           rows)
    m5 = S["m5_colo"]
    rows = "# mode schedstat bpf\n" + "".join(
        f"\"{SHORT[m]}\" {val(m5[m]['steal_mean'])} {val(m5[m]['steal_bpf_mean'])}\n" for m in COLO)
    out["steal"] = gnuplot(bench_dir, "steal",
                           "set title 'vCPU steal (run-queue wait / wall): fake VM + host daemons + batch'\n"
                           "set yrange [0:*]\nset xtics norotate\n"
                           "plot 'DAT' using 2:xtic(1) title 'schedstat run_delay', '' using 3 title 'schedlat (BPF)'\n",
                           rows)
    return out


# ---------------------------------------------------------------- markdown

def markdown(boots, S, T, agent, errors, info, pngs, cfg):
    L = []
    w = L.append
    w("# sched-offline benchmark report\n")
    w(f"Generated by `{cfg.get('command', 'make bench')}`. Every figure is a median over rounds "
      "with [min-max]; ratios are to the same round's baseline (no offline load); "
      "\"baseline again\" is the A/A twin of the baseline, measured like a variant: its spread is the noise floor. "
      "No round is dropped: report.json has every measurement.\n")
    w("## Setup\n")
    for b in boots:
        w(f"- boot `{b['label']}`: kernel `{b['kernel']}` ({b.get('uname', '?')}), verdict {b['verdict'] or '?'}")
        w(f"  - `{b['qemu']}`")
    if "main" in info:
        w("")
        w("Guest: " + "; ".join(i for i in info["main"] if i.startswith(("mode", "sched_offline"))))
    w("")
    w("## Targets\n")
    w("| target | measured | beside it | met |")
    w("| --- | --- | --- | --- |")
    for t in T:
        w(f"| {t['target']} | {t['shown']} | {t['beside']} | {'yes' if t['met'] else '**no**'} |")
    w("")
    m1 = S["m1_latency"]
    w("## 1. Online wakeup latency beside 4 CPU hogs on the probe CPU\n")
    w("cyclictest `--policy other -i 1000` on CPU 3 and the wake chain (CPU 0 wakes a task on CPU 3 "
      "through a pipe, which wakes a second one there; end-to-end) beside 4 hogs pinned to CPU 3. "
      "Absolute us, then the ratio to the round's baseline.\n")
    w("| offline load as | cyclictest p50 us | p99 us | p99.9 us | p99 ratio | p99.9 ratio | chain p50 us | chain p99 us | chain p99 ratio | hogs' CPU |")
    w("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for v in VARIANTS:
        w(f"| {VNAME[v]} | {fmt(m1['cyclictest_p50_us'][v], 0)} | {fmt(m1['cyclictest_p99_us'][v], 0)} | "
          f"{fmt(m1['cyclictest_p999_us'][v], 0)} | {fmt(m1['cyclictest_p99_ratio'][v], 2)} | "
          f"{fmt(m1['cyclictest_p999_ratio'][v], 2)} | {fmt(m1['chain_p50_us'][v], 0)} | "
          f"{fmt(m1['chain_p99_us'][v], 0)} | {fmt(m1['chain_p99_ratio'][v], 2)} | "
          f"{fmt(m1['offline_load_cpu'][v], 1, pct=True)} |")
    if pngs.get("latency"):
        w(f"\n![latency]({pngs['latency']})\n")
    w("## 2. Online CPU-bound throughput\n")
    w("One CPU-bound online worker pinned to each CPU, N offline tasks pinned to each CPU; work done "
      "in a fixed time, as a ratio to the round's baseline.\n")
    w("| offline load as | work, 1 per CPU | 8 per CPU | 32 per CPU | online CPU time, 1 per CPU | 8 per CPU | 32 per CPU | offline CPU at 32 |")
    w("| --- | --- | --- | --- | --- | --- | --- | --- |")
    m2 = S["m2_throughput"]
    for v in VARIANTS:
        w(f"| {VNAME[v]} | " + " | ".join(fmt(m2[n]["ratio"][v], 1, pct=True) for n in ("1", "8", "32")) +
          " | " + " | ".join(fmt(m2[n]["online_cpu_ratio"][v], 2, pct=True) for n in ("1", "8", "32")) +
          f" | {fmt(m2['32']['offline_cpu'][v], 2, pct=True)} |")
    w("\nWork = loop iterations done (the throughput); online CPU time = the workers' CPU time in their "
      "window (schedstat clock), both as a ratio to the round's baseline. Offline CPU includes the moment "
      "after the workers stop, when the hogs take the CPUs.")
    for n in ("1", "8", "32"):
        w(f"\nKernel counters (/proc/sched_offline, all CPUs, medians per second) with {n} SCHED_OFFLINE "
          f"task(s) per CPU: {kstat_line(m2[n]['kstat_offline'])}.")
    if pngs.get("throughput"):
        w(f"\n![throughput]({pngs['throughput']})\n")
    w("## 3. Offline share of the spare CPU\n")
    w("One online task per CPU busy 20/50/80% of each 10 ms (wall clock), 2 unpinned offline hogs per CPU. "
      "Offline share = offline CPU time / (CPU time - online CPU time); utilisation = (online + offline) / CPU time; "
      "online kept = online CPU time / baseline's.\n")
    w("| offline load as | share @20% | @50% | @80% | utilisation @20% | @50% | @80% | online kept @20% | @50% | @80% |")
    w("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    m3 = S["m3_share"]
    for v in VARIANTS:
        w(f"| {VNAME[v]} | " + " | ".join(fmt(m3[p]["offline_of_spare"][v], 1, pct=True) for p in ("20", "50", "80")) +
          " | " + " | ".join(fmt(m3[p]["utilisation"][v], 1, pct=True) for p in ("20", "50", "80")) +
          " | " + " | ".join(fmt(m3[p]["online_cpu_ratio"][v], 1, pct=True) for p in ("20", "50", "80")) + " |")
    for p in ("20", "50", "80"):
        w(f"\nKernel counters with SCHED_OFFLINE at {p}% online (medians per second): "
          f"{kstat_line(m3[p]['kstat_offline'])}.")
    if pngs.get("share"):
        w(f"\n![share]({pngs['share']})\n")
    w("## 4. Hot path: patched kernel without offline tasks vs unpatched\n")
    w("`pipe_pingpong` (two tasks pinned to CPU 0 bouncing a byte; -icount guest time, i.e. instructions), "
      "run first in each boot, before any offline task exists; kernels booted alternately.\n")
    w("| boot | kernel | us per round trip, median [min-max] of repeats |")
    w("| --- | --- | --- |")
    m4 = S["m4_hotpath"]
    kern = {b["label"]: b["kernel"] for b in boots}
    for b, s in m4["per_boot"].items():
        w(f"| {b} | {kern.get(b, '?')} | {fmt(s, 3)} |")
    w("")
    def pc(x, sign=""):
        return "n/a" if x is None else f"{100 * x:{sign}.2f}%"
    w(f"Patched (boot medians): {fmt(m4['patched'], 3)} us; unpatched: {fmt(m4['unpatched'], 3)} us; "
      f"difference {pc(m4['delta'], '+')}. "
      f"A/A: between boots of one kernel {pc(m4['aa_between_boots'])}, "
      f"between repeats of one boot {pc(m4['aa_within_boot'])}.\n")
    w("## 5. Co-location: fake VM, host daemons, batch\n")
    w("A fake QEMU (`qemu-system-x86_64`, threads `CPU 0..2/KVM`, 5 ms busy / 5 ms asleep), two host daemons "
      "(1 ms of work every 20 ms) and a 4-thread batch job. vCPU steal = run_delay / wall per vCPU thread "
      "(schedstat), mean over the vCPUs; the BPF column is the same from `schedlat` running alongside. "
      "`offlinectl agent --once` does the pinning (placement: one-to-one, CPU 0 reserved, emulator "
      "threads there; host cgroup on CPU 0 for host daemons) and, in the third row, marks host and batch "
      "work offline. The control row moves the batch job to CPU 0 as well, so nothing runs beside the "
      "vCPUs on their CPUs: in single-threaded TCG a vCPU thread's run_delay grows with the number of "
      "busy vCPUs even when nothing shares its CPU (the emulator runs the vCPUs in turns), so that row "
      "is the floor this guest can show.\n")
    w("| mode | vCPU steal (mean) | worst vCPU | steal from schedlat (BPF) |")
    w("| --- | --- | --- | --- |")
    m5 = S["m5_colo"]
    for m in COLO:
        w(f"| {CNAME[m]} | {fmt(m5[m]['steal_mean'], 1, pct=True)} | {fmt(m5[m]['steal_max'], 1, pct=True)} | "
          f"{fmt(m5[m]['steal_bpf_mean'], 1, pct=True)} |")
    if pngs.get("steal"):
        w(f"\n![steal]({pngs['steal']})\n")
    w("## 6. Agent micro-benchmarks (host)\n")
    if agent:
        ctx = agent["context"]
        w(f"Google Benchmark on the build host ({ctx.get('num_cpus', '?')} CPUs, {ctx.get('mhz_per_cpu', '?')} MHz, "
          f"library {ctx.get('library_build_type', '?')}), {cfg.get('agent_reps', '?')} repetitions under "
          "build/.cpu.lock; median [min-max] of the repetitions.\n")
        w("| benchmark | real time | counters |")
        w("| --- | --- | --- |")
        for n, b in agent["benchmarks"].items():
            c = ", ".join(f"{k}={v:g}" for k, v in b["counters"].items())
            w(f"| {n} | {fmt(b, 3, unit=' ' + b['unit'])} | {c} |")
        w("")
    else:
        w("not run (no build/userspace-cmake/bench-agent/offlinectl_bench)\n")
    w("## Errors and notes\n")
    if errors:
        for e in errors:
            w(f"- {e}")
    else:
        w("- none: every measurement ran and is in report.json")
    w("")
    return "\n".join(L)


def readme_section(S, T, pngs, cfg, plot_rel):
    L = []
    w = L.append
    w(f"Generated from `build/bench/report.md` by `{cfg.get('command', 'make bench')}` "
      f"({cfg.get('rounds', '?')} rounds, {cfg.get('date', '')}); the full report has every metric with "
      "medians [min-max] over rounds and the A/A noise floor.\n")
    w("| target | measured | beside it | met |")
    w("| --- | --- | --- | --- |")
    for t in T:
        w(f"| {t['target']} | {t['shown']} | {t['beside']} | {'yes' if t['met'] else '**no**'} |")
    w("")
    m1 = S["m1_latency"]
    m2 = S["m2_throughput"]
    m3 = S["m3_share"]
    w("| offline load as | cyclictest p99 us | p99 ratio | wake-chain p99 ratio | throughput, 32/CPU | offline share @50% |")
    w("| --- | --- | --- | --- | --- | --- |")
    for v in VARIANTS:
        w(f"| {VNAME[v]} | {fmt(m1['cyclictest_p99_us'][v], 0)} | {fmt(m1['cyclictest_p99_ratio'][v], 2)} | "
          f"{fmt(m1['chain_p99_ratio'][v], 2)} | {fmt(m2['32']['ratio'][v], 1, pct=True)} | "
          f"{fmt(m3['50']['offline_of_spare'][v], 1, pct=True)} |")
    if plot_rel:
        w(f"\n![online p99 latency by variant]({plot_rel})\n")
    return "\n".join(L)


def main():
    args = sys.argv[1:]
    if not args:
        print(__doc__)
        return 2
    bench_dir = args[0]
    readme = args[args.index("--readme") + 1] if "--readme" in args else None
    plot_dir = args[args.index("--readme-plot") + 1] if "--readme-plot" in args else None
    cfg = {}
    cp = os.path.join(bench_dir, "config.json")
    if os.path.exists(cp):
        cfg = json.load(open(cp))
    boots, raw, errors, info = parse_logs(bench_dir)
    for b in boots:
        if b["verdict"] and b["verdict"] != "PASS":
            errors.append(f"boot {b['label']}: vmtest verdict {b['verdict']}")
    S = analyse(boots, raw)
    agent = agent_bench(bench_dir)
    T = targets(S, agent)
    pngs = plots(bench_dir, S)
    md = markdown(boots, S, T, agent, errors, info, pngs, cfg)
    with open(os.path.join(bench_dir, "report.md"), "w") as f:
        f.write(md)
    with open(os.path.join(bench_dir, "report.json"), "w") as f:
        json.dump({"config": cfg, "boots": boots, "info": info, "targets": T, "summary": S,
                   "agent": agent, "errors": errors, "plots": pngs, "raw": raw}, f, indent=1)
    if readme:
        rel = None
        if plot_dir and pngs.get("latency"):
            os.makedirs(plot_dir, exist_ok=True)
            shutil.copy(os.path.join(bench_dir, pngs["latency"]), os.path.join(plot_dir, "latency.png"))
            rel = os.path.relpath(os.path.join(plot_dir, "latency.png"), os.path.dirname(os.path.abspath(readme)))
        text = open(readme).read()
        sec = readme_section(S, T, pngs, cfg, rel)
        b, e = "<!-- bench-results:begin -->", "<!-- bench-results:end -->"
        if b in text and e in text:
            text = text[:text.index(b) + len(b)] + "\n" + sec + "\n" + text[text.index(e):]
            with open(readme, "w") as f:
                f.write(text)
        else:
            print(f"report.py: {readme} has no {b} ... {e} markers: not updated", file=sys.stderr)
    print(f"report.py: {os.path.join(bench_dir, 'report.md')}: {len(raw)} measurements, "
          f"{sum(t['met'] for t in T)}/{len(T)} targets met, {len(errors)} error(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
