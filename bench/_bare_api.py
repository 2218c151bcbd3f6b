"""The baseline of bench_api.py: a bare FastAPI app answering ``GET /recommendations/{user_id}`` with
the same SQL on the same store, in as little code as it takes.

No middleware, no metrics, no circuit breaker, no response model (the dict is returned as is), no
validation beyond FastAPI's ``int`` path parameter. Served by uvicorn from the command line::

    BENCH_STORE_URL=sqlite:////tmp/x.db uvicorn --factory _bare_api:create_app --app-dir bench

``BENCH_STORE_URL`` is ``sqlite:///<path>`` or ``postgresql://...``; ``BENCH_DB_SCHEMA`` the
PostgreSQL schema holding the tables (default: public); ``BENCH_POOL_SIZE`` the connections of
the PostgreSQL pool (default 8, the same as ours).
"""

from __future__ import annotations

import os
import sqlite3
import threading
from typing import Any

from fastapi import FastAPI

from recommendations.store import _RECOMMENDATIONS_SQL as SQL  # the very query ours runs


def _sqlite(path: str) -> Any:
    local = threading.local()

    def fetch(params: dict[str, Any]) -> list[Any]:
        conn = getattr(local, "conn", None)
        if conn is None:
            conn = local.conn = sqlite3.connect(path, check_same_thread=False)
        return conn.execute(SQL, params).fetchall()

    return fetch


def _postgres(url: str, schema: str | None, size: int) -> Any:
    from psycopg_pool import ConnectionPool

    options = f"-c search_path={schema}" if schema else ""
    pool = ConnectionPool(
        url, min_size=1, max_size=size, kwargs={"autocommit": True, "options": options}, open=True
    )
    sql = SQL.replace(":user_id", "%(user_id)s").replace(":limit", "%(limit)s")

    def fetch(params: dict[str, Any]) -> list[Any]:
        with pool.connection() as conn:
            return conn.execute(sql, params).fetchall()

    return fetch


def create_app() -> FastAPI:
    url = os.environ["BENCH_STORE_URL"]
    if url.startswith("sqlite:///"):
        fetch = _sqlite(url.removeprefix("sqlite:///"))
    else:
        fetch = _postgres(url, os.environ.get("BENCH_DB_SCHEMA"), int(os.environ.get("BENCH_POOL_SIZE", "8")))
    app = FastAPI()

    @app.get("/recommendations/{user_id}")
    def recommendations(user_id: int, limit: int = 10) -> Any:
        rows = fetch({"user_id": user_id, "limit": limit})
        return {
            "user_id": user_id,
            "fallback": bool(rows[0][5]) if rows else True,
            "items": [
                {"item_id": r[0], "title": r[1], "score": float(r[2]), "rank": r[3], "source": r[4]}
                for r in rows
            ],
        }

    return app
