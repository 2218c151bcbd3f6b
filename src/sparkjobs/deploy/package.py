"""``sparkjobs package``: everything a cluster needs to run the project's jobs, and the command to submit.

:func:`package` builds the project's wheel, resolves its dependency closure
(:mod:`sparkjobs.deploy.closure`), picks the Python bundle — a ``--py-files`` zip when every
dependency is pure Python, a packed virtualenv for ``--archives`` as soon as one has native code —
and writes the config bundle, the spark-submit main file and ``manifest.json``. The resulting
:class:`Bundle` knows the exact ``spark-submit`` argv for a master, a deploy mode and a job.

Layout of ``--out`` (default ``dist/``)::

    NAME-VERSION-py3-none-any.whl   the project's wheel (and one per editable dependency)
    NAME-pyfiles.zip | NAME-env.tar.gz
    conf/ + conf.zip                 conf/base and every environment layer (never conf/local)
    spark_submit.py                  the spark-submit main file (sparkjobs.entrypoints.spark_submit)
    spark-cluster.yml                spark settings for `sparkjobs run|pipeline run --config` as the driver
    manifest.json                    what is inside, and the command
"""

from __future__ import annotations

import json
import shlex
import shutil
import sys
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from email.parser import Parser
from pathlib import Path
from typing import Any, Literal

from packaging.utils import canonicalize_name, parse_wheel_filename

from sparkjobs.deploy.artifacts import build_wheel, write_conf_bundle, write_pyfiles_zip, write_venv_archive
from sparkjobs.deploy.closure import Resolved, installed_distributions, resolve_closure, source_dir_of
from sparkjobs.errors import UsageError

Format = Literal["auto", "zip", "venv"]
DeployMode = Literal["client", "cluster"]
DEFAULT_MASTER = "spark://127.0.0.1:7077"
#: where ``--archives ENV.tar.gz#environment`` unpacks the venv in each container's working dir
ENV_ALIAS = "environment"
CONF_ALIAS = "conf"
EXECUTOR_PYTHON = f"./{ENV_ALIAS}/bin/python"


@dataclass(frozen=True)
class PackageRequest:
    """What ``sparkjobs package`` was asked for."""

    project_dir: Path
    out: Path
    conf_dir: Path
    extras: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    fmt: Format = "auto"
    master: str = DEFAULT_MASTER
    python: str = sys.executable


@dataclass
class Bundle:
    """A written bundle: its files, its distributions and the command that submits it."""

    project: str
    version: str
    out: Path
    wheels: list[Path]
    format: Literal["zip", "venv"]
    python_bundle: Path
    conf_dir: Path
    conf_zip: Path
    layers: list[str]
    entry_script: Path
    distributions: list[Resolved] = field(default_factory=list)
    python: str = sys.executable

    @property
    def native(self) -> list[str]:
        return [d.name for d in self.distributions if d.native]

    def submit_argv(
        self,
        *,
        master: str = DEFAULT_MASTER,
        deploy_mode: DeployMode = "client",
        job: str = "JOB",
        env: str | None = None,
        extra_args: Sequence[str] = (),
    ) -> list[str]:
        """The exact ``spark-submit`` argv; client mode reads the conf folder, cluster mode ships conf.zip."""
        argv = ["spark-submit", "--master", master, "--deploy-mode", deploy_mode]
        archives: list[str] = []
        if self.format == "venv":
            archives.append(f"{self.python_bundle}#{ENV_ALIAS}")
            argv += ["--conf", f"spark.pyspark.python={EXECUTOR_PYTHON}"]
            driver_python = self.python if deploy_mode == "client" else EXECUTOR_PYTHON
            argv += ["--conf", f"spark.pyspark.driver.python={driver_python}"]
        else:
            argv += ["--py-files", str(self.python_bundle)]
        if deploy_mode == "cluster":
            archives.append(f"{self.conf_zip}#{CONF_ALIAS}")
        if archives:
            argv += ["--archives", ",".join(archives)]
        conf_dir = CONF_ALIAS if deploy_mode == "cluster" else str(self.conf_dir)
        argv += [str(self.entry_script), "--job", job, "--conf_dir", conf_dir]
        if env:
            argv += ["--env", env]
        return [*argv, *extra_args]

    def driver_spark_settings(self, master: str = DEFAULT_MASTER) -> dict[str, Any]:
        """The ``spark:`` settings that make a sparkjobs process (run, pipeline run) drive ``master``."""
        conf = (
            {"spark.archives": f"{self.python_bundle}#{ENV_ALIAS}"}
            if self.format == "venv"
            else {"spark.submit.pyFiles": str(self.python_bundle)}
        )
        return {"spark": {"master": master, "conf": conf}}

    def manifest(self, master: str = DEFAULT_MASTER) -> dict[str, Any]:
        return {
            "project": self.project,
            "version": self.version,
            "python": ".".join(map(str, sys.version_info[:3])),
            "format": self.format,
            "wheels": [w.name for w in self.wheels],
            "python_bundle": self.python_bundle.name,
            "conf_layers": self.layers,
            "distributions": [
                {"name": d.name, "version": d.version, "native": d.native, "required_by": d.why}
                for d in self.distributions
            ],
            "spark_submit": self.submit_argv(master=master),
        }


