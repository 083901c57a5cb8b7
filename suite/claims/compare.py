"""One shape for "an arm against a reference", and the verdict fields a deciding test fills.

Every claim that compares arms does it the same way: each arm gives one number per seed (a decay
rate from the probes, a reach from a gap ladder), and the arm is compared with a reference arm by
one-sided Mann-Whitney U tests both ways (suite.stats.mann_whitney_greater):

    greater  H1: the arm's values exceed the reference's   (a flatter decay, a longer reach)
    less     H1: the reference's values exceed the arm's

`Comparison.direction` reads the pair at level ALPHA (both cannot hold at once). What a measure adds
(the rate ratio that "carries the gradient further" also asks for, the arms' critical gaps) rides
along in `notes` and shows as columns of the comparison's table row. A claim then decides its word
from its comparisons' parts (suite.claims.base.graded, verdict_of_halves, or Holm over a family),
and fills the verdict's test fields from the comparison (or any other test) that decides it with
`decided_by`, so a verdict's p-value and effect size always come from one named test.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..stats import TestOutcome, mann_whitney_greater

ALPHA = 0.05


@dataclass(frozen=True)
class Comparison:
    """`arm` against `reference` on one per-seed measure, one-sided Mann-Whitney U both ways."""

    arm: str
    reference: str
    measure: str                        # what the values are, e.g. "reach", "decay rate"
    arm_values: tuple[float, ...]
    reference_values: tuple[float, ...]
    greater: TestOutcome                # H1: the arm's values exceed the reference's
    less: TestOutcome                   # H1: the reference's values exceed the arm's
    notes: dict = field(default_factory=dict)   # measure-specific columns of the row

    @property
    def direction(self) -> str:
        """'greater', 'less' or 'none' at level ALPHA."""
        if self.greater.p_value < ALPHA:
            return "greater"
        if self.less.p_value < ALPHA:
            return "less"
        return "none"

    @property
    def n(self) -> int:
        """Seeds of both arms together."""
        return len(self.arm_values) + len(self.reference_values)

    @property
    def n_counts(self) -> str:
        return f"seeds of {self.arm} plus seeds of {self.reference}"

    def decides(self, test: str | None = None) -> dict:
        """The verdict fields of the `greater` test (its own name unless `test` words it)."""
        return decided_by(self.greater, test)

    def row(self) -> dict:
        return {
            "arm": self.arm, "reference": self.reference, "measure": self.measure,
            "n": f"{len(self.arm_values)} vs {len(self.reference_values)}",
            "median_arm": float(np.median(self.arm_values)),
            "median_reference": float(np.median(self.reference_values)),
            "p_greater": round(self.greater.p_value, 5), "p_less": round(self.less.p_value, 5),
            "effect_P(arm>reference)": round(self.greater.effect_size, 3),
            "effect_ci": [round(x, 3) for x in self.greater.effect_ci],
            "direction": self.direction,
        } | self.notes


def compare(arm: str, reference: str, arm_values, reference_values, measure: str, **notes) -> Comparison:
    """Compare two arms' per-seed values (labels name them in tables and conditions)."""
    a, b = tuple(float(v) for v in arm_values), tuple(float(v) for v in reference_values)
    return Comparison(arm, reference, measure, a, b, mann_whitney_greater(a, b), mann_whitney_greater(b, a),
                      dict(notes))


def decided_by(outcome: TestOutcome, test: str | None = None) -> dict:
    """The fields of a Verdict that its deciding test fills: the test's name (or `test`, a wording
    that states H1), its p-value, and its effect size with that effect's interval."""
    return {"test": test or outcome.test, "p_value": outcome.p_value, "effect_size": outcome.effect_size,
            "effect_ci": tuple(outcome.effect_ci)}


__all__ = ["ALPHA", "Comparison", "compare", "decided_by"]
