"""Shared pieces of the mechanism claims (G1-G9, L5): probing one arm over seeds, comparing arms.

An *arm* is one architecture/mitigation setting; it is probed on several seeds (independent
initialisations), each seed giving one number (a decay rate, a memory horizon), and arms are
compared over those numbers with a stated test. Thresholds, fixed before any measurement:

* ALPHA = 0.05 for every one-sided test;
* an arm "carries the gradient further" than a reference when it decays at most half as fast
  (median decay rate <= RATE_RATIO x the reference's, i.e. the lag over which the gradient falls
  100-fold at least doubles) *and* a one-sided Mann-Whitney U test says its decay rates exceed
  (are less negative than) the reference's at p < ALPHA;
* flat: a profile that moves by less than FLAT_DECADES decades across the lags considered.

Every decay rate is the OLS slope of the batch-mean log10 gradient norm over k = 1..T (see
`suite.probes.decay_rate`), measured with the probe loss L = u . h_T on inputs drawn from a task.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from ..labels import arm_label
from ..probes import (
    build_model,
    decay_rate,
    gradient_profile,
    input_saliency,
    mean_ci,
    memory_horizon,
    probe_batch,
)
from ..specs import ArchSpec, RunSpec, TaskSpec, TrainSpec
from ..train import STACKED_TRAINER, run, run_batch, trainer_of
from .base import Verdict
from .compare import ALPHA, Comparison, compare

RATE_RATIO = 0.5
FLAT_DECADES = 1.0


def train_model(model, arch: ArchSpec, task: TaskSpec, train: TrainSpec, seed: int, device: str) -> dict:
    """Train `model` in place through suite.train.run; returns what the table records."""
    return train_models([RunSpec(task=task, arch=arch, train=train, seed=seed, device=device)], [model])[0]


def train_models(specs: list[RunSpec], models: list) -> list[dict]:
    """Train `models` in place as `specs` say, stacked into one batched run where the specs' trainer
    stacks (a member's numbers do not depend on its batch-mates: suite.engine), else one by one;
    returns what the tables record per model. The seeds of a claim then train in one pass instead of
    one after another."""
    return [{"steps_run": r.steps_run, "solved": r.solved, "diverged": r.diverged,
             "final_loss": r.final_loss, "final_metric": r.final_metric} for r in train_runs(specs, models)]


def train_runs(specs: list[RunSpec], models: list) -> list:
    """The RunResults of training `models` in place as `specs` say: one batched run where the
    specs' trainer stacks, else one run each."""
    if specs and trainer_of(specs[0]) == STACKED_TRAINER and len(specs) > 1:
        return run_batch(specs, models)
    return [run(spec, model=model) for spec, model in zip(specs, models)]


def profile_row(arch: ArchSpec, probe_task: TaskSpec, seed: int, *, batch: int, device: str,
                train: TrainSpec | None = None, train_task: TaskSpec | None = None,
                model=None, label: str | None = None, lags=(1, 10, 100)) -> dict:
    """Probe one seed of one arm (optionally trained first): decay rate and a few profile values."""
    if model is None:
        model = build_model(arch, train_task or probe_task, seed, device)
    row = {"arm": label or arm_label(arch, trained=train is not None), "seed": seed}
    if train is not None:
        row["training"] = train_model(model, arch, train_task or probe_task, train, seed, device)
    x, _ = probe_batch(probe_task, batch, seed, device)
    profile = gradient_profile(model, x, probe_seed=seed)
    fit = decay_rate(profile.k, profile.mean())
    row.update(slope=fit.slope, slope_ci=list(fit.ci), r2=fit.r2, fit_window=[fit.k_min, fit.k_max])
    for lag in lags:
        if lag <= profile.k[-1]:
            row[f"log10_k{lag}"] = profile.at(lag)
    row["log10_kT"] = float(profile.mean()[-1])
    row["_profile"] = profile
    return row


def saliency_row(model, probe_task: TaskSpec, seed: int, *, batch: int, device: str, label: str,
                 tail_from: int = 10) -> dict:
    """Input saliency of one seed: memory horizon and the tail slope over k = tail_from..T-1."""
    x, _ = probe_batch(probe_task, batch, seed, device)
    sal = input_saliency(model, x)
    curve = sal.mean()
    horizon, censored = memory_horizon(curve, sal.k)
    tail = decay_rate(sal.k, curve, k_min=tail_from)
    return {"arm": label, "seed": seed, "memory_horizon": horizon, "censored": censored,
            "peak_log10": float(np.max(curve)), "log10_k0": float(curve[0]),
            f"log10_k{tail_from}": float(curve[tail_from]), "log10_kmax": float(curve[-1]),
            "tail_drop_decades": float(curve[tail_from] - curve[-1]),
            "tail_slope": tail.slope, "tail_slope_ci": list(tail.ci)}


def compare_rates(arm: str, reference: str, arms: dict[str, list[dict]], key: str = "slope") -> Comparison:
    """Does `arm` carry the gradient further than `reference`: significantly flatter decay rates
    *and* a median rate at most RATE_RATIO times the reference's (the row's `carries_further`)?"""
    c = compare(arm, reference, [r[key] for r in arms[arm]], [r[key] for r in arms[reference]],
                "decay rate (decades per step)")
    ref_median = float(np.median(c.reference_values))
    ratio = float(np.median(c.arm_values)) / ref_median if ref_median < 0 else math.nan
    carries = bool(c.greater.p_value < ALPHA and ratio <= RATE_RATIO)
    return replace(c, notes={"rate_ratio": ratio, "carries_further": carries})


def summarise_arm(rows: list[dict], key: str = "slope") -> dict:
    values = [r[key] for r in rows]
    mean, ci = mean_ci(values) if len(values) > 1 else (values[0], (values[0], values[0]))
    return {"arm": rows[0]["arm"], "n": len(values), "mean": mean, "ci95": list(ci),
            "median": float(np.median(values)), "min": float(np.min(values)), "max": float(np.max(values))}


def public(rows: list[dict]) -> list[dict]:
    """Rows without private entries (profiles kept for the analysis only)."""
    return [{k: v for k, v in r.items() if not k.startswith("_")} for r in rows]


def verdict(claim_id: str, word: str, per_seed=None, **fields) -> Verdict:
    """A mechanism verdict. With `per_seed` (one number per initialisation) its value is their mean
    with the 95 % t interval and n the seeds; n counts initialisations unless the claim says otherwise."""
    if per_seed is not None:
        mean, ci = mean_ci(per_seed)
        fields |= {"value": mean, "ci": tuple(ci), "n": len(per_seed)}
    fields.setdefault("n_counts", "initialisations (seeds), each probed on one batch of sequences")
    return Verdict(claim_id=claim_id, verdict=word, **fields)
