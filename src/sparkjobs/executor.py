"""The one path every entry point takes: resolve → layer config → validate → context → ``main(**kwargs)``.

The CLI, the platform entry points (container, spark-submit, Databricks, Glue) and the pipeline
runner all call :func:`prepare` and :func:`execute`; nothing travels through ``os.environ``.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from sparkjobs.config.coerce import type_raw_values
from sparkjobs.config.files import parse_json_text
from sparkjobs.config.layers import LayeredConfig
from sparkjobs.config.secrets import mask
from sparkjobs.config.tree import Path_, iter_leaves, join_key, nest, split_key
from sparkjobs.config.validate import validate_model
from sparkjobs.config.workspace import ConfigWorkspace
from sparkjobs.context import JobContext, new_run_id, parse_event_date
from sparkjobs.engines.registry import EngineChoice, EngineRegistry
from sparkjobs.engines.session import SessionProvider
from sparkjobs.engines.settings import ENGINE_CHOICES
from sparkjobs.engines.size import input_bytes
from sparkjobs.errors import ConfigError, JobContractError, JobFailedError, SparkJobsError, UsageError
from sparkjobs.observability.tracing import Tracing
from sparkjobs.registry import JobSpec, resolve
from sparkjobs.settings import Settings
from sparkjobs.spark.settings import MAX_PARTITIONS, MAX_SALT_BUCKETS
from sparkjobs.sql import engine_scope

OWN_MODEL_SECTIONS = frozenset({"jobs", "pipelines", "services"})


@dataclass
class RunRequest:
    """Everything a caller can say about one job run."""

    job: str
    env: str | None = None
    conf_dir: Path | None = None
    config_files: Sequence[Path] = ()
    params: Sequence[str] = ()  # "key.path=value"
    json_config: str | Mapping[str, Any] | None = None
    partitions: int | None = None
    salt: int | None = None
    has_spark: bool = True
    event_date: str | date | None = None
    dry_run: bool = False
    #: ``spark``, ``duckdb`` or ``auto`` (``--engine``); None: the configuration's ``engine.use``
    engine: str | None = None
    service_provider: str = "local"
    run_id: str | None = None
    extra_params: Mapping[str, Any] = field(default_factory=dict)  # typed values from platform entry points
    #: a session provider shared by several runs (a pipeline's steps); its owner closes it
    session: SessionProvider | None = None
    #: a tracer shared by several runs (a pipeline's steps, under its spans); default: per run from OTEL_*
    tracing: Tracing | None = None


@dataclass
class PreparedRun:
    spec: JobSpec
    context: JobContext
    params: dict[str, Any]  # what main(**kwargs) receives besides the context
    config: Any  # validated model instance or dict
    layered: LayeredConfig
    job_sources: dict[Path_, str]
    shares_session: bool = False

    def plan(self) -> dict[str, Any]:
        """The resolved plan ``--dry-run`` prints (secrets masked)."""
        settings = self.context.settings
        cfg = self.config.model_dump(mode="json") if isinstance(self.config, BaseModel) else self.config
        return {
            **self.context.describe(),
            "module": self.spec.module_name,
            "origin": self.spec.origin,
            "engine_reason": self.context.engine_reason,
            "master": settings.spark.resolved_master(self.context.service_provider) or "(platform)",
            "spark_conf": mask(settings.spark.spark_conf(self.context.job_name))
            if self.context.has_spark
            else {},
            "salt_buckets": settings.spark.salt_buckets,
            "params": mask(cfg),
        }


def parse_param(text: str) -> tuple[Path_, str]:
    """``key.path=value`` of ``--param`` (the value may hold ``=`` and ``:``)."""
    if "=" not in text:
        raise UsageError(f"bad --param {text!r}: expected key.path=value")
    key, value = text.split("=", 1)  # values may contain '=' and ':'
    try:
        return split_key(key.strip()), value
    except ValueError as exc:
        raise UsageError(f"bad --param {text!r}: {exc}") from None


def _parse_json(text: str | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(text, Mapping):
        return dict(text)
    try:  # like config files: duplicate keys refused, nesting bounded
        data = parse_json_text(text, "--json")
    except ConfigError as exc:
        detail = exc.message.removeprefix("invalid JSON: ")
        raise ConfigError(
            f"--json is not valid JSON: {detail}", file=exc.file, expected=exc.expected
        ) from None
    if not isinstance(data, dict):
        raise ConfigError("--json must be a JSON object", file="--json", value=data, expected="{...}")
    return data


def resolve_settings(layered: LayeredConfig, request: RunRequest) -> Settings:
    """Validate the framework sections of the tree and apply --partitions/--salt explicitly."""
    tree = copy.deepcopy(layered.tree)
    # job, pipeline and service sections are typed later by their own models
    raw = {p for p in layered.raw_paths if p[0] not in OWN_MODEL_SECTIONS}
    type_raw_values(Settings, tree, raw)
    settings = validate_model(Settings, tree, sources=layered.sources, what="configuration")
    flags = (
        ("--partitions", "shuffle_partitions", request.partitions, MAX_PARTITIONS),
        ("--salt", "salt_buckets", request.salt, MAX_SALT_BUCKETS),
    )
    for flag, field_name, value, high in flags:
        if value is None:
            continue
        if not 1 <= value <= high:
            raise UsageError(f"{flag} must be ≥ 1 and ≤ {high:,}, got {value}")
        setattr(settings.spark, field_name, value)
        layered.sources[("spark", field_name)] = flag
    if request.engine is not None:
        if request.engine not in ENGINE_CHOICES:
            raise UsageError(f"--engine must be one of {', '.join(ENGINE_CHOICES)}, got {request.engine!r}")
        settings.engine.use = request.engine  # type: ignore[assignment]
        layered.sources[("engine", "use")] = "--engine"
    return settings


def choose_engine(spec: JobSpec, config: Any, settings: Settings, has_spark: bool) -> EngineChoice:
    """The engine of this run: ``engine.use`` as asked, or ``auto``'s choice from the job's
    ``requires`` and input size (:meth:`sparkjobs.engines.registry.EngineRegistry.select`)."""
    requested = settings.engine.use
    factory = spec.factory
    size: int | None = None
    if requested == "auto" and factory is not None and hasattr(factory, "input_paths"):
        size = input_bytes(factory.input_paths(config))
    registry = EngineRegistry.default(settings.engine)
    return registry.select(
        spec.name, spec.metadata.requires, requested=requested, input_bytes=size, has_spark=has_spark
    )


def load_config(
    request: RunRequest, environ: Mapping[str, str] | None = None
) -> tuple[JobSpec, LayeredConfig]:
    """Resolve the job and build every config layer, the command line's included."""
    spec, _workspace, layered = _load(request, environ)
    return spec, layered


