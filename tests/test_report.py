"""The report renderer: every file written, tables byte-identical on re-render, schema and
metadata as documented; the derived-result cache. Probes and claims are replaced by synthetic
data here: their own tests cover them."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import replace

import pytest

from suite import evidence, figures, report
from suite.cache import ResultCache
from suite.claims import CLAIMS, VERDICTS
from suite.claims import evaluate as evaluate_module
from suite.claims.base import Claim, Context, Verdict
from suite.claims.evaluate import Evaluated, evaluate, verdict_from_dict
from suite.claims.priors import PRIORS, agreement
from suite.evidence import gather
from suite.store import Store


def fake_overview(profile, cache, master_seed=0, progress=None, workers=1):
    k = list(range(6))
    data = {}
    for task in figures.TASKS:
        data[task] = {}
        for i, (label, _) in enumerate(figures.decay_arms()):
            slope = -0.1 * (i % 4)
            data[task][label] = {
                "k": k, "log10_grad": [slope * j for j in k], "decay": slope, "decay_ci": [slope - 0.01, slope + 0.01],
                "n": 3, "saliency_k": k[:-1], "log10_saliency": [slope * j for j in k[:-1]],
                "horizons": [3, 4, 5], "horizon_censored": [False, False, True],
            }
    return data


def fake_claim(cid, verdict_word, expected, p):
    verdict = Verdict(cid, verdict_word, "decay per step", -0.25, (-0.3, -0.2), 5, test="sign test", p_value=p,
                      effect_size=0.9, effect_ci=(0.5, 1.0), conditions="hidden 32", settings={"gap": 100},
                      tables={"per seed": [{"seed": 0, "decay": -0.25}, {"seed": 1, "decay": -0.24}]})
    claim = Claim(cid, "slug-" + cid.lower(), "mechanism", f"article says {cid}", "measured", expected, "reason",
                  analyse=lambda ctx, v=verdict: v)
    return claim, verdict


def store_with_runs(path):
    store = Store(path)
    for arch in ("lstm", "rnn-tanh"):
        for gap in (10, 30):
            for seed in range(3):
                spec = {"task": {"name": "delayed_recall", "gap": gap, "options": [["n_symbols", 8]]},
                        "arch": {"name": arch, "hidden": 32, "layers": 1, "init": "default", "init_gain": 1.0,
                                 "forget_bias": None, "options": []},
                        "train": {"steps": 100, "lr": 0.003, "optimizer": "adam", "batch_size": 64,
                                  "clip": None, "clip_mode": "norm"},
                        "seed": seed, "device": "cpu"}
                solved = arch == "lstm" and (gap == 10 or seed < 2)
                store.put(f"{arch}{gap}{seed}", spec, {"solved": solved}, {})
    return store


@pytest.fixture
def rendered(tmp_path, monkeypatch):
    claims = [fake_claim("G1", "supported", "supported", 0.01), fake_claim("G2", "refuted", "supported", 0.04)]
    monkeypatch.setattr(evidence, "probe_overview", fake_overview)
    monkeypatch.setattr(evidence, "evaluate", lambda context, cache=None, progress=None: [
        Evaluated(c, v, min(1.0, p * 2)) for (c, v), p in zip(claims, (0.01, 0.04))])
    monkeypatch.setattr(evidence, "evaluate_by_budget", lambda context, budgets, cache=None: {
        "G2": {250: claims[1][1], 500: claims[1][1]}})
    store = store_with_runs(tmp_path / "store.sqlite")
    context = Context(profile="quick", store=store)

    def render(out):
        return report.render(gather(context, ResultCache(tmp_path / "cache.json")), out)

    return render, tmp_path


def test_every_file_is_written(rendered):
    render, tmp = rendered
    out = tmp / "out"
    rep = render(out)
    ids = [t.id for t in rep.tables]
    assert ids[:6] == ["T1", "T2", "T3", "T4", "T5", "T6"] and "T9" in ids and "G1.1" in ids
    for tid in ids:
        for ext in ("md", "tex", "csv"):
            assert (out / "tables" / f"{tid}.{ext}").stat().st_size > 0
    for fid in ("F1", "F2", "F3", "F4", "F6"):
        assert (out / "figures" / f"{fid}.png").read_bytes()[:4] == b"\x89PNG"
        assert b"<svg" in (out / "figures" / f"{fid}.svg").read_bytes()[:500]
    index = (out / "index.md").read_text()
    assert index.index("## Verdicts") < index.index("## Gradient flow")
    assert "### G1: slug-g1" in index and "![Figure F1" in index
    assert "1 agree, 1 differ, 0 without a prior" in index  # G2: measured refuted, the prior supported


def test_time_to_solve_censors_unsolved_runs_at_their_last_step():
    """T9 / F6: a Kaplan-Meier median per (arm, gap), None when fewer than half the runs solved."""
    class Record:
        def __init__(self, arch, gap, result):
            self.spec = {"task": {"name": "delayed_recall", "gap": gap, "options": []},
                         "arch": {"name": arch, "hidden": 32, "layers": 1, "init": "default", "init_gain": 1.0,
                                  "forget_bias": None, "options": []},
                         "train": {"steps": 1000, "lr": 0.003, "optimizer": "adam", "batch_size": 64,
                                   "clip": None, "clip_mode": "norm"}}
            self.result = result

    solved = [{"solved": True, "steps_to_solve": s, "steps_run": s} for s in (100, 200)]
    records = [Record("gru", 5, r) for r in solved] + [Record("gru", 5, {"solved": False, "steps_run": 1000})]
    records += [Record("gru", 10, solved[0])] + [Record("gru", 10, {"solved": False, "steps_run": 400})] * 2
    records += [Record("resrnn", 5, solved[0])]  # not a plain architecture: not in T7
    rows = figures.survival_rows(figures.survival_by_gap(figures.runs_by_gap(records)))
    assert [(r["arm"], r["gap"], r["n"], r["solved"], r["median steps to solve"]) for r in rows] == [
        ("gru", 5, 3, 2, 200.0), ("gru", 10, 3, 1, None)]


def test_t1_shows_the_literature_prior_beside_the_measured_verdict(rendered):
    render, tmp = rendered
    t1 = render(tmp / "out").tables[0]
    rows = {row["claim"]: row for row in t1.rows}
    assert rows["G2"]["literature prior"] == PRIORS["G2"].text and rows["G2"]["measured verdict"] == "refuted"
    assert rows["G2"]["vs prior"] == "differs" and rows["G1"]["vs prior"] == "agrees"
    assert "protocol" in rows["G1"]


def test_every_claim_has_a_literature_prior_mapped_onto_a_verdict_word():
    assert set(PRIORS) == {c.id for c in CLAIMS}
    assert all(p.verdict in VERDICTS or p.verdict is None for p in PRIORS.values())
    assert agreement("L4", "refuted") == "open" and agreement("M5", "refuted") == "differs"


def test_a_learning_verdict_names_its_protocol():
    settings = {"profile": "quick", "task": "delayed_recall", "hidden": 32, "optimizer": "adam lr=0.003",
                "batch_size": 64, "step_budget": 1000}
    text = report.protocol_of(settings)
    assert "hidden 32" in text and "<= 1000 steps" in text and "adam lr=0.003" in text


def test_rerender_is_byte_identical_except_the_date(rendered):
    render, tmp = rendered
    render(tmp / "a")
    render(tmp / "b")
    files = sorted(p.relative_to(tmp / "a") for p in (tmp / "a").rglob("*") if p.is_file())
    assert len(files) > 20
    for rel in files:
        if rel.name != "meta.json":
            assert (tmp / "a" / rel).read_bytes() == (tmp / "b" / rel).read_bytes(), rel


def test_tables_in_three_formats_agree(rendered):
    render, tmp = rendered
    render(tmp / "out")
    rows = list(csv.reader(io.StringIO((tmp / "out" / "tables" / "T2.csv").read_text())))
    assert rows[0][:4] == ["task", "protocol", "arm", "critical gap"]
    by_arm = {r[2]: r for r in rows[1:]}
    assert by_arm["lstm"][3] == "10" and by_arm["lstm"][4] == "30"  # 2/3 < 80 % at gap 30
    assert by_arm["rnn-tanh"][3] == ""  # even the smallest gap fails
    tex = (tmp / "out" / "tables" / "T2.tex").read_text()
    assert "\\toprule" in tex and "vgsuite table T2" in tex


def test_results_json_and_meta(rendered):
    render, tmp = rendered
    render(tmp / "out")
    results = json.loads((tmp / "out" / "results.json").read_text())
    assert results["schema"] == "vgsuite-report/1" and results["profile"] == "quick"
    assert [v["claim_id"] for v in results["verdicts"]] == ["G1", "G2"]
    assert results["verdicts"][0]["p_holm"] == 0.02 and results["verdicts"][1]["expected"] == "supported"
    assert set(results["tables"]["T1"]) == {"title", "columns", "rows"}
    assert results["figures"]["F1"]["files"] == ["F1.png", "F1.svg"]
    meta = json.loads((tmp / "out" / "meta.json").read_text())
    for key in ("torch", "python", "cpu_model", "threads", "code_version", "profile", "master_seed", "generated_utc"):
        assert key in meta
    assert "hostname" not in json.dumps(meta).lower()
    import socket

    assert socket.gethostname() not in json.dumps(meta)


def test_format_rule():
    assert report.fmt(0.123456) == "0.1235" and report.fmt((0.1, 0.25)) == "[0.1, 0.25]"
    assert report.fmt(None) == "" and report.fmt(True) == "yes" and report.fmt(3) == "3"


def test_dict_cells_render_alike_fresh_and_from_the_cache():
    """A claim table cell {gap: rate} renders the same whether its keys are the ints a claim
    computes or the strings a JSON round trip gives back (numeric order, not string order)."""
    fresh = {5: 0.25, 10: 1 / 3, 160: 1.0, 20: 0.5}
    as_strings = json.loads(json.dumps(fresh))  # JSON keys are strings ...
    cached = json.loads(json.dumps(as_strings, sort_keys=True))  # ... then sorted as strings
    assert list(cached) == ["10", "160", "20", "5"]
    assert report.fmt(fresh) == report.fmt(cached) == "{5: 0.25, 10: 0.3333, 20: 0.5, 160: 1}"
    assert report.fmt({"b": 1, "a": 2, 3: 0.5}) == "{3: 0.5, a: 2, b: 1}"


def test_cache_reuses_and_survives_corruption(tmp_path):
    calls = []
    cache = ResultCache(tmp_path / "c.json")
    compute = lambda: calls.append(1) or {"x": 1.5}
    assert cache.get_or_compute("k", {"a": 1}, compute) == {"x": 1.5}
    assert ResultCache(tmp_path / "c.json").get_or_compute("k", {"a": 1}, compute) == {"x": 1.5}
    assert len(calls) == 1
    ResultCache(tmp_path / "c.json").get_or_compute("k", {"a": 2}, compute)
    assert len(calls) == 2  # other parameters, another entry
    (tmp_path / "c.json").write_text("{not json")
    assert ResultCache(tmp_path / "c.json").get_or_compute("k", {"a": 1}, compute) == {"x": 1.5}
    assert len(calls) == 3  # a corrupt cache is recomputed, never trusted


def test_evaluate_applies_holm_and_caches_verdicts(tmp_path):
    claims = [fake_claim("A1", "supported", "supported", 0.01), fake_claim("A2", "supported", "supported", 0.04),
              fake_claim("A3", "inconclusive", "inconclusive", None)]
    cache = ResultCache(tmp_path / "v.json")
    out = evaluate(Context(), [c for c, _ in claims], cache)
    assert [e.p_holm for e in out] == [pytest.approx(0.02), pytest.approx(0.04), None]
    assert all(e.matches_expected for e in out)
    again = evaluate(Context(), [c for c, _ in claims], ResultCache(tmp_path / "v.json"))
    assert [e.verdict for e in again] == [e.verdict for e in out]
    assert verdict_from_dict(out[0].verdict.to_dict()) == out[0].verdict


def test_evaluate_records_durations_and_hands_out_the_longest_claims_first(tmp_path, monkeypatch):
    """A duration outlives a code change (its key has no fingerprint); fresh claims go longest first,
    those never timed ahead of them, ties in registry order."""
    claims = [fake_claim(cid, "supported", "supported", 0.01)[0] for cid in ("A1", "A2", "A3", "A4")]
    params = lambda cid: {"claim": cid, "profile": "quick", "master_seed": 0, "device": "cpu",  # noqa: E731
                          "read_steps": None}
    cache = ResultCache(tmp_path / "v.json")
    evaluate(Context(), claims, cache)
    assert all(cache.duration("verdict", params(c.id)) is not None for c in claims)
    monkeypatch.setattr("suite.cache.dependencies_fingerprint", lambda kind: "changed code")
    changed = ResultCache(tmp_path / "v.json")
    assert changed.duration("verdict", params("A1")) is not None and not changed.has("verdict", params("A1"))

    timed = ResultCache(tmp_path / "timed.json")
    for cid, seconds in (("A1", 1.0), ("A2", 30.0), ("A3", 5.0)):  # A4 never timed
        timed.record_duration("verdict", params(cid), seconds)
    order, real = [], evaluate_module._analyses
    monkeypatch.setattr(evaluate_module, "_analyses",
                        lambda context, fresh: order.extend(c.id for c in fresh) or real(context, fresh))
    evaluate(Context(), claims, timed)
    assert order == ["A4", "A2", "A3", "A1"]


def test_a_fresh_entry_looks_exactly_like_a_reloaded_one(tmp_path):
    fresh = ResultCache(tmp_path / "c.json").get_or_compute("k", {}, lambda: {"b": 1, "a": [{"z": 0, "y": 1}]})
    reloaded = ResultCache(tmp_path / "c.json").get_or_compute("k", {}, lambda: {})
    assert json.dumps(fresh) == json.dumps(reloaded)  # same key order, so same table columns


def test_success_panels_split_arms_and_reference_only_where_mitigated():
    """F2: architectures and mitigation arms in separate panels; rnn-tanh joins the mitigation
    panel as the reference only for a task that has mitigation arms (no lone-reference panel)."""
    from suite.plots import success_panels

    def row(task, arm, gap=10, rate=0.5):
        return {"task": task, "protocol": "p", "arm": arm, "gap": gap, "rate": rate}

    rows = [row("recall", "rnn-tanh"), row("recall", "lstm"), row("recall", "rnn-tanh, clip 1"),
            row("adding", "rnn-tanh"), row("adding", "gru")]
    panels = success_panels(rows)
    assert sorted(panels) == [("adding", "p", "architectures"), ("recall", "p", "architectures"),
                              ("recall", "p", "mitigations")]
    assert sorted(panels[("recall", "p", "mitigations")]) == ["rnn-tanh", "rnn-tanh, clip 1"]
    assert sorted(panels[("adding", "p", "architectures")]) == ["gru", "rnn-tanh"]


def test_cached_verdicts_and_probes_depend_on_the_code_they_run_and_not_on_the_rendering():
    """A cached kind is keyed on the import closure of the code that computes it (suite.imports):
    a change to any module the claims run (a kernel the models call, a task) invalidates their
    verdicts, while the report, the plots and the CLI, which only render, do not."""
    from suite.cache import DEPENDENCIES, ROOT
    from suite.imports import closure

    verdicts = {str(p.relative_to(ROOT)) for p in closure(DEPENDENCIES["verdict"])}
    probes = {str(p.relative_to(ROOT)) for p in closure(DEPENDENCIES["probe-arm"])}
    for needed in ("suite/claims/reach.py", "suite/claims/__init__.py", "suite/engine/kernels.py",
                   "suite/engine/native_loops.cpp", "suite/probes/backward.py", "tasks/copy.py", "suite/__init__.py"):
        assert needed in verdicts, needed
    for needed in ("suite/overview.py", "suite/probes/backward.py", "suite/models/gated.py", "tasks/adding.py"):
        assert needed in probes, needed
    for rendering in ("suite/report.py", "suite/plots.py", "suite/evidence.py", "suite/cli/__init__.py"):
        assert rendering not in verdicts and rendering not in probes, rendering
    assert "suite/claims/reach.py" not in probes


def test_budget_table_and_figure_read_every_budget_off_the_same_runs(rendered):
    render, tmp = rendered
    rep = render(tmp / "out")
    tables = {t.id: t for t in rep.tables}
    t8 = {row["arm"]: row for row in tables["T8"].rows}
    # the fake runs carry no solve step: solved at their own 100-step budget, so at every read budget
    assert t8["lstm"]["<= 250 steps"] == "[10, 30)" and t8["rnn-tanh"]["<= 250 steps"] == "[0, 10)"
    assert (tmp / "out" / "figures" / "F5.png").read_bytes()[:4] == b"\x89PNG"
    t5 = tables["T5"].rows
    lstm30 = next(r for r in t5 if r["arm"] == "lstm" and r["gap"] == 30)
    tanh10 = next(r for r in t5 if r["arm"] == "rnn-tanh" and r["gap"] == 10)
    assert lstm30["median steps to solve"] == 100 and lstm30["budget-bound"] == "yes"  # 100 > 0.5 x 100
    assert tanh10["median steps to solve"] == "not reached" and tanh10["budget-bound"] == "yes"
    assert "T7" not in tables  # the quick profile trains no tuning runs


def test_a_budget_read_counts_only_runs_solved_by_then():
    class Rec:
        def __init__(self, key, solved, steps):
            self.key = key
            self.spec = {"task": {"name": "adding", "gap": 10, "options": []},
                         "arch": {"name": "gru", "hidden": 32, "layers": 1, "init": "default", "init_gain": 1.0,
                                  "forget_bias": None, "options": []},
                         "train": {"steps": 1000, "lr": 0.01, "optimizer": "adam", "batch_size": 64,
                                   "clip": None, "clip_mode": "norm"}}
            self.result = {"solved": solved, "steps_to_solve": steps}

    runs = figures.runs_by_gap([Rec("a", True, 200), Rec("b", True, 700), Rec("c", False, None)])
    assert figures.success_by_gap(runs, 250) == {next(iter(runs)): {10: (1, 3)}}
    assert figures.success_by_gap(runs) == {next(iter(runs)): {10: (2, 3)}}
    row = figures.success_rows(runs)[0]
    assert row["median steps to solve"] == 700 and row["budget-bound"] == "yes" and row["lr"] == 0.01


def test_t1_shows_the_verdict_on_fresh_seeds(rendered, monkeypatch):
    render, tmp = rendered
    original = evidence.evaluate

    def evaluate(context, cache=None, progress=None):
        out = original(context, cache, progress)
        if context.master_seed == 1:  # G2 comes out differently on the fresh seeds
            out[1] = Evaluated(out[1].claim, replace(out[1].verdict, verdict="conditional"), out[1].p_holm)
        return out

    monkeypatch.setattr(evidence, "evaluate", evaluate)
    monkeypatch.setattr(evidence, "confirmation_context", lambda context: replace(context, master_seed=1))
    rep = render(tmp / "out")
    column = "fresh seeds (quick, master seed 1)"
    assert [row[column] for row in rep.tables[0].rows] == ["same", "differs: conditional"]
    index = (tmp / "out" / "index.md").read_text()
    assert "On fresh seeds (quick, master seed 1): 1 of 2 verdicts the same; different: G2." in index
    results = json.loads((tmp / "out" / "results.json").read_text())
    assert results["verdicts"][1]["confirmation"] == {"under": column, "verdict": "conditional"}


def test_a_fresh_seed_verdict_the_confirming_protocol_expects_is_said_so():
    assert report.confirmation_text("conditional", "conditional", "supported") == "same"
    assert report.confirmation_text("conditional", "supported", "supported") == "supported, as that protocol expects"
    assert report.confirmation_text("conditional", "refuted", "supported") == "differs: refuted"


def test_the_budget_table_reads_a_longer_protocol_at_its_own_budget_too():
    class Rec:
        def __init__(self, steps, solved_at):
            self.spec = {"task": {"name": "copy", "gap": 5, "options": []},
                         "arch": {"name": "gru", "hidden": 64, "layers": 1, "init": "default", "init_gain": 1.0,
                                  "forget_bias": None, "options": []},
                         "train": {"steps": steps, "lr": 0.01, "optimizer": "adam", "batch_size": 64,
                                   "clip": None, "clip_mode": "norm"}}
            self.result = {"solved": solved_at is not None, "steps_to_solve": solved_at, "steps_run": steps}

    runs = figures.runs_by_gap([Rec(8000, 4600), Rec(8000, 5100), Rec(8000, 4100)])
    row = figures.critical_gap_by_budget(runs, (250, 1000))[0]
    assert row["<= 1000 steps"] == "[0, 5)" and row["at its own budget"] == ">= 5 at 8000"
    assert row["changes with budget"] == "yes"


def test_the_cross_cutting_tables_leave_out_the_tuning_and_confirmation_runs():
    from suite.claims.base import Context
    from suite.claims.evaluate import confirmation_context, planned_runs, tuning_runs

    context = Context(profile="full")

    class Rec:
        def __init__(self, key):
            self.key = key

    own, tuning = planned_runs(context)[0].key, tuning_runs(context)[0].key
    fresh = planned_runs(confirmation_context(context))[0].key
    kept = evidence.table_records(context, [Rec(own), Rec(tuning), Rec(fresh), Rec("a user's own sweep")])
    assert [r.key for r in kept] == [own, "a user's own sweep"]


def test_the_report_and_its_tables_only_render():
    """suite.report and suite.figures format what suite.evidence gathered: neither imports anything
    that trains, decides a claim or probes (issue 14)."""
    import ast
    from pathlib import Path

    forbidden = {"sweep", "train", "probes", "engine", "overview", "evidence.gather", "claims.evaluate.evaluate",
                 "claims.evaluate.evaluate_by_budget", "claims.evaluate.planned_runs"}
    for module in (report, figures):
        tree = ast.parse(Path(module.__file__).read_text())
        names = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                names |= {node.module or ""} | {f"{node.module}.{a.name}" for a in node.names}
            elif isinstance(node, ast.Import):
                names |= {a.name for a in node.names}
        assert not {n for n in names if n in forbidden or n.split(".")[0] in forbidden}, module.__name__
