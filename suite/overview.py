"""The probe overview: every architecture and mitigation arm of the decay table (T3), probed at
initialisation on each task, with the saliency on delayed recall (T4, F1, F4).

    overview = probe_overview("full", cache, workers=2)    # {task: {arm label: probe data}}

Each arm is probed with the task's own loss (copy scored on its recall window, so that every panel
follows a long-range signal) at the profile's probe settings (suite.profiles), on the replicate
seeds of the master seed; its numbers are cached per arm (kind "probe-arm", which depends only on
the code that probes: suite.cache.DEPENDENCIES), so a second report re-renders without probing.
The arms not cached yet spread over worker processes. suite.figures turns the overview into rows.
"""

from __future__ import annotations

from dataclasses import asdict

import numpy as np

from .cache import ResultCache
from .figures import TASKS, decay_arms
from .probes import probe
from .profiles import profile as get_profile
from .profiles import task_options
from .progress import Progress
from .specs import ArchSpec, TaskSpec, replicate_seeds
from .stats import bootstrap_ci
from .workers import spread


def _probe_arm(fields: dict, task: str, settings: dict, master_seed: int, saliency: bool) -> dict:
    arch = ArchSpec(**{"hidden": settings["hidden"], **fields})
    task_spec = TaskSpec(task, settings["gap"], task_options(task))
    seeds = replicate_seeds(master_seed, settings["seeds"])
    results = [probe(arch, task_spec, s, batch=settings["batch"], loss="task", saliency=saliency)
               for s in seeds]
    profiles = np.stack([r.profile.mean() for r in results])
    slopes = [r.fit.slope for r in results]
    out = {
        "k": results[0].profile.k.tolist(),
        "log10_grad": _finite_list(np.mean(profiles, axis=0)),
        "decay": float(np.mean(slopes)),
        "decay_ci": list(bootstrap_ci(slopes)) if len(slopes) > 1 else [slopes[0], slopes[0]],
        "n": len(slopes),
    }
    if saliency:
        sal = np.stack([r.saliency.mean() for r in results])
        out["saliency_k"] = results[0].saliency.k.tolist()
        out["log10_saliency"] = _finite_list(np.mean(sal, axis=0))
        out["horizons"] = [r.horizon for r in results]
        out["horizon_censored"] = [bool(r.horizon_censored) for r in results]
    return out


def _finite_list(values) -> list:
    return [float(v) if np.isfinite(v) else None for v in values]


def probe_overview(profile: str, cache: ResultCache, master_seed: int = 0, progress: bool | None = None,
                   workers: int = 1) -> dict:
    """{task: {arm label: probe data}} for the decay table, panels and saliency curves; the arms not
    cached yet are probed in `workers` spawned processes (one torch thread each on 2 cores)."""
    settings = asdict(get_profile(profile).probe)  # the cache key: gap, hidden, seeds, batch
    jobs = {(task, label): fields for task in TASKS for label, fields in decay_arms()}
    params = {job: {"task": job[0], "arm": fields, "settings": settings, "master_seed": master_seed}
              for job, fields in jobs.items()}
    fresh = [job for job in jobs if not cache.has("probe-arm", params[job])]
    with Progress(len(jobs), "probes (report overview)", unit="arm", initial=len(jobs) - len(fresh),
                  enabled=progress if fresh else False) as bar:
        args = {job: (jobs[job], job[0], settings, master_seed, job[0] == "delayed_recall") for job in fresh}
        for job, data in spread(_probe_arm, args, workers):
            cache.get_or_compute("probe-arm", params[job], lambda d=data: d)
            bar.update(1)
    overview: dict = {task: {} for task in TASKS}
    for (task, label), fields in jobs.items():
        overview[task][label] = cache.get_or_compute(
            "probe-arm", params[(task, label)],
            lambda f=fields, t=task: _probe_arm(f, t, settings, master_seed, t == "delayed_recall"))
    return overview
