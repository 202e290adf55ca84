"""The report's figures, drawn with matplotlib (Agg) and returned as base64 PNG for an <img> tag."""
from __future__ import annotations

import base64
import io

import numpy as np

BLUE, RED, GREY = "#3a6ea5", "#c0392b", "#9aa5b1"


def _plt():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def to_png(fig) -> str:
    """The figure as a base64 PNG (the figure is closed)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=96, bbox_inches="tight")
    _plt().close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def score_histogram(scores: list[float], points: float) -> str:
    """Students per total score (bins of one point, or finer for small totals)."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.4, 2.6))
    top = max(points, max(scores, default=0.0), 1.0)
    step = 0.5 if top <= 12 else 1.0
    edges = np.arange(0, top + step * 1.001, step)
    ax.hist(scores, bins=edges, color=BLUE, edgecolor="white")
    ax.set_xlabel(f"score (of {points:g} points)")
    ax.set_ylabel("students")
    ax.set_title(f"Scores of {len(scores)} students")
    ax.yaxis.get_major_locator().set_params(integer=True)
    return to_png(fig)


def pass_rates(checks: list[dict], limit: int = 12) -> str:
    """Horizontal bars: the pass rate of each check, hardest at the top."""
    plt = _plt()
    rows = checks[:limit]
    fig, ax = plt.subplots(figsize=(7.5, 0.26 * len(rows) + 0.9))
    labels = [f"{r['exercise']} · {r['check'][:48]}" for r in rows]
    ax.barh(range(len(rows)), [100 * r["pass_rate"] for r in rows], color=BLUE)
    ax.set_yticks(range(len(rows)), labels, fontsize=7)
    ax.invert_yaxis()
    ax.set_xlim(0, 100)
    ax.set_xlabel("students who pass (%)")
    ax.set_title("Hardest checks first" + (f" (first {limit})" if len(checks) > limit else ""))
    return to_png(fig)


def misconception_bars(exercise: str, groups: list[dict]) -> str:
    """Horizontal bars: students per diagnosis code of one exercise, most common at the top."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.4, 0.32 * len(groups) + 0.9))
    ax.barh(range(len(groups)), [g["count"] for g in groups], color=RED)
    ax.set_yticks(range(len(groups)), [g["code"] for g in groups], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("students")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.set_title(f"{exercise}: misconceptions")
    return to_png(fig)


def similarity_histogram(exercise: str, result: dict) -> str:
    """The distribution over all pairs of one exercise: the raw similarity (only the stub left out)
    and the similarity of distinctive code (class-common code left out too), with the threshold."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.4, 2.6))
    edges = np.linspace(0, 1, 21)
    raw = result["raw"]
    distinctive = [p["similarity"] for p in result["pairs"]]
    if raw:
        ax.hist(raw, bins=edges, color=GREY, alpha=0.7, label=f"all code but the stub ({len(raw)} pairs)")
    if distinctive:
        ax.hist(distinctive, bins=edges, color=BLUE, alpha=0.85,
                label=f"distinctive code ({len(distinctive)} pairs)")
    threshold = result["baseline"]["threshold"]
    ax.axvline(threshold, color=RED, linestyle="--", label=f"flag at {threshold:.2f}")
    ax.set_yscale("symlog", linthresh=1)
    ax.set_xlim(0, 1)
    ax.set_xlabel("similarity of a pair")
    ax.set_ylabel("pairs")
    ax.set_title(f"{exercise}: similarity over all pairs")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return to_png(fig)


def reference_strip(results: dict[str, dict]) -> str:
    """Each answer's share found in backprop_lab's source, one row per exercise, with the threshold."""
    plt = _plt()
    keys = list(results)
    fig, ax = plt.subplots(figsize=(6.4, 0.45 * len(keys) + 1.0))
    rng = np.random.default_rng(0)
    for i, key in enumerate(keys):
        values = list(results[key]["scores"].values())
        flagged = {f["student"] for f in results[key]["flagged"]}
        colors = [RED if s in flagged else BLUE for s in results[key]["scores"]]
        ax.scatter(values, i + rng.uniform(-0.15, 0.15, len(values)), c=colors, s=14)
        ax.plot([results[key]["baseline"]["threshold"]] * 2, [i - 0.35, i + 0.35], color=RED, linestyle="--")
    ax.set_yticks(range(len(keys)), keys, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(-0.02, 1.02)
    ax.set_xlabel("share of the answer found in backprop_lab's source (dashed: flag threshold)")
    ax.set_title("Answers against the reference library")
    return to_png(fig)
