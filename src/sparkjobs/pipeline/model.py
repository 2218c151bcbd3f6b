"""Pipeline definitions as configuration, validated by pydantic.

A pipeline is declared under ``pipelines:`` in the layered configuration (``conf/base/*.yml``,
overridable per environment like any other key)::

    pipelines:
      recommendations_daily:
        description: ingest → build → load, once a day
        schedule:
          cron: "0 2 * * *"          # 5 fields, or 6 with seconds last (croniter)
          timezone: UTC
          missed_fires: catch_up     # catch_up | skip
        defaults:                    # for every step unless the step says otherwise
          retry: {strategy: exponential, max_attempts: 3, initial_delay_s: 30}
          timeout_s: 3600
        steps:                       # a mapping: a later layer can override one step's key
          ingest_events: {}          # job defaults to the step name
          build_recommendations:
            depends_on: [ingest_events]
          load_recommendations:      # after build_recommendations: it reads the dataset that one writes
            params: {batch_size: 5000}

A step runs after the steps it ``depends_on`` and after the writer of every dataset it reads
(``inputs`` / ``outputs`` of the step, else of its job: see :mod:`sparkjobs.pipeline.datasets`).

and the run ledger under ``state:`` (SQLite by default, PostgreSQL by URL).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterBadDateError, croniter
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, SecretStr, field_validator, model_validator

from sparkjobs.config.coerce import type_raw_values
from sparkjobs.config.database import DatabaseSettings
from sparkjobs.config.layers import LayeredConfig
from sparkjobs.config.validate import validate_model
from sparkjobs.engines.settings import EngineChoiceName
from sparkjobs.errors import ConfigError
from sparkjobs.pipeline.dag import check_dependencies, to_mermaid, topological_order
from sparkjobs.pipeline.datasets import StepDatasets, check_inferred, merged_dependencies
from sparkjobs.pipeline.errors import PipelineNotFoundError
from sparkjobs.resilience import RetryPolicy

#: a job name → the datasets it declares it reads and writes
DatasetsOf = Callable[[str], tuple[Sequence[str], Sequence[str]]]
Mode = Literal["initial_load", "incremental"]
MODES: tuple[Mode, ...] = ("initial_load", "incremental")
MissedFirePolicy = Literal["catch_up", "skip"]

_NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")

#: retries a step gets when neither the step nor the pipeline's defaults say otherwise
DEFAULT_STEP_RETRY = RetryPolicy(
    strategy="exponential", max_attempts=3, initial_delay_s=10.0, max_delay_s=300.0
)


def _check_name(value: str, what: str) -> str:
    if not _NAME_RE.match(value):
        raise ValueError(f"bad {what} name {value!r}: use letters, digits, '_', '-', '.'")
    return value


class ScheduleSpec(BaseModel):
    """When the scheduler fires and which logical date a fire stands for."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    cron: str = Field(..., description="cron expression; 5 fields, or 6 with a seconds field last")
    timezone: str = Field("UTC", description="IANA time zone the cron expression is read in")
    missed_fires: MissedFirePolicy = Field(
        "skip", description="when the scheduler starts after missed fires: catch_up runs them, skip does not"
    )
    max_catch_up: int = Field(7, ge=1, description="at most this many missed logical dates are caught up")
    date_offset_days: int = Field(
        1, ge=0, description="logical date = the fire time's date in the time zone minus this many days"
    )
    mode: Mode = Field("incremental", description="mode of scheduled runs")

    @field_validator("cron")
    @classmethod
    def _valid_cron(cls, value: str) -> str:
        fields = value.split()
        if len(fields) not in (5, 6) or not croniter.is_valid(value):
            raise ValueError(
                f"not a valid cron expression: {value!r} (5 fields 'min hour dom month dow', "
                "or 6 with seconds last)"
            )
        try:  # valid syntax can still name a date that does not exist (30 February)
            croniter(value, datetime(2000, 1, 1, tzinfo=UTC)).get_next(datetime)
        except CroniterBadDateError:
            raise ValueError(f"cron expression {value!r} never fires (no such date)") from None
        return " ".join(fields)

    @field_validator("timezone")
    @classmethod
    def _valid_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {value!r} (IANA names such as 'UTC', 'Europe/Berlin')"
            ) from None
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def has_seconds(self) -> bool:
        return len(self.cron.split()) == 6

    def next_fire(self, after: datetime) -> datetime:
        """The first fire time strictly after ``after`` (aware, in the schedule's zone)."""
        return croniter(self.cron, after.astimezone(self.zone)).get_next(datetime)

    def prev_fire(self, at_or_before: datetime) -> datetime:
        """The last fire time at or before ``at_or_before``."""
        local = at_or_before.astimezone(self.zone)
        if croniter.match(self.cron, local) and (not self.has_seconds or local.microsecond == 0):
            return local
        return croniter(self.cron, local).get_prev(datetime)

    def logical_date(self, fire: datetime) -> date:
        """The date a fire stands for: the day before the fire time, in the schedule's time zone."""
        return fire.astimezone(self.zone).date() - timedelta(days=self.date_offset_days)


