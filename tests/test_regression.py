"""Regression checks (`suite.regression`, `vgsuite compare`): verdict sets are read from every source,
a planted regression in the baseline is detected (a verdict flip, a number beyond the noise of both runs'
CIs, a missing claim), and changes within tolerance are shown but pass: among them the moves another
CPU makes (issue 13: a collapsed [1, 1] interval failed every machine but the baseline's)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from suite.claims import CLAIMS, Claim, Context, Verdict
from suite.cli import main
from suite.regression import (
    KEPT,
    SCHEMA,
    VerdictFileError,
    VerdictSet,
    compare,
    load_verdicts,
    record_verdict,
    write_baseline,
)

ROOT = Path(__file__).resolve().parent.parent
BASELINE = ROOT / "reports" / "baseline.json"


def verdict(claim_id="G1", word="supported", value=-0.3, ci=(-0.35, -0.25), effect=None, effect_ci=None, n=5):
    return Verdict(claim_id, word, "log10 decay per step", value, ci, n, effect_size=effect, effect_ci=effect_ci,
                   settings={"hidden": 32})


def claim(claim_id="G1", expected="supported"):
    return Claim(claim_id, "slug", "mechanism", "article", "measured", expected, "reason", lambda c: None)


def verdict_set(*verdicts, profile="quick") -> VerdictSet:
    return VerdictSet(profile, {v.claim_id: {k: x for k, x in v.to_dict().items() if k in KEPT} for v in verdicts},
                      "cpu", 0)


@pytest.fixture
def base() -> VerdictSet:
    return verdict_set(verdict("G1"), verdict("G2", "refuted", 0.1, (0.05, 0.2), 0.7, (0.6, 0.8)),
                       verdict("L1", "supported", 30.0, None))


def statuses(comparison) -> dict:
    return {row.claim: row.status for row in comparison.rows}


# -- recording and reading ---------------------------------------------------------------------------

def test_record_verdict_is_a_no_op_without_the_variable(monkeypatch, tmp_path):
    monkeypatch.delenv("VGSUITE_VERDICTS", raising=False)
    assert record_verdict(claim(), verdict(), Context()) is None


def test_recorded_verdicts_are_one_file_per_claim_replaced_whole(monkeypatch, tmp_path):
    """Two runs of the same claims write folders that compare byte for byte, whichever process
    (pytest-xdist worker) ran which claim, and a rerun of a claim replaces its line."""
    folders = [tmp_path / "a", tmp_path / "b"]
    for folder, order in zip(folders, (("G1", "G2"), ("G2", "G1", "G2"))):
        monkeypatch.setenv("VGSUITE_VERDICTS", str(folder))
        for cid in order:
            record_verdict(claim(cid), verdict(cid), Context(profile="quick"))
    names = [sorted(p.name for p in folder.iterdir()) for folder in folders]
    assert names[0] == names[1] == ["G1-cpu.jsonl", "G2-cpu.jsonl"]
    for name in names[0]:
        assert (folders[0] / name).read_bytes() == (folders[1] / name).read_bytes()
    assert len((folders[1] / "G2-cpu.jsonl").read_text().splitlines()) == 1


def test_recorded_verdicts_read_back_as_a_set(monkeypatch, tmp_path):
    monkeypatch.setenv("VGSUITE_VERDICTS", str(tmp_path / "v"))
    for cid in ("G1", "G2"):
        record_verdict(claim(cid), verdict(cid), Context(profile="quick"))
    loaded = load_verdicts(tmp_path / "v")
    assert loaded.profile == "quick" and loaded.device == "cpu" and sorted(loaded.verdicts) == ["G1", "G2"]
    assert loaded.verdicts["G1"]["expected"] == "supported" and "tables" not in loaded.verdicts["G1"]


def test_a_baseline_round_trips(tmp_path, base):
    path = write_baseline(base, tmp_path / "baseline.json")
    data = json.loads(path.read_text())
    assert data["schema"] == SCHEMA and data["profile"] == "quick" and data["meta"]["torch"]
    assert [v["claim_id"] for v in data["verdicts"]] == ["G1", "G2", "L1"]
    assert load_verdicts(path).verdicts == json.loads(json.dumps(base.verdicts))


def test_report_results_and_claims_json_are_accepted(tmp_path, base):
    report = {"schema": "vgsuite-report/1", "version": "0.1.0+abc", "profile": "quick",
              "verdicts": [v | {"p_holm": None, "article": "a"} for v in base.verdicts.values()]}
    (tmp_path / "results.json").write_text(json.dumps(report))
    (tmp_path / "claims.json").write_text(json.dumps(list(base.verdicts.values())))
    assert sorted(load_verdicts(tmp_path / "results.json").verdicts) == ["G1", "G2", "L1"]
    assert compare(base, load_verdicts(tmp_path / "claims.json")).exit_code == 0


@pytest.mark.parametrize("content,message", [
    (None, "no file or directory"),
    ("not json", "is not JSON"),
    ('{"schema": "other/1"}', "has schema 'other/1'"),
    ('[{"value": 1}]', "claim_id must be a non-empty string"),
])
def test_unreadable_verdict_files_are_named(tmp_path, content, message):
    path = tmp_path / "v.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(VerdictFileError, match=message):
        load_verdicts(path)


def test_an_empty_verdict_folder_says_how_to_fill_it(tmp_path):
    with pytest.raises(VerdictFileError, match="run the claim tests with VGSUITE_VERDICTS="):
        load_verdicts(tmp_path)


# -- the rules -----------------------------------------------------------------------------------------

def test_the_same_verdicts_are_no_regression(base):
    comparison = compare(base, copy.deepcopy(base))
    assert comparison.exit_code == 0 and set(statuses(comparison).values()) == {"ok"}
    assert "no regression" in comparison.render()


def test_a_verdict_flip_is_a_regression(base):
    new = copy.deepcopy(base)
    new.verdicts["G2"]["verdict"] = "supported"
    comparison = compare(base, new)
    assert comparison.exit_code == 1 and statuses(comparison)["G2"] == "REGRESSION"
    assert "verdict flip: refuted -> supported" in comparison.render()


def test_a_number_beyond_the_noise_is_a_regression(base):
    new = copy.deepcopy(base)
    new.verdicts["G1"]["value"] = -0.5  # CI [-0.35, -0.25]: z = 0.2 / (0.05 / 1.96 * sqrt 2) = 5.5
    new.verdicts["G2"]["effect_size"] = 1.0  # effect CI [0.6, 0.8]: z = 4.2
    comparison = compare(base, new)
    assert statuses(comparison) == {"G1": "REGRESSION", "G2": "REGRESSION", "L1": "ok"}
    text = comparison.render()
    assert "value -0.3 -> -0.5: z = 5.54 >" in text and "effect size 0.7 -> 1: z = 4.16 >" in text


def test_the_gate_is_bonferroni_over_the_numbers_it_judges():
    from suite.regression import _z_gate

    assert _z_gate(1) == pytest.approx(1.95996, abs=1e-4)
    assert _z_gate(44) == pytest.approx(3.2544, abs=1e-3)  # 22 claims x (value, effect size)


def test_moves_another_cpu_makes_pass_and_collapsed_intervals_are_not_trusted():
    """The numbers of issue 13: a fresh clone on another CPU moved L2, L4, M5 and M3 (one run's
    outcome); M3's baseline interval had collapsed to [1, 1]."""
    base = verdict_set(verdict("M3", "conditional", 1.0, (1.0, 1.0)),
                       verdict("L2", "supported", 0.8308, (0.74537, 0.90821)),
                       verdict("L4", "refuted", 0.006877, (0.004938, 0.00879)),
                       verdict("M5", "refuted", 0.91, (0.7825, 1.0)),
                       verdict("M4", "supported", 1.0, (0.8722, 1.0)))  # Newcombe's interval, 5 vs 20
    new = verdict_set(verdict("M3", "conditional", 0.965, (0.85, 0.99)),
                      verdict("L2", "supported", 0.8322, (0.747, 0.909)),
                      verdict("L4", "refuted", 0.00705, (0.0051, 0.0090)),
                      verdict("M5", "refuted", 0.89, (0.76, 0.99)),
                      verdict("M4", "supported", 0.965, (0.84, 0.99)))
    comparison = compare(base, new)
    assert comparison.exit_code == 0 and set(statuses(comparison).values()) == {"changed"}
    assert "collapsed CI in the baseline" in comparison.render()
    worse = copy.deepcopy(new)  # a real change: the effect of M5 halves
    worse.verdicts["M5"]["value"], worse.verdicts["M5"]["ci"] = 0.45, [0.3, 0.6]
    assert statuses(compare(base, worse))["M5"] == "REGRESSION"


