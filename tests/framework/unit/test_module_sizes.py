"""No module over ~400 lines without a reason written at its top (docs/architecture.md, size rule).

A long module states why in its first 40 lines with a line starting ``Why this module is long:``.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
LIMIT = 400
REASON = "Why this module is long:"


def test_every_long_module_says_why() -> None:
    unexplained = []
    sources = [ROOT / "src", *sorted(ROOT.glob("apps/*/src"))]  # the framework and the reference app
    for path in sorted(p for src in sources for p in src.rglob("*.py")):
        lines = path.read_text(encoding="utf-8").splitlines()
        if len(lines) > LIMIT and not any(REASON in line for line in lines[:40]):
            unexplained.append(f"{path.relative_to(ROOT)} ({len(lines)} lines)")
    assert not unexplained, f"modules over {LIMIT} lines without '{REASON}': {unexplained}"
