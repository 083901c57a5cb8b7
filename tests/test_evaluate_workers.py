"""Claims analysed in worker processes give the verdicts one process gives (issue 15)."""

from __future__ import annotations

import pytest

from suite.cache import ResultCache
from suite.claims import Context, claim_by_id
from suite.claims.evaluate import evaluate
from suite.store import Store


@pytest.mark.slow
def test_claims_spread_over_workers_match_one_process(tmp_path):
    claims = [claim_by_id("G9"), claim_by_id("G4")]  # two cheap mechanism claims
    verdicts = {}
    for workers in (1, 2):
        store = Store(tmp_path / f"runs{workers}.sqlite")
        context = Context(profile="quick", store=store, workers=workers)
        cache = ResultCache(tmp_path / f"cache{workers}.json")
        verdicts[workers] = [e.verdict.to_dict() for e in evaluate(context, claims, cache=cache, progress=False)]
        store.close()
    assert verdicts[2] == verdicts[1]
    assert [v["claim_id"] for v in verdicts[2]] == ["G9", "G4"]
