"""The endpoints, on module-level :class:`~fastapi.APIRouter`\\ s (no closures over the app).

Each handler reaches the app's collaborators through dependencies that read ``app.state``
(the store, the settings, the metrics, the clock), which :func:`~recommendations.api.app.create_app`
fills in::

    GET /recommendations/{user_id}?limit=10   top items for a user; unknown users get popular items
    GET /items/{item_id}/similar?limit=10     items similar to one item; unknown item → 404
    GET /health                               200 with the served snapshot, 503 with the reason
    GET /metrics                              Prometheus exposition of this app's own registry
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel

from recommendations.api.metrics import ApiMetrics
from recommendations.api.models import (
    ErrorResponse,
    HealthFailure,
    HealthOk,
    RecommendationsResponse,
    RecommendedItem,
    SimilarItem,
    SimilarItemsResponse,
    ValidationErrorResponse,
)
from recommendations.api.settings import MAX_ID, MAX_LIMIT, SERVICE_NAME, ApiSettings
from recommendations.store import RecommendationStore

UserId = Annotated[int, Path(ge=0, le=MAX_ID, description="user id (integer)")]
ItemId = Annotated[int, Path(ge=0, le=MAX_ID, description="item id (integer)")]

UNAVAILABLE: dict[int | str, dict[str, Any]] = {
    503: {"model": ErrorResponse, "description": "the store cannot serve"}
}
INVALID: dict[int | str, dict[str, Any]] = {
    422: {"model": ValidationErrorResponse, "description": "invalid id or limit"}
}


def get_store(request: Request) -> RecommendationStore:
    store: RecommendationStore = request.app.state.store
    return store


def get_settings(request: Request) -> ApiSettings:
    settings: ApiSettings = request.app.state.settings
    return settings


def get_metrics(request: Request) -> ApiMetrics:
    metrics: ApiMetrics = request.app.state.metrics
    return metrics


def get_clock(request: Request) -> Callable[[], datetime]:
    clock: Callable[[], datetime] = request.app.state.clock
    return clock


def requested_limit(
    settings: Annotated[ApiSettings, Depends(get_settings)],
    limit: Annotated[
        int | None,
        Query(ge=1, le=MAX_LIMIT, description=f"how many items, 1..{MAX_LIMIT} (default: default_limit)"),
    ] = None,
) -> int:
    return settings.default_limit if limit is None else limit


def as_json(body: BaseModel) -> Response:
    """``body`` (validated when it was built) as its JSON response.

    Returning the model would make FastAPI validate it a second time against ``response_model``
    and encode it through ``jsonable_encoder`` (docs/benchmarks.md: the API's CPU per request);
    ``response_model`` stays on the route for the OpenAPI schema."""
    return Response(body.__pydantic_serializer__.to_json(body), media_type="application/json")


Store = Annotated[RecommendationStore, Depends(get_store)]
Limit = Annotated[int, Depends(requested_limit)]

serving = APIRouter()
operations = APIRouter()


@serving.get("/", include_in_schema=False)
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


@serving.get(
    "/recommendations/{user_id}",
    response_model=RecommendationsResponse,
    responses={**INVALID, **UNAVAILABLE},
    summary="Top items for a user (popular items for an unknown user)",
)
def recommendations(
    user_id: UserId, store: Store, limit: Limit, metrics: Annotated[ApiMetrics, Depends(get_metrics)]
) -> Response:
    result = store.recommend(user_id, limit)
    if result.fallback:
        metrics.fallbacks.inc()
    return as_json(
        RecommendationsResponse(
            user_id=user_id,
            fallback=result.fallback,
            items=[RecommendedItem(**row) for row in result.items],
        )
    )


@serving.get(
    "/items/{item_id}/similar",
    response_model=SimilarItemsResponse,
    responses={404: {"model": ErrorResponse, "description": "unknown item"}, **INVALID, **UNAVAILABLE},
    summary="Items most similar to an item",
)
def similar(item_id: ItemId, store: Store, limit: Limit) -> Any:
    found = store.item_with_similar(item_id, limit)  # one statement: title and neighbours of one snapshot
    if found is None:
        body = ErrorResponse(error="not found", detail=f"item {item_id} is not in the served catalog")
        return JSONResponse(status_code=404, content=body.model_dump())
    title, rows = found
    return as_json(SimilarItemsResponse(item_id=item_id, title=title, items=[SimilarItem(**r) for r in rows]))


@operations.head("/health", include_in_schema=False)  # load balancers and uptime checkers send HEAD
@operations.get(
    "/health",
    response_model=HealthOk,
    responses={503: {"model": HealthFailure, "description": "unreachable, no snapshot, or too old"}},
    summary="Whether the API can serve, and which snapshot",
)
def health(
    store: Store,
    settings: Annotated[ApiSettings, Depends(get_settings)],
    clock: Annotated[Callable[[], datetime], Depends(get_clock)],
) -> Any:
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


@operations.get("/metrics", summary="Prometheus metrics of this API", response_class=Response)
def prometheus(metrics: Annotated[ApiMetrics, Depends(get_metrics)]) -> Response:
    return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)