def _load(
    request: RunRequest, environ: Mapping[str, str] | None
) -> tuple[JobSpec, ConfigWorkspace, LayeredConfig]:
    spec = resolve(request.job)
    workspace = ConfigWorkspace.resolve(
        env=request.env, conf_dir=request.conf_dir, config_files=request.config_files, environ=environ
    )
    layered = workspace.layers()
    prefix: Path_ = ("jobs", spec.config_name)
    if request.json_config is not None:
        layered.apply(nest(prefix, _parse_json(request.json_config)), "--json")
    for key, value in request.extra_params.items():
        layered.apply(nest((*prefix, key), value), "entry point")
    for text in request.params:
        path, value = parse_param(text)
        layered.apply(nest(prefix + path, value), "--param", raw=True)
    return spec, workspace, layered


def prepare(request: RunRequest, environ: Mapping[str, str] | None = None) -> PreparedRun:
    """Everything up to (not including) running the job; raises usage/config errors only."""
    spec, workspace, layered = _load(request, environ)
    settings = resolve_settings(layered, request)
    job_tree, job_sources, job_raw = layered.section(("jobs", spec.config_name))
    factory = spec.factory
    if factory is not None and hasattr(factory, "validate_config"):
        config = factory.validate_config(job_tree, sources=job_sources, raw_paths=job_raw)
    else:  # a hand-written main(**kwargs): parameters are passed as given, YAML-typed
        config = type_raw_values(None, dict(job_tree), job_raw)
    # main() receives the validated field values (what create_job gets), and the context carries the
    # validated config so that make_main's factory uses it instead of validating a second time
    job_kwargs = getattr(factory, "job_kwargs", None)
    params = job_kwargs(config) if callable(job_kwargs) else dict(config)
    choice = choose_engine(spec, config, settings, request.has_spark)
    context = JobContext(
        job_name=spec.config_name,
        run_id=request.run_id or new_run_id(),
        env=workspace.env,
        service_provider=request.service_provider,
        has_spark=request.has_spark,
        event_date=parse_event_date(request.event_date),
        settings=settings,
        dry_run=request.dry_run,
        session=request.session,  # type: ignore[arg-type]
        tracing=request.tracing,
        config=config,
        engine=choice.engine,
        engine_reason=choice.reason,
    )
    return PreparedRun(spec, context, params, config, layered, job_sources, request.session is not None)


