"""The one path every entry point takes: resolve → layer config → validate → context → ``main(**kwargs)``.

The CLI, the platform entry points (container, spark-submit, Databricks, Glue) and the pipeline
runner all call :func:`prepare` and :func:`execute`; nothing travels through ``os.environ``.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping, Sequence
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
from sparkjobs.config.workspace import ConfigWorkspace, resolve_data_paths, with_path_defaults
from sparkjobs.context import JobContext, new_run_id, parse_event_date
from sparkjobs.errors import ConfigError, JobContractError, JobFailedError, SparkJobsError, UsageError
from sparkjobs.observability.tracing import Tracing
from sparkjobs.registry import JobSpec, resolve
from sparkjobs.settings import Settings
from sparkjobs.spark.session import SessionProvider
from sparkjobs.spark.settings import MAX_PARTITIONS, MAX_SALT_BUCKETS

OWN_MODEL_SECTIONS = frozenset({"jobs", "pipelines", "services"})


@dataclass
class RunRequest:
    """Everything a caller can say about one job run."""

    job: str
    env: str | None = None
    conf_dir: Path | None = None
    #: the project root (default: the folder holding conf/, found upward from the cwd)
    project_dir: Path | None = None
    config_files: Sequence[Path] = ()
    params: Sequence[str] = ()  # "key.path=value"
    json_config: str | Mapping[str, Any] | None = None
    partitions: int | None = None
    salt: int | None = None
    has_spark: bool = True
    event_date: str | date | None = None
    dry_run: bool = False
    service_provider: str = "local"
    run_id: str | None = None
    extra_params: Mapping[str, Any] = field(default_factory=dict)  # typed values from platform entry points
    #: where each of ``extra_params`` was written (a pipeline file and key path); default "entry point"
    extra_sources: Mapping[str, str] = field(default_factory=dict)
    #: a session provider shared by several runs (a pipeline's steps); its owner closes it
    session: SessionProvider | None = None
    #: a tracer shared by several runs (a pipeline's steps, under its spans); default: per run from OTEL_*
    tracing: Tracing | None = None
    #: the pipeline and step this run belongs to: in its log lines, report, metrics and spans
    pipeline: str | None = None
    step: str | None = None


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


def resolve_settings(
    layered: LayeredConfig, request: RunRequest, workspace: ConfigWorkspace | None = None
) -> Settings:
    """Validate the framework sections of the tree and apply --partitions/--salt explicitly.

    With ``workspace``, the relative folders of ``observability`` are taken from its project root.
    """
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
    if workspace is not None:
        obs = settings.observability
        obs.runs_dir = workspace.resolve_path(obs.runs_dir)
        if obs.textfile_dir is not None:
            obs.textfile_dir = workspace.resolve_path(obs.textfile_dir)
    return settings


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
        env=request.env,
        conf_dir=request.conf_dir,
        config_files=request.config_files,
        environ=environ,
        project_dir=request.project_dir,
    )
    layered = workspace.layers()
    prefix: Path_ = ("jobs", spec.config_name)
    if request.json_config is not None:
        layered.apply(nest(prefix, _parse_json(request.json_config)), "--json")
    for key, value in request.extra_params.items():
        layered.apply(nest((*prefix, key), value), request.extra_sources.get(key, "entry point"))
    for text in request.params:
        path, value = parse_param(text)
        if path[: len(prefix)] == prefix and len(path) > len(prefix):
            path = path[len(prefix) :]  # the full key path every message prints: jobs.<job>.<key>
        layered.apply(nest(prefix + path, value), "--param", raw=True)
    return spec, workspace, layered


def prepare(request: RunRequest, environ: Mapping[str, str] | None = None) -> PreparedRun:
    """Everything up to (not including) running the job; raises usage/config errors only."""
    spec, workspace, layered = _load(request, environ)
    settings = resolve_settings(layered, request, workspace)
    job_tree, job_sources, job_raw = layered.section(("jobs", spec.config_name))
    job_tree = resolve_data_paths(with_path_defaults(spec.config_model, job_tree), job_raw, workspace)
    factory = spec.factory
    if factory is not None and hasattr(factory, "validate_config"):
        config = factory.validate_config(job_tree, sources=job_sources, raw_paths=job_raw)
    else:  # a hand-written main(**kwargs): parameters are passed as given, YAML-typed
        config = type_raw_values(None, dict(job_tree), job_raw)
    # main() receives the validated field values (what create_job gets), and the context carries the
    # validated config so that make_main's factory uses it instead of validating a second time
    job_kwargs = getattr(factory, "job_kwargs", None)
    params = job_kwargs(config) if callable(job_kwargs) else dict(config)
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
        pipeline=request.pipeline,
        step=request.step,
    )
    return PreparedRun(spec, context, params, config, layered, job_sources, request.session is not None)


def execute(prepared: PreparedRun, *, attempt: int | None = None) -> Any:
    """Call the module's ``main(**params, context=...)``; wrap job errors in :class:`JobFailedError`.

    ``attempt``: the attempt number the caller keeps (a pipeline's ledger counts across resumes);
    by default the observer counts this run's executions in this process.
    """
    ctx = prepared.context
    try:
        # outermost: exports even for a hand-written main
        with ctx.observer.observe_run(prepared.config, attempt=attempt):
            result = prepared.spec.main(**prepared.params, context=ctx)
            ctx.observer.record_result(result)
            return result
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


#: how ``config show`` marks a required key that no layer sets
MISSING = "<missing>"
MISSING_SOURCE = "required: set it in conf/ or with -p"


@dataclass
class ConfigView:
    """What ``config show`` prints: ``(key, value, source)`` rows, and the required keys not set."""

    rows: list[tuple[str, Any, str]]
    missing: list[str] = field(default_factory=list)

    def __iter__(self) -> Iterator[tuple[str, Any, str]]:
        """The rows, so that ``for key, value, source in show_config(...)`` reads naturally."""
        return iter(self.rows)


def show_config(request: RunRequest, environ: Mapping[str, str] | None = None) -> ConfigView:
    """Every leaf of the job's merged config and the framework sections, with its source.

    A config that only lacks required keys is shown as far as it goes, each missing key marked
    :data:`MISSING`; any other problem (a wrong value, an unknown key) is raised as by ``run``.
    """
    try:
        prepared = prepare(request, environ)
    except ConfigError as exc:
        if not exc.missing or len(exc.missing) != exc.problems:
            raise
        return _partial_view(request, environ, exc.missing)
    cfg = prepared.config
    job_plain = mask(cfg.model_dump(mode="json") if isinstance(cfg, BaseModel) else cfg)
    rows = _job_rows(prepared.spec.config_name, job_plain, prepared.layered)
    return ConfigView(rows + _settings_rows(prepared.context.settings, prepared.layered))


def _partial_view(request: RunRequest, environ: Mapping[str, str] | None, missing: list[str]) -> ConfigView:
    """The layered values as written (not yet typed by the model), plus the missing keys marked."""
    spec, workspace, layered = _load(request, environ)
    settings = resolve_settings(layered, request, workspace)
    job_tree, _sources, _raw = layered.section(("jobs", spec.config_name))
    rows = _job_rows(spec.config_name, mask(copy.deepcopy(job_tree)), layered)
    rows += [(key, MISSING, MISSING_SOURCE) for key in missing]
    rows.sort(key=lambda row: row[0])
    return ConfigView(rows + _settings_rows(settings, layered), sorted(missing))


def _job_rows(name: str, job_plain: Any, layered: LayeredConfig) -> list[tuple[str, Any, str]]:
    prefix: Path_ = ("jobs", name)
    return [
        (join_key(prefix + path), value, layered.source_of(prefix + path))
        for path, value in iter_leaves(job_plain)
    ]


def _settings_rows(settings: Settings, layered: LayeredConfig) -> list[tuple[str, Any, str]]:
    plain = settings.model_dump(mode="json", exclude={"jobs", "pipelines", "services"})
    return [(join_key(path), value, layered.source_of(path)) for path, value in iter_leaves(mask(plain))]
