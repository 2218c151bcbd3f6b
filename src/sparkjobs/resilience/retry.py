"""Retry policies as configuration, run by tenacity.

A :class:`RetryPolicy` is a pydantic model, so it sits in a job's or pipeline's config::

    retry:
      strategy: exponential      # fixed | exponential | linear | fibonacci | random_jitter
      max_attempts: 5            # attempts in total, the first one included
      initial_delay_s: 1
      max_delay_s: 30
      deadline_s: 120            # never start a sleep that would end past this (from the first attempt)
      retry_on: transient        # transient (classified by sparkjobs.resilience.classify) | all

Delay before retry number ``k`` (``k = 1`` after the first failed attempt), capped at ``max_delay_s``:

=============  =============================================  ==================================
strategy       delay                                          initial 1, multiplier 2
=============  =============================================  ==================================
fixed          ``initial``                                    1, 1, 1, 1
exponential    ``initial * multiplier ** (k - 1)``            1, 2, 4, 8
linear         ``initial * k``                                1, 2, 3, 4
fibonacci      ``initial * fib(k)`` (fib = 1, 1, 2, 3, 5...)  1, 1, 2, 3
random_jitter  ``uniform(0, exponential(k))`` ("full jitter")  in [0,1], [0,2], [0,4], [0,8]
=============  =============================================  ==================================

Run a callable under it with ``policy.call(fn, *args, **kwargs)``, a :class:`Retrier`
(``policy.executor(...).call(...)``) or a decorator (``@policy.decorate``). Sleep, clock and random
source are injectable; every attempt is logged and, when a ``RunMetrics``/``CollectorRegistry`` is
given, counted.
"""

from __future__ import annotations

import functools
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, ParamSpec, TypeVar, overload

import tenacity
from prometheus_client import Counter
from pydantic import BaseModel, ConfigDict, Field, model_validator

from sparkjobs.observability.metrics import get_or_create, registry_of
from sparkjobs.resilience.classify import Classification, explain

P = ParamSpec("P")
R = TypeVar("R")

Strategy = Literal["fixed", "exponential", "linear", "fibonacci", "random_jitter"]
RetryOn = Literal["transient", "all"]

Sleep = Callable[[float], None]
Clock = Callable[[], float]
Logger = logging.Logger | logging.LoggerAdapter

DEFAULT_LOGGER = "sparkjobs.resilience"
ATTEMPTS_METRIC = "sparkjobs_retry_attempts"
SLEEP_METRIC = "sparkjobs_retry_sleep_seconds"


