"""Peak resident memory of this process and everything it started (the JVM, Python workers).

``/usr/bin/time -v`` and ``resource.getrusage`` miss the JVM that PySpark starts as a child, so
the process tree is sampled from ``/proc`` on a background thread.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from types import TracebackType


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            # the command may hold spaces and parentheses: the fields after the last ")" are fixed
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        tree.setdefault(ppid, []).append(int(entry.name))
    return tree


def _rss_bytes(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def tree_rss(root: int | None = None) -> int:
    """Resident bytes of ``root`` (default: this process) and all its descendants now."""
    tree, total, todo = _children(), 0, [root or os.getpid()]
    while todo:
        pid = todo.pop()
        total += _rss_bytes(pid)
        todo.extend(tree.get(pid, []))
    return total


class PeakMemory:
    """``with PeakMemory() as peak: ...`` then ``peak.bytes``: the highest tree RSS seen meanwhile
    (of ``root``, default this process; the sampler adds the process tree of that moment)."""

    def __init__(self, root: int | None = None, interval_s: float = 0.25) -> None:
        self.root = root
        self.interval_s = interval_s
        self.bytes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while True:
            self.bytes = max(self.bytes, tree_rss(self.root))
            if self._stop.wait(self.interval_s):
                return

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        self._thread.join()
        self.bytes = max(self.bytes, tree_rss(self.root))

    @property
    def mib(self) -> float:
        return self.bytes / 2**20
