"""Run one function over many items; report which succeeded and which failed, and why.

``run_bulk(items, fn, max_failure_ratio)`` calls ``fn(item)`` for every item (optionally under a
:class:`~sparkjobs.resilience.RetryPolicy`), keeps going after a failure, and returns a
:class:`BulkResult`. When the share of failed items exceeds ``max_failure_ratio`` it raises
:class:`BulkFailedError`, which carries the result and lists every failure.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from prometheus_client import Counter

from sparkjobs.errors import SparkJobsError
from sparkjobs.observability.metrics import get_or_create, registry_of
from sparkjobs.resilience.classify import Kind, explain
from sparkjobs.resilience.retry import RetryPolicy

T = TypeVar("T")
R = TypeVar("R")

ITEMS_METRIC = "sparkjobs_bulk_items"
Logger = logging.Logger | logging.LoggerAdapter


@dataclass(frozen=True)
class ItemSuccess(Generic[T, R]):
    key: str
    item: T
    value: R


@dataclass(frozen=True)
class ItemFailure(Generic[T]):
    key: str
    item: T
    error: BaseException
    kind: Kind

    def describe(self) -> str:
        return f"{self.key}: {type(self.error).__name__}: {self.error} ({self.kind})"


@dataclass
class BulkResult(Generic[T, R]):
    operation: str
    succeeded: list[ItemSuccess[T, R]] = field(default_factory=list)
    failed: list[ItemFailure[T]] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.succeeded) + len(self.failed)

    @property
    def failure_ratio(self) -> float:
        return len(self.failed) / self.total if self.total else 0.0

    @property
    def ok(self) -> bool:
        return not self.failed

    def values(self) -> dict[str, R]:
        return {s.key: s.value for s in self.succeeded}

    def summary(self) -> dict[str, Any]:
        """JSON-friendly: counts, ratio, keys and the errors of the failed items."""
        return {
            "operation": self.operation,
            "total": self.total,
            "succeeded": [s.key for s in self.succeeded],
            "failed": [
                {"key": f.key, "error": f"{type(f.error).__name__}: {f.error}", "kind": f.kind}
                for f in self.failed
            ],
            "failure_ratio": self.failure_ratio,
        }


class BulkFailedError(SparkJobsError):
    """More items failed than ``max_failure_ratio`` allows. Transient when every failure is."""

    def __init__(self, result: BulkResult[Any, Any], max_failure_ratio: float) -> None:
        self.result = result
        self.max_failure_ratio = max_failure_ratio
        self.transient = bool(result.failed) and all(f.kind == "transient" for f in result.failed)
        lines = "\n".join(f"  - {f.describe()}" for f in result.failed)
        super().__init__(
            f"{result.operation}: {len(result.failed)} of {result.total} item(s) failed "
            f"(ratio {result.failure_ratio:.3g} > allowed {max_failure_ratio:g}):\n{lines}"
        )


def run_bulk(
    items: Iterable[T],
    fn: Callable[[T], R],
    max_failure_ratio: float = 0.0,
    *,
    key: Callable[[T], str] = str,
    retry: RetryPolicy | None = None,
    operation: str = "bulk",
    metrics: Any = None,
    logger: Logger | None = None,
    sleep: Callable[[float], None] | None = None,
) -> BulkResult[T, R]:
    """``fn(item)`` for each item; raise :class:`BulkFailedError` past ``max_failure_ratio``.

    ``max_failure_ratio`` is the share of items allowed to fail (0.0: none; 1.0: any number).
    Each item runs under ``retry`` when given. ``KeyboardInterrupt``/``SystemExit`` stop at once.
    """
    if not 0.0 <= max_failure_ratio <= 1.0:
        raise ValueError(f"max_failure_ratio must be within [0, 1], got {max_failure_ratio}")
    log: Logger = logger or logging.getLogger("sparkjobs.resilience.bulk")
    registry = registry_of(metrics)
    counter = (
        get_or_create(
            registry, Counter, ITEMS_METRIC, "Items of bulk operations by outcome", ("operation", "outcome")
        )
        if registry is not None
        else None
    )
    result: BulkResult[T, R] = BulkResult(operation)
    for item in items:
        item_key = key(item)
        try:
            if retry is not None:
                value = retry.call(
                    fn,
                    item,
                    sleep=sleep,
                    metrics=metrics,
                    logger=logger,
                    operation=f"{operation}[{item_key}]",
                )
            else:
                value = fn(item)
        except Exception as exc:
            verdict = explain(exc)
            result.failed.append(ItemFailure(item_key, item, exc, verdict.kind))
            log.warning(
                "%s: item %s failed: %s: %s",
                operation,
                item_key,
                type(exc).__name__,
                exc,
                extra={"fields": {"operation": operation, "item": item_key, "error_kind": verdict.kind}},
            )
            if counter is not None:
                counter.labels(operation, "failed").inc()
        else:
            result.succeeded.append(ItemSuccess(item_key, item, value))
            if counter is not None:
                counter.labels(operation, "succeeded").inc()
    log.info(
        "%s: %d of %d item(s) succeeded",
        operation,
        len(result.succeeded),
        result.total,
        extra={
            "fields": {
                "operation": operation,
                "succeeded": len(result.succeeded),
                "failed": len(result.failed),
            }
        },
    )
    if result.failure_ratio > max_failure_ratio:
        raise BulkFailedError(result, max_failure_ratio)
    return result
