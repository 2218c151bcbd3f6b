"""A circuit breaker around calls to one external service, on pybreaker.

After ``fail_max`` consecutive failures the breaker opens: calls fail at once with
:class:`CircuitOpenError` naming the service and when it will try again. After ``reset_timeout_s``
one trial call goes through (half-open); success closes the breaker, failure opens it again.

Only *transient* failures count by default (``count="transient"``): a SQL syntax error proves the
server is up, so it must not open the breaker. State changes are logged and exposed as the
``sparkjobs_circuit_breaker_state`` enum metric (plus transition and rejected-call counters).

The clock is injectable: pybreaker compares ``datetime.now()`` with the storage's ``opened_at``,
so the storage reports ``opened_at`` shifted by what the injected clock says has elapsed.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, ParamSpec, TypeVar

import pybreaker
from prometheus_client import Counter, Enum
from pydantic import BaseModel, ConfigDict, Field

from sparkjobs.errors import TransientError
from sparkjobs.observability.metrics import get_or_create, registry_of
from sparkjobs.resilience.classify import explain

P = ParamSpec("P")
R = TypeVar("R")

State = Literal["closed", "open", "half_open"]
STATES: tuple[State, ...] = ("closed", "open", "half_open")
_FROM_PYBREAKER: dict[str, State] = {
    pybreaker.STATE_CLOSED: "closed",
    pybreaker.STATE_OPEN: "open",
    pybreaker.STATE_HALF_OPEN: "half_open",
}
STATE_METRIC = "sparkjobs_circuit_breaker_state"
TRANSITIONS_METRIC = "sparkjobs_circuit_breaker_transitions"
REJECTED_METRIC = "sparkjobs_circuit_breaker_rejected_calls"

Logger = logging.Logger | logging.LoggerAdapter


class CircuitOpenError(TransientError):
    """The breaker of ``service`` is open: the call was not attempted."""

    def __init__(self, service: str, retry_at: datetime, retry_after_s: float, failures: int) -> None:
        self.service = service
        self.retry_at = retry_at
        self.retry_after_s = retry_after_s
        self.failures = failures
        super().__init__(
            f"circuit breaker for {service!r} is open after {failures} consecutive failure(s); "
            f"calls fail fast until {retry_at.isoformat(timespec='seconds')} "
            f"(in {retry_after_s:.1f}s), then one trial call is let through"
        )


class BreakerSettings(BaseModel):
    """Breaker configuration as it appears in config files."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    fail_max: int = Field(default=5, ge=1, description="consecutive failures that open the breaker")
    reset_timeout_s: float = Field(default=60.0, gt=0, description="seconds open before a trial call")
    success_threshold: int = Field(default=1, ge=1, description="trial successes needed to close again")
    count: Literal["transient", "all"] = Field(default="transient", description="which failures count")


class _ClockStorage(pybreaker.CircuitMemoryStorage):
    """In-memory state whose ``opened_at`` follows an injected monotonic clock."""

    def __init__(self, clock: Callable[[], float]) -> None:
        super().__init__(pybreaker.STATE_CLOSED)
        self._clock = clock
        self._opened_clock: float | None = None

    @property
    def opened_at(self) -> datetime | None:
        if self._opened_clock is None:
            return None
        return datetime.now(UTC) - timedelta(seconds=self._clock() - self._opened_clock)

    @opened_at.setter
    def opened_at(self, _now: datetime) -> None:
        self._opened_clock = self._clock()

    def seconds_open(self) -> float:
        return 0.0 if self._opened_clock is None else self._clock() - self._opened_clock


class _Listener(pybreaker.CircuitBreakerListener):
    def __init__(self, owner: CircuitBreaker) -> None:
        self.owner = owner

    def state_change(self, cb: pybreaker.CircuitBreaker, old_state: Any, new_state: Any) -> None:
        old = _FROM_PYBREAKER.get(old_state.name, "closed") if old_state is not None else "closed"
        self.owner._on_state_change(old, _FROM_PYBREAKER[new_state.name])


