"""The files of a cluster bundle, one builder each: wheels, ``--py-files`` zip, packed virtualenv, config.

* :func:`build_wheel` — ``pip wheel --no-deps`` of a source folder (any PEP 517 backend); the
  ``build/`` and ``*.egg-info`` folders setuptools leaves in the source are removed again when they
  were not there before.
* :func:`write_pyfiles_zip` — the wheels' contents plus the installed files of pure-Python
  distributions, dist-info included (entry points, ``importlib.metadata`` versions); importable
  from ``--py-files``.
* :func:`write_venv_archive` — a fresh virtualenv (``python -m venv``, symlinked interpreter, the
  way ``venv-pack`` ships one) holding only the wheels and the given distributions, as a
  ``.tar.gz`` for ``--archives ENV.tar.gz#environment``. The interpreter is a link to this
  machine's base Python: the cluster's nodes must have the same Python at the same path, which
  ``sparkjobs doctor`` checks.
* :func:`write_conf_bundle` — ``conf/base`` and every environment layer, never ``conf/local``
  (a developer's untracked overrides), as a folder and as ``conf.zip`` for ``--archives``.

Archives are deterministic: sorted entries and a fixed timestamp, no ``__pycache__``.
"""

from __future__ import annotations

import importlib.metadata
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import venv
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path, PurePosixPath

from sparkjobs.errors import ConfigError, UsageError

#: a fixed timestamp keeps archives byte-identical for identical inputs
_EPOCH = (1980, 1, 1, 0, 0, 0)
_EPOCH_S = 315532800
#: the config layer kept out of every bundle
LOCAL_LAYER = "local"
_CONF_SUFFIXES = (".yml", ".yaml", ".json", ".toml")


def _skipped(rel: PurePosixPath) -> bool:
    return "__pycache__" in rel.parts or rel.suffix in (".pyc", ".pyo")


def build_wheel(source: Path, out: Path, python: str = sys.executable) -> Path:
    """Build the wheel of the project in ``source`` into ``out``; returns its path."""
    if not (source / "pyproject.toml").is_file() and not (source / "setup.py").is_file():
        raise UsageError(f"{source}: no pyproject.toml or setup.py, so no wheel can be built from it")
    before = {p.name for p in source.iterdir()} | {p.name for p in (source / "src").glob("*.egg-info")}
    with tempfile.TemporaryDirectory(prefix="sparkjobs-wheel-") as tmp:
        proc = subprocess.run(
            [python, "-m", "pip", "wheel", "--no-deps", "--quiet", "--wheel-dir", tmp, str(source)],
            capture_output=True,
            text=True,
        )
        for leftover in [source / "build", *source.glob("*.egg-info"), *(source / "src").glob("*.egg-info")]:
            if leftover.name not in before and leftover.is_dir():
                shutil.rmtree(leftover, ignore_errors=True)
        if proc.returncode != 0:
            tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
            raise UsageError(
                f"building the wheel of {source} failed (pip wheel exit {proc.returncode}):\n{tail}"
            )
        built = sorted(Path(tmp).glob("*.whl"))
        if len(built) != 1:
            raise UsageError(f"pip wheel {source} produced {len(built)} wheels, expected one")
        out.mkdir(parents=True, exist_ok=True)
        dest = out / built[0].name
        shutil.copyfile(built[0], dest)
    return dest


def installed_files(dist: importlib.metadata.Distribution) -> Iterator[tuple[Path, PurePosixPath]]:
    """``(file, path inside site-packages)`` of every installed file of ``dist`` except scripts and caches."""
    files = dist.files
    if files is None:
        name = dist.metadata["Name"]
        raise UsageError(
            f"{name} {dist.version} has no RECORD file listing its files, so it cannot be packaged"
        )
    for file in files:
        rel = PurePosixPath(str(file))
        if ".." in rel.parts or rel.is_absolute() or _skipped(rel):
            continue  # console scripts (../../../bin/x) and byte code
        path = Path(str(dist.locate_file(file)))
        if path.is_file():
            yield path, rel


def _zip_entry(zf: zipfile.ZipFile, arcname: str, data: bytes) -> None:
    info = zipfile.ZipInfo(arcname, date_time=_EPOCH)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    zf.writestr(info, data)


