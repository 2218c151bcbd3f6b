"""Databricks entry point: ``python_wheel_task`` (wheel entry point) or ``spark_python_task`` (this file).

Databricks hands parameters over as argv. ``named_parameters`` arrive as ``--key=value``;
``parameters`` arrive as given, so both of these work::

    "python_wheel_task": {"package_name": "sparkjobs", "entry_point": "sparkjobs-databricks",
        "named_parameters": {"module_name": "myproject.jobs.daily", "has_spark": "true",
                             "daily_job": "{\\"output_path\\": \\"dbfs:/lake/daily\\"}"}}

    "spark_python_task": {"python_file": ".../sparkjobs/entrypoints/databricks.py",
        "parameters": ["myproject.jobs.daily", "{\\"output_path\\": \\"dbfs:/lake/daily\\"}", "rows=1000"]}

The job runs in the cluster's own SparkSession (the session factory reuses the active one and never
sets a master there), which the entry point never stops; service_provider is ``databricks``.
"""

from __future__ import annotations

import sys

#: what to do when the script runs where sparkjobs is not installed (also in `sparkjobs render --scripts`)
INSTALL_HINT = "add the sparkjobs wheel to the task's libraries"

try:
    from sparkjobs.entrypoints.arguments import Platform
    from sparkjobs.entrypoints.launcher import EntryPoint
except ImportError as exc:  # run as a file on a cluster without the package
    if __name__ != "__main__":
        raise
    sys.exit(f"error: cannot import sparkjobs ({exc}); {INSTALL_HINT}")

PLATFORM = Platform(
    name="databricks",
    default_provider="databricks",
    providers=frozenset({"databricks"}),
    command="sparkjobs-databricks",
    keeps_session=True,  # stopping the cluster's SparkContext would break the tasks that follow
)


ENTRY_POINT = EntryPoint(PLATFORM)
main = ENTRY_POINT.main
run = ENTRY_POINT.run

if __name__ == "__main__":
    ENTRY_POINT.script(__file__)
