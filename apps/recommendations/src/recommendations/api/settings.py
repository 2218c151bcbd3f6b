"""``services.recommendations``: the API's own configuration section and its bounds."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from recommendations.store import DEFAULT_URL
from sparkjobs.resilience import BreakerSettings
from sparkjobs.serving.stores import StoreSettings

SERVICE_NAME = "recommendations"
MAX_LIMIT = 100
MAX_ID = 2**31 - 1  # ids are int32 in the served tables


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