def test_a_number_within_the_ci_is_shown_as_changed_but_passes(base):
    new = copy.deepcopy(base)
    new.verdicts["G1"]["value"] = -0.26
    new.verdicts["L1"]["value"] = 31.0  # no CI: within 5 %
    comparison = compare(base, new)
    assert comparison.exit_code == 0 and statuses(comparison) == {"G1": "changed", "G2": "ok", "L1": "changed"}


def test_a_number_without_ci_beyond_rtol_is_a_regression(base):
    new = copy.deepcopy(base)
    new.verdicts["L1"]["value"] = 10.0
    assert statuses(compare(base, new))["L1"] == "REGRESSION"
    assert statuses(compare(base, new, rtol=0.9))["L1"] == "changed"


def test_missing_and_new_claims(base):
    new = copy.deepcopy(base)
    del new.verdicts["L1"]
    new.verdicts["M9"] = verdict("M9").to_dict()
    comparison = compare(base, new)
    assert statuses(comparison)["L1"] == "missing" and statuses(comparison)["M9"] == "new"
    assert comparison.exit_code == 1 and [r.claim for r in comparison.regressions] == ["L1"]


def test_protocol_changes_are_noted(base):
    new = copy.deepcopy(base)
    new.verdicts["G1"]["settings"] = {"hidden": 64}
    new.verdicts["G1"]["n"] = 10
    row = next(r for r in compare(base, new).rows if r.claim == "G1")
    assert row.status == "ok" and "protocol changed: hidden" in row.notes and "n 5 -> 10" in row.notes