def _write_zip(dest: Path, entries: dict[str, bytes]) -> Path:
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + ".tmp")
    with zipfile.ZipFile(tmp, "w") as zf:
        for arcname in sorted(entries):
            _zip_entry(zf, arcname, entries[arcname])
    tmp.replace(dest)
    return dest


def write_pyfiles_zip(
    dest: Path, wheels: Sequence[Path], dists: Iterable[importlib.metadata.Distribution]
) -> Path:
    """One zip for ``--py-files``: every wheel's files and every distribution's installed files."""
    entries: dict[str, bytes] = {}
    for wheel in wheels:
        with zipfile.ZipFile(wheel) as wz:
            for name in wz.namelist():
                if not name.endswith("/") and not _skipped(PurePosixPath(name)):
                    entries[name] = wz.read(name)
    for dist in dists:
        for path, rel in installed_files(dist):
            entries[rel.as_posix()] = path.read_bytes()
    return _write_zip(dest, entries)


def _site_packages(env_dir: Path) -> Path:
    return env_dir / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"


def _tar_filter(info: tarfile.TarInfo) -> tarfile.TarInfo:
    info.mtime = _EPOCH_S
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


def write_venv_archive(
    dest: Path,
    wheels: Sequence[Path],
    dists: Iterable[importlib.metadata.Distribution],
    python: str = sys.executable,
) -> Path:
    """A packed virtualenv with only ``wheels`` and ``dists`` in it, as ``dest`` (``.tar.gz``)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="sparkjobs-venv-", dir=dest.parent) as tmp:
        env_dir = Path(tmp) / "environment"
        venv.EnvBuilder(symlinks=True, with_pip=False).create(env_dir)
        site = _site_packages(env_dir)
        for dist in dists:
            for path, rel in installed_files(dist):
                target = site / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, target)
        if wheels:
            proc = subprocess.run(
                [
                    python,
                    "-m",
                    "pip",
                    "--python",
                    str(env_dir / "bin" / "python"),
                    "install",
                    "--quiet",
                    "--no-deps",
                    "--no-index",
                    "--no-compile",
                    "--no-warn-script-location",
                    *map(str, wheels),
                ],
                capture_output=True,
                text=True,
            )
            if proc.returncode != 0:
                tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
                raise UsageError(
                    f"installing {', '.join(w.name for w in wheels)} into the packed venv failed:\n{tail}"
                )
        for cache in sorted(env_dir.rglob("__pycache__")):
            shutil.rmtree(cache, ignore_errors=True)
        tmp_tar = dest.with_name(dest.name + ".tmp")
        with tarfile.open(tmp_tar, "w:gz", compresslevel=6) as tar:
            for root, dirnames, filenames in os.walk(env_dir):
                dirnames.sort()
                for name in sorted([*dirnames, *filenames]):
                    path = Path(root) / name
                    if path.is_dir() and not path.is_symlink():
                        continue
                    tar.add(
                        path,
                        arcname=path.relative_to(env_dir).as_posix(),
                        recursive=False,
                        filter=_tar_filter,
                    )
        tmp_tar.replace(dest)
    return dest


def conf_layers(conf_dir: Path) -> list[str]:
    """The layer folders of ``conf_dir`` a bundle takes: ``base`` and every environment, never ``local``."""
    if not conf_dir.is_dir():
        raise ConfigError(
            "configuration directory not found",
            file=str(conf_dir),
            expected="a directory holding base/ and <env>/ (--conf-dir)",
        )
    return sorted(p.name for p in conf_dir.iterdir() if p.is_dir() and p.name != LOCAL_LAYER)


def write_conf_bundle(conf_dir: Path, out: Path) -> tuple[Path, Path, list[str]]:
    """Copy the layers into ``out/conf`` and zip them as ``out/conf.zip``; returns both and the layers."""
    layers = conf_layers(conf_dir)
    target = out / "conf"
    if target.exists():
        shutil.rmtree(target)
    entries: dict[str, bytes] = {}
    for layer in layers:
        for path in sorted((conf_dir / layer).rglob("*")):
            if path.is_file() and path.suffix in _CONF_SUFFIXES:
                rel = path.relative_to(conf_dir)
                copy = target / rel
                copy.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, copy)
                entries[rel.as_posix()] = path.read_bytes()
        (target / layer).mkdir(parents=True, exist_ok=True)
    return target, _write_zip(out / "conf.zip", entries), layers
