"""Where a run's metrics and report go: node-exporter textfile, Pushgateway, JSON run report.

Every write is atomic (a temporary file in the same directory, then ``os.replace``), so a
collector never reads half a file, and a crash never leaves one behind under the final name.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from prometheus_client import CollectorRegistry, delete_from_gateway, push_to_gateway, write_to_textfile
from prometheus_client.exposition import basic_auth_handler, default_handler

Handler = Callable[..., Callable[[], None]]


def textfile_name(job: str) -> str:
    """One file per job (node-exporter's textfile collector shows the latest run of each job)."""
    return f"sparkjobs_{safe_name(job)}.prom"


def safe_name(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in text) or "_"


def write_textfile(registry: CollectorRegistry, path: Path) -> Path:
    """The registry in the Prometheus text format, written atomically (tmp file + rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_to_textfile(str(path), registry)
    return path


def write_json(path: Path, data: Mapping[str, Any]) -> Path:
    """``data`` as indented JSON, written atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(data, out, indent=2, sort_keys=False, default=str, allow_nan=False)
            out.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _gateway(url: str) -> tuple[str, Handler]:
    """The URL without credentials, and a handler that sends them as basic auth when present."""
    parts = urlsplit(url if "://" in url else f"http://{url}")
    if parts.username is None:
        return urlunsplit(parts), default_handler
    user, password = parts.username, parts.password or ""
    host = parts.hostname or ""
    netloc = host + (f":{parts.port}" if parts.port else "")
    clean = urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))

    def handler(
        url: str, method: str, timeout: float | None, headers: list[tuple[str, str]], data: bytes
    ) -> Callable[[], None]:
        return basic_auth_handler(url, method, timeout, headers, data, user, password)

    return clean, handler


def push_metrics(
    url: str, job: str, registry: CollectorRegistry, grouping_key: Mapping[str, str], timeout_s: float
) -> None:
    """Replace the metrics of the group ``job`` + ``grouping_key`` on the Pushgateway (HTTP PUT)."""
    gateway, handler = _gateway(url)
    push_to_gateway(
        gateway, job, registry, grouping_key=dict(grouping_key), timeout=timeout_s, handler=handler
    )


def delete_metrics(url: str, job: str, grouping_key: Mapping[str, str], timeout_s: float) -> None:
    """Delete the group ``job`` + ``grouping_key`` from the Pushgateway (HTTP DELETE)."""
    gateway, handler = _gateway(url)
    delete_from_gateway(gateway, job, grouping_key=dict(grouping_key), timeout=timeout_s, handler=handler)


def registry_samples(registry: CollectorRegistry) -> list[dict[str, Any]]:
    """Every sample as ``{name, labels, value}`` (JSON-safe: NaN/inf as strings)."""
    out: list[dict[str, Any]] = []
    for family in registry.collect():
        for sample in family.samples:
            value: Any = sample.value
            if isinstance(value, float) and not math.isfinite(value):
                value = str(value)
            out.append({"name": sample.name, "labels": dict(sample.labels), "value": value})
    return out
