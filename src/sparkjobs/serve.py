"""``sparkjobs serve NAME``: run a registered HTTP service (an ASGI app) under uvicorn.

A service is registered like a job, in the entry-point group ``sparkjobs.services``::

    [project.entry-points."sparkjobs.services"]
    recommendations = "recommendations.api:build_service"

The target is a factory ``build_service(settings: sparkjobs.Settings, env: str) -> ASGI app``. It
gets the validated framework settings built from the same configuration layers jobs use
(``conf/base`` → ``conf/<env>`` → ``conf/local`` → ``SPARKJOBS__...`` → ``--config`` →
``--param``) and reads its own section ``services.<name>``. The optional subsection
``services.<name>.server`` (host, port, log_level, access_log, graceful_shutdown_s) belongs to this
command and is removed before the factory sees the section; ``--host``/``--port`` override it.
"""

from __future__ import annotations

import difflib
import importlib
import importlib.metadata
import json
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
from pydantic import BaseModel, ConfigDict, Field

from sparkjobs.cli_options import workspace_options
from sparkjobs.config.layers import LayeredConfig, load_layers
from sparkjobs.config.secrets import mask
from sparkjobs.config.tree import nest, split_key
from sparkjobs.config.validate import validate_model
from sparkjobs.errors import SparkJobsError, UsageError
from sparkjobs.executor import DEFAULT_CONF_DIR, DEFAULT_ENV, RunRequest, resolve_settings
from sparkjobs.settings import Settings

SERVICE_GROUP = "sparkjobs.services"
SERVER_KEY = "server"

ServiceFactory = Callable[[Settings, str], Any]


class ServerSettings(BaseModel):
    """``services.<name>.server``: where and how uvicorn listens."""

    model_config = ConfigDict(extra="forbid")

    host: str = Field("127.0.0.1", description="interface to bind (0.0.0.0 in a container)")
    port: int = Field(8000, ge=0, le=65535, description="TCP port")
    log_level: str = Field("info", description="uvicorn log level")
    access_log: bool = Field(True, description="log one line per request")
    graceful_shutdown_s: float = Field(
        10.0, ge=0, description="wait this long for requests in flight on SIGTERM"
    )


@dataclass
class PreparedService:
    name: str
    env: str
    factory: ServiceFactory
    origin: str
    settings: Settings
    server: ServerSettings
    layered: LayeredConfig

    def plan(self) -> dict[str, Any]:
        return {
            "service": self.name,
            "env": self.env,
            "factory": self.origin,
            "server": self.server.model_dump(),
            "config": mask(self.settings.services.get(self.name, {})),
        }


def registered_services() -> dict[str, importlib.metadata.EntryPoint]:
    return {ep.name: ep for ep in importlib.metadata.entry_points(group=SERVICE_GROUP)}


def resolve_service(name: str) -> tuple[ServiceFactory, str]:
    """A registered service name, or ``package.module:factory``; anything else is a usage error."""
    services = registered_services()
    if name in services:
        ep = services[name]
        return ep.load(), ep.value
    if ":" in name:
        module_name, attr = name.split(":", 1)
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            raise UsageError(f"service {name!r}: no module {exc.name!r}") from None
        factory = getattr(module, attr, None)
        if not callable(factory):
            raise UsageError(f"service {name!r}: {module_name} has no callable {attr!r}")
        return factory, name
    close = difflib.get_close_matches(name, list(services), n=3, cutoff=0.6)
    hint = (
        f"did you mean: {', '.join(close)}?"
        if close
        else f"registered: {', '.join(sorted(services)) or '(none)'}"
    )
    raise UsageError(
        f"unknown service {name!r} ({hint}); register it in the entry-point group {SERVICE_GROUP!r}"
    )


def prepare_service(
    name: str,
    *,
    env: str | None = None,
    conf_dir: Path | None = None,
    config_files: Sequence[Path] = (),
    params: Sequence[str] = (),
    host: str | None = None,
    port: int | None = None,
    environ: Mapping[str, str] | None = None,
) -> PreparedService:
    """Resolve the service, layer its configuration and split off the server settings."""
    env_map = dict(os.environ if environ is None else environ)
    factory, origin = resolve_service(name)
    env_name = env or env_map.get("SPARKJOBS_ENV") or DEFAULT_ENV
    conf = conf_dir or Path(env_map.get("SPARKJOBS_CONF_DIR", DEFAULT_CONF_DIR))
    layered = load_layers(
        conf,
        env_name,
        environ=env_map,
        config_files=config_files,
        require_env_dir=env is not None and env != DEFAULT_ENV,
    )
    service_key = name.rsplit(":", 1)[-1] if ":" in name else name
    for text in params:
        if "=" not in text:
            raise UsageError(f"bad --param {text!r}: expected key.path=value")
        key, value = text.split("=", 1)
        try:
            path = split_key(key.strip())
        except ValueError as exc:
            raise UsageError(f"bad --param {text!r}: {exc}") from None
        layered.apply(nest(("services", service_key, *path), value), "--param", raw=True)
    settings = resolve_settings(layered, RunRequest(job=service_key))
    section = dict(settings.services.get(service_key, {}))
    server_tree = dict(section.pop(SERVER_KEY, None) or {})
    if host is not None:
        server_tree["host"] = host
    if port is not None:
        server_tree["port"] = port
    server = validate_model(
        ServerSettings,
        server_tree,
        prefix=("services", service_key, SERVER_KEY),
        what=f"server settings of service {service_key!r}",
    )
    settings = settings.model_copy(update={"services": {**settings.services, service_key: section}})
    return PreparedService(service_key, env_name, factory, origin, settings, server, layered)


def run_service(prepared: PreparedService) -> None:
    """Build the app and serve it until SIGINT/SIGTERM (uvicorn drains requests in flight)."""
    import uvicorn

    app = prepared.factory(prepared.settings, prepared.env)
    server = prepared.server
    config = uvicorn.Config(
        app,
        host=server.host,
        port=server.port,
        log_level=server.log_level.lower(),
        access_log=server.access_log,
        timeout_graceful_shutdown=int(server.graceful_shutdown_s),
        lifespan="on",
    )
    uvicorn.Server(config).run()


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
    config_files: tuple[Path, ...],
    params: tuple[str, ...],
    dry_run: bool,
) -> None:
    """Serve NAME, a service registered in the entry-point group sparkjobs.services (e.g. recommendations)."""
    from sparkjobs.observability.logging import configure_logging

    try:
        prepared = prepare_service(
            name, env=env, conf_dir=conf_dir, config_files=config_files, params=params, host=host, port=port
        )
    except SparkJobsError as exc:
        click.echo(f"error: {exc}", err=True)
        raise SystemExit(exc.exit_code if exc.exit_code in (1, 2) else 1) from None
    if dry_run:
        click.echo(json.dumps(prepared.plan(), indent=2, default=str))
        return
    observability = prepared.settings.observability
    configure_logging(observability.log_format, observability.log_level)
    try:
        run_service(prepared)
    except SparkJobsError as exc:
        click.echo(f"error: {exc}", err=True)
        raise SystemExit(exc.exit_code if exc.exit_code in (1, 2) else 1) from None
