"""The job contract: ``AbstractJob.run()`` is a final template method.

``run(**kwargs)`` calls ``execute_job(**kwargs)``, then ``on_success(result)`` and returns the
result; on any exception (from ``execute_job`` or from ``on_success``, as in the seed framework) it
calls ``on_failure(error_message)`` exactly once and re-raises the original exception.
Subclasses implement ``execute_job`` and never the control flow: a subclass that defines ``run``
fails at class creation. ``on_success`` and ``on_failure`` log by default (on the job's
``self.context.logger`` when it keeps its context there, as factory-built jobs do, else on
``sparkjobs.job.<ClassName>``); override them to publish events, alert, clean up.
"""

from __future__ import annotations

import logging
import time
from abc import ABCMeta, abstractmethod
from typing import Any, final

from sparkjobs.errors import JobContractError

_FINAL_METHODS = ("run",)
#: how much of a result's repr the default ``on_success`` logs
RESULT_LOG_CHARS = 500


def _final_error(owner: str, name: str) -> JobContractError:
    return JobContractError(
        f"{owner} overrides AbstractJob.{name}(), which is final: "
        "implement execute_job() (and optionally on_success() / on_failure()) instead"
    )


class _JobMeta(ABCMeta):
    """Keeps the final methods final after class creation too (``SomeJob.run = ...``)."""

    def __setattr__(cls, name: str, value: Any) -> None:
        if name in _FINAL_METHODS:
            raise _final_error(f"assigning {cls.__module__}.{cls.__qualname__}.{name}", name)
        super().__setattr__(name, value)


class AbstractJob(metaclass=_JobMeta):
    """Base class of every job. Dependencies come in through the constructor."""

    #: filled in by :meth:`run`: seconds the last run took
    last_duration_s: float | None = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # the whole MRO: a mixin listed before AbstractJob would otherwise supply its own run()
        for name in _FINAL_METHODS:
            for klass in cls.__mro__:
                if klass is AbstractJob:
                    break
                if name in klass.__dict__:
                    raise _final_error(f"{klass.__module__}.{klass.__qualname__}.{name}", name)

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _FINAL_METHODS:
            raise _final_error(f"assigning {type(self).__qualname__}().{name}", name)
        super().__setattr__(name, value)

    @final
    def run(self, **kwargs: Any) -> Any:
        """Run the job: ``execute_job`` → ``on_success`` | ``on_failure`` → re-raise."""
        log = logging.getLogger(f"sparkjobs.job.{type(self).__name__}")
        started = time.perf_counter()
        try:
            result = self.execute_job(**kwargs)
            self.last_duration_s = time.perf_counter() - started
            self.on_success(result)
        except BaseException as exc:
            self.last_duration_s = time.perf_counter() - started
            message = f"{type(exc).__name__}: {exc}"
            try:
                self.on_failure(message)
            except Exception:  # a failing failure hook must not hide the original error
                log.exception(
                    "on_failure hook of %s raised; re-raising the job's own error", type(self).__name__
                )
            raise
        return result

    @abstractmethod
    def execute_job(self, **kwargs: Any) -> Any:
        """Extract → transform → load. Return whatever describes the run (counts, paths)."""

    def on_success(self, result: Any) -> None:
        """Called once with ``execute_job``'s result when it returned normally. Default: log it."""
        shown = repr(result)
        if len(shown) > RESULT_LOG_CHARS:
            shown = shown[:RESULT_LOG_CHARS] + f"... ({len(shown):,} characters)"
        self._hook_logger().info("%s succeeded: %s", type(self).__name__, shown)

    def on_failure(self, error_message: str) -> None:
        """Called once with ``"ExceptionType: message"`` when ``execute_job`` raised. Default: log it."""
        self._hook_logger().error("%s failed: %s", type(self).__name__, error_message)

    def _hook_logger(self) -> Any:
        """The run's logger (run_id, job, env on every line) when the job holds its context."""
        logger = getattr(getattr(self, "context", None), "logger", None)
        if logger is not None and callable(getattr(logger, "info", None)):
            return logger
        return logging.getLogger(f"sparkjobs.job.{type(self).__name__}")
