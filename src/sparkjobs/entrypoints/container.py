"""Local / container entry point (the seeds' ``scripts/container/generic_entry.py``).

    python -m sparkjobs.entrypoints.container --module_name sparkjobs.examples.hello_spark \\
        --hello_spark_job '{"rows": 1000}' --has_spark true

Spark runs in local mode (``local[*]`` unless ``spark.master`` is configured); service_provider is
``container`` (or ``local`` with ``--service_provider local``).
"""

from __future__ import annotations

from sparkjobs.entrypoints.arguments import Platform
from sparkjobs.entrypoints.launcher import EntryPoint

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
