"""Who holds a run lock: this process's identity, and whether another process is still alive."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from pathlib import Path


def _read(path: str) -> str:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return ""


def process_node() -> str:
    """Identifies the PID namespace of this boot: equal nodes can check each other's PIDs."""
    boot = _read("/proc/sys/kernel/random/boot_id")
    try:
        pidns = str(os.stat("/proc/self/ns/pid").st_ino)
    except OSError:
        pidns = ""
    if not boot:  # not Linux: the host name is the best we have
        return f"host:{socket.gethostname()}"
    return f"{boot}:{pidns}"


def pid_alive(pid: int) -> bool:
    """True unless ``pid`` certainly does not run (gone, or a zombie waiting to be reaped)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, belongs to someone else
        return True
    stat = _read(f"/proc/{pid}/stat")
    if stat:
        state = stat.rsplit(")", 1)[-1].split()[:1]
        if state == ["Z"]:
            return False
    return True


@dataclass(frozen=True)
class Holder:
    """This process as a lock holder."""

    host: str
    node: str
    pid: int

    @classmethod
    def current(cls) -> Holder:
        return cls(socket.gethostname(), process_node(), os.getpid())
