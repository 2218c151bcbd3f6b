"""Our ingest + build jobs vs a plain PySpark script and vs hand-written DuckDB SQL (the anchor).

    .venv/bin/python bench/bench_pipeline.py                      # MovieLens (the demo's input)
    .venv/bin/python bench/bench_pipeline.py --source synthetic --events 1000000 --days 30
    .venv/bin/python bench/bench_pipeline.py --layouts       # bronze partition layouts (printed only)

*Ours*: ``ingest_events`` (``initial_load``) then ``build_recommendations`` through
``sparkjobs.executor`` (config layers, validation, quarantine with reasons, deduplication,
per-date idempotent writes, quality checks, metrics and run reports).
*Plain*: what a hand-written script does for the same result: ``DROPMALFORMED`` CSV read (bad rows
vanish uncounted), ``dropDuplicates``-style dedupe, full-table overwrites, the same recommender
written inline; no config, no checks, no reports.

*DuckDB*: the single-machine anchor (``anchor_duckdb.py``): the same bronze + gold from the same
raw files in hand-written SQL, checked row for row against ours (every table) — the limit every
engine is measured against (``--no-anchor`` leaves it out).

Ours and plain use the same SparkSession and settings; after one untimed warm-up run of each, the
three alternate ``--repeat`` times. The gold recommendations of ours and plain are compared row for
row. The result is written into docs/benchmarks.md between the ``data-pipeline`` markers (the rest
of the file is left alone); ``--no-write`` only prints it.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import yaml
from _report import DOC, machine, write_section
from anchor_duckdb import compare as compare_anchor
from anchor_duckdb import run as run_anchor

from recommendations.sample_data import write_sample
from recommendations.synthetic import SyntheticSpec
from sparkjobs.engines.session import SessionProvider
from sparkjobs.executor import RunRequest, execute, prepare
from sparkjobs.observability.export import safe_name
from sparkjobs.spark.settings import SparkSettings

START, END = "<!-- data-pipeline:start -->", "<!-- data-pipeline:end -->"
MODEL = {
    "positive_rating": 4.0,
    "min_cooccurrence": 2,
    "max_items_per_user": 200,
    "top_k": 50,
    "top_n": 20,
    "min_user_positives": 1,
    "popular_pool": 1000,
}


@dataclass
class Timings:
    ingest: list[float] = field(default_factory=list)
    build: list[float] = field(default_factory=list)
    quality: list[float] = field(default_factory=list)
    #: per run: phase name → seconds (ours only, from the run reports)
    phases: list[dict[str, float]] = field(default_factory=list)

    def total(self) -> list[float]:
        return [a + b for a, b in zip(self.ingest, self.build, strict=True)]


# -- ours -------------------------------------------------------------------------------------------
def write_conf(work: Path, window_days: int, shuffle_partitions: int) -> Path:
    conf = work / "conf"
    (conf / "base").mkdir(parents=True, exist_ok=True)
    lake = work / "ours"
    settings = {
        "spark": {"shuffle_partitions": shuffle_partitions},
        "observability": {"runs_dir": str(work / "runs")},
        "jobs": {
            "ingest_events": {
                "raw_path": str(work / "raw" / "events"),
                "bronze_path": str(lake / "bronze"),
                "quarantine_path": str(lake / "quarantine"),
            },
            "build_recommendations": {
                "bronze_path": str(lake / "bronze"),
                "catalog_path": str(work / "raw" / "catalog" / "movies.csv"),
                "silver_path": str(lake / "silver"),
                "gold_path": str(lake / "gold"),
                "catalog_quarantine_path": str(lake / "quarantine_catalog"),
                "window_days": window_days,
                "model": "item_knn",  # the plain script below is item-kNN
                "params": MODEL,
            },
        },
    }
    (conf / "base" / "bench.yml").write_text(yaml.safe_dump(settings))
    return conf


def ours(
    conf: Path,
    day: date,
    provider: SessionProvider,
    checks: list[float],
    phases: dict[str, float] | None = None,
    engine: str = "spark",
) -> tuple[float, float]:
    """Run both jobs on ``engine`` (explicit: ``auto`` would put these inputs on DuckDB); appends the
    seconds their quality phases took (from the run reports) to ``checks`` and, into ``phases``, each
    ``job.phase`` with its seconds."""
    times = []
    quality = 0.0
    for job, params in (("ingest_events", ["mode=initial_load"]), ("build_recommendations", [])):
        request = RunRequest(
            job=job, conf_dir=conf, event_date=day, params=params, session=provider, engine=engine
        )
        prepared = prepare(request, {})
        started = time.perf_counter()
        execute(prepared)
        times.append(time.perf_counter() - started)
        report = (
            prepared.context.settings.observability.runs_dir / f"{safe_name(prepared.context.run_id)}.json"
        )
        run_phases = json.loads(report.read_text())["phases"]
        quality += sum(p["duration_s"] for p in run_phases if p["name"] == "quality")
        if phases is not None:
            for p in run_phases:
                key = f"{job.split('_')[0]}.{p['name']}"
                phases[key] = phases.get(key, 0.0) + float(p["duration_s"])
    checks.append(quality)
    return times[0], times[1]


# -- plain ------------------------------------------------------------------------------------------
def plain(spark: Any, work: Path, day: date, window_days: int) -> tuple[float, float]:
    """The same pipeline the way an ad-hoc script would write it."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    out = work / "plain"
    started = time.perf_counter()
    events = (
        spark.read.schema("user_id int, item_id int, rating double, timestamp long")
        .option("header", True)
        .option("mode", "DROPMALFORMED")
        .csv(str(work / "raw" / "events"))
        .filter(F.col("event_date") <= F.lit(day))
        .dropna()
        .filter(F.col("rating").between(0.5, 5.0))
    )
    bronze = events.groupBy("user_id", "item_id", "rating", "timestamp").agg(
        F.min("event_date").alias("event_date")
    )
    bronze.withColumn("event_month", F.date_format("event_date", "yyyy-MM")).write.mode(
        "overwrite"
    ).partitionBy("event_month").parquet(str(out / "bronze"))
    ingest = time.perf_counter() - started

    started = time.perf_counter()
    latest = (
        spark.read.parquet(str(out / "bronze"))
        .withColumn(
            "n",
            F.row_number().over(
                Window.partitionBy("user_id", "item_id").orderBy(
                    F.col("timestamp").desc(), F.col("event_date").desc()
                )
            ),
        )
        .filter("n = 1")
        .drop("n")
    )
    catalog = (
        spark.read.schema("item_id int, title string, year int, genres string")
        .option("header", True)
        .option("escape", '"')
        .csv(str(work / "raw" / "catalog" / "movies.csv"))
        .dropna(subset=["item_id"])
        .dropDuplicates(["item_id"])
    )
    silver = latest.join(catalog, "item_id")
    silver.write.mode("overwrite").parquet(str(out / "silver"))
    silver = spark.read.parquet(str(out / "silver"))
    start = F.date_sub(F.lit(day), window_days - 1)
    window = silver.filter((F.col("event_date") >= start) & (F.col("event_date") <= F.lit(day)))
    liked = window.filter(F.col("rating") >= MODEL["positive_rating"]).select(
        "user_id", "item_id", "timestamp"
    )
    recent = liked.withColumn(
        "n",
        F.row_number().over(
            Window.partitionBy("user_id").orderBy(F.col("timestamp").desc(), F.col("item_id").desc())
        ),
    ).filter(F.col("n") <= MODEL["max_items_per_user"])
    likes = recent.groupBy("item_id").agg(F.count("*").alias("likes"))
    lists = recent.groupBy("user_id").agg(F.array_sort(F.collect_set("item_id")).alias("items"))
    pairs = (
        lists.select(
            F.explode(
                F.expr(
                    "flatten(transform(items, (a, i) -> transform(slice(items, i + 2, size(items)), "
                    "b -> named_struct('a', a, 'b', b))))"
                )
            ).alias("p")
        )
        .groupBy("p.a", "p.b")
        .count()
        .filter(F.col("count") >= MODEL["min_cooccurrence"])
    )
    la = likes.select(F.col("item_id").alias("a"), F.col("likes").alias("la"))
    lb = likes.select(F.col("item_id").alias("b"), F.col("likes").alias("lb"))
    scored = (
        pairs.join(la, "a")
        .join(lb, "b")
        .withColumn("score", F.col("count") / F.sqrt(F.col("la") * F.col("lb")))
    )
    both = scored.select(
        F.col("a").alias("item_id"), F.col("b").alias("similar_item_id"), "score"
    ).unionByName(scored.select(F.col("b").alias("item_id"), F.col("a").alias("similar_item_id"), "score"))
    similar = (
        both.withColumn(
            "rank",
            F.row_number().over(
                Window.partitionBy("item_id").orderBy(F.col("score").desc(), "similar_item_id")
            ),
        )
        .filter(F.col("rank") <= MODEL["top_k"])
        .cache()
    )
    popular = (
        liked.groupBy("item_id")
        .agg(F.countDistinct("user_id").cast("double").alias("score"))
        .withColumn("rank", F.row_number().over(Window.orderBy(F.col("score").desc(), "item_id")))
        .filter(F.col("rank") <= MODEL["popular_pool"])
        .cache()
    )
    users = window.select("user_id").distinct()
    rated = silver.select("user_id", "item_id")
    seeds = liked.select("user_id", "item_id").distinct()
    knn = (
        seeds.join(
            similar.select("item_id", F.col("similar_item_id").alias("cand"), F.col("score").alias("s")),
            "item_id",
        )
        .groupBy("user_id", F.col("cand").alias("item_id"))
        .agg(F.sum("s").alias("score"))
        .join(rated, ["user_id", "item_id"], "left_anti")
        .withColumn("prio", F.lit(0))
        .withColumn("pop_rank", F.lit(None).cast("int"))
    )
    fill = (
        users.crossJoin(popular.select("item_id", F.col("score"), F.col("rank").alias("pop_rank")))
        .join(rated, ["user_id", "item_id"], "left_anti")
        .join(knn.select("user_id", "item_id"), ["user_id", "item_id"], "left_anti")
        .withColumn("prio", F.lit(1))
    )
    # knn rows first by summed similarity, then the popular fill by popularity rank
    order = Window.partitionBy("user_id").orderBy(
        "prio", F.when(F.col("prio") == 0, -F.col("score")), "pop_rank", "item_id"
    )
    recs = (
        knn.unionByName(fill)
        .withColumn("rank", F.row_number().over(order))
        .filter(F.col("rank") <= MODEL["top_n"])
        .withColumn("source", F.when(F.col("prio") == 0, "item_knn").otherwise("popular"))
    )
    gold = out / "gold"
    snap = f"snapshot_date={day.isoformat()}"
    catalog.write.mode("overwrite").parquet(str(gold / "items" / snap))
    popular.write.mode("overwrite").parquet(str(gold / "popular_items" / snap))
    similar.write.mode("overwrite").parquet(str(gold / "similar_items" / snap))
    recs.select("user_id", "item_id", "score", "rank", "source").write.mode("overwrite").parquet(
        str(gold / "recommendations" / snap)
    )
    similar.unpersist()
    popular.unpersist()
    return ingest, time.perf_counter() - started


