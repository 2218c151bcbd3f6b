"""The reference pipeline (ingest + build) on both engines and as hand-written DuckDB SQL, same input.

    python bench/bench_engines.py                                        # MovieLens sample
    python bench/bench_engines.py --source synthetic --events 1000000
    python bench/bench_engines.py --source synthetic --events 5000000 --engines duckdb,sql
    python bench/bench_engines.py --engines duckdb,sql --no-write        # print only
    python bench/bench_engines.py --repeat 3 --warmup                   # steady state: median of 3

- ``spark``: our jobs (``ingest_events`` initial load + ``build_recommendations`` with item-kNN) on
  Spark ``local[2]``, through ``sparkjobs.executor`` (session start reported apart);
- ``duckdb``: the same jobs, same configuration, on our DuckDB engine (SQLFrame, in-process);
- ``sql``: the single-machine anchor, hand-written DuckDB SQL computing the same bronze, silver and
  gold tables from the same raw files (``anchor_duckdb.py``, two threads).

Every engine's six tables (bronze, silver, items, popular items, similar items and the top-N
recommendations) are compared row for row with the anchor's (``anchor_duckdb.compare``); a
difference fails the run before anything is written. The configuration, the model parameters and
the harness are bench_pipeline's, so the three benchmarks measure the same work. The result goes into
its own section of docs/benchmarks.md (one section per input: MovieLens, or synthetic at N events).
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

from _report import machine, write_section
from anchor_duckdb import compare, run
from bench_pipeline import MODEL, ours, ours_outputs, write_conf
from bench_scale import DAY, spark_settings, synthetic_spec

from recommendations.sample_data import write_sample
from sparkjobs.engines.session import SessionProvider
from sparkjobs.engines.settings import DuckDBSettings

MOVIELENS_WINDOW = 8000  # the whole MovieLens history, as in conf/demo
NAMES = {
    "spark": "our jobs on Spark local[2]",
    "duckdb": "our jobs on our DuckDB engine (SQLFrame)",
    "sql": "hand-written DuckDB SQL (the anchor)",
}


def markers(label: str) -> tuple[str, str]:
    return f"<!-- engines-{label}:start -->", f"<!-- engines-{label}:end -->"


class Ours:
    """Our two jobs on one engine, one session for every run (``ours`` under ``work``)."""

    def __init__(self, engine: str, raw: Path, work: Path, window: int, partitions: int) -> None:
        self.engine, self.work = engine, work
        work.mkdir(parents=True, exist_ok=True)
        (work / "raw").symlink_to(raw, target_is_directory=True)
        self.conf = write_conf(work, window, partitions)
        spark = spark_settings(partitions).model_copy(update={"driver_memory": "2g"})
        self.provider = SessionProvider(spark, app_suffix="bench_engines", duckdb=DuckDBSettings(threads=2))
        started = time.perf_counter()
        self.provider.get(engine)
        self.session = time.perf_counter() - started

    def run(self) -> dict[str, float]:
        """Session start, ingest and build seconds of one run from an empty lake."""
        shutil.rmtree(self.work / "ours", ignore_errors=True)
        ingest, build = ours(self.conf, DAY, self.provider, [], engine=self.engine)
        return {"session": self.session, "ingest": ingest, "build": build}

    def close(self) -> None:
        self.provider.close()


def median_run(runs: list[dict[str, float]]) -> dict[str, float]:
    """The run whose ingest + build is the median (its own split, not medians of the parts)."""
    ordered = sorted(runs, key=lambda r: r["ingest"] + r["build"])
    return ordered[(len(ordered) - 1) // 2]


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", choices=["movielens", "synthetic"], default="movielens")
    parser.add_argument("--events", type=int, default=1_000_000, help="synthetic events")
    parser.add_argument("--users", type=int, default=None, help="synthetic users (default: events / 50)")
    parser.add_argument("--items", type=int, default=None, help="synthetic items (default: events / 100)")
    parser.add_argument("--days", type=int, default=30, help="synthetic days (the window covers them)")
    parser.add_argument("--engines", default="spark,duckdb,sql", help="any of spark, duckdb, sql")
    parser.add_argument("--partitions", type=int, default=4, help="spark.sql.shuffle.partitions")
    parser.add_argument("--workdir", type=Path, default=None, help="default: a temporary directory")
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/benchmarks.md")
    parser.add_argument("--repeat", type=int, default=1, help="timed runs per engine (the median is shown)")
    parser.add_argument(
        "--warmup", action="store_true", help="one untimed run per engine first (imports, JIT, caches)"
    )
    args = parser.parse_args(argv)
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    unknown = sorted(set(engines) - set(NAMES))
    if unknown or not engines:
        raise SystemExit(f"--engines: expected some of {', '.join(NAMES)}, got {args.engines!r}")
    work = args.workdir or Path(tempfile.mkdtemp(prefix="bench_engines_"))
    try:
        spec, window = None, MOVIELENS_WINDOW
        if args.source == "synthetic":  # the users/items growth of bench_scale
            spec = synthetic_spec(args.events, args.days, args.users, args.items)
            window = args.days
        raw = work / "raw"
        summary = write_sample(raw, source=args.source, spec=spec, resend_fraction=0.01, malformed=10)
        label = "movielens" if args.source == "movielens" else f"synthetic-{args.events}"
        title = f"{args.source} ({summary.events:,} events, {summary.deliveries:,} daily files)"
        load_before = os.getloadavg()
        anchor = work / "anchor"

        def run_anchor() -> dict[str, float]:
            a = run(raw, anchor, DAY, window, MODEL)
            return {"session": 0.0, "ingest": a["ingest_s"], "build": a["build_s"]}

        # the anchor always runs: it is what every engine's tables are checked against
        opened = {e: Ours(e, raw, work / e, window, args.partitions) for e in engines if e != "sql"}
        runs: dict[str, list[dict[str, float]]] = {e: [] for e in ["sql", *opened]}
        try:
            if args.warmup:
                run_anchor()
                for o in opened.values():
                    o.run()
            for _ in range(max(1, args.repeat)):  # alternated, so that drift hits every engine alike
                runs["sql"].append(run_anchor())
                for engine, o in opened.items():
                    runs[engine].append(o.run())
                print({e: {k: round(v, 2) for k, v in r[-1].items()} for e, r in runs.items()}, flush=True)
        finally:
            for o in opened.values():
                o.close()
        results = {engine: median_run(r) for engine, r in runs.items()}
        agreement = {e: compare(ours_outputs(work / e, DAY), anchor, DAY) for e in opened}
        print(agreement, flush=True)
        load_after = os.getloadavg()
        if "sql" not in engines:
            results.pop("sql")
        section = render(title, label, results, agreement, load_before, load_after, args)
        print(section)
        different = {e: t for e, tables in agreement.items() for t, (_, _, d) in tables.items() if d}
        if different:
            raise SystemExit(f"tables differ from the anchor's: {different}")
        if not args.no_write:
            write_section(section, *markers(label))
        return section
    finally:
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)


def render(
    title: str,
    label: str,
    results: dict[str, dict[str, float]],
    agreement: dict[str, dict[str, tuple[int, int, int]]],
    load_before: tuple[float, float, float],
    load_after: tuple[float, float, float],
    args: argparse.Namespace,
) -> str:
    start, end = markers(label)
    command = "python bench/bench_engines.py" + (
        f" --source synthetic --events {args.events}" if args.source == "synthetic" else ""
    )
    command += (f" --repeat {args.repeat}" if args.repeat > 1 else "") + (" --warmup" if args.warmup else "")
    runs = (
        f"median of {args.repeat} runs (by ingest + build), alternated between the engines"
        if args.repeat > 1
        else "one run"
    )
    runs += (
        " after one untimed warm-up run of each (imports, JIT, file cache)"
        if args.warmup
        else ", no warm-up (first imports and a cold JIT count)"
    )
    anchor = results.get("sql")
    out = [
        start,
        f"## Engines: ours on Spark and on DuckDB vs hand-written DuckDB SQL — {title}",
        "",
        f"`{command}` on {machine()}; load average {load_before[0]:.1f} before, "
        f"{load_after[0]:.1f} after. Seconds; ingest = raw CSV → bronze (quarantine, dedupe), build = "
        f"silver + gold (item-kNN, popular, top-20); one SparkSession / DuckDB session per engine; {runs}.",
        "",
        "| engine | session start | ingest | build | ingest + build | x anchor |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for engine, t in results.items():
        total = t["ingest"] + t["build"]
        ratio = f"{total / (anchor['ingest'] + anchor['build']):.2f}x" if anchor else "—"
        cells = [f"{t['session']:.1f}", f"{t['ingest']:.1f}", f"{t['build']:.1f}", f"{total:.1f}", ratio]
        out.append(f"| {NAMES[engine]} | " + " | ".join(cells) + " |")
    out.append("")
    for engine, tables in agreement.items():
        same = all(d == 0 for _, _, d in tables.values())
        counts = ", ".join(f"{t} {n:,}" for t, (n, _, _) in tables.items())
        verdict = "identical to the anchor's" if same else "DIFFERENT from the anchor's"
        out.append(f"- {engine}: every table {verdict} ({counts} rows)")
    out.append(end)
    return "\n".join(out)


if __name__ == "__main__":
    main()
