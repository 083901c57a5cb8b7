"""The paper profile, the literature's numbers and `vgsuite claims --plan`: no claim is trained here."""

from __future__ import annotations

import json
import math
from types import SimpleNamespace

import pytest

import suite.plan
from suite.claims import CLAIMS, Context, claim_by_id
from suite.claims.arms import arm
from suite.claims.evaluate import planned_runs, report_runs
from suite.cli import main
from suite.literature import FINDINGS, comparison_rows, copy_baseline, covered, findings
from suite.profiles import FULL, PAPER, QUICK
from suite.specs import ArchSpec, RunSpec, TaskSpec, TrainSpec

# -- the paper profile -----------------------------------------------------------------------------


def test_the_paper_profile_follows_the_literatures_protocols():
    assert PAPER.hidden == 128 and PAPER.train.steps >= 10_000 and PAPER.train.optimizer == "adam"
    assert max(PAPER.ladder("long")) == 1000 and max(PAPER.copy_ladder) == 1000 and max(PAPER.adding_ladder) == 600
    assert set(dict(PAPER.arm_ladders)) == set(dict(QUICK.arm_ladders))  # every catalogued arm has its ladder
    assert PAPER.read_budgets[-1] == PAPER.train.steps and PAPER.seeds >= 5
    assert set(PAPER.claim_settings) == set(FULL.claim_settings)
    for claim, values in PAPER.claim_settings.items():
        assert set(values) >= set(FULL.claim_settings[claim]), claim  # every knob of full's is set
        assert values["hidden"] == 128 and values["gap"] >= 300
    hash(PAPER)


def test_the_paper_ladders_reach_every_tabulated_finding():
    ctx = Context(profile="paper")
    for f in FINDINGS:
        if f.value is not None:  # Bai et al.'s table: adding 600 and copy 1000, gru / lstm / rnn-tanh
            assert f.gap in arm(ctx, f.arch, f.task).gaps


def test_copy_joins_the_learning_ladders_only_where_a_profile_sets_it():
    paper = arm(Context(profile="paper"), "gru", "copy")
    assert paper.gaps == PAPER.copy_ladder and dict(paper.task_options) == {"loss_window": "all"}
    assert paper.spec(1000, 0).task.build().baseline_loss == pytest.approx(copy_baseline(1000))
    for profile in ("quick", "full"):
        assert arm(Context(profile=profile), "gru", "copy").gaps == ()
        tasks = {s.task.name for s in planned_runs(Context(profile=profile))}
        assert "copy" not in tasks  # quick and full train exactly what they trained before
    assert {s.task.name for s in planned_runs(Context(profile="paper"), [claim_by_id("L1")])} == {
        "delayed_recall", "adding", "copy"}
    with pytest.raises(ValueError, match="task must be one of"):
        arm(Context(), "gru", "parity")


# -- the literature ----------------------------------------------------------------------------------


def test_findings_are_looked_up_by_task_length_and_architecture():
    assert [f.value for f in findings("adding", 600, "gru")] == [5.3e-5]
    assert {f.arch for f in findings("copy", 1000)} == {"gru", "lstm", "rnn-tanh"}
    assert findings("delayed_recall") == []
    assert copy_baseline(1000) == pytest.approx(0.0204, abs=1e-4)


def _record(task, gap, arch, loss, solved, hidden=128, steps=10_000, **arch_fields):
    spec = RunSpec(TaskSpec(task, gap), ArchSpec(arch, hidden=hidden, **arch_fields),
                   TrainSpec(steps=steps, eval_every=100), 0)
    return SimpleNamespace(spec=json.loads(json.dumps(spec.to_dict())),
                           result={"final_loss": loss, "solved": solved})


