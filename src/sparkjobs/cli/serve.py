"""``sparkjobs serve NAME``: the click command that serves a registered HTTP service under uvicorn.

The logic lives in :mod:`sparkjobs.serving` (:mod:`~sparkjobs.serving.registry` resolves the name,
:mod:`~sparkjobs.serving.service` prepares and runs it); this module only maps options and errors.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from sparkjobs.cli.options import workspace_options
from sparkjobs.serving.service import build_app, prepare_service, run_service


@click.command("serve")
@click.argument("name")
@click.option(
    "--host", default=None, help="interface to bind (default from services.NAME.server.host: 127.0.0.1)"
)
@click.option(
    "--port", type=int, default=None, help="TCP port (default from services.NAME.server.port: 8000)"
)
@workspace_options
@click.option(
    "--param",
    "-p",
    "params",
    multiple=True,
    metavar="KEY.PATH=VALUE",
    help="set one key of services.NAME (e.g. store.url=...); repeatable",
)
@click.option(
    "--dry-run", is_flag=True, help="resolve and print the service config (secrets masked); do not serve"
)
def serve_command(
    name: str,
    host: str | None,
    port: int | None,
    env: str | None,
    conf_dir: Path | None,
    project_dir: Path | None,
    config_files: tuple[Path, ...],
    params: tuple[str, ...],
    dry_run: bool,
) -> None:
    """Serve NAME, a service registered in the entry-point group sparkjobs.services (e.g. recommendations)."""
    from sparkjobs.observability.logging import configure_logging

    # errors reach the top group, which prints them redacted with their exit code (sparkjobs.cli.group)
    prepared = prepare_service(
        name,
        env=env,
        conf_dir=conf_dir,
        project_dir=project_dir,
        config_files=config_files,
        params=params,
        host=host,
        port=port,
    )
    if dry_run:
        build_app(prepared)  # validates exactly what a real start validates; connects to nothing
        click.echo(json.dumps(prepared.plan(), indent=2, default=str))
        return
    observability = prepared.settings.observability
    configure_logging(observability.log_format, observability.log_level)
    run_service(prepared)
