"""Many runs: expand a grid into RunSpecs and run only those the results store lacks.

A grid is a plain Python list of `RunSpec`s (as in HazyResearch/zoology), written by hand or built
by `grid(...)` from names, a profile's gap ladders and a seed count:

    >>> from suite.sweep import grid, ensure_runs, load_results
    >>> specs = grid("delayed_recall", ["rnn-tanh", "lstm"], profile="quick", gaps=[10, 30])
    >>> len(specs)                                    # 1 task x 2 gaps x 2 archs x 5 seeds
    20
    >>> summary = ensure_runs(specs, "runs.sqlite", workers=2)   # doctest: +SKIP
    >>> results = load_results(specs, "runs.sqlite")             # doctest: +SKIP

`ensure_runs` is resumable and idempotent. It asks the store which keys are done, runs the rest,
and stores each result the moment it finishes, one SQLite transaction per run. Kill it at any
moment (Ctrl-C or kill -9), run it again and it finishes the rest; only runs in flight are lost.
The store keeps one row per key, so two sweeps over overlapping grids may share one file. A run
that raises is stored as "failed" with its error and retried by the next sweep; the sweep goes on.

Execution is two small functions: `group_runs` splits the pending specs into groups that can be
trained together (suite.engine.groups: compatible runs, e.g. the seeds of one configuration, up
to 16 at a time) and `execute_group` trains one group as one stacked model and stores each result.
Which trainer runs a spec is decided by the spec alone (`suite.engine.groups.trainer_of`: the
stacked trainer for the architectures whose registry entry is stackable, except LSTM on CPU, where
PyTorch's fused LSTM is faster per run; the per-run loop for the rest), and a member's numbers do
not depend on its batch-mates, so a stored result is the same whether it was trained alone, in a
group of 2 or of 16, before or after a kill and resume (tested bit for bit). Groups are still
formed canonically (pending specs in key order), not from the order the caller listed them in,
which only sets the order the groups run in.
With `workers > 1` the groups go to worker processes (suite.workers), each with its own Store
connection and cores // workers torch threads; a group whose worker dies is recorded as failed.
"""

from __future__ import annotations

import hashlib
import os
import time
import traceback
import warnings
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from tasks import task_class

from . import train as training  # looked up at call time, so tests can patch suite.train.run
from .containment import real_interrupt
from .engine import groups, stacked  # looked up at call time, like training
from .engine.protocol import RunResult
from .environment import available_cores, metadata, resolve_device
from .executors import LOCAL, Executor, ray_spread
from .labels import spec_mitigation_label
from .limits import check_run
from .profiles import Profile
from .profiles import profile as get_profile
from .progress import Progress
from .specs import ArchSpec, RunSpec, TaskSpec, TrainSpec, replicate_seeds
from .store import Store
from .workers import spread

TRACEBACK_FRAMES = 3  # traceback frames kept with a failed run's error


# -- grids ------------------------------------------------------------------------------------

