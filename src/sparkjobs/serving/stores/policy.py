"""How a store calls what may fail: the injected call policy and the transient/terminal verdict.

A :class:`CallPolicy` is anything with ``call(fn, *args, **kwargs)`` — the reference application
passes a ``sparkjobs.resilience.RetryPolicy`` (loads) and a ``CircuitBreaker`` (loads and reads);
:class:`Direct` is the null policy that calls once.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

R = TypeVar("R")


class CallPolicy(Protocol):
    """Anything that runs ``fn`` on our behalf: a retry policy or a circuit breaker."""

    def call(self, fn: Callable[..., R], *args: Any, **kwargs: Any) -> R: ...


class Direct:
    """The null policy: call once."""

    def call(self, fn: Callable[..., R], *args: Any, **kwargs: Any) -> R:
        return fn(*args, **kwargs)


def default_is_transient(exc: BaseException) -> bool:
    """A minimal classifier for when none is injected: sparkjobs marks, connection errors, locks."""
    if hasattr(exc, "transient"):
        return bool(exc.transient)
    if isinstance(exc, sqlite3.OperationalError):
        text = str(exc).lower()
        return "locked" in text or "busy" in text
    sqlstate = getattr(exc, "sqlstate", None)
    if isinstance(sqlstate, str) and sqlstate:
        return sqlstate[:2] in ("08", "40", "53") or sqlstate in ("57P01", "57P02", "57P03", "55P03", "57014")
    return type(exc).__name__ in ("OperationalError", "PoolTimeout") or isinstance(
        exc, ConnectionError | TimeoutError
    )
