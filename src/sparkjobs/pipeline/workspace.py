"""The merged configuration a pipeline command works in: pipelines, the state store, framework settings.

The environment, conf dir and layers are resolved by :class:`sparkjobs.config.workspace.ConfigWorkspace`,
the same rules as for ``sparkjobs run`` (conf/base → conf/<env> → conf/local → ``SPARKJOBS__*``
environment variables → ``--config`` files); every step of a pipeline is then
prepared by :func:`sparkjobs.executor.prepare` with the same environment and files.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from sparkjobs.config.layers import LayeredConfig
from sparkjobs.config.workspace import ConfigWorkspace, resolve_env
from sparkjobs.errors import ConfigError
from sparkjobs.executor import RunRequest, resolve_settings
from sparkjobs.pipeline.ledger import RunLedger, open_ledger
from sparkjobs.pipeline.model import (
    PipelineSpec,
    StateSettings,
    iter_pipelines,
    load_pipeline,
    load_state_settings,
)
from sparkjobs.settings import Settings


@dataclass(frozen=True)
class Invocation:
    """What every step's :class:`~sparkjobs.executor.RunRequest` inherits from the command line."""

    env: str | None = None
    conf_dir: Path | None = None
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
            env=self.env, conf_dir=self.conf_dir, config_files=self.config_files, environ=self.environ
        )

    def cli_flags(self) -> list[str]:
        """The flags that reproduce this invocation (for resume commands)."""
        flags: list[str] = []
        if self.env:
            flags += ["--env", self.env]
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

    @classmethod
    def load(cls, invocation: Invocation) -> Workspace:
        layered = invocation.config_workspace().layers()
        settings = resolve_settings(layered, RunRequest(job="(pipeline)"))
        return cls(invocation, layered, settings)

    @property
    def env(self) -> str:
        return self.invocation.resolved_env()

    def pipeline(self, name: str) -> PipelineSpec:
        return load_pipeline(self.layered, name)

    def pipelines(self) -> list[tuple[str, PipelineSpec | ConfigError]]:
        return list(iter_pipelines(self.layered))

    def state(self) -> StateSettings:
        return load_state_settings(self.layered)

    def open_ledger(self, **kwargs: object) -> RunLedger:
        state = self.state()
        secrets = {str(name): value for name, value in state.secret_options.items()}
        if state.password is not None:
            secrets["password"] = state.password
        return open_ledger(state.url, pg_schema=state.pg_schema, secrets=secrets, **kwargs)  # type: ignore[arg-type]
