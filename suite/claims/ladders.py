"""Gap-ladder experiments shared by the learning (L1-L4, L6) and mitigation (M1-M7) claims.

An *arm* is one architecture with its mitigations and its training protocol, run on one task at
every gap of a ladder with the same replicate seeds. The claims read three things from an arm's
runs, all defined here once so that every claim means the same by them:

* **success**: a run is solved when the task's own criterion holds on the held-out evaluation set
  within the step budget (accuracy >= 0.99 for delayed recall and copy, MSE <= 0.01 for adding);
  the success rate at a gap has a Wilson 95 % interval.
* **critical gap**: the largest ladder gap up to which at least `CRITICAL_FRACTION` (80 %) of the
  seeds solve, walking up the ladder (`suite.stats.critical_gap`), bracketed by the first failing
  gap; it is a lower bound when no gap failed. Always reported with its ladder.
* **reach** of one seed: the largest ladder gap g such that this seed solved every gap <= g (0 when
  it fails the first rung). A per-seed ordinal outcome over the whole ladder, so two arms can be
  compared with a one-sided Mann-Whitney test on their seeds' reaches; the critical gap is the
  population-level version of the same walk. Runs at different gaps of one seed are different
  runs (data and initial weights are derived from the task, gap included), so seeds stay
  independent replicates.
* **plateau**: the number of steps until the evaluation loss first falls below
  `PLATEAU_FRACTION` (90 %) of the memoryless baseline loss; a run that never gets there is
  censored at its last step (it never left the plateau). Resolution: the evaluation interval.
* **steps to solve**, censored: unsolved runs rank after every solved one (budget + one interval).
  As survival data (suite.survival): solved runs are events at their steps to solve, unsolved runs
  are right-censored at their last step; the Kaplan-Meier median is the time to solve the tables
  print (None when fewer than half the runs solve).
* **outcome score** of one run, lower is better: its steps to solve if it solved, else the budget
  plus budget x (final eval loss / memoryless loss). Every solved run ranks before every unsolved
  one, and among unsolved runs the one that got further from the baseline ranks first, so the
  score orders runs the criterion alone would tie (used for L6 and for M5's forget bias).

`fetch` trains what the store lacks through `suite.sweep.ensure_runs` (a temporary store when the
context has none) and reads the results back.
"""

from __future__ import annotations

import math
import os
import random
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from .. import stats
from ..engine.protocol import RunResult
from ..labels import mitigation_label
from ..specs import ArchSpec, RunSpec, TaskSpec, TrainSpec
from ..store import Store
from ..survival import KaplanMeier, kaplan_meier
from ..sweep import ensure_runs, load_results
from .base import Context
from .compare import ALPHA, Comparison, compare

CRITICAL_FRACTION = 0.8   # a gap is "solved" by an arm when >= 80 % of its seeds solve it
PLATEAU_FRACTION = 0.9    # a run has left the plateau once eval loss < 90 % of the baseline
DIVERGED_SPIKE = 1e6      # loss_spike of a run that diverged (finite, so the tests can rank it)


# -- arms and their runs -----------------------------------------------------------------------

@dataclass(frozen=True)
class Arm:
    """One architecture + mitigations + protocol, on one task, over a gap ladder."""

    label: str                 # e.g. "lstm fb=1", "rnn-tanh clip=1": the row name in tables
    task: str
    arch: ArchSpec
    train: TrainSpec
    gaps: tuple[int, ...]
    n_seeds: int = 5           # replicate seeds per gap: context.seeds(n_seeds)
    task_options: tuple = ()

    def spec(self, gap: int, seed: int, device: str = "cpu") -> RunSpec:
        return RunSpec(TaskSpec(self.task, gap, self.task_options), self.arch, self.train, seed, device)

    def specs(self, context: Context) -> list[RunSpec]:
        return [self.spec(gap, seed, context.device) for gap in self.gaps
                for seed in context.seeds(self.n_seeds)]

    def at(self, *gaps: int) -> Arm:
        """The same arm on other gaps (e.g. the one gap a test is decided at)."""
        return replace(self, gaps=tuple(gaps))

    def describe(self) -> dict:
        arch, train = self.arch, self.train
        out = {"task": self.task, "arch": arch.name, "hidden": arch.hidden, "layers": arch.layers,
               "init": arch.init, "ladder": list(self.gaps), "steps": train.steps,
               "optimizer": train.optimizer, "lr": train.lr, "batch_size": train.batch_size,
               "seeds_per_gap": self.n_seeds}
        if arch.init_gain != 1.0:
            out["init_gain"] = arch.init_gain
        if arch.forget_bias is not None:
            out["forget_bias"] = arch.forget_bias
        if arch.options:
            out["options"] = dict(arch.options)
        if train.clip is not None:
            out["clip"] = f"{train.clip:g} ({train.clip_mode})"
        return out


def all_specs(arms, context: Context) -> list[RunSpec]:
    out: dict[str, RunSpec] = {}
    for arm in arms:
        for spec in arm.specs(context):
            out.setdefault(spec.key, spec)
    return list(out.values())