def _check_count(name: str, value, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return value


def _as_list(name: str, value) -> list:
    items = [value] if isinstance(value, (str, ArchSpec)) else list(value)
    if not items:
        raise ValueError(f"{name} must not be empty")
    return items


def grid(tasks: str | Iterable[str], archs: str | ArchSpec | Iterable[str | ArchSpec], *,
         profile: str | Profile = "quick", gaps: Iterable[int] | None = None,
         seeds: int | None = None, master_seed: int = 0, task_options: dict | None = None,
         train: TrainSpec | None = None, device: str = "cpu") -> list[RunSpec]:
    """Every (task, gap, arch, seed) combination, in that nesting order.

    tasks  task names; each gets `gaps`, or the profile's ladder for it when `gaps` is None
    archs  names (built at the profile's width) or ArchSpecs (used as given, mitigations and all)
    seeds  how many replicate seeds (default: the profile's), by the one seed rule
           (suite.specs.replicate_seeds: those `vgsuite claims` reads for the same master seed)
    train  the TrainSpec (default: the profile's)
    """
    prof = get_profile(profile)
    tasks, archs = _as_list("tasks", tasks), _as_list("archs", archs)
    for name in tasks:
        task_class(name)  # an unknown task is named as such, before any ladder lookup
    seeds = prof.seeds if seeds is None else _check_count("seeds", seeds, 1)
    _check_count("master_seed", master_seed, 0)
    if gaps is not None:
        gaps = _as_list("gaps", gaps)
    train = prof.train if train is None else train
    arch_specs = [a if isinstance(a, ArchSpec) else prof.arch(a) for a in archs]
    specs = []
    for name in tasks:
        for gap in (prof.gaps_for(name) if gaps is None else gaps):
            task = TaskSpec(name, gap, task_options or {})  # validates name, gap and options
            for arch in arch_specs:
                for seed in replicate_seeds(master_seed, seeds):
                    specs.append(RunSpec(task, arch, train, seed, device))
    return specs


def check_specs(specs: Iterable[RunSpec], *, devices: bool = True) -> list[RunSpec]:
    """The distinct specs in order; raises ValueError, before anything runs, on a bad grid.
    With `devices`, every device must exist here (not needed to read results back)."""
    unique: dict[str, RunSpec] = {}
    for i, spec in enumerate(specs):
        if not isinstance(spec, RunSpec):
            raise ValueError(f"specs[{i}] must be a RunSpec, got {type(spec).__name__}")
        unique.setdefault(spec.key, spec)
    for device in sorted({spec.device for spec in unique.values()}) if devices else ():
        resolve_device(device)  # e.g. cuda asked for but absent
    if devices:  # about to train: every run within the size limits, or none starts
        for spec in unique.values():
            check_run(spec)
    return list(unique.values())


def shard(specs: Iterable[RunSpec], index: int, count: int) -> list[RunSpec]:
    """The `index`-th (1-based) of `count` disjoint parts of a grid, for a scheduler that runs the
    parts on different machines (a Slurm array, several laptops), then `vgsuite merge`. A part is a
    set of whole training groups (group_runs, formed from the whole grid), each assigned by a hash
    of its first key, so every machine computes the same parts from the same grid in any order,
    and the parts together are the grid, each run in exactly one."""
    _check_count("count", count, 1)
    if isinstance(index, bool) or not isinstance(index, int) or not 1 <= index <= count:
        raise ValueError(f"shard index must be an integer in [1, {count}], got {index!r}")
    return [spec for group in group_runs(check_specs(specs, devices=False))
            if int(hashlib.sha256(group[0].key.encode()).hexdigest(), 16) % count == index - 1
            for spec in group]


def label(spec: RunSpec | dict) -> str:
    """'copy gap 100 lstm [forget bias 1] seed 3': a spec in one short line."""
    d = spec.to_dict() if isinstance(spec, RunSpec) else spec
    mits = spec_mitigation_label(d)
    return (f"{d['task']['name']} gap {d['task']['gap']} {d['arch']['name']}"
            f"{'' if mits == '-' else f' [{mits}]'} seed {d['seed']}")


# -- outcomes ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class RunOutcome:
    key: str
    status: str              # "ok" (trained and stored), "failed", or "stored" (found done)
    error: str | None = None


@dataclass(frozen=True)
class Failure:
    spec: RunSpec
    error: str               # "Type: message" then the last traceback frames

    @property
    def reason(self) -> str:
        return self.error.splitlines()[0] if self.error else "unknown error"


@dataclass
class SweepSummary:
    total: int               # distinct specs asked for
    stored: int = 0          # found in the store (before the sweep or stored meanwhile by another)
    ran: int = 0             # trained by this sweep and stored "ok"
    failed: list[Failure] = field(default_factory=list)  # trained by this sweep and failed
    wall_s: float = 0.0

    @property
    def complete(self) -> bool:
        return self.stored + self.ran == self.total

    def to_dict(self) -> dict:
        return {"total": self.total, "stored": self.stored, "ran": self.ran,
                "failed": [{"key": f.spec.key, "run": label(f.spec), "error": f.error}
                           for f in self.failed],
                "complete": self.complete, "wall_s": round(self.wall_s, 3)}

    def __str__(self) -> str:
        lines = [f"{self.total} runs: {self.stored} already stored, {self.ran} ran, "
                 f"{len(self.failed)} failed ({self.wall_s:.1f} s)"]
        by_reason: dict[str, list[Failure]] = {}
        for failure in self.failed:
            by_reason.setdefault(failure.reason, []).append(failure)
        for reason, group in by_reason.items():
            first = group[0].spec
            lines.append(f"  {len(group)} failed with {reason}  (e.g. {label(first)}, "
                         f"key {first.key[:12]})")
        if self.failed:
            lines.append("  the next sweep retries them; their tracebacks: vgsuite show --status failed")
        return "\n".join(lines)


def describe_error(exc: BaseException, frames: int = TRACEBACK_FRAMES) -> str:
    """'Type: message' and the last `frames` traceback frames."""
    tail = "".join(traceback.format_tb(exc.__traceback__)[-frames:]).rstrip()
    return f"{type(exc).__name__}: {exc}" + (f"\nTraceback (last {frames} frames):\n{tail}" if tail else "")


# -- execution --------------------------------------------------------------------------------

#: train compatible specs together (stacked); False: every spec on its own (through
#: suite.train.run, which picks the same trainer, so the numbers are the same either way)
BATCHED = True


def group_runs(specs: Sequence[RunSpec]) -> list[list[RunSpec]]:
    """Groups of specs to train together, decided by the specs, not by their order: compatible
    specs (groups.sweep_key) in key order, chunked by groups.group_specs; specs that
    train alone are groups of one. The groups run in the order of their first spec in `specs`."""
    if not BATCHED:
        return [[spec] for spec in specs]
    position = {spec.key: i for i, spec in reversed(list(enumerate(specs)))}
    found = groups.group_specs(sorted(specs, key=lambda s: s.key), key=groups.sweep_key)
    return sorted(found, key=lambda group: min(position[s.key] for s in group))


@dataclass(frozen=True)
class Trained:
    """One run as trained, before it is stored: what `store.put` takes."""
    spec: RunSpec
    result: dict
    meta: dict
    status: str              # "ok" or "failed"
    error: str | None = None


def train_group(group: Sequence[RunSpec]) -> list[Trained]:
    """Train every spec of `group`: compatible ones together (in the canonical subgroups of
    `group_runs`), the others one by one through suite.train.run. Should a stacked group raise, its
    runs train one by one instead, through the same trainer (a batch of one gives the same numbers),
    so a run fails only for a reason of its own. Touches no store, so it runs anywhere."""
    results = {}
    for sub in group_runs(group) if BATCHED else []:
        if len(sub) == 1 or groups.sweep_key(sub[0]) is None:
            continue  # trained below, on its own
        try:
            results.update({s.key: r.to_dict() for s, r in zip(sub, stacked.run_batch(sub))})
        except Exception as exc:  # train them one by one below
            warnings.warn(f"stacked training of {len(sub)} runs failed "
                          f"({describe_error(exc).splitlines()[0]}); training them one by one", stacklevel=2)
    trained = []
    for spec in group:
        if spec.key in results:
            result, status, error = results[spec.key], "ok", None
        else:
            try:
                result, status, error = training.run(spec).to_dict(), "ok", None
            except BaseException as exc:  # the run failed, not the sweep: record it and go on
                if real_interrupt(exc):    # (a user cell's SystemExit too: suite/containment.py)
                    raise
                result, status, error = {}, "failed", describe_error(exc)
        trained.append(Trained(spec, result, metadata(spec.device) | {"trainer": training.trainer_of(spec)},
                               status, error))
    return trained


def store_trained(store: Store, group: Sequence[RunSpec], trained: Sequence[Trained]) -> list[RunOutcome]:
    """Store each trained run; the outcome of every spec of `group` (those not trained: "stored")."""
    outcomes = {spec.key: RunOutcome(spec.key, "stored") for spec in group}
    for run in trained:
        store.put(run.spec.key, run.spec.to_dict(), run.result, run.meta, run.status, run.error)
        outcomes[run.spec.key] = RunOutcome(run.spec.key, run.status, run.error)
    return [outcomes[spec.key] for spec in group]


def execute_group(group: Sequence[RunSpec], store: Store) -> list[RunOutcome]:
    """Train the specs of `group` that no other sweep has stored meanwhile, and store them."""
    pending = [spec for spec in group if not store.has(spec.key)]
    return store_trained(store, group, train_group(pending))


def ensure_runs(specs: Iterable[RunSpec], store: Store | str | os.PathLike, *, workers: int = 1,
                progress: bool | None = None, threads: int | None = None,
                executor: Executor = LOCAL) -> SweepSummary:
    """Run every spec the store has no "ok" row for; return what was found, ran and failed.

    `store` is a Store or a path. `workers` > 1 trains in that many spawned processes with
    `threads` torch threads each (default cores // workers, at least 1); with 1 worker (or 1
    pending run) the runs happen in this process, at its current thread count. `progress`: a tqdm
    bar on stderr (True), nothing (False), or None: the bar on a terminal, elsewhere one line of
    done/total, rate and ETA every 30 s (suite.progress). `executor`: where the groups train
    (suite.executors: this machine's pool, or Ray with at most `workers` groups at once when it
    starts Ray itself, one torch thread per task unless `threads` says otherwise).
    """
    if not isinstance(executor, Executor):
        raise ValueError(f"executor must be an Executor, got {type(executor).__name__}")
    specs = check_specs(specs, devices=executor.kind == "local")
    if executor.kind == "ray":  # the workers' devices count, not this machine's; the size limits hold anywhere
        for spec in specs:
            check_run(spec)
    _check_count("workers", workers, 1)
    if threads is not None:
        _check_count("threads", threads, 1)
    started = time.perf_counter()
    db = store if isinstance(store, Store) else Store(store)
    try:
        done = db.keys("ok")
        pending = [spec for spec in specs if spec.key not in done]
        summary = SweepSummary(total=len(specs), stored=len(specs) - len(pending))
        by_key = {spec.key: spec for spec in pending}
        batches = group_runs(pending)
        with Progress(len(specs), "sweep", initial=summary.stored,
                      enabled=progress if pending else False) as bar:
            for outcomes in _execute(batches, db, min(workers, len(batches)), threads, executor):
                for outcome in outcomes:
                    if outcome.status == "ok":
                        summary.ran += 1
                    elif outcome.status == "stored":
                        summary.stored += 1
                    else:
                        summary.failed.append(Failure(by_key[outcome.key], outcome.error))
                        bar.set_postfix(failed=len(summary.failed))
                    bar.update(1)
    finally:
        if db is not store:
            db.close()
    summary.wall_s = time.perf_counter() - started
    return summary


def _execute(batches: list[list[RunSpec]], store: Store, workers: int, threads: int | None,
             executor: Executor) -> Iterator[list[RunOutcome]]:
    """The outcomes of each group as it finishes; a group whose worker died is recorded as failed."""
    jobs = {i: (group,) for i, group in enumerate(batches)}
    if executor.kind == "ray":
        def lost(index: int, error: str) -> list[Trained]:
            return [Trained(spec, {}, {"executor": executor.describe()}, "failed", error) for spec in batches[index]]

        for i, trained in ray_spread(train_group, jobs, executor, workers=workers, threads=threads or 1,
                                     gpus=_gpus, broken=lost):
            yield store_trained(store, batches[i], trained)
        return

    def broken(index: int, error: str) -> list[RunOutcome]:
        return [RunOutcome(spec.key, "failed", error) for spec in batches[index]]

    for _, outcomes in spread(_execute_group, jobs, workers, store=store, threads=threads, broken=broken):
        yield outcomes


def _gpus(args: tuple) -> float:
    """A group trains as one model on one device: one GPU if that device is CUDA."""
    return 1.0 if args[0][0].device.startswith("cuda") else 0.0


def _execute_group(store: Store, group: list[RunSpec]) -> list[RunOutcome]:
    return execute_group(group, store)


# -- reading results back ---------------------------------------------------------------------

class MissingRuns(LookupError):
    """Some specs have no "ok" result in the store."""


def load_results(specs: Iterable[RunSpec], store: Store | str | os.PathLike, *,
                 strict: bool = True) -> dict[str, RunResult]:
    """key -> RunResult for the specs' stored "ok" runs. With `strict`, a spec that is missing
    or failed raises MissingRuns (run `ensure_runs` first); otherwise it is left out. A store
    filled on another machine (CUDA, a cluster) reads back anywhere."""
    specs = check_specs(specs, devices=False)
    db = store if isinstance(store, Store) else Store(store)
    try:
        records = {spec.key: db.get(spec.key) for spec in specs}
    finally:
        if db is not store:
            db.close()
    results, missing = {}, []
    for spec in specs:
        record = records[spec.key]
        if record is not None and record.status == "ok":
            results[spec.key] = RunResult.from_dict(record.result)
        else:
            missing.append((spec, "failed" if record else "missing"))
    if missing and strict:
        spec, why = missing[0]
        raise MissingRuns(f"{len(missing)} of {len(specs)} runs have no ok result in "
                          f"{db.path} (first: {label(spec)}, {why}); run ensure_runs(specs, store)")
    return results


__all__ = [
    "Failure", "MissingRuns", "RunOutcome", "SweepSummary", "available_cores", "check_specs",
    "Trained", "describe_error", "ensure_runs", "execute_group", "grid", "group_runs", "label",
    "load_results", "shard", "store_trained", "train_group",
]
