"""Find-or-create metrics in a run's registry (a ``RunMetrics`` or a bare ``CollectorRegistry``).

quality sits beside observability in the layer stack, so it takes either object by shape:
anything with a ``registry`` attribute, or a ``CollectorRegistry`` itself.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from prometheus_client import CollectorRegistry

M = TypeVar("M")


def registry_of(metrics: Any) -> CollectorRegistry | None:
    if metrics is None:
        return None
    if isinstance(metrics, CollectorRegistry):
        return metrics
    registry = getattr(metrics, "registry", None)
    if isinstance(registry, CollectorRegistry):
        return registry
    raise TypeError(f"metrics must be a RunMetrics or a CollectorRegistry, got {type(metrics).__name__}")


def get_or_create(
    registry: CollectorRegistry,
    kind: Callable[..., M],
    name: str,
    documentation: str,
    labelnames: Sequence[str] = (),
    **kwargs: Any,
) -> M:
    """The collector registered as ``name`` in ``registry``, created on first use."""
    existing = registry._names_to_collectors.get(name)  # no public lookup in prometheus_client
    if existing is not None:
        return existing  # type: ignore[return-value]
    return kind(name, documentation, list(labelnames), registry=registry, **kwargs)
