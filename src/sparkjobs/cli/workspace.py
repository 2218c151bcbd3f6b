"""The preamble every ``pipeline``/``schedule`` command shares, written once: options → Workspace.

:func:`pipeline_workspace` adds ``--env``/``--conf-dir``/``--config`` (and ``--service-provider``
where a command runs steps), loads the :class:`~sparkjobs.pipeline.workspace.Workspace` and hands it
to the command as its first argument; a configuration error becomes the command's exit code 2.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sparkjobs.cli.options import engine_option, service_provider_option, workspace_options
from sparkjobs.pipeline.workspace import Invocation, Workspace


def pipeline_workspace(*, runs_steps: bool = False) -> Callable[[Callable[..., Any]], Any]:
    """Decorate a command ``func(ws, **options)``; ``runs_steps`` adds ``--service-provider``."""

    def decorate(func: Callable[..., Any]) -> Any:
        @functools.wraps(func)
        def command(
            *args: Any,
            env: str | None,
            conf_dir: Path | None,
            project_dir: Path | None,
            config_files: tuple[Path, ...],
            service_provider: str = "local",
            engine: str | None = None,
            **kwargs: Any,
        ) -> Any:
            invocation = Invocation(
                env=env,
                conf_dir=conf_dir,
                project_dir=project_dir,
                config_files=tuple(config_files),
                service_provider=service_provider,
                engine=engine,
            )
            return func(Workspace.load(invocation), *args, **kwargs)

        # help lists --env/--conf-dir/--config first, then --service-provider and --engine
        return workspace_options(service_provider_option(engine_option(command)) if runs_steps else command)

    return decorate


def setup_logging(ws: Workspace, fmt: str | None, *, live: bool = False) -> None:
    """The configured log format unless ``--log-format`` says otherwise."""
    from sparkjobs.observability.logging import configure_logging

    obs = ws.settings.observability
    chosen = fmt or obs.log_format
    if live and chosen == "auto":  # under the live display stderr is rich's proxy, not a tty: stay readable
        chosen = "console"
    configure_logging(chosen, obs.log_level)
