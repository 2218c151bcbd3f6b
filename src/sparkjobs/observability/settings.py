"""How a run reports itself: where run artefacts go, how logs look, where metrics are pushed.

The ``observability:`` section of the configuration tree (composed into
:class:`sparkjobs.settings.Settings`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

#: the stdlib logging levels, in increasing severity
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class ObservabilitySettings(BaseModel):
    """Where run artefacts go and how logs look."""

    model_config = ConfigDict(extra="forbid")

    runs_dir: Path = Field(Path("runs"), description="run reports and metrics textfiles go here")
    log_format: Literal["auto", "json", "console"] = Field(
        "auto", description="json lines when not on a terminal, readable lines on one"
    )
    log_level: str = Field(
        "INFO", description="root log level for sparkjobs loggers: DEBUG, INFO, WARNING, ERROR, CRITICAL"
    )
    pushgateway_url: str | None = Field(None, description="push metrics here at the end of every run")
    pushgateway_delete_on_success: bool = Field(
        False, description="a successful run deletes its Pushgateway group instead of pushing"
    )
    pushgateway_timeout_s: float = Field(10.0, gt=0, description="timeout of one Pushgateway request")
    textfile_dir: Path | None = Field(None, description="node-exporter textfile dir (default: runs_dir)")
    write_textfile: bool = Field(True, description="write a node-exporter textfile per run")
    write_report: bool = Field(True, description="write a JSON run report per run")
    write_log_file: bool = Field(
        True,
        description="copy each run's log lines to <runs_dir>/<run_id>.log, next to its report "
        "(only with write_report)",
    )

    @field_validator("log_level", mode="before")
    @classmethod
    def _known_level(cls, value: Any) -> Any:
        """Case-insensitive; ``WARN`` is read as ``WARNING``. Anything else names the choices."""
        if not isinstance(value, str):
            return value
        level = {"WARN": "WARNING"}.get(value.strip().upper(), value.strip().upper())
        if level not in LOG_LEVELS:
            raise ValueError(f"unknown log level {value!r}: expected one of {', '.join(LOG_LEVELS)}")
        return level
