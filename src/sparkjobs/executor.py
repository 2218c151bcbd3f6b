"""The one path every entry point takes: resolve → layer config → validate → context → ``main(**kwargs)``.

The CLI, the platform entry points (container, spark-submit, Databricks, Glue) and the pipeline
runner all call :func:`prepare` and :func:`execute`; nothing travels through ``os.environ``.

Why this module is long: :func:`prepare` is one ordered sequence (layers → ``{event_date}``
placeholders → catalog paths → project-root paths → validation → engine choice) whose steps only
make sense together; its helpers stay next to it. ``config show`` lives in :mod:`sparkjobs.config_show`.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from sparkjobs.capabilities import DECLARED
from sparkjobs.catalog import DatasetSpec, DatasetUse, load_catalog
from sparkjobs.config.coerce import type_raw_values
from sparkjobs.config.files import parse_json_text
from sparkjobs.config.layers import DEFAULT_SOURCE, LayeredConfig
from sparkjobs.config.secrets import mask
from sparkjobs.config.templates import WINDOW_KEY, render_tree, template_vars, window_days_of
from sparkjobs.config.tree import Path_, join_key, nest, split_key
from sparkjobs.config.validate import is_secret_location, validate_model
from sparkjobs.config.workspace import ConfigWorkspace, resolve_data_paths, with_path_defaults
from sparkjobs.context import PLATFORM_KWARGS, JobContext, new_run_id, parse_event_date
from sparkjobs.engines.registry import EngineChoice, EngineRegistry
from sparkjobs.engines.session import SessionProvider
from sparkjobs.engines.settings import ENGINE_CHOICES
from sparkjobs.engines.size import input_bytes
from sparkjobs.errors import ConfigError, JobContractError, JobFailedError, SparkJobsError, UsageError
from sparkjobs.observability.tracing import Tracing
from sparkjobs.registry import JobSpec, resolve
from sparkjobs.settings import Settings
from sparkjobs.spark.settings import MAX_PARTITIONS, MAX_SALT_BUCKETS, PLATFORM_PROVIDERS
from sparkjobs.sql import engine_scope

OWN_MODEL_SECTIONS = frozenset({"jobs", "pipelines", "services", "catalog"})


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
    #: ``spark``, ``duckdb`` or ``auto`` (``--engine``); None: the configuration's ``engine.use``
    engine: str | None = None
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
    params: dict[str, Any]  # the job's parameters (main_kwargs adds has_spark, service_provider, context)
    config: Any  # validated model instance or dict
    layered: LayeredConfig
    job_sources: dict[Path_, str]
    shares_session: bool = False
    #: the placeholders' values for this run, and ``path → template`` of the job's rendered keys
    template_values: dict[str, Any] = field(default_factory=dict)
    rendered: dict[Path_, str] = field(default_factory=dict)

    def dataset_rows(self) -> dict[str, dict[str, Any]]:
        """The declared datasets, rendered: ``{name: {"use": "input"|"output", "path", "format"}}``."""
        use = self.context.dataset_use
        roles = dict.fromkeys(use.inputs, "input")
        for name in use.outputs:
            roles[name] = "input+output" if name in roles else "output"
        rows: dict[str, dict[str, Any]] = {}
        for name, role in roles.items():
            entry = self.context.datasets.get(name)
            where = {"path": entry.path, "format": entry.format} if entry else {"path": None}
            rows[name] = {"use": role, **where}
        return rows

    @property
    def main_kwargs(self) -> dict[str, Any]:
        """What ``main(**kwargs)`` receives: the job's parameters, ``has_spark``, ``service_provider``
        (hand-written seed-style modules read them from kwargs) and ``context``."""
        return {**self.params, **self.context.platform_kwargs(), "context": self.context}

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
            "templates": {
                k: v.isoformat() if isinstance(v, date) else v for k, v in self.template_values.items()
            },
            "datasets": mask(self.dataset_rows()),
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
    if request.engine is not None:
        if request.engine not in ENGINE_CHOICES:
            raise UsageError(f"--engine must be one of {', '.join(ENGINE_CHOICES)}, got {request.engine!r}")
        settings.engine.use = request.engine  # type: ignore[assignment]
        layered.sources[("engine", "use")] = "--engine"
    return settings


def _cluster_target(settings: Settings, service_provider: str) -> str:
    """Why the run targets a cluster ('' when it does not): a platform, or a non-local master."""
    if service_provider in PLATFORM_PROVIDERS:
        return f"service_provider {service_provider} runs on Spark"
    master = settings.spark.master
    if master and not master.startswith("local"):
        return f"spark.master {master} is a cluster"
    return ""


def choose_engine(
    spec: JobSpec, config: Any, settings: Settings, has_spark: bool, service_provider: str = "local"
) -> EngineChoice:
    """The engine of this run: ``engine.use`` as asked, or ``auto``'s choice from the job's
    ``requires`` and input size (:meth:`sparkjobs.engines.registry.EngineRegistry.select`)."""
    requested = settings.engine.use
    factory = spec.factory
    size: int | None = None
    if requested == "auto" and factory is not None and hasattr(factory, "input_paths"):
        size = input_bytes(factory.input_paths(config))
    requires: dict[str, str] = dict.fromkeys(sorted(spec.metadata.requires), DECLARED)
    if factory is not None and hasattr(factory, "requirements"):
        requires = factory.requirements(config)  # the metadata's, and what this config needs
    if requested == "auto" and requires:
        target = _cluster_target(settings, service_provider)
        if target:  # auto never moves a run aimed at a cluster into this process
            requires = {**requires, "distributed": target}
    registry = EngineRegistry.default(settings.engine)
    if requested == "auto" and not requires and has_spark:
        # DuckDB is opt-in: a job that declares nothing may use Spark's API directly (as before auto)
        choice = registry.select(spec.name, requires, requested="spark", has_spark=has_spark)
        reason = "auto: the job declares no requires (declare [dataframe] to run in-process); spark"
        return EngineChoice(choice.engine, "auto", reason, size)
    return registry.select(
        spec.name, requires, requested=requested, input_bytes=size, has_spark=has_spark, why=requires
    )


def load_config(
    request: RunRequest, environ: Mapping[str, str] | None = None
) -> tuple[JobSpec, LayeredConfig]:
    """Resolve the job and build every config layer, the command line's included."""
    spec, _workspace, layered = load_run_config(request, environ)
    return spec, layered


