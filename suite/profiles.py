"""The budget table: every size the suite trains or probes at, per profile, in one place.

Three profiles, one code path: `quick` (what CI runs: every claim decided in minutes on 2 cores),
`full` (what the report runs) and `paper` (the literature's protocols, for a GPU or a cluster:
`vgsuite claims --profile paper --plan` prints what it would cost). A profile says

* how the learning claims and `vgsuite sweep` train: the width, the `TrainSpec`, the replicate
  seeds per (arm, gap) by tier, and the gap ladders (per task for sweeps and checks; named
  delayed-recall ladders for the learning claims' arms, see suite/claims/arms.py, and the adding
  and copy ladders that L1 also runs when they are set);
* how big a gradient probe is: the overview probes of tables T3/T4 and of `vgsuite check`
  (`probe`), and the settings of each mechanism claim that probes (`claim_settings`, by claim id);
* what `vgsuite check` trains (`check`).

Anything set explicitly (a CLI flag, an arm's TrainSpec overrides) narrows the profile; nothing
else in the suite spells a budget. Replicate seeds come from `suite.specs.replicate_seeds`.

    >>> from suite.profiles import profile
    >>> quick = profile("quick")
    >>> quick.gaps_for("delayed_recall"), quick.seeds, quick.train.steps
    ((5, 10, 20, 40), 5, 1000)

How the learning protocol was calibrated (and what it cannot show) is in suite/claims/arms.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType

from tasks import TASKS

from .specs import ArchSpec, TrainSpec

GapLadders = tuple[tuple[str, tuple[int, ...]], ...]

#: task options every probe and check uses: copy's loss over the recall window only, where the
#: memory is needed (the loss over all steps is dominated by the trivially predictable blanks)
TASK_OPTIONS: Mapping[str, Mapping] = MappingProxyType({"copy": MappingProxyType({"loss_window": "recall"})})


def task_options(task: str) -> dict:
    return dict(TASK_OPTIONS.get(task, {}))


def freeze_ladders(ladders: Mapping[str, tuple[int, ...]] | GapLadders) -> GapLadders:
    """A dict name -> gaps as a sorted tuple of pairs (hashable, like the specs' options)."""
    return tuple(sorted((name, tuple(gaps)) for name, gaps in dict(ladders).items()))


def _positive(name: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")


def _check_ladder(name: str, gaps) -> None:
    if not gaps or list(gaps) != sorted(set(gaps)) or gaps[0] < 1:
        raise ValueError(f"gap ladder for {name!r} must be increasing gaps >= 1, got {gaps!r}")


@dataclass(frozen=True)
class ProbeBudget:
    """A gradient probe's size: sequence gap, width, seeds and sequences per seed."""
    gap: int
    hidden: int
    seeds: int
    batch: int

    def __post_init__(self):
        for name in ("gap", "hidden", "seeds", "batch"):
            _positive(name, getattr(self, name))


@dataclass(frozen=True)
class CheckBudget:
    """What `vgsuite check` trains: the tasks, their ladders and the seeds per rung."""
    tasks: tuple[str, ...]
    gaps: GapLadders
    seeds: int

    def __post_init__(self):
        object.__setattr__(self, "gaps", freeze_ladders(self.gaps))
        _positive("seeds", self.seeds)


@dataclass(frozen=True)
class TaskSlice:
    """Extra training runs that no verdict reads but the critical-gap tables show (T2, T5, T8): a
    task whose learning protocol differs from the claims' (e.g. copy, which needs a wider network
    and a longer budget than delayed recall). Each architecture trains at its tuned learning rate."""
    task: str
    archs: tuple[str, ...]
    gaps: tuple[int, ...]
    seeds: int
    hidden: int
    train: TrainSpec
    options: tuple = ()   # task options as sorted (name, value) pairs
    why: str = ""         # what the slice shows, for the report

    def __post_init__(self):
        if self.task not in TASKS:
            raise ValueError(f"slice task must be one of {sorted(TASKS)}, got {self.task!r}")
        object.__setattr__(self, "archs", tuple(self.archs))
        object.__setattr__(self, "gaps", tuple(self.gaps))
        object.__setattr__(self, "options", tuple(sorted(dict(self.options).items())))
        _check_ladder(f"{self.task} slice", self.gaps)
        _positive("seeds", self.seeds)
        ArchSpec(hidden=self.hidden)


@dataclass(frozen=True)
class Profile:
    name: str
    description: str
    hidden: int            # ArchSpec.hidden of every learning run
    train: TrainSpec       # the training protocol
    seeds: int             # replicate seeds per (task, gap, arch); the learning claims' base tier
    gaps: GapLadders = field(default=())  # task -> increasing gaps (sweeps and the full check)
    #: seeds for the arms a learning verdict compares with rnn-tanh, and for rnn-tanh and gru
    #: themselves, whose difference is one of reliability (None: `seeds`)
    seeds_reference: int | None = None
    seeds_core: int | None = None
    arm_ladders: GapLadders = field(default=())  # ladder name -> delayed-recall gaps (claims/arms.py)
    adding_ladder: tuple[int, ...] = ()          # the learning claims' adding ladder (empty: not run)
    copy_ladder: tuple[int, ...] = ()            # the learning claims' copy ladder (empty: not run)
    probe: ProbeBudget = ProbeBudget(gap=100, hidden=32, seeds=3, batch=8)
    check: CheckBudget | None = None             # None: the profile's own tasks, gaps and seeds
    #: step budgets at which the learning verdicts are decided again, read off the same runs (each
    #: a multiple of train.eval_every, at most train.steps; report table T6)
    read_budgets: tuple[int, ...] = ()
    #: seeds per (architecture, grid learning rate) of the tuning runs the report trains again and
    #: shows beside the learning rates the claims use (table T7; suite/claims/learning_rates.py); 0: none
    tuning_seeds: int = 0
    #: (profile, master seed) under which the report decides every verdict again, on seeds that no
    #: calibration used, and shows whether it is the same (table T1); None: no confirmation
    confirmation: tuple[str, int] | None = None
    #: training runs shown in the critical-gap tables only, under a task's own protocol (TaskSlice)
    slices: tuple[TaskSlice, ...] = ()
    #: claim id -> the sizes of that mechanism claim (hidden, gap, seeds, batch and its own knobs)
    claim_settings: Mapping[str, Mapping] = field(default_factory=dict, compare=False)

    def __post_init__(self):
        object.__setattr__(self, "gaps", freeze_ladders(self.gaps))
        object.__setattr__(self, "arm_ladders", freeze_ladders(self.arm_ladders))
        object.__setattr__(self, "adding_ladder", tuple(self.adding_ladder))
        object.__setattr__(self, "copy_ladder", tuple(self.copy_ladder))
        object.__setattr__(self, "claim_settings", MappingProxyType(
            {claim: MappingProxyType(dict(values)) for claim, values in dict(self.claim_settings).items()}))
        ArchSpec(hidden=self.hidden)  # validates hidden with the spec's own message
        _positive("seeds", self.seeds)
        for tier in ("seeds_reference", "seeds_core"):
            if getattr(self, tier) is None:
                object.__setattr__(self, tier, self.seeds)
            _positive(tier, getattr(self, tier))
        for task, gaps in self.gaps:
            if task not in TASKS:
                raise ValueError(f"gap ladder for unknown task {task!r}; tasks: {sorted(TASKS)}")
            _check_ladder(task, gaps)
        for name, gaps in self.arm_ladders:
            _check_ladder(name, gaps)
        for task in ("adding", "copy"):
            if getattr(self, f"{task}_ladder"):
                _check_ladder(task, getattr(self, f"{task}_ladder"))
        if isinstance(self.tuning_seeds, bool) or not isinstance(self.tuning_seeds, int) or self.tuning_seeds < 0:
            raise ValueError(f"tuning_seeds must be an integer >= 0, got {self.tuning_seeds!r}")
        if self.confirmation is not None:
            name, seed = self.confirmation
            if isinstance(seed, bool) or not isinstance(seed, int) or seed < 1:
                raise ValueError(f"confirmation master seed must be an integer >= 1 (0 is the report's own), "
                                 f"got {seed!r}")
            object.__setattr__(self, "confirmation", (str(name), seed))
        object.__setattr__(self, "read_budgets", tuple(self.read_budgets))
        for steps in self.read_budgets:
            if steps % self.train.eval_every or not 0 < steps <= self.train.steps:
                raise ValueError(f"read_budgets must be multiples of eval_every ({self.train.eval_every}) up "
                                 f"to train.steps ({self.train.steps}), got {steps!r}")
        if self.check is None:
            object.__setattr__(self, "check", CheckBudget(tuple(t for t, _ in self.gaps), self.gaps, self.seeds))

    def gaps_for(self, task: str) -> tuple[int, ...]:
        ladders = dict(self.gaps)
        if task not in ladders:
            raise ValueError(f"profile {self.name!r} has no gap ladder for task {task!r}; "
                             f"it has ladders for {sorted(ladders)}")
        return ladders[task]

    def ladder(self, name: str) -> tuple[int, ...]:
        """A named delayed-recall ladder of the learning claims' arms."""
        ladders = dict(self.arm_ladders)
        if name not in ladders:
            raise ValueError(f"ladder must be one of {sorted(ladders)}, got {name!r}")
        return ladders[name]

    def seeds_for(self, tier: str) -> int:
        """Replicate seeds of a seed tier: "base", "reference" or "core"."""
        tiers = {"base": self.seeds, "reference": self.seeds_reference, "core": self.seeds_core}
        if tier not in tiers:
            raise ValueError(f"seed tier must be one of {list(tiers)}, got {tier!r}")
        return tiers[tier]

    def settings_of(self, claim_id: str) -> dict:
        """The sizes mechanism claim `claim_id` probes at under this profile."""
        if claim_id not in self.claim_settings:
            raise ValueError(f"profile {self.name!r} has no settings for claim {claim_id!r}; "
                             f"it has {sorted(self.claim_settings)}")
        return dict(self.claim_settings[claim_id])

    def arch(self, name: str, **fields) -> ArchSpec:
        """An ArchSpec of this profile's width; `fields` set mitigations (init, forget_bias, ...)."""
        return ArchSpec(name=name, **{"hidden": self.hidden, **fields})


# -- the table --------------------------------------------------------------------------------------
# Learning: within 1000 Adam steps at hidden 32 the architectures separate on delayed recall
# between gaps 5 and 40; copy is unsolved at gap 10 by gru, lstm and attention (claims/arms.py).

CALIBRATED_TRAIN = TrainSpec(steps=1000, batch_size=64, lr=3e-3, optimizer="adam",
                             eval_every=25, eval_size=512, early_stop=True)

# The mechanism claims probe at hidden 64 (gap, seeds and batch per claim); G7 and L5 also train.
# G7's "after training" arms must have learned their task, so its training gap is the one at which
# lstm, gru and rnn-tanh all solved delayed recall on check seeds no report uses (master seeds 100
# and 101): gap 5, quick 30/30 within 125 steps, full (hidden 64) 18/18 within 100 steps. At gap 10
# the default LSTM solved 4/10 (hidden 32, lr 1e-2) and 3/4 (hidden 64, lr 3e-3) within 1000 steps.
QUICK_CLAIMS = {
    "G1": {"hidden": 64, "gap": 100, "seeds": 5, "batch": 16, "float32_gap": 380},
    "G2": {"hidden": 64, "gap": 100, "seeds": 5, "batch": 16,
           "jac_gap": 40, "jac_seeds": 3, "jac_batch": 8, "jac_stride": 3},
    "G3": {"hidden": 64, "gap": 100, "seeds": 10, "batch": 8, "layers": (1, 2, 3)},
    "G4": {"hidden": 64, "gap": 100, "seeds": 5, "batch": 8, "explode_gain": 1.1},
    "G5": {"hidden": 64, "gap": 100, "seeds": 5, "batch": 8},
    "G6": {"hidden": 64, "gap": 50, "batch": 32, "seeds": 5, "norm_fraction": 0.1,
           "explode": {"hidden": 32, "gap": 50, "gain": 3.0, "steps": 60, "lr": 0.1, "clip": 1.0}},
    "G7": {"hidden": 32, "gap": 100, "seeds": 5, "batch": 8, "train_gap": 5, "steps": 300, "lr": 1e-2},
    "G8": {"hidden": 64, "gap": 100, "seeds": 5, "batch": 8, "skips": (1, 4)},
    "G9": {"hidden": 64, "gap": 100, "seeds": 5, "batch": 4},
    "L5": {"hidden": 64, "gap": 50, "seeds": 5, "batch": 8, "steps": 300, "lr": 1e-3},
}
FULL_CLAIMS = {
    "G1": {"hidden": 64, "gap": 300, "seeds": 20, "batch": 32, "float32_gap": 380},
    "G2": {"hidden": 64, "gap": 300, "seeds": 20, "batch": 32,
           "jac_gap": 100, "jac_seeds": 10, "jac_batch": 16, "jac_stride": 1},
    "G3": {"hidden": 64, "gap": 200, "seeds": 20, "batch": 16, "layers": (1, 2, 3, 4)},
    "G4": {"hidden": 64, "gap": 300, "seeds": 20, "batch": 16, "explode_gain": 1.1},
    "G5": {"hidden": 64, "gap": 300, "seeds": 20, "batch": 16},
    "G6": {"hidden": 64, "gap": 100, "batch": 64, "seeds": 10, "norm_fraction": 0.1,
           "explode": {"hidden": 32, "gap": 50, "gain": 3.0, "steps": 200, "lr": 0.1, "clip": 1.0}},
    "G7": {"hidden": 64, "gap": 300, "seeds": 12, "batch": 16, "train_gap": 5, "steps": 600, "lr": 3e-3},
    "G8": {"hidden": 64, "gap": 300, "seeds": 20, "batch": 16, "skips": (1, 2, 4, 8)},
    "G9": {"hidden": 64, "gap": 300, "seeds": 20, "batch": 8},
    "L5": {"hidden": 64, "gap": 100, "seeds": 20, "batch": 16, "steps": 2000, "lr": 1e-3},
}

# Copy needs more than the claims' protocol: within 1000 (or 3000) steps at hidden 32 nothing solved
# gap 10 (recall accuracy 0.15-0.23 for gru, lstm, attention); on tuning seeds (master 100/101)
# gru at hidden 64, lr 1e-2, with the loss on the recall window, solved gap 10 in 5300 and 7100
# steps (2/2) and gap 20 in 8200 (1/2) within 10 000; forget-gate inits did not help the LSTM.
COPY_SLICE = TaskSlice(
    task="copy", archs=("rnn-tanh", "gru"), gaps=(5, 10), seeds=3, hidden=64,
    train=replace(CALIBRATED_TRAIN, steps=8000, eval_every=100), options={"loss_window": "recall"},
    why="copy under its own protocol (hidden 64, <= 8000 steps, loss on the recall window): the "
        "claims' protocol solves no copy gap")

FULL_GAPS = {"copy": (10, 20, 40), "adding": (10, 20, 40, 80, 160),
             "delayed_recall": (5, 10, 20, 40, 80, 160, 320)}

QUICK = Profile(
    name="quick",
    description="CI: every claim decided in minutes on 2 CPU cores",
    hidden=32,
    train=CALIBRATED_TRAIN,
    seeds=5, seeds_reference=10, seeds_core=20,
    gaps={"copy": (10, 20), "adding": (10, 20, 40, 80), "delayed_recall": (5, 10, 20, 40)},
    arm_ladders={"short": (5, 10), "mid": (5, 10, 20), "base": (5, 10, 20, 40),
                 "extended": (5, 10, 20, 40, 80), "long": (5, 10, 20, 40, 80, 160)},
    adding_ladder=(),
    read_budgets=(250, 500, 1000),
    probe=ProbeBudget(gap=100, hidden=32, seeds=3, batch=8),
    check=CheckBudget(tasks=("delayed_recall",), seeds=3,
                      gaps={"delayed_recall": (10, 30, 100), "copy": (10, 20, 50), "adding": (10, 30, 100)}),
    claim_settings=QUICK_CLAIMS,
)

FULL = Profile(
    name="full",
    description="the report: more seeds and longer ladders under the same training protocol",
    hidden=32,
    train=CALIBRATED_TRAIN,
    seeds=10, seeds_reference=15, seeds_core=20,
    gaps=FULL_GAPS,
    arm_ladders={"short": (5, 10, 20), "mid": (5, 10, 20, 40), "base": (5, 10, 20, 40, 80),
                 "extended": (5, 10, 20, 40, 80, 160), "long": (5, 10, 20, 40, 80, 160, 320)},
    adding_ladder=(10, 20, 40, 80),
    read_budgets=(250, 500, 1000),
    tuning_seeds=5,
    confirmation=("quick", 1),
    slices=(COPY_SLICE,),
    probe=ProbeBudget(gap=300, hidden=64, seeds=5, batch=16),
    check=CheckBudget(tasks=("delayed_recall", "copy", "adding"), gaps=FULL_GAPS, seeds=10),
    claim_settings=FULL_CLAIMS,
)

# The literature's protocols (Bai, Kolter & Koltun 2018; Le, Jaitly & Hinton 2015; their numbers
# are in suite/literature.py): width 128, up to 10k Adam steps, delayed recall and copy to 1000,
# adding to 600. Nobody has run it on 2 cores; `vgsuite claims --profile paper --plan` estimates it.
# Its specs share no key with quick's or full's (width and budget differ), so its runs are fresh
# seeds for every verdict: no confirmation profile.
PAPER_TRAIN = TrainSpec(steps=10_000, batch_size=64, lr=3e-3, optimizer="adam",
                        eval_every=100, eval_size=512, early_stop=True)
PAPER_LADDER = (10, 30, 100, 300, 1000)

#: full's mechanism settings at width 128 and T ~ 1000; every other knob stays full's, so a knob
#: added to FULL_CLAIMS reaches this profile too
PAPER_SCALE = {
    "G1": {"hidden": 128, "gap": 1000, "float32_gap": 1000},
    "G2": {"hidden": 128, "gap": 1000, "jac_gap": 300},
    "G3": {"hidden": 128, "gap": 1000},
    # identity x1.1 grows the state by 1.1^T: keep T where that stays far inside float32
    "G4": {"hidden": 128, "gap": 300},
    "G5": {"hidden": 128, "gap": 1000},
    "G6": {"hidden": 128, "gap": 300},
    "G7": {"hidden": 128, "gap": 1000, "train_gap": 100, "steps": 10_000},
    "G8": {"hidden": 128, "gap": 1000},
    "G9": {"hidden": 128, "gap": 1000},
    "L5": {"hidden": 128, "gap": 300, "steps": 10_000},
}
PAPER_CLAIMS = {claim: {**FULL_CLAIMS[claim], **PAPER_SCALE.get(claim, {})} for claim in FULL_CLAIMS}
PAPER_GAPS = {"copy": PAPER_LADDER, "adding": (50, 100, 200, 400, 600), "delayed_recall": PAPER_LADDER}

PAPER = Profile(
    name="paper",
    description="the literature's protocols (hidden 128, 10k Adam steps, T up to 1000), for a GPU or a cluster",
    hidden=128,
    train=PAPER_TRAIN,
    seeds=5, seeds_reference=10, seeds_core=10,
    gaps=PAPER_GAPS,
    arm_ladders={"short": PAPER_LADDER[:3], "mid": PAPER_LADDER[:4], "base": PAPER_LADDER,
                 "extended": PAPER_LADDER, "long": PAPER_LADDER},
    adding_ladder=PAPER_GAPS["adding"],
    copy_ladder=PAPER_GAPS["copy"],  # the loss over all steps, as the papers report it
    read_budgets=(1000, 3000, 10_000),
    tuning_seeds=5,
    probe=ProbeBudget(gap=1000, hidden=128, seeds=10, batch=16),
    check=CheckBudget(tasks=("delayed_recall", "copy", "adding"), gaps=PAPER_GAPS, seeds=10),
    claim_settings=PAPER_CLAIMS,
)

PROFILES: dict[str, Profile] = {"quick": QUICK, "full": FULL, "paper": PAPER}


def _check_confirmations() -> None:
    for p in PROFILES.values():
        if p.confirmation is not None and p.confirmation[0] not in PROFILES:
            raise ValueError(f"profile {p.name!r}: confirmation profile must be one of {sorted(PROFILES)}, "
                             f"got {p.confirmation[0]!r}")


_check_confirmations()


def profile(name: str | Profile) -> Profile:
    """The registered profile `name` (a Profile passes through)."""
    if isinstance(name, Profile):
        return name
    if name not in PROFILES:
        raise ValueError(f"profile must be one of {sorted(PROFILES)}, got {name!r}")
    return PROFILES[name]


__all__ = ["CALIBRATED_TRAIN", "COPY_SLICE", "FULL", "PAPER", "PROFILES", "CheckBudget", "ProbeBudget", "Profile",
           "QUICK", "TASK_OPTIONS", "TaskSlice", "profile", "task_options"]
