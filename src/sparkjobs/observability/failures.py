"""How a failure is told to the person at the terminal: one message format and one exit-code rule.

Every command (``sparkjobs ...``) and every platform entry point reports an error through
:func:`failure_text` and :func:`exit_code_of`, so that the text is always redacted — DSN and
``password=`` patterns, plus the values of secret-named environment variables — and the exit
codes mean the same everywhere: 1 a run failed, 2 bad usage or configuration (an error's own
``exit_code``), 130 interrupted.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from sparkjobs.errors import SparkJobsError

if TYPE_CHECKING:
    from sparkjobs.observability.redact import Redactor

#: exit code of a run stopped by Ctrl-C / SIGINT (128 + SIGINT, as shells report it)
EXIT_INTERRUPTED = 130
#: notes the retry machinery adds for logs; the message already says how often it tried
_LOG_ONLY_NOTE = "sparkjobs retry:"


def exit_code_of(exc: BaseException) -> int:
    """2 for usage/config errors (and a held pipeline lock), 1 for everything else."""
    code = exc.exit_code if isinstance(exc, SparkJobsError) else 1
    return code if code in (1, 2) else 1


def environ_redactor(environ: Mapping[str, str] | None = None) -> Redactor:
    """Masks patterns and the values of the secret-named variables of ``environ`` (default: the process's).

    The redactor (pydantic, the config package) is imported here, when a failure is reported,
    so that the CLI's start does not pay for it."""
    from sparkjobs.observability.redact import Redactor, secrets_in_environ

    return Redactor(secrets_in_environ(os.environ if environ is None else environ))


def failure_text(exc: BaseException, redact: Callable[[str], str] | None = None) -> str:
    """``error: ...`` plus one ``  note: ...`` line per note the error collected, redacted."""
    lines = [f"error: {exc}"]
    lines += [f"  note: {n}" for n in getattr(exc, "__notes__", ()) if not n.startswith(_LOG_ONLY_NOTE)]
    return (redact or environ_redactor())("\n".join(lines))
