"""Build a ``--py-files`` zip of installed distributions, their job registrations included.

``spark-submit --py-files`` puts the zip on the driver's and the executors' ``sys.path``. A plain
zip of the source would lose the ``sparkjobs.jobs`` entry points (short job names such as
``hello_spark``); this one also carries each distribution's ``.dist-info`` (METADATA,
entry_points.txt, top_level.txt), which ``importlib.metadata`` reads straight from the zip::

    python -m sparkjobs.entrypoints.pyfiles dist/sparkjobs.zip                  # the sparkjobs distribution
    python -m sparkjobs.entrypoints.pyfiles dist/jobs.zip --dist sparkjobs --dist myproject
    python -m sparkjobs.entrypoints.pyfiles dist/jobs.zip --module extra_jobs.py

Third-party dependencies (pydantic, PyYAML, ...) are not bundled: the cluster's Python must have
them (``pip install 'sparkjobs'`` there, an EMR bootstrap action, or a venv shipped with ``--archives``).
"""

from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
import sys
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from sparkjobs.errors import UsageError

_SKIP_DIRS = frozenset({"__pycache__"})
_SKIP_SUFFIXES = (".pyc", ".pyo")
#: a fixed timestamp keeps the zip byte-identical for identical sources
_EPOCH = (1980, 1, 1, 0, 0, 0)


def _top_level_names(dist: importlib.metadata.Distribution) -> list[str]:
    text = dist.read_text("top_level.txt")
    if text:
        return [line.strip() for line in text.splitlines() if line.strip()]
    name = dist.metadata["Name"]
    return [name.replace("-", "_")]


def _module_files(name: str) -> Iterator[tuple[Path, str]]:
    """``(file, arcname)`` for every file of the importable package or module ``name``."""
    spec = importlib.util.find_spec(name)
    if spec is None:
        raise UsageError(f"cannot find the importable package or module {name!r}")
    if spec.submodule_search_locations:  # a package: walk every folder it spans
        for location in spec.submodule_search_locations:
            root = Path(location)
            for path in sorted(root.rglob("*")):
                rel = path.relative_to(root)
                if path.is_dir() or _SKIP_DIRS.intersection(rel.parts) or path.suffix in _SKIP_SUFFIXES:
                    continue
                yield path, f"{name}/{rel.as_posix()}"
    elif spec.origin and spec.origin not in ("built-in", "frozen"):
        origin = Path(spec.origin)
        yield origin, origin.name


def _write(zf: zipfile.ZipFile, arcname: str, data: bytes) -> None:
    info = zipfile.ZipInfo(arcname, date_time=_EPOCH)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    zf.writestr(info, data)


def _dist_info(dist: importlib.metadata.Distribution, top_level: Iterable[str]) -> dict[str, bytes]:
    name = dist.metadata["Name"]
    version = dist.version
    folder = f"{name.replace('-', '_')}-{version}.dist-info"
    files = {
        f"{folder}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode(),
        f"{folder}/top_level.txt": ("\n".join(top_level) + "\n").encode(),
    }
    entry_points = dist.read_text("entry_points.txt")
    if entry_points:
        files[f"{folder}/entry_points.txt"] = entry_points.encode()
    return files


def build_pyfiles(
    dest: Path,
    distributions: Sequence[str] = ("sparkjobs",),
    modules: Sequence[Path] = (),
) -> Path:
    """Write ``dest``: the packages of ``distributions`` with their dist-info, plus loose ``modules``."""
    entries: dict[str, bytes] = {}
    for dist_name in distributions:
        try:
            dist = importlib.metadata.distribution(dist_name)
        except importlib.metadata.PackageNotFoundError:
            raise UsageError(f"distribution {dist_name!r} is not installed in {sys.executable}") from None
        top_level = _top_level_names(dist)
        for name in top_level:
            for path, arcname in _module_files(name):
                entries[arcname] = path.read_bytes()
        entries.update(_dist_info(dist, top_level))
    for module in modules:
        if not module.is_file():
            raise UsageError(f"--module {module}: no such file")
        entries[module.name] = module.read_bytes()
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + ".tmp")
    with zipfile.ZipFile(tmp, "w") as zf:
        for arcname in sorted(entries):
            _write(zf, arcname, entries[arcname])
    tmp.replace(dest)
    return dest


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m sparkjobs.entrypoints.pyfiles",
        description="Build a --py-files zip of installed distributions with their job registrations.",
    )
    parser.add_argument("dest", type=Path, help="the zip to write, e.g. dist/sparkjobs.zip")
    parser.add_argument(
        "--dist",
        action="append",
        default=None,
        help="distribution to include (repeatable; default: sparkjobs)",
    )
    parser.add_argument("--module", action="append", type=Path, default=[], help="a loose .py module to add")
    ns = parser.parse_args(argv)
    try:
        dest = build_pyfiles(ns.dest, ns.dist or ["sparkjobs"], ns.module)
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    with zipfile.ZipFile(dest) as zf:
        count = len(zf.namelist())
    print(f"wrote {dest} ({count} files, {dest.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
