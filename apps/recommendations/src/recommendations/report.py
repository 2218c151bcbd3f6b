"""The comparison as Markdown tables, JSON and a PNG plot of HitRate@K (matplotlib, ``plot`` extra)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from recommendations.comparison import Comparison

#: the block of docs/recommendations.md that ``python -m recommendations.compare --docs`` rewrites
BEGIN, END = "<!-- comparison:begin -->", "<!-- comparison:end -->"


def markdown_tables(comparison: Comparison) -> str:
    """One table per cut-off (ranking metrics and coverage) and one of timings and reach."""
    out = []
    names = list(comparison.results)
    for k in comparison.spec.cutoffs:
        out += [
            f"| model | HitRate@{k} | Precision@{k} | Recall@{k} | NDCG@{k} | MAP@{k} "
            f"| coverage@{k} | items |",
            "|---|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for name in names:
            m = comparison.results[name].metrics[k]
            out.append(
                f"| {name} | {m.hit_rate:.4f} | {m.precision:.4f} | {m.recall:.4f} | {m.ndcg:.4f} | "
                f"{m.map:.4f} | {m.coverage:.2%} | {m.items_recommended:,} |"
            )
        out.append("")
    k = comparison.spec.k
    out += [
        f"| model | users served | personalised@{k} | training (s) | scoring (s) |",
        "|---|---:|---:|---:|---:|",
    ]
    for name in names:
        r = comparison.results[name]
        m = r.metrics[k]
        out.append(
            f"| {name} | {m.users} | {m.personalised:.2%} | {r.train_seconds:.1f} | {r.score_seconds:.1f} |"
        )
    return "\n".join(out) + "\n"


def markdown_params(comparison: Comparison) -> str:
    """The parameters every model ran with (the tuned ones for item-kNN and EASE^R)."""
    lines = []
    for name, r in comparison.results.items():
        params = ", ".join(f"`{key}={value}`" for key, value in r.params.items())
        tuned = ""
        if r.tuning:
            tuned = (
                f" (chosen among {len(r.tuning)} on the validation split)"
                if r.tuning[0]["params"]
                else " (not tuned; scored on the validation split as given)"
            )
        lines.append(f"- **{name}**{tuned}: {params}")
    return "\n".join(lines) + "\n"


def markdown_tuning(report: dict[str, Any]) -> str:
    """One table per tuned model of :func:`recommendations.comparison.tuning_report`: every grid
    combination with its validation HitRate@K and coverage@K, the chosen one in bold."""
    k = report["k"]
    out = [
        f"Validation split: each user's last {report['validation_fraction']:.0%} of *training* ratings "
        f"({report['validation_users']} users with a validation positive). Rule: {report['rule']}.",
        "",
    ]
    floor = report.get("min_coverage", 0.0)
    for name, tuned in report["models"].items():
        names = list(tuned["grid"])
        grid = "; ".join(f"`{n}` ∈ {{{', '.join(str(v) for v in tuned['grid'][n])}}}" for n in names)
        title = f"grid {grid}" if names else "no grid (its parameters as given)"
        columns = names or ["parameters"]
        out += [
            f"**{name}** — {title} ({len(tuned['trials'])} combinations):",
            "",
            "| " + " | ".join(columns) + f" | validation HitRate@{k} | validation coverage@{k} | seconds |",
            "|" + "---:|" * (len(columns) + 3),
        ]
        for trial in tuned["trials"]:
            mark = "**" if trial["params"] == tuned["chosen"] else ""
            cells = [f"{mark}{trial['params'][n]}{mark}" for n in names] or [f"{mark}as given{mark}"]
            out.append(
                f"| {' | '.join(cells)} | {mark}{trial['hit_rate']:.4f}{mark} | "
                f"{mark}{trial['coverage']:.2%}{mark} | {trial.get('seconds', 0.0):.0f} |"
            )
        chosen = ", ".join(f"`{n}={v}`" for n, v in tuned["chosen"].items()) or "as given"
        out += ["", f"chosen: {chosen}"]
        if floor and not tuned.get("floor_met", True):
            out[-1] += (
                f" — no combination reaches validation coverage@{k} >= {floor * 100:g}%: "
                f"the highest validation coverage@{k} is taken"
            )
        out.append("")
    return "\n".join(out)


def markdown_verdict(comparison: Comparison) -> str:
    """The default model and why: each servable model's chosen combination on validation (what the
    choice reads) next to its test numbers (what is reported), the default in bold."""
    from recommendations.comparison import default_verdict

    verdict = default_verdict(comparison)
    k = comparison.spec.k
    if verdict is None:
        return "No servable model was scored on the validation split: no default model.\n"
    floor, chosen = verdict["min_coverage"], verdict["model"]
    if not floor:
        how = f"the best validation HitRate@{k}"
    elif verdict["floor_met"]:
        how = (
            f"the best validation HitRate@{k} among the models with validation coverage@{k} >= "
            f"{floor * 100:g}%"
        )
    else:
        how = (
            f"no model reaches validation coverage@{k} >= {floor * 100:g}%, so the highest validation "
            f"coverage@{k}"
        )
    out = [
        f"Default model, chosen on the validation split (each model's chosen combination; {how}): "
        f"**{chosen}**. The test numbers are reported, never used to choose.",
        "",
        f"| model | validation HitRate@{k} | validation coverage@{k} | test HitRate@{k} "
        f"| test coverage@{k} |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, v in verdict["validation"].items():
        m = comparison.results[name].metrics[k]
        b = "**" if name == chosen else ""
        cells = [
            name,
            f"{v['hit_rate']:.4f}",
            f"{v['coverage']:.2%}",
            f"{m.hit_rate:.4f}",
            f"{m.coverage:.2%}",
        ]
        out.append("| " + " | ".join(f"{b}{c}{b}" for c in cells) + " |")
    return "\n".join(out) + "\n"


def plot_hit_rate(comparison: Comparison, path: Path) -> None:
    """HitRate@K for K = 1..curve_max_k, one line per model, as a PNG."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise RuntimeError("the plot needs matplotlib: pip install 'sparkjobs[plot]'") from exc
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=100)
    for name, r in comparison.results.items():
        ks = sorted(r.curve)
        ax.plot(ks, [r.curve[k] for k in ks], label=name, linewidth=1.8)
    ax.set_xlabel("K (recommendations shown)")
    ax.set_ylabel("HitRate@K")
    ax.set_title(f"MovieLens per-user temporal hold-out ({comparison.users} users)")
    ax.set_xlim(1, comparison.spec.curve_max_k)
    ax.set_ylim(0, 1)
    ax.grid(True, alpha=0.3)
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, metadata={"Software": None})
    plt.close(fig)


def replace_block(text: str, block: str, where: str) -> str:
    """``text`` with what is between :data:`BEGIN` and :data:`END` replaced by ``block``."""
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < start:
        raise ValueError(f"{where} has no '{BEGIN}' ... '{END}' block to replace")
    return text[: start + len(BEGIN)] + "\n" + block + text[end:]