def test_profiles_must_match(base):
    with pytest.raises(ValueError, match="profiles differ"):
        compare(base, verdict_set(verdict(), profile="full"))


# -- the command line ------------------------------------------------------------------------------------

def test_compare_cli_detects_a_planted_regression_and_update_accepts_it(tmp_path, base, capsys):
    base_path = write_baseline(base, tmp_path / "baseline.json")
    new = copy.deepcopy(base)
    new.verdicts["G1"]["verdict"] = "refuted"
    new_path = write_baseline(new, tmp_path / "new.json")
    assert main(["compare", str(base_path), str(new_path)]) == 1
    out = capsys.readouterr().out
    assert "REGRESSION" in out and "1 regression(s)" in out
    assert main(["compare", str(base_path), str(new_path), "--json"]) == 1
    assert json.loads(capsys.readouterr().out)["regressions"] == 1
    assert main(["compare", str(base_path), str(new_path), "--update"]) == 0
    assert load_verdicts(base_path).verdicts["G1"]["verdict"] == "refuted"
    assert main(["compare", str(base_path), str(new_path)]) == 0


def test_compare_cli_bad_input_exits_2(tmp_path, capsys):
    assert main(["compare", str(tmp_path / "missing.json"), str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "verdicts:" in err and "Traceback" not in err


# -- the committed baseline ------------------------------------------------------------------------------

def test_the_committed_baseline_is_a_quick_profile_verdict_set():
    if not BASELINE.exists():
        pytest.skip("reports/baseline.json not generated yet (nox -s regression -- --update)")
    baseline = load_verdicts(BASELINE)
    assert baseline.profile == "quick" and baseline.device == "cpu" and baseline.verdicts
    known = {c.id for c in CLAIMS}
    assert set(baseline.verdicts) <= known, "the baseline names claims the registry no longer has"


def test_a_planted_regression_in_the_committed_baseline_is_detected():
    if not BASELINE.exists():
        pytest.skip("reports/baseline.json not generated yet (nox -s regression -- --update)")
    baseline = load_verdicts(BASELINE)
    planted = copy.deepcopy(baseline)
    first = sorted(planted.verdicts)[0]
    planted.verdicts[first]["verdict"] = "inconclusive" if planted.verdicts[first]["verdict"] != "inconclusive" \
        else "supported"
    assert compare(baseline, copy.deepcopy(baseline)).exit_code == 0
    comparison = compare(baseline, planted)
    assert comparison.exit_code == 1 and [r.claim for r in comparison.regressions] == [first]
