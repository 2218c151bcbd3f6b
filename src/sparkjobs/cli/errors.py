"""The one place a command's error becomes a message and an exit code (kedro's ``KedroCliError``).

The top group converts every :class:`~sparkjobs.errors.SparkJobsError` a command raises with
:meth:`CliError.of`; click prints it with :meth:`CliError.show` and exits with its code. The text
goes through :func:`sparkjobs.observability.failures.failure_text`, so it is always redacted.
"""

from __future__ import annotations

from typing import IO, Any

import click

from sparkjobs.observability.failures import exit_code_of, failure_text


class CliError(click.ClickException):
    """A framework error on its way to the terminal: redacted text, exit code 1 (a run failed)."""

    exit_code = 1

    def __init__(self, error: BaseException) -> None:
        super().__init__(str(error))
        self.error = error

    @classmethod
    def of(cls, error: BaseException) -> CliError:
        """The error with the exit code :func:`~sparkjobs.observability.failures.exit_code_of` gives it."""
        return CliUsageError(error) if exit_code_of(error) == CliUsageError.exit_code else cls(error)

    def format_message(self) -> str:
        return failure_text(self.error)

    def show(self, file: IO[Any] | None = None) -> None:
        click.echo(self.format_message(), err=file is None, file=file)


class CliUsageError(CliError):
    """Bad usage or configuration (exit code 2)."""

    exit_code = 2
