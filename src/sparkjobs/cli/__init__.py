"""``sparkjobs`` command line: the top layer, the only package that wires every other one together.

One module per command group: :mod:`~sparkjobs.cli.jobs` (run, list, describe, config),
:mod:`~sparkjobs.cli.pipeline` (``pipeline ...``), :mod:`~sparkjobs.cli.schedule`,
:mod:`~sparkjobs.cli.serve` (``serve``), :mod:`~sparkjobs.cli.targets` (``render``). Shared
options are in :mod:`~sparkjobs.cli.options`, everything printed in :mod:`~sparkjobs.cli.render`,
and errors become exit codes in :mod:`~sparkjobs.cli.errors`.
"""

from __future__ import annotations

import click

from sparkjobs.cli.group import SparkJobsGroup
from sparkjobs.cli.jobs import config_group, describe_command, list_command, run_command

__all__ = ["cli", "main"]


@click.group(cls=SparkJobsGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="sparkjobs")
def cli() -> None:
    """sparkjobs — one entry point and one contract for PySpark batch jobs."""


for _command in (run_command, list_command, describe_command, config_group):
    cli.add_command(_command)


def main(argv: list[str] | None = None) -> None:
    cli.main(args=argv, prog_name="sparkjobs")
