"""The report's figures, drawn with matplotlib's Agg backend so that regeneration is byte-stable.

Each figure is written as PNG (for reading) and SVG (for papers). Stability: a fixed SVG hash salt,
no dates in the files' metadata, a fixed size and DPI, and inputs sorted before drawing.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from .figures import success_by_gap  # noqa: E402
from .stats import critical_gap  # noqa: E402

STYLE = {
    "svg.hashsalt": "vgsuite",
    "svg.fonttype": "none",
    "figure.dpi": 100,
    "savefig.dpi": 100,
    "font.size": 9,
    "axes.grid": True,
    "grid.alpha": 0.3,
}
METADATA = {
    "png": {"Software": "vgsuite (matplotlib Agg)"},
    "svg": {"Date": None, "Creator": "vgsuite (matplotlib)"},
}


def _save(fig, path_stem: Path) -> list[str]:
    written = []
    for ext in ("png", "svg"):
        path = path_stem.with_suffix(f".{ext}")
        fig.savefig(path, format=ext, metadata=METADATA[ext], bbox_inches=None)
        written.append(path.name)
    plt.close(fig)
    return written


def _none_to_nan(values) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in values], dtype=float)


def gradient_panels(overview: dict, archs: list[str], path_stem: Path, title: str) -> list[str]:
    """F1: batch-mean log10 ||dL/dh_{T-k}|| vs k, one panel per task, one line per architecture."""
    with plt.rc_context(STYLE):
        tasks = sorted(overview)
        fig, axes = plt.subplots(1, len(tasks), figsize=(4.2 * len(tasks), 3.6), sharey=True)
        for ax, task in zip(np.atleast_1d(axes), tasks):
            for arch in archs:
                data = overview[task][arch]
                ax.plot(data["k"], _none_to_nan(data["log10_grad"]), label=arch, linewidth=1.2)
            ax.set_title(task)
            ax.set_xlabel("distance k (steps before the loss)")
        np.atleast_1d(axes)[0].set_ylabel("log10 ||dL/dh_(T-k)||")
        np.atleast_1d(axes)[-1].legend(fontsize=7, loc="lower left")
        fig.suptitle(title)
        fig.tight_layout()
        return _save(fig, path_stem)


def saliency_curves(overview_task: dict, archs: list[str], path_stem: Path, title: str) -> list[str]:
    """F4: batch-mean log10 ||dy_T/dx_{T-k}|| vs k per architecture."""
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(6, 3.8))
        for arch in archs:
            data = overview_task[arch]
            ax.plot(data["saliency_k"], _none_to_nan(data["log10_saliency"]), label=arch, linewidth=1.2)
        ax.set_xlabel("lag k (steps before the output)")
        ax.set_ylabel("log10 ||dy_T/dx_(T-k)||")
        ax.legend(fontsize=7)
        ax.set_title(title)
        fig.tight_layout()
        return _save(fig, path_stem)


def success_panels(rows: list[dict]) -> dict:
    """F2's panels: {(task, protocol, "architectures" | "mitigations"): {arm: rows}}.

    Architectures at their defaults go in one panel, mitigation arms in another, with rnn-tanh
    as their reference where a task has any: one panel with every arm is unreadable."""
    def kind(row):
        return "mitigations" if ", " in row["arm"] else "architectures"

    mitigated = {(row["task"], row["protocol"]) for row in rows if kind(row) == "mitigations"}
    groups: dict = {}
    for row in rows:
        panels = {kind(row)}
        if row["arm"] == "rnn-tanh" and (row["task"], row["protocol"]) in mitigated:
            panels.add("mitigations")
        for panel in panels:
            groups.setdefault((row["task"], row["protocol"], panel), {}).setdefault(row["arm"], []).append(row)
    return groups


def success_vs_gap(rows: list[dict], path_stem: Path, title: str) -> list[str]:
    """F2: success rate vs gap per arm, one panel per (task, protocol, arm kind)."""
    groups = success_panels(rows)
    with plt.rc_context(STYLE):
        n = max(len(groups), 1)
        cols = min(n, 3)
        rows_ = -(-n // cols)
        fig, axes = plt.subplots(rows_, cols, figsize=(5.2 * cols, 4.2 * rows_), squeeze=False)
        for ax in axes.flat[n:]:
            ax.set_visible(False)
        axes = [list(axes.flat)]
        for ax, ((task, protocol, panel), arms) in zip(axes[0], sorted(groups.items())):
            for arm, arm_rows in sorted(arms.items()):
                arm_rows = sorted(arm_rows, key=lambda r: r["gap"])
                ax.plot([r["gap"] for r in arm_rows], [r["rate"] for r in arm_rows], marker="o",
                        markersize=3, linewidth=1, label=arm)
            ax.set_xscale("log")
            ax.set_ylim(-0.05, 1.05)
            ax.set_title(f"{task.split(' (')[0]}: {panel}\n{protocol}", fontsize=8)
            ax.set_xlabel("gap")
            ax.set_ylabel("fraction of seeds solved")
            ax.legend(fontsize=6)
        if not groups:
            axes[0][0].text(0.5, 0.5, "no training runs in the store", ha="center", va="center")
        fig.suptitle(title)
        fig.tight_layout()
        return _save(fig, path_stem)


def critical_gap_bars(rows: list[dict], path_stem: Path, title: str) -> list[str]:
    """F3: critical gap per arm (0 when even the smallest gap fails), hatched when only a lower bound."""
    with plt.rc_context(STYLE):
        rows = sorted(rows, key=lambda r: (r["task"], r["protocol"], r["arm"]))
        fig, ax = plt.subplots(figsize=(8, 0.28 * max(len(rows), 4) + 1.2))
        labels = [f"{r['task'].split(' (')[0]} | {r['arm']}" for r in rows]
        values = [r["critical gap"] or 0 for r in rows]
        bars = ax.barh(range(len(rows)), values, color="tab:blue")
        for bar, row in zip(bars, rows):
            if row["fails at"] is None:
                bar.set_hatch("//")  # every gap of the ladder solved: a lower bound
        ax.set_yticks(range(len(rows)), labels, fontsize=6)
        ax.invert_yaxis()
        ax.set_xlabel("critical gap (>= 80 % of seeds solve it and every smaller gap)\n"
                      "hatched: every gap of the ladder solved, a lower bound")
        ax.set_title(title)
        fig.tight_layout()
        return _save(fig, path_stem)


def critical_gap_vs_budget(runs: dict, budgets, path_stem: Path, title: str) -> list[str]:
    """F5: each arm's critical gap read at every step budget from the same runs, one panel per task
    (0 when even the first gap fails; an open marker where no gap of the ladder failed: a lower bound)."""
    budgets = sorted(budgets)
    by_budget = {b: success_by_gap(runs, b) for b in budgets}
    panels: dict = {}
    for key in runs:
        panels.setdefault(key[0], []).append(key)
    with plt.rc_context(STYLE):
        n = max(len(panels), 1)
        fig, axes = plt.subplots(1, n, figsize=(5.6 * n, 4.6), squeeze=False)
        for ax, (task, keys) in zip(axes[0], sorted(panels.items())):
            for key in sorted(keys):
                values, bounds = [], []
                for b in budgets:
                    critical, (_, upper) = critical_gap(by_budget[b][key], 0.8)
                    values.append(critical or 0)
                    bounds.append(upper is None)
                line, = ax.plot(budgets, values, marker="o", markersize=3, linewidth=1,
                                label=f"{key[2]} (lr {key[3]:g})")
                ax.plot([b for b, lb in zip(budgets, bounds) if lb], [v for v, lb in zip(values, bounds) if lb],
                        linestyle="none", marker="o", markersize=7, markerfacecolor="none",
                        color=line.get_color())
            ax.set_yscale("symlog", linthresh=5)
            ax.set_xticks(budgets)
            ax.set_title(task.split(" (")[0], fontsize=8)
            ax.set_xlabel("step budget")
            ax.set_ylabel("critical gap (open marker: lower bound)")
            ax.legend(fontsize=5, ncol=2)
        fig.suptitle(title)
        fig.tight_layout()
        return _save(fig, path_stem)


def survival_curves(survival: dict, path_stem: Path, title: str) -> list[str]:
    """F6: Kaplan-Meier fraction of runs not yet solved vs steps, one panel per (task, protocol, arm),
    one step curve per gap with its pointwise 95 % band; a curve ends at its last observed step."""
    with plt.rc_context(STYLE):
        n = max(len(survival), 1)
        cols = min(n, 3)
        rows_ = -(-n // cols)
        fig, axes = plt.subplots(rows_, cols, figsize=(4.6 * cols, 3.6 * rows_), squeeze=False)
        for ax in axes.flat[n:]:
            ax.set_visible(False)
        for ax, ((task, protocol, arm, lr), gaps) in zip(axes.flat, sorted(survival.items())):
            for gap, km in sorted(gaps.items()):
                xs = [0.0, *km.times, km.last]
                ys = [1.0, *km.survival, km.survival[-1] if km.survival else 1.0]
                line, = ax.step(xs, ys, where="post", linewidth=1.2, label=f"gap {gap} (n={km.n})")
                if km.times:
                    ax.fill_between([0.0, *km.times, km.last], [1.0, *km.ci_low, km.ci_low[-1]],
                                    [1.0, *km.ci_high, km.ci_high[-1]], step="post", alpha=0.15,
                                    color=line.get_color(), linewidth=0)
            ax.set_ylim(-0.02, 1.02)
            ax.set_title(f"{task.split(' (')[0]}: {arm} (lr {lr:g})\n{protocol}", fontsize=8)
            ax.set_xlabel("training steps")
            ax.set_ylabel("fraction of runs not yet solved")
            ax.legend(fontsize=6)
        if not survival:
            axes[0][0].text(0.5, 0.5, "no training runs in the store", ha="center", va="center")
        fig.suptitle(title)
        fig.tight_layout()
        return _save(fig, path_stem)
