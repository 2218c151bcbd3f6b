"""Structured logs: JSON lines off a terminal, readable lines on one; run_id/job/step/env on every line."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import MutableMapping
from datetime import UTC, datetime
from typing import Any, TextIO

from sparkjobs.config.secrets import mask_text

CONTEXT_FIELDS = ("run_id", "job", "step", "env", "pipeline", "event_date")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": mask_text(record.getMessage()),
        }
        for name in CONTEXT_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                payload[name] = str(value)
        extra = getattr(record, "fields", None)
        if isinstance(extra, dict):
            payload.update({k: v for k, v in extra.items() if k not in payload})
        if record.exc_info:
            payload["error"] = mask_text(self.formatException(record.exc_info))
        return json.dumps(payload, default=str)


class ConsoleFormatter(logging.Formatter):
    COLORS = {"DEBUG": "\x1b[2m", "INFO": "\x1b[36m", "WARNING": "\x1b[33m", "ERROR": "\x1b[31m", "CRITICAL": "\x1b[41m"}

    def __init__(self, color: bool) -> None:
        super().__init__()
        self.color = color

    def format(self, record: logging.LogRecord) -> str:
        ts = datetime.fromtimestamp(record.created, UTC).strftime("%H:%M:%S")
        ctx = " ".join(
            f"{n}={getattr(record, n)}" for n in ("job", "step", "run_id") if getattr(record, n, None) is not None
        )
        level = record.levelname
        if self.color:
            level = f"{self.COLORS.get(level, '')}{level:<7}\x1b[0m"
        else:
            level = f"{level:<7}"
        line = f"{ts} {level} {mask_text(record.getMessage())}" + (f"  [{ctx}]" if ctx else "")
        if record.exc_info:
            line += "\n" + mask_text(self.formatException(record.exc_info))
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


def configure_logging(fmt: str = "auto", level: str = "INFO", stream: TextIO | None = None) -> None:
    """Install one handler on the ``sparkjobs`` logger tree (idempotent)."""
    stream = stream or sys.stderr
    is_tty = hasattr(stream, "isatty") and stream.isatty()
    use_json = fmt == "json" or (fmt == "auto" and not is_tty)
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter() if use_json else ConsoleFormatter(color=is_tty))
    setattr(handler, _HANDLER_MARK, True)
    for name in ("sparkjobs", "recommendations"):
        logger = logging.getLogger(name)
        for old in [h for h in logger.handlers if getattr(h, _HANDLER_MARK, False)]:
            logger.removeHandler(old)
        logger.addHandler(handler)
        logger.setLevel(level.upper())
        logger.propagate = False


def job_logger(job: str, run_id: str, env: str, **fields: Any) -> ContextAdapter:
    return ContextAdapter(logging.getLogger(f"sparkjobs.run.{job}"), {"job": job, "run_id": run_id, "env": env, **fields})
