"""The scale curve: ours (ingest + build on Spark local[2]) and the DuckDB SQL anchor at growing sizes.

    .venv/bin/python bench/bench_scale.py                         # 100k, 1M, 5M synthetic events
    .venv/bin/python bench/bench_scale.py --sizes 100000,300000 --no-write
    .venv/bin/python bench/bench_scale.py --sizes 5000000 --points runs/scale.json --time-limit-s 1200

For every size: the synthetic sample is written (``recommendations.synthetic``; users and items
grow with the events), our two jobs run through ``sparkjobs.executor`` on one SparkSession shared by
all sizes (its start is reported once; an untimed run at the smallest size warms it up first),
and the anchor runs in a child process. Each step reports
its seconds and the peak resident memory of its process tree (driver + JVM + Python workers for
ours, sampled from ``/proc``) and the load averages before and after it; then our six tables are
compared row for row with the anchor's (:func:`anchor_duckdb.compare`: bronze, silver, items,
popular items, similar items and the top-N recommendations). With ``--points FILE`` every size is
kept in FILE as soon as it is measured, and the section is drawn from every size FILE holds: sizes
can be measured one at a time (one heavy run at a time on a shared machine), and a size that is
stopped at ``--time-limit-s`` (all Spark jobs cancelled) is reported as not finished with the time
it had had, not as a number. The table goes into docs/benchmarks.md between the ``scale-curve``
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
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from _memory import PeakMemory
from _report import DOC, machine, write_section
from anchor_duckdb import compare as compare_anchor
from bench_pipeline import MODEL, ours, ours_outputs, write_conf

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
    #: ``os.getloadavg()`` before and after this size (1, 5, 15 minutes)
    load_before: list[float] = field(default_factory=list)
    load_after: list[float] = field(default_factory=list)
    #: table → [rows ours, rows anchor, rows differing either way]
    agreement: dict[str, list[int]] = field(default_factory=dict)
    #: "done", or why it did not finish (then the times are those it had had)
    status: str = "done"
    #: seconds the shared SparkSession of this point's invocation took to start (not counted)
    session_s: float = 0.0

    @property
    def identical(self) -> bool:
        return bool(self.agreement) and all(
            a == b and differ == 0 for a, b, differ in self.agreement.values()
        )

    @property
    def ours_s(self) -> float:
        return self.ingest_s + self.build_s


class TimeLimit:
    """Cancel every Spark job of ``spark`` once ``seconds`` have passed (the job then fails)."""

    def __init__(self, spark: Any, seconds: float | None) -> None:
        self.spark, self.seconds = spark, seconds
        self.fired = threading.Event()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self) -> None:
        if self.seconds is None or self._done.wait(self.seconds):
            return
        self.fired.set()
        self.spark.sparkContext.cancelAllJobs()

    def __enter__(self) -> TimeLimit:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join()


def synthetic_spec(
    events: int, days: int = DAYS, users: int | None = None, items: int | None = None
) -> SyntheticSpec:
    """The synthetic stream of ``events``: users and items grow with it (events / 50, events / 100)."""
    return SyntheticSpec(
        events=events,
        users=users or max(100, events // 50),
        items=items or max(200, events // 100),
        days=days,
        end_date=DAY,
    )


def spark_settings(partitions: int) -> SparkSettings:
    """Spark local[2] as the benchmarks run it (small files packed per task, no progress bars)."""
    return SparkSettings(
        master="local[2]",
        shuffle_partitions=partitions,
        conf={"spark.sql.files.openCostInBytes": "65536", "spark.ui.showConsoleProgress": "false"},
    )


def measure(
    size: int, work: Path, provider: SessionProvider, partitions: int, time_limit_s: float | None = None
) -> Point:
    spec = synthetic_spec(size)
    raw = work / "raw"
    shutil.rmtree(work, ignore_errors=True)
    summary = write_sample(raw, source="synthetic", spec=spec, resend_fraction=0.01, malformed=10, force=True)
    conf = write_conf(work, DAYS, partitions)
    load_before = list(os.getloadavg())
    started = time.perf_counter()
    status, ingest, build = "done", 0.0, 0.0
    with PeakMemory() as peak, TimeLimit(provider.get(), time_limit_s) as limit:
        try:
            ingest, build = ours(conf, DAY, provider, [])
        except (Exception, SystemExit) as exc:  # a failed job may end in SystemExit
            if not limit.fired.is_set():
                raise
            ingest = time.perf_counter() - started
            print(f"{size:,} events: ours stopped after {ingest:.0f} s ({type(exc).__name__})", flush=True)
            status = f"stopped at the time limit of {time_limit_s:.0f} s"
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
    load_after = list(os.getloadavg())
    anchor = json.loads(out.strip().splitlines()[-1])
    agreement = {}
    if status == "done":
        agreement = compare_anchor(ours_outputs(work, DAY), work / "duckdb", DAY)
    return Point(
        size,
        summary.raw_rows,
        ingest,
        build,
        peak.mib,
        anchor["ingest_s"] + anchor["build_s"],
        anchor_peak.mib,
        load_before,
        load_after,
        {table: list(counts) for table, counts in agreement.items()},
        status,
    )


def load_points(path: Path | None) -> dict[int, Point]:
    if path is None or not path.exists():
        return {}
    try:
        return {int(p["events"]): Point(**p) for p in json.loads(path.read_text())}
    except (ValueError, TypeError, KeyError) as exc:
        raise SystemExit(f"{path}: not a points file written by bench_scale.py ({exc})") from exc


def save_points(path: Path, points: dict[int, Point]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps([asdict(points[k]) for k in sorted(points)], indent=1))


def plot(points: list[Point], target: Path) -> None:
    points = [p for p in points if p.status == "done"]
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


def _load(values: list[float]) -> str:
    return " / ".join(f"{v:.1f}" for v in values) if values else "?"


def _agreement(p: Point) -> str:
    if not p.agreement:
        return "not compared"
    rec = p.agreement.get("recommendations", [0, 0, 0])
    tables = ", ".join(f"{t} {a:,}/{b:,} ({d:,} differ)" for t, (a, b, d) in p.agreement.items())
    verdict = "identical" if p.identical else "DIFFERENT"
    return f"{verdict}: top-N {rec[0]:,}/{rec[1]:,} rows, {rec[2]:,} differ ({tables})"


def render(points: list[Point], partitions: int) -> str:
    rows = []
    for p in points:
        if p.status != "done":
            rows.append(
                f"| {p.events:,} | not finished: {p.status} (ingest + build had run {p.ingest_s:.0f} s) | "
                f"| | {p.ours_peak_mib:,.0f} MiB | {p.anchor_s:.1f} s | {p.anchor_peak_mib:,.0f} MiB | "
                f"> {p.ingest_s / p.anchor_s:.0f}x | {_load(p.load_before)} → {_load(p.load_after)} |"
            )
            continue
        rows.append(
            f"| {p.events:,} | {p.ingest_s:.1f} s | {p.build_s:.1f} s | {p.ours_s:.1f} s | "
            f"{p.ours_peak_mib:,.0f} MiB | {p.anchor_s:.1f} s | {p.anchor_peak_mib:,.0f} MiB | "
            f"**{p.ours_s / p.anchor_s:.1f}x** | {_load(p.load_before)} → {_load(p.load_after)} |"
        )
    done = [p for p in points if p.status == "done"]
    slope = ""
    if len(done) >= 2:
        a, b = done[0], done[-1]
        per_m = (b.ours_s - a.ours_s) / ((b.events - a.events) / 1e6)
        per_m_anchor = (b.anchor_s - a.anchor_s) / ((b.events - a.events) / 1e6)
        fixed = a.ours_s - per_m * a.events / 1e6
        slope = (
            f"Between {a.events:,} and {b.events:,} events ours grows by {per_m:.1f} s per million events "
            f"(fixed part ≈ {fixed:.1f} s), the anchor by {per_m_anchor:.1f} s per million."
        )
    checks = [f"- {p.events:,} events: {_agreement(p)}" for p in done]
    known_starts = sorted({f"{p.session_s:.1f} s" for p in points if p.session_s > 0})
    starts = " / ".join(known_starts) if known_starts else "not recorded"
    return "\n".join(
        [
            START,
            "## Scale curve: ours vs the DuckDB SQL anchor",
            "",
            f"Measured by `bench/bench_scale.py` on {time.strftime('%Y-%m-%d')}: {machine()}; synthetic "
            f"events over {DAYS} days (users = events / 50, items = events / 100, 1% re-sent, 10 "
            f"malformed lines), window = all {DAYS} days; Spark local[2] with {partitions} shuffle "
            f"partitions, one SparkSession for all sizes measured in one invocation (its start, {starts}, "
            "is not counted; an untimed run at a small size warmed it up first); DuckDB with "
            "2 threads in its own process; one run per size. The load column is `uptime`'s 1/5/15-minute "
            "load averages before → after the size: other sessions shared the 2 cores, so a load above 2 "
            "means both engines had less than the whole machine.",
            "",
            "| events | ours: ingest | ours: build | ours: total | ours: peak RSS | DuckDB: total | "
            "DuckDB: peak RSS | ours / DuckDB | load before → after |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|---|",
            *rows,
            "",
            slope,
            "",
            "Agreement with the anchor (rows ours/anchor per table, scores to 1e-9; the top-N list is the "
            "recommendations table):",
            "",
            *checks,
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
    parser.add_argument(
        "--points", type=Path, default=None, help="JSON file keeping every measured size (read and updated)"
    )
    parser.add_argument(
        "--time-limit-s", type=float, default=None, help="per size: cancel our Spark jobs after this long"
    )
    parser.add_argument(
        "--warmup-size",
        type=int,
        default=None,
        help="events of the untimed warm-up (default: the smallest size)",
    )
    parser.add_argument(
        "--render-only", action="store_true", help="measure nothing: the section from --points alone"
    )
    args = parser.parse_args(argv)
    if args.render_only:
        if args.points is None or not args.points.exists():
            raise SystemExit("--render-only needs --points FILE written by an earlier run")
        return report(list(load_points(args.points).values()), args)
    try:
        sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    except ValueError:
        raise SystemExit(f"--sizes: expected comma-separated integers, got {args.sizes!r}") from None
    if not sizes or min(sizes) < 1:
        raise SystemExit(f"--sizes: expected positive event counts, got {args.sizes!r}")
    known = load_points(args.points)
    work = args.workdir or Path(tempfile.mkdtemp(prefix="bench_scale_"))
    provider = SessionProvider(spark_settings(args.partitions), app_suffix="bench_scale")
    started = time.perf_counter()
    provider.get()
    session_s = time.perf_counter() - started
    try:
        if not args.no_warmup:  # otherwise the first size pays the JVM's warm-up and the curve bends down
            measure(args.warmup_size or min(sizes), work / "warmup", provider, args.partitions)
            shutil.rmtree(work / "warmup", ignore_errors=True)
        for size in sizes:
            point = measure(size, work / f"n{size}", provider, args.partitions, args.time_limit_s)
            point.session_s = session_s
            print(
                f"{size:,} events: ours {point.ours_s:.1f}s, anchor {point.anchor_s:.1f}s, "
                f"load {_load(point.load_before)} -> {_load(point.load_after)}, {_agreement(point)}",
                flush=True,
            )
            known[size] = point
            if args.points is not None:
                save_points(args.points, known)
            shutil.rmtree(work / f"n{size}", ignore_errors=True)  # 5M events leave gigabytes behind
    finally:
        provider.close()
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)
    return report(list(known.values()), args)


def report(points: list[Point], args: argparse.Namespace) -> str:
    points = sorted(points, key=lambda p: p.events)
    section = render(points, args.partitions)
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
