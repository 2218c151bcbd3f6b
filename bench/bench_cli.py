"""How long the ``sparkjobs`` command takes to start, next to a bare interpreter, in one run.

    .venv/bin/python bench/bench_cli.py                 # 15 runs of each, median and best
    .venv/bin/python bench/bench_cli.py --repeat 3 --no-write
    .venv/bin/python bench/bench_cli.py --baseline-src /path/to/an/older/checkout/src   # side by side

Each command runs in a fresh interpreter (``python -m sparkjobs.cli ...``, the same code as the
``sparkjobs`` script), alternating with ``python -c pass``; the table goes into docs/benchmarks.md
between the ``cli-start`` markers. What the commands import is pinned by
tests/framework/unit/test_cli_imports.py (module names, not timings).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from _report import DOC, machine, write_section

START, END = "<!-- cli-start:start -->", "<!-- cli-start:end -->"
COMMANDS = {
    "python -c pass": ["-c", "pass"],
    "sparkjobs --help": ["-m", "sparkjobs.cli", "--help"],
    "sparkjobs list": ["-m", "sparkjobs.cli", "list"],
    "sparkjobs run hello_spark --dry-run": ["-m", "sparkjobs.cli", "run", "hello_spark", "--dry-run"],
}


def timings(repeat: int, src: Path | None = None) -> dict[str, list[float]]:
    """Seconds per fresh interpreter and command; ``src`` first on PYTHONPATH (another checkout)."""
    env = dict(os.environ)
    if src is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(src), *filter(None, [env.get("PYTHONPATH")])])
    out: dict[str, list[float]] = {name: [] for name in COMMANDS}
    for _ in range(repeat):
        for name, args in COMMANDS.items():
            started = time.perf_counter()
            subprocess.run(
                [sys.executable, *args],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                env=env,
                check=True,
            )
            out[name].append(time.perf_counter() - started)
    return out


def render(times: dict[str, list[float]], repeat: int, baseline: dict[str, list[float]] | None = None) -> str:
    med = statistics.median
    bare = med(times["python -c pass"])
    rows = []
    for name, t in times.items():
        row = f"| `{name}` | {med(t):.3f} s | {min(t):.3f} s | " + (
            "—" if name == "python -c pass" else f"+{med(t) - bare:.3f} s"
        )
        if baseline is not None:
            b = baseline[name]
            row += f" | {med(b):.3f} s | {med(t) / med(b):.2f}x"
        rows.append(row + " |")
    head = "| command | median | best | above bare Python (median) |"
    rule = "|---|---:|---:|---:|"
    if baseline is not None:
        head += " baseline median | this / baseline |"
        rule += "---:|---:|"
    return "\n".join(
        [
            START,
            "## CLI start",
            "",
            f"Measured by `bench/bench_cli.py` on {time.strftime('%Y-%m-%d')}: {machine(memory=False)}; "
            f"median and best of {repeat} fresh interpreters per command, alternating (load average "
            f"{os.getloadavg()[0]:.1f} at the end: other work shared the machine).",
            "",
            head,
            rule,
            *rows,
            *(
                ["", "Baseline: the same commands from another checkout, alternating within each round."]
                if baseline is not None
                else []
            ),
            "",
            "`--help` and `list` import neither pydantic, prometheus_client, yaml nor pyspark: the package's",
            "names load on first use, the redactor when an error is printed, and `list` reads each job's",
            "literal `JobMetadata(...)` from its source instead of importing it (sparkjobs/declared.py).",
            END,
        ]
    )


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/benchmarks.md alone")
    parser.add_argument("--baseline-src", type=Path, default=None, help="also time this src/ (side by side)")
    args = parser.parse_args(argv)
    ours: dict[str, list[float]] = {name: [] for name in COMMANDS}
    baseline: dict[str, list[float]] | None = None if args.baseline_src is None else {n: [] for n in COMMANDS}
    for _ in range(args.repeat):  # one round each, alternating, so that load changes hit both alike
        for name, t in timings(1).items():
            ours[name].extend(t)
        if baseline is not None:
            for name, t in timings(1, args.baseline_src).items():
                baseline[name].extend(t)
    section = render(ours, args.repeat, baseline)
    print(section)
    if not args.no_write:
        write_section(section, START, END)
        print(f"written to {DOC}")
    return section


if __name__ == "__main__":
    main()
