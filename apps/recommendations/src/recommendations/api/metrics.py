"""The API's Prometheus metrics: request counters and latency, fallbacks, 503s, snapshot gauges.

Everything lives in the registry given to :func:`~recommendations.api.app.create_app` (no global
registry): :class:`ApiMetrics` holds the counters, :class:`SnapshotCollector` computes the snapshot
gauges at scrape time, and :class:`CountRequests` is the middleware that labels each request with
its route template (never the raw path) and its method (an unknown method counts as ``other``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from datetime import datetime

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from recommendations.store import RecommendationStore


class SnapshotCollector(Collector):
    """Snapshot gauges computed at scrape time from the store's health."""

    def __init__(self, store: RecommendationStore, clock: Callable[[], datetime]) -> None:
        self.store = store
        self.clock = clock

    def describe(self) -> Iterable[GaugeMetricFamily]:
        """The families without values, so that registering never queries the store."""
        yield GaugeMetricFamily("recommendations_serving_up", "1 when the store serves a snapshot")
        yield GaugeMetricFamily("recommendations_serving_snapshot_age_days", "Age of the served snapshot")
        yield GaugeMetricFamily("recommendations_serving_snapshot_loaded_timestamp_seconds", "Load time")
        yield GaugeMetricFamily("recommendations_serving_rows", "Rows per served table", labels=["table"])

    def collect(self) -> Iterable[GaugeMetricFamily]:
        health = self.store.health(self.clock())
        yield GaugeMetricFamily(
            "recommendations_serving_up",
            "1 when the store is reachable and serves a snapshot",
            value=int(health.ok),
        )
        if health.snapshot is None:
            return
        snap = health.snapshot
        yield GaugeMetricFamily(
            "recommendations_serving_snapshot_age_days",
            "Days between today and the served snapshot date",
            value=health.snapshot_age_days or 0,
        )
        yield GaugeMetricFamily(
            "recommendations_serving_snapshot_loaded_timestamp_seconds",
            "When the served snapshot was loaded",
            value=snap.loaded_at.timestamp(),
        )
        rows = GaugeMetricFamily("recommendations_serving_rows", "Rows per served table", labels=["table"])
        for table, n in sorted(snap.row_counts.items()):
            rows.add_metric([table], n)
        yield rows


class ApiMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.requests = Counter(
            "recommendations_api_requests",
            "HTTP requests by route and status",
            ["method", "route", "status"],
            registry=registry,
        )
        self.latency = Histogram(
            "recommendations_api_request_duration_seconds",
            "HTTP request latency by route",
            ["route"],
            registry=registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
        )
        self.fallbacks = Counter(
            "recommendations_api_fallbacks",
            "Requests for unknown users answered with popular items",
            registry=registry,
        )
        self.unavailable = Counter(
            "recommendations_api_store_unavailable",
            "Requests answered 503 because the store could not serve",
            registry=registry,
        )


#: every label value comes from a closed set: a client must not be able to grow /metrics
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"})


class CountRequests:
    """ASGI middleware: count and time every HTTP request by method, route template and status.

    A plain ASGI wrapper around the app, not ``@app.middleware("http")``: Starlette's
    ``BaseHTTPMiddleware`` runs every request through an extra task and a pair of memory streams
    (docs/benchmarks.md, API section, has what that cost per request). The status is the one the
    response started with; a request that raised past every handler counts as 500 (the server's
    error middleware, outside this one, answers it). The route is the template FastAPI's router
    put in the scope (``/recommendations/{user_id}``), never the raw path.
    """

    def __init__(self, app: ASGIApp, metrics: ApiMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_and_note_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note_status)
        finally:
            route = scope.get("route")
            label = getattr(route, "path", None) or "unmatched"
            method = scope["method"] if scope["method"] in KNOWN_METHODS else "other"
            self.metrics.requests.labels(method, label, str(status)).inc()
            self.metrics.latency.labels(label).observe(time.perf_counter() - started)
