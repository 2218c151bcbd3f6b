"""The recommendation HTTP API (FastAPI), built by a factory around an injected store.

``create_app(store, settings)`` returns the ASGI app; ``build_service(settings, env)`` is the
entry point ``sparkjobs serve recommendations`` calls (group ``sparkjobs.services``): it reads
``services.recommendations`` from the layered configuration, opens the store with a circuit
breaker and returns the app. Endpoints::

    GET /recommendations/{user_id}?limit=10   top items for a user; unknown users get popular items (fallback)
    GET /items/{item_id}/similar?limit=10     items similar to one item; unknown item → 404
    GET /health                               200 with the served snapshot, 503 with the reason
    GET /metrics                              Prometheus exposition of this app's own registry

Invalid input (``limit`` outside 1..100, a non-integer id) → 422 with a readable message; a store
that cannot serve (unreachable, no snapshot loaded, breaker open) → 503.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from fastapi import FastAPI, Path, Query, Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from pydantic import BaseModel, ConfigDict, Field

from recommendations.store import DEFAULT_URL, RecommendationStore
from sparkjobs import Settings
from sparkjobs.config import validate_model
from sparkjobs.resilience import BreakerSettings, CircuitBreaker, is_retryable
from sparkjobs.serving.stores import NoSnapshotError, StoreSettings, StoreUnavailableError

SERVICE_NAME = "recommendations"
MAX_LIMIT = 100
MAX_ID = 2**31 - 1  # ids are int32 in the served tables
log = logging.getLogger("recommendations.api")

UserId = Annotated[int, Path(ge=0, le=MAX_ID, description="user id (integer)")]
ItemId = Annotated[int, Path(ge=0, le=MAX_ID, description="item id (integer)")]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description=f"how many items, 1..{MAX_LIMIT}")]


# -- configuration ----------------------------------------------------------------------------------
class ApiSettings(BaseModel):
    """``services.recommendations`` in the configuration layers."""

    model_config = ConfigDict(extra="forbid")

    store: StoreSettings = Field(
        default_factory=lambda: StoreSettings(url=DEFAULT_URL), description="the serving store to read"
    )
    default_limit: int = Field(10, ge=1, le=MAX_LIMIT, description="items returned when ?limit= is absent")
    max_snapshot_age_days: int | None = Field(
        None, ge=0, description="/health answers 503 when the served snapshot is older (off by default)"
    )
    breaker: BreakerSettings = Field(
        default_factory=lambda: BreakerSettings(fail_max=5, reset_timeout_s=10.0),
        description="circuit breaker around store reads: fail fast while the store is down",
    )


# -- response models --------------------------------------------------------------------------------
class RecommendedItem(BaseModel):
    item_id: int
    title: str | None
    score: float
    rank: int
    source: str = Field(description="item_knn (personal) or popular")


class RecommendationsResponse(BaseModel):
    user_id: int
    fallback: bool = Field(description="true when the user is unknown and popular items are returned")
    items: list[RecommendedItem]


class SimilarItem(BaseModel):
    item_id: int
    title: str | None
    score: float
    rank: int


class SimilarItemsResponse(BaseModel):
    item_id: int
    title: str | None
    items: list[SimilarItem]


class HealthOk(BaseModel):
    status: Literal["ok"] = "ok"
    snapshot_date: date
    snapshot_age_days: int
    loaded_at: datetime
    loaded_age_seconds: float
    load_seconds: float
    row_counts: dict[str, int]
    run_id: str


class HealthFailure(BaseModel):
    status: Literal["unavailable"] = "unavailable"
    reason: str
    snapshot_date: date | None = None


class ErrorResponse(BaseModel):
    error: str
    detail: str


class ValidationProblem(BaseModel):
    parameter: str
    location: str
    message: str
    input: Any = None


class ValidationErrorResponse(ErrorResponse):
    problems: list[ValidationProblem]


# -- metrics ----------------------------------------------------------------------------------------
class _SnapshotCollector(Collector):
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


# -- the app ----------------------------------------------------------------------------------------
def _utcnow() -> datetime:
    return datetime.now(UTC)


def _problems(exc: RequestValidationError) -> list[ValidationProblem]:
    problems = []
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ())]
        where, name = (loc[0], ".".join(loc[1:])) if len(loc) > 1 else ("request", ".".join(loc))
        problems.append(
            ValidationProblem(
                parameter=name, location=where, message=err.get("msg", ""), input=err.get("input")
            )
        )
    return problems


def create_app(
    store: RecommendationStore,
    settings: ApiSettings | None = None,
    *,
    clock: Callable[[], datetime] = _utcnow,
    registry: CollectorRegistry | None = None,
    owns_store: bool = False,
    env: str | None = None,
) -> FastAPI:
    """The API around ``store``. With ``owns_store`` the store is closed when the app shuts down."""
    settings = settings or ApiSettings()
    registry = registry if registry is not None else CollectorRegistry(auto_describe=True)
    metrics = ApiMetrics(registry)
    registry.register(_SnapshotCollector(store, clock))

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            if owns_store:
                store.close()

    app = FastAPI(
        title="sparkjobs recommendations API",
        version="1.0.0",
        description="Recommendations computed by the sparkjobs reference pipeline"
        + (f" (env {env})" if env else ""),
        lifespan=lifespan,
    )
    app.state.store = store
    app.state.settings = settings
    app.state.metrics = metrics

    @app.middleware("http")
    async def count_requests(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        started = time.perf_counter()
        status = 500
        try:
            response = await call_next(request)
            status = response.status_code
            return response
        finally:
            route = request.scope.get("route")
            label = getattr(route, "path", None) or "unmatched"
            metrics.requests.labels(request.method, label, str(status)).inc()
            metrics.latency.labels(label).observe(time.perf_counter() - started)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = _problems(exc)
        detail = "; ".join(f"{p.parameter} ({p.location}): {p.message}, got {p.input!r}" for p in problems)
        body = ValidationErrorResponse(error="invalid request", detail=detail, problems=problems)
        return JSONResponse(status_code=422, content=jsonable_encoder(body))

    @app.exception_handler(StoreUnavailableError)
    @app.exception_handler(NoSnapshotError)
    async def store_cannot_serve(_request: Request, exc: Exception) -> JSONResponse:
        metrics.unavailable.inc()
        body = ErrorResponse(error="service unavailable", detail=str(exc))
        return JSONResponse(status_code=503, content=body.model_dump(), headers={"Retry-After": "5"})

    @app.exception_handler(Exception)
    async def internal_error(request: Request, exc: Exception) -> JSONResponse:
        log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        body = ErrorResponse(error="internal error", detail=f"{type(exc).__name__} (see the server log)")
        return JSONResponse(status_code=500, content=body.model_dump())

    unavailable: dict[int | str, dict[str, Any]] = {
        503: {"model": ErrorResponse, "description": "the store cannot serve"}
    }
    invalid: dict[int | str, dict[str, Any]] = {
        422: {"model": ValidationErrorResponse, "description": "invalid id or limit"}
    }

    @app.get("/", include_in_schema=False)
    def index() -> dict[str, Any]:
        return {
            "service": SERVICE_NAME,
            "endpoints": [
                "/recommendations/{user_id}?limit=10",
                "/items/{item_id}/similar?limit=10",
                "/health",
                "/metrics",
                "/docs",
            ],
        }

    @app.get(
        "/recommendations/{user_id}",
        response_model=RecommendationsResponse,
        responses={**invalid, **unavailable},
        summary="Top items for a user (popular items for an unknown user)",
    )
    def recommendations(user_id: UserId, limit: Limit = settings.default_limit) -> RecommendationsResponse:
        result = store.recommend(user_id, limit)
        if result.fallback:
            metrics.fallbacks.inc()
        return RecommendationsResponse(
            user_id=user_id, fallback=result.fallback, items=[RecommendedItem(**row) for row in result.items]
        )

    @app.get(
        "/items/{item_id}/similar",
        response_model=SimilarItemsResponse,
        responses={404: {"model": ErrorResponse, "description": "unknown item"}, **invalid, **unavailable},
        summary="Items most similar to an item",
    )
    def similar(item_id: ItemId, limit: Limit = settings.default_limit) -> Any:
        item = store.item(item_id)
        if item is None:
            body = ErrorResponse(error="not found", detail=f"item {item_id} is not in the served catalog")
            return JSONResponse(status_code=404, content=body.model_dump())
        rows = store.similar_items(item_id, limit)
        return SimilarItemsResponse(
            item_id=item_id, title=item["title"], items=[SimilarItem(**r) for r in rows]
        )

    @app.get(
        "/health",
        response_model=HealthOk,
        responses={503: {"model": HealthFailure, "description": "unreachable, no snapshot, or too old"}},
        summary="Whether the API can serve, and which snapshot",
    )
    def health() -> Any:
        result = store.health(clock(), settings.max_snapshot_age_days)
        if not result.ok or result.snapshot is None:
            body = HealthFailure(
                reason=result.reason or "unknown",
                snapshot_date=result.snapshot.snapshot_date if result.snapshot else None,
            )
            return JSONResponse(status_code=503, content=jsonable_encoder(body))
        snap = result.snapshot
        return HealthOk(
            snapshot_date=snap.snapshot_date,
            snapshot_age_days=result.snapshot_age_days or 0,
            loaded_at=snap.loaded_at,
            loaded_age_seconds=result.loaded_age_seconds or 0.0,
            load_seconds=snap.load_seconds,
            row_counts=snap.row_counts,
            run_id=snap.run_id,
        )

    @app.get("/metrics", summary="Prometheus metrics of this API", response_class=Response)
    def prometheus() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return app


def build_service(settings: Settings, env: str) -> FastAPI:
    """Entry point of ``sparkjobs serve recommendations``: config section → store → app."""
    section = settings.services.get(SERVICE_NAME, {})
    api_settings = validate_model(
        ApiSettings,
        section,
        prefix=("services", SERVICE_NAME),
        what=f"configuration of service {SERVICE_NAME!r}",
    )
    registry = CollectorRegistry(auto_describe=True)
    breaker = CircuitBreaker.from_settings("serving-store", api_settings.breaker, metrics=registry)
    store = RecommendationStore.open(api_settings.store, breaker=breaker, is_transient=is_retryable)
    return create_app(store, api_settings, registry=registry, owns_store=True, env=env)
