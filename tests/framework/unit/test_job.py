"""The template method: call order, the failure path and the final run()."""

from __future__ import annotations

import logging
from types import SimpleNamespace
from typing import Any

import pytest

from sparkjobs import AbstractJob, JobContractError


class RecordingJob(AbstractJob):
    def __init__(self, fail_in: str | None = None) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.fail_in = fail_in

    def execute_job(self, **kwargs: Any) -> Any:
        self.calls.append(("execute_job", kwargs))
        if self.fail_in == "execute":
            raise KeyError("missing column 'rating'")
        return {"rows": 3}

    def on_success(self, result: Any) -> None:
        self.calls.append(("on_success", result))
        if self.fail_in == "success":
            raise RuntimeError("could not publish event")

    def on_failure(self, error_message: str) -> None:
        self.calls.append(("on_failure", error_message))
        if self.fail_in == "failure-hook":
            raise OSError("alerting is down")


def test_run_calls_execute_then_on_success_and_returns_result() -> None:
    job = RecordingJob()
    assert job.run(day="2024-01-02", n=1) == {"rows": 3}
    assert job.calls == [("execute_job", {"day": "2024-01-02", "n": 1}), ("on_success", {"rows": 3})]


def test_failure_calls_on_failure_once_and_reraises_the_original() -> None:
    job = RecordingJob(fail_in="execute")
    with pytest.raises(KeyError) as info:
        job.run()
    assert info.value.args == ("missing column 'rating'",)
    assert [c[0] for c in job.calls] == ["execute_job", "on_failure"]
    assert job.calls[1][1] == "KeyError: \"missing column 'rating'\""


def test_on_success_raising_goes_through_on_failure() -> None:
    job = RecordingJob(fail_in="success")
    with pytest.raises(RuntimeError, match="could not publish event"):
        job.run()
    assert [c[0] for c in job.calls] == ["execute_job", "on_success", "on_failure"]


def test_a_failing_failure_hook_does_not_hide_the_jobs_error() -> None:
    class Both(RecordingJob):
        def execute_job(self, **kwargs: Any) -> Any:
            raise ValueError("bad rating -1")

    job = Both(fail_in="failure-hook")
    with pytest.raises(ValueError, match="bad rating -1"):
        job.run()


def test_overriding_run_fails_at_class_creation() -> None:
    with pytest.raises(JobContractError, match=r"overrides AbstractJob\.run"):

        class Sneaky(RecordingJob):
            def run(self, **kwargs: Any) -> Any:  # type: ignore[misc]
                return None


def test_execute_job_is_the_only_abstract_hook() -> None:
    class Incomplete(AbstractJob):
        pass

    with pytest.raises(TypeError, match="execute_job"):
        Incomplete()  # type: ignore[abstract]


class Minimal(AbstractJob):
    def __init__(self, fail: bool = False, result: Any = None) -> None:
        self.fail, self.result = fail, result

    def execute_job(self, **kwargs: Any) -> Any:
        if self.fail:
            raise ValueError("bad amount -3 in orders.csv")
        return self.result


def test_default_hooks_log_success_and_failure(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="sparkjobs.job")
    assert Minimal(result={"rows": 3}).run() == {"rows": 3}
    with pytest.raises(ValueError, match="bad amount"):
        Minimal(fail=True).run()
    logged = [(r.name, r.levelname, r.getMessage()) for r in caplog.records]
    assert logged == [
        ("sparkjobs.job.Minimal", "INFO", "Minimal succeeded: {'rows': 3}"),
        ("sparkjobs.job.Minimal", "ERROR", "Minimal failed: ValueError: bad amount -3 in orders.csv"),
    ]


def test_default_on_success_cuts_a_long_result(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="sparkjobs.job")
    Minimal(result="x" * 2000).run()
    (message,) = [r.getMessage() for r in caplog.records]
    assert message == "Minimal succeeded: '" + "x" * 499 + "... (2,002 characters)"


def test_default_hooks_use_the_context_logger_when_the_job_keeps_one(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="sparkjobs.run")

    class WithContext(Minimal):
        def __init__(self) -> None:
            super().__init__(result=7)
            self.context = SimpleNamespace(logger=logging.getLogger("sparkjobs.run.daily"))

    WithContext().run()
    assert [(r.name, r.getMessage()) for r in caplog.records] == [
        ("sparkjobs.run.daily", "WithContext succeeded: 7")
    ]


def test_run_inherited_from_a_mixin_fails_at_class_creation() -> None:
    class RunMixin:
        def run(self, **kwargs: Any) -> Any:
            return "bypassed"

    with pytest.raises(JobContractError, match=r"RunMixin\.run.*final"):

        class Sneaky(RunMixin, RecordingJob):
            pass


def test_replacing_run_after_class_creation_is_refused() -> None:
    class Later(RecordingJob):
        pass

    with pytest.raises(JobContractError, match="final"):
        Later.run = lambda self, **kw: "bypassed"  # type: ignore[method-assign]
    with pytest.raises(JobContractError, match="final"):
        AbstractJob.run = lambda self, **kw: "bypassed"  # type: ignore[method-assign]
    job = Later()
    with pytest.raises(JobContractError, match="final"):
        job.run = lambda **kw: "bypassed"  # type: ignore[method-assign]
    assert job.run() == {"rows": 3}
    job.anything_else = 1  # other attributes are set as usual
    assert job.anything_else == 1