def same_recommendations(spark: Any, work: Path, day: date) -> tuple[int, int, int]:
    """(rows ours, rows plain, rows that differ) on (user_id, item_id, rank, source)."""
    snap = f"snapshot_date={day.isoformat()}"
    a = spark.read.parquet(str(work / "ours" / "gold" / "recommendations" / snap)).select(
        "user_id", "item_id", "rank", "source"
    )
    b = spark.read.parquet(str(work / "plain" / "gold" / "recommendations" / snap)).select(
        "user_id", "item_id", "rank", "source"
    )
    return a.count(), b.count(), a.exceptAll(b).count() + b.exceptAll(a).count()


# -- report -----------------------------------------------------------------------------------------
def render(
    dataset: str,
    ours_t: Timings,
    plain_t: Timings,
    check: tuple[int, int, int],
    repeat: int,
    anchor_t: Timings | None = None,
    anchor_check: dict[str, tuple[int, int, int]] | None = None,
) -> str:
    med = statistics.median
    rows = []
    anchor_head = " DuckDB SQL (anchor) | ours / DuckDB |" if anchor_t else ""
    for step, a, b, c in (
        ("ingest (initial load)", ours_t.ingest, plain_t.ingest, anchor_t.ingest if anchor_t else []),
        ("build (silver + gold)", ours_t.build, plain_t.build, anchor_t.build if anchor_t else []),
        ("ingest + build", ours_t.total(), plain_t.total(), anchor_t.total() if anchor_t else []),
    ):
        row = (
            f"| {step} | {med(a):.1f} s (best {min(a):.1f}) | {med(b):.1f} s (best {min(b):.1f}) | "
            f"**{med(a) / med(b):.2f}x** (best {min(a) / min(b):.2f}x) |"
        )
        if c:
            ratio = f"**{med(a) / med(c):.1f}x** (best {min(a) / min(c):.1f}x)"
            row += f" {med(c):.1f} s (best {min(c):.1f}) | {ratio} |"
        rows.append(row)
    ours_rows, plain_rows, differ = check
    phase_lines: list[str] = []
    if ours_t.phases:
        names = list(ours_t.phases[0])
        cells = ", ".join(f"{n} {med([p.get(n, 0.0) for p in ours_t.phases]):.1f} s" for n in names)
        phase_lines = ["", f"Our phases (median, from the run reports): {cells}."]
    anchor_lines: list[str] = []
    if anchor_check:
        same = all(d == 0 and a == b for a, b, d in anchor_check.values())
        detail = "; ".join(f"{t} {a:,}/{b:,} rows, {d:,} differ" for t, (a, b, d) in anchor_check.items())
        anchor_lines = [
            "",
            f"Anchor check (ours/DuckDB rows per table, scores to 1e-9): "
            f"{'identical' if same else 'DIFFERENT'} — {detail}.",
        ]
    return "\n".join(
        [
            START,
            "## Data pipeline: our jobs vs a plain PySpark script vs hand-written DuckDB SQL",
            "",
            f"Measured by `bench/bench_pipeline.py` on {time.strftime('%Y-%m-%d')}: {machine(memory=False)}; "
            f"Spark local[2], one SparkSession for ours and plain; DuckDB with 2 threads; {dataset}; median "
            f"and best of {repeat} runs after one warm-up run each, alternating (load average "
            f"{os.getloadavg()[0]:.1f} at the end: other work shared the machine).",
            "",
            "| step | ours (sparkjobs jobs) | plain PySpark script | ours / plain |" + anchor_head,
            "|---|---:|---:|---:|" + ("---:|---:|" if anchor_t else ""),
            *rows,
            *phase_lines,
            "",
            f"Result check: ours wrote {ours_rows:,} recommendations, the script {plain_rows:,}; "
            f"{differ:,} rows differ on (user, item, rank, source) (the script breaks ties between equal kNN "
            "scores by item id only, ours and the anchor first by popularity rank). Of our time, the quality "
            f"checks on bronze and the four gold tables took {med(ours_t.quality):.1f} s (median).",
            *anchor_lines,
            "",
            "A ratio above 1 is what the framework costs. The script reads with `DROPMALFORMED` (bad rows",
            "disappear uncounted), overwrites whole tables (a rerun for one date rewrites history; a killed",
            "run loses it), and checks nothing. Ours counts and quarantines bad rows with reasons, replaces",
            "only the rows of the dates it owns, runs quality checks on bronze and every gold table before",
            "publishing, and writes metrics and a run report. The DuckDB anchor does all of our checks and",
            "produces the same tables, in one process without a JVM: the distance to it is what Spark's",
            "machinery (JVM, task scheduling, shuffles through files) costs on one machine.",
            END,
        ]
    )


