"""``sparkjobs init [DIR]``: write a new project that passes its own tests at once.

The files come from ``templates/`` (package data, shipped in the wheel): every ``*.tmpl`` file is
rendered with :class:`string.Template` (``$package``, ``$dist_name``, ``$sparkjobs_version``) and
written without the suffix; a ``__package__`` path part becomes the package name and
``gitignore.tmpl`` becomes ``.gitignore``. The project holds ``pyproject.toml`` (the
``sparkjobs.jobs`` entry-point group with the example job), ``conf/base`` + ``conf/dev``, the
``clean_orders`` job and its test, a pipeline file, a small sample input, ``.gitignore`` and a README.

A directory that exists and is not empty is refused (nothing is overwritten).
"""

from __future__ import annotations

import keyword
import re
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from string import Template

from sparkjobs import __version__
from sparkjobs.errors import UsageError

TEMPLATE_SUFFIX = ".tmpl"
PACKAGE_PLACEHOLDER = "__package__"
#: template names that become another file name (dot files are not shipped reliably as package data)
RENAMED = {"gitignore": ".gitignore"}
#: package names that would shadow what the project imports
RESERVED = frozenset({"sparkjobs", "pyspark", "pydantic", "tests", "test", "conf", "src", "data"})
_DIST_RE = re.compile(r"[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?")


@dataclass(frozen=True)
class Project:
    """What ``init`` writes: the target directory and the names the templates use."""

    root: Path
    dist_name: str
    package: str

    def variables(self) -> dict[str, str]:
        return {"dist_name": self.dist_name, "package": self.package, "sparkjobs_version": __version__}


def package_name(dist_name: str) -> str:
    """``acme-orders`` → ``acme_orders`` (PEP 503 normalisation, then ``-``/``.`` to ``_``)."""
    return re.sub(r"[-_.]+", "_", dist_name).lower()


def plan(target: Path, name: str | None = None) -> Project:
    """Check the target and the names; raises :class:`UsageError` (exit 2) saying what to change."""
    target = Path(target)
    if target.exists() and not target.is_dir():
        raise UsageError(f"cannot create a project in {target}: it is a file, not a directory")
    if target.is_dir() and any(target.iterdir()):
        shown = sorted(p.name for p in target.iterdir())
        more = f" and {len(shown) - 5} more" if len(shown) > 5 else ""
        raise UsageError(
            f"cannot create a project in {target}: the directory is not empty "
            f"({', '.join(shown[:5])}{more}); choose a new or empty directory, e.g. `sparkjobs init my-jobs`"
        )
    dist_name = name or target.resolve().name
    if not _DIST_RE.fullmatch(dist_name):
        raise UsageError(
            f"bad project name {dist_name!r}: expected letters, digits, '-', '_' or '.', starting and "
            "ending with a letter or digit (pass one with --name)"
        )
    package = package_name(dist_name)
    if not package.isidentifier() or keyword.iskeyword(package) or package in RESERVED:
        raise UsageError(
            f"project name {dist_name!r} gives the package name {package!r}, which "
            + (
                "is reserved"
                if package in RESERVED or keyword.iskeyword(package)
                else "is not a Python identifier"
            )
            + "; pass another with --name, e.g. --name acme-jobs"
        )
    return Project(target, dist_name, package)


def _templates() -> Traversable:
    return resources.files("sparkjobs.scaffold").joinpath("templates")


def _walk(node: Traversable, parts: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Traversable]]:
    found: list[tuple[tuple[str, ...], Traversable]] = []
    for child in sorted(node.iterdir(), key=lambda c: c.name):
        if child.is_dir():
            found += _walk(child, (*parts, child.name))
        elif child.name.endswith(TEMPLATE_SUFFIX):
            found.append(((*parts, child.name), child))
    return found


def _target_path(project: Project, parts: tuple[str, ...]) -> Path:
    *dirs, leaf = parts
    leaf = leaf.removesuffix(TEMPLATE_SUFFIX)
    leaf = RENAMED.get(leaf, leaf)
    dirs = [project.package if d == PACKAGE_PLACEHOLDER else d for d in dirs]
    return project.root.joinpath(*dirs, leaf)


def create_project(target: Path, name: str | None = None) -> list[Path]:
    """Write the project into ``target`` (created if missing); returns the files written, in order."""
    project = plan(target, name)
    templates = _walk(_templates())
    if not templates:  # a broken installation: the package data did not ship
        raise UsageError(f"sparkjobs' project templates are missing from {_templates()}; reinstall sparkjobs")
    written: list[Path] = []
    values = project.variables()
    for parts, source in templates:
        path = _target_path(project, parts)
        text = Template(source.read_text(encoding="utf-8")).substitute(values)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written
