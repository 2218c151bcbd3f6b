"""``sparkjobs package`` (the cluster bundle, its spark-submit command) and ``sparkjobs doctor`` (preflight).

Both are lazy subcommands: ``package`` never starts a JVM; ``doctor`` starts one driver on the
given master and stops it again.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from sparkjobs.cli.options import workspace_options
from sparkjobs.config.workspace import resolve_project
from sparkjobs.deploy.package import DEFAULT_MASTER, EXECUTOR_PYTHON, PackageRequest, package, shell_command


def _size(path: Path) -> str:
    size = float(path.stat().st_size)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GB"


@click.command("package")
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=Path("dist"),
    show_default=True,
    help="folder the bundle is written to",
)
@click.option(
    "--project",
    "project_dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("."),
    show_default=True,
    help="the project's source folder (holds pyproject.toml)",
)
@click.option(
    "--conf-dir",
    type=click.Path(path_type=Path),
    default=None,
    help="configuration root to bundle (default $SPARKJOBS_CONF_DIR, else ./conf)",
)
@click.option(
    "--extra",
    "extras",
    multiple=True,
    metavar="NAME",
    help="an extra of the project whose dependencies the jobs need on the cluster; repeatable",
)
@click.option(
    "--exclude",
    multiple=True,
    metavar="DIST",
    help="a distribution the cluster already provides (pyspark always is); repeatable",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["auto", "zip", "venv"]),
    default="auto",
    show_default=True,
    help="auto: a --py-files zip when every dependency is pure Python, else a packed venv",
)
@click.option("--master", default=DEFAULT_MASTER, show_default=True, help="master URL of the printed command")
@click.option(
    "--deploy-mode",
    type=click.Choice(["client", "cluster"]),
    default="client",
    show_default=True,
    help="cluster: the driver runs on the cluster and gets conf.zip through --archives",
)
@click.option("--job", default="JOB", show_default=True, help="job name in the printed command")
@click.option("--env", default=None, help="environment (conf/<env>/) in the printed command")
@click.option(
    "--format-output",
    "output",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="json: print the manifest (with the command as an argv list)",
)
def package_command(
    out: Path,
    project_dir: Path,
    conf_dir: Path | None,
    extras: tuple[str, ...],
    exclude: tuple[str, ...],
    fmt: str,
    master: str,
    deploy_mode: str,
    job: str,
    env: str | None,
    output: str,
) -> None:
    """Bundle the project for a cluster: wheel, dependencies, config; print the spark-submit command."""
    import os

    # the conf/ of the project being packaged (--conf-dir or $SPARKJOBS_CONF_DIR win)
    _root, conf, _found = resolve_project(None, conf_dir, os.environ, project_dir.absolute())
    bundle = package(
        PackageRequest(
            project_dir=project_dir,
            out=out,
            conf_dir=conf,
            extras=extras,
            exclude=exclude,
            fmt=fmt,  # type: ignore[arg-type]
            master=master,
        )
    )
    argv = bundle.submit_argv(master=master, deploy_mode=deploy_mode, job=job, env=env)  # type: ignore[arg-type]
    if output == "json":
        click.echo(json.dumps({**bundle.manifest(master), "spark_submit": argv}, indent=2))
        return
    kinds = {
        "venv": f"packed venv for --archives (…#environment); native code in {', '.join(bundle.native)}",
        "zip": "--py-files zip (every dependency is pure Python)",
    }
    click.echo(
        f"packaged {bundle.project} {bundle.version} into {bundle.out}: "
        f"{len(bundle.distributions)} dependencies, format {bundle.format}"
    )
    for wheel in bundle.wheels:
        click.echo(f"  {wheel.name:<40} {_size(wheel):>9}  wheel")
    click.echo(f"  {bundle.python_bundle.name:<40} {_size(bundle.python_bundle):>9}  {kinds[bundle.format]}")
    click.echo(f"  {'conf/ + conf.zip':<40} {_size(bundle.conf_zip):>9}  layers: {', '.join(bundle.layers)}")
    click.echo(f"  {'spark_submit.py, spark-cluster.yml, manifest.json':<50}")
    click.echo("\nsubmit with:\n")
    click.echo(shell_command(argv))
    if bundle.format == "venv":
        click.echo(
            f"\nor drive from this machine: PYSPARK_PYTHON={EXECUTOR_PYTHON} "
            f"sparkjobs run {job} --config {bundle.out / 'spark-cluster.yml'}"
        )
    else:
        click.echo(
            f"\nor drive from this machine: sparkjobs run {job} --config {bundle.out / 'spark-cluster.yml'}"
        )


def _spark_conf_pairs(pairs: tuple[str, ...]) -> dict[str, str]:
    from sparkjobs.errors import UsageError

    conf: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip().startswith("spark."):
            raise UsageError(f"--conf {pair!r}: expected spark.KEY=VALUE (e.g. spark.executor.memory=1g)")
        conf[key.strip()] = value
    return conf


@click.command("doctor")
@workspace_options
@click.option(
    "--master", default=None, help="master URL (default: spark.master of the configuration, else local)"
)
@click.option(
    "--bundle",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="a `sparkjobs package` folder: executors get its Python (its spark-cluster.yml is layered on top)",
)
@click.option("--job", "jobs", multiple=True, metavar="NAME", help="check only this job's module; repeatable")
@click.option("--conf", "spark_conf", multiple=True, metavar="spark.KEY=VALUE", help="extra Spark setting")
@click.option(
    "--tasks", type=click.IntRange(1, 10_000), default=None, help="probe tasks (default: 2 per core)"
)
@click.option("--timeout", "timeout_s", type=click.FloatRange(1, 3600), default=180.0, show_default=True)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def doctor_command(
    env: str | None,
    conf_dir: Path | None,
    project_dir: Path | None,
    config_files: tuple[Path, ...],
    master: str | None,
    bundle: Path | None,
    jobs: tuple[str, ...],
    spark_conf: tuple[str, ...],
    tasks: int | None,
    timeout_s: float,
    fmt: str,
) -> None:
    """Preflight: a tiny job imports every job module on the executors, versions compared with the driver."""
    import os

    from sparkjobs.config.workspace import ConfigWorkspace
    from sparkjobs.deploy.doctor import project_packages, raise_for, run_doctor
    from sparkjobs.errors import UsageError
    from sparkjobs.executor import RunRequest, resolve_settings
    from sparkjobs.registry import registered, resolve
    from sparkjobs.spark.session import build_session

    files = list(config_files)
    if bundle is not None:
        manifest_path = bundle / "manifest.json"
        if not manifest_path.is_file():
            raise UsageError(
                f"--bundle {bundle}: no manifest.json (write the bundle with `sparkjobs package`)"
            )
        manifest = json.loads(manifest_path.read_text())
        files.insert(0, bundle / "spark-cluster.yml")
        if manifest.get("format") == "venv":
            os.environ["PYSPARK_PYTHON"] = EXECUTOR_PYTHON  # pyspark reads the workers' Python from here
    workspace = ConfigWorkspace.resolve(
        env=env, conf_dir=conf_dir, config_files=files, project_dir=project_dir
    )
    settings = resolve_settings(workspace.layers(), RunRequest(job="(doctor)"), workspace)
    spark_settings = settings.spark.model_copy(
        update={
            "master": master or settings.spark.master,
            "conf": {
                "spark.ui.showConsoleProgress": "false",
                **settings.spark.conf,
                **_spark_conf_pairs(spark_conf),
            },
        }
    )
    specs = [resolve(name) for name in jobs] if jobs else list(registered().values())
    modules = sorted({spec.module_name for spec in specs})
    if not modules:
        raise UsageError("no jobs to check: register jobs (entry points sparkjobs.jobs) or pass --job")
    packages = project_packages(modules)
    session, created = build_session(spark_settings, app_suffix="doctor")
    try:
        report = run_doctor(session, modules, packages, tasks=tasks, timeout_s=timeout_s)
    finally:
        if created:
            session.stop()
    if fmt == "json":
        click.echo(json.dumps(report.summary(), indent=2))
    else:
        _print_report(report)
    raise_for(report)
    if fmt == "text":
        click.echo("doctor: OK")


def _print_report(report: Any) -> None:
    summary = report.summary()
    click.echo(
        f"doctor: {summary['master']} (Spark {summary['spark']}), app {summary['app_id']}, "
        f"{summary['tasks']} probe tasks in {summary['seconds']}s"
    )
    d = summary["driver"]
    click.echo(f"  driver    python {d['python']}  pyspark {d['pyspark']}  {d['executable']}")
    for ex in summary["executors"]:
        click.echo(
            f"  executor  python {ex['python']}  pyspark {ex['pyspark']}  {ex['executable']}"
            f"  (cwd {ex['cwd']})"
        )
    modules = summary["job_modules"]
    click.echo(f"  job modules ({len(modules)}): {', '.join(modules)}")
    packages = summary["packages"]
    click.echo(f"  packages ({len(packages)}): " + ", ".join(f"{n} {v}" for n, v in sorted(packages.items())))