def ours_outputs(work: Path, day: date) -> dict[str, str]:
    """Our tables as Parquet globs, for :func:`anchor_duckdb.compare`."""
    lake, snap = work / "ours", f"snapshot_date={day.isoformat()}"
    globs = {"bronze": f"{lake}/bronze/*/*.parquet", "silver": f"{lake}/silver/interactions/{snap}/*.parquet"}
    for table in ("items", "popular_items", "similar_items", "recommendations"):
        globs[table] = f"{lake}/gold/{table}/{snap}/*.parquet"
    return globs


def layouts(work: Path, provider: SessionProvider, day: date) -> str:
    """Bronze as day/month/year partitions: initial load, reading it back, rerunning the last day."""
    spark = provider.get()
    lines = [
        "| bronze layout | partitions | initial load (ingest_events) | read back (count + group by) | "
        "rerun of the last day |",
        "|---|---:|---:|---:|---:|",
    ]
    conf = write_conf(work, 8000, 4)
    for granularity in ("day", "month", "year"):
        bronze = work / f"bronze_{granularity}"
        params = [
            f"partition_granularity={granularity}",
            f"bronze_path={bronze}",
            f"quarantine_path={work / f'quarantine_{granularity}'}",
            "max_rejected_ratio=0.5",  # the sample's last days carry its malformed lines
            "mode=initial_load",
        ]
        timings = []
        for run_params in (params, params[:-1]):
            request = RunRequest(
                job="ingest_events",
                conf_dir=conf,
                event_date=day,
                params=run_params,
                session=provider,
                engine="spark",
            )
            prepared = prepare(request, {})
            started = time.perf_counter()
            result = execute(prepared)
            timings.append(time.perf_counter() - started)
            if run_params is params:
                partitions = result["bronze_partitions_written"]
                started = time.perf_counter()
                df = spark.read.parquet(str(bronze))
                df.count()
                df.groupBy("user_id").count().count()
                read = time.perf_counter() - started
        lines.append(
            f"| {granularity} | {partitions:,} | {timings[0]:.1f} s | {read:.1f} s | {timings[1]:.1f} s |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> str:
    """Run the benchmark; returns the Markdown section (also written unless ``--no-write``)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", choices=["movielens", "synthetic"], default="movielens")
    parser.add_argument("--events", type=int, default=1_000_000, help="synthetic: events")
    parser.add_argument("--users", type=int, default=20_000, help="synthetic: users")
    parser.add_argument("--items", type=int, default=10_000, help="synthetic: items")
    parser.add_argument("--days", type=int, default=30, help="synthetic: days")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--partitions", type=int, default=4, help="spark.sql.shuffle.partitions")
    parser.add_argument("--workdir", type=Path, default=None, help="default: a temporary directory")
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/benchmarks.md alone")
    parser.add_argument(
        "--layouts", action="store_true", help="compare bronze partition layouts (prints only)"
    )
    parser.add_argument("--no-anchor", action="store_true", help="leave out the DuckDB SQL anchor")
    args = parser.parse_args(argv)

    work = args.workdir or Path(tempfile.mkdtemp(prefix="bench_pipeline_"))
    day = date(2016, 10, 16)
    if args.source == "movielens":
        summary = write_sample(work / "raw", resend_fraction=0.01, malformed=10, force=True)
        dataset = (
            f"MovieLens: {summary.raw_rows:,} raw rows in {summary.deliveries:,} daily files "
            "(1% re-sent, 10 malformed), window = all history"
        )
        window_days = 8000
    else:
        spec = SyntheticSpec(
            events=args.events, users=args.users, items=args.items, days=args.days, end_date=day
        )
        summary = write_sample(work / "raw", source="synthetic", spec=spec, resend_fraction=0.01, force=True)
        dataset = (
            f"synthetic: {summary.raw_rows:,} raw rows, {args.users:,} users, {args.items:,} items in "
            f"{summary.deliveries} daily files, window = {args.days} days"
        )
        window_days = args.days
    conf = write_conf(work, window_days, args.partitions)
    settings = SparkSettings(
        master="local[2]",
        shuffle_partitions=args.partitions,
        conf={
            "spark.sql.files.openCostInBytes": "65536",
            "spark.sql.adaptive.autoBroadcastJoinThreshold": "10485760",
            "spark.ui.showConsoleProgress": "false",
        },
    )
    provider = SessionProvider(settings, app_suffix="bench_pipeline")
    spark = provider.get()
    if args.layouts:
        try:
            text = layouts(work, provider, day)
            print(text)
        finally:
            provider.close()
            if args.workdir is None:
                shutil.rmtree(work, ignore_errors=True)
        return text
    ours_t, plain_t, anchor_t = Timings(), Timings(), Timings()
    engines = ["ours", "plain"] if args.no_anchor else ["ours", "plain", "duckdb"]
    anchor_check = None
    try:
        for i in range(args.repeat + 1):
            for name in engines[i % len(engines) :] + engines[: i % len(engines)]:
                if name == "ours":
                    checks: list[float] = []
                    phases: dict[str, float] = {}
                    ingest, build = ours(conf, day, provider, checks, phases)
                    target = ours_t
                    if i > 0:
                        ours_t.quality.extend(checks)
                        ours_t.phases.append(phases)
                elif name == "duckdb":
                    shutil.rmtree(work / "duckdb", ignore_errors=True)
                    done = run_anchor(work / "raw", work / "duckdb", day, window_days, MODEL)
                    ingest, build = done["ingest_s"], done["build_s"]
                    target = anchor_t
                else:
                    shutil.rmtree(work / "plain", ignore_errors=True)
                    ingest, build = plain(spark, work, day, window_days)
                    target = plain_t
                print(f"run {i} {name}: ingest {ingest:.1f}s build {build:.1f}s", flush=True)
                if i > 0:  # run 0 warms both up
                    target.ingest.append(ingest)
                    target.build.append(build)
        check = same_recommendations(spark, work, day)
        if not args.no_anchor:
            anchor_check = compare_anchor(ours_outputs(work, day), work / "duckdb", day)
    finally:
        provider.close()
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)
    section = render(
        dataset, ours_t, plain_t, check, args.repeat, None if args.no_anchor else anchor_t, anchor_check
    )
    print(section)
    if not args.no_write:
        write_section(section, START, END)
        print(f"written to {DOC}")
    return section


if __name__ == "__main__":
    main()
