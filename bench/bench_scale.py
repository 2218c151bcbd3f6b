"""The scale curve: ours (ingest + build on Spark local[2]) and the DuckDB SQL anchor at growing sizes.

    .venv/bin/python bench/bench_scale.py                         # 100k, 1M, 5M synthetic events
    .venv/bin/python bench/bench_scale.py --sizes 100000,300000 --no-write

For every size: the synthetic sample is written (``recommendations.synthetic``; users and items
grow with the events), our two jobs run through ``sparkjobs.executor`` on one SparkSession shared by
all sizes (its start is reported once; an untimed run at the smallest size warms it up first),
and the anchor runs in a child process. Each step reports
its seconds and the peak resident memory of its process tree (driver + JVM + Python workers for
ours, sampled from ``/proc``). The table goes into docs/benchmarks.md between the ``scale-curve``
markers, the plot into docs/benchmarks-scale.png; ``--no-write`` only prints.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from _memory import PeakMemory
from _report import DOC, machine, write_section
from bench_pipeline import MODEL, ours, write_conf

from recommendations.sample_data import write_sample
from recommendations.synthetic import SyntheticSpec
from sparkjobs.engines.session import SessionProvider
from sparkjobs.spark.settings import SparkSettings

START, END = "<!-- scale-curve:start -->", "<!-- scale-curve:end -->"
PLOT = DOC.parent / "benchmarks-scale.png"
DAY = date(2016, 10, 16)
DAYS = 30


@dataclass
class Point:
    events: int
    raw_rows: int
    ingest_s: float
    build_s: float
    ours_peak_mib: float
    anchor_s: float
    anchor_peak_mib: float

    @property
    def ours_s(self) -> float:
        return self.ingest_s + self.build_s


def measure(size: int, work: Path, provider: SessionProvider, partitions: int) -> Point:
    spec = SyntheticSpec(
        events=size, users=max(100, size // 50), items=max(200, size // 100), days=DAYS, end_date=DAY
    )
    raw = work / "raw"
    shutil.rmtree(work, ignore_errors=True)
    summary = write_sample(raw, source="synthetic", spec=spec, resend_fraction=0.01, malformed=10, force=True)
    conf = write_conf(work, DAYS, partitions)
    with PeakMemory() as peak:
        ingest, build = ours(conf, DAY, provider, [])
    args = [str(raw), str(work / "duckdb"), DAY.isoformat(), str(DAYS), json.dumps(MODEL)]
    child = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("anchor_duckdb.py")), *args],
        stdout=subprocess.PIPE,
        text=True,
    )
    with PeakMemory(root=child.pid) as anchor_peak:
        out, _ = child.communicate()
    if child.returncode != 0:
        raise SystemExit(f"the DuckDB anchor failed at {size:,} events (exit {child.returncode})")
    anchor = json.loads(out.strip().splitlines()[-1])
    return Point(
        size,
        summary.raw_rows,
        ingest,
        build,
        peak.mib,
        anchor["ingest_s"] + anchor["build_s"],
        anchor_peak.mib,
    )


def plot(points: list[Point], target: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    events = [p.events for p in points]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    left.plot(events, [p.ours_s for p in points], "o-", label="ours (Spark local[2])")
    left.plot(events, [p.anchor_s for p in points], "s-", label="DuckDB SQL anchor")
    left.set(xlabel="events", ylabel="seconds (ingest + build)", xscale="log", yscale="log", title="time")
    right.plot(events, [p.ours_peak_mib for p in points], "o-", label="ours: driver + JVM + workers")
    right.plot(events, [p.anchor_peak_mib for p in points], "s-", label="DuckDB process")
    right.set(xlabel="events", ylabel="peak RSS (MiB)", xscale="log", title="memory")
    for axis in (left, right):
        axis.grid(True, which="both", alpha=0.3)
        axis.legend()
    fig.tight_layout()
    fig.savefig(target, dpi=100)
    plt.close(fig)


def render(points: list[Point], session_s: float, partitions: int) -> str:
    rows = [
        f"| {p.events:,} | {p.ingest_s:.1f} s | {p.build_s:.1f} s | {p.ours_s:.1f} s | "
        f"{p.ours_peak_mib:,.0f} MiB | {p.anchor_s:.1f} s | {p.anchor_peak_mib:,.0f} MiB | "
        f"**{p.ours_s / p.anchor_s:.1f}x** |"
        for p in points
    ]
    slope = ""
    if len(points) >= 2:
        a, b = points[0], points[-1]
        per_m = (b.ours_s - a.ours_s) / ((b.events - a.events) / 1e6)
        per_m_anchor = (b.anchor_s - a.anchor_s) / ((b.events - a.events) / 1e6)
        fixed = a.ours_s - per_m * a.events / 1e6
        slope = (
            f"Between the smallest and the largest size ours grows by {per_m:.1f} s per million events "
            f"(fixed part ≈ {fixed:.1f} s), the anchor by {per_m_anchor:.1f} s per million."
        )
    return "\n".join(
        [
            START,
            "## Scale curve: ours vs the DuckDB SQL anchor",
            "",
            f"Measured by `bench/bench_scale.py` on {time.strftime('%Y-%m-%d')}: {machine()}; synthetic "
            f"events over {DAYS} days (users = events / 50, items = events / 100), window = all {DAYS} "
            f"days; Spark local[2] with {partitions} shuffle partitions, one SparkSession for all sizes "
            f"(started in "
            f"{session_s:.1f} s, not counted); DuckDB with 2 threads in its own process; one run per size "
            f"(load average {os.getloadavg()[0]:.1f} at the end: other work shared the machine).",
            "",
            "| events | ours: ingest | ours: build | ours: total | ours: peak RSS | DuckDB: total | "
            "DuckDB: peak RSS | ours / DuckDB |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|",
            *rows,
            "",
            slope,
            "",
            f"![scale curve]({PLOT.name})",
            END,
        ]
    )


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,1000000,5000000", help="comma-separated event counts")
    parser.add_argument("--partitions", type=int, default=4, help="spark.sql.shuffle.partitions")
    parser.add_argument("--workdir", type=Path, default=None, help="default: a temporary directory")
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/ alone")
    parser.add_argument("--plot", type=Path, default=None, help=f"where the PNG goes (default {PLOT})")
    parser.add_argument(
        "--no-warmup", action="store_true", help="skip the untimed run at the smallest size (JIT, first jobs)"
    )
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    work = args.workdir or Path(tempfile.mkdtemp(prefix="bench_scale_"))
    settings = SparkSettings(
        master="local[2]",
        shuffle_partitions=args.partitions,
        conf={"spark.sql.files.openCostInBytes": "65536", "spark.ui.showConsoleProgress": "false"},
    )
    provider = SessionProvider(settings, app_suffix="bench_scale")
    started = time.perf_counter()
    provider.get()
    session_s = time.perf_counter() - started
    points = []
    try:
        if not args.no_warmup:  # otherwise the first size pays the JVM's warm-up and the curve bends down
            measure(min(sizes), work / "warmup", provider, args.partitions)
        for size in sizes:
            point = measure(size, work / f"n{size}", provider, args.partitions)
            print(f"{size:,} events: ours {point.ours_s:.1f}s, anchor {point.anchor_s:.1f}s", flush=True)
            points.append(point)
    finally:
        provider.close()
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)
    section = render(points, session_s, args.partitions)
    print(section)
    target = args.plot or (None if args.no_write else PLOT)
    if target is not None:
        plot(points, target)
    if not args.no_write:
        write_section(section, START, END)
        print(f"written to {DOC} and {PLOT}")
    return section


if __name__ == "__main__":
    main()
