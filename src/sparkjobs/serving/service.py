"""Prepare a registered service and run it under uvicorn.

:func:`prepare_service` resolves the service (:mod:`sparkjobs.serving.registry`), builds the
validated framework settings from the same configuration layers jobs use (``conf/base`` →
``conf/<env>`` → ``conf/local`` → ``SPARKJOBS__...`` → ``--config`` → ``--param``) and splits off
the optional subsection ``services.<name>.server`` (:class:`ServerSettings`: host, port,
log_level, access_log, graceful_shutdown_s), which belongs to the server and is removed before the
factory sees the section. :func:`run_service` builds the app and serves it until SIGINT/SIGTERM.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from sparkjobs.config.layers import LayeredConfig
from sparkjobs.config.secrets import mask
from sparkjobs.config.tree import nest
from sparkjobs.config.validate import validate_model
from sparkjobs.config.workspace import ConfigWorkspace, resolve_data_paths
from sparkjobs.errors import UsageError
from sparkjobs.executor import RunRequest, parse_param, resolve_settings
from sparkjobs.serving.registry import ServiceFactory, resolve_service
from sparkjobs.settings import Settings

SERVER_KEY = "server"


#: what uvicorn accepts (it raises a KeyError traceback on anything else)
UVICORN_LOG_LEVELS = ("critical", "error", "warning", "info", "debug", "trace")


class ServerSettings(BaseModel):
    """``services.<name>.server``: where and how uvicorn listens."""

    model_config = ConfigDict(extra="forbid")

    host: str = Field("127.0.0.1", description="interface to bind (0.0.0.0 in a container)")
    port: int = Field(8000, ge=0, le=65535, description="TCP port")
    log_level: str = Field("info", description=f"uvicorn log level: {', '.join(UVICORN_LOG_LEVELS)}")
    access_log: bool = Field(True, description="log one line per request")
    graceful_shutdown_s: float = Field(
        10.0, ge=0, description="wait this long for requests in flight on SIGTERM"
    )

    @field_validator("log_level", mode="before")
    @classmethod
    def _known_level(cls, value: Any) -> Any:
        if isinstance(value, str) and value.strip().lower() in UVICORN_LOG_LEVELS:
            return value.strip().lower()
        raise ValueError(f"unknown log level {value!r}: expected one of {', '.join(UVICORN_LOG_LEVELS)}")


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


def prepare_service(
    name: str,
    *,
    env: str | None = None,
    conf_dir: Path | None = None,
    project_dir: Path | None = None,
    config_files: Sequence[Path] = (),
    params: Sequence[str] = (),
    host: str | None = None,
    port: int | None = None,
    environ: Mapping[str, str] | None = None,
) -> PreparedService:
    """Resolve the service, layer its configuration and split off the server settings."""
    factory, origin = resolve_service(name)
    workspace = ConfigWorkspace.resolve(
        env=env, conf_dir=conf_dir, config_files=config_files, environ=environ, project_dir=project_dir
    )
    layered, env_name = workspace.layers(), workspace.env
    service_key = name.rsplit(":", 1)[-1] if ":" in name else name
    for text in params:
        path, value = parse_param(text)
        layered.apply(nest(("services", service_key, *path), value), "--param", raw=True)
    settings = resolve_settings(layered, RunRequest(job=service_key), workspace)
    # relative paths and sqlite:///relative.db urls from the project root, as for a job's settings
    section = resolve_data_paths(dict(settings.services.get(service_key, {})), set(), workspace)
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


def build_app(prepared: PreparedService) -> Any:
    """The service's ASGI app, built by its factory (which validates the service's own settings);
    a factory that returns something else is a usage error naming it."""
    app = prepared.factory(prepared.settings, prepared.env)
    if not callable(app):
        raise UsageError(
            f"service {prepared.name!r} ({prepared.origin}) returned {type(app).__name__}, not an ASGI app"
        )
    return app


def check_can_listen(host: str, port: int) -> None:
    """Bind the address once before uvicorn does, so that a port in use is a usage error (exit 2)
    that says what to do, not uvicorn's startup failure (exit 3)."""
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise UsageError(
                f"cannot listen on {host}:{port}: {exc.strerror or exc} "
                "(another server on that port? choose one with --port)"
            ) from None


def run_service(prepared: PreparedService) -> None:
    """Build the app and serve it until SIGINT/SIGTERM (uvicorn drains requests in flight)."""
    import uvicorn

    app = build_app(prepared)
    check_can_listen(prepared.server.host, prepared.server.port)
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
