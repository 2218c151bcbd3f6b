"""Live display of pipeline runs on a terminal (rich), one line per step with its state and clock."""

from __future__ import annotations

from collections.abc import Sequence
from types import TracebackType

from rich.console import Console
from rich.progress import Progress, ProgressColumn, SpinnerColumn, Task, TaskID, TextColumn
from rich.text import Text

from sparkjobs.pipeline.ledger import RunRecord
from sparkjobs.pipeline.outcomes import RunOutcome, StepOutcome
from sparkjobs.resilience import RetryEvent

_STATUS_STYLE = {
    "success": "[green]✔ success[/]",
    "failed": "[red]✘ failed[/]",
    "skipped": "[dim]↷ done earlier[/]",
    "pending": "[dim]· pending[/]",
}


class RunningClock(ProgressColumn):
    """Elapsed time of a step while it runs; finished steps show their duration in the status."""

    def render(self, task: Task) -> Text:
        if not task.started or task.finished or task.elapsed is None:
            return Text("")
        minutes, seconds = divmod(int(task.elapsed), 60)
        return Text(f"{minutes:d}:{seconds:02d}", style="yellow")


class RichProgress:
    """A :class:`~sparkjobs.pipeline.reporters.RunReporter` drawing a rich progress display.

    Use as a context manager around the runs; while it is open, ``sys.stderr`` writes (log lines)
    are printed above the display.
    """

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console(stderr=True)
        self.progress = Progress(
            SpinnerColumn(finished_text=" "),
            TextColumn("{task.description}", justify="left"),
            TextColumn("{task.fields[status]}"),
            RunningClock(),
            console=self.console,
            redirect_stderr=True,
            redirect_stdout=False,
        )
        self._tasks: dict[str, TaskID] = {}
        self._run_task: TaskID | None = None

    def __enter__(self) -> RichProgress:
        self.progress.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.progress.stop()

    def run_started(self, run: RunRecord, order: Sequence[str], done: set[str]) -> None:
        self._tasks.clear()
        self._run_task = self.progress.add_task(
            f"[bold]{run.pipeline}[/] {run.logical_date} ({run.mode})",
            total=len(order),
            status=f"run {run.run_id}",
        )
        width = max((len(s) for s in order), default=0)
        for step in order:
            self._tasks[step] = self.progress.add_task(
                f"  {step:<{width}}", total=1, start=False, status=_STATUS_STYLE["pending"]
            )

    def step_started(self, step: str, attempt: int, max_attempts: int) -> None:
        task = self._tasks.get(step)
        if task is None:
            return
        self.progress.start_task(task)
        note = f" (attempt {attempt}/{max_attempts})" if attempt > 1 else ""
        self.progress.update(task, status=f"[yellow]running{note}[/]")

    def step_retrying(self, step: str, event: RetryEvent) -> None:
        task = self._tasks.get(step)
        if task is not None:
            error = type(event.error).__name__
            self.progress.update(
                task,
                status=f"[yellow]attempt {event.attempt} failed ({error}); retry in {event.delay_s:.3g}s[/]",
            )

    def step_finished(self, step: str, outcome: StepOutcome) -> None:
        task = self._tasks.get(step)
        if task is None:
            return
        status = _STATUS_STYLE.get(outcome.status, outcome.status)
        if outcome.status == "success" and outcome.attempts > 1:
            status += f" [dim](attempt {outcome.attempts})[/]"
        if outcome.status != "skipped":
            status += f" [dim]{outcome.duration_s:.2f}s[/]"
        self.progress.update(task, completed=1, status=status)
        self.progress.stop_task(task)
        if self._run_task is not None:
            self.progress.advance(self._run_task)

    def run_finished(self, outcome: RunOutcome) -> None:
        if self._run_task is None:
            return
        status = _STATUS_STYLE.get(outcome.status, f"[red]{outcome.status}[/]")
        self.progress.update(
            self._run_task, status=f"{status} [dim]{outcome.duration_s:.2f}s, run {outcome.run_id}[/]"
        )
        self.progress.stop_task(self._run_task)
        for step in outcome.steps:
            task = self._tasks.get(step.step)
            if task is not None and step.status == "pending":
                self.progress.update(task, status=_STATUS_STYLE["pending"] + " [dim](not run)[/]")
