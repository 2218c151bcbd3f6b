"""Errors of engine selection: raised before any work, so they are usage errors (exit code 2)."""

from __future__ import annotations

from collections.abc import Sequence

from sparkjobs.errors import UsageError


class EngineCapabilityError(UsageError):
    """The engine asked for (or every engine) lacks a capability the job requires."""

    def __init__(
        self,
        job: str,
        engine: str,
        missing: Sequence[str],
        *,
        able: Sequence[str] = (),
        reason: str = "",
    ) -> None:
        self.job = job
        self.engine = engine
        self.missing = sorted(missing)
        self.able = list(able)
        what = ", ".join(self.missing)
        if able:
            hint = f"run it with --engine {able[0]} (or engine: auto)"
        else:
            hint = "no configured engine provides it: enable one that does, or drop the requirement"
        detail = f" ({reason})" if reason else ""
        super().__init__(
            f"job {job!r} requires {what}, which engine {engine!r} does not provide{detail}; {hint}"
        )
