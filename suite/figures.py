"""The numbers behind the report's cross-cutting tables and figures.

Claims carry their own tables; this module computes the overviews that span all of them:

* gradient panels (F1): batch-mean log10 ||dL/dh_{T-k}|| vs k for every architecture at its
  default initialisation, one panel per task, with the task's own loss (copy scored on its recall
  window, so that every panel follows a long-range signal; with the loss over all steps, direct
  terms at every step would mask the decay);
* the gradient-decay table (T3): decades per step for every architecture and mitigation arm,
  the mean over seeds with a bootstrap CI (seeds are the replicates);
* saliency curves (F4) and memory horizons (T4): log10 ||dy_T/dx_{T-k}|| vs k;
* success rate vs gap (F2) and critical gaps (T2, F3): every arm of training runs in the store,
  grouped by task variant, architecture with its mitigations, and training protocol; budget-bound
  cells (T5) and the critical gap read at every step budget from the same runs (T8, F5);
* time to solve (T9, F6): Kaplan-Meier curves of rnn-tanh, lstm and gru at their defaults per gap,
  unsolved runs censored at their last step (suite.survival), with the median read off the curve.

The probe overview behind the first three is measured (and cached) by suite.overview; this module
only reads it and the stored runs, never probes or trains.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from .catalogue import CATALOG, probed
from .labels import arm_label, spec_label
from .specs import ArchSpec
from .stats import critical_gap, wilson_ci
from .survival import kaplan_meier

TASKS = ("copy", "adding", "delayed_recall")


def decay_arms() -> list[tuple[str, dict]]:
    """The decay table's arms, in catalogue order (suite.catalogue, the rows with probed=True), each
    as (its label from suite.labels, its ArchSpec fields)."""
    return [(arm_label(ArchSpec(**CATALOG[name].fields)), CATALOG[name].fields) for name in probed()]


SURVIVAL_ARCHS = ("rnn-tanh", "lstm", "gru")   # F6 / T9: the plain architectures at their defaults
PANEL_ARCHS = ["rnn-tanh", "rnn-sigmoid", "rnn-relu", "irnn", "lstm", "gru", "resrnn", "rnn-attention"]


def decay_rows(overview: dict) -> list[dict]:
    rows = []
    for label, _ in decay_arms():
        row = {"arm": label}
        for task in TASKS:
            data = overview[task][label]
            row[f"{task} decay/step"] = data["decay"]
            row[f"{task} 95% CI"] = tuple(data["decay_ci"])
        row["n"] = overview[TASKS[0]][label]["n"]
        rows.append(row)
    return rows


def horizon_rows(overview: dict) -> list[dict]:
    rows = []
    for label, _ in decay_arms():
        data = overview["delayed_recall"][label]
        horizons = data["horizons"]
        rows.append({
            "arm": label,
            "median horizon (steps)": float(np.median(horizons)),
            "min": min(horizons),
            "max": max(horizons),
            "censored": sum(data["horizon_censored"]),
            "n": len(horizons),
        })
    return rows


# --------------------------------------------------------------------------- from the store


def task_label(spec: dict) -> str:
    task = spec["task"]
    options = ", ".join(f"{k}={v}" for k, v in task["options"])
    return f"{task['name']} ({options})" if options else task["name"]


def protocol_label(spec: dict) -> str:
    """Width, optimizer, step budget and batch (the learning rate is per arm: a column of its own)."""
    t = spec["train"]
    return f"H={spec['arch']['hidden']}, {t['optimizer']}, {t['steps']} steps, batch {t['batch_size']}"


#: a cell is budget-bound when its median time to solve (unsolved runs counted as never) exceeds
#: this fraction of the step budget: more steps could change what it shows
BUDGET_BOUND_FRACTION = 0.5


def _time(record) -> int:
    """Steps to solve of a solved run; the last step of an unsolved one (where it is censored)."""
    result, budget = record.result, record.spec["train"]["steps"]
    if result.get("solved"):
        # a solved run without a recorded solve step counts as solved at its own budget only
        return result.get("steps_to_solve") or budget
    return result.get("steps_run") or budget


def runs_by_gap(records) -> dict:
    """{(task, protocol, arm, lr): {gap: [(solved, steps to solve or last step, step budget), ...]}}."""
    table: dict = defaultdict(lambda: defaultdict(list))
    for record in records:
        spec = record.spec
        key = (task_label(spec), protocol_label(spec), spec_label(spec), spec["train"]["lr"])
        table[key][spec["task"]["gap"]].append(
            (bool(record.result.get("solved")), _time(record), spec["train"]["steps"]))
    return {arm: dict(sorted(gaps.items())) for arm, gaps in sorted(table.items())}


def _solved_by(run, budget: int | None) -> bool:
    solved, steps, _ = run
    return solved and (budget is None or steps <= budget)


def success_by_gap(runs: dict, budget: int | None = None) -> dict:
    """{arm key: {gap: (solved, n)}}, a run counting as solved at `budget` steps if it had solved
    by then (None: its own budget)."""
    return {arm: {gap: (sum(_solved_by(r, budget) for r in rs), len(rs)) for gap, rs in gaps.items()}
            for arm, gaps in runs.items()}


def survival(cell: list):
    """Kaplan-Meier curve of one cell's runs, unsolved runs censored at their last step."""
    return kaplan_meier([steps for _, steps, _ in cell], [solved for solved, _, _ in cell])


