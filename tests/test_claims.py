"""The specification: every registered claim's measured verdict equals its expected verdict.

Parametrized over `suite.claims.CLAIMS` x the `device` fixture, with ids such as
`G2-sigmoid-vs-tanh-cpu`. Nothing here is specific to one claim: a claim added to the registry is
tested by adding it there.

    VGSUITE_PROFILE=quick|full      the budget (default quick: what CI runs)
    VGSUITE_MASTER_SEED=N           shifts every claim's seeds (default 0): run 0..4 to check that
                                    no verdict flips with the seeds
    VGSUITE_CLAIM_STORE=PATH        the results store the claims share (default: one per session)
"""

from __future__ import annotations

import json
import os

import pytest
from conftest import DEVICES

from suite.claims import CLAIMS, PROFILES, VERDICTS, Claim, Context, Verdict
from suite.regression import record_verdict


def _profile() -> str:
    value = os.environ.get("VGSUITE_PROFILE", "quick")
    if value not in PROFILES:
        raise pytest.UsageError(f"VGSUITE_PROFILE must be one of {list(PROFILES)}, got {value!r}")
    return value


def _master_seed() -> int:
    value = os.environ.get("VGSUITE_MASTER_SEED", "0")
    if not value.isdigit():
        raise pytest.UsageError(f"VGSUITE_MASTER_SEED must be an integer >= 0, got {value!r}")
    return int(value)


@pytest.fixture(scope="session")
def claim_store(tmp_path_factory):
    """One results store for the whole session, so a run that several claims read is trained once.
    pytest-xdist workers share it (their base temp dirs have a common parent; the store takes
    concurrent writers). $VGSUITE_CLAIM_STORE names a persistent store instead."""
    from suite.store import Store

    path = os.environ.get("VGSUITE_CLAIM_STORE")
    if not path:
        root = tmp_path_factory.getbasetemp()
        path = (root.parent if os.environ.get("PYTEST_XDIST_WORKER") else root) / "claim-runs.sqlite"
    store = Store(path)
    yield store
    store.close()


def _explain(claim: Claim, verdict: Verdict, profile: str) -> str:
    return (f"{verdict.summary()} (expected {claim.expected_for(profile)}: {claim.reason})\n"
            f"  measured statement: {claim.measured}\n  conditions: {verdict.conditions}\n"
            f"  settings: {json.dumps(verdict.settings, default=str)}")


def test_claim_ids_are_unique():
    ids = [claim.id for claim in CLAIMS]
    assert len(ids) == len(set(ids)), ids


# `device` is the conftest fixture, parametrized here (indirect) so that ids read claim-then-device
@pytest.mark.claim
@pytest.mark.parametrize("device", DEVICES, indirect=True)
@pytest.mark.parametrize("claim", CLAIMS, ids=[claim.test_id for claim in CLAIMS])
def test_claim(claim: Claim, device: str, claim_store):
    context = Context(profile=_profile(), device=device, master_seed=_master_seed(), store=claim_store)
    verdict = claim.analyse(context)
    assert isinstance(verdict, Verdict) and verdict.claim_id == claim.id
    assert verdict.verdict in VERDICTS
    assert verdict.n >= 1 and verdict.settings, "a verdict states its n and its settings"
    json.dumps(verdict.to_dict())  # the report can store it
    record_verdict(claim, verdict, context)  # for `vgsuite compare` when $VGSUITE_VERDICTS is set
    assert verdict.verdict == claim.expected_for(context.profile), _explain(claim, verdict, context.profile)