class StepDefaults(BaseModel):
    """What every step gets unless it says otherwise."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    retry: RetryPolicy = Field(DEFAULT_STEP_RETRY, description="retry policy per step")
    timeout_s: float | None = Field(None, gt=0, description="per-attempt timeout in seconds (none: no limit)")
    has_spark: bool = Field(True, description="whether steps may use Spark (the session starts lazily)")
    engine: EngineChoiceName | None = Field(
        None,
        description="spark, duckdb or auto for every step (None: `pipeline run --engine`, else engine.use)",
    )


class StepSpec(BaseModel):
    """One step: a job, its parameters, what it waits for, and how it is retried and timed out."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    job: str | None = Field(
        None, description="registered job name or dotted module path (default: step name)"
    )
    description: str = ""
    params: dict[str, Any] = Field(
        default_factory=dict, description="job parameters layered over jobs.<job> from the configuration"
    )
    depends_on: list[str] = Field(default_factory=list, description="steps that must succeed first")
    inputs: list[str] | None = Field(
        None, description="datasets the step reads (default: the job's declared inputs)"
    )
    outputs: list[str] | None = Field(
        None, description="datasets the step writes (default: the job's declared outputs)"
    )
    retry: RetryPolicy | None = Field(None, description="overrides defaults.retry")
    timeout_s: float | None = Field(None, gt=0, description="overrides defaults.timeout_s")
    has_spark: bool | None = Field(None, description="overrides defaults.has_spark")
    engine: EngineChoiceName | None = Field(
        None, description="this step's engine: spark, duckdb or auto (wins over every other setting)"
    )


