"""What every benchmark report needs: the machine it ran on, and its own section of docs/benchmarks.md."""

from __future__ import annotations

import os
import platform
import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"


def machine(memory: bool = True) -> str:
    """``"<cpu>, <n> cores[, <m> GiB RAM], <os> <release>, Python <version>"``."""
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    if memory:
        try:
            found = re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text())
            if found:
                mem = f", {int(found.group(1)) / 1024 / 1024:.0f} GiB RAM"
        except OSError:
            pass
    system = f"{platform.system()} {platform.release()}, Python {platform.python_version()}"
    return f"{cpu}, {os.cpu_count()} cores{mem}, {system}"


def write_section(section: str, start: str, end: str) -> None:
    """Replace the text between ``start`` and ``end`` (markers included) or append the section."""
    text = DOC.read_text() if DOC.exists() else "# Benchmarks\n"
    if start in text and end in text:
        head, rest = text.split(start, 1)
        _, tail = rest.split(end, 1)
        text = head + section.rstrip("\n") + tail
    else:
        text = text.rstrip("\n") + "\n\n" + section.rstrip("\n") + "\n"
    DOC.write_text(text)
