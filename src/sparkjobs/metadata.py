"""What a registered job says about itself: description, version, medallion stage, capabilities."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Stage = Literal["bronze", "silver", "gold"]
KNOWN_CAPABILITIES = frozenset(
    {"incremental", "initial_load", "distributed", "validation", "backfill", "idempotent", "serving"}
)


class JobMetadata(BaseModel):
    """Declared on a factory (``metadata = JobMetadata(...)``) or a module (``JOB_METADATA``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    description: str = Field("", description="one line shown by `sparkjobs list`")
    version: str = "0.1.0"
    stage: Stage | None = None
    capabilities: frozenset[str] = frozenset()
    requires: frozenset[str] = Field(
        frozenset(), description="engines/features the job needs, e.g. {'spark'} for UDFs or MLlib"
    )
