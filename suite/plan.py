"""What a profile would cost, before anything trains: `vgsuite claims --profile paper --plan`.

    plan = make_plan(Context(profile="paper"))
    print("\\n".join(plan.lines()))

A `Plan` counts the training runs each claim reads and the report's deduplicated total (the
claims', the learning-rate tuning runs of table T7 and the confirmation's, as
`suite.claims.evaluate.report_runs` lists them), the training steps if every run used its whole
budget (an upper bound: runs stop early once solved), and a compute estimate from timing this
machine. The mechanism claims train nothing through the store; their probe sizes are listed.

The estimate: for every model shape the runs use (architecture, layers, width, batch, task),
`suite.train.run` trains it, after a 1-step warm-up run, for 1 step (fixed costs) and for
1 + `TIMED_STEPS` steps, at the shortest and at the longest sequence length of that shape. The
difference per step, interpolated linearly in the sequence length, times every run's step budget,
plus the held-out evaluations (`eval_factor`), is the estimate. It is measured with the torch
threads of this process (the suite trains one thread per worker), so it reads as core-hours;
`wall_hours` spreads them over `cores` workers. Each run is timed alone: a sweep stacks the seeds
of one shape into one model, which costs less per run, and a GPU is faster.
"""

from __future__ import annotations

import os
import time
from collections import defaultdict
from dataclasses import asdict, dataclass, replace

from . import train as training  # looked up at call time, so tests can patch suite.train.run
from .claims import CLAIMS, Claim, Context
from .claims.evaluate import confirmation_context, planned_runs, report_runs, tuning_runs
from .literature import covered
from .specs import RunSpec

TIMED_STEPS = 3
#: a forward pass of evaluation costs about a third of a training step (forward + backward + update)
EVAL_COST = 1 / 3


@dataclass(frozen=True)
class ClaimPlan:
    claim: str
    group: str
    runs: int              # runs this claim reads (shared runs are counted in every claim that reads them)
    steps: int             # their step budgets summed: the most they can train
    core_hours: float | None
    probes: str = ""       # a mechanism claim's probe sizes


@dataclass(frozen=True)
class Shape:
    arch: str
    layers: int
    hidden: int
    batch: int
    task: str
    seq_len: int
    seconds_per_step: float


@dataclass(frozen=True)
class Plan:
    profile: str
    device: str
    claims: tuple[ClaimPlan, ...]
    runs_claims: int       # deduplicated over the claims
    runs_tuning: int       # learning-rate tuning runs (table T7) not already among the claims'
    runs_confirmation: int  # runs of the confirmation profile not already counted
    runs_total: int
    steps_total: int
    eval_factor: float     # cost of a run relative to its training steps alone
    shapes: tuple[Shape, ...]
    core_hours: float | None  # None: not timed
    cores: int
    timing_s: float
    literature: tuple[dict, ...]  # each published finding (suite/literature.py) and the runs measuring it

    @property
    def wall_hours(self) -> float | None:
        return None if self.core_hours is None else self.core_hours / self.cores

    def to_dict(self) -> dict:
        return asdict(self) | {"wall_hours": self.wall_hours}

    def lines(self) -> list[str]:
        unit = "CPU core-hours" if self.device == "cpu" else f"device-hours ({self.device})"
        out = [f"plan for the {self.profile} profile: nothing is trained"]
        for c in self.claims:
            cost = f", ~{c.core_hours:.3g} {unit}" if c.core_hours is not None else ""
            out.append(f"  {c.claim} ({c.group}): " + (f"{c.runs} runs, <= {c.steps:,} steps{cost}" if c.runs
                                                       else f"no training runs; probes {c.probes}"))
        out.append(f"runs: {self.runs_total} in total ({self.runs_claims} for the claims, {self.runs_tuning} "
                   f"learning-rate tuning, {self.runs_confirmation} confirmation), deduplicated")
        out.append(f"steps: <= {self.steps_total:,} (every run to its budget; early stopping makes it fewer)")
        if self.core_hours is not None:
            out.append(f"estimate: ~{self.core_hours:,.1f} {unit} (~{self.wall_hours:,.1f} h on {self.cores} "
                       f"cores), an upper bound: early stopping and the stacked trainer cost less; timed "
                       f"{len(self.shapes)} shapes on this machine in {self.timing_s:.0f} s")
            if self.profile == "paper":
                out.append("  the paper profile is meant for a GPU or a cluster, not for this machine")
        if not any(f["runs"] for f in self.literature):
            out.append(f"literature: none of the {len(self.literature)} published findings (suite/literature.py) "
                       "is at this profile's width and lengths (the paper profile's are)")
            return out
        out.append("literature the runs will be read against (published; the runs at that task, T and plain "
                   "architecture):")
        for f in self.literature:
            out.append(f"  {f['source']}: {f['task']} T={f['T']} {f['arch']}: {f['published']}, {f['outcome']}; "
                       + (f"{f['runs']} runs" if f["runs"] else "not in this profile's runs"))
        return out