class RetryPolicy(BaseModel):
    """How often, how fast and on which errors to retry. Immutable; share it freely."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    strategy: Strategy = Field(default="exponential", description="how the delay grows between attempts")
    max_attempts: int = Field(
        default=3, ge=1, le=1000, description="attempts in total, the first one included"
    )
    initial_delay_s: float = Field(default=1.0, ge=0, description="delay before the first retry (seconds)")
    max_delay_s: float = Field(default=60.0, ge=0, description="cap on any single delay (seconds)")
    multiplier: float = Field(default=2.0, ge=1, description="growth factor of exponential and random_jitter")
    deadline_s: float | None = Field(
        default=None, gt=0, description="total budget from the first attempt; no sleep may end past it"
    )
    retry_on: RetryOn = Field(
        default="transient", description="transient: only errors classified transient; all"
    )

    @model_validator(mode="after")
    def _cap_not_below_start(self) -> RetryPolicy:
        if self.max_delay_s < self.initial_delay_s:
            raise ValueError(
                f"max_delay_s ({self.max_delay_s}) must be >= initial_delay_s ({self.initial_delay_s})"
            )
        return self

    @classmethod
    def never(cls) -> RetryPolicy:
        """One attempt, no retry."""
        return cls(max_attempts=1)

    # -- delays ---------------------------------------------------------------------------------
    def base_delay(self, retry_number: int) -> float:
        """The deterministic delay before retry ``retry_number`` (1-based); jitter's upper bound."""
        if retry_number < 1:
            raise ValueError(f"retry_number starts at 1, got {retry_number}")
        d, k = self.initial_delay_s, retry_number
        if self.strategy == "fixed":
            raw = d
        elif self.strategy == "linear":
            raw = d * k
        elif self.strategy == "fibonacci":
            a, b = 1, 1
            for _ in range(k - 1):
                a, b = b, a + b
            raw = d * a
        else:  # exponential, random_jitter
            raw = d * self.multiplier ** min(k - 1, 1023)
        return min(raw, self.max_delay_s)

    def delay(self, retry_number: int, rng: random.Random | None = None) -> float:
        """The delay before retry ``retry_number``; random_jitter draws from ``rng``."""
        upper = self.base_delay(retry_number)
        if self.strategy == "random_jitter":
            return (rng or random.Random()).uniform(0.0, upper)
        return upper

    def schedule(self) -> list[float]:
        """The ``max_attempts - 1`` delays between attempts (upper bounds for random_jitter)."""
        return [self.base_delay(k) for k in range(1, self.max_attempts)]

    def should_retry(self, exc: BaseException) -> bool:
        if not isinstance(exc, Exception):
            return False  # never retry KeyboardInterrupt / SystemExit
        return self.retry_on == "all" or explain(exc).transient

    # -- running --------------------------------------------------------------------------------
    def executor(
        self,
        *,
        operation: str | None = None,
        sleep: Sleep | None = None,
        clock: Clock | None = None,
        rng: random.Random | None = None,
        metrics: Any = None,
        logger: Logger | None = None,
        on_retry: Callable[[RetryEvent], None] | None = None,
    ) -> Retrier:
        """A :class:`Retrier` bound to this policy and its collaborators."""
        return Retrier(
            self,
            operation=operation,
            sleep=sleep,
            clock=clock,
            rng=rng,
            metrics=metrics,
            logger=logger,
            on_retry=on_retry,
        )

    def call(
        self,
        fn: Callable[..., R],
        *args: Any,
        sleep: Sleep | None = None,
        on_retry: Callable[[RetryEvent], None] | None = None,
        clock: Clock | None = None,
        metrics: Any = None,
        logger: Logger | None = None,
        operation: str | None = None,
        **kwargs: Any,
    ) -> R:
        """Call ``fn(*args, **kwargs)`` under this policy.

        ``sleep``, ``on_retry``, ``clock``, ``metrics``, ``logger`` and ``operation`` are taken by
        the policy; to pass arguments of those names to ``fn``, bind them with ``functools.partial``
        or use :meth:`executor`.
        """
        return self.executor(
            operation=operation, sleep=sleep, clock=clock, metrics=metrics, logger=logger, on_retry=on_retry
        ).call(fn, *args, **kwargs)

    @overload
    def decorate(self, fn: Callable[P, R], /) -> Callable[P, R]: ...

    @overload
    def decorate(self, fn: None = None, /, **options: Any) -> Callable[[Callable[P, R]], Callable[P, R]]: ...

    def decorate(self, fn: Callable[P, R] | None = None, /, **options: Any) -> Any:
        """``@policy.decorate`` or ``@policy.decorate(operation=..., metrics=..., sleep=...)``."""

        def wrap(func: Callable[P, R]) -> Callable[P, R]:
            executor = self.executor(**{"operation": _callable_name(func), **options})

            @functools.wraps(func)
            def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
                return executor.call(func, *args, **kwargs)

            wrapper.retry_policy = self  # type: ignore[attr-defined]
            return wrapper

        return wrap(fn) if fn is not None else wrap


@dataclass(frozen=True)
class RetryEvent:
    """What ``on_retry`` receives before each sleep."""

    operation: str
    attempt: int  # the attempt that just failed (1-based)
    max_attempts: int
    error: BaseException
    classification: Classification
    delay_s: float
    elapsed_s: float