class CircuitBreaker:
    """Guard calls to ``service``: ``breaker.call(fn, *args)`` or ``@breaker.decorate``."""

    def __init__(
        self,
        service: str,
        *,
        fail_max: int = 5,
        reset_timeout_s: float = 60.0,
        success_threshold: int = 1,
        count: Literal["transient", "all"] = "transient",
        clock: Callable[[], float] | None = None,
        metrics: Any = None,
        logger: Logger | None = None,
    ) -> None:
        self.service = service
        self._clock = clock or time.monotonic
        self._storage = _ClockStorage(self._clock)
        self.logger: Logger = logger or logging.getLogger("sparkjobs.resilience.breaker")
        exclude: list[Callable[[Any], bool]] = []
        if count == "transient":
            exclude.append(lambda exc: not explain(exc).transient)
        self._breaker = pybreaker.CircuitBreaker(
            fail_max=fail_max,
            reset_timeout=reset_timeout_s,
            success_threshold=success_threshold,
            exclude=exclude,
            listeners=[_Listener(self)],
            state_storage=self._storage,
            name=service,
            throw_new_error_on_trip=False,  # the call that trips the breaker raises its own error
        )
        registry = registry_of(metrics)
        self._state_metric: Enum | None = None
        self._transitions: Counter | None = None
        self._rejected: Counter | None = None
        if registry is not None:
            self._state_metric = get_or_create(
                registry,
                Enum,
                STATE_METRIC,
                "Circuit breaker state per external service",
                ("service",),
                states=list(STATES),
            )
            self._transitions = get_or_create(
                registry, Counter, TRANSITIONS_METRIC, "Circuit breaker state changes", ("service", "to")
            )
            self._rejected = get_or_create(
                registry, Counter, REJECTED_METRIC, "Calls refused because the breaker was open", ("service",)
            )
            self._state_metric.labels(service).state("closed")

    @classmethod
    def from_settings(cls, service: str, settings: BreakerSettings, **kwargs: Any) -> CircuitBreaker:
        return cls(
            service,
            fail_max=settings.fail_max,
            reset_timeout_s=settings.reset_timeout_s,
            success_threshold=settings.success_threshold,
            count=settings.count,
            **kwargs,
        )

    @property
    def state(self) -> State:
        """``closed``, ``open`` or ``half_open`` (an open breaker past its timeout still says open)."""
        return _FROM_PYBREAKER[self._breaker.current_state]

    @property
    def failures(self) -> int:
        """Consecutive counted failures so far."""
        return self._breaker.fail_counter

    @property
    def fail_max(self) -> int:
        return self._breaker.fail_max

    @property
    def reset_timeout_s(self) -> float:
        return self._breaker.reset_timeout

    def call(self, fn: Callable[..., R], *args: Any, **kwargs: Any) -> R:
        """Call ``fn`` through the breaker; raise :class:`CircuitOpenError` while it is open."""
        try:
            return self._breaker.call(fn, *args, **kwargs)
        except pybreaker.CircuitBreakerError as exc:
            remaining = max(0.0, self.reset_timeout_s - self._storage.seconds_open())
            if self._rejected is not None:
                self._rejected.labels(self.service).inc()
            error = CircuitOpenError(
                self.service, datetime.now(UTC) + timedelta(seconds=remaining), remaining, self.fail_max
            )
            self.logger.warning(str(error), extra={"fields": {"service": self.service, "breaker": "open"}})
            raise error from exc

    def decorate(self, fn: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(fn)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            return self.call(fn, *args, **kwargs)

        return wrapper

    def reset(self) -> None:
        """Close the breaker by hand (e.g. after fixing the service)."""
        self._breaker.close()

    def _on_state_change(self, old: State, new: State) -> None:
        if new == "open":
            self.logger.warning(
                "circuit breaker for %r opened after %d consecutive failure(s); next trial in %.3gs",
                self.service,
                self._breaker.fail_counter,
                self.reset_timeout_s,
                extra={"fields": {"service": self.service, "breaker": new, "from": old}},
            )
        else:
            self.logger.info(
                "circuit breaker for %r: %s -> %s",
                self.service,
                old,
                new,
                extra={"fields": {"service": self.service, "breaker": new, "from": old}},
            )
        if self._state_metric is not None:
            self._state_metric.labels(self.service).state(new)
        if self._transitions is not None:
            self._transitions.labels(self.service, new).inc()
