"""What a claim is, what its analysis returns, and the context it runs in.

A `Claim` pairs a paraphrase of one statement of the article with the experiment that tests it:
`analyse(context) -> Verdict`. The verdict carries its numbers (the key statistic with a
confidence interval, the p-value of a stated test, the effect size, n) and the conditions under
which it holds. `expected` is the verdict the suite asserts, with the reason (literature, or our
own earlier measurement): a claim the measurements contradict is recorded as a finding, never
made to pass by loosening a threshold.

Verdict words (shared claims.md): supported, refuted, conditional (holds only under the named
conditions), inconclusive (the statistics could not decide; `conditions` says what would).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

from ..executors import LOCAL, Executor
from ..profiles import PROFILES, Profile
from ..specs import json_ready, replicate_seeds

if TYPE_CHECKING:
    from ..store import Store

VERDICTS = ("supported", "refuted", "conditional", "inconclusive")
GROUPS = ("mechanism", "learning", "mitigation")
HALVES = ("shown", "refuted", "not shown")


def verdict_of_halves(*halves: str) -> str:
    """One rule for a sentence that makes several promises at once (G6 and M2: clipping keeps
    gradients from vanishing *or* exploding): supported if every half is shown, conditional if some
    are (the sentence holds only for those), refuted if none is and at least one is refuted,
    inconclusive otherwise."""
    for half in halves:
        if half not in HALVES:
            raise ValueError(f"half must be one of {list(HALVES)}, got {half!r}")
    if all(h == "shown" for h in halves):
        return "supported"
    if "shown" in halves:
        return "conditional"
    return "refuted" if "refuted" in halves else "inconclusive"


def graded(as_stated: bool, in_part: bool) -> str:
    """The rule most claims decide by: supported when the article's sentence holds as stated,
    conditional when it holds only under a condition the claim names (some arms, some inits, some
    tasks), refuted when it holds under none."""
    return "supported" if as_stated else ("conditional" if in_part else "refuted")


@dataclass(frozen=True)
class Verdict:
    claim_id: str
    verdict: str
    statistic: str                  # what `value` is, e.g. "log10 gradient decay per step"
    value: float
    ci: tuple[float, float] | None  # 95 % CI of `value`
    n: int                          # independent replicates (seeds or initialisations)
    n_counts: str = ""              # what n counts in this claim, e.g. "seeds, both arms"
    test: str = ""                  # the stated test, e.g. "one-sided Mann-Whitney U"
    p_value: float | None = None
    effect_size: float | None = None
    effect_ci: tuple[float, float] | None = None
    conditions: str = ""            # when it holds; for inconclusive: what would decide it
    settings: dict = field(default_factory=dict)   # the protocol: hidden size, gaps, seeds...
    tables: dict = field(default_factory=dict)     # name -> list of row dicts, for the report

    def __post_init__(self):
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {list(VERDICTS)}, got {self.verdict!r}")

    def to_dict(self) -> dict:
        return json_ready(asdict(self))

    def summary(self) -> str:
        ci = f" [{self.ci[0]:.3g}, {self.ci[1]:.3g}]" if self.ci else ""
        p = f", p={self.p_value:.2g}" if self.p_value is not None else ""
        counts = f" ({self.n_counts})" if self.n_counts else ""
        return f"{self.claim_id} {self.verdict}: {self.statistic} = {self.value:.4g}{ci}{p}, n={self.n}{counts}"


@dataclass(frozen=True)
class Context:
    """Everything an analysis may depend on besides its own code."""

    profile: str = "quick"
    device: str = "cpu"
    master_seed: int = 0
    store: Store | None = None
    workers: int = 1
    #: where the training runs the claims read go (suite.executors: the local pool or Ray)
    executor: Executor = LOCAL
    #: read every stored learning run as if its step budget were this (<= its own; None: its own):
    #: the budget dimension of the learning claims, from the same runs (RunResult.at_budget)
    read_steps: int | None = None

    def __post_init__(self):
        if self.profile not in PROFILES:
            raise ValueError(f"profile must be one of {list(PROFILES)}, got {self.profile!r}")
        if isinstance(self.master_seed, bool) or not isinstance(self.master_seed, int) or self.master_seed < 0:
            raise ValueError(f"master_seed must be an integer >= 0, got {self.master_seed!r}")
        if self.read_steps is not None and (isinstance(self.read_steps, bool) or not isinstance(self.read_steps, int)
                                            or self.read_steps < 1):
            raise ValueError(f"read_steps must be a positive integer or None, got {self.read_steps!r}")

    def seeds(self, n: int) -> list[int]:
        """`n` replicate seeds of this master seed (suite.specs.replicate_seeds)."""
        return replicate_seeds(self.master_seed, n)

    @property
    def budget(self) -> Profile:
        """This context's profile: the budget table's column for it (suite.profiles)."""
        return PROFILES[self.profile]

    def settings_of(self, claim_id: str) -> dict:
        """The sizes mechanism claim `claim_id` probes at under this profile."""
        return self.budget.settings_of(claim_id)


@dataclass(frozen=True)
class Claim:
    id: str            # "G1"
    slug: str          # "exponential-decay": the test id is G1-exponential-decay-cpu
    group: str         # mechanism | learning | mitigation
    article: str       # the article's statement, paraphrased
    measured: str      # the precise statement the test asserts
    expected: str      # the verdict the suite asserts
    reason: str        # why that verdict is expected
    analyse: Callable[[Context], Verdict]
    #: the training runs the analysis reads from the store, so that a sweep can run them all
    #: up front (in parallel, batched); None for claims that need no stored runs
    runs: Callable[[Context], list] | None = None
    #: the analysis also trains models of its own (L4 retrains), so it cannot be read at a
    #: shorter budget from the stored runs alone
    retrains: bool = False
    #: (profile, verdict) pairs where a profile's protocol measures a different verdict than
    #: `expected` (e.g. a task only that profile runs); `reason` says why
    expected_under: tuple[tuple[str, str], ...] = ()

    def expected_for(self, profile: str) -> str:
        """The verdict the suite asserts under `profile`."""
        return dict(self.expected_under).get(profile, self.expected)

    @property
    def by_budget(self) -> bool:
        """Whether the verdict can be decided at any budget up to the runs' own, from the same runs."""
        return self.runs is not None and not self.retrains

    def __post_init__(self):
        for expected in (self.expected, *dict(self.expected_under).values()):
            if expected not in VERDICTS:
                raise ValueError(f"expected must be one of {list(VERDICTS)}, got {expected!r}")
        if self.group not in GROUPS:
            raise ValueError(f"group must be one of {list(GROUPS)}, got {self.group!r}")

    @property
    def test_id(self) -> str:
        return f"{self.id}-{self.slug}"
