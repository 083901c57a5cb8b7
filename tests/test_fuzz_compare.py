"""Fuzz the regression gate: the committed baseline with one member replaced by generated JSON
(or removed), as either side of `vgsuite compare`, is a clean comparison or one line and exit 2;
a replaced claim id or verdict that breaks the schema is always refused (the gate fails closed)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from suite.verdict_schema import VERDICTS
from tests.fuzz import assert_clean, call

BASELINE = Path(__file__).resolve().parents[1] / "reports" / "baseline.json"
BASE = json.loads(BASELINE.read_text())
JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
                    max_leaves=8)
FIELDS = sorted({k for v in BASE["verdicts"] for k in v})


@given(where=st.one_of(st.tuples(st.just("top"), st.sampled_from(sorted(BASE))),
                       st.tuples(st.integers(0, len(BASE["verdicts"]) - 1), st.sampled_from(FIELDS))),
       value=JSON, drop=st.booleans(), as_new=st.booleans())
def test_a_mutated_baseline_is_compared_or_refused_in_one_line(tmp_path_factory, where, value, drop, as_new):
    data = copy.deepcopy(BASE)
    target = data if where[0] == "top" else data["verdicts"][where[0]]
    if drop:
        target.pop(where[1])
    else:
        target[where[1]] = value
    path = tmp_path_factory.mktemp("cmp") / "mutated.json"
    path.write_text(json.dumps(data))
    argv = ["compare", str(BASELINE), str(path)] if as_new else ["compare", str(path), str(BASELINE)]
    code, lines, _ = call(argv)
    assert_clean(code, lines, allowed=(0, 1, 2))
    if where[1] == "claim_id" and (drop or not isinstance(value, str) or not value.strip()):
        assert code == 2
    if where[1] == "verdict" and (drop or value not in VERDICTS):
        assert code == 2
    if where == ("top", "verdicts") and (drop or not value):
        assert code == 2


@given(lines=st.lists(st.one_of(JSON.map(json.dumps), st.text(max_size=30)), min_size=1, max_size=3),
       device=st.one_of(st.none(), st.sampled_from(["cpu", "tpu"])))
def test_a_folder_of_generated_verdict_lines_never_crashes_the_gate(tmp_path_factory, lines, device):
    folder = tmp_path_factory.mktemp("lines")
    (folder / "X-cpu.jsonl").write_text("\n".join(lines) + "\n")
    code, err, _ = call(["compare", str(BASELINE), str(folder)] + (["--device", device] if device else []))
    assert_clean(code, err, allowed=(1, 2))
