"""Test helpers for sparkjobs projects: one quiet Spark session and ``run_job`` through the real executor.

The pytest plugin (:mod:`sparkjobs.testing.plugin`, registered through the ``pytest11`` entry
point, so installing sparkjobs is enough) provides the session-scoped ``spark`` fixture. In a test::

    from pyspark.testing import assertDataFrameEqual
    from sparkjobs.testing import run_job

    def test_clean_orders(spark, tmp_path):
        run = run_job("daily_revenue", {"orders_path": str(orders), "output_path": str(out)},
                      event_date="2024-01-31", tmp_path=tmp_path)
        assert run.result == {"countries": 2}
        assert run.report["status"] == "succeeded"
        assertDataFrameEqual(spark.read.parquet(str(out)), expected)

``run_job`` goes through :func:`sparkjobs.executor.prepare` / :func:`~sparkjobs.executor.execute`
exactly as ``sparkjobs run`` does (registry, layered ``conf/``, validation, context, observer,
run report), with the test's own settings on top: run reports and metrics textfiles go under
``tmp_path/runs``, the ledger under ``tmp_path/state``, shuffle partitions are 2, no environment
variable is read unless passed in ``environ``, and the job reuses the test session instead of
starting a JVM of its own. Nothing here imports pyspark at import time.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from sparkjobs.errors import JobFailedError
from sparkjobs.executor import RunRequest, execute, prepare
from sparkjobs.spark.settings import SparkSettings

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

__all__ = ["JobRun", "run_job", "spark_session", "spark_settings_for_tests"]

#: what the ``source`` column of ``config show`` and validation errors name for ``run_job(params=...)``
PARAMS_SOURCE = "run_job(params=...)"


def spark_settings_for_tests(**overrides: Any) -> SparkSettings:
    """Small and quiet: ``local[2]``, 2 shuffle partitions, no UI, no console progress bar, UTC."""
    conf = {
        "spark.default.parallelism": "2",
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.adaptive.coalescePartitions.enabled": "false",
    }
    conf.update(overrides.pop("conf", {}))
    values: dict[str, Any] = {
        "app_name": "sparkjobs-tests",
        "master": "local[2]",
        "shuffle_partitions": 2,
        "ui_enabled": False,
        "conf": conf,
    }
    values.update(overrides)
    return SparkSettings(**values)


def spark_session(settings: SparkSettings | None = None) -> SparkSession:
    """The test session: the active one when a session already runs (its SQL options reset to the
    test settings), else a new one. It is built by the same session factory jobs use."""
    from sparkjobs.spark.session import build_session

    session, _created = build_session(settings or spark_settings_for_tests())
    return session


@dataclass(frozen=True)
class JobRun:
    """One job run by :func:`run_job`: its return value, its JSON run report and where things went."""

    job: str
    run_id: str
    result: Any
    #: the JSON run report as written to ``report_path`` (status, params, phases, metrics, error)
    report: dict[str, Any]
    report_path: Path
    runs_dir: Path
    #: the failure when ``run_job(check=False)`` ran a job that failed
    error: JobFailedError | None = None

    @property
    def succeeded(self) -> bool:
        return self.error is None


def _test_config_file(tmp_path: Path) -> tuple[Path, Path]:
    """A ``--config`` layer that keeps every run artefact under ``tmp_path``."""
    runs_dir = tmp_path / "runs"
    state = tmp_path / "state"
    state.mkdir(parents=True, exist_ok=True)
    tree = {
        "observability": {"runs_dir": str(runs_dir), "textfile_dir": str(runs_dir), "write_report": True},
        "state": {"url": f"sqlite:///{state / 'pipeline.db'}"},
    }
    path = tmp_path / "sparkjobs-test.yml"
    path.write_text(yaml.safe_dump(tree, sort_keys=False), encoding="utf-8")
    return path, runs_dir


def run_job(
    name: str,
    params: Mapping[str, Any] | None = None,
    *,
    tmp_path: Path,
    event_date: str | date | None = None,
    env: str = "dev",
    conf_dir: Path | str | None = None,
    project_dir: Path | str | None = None,
    has_spark: bool = True,
    partitions: int = 2,
    environ: Mapping[str, str] | None = None,
    check: bool = True,
    engine: str | None = None,
) -> JobRun:
    """Run the job ``name`` (registered short name or dotted module path) in this process.

    ``params`` are job parameters as Python values (nested mappings allowed); they are the top
    layer, above ``conf/base`` and ``conf/<env>`` of ``conf_dir`` (default: the project's ``conf/``,
    found upward from the current directory; ``project_dir`` sets the project root, against which
    relative paths resolve). A failing job raises :class:`~sparkjobs.errors.JobFailedError`
    (its report is written first); with ``check=False`` the failure is returned in ``JobRun.error``.
    Bad parameters or config raise :class:`~sparkjobs.errors.ConfigError` before anything runs.
    ``engine`` (``spark``, ``duckdb``, ``auto``; default: the configuration's ``engine.use``) is
    ``--engine``; only a run on Spark shares the test SparkSession (a DuckDB run starts no JVM).
    """
    config_file, runs_dir = _test_config_file(Path(tmp_path))
    request = RunRequest(
        job=name,
        env=env,
        conf_dir=Path(conf_dir) if conf_dir is not None else None,
        project_dir=Path(project_dir) if project_dir is not None else None,
        config_files=[config_file],
        partitions=partitions,
        has_spark=has_spark,
        event_date=event_date,
        extra_params=dict(params or {}),
        extra_sources=dict.fromkeys(params or {}, PARAMS_SOURCE),
        engine=engine,
    )
    prepared = prepare(request, dict(environ or {}))
    on_spark = has_spark and prepared.context.engine == "spark"
    if on_spark:  # the job reuses (and never stops) the test session instead of starting a JVM
        spark_session()
    error: JobFailedError | None = None
    result: Any = None
    try:
        result = execute(prepared)
    except JobFailedError as exc:
        if check:
            raise
        error = exc
    finally:
        if on_spark:  # the job applied its own spark.sql.* settings to the shared session
            spark_session()
    artifacts = prepared.context.observer.artifacts
    if artifacts.report is None:
        raise RuntimeError(f"the run report was not written under {runs_dir}: {'; '.join(artifacts.errors)}")
    report_path = Path(artifacts.report)
    report = json.loads(report_path.read_text(encoding="utf-8"))
    return JobRun(prepared.spec.name, prepared.context.run_id, result, report, report_path, runs_dir, error)
