"""The Python snippets inside deploy/test/stack_checklist.sh compile on this Python.

The checklist runs only at the end of the ~10-minute deployment test, against a live stack; a
SyntaxError in one of its ``"$py" -c '...'`` snippets (a backslash inside an f-string, once fixed and
later brought back by a merge) surfaced only there. Compiling them here catches it in the unit tier.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
SCRIPT = ROOT / "deploy" / "test" / "stack_checklist.sh"
SNIPPET = re.compile(r'"\$py" -c \'(.*?)\'', re.DOTALL)


def test_every_python_snippet_of_the_checklist_compiles() -> None:
    snippets = SNIPPET.findall(SCRIPT.read_text())
    assert len(snippets) >= 5, f"expected the checklist's python snippets in {SCRIPT}, found {len(snippets)}"
    for number, code in enumerate(snippets, 1):
        compile(code, f"{SCRIPT.name} snippet {number}", "exec")
