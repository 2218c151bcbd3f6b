"""The app factory :func:`create_app` and the service entry point :func:`build_service`."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime

from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from recommendations.api.errors import install_error_handlers
from recommendations.api.metrics import ApiMetrics, CountRequests, SnapshotCollector
from recommendations.api.routes import operations, serving
from recommendations.api.settings import SERVICE_NAME, ApiSettings
from recommendations.store import RecommendationStore
from sparkjobs import Settings
from sparkjobs.config import validate_model
from sparkjobs.resilience import CircuitBreaker


def _utcnow() -> datetime:
    return datetime.now(UTC)


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
    registry.register(SnapshotCollector(store, clock))

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if not owns_store:
            yield
            return
        with store:
            yield

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
    app.state.clock = clock
    app.add_middleware(CountRequests, metrics=metrics)
    install_error_handlers(app)
    app.include_router(serving)
    app.include_router(operations)
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
    store = RecommendationStore.open(api_settings.store, breaker=breaker)  # classifier: resilience.classify
    return create_app(store, api_settings, registry=registry, owns_store=True, env=env)