def shell_command(argv: Sequence[str], prefix: str = "") -> str:
    """``argv`` as one copy-pasteable shell command, one option (and the main file) per line."""
    parts: list[str] = []
    for token in argv:
        quoted = shlex.quote(token)
        if (token.startswith("--") or token.endswith(".py")) and parts:
            parts.append(" \\\n    " + quoted)
        else:
            parts.append((" " if parts else "") + quoted)
    return prefix + "".join(parts)


def _wheel_metadata(wheel: Path) -> tuple[str, str, list[str], list[str]]:
    """``(name, version, Requires-Dist, Provides-Extra)`` of a wheel."""
    name, version, _, _ = parse_wheel_filename(wheel.name)
    with zipfile.ZipFile(wheel) as zf:
        metadata = [n for n in zf.namelist() if n.count("/") == 1 and n.endswith(".dist-info/METADATA")]
        if len(metadata) != 1:
            raise UsageError(f"{wheel}: expected one top-level *.dist-info/METADATA, found {len(metadata)}")
        text = zf.read(metadata[0]).decode()
    meta = Parser().parsestr(text)
    return (
        meta.get("Name", str(name)),
        str(version),
        meta.get_all("Requires-Dist") or [],
        [canonicalize_name(e) for e in meta.get_all("Provides-Extra") or []],
    )


def package(request: PackageRequest, installed: dict[str, Any] | None = None) -> Bundle:
    """Write the bundle for ``request`` into ``request.out``; raises :class:`UsageError` on bad input."""
    out = request.out
    out.mkdir(parents=True, exist_ok=True)
    project_wheel = build_wheel(request.project_dir, out, request.python)
    name, version, requires, provided = _wheel_metadata(project_wheel)
    unknown = [e for e in request.extras if canonicalize_name(e) not in provided]
    if unknown:
        raise UsageError(
            f"--extra {unknown[0]}: {name} has no such extra (it has: {', '.join(provided) or 'none'})"
        )
    dists = installed if installed is not None else installed_distributions()
    closure = resolve_closure(name, requires, request.extras, dists, request.exclude)
    wheels = [project_wheel]
    copied = []
    for resolved in closure:
        source = source_dir_of(resolved.dist)
        if source is not None:  # an editable install holds no files to copy: build its wheel too
            wheels.append(build_wheel(source, out, request.python))
        else:
            copied.append(resolved)
    native = [d.name for d in closure if d.native]
    if request.fmt == "zip" and native:
        raise UsageError(
            f"--format zip: {', '.join(native)} ha{'ve' if len(native) > 1 else 's'} native code, which "
            "Python cannot import from a --py-files zip; use --format venv (or auto)"
        )
    fmt: Literal["zip", "venv"] = "venv" if request.fmt == "venv" or native else "zip"
    stem = canonicalize_name(name).replace("-", "_")
    zip_path, tar_path = out / f"{stem}-pyfiles.zip", out / f"{stem}-env.tar.gz"
    if fmt == "zip":
        tar_path.unlink(missing_ok=True)
        python_bundle = write_pyfiles_zip(zip_path, wheels, [d.dist for d in copied])
    else:
        zip_path.unlink(missing_ok=True)
        python_bundle = write_venv_archive(tar_path, wheels, [d.dist for d in copied], request.python)
    conf_copy, conf_zip, layers = write_conf_bundle(request.conf_dir, out)
    entry = out / "spark_submit.py"
    shutil.copyfile(Path(__file__).resolve().parents[1] / "entrypoints" / "spark_submit.py", entry)
    bundle = Bundle(
        project=name,
        version=version,
        out=out.resolve(),
        wheels=[w.resolve() for w in wheels],
        format=fmt,
        python_bundle=python_bundle.resolve(),
        conf_dir=conf_copy.resolve(),
        conf_zip=conf_zip.resolve(),
        layers=layers,
        entry_script=entry.resolve(),
        distributions=closure,
        python=request.python,
    )
    write_driver_settings(bundle, request.master)
    write_manifest(bundle, request.master)
    return bundle


def write_driver_settings(bundle: Bundle, master: str) -> Path:
    """``spark-cluster.yml`` (:meth:`Bundle.driver_spark_settings`) for ``--config`` of run, pipeline run."""
    import yaml

    path = bundle.out / "spark-cluster.yml"
    header = (
        "# Written by `sparkjobs package`: `sparkjobs run|pipeline run --config THIS_FILE`\n"
        f"# drives {master}. Executors run the shipped Python only with\n"
        f"# PYSPARK_PYTHON={EXECUTOR_PYTHON} in the driver's environment (venv bundles).\n"
    )
    path.write_text(header + yaml.safe_dump(bundle.driver_spark_settings(master), sort_keys=True))
    return path


def write_manifest(bundle: Bundle, master: str) -> Path:
    path = bundle.out / "manifest.json"
    path.write_text(json.dumps(bundle.manifest(master), indent=2) + "\n")
    return path
