"""How big a job's input is, for ``engine: auto``: the bytes of its files on a local file system.

A job names its inputs through its factory's ``input_paths(config)``. Local paths (plain or
``file:``) are measured by walking them (a missing path counts 0: the first run of a job whose
input does not exist yet). A path on another file system (``s3://``, ``hdfs://``, ``abfss://``...)
is not measured: the size is then unknown, and ``auto`` treats it as too large for in-process
engines.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from urllib.parse import urlparse


def local_path(path: str) -> str | None:
    """The local file-system path of ``path``; None when it lives on another file system."""
    parsed = urlparse(path)
    if parsed.scheme in ("", "file"):
        return parsed.path if parsed.scheme == "file" else path
    if len(parsed.scheme) == 1:  # a Windows drive letter, C:\\data
        return path
    return None


def input_bytes(paths: Iterable[str]) -> int | None:
    """Total bytes of the files under ``paths``; None when one of them is not local."""
    total = 0
    for path in paths:
        local = local_path(path)
        if local is None:
            return None
        if os.path.isfile(local):
            total += os.path.getsize(local)
            continue
        for root, _dirs, files in os.walk(local):
            for name in files:
                try:
                    total += os.path.getsize(os.path.join(root, name))
                except OSError:  # removed while walking
                    continue
    return total
