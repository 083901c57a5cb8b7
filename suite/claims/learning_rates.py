"""Learning rate as part of the protocol: one Adam learning rate per architecture, picked on a grid.

A verdict such as "an LSTM does not reach further than a tanh RNN" is only as good as the learning
rate each architecture was trained at: one shared rate favours whichever architecture it happens
to suit. So each architecture of the learning claims trains at its own rate, chosen

* from a grid fixed here (`GRID`),
* on delayed recall at one calibration gap (`TUNING_GAP`) under the profile's own training
  protocol (width, batch, step budget),
* on tuning seeds that no verdict reads (`TUNING_MASTER_SEED`: replicate seeds 1 000 000 and up,
  disjoint from those of every master seed below 100; see suite.specs.replicate_seeds),
* by one rule (`pick`): the most runs solved; ties broken by the lower median outcome score (steps
  to solve, an unsolved run ranking after every solved one by how far its loss stayed from the
  memoryless baseline: suite.claims.ladders.outcome_score); a remaining tie keeps `DEFAULT_LR`.

The picks are fixed in code (`LEARNING_RATES`), like the ladders, so that a verdict does not move
when the tuning runs are redone; the full report trains the tuning runs again and prints the grid,
each rate's evidence and the rule's pick beside the rate used (table T7), so a reader can check
that the two agree. Mitigation arms (an init, a forget bias, clipping, depth) train at their base
architecture's rate: a mitigation is compared with its own architecture at equal learning rate.

Calibration (full protocol: hidden 32, batch 64, <= 1000 steps; gap 20; 5 seeds of master
seed 100; solved/5 at 1e-3, 3e-3, 1e-2) is recorded in `EVIDENCE_NOTE` and reproduced by T7.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from types import MappingProxyType

import numpy as np

from ..engine.protocol import RunResult
from ..specs import ArchSpec, RunSpec, TaskSpec, TrainSpec, replicate_seeds
from .ladders import outcome_score

GRID: tuple[float, ...] = (1e-3, 3e-3, 1e-2)
DEFAULT_LR = 3e-3
TUNING_TASK = "delayed_recall"
TUNING_GAP = 20
TUNING_MASTER_SEED = 100
TUNING_SEEDS = 5
SCORE_RESOLUTION = 0.01  # median outcome scores closer than 1 % of the budget tie

#: architecture -> the Adam learning rate its learning runs use (the rule's pick on the tuning seeds)
LEARNING_RATES: Mapping[str, float] = MappingProxyType({
    "rnn-tanh": 3e-3,
    "rnn-sigmoid": 1e-2,
    "rnn-relu": 3e-3,
    "rnn-leakyrelu": 3e-3,
    "rnn-prelu": 3e-3,
    "irnn": 3e-3,
    "lstm": 1e-3,
    "gru": 1e-2,
    "resrnn": 3e-3,
    "rnn-attention": 1e-2,
})

EVIDENCE_NOTE = "see table T7"


def learning_rate(arch: str) -> float:
    """The learning rate architecture `arch` trains at in the learning claims (DEFAULT_LR if untuned)."""
    return LEARNING_RATES.get(arch, DEFAULT_LR)


def tuning_specs(hidden: int, train: TrainSpec, archs: Iterable[str] = tuple(LEARNING_RATES),
                 seeds: int = TUNING_SEEDS, device: str = "cpu") -> list[RunSpec]:
    """Every tuning run: each architecture at each grid rate on the tuning seeds."""
    task = TaskSpec(TUNING_TASK, TUNING_GAP)
    return [RunSpec(task, ArchSpec(name, hidden=hidden), replace(train, lr=lr), seed, device)
            for name in archs for lr in GRID for seed in replicate_seeds(TUNING_MASTER_SEED, seeds)]


@dataclass(frozen=True)
class RateEvidence:
    """One architecture at one grid rate on the tuning seeds."""
    arch: str
    lr: float
    solved: int
    n: int
    median_score: float
    median_steps_solved: float | None
    median_final_loss_ratio: float

    resolution: float = 1.0

    @property
    def key(self) -> tuple:
        """Sort key of the rule: more solved first, then the lower median outcome score, compared
        at `resolution` (1 % of the budget: finer than that, unsolved runs sitting at the same
        plateau would be told apart by noise in the fourth digit of their loss)."""
        return (-self.solved, round(self.median_score / self.resolution))


def evidence(arch: str, lr: float, results: list[RunResult], train: TrainSpec) -> RateEvidence:
    scores = [outcome_score(r, train) for r in results]
    solved = [r.steps_to_solve for r in results if r.solved and r.steps_to_solve is not None]
    ratios = [r.final_loss / r.baseline_loss for r in results
              if r.final_loss is not None and math.isfinite(r.final_loss)]
    return RateEvidence(arch, lr, len(solved), len(results), float(np.median(scores)),
                        float(np.median(solved)) if solved else None,
                        float(np.median(ratios)) if ratios else math.inf,
                        resolution=SCORE_RESOLUTION * train.steps)


def pick(rows: Iterable[RateEvidence]) -> float:
    """The rule: most solved, then the lowest median outcome score; a tie keeps DEFAULT_LR if it
    is among the best, else the smallest of the tied rates."""
    rows = list(rows)
    if not rows:
        raise ValueError("pick needs the evidence of at least one grid rate")
    best = min(r.key for r in rows)
    tied = sorted(r.lr for r in rows if r.key == best)
    return DEFAULT_LR if DEFAULT_LR in tied else tied[0]


def tuning_rows(results: Mapping[str, RunResult], specs: list[RunSpec]) -> list[dict]:
    """Table T7: per architecture and grid rate, the evidence, the rule's pick and the rate used."""
    by_arm: dict[tuple[str, float], list[RunResult]] = {}
    for spec in specs:
        if spec.key in results:
            by_arm.setdefault((spec.arch.name, spec.train.lr), []).append(results[spec.key])
    train = specs[0].train if specs else None
    rows = []
    for arch in dict.fromkeys(name for name, _ in by_arm):
        found = [evidence(arch, lr, by_arm[(arch, lr)], train) for lr in GRID if (arch, lr) in by_arm]
        chosen = pick(found)
        for e in found:
            rows.append({
                "arch": arch, "lr": e.lr, "solved": f"{e.solved}/{e.n}",
                "median steps to solve": e.median_steps_solved,
                "median final loss / memoryless": round(e.median_final_loss_ratio, 3),
                "median outcome score": e.median_score,
                "rule's pick": "yes" if e.lr == chosen else "",
                "used": "yes" if e.lr == learning_rate(arch) else "",
            })
    return rows


def disagreements(rows: list[dict]) -> list[str]:
    """Architectures whose rule's pick on these runs is not the rate the claims use."""
    picked = {r["arch"]: r["lr"] for r in rows if r["rule's pick"]}
    return [f"{arch}: rule picks {lr:g}, claims use {learning_rate(arch):g}"
            for arch, lr in picked.items() if lr != learning_rate(arch)]


__all__ = ["DEFAULT_LR", "GRID", "LEARNING_RATES", "RateEvidence", "TUNING_GAP", "TUNING_MASTER_SEED",
           "TUNING_SEEDS", "disagreements", "evidence", "learning_rate", "pick", "tuning_rows", "tuning_specs"]
