"""What a live display hears about a run: the :class:`RunReporter` protocol and its null object."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from sparkjobs.pipeline.ledger import RunRecord
from sparkjobs.pipeline.outcomes import RunOutcome, StepOutcome
from sparkjobs.resilience import RetryEvent


class RunReporter(Protocol):
    """What a live display hears about a run (the runner logs the same events anyway)."""

    def run_started(self, run: RunRecord, order: Sequence[str], done: set[str]) -> None: ...

    def step_started(self, step: str, attempt: int, max_attempts: int) -> None: ...

    def step_retrying(self, step: str, event: RetryEvent) -> None: ...

    def step_finished(self, step: str, outcome: StepOutcome) -> None: ...

    def run_finished(self, outcome: RunOutcome) -> None: ...


class NullReporter:
    """No live display (off a terminal the log lines are the display)."""

    def run_started(self, run: RunRecord, order: Sequence[str], done: set[str]) -> None:
        return None

    def step_started(self, step: str, attempt: int, max_attempts: int) -> None:
        return None

    def step_retrying(self, step: str, event: RetryEvent) -> None:
        return None

    def step_finished(self, step: str, outcome: StepOutcome) -> None:
        return None

    def run_finished(self, outcome: RunOutcome) -> None:
        return None
