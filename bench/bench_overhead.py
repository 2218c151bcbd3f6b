"""What the production habits cost: tracing off vs no instrumentation, spans on, end-of-run export,
and quality checks in one pass vs one Spark action per check — all in the same run.

    .venv/bin/python bench/bench_overhead.py               # Python-side numbers only (seconds)
    .venv/bin/python bench/bench_overhead.py --spark       # also quality: one pass vs one action per check
    .venv/bin/python bench/bench_overhead.py --spark --rows 2000000 --repeat 3

Prints a Markdown table; docs/production.md quotes it.
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

from sparkjobs import AbstractJob, AbstractJobFactory, JobContext
from sparkjobs.observability.settings import ObservabilitySettings
from sparkjobs.observability.tracing import Tracing
from sparkjobs.settings import Settings


def per_call_ns(fn: Callable[[], Any], n: int, repeat: int) -> float:
    """Median over ``repeat`` rounds of the mean ns per call of ``fn``."""
    rounds = []
    for _ in range(repeat):
        t0 = time.perf_counter_ns()
        for _ in range(n):
            fn()
        rounds.append((time.perf_counter_ns() - t0) / n)
    return statistics.median(rounds)


WORK = list(range(50))


def unit_of_work() -> int:
    return sum(WORK)


class NoopJob(AbstractJob):
    def __init__(self, context: JobContext, phases: bool) -> None:
        self.context, self.phases = context, phases

    def execute_job(self, **kwargs: Any) -> int:
        if not self.phases:
            return unit_of_work()
        with self.context.phase("extract"):
            unit_of_work()
        with self.context.phase("transform"):
            unit_of_work()
        with self.context.phase("load"):
            return unit_of_work()

    def on_success(self, result: Any) -> None:
        return None

    def on_failure(self, error_message: str) -> None:
        return None


class NoopFactory(AbstractJobFactory[Any]):
    job_name = "bench_noop"
    phases = True

    def create_job(self, **kwargs: Any) -> NoopJob:
        return NoopJob(self.context, self.phases)


def job_run_ms(runs_dir: Path, *, export: bool, tracing: Tracing | None, phases: bool, n: int) -> float:
    settings = Settings(
        observability=ObservabilitySettings(runs_dir=runs_dir, write_textfile=export, write_report=export)
    )
    factory = NoopFactory()
    factory.phases = phases  # type: ignore[misc]
    times = []
    for i in range(n):
        ctx = JobContext(
            job_name="bench_noop",
            run_id=f"bench-{i}",
            has_spark=False,
            event_date=date(2024, 1, 1),
            settings=settings,
            tracing=tracing,
        )
        t0 = time.perf_counter()
        factory.run(context=ctx)
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000


def python_side(repeat: int) -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    n = 200_000
    off = Tracing.disabled()
    on, exporter = Tracing.in_memory()

    def bare() -> int:
        return unit_of_work()

    def span_off() -> int:
        with off.span("phase x"):
            return unit_of_work()

    def span_on() -> int:
        with on.span("phase x"):
            return unit_of_work()

    base = per_call_ns(bare, n, repeat)
    rows.append(("unit of work alone (sum of 50 ints)", f"{base:.0f} ns"))
    rows.append(("+ `Tracing.span` with tracing off", f"+{per_call_ns(span_off, n, repeat) - base:.0f} ns"))
    exporter.clear()
    on_ns = per_call_ns(span_on, n // 10, repeat)
    exporter.clear()
    rows.append(("+ `Tracing.span` with tracing on (in-memory exporter)", f"+{(on_ns - base) / 1000:.1f} µs"))

    settings = Settings(observability=ObservabilitySettings(write_textfile=False, write_report=False))
    ctx = JobContext(job_name="b", run_id="b", has_spark=False, settings=settings)

    def phase_off() -> int:
        with ctx.phase("x"):
            return unit_of_work()

    logging.getLogger("sparkjobs").setLevel(logging.WARNING)  # phase logs are INFO: measure without I/O
    rows.append(
        (
            "+ `context.phase` (timer, metric, report entry; tracing off)",
            f"+{(per_call_ns(phase_off, n // 10, repeat) - base) / 1000:.1f} µs",
        )
    )
    ctx.observer.phases.clear()

    with tempfile.TemporaryDirectory() as tmp:
        runs = Path(tmp)
        k = 200
        bare_run = job_run_ms(runs, export=False, tracing=None, phases=False, n=k)
        rows.append(("whole `factory.run` of a no-op job, no phases, export off", f"{bare_run:.2f} ms"))
        rows.append(
            (
                "… with 3 phases, tracing off",
                f"{job_run_ms(runs, export=False, tracing=None, phases=True, n=k):.2f} ms",
            )
        )
        rows.append(
            (
                "… with 3 phases, tracing on (in-memory)",
                f"{job_run_ms(runs, export=False, tracing=on, phases=True, n=k):.2f} ms",
            )
        )
        rows.append(
            (
                "… with 3 phases, textfile + JSON report written",
                f"{job_run_ms(runs, export=True, tracing=None, phases=True, n=k):.2f} ms",
            )
        )
    return rows


def spark_side(rows_n: int, repeat: int) -> list[tuple[str, str]]:
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    from pyspark.sql import functions as F

    from sparkjobs.quality import run_checks
    from sparkjobs.spark.session import build_session
    from sparkjobs.spark.settings import SparkSettings

    spark, _ = build_session(
        SparkSettings(app_name="bench-overhead", master="local[2]", shuffle_partitions=4, ui_enabled=False)
    )
    df = spark.range(rows_n).select(
        (F.col("id") % 50_000).cast("int").alias("user_id"),
        (F.col("id") % 3_000).cast("int").alias("item_id"),
        (F.col("id") % 11 / 2).alias("rating"),
        F.when(F.col("id") % 2 == 0, "item_knn").otherwise("popular").alias("source"),
        (F.lit(1_700_000_000) + F.col("id") % 86_400).alias("ts"),
    )
    path = tempfile.mkdtemp(prefix="bench-quality-")
    df.write.mode("overwrite").parquet(path)
    data = spark.read.parquet(path)
    checks = [
        {"check": "not_null", "columns": ["user_id", "item_id", "rating"]},
        {"check": "unique", "columns": ["user_id", "item_id", "ts"]},
        {"check": "accepted_values", "column": "source", "values": ["item_knn", "popular"]},
        {"check": "in_range", "column": "rating", "min": 0, "max": 5},
        {"check": "row_count", "min": 1},
        {"check": "freshness", "column": "ts", "max_age": "3650d"},
    ]
    logging.getLogger("sparkjobs").setLevel(logging.WARNING)
    out: list[tuple[str, str]] = []
    without_unique = [c for c in checks if c["check"] != "unique"]
    for label, chosen in (("6 checks (one `unique`)", checks), ("5 checks (no `unique`)", without_unique)):
        run_checks(data, chosen)  # warm up
        one_pass, per_check = [], []
        for _ in range(repeat):
            t0 = time.perf_counter()
            run_checks(data, chosen)
            one_pass.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            for check in chosen:
                run_checks(data, [check])  # one Spark action per check
            per_check.append(time.perf_counter() - t0)
        a, b = statistics.median(one_pass), statistics.median(per_check)
        out.append((f"{label} on {rows_n:,} Parquet rows: one aggregation pass", f"{a:.2f} s"))
        out.append((f"{label}: one Spark action per check", f"{b:.2f} s ({b / a:.1f}x the one pass)"))
    spark.stop()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--spark", action="store_true", help="also time quality checks on Spark")
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    rows = python_side(args.repeat)
    if args.spark:
        rows += spark_side(args.rows, max(1, args.repeat // 2 + 1))
    print(f"Python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} cores\n")
    print("| measured | result |\n|---|---|")
    for what, value in rows:
        print(f"| {what} | {value} |")


if __name__ == "__main__":
    main()
