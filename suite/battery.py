"""The battery of `vgsuite check`: what it probes and trains, taken from the budget table.

A `Battery` is one profile's check budget (suite/profiles.py: `Profile.check` for the ladders and
seeds, `Profile.probe` for the probes, the profile's width and TrainSpec) with any setting narrowed
by the caller (`vgsuite check --tasks/--gaps/--seeds/--steps/...`). The battery is frozen: the
expectations (suite/expectations.py) and the report read it, nothing changes it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from tasks import task_class

from .limits import check_probe, check_run
from .profiles import PROFILES, task_options
from .specs import ArchSpec, RunSpec, TaskSpec, TrainSpec

#: the architectures every check measures beside the one under test
BASELINES = ("rnn-tanh", "lstm", "gru")


@dataclass(frozen=True)
class Battery:
    name: str
    tasks: tuple[str, ...]
    gaps: tuple[tuple[str, tuple[int, ...]], ...]   # task -> ladder (empty: no training)
    seeds: int
    hidden: int
    train: TrainSpec
    probe_gap: int
    probe_seeds: int
    probe_batch: int
    layers: int = 1
    baselines: tuple[str, ...] = BASELINES
    #: past a ladder's top, keep doubling the gap while an arm still solves it, up to this gap (0: the
    #: ladder only), so that a good cell's critical gap is bracketed rather than cut off at the top
    max_gap: int = 0

    def ladder(self, task: str) -> tuple[int, ...]:
        return dict(self.gaps).get(task, ())

    def next_gap(self, task: str, gap: int) -> int | None:
        """The rung after `gap` on `task`: the ladder's next, else double it up to max_gap, else None."""
        ladder = self.ladder(task)
        later = [g for g in ladder if g > gap]
        if later:
            return later[0]
        return 2 * gap if gap >= (ladder[-1] if ladder else gap) and 2 * gap <= self.max_gap else None

    @property
    def trains(self) -> bool:
        return any(gaps for _, gaps in self.gaps)

    def describe(self) -> str:
        text = (f"{self.name} battery: hidden {self.hidden}, layers {self.layers}; probes at gap "
                f"{self.probe_gap}, {self.probe_seeds} seeds x batch {self.probe_batch}")
        if self.trains:
            ladders = "; ".join(f"{t} {','.join(map(str, g))}" for t, g in self.gaps if g)
            text += (f"; critical gap over {self.seeds} seeds, {self.train.steps} steps "
                     f"(lr {self.train.lr:g}, batch {self.train.batch_size}): {ladders}"
                     + (f", doubling while solved up to {self.max_gap}" if self.max_gap else ""))
        return text


def _check_sizes(**values) -> None:
    for label, value in values.items():
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise ValueError(f"{label.replace('_', '-')} must be an integer >= 1, got {value!r}")


def make_battery(name: str = "quick", *, tasks=None, gaps=None, seeds=None, steps=None, hidden=None,
                 layers: int = 1, probe_gap=None, probe_seeds=None, probe_batch=None,
                 baselines=None, train: bool = True, max_gap=None) -> Battery:
    """The `name` profile's battery ("quick", "full" or "paper") with any of its settings narrowed.
    `max_gap`: keep doubling past each ladder's top while an arm solves it, up to this gap (default
    4x the longest ladder's top: two doublings; 0: the ladder only)."""
    if name not in PROFILES:
        raise ValueError(f"profile must be one of {sorted(PROFILES)}, got {name!r}")
    budget = PROFILES[name]
    check = budget.check
    tasks = tuple(tasks or check.tasks)
    for task in tasks:
        task_class(task)
    _check_sizes(seeds=seeds, steps=steps, hidden=hidden, layers=layers, probe_gap=probe_gap,
                 probe_batch=probe_batch)
    if max_gap is not None and (isinstance(max_gap, bool) or not isinstance(max_gap, int) or max_gap < 0):
        raise ValueError(f"max-gap must be an integer >= 0 (0: the ladder only), got {max_gap!r}")
    if probe_seeds is not None and (not isinstance(probe_seeds, int) or probe_seeds < 2):
        raise ValueError(f"probe-seeds must be an integer >= 2 (a CI needs two), got {probe_seeds!r}")
    if gaps is not None:
        gaps = sorted(set(gaps))
        if not gaps or any(isinstance(g, bool) or not isinstance(g, int) or g < 1 for g in gaps):
            raise ValueError(f"gaps must be integers >= 1, got {gaps!r}")
    check_ladders = dict(check.gaps)
    ladders = {t: (tuple(gaps) if gaps is not None else check_ladders.get(t) or budget.gaps_for(t))
               for t in tasks} if train else {}
    train_spec = budget.train if steps is None else replace(budget.train, steps=steps,
                                                             eval_every=min(budget.train.eval_every, steps))
    baselines = tuple(BASELINES if baselines is None else baselines)
    for b in baselines:
        ArchSpec(b)  # validates the name
    tops = [g[-1] for g in ladders.values() if g]
    max_gap = (4 * max(tops) if tops else 0) if max_gap is None else max_gap
    battery = Battery(name, tasks, tuple(sorted(ladders.items())), seeds or check.seeds, hidden or budget.hidden,
                      train_spec, probe_gap or budget.probe.gap, probe_seeds or budget.probe.seeds,
                      probe_batch or budget.probe.batch, layers, baselines, max_gap)
    _check_limits(battery)
    return battery


def _check_limits(battery: Battery) -> None:
    """Refuse (SizeError) a battery whose probes or largest runs exceed the limits, before any work."""
    arch = ArchSpec(hidden=battery.hidden, layers=battery.layers)
    for task in battery.tasks:
        options = task_options(task)
        check_probe(arch, TaskSpec(task, battery.probe_gap, options), battery.probe_batch)
        for gap in battery.ladder(task)[-1:]:
            top = gap
            while battery.next_gap(task, top) is not None:  # the longest rung it may climb to
                top = battery.next_gap(task, top)
            check_run(RunSpec(TaskSpec(task, top, options), arch, battery.train))


__all__ = ["BASELINES", "Battery", "make_battery"]
