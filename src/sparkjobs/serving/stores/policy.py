"""How a store calls what may fail: the injected call policy.

A :class:`CallPolicy` is anything with ``call(fn, *args, **kwargs)`` — the reference application
passes a ``sparkjobs.resilience.RetryPolicy`` (loads) and a ``CircuitBreaker`` (loads and reads);
:class:`Direct` is the null policy that calls once. Whether a failure is transient is decided by
the one classifier, :func:`sparkjobs.resilience.is_retryable`, unless a store is given another.
"""

from __future__ import annotations

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
