"""The registered HTTP services: the entry-point group ``sparkjobs.services`` and name resolution.

A service is registered like a job::

    [project.entry-points."sparkjobs.services"]
    recommendations = "recommendations.api:build_service"

The target is a factory ``build_service(settings: sparkjobs.Settings, env: str) -> ASGI app``.
:func:`resolve_service` also accepts ``package.module:factory``; anything else is a usage error
with close matches.
"""

from __future__ import annotations

import difflib
import importlib
import importlib.metadata
import inspect
from collections.abc import Callable
from typing import Any

from sparkjobs.errors import UsageError
from sparkjobs.settings import Settings

SERVICE_GROUP = "sparkjobs.services"

ServiceFactory = Callable[[Settings, str], Any]


def registered_services() -> dict[str, importlib.metadata.EntryPoint]:
    return {ep.name: ep for ep in importlib.metadata.entry_points(group=SERVICE_GROUP)}


def _check_factory(name: str, factory: Any) -> None:
    """A service factory is called as ``factory(settings, env)``; refuse anything else up front
    (``os:system`` is callable, but not with those arguments)."""
    try:
        inspect.signature(factory).bind(None, "env")
    except (TypeError, ValueError):
        raise UsageError(
            f"service {name!r} is not a service factory: expected a callable taking (settings, env) "
            "and returning an ASGI app"
        ) from None


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
        _check_factory(name, factory)
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
