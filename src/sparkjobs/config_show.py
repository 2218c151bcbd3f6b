"""``sparkjobs config show``: every leaf of a job's merged config with the layer it came from.

A config that only lacks required keys is shown as far as it goes, each missing key marked.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from sparkjobs.config.layers import DEFAULT_SOURCE, LayeredConfig
from sparkjobs.config.secrets import mask
from sparkjobs.config.tree import Path_, iter_leaves, join_key
from sparkjobs.errors import ConfigError
from sparkjobs.executor import OWN_MODEL_SECTIONS, RunRequest, load_run_config, prepare, resolve_settings
from sparkjobs.settings import Settings

#: how ``config show`` marks a required key that no layer sets
MISSING = "<missing>"
MISSING_SOURCE = "required: set it in conf/ or with -p"


@dataclass
class ConfigView:
    """What ``config show`` prints: ``(key, value, source)`` rows, and the required keys not set."""

    rows: list[tuple[str, Any, str]]
    missing: list[str] = field(default_factory=list)

    def __iter__(self) -> Iterator[tuple[str, Any, str]]:
        """The rows, so that ``for key, value, source in show_config(...)`` reads naturally."""
        return iter(self.rows)


def show_config(request: RunRequest, environ: Mapping[str, str] | None = None) -> ConfigView:
    """Every leaf of the job's merged config and the framework sections, with its source.

    A config that only lacks required keys is shown as far as it goes, each missing key marked
    :data:`MISSING`; any other problem (a wrong value, an unknown key) is raised as by ``run``.
    """
    try:
        prepared = prepare(request, environ)
    except ConfigError as exc:
        if not exc.missing or len(exc.missing) != exc.problems:
            raise
        return _partial_view(request, environ, exc.missing)
    cfg = prepared.config
    job_plain = mask(cfg.model_dump(mode="json") if isinstance(cfg, BaseModel) else cfg)
    prefix: Path_ = ("jobs", prepared.spec.config_name)
    rows: list[tuple[str, Any, str]] = []
    for path, value in iter_leaves(job_plain):
        source = prepared.job_sources.get(path, DEFAULT_SOURCE)
        template = prepared.rendered.get(path)
        rows.append(
            (join_key(prefix + path), value, source + (f"; rendered from {template!r}" if template else ""))
        )
    for name in prepared.dataset_rows():
        entry = prepared.context.datasets.get(name)
        if entry is None:
            continue
        for path, value in iter_leaves(
            mask(entry.model_dump(mode="json", by_alias=True, exclude_unset=True))
        ):
            key = ("catalog", name, *path)
            rows.append((join_key(key), value, prepared.layered.source_of(key)))
    return ConfigView(rows + _settings_rows(prepared.context.settings, prepared.layered))


def _partial_view(request: RunRequest, environ: Mapping[str, str] | None, missing: list[str]) -> ConfigView:
    """The layered values as written (not yet typed by the model), plus the missing keys marked."""
    spec, workspace, layered = load_run_config(request, environ)
    settings = resolve_settings(layered, request, workspace)
    job_tree, _sources, _raw = layered.section(("jobs", spec.config_name))
    prefix: Path_ = ("jobs", spec.config_name)
    rows = [
        (join_key(prefix + path), value, layered.source_of(prefix + path))
        for path, value in iter_leaves(mask(copy.deepcopy(job_tree)))
    ]
    rows += [(key, MISSING, MISSING_SOURCE) for key in missing]
    rows.sort(key=lambda row: row[0])
    return ConfigView(rows + _settings_rows(settings, layered), sorted(missing))


def _settings_rows(settings: Settings, layered: LayeredConfig) -> list[tuple[str, Any, str]]:
    plain = settings.model_dump(mode="json", exclude=set(OWN_MODEL_SECTIONS))
    return [(join_key(path), value, layered.source_of(path)) for path, value in iter_leaves(mask(plain))]
