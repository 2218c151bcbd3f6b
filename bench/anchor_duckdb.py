"""The single-machine anchor: bronze + gold of the reference pipeline as hand-written DuckDB SQL.

Reads the same raw files as ``ingest_events`` (``initial_load``) + ``build_recommendations`` and
computes the same tables with the same rules: the record checks and their reasons, exact-duplicate
removal (earliest delivery wins), the latest rating per user-item joined to the cleaned catalog,
and the item-kNN recommender with its popularity fallback (``recommendations.model``), including
the exact decimal sum of the scores and every tie-break. :func:`compare` checks, row for row, that
it produced what our Spark jobs produced — the anchor only counts when both agree.

No framework, no Spark: this is the limit a single machine sets for this work.
"""

# ruff: noqa: E501  (hand-written SQL reads better on long lines)
from __future__ import annotations

import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

#: what ``raw_event_schema()`` allows (recommendations.lake)
MAX_TIMESTAMP = 4_102_444_800
INT_MAX = 2**31 - 1


def _int(text: str) -> str:
    """SQL: ``text`` as an integer the way Spark's ``try_cast(... as int)`` reads it (else NULL)."""
    return f"CASE WHEN regexp_full_match({text}, '[+-]?[0-9]+') THEN TRY_CAST({text} AS BIGINT) END"


def _checks(fields: list[tuple[str, str, bool, float | None, float | None]]) -> tuple[str, str]:
    """(typed columns, reason expression) for ``(name, type, required, min, max)`` fields, in order."""
    typed, rules = [], []
    for name, kind, required, lo, hi in fields:
        text = f"NULLIF(trim({name}), '')"
        value = {"int": _int(text), "long": _int(text), "double": f"TRY_CAST({text} AS DOUBLE)"}.get(
            kind, text
        )
        if kind == "int":
            value = f"CASE WHEN ({value}) BETWEEN {-INT_MAX - 1} AND {INT_MAX} THEN ({value}) END"
        typed.append(f"{value} AS t_{name}")
        if required:
            rules.append(f"WHEN {text} IS NULL THEN 'missing_{name}'")
        if kind != "string":
            bad = f"({text} IS NOT NULL AND {value} IS NULL)"
            if kind == "double":
                bad = f"({bad} OR ({text} IS NOT NULL AND NOT isfinite({value})))"
            rules.append(f"WHEN {bad} THEN 'bad_{name}'")
        if lo is not None or hi is not None:
            out = " OR ".join(
                ([f"{value} < {lo}"] if lo is not None else [])
                + ([f"{value} > {hi}"] if hi is not None else [])
            )
            rules.append(f"WHEN {text} IS NOT NULL AND ({out}) THEN 'out_of_range_{name}'")
    return ", ".join(typed), "CASE " + " ".join(rules) + " END"


EVENT_FIELDS = [
    ("user_id", "int", True, 1, None),
    ("item_id", "int", True, 1, None),
    ("rating", "double", True, 0.5, 5.0),
    ("timestamp", "long", True, 0, MAX_TIMESTAMP),
]
CATALOG_FIELDS = [
    ("item_id", "int", True, 1, None),
    ("title", "string", False, None, None),
    ("year", "int", False, 1800, 2100),
    ("genres", "string", False, None, None),
]


