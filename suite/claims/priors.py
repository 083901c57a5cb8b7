"""The literature's prior for every claim: the "expected" column of the shared claims.md, as written.

The prior is a hypothesis from the literature, not a target (claims.md): the report prints it beside
the measured verdict and counts agreements and disagreements; it is never edited to match a
measurement. `Claim.expected` is a different thing: the verdict the claim's test asserts, i.e. what
the suite measured (with the reason in `Claim.reason`).

`verdict` maps the prior onto a verdict word so that agreement can be counted: None where claims.md
leaves the question open (L4). Where the prior qualifies its word ("conditional on init", "supported
for tanh/sigmoid"), the word is the one the qualified statement gives for the claim as the suite
tests it (G6: the article's sentence is about vanishing *and* exploding gradients, and the prior
supports only the exploding half, so the sentence holds only under that condition: conditional;
M2 tests the same sentence by training, and its prior "clipping is no vanishing fix" says the same,
so it maps onto the same word).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Prior:
    text: str            # claims.md's "expected" column, verbatim
    verdict: str | None  # the verdict word it predicts; None: open


PRIORS: dict[str, Prior] = {
    "G1": Prior("supported", "supported"),
    "G2": Prior("supported", "supported"),
    "G3": Prior("supported", "supported"),
    "G4": Prior("conditional on init (can vanish or explode)", "conditional"),
    "G5": Prior("conditional", "conditional"),
    "G6": Prior("refuted for vanishing (clipping rescales the whole gradient; Pascanu et al. 2013); "
                "supported for exploding", "conditional"),
    "G7": Prior("conditional", "conditional"),
    "G8": Prior("supported", "supported"),
    "G9": Prior("supported", "supported"),
    "L1": Prior("supported", "supported"),
    "L2": Prior("supported", "supported"),
    "L3": Prior("conditional", "conditional"),
    "L4": Prior("open: measure and report honestly", None),
    "L5": Prior("supported", "supported"),
    "L6": Prior("supported for tanh/sigmoid", "supported"),
    "M1": Prior("conditional", "conditional"),
    "M2": Prior("clipping ≠ vanishing fix", "conditional"),
    "M3": Prior("conditional on init", "conditional"),
    "M4": Prior("supported", "supported"),
    "M5": Prior("supported (forget bias matters)", "supported"),
    "M6": Prior("supported", "supported"),
    "M7": Prior("supported", "supported"),
}


def prior_of(claim_id: str) -> Prior:
    if claim_id not in PRIORS:
        raise ValueError(f"claim {claim_id!r} has no literature prior; add its claims.md row to PRIORS")
    return PRIORS[claim_id]


def agreement(claim_id: str, measured: str) -> str:
    """"agrees", "differs" or "open" (no prior) for a measured verdict."""
    prior = prior_of(claim_id).verdict
    if prior is None:
        return "open"
    return "agrees" if measured == prior else "differs"


__all__ = ["PRIORS", "Prior", "agreement", "prior_of"]
