"""The ledger's tables, written once for both dialects: DDL, column lists and the stored error text."""

from __future__ import annotations

from sparkjobs.config.secrets import mask_text

#: ``{date}``, ``{ts}`` and ``{float}`` are the dialect's column types
DDL = """
CREATE TABLE IF NOT EXISTS pipeline_runs (
    run_id       TEXT PRIMARY KEY,
    pipeline     TEXT NOT NULL,
    logical_date {date} NOT NULL,
    mode         TEXT NOT NULL,
    status       TEXT NOT NULL,
    run_trigger  TEXT NOT NULL,
    env          TEXT NOT NULL,
    host         TEXT NOT NULL,
    pid          INTEGER NOT NULL,
    started_at   {ts} NOT NULL,
    finished_at  {ts},
    duration_s   {float},
    failed_step  TEXT,
    error        TEXT,
    resumes      INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS pipeline_runs_by_date ON pipeline_runs (pipeline, logical_date, started_at);
CREATE TABLE IF NOT EXISTS pipeline_steps (
    run_id      TEXT NOT NULL REFERENCES pipeline_runs (run_id) ON DELETE CASCADE,
    step        TEXT NOT NULL,
    job         TEXT NOT NULL,
    position    INTEGER NOT NULL,
    status      TEXT NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    started_at  {ts},
    finished_at {ts},
    duration_s  {float},
    error       TEXT,
    PRIMARY KEY (run_id, step)
);
CREATE TABLE IF NOT EXISTS pipeline_attempts (
    run_id      TEXT NOT NULL REFERENCES pipeline_runs (run_id) ON DELETE CASCADE,
    step        TEXT NOT NULL,
    attempt     INTEGER NOT NULL,
    status      TEXT NOT NULL,
    started_at  {ts} NOT NULL,
    finished_at {ts},
    duration_s  {float},
    error       TEXT,
    PRIMARY KEY (run_id, step, attempt)
);
CREATE TABLE IF NOT EXISTS pipeline_locks (
    pipeline     TEXT NOT NULL,
    logical_date {date} NOT NULL,
    run_id       TEXT NOT NULL,
    host         TEXT NOT NULL,
    node         TEXT NOT NULL,
    pid          INTEGER NOT NULL,
    acquired_at  {ts} NOT NULL,
    heartbeat_at {ts} NOT NULL,
    PRIMARY KEY (pipeline, logical_date)
)
"""

RUN_COLS = (
    "run_id, pipeline, logical_date, mode, status, run_trigger, env, host, pid, started_at, finished_at, "
    "duration_s, failed_step, error, resumes"
)
STEP_COLS = "run_id, step, job, position, status, attempts, started_at, finished_at, duration_s, error"
ATTEMPT_COLS = "run_id, step, attempt, status, started_at, finished_at, duration_s, error"
LOCK_COLS = "pipeline, logical_date, run_id, host, node, pid, acquired_at, heartbeat_at"

#: longest error text stored per step/attempt (full tracebacks belong in the logs)
MAX_ERROR_CHARS = 4000


def clip(text: str | None) -> str | None:
    if text is None:
        return None
    text = mask_text(text)
    return text if len(text) <= MAX_ERROR_CHARS else text[: MAX_ERROR_CHARS - 15] + " ...[truncated]"