def load_run_config(
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


def _window_days(spec: JobSpec, job_tree: Mapping[str, Any], sources: Mapping[Path_, str]) -> int | None:
    """The job's ``window_days`` (its config, else its model's default), which defines ``{window_*}``."""
    value = job_tree.get(WINDOW_KEY)
    if value is None:
        model = spec.config_model
        info = model.model_fields.get(WINDOW_KEY) if model is not None else None
        value = info.default if info is not None and isinstance(info.default, int) else None
    key = join_key(("jobs", spec.config_name, WINDOW_KEY))
    return window_days_of(value, key=key, file=sources.get((WINDOW_KEY,), DEFAULT_SOURCE))


def _bind_dataset_paths(
    spec: JobSpec,
    use: DatasetUse,
    datasets: Mapping[str, DatasetSpec],
    job_tree: dict[str, Any],
    job_sources: dict[Path_, str],
    layered: LayeredConfig,
) -> None:
    """A parameter bound to a dataset (``inputs = {"raw_path": "raw_events"}``) defaults to its path.

    A value set in any config layer wins. A dataset missing from the catalog is an error when the
    catalog defines others (a typo) or the parameter has no default; with no catalog at all the
    model's default stands.
    """
    model = spec.config_model
    for param, dataset in use.bindings.items():
        if param in job_tree:
            continue
        entry = datasets.get(dataset)
        if entry is None:
            info = model.model_fields.get(param) if model is not None else None
            if not datasets and info is not None and not info.is_required():
                continue
            raise ConfigError(
                f"job {spec.config_name!r} takes parameter {param!r} from dataset {dataset!r}, "
                "which the catalog does not define",
                key=f"catalog.{dataset}",
                expected=f"an entry with path and format under catalog: (conf/base/catalog.yml), or "
                f"jobs.{spec.config_name}.{param} set; defined datasets: {sorted(datasets) or '(none)'}",
            )
        job_tree[param] = entry.path
        origin = layered.source_of(("catalog", dataset, "path"))
        job_sources[(param,)] = f"catalog.{dataset}.path ({origin})"


def prepare(request: RunRequest, environ: Mapping[str, str] | None = None) -> PreparedRun:
    """Everything up to (not including) running the job; raises usage/config errors only.

    The job's parameters and the catalog are rendered (``{event_date}`` ...: see
    :mod:`sparkjobs.config.templates`) before the job's model validates them.
    """
    spec, workspace, layered = load_run_config(request, environ)
    settings = resolve_settings(layered, request, workspace)
    prefix: Path_ = ("jobs", spec.config_name)
    job_tree, job_sources, job_raw = layered.section(prefix)
    run_id = request.run_id or new_run_id()
    event_date = parse_event_date(request.event_date)
    values = template_vars(
        event_date=event_date,
        run_id=run_id,
        env=workspace.env,
        job=spec.config_name,
        window_days=_window_days(spec, job_tree, job_sources),
    )
    # text from --param and SPARKJOBS__* is typed first: "[a, {b: 1}]" is YAML, not a placeholder
    model = spec.config_model
    job_tree = type_raw_values(model, copy.deepcopy(job_tree), job_raw)
    job_raw = set()
    rendered: dict[Path_, str] = {}
    job_tree = render_tree(
        job_tree,
        values,
        sources=job_sources,
        prefix=prefix,
        rendered=rendered,
        skip=(lambda path: is_secret_location(model, path)) if model is not None else None,
    )
    datasets = load_catalog(layered, values)
    use = spec.datasets
    _bind_dataset_paths(spec, use, datasets, job_tree, job_sources, layered)
    job_tree = resolve_data_paths(with_path_defaults(model, job_tree), job_raw, workspace)
    factory = spec.factory
    if factory is not None and hasattr(factory, "validate_config"):
        config = factory.validate_config(job_tree, sources=job_sources, raw_paths=job_raw)
    else:  # a hand-written main(**kwargs): parameters are passed as given, YAML-typed
        config = type_raw_values(None, dict(job_tree), job_raw)
    # main() receives the validated field values (what create_job gets), and the context carries the
    # validated config so that make_main's factory uses it instead of validating a second time
    job_kwargs = getattr(factory, "job_kwargs", None)
    params = job_kwargs(config) if callable(job_kwargs) else dict(config)
    _check_platform_params(spec, params, request)
    choice = choose_engine(spec, config, settings, request.has_spark, request.service_provider)
    context = JobContext(
        job_name=spec.config_name,
        run_id=run_id,
        env=workspace.env,
        service_provider=request.service_provider,
        has_spark=request.has_spark,
        event_date=event_date,
        settings=settings,
        dry_run=request.dry_run,
        session=request.session,  # type: ignore[arg-type]
        tracing=request.tracing,
        config=config,
        datasets=datasets,
        dataset_use=use,
        pipeline=request.pipeline,
        step=request.step,
        engine=choice.engine,
        engine_reason=choice.reason,
    )
    return PreparedRun(
        spec,
        context,
        params,
        config,
        layered,
        job_sources,
        request.session is not None,
        template_values=values,
        rendered=rendered,
    )


def _check_platform_params(spec: JobSpec, params: Mapping[str, Any], request: RunRequest) -> None:
    """A job parameter named ``has_spark``/``service_provider`` must agree with the run's own value,
    since ``main(**kwargs)`` receives one value under that name."""
    run_values = {"has_spark": request.has_spark, "service_provider": request.service_provider}
    for key in PLATFORM_KWARGS:
        if key in params and params[key] != run_values[key]:
            raise UsageError(
                f"job {spec.name!r} has a parameter {key}={params[key]!r}, but this run has "
                f"{key}={run_values[key]!r}; main(**kwargs) receives one {key}: drop it from "
                f"jobs.{spec.config_name} or run with the same value"
            )


def execute(prepared: PreparedRun, *, attempt: int | None = None) -> Any:
    """Call the module's ``main(**params, has_spark=..., service_provider=..., context=...)``.

    Job errors are wrapped in :class:`JobFailedError`. ``attempt``: the attempt number the caller
    keeps (a pipeline's ledger counts across resumes); by default the observer counts this run's
    executions in this process.
    """
    ctx = prepared.context
    try:
        # outermost: exports even for a hand-written main; F/T/Window of sparkjobs.sql resolve for the engine
        with ctx.observer.observe_run(prepared.config, attempt=attempt), engine_scope(ctx.engine):
            result = prepared.spec.main(**prepared.main_kwargs)
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
