"""One seed end to end (`probe`), and the summary the CLI prints."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .. import train as trainer  # looked up at call time, so tests can patch suite.train.run
from ..limits import check_probe
from ..models import RecurrentModel
from ..specs import ArchSpec, RunSpec, TaskSpec, TrainSpec
from .backward import (
    build_model,
    gradient_profile,
    input_saliency,
    probe_batch,
)
from .results import DecayFit, LagProfile, mean_ci
from .summaries import decay_rate, memory_horizon

# ----------------------------------------------------------------------------- one seed, end to end


@dataclass
class ProbeResult:
    seed: int
    profile: LagProfile
    fit: DecayFit
    saliency: LagProfile | None
    horizon: int | None
    horizon_censored: bool | None
    training: dict | None = None


def probe(
    arch: ArchSpec,
    task_spec: TaskSpec,
    seed: int,
    *,
    batch: int = 16,
    loss: str = "probe",
    train: TrainSpec | None = None,
    device: str = "cpu",
    saliency: bool = True,
    model: RecurrentModel | None = None,
) -> ProbeResult:
    """Build (or take) the model for (task, arch, seed), train it first if `train` is given
    (through `suite.train.run`, in place), then measure its gradient profile and saliency.
    A probe beyond the size limits (suite.limits) raises SizeError before anything is built."""
    check_probe(arch, task_spec, batch)
    if model is None:
        model = build_model(arch, task_spec, seed, device)
    training = None
    if train is not None:
        result = trainer.run(RunSpec(task=task_spec, arch=arch, train=train, seed=seed, device=device), model=model)
        training = {"steps_run": result.steps_run, "final_loss": result.final_loss,
                    "final_metric": result.final_metric, "diverged": result.diverged}
    task = task_spec.build()
    x, y = probe_batch(task_spec, batch, seed, device)
    profile = gradient_profile(model, x, loss=loss, task=task, y=y, probe_seed=seed)
    fit = decay_rate(profile.k, profile.mean())
    sal, horizon, censored = None, None, None
    if saliency:
        sal = input_saliency(model, x)
        horizon, censored = memory_horizon(sal.mean(), sal.k)
    return ProbeResult(seed, profile, fit, sal, horizon, censored, training)


def summarise(results: list[ProbeResult]) -> dict:
    """Combine per-seed probe results into one JSON-ready summary (what `vgsuite probe` prints).

    Curves are the mean over seeds of each seed's batch-mean log10 norm. With two or more seeds
    the decay rate is the mean of the per-seed slopes with a Student-t 95 % CI over seeds; with
    one seed it is that seed's OLS slope and CI. The memory horizon is that of the seed-mean
    saliency curve (same definition as `memory_horizon`).
    """
    if not results:
        raise ValueError("summarise needs at least one probe result")
    profile = results[0].profile
    curves = {name: np.mean([r.profile.mean(name) for r in results], axis=0) for name in profile.names}
    spread = np.std([r.profile.mean() for r in results], axis=0)
    slopes = [r.fit.slope for r in results]
    if len(results) > 1:
        slope, ci = mean_ci(slopes)
        method = f"Student-t over {len(results)} seeds of the per-seed OLS slopes"
    else:
        slope, ci = results[0].fit.slope, results[0].fit.ci
        method = "OLS slope of the batch-mean curve (one seed)"
    out = {
        "k": profile.k.tolist(),
        "log10_grad_norm": curves["total"].tolist(),
        "log10_grad_norm_seed_std": spread.tolist(),
        "log10_grad_norm_by_state": {n: c.tolist() for n, c in curves.items() if n != "total"},
        "decay_log10_per_step": float(slope),
        "ci95": [float(ci[0]), float(ci[1])],
        "ci_method": method,
        "fit_window": [min(r.fit.k_min for r in results), min(r.fit.k_max for r in results)],
        "memory_horizon": None,
        "memory_horizon_censored": None,
        "per_seed": [
            {"seed": r.seed, "decay_log10_per_step": r.fit.slope, "ci95": list(r.fit.ci), "r2": r.fit.r2,
             "memory_horizon": r.horizon, "memory_horizon_censored": r.horizon_censored,
             "training": r.training}
            for r in results
        ],
    }
    if all(r.saliency is not None for r in results):
        saliency = np.mean([r.saliency.mean() for r in results], axis=0)
        horizon, censored = memory_horizon(saliency, results[0].saliency.k)
        out.update(saliency_k=results[0].saliency.k.tolist(), log10_saliency=saliency.tolist(),
                   memory_horizon=horizon, memory_horizon_censored=censored)
    return _jsonable(out)


def _jsonable(value):
    """Replace non-finite floats (an exact-zero gradient's -inf) by None for strict JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