def success_rows(runs: dict) -> list[dict]:
    rows = []
    for (task, protocol, arm, lr), gaps in runs.items():
        for gap, cell in gaps.items():
            k, n = sum(r[0] for r in cell), len(cell)
            lo, hi = wilson_ci(k, n)
            median = survival(cell).median
            budget = max(r[2] for r in cell)
            rows.append({"task": task, "protocol": protocol, "arm": arm, "gap": gap,
                         "solved": k, "n": n, "rate": k / n, "95% CI": (lo, hi), "lr": lr,
                         "median steps to solve": "not reached" if median is None else median,
                         "budget-bound": ("yes" if median is None or median > BUDGET_BOUND_FRACTION * budget
                                          else "")})
    return rows


def critical_gap_rows(runs: dict, threshold: float = 0.8) -> list[dict]:
    rows = []
    for (task, protocol, arm, lr), gaps in success_by_gap(runs).items():
        critical, (lower, upper) = critical_gap(gaps, threshold)
        rows.append({
            "task": task, "protocol": protocol, "arm": arm,
            "critical gap": critical, "fails at": upper, "lr": lr,
            "ladder": ",".join(str(g) for g in gaps), "seeds": max(n for _, n in gaps.values()),
        })
    return rows


def critical_gap_by_budget(runs: dict, budgets, threshold: float = 0.8) -> list[dict]:
    """Table T8 / figure F5: each arm's critical gap read at every budget from the same runs."""
    budgets = sorted(budgets)
    by_budget = {b: success_by_gap(runs, b) for b in [*budgets, None]}
    rows = []
    for key, gaps in runs.items():
        task, protocol, arm, lr = key
        row = {"task": task, "protocol": protocol, "arm": arm, "lr": lr}
        own = max(r[2] for cell in gaps.values() for r in cell)
        texts = []
        for b in [*budgets, None]:
            critical, (_, upper) = critical_gap(by_budget[b][key], threshold)
            text = f"[{critical or 0}, {upper})" if upper is not None else f">= {critical}"
            if b is None:  # a protocol with a longer budget than the last read (the copy slice)
                row["at its own budget"] = f"{text} at {own}" if own > budgets[-1] else ""
                if own <= budgets[-1]:
                    break
            else:
                row[f"<= {b} steps"] = text
            texts.append(text)
        row["changes with budget"] = "yes" if len(set(texts)) > 1 else ""
        rows.append(row)
    return rows


def survival_by_gap(runs: dict, archs=SURVIVAL_ARCHS) -> dict:
    """{(task, protocol, arm, lr): {gap: KaplanMeier}} for the arms of `archs` at their defaults."""
    return {key: {gap: survival(cell) for gap, cell in gaps.items()}
            for key, gaps in runs.items() if key[2] in archs}


def survival_rows(curves: dict) -> list[dict]:
    rows = []
    for (task, protocol, arm, lr), gaps in curves.items():
        for gap, km in gaps.items():
            rows.append({"task": task, "protocol": protocol, "arm": arm, "lr": lr, "gap": gap, "n": km.n,
                         "solved": km.events, "median steps to solve": km.median,
                         "median 95% CI": km.quantile_ci(0.5), "25% solved by": km.quantile(0.25),
                         "75% solved by": km.quantile(0.75)})
    return rows
