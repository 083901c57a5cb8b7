"""The arm catalogue: every arm the report trains on a gap ladder or probes at initialisation.

One row per arm, under the short name the claims use for it ("lstm fb=1"); every table and figure
prints the arm's label from its spec (suite.labels: "lstm, forget bias 1") beside that name. A row
says what the arm is (its ArchSpec fields; the width is the profile's), whether and how it trains
(its gap ladder and seed tier, both sized by the budget table in suite/profiles.py, and the
TrainSpec fields that differ from the profile's), and whether the report's probe overview measures
it at initialisation (the decay table T3, the memory horizons T4, figure F1). The protocol each
trained arm follows, and why, is in suite/claims/arms.py, which turns a row into a ladder.

A new mitigation arm is one row here (its spec field and function live in suite/specs.py and
suite/mitigations.py). Arms that differ only in training (clipping, SGD) are the same network at
initialisation, so they are not probed twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .profiles import PROFILES


@dataclass(frozen=True)
class Entry:
    fields: dict                                 # ArchSpec fields, without the width
    ladder: str | None = None                    # its named gap ladder (suite.profiles); None: probed only
    overrides: dict = field(default_factory=dict)   # TrainSpec fields that differ from the profile's
    tier: str = "base"                           # its seed tier: seeds per (arm, gap) (suite.profiles)
    probed: bool = False                         # measured at initialisation in the probe overview

    def __post_init__(self):
        for budget in PROFILES.values():   # each raises, naming what is allowed
            budget.seeds_for(self.tier)
            if self.ladder is not None:
                budget.ladder(self.ladder)
        if self.ladder is None and not self.probed:
            raise ValueError("an arm that trains on no ladder must be probed (probed=True)")

    @property
    def trained(self) -> bool:
        return self.ladder is not None


def _arm(name: str, ladder: str | None, tier: str = "base", probed: bool = False, overrides=None,
         **fields) -> Entry:
    return Entry({"name": name, **fields}, ladder, dict(overrides or {}), tier, probed)


CATALOG: dict[str, Entry] = {
    "rnn-tanh": _arm("rnn-tanh", "base", "core", probed=True),
    "rnn-tanh xavier": _arm("rnn-tanh", "extended", "reference", probed=True, init="xavier"),
    "rnn-tanh orthogonal": _arm("rnn-tanh", "extended", "reference", probed=True, init="orthogonal"),
    "rnn-tanh identity": _arm("rnn-tanh", "mid", "reference", probed=True, init="identity"),
    "rnn-tanh 1 layer": _arm("rnn-tanh", "short"),
    "rnn-tanh 2 layers": _arm("rnn-tanh", "short", layers=2),
    "rnn-tanh 3 layers": _arm("rnn-tanh", None, probed=True, layers=3),
    "rnn-tanh 4 layers": _arm("rnn-tanh", "short", layers=4),
    "rnn-tanh clip=0.25": _arm("rnn-tanh", "base", "reference", overrides={"clip": 0.25}),
    "rnn-tanh SGD": _arm("rnn-tanh", "short", "reference", overrides={"optimizer": "sgd", "lr": 0.1}),
    "rnn-tanh SGD clip=0.25": _arm("rnn-tanh", "short", "reference",
                                   overrides={"optimizer": "sgd", "lr": 0.1, "clip": 0.25}),
    "rnn-sigmoid": _arm("rnn-sigmoid", "short", probed=True),
    "rnn-sigmoid 2 layers": _arm("rnn-sigmoid", "short", layers=2),
    "rnn-relu": _arm("rnn-relu", "mid", probed=True),
    "rnn-leakyrelu": _arm("rnn-leakyrelu", "mid", probed=True),
    "rnn-prelu": _arm("rnn-prelu", "mid", probed=True),
    "irnn": _arm("irnn", "base", probed=True),
    "lstm": _arm("lstm", "base", "reference", probed=True),
    "lstm fb=1": _arm("lstm", "base", "reference", probed=True, forget_bias=1.0),
    "lstm fb=3": _arm("lstm", "extended", "reference", probed=True, forget_bias=3.0),
    "lstm chrono": _arm("lstm", "long", "reference", probed=True, options={"chrono": 320}),
    "gru": _arm("gru", "mid", "core", probed=True),
    "resrnn": _arm("resrnn", "long", probed=True),
    "rnn-attention": _arm("rnn-attention", "long", probed=True),
    "mingru": _arm("mingru", None, probed=True),
    "minlstm": _arm("minlstm", None, probed=True),
    "indrnn": _arm("indrnn", None, probed=True),
    "cornn": _arm("cornn", None, probed=True),
    "lem": _arm("lem", None, probed=True),
    "exprnn": _arm("exprnn", None, probed=True),
    "lru": _arm("lru", None, probed=True),
    "s4d": _arm("s4d", None, probed=True),
}



def trained() -> list[str]:
    """The arms that train on a gap ladder, in catalogue order."""
    return [label for label, entry in CATALOG.items() if entry.trained]


def probed() -> list[str]:
    """The arms the probe overview measures at initialisation, in catalogue order."""
    return [label for label, entry in CATALOG.items() if entry.probed]


__all__ = ["CATALOG", "Entry", "probed", "trained"]
