"""Serving loader vs ``psql \\copy``: the same rows into the same PostgreSQL in the same run.

    .venv/bin/python bench/bench_loader.py                  # 2M numeric rows + 500k rows with text
    .venv/bin/python bench/bench_loader.py --rows 500000 --repeat 3 --no-write

DSN: ``--dsn`` or ``SPARKJOBS_BENCH_PG_DSN`` / ``SPARKJOBS_TEST_PG_DSN`` (default
``postgresql://postgres@127.0.0.1:5432/test``). Everything happens in a throw-away schema.

Measured per dataset (median of ``--repeat`` runs, the two tools alternating):

* ``psql \\copy``: ``\\copy t FROM file (FORMAT csv, HEADER)`` into an empty table without keys —
  psql start, connect and COPY, timed from outside (the CSV is written beforehand, not timed);
* ours, COPY phase: Arrow batches → COPY into the staging table (binary tuples encoded by numpy for
  all-fixed-width tables, CSV written by Arrow's C++ writer for tables with text);
* ours, whole snapshot: connect, COPY, primary key, ANALYZE, swap, metadata row, commit.

The result is written into docs/benchmarks.md between the ``serving-loader`` markers (the rest of
the file, e.g. other sections, is kept).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import psycopg
import pyarrow as pa
import pyarrow.csv as pacsv
from _report import DOC, machine, write_section

from sparkjobs.serving.stores import Column, StoreSettings, TableSpec, open_store

START, END = "<!-- serving-loader:start -->", "<!-- serving-loader:end -->"

NUMERIC = TableSpec(
    "bench_numeric",
    (
        Column("user_id", "int32"),
        Column("item_id", "int32"),
        Column("score", "float64"),
        Column("rank", "int32"),
    ),
    primary_key=("user_id", "rank"),
)
TEXT = TableSpec(
    "bench_text",
    (
        Column("item_id", "int32"),
        Column("title", "string"),
        Column("year", "int32", nullable=True),
        Column("genres", "string", nullable=True),
    ),
    primary_key=("item_id",),
)


def numeric_rows(n: int, seed: int = 7) -> pa.Table:
    """Recommendation-shaped rows: 50 ranks per user, unique (user_id, rank)."""
    rng = np.random.default_rng(seed)
    idx = np.arange(n, dtype=np.int64)
    return pa.table(
        {
            "user_id": pa.array((idx // 50).astype(np.int32)),
            "item_id": pa.array(rng.integers(1, 200_000, n, dtype=np.int32)),
            "score": pa.array(rng.random(n)),
            "rank": pa.array((idx % 50 + 1).astype(np.int32)),
        }
    )


def text_rows(n: int, seed: int = 11) -> pa.Table:
    """Catalog-shaped rows with titles (20 to 40 characters) and genres; 5% null years."""
    rng = np.random.default_rng(seed)
    words = np.array(
        ["The", "Last", "Night", "of", "Return", "Star", "River", "Blue", "Man", "City", "Dark", "Love"]
    )
    picks = rng.integers(0, len(words), (n, 4))
    titles = [" ".join(words[p]) + f" ({1950 + i % 70})" for i, p in enumerate(picks)]
    years = rng.integers(1950, 2020, n).astype(np.int32)
    genres = np.array(["Drama", "Comedy|Romance", "Action|Thriller", "Animation|Children|Comedy", "Sci-Fi"])
    return pa.table(
        {
            "item_id": pa.array(np.arange(1, n + 1, dtype=np.int32)),
            "title": pa.array(titles),
            "year": pa.array(years, mask=rng.random(n) < 0.05),
            "genres": pa.array(genres[rng.integers(0, len(genres), n)]),
        }
    )


@dataclass
class Timing:
    psql_s: list[float]
    copy_s: list[float]
    total_s: list[float]


def psql_copy(dsn: str, schema: str, spec: TableSpec, csv_path: Path) -> float:
    sql_type = {"int32": "integer", "float64": "double precision", "string": "text"}
    cols = ", ".join(f"{c.name} {sql_type[c.type]}" for c in spec.columns)
    table = f"{schema}.{spec.name}_psql"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"DROP TABLE IF EXISTS {table}")
        conn.execute(f"CREATE TABLE {table} ({cols})")
    started = time.perf_counter()
    subprocess.run(
        [
            "psql",
            dsn,
            "-v",
            "ON_ERROR_STOP=1",
            "-q",
            "-c",
            f"\\copy {table} FROM '{csv_path}' WITH (FORMAT csv, HEADER)",
        ],
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - started


def bench(dsn: str, spec: TableSpec, table: pa.Table, repeat: int) -> Timing:
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    timing = Timing([], [], [])
    try:
        with tempfile.TemporaryDirectory() as tmp:
            csv_path = Path(tmp) / f"{spec.name}.csv"
            pacsv.write_csv(table, csv_path)
            store = open_store(StoreSettings(url=dsn, db_schema=schema), [spec])
            for i in range(repeat):
                timing.psql_s.append(psql_copy(dsn, schema, spec, csv_path))
                started = time.perf_counter()
                result = store.load_snapshot(
                    {spec.name: table}, snapshot_date=date(2024, 1, 1), run_id=f"bench-{i}"
                )
                timing.total_s.append(time.perf_counter() - started)
                timing.copy_s.append(result.phases["copy"])
                assert result.snapshot.row_counts[spec.name] == table.num_rows
            store.close()
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")
    return timing


def server_version(dsn: str) -> str:
    with psycopg.connect(dsn) as conn:
        row = conn.execute("SHOW server_version").fetchone()
    return f"PostgreSQL {row[0] if row else '?'} on loopback"


def render(results: list[tuple[str, int, Timing]], dsn: str, repeat: int) -> str:
    med: Callable[[list[float]], float] = statistics.median
    lines = [
        START,
        "## Serving loader: our PostgreSQL snapshot load vs `psql \\copy`",
        "",
        f"Measured by `bench/bench_loader.py` on {time.strftime('%Y-%m-%d')}: {machine(memory=True)}; "
        f"{server_version(dsn)}; median and best of {repeat} runs, the two tools alternating on the same "
        "rows "
        f"(load average {os.getloadavg()[0]:.1f} at the end: other work shared the machine).",
        "",
        "| dataset | rows | `psql \\copy` (CSV, no key) | ours: COPY phase | ours: whole snapshot | "
        "COPY phase vs psql | whole snapshot vs psql |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, rows, t in results:
        p, c, w = med(t.psql_s), med(t.copy_s), med(t.total_s)
        bp, bc, bw = min(t.psql_s), min(t.copy_s), min(t.total_s)

        def cell(median: float, best: float, rows: int = rows) -> str:
            return f"{median:.2f} s ({rows / median / 1e6:.2f} M rows/s); best {best:.2f} s"

        lines.append(
            f"| {name} | {rows:,} | {cell(p, bp)} | {cell(c, bc)} | {cell(w, bw)} "
            f"| **{p / c:.2f}x** (best {bp / bc:.2f}x) | {p / w:.2f}x (best {bp / bw:.2f}x) |"
        )
    lines += [
        "",
        "Ratios above 1 mean ours is faster. *COPY phase* is Arrow batches → COPY into the staging table",
        "(binary tuples encoded by numpy when every column is fixed-width; CSV written by Arrow's C++ writer",
        "when a table has text). *Whole snapshot* adds what `psql \\copy` does not do: connect, primary key,",
        "`ANALYZE`, the swap and the metadata row, all in one transaction. `psql \\copy` loads a CSV",
        "(written beforehand, untimed) into a table without keys, timed from outside including psql",
        "start-up.",
        END,
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--dsn",
        default=os.environ.get("SPARKJOBS_BENCH_PG_DSN")
        or os.environ.get("SPARKJOBS_TEST_PG_DSN")
        or "postgresql://postgres@127.0.0.1:5432/test",
    )
    parser.add_argument("--rows", type=int, default=2_000_000, help="rows of the numeric dataset")
    parser.add_argument(
        "--text-rows", type=int, default=500_000, help="rows of the dataset with text columns"
    )
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/benchmarks.md alone")
    args = parser.parse_args()
    results = []
    for name, spec, table in (
        ("recommendations-like (4 numeric columns)", NUMERIC, numeric_rows(args.rows)),
        ("catalog-like (int, 2 text, nullable int)", TEXT, text_rows(args.text_rows)),
    ):
        timing = bench(args.dsn, spec, table, args.repeat)
        results.append((name, table.num_rows, timing))
        print(f"{name}: psql {timing.psql_s}, copy {timing.copy_s}, total {timing.total_s}", flush=True)
    section = render(results, args.dsn, args.repeat)
    print(section)
    if not args.no_write:
        write_section(section, START, END)
        print(f"written to {DOC}")


if __name__ == "__main__":
    main()
