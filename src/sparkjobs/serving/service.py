"""Prepare a registered service and run it under uvicorn.

:func:`prepare_service` resolves the service (:mod:`sparkjobs.serving.registry`), builds the
validated framework settings from the same configuration layers jobs use (``conf/base`` →
``conf/<env>`` → ``conf/local`` → ``SPARKJOBS__...`` → ``--config`` → ``--param``) and splits off
the optional subsection ``services.<name>.server`` (:class:`ServerSettings`: host, port,
log_level, access_log, graceful_shutdown_s), which belongs to the server and is removed before the
factory sees the section. :func:`run_service` builds the app and serves it until SIGINT/SIGTERM.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from sparkjobs.config.layers import LayeredConfig, load_layers
from sparkjobs.config.secrets import mask
from sparkjobs.config.tree import nest, split_key
from sparkjobs.config.validate import validate_model
from sparkjobs.errors import UsageError
from sparkjobs.executor import DEFAULT_CONF_DIR, DEFAULT_ENV, RunRequest, resolve_settings
from sparkjobs.serving.registry import ServiceFactory, resolve_service
from sparkjobs.settings import Settings

SERVER_KEY = "server"


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
