"""The claims registry: every measurable statement of the article, in one list.

Each group module exports `CLAIMS`, a list of `Claim`s: `mechanism` (G1-G9, L5), `learning`
(L1-L4, L6) and `reach` (the mitigation claims M1-M7: does a remedy raise the reach); a new claim is
one entry there. `tests/test_claims.py` parametrizes over `CLAIMS` and the report reads
the same list.
"""

from __future__ import annotations

from .base import PROFILES, VERDICTS, Claim, Context, Verdict
from .learning import CLAIMS as LEARNING_CLAIMS
from .mechanism import CLAIMS as MECHANISM_CLAIMS
from .reach import CLAIMS as MITIGATION_CLAIMS

CLAIMS: list[Claim] = [*MECHANISM_CLAIMS, *LEARNING_CLAIMS, *MITIGATION_CLAIMS]


def claim_by_id(claim_id: str) -> Claim:
    for claim in CLAIMS:
        if claim.id == claim_id:
            return claim
    raise ValueError(f"claim must be one of {[c.id for c in CLAIMS]}, got {claim_id!r}")


__all__ = ["CLAIMS", "PROFILES", "VERDICTS", "Claim", "Context", "Verdict", "claim_by_id"]
