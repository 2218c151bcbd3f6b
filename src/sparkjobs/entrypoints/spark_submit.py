"""spark-submit entry point: Spark standalone, YARN (EMR), Kubernetes — any cluster spark-submit reaches.

Use this file as spark-submit's main file; the application arguments are the seeds' style::

    spark-submit --master spark://host:7077 --py-files sparkjobs.zip \\
        .../sparkjobs/entrypoints/spark_submit.py \\
        --job hello_spark --hello_spark_job '{"rows": 100000}' --has_spark true

spark-submit (``--master``, ``--deploy-mode``, ``--conf``) owns the master and the resources; this
entry point never sets a master, even when configuration has one. ``--service_provider`` may say
``emr``, ``yarn`` or ``kubernetes`` (default ``spark-submit``) so that jobs can tell where they run.
The package comes from the cluster's Python (pip-installed) or from ``--py-files`` (a zip made by
``python -m sparkjobs.entrypoints.pyfiles``).
"""

from __future__ import annotations

import sys

#: what to do when the script runs where sparkjobs is not installed (also in `sparkjobs render --scripts`)
INSTALL_HINT = (
    "ship it with `spark-submit --py-files sparkjobs.zip ...` (build the zip with "
    "`python -m sparkjobs.entrypoints.pyfiles sparkjobs.zip`) or install it into the cluster's Python "
    "(PYSPARK_PYTHON)"
)

try:
    from sparkjobs.entrypoints.arguments import Platform
    from sparkjobs.entrypoints.launcher import EntryPoint
except ImportError as exc:  # run as a file on a cluster whose Python lacks the package
    if __name__ != "__main__":
        raise
    sys.exit(f"error: cannot import sparkjobs ({exc}); {INSTALL_HINT}")

PLATFORM = Platform(
    name="spark-submit",
    default_provider="spark-submit",
    providers=frozenset({"spark-submit", "emr", "yarn", "kubernetes"}),
    command="spark-submit [spark options] .../sparkjobs/entrypoints/spark_submit.py",
)


ENTRY_POINT = EntryPoint(PLATFORM)
main = ENTRY_POINT.main

if __name__ == "__main__":
    ENTRY_POINT.script(__file__)
