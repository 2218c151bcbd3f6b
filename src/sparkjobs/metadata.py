"""What a registered job says about itself: description, version, medallion stage, capabilities."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, field_validator

#: the medallion names most projects use; any plain name is accepted (``raw``, ``staging``, ``marts``)
SUGGESTED_STAGES = ("bronze", "silver", "gold")
_STAGE_RE = re.compile(r"[a-z][a-z0-9_-]{0,39}")
KNOWN_CAPABILITIES = frozenset(
    {"incremental", "initial_load", "distributed", "validation", "backfill", "idempotent", "serving"}
)


class JobMetadata(BaseModel):
    """Declared on a factory (``metadata = JobMetadata(...)``) or a module (``JOB_METADATA``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    description: str = Field("", description="one line shown by `sparkjobs list`")
    version: str = "0.1.0"
    stage: str | None = Field(
        None, description="the layer the job writes, e.g. bronze, silver, gold (any plain lower-case name)"
    )
    capabilities: frozenset[str] = frozenset()
    requires: frozenset[str] = Field(
        frozenset(), description="engines/features the job needs, e.g. {'spark'} for UDFs or MLlib"
    )

    @field_validator("stage")
    @classmethod
    def _plain_stage(cls, value: str | None) -> str | None:
        if value is not None and not _STAGE_RE.fullmatch(value):
            raise ValueError(
                f"bad stage {value!r}: expected a plain lower-case name of at most 40 characters "
                f"(letters, digits, '_', '-'), such as {', '.join(SUGGESTED_STAGES)}"
            )
        return value
