"""Click options and argument parsing the commands share: one definition, so flags and help never drift.

``--env``/``--conf-dir``/``--config`` for every command that reads the layered configuration,
the job-config options of ``run`` and ``config show``, ``--log-format``, ``--service-provider``,
and the logical dates of ``pipeline run`` (``--date``, ``--from``/``--to``).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import click

from sparkjobs.errors import UsageError

#: a backfill longer than this is almost always a typo in --from/--to
MAX_BACKFILL_DAYS = 3660


def workspace_options(func: Any) -> Any:
    """``--env``, ``--project-dir``, ``--conf-dir`` and ``--config`` (repeatable)."""
    func = click.option(
        "--env",
        "env",
        default=None,
        help="environment: conf/<env>/ is layered on conf/base/ (default $SPARKJOBS_ENV, else dev)",
    )(func)
    func = click.option(
        "--project-dir",
        type=click.Path(path_type=Path),
        default=None,
        help="project root: relative paths (runs, ledger, data) start here (default $SPARKJOBS_PROJECT_DIR, "
        "else the folder holding --conf-dir, else the nearest folder above the cwd that holds conf/)",
    )(func)
    func = click.option(
        "--conf-dir",
        type=click.Path(path_type=Path),
        default=None,
        help="configuration root (default $SPARKJOBS_CONF_DIR, else <project root>/conf)",
    )(func)
    func = click.option(
        "--config",
        "config_files",
        multiple=True,
        type=click.Path(path_type=Path),
        help="extra config file (YAML/JSON/TOML, same shape as conf/ files); repeatable, later wins",
    )(func)
    return func


def config_options(func: Any) -> Any:
    """The workspace options plus a job's ``--param`` and ``--json``."""
    func = workspace_options(func)
    func = click.option(
        "--param",
        "-p",
        "params",
        multiple=True,
        metavar="KEY.PATH=VALUE",
        help="set one job parameter, typed by the job's model (the value may hold '=' and ':'; "
        "lists as [a, b]); repeatable",
    )(func)
    func = click.option(
        "--json", "json_config", default=None, metavar="JSON", help="the whole job config as JSON"
    )(func)
    return func


def run_options(func: Any) -> Any:
    """What one run is, besides its config: ``--partitions``, ``--salt``, ``--has-spark``, ``--event-date``,
    ``--dry-run`` and ``--run-id`` (``sparkjobs run`` and ``sparkjobs render``)."""
    options = (  # shown in this order in --help
        click.option(
            "--partitions", type=int, default=None, help="spark.sql.shuffle.partitions for this run"
        ),
        click.option("--salt", type=int, default=None, help="salt bucket count for salted joins"),
        click.option(
            "--has-spark/--no-spark", "has_spark", default=True, help="whether the run may use Spark"
        ),
        click.option(
            "--event-date", default=None, metavar="YYYY-MM-DD", help="logical date (default: yesterday, UTC)"
        ),
        click.option("--dry-run", is_flag=True, help="validate and print the resolved plan; touch nothing"),
        click.option("--run-id", default=None, help="use this run id instead of a generated one"),
    )
    for option in reversed(options):
        func = option(func)
    return func


def service_provider_option(func: Any) -> Any:
    return click.option(
        "--service-provider", default="local", help="where this runs: local, container, emr, ..."
    )(func)


def engine_option(func: Any) -> Any:
    return click.option(
        "--engine",
        type=click.Choice(["spark", "duckdb", "auto"]),
        default=None,
        help="spark, duckdb (in-process, no Java) or auto: the cheapest engine providing what the job "
        "requires, by input size (default: engine.use from the configuration, itself auto)",
    )(func)


def log_format_option(func: Any) -> Any:
    return click.option(
        "--log-format",
        type=click.Choice(["auto", "json", "console"]),
        default=None,
        help="log line format (default: observability.log_format; auto = JSON off a terminal)",
    )(func)


def format_option(func: Any) -> Any:
    return click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")(func)


def parse_date(value: str, option: str) -> date:
    """``YYYY-MM-DD``, ``yesterday`` or ``today`` (UTC)."""
    text = value.strip().lower()
    if text == "yesterday":
        from sparkjobs.context import yesterday_utc

        return yesterday_utc()
    if text == "today":
        return datetime.now(UTC).date()
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise UsageError(f"bad {option} {value!r}: expected YYYY-MM-DD, 'yesterday' or 'today'") from None


def logical_dates(date_: str | None, from_: str | None, to: str | None) -> list[date] | None:
    """The dates ``--date`` or ``--from``/``--to`` name; None when neither is given."""
    if date_ and (from_ or to):
        raise UsageError("use either --date or --from/--to, not both")
    if bool(from_) != bool(to):
        raise UsageError("--from and --to go together (a backfill needs both ends)")
    if from_ and to:
        start, end = parse_date(from_, "--from"), parse_date(to, "--to")
        if start > end:
            raise UsageError(f"--from {start} is after --to {end}")
        days = (end - start).days + 1
        if days > MAX_BACKFILL_DAYS:
            raise UsageError(
                f"--from/--to spans {days} days (more than {MAX_BACKFILL_DAYS}); split the backfill"
            )
        return [start + timedelta(days=i) for i in range(days)]
    if date_:
        return [parse_date(date_, "--date")]
    return None
