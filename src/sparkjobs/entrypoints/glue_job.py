"""AWS Glue's job object around a run, so that job bookmarks work; refused where Glue's library is missing.

On Glue (``awsglue`` importable) a Spark run is wrapped the way a Glue script does it::

    args = getResolvedOptions(sys.argv, ["JOB_NAME"])   # Glue's parser: bookmark and continuation options
    glue_context = GlueContext(spark.sparkContext)       # on the run's SparkSession
    job = Job(glue_context); job.init(args["JOB_NAME"], args)
    ... the job runs ...
    job.commit()                                         # only after a success: the bookmark advances

The job finds both in ``context.extras["glue_context"]`` and ``context.extras["glue_job"]`` (a
bookmark tracks what is read through the GlueContext with a ``transformation_ctx``). The
SparkSession is closed after the commit, never before it.

Elsewhere (no ``awsglue``) a bookmark or continuation option that asks for state is refused with
exit code 2 instead of being ignored: ``job-bookmark-enable``/``-pause``, ``--job-bookmark-from``/``-to``,
``continuation-enabled``/``-readonly``. ``job-bookmark-disable`` and ``continuation-ignore`` ask for
nothing and pass. A run with ``has_spark=false`` (a Python shell job) has no GlueContext: bookmarks
are refused there too.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from sparkjobs.entrypoints.lifecycle import RunLifecycle
from sparkjobs.errors import SparkJobsError, UsageError

if TYPE_CHECKING:
    from sparkjobs.executor import PreparedRun

log = logging.getLogger("sparkjobs.entrypoints.glue")

BOOKMARK_OPTION = "job-bookmark-option"
BOOKMARK_VALUES = ("job-bookmark-enable", "job-bookmark-pause", "job-bookmark-disable")
BOOKMARK_RANGE = ("job-bookmark-from", "job-bookmark-to")
CONTINUATION_OPTION = "continuation-option"
CONTINUATION_VALUES = ("continuation-enabled", "continuation-readonly", "continuation-ignore")
#: the values that ask for no bookmark state
STATELESS = frozenset({"job-bookmark-disable", "continuation-ignore"})


def awsglue_importable() -> bool:
    return importlib.util.find_spec("awsglue") is not None


def _stateful_options(platform_args: Mapping[str, str | None]) -> list[str]:
    """The bookmark options given that ask for state, as ``--option value``; bad values are refused."""
    asked: list[str] = []
    for option, values in ((BOOKMARK_OPTION, BOOKMARK_VALUES), (CONTINUATION_OPTION, CONTINUATION_VALUES)):
        if option not in platform_args:
            continue
        value = platform_args[option]
        if value not in values:
            raise UsageError(f"--{option} {value!r} is not a Glue value; choose one of: {', '.join(values)}")
        if value not in STATELESS:
            asked.append(f"--{option} {value}")
    asked.extend(f"--{option}" for option in BOOKMARK_RANGE if option in platform_args)
    return asked


class GlueJobLifecycle(RunLifecycle):
    """``Job.init`` before the run and ``Job.commit`` after a success, when ``awsglue`` is importable."""

    def __init__(self, importable: Callable[[], bool] = awsglue_importable) -> None:
        self.importable = importable

    def check(self, platform_args: Mapping[str, str | None], has_spark: bool) -> None:
        asked = _stateful_options(platform_args)
        if not asked:
            return
        if not self.importable():
            raise UsageError(
                f"{' '.join(asked)} needs AWS Glue's job bookmarks, but this Python cannot import awsglue "
                "(it exists only on Glue); bookmarks are not ignored silently: outside Glue drop the "
                "option or pass --job-bookmark-option job-bookmark-disable"
            )
        if not has_spark:
            raise UsageError(
                f"{' '.join(asked)} needs a GlueContext, which needs Spark; this run has has_spark=false "
                "(drop --has_spark false, or the bookmark option)"
            )

    @contextmanager
    def around(self, prepared: PreparedRun, platform_args: Mapping[str, str | None]) -> Iterator[None]:
        ctx = prepared.context
        if not ctx.has_spark or not self.importable():
            yield
            return
        if "JOB_NAME" not in platform_args:
            raise UsageError(
                "awsglue is importable but --JOB_NAME is missing: Glue passes it to every job run; "
                "when running the Glue script by hand, pass --JOB_NAME NAME"
            )
        # the commit needs the session: close it here, after the commit, not in execute()
        prepared.shares_session = True
        try:
            job, glue_context, name = self._init(ctx.spark, platform_args)
            ctx.extras["glue_context"] = glue_context
            ctx.extras["glue_job"] = job
            yield
            try:
                job.commit()
            except Exception as exc:
                raise SparkJobsError(
                    f"AWS Glue job.commit() failed for {name!r}: {exc}. The job's output is written; "
                    "the bookmark did not advance, so the next run reads the same input again"
                ) from exc
            log.info("AWS Glue job %s committed (run %s)", name, ctx.run_id)
        finally:
            ctx.session.close()

    def _init(self, spark: Any, platform_args: Mapping[str, str | None]) -> tuple[Any, Any, str]:
        utils = importlib.import_module("awsglue.utils")
        context_module = importlib.import_module("awsglue.context")
        job_module = importlib.import_module("awsglue.job")
        # Glue's own arguments only: its argparse parser would take an abbreviation such as --job
        # (a sparkjobs option) for --job-bookmark-option; the program name comes first, as in sys.argv
        argv = ["glue"]
        for key, value in platform_args.items():
            argv.extend([f"--{key}"] if value is None else [f"--{key}", value])
        resolved = utils.getResolvedOptions(argv, ["JOB_NAME"])
        name = str(resolved["JOB_NAME"])
        try:
            glue_context = context_module.GlueContext(spark.sparkContext)
            job = job_module.Job(glue_context)
            job.init(name, resolved)
        except Exception as exc:
            raise SparkJobsError(f"AWS Glue job.init() failed for {name!r}: {exc}") from exc
        log.info(
            "AWS Glue job %s initialised (job_bookmark_option=%s)", name, resolved.get("job_bookmark_option")
        )
        return job, glue_context, name