def execute(prepared: PreparedRun) -> Any:
    """Call the module's ``main(**params, context=...)``; wrap job errors in :class:`JobFailedError`."""
    ctx = prepared.context
    try:
        # outermost: exports even for a hand-written main; F/T/Window of sparkjobs.sql resolve for the engine
        with ctx.observer.observe_run(prepared.config), engine_scope(ctx.engine):
            return prepared.spec.main(**prepared.params, context=ctx)
    except SparkJobsError as exc:
        if exc.exit_code == 2 or isinstance(exc, JobFailedError):
            raise
        raise _failed(prepared, exc) from exc
    except Exception as exc:
        raise _failed(prepared, exc) from exc
    except SystemExit as exc:  # the job already went through on_failure: a failure, whatever the code
        cause = JobContractError(
            f"the job called sys.exit({'' if exc.code is None else repr(exc.code)}); "
            "return a result or raise an error instead"
        )
        raise _failed(prepared, cause) from exc
    finally:
        if not prepared.shares_session:
            ctx.session.close()


def _failed(prepared: PreparedRun, exc: BaseException) -> JobFailedError:
    """The job's error wrapped with its run facts; the run's secret values and DSN passwords masked."""
    ctx = prepared.context
    return JobFailedError(
        prepared.spec.name, ctx.run_id, exc, hint=_rerun_hint(prepared), redact=ctx.observer.redactor
    )


def _rerun_hint(prepared: PreparedRun) -> str:
    ctx = prepared.context
    return (
        f"fix the cause, then rerun the same logical date: sparkjobs run {prepared.spec.name} "
        f"--env {ctx.env} --event-date {ctx.event_date.isoformat()} (reruns replace that date's output)"
    )


def show_config(request: RunRequest, environ: Mapping[str, str] | None = None) -> list[tuple[str, Any, str]]:
    """``(key, value, source)`` for every leaf of the job's merged config and the framework sections."""
    prepared = prepare(request, environ)
    rows: list[tuple[str, Any, str]] = []
    cfg = prepared.config
    job_plain = mask(cfg.model_dump(mode="json") if isinstance(cfg, BaseModel) else cfg)
    prefix: Path_ = ("jobs", prepared.spec.config_name)
    for path, value in iter_leaves(job_plain):
        rows.append((join_key(prefix + path), value, prepared.layered.source_of(prefix + path)))
    settings = prepared.context.settings.model_dump(mode="json", exclude={"jobs", "pipelines", "services"})
    for path, value in iter_leaves(mask(settings)):
        rows.append((join_key(path), value, prepared.layered.source_of(path)))
    return rows
