"""Per-run metrics, tracing, structured logs and run reports (no process-global singletons)."""

from sparkjobs.observability.metrics import RunMetrics

__all__ = ["RunMetrics"]
