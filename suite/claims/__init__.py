"""The claims registry: every measurable statement of the article, in one list.

Each group module (mechanism, learning, mitigation) exports `CLAIMS`, a list of `Claim`s; a new
claim is one entry there. `tests/test_claims.py` parametrizes over `CLAIMS` and the report reads
the same list.
"""

from __future__ import annotations

from .base import PROFILES, VERDICTS, Claim, Context, Verdict

CLAIMS: list[Claim] = []


def claim_by_id(claim_id: str) -> Claim:
    for claim in CLAIMS:
        if claim.id == claim_id:
            return claim
    raise ValueError(f"claim must be one of {[c.id for c in CLAIMS]}, got {claim_id!r}")


__all__ = ["CLAIMS", "PROFILES", "VERDICTS", "Claim", "Context", "Verdict", "claim_by_id"]
