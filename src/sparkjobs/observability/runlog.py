"""A run's own log: its "started" and "succeeded/failed" lines, and one log file per run next to
its report (``<runs_dir>/<run_id>[.attempt-N].log``, JSON lines).

While a run lasts, :class:`RunLogFile` copies into its file every record of the ``sparkjobs`` and
``recommendations`` logger trees that belongs to the run: a record stamped with the run's id (the
job's ``context.logger``), or one without a run id logged by the thread that runs the job (the
framework's readers, writers and checks). Lines go through the run's
:class:`~sparkjobs.observability.redact.Redactor`, like every other sink. The handler passes what
the loggers let through: under the CLI that is the configured level (INFO by default).
"""

from __future__ import annotations

import logging
import threading
from datetime import date
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol

from sparkjobs.observability.logging import LOGGER_TREES, JsonFormatter
from sparkjobs.observability.redact import Redactor


class _ThisRun(logging.Filter):
    def __init__(self, run_id: str, thread: int | None) -> None:
        super().__init__()
        self.run_id = run_id
        self.thread = thread

    def filter(self, record: logging.LogRecord) -> bool:
        run_id = getattr(record, "run_id", None)
        if run_id is not None:
            return bool(run_id == self.run_id)
        return record.thread == self.thread


class RunLogFile:
    """``with RunLogFile(path, run_id, redactor):`` — the run's lines also go to ``path``."""

    def __init__(self, path: Path, run_id: str, redactor: Redactor) -> None:
        self.path = path
        self.run_id = run_id
        self.redactor = redactor
        self._handler: logging.Handler | None = None

    def __enter__(self) -> RunLogFile:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(self.path, mode="a", encoding="utf-8")
        handler.setFormatter(JsonFormatter(self.redactor))
        handler.addFilter(_ThisRun(self.run_id, threading.get_ident()))
        for name in LOGGER_TREES:
            logging.getLogger(name).addHandler(handler)
        self._handler = handler
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        handler, self._handler = self._handler, None
        if handler is None:
            return
        for name in LOGGER_TREES:
            logging.getLogger(name).removeHandler(handler)
        handler.close()


class _RunFacts(Protocol):
    job: str
    run_id: str
    env: str
    pipeline: str | None
    step: str | None
    attempt: int


def log_started(logger: Any, run: _RunFacts, event_date: date | None) -> None:
    """``job X started (run …, env …, event date …[, pipeline P step S][, attempt N])``."""
    where = f", pipeline {run.pipeline} step {run.step}" if run.pipeline else ""
    attempt = f", attempt {run.attempt}" if run.attempt > 1 else ""
    day = event_date.isoformat() if event_date else "-"
    logger.info(
        "job %s started (run %s, env %s, event date %s%s%s)",
        run.job,
        run.run_id,
        run.env,
        day,
        where,
        attempt,
        extra={"fields": {"status": "started", "attempt": run.attempt}},
    )


def log_finished(
    logger: Any, job: str, duration_s: float | None, error: BaseException | None, redactor: Redactor
) -> None:
    """``job X succeeded in 1.23s`` or ``job X failed after 1.23s: Type: message`` (redacted)."""
    seconds = duration_s or 0.0
    status = "succeeded" if error is None else "failed"
    fields = {"status": status, "duration_s": round(seconds, 3)}
    if error is None:
        logger.info("job %s succeeded in %.2fs", job, seconds, extra={"fields": fields})
        return
    text = redactor(f"{type(error).__name__}: {error}")
    logger.error("job %s failed after %.2fs: %s", job, seconds, text, extra={"fields": fields})
