"""AWS Glue entry point: use this file as the Glue job script (or call the ``sparkjobs-glue`` script).

Glue passes the job's arguments as ``--key value`` pairs (what ``awsglue.utils.getResolvedOptions``
reads) plus arguments of its own (``--JOB_NAME``, ``--JOB_ID``, ``--JOB_RUN_ID``, ``--TempDir``,
``--job-bookmark-option``, ``--enable-*`` ...). This module parses that style itself — it does not
need ``awsglue`` — tolerates Glue's own arguments, and takes ``--JOB_RUN_ID`` as the run id unless
``--run_id`` is given. Every other ``--key value`` is a job parameter validated by the job's model::

    DefaultArguments:
      --additional-python-modules: s3://bucket/wheels/sparkjobs-0.1.0-py3-none-any.whl
      --module_name: myproject.jobs.daily
      --daily_job: '{"output_path": "s3://lake/daily"}'
      --has_spark: "true"
      --env: prod

The job runs in Glue's SparkSession (reused, never given a master); service_provider is ``glue``.
Where ``awsglue`` is importable, the run is wrapped in Glue's ``Job.init``/``Job.commit`` so that
``--job-bookmark-option job-bookmark-enable`` works; elsewhere that option is refused
(:mod:`sparkjobs.entrypoints.glue_job`).
"""

from __future__ import annotations

import sys

#: what to do when the script runs where sparkjobs is not installed (also in `sparkjobs render --scripts`)
INSTALL_HINT = (
    "add the sparkjobs wheel with --additional-python-modules s3://.../sparkjobs-<version>-py3-none-any.whl"
)

try:
    from sparkjobs.entrypoints.arguments import Platform
    from sparkjobs.entrypoints.glue_job import GlueJobLifecycle
    from sparkjobs.entrypoints.launcher import EntryPoint
except ImportError as exc:  # run as a Glue script without the package
    if __name__ != "__main__":
        raise
    sys.exit(f"error: cannot import sparkjobs ({exc}); {INSTALL_HINT}")

#: arguments AWS Glue itself passes or reads (tolerated, never job parameters)
GLUE_ARGUMENTS = frozenset(
    {
        "JOB_NAME",
        "JOB_ID",
        "JOB_RUN_ID",
        "SECURITY_CONFIGURATION",
        "WORKFLOW_NAME",
        "WORKFLOW_RUN_ID",
        "TempDir",
        "RedshiftTempDir",
        "job-bookmark-option",
        "job-bookmark-from",
        "job-bookmark-to",
        "continuation-option",
        "encryption-type",
        "job-language",
        "scriptLocation",
        "class",
        "conf",
        "extra-py-files",
        "extra-jars",
        "extra-files",
        "additional-python-modules",
        "python-modules-installer-option",
        "datalake-formats",
        "user-jars-first",
        "spark-event-logs-path",
        "executor-cores",
        "disable-proxy-v2",
        "customer-driver-env-vars",
        "customer-executor-env-vars",
        "auto-scale-within-microbatch",
        "use-postgres-driver",
        "write-shuffle-files-to-s3",
        "write-shuffle-spills-to-s3",
        "shuffle-storage-path",
        "pip-install",
    }
)
#: Glue keeps adding switches under these prefixes (--enable-metrics, --continuous-log-logGroup ...)
GLUE_PREFIXES = ("enable-", "continuous-log-")


def is_glue_argument(key: str) -> bool:
    return key in GLUE_ARGUMENTS or key.startswith(GLUE_PREFIXES)


PLATFORM = Platform(
    name="glue",
    default_provider="glue",
    providers=frozenset({"glue"}),
    command="sparkjobs-glue",
    is_own_argument=is_glue_argument,
    run_id_argument="JOB_RUN_ID",
    lifecycle=GlueJobLifecycle(),
)


ENTRY_POINT = EntryPoint(PLATFORM)
main = ENTRY_POINT.main
run = ENTRY_POINT.run

if __name__ == "__main__":
    ENTRY_POINT.script(__file__)
