"""Budgets: the `quick` profile (what CI runs) and the `full` profile (what the report runs).

One claim, two budgets, same code. A profile says how big a network to train, how to train it
(a `TrainSpec`), how many replicate seeds to run and which gaps to try on each task. The claims
and `vgsuite sweep --profile NAME` take their defaults from here; anything set explicitly (a CLI
flag, a claim that needs its own TrainSpec) overrides the profile.

    >>> from suite.profiles import profile
    >>> quick = profile("quick")
    >>> quick.gaps_for("delayed_recall"), quick.seeds, quick.train.steps
    ((5, 10, 20, 40), 5, 1000)

The numbers below were calibrated by the learning claims (L1/L2 and M1-M7 in claims.md): the
ladders straddle the architectures' critical gaps within the step budget, and the quick profile
decides every claim in minutes on 2 cores.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from tasks import TASKS

from .specs import ArchSpec, TrainSpec

GapLadders = tuple[tuple[str, tuple[int, ...]], ...]


def freeze_ladders(ladders: Mapping[str, tuple[int, ...]] | GapLadders) -> GapLadders:
    """A dict task -> gaps as a sorted tuple of pairs (hashable, like the specs' options)."""
    return tuple(sorted((task, tuple(gaps)) for task, gaps in dict(ladders).items()))


@dataclass(frozen=True)
class Profile:
    name: str
    description: str
    hidden: int            # ArchSpec.hidden for every architecture the profile builds
    train: TrainSpec       # the training protocol
    seeds: int             # replicate seeds per (task, gap, architecture)
    gaps: GapLadders = field(default=())  # task -> increasing gaps

    def __post_init__(self):
        object.__setattr__(self, "gaps", freeze_ladders(self.gaps))
        ArchSpec(hidden=self.hidden)  # validates hidden with the spec's own message
        if isinstance(self.seeds, bool) or not isinstance(self.seeds, int) or self.seeds < 1:
            raise ValueError(f"seeds must be a positive integer, got {self.seeds!r}")
        for task, gaps in self.gaps:
            if task not in TASKS:
                raise ValueError(f"gap ladder for unknown task {task!r}; tasks: {sorted(TASKS)}")
            if not gaps or list(gaps) != sorted(set(gaps)) or gaps[0] < 1:
                raise ValueError(f"gap ladder for {task!r} must be increasing gaps >= 1, got {gaps!r}")

    def gaps_for(self, task: str) -> tuple[int, ...]:
        ladders = dict(self.gaps)
        if task not in ladders:
            raise ValueError(f"profile {self.name!r} has no gap ladder for task {task!r}; "
                             f"it has ladders for {sorted(ladders)}")
        return ladders[task]

    def arch(self, name: str, **fields) -> ArchSpec:
        """An ArchSpec of this profile's width; `fields` set mitigations (init, forget_bias, ...)."""
        return ArchSpec(name=name, **{"hidden": self.hidden, **fields})


# -- the profiles, calibrated by the learning claims (suite/claims/protocol.py has the notes) -------
# Measured on 2 CPU cores: within 1000 Adam steps at hidden 32 the architectures separate on
# delayed recall between gaps 5 and 40; copy is unsolved at gap 10 by gru, lstm and attention.

CALIBRATED_TRAIN = TrainSpec(steps=1000, batch_size=64, lr=3e-3, optimizer="adam",
                             eval_every=25, eval_size=512, early_stop=True)

QUICK = Profile(
    name="quick",
    description="CI: every claim decided in minutes on 2 CPU cores",
    hidden=32,
    train=CALIBRATED_TRAIN,
    seeds=5,
    gaps={
        "copy": (10, 20),
        "adding": (10, 20, 40, 80),
        "delayed_recall": (5, 10, 20, 40),
    },
)

FULL = Profile(
    name="full",
    description="the report: more seeds and longer ladders under the same training protocol",
    hidden=32,
    train=CALIBRATED_TRAIN,
    seeds=10,
    gaps={
        "copy": (10, 20, 40),
        "adding": (10, 20, 40, 80, 160),
        "delayed_recall": (5, 10, 20, 40, 80, 160, 320),
    },
)

PROFILES: dict[str, Profile] = {"quick": QUICK, "full": FULL}


def profile(name: str | Profile) -> Profile:
    """The registered profile `name` (a Profile passes through)."""
    if isinstance(name, Profile):
        return name
    if name not in PROFILES:
        raise ValueError(f"profile must be one of {sorted(PROFILES)}, got {name!r}")
    return PROFILES[name]


__all__ = ["FULL", "PROFILES", "Profile", "QUICK", "profile"]
