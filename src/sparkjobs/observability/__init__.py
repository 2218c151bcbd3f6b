"""Per-run metrics, tracing, structured logs and run reports (no process-global singletons).

``RunMetrics`` is imported on first use, so that importing a sibling module (the CLI imports
:mod:`sparkjobs.observability.failures`) does not load prometheus_client.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sparkjobs.observability.metrics import RunMetrics

__all__ = ["RunMetrics"]


def __getattr__(name: str) -> Any:
    if name == "RunMetrics":
        from sparkjobs.observability.metrics import RunMetrics

        return RunMetrics
    raise AttributeError(f"module 'sparkjobs.observability' has no attribute {name!r}")