def fetch(context: Context, specs: list[RunSpec]) -> dict[str, RunResult]:
    """key -> RunResult for `specs`, training those the store lacks.

    The pending runs are handed over in an order shuffled by process id: concurrent processes on
    one shared store (pytest-xdist workers) then rarely train the same run at once, and each
    checks the store again before every run. The order sets only which group trains first: the
    groups themselves, and so every result, are decided by the specs (suite.sweep.group_runs).
    """
    order = list(specs)
    random.Random(os.getpid()).shuffle(order)
    if context.store is not None:
        ensure_runs(order, context.store, workers=context.workers, executor=context.executor, progress=False)
        return load_results(specs, context.store)
    with tempfile.TemporaryDirectory(prefix="vgsuite-") as tmp:
        with Store(Path(tmp) / "runs.sqlite") as store:
            ensure_runs(order, store, workers=context.workers, executor=context.executor, progress=False)
            return load_results(specs, store)


# -- what one run says ---------------------------------------------------------------------------

def plateau_length(result: RunResult, fraction: float = PLATEAU_FRACTION) -> tuple[int, bool]:
    """(steps until eval loss < fraction * baseline loss, left?). Never left: (last step, False)."""
    limit = fraction * result.baseline_loss
    for point in result.evals:
        if point.loss is not None and math.isfinite(point.loss) and point.loss < limit:
            return point.step, True
    last = result.evals[-1].step if result.evals else result.steps_run
    return max(last, result.steps_run), False


def censored_steps(result: RunResult, train: TrainSpec) -> int:
    """Steps to solve; an unsolved run counts as budget + one interval (slower than any solve)."""
    if result.solved and result.steps_to_solve is not None:
        return result.steps_to_solve
    return train.steps + train.eval_every


def outcome_score(result: RunResult, train: TrainSpec) -> float:
    """Steps to solve; unsolved: budget * (1 + final loss / baseline loss); diverged: budget * 3."""
    if result.solved and result.steps_to_solve is not None:
        return float(result.steps_to_solve)
    loss = result.final_loss
    if result.diverged or loss is None or not math.isfinite(loss):
        return 3.0 * train.steps
    return train.steps * (1.0 + min(loss / result.baseline_loss, 2.0))


def loss_spike(result: RunResult) -> float:
    """The largest interval-mean training loss over the memoryless loss (inf if it diverged)."""
    finite = [x for x in result.train_loss if x is not None and math.isfinite(x)]
    if result.diverged or len(finite) < len(result.train_loss):
        return DIVERGED_SPIKE
    return max(finite, default=result.baseline_loss) / result.baseline_loss


# -- what an arm says ----------------------------------------------------------------------------

@dataclass
class GapOutcome:
    """One arm at one gap: its seeds' outcomes."""

    arm: str
    gap: int
    solved: list[bool]
    steps: list[int]                  # censored steps to solve, one per seed
    plateau: list[int]                # plateau length, one per seed (censored when not left)
    left: list[bool]                  # left the plateau within the budget
    diverged: list[bool]
    final_loss: list[float]
    score: list[float] = field(default_factory=list)   # outcome score, one per seed
    spike: list[float] = field(default_factory=list)   # max interval training loss / baseline
    params: int = 0                   # trainable parameters (the same for every seed)
    last_step: list[int] = field(default_factory=list)  # steps each run trained (solved: its solve step)

    @property
    def n(self) -> int:
        return len(self.solved)

    @property
    def k(self) -> int:
        return int(sum(self.solved))

    @property
    def rate(self) -> float:
        return self.k / self.n

    def time_to_solve(self) -> tuple[list[int], list[bool]]:
        """Per seed (steps, solved?): steps to solve, or the last step trained when unsolved."""
        last = self.last_step or self.steps  # a cell built without last steps: censored at the budget
        times = [s if ok else end for s, ok, end in zip(self.steps, self.solved, last)]
        return times, list(self.solved)

    def survival(self) -> KaplanMeier:
        return kaplan_meier(*self.time_to_solve())

    def row(self, task: str) -> dict:
        lo, hi = stats.wilson_ci(self.k, self.n)
        left_plateau = [p for p, ok in zip(self.plateau, self.left) if ok]
        return {
            "task": task, "arm": self.arm, "gap": self.gap, "solved": self.k, "n": self.n,
            "rate": round(self.rate, 3), "rate_ci": [round(lo, 3), round(hi, 3)],
            "km_median_steps": self.survival().median,
            "never_left_plateau": int(sum(not x for x in self.left)),
            "median_plateau_left": float(np.median(left_plateau)) if left_plateau else None,
            "diverged": int(sum(self.diverged)),
            "median_final_loss": _median(self.final_loss),
        }


def _median(values) -> float | None:
    finite = [v for v in values if v is not None and math.isfinite(v)]
    return round(float(np.median(finite)), 4) if finite else None


