"""Launching a job from a platform's argv, the same path as ``sparkjobs run``: one copy for every platform.

``RunRequest`` → :func:`sparkjobs.executor.prepare` → :func:`sparkjobs.executor.execute`, with the
CLI's exit codes: 0 success, 1 the job failed, 2 usage or configuration error. On success one
JSON line goes to stdout (job, run_id, service_provider, status, duration_s, result); errors go to
stderr as ``error: ...``, redacted (:mod:`sparkjobs.observability.failures`).

Each platform module holds only its :class:`~sparkjobs.entrypoints.arguments.Platform` and binds
an :class:`EntryPoint`: ``main`` (returns the exit code), ``run`` (the console script: raises
``SystemExit`` only on failure, as Databricks' ``python_wheel_task`` needs) and ``script`` (the
module run as a file by spark-submit, Glue or ``spark_python_task``).
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NoReturn, TextIO

from sparkjobs.entrypoints.arguments import ParsedArgs, Platform, json_flag_names_job, parse_args
from sparkjobs.errors import SparkJobsError, UsageError
from sparkjobs.executor import PreparedRun, execute, prepare
from sparkjobs.observability.failures import exit_code_of, failure_text
from sparkjobs.observability.logging import configure_logging
from sparkjobs.spark.settings import PLATFORM_PROVIDERS

log = logging.getLogger("sparkjobs.entrypoints")


def _framework_location() -> str:
    import sparkjobs

    return str(Path(sparkjobs.__file__).parent)


def _leave_master_to_platform(prepared: PreparedRun, platform: Platform) -> None:
    """On a cluster provider the platform owns the master URL: never set one from configuration."""
    ctx = prepared.context
    spark = ctx.settings.spark
    if ctx.service_provider in PLATFORM_PROVIDERS and spark.master:
        source = prepared.layered.source_of(("spark", "master"))
        log.warning(
            "ignoring spark.master=%r (from %s): on %s the platform sets the master",
            spark.master,
            source,
            ctx.service_provider,
        )
        spark.master = None


def usage(platform: Platform) -> str:
    return f"""usage: {platform.command} --module_name MODULE|--job NAME [options] [--KEY VALUE ...]

Runs a sparkjobs job on {platform.name} (service_provider={platform.default_provider}).

  --module_name, --job NAME    registered job name or dotted module path (or the first positional)
  --<name>_job JSON            the whole job config as a JSON object (also --job_config, --json,
                               or a positional JSON object)
  --param KEY.PATH=VALUE       one job parameter (repeatable); any other --KEY VALUE or positional
                               KEY=VALUE is a job parameter too, typed by the job's config model
  --has_spark true|false       whether the run may use Spark (default true; --no_spark = false)
  --service_provider NAME      one of: {", ".join(sorted(platform.providers))}
  --env NAME  --conf_dir DIR  --project_dir DIR  --config FILE[,FILE]  --event_date YYYY-MM-DD  --run_id ID
  --partitions N  --salt N  --engine spark|duckdb|auto  --dry_run  --log_format auto|json|console

Exit codes: 0 success, 1 the job failed, 2 usage or configuration error.
"""


def run_entrypoint(
    argv: Sequence[str] | None,
    platform: Platform,
    *,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    """Parse ``argv`` in ``platform``'s style, run the job, return the exit code."""
    out = stdout or sys.stdout
    err = stderr or sys.stderr
    args = list(sys.argv[1:] if argv is None else argv)

    def fail(exc: SparkJobsError) -> int:
        err.write(failure_text(exc) + "\n")
        err.flush()
        return exit_code_of(exc)

    try:
        parsed = parse_args(args, platform)
    except SparkJobsError as exc:
        return fail(exc)
    if parsed.help:
        out.write(usage(platform))
        return 0
    try:
        platform.lifecycle.check(parsed.platform_args, parsed.request.has_spark)
        prepared = prepare(parsed.request)
        _check_json_flag(parsed, prepared)
    except SparkJobsError as exc:
        return fail(exc)

    ctx = prepared.context
    observability = ctx.settings.observability
    configure_logging(parsed.log_format or observability.log_format, observability.log_level, stream=err)
    _leave_master_to_platform(prepared, platform)
    if platform.keeps_session:
        prepared.shares_session = True  # execute() then leaves the session open
    log.info(
        "%s entry point: job %s run_id=%s service_provider=%s has_spark=%s (sparkjobs from %s)",
        platform.name,
        prepared.spec.name,
        ctx.run_id,
        ctx.service_provider,
        ctx.has_spark,
        _framework_location(),
    )
    if parsed.platform_args:
        log.debug("%s arguments not used by sparkjobs: %s", platform.name, sorted(parsed.platform_args))
    if parsed.request.dry_run:
        out.write(json.dumps(prepared.plan(), indent=2, default=str) + "\n")
        return 0

    started = time.perf_counter()
    try:
        with platform.lifecycle.around(prepared, parsed.platform_args):
            result = execute(prepared)
    except SparkJobsError as exc:
        return fail(exc)
    line = {
        "job": prepared.spec.name,
        "run_id": ctx.run_id,
        "service_provider": ctx.service_provider,
        "status": "success",
        "duration_s": round(time.perf_counter() - started, 3),
        "result": result,
    }
    out.write(json.dumps(line, default=str) + "\n")
    out.flush()
    return 0


def _check_json_flag(parsed: ParsedArgs, prepared: PreparedRun) -> None:
    flag = parsed.json_flag
    spec = prepared.spec
    if flag and not json_flag_names_job(flag, [spec.name, spec.config_name, spec.module_name]):
        raise UsageError(
            f"{flag} does not name job {spec.name!r} (module {spec.module_name}): pass its config as "
            f"--{spec.config_name}_job '{{...}}' or --job_config '{{...}}'"
        )


def script_main(main: Callable[[Sequence[str] | None], int], script: str) -> NoReturn:
    """Run an entry point module executed as a file (spark-submit main file, Glue script, spark_python_task).

    Python puts the script's folder first on ``sys.path``; here that folder holds ``databricks.py``
    and ``glue.py``, which would shadow real packages of those names (``databricks.sdk``) for the
    job. Drop it before anything imports the job.
    """
    folder = os.path.dirname(os.path.abspath(script))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != folder]
    raise SystemExit(main(None))


class EntryPoint:
    """The ``main``/``run``/``script`` trio of one platform's entry point module."""

    def __init__(self, platform: Platform) -> None:
        self.platform = platform

    def main(self, argv: Sequence[str] | None = None) -> int:
        """Run one job; returns the exit code (0 success, 1 job failed, 2 usage/config error)."""
        return run_entrypoint(argv, self.platform)

    def run(self, argv: Sequence[str] | None = None) -> None:
        """Console script / ``python_wheel_task`` entry point. Databricks ignores a return value, so a
        failure raises ``SystemExit`` with the exit code, and success returns normally (never
        ``sys.exit(0)``)."""
        code = self.main(argv)
        if code:
            raise SystemExit(code)

    def script(self, file: str) -> NoReturn:
        """The module executed as a file (``if __name__ == "__main__"``)."""
        script_main(self.main, file)