def test_comparison_rows_put_the_plain_runs_beside_the_published_number():
    records = [_record("adding", 600, "gru", 0.002, True), _record("adding", 600, "gru", 0.004, True),
               _record("adding", 600, "gru", 0.1, False, layers=2),  # not plain
               _record("adding", 600, "gru", 0.1, False, hidden=32)]                             # other width
    rows = {(r["task"], r["T"], r["arch"], r["source"][:3]): r for r in comparison_rows(records, 128, 10_000)}
    gru = rows[("adding", 600, "gru", "Bai")]
    assert gru["measured median loss"] == pytest.approx(0.003) and gru["solved"] == "2/2"
    assert gru["published"] == "test MSE 5.3e-05" and gru["baseline"] == pytest.approx(1 / 6)
    assert rows[("copy", 1000, "lstm", "Bai")]["solved"] == "not run"


def test_the_paper_profiles_runs_measure_the_tabulated_findings():
    specs = report_runs(Context(profile="paper"))
    counts = {(f.task, f.gap, f.arch, f.source): n for f, n in covered(specs, PAPER.hidden, PAPER.train.steps)}
    assert all(n >= PAPER.seeds for (task, gap, arch, source), n in counts.items() if source.startswith("Bai"))


# -- vgsuite claims --plan ---------------------------------------------------------------------------


@pytest.fixture
def fixed_timing(monkeypatch):
    """One millisecond per step per sequence position: the plan's arithmetic without timing anything."""
    monkeypatch.setattr(suite.plan, "time_step", lambda spec: 1e-3 * spec.task.build().seq_len)


def test_plan_counts_the_runs_the_report_trains(fixed_timing, capsys, tmp_path):
    store = tmp_path / "runs.sqlite"
    assert main(["claims", "--plan", "--json", "--store", str(store)]) == 0
    plan = json.loads(capsys.readouterr().out)
    ctx = Context(profile="quick")
    specs = report_runs(ctx)
    assert plan["runs_total"] == len(specs) and plan["runs_claims"] == len(planned_runs(ctx))
    assert plan["steps_total"] == sum(s.train.steps for s in specs)
    per_claim = {c["claim"]: c["runs"] for c in plan["claims"]}
    assert per_claim == {c.id: len(planned_runs(ctx, [c])) if c.runs else 0 for c in CLAIMS}
    expected = sum(s.train.steps * 1e-3 * s.task.build().seq_len for s in specs) * plan["eval_factor"] / 3600
    assert plan["core_hours"] == pytest.approx(expected)
    assert not store.exists() and not (tmp_path / "cache.json").exists()  # nothing opened, nothing trained


def test_plan_text_has_a_line_per_claim_and_the_totals(fixed_timing, capsys):
    assert main(["claims", "--plan", "--profile", "paper", "--only", "L1,G1"]) == 0
    out = capsys.readouterr().out
    l1 = len(planned_runs(Context(profile="paper"), [claim_by_id("L1")]))
    assert f"L1 (learning): {l1} runs" in out and "G1 (mechanism): no training runs; probes hidden 128" in out
    assert f"runs: {l1} in total" in out and "CPU core-hours" in out and "GPU or a cluster" in out
    assert "Bai, Kolter & Koltun (2018), Table 1: adding T=600 gru: test MSE 5.3e-05" in out


@pytest.mark.parametrize("args,message", [
    (["--profile", "huge"], "profile must be one of"),
    (["--runs-only"], "runs-only is not accepted with plan"),
    (["--check"], "check is not accepted with plan"),
    (["--only", "Z9"], "claim must be one of"),
    (["--threads", "0"], "threads must be an integer >= 1"),
    (["--device", "tpu"], "device must be"),
])
def test_plan_bad_input_exits_2_with_one_line(args, message, capsys, tmp_path):
    assert main(["claims", "--plan", "--store", str(tmp_path / "s.sqlite"), *args]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not (tmp_path / "s.sqlite").exists()


def test_time_step_measures_a_few_steps_of_the_real_trainer():
    spec = RunSpec(TaskSpec("delayed_recall", 3), ArchSpec("rnn-tanh", hidden=4), TrainSpec(steps=1000), 0)
    seconds = suite.plan.time_step(spec, steps=2)
    assert math.isfinite(seconds) and 0 <= seconds < 5
