"""The end-to-end demo behind ``make run``: sample data → ingest → build → load → recommendations.

    python -m recommendations.demo                    # env "demo", logical date 2016-10-16
    python -m recommendations.demo --users 4 --users 42

1. Writes the MovieLens sample under ``data/raw`` unless it is already there (with 1% of the
   events re-sent a day later and 10 malformed lines, so that deduplication and the quarantine
   have something to do).
2. Runs ``ingest_events`` (``initial_load``), ``build_recommendations`` and
   ``load_recommendations`` in this one process through :mod:`sparkjobs.executor`, exactly as
   ``sparkjobs run`` would, sharing one SparkSession (``RunRequest.session``).
3. Prints rows and seconds per step, the served snapshot, and the top 5 recommendations with
   titles for two users, read back from the serving store (SQLite by default).

The logical date is 2016-10-16, the last day with MovieLens ratings; the demo environment
(conf/demo/) widens the recommendation window to the whole history. Rerunning the demo replaces
the same snapshot (every step is idempotent per date).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import click

from recommendations.sample_data import ensure_sample
from sparkjobs.engines.session import SessionProvider
from sparkjobs.errors import SparkJobsError
from sparkjobs.executor import RunRequest, execute, load_config, prepare, resolve_settings

DEMO_DATE = date(2016, 10, 16)
DEMO_USERS = (15, 547)
STEPS = ("ingest_events", "build_recommendations", "load_recommendations")


@dataclass
class StepOutcome:
    job: str
    seconds: float
    result: dict[str, Any] = field(default_factory=dict)

    def rows(self) -> str:
        r = self.result
        if self.job == "ingest_events":
            return (
                f"{r['rows_read']:,} raw rows from {r['deliveries']:,} deliveries → "
                f"{r['rows_quarantined']:,} quarantined, {r['duplicates_dropped']:,} duplicates dropped, "
                f"{r['rows_written']:,} to bronze"
            )
        if self.job == "build_recommendations":
            rows = r["rows"]
            return (
                f"{r['silver_interactions']:,} silver interactions → {rows['recommendations']:,} "
                f"recommendations for {r['users']:,} users ({r['users_with_model']:,} {r['model']}), "
                f"{rows['similar_items']:,} similar, {rows['popular_items']:,} popular, "
                f"{rows['items']:,} items"
            )
        counts = r.get("row_counts") or {}
        return f"{r.get('status', '?')} into {r.get('store', '?')}: " + ", ".join(
            f"{k} {v:,}" for k, v in counts.items()
        )


def run_demo(
    *,
    env: str = "demo",
    conf_dir: Path = Path("conf"),
    event_date: date = DEMO_DATE,
    users: Sequence[int] = DEMO_USERS,
    engine: str | None = None,
    echo: Any = click.echo,
) -> list[StepOutcome]:
    """Run the three steps in one process; print the summary and two users' recommendations.

    ``engine``: spark, duckdb or auto (default: the configuration's ``engine.use``; conf/demo says
    which). The output names the engine each step ran on.
    """
    started = time.perf_counter()
    first = RunRequest(job=STEPS[0], env=env, conf_dir=conf_dir, engine=engine)
    _, layered = load_config(first)
    settings = resolve_settings(layered, first)
    ingest_config = layered.tree.get("jobs", {}).get("ingest_events", {})
    raw_root = Path(str(ingest_config.get("raw_path", "data/raw/events"))).parent

    t0 = time.perf_counter()
    manifest, written = ensure_sample(raw_root, resend_fraction=0.01, malformed=10)
    echo(
        f"sample data: {'wrote' if written else 'found'} {manifest['events']:,} MovieLens ratings in "
        f"{manifest['deliveries']:,} daily deliveries under {raw_root} "
        f"(+{manifest['resent']:,} re-sent, +{manifest['malformed']:,} malformed) "
        f"[{time.perf_counter() - t0:.1f}s]"
    )

    provider = SessionProvider(settings.spark, app_suffix="demo", duckdb=settings.engine.duckdb)
    outcomes: list[StepOutcome] = []
    try:
        for job in STEPS:
            params = ["mode=initial_load"] if job == "ingest_events" else []
            request = RunRequest(
                job=job,
                env=env,
                conf_dir=conf_dir,
                event_date=event_date,
                params=params,
                session=provider,
                engine=engine,
            )
            prepared = prepare(request)
            ctx = prepared.context
            if prepared.spec.metadata.requires and not provider.started_engine(ctx.engine):
                t0 = time.perf_counter()
                provider.get(ctx.engine)
                where = (
                    "Spark local session" if ctx.engine == "spark" else "DuckDB in-process session (no JVM)"
                )
                ready = time.perf_counter() - t0
                echo(f"engine {ctx.engine}: {where} ready [{ready:.1f}s] ({ctx.engine_reason})")
            t0 = time.perf_counter()
            result = execute(prepared)
            outcomes.append(StepOutcome(job, time.perf_counter() - t0, dict(result or {})))
            on = f"[{ctx.engine}]" if prepared.spec.metadata.requires else "[pyarrow]"
            echo(f"{job:<22} {outcomes[-1].seconds:6.1f}s {on:<9} {outcomes[-1].rows()}")
            if job == "load_recommendations":
                store_settings = prepared.config.store
    finally:
        provider.close()
    echo(f"total {time.perf_counter() - started:.1f}s; snapshot date {event_date.isoformat()}")

    from recommendations.store import RecommendationStore

    with RecommendationStore.open(store_settings) as store:
        served = store.served_snapshot()
        if served:
            echo(f"served snapshot: {served['snapshot_date']} (run {served.get('run_id')})")
        for user in users:
            echo(f"\ntop 5 for user {user}:")
            for rec in store.recommendations(user, 5):
                echo(f"  {rec['rank']}. {rec['title']}  (score {rec['score']:.3f}, {rec['source']})")
    return outcomes


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--env", default="demo", show_default=True, help="configuration environment (conf/<env>/)")
@click.option("--conf-dir", type=click.Path(path_type=Path), default=Path("conf"), show_default=True)
@click.option(
    "--event-date",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=DEMO_DATE.isoformat(),
    show_default=True,
    help="logical date (MovieLens ends on 2016-10-16)",
)
@click.option("--users", type=int, multiple=True, default=DEMO_USERS, show_default=True, help="users to show")
@click.option(
    "--engine",
    type=click.Choice(["spark", "duckdb", "auto"]),
    default=None,
    help="default: engine.use of the configuration (conf/demo: duckdb)",
)
def cli(env: str, conf_dir: Path, event_date: Any, users: tuple[int, ...], engine: str | None) -> None:
    """Sample data → ingest → build → load in one process, then two users' top 5."""
    try:
        run_demo(env=env, conf_dir=conf_dir, event_date=event_date.date(), users=users, engine=engine)
    except SparkJobsError as exc:
        click.echo(f"error: {exc}", err=True)
        raise SystemExit(exc.exit_code) from exc


def main(argv: Sequence[str] | None = None) -> None:
    cli.main(args=list(argv) if argv is not None else None, prog_name="python -m recommendations.demo")


if __name__ == "__main__":
    main()