def run(
    raw: Path, out: Path, day: date, window_days: int, model: dict[str, Any], threads: int = 2
) -> dict[str, Any]:
    """Compute bronze, silver and gold under ``out``; the seconds of ingest and build, and counts."""
    import duckdb

    out.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(config={"threads": threads, "temp_directory": str(out / "_tmp")})
    con.execute("SET enable_progress_bar = false")
    started = time.perf_counter()
    events_typed, events_reason = _checks(EVENT_FIELDS)
    con.execute(
        f"""
        CREATE TEMP TABLE raw AS
        SELECT *, CAST(regexp_extract(filename, 'event_date=([0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}})', 1) AS DATE)
                  AS event_date
        FROM read_csv('{raw}/events/event_date=*/*.csv', header=true, auto_detect=false, delim=',',
                      quote='"', escape='"', filename=true, store_rejects=true, hive_partitioning=false,
                      columns={{'user_id': 'VARCHAR', 'item_id': 'VARCHAR', 'rating': 'VARCHAR',
                               'timestamp': 'VARCHAR'}})
        WHERE event_date <= DATE '{day}'
        """
    )
    malformed = con.execute("SELECT count(*) FROM reject_errors").fetchone()[0]  # type: ignore[index]
    con.execute(f"CREATE TEMP TABLE checked AS SELECT *, {events_typed}, {events_reason} AS reason FROM raw")
    by_reason = dict(
        con.execute("SELECT reason, count(*) FROM checked WHERE reason IS NOT NULL GROUP BY 1").fetchall()
    )
    if malformed:
        by_reason["malformed_record"] = by_reason.get("malformed_record", 0) + int(malformed)
    con.execute(
        """
        CREATE TEMP TABLE bronze AS
        SELECT CAST(t_user_id AS INT) AS user_id, CAST(t_item_id AS INT) AS item_id, t_rating AS rating,
               t_timestamp AS "timestamp", to_timestamp(t_timestamp) AS event_ts, min(event_date) AS event_date,
               strftime(min(event_date), '%Y-%m') AS event_period
        FROM checked WHERE reason IS NULL GROUP BY 1, 2, 3, 4
        """
    )
    con.execute(
        f'COPY (SELECT * FROM bronze ORDER BY event_period, event_date, "timestamp", user_id, item_id, rating) '
        f"TO '{out}/bronze' (FORMAT parquet, PARTITION_BY (event_period), OVERWRITE)"
    )
    ingest = time.perf_counter() - started

    started = time.perf_counter()
    catalog_typed, catalog_reason = _checks(CATALOG_FIELDS)
    con.execute(
        f"""
        CREATE TEMP TABLE catalog AS
        SELECT *, {catalog_typed}, {catalog_reason} AS reason
        FROM read_csv('{raw}/catalog/movies.csv', header=true, auto_detect=false, delim=',', quote='"',
                      escape='"', store_rejects=true,
                      columns={{'item_id': 'VARCHAR', 'title': 'VARCHAR', 'year': 'VARCHAR', 'genres': 'VARCHAR'}})
        """
    )
    con.execute(
        """
        CREATE TEMP TABLE items AS
        SELECT CAST(t_item_id AS INT) AS item_id,
               coalesce(t_title, '(untitled item ' || CAST(t_item_id AS VARCHAR) || ')') AS title,
               CAST(t_year AS INT) AS year, coalesce(t_genres, '(no genres listed)') AS genres
        FROM catalog WHERE reason IS NULL
        QUALIFY row_number() OVER (PARTITION BY t_item_id
                                   ORDER BY t_title ASC NULLS LAST, t_year ASC NULLS FIRST, t_genres ASC NULLS FIRST) = 1
        """
    )
    start = day - timedelta(days=window_days - 1)
    m = model
    con.execute(
        f"""
        CREATE TEMP TABLE silver AS
        SELECT l.user_id, l.item_id, l.rating, l."timestamp", l.event_ts, l.event_date, i.title, i.year, i.genres
        FROM (SELECT * FROM bronze
              QUALIFY row_number() OVER (PARTITION BY user_id, item_id
                                         ORDER BY "timestamp" DESC, event_date DESC, rating DESC) = 1) l
        JOIN items i USING (item_id);
        CREATE TEMP TABLE win AS SELECT * FROM silver WHERE event_date BETWEEN DATE '{start}' AND DATE '{day}';
        CREATE TEMP TABLE liked AS SELECT user_id, item_id, "timestamp" FROM win WHERE rating >= {m["positive_rating"]};
        CREATE TEMP TABLE recent AS SELECT user_id, item_id FROM liked
            QUALIFY row_number() OVER (PARTITION BY user_id ORDER BY "timestamp" DESC, item_id DESC)
                    <= {m["max_items_per_user"]};
        CREATE TEMP TABLE sim AS
        WITH likes AS (SELECT item_id, count(*) AS n FROM recent GROUP BY 1),
        pairs AS (SELECT a.item_id AS item_a, b.item_id AS item_b, count(*) AS co
                  FROM recent a JOIN recent b ON a.user_id = b.user_id AND a.item_id < b.item_id
                  GROUP BY 1, 2 HAVING count(*) >= {m["min_cooccurrence"]}),
        scored AS (SELECT item_a, item_b, co, co / sqrt(CAST(la.n AS DOUBLE) * lb.n) AS score
                   FROM pairs JOIN likes la ON la.item_id = item_a JOIN likes lb ON lb.item_id = item_b),
        both_ways AS (SELECT item_a AS item_id, item_b AS similar_item_id, score, co FROM scored
                      UNION ALL SELECT item_b, item_a, score, co FROM scored)
        SELECT CAST(item_id AS INT) AS item_id, CAST(similar_item_id AS INT) AS similar_item_id, score,
               CAST(co AS INT) AS cooccurrence,
               CAST(row_number() OVER (PARTITION BY item_id ORDER BY score DESC, similar_item_id) AS INT) AS rank
        FROM both_ways QUALIFY rank <= {m["top_k"]};
        CREATE TEMP TABLE popular AS
        SELECT CAST(item_id AS INT) AS item_id, CAST(count(DISTINCT user_id) AS DOUBLE) AS score,
               CAST(row_number() OVER (ORDER BY count(DISTINCT user_id) DESC, item_id) AS INT) AS rank
        FROM liked GROUP BY item_id QUALIFY rank <= {m["popular_pool"]};
        CREATE TEMP TABLE recs AS
        WITH users AS (SELECT DISTINCT user_id FROM win),
        rated AS (SELECT user_id, item_id FROM silver WHERE user_id IN (SELECT user_id FROM users)),
        seeds AS (SELECT user_id, item_id FROM (SELECT DISTINCT user_id, item_id FROM liked)
                  QUALIFY count(*) OVER (PARTITION BY user_id) >= {m["min_user_positives"]}),
        knn AS (SELECT s.user_id, n.similar_item_id AS item_id,
                       -- through the shortest decimal text, as Spark does (Double.toString → BigDecimal):
                       -- DuckDB's direct double → decimal cast is off by a few units in the 18th digit
                       CAST(sum(CAST(CAST(n.score AS VARCHAR) AS DECIMAL(38, 18))) AS DOUBLE) AS similarity
                FROM seeds s JOIN sim n USING (item_id) GROUP BY 1, 2),
        bounds AS (SELECT u.user_id, 2 * {m["top_n"]} + count(p.item_id) AS bound
                   FROM users u LEFT JOIN rated r USING (user_id) LEFT JOIN popular p USING (item_id) GROUP BY 1),
        pop AS (SELECT b.user_id, p.item_id, p.rank AS pop_rank, p.score AS pop_score
                FROM bounds b JOIN popular p ON p.rank <= b.bound),
        cand AS (SELECT coalesce(k.user_id, p.user_id) AS user_id, coalesce(k.item_id, p.item_id) AS item_id,
                        k.similarity, p.pop_rank, p.pop_score
                 FROM knn k FULL OUTER JOIN pop p ON k.user_id = p.user_id AND k.item_id = p.item_id),
        unrated AS (SELECT * FROM cand c WHERE NOT EXISTS
                    (SELECT 1 FROM rated r WHERE r.user_id = c.user_id AND r.item_id = c.item_id))
        SELECT CAST(user_id AS INT) AS user_id, CAST(item_id AS INT) AS item_id,
               CASE WHEN similarity IS NOT NULL THEN similarity ELSE pop_score END AS score,
               CAST(row_number() OVER (PARTITION BY user_id
                    ORDER BY (similarity IS NOT NULL) DESC, similarity DESC NULLS LAST, pop_rank ASC NULLS FIRST,
                             item_id) AS INT) AS rank,
               CASE WHEN similarity IS NOT NULL THEN 'item_knn' ELSE 'popular' END AS source
        FROM unrated QUALIFY rank <= {m["top_n"]};
        """
    )
    snap = f"snapshot_date={day.isoformat()}"
    writes = {
        "silver": ("silver", "user_id, item_id"),
        "items": ("items", "item_id"),
        "popular_items": ("popular", "rank"),
        "similar_items": ("sim", "item_id, rank"),
        "recommendations": ("recs", "user_id, rank"),
    }
    for name, (table, order) in writes.items():
        target = out / name / snap
        target.mkdir(parents=True, exist_ok=True)
        con.execute(
            f"COPY (SELECT * FROM {table} ORDER BY {order}) TO '{target}/part-0.parquet' (FORMAT parquet)"
        )
    build = time.perf_counter() - started
    counts = {
        "raw_rows": con.execute("SELECT count(*) FROM raw").fetchone()[0] + int(malformed),  # type: ignore[index]
        "rejected": sum(by_reason.values()),
        "by_reason": dict(sorted(by_reason.items())),
        "bronze": con.execute("SELECT count(*) FROM bronze").fetchone()[0],  # type: ignore[index]
        "recommendations": con.execute("SELECT count(*) FROM recs").fetchone()[0],  # type: ignore[index]
    }
    con.close()
    return {"ingest_s": ingest, "build_s": build, "counts": counts}