class PipelineSpec(BaseModel):
    """A named DAG of job steps with a schedule and per-step retry policy and timeout."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(..., description="the key under pipelines:")
    description: str = ""
    mode: Mode = Field("incremental", description="default mode of `pipeline run` (--mode overrides)")
    schedule: ScheduleSpec | None = None
    defaults: StepDefaults = Field(default_factory=StepDefaults)
    steps: dict[str, StepSpec] = Field(
        ..., min_length=1, description="step name → step, in declaration order"
    )
    #: the file each key of ``pipelines.<name>`` came from (set by :func:`load_pipeline`)
    _sources: dict[tuple[str, ...], str] = PrivateAttr(default_factory=dict)

    def param_source(self, step: str, key: str) -> str:
        """Where ``params.<key>`` of ``step`` is written: the file and the key path in it."""
        path = ("steps", step, "params", key)
        where = ".".join(("pipelines", self.name, *path))
        file = self._sources.get(path) or next(
            (s for p, s in self._sources.items() if p[: len(path)] == path), None
        )
        return f"{file} ({where})" if file else f"pipeline {self.name!r} ({where})"

    @field_validator("name")
    @classmethod
    def _valid_name(cls, value: str) -> str:
        return _check_name(value, "pipeline")

    @field_validator("steps")
    @classmethod
    def _valid_step_names(cls, value: dict[str, StepSpec]) -> dict[str, StepSpec]:
        for name in value:
            _check_name(name, "step")
        return value

    @model_validator(mode="after")
    def _valid_graph(self) -> PipelineSpec:
        # ConfigError is not a ValueError: it leaves pydantic unwrapped, with the exact key
        where = f"pipelines.{self.name}"
        check_dependencies(self.explicit_dependencies, where=where)
        check_inferred(self.explicit_dependencies, self.step_datasets, where=where)
        return self

    # -- derived --------------------------------------------------------------------------------
    @property
    def explicit_dependencies(self) -> dict[str, list[str]]:
        """What ``depends_on`` says, step by step."""
        return {name: list(step.depends_on) for name, step in self.steps.items()}

    @property
    def step_datasets(self) -> dict[str, StepDatasets]:
        """What each step reads and writes (the step's own lists, else its job's declaration)."""
        return {
            name: StepDatasets(tuple(step.inputs or ()), tuple(step.outputs or ()))
            for name, step in self.steps.items()
        }

    @property
    def dependencies(self) -> dict[str, list[str]]:
        """``depends_on`` plus the writer of every dataset a step reads, in declaration order."""
        return merged_dependencies(self.explicit_dependencies, self.step_datasets)

    def order(self) -> list[str]:
        """Steps in the order the runner runs them (dependencies first, then declaration order)."""
        return topological_order(self.dependencies)

    def job_of(self, step: str) -> str:
        return self.steps[step].job or step

    def retry_of(self, step: str) -> RetryPolicy:
        return self.steps[step].retry or self.defaults.retry

    def timeout_of(self, step: str) -> float | None:
        spec = self.steps[step]
        return spec.timeout_s if spec.timeout_s is not None else self.defaults.timeout_s

    def engine_of(self, step: str, invocation: str | None = None) -> str | None:
        """The step's engine: the step's own, else ``invocation`` (``pipeline run --engine``), else the
        pipeline's ``defaults.engine``; None leaves it to the configuration's ``engine.use``."""
        return self.steps[step].engine or invocation or self.defaults.engine

    def has_spark_of(self, step: str) -> bool:
        spec = self.steps[step]
        return spec.has_spark if spec.has_spark is not None else self.defaults.has_spark

    def mermaid(
        self,
        *,
        statuses: Mapping[str, str] | None = None,
        direction: str = "LR",
        datasets: bool = True,
    ) -> str:
        """A Mermaid flowchart; with ``datasets``, the datasets between the steps are drawn too."""
        labels = {}
        for name in self.steps:
            job = self.job_of(name)
            labels[name] = name if job == name else f"{name}<br/>job: {job}"
        return to_mermaid(
            self.dependencies,
            labels=labels,
            statuses=statuses,
            direction=direction,
            datasets=self.step_datasets if datasets else None,
        )


class StateSettings(DatabaseSettings):
    """Where the run ledger lives and how run locks are kept alive (the ``state:`` section).

    Secrets written into ``url`` move into ``password`` / ``secret_options`` (see
    :class:`sparkjobs.config.database.DatabaseSettings`), so ``url`` is safe to show.
    """

    url: str = Field(
        "sqlite:///state/pipeline.db",
        description="sqlite:///relative/or//absolute/path.db, or postgresql://user@host:5432/db",
    )
    password: SecretStr | None = Field(
        None, description="PostgreSQL password, kept out of the URL (e.g. SPARKJOBS__STATE__PASSWORD)"
    )
    pg_schema: str | None = Field(
        None, description="PostgreSQL schema for the ledger tables (created if missing)"
    )
    heartbeat_s: float = Field(15.0, gt=0, description="how often a running pipeline refreshes its lock")
    stale_after_s: float = Field(
        120.0, gt=0, description="a lock whose heartbeat is older than this may be taken over"
    )

    @model_validator(mode="after")
    def _stale_after_heartbeats(self) -> StateSettings:
        if self.stale_after_s < 2 * self.heartbeat_s:
            raise ValueError(
                f"stale_after_s ({self.stale_after_s:g}) must be at least twice "
                f"heartbeat_s ({self.heartbeat_s:g})"
            )
        return self

    @field_validator("url")
    @classmethod
    def _known_scheme(cls, value: str) -> str:
        if not value.startswith(("sqlite:///", "postgresql://", "postgres://")):
            raise ValueError("expected sqlite:///PATH or postgresql://... (postgres://... also accepted)")
        return value


# -- reading the configuration tree ----------------------------------------------------------------
def pipeline_names(layered: LayeredConfig) -> list[str]:
    tree = layered.tree.get("pipelines") or {}
    return list(tree) if isinstance(tree, dict) else []


def load_pipeline(
    layered: LayeredConfig, name: str, *, datasets_of: DatasetsOf | None = None
) -> PipelineSpec:
    """Validate ``pipelines.<name>``; errors name the file and key.

    ``datasets_of(job)`` gives a job's declared ``(inputs, outputs)``; a step that lists neither
    ``inputs`` nor ``outputs`` takes its job's, so that the order follows what the jobs read and write.
    """
    names = pipeline_names(layered)
    if name not in names:
        raise PipelineNotFoundError(name, names, difflib.get_close_matches(name, names, n=3, cutoff=0.6))
    data, sources, raw = layered.section(("pipelines", name))
    data = type_raw_values(PipelineSpec, {**data, "name": name}, raw)
    if datasets_of is not None:
        data = _with_job_datasets(data, datasets_of)
    spec = validate_model(
        PipelineSpec, data, sources=sources, prefix=("pipelines", name), what=f"pipeline {name!r}"
    )
    spec._sources = dict(sources)
    return spec


def _with_job_datasets(data: dict[str, Any], datasets_of: DatasetsOf) -> dict[str, Any]:
    steps = data.get("steps")
    if not isinstance(steps, Mapping):
        return data  # validation names the problem
    filled: dict[str, Any] = {}
    for step, spec in steps.items():
        if isinstance(spec, Mapping) and "inputs" not in spec and "outputs" not in spec:
            job = spec.get("job") or step
            inputs, outputs = datasets_of(str(job))
            spec = {**spec, "inputs": list(inputs), "outputs": list(outputs)}
        filled[step] = spec
    return {**data, "steps": filled}


def iter_pipelines(layered: LayeredConfig) -> Iterator[tuple[str, PipelineSpec | ConfigError]]:
    """Every configured pipeline, or the error that keeps it from validating."""
    for name in pipeline_names(layered):
        try:
            yield name, load_pipeline(layered, name)
        except ConfigError as exc:
            yield name, exc


def load_state_settings(layered: LayeredConfig) -> StateSettings:
    data, sources, raw = layered.section(("state",))
    data = type_raw_values(StateSettings, dict(data), raw)
    return validate_model(
        StateSettings, data, sources=sources, prefix=("state",), what="state store settings"
    )
