"""RetryPolicy timing per strategy (fake sleep/clock), classification of real exception types,
circuit breaker states (fake clock), bulk operations with partial failure."""

from __future__ import annotations

import errno
import logging
import socket
import subprocess
import sys
import urllib.error
from collections.abc import Callable
from email.message import Message
from typing import Any

import httpx
import psycopg
import psycopg.errors
import psycopg_pool
import pytest
from prometheus_client import CollectorRegistry
from pydantic import ValidationError

from sparkjobs.errors import ConfigError, DataError, JobFailedError, LoadError, TransientError
from sparkjobs.observability.metrics import RunMetrics
from sparkjobs.resilience import (
    BreakerSettings,
    BulkFailedError,
    CircuitBreaker,
    CircuitOpenError,
    RetryEvent,
    RetryPolicy,
    classify,
    explain,
    run_bulk,
)


class FakeClock:
    """A monotonic clock that only moves when told to (or when the fake sleep sleeps)."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def failing(times: int, exc: Callable[[], BaseException], result: Any = "done") -> Callable[[], Any]:
    """A callable that raises ``exc()`` ``times`` times, then returns ``result``."""
    calls = {"n": 0}

    def fn() -> Any:
        calls["n"] += 1
        if calls["n"] <= times:
            raise exc()
        return result

    fn.calls = calls  # type: ignore[attr-defined]
    return fn


def always(exc: Callable[[], BaseException]) -> Callable[[], Any]:
    return failing(10**6, exc)


# -- retry timing -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("policy", "expected_sleeps"),
    [
        (RetryPolicy(strategy="fixed", max_attempts=5, initial_delay_s=2), [2, 2, 2, 2]),
        (
            RetryPolicy(strategy="exponential", max_attempts=6, initial_delay_s=1, max_delay_s=5),
            [1, 2, 4, 5, 5],
        ),
        (
            RetryPolicy(strategy="exponential", max_attempts=4, initial_delay_s=0.5, multiplier=3),
            [0.5, 1.5, 4.5],
        ),
        (RetryPolicy(strategy="linear", max_attempts=5, initial_delay_s=1.5), [1.5, 3.0, 4.5, 6.0]),
        (RetryPolicy(strategy="linear", max_attempts=5, initial_delay_s=2, max_delay_s=5), [2, 4, 5, 5]),
        (RetryPolicy(strategy="fibonacci", max_attempts=7, initial_delay_s=1), [1, 1, 2, 3, 5, 8]),
        (
            RetryPolicy(strategy="fibonacci", max_attempts=6, initial_delay_s=0.5, max_delay_s=2),
            [0.5, 0.5, 1, 1.5, 2],
        ),
    ],
    ids=[
        "fixed",
        "exponential-capped",
        "exponential-x3",
        "linear",
        "linear-capped",
        "fibonacci",
        "fibonacci-capped",
    ],
)
def test_each_strategy_sleeps_the_hand_computed_sequence(
    policy: RetryPolicy, expected_sleeps: list[float]
) -> None:
    clock = FakeClock()
    fn = always(lambda: ConnectionResetError("peer reset"))
    with pytest.raises(ConnectionResetError):
        policy.call(fn, sleep=clock.sleep, clock=clock)
    assert clock.sleeps == expected_sleeps
    assert fn.calls["n"] == policy.max_attempts  # type: ignore[attr-defined]
    assert policy.schedule() == expected_sleeps


class MidpointRandom:
    """A stand-in for random.Random whose uniform(a, b) is the midpoint: makes jitter checkable."""

    def uniform(self, a: float, b: float) -> float:
        return (a + b) / 2


def test_random_jitter_draws_between_zero_and_the_exponential_bound() -> None:
    policy = RetryPolicy(
        strategy="random_jitter", max_attempts=5, initial_delay_s=1, multiplier=3, max_delay_s=10
    )
    clock = FakeClock()
    executor = policy.executor(sleep=clock.sleep, clock=clock, rng=MidpointRandom())  # type: ignore[arg-type]
    with pytest.raises(TimeoutError):
        executor.call(always(lambda: TimeoutError("slow")))
    # bounds 1, 3, 9, min(27, 10) = 10 → midpoints
    assert clock.sleeps == [0.5, 1.5, 4.5, 5.0]


def test_random_jitter_with_a_real_rng_stays_within_bounds_and_varies() -> None:
    import random

    policy = RetryPolicy(strategy="random_jitter", max_attempts=40, initial_delay_s=1, max_delay_s=4)
    clock = FakeClock()
    with pytest.raises(TimeoutError):
        policy.executor(sleep=clock.sleep, clock=clock, rng=random.Random(7)).call(always(TimeoutError))
    bounds = [1, 2] + [4] * 37
    assert len(clock.sleeps) == 39
    assert all(0 <= s <= b for s, b in zip(clock.sleeps, bounds, strict=True))
    assert len(set(clock.sleeps)) == 39  # really random, not the bound each time


def test_success_after_transient_failures_returns_the_value_and_reports_each_retry() -> None:
    clock = FakeClock()
    events: list[RetryEvent] = []
    fn = failing(2, lambda: ConnectionRefusedError("refused"), result=42)
    policy = RetryPolicy(strategy="exponential", max_attempts=5, initial_delay_s=1)
    assert policy.call(fn, sleep=clock.sleep, clock=clock, on_retry=events.append, operation="load") == 42
    assert clock.sleeps == [1, 2]
    assert [(e.operation, e.attempt, e.delay_s, e.classification.kind) for e in events] == [
        ("load", 1, 1, "transient"),
        ("load", 2, 2, "transient"),
    ]
    assert [e.elapsed_s for e in events] == [0, 1]  # the fake clock moved by the first sleep only


def test_args_and_kwargs_reach_the_function() -> None:
    seen: list[tuple[Any, ...]] = []

    def fn(a: int, b: int, *, c: int) -> int:
        seen.append((a, b, c))
        return a + b + c

    assert RetryPolicy().call(fn, 1, 2, c=3) == 6
    assert seen == [(1, 2, 3)]


def test_deadline_stops_before_a_sleep_that_would_end_past_it() -> None:
    clock = FakeClock()
    fn = always(lambda: ConnectionResetError("reset"))
    policy = RetryPolicy(strategy="fixed", initial_delay_s=10, max_attempts=100, deadline_s=25)
    with pytest.raises(ConnectionResetError) as info:
        policy.call(fn, sleep=clock.sleep, clock=clock, operation="pg")
    # t=0 fail → sleep 10 (ends at 10) → t=10 fail → sleep 10 (ends at 20) → t=20 fail: 20+10 > 25 → stop
    assert clock.sleeps == [10, 10]
    assert fn.calls["n"] == 3  # type: ignore[attr-defined]
    assert "gave up on pg after 3 attempt(s)" in info.value.__notes__[0]
    assert "deadline 25s" in info.value.__notes__[0]


def test_deadline_counts_the_time_the_calls_take() -> None:
    clock = FakeClock()

    def slow() -> None:
        clock.now += 7  # each attempt takes 7 s
        raise TimeoutError("statement timeout")

    policy = RetryPolicy(strategy="fixed", initial_delay_s=1, max_attempts=100, deadline_s=20)
    with pytest.raises(TimeoutError):
        policy.call(slow, sleep=clock.sleep, clock=clock)
    # attempt ends at 7 → 7+1 ≤ 20 sleep; ends at 15 → 15+1 ≤ 20 sleep; ends at 23 → stop
    assert clock.sleeps == [1, 1]
    assert clock.now == 23


def test_terminal_errors_are_not_retried_by_default() -> None:
    clock = FakeClock()
    fn = always(lambda: ValueError("bad column"))
    with pytest.raises(ValueError, match="bad column") as info:
        RetryPolicy(max_attempts=5).call(fn, sleep=clock.sleep, clock=clock)
    assert fn.calls["n"] == 1  # type: ignore[attr-defined]
    assert clock.sleeps == []
    assert "not retried: terminal error" in info.value.__notes__[0]


def test_retry_on_all_retries_terminal_errors_too() -> None:
    clock = FakeClock()
    fn = failing(2, lambda: ValueError("flaky parser"), result="parsed")
    policy = RetryPolicy(strategy="fixed", initial_delay_s=3, max_attempts=3, retry_on="all")
    assert policy.call(fn, sleep=clock.sleep, clock=clock) == "parsed"
    assert clock.sleeps == [3, 3]


def test_keyboard_interrupt_is_never_retried() -> None:
    clock = FakeClock()
    fn = always(KeyboardInterrupt)
    with pytest.raises(KeyboardInterrupt):
        RetryPolicy(retry_on="all", max_attempts=5).call(fn, sleep=clock.sleep, clock=clock)
    assert fn.calls["n"] == 1  # type: ignore[attr-defined]


def test_never_policy_makes_one_attempt() -> None:
    fn = always(lambda: ConnectionResetError("x"))
    with pytest.raises(ConnectionResetError):
        RetryPolicy.never().call(fn, sleep=FakeClock().sleep)
    assert fn.calls["n"] == 1  # type: ignore[attr-defined]


def test_every_attempt_is_counted_in_the_run_registry() -> None:
    metrics = RunMetrics("load_recommendations")
    clock = FakeClock()
    policy = RetryPolicy(strategy="linear", initial_delay_s=2, max_attempts=4)
    policy.call(
        failing(2, ConnectionResetError), sleep=clock.sleep, clock=clock, metrics=metrics, operation="copy"
    )
    with pytest.raises(ConnectionResetError):
        policy.call(
            always(ConnectionResetError), sleep=clock.sleep, clock=clock, metrics=metrics, operation="copy"
        )
    with pytest.raises(KeyError):
        policy.call(always(lambda: KeyError("k")), sleep=clock.sleep, metrics=metrics, operation="lookup")

    def value(name: str, **labels: str) -> float | None:
        return metrics.registry.get_sample_value(name, labels)

    assert value("sparkjobs_retry_attempts_total", operation="copy", outcome="success") == 1
    assert value("sparkjobs_retry_attempts_total", operation="copy", outcome="retry") == 2 + 3
    assert value("sparkjobs_retry_attempts_total", operation="copy", outcome="gave_up") == 1
    assert value("sparkjobs_retry_attempts_total", operation="lookup", outcome="terminal") == 1
    # first call slept 2+4, second 2+4+6
    assert value("sparkjobs_retry_sleep_seconds_total", operation="copy") == 18


def test_a_bare_collector_registry_is_accepted() -> None:
    registry = CollectorRegistry()
    RetryPolicy().call(lambda: 1, metrics=registry, operation="ping")
    RetryPolicy().call(lambda: 2, metrics=registry, operation="ping")
    assert (
        registry.get_sample_value(
            "sparkjobs_retry_attempts_total", {"operation": "ping", "outcome": "success"}
        )
        == 2
    )


def test_every_failed_attempt_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock()
    caplog.set_level(logging.INFO, logger="sparkjobs.resilience")
    RetryPolicy(strategy="fixed", initial_delay_s=1).call(
        failing(2, lambda: ConnectionResetError("reset by peer")), sleep=clock.sleep, operation="fetch"
    )
    messages = [r.getMessage() for r in caplog.records if r.name == "sparkjobs.resilience"]
    assert messages[0].startswith("fetch failed on attempt 1/3 (ConnectionResetError: reset by peer;")
    assert messages[1].startswith("fetch failed on attempt 2/3")
    assert messages[2] == "fetch succeeded on attempt 3/3"
    fields = caplog.records[0].fields  # type: ignore[attr-defined]
    assert fields == {
        "operation": "fetch",
        "attempt": 1,
        "max_attempts": 3,
        "error_kind": "transient",
        "delay_s": 1,
    }


def test_decorator_forms() -> None:
    clock = FakeClock()
    policy = RetryPolicy(strategy="fixed", initial_delay_s=0.25, max_attempts=3)
    state = {"n": 0}

    @policy.decorate(sleep=clock.sleep)
    def fetch(x: int) -> int:
        """Fetch something."""
        state["n"] += 1
        if state["n"] < 3:
            raise TimeoutError("slow")
        return x * 2

    assert fetch(21) == 42
    assert clock.sleeps == [0.25, 0.25]
    assert fetch.__name__ == "fetch"
    assert fetch.__doc__ == "Fetch something."

    @policy.decorate
    def plain() -> str:
        return "ok"

    assert plain() == "ok"
    assert plain.retry_policy is policy  # type: ignore[attr-defined]


def test_policy_is_validated_config() -> None:
    policy = RetryPolicy.model_validate({"strategy": "linear", "max_attempts": "4", "initial_delay_s": 0.5})
    assert (policy.strategy, policy.max_attempts, policy.initial_delay_s) == ("linear", 4, 0.5)
    with pytest.raises(ValidationError, match="max_delay_s"):
        RetryPolicy(initial_delay_s=10, max_delay_s=5)
    with pytest.raises(ValidationError, match="extra"):
        RetryPolicy.model_validate({"strategy": "fixed", "max_retries": 3})
    with pytest.raises(ValidationError, match="strategy"):
        RetryPolicy.model_validate({"strategy": "polynomial"})
    with pytest.raises(ValidationError):
        RetryPolicy(max_attempts=0)


# -- classification -----------------------------------------------------------------------------


def _http_status_error(status: int) -> httpx.HTTPStatusError:
    request = httpx.Request("GET", "http://api.example/items")
    response = httpx.Response(status, request=request)
    return httpx.HTTPStatusError(f"status {status}", request=request, response=response)


def _chained(outer: Exception, cause: BaseException) -> Exception:
    try:
        raise outer from cause
    except Exception as exc:
        return exc


def _context_only(outer: Exception, inner: BaseException) -> Exception:
    try:
        try:
            raise inner
        except BaseException:
            raise outer  # noqa: B904 — implicit context on purpose
    except Exception as exc:
        return exc


def _analysis_exception() -> Exception:
    from pyspark.errors import AnalysisException

    return AnalysisException(message="[UNRESOLVED_COLUMN] A column `ratng` cannot be resolved")


def _py4j_network_error() -> Exception:
    from py4j.protocol import Py4JNetworkError

    return Py4JNetworkError("Answer from Java side is empty")


CASES: list[tuple[str, Callable[[], BaseException], str]] = [
    ("ConnectionResetError", lambda: ConnectionResetError("reset"), "transient"),
    ("ConnectionRefusedError", lambda: ConnectionRefusedError(), "transient"),
    ("BrokenPipeError", lambda: BrokenPipeError(), "transient"),
    ("TimeoutError", lambda: TimeoutError("timed out"), "transient"),
    ("socket.timeout", lambda: socket.timeout("timed out"), "transient"),  # noqa: UP041
    ("OSError ECONNRESET", lambda: OSError(errno.ECONNRESET, "reset"), "transient"),
    ("OSError EHOSTUNREACH", lambda: OSError(errno.EHOSTUNREACH, "no route"), "transient"),
    ("OSError ENOSPC", lambda: OSError(errno.ENOSPC, "disk full"), "terminal"),
    ("FileNotFoundError", lambda: FileNotFoundError(2, "missing", "/data/x.csv"), "terminal"),
    ("PermissionError", lambda: PermissionError(13, "denied"), "terminal"),
    ("gaierror EAI_AGAIN", lambda: socket.gaierror(socket.EAI_AGAIN, "Temporary failure"), "transient"),
    (
        "gaierror EAI_NONAME",
        lambda: socket.gaierror(socket.EAI_NONAME, "Name or service not known"),
        "terminal",
    ),
    (
        "psycopg OperationalError connection",
        lambda: psycopg.OperationalError(
            'connection failed: connection to server at "127.0.0.1", port 5999 failed: Connection refused'
        ),
        "transient",
    ),
    (
        "psycopg OperationalError bad password",
        lambda: psycopg.OperationalError(
            'connection failed: FATAL:  password authentication failed for user "app"'
        ),
        "terminal",
    ),
    (
        "psycopg OperationalError no database",
        lambda: psycopg.OperationalError('connection failed: FATAL:  database "nodb" does not exist'),
        "terminal",
    ),
    (
        "psycopg AdminShutdown 57P01",
        lambda: psycopg.errors.AdminShutdown("terminating connection"),
        "transient",
    ),
    ("psycopg ConnectionFailure 08006", lambda: psycopg.errors.ConnectionFailure("lost"), "transient"),
    (
        "psycopg SerializationFailure 40001",
        lambda: psycopg.errors.SerializationFailure("retry tx"),
        "transient",
    ),
    ("psycopg DeadlockDetected 40P01", lambda: psycopg.errors.DeadlockDetected("deadlock"), "transient"),
    ("psycopg TooManyConnections 53300", lambda: psycopg.errors.TooManyConnections("too many"), "transient"),
    ("psycopg QueryCanceled 57014", lambda: psycopg.errors.QueryCanceled("statement timeout"), "transient"),
    ("psycopg DiskFull 53100", lambda: psycopg.errors.DiskFull("disk full"), "terminal"),
    ("psycopg InvalidPassword 28P01", lambda: psycopg.errors.InvalidPassword("bad password"), "terminal"),
    (
        "psycopg ProgramLimitExceeded 54000",
        lambda: psycopg.errors.ProgramLimitExceeded("too complex"),
        "terminal",
    ),
    ("psycopg UniqueViolation", lambda: psycopg.errors.UniqueViolation("duplicate key"), "terminal"),
    ("psycopg UndefinedTable", lambda: psycopg.errors.UndefinedTable("no table"), "terminal"),
    ("psycopg SyntaxError", lambda: psycopg.errors.SyntaxError("syntax"), "terminal"),
    ("psycopg DataError", lambda: psycopg.DataError("bad value"), "terminal"),
    ("psycopg InterfaceError", lambda: psycopg.InterfaceError("misuse"), "terminal"),
    ("psycopg_pool PoolTimeout", lambda: psycopg_pool.PoolTimeout("no connection in 30s"), "transient"),
    ("httpx 429", lambda: _http_status_error(429), "transient"),
    ("httpx 503", lambda: _http_status_error(503), "transient"),
    ("httpx 502", lambda: _http_status_error(502), "transient"),
    ("httpx 404", lambda: _http_status_error(404), "terminal"),
    ("httpx 400", lambda: _http_status_error(400), "terminal"),
    ("httpx 500", lambda: _http_status_error(500), "terminal"),
    ("httpx ConnectError", lambda: httpx.ConnectError("refused"), "transient"),
    ("httpx ReadTimeout", lambda: httpx.ReadTimeout("slow"), "transient"),
    ("httpx RemoteProtocolError", lambda: httpx.RemoteProtocolError("server hung up"), "transient"),
    ("httpx UnsupportedProtocol", lambda: httpx.UnsupportedProtocol("ftp://"), "terminal"),
    (
        "urllib HTTPError 503",
        lambda: urllib.error.HTTPError("http://x", 503, "Unavailable", Message(), None),
        "transient",
    ),
    (
        "urllib HTTPError 403",
        lambda: urllib.error.HTTPError("http://x", 403, "Forbidden", Message(), None),
        "terminal",
    ),
    ("Py4JNetworkError", _py4j_network_error, "transient"),
    ("AnalysisException", _analysis_exception, "terminal"),
    ("TransientError", lambda: TransientError("throttled"), "transient"),
    ("ConfigError", lambda: ConfigError("bad", key="jobs.x.y"), "terminal"),
    ("DataError", lambda: DataError("schema mismatch: rating is string, expected double"), "terminal"),
    ("LoadError transient", lambda: LoadError("copy failed", transient=True), "transient"),
    ("LoadError terminal", lambda: LoadError("constraint violated"), "terminal"),
    (
        "JobFailedError of a connection error",
        lambda: JobFailedError("j", "r", ConnectionResetError()),
        "transient",
    ),
    ("JobFailedError of a ValueError", lambda: JobFailedError("j", "r", ValueError()), "terminal"),
    ("pydantic ValidationError", lambda: _validation_error(), "terminal"),
    ("TypeError", lambda: TypeError("unsupported operand"), "terminal"),
    ("ValueError", lambda: ValueError("bad"), "terminal"),
    ("KeyError", lambda: KeyError("user_id"), "terminal"),
    ("AttributeError", lambda: AttributeError("x"), "terminal"),
    ("ZeroDivisionError", lambda: ZeroDivisionError(), "terminal"),
    ("RuntimeError", lambda: RuntimeError("???"), "terminal"),
    ("KeyboardInterrupt", lambda: KeyboardInterrupt(), "terminal"),
    (
        "RuntimeError from ConnectionResetError",
        lambda: _chained(RuntimeError("load failed"), ConnectionResetError()),
        "transient",
    ),
    (
        "RuntimeError with only an implicit context",
        lambda: _context_only(RuntimeError("x"), ConnectionResetError()),
        "terminal",
    ),
    (
        "ValueError from ConnectionResetError",
        lambda: _chained(ValueError("bad"), ConnectionResetError()),
        "terminal",
    ),
]


def _validation_error() -> ValidationError:
    try:
        RetryPolicy(max_attempts=0)
    except ValidationError as exc:
        return exc
    raise AssertionError("expected a ValidationError")


@pytest.mark.parametrize(("make", "expected"), [(m, e) for _, m, e in CASES], ids=[n for n, _, _ in CASES])
def test_classify_knows_the_real_exception_types(make: Callable[[], BaseException], expected: str) -> None:
    assert classify(make()) == expected


def test_explain_names_the_reason() -> None:
    verdict = explain(psycopg.errors.AdminShutdown("terminating connection due to administrator command"))
    assert verdict.reason == "psycopg AdminShutdown sqlstate 57P01"
    assert explain(_http_status_error(429)).reason == "httpx HTTPStatusError status 429"
    chained = explain(_chained(RuntimeError("wrapper"), TimeoutError()))
    assert chained.reason == "TimeoutError (network) (cause of RuntimeError)"


def test_importing_resilience_never_imports_pyspark_or_drivers() -> None:
    code = (
        "import sys, sparkjobs.resilience as r\n"
        "r.classify(ConnectionResetError()); r.classify(ValueError())\n"
        "loaded = sorted(m for m in ('pyspark', 'py4j', 'psycopg', 'httpx') if m in sys.modules)\n"
        "print(','.join(loaded))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


# -- circuit breaker ----------------------------------------------------------------------------


def _breaker(clock: FakeClock, **kwargs: Any) -> CircuitBreaker:
    return CircuitBreaker("postgres", fail_max=3, reset_timeout_s=30, clock=clock, **kwargs)


def test_breaker_opens_after_n_failures_and_fails_fast() -> None:
    clock = FakeClock()
    breaker = _breaker(clock)
    down = always(lambda: ConnectionRefusedError("refused"))
    for expected_failures in (1, 2):
        with pytest.raises(ConnectionRefusedError):
            breaker.call(down)
        assert (breaker.state, breaker.failures) == ("closed", expected_failures)
    with pytest.raises(ConnectionRefusedError):  # the tripping call raises its own error
        breaker.call(down)
    assert breaker.state == "open"
    clock.now += 10
    with pytest.raises(CircuitOpenError) as info:
        breaker.call(down)
    assert down.calls["n"] == 3  # type: ignore[attr-defined]  # not called while open
    err = info.value
    assert (err.service, err.failures, err.retry_after_s) == ("postgres", 3, 20)
    assert "circuit breaker for 'postgres' is open after 3 consecutive failure(s)" in str(err)
    assert "(in 20.0s)" in str(err)
    assert classify(err) == "transient"


def test_breaker_half_opens_after_its_timeout_and_closes_on_success() -> None:
    clock = FakeClock()
    breaker = _breaker(clock)
    flaky = failing(3, lambda: ConnectionResetError("reset"), result="row")
    for _ in range(3):
        with pytest.raises(ConnectionResetError):
            breaker.call(flaky)
    clock.now += 29.5
    with pytest.raises(CircuitOpenError):
        breaker.call(flaky)
    clock.now += 0.5  # 30 s since opening: one trial call goes through
    assert breaker.call(flaky) == "row"
    assert (breaker.state, breaker.failures) == ("closed", 0)


def test_a_failed_trial_call_opens_the_breaker_again() -> None:
    clock = FakeClock()
    breaker = _breaker(clock)
    down = always(lambda: TimeoutError("slow"))
    for _ in range(3):
        with pytest.raises(TimeoutError):
            breaker.call(down)
    clock.now += 31
    with pytest.raises(TimeoutError):
        breaker.call(down)  # the trial
    assert breaker.state == "open"
    assert down.calls["n"] == 4  # type: ignore[attr-defined]
    clock.now += 5
    with pytest.raises(CircuitOpenError) as info:
        breaker.call(down)
    assert info.value.retry_after_s == 25


def test_terminal_errors_do_not_open_the_breaker_unless_asked() -> None:
    clock = FakeClock()
    breaker = _breaker(clock)
    for _ in range(5):
        with pytest.raises(psycopg.errors.UndefinedTable):
            breaker.call(always(lambda: psycopg.errors.UndefinedTable("no table")))
    assert (breaker.state, breaker.failures) == ("closed", 0)

    counting_all = _breaker(clock, count="all")
    for _ in range(3):
        with pytest.raises(ValueError):
            counting_all.call(always(ValueError))
    assert counting_all.state == "open"


def test_breaker_state_changes_are_logged_and_exported(caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock()
    metrics = RunMetrics("load_recommendations")
    caplog.set_level(logging.INFO, logger="sparkjobs.resilience.breaker")
    breaker = CircuitBreaker.from_settings(
        "postgres", BreakerSettings(fail_max=2, reset_timeout_s=10), clock=clock, metrics=metrics
    )

    def state_value(state: str) -> float | None:
        return metrics.registry.get_sample_value(
            "sparkjobs_circuit_breaker_state",
            {"service": "postgres", "sparkjobs_circuit_breaker_state": state},
        )

    assert (state_value("closed"), state_value("open"), state_value("half_open")) == (1, 0, 0)
    flaky = failing(2, lambda: ConnectionResetError("reset"))
    for _ in range(2):
        with pytest.raises(ConnectionResetError):
            breaker.call(flaky)
    assert (state_value("closed"), state_value("open")) == (0, 1)
    with pytest.raises(CircuitOpenError):
        breaker.call(flaky)
    clock.now += 10
    breaker.call(flaky)
    assert (state_value("closed"), state_value("open"), state_value("half_open")) == (1, 0, 0)

    def transitions(to: str) -> float | None:
        return metrics.registry.get_sample_value(
            "sparkjobs_circuit_breaker_transitions_total", {"service": "postgres", "to": to}
        )

    assert (transitions("open"), transitions("half_open"), transitions("closed")) == (1, 1, 1)
    assert (
        metrics.registry.get_sample_value(
            "sparkjobs_circuit_breaker_rejected_calls_total", {"service": "postgres"}
        )
        == 1
    )
    messages = [r.getMessage() for r in caplog.records if r.name == "sparkjobs.resilience.breaker"]
    assert (
        messages[0]
        == "circuit breaker for 'postgres' opened after 2 consecutive failure(s); next trial in 10s"
    )
    assert messages[1].startswith("circuit breaker for 'postgres' is open after 2 consecutive failure(s)")
    assert messages[2:] == [
        "circuit breaker for 'postgres': open -> half_open",
        "circuit breaker for 'postgres': half_open -> closed",
    ]


def test_retry_around_a_breaker_waits_for_the_trial_call() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker("api", fail_max=2, reset_timeout_s=5, clock=clock)
    flaky = failing(2, lambda: httpx.ConnectError("refused"), result=200)
    policy = RetryPolicy(strategy="fixed", initial_delay_s=2, max_attempts=6)
    assert policy.call(breaker.call, flaky, sleep=clock.sleep, clock=clock) == 200
    # t0 fail, t2 fail (opens at 2), t4 open (2s < 5), t6 open (4s), t8 trial (6s ≥ 5) → success
    assert clock.sleeps == [2, 2, 2, 2]
    assert flaky.calls["n"] == 3  # type: ignore[attr-defined]


def test_breaker_decorator() -> None:
    breaker = CircuitBreaker("svc", fail_max=1, reset_timeout_s=60, clock=FakeClock())

    @breaker.decorate
    def ping() -> str:
        raise ConnectionResetError("x")

    with pytest.raises(ConnectionResetError):
        ping()
    with pytest.raises(CircuitOpenError):
        ping()
    breaker.reset()
    assert breaker.state == "closed"


# -- bulk ---------------------------------------------------------------------------------------


def _load_table(name: str) -> int:
    if name == "similar_items":
        raise ConnectionResetError("reset during COPY")
    if name == "popular_items":
        raise ValueError("score is NaN")
    return len(name)


TABLES = ["items", "recommendations", "similar_items", "popular_items", "snapshot_meta"]


def test_bulk_lists_successes_and_failures_within_the_ratio() -> None:
    result = run_bulk(TABLES, _load_table, max_failure_ratio=0.4, operation="load")
    assert result.values() == {"items": 5, "recommendations": 15, "snapshot_meta": 13}
    assert [(f.key, type(f.error).__name__, f.kind) for f in result.failed] == [
        ("similar_items", "ConnectionResetError", "transient"),
        ("popular_items", "ValueError", "terminal"),
    ]
    assert result.failure_ratio == 0.4
    assert result.summary()["failed"] == [
        {"key": "similar_items", "error": "ConnectionResetError: reset during COPY", "kind": "transient"},
        {"key": "popular_items", "error": "ValueError: score is NaN", "kind": "terminal"},
    ]


def test_bulk_raises_past_the_ratio_listing_every_failure() -> None:
    with pytest.raises(BulkFailedError) as info:
        run_bulk(TABLES, _load_table, max_failure_ratio=0.3, operation="load")
    err = info.value
    assert str(err) == (
        "load: 2 of 5 item(s) failed (ratio 0.4 > allowed 0.3):\n"
        "  - similar_items: ConnectionResetError: reset during COPY (transient)\n"
        "  - popular_items: ValueError: score is NaN (terminal)"
    )
    assert [s.key for s in err.result.succeeded] == ["items", "recommendations", "snapshot_meta"]
    assert classify(err) == "terminal"  # one failure is terminal


def test_bulk_failure_of_only_transient_errors_is_transient() -> None:
    with pytest.raises(BulkFailedError) as info:
        run_bulk([1, 2], lambda i: (_ for _ in ()).throw(TimeoutError(f"t{i}")), max_failure_ratio=0.0)
    assert classify(info.value) == "transient"


def test_bulk_items_retry_under_a_policy_and_are_counted() -> None:
    clock = FakeClock()
    metrics = RunMetrics("job")
    flaky = {"b": failing(1, lambda: ConnectionResetError("x"), result="B")}

    def fn(key: str) -> str:
        return flaky[key]() if key in flaky else key.upper()

    result = run_bulk(
        ["a", "b", "c"],
        fn,
        retry=RetryPolicy(strategy="fixed", initial_delay_s=1),
        sleep=clock.sleep,
        metrics=metrics,
        operation="partitions",
    )
    assert result.values() == {"a": "A", "b": "B", "c": "C"}
    assert clock.sleeps == [1]
    assert (
        metrics.registry.get_sample_value(
            "sparkjobs_bulk_items_total", {"operation": "partitions", "outcome": "succeeded"}
        )
        == 3
    )
    assert (
        metrics.registry.get_sample_value(
            "sparkjobs_retry_attempts_total", {"operation": "partitions[b]", "outcome": "retry"}
        )
        == 1
    )


def test_bulk_edge_cases() -> None:
    assert run_bulk([], _load_table).total == 0
    with pytest.raises(ValueError, match="max_failure_ratio"):
        run_bulk(["a"], _load_table, max_failure_ratio=1.5)
    everything_fails = run_bulk(["similar_items"], _load_table, max_failure_ratio=1.0)
    assert everything_fails.failure_ratio == 1.0
    with pytest.raises(KeyboardInterrupt):
        run_bulk(["a", "b"], lambda _: (_ for _ in ()).throw(KeyboardInterrupt()), max_failure_ratio=1.0)
