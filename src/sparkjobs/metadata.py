"""What a registered job says about itself: description, version, medallion stage, capabilities.

Two vocabularies, both closed (an unknown name is an error that lists the known ones):

- ``capabilities``: what the *job* offers its operators (``incremental``, ``backfill``...);
  ``sparkjobs list --capability X`` filters on them.
- ``requires``: what the job needs from the *engine* that runs it (:data:`ENGINE_CAPABILITIES`).
  Each engine declares what it provides (:mod:`sparkjobs.engines`); ``engine: auto`` picks one that
  provides everything, and asking for one that does not fails before any work.
"""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, field_validator

from sparkjobs.capabilities import ENGINE_CAPABILITIES, KNOWN_CAPABILITIES

#: the medallion names most projects use; any plain name is accepted (``raw``, ``staging``, ``marts``)
SUGGESTED_STAGES = ("bronze", "silver", "gold")
_STAGE_RE = re.compile(r"[a-z][a-z0-9_-]{0,39}")


def _known(kind: str, value: frozenset[str], known: frozenset[str] | dict[str, str]) -> frozenset[str]:
    unknown = sorted(value - set(known))
    if unknown:
        raise ValueError(f"unknown {kind} {unknown}: expected some of {sorted(known)}")
    return value


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
        frozenset(),
        description="engine capabilities the job needs, e.g. {'spark'} for UDFs or MLlib "
        "(see ENGINE_CAPABILITIES)",
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

    @field_validator("capabilities")
    @classmethod
    def _known_capabilities(cls, value: frozenset[str]) -> frozenset[str]:
        return _known("capabilities", value, KNOWN_CAPABILITIES)

    @field_validator("requires")
    @classmethod
    def _known_requirements(cls, value: frozenset[str]) -> frozenset[str]:
        return _known("engine requirements", value, ENGINE_CAPABILITIES)