class Retrier:
    """Runs callables under one :class:`RetryPolicy` with injected sleep, clock, rng, metrics, logger."""

    def __init__(
        self,
        policy: RetryPolicy,
        *,
        operation: str | None = None,
        sleep: Sleep | None = None,
        clock: Clock | None = None,
        rng: random.Random | None = None,
        metrics: Any = None,
        logger: Logger | None = None,
        on_retry: Callable[[RetryEvent], None] | None = None,
    ) -> None:
        self.policy = policy
        self.operation = operation
        self.sleep: Sleep = sleep or time.sleep
        self.clock: Clock = clock or time.monotonic
        self.rng = rng or random.Random()
        self.logger: Logger = logger or logging.getLogger(DEFAULT_LOGGER)
        self.on_retry = on_retry
        registry = registry_of(metrics)
        self._attempts: Counter | None = None
        self._slept: Counter | None = None
        if registry is not None:
            self._attempts = get_or_create(
                registry,
                Counter,
                ATTEMPTS_METRIC,
                "Attempts of retried operations by outcome (success, retry, gave_up, terminal)",
                ("operation", "outcome"),
            )
            self._slept = get_or_create(
                registry, Counter, SLEEP_METRIC, "Seconds slept between retries", ("operation",)
            )

    def call(self, fn: Callable[..., R], *args: Any, **kwargs: Any) -> R:
        policy = self.policy
        op = self.operation or _callable_name(fn)
        started = self.clock()
        stop_reason: list[str] = []

        def wait(state: tenacity.RetryCallState) -> float:
            return policy.delay(state.attempt_number, self.rng)

        def stop(state: tenacity.RetryCallState) -> bool:
            if state.attempt_number >= policy.max_attempts:
                stop_reason.append(f"{policy.max_attempts} attempt(s) used")
                return True
            if policy.deadline_s is not None:
                elapsed = self.clock() - started
                if elapsed + state.upcoming_sleep > policy.deadline_s:
                    stop_reason.append(
                        f"deadline {policy.deadline_s:g}s: {elapsed:.3g}s elapsed, next delay "
                        f"{state.upcoming_sleep:.3g}s"
                    )
                    return True
            return False

        def retry(state: tenacity.RetryCallState) -> bool:
            outcome = state.outcome
            return outcome is not None and outcome.failed and policy.should_retry(_exception(state))

        def before_sleep(state: tenacity.RetryCallState) -> None:
            exc = _exception(state)
            verdict = explain(exc)
            delay = state.upcoming_sleep
            elapsed = self.clock() - started
            self._count(op, "retry")
            if self._slept is not None:
                self._slept.labels(op).inc(delay)
            self.logger.warning(
                "%s failed on attempt %d/%d (%s: %s; %s); retrying in %.3gs",
                op,
                state.attempt_number,
                policy.max_attempts,
                type(exc).__name__,
                exc,
                verdict.reason,
                delay,
                extra={
                    "fields": {
                        "operation": op,
                        "attempt": state.attempt_number,
                        "max_attempts": policy.max_attempts,
                        "error_kind": verdict.kind,
                        "delay_s": delay,
                    }
                },
            )
            if self.on_retry is not None:
                self.on_retry(
                    RetryEvent(op, state.attempt_number, policy.max_attempts, exc, verdict, delay, elapsed)
                )

        retrying = tenacity.Retrying(
            stop=stop, wait=wait, retry=retry, sleep=self.sleep, before_sleep=before_sleep, reraise=True
        )
        attempt_box = [0]

        def attempt() -> R:
            attempt_box[0] += 1
            return fn(*args, **kwargs)

        try:
            result = retrying(attempt)
        except BaseException as exc:
            self._give_up(op, exc, attempt_box[0], self.clock() - started, stop_reason)
            raise
        self._count(op, "success")
        if attempt_box[0] > 1:
            self.logger.info(
                "%s succeeded on attempt %d/%d",
                op,
                attempt_box[0],
                policy.max_attempts,
                extra={"fields": {"operation": op, "attempt": attempt_box[0]}},
            )
        else:
            self.logger.debug("%s succeeded on the first attempt", op)
        return result

    def _give_up(
        self, op: str, exc: BaseException, attempts: int, elapsed: float, stop_reason: list[str]
    ) -> None:
        verdict = explain(exc)
        retryable = self.policy.should_retry(exc)
        outcome = "gave_up" if retryable else "terminal"
        self._count(op, outcome)
        if retryable:
            why = stop_reason[-1] if stop_reason else "stopped"
            note = f"sparkjobs retry: gave up on {op} after {attempts} attempt(s) in {elapsed:.3g}s ({why})"
        else:
            note = f"sparkjobs retry: {op} not retried: {verdict.kind} error ({verdict.reason})"
        if isinstance(exc, Exception):
            exc.add_note(note)
        self.logger.warning(
            "%s: %s: %s",
            note.removeprefix("sparkjobs retry: "),
            type(exc).__name__,
            exc,
            extra={
                "fields": {
                    "operation": op,
                    "attempt": attempts,
                    "error_kind": verdict.kind,
                    "outcome": outcome,
                }
            },
        )

    def _count(self, op: str, outcome: str) -> None:
        if self._attempts is not None:
            self._attempts.labels(op, outcome).inc()


def _exception(state: tenacity.RetryCallState) -> BaseException:
    assert state.outcome is not None
    exc = state.outcome.exception()
    assert exc is not None
    return exc


def _callable_name(fn: Callable[..., Any]) -> str:
    if isinstance(fn, functools.partial):
        return _callable_name(fn.func)
    return getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or type(fn).__name__
