"""Pipelines: DAGs of job steps in config, run with a ledger, retries, resume, backfill, a scheduler.

Every step runs through the same path as ``sparkjobs run`` (:mod:`sparkjobs.executor`). The commands
live in :mod:`sparkjobs.cli.pipeline` (``sparkjobs pipeline ...``) and :mod:`sparkjobs.cli.schedule`.
"""

from sparkjobs.pipeline.errors import (
    LedgerError,
    PipelineFailedError,
    PipelineLockedError,
    PipelineNotFoundError,
    RunNotFoundError,
    StepTimeoutError,
)
from sparkjobs.pipeline.ledger import PostgresLedger, RunLedger, RunRecord, SQLiteLedger, open_ledger
from sparkjobs.pipeline.model import PipelineSpec, ScheduleSpec, StateSettings, StepSpec
from sparkjobs.pipeline.outcomes import RunOutcome
from sparkjobs.pipeline.runner import PipelineRunner
from sparkjobs.pipeline.scheduler import Scheduler
from sparkjobs.pipeline.stop import StopToken
from sparkjobs.pipeline.workspace import Invocation, Workspace

__all__ = [
    "Invocation",
    "LedgerError",
    "PipelineFailedError",
    "PipelineLockedError",
    "PipelineNotFoundError",
    "PipelineRunner",
    "PipelineSpec",
    "PostgresLedger",
    "RunLedger",
    "RunNotFoundError",
    "RunOutcome",
    "RunRecord",
    "SQLiteLedger",
    "ScheduleSpec",
    "Scheduler",
    "StateSettings",
    "StepSpec",
    "StepTimeoutError",
    "StopToken",
    "Workspace",
    "open_ledger",
]
