"""The reference pipeline (ingest + build) on three engines, same input, same top-N checked.

    python bench/bench_engines.py                                  # MovieLens sample
    python bench/bench_engines.py --source synthetic --events 1000000
    python bench/bench_engines.py --engines duckdb,sql --no-write  # skip Spark, print only

- ``spark``: our jobs on Spark ``local[2]`` (session start reported apart);
- ``duckdb``: the same jobs on our DuckDB engine (SQLFrame, in-process);
- ``sql``: hand-written DuckDB SQL doing the same work (CSV read with rejects, dedupe, latest
  rating per user and item, item-item cosine top-k, popularity, top-N with popular fill-up): the
  single-machine limit our DuckDB engine is measured against.

Every engine's top-N (user, item, rank) must equal the others'; a mismatch fails the run. The
result goes into its own section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pyarrow.dataset as ds
from _report import machine, write_section

from recommendations.model import ModelParams
from recommendations.sample_data import write_sample
from recommendations.synthetic import SyntheticSpec
from sparkjobs.engines.session import SessionProvider
from sparkjobs.engines.settings import DuckDBSettings
from sparkjobs.executor import RunRequest, execute, prepare
from sparkjobs.spark.settings import SparkSettings

START, END = "<!-- engines:start -->", "<!-- engines:end -->"
DAY = date(2016, 10, 16)
WINDOW_DAYS = 8000  # the whole history, as in conf/demo


def run_ours(engine: str, raw: Path, lake: Path) -> dict[str, float]:
    spark = SparkSettings(master="local[2]", shuffle_partitions=4, driver_memory="2g")
    provider = SessionProvider(spark, app_suffix="bench_engines", duckdb=DuckDBSettings(threads=2))
    (lake / "conf").mkdir(parents=True, exist_ok=True)
    times: dict[str, float] = {}
    try:
        t0 = time.perf_counter()
        provider.get(engine)
        times["session"] = time.perf_counter() - t0
        steps = {
            "ingest": ("ingest_events", ["mode=initial_load", f"raw_path={raw}/events",
                                         f"quarantine_path={lake}/quarantine/events"]),
            "build": ("build_recommendations", [f"catalog_path={raw}/catalog/movies.csv",
                                                f"silver_path={lake}/silver", f"gold_path={lake}/gold",
                                                f"catalog_quarantine_path={lake}/quarantine/catalog",
                                                f"window_days={WINDOW_DAYS}"]),
        }  # fmt: skip
        for label, (job, params) in steps.items():
            request = RunRequest(
                job=job,
                conf_dir=lake / "conf",
                event_date=DAY,
                params=[f"bronze_path={lake}/bronze/events", *params],
                engine=engine,
                session=provider,
            )
            t0 = time.perf_counter()
            execute(prepare(request))
            times[label] = time.perf_counter() - t0
    finally:
        provider.close()
    return times


def top_n_of_lake(lake: Path) -> set[tuple[int, int, int]]:
    table = ds.dataset(
        str(lake / "gold" / "recommendations"), format="parquet", partitioning="hive"
    ).to_table()
    return {(r["user_id"], r["item_id"], r["rank"]) for r in table.to_pylist()}


def run_sql(raw: Path, p: ModelParams) -> tuple[dict[str, float], set[tuple[int, int, int]]]:
    """The same work as hand-written DuckDB SQL (the model's rules, see recommendations/model.py)."""
    conn = duckdb.connect(config={"threads": 2})
    t0 = time.perf_counter()
    conn.execute(f"""
        CREATE TABLE raw AS SELECT * FROM read_csv('{raw}/events/*/*.csv',
            columns = {{'user_id': 'VARCHAR', 'item_id': 'VARCHAR', 'rating': 'VARCHAR',
                        'timestamp': 'VARCHAR'}},
            header = true, auto_detect = false, delim = ',', quote = '"', escape = '"', filename = true,
            store_rejects = true);
        CREATE TABLE bronze AS
        SELECT user_id, item_id, rating, timestamp, min(event_date) AS event_date FROM (
            SELECT TRY_CAST(trim(user_id) AS INTEGER) AS user_id,
                   TRY_CAST(trim(item_id) AS INTEGER) AS item_id,
                   TRY_CAST(trim(rating) AS DOUBLE) AS rating,
                   TRY_CAST(trim(timestamp) AS BIGINT) AS timestamp,
                   CAST(regexp_extract(filename, 'event_date=([^/]+)/', 1) AS DATE) AS event_date
            FROM raw
            WHERE regexp_full_match(trim(user_id), '[+-]?[0-9]+')
              AND regexp_full_match(trim(item_id), '[+-]?[0-9]+')
              AND regexp_full_match(trim(timestamp), '[+-]?[0-9]+')
        ) WHERE user_id >= 1 AND item_id >= 1 AND rating BETWEEN 0.5 AND 5.0 AND isfinite(rating)
              AND timestamp BETWEEN 0 AND 4102444800
        GROUP BY ALL;
    """)  # fmt: skip
    ingest = time.perf_counter() - t0
    t0 = time.perf_counter()
    rows = conn.execute(f"""
        WITH silver AS (
            SELECT * FROM bronze WHERE event_date <= DATE '{DAY}'
            QUALIFY row_number() OVER (PARTITION BY user_id, item_id
                                       ORDER BY timestamp DESC, event_date DESC, rating DESC) = 1
        ), window_rows AS (SELECT * FROM silver WHERE event_date > DATE '{DAY}' - INTERVAL {WINDOW_DAYS} DAY),
        liked AS (SELECT user_id, item_id, timestamp FROM window_rows WHERE rating >= {p.positive_rating}),
        recent AS (
            SELECT user_id, item_id FROM liked
            QUALIFY row_number() OVER (PARTITION BY user_id ORDER BY timestamp DESC, item_id DESC)
                    <= {p.max_items_per_user}
        ),
        likes AS (SELECT item_id, count(*) AS n FROM recent GROUP BY item_id),
        pairs AS (
            SELECT a.item_id AS item_a, b.item_id AS item_b, count(*) AS cooc
            FROM recent a JOIN recent b ON a.user_id = b.user_id AND a.item_id < b.item_id
            GROUP BY ALL HAVING count(*) >= {p.min_cooccurrence}
        ),
        scored AS (
            SELECT item_a, item_b, cooc / sqrt(CAST(la.n AS DOUBLE) * lb.n) AS score FROM pairs
            JOIN likes la ON la.item_id = item_a JOIN likes lb ON lb.item_id = item_b
        ),
        neighbours AS (
            SELECT * FROM (SELECT item_a AS item_id, item_b AS sim, score FROM scored
                           UNION ALL SELECT item_b, item_a, score FROM scored)
            QUALIFY row_number() OVER (PARTITION BY item_id ORDER BY score DESC, sim) <= {p.top_k}
        ),
        popular AS (
            SELECT item_id, rank FROM (
                SELECT item_id, row_number() OVER (ORDER BY count(DISTINCT user_id) DESC, item_id) AS rank
                FROM liked GROUP BY item_id) WHERE rank <= {p.popular_pool}
        ),
        users AS (SELECT DISTINCT user_id FROM window_rows),
        seeds AS (
            SELECT DISTINCT user_id, item_id FROM liked
            QUALIFY count(*) OVER (PARTITION BY user_id) >= {p.min_user_positives}
        ),
        knn AS (
            SELECT s.user_id, m.sim AS item_id, list_sum(list_sort(list(m.score))) AS similarity
            FROM seeds s JOIN neighbours m USING (item_id) GROUP BY ALL
        ),
        candidates AS (
            SELECT u.user_id, p.item_id, k.similarity, p.rank AS pop_rank
            FROM users u CROSS JOIN popular p
            LEFT JOIN knn k ON k.user_id = u.user_id AND k.item_id = p.item_id
            UNION ALL
            SELECT k.user_id, k.item_id, k.similarity, p.rank FROM knn k LEFT JOIN popular p USING (item_id)
            WHERE p.item_id IS NULL
        )
        SELECT user_id, item_id, rank FROM (
            SELECT c.user_id, c.item_id, row_number() OVER (PARTITION BY c.user_id
                ORDER BY c.similarity IS NOT NULL DESC, c.similarity DESC, c.pop_rank, c.item_id) AS rank
            FROM candidates c ANTI JOIN silver r ON r.user_id = c.user_id AND r.item_id = c.item_id
        ) WHERE rank <= {p.top_n}
    """).fetchall()  # fmt: skip
    build = time.perf_counter() - t0
    return {"session": 0.0, "ingest": ingest, "build": build}, {tuple(r) for r in rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", choices=["movielens", "synthetic"], default="movielens")
    parser.add_argument("--events", type=int, default=1_000_000, help="synthetic events")
    parser.add_argument("--engines", default="spark,duckdb,sql")
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/benchmarks.md")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench_engines_"))
    try:
        spec = None
        if args.source == "synthetic":
            spec = SyntheticSpec(events=args.events, users=max(1000, args.events // 100),
                                 items=max(2000, args.events // 50), days=30, end_date=DAY)  # fmt: skip
        summary = write_sample(
            work / "raw", source=args.source, spec=spec, resend_fraction=0.01, malformed=10
        )
        label = f"{args.source} ({summary.events:,} events, {summary.deliveries:,} daily files)"
        results: dict[str, dict[str, float]] = {}
        tops: dict[str, set[tuple[int, int, int]]] = {}
        for engine in args.engines.split(","):
            if engine == "sql":
                results[engine], tops[engine] = run_sql(work / "raw", ModelParams())
            else:
                lake = work / f"lake-{engine}"
                results[engine] = run_ours(engine, work / "raw", lake)
                tops[engine] = top_n_of_lake(lake)
            print(engine, {k: round(v, 2) for k, v in results[engine].items()}, len(tops[engine]), flush=True)
        reference = next(iter(tops.values()))
        same = {engine: top == reference for engine, top in tops.items()}
        lines = _table(label, results, same)
        print("\n".join(lines))
        if not all(same.values()):
            raise SystemExit(f"top-N differ between engines: {same}")
        if not args.no_write:
            write_section("\n".join([START, *lines, END]), START, END)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _table(label: str, results: dict[str, dict[str, float]], same: dict[str, bool]) -> list[str]:
    names = {
        "spark": "our jobs on Spark local[2]",
        "duckdb": "our jobs on DuckDB (SQLFrame)",
        "sql": "hand-written DuckDB SQL",
    }
    out: list[Any] = [
        f"## Engines: the reference pipeline on Spark, our DuckDB engine and hand-written SQL ({label})",
        "",
        f"`python bench/bench_engines.py` on {machine()}. Seconds; ingest = raw CSV → bronze (quarantine,",
        "dedupe), build = silver + gold (item-kNN, popular, top-20). Same top-N on every engine: "
        + ", ".join(f"{e} {'yes' if ok else 'NO'}" for e, ok in same.items()) + ".",
        "",
        "| engine | session start | ingest | build | ingest + build |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]  # fmt: skip
    for engine, t in results.items():
        cells = [t["session"], t["ingest"], t["build"], t["ingest"] + t["build"]]
        out.append(f"| {names.get(engine, engine)} | " + " | ".join(f"{c:.1f}" for c in cells) + " |")
    return out


if __name__ == "__main__":
    main()