def _shape_key(spec: RunSpec) -> tuple:
    return (spec.arch.name, spec.arch.layers, spec.arch.hidden, spec.train.batch_size, spec.task.name)


def _seq_len(spec: RunSpec, cache: dict) -> int:
    if spec.task not in cache:
        cache[spec.task] = spec.task.build().seq_len
    return cache[spec.task]


def time_step(spec: RunSpec, steps: int = TIMED_STEPS) -> float:
    """Seconds per training step of `spec`'s model: a 1-step run minus a (1 + steps)-step run."""
    def wall(n: int) -> float:
        train = replace(spec.train, steps=n, eval_every=n, eval_size=1, early_stop=False)
        started = time.perf_counter()
        training.run(replace(spec, train=train))
        return time.perf_counter() - started

    wall(1)  # warm-up: the first run of a shape allocates and dispatches once
    base = wall(1)
    return max(wall(1 + steps) - base, 0.0) / steps


def _timed(groups: dict[tuple, dict[int, RunSpec]]) -> dict[tuple, list[tuple[int, float]]]:
    """Per shape, (seq_len, seconds per step) at its shortest and longest sequence length."""
    out = {}
    for key, by_len in groups.items():
        lengths = sorted({min(by_len), max(by_len)})
        out[key] = [(n, time_step(by_len[n])) for n in lengths]
    return out


def _interpolate(points: list[tuple[int, float]], n: int) -> float:
    if len(points) == 1:
        return points[0][1] * n / points[0][0]
    (n0, t0), (n1, t1) = points
    return t0 + (t1 - t0) * (n - n0) / (n1 - n0)


def _probes(context: Context, claim: Claim) -> str:
    if claim.id not in context.budget.claim_settings:
        return ""
    s = context.settings_of(claim.id)
    text = f"hidden {s.get('hidden')}, gap {s.get('gap')}, {s.get('seeds')} seeds x batch {s.get('batch')}"
    return text + (f", trains networks for {s['steps']:,} steps" if "steps" in s else "")


def make_plan(context: Context, claims: list[Claim] | None = None, *, timing: bool = True,
              cores: int | None = None) -> Plan:
    claims = list(claims or CLAIMS)
    budget = context.budget
    specs = report_runs(context) if claims == list(CLAIMS) else planned_runs(context, claims)
    claim_specs = planned_runs(context, claims)
    keys = {s.key for s in claim_specs}
    tuning = [s for s in tuning_runs(context) if s.key not in keys] if claims == list(CLAIMS) else []
    started = time.perf_counter()
    lengths: dict = {}
    groups: dict[tuple, dict[int, RunSpec]] = defaultdict(dict)
    for spec in specs:
        groups[_shape_key(spec)].setdefault(_seq_len(spec, lengths), spec)
    timed = _timed(groups) if timing else {}
    eval_factor = 1 + EVAL_COST * budget.train.eval_size / (budget.train.batch_size * budget.train.eval_every)

    def hours(group) -> float | None:
        if not timing:
            return None
        seconds = sum(s.train.steps * _interpolate(timed[_shape_key(s)], _seq_len(s, lengths)) for s in group)
        return seconds * eval_factor / 3600

    rows = []
    for claim in claims:
        own = planned_runs(context, [claim]) if claim.runs else []
        rows.append(ClaimPlan(claim.id, claim.group, len(own), sum(s.train.steps for s in own),
                              hours(own) if own else None, _probes(context, claim)))
    shapes = tuple(Shape(*key, n, t) for key, points in sorted(timed.items()) for n, t in points)
    confirm = confirmation_context(context)
    return Plan(
        profile=context.profile, device=context.device, claims=tuple(rows),
        runs_claims=len(claim_specs), runs_tuning=len(tuning),
        runs_confirmation=len(specs) - len(claim_specs) - len(tuning) if confirm is not None else 0,
        runs_total=len(specs), steps_total=sum(s.train.steps for s in specs), eval_factor=eval_factor,
        shapes=shapes, core_hours=hours(specs), cores=cores or os.cpu_count() or 1,
        timing_s=time.perf_counter() - started,
        literature=tuple(f.row() | {"runs": n} for f, n in covered(specs, budget.hidden, budget.train.steps)))


__all__ = ["ClaimPlan", "Plan", "Shape", "TIMED_STEPS", "make_plan", "time_step"]
