"""What a platform does around a run besides parsing its arguments (AWS Glue's ``Job.init``/``commit``).

:class:`RunLifecycle` is the null object every platform has by default: nothing to check, nothing
around the run. A platform that owns a job object of its own (:mod:`sparkjobs.entrypoints.glue_job`)
subclasses it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sparkjobs.executor import PreparedRun


class RunLifecycle:
    """Nothing to check, nothing to do around the run."""

    def check(self, platform_args: Mapping[str, str | None], has_spark: bool) -> None:
        """Refuse platform arguments this Python cannot honour (before the job is even resolved)."""

    @contextmanager
    def around(self, prepared: PreparedRun, platform_args: Mapping[str, str | None]) -> Iterator[None]:
        """Wrap :func:`sparkjobs.executor.execute`: set up before, commit after a success."""
        yield


NO_LIFECYCLE = RunLifecycle()
