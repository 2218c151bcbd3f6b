"""Click options every command that reads the layered configuration shares (run, config, pipeline,
schedule, serve): one definition, so the flags and their help never drift apart."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click


def workspace_options(func: Any) -> Any:
    """``--env``, ``--conf-dir`` and ``--config`` (repeatable)."""
    func = click.option(
        "--env",
        "env",
        default=None,
        help="environment: conf/<env>/ is layered on conf/base/ (default $SPARKJOBS_ENV, else dev)",
    )(func)
    func = click.option(
        "--conf-dir",
        type=click.Path(path_type=Path),
        default=None,
        help="configuration root (default $SPARKJOBS_CONF_DIR, else ./conf, which may be absent)",
    )(func)
    func = click.option(
        "--config",
        "config_files",
        multiple=True,
        type=click.Path(path_type=Path),
        help="extra config file (YAML/JSON/TOML, same shape as conf/ files); repeatable, later wins",
    )(func)
    return func
