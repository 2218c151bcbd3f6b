"""Local / container entry point (the seeds' ``scripts/container/generic_entry.py``).

    python -m sparkjobs.entrypoints.container --module_name sparkjobs.examples.hello_spark \\
        --hello_spark_job '{"rows": 1000}' --has_spark true

Spark runs in local mode (``local[*]`` unless ``spark.master`` is configured); service_provider is
``container`` (or ``local`` with ``--service_provider local``).
"""

from __future__ import annotations

import sys

#: what to do when the script runs where sparkjobs is not installed (also in `sparkjobs render --scripts`)
INSTALL_HINT = "install sparkjobs (or the project's wheel, which depends on it) into the image's Python"

try:
    from sparkjobs.entrypoints.arguments import Platform
    from sparkjobs.entrypoints.launcher import EntryPoint
except ImportError as exc:  # run as a file in an image without the package
    if __name__ != "__main__":
        raise
    sys.exit(f"error: cannot import sparkjobs ({exc}); {INSTALL_HINT}")

PLATFORM = Platform(
    name="container",
    default_provider="container",
    providers=frozenset({"container", "local"}),
    command="python -m sparkjobs.entrypoints.container",
)


ENTRY_POINT = EntryPoint(PLATFORM)
main = ENTRY_POINT.main
run = ENTRY_POINT.run

if __name__ == "__main__":
    ENTRY_POINT.script(__file__)