#: the columns compared per table (scores rounded to 1e-9: the two engines round the decimal terms alike,
#: but a double printed by one may differ in the last bit from the other's)
COMPARED = {
    "bronze": 'user_id, item_id, rating, "timestamp", event_date, event_period',
    "silver": 'user_id, item_id, rating, "timestamp", event_date, title, year, genres',
    "items": "item_id, title, year, genres",
    "popular_items": "item_id, score, rank",
    "similar_items": "item_id, similar_item_id, round(score, 9), rank",
    "recommendations": "user_id, item_id, round(score, 9), rank, source",
}


def compare(ours: dict[str, str], anchor: Path, day: date) -> dict[str, tuple[int, int, int]]:
    """Per table: (rows ours, rows anchor, rows that differ either way). ``ours``: table → Parquet glob."""
    import duckdb

    con = duckdb.connect()
    snap = f"snapshot_date={day.isoformat()}"
    result = {}
    for table, columns in COMPARED.items():
        theirs = f"{anchor}/bronze/*/*.parquet" if table == "bronze" else f"{anchor}/{table}/{snap}/*.parquet"
        hive = "true" if table == "bronze" else "false"
        a = f"SELECT {columns} FROM read_parquet('{ours[table]}', hive_partitioning={hive})"
        b = f"SELECT {columns} FROM read_parquet('{theirs}', hive_partitioning={hive})"
        n_a = con.execute(f"SELECT count(*) FROM ({a})").fetchone()[0]  # type: ignore[index]
        n_b = con.execute(f"SELECT count(*) FROM ({b})").fetchone()[0]  # type: ignore[index]
        differ = con.execute(
            f"SELECT (SELECT count(*) FROM ({a} EXCEPT ALL {b})) + (SELECT count(*) FROM ({b} EXCEPT ALL {a}))"
        ).fetchone()[0]  # type: ignore[index]
        result[table] = (int(n_a), int(n_b), int(differ))
    con.close()
    return result


def main(argv: list[str] | None = None) -> None:
    """``python bench/anchor_duckdb.py RAW OUT DAY WINDOW_DAYS MODEL_JSON``: run, print the result as JSON
    (a separate process, so that its memory can be measured apart from the JVM)."""
    import json
    import sys

    raw, out, day, window, model = argv if argv is not None else sys.argv[1:]
    result = run(Path(raw), Path(out), date.fromisoformat(day), int(window), json.loads(model))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
