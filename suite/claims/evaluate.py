"""Evaluate the registered claims into verdicts, with Holm's correction across claims.

    verdicts = evaluate(Context(profile="full", store=store), cache=ResultCache(path))

Learning claims first get all their runs through one sweep (so the runs of several claims are
trained once, in parallel and batched), then every claim's analysis reads them. Each verdict is
cached by (claim, profile, master seed, device) and the code fingerprint, so a second report
re-renders without recomputing. The p-values are then adjusted with Holm's step-down procedure
over every claim that reports one (the family of the whole report).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace

from ..cache import ResultCache
from ..progress import Progress
from ..specs import ArchSpec, RunSpec, TaskSpec
from ..stats import holm
from ..store import Store
from ..sweep import ensure_runs
from ..workers import spread
from . import CLAIMS, claim_by_id
from .base import Claim, Context, Verdict
from .learning_rates import learning_rate, tuning_specs
from .priors import Prior, agreement, prior_of


@dataclass(frozen=True)
class Evaluated:
    claim: Claim
    verdict: Verdict
    p_holm: float | None
    expected: str = ""   # the verdict the suite asserts under the profile evaluated ("": the claim's)

    def __post_init__(self):
        if not self.expected:
            object.__setattr__(self, "expected", self.claim.expected)

    @property
    def matches_expected(self) -> bool:
        """The measured verdict is the one the claim's test asserts under this profile."""
        return self.verdict.verdict == self.expected

    @property
    def prior(self) -> Prior:
        """The literature's prior (claims.md), shown beside the measured verdict."""
        return prior_of(self.claim.id)

    @property
    def agreement(self) -> str:
        """"agrees", "differs" or "open": the measured verdict against the literature's prior."""
        return agreement(self.claim.id, self.verdict.verdict)


def tuning_runs(context: Context) -> list:
    """The learning-rate tuning runs the profile's report shows (table T7; none when tuning_seeds is 0)."""
    budget = context.budget
    if not budget.tuning_seeds:
        return []
    return tuning_specs(budget.hidden, budget.train, seeds=budget.tuning_seeds, device=context.device)


def planned_runs(context: Context, claims: list[Claim] | None = None, *, tuning: bool = False) -> list:
    """Every training run the claims will read (with `tuning`, also the tuning runs of the
    report's table T7), without duplicates, in a stable order."""
    seen, specs = set(), []
    groups = [claim.runs(context) if claim.runs else [] for claim in claims or CLAIMS]
    for group in groups + ([tuning_runs(context)] if tuning else []):
        for spec in group:
            if spec.key not in seen:
                seen.add(spec.key)
                specs.append(spec)
    return specs


def confirmation_context(context: Context) -> Context | None:
    """The context in which the report decides every verdict again on fresh seeds (None: none)."""
    confirmation = context.budget.confirmation
    if confirmation is None or confirmation[1] == context.master_seed:
        return None
    name, seed = confirmation
    return replace(context, profile=name, master_seed=seed, read_steps=None)


def slice_runs(context: Context) -> list:
    """The runs of the profile's task slices (shown in the critical-gap tables, deciding no verdict)."""
    specs = []
    for part in context.budget.slices:
        task_seeds = context.seeds(part.seeds)
        for name in part.archs:
            train = replace(part.train, lr=learning_rate(name))
            arch = ArchSpec(name, hidden=part.hidden)
            specs += [RunSpec(TaskSpec(part.task, gap, part.options), arch, train, seed, context.device)
                      for gap in part.gaps for seed in task_seeds]
    return specs


def report_runs(context: Context) -> list:
    """Every training run the report reads: the claims', the tuning runs (T7), the task slices
    (T2, T5, T8) and the confirmation's."""
    specs = planned_runs(context, tuning=True)
    keys = {s.key for s in specs}
    specs += [s for s in slice_runs(context) if s.key not in keys]
    confirm = confirmation_context(context)
    if confirm is not None:
        keys = {s.key for s in specs}
        specs += [s for s in planned_runs(confirm) if s.key not in keys]
    return specs


