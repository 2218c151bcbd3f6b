"""``sparkjobs init [DIR]``: scaffold a project (see :mod:`sparkjobs.scaffold`)."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("init")
@click.argument("directory", type=click.Path(path_type=Path), default=Path("."), required=False)
@click.option("--name", default=None, help="distribution name (default: the directory's name)")
def init_command(directory: Path, name: str | None) -> None:
    """Create a new project in DIRECTORY (new or empty; default: here)."""
    from sparkjobs.scaffold import create_project

    written = create_project(directory, name)
    root = directory.resolve()
    for path in written:
        click.echo(f"  created {path.resolve().relative_to(root)}")
    where = "" if directory == Path(".") else f"cd {directory} && "
    click.echo(
        f"\nproject ready in {root}. Next:\n"
        f"  {where}pip install -e '.[dev]'\n"
        "  pytest                                             # the example job's tests\n"
        "  sparkjobs run clean_orders --event-date 2024-01-31  # on data/sample/orders.csv"
    )
