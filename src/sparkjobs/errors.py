"""One root error and a small tree; each error carries the facts needed to act on it.

The tree (``tests/unit/test_errors.py`` checks that it matches the classes below)::

    * SparkJobsError              root; exit code 1, transient only when marked
      * TransientError            may go away on retry (network, connection, throttling)
      * TerminalError             retrying cannot fix it
        * UsageError              exit code 2: the command line or the API was called wrongly
          * ConfigError           file, key path, bad value, expected
          * JobNotFoundError      name, close matches
          * JobContractError      a module or class breaks the job contract
        * SparkUnavailableError   no Spark or Java where the job needs it
        * DataError               the input data is not what the job expects
        * StorageFullError        no space left where a job writes; what was stored is intact
      * JobFailedError            job, run id, step, cause; transient when its cause is
      * LoadError                 a serving-store write failed; transient when marked

Other packages derive their own errors from these (e.g. the pipeline's ledger and lock errors).

Errors are also *marked* transient or terminal (see :func:`is_transient`): retry policies derive
what to retry from the mark, so nobody retries a schema error and nobody gives up on a dropped
connection.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any


class SparkJobsError(Exception):
    """Root of every error sparkjobs raises on purpose."""

    #: process exit code the CLI uses when this error reaches it
    exit_code: int = 1
    #: whether retrying the same call may succeed
    transient: bool = False


class TransientError(SparkJobsError):
    """A failure that may go away on retry (network, connection, throttling)."""

    transient = True


class TerminalError(SparkJobsError):
    """A failure that retrying cannot fix (bad data, bad config, a bug)."""

    transient = False


class UsageError(TerminalError):
    """The command line or the API was called wrongly."""

    exit_code = 2


class ConfigError(UsageError):
    """A configuration value is missing, unknown or invalid.

    Carries the file (or layer) it came from, the key path, the bad value and what was expected.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        key: str | None = None,
        value: Any = None,
        expected: str | None = None,
    ) -> None:
        self.message = message
        self.file = file
        self.key = key
        self.value = value
        self.expected = expected
        #: the required keys no layer sets, and how many problems the message lists in all
        self.missing: list[str] = []
        self.problems = 1
        parts = [message]
        if key is not None:
            parts.append(f"key: {key}")
        if file is not None:
            parts.append(f"source: {file}")
        if value is not None:
            parts.append(f"value: {value!r}")
        if expected is not None:
            parts.append(f"expected: {expected}")
        super().__init__(" | ".join(parts))


class JobNotFoundError(UsageError):
    """No job is registered or importable under the given name."""

    def __init__(self, name: str, close_matches: Sequence[str] = (), reason: str | None = None) -> None:
        self.name = name
        self.close_matches = list(close_matches)
        msg = f"unknown job {name!r}"
        if reason:
            msg += f": {reason}"
        if self.close_matches:
            msg += f" (did you mean: {', '.join(self.close_matches)}?)"
        else:
            msg += " (run `sparkjobs list` to see registered jobs, or pass a dotted module path)"
        super().__init__(msg)


class JobContractError(UsageError):
    """A module or class does not follow the job contract (e.g. no ``main``)."""


class JobFailedError(SparkJobsError):
    """A job raised while running; names the job, the run and the cause."""

    def __init__(
        self,
        job: str,
        run_id: str,
        cause: BaseException,
        step: str | None = None,
        hint: str | None = None,
        redact: Callable[[str], str] | None = None,
    ) -> None:
        self.job = job
        self.run_id = run_id
        self.step = step
        self.cause = cause
        self.hint = hint
        where = f"job {job!r}" + (f" step {step!r}" if step else "")
        cause_text = f"{type(cause).__name__}: {cause}"
        if redact is not None:  # the cause's text may quote a secret (a DSN, a token the job printed)
            cause_text = redact(cause_text)
        msg = f"{where} failed (run_id={run_id}): {cause_text}"
        if hint:
            msg += f"\n  next: {hint}"
        super().__init__(msg)

    @property
    def transient(self) -> bool:  # type: ignore[override]
        return is_transient(self.cause)


class SparkUnavailableError(TerminalError):
    """Spark (or Java) is not available where the job needs it; says how to fix it."""


class DataError(TerminalError):
    """The input data is not what the job expects (schema, missing partition, quality)."""


class StorageFullError(TerminalError):
    """No space left on the device (or quota) a job writes to; the previous outputs are intact."""


class LoadError(SparkJobsError):
    """Writing to a serving store failed; transient when the cause is."""

    def __init__(self, message: str, *, transient: bool = False) -> None:
        super().__init__(message)
        self.transient = transient


def is_transient(exc: BaseException) -> bool:
    """True when ``exc`` is marked transient.

    This only reads the mark; :mod:`sparkjobs.resilience` extends the classification to the real
    third-party exception types (psycopg, py4j, httpx, ...).
    """
    return bool(getattr(exc, "transient", False))