@dataclass
class ArmOutcome:
    arm: Arm
    seeds: list[int]
    cells: dict[int, GapOutcome] = field(default_factory=dict)

    def success(self) -> dict[int, tuple[int, int]]:
        return {gap: (cell.k, cell.n) for gap, cell in self.cells.items()}

    def critical(self) -> tuple[int | None, tuple[int | None, int | None]]:
        return stats.critical_gap(self.success(), CRITICAL_FRACTION)

    def reach(self, gaps=None) -> list[int]:
        """Per seed: the largest gap solved with every smaller ladder gap also solved (0: none);
        over `gaps` (default: the arm's whole ladder)."""
        gaps = tuple(self.arm.gaps if gaps is None else gaps)
        return seed_reach([[self.cells[g].solved[i] for g in gaps]
                           for i in range(len(self.seeds))], gaps)

    def critical_row(self) -> dict:
        crit, (lower, upper) = self.critical()
        return {
            "task": self.arm.task, "arm": self.arm.label, "arch": self.arm.arch.name,
            "mitigation": mitigation_label(self.arm.arch, self.arm.train), "hidden": self.arm.arch.hidden,
            "params": next(iter(self.cells.values())).params if self.cells else None,
            "critical_gap": crit,
            "bracket": critical_text(crit, upper, self.arm.gaps),
            "ladder": list(self.arm.gaps), "seeds": len(self.seeds),
            "steps": self.arm.train.steps,
        }

    def rows(self) -> list[dict]:
        return [self.cells[g].row(self.arm.task) for g in self.arm.gaps]


def seed_reach(solved_by_seed: list[list[bool]], gaps) -> list[int]:
    """For each seed (a list of solved flags along `gaps`): the last gap before its first failure."""
    out = []
    for flags in solved_by_seed:
        reach = 0
        for gap, ok in zip(gaps, flags):
            if not ok:
                break
            reach = gap
        out.append(reach)
    return out


def critical_text(crit: int | None, upper: int | None, gaps) -> str:
    """'20 (fails at 40)', '< 5 (fails at 5)', '>= 80 (no failure on the ladder)'."""
    if crit is None:
        return f"< {gaps[0]} (fails at {upper})"
    if upper is None:
        return f">= {crit} (no failure up to {gaps[-1]})"
    return f"[{crit}, {upper})"


def outcomes(context: Context, arms) -> dict[tuple[str, str], ArmOutcome]:
    """(task, label) -> ArmOutcome for every arm, training whatever the store lacks."""
    results = fetch(context, all_specs(arms, context))
    out = {}
    for arm in arms:
        seeds = context.seeds(arm.n_seeds)
        read = read_at(arm, context.read_steps)
        outcome = ArmOutcome(read, seeds)
        for gap in arm.gaps:
            runs = [results[arm.spec(gap, s, context.device).key] for s in seeds]
            if read is not arm:
                runs = [r.at_budget(read.train.steps) for r in runs]
            outcome.cells[gap] = cell_of(read, gap, runs)
        out[(arm.task, arm.label)] = outcome
    return out


def read_at(arm: Arm, steps: int | None) -> Arm:
    """The arm as read at a budget of `steps` (None, or at least its own: the arm itself). The
    outcome's arm then states the budget its numbers hold for; its runs are still the trained ones."""
    if steps is None or steps >= arm.train.steps:
        return arm
    return replace(arm, train=replace(arm.train, steps=steps))


def cell_of(arm: Arm, gap: int, runs: list[RunResult]) -> GapOutcome:
    plateaus = [plateau_length(r) for r in runs]
    return GapOutcome(
        arm=arm.label, gap=gap,
        solved=[bool(r.solved) for r in runs],
        steps=[censored_steps(r, arm.train) for r in runs],
        plateau=[p for p, _ in plateaus], left=[ok for _, ok in plateaus],
        diverged=[bool(r.diverged) for r in runs],
        final_loss=[r.final_loss if r.final_loss is not None else float("nan") for r in runs],
        score=[outcome_score(r, arm.train) for r in runs],
        spike=[loss_spike(r) for r in runs],
        params=runs[0].num_parameters if runs else 0,
        last_step=[r.steps_run for r in runs],
    )


# -- comparisons ---------------------------------------------------------------------------------

def compare_reach(a: ArmOutcome, b: ArmOutcome) -> Comparison:
    """Reach of a vs reach of b over the gaps both ladders share (a longer ladder must not count)."""
    common = tuple(g for g in a.arm.gaps if g in b.arm.gaps)
    if not common:
        raise ValueError(f"arms {a.arm.label!r} and {b.arm.label!r} share no ladder gap")
    return compare(a.arm.label, b.arm.label, a.reach(common), b.reach(common), "reach",
                   critical_arm=a.critical()[0], critical_reference=b.critical()[0])


def critical_table(arm_outcomes) -> list[dict]:
    return [o.critical_row() for o in arm_outcomes]


def success_table(arm_outcomes) -> list[dict]:
    return [row for o in arm_outcomes for row in o.rows()]


__all__ = [
    "ALPHA", "Arm", "ArmOutcome", "CRITICAL_FRACTION", "GapOutcome", "PLATEAU_FRACTION",
    "all_specs", "cell_of", "censored_steps", "compare_reach", "critical_table", "critical_text",
    "fetch", "outcome_score", "outcomes", "plateau_length", "read_at", "seed_reach",
    "success_table",
]
