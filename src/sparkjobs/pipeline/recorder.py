"""The runner's writes to the run ledger, retried on transient errors; giving up is terminal."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

from sparkjobs.pipeline.errors import LedgerError
from sparkjobs.resilience import RetryPolicy

T = TypeVar("T")

#: how the runner retries its own writes to the run ledger (a briefly unreachable database)
LEDGER_RETRY = RetryPolicy(strategy="exponential", max_attempts=5, initial_delay_s=0.5, max_delay_s=8.0)


class LedgerRecorder:
    """``recorder(ledger.start_step, run_id, ...)``: one ledger write under :data:`LEDGER_RETRY`.

    A bookkeeping failure after a step succeeded must not make the step's retry policy run the job
    again: the final error is marked terminal and ends the run.
    """

    def __init__(self, retry: RetryPolicy, logger: logging.Logger) -> None:
        self.retry = retry
        self.logger = logger

    def __call__(self, write: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        try:
            return self.retry.call(write, *args, logger=self.logger, operation="run ledger write", **kwargs)
        except LedgerError as exc:
            tries = self.retry.max_attempts
            raise LedgerError(f"{exc} (gave up after {tries} tries)", transient=False) from exc
