"""Which installed distributions a cluster needs (the project's dependency closure); which have native code.

Start from the project's own requirements (``Requires-Dist`` of its freshly built wheel, with the
chosen extras), follow each requirement to the distribution installed in this Python
(``importlib.metadata``), and recurse with the extras the requirement names. Environment markers are
evaluated for this interpreter (``sparkjobs doctor`` checks that the cluster runs the same one).

Never followed: ``pyspark`` (the cluster provides Spark, and its Python package must match the
cluster's JVM) and anything the caller excludes. Nothing else of the venv is taken: test and lint
tools reach the closure only through an extra such as ``dev``, which nobody selects by default.

A distribution *has native code* when its ``WHEEL`` file says ``Root-Is-Purelib: false`` or a tag
other than ``*-none-any``, or when it installed a shared library (``.so``, ``.pyd``, ``.dylib``).
Such a distribution cannot be imported from a ``--py-files`` zip (zipimport loads no extension
modules), so the bundle becomes a packed virtualenv for ``--archives``.
"""

from __future__ import annotations

import importlib.metadata
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from sparkjobs.errors import UsageError

#: provided by the cluster; never shipped, never followed
ALWAYS_EXCLUDED = frozenset({"pyspark"})
_NATIVE_SUFFIXES = (".so", ".pyd", ".dylib")


@dataclass(frozen=True)
class Resolved:
    """One distribution of the closure."""

    name: str  # canonical name
    version: str
    dist: importlib.metadata.Distribution = field(repr=False, compare=False)
    native: bool
    why: str  # the requirement chain that pulled it in, e.g. "sparkjobs -> pydantic"

    @property
    def editable(self) -> bool:
        return source_dir_of(self.dist) is not None


def source_dir_of(dist: importlib.metadata.Distribution) -> Path | None:
    """The source folder of an editable (``pip install -e``) install, else None."""
    import json

    text = dist.read_text("direct_url.json")
    if not text:
        return None
    try:
        info = json.loads(text)
    except ValueError:
        return None
    url = str(info.get("url", ""))
    if info.get("dir_info", {}).get("editable") and url.startswith("file://"):
        return Path(url[len("file://") :])
    return None


def is_native(dist: importlib.metadata.Distribution) -> bool:
    """Whether ``dist`` holds code a ``--py-files`` zip cannot carry (see the module docstring)."""
    wheel = dist.read_text("WHEEL")
    if wheel:
        for line in wheel.splitlines():
            key, _, value = line.partition(":")
            key, value = key.strip().lower(), value.strip().lower()
            if key == "root-is-purelib" and value == "false":
                return True
            if key == "tag" and not value.endswith("-none-any"):
                return True
    for file in dist.files or ():
        name = PurePosixPath(str(file)).name
        if name.endswith(_NATIVE_SUFFIXES) or ".so." in name:
            return True
    return False


def installed_distributions(path: Sequence[str] | None = None) -> dict[str, importlib.metadata.Distribution]:
    """canonical name → distribution, the first one on ``path`` (default ``sys.path``) winning."""
    found: dict[str, importlib.metadata.Distribution] = {}
    dists = (
        importlib.metadata.distributions(path=list(path))
        if path is not None
        else importlib.metadata.distributions()
    )
    for dist in dists:
        name = dist.metadata["Name"]
        if name:
            found.setdefault(canonicalize_name(name), dist)
    return found


def _parse(text: str, where: str) -> Requirement:
    try:
        return Requirement(text)
    except InvalidRequirement as exc:
        raise UsageError(f"cannot parse requirement {text!r} of {where}: {exc}") from None


def _applies(req: Requirement, extras: Iterable[str]) -> bool:
    if req.marker is None:
        return True
    return any(req.marker.evaluate({"extra": extra}) for extra in ("", *extras))


def resolve_closure(
    root: str,
    requires: Sequence[str],
    extras: Sequence[str],
    installed: Mapping[str, importlib.metadata.Distribution],
    exclude: Iterable[str] = (),
) -> list[Resolved]:
    """The distributions ``root`` (the project, with ``requires`` and ``extras``) needs, sorted by name.

    ``root`` itself is not in the result (the caller builds its wheel). A requirement of ``root``
    on itself with extras (``sparkjobs[app]``) adds those extras. Raises :class:`UsageError` for a
    requirement that is not installed or whose installed version does not satisfy it.
    """
    root_name = canonicalize_name(root)
    excluded = {canonicalize_name(n) for n in (*ALWAYS_EXCLUDED, *exclude)}
    root_extras = set(extras)
    result: dict[str, Resolved] = {}
    # (requirement text, the chain that led to it, the extras of the distribution that declared it)
    queue: list[tuple[str, str, frozenset[str]]] = [(text, root, frozenset(root_extras)) for text in requires]
    followed: set[tuple[str, frozenset[str]]] = set()
    while queue:
        text, chain, declared_extras = queue.pop(0)
        req = _parse(text, chain.split(" -> ")[-1])
        if not _applies(req, declared_extras):
            continue
        name = canonicalize_name(req.name)
        if name in excluded:
            continue
        if name == root_name:
            if not set(req.extras) <= root_extras:
                root_extras.update(req.extras)
                queue.extend((t, root, frozenset(root_extras)) for t in requires)
            continue
        dist = installed.get(name)
        if dist is None:
            raise UsageError(
                f"{chain} requires {text!r}, which is not installed in {sys.executable}: "
                f"install it (pip install '{req}') or leave it out with --exclude {req.name}"
            )
        version = dist.version
        if req.specifier and not req.specifier.contains(version, prereleases=True):
            raise UsageError(
                f"{chain} requires {text!r} but {req.name} {version} is installed in {sys.executable}: "
                "install a matching version before packaging"
            )
        if name not in result:
            result[name] = Resolved(name, version, dist, is_native(dist), f"{chain} -> {name}")
        key = (name, frozenset(req.extras))
        if key in followed:
            continue
        followed.add(key)
        for sub in dist.requires or ():
            queue.append((sub, f"{chain} -> {name}", frozenset(req.extras)))
    return [result[n] for n in sorted(result)]
