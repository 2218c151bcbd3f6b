"""Structured logs: JSON lines off a terminal, readable lines on one; run_id/job/step/env on every line.

Every line goes through a :class:`~sparkjobs.observability.redact.Redactor`: DSN passwords and
``password=`` pairs are masked by pattern, and the secret values a running job registered (see
:func:`log_redactors`) are masked wherever they appear — message, extra fields and tracebacks.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import MutableMapping
from datetime import UTC, datetime
from typing import Any, TextIO

from sparkjobs.observability.redact import Redactor

CONTEXT_FIELDS = ("run_id", "job", "step", "env", "pipeline", "event_date")


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, message, the context fields and ``fields``."""

    def __init__(self, redactor: Redactor | None = None) -> None:
        super().__init__()
        self.redactor = redactor if redactor is not None else Redactor()

    def format(self, record: logging.LogRecord) -> str:
        redact = self.redactor
        payload: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        for name in CONTEXT_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                payload[name] = redact(str(value))
        extra = getattr(record, "fields", None)
        if isinstance(extra, dict):
            payload.update({k: redact.value(v) for k, v in extra.items() if k not in payload})
        if record.exc_info:
            payload["error"] = redact(self.formatException(record.exc_info))
        return json.dumps(payload, default=lambda v: redact(str(v)))


class ConsoleFormatter(logging.Formatter):
    """``HH:MM:SS LEVEL message  [job=… step=… run_id=…]``, coloured on a terminal."""

    COLORS = {
        "DEBUG": "\x1b[2m",
        "INFO": "\x1b[36m",
        "WARNING": "\x1b[33m",
        "ERROR": "\x1b[31m",
        "CRITICAL": "\x1b[41m",
    }

    def __init__(self, color: bool, redactor: Redactor | None = None) -> None:
        super().__init__()
        self.color = color
        self.redactor = redactor if redactor is not None else Redactor()

    def format(self, record: logging.LogRecord) -> str:
        ts = datetime.fromtimestamp(record.created, UTC).strftime("%H:%M:%S")
        ctx = " ".join(
            f"{n}={getattr(record, n)}"
            for n in ("job", "step", "run_id")
            if getattr(record, n, None) is not None
        )
        level = record.levelname
        level = f"{self.COLORS.get(level, '')}{level:<7}\x1b[0m" if self.color else f"{level:<7}"
        line = f"{ts} {level} {self.redactor(record.getMessage())}" + (f"  [{ctx}]" if ctx else "")
        if record.exc_info:
            line += "\n" + self.redactor(self.formatException(record.exc_info))
        return line


class ContextAdapter(logging.LoggerAdapter):
    """A logger that stamps run_id, job, step and env on every record."""

    def process(self, msg: Any, kwargs: MutableMapping[str, Any]) -> tuple[Any, MutableMapping[str, Any]]:
        extra = dict(self.extra or {})
        extra.update(kwargs.get("extra") or {})
        kwargs["extra"] = extra
        return msg, kwargs

    def bind(self, **fields: Any) -> ContextAdapter:
        return ContextAdapter(self.logger, {**(self.extra or {}), **fields})


_HANDLER_MARK = "_sparkjobs_handler"
LOGGER_TREES = ("sparkjobs", "recommendations")


def configure_logging(
    fmt: str = "auto", level: str = "INFO", stream: TextIO | None = None
) -> logging.Handler:
    """Install one handler on the ``sparkjobs`` and ``recommendations`` logger trees (idempotent).

    Returns the handler; its formatter's ``redactor`` is what :func:`log_redactors` finds.
    """
    stream = stream or sys.stderr
    is_tty = hasattr(stream, "isatty") and stream.isatty()
    use_json = fmt == "json" or (fmt == "auto" and not is_tty)
    redactor = Redactor()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter(redactor) if use_json else ConsoleFormatter(is_tty, redactor))
    setattr(handler, _HANDLER_MARK, True)
    for name in LOGGER_TREES:
        logger = logging.getLogger(name)
        for old in [h for h in logger.handlers if getattr(h, _HANDLER_MARK, False)]:
            logger.removeHandler(old)
        logger.addHandler(handler)
        logger.setLevel(level.upper())
        logger.propagate = False
    return handler


def log_redactors() -> list[Redactor]:
    """The redactors of the handlers :func:`configure_logging` installed (none before it ran)."""
    found: list[Redactor] = []
    for name in LOGGER_TREES:
        for handler in logging.getLogger(name).handlers:
            redactor = getattr(handler.formatter, "redactor", None)
            if not (getattr(handler, _HANDLER_MARK, False) and isinstance(redactor, Redactor)):
                continue
            if all(redactor is not r for r in found):
                found.append(redactor)
    return found


def job_logger(job: str, run_id: str, env: str, **fields: Any) -> ContextAdapter:
    return ContextAdapter(
        logging.getLogger(f"sparkjobs.run.{job}"), {"job": job, "run_id": run_id, "env": env, **fields}
    )
