"""Resolve a job by registered short name (entry-point group ``sparkjobs.jobs``) or dotted module path.

The module contract is a module-level ``main(**kwargs)``. A third-party package registers jobs in
its own ``pyproject.toml``::

    [project.entry-points."sparkjobs.jobs"]
    daily_ingest = "myproject.jobs.daily_ingest"
"""

from __future__ import annotations

import difflib
import importlib
import importlib.metadata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from types import ModuleType
from typing import TYPE_CHECKING, Any

from sparkjobs.declared import DeclaredMetadata, declared_metadata
from sparkjobs.errors import JobContractError, JobNotFoundError

if TYPE_CHECKING:
    from pydantic import BaseModel

    from sparkjobs.catalog.declare import DatasetUse
    from sparkjobs.metadata import JobMetadata

ENTRY_POINT_GROUP = "sparkjobs.jobs"


@dataclass
class JobSpec:
    """A job found by name or path; the module is imported on first use."""

    name: str
    module_name: str
    origin: str  # "entry point (dist)" or "module path"
    _module: ModuleType | None = field(default=None, repr=False)
    #: "module from entry point (dist)" for every registration when several claim this name
    conflicts: list[str] = field(default_factory=list)

    def load(self) -> ModuleType:
        if self.conflicts:
            raise JobContractError(
                f"job name {self.name!r} is registered by several distributions: "
                + "; ".join(self.conflicts)
                + ". Run one of them by its dotted module path, or rename one entry point"
            )
        if self._module is None:
            self._module = import_job_module(self.module_name, self.name)
        return self._module

    @property
    def main(self) -> Callable[..., Any]:
        module = self.load()
        main = getattr(module, "main", None)
        if not callable(main):
            raise JobContractError(
                f"job module {self.module_name!r} has no main(**kwargs); add `main = make_main(YourFactory)` "
                "or a `def main(**kwargs)` that runs your factory"
            )
        return main

    @property
    def factory(self) -> type | None:
        return getattr(self.main, "factory", None) or getattr(self.load(), "FACTORY", None)

    @property
    def config_model(self) -> type[BaseModel] | None:
        factory = self.factory
        return getattr(factory, "config_model", None) if factory is not None else None

    @property
    def metadata(self) -> JobMetadata:
        from sparkjobs.metadata import JobMetadata

        module = self.load()
        meta = getattr(module, "JOB_METADATA", None)
        factory = self.factory
        if meta is None and factory is not None:
            meta = getattr(factory, "metadata", None)
        if not isinstance(meta, JobMetadata):
            meta = JobMetadata()
        if not meta.description:
            doc = (module.__doc__ or "").strip().splitlines()
            meta = meta.model_copy(update={"description": doc[0] if doc else ""})
        return meta

    @property
    def datasets(self) -> DatasetUse:
        """The datasets the job reads and writes: the factory's ``inputs`` / ``outputs``, else the
        module's ``INPUTS`` / ``OUTPUTS`` (see :mod:`sparkjobs.catalog.declare`)."""
        from sparkjobs.catalog.declare import declared_datasets

        module = self.load()
        factory = self.factory
        owner: Any = factory if factory is not None and hasattr(factory, "inputs") else None
        if owner is not None:
            return declared_datasets(owner.inputs, owner.outputs, owner=owner.__qualname__)
        return declared_datasets(
            getattr(module, "INPUTS", None), getattr(module, "OUTPUTS", None), owner=self.module_name
        )

    @property
    def config_name(self) -> str:
        """The key under ``jobs:`` in configuration files."""
        job_name = getattr(self.factory, "job_name", None)
        if job_name:
            return str(job_name)
        return self.name


def import_job_module(module_name: str, shown_name: str | None = None) -> ModuleType:
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        missing = exc.name or ""
        if missing and (module_name == missing or module_name.startswith(missing + ".")):
            raise JobNotFoundError(
                shown_name or module_name,
                close_matches(shown_name or module_name),
                reason=f"no module {missing!r}",
            ) from None
        raise JobContractError(
            f"job module {module_name!r} could not be imported: it needs {missing!r}, which is not installed"
        ) from exc


def _entry_points() -> Iterable[importlib.metadata.EntryPoint]:
    return importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)


def registered() -> dict[str, JobSpec]:
    """Every job registered through entry points, by short name.

    Two distributions registering one name for different modules make that name ambiguous: the
    spec then carries the conflict and resolving it raises :class:`JobContractError` naming both
    (the dotted module path still selects either one). The same module registered twice (e.g. an
    editable install next to a regular one) is not a conflict.
    """
    jobs: dict[str, JobSpec] = {}
    for ep in _entry_points():
        dist = getattr(ep, "dist", None)
        origin = f"entry point ({dist.name})" if dist is not None else "entry point"
        spec = JobSpec(ep.name, ep.value.split(":", 1)[0], origin)
        known = jobs.get(ep.name)
        if known is None:
            jobs[ep.name] = spec
        elif known.module_name != spec.module_name:
            others = known.conflicts or [f"{known.module_name} from {known.origin}"]
            known.conflicts = [*others, f"{spec.module_name} from {spec.origin}"]
    return dict(sorted(jobs.items()))


def close_matches(name: str) -> list[str]:
    names = list(registered())
    short = name.rsplit(".", 1)[-1]
    found = difflib.get_close_matches(name, names, n=3, cutoff=0.6)
    found += [m for m in difflib.get_close_matches(short, names, n=3, cutoff=0.6) if m not in found]
    return found[:3]


def resolve(ref: str) -> JobSpec:
    """A registered short name, else a dotted module path; anything else is a clear error."""
    if not ref or ref.strip() != ref:
        raise JobNotFoundError(ref or "''", reason="empty or padded job name")
    jobs = registered()
    if ref in jobs:
        jobs[ref].load()  # raises when two distributions claim the name
        return jobs[ref]
    for spec in jobs.values():  # a dotted path to a registered module keeps its registered name
        if spec.module_name == ref and not spec.conflicts:
            return spec
    if not all(part.isidentifier() for part in ref.split(".")):
        raise JobNotFoundError(
            ref, close_matches(ref), reason="not a registered name or a dotted module path"
        )
    module = import_job_module(ref)
    spec = JobSpec(ref.rsplit(".", 1)[-1], ref, "module path", module)
    spec.main  # noqa: B018 - raises JobContractError when the module breaks the contract
    return spec


def list_jobs(
    stage: str | None = None, capability: str | None = None
) -> list[tuple[JobSpec, JobMetadata | DeclaredMetadata | Exception]]:
    """Registered jobs with their metadata (or the error loading them), filtered.

    A job's literal metadata is read from its source (:mod:`sparkjobs.declared`) without importing
    it; a job whose metadata is computed is imported. ``capability`` matches both sides: what a job
    offers (``capabilities``, e.g. ``incremental``) and what it requires from its engine
    (``requires``, e.g. ``spark``).
    """
    out: list[tuple[JobSpec, JobMetadata | DeclaredMetadata | Exception]] = []
    for spec in registered().values():
        declared = None if spec.conflicts else declared_metadata(spec.module_name)
        meta: JobMetadata | DeclaredMetadata | Exception
        if declared is not None:
            meta = declared
        else:
            try:
                meta = spec.metadata
            except Exception as exc:  # a broken plugin is listed with its error, not fatal to `list`
                meta = exc
        if not isinstance(meta, Exception):
            if stage and meta.stage != stage:
                continue
            if capability and capability not in meta.capabilities | meta.requires:
                continue
        elif stage or capability:
            continue
        out.append((spec, meta))
    return out
