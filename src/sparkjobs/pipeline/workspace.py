"""The merged configuration a pipeline command works in: pipelines, the state store, framework settings.

The environment, conf dir and layers are resolved by :class:`sparkjobs.config.workspace.ConfigWorkspace`,
the same rules as for ``sparkjobs run`` (conf/base → conf/<env> → conf/local → ``SPARKJOBS__*``
environment variables → ``--config`` files); every step of a pipeline is then
prepared by :func:`sparkjobs.executor.prepare` with the same environment and files.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from sparkjobs.catalog import catalog_names
from sparkjobs.config.layers import LayeredConfig
from sparkjobs.config.workspace import ConfigWorkspace, resolve_env
from sparkjobs.errors import ConfigError, SparkJobsError
from sparkjobs.executor import RunRequest, resolve_settings
from sparkjobs.pipeline.ledger import RunLedger, open_ledger
from sparkjobs.pipeline.model import (
    PipelineSpec,
    StateSettings,
    load_pipeline,
    load_state_settings,
    pipeline_names,
)
from sparkjobs.registry import resolve
from sparkjobs.settings import Settings


@dataclass(frozen=True)
class Invocation:
    """What every step's :class:`~sparkjobs.executor.RunRequest` inherits from the command line."""

    env: str | None = None
    conf_dir: Path | None = None
    project_dir: Path | None = None
    config_files: tuple[Path, ...] = ()
    service_provider: str = "local"
    #: ``pipeline run --engine``: every step's engine unless the step names its own
    engine: str | None = None
    environ: Mapping[str, str] | None = field(default=None, repr=False)

    def resolved_env(self) -> str:
        return resolve_env(self.env, os.environ if self.environ is None else self.environ)

    def config_workspace(self) -> ConfigWorkspace:
        """The environment and conf dir by the rules every command shares (bad names are refused)."""
        return ConfigWorkspace.resolve(
            env=self.env,
            conf_dir=self.conf_dir,
            config_files=self.config_files,
            environ=self.environ,
            project_dir=self.project_dir,
        )

    def cli_flags(self) -> list[str]:
        """The flags that reproduce this invocation (for resume commands)."""
        flags: list[str] = []
        if self.env:
            flags += ["--env", self.env]
        if self.project_dir:
            flags += ["--project-dir", str(self.project_dir)]
        if self.conf_dir:
            flags += ["--conf-dir", str(self.conf_dir)]
        for file in self.config_files:
            flags += ["--config", str(file)]
        if self.service_provider != "local":
            flags += ["--service-provider", self.service_provider]
        if self.engine:
            flags += ["--engine", self.engine]
        return flags


@dataclass
class Workspace:
    invocation: Invocation
    layered: LayeredConfig
    settings: Settings
    config: ConfigWorkspace
    _datasets: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = field(default_factory=dict, repr=False)

    @classmethod
    def load(cls, invocation: Invocation) -> Workspace:
        config = invocation.config_workspace()
        layered = config.layers()
        settings = resolve_settings(layered, RunRequest(job="(pipeline)"), config)
        return cls(invocation, layered, settings, config)

    @property
    def project_dir(self) -> Path:
        return self.config.project_dir

    @property
    def env(self) -> str:
        return self.invocation.resolved_env()

    def pipeline(self, name: str) -> PipelineSpec:
        """``pipelines.<name>``, each step reading and writing what its job declares."""
        spec = load_pipeline(self.layered, name, datasets_of=self._job_datasets)
        self._check_dataset_names(spec)
        return spec

    def pipelines(self) -> list[tuple[str, PipelineSpec | ConfigError]]:
        out: list[tuple[str, PipelineSpec | ConfigError]] = []
        for name in pipeline_names(self.layered):
            try:
                out.append((name, self.pipeline(name)))
            except ConfigError as exc:
                out.append((name, exc))
        return out

    def _job_datasets(self, job: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """A job's declared datasets; a job that cannot be found declares none here (running the
        step reports it), a malformed declaration is an error."""
        if job not in self._datasets:
            try:
                spec = resolve(job)
                spec.load()
            except SparkJobsError:
                self._datasets[job] = ((), ())
            else:
                use = spec.datasets
                self._datasets[job] = (use.inputs, use.outputs)
        return self._datasets[job]

    def _check_dataset_names(self, spec: PipelineSpec) -> None:
        """With a catalog configured, every dataset a step reads or writes must be in it."""
        known = catalog_names(self.layered)
        if not known:
            return
        for step, use in spec.step_datasets.items():
            for role, names in (("inputs", use.inputs), ("outputs", use.outputs)):
                for dataset in names:
                    if dataset in known:
                        continue
                    close = difflib.get_close_matches(dataset, known, n=3, cutoff=0.6)
                    hint = f" (did you mean {', '.join(repr(c) for c in close)}?)" if close else ""
                    verb = "reads" if role == "inputs" else "writes"
                    raise ConfigError(
                        f"step {step!r} of pipeline {spec.name!r} {verb} "
                        f"dataset {dataset!r}, which the catalog does not define{hint}",
                        key=f"pipelines.{spec.name}.steps.{step}.{role}",
                        value=dataset,
                        expected=f"one of {known} (catalog: in conf/*/catalog.yml), or a new catalog entry",
                    )

    def state(self) -> StateSettings:
        return load_state_settings(self.layered)

    def open_ledger(self, *, read_only: bool = False, **kwargs: object) -> RunLedger:
        """The run ledger; a relative SQLite path is taken from the project root.

        ``read_only``: a command that only looks (``pipeline status``, ``runs show``) never creates
        one; a missing SQLite file raises :class:`~sparkjobs.pipeline.errors.NoLedgerError`.
        """
        state = self.state()
        secrets = {str(name): value for name, value in state.secret_options.items()}
        if state.password is not None:
            secrets["password"] = state.password
        return open_ledger(
            state.url,
            pg_schema=state.pg_schema,
            secrets=secrets,
            base_dir=self.project_dir,
            create=not read_only,
            **kwargs,  # type: ignore[arg-type]
        )
