"""Local / container entry point (the seeds' ``scripts/container/generic_entry.py``).

    python -m sparkjobs.entrypoints.container --module_name sparkjobs.examples.hello_spark \\
        --hello_spark_job '{"rows": 1000}' --has_spark true

Spark runs in local mode (``local[*]`` unless ``spark.master`` is configured); service_provider is
``container`` (or ``local`` with ``--service_provider local``).
"""

from __future__ import annotations

from collections.abc import Sequence

from sparkjobs.entrypoints.arguments import Platform
from sparkjobs.entrypoints.runner import run_entrypoint, script_main

PLATFORM = Platform(
    name="container",
    default_provider="container",
    providers=frozenset({"container", "local"}),
    command="python -m sparkjobs.entrypoints.container",
)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one job; returns the exit code (0 success, 1 job failed, 2 usage/config error)."""
    return run_entrypoint(argv, PLATFORM)


def run(argv: Sequence[str] | None = None) -> None:
    """Console script ``sparkjobs-container``: exits non-zero only on failure."""
    code = main(argv)
    if code:
        raise SystemExit(code)


if __name__ == "__main__":
    script_main(main, __file__)