def evaluate(
    context: Context,
    claims: list[Claim] | None = None,
    cache: ResultCache | None = None,
    progress=None,
) -> list[Evaluated]:
    claims = list(claims or CLAIMS)
    cache = cache or ResultCache(None)
    if context.store is not None:
        specs = planned_runs(context, claims)
        if specs:
            ensure_runs(specs, context.store, workers=context.workers, executor=context.executor, progress=progress)
    params = {claim.id: {"claim": claim.id, "profile": context.profile, "master_seed": context.master_seed,
                         "device": context.device, "read_steps": context.read_steps} for claim in claims}
    fresh = [claim for claim in claims if not cache.has("verdict", params[claim.id])]
    # longest first (as last measured; unknown ones keep registry order ahead of the known), so
    # that no long claim starts last while the other workers sit idle
    last = {claim.id: cache.duration("verdict", params[claim.id]) for claim in fresh}
    fresh.sort(key=lambda claim: -math.inf if last[claim.id] is None else -last[claim.id])
    desc = f"claims ({context.profile}, master seed {context.master_seed}" + (
        f", read at {context.read_steps} steps)" if context.read_steps else ")")
    with Progress(len(claims), desc, unit="claim", initial=len(claims) - len(fresh),
                  enabled=progress if fresh else False) as bar:
        for claim_id, data, seconds in _analyses(context, fresh):
            cache.record_duration("verdict", params[claim_id], seconds, save=False)
            cache.get_or_compute("verdict", params[claim_id], lambda d=data: d)  # writes both
            bar.set_postfix(last=claim_id)
            bar.update(1)
    verdicts = [verdict_from_dict(cache.get_or_compute("verdict", params[claim.id],
                                                       lambda c=claim: c.analyse(context).to_dict()))
                for claim in claims]
    p_values = {v.claim_id: v.p_value for v in verdicts if v.p_value is not None}
    adjusted = holm(p_values) if p_values else {}
    return [Evaluated(c, v, adjusted.get(v.claim_id), c.expected_for(context.profile))
            for c, v in zip(claims, verdicts)]


def _analyses(context: Context, claims: list[Claim]):
    """(claim id, verdict dict, seconds) of every claim as it is analysed: in this process, or with
    `context.workers` > 1 in that many worker processes (suite.workers), each reading the store on
    its own connection. The runs are stored already, so the claims only read and probe: the
    mechanism claims' probes are most of the time, and one process used one core."""
    registered = [c for c in claims if any(c is known for known in CLAIMS)]
    if context.workers <= 1 or context.store is None or len(registered) < len(claims):
        for claim in claims:  # a claim not in the registry cannot be named to a worker
            yield claim.id, *_timed(claim, context)
        return
    job = replace(context, store=None, workers=1)
    jobs = {claim.id: (claim.id, job) for claim in claims}
    for claim_id, (data, seconds) in spread(_analyse, jobs, context.workers, store=context.store):
        yield claim_id, data, seconds


def _analyse(store: Store, claim_id: str, job: Context) -> tuple[dict, float]:
    """One claim's verdict, on this process's (or this worker's) store connection."""
    return _timed(claim_by_id(claim_id), replace(job, store=store))


def _timed(claim: Claim, context: Context) -> tuple[dict, float]:
    """(verdict dict, seconds it took)."""
    start = time.perf_counter()
    data = claim.analyse(context).to_dict()
    return data, time.perf_counter() - start


def evaluate_by_budget(context: Context, budgets, claims: list[Claim] | None = None,
                       cache: ResultCache | None = None) -> dict[str, dict[int, Verdict]]:
    """claim id -> {budget: verdict} for every claim decided from stored runs alone, each budget
    read off the same runs (a budget beyond the runs' own is read as their own: see
    suite.claims.ladders.read_at). Run `evaluate` first: this trains nothing new."""
    claims = [c for c in (claims or CLAIMS) if c.by_budget]
    table: dict[str, dict[int, Verdict]] = {c.id: {} for c in claims}
    for steps in budgets:
        read = replace(context, read_steps=steps)
        for e in evaluate(read, claims, cache=cache):
            table[e.claim.id][steps] = e.verdict
    return table


def verdict_from_dict(data: dict) -> Verdict:
    data = dict(data)
    for name in ("ci", "effect_ci"):
        if data.get(name) is not None:
            data[name] = tuple(data[name])
    return Verdict(**data)
