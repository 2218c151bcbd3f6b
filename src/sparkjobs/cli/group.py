"""The top ``sparkjobs`` group: lazy subcommands, and the one place framework errors become exits.

Lazy: ``sparkjobs --help`` and ``sparkjobs list`` never import pyspark; heavy subcommands
(pipeline, schedule, serve) are imported only when invoked (kedro ``lazy_group.py``).
"""

from __future__ import annotations

import importlib
from typing import Any

import click

from sparkjobs.cli.errors import CliError
from sparkjobs.errors import SparkJobsError

#: name → ("module:attribute", short help shown without importing the module)
LAZY_SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "init": ("sparkjobs.cli.init:init_command", "Create a new project (conf, a job, its test, a pipeline)."),
    "pipeline": ("sparkjobs.cli.pipeline:pipeline_group", "Run, resume, backfill and inspect pipelines."),
    "render": (
        "sparkjobs.cli.targets:render_command",
        "Print a run as a platform's arguments (argv, Glue, Databricks); write scripts/.",
    ),
    "schedule": ("sparkjobs.cli.schedule:schedule_command", "Run a pipeline on its cron schedule."),
    "serve": ("sparkjobs.cli.serve:serve_command", "Serve a registered HTTP service (e.g. recommendations)."),
}


class SparkJobsGroup(click.Group):
    """Imports heavy subcommands on first use; turns a :class:`SparkJobsError` into a :class:`CliError`."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *LAZY_SUBCOMMANDS])

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in LAZY_SUBCOMMANDS:
            module_name, attr = LAZY_SUBCOMMANDS[cmd_name][0].split(":")
            command: click.Command = getattr(importlib.import_module(module_name), attr)
            return command
        return super().get_command(ctx, cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows: list[tuple[str, str]] = []
        for name in self.list_commands(ctx):
            if name in LAZY_SUBCOMMANDS:
                rows.append((name, LAZY_SUBCOMMANDS[name][1]))
            else:
                cmd = super().get_command(ctx, name)
                if cmd is not None and not cmd.hidden:
                    rows.append((name, cmd.get_short_help_str(limit=70)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except SparkJobsError as exc:
            raise CliError.of(exc) from exc
