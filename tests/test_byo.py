"""Bring your own architecture: user cells and models join the registry (import path, file path,
decorator, entry point), meet the contract or are told what is missing, run through `vgsuite check`
(tiny budgets here) and through `suite.testing.parametrize_with_checks`; bad input exits 2."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

from suite import check as check_module
from suite.check import ExpectationError, make_battery, parse_expectation, run_check
from suite.cli import main
from suite.contract import run_contract
from suite.models import architecture, make_model, plugins, register_architecture
from suite.models.plugins import (
    PLUGINS_ENV,
    SOURCE_OPTION,
    ArchitectureImportError,
    ArchitectureInterfaceError,
    CellModel,
)
from suite.specs import ArchSpec, RunSpec, TaskSpec, TrainSpec
from suite.testing import parametrize_with_checks

ROOT = Path(__file__).resolve().parent.parent
INDRNN = f"{ROOT}/examples/indrnn.py:IndRNNCell"
BROKEN = f"{ROOT}/examples/broken_cells.py:CutRecurrenceCell"
#: a tiny battery: 2 probe seeds at gap 12, one rung of training for 40 steps
TINY = ["--hidden", "8", "--seeds", "2", "--steps", "40", "--gaps", "4", "--probe-gap", "12",
        "--probe-seeds", "2", "--probe-batch", "4"]


# -- user architectures used below ---------------------------------------------------------------------

class TwoStateCell(nn.Module):
    """A cell with two state elements (like an LSTM's h and c): h is the output."""

    state_names = ("h", "c")

    def __init__(self, input_size, hidden_size):
        super().__init__()
        self.lin = nn.Linear(input_size + hidden_size, 2 * hidden_size)

    def forward(self, x_t, state):
        h, c = state
        a, b = self.lin(torch.cat([x_t, h], -1)).chunk(2, -1)
        c = 0.5 * c + torch.tanh(a)
        return torch.tanh(c) * torch.sigmoid(b), c


class WrongShapeCell(nn.Module):
    def __init__(self, input_size, hidden_size):
        super().__init__()
        self.lin = nn.Linear(input_size, hidden_size + 1)

    def forward(self, x_t, h):
        return torch.tanh(self.lin(x_t))


class NoStepModel(nn.Module):  # neither a cell (no forward) nor a RecurrentModel
    def __init__(self, input_size, hidden_size):
        super().__init__()


class BadSignatureCell(nn.Module):
    def __init__(self, hidden_size):
        super().__init__()

    def forward(self, x_t, h):
        return h


# -- resolution -------------------------------------------------------------------------------------

def test_file_path_and_import_path_resolve_to_the_same_cell(monkeypatch):
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv(PLUGINS_ENV, "")  # importing examples.indrnn registers "indrnn-example" and lists it
    for name in (INDRNN, "examples/indrnn.py:IndRNNCell", "examples.indrnn:IndRNNCell"):
        arch = architecture(name)
        assert arch.origin == "import path" and arch.source and "IndRNN" in arch.summary
        model = make_model(ArchSpec(name, hidden=6, layers=2), 3, 2, seed=0)
        assert isinstance(model, CellModel) and model.state_names() == ("h0", "h1")


def test_a_registered_cell_is_found_by_name_and_stacks_its_states(monkeypatch):
    monkeypatch.setenv(PLUGINS_ENV, "")
    monkeypatch.setattr(plugins, "PLUGINS", {})
    register_architecture("test-two-state")(TwoStateCell)
    assert os.environ[PLUGINS_ENV] == __name__  # so spawned workers import this module and find it
    model = make_model(ArchSpec("test-two-state", hidden=4, layers=2), 3, 2, seed=0)
    assert model.state_names() == ("h0", "c0", "h1", "c1")
    assert all(r.passed for r in run_contract("test-two-state", layers=2)), run_contract("test-two-state", 2)


def test_register_refuses_builtin_and_malformed_names():
    with pytest.raises(ValueError, match="is a built-in"):
        register_architecture("lstm")
    with pytest.raises(ValueError, match="without ':'"):
        register_architecture("a:b")


def test_an_entry_point_resolves(monkeypatch):
    class FakeEntryPoint:
        name, value = "fake-indrnn", "examples.indrnn:IndRNNCell"

        def load(self):
            return plugins._import_object(INDRNN)

    monkeypatch.setattr(plugins, "entry_points", lambda group: [FakeEntryPoint()])
    arch = architecture("fake-indrnn")
    assert arch.origin == "entry point"
    with pytest.raises(ValueError, match=r"entry-point name \[.*'fake-indrnn'"):
        architecture("no-such-arch")


def test_a_user_model_trains_in_spawned_sweep_workers(tmp_path):
    from suite.sweep import ensure_runs

    specs = [RunSpec(TaskSpec("delayed_recall", 2), ArchSpec(INDRNN, hidden=4),
                     TrainSpec(steps=3, eval_every=3, eval_size=8, batch_size=8), seed) for seed in (0, 1)]
    summary = ensure_runs(specs, tmp_path / "runs.sqlite", workers=2, threads=1)
    assert summary.ran == 2 and not summary.failed, summary


@pytest.mark.parametrize("name,error,message", [
    ("no_such_pkg.cells:Cell", ArchitectureImportError, "cannot import module 'no_such_pkg.cells'"),
    ("examples/nope.py:Cell", ArchitectureImportError, "no such file"),
    (f"{ROOT}/examples/indrnn.py:Nope", ArchitectureImportError,
     r"has no attribute 'Nope'; its nn.Module classes: \['IndRNNCell'\]"),
    ("suite.models.base:RecurrentModel", ArchitectureInterfaceError, "does not implement hidden_sequence"),
    ("suite.specs:derive_seed", ArchitectureInterfaceError, "names a function, not a class"),
    (f"{__name__}:NoStepModel", ArchitectureInterfaceError, "has no forward"),
    (f"{__name__}:BadSignatureCell", ArchitectureInterfaceError, r"Cell\(input_size, hidden_size"),
    ("a-name-nobody-registered", ValueError, "arch must be one of"),
])
def test_bad_architectures_get_a_named_error(name, error, message):
    with pytest.raises(error, match=message):
        ArchSpec(name)


# -- the contract catches broken models -----------------------------------------------------------

def test_the_contract_catches_a_cut_recurrence():
    results = {r.check: r for r in run_contract(BROKEN)}
    failed = [name for name, r in results.items() if not r.passed]
    assert failed == ["gradient_reaches_first_step"]
    assert "never reaches the first input: the recurrence is cut" in results[failed[0]].message


def test_the_contract_names_a_wrong_shape():
    results = {r.check: r for r in run_contract(f"{__name__}:WrongShapeCell")}
    assert not results["output_shapes"].passed and results["output_shapes"].fatal
    assert "raised RuntimeError" in results["output_shapes"].message


# -- vgsuite check ------------------------------------------------------------------------------------

def test_check_indrnn_with_a_tiny_budget(tmp_path, capsys):
    store = str(tmp_path / "runs.sqlite")
    code = main(["check", "--arch", INDRNN, *TINY, "--store", store, "--json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 0 and report["exit_code"] == 0 and report["schema"] == "vgsuite-check/1"
    assert all(c["passed"] for c in report["contract"])
    assert set(report["measures"]) == {"IndRNNCell", "rnn-tanh", "lstm", "gru"}
    for measures in report["measures"].values():
        assert set(measures) == {"decay.delayed_recall", "horizon.delayed_recall", "critical_gap.delayed_recall"}
        assert measures["critical_gap.delayed_recall"]["success"]["4"][1] == 2
    assert "no expectations stated" in report["reason"]
    # the human report, resumed from the store (nothing retrained) and judged by expectations
    code = main(["check", "--arch", INDRNN, *TINY, "--store", store,
                 "--expect", "decay>-1000", "--expect", "critical_gap>=1000"])
    out = capsys.readouterr().out
    assert code == 1
    assert "PASS decay>-1000" in out and "FAIL critical_gap>=1000" in out and "rnn-tanh" in out
    assert "Result: exit 1: expectation(s) not met: critical_gap>=1000" in out


def test_check_resumes_from_the_store_without_training(tmp_path, monkeypatch):
    battery = make_battery("quick", hidden=4, seeds=2, steps=20, gaps=[3], probe_gap=6, probe_seeds=2,
                           probe_batch=2, baselines=["gru"])
    first = run_check(INDRNN, battery, store=tmp_path / "runs.sqlite")

    def refuse(spec, model=None):
        raise AssertionError("nothing should be trained again")

    monkeypatch.setattr("suite.train.run", refuse)
    second = run_check(INDRNN, battery, store=tmp_path / "runs.sqlite")
    assert second.to_dict()["measures"] == first.to_dict()["measures"] and not second.errors


def test_check_runs_are_keyed_by_the_users_source(tmp_path):
    text = (ROOT / "examples" / "indrnn.py").read_text()
    (tmp_path / "a.py").write_text(text)
    (tmp_path / "b.py").write_text(text + "\n# an edit\n")
    a, b = (architecture(f"{tmp_path}/{f}:IndRNNCell").source for f in ("a.py", "b.py"))
    assert a != b  # so `vgsuite check` never reuses runs of an edited cell
    battery = make_battery("quick", train=False, hidden=4, probe_gap=5, probe_seeds=2, probe_batch=2, baselines=())
    report = run_check(f"{tmp_path}/b.py:IndRNNCell", battery)
    assert report.source == b and report.exit_code == 0
    spec = ArchSpec(f"{tmp_path}/b.py:IndRNNCell", hidden=4, options={SOURCE_OPTION: b})
    assert make_model(spec, 3, 2, seed=0).num_parameters() > 0  # the option never reaches the cell


def test_a_cell_file_gets_the_same_keys_seeds_and_numbers_wherever_it_lies(tmp_path):
    text = (ROOT / "examples" / "indrnn.py").read_text()
    for folder in ("here", "there"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "cell.py").write_text(text)
    (tmp_path / "there" / "other.py").write_text(text + "\n# an edit\n")
    train = TrainSpec(steps=2, batch_size=2, eval_every=1, eval_size=4)

    def spec(path):
        source = architecture(f"{path}:IndRNNCell").source
        arch = ArchSpec(f"{path}:IndRNNCell", hidden=4, options={SOURCE_OPTION: source})
        return RunSpec(TaskSpec("delayed_recall", 3), arch, train, seed=0)

    here, there = spec(tmp_path / "here" / "cell.py"), spec(tmp_path / "there" / "cell.py")
    assert here.key == there.key and here.init_seed() == there.init_seed()
    assert here.to_dict()["arch"]["name"] != there.to_dict()["arch"]["name"]  # the store keeps the real path
    edited = spec(tmp_path / "there" / "other.py")
    assert edited.key != here.key  # other code, another key
    assert RunSpec(TaskSpec("delayed_recall", 3), ArchSpec("gru", hidden=4), train, 0).key == \
        "3daeb785981d473f30c361c49246de3e76525f68d9387d862f92bdc8838378fc"  # built-ins keep their keys


def test_check_catches_the_broken_cell(capsys, tmp_path):
    code = main(["check", "--arch", BROKEN, *TINY, "--no-train", "--baselines", "none",
                 "--store", str(tmp_path / "runs.sqlite")])
    out = capsys.readouterr().out
    assert code == 1
    assert "FAIL gradient_reaches_first_step" in out and "-inf (gradient exactly 0)" in out
    assert "contract check(s) failed: gradient_reaches_first_step" in out


def test_check_stops_at_a_fatal_contract_failure(capsys, tmp_path):
    assert main(["check", "--arch", f"{__name__}:WrongShapeCell", "--no-train", "--json",
                 "--store", str(tmp_path / "runs.sqlite")]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["stopped"].startswith("fatal contract failure (output_shapes") and not report["measures"]


@pytest.mark.parametrize("args,message", [
    (["--arch", "no_such_pkg.cells:Cell"], "cannot import module 'no_such_pkg.cells'"),
    (["--arch", "suite.specs:derive_seed"], "not a class"),
    (["--arch", "lstm", "--expect", "decay=0"], "expect must look like METRIC OP VALUE"),
    (["--arch", "lstm", "--expect", "speed>1"], "metric must be one of"),
    (["--arch", "lstm", "--expect", "critical_gap.copy>=10"], "task 'copy' is not in this check's tasks"),
    (["--arch", "lstm", "--expect", "decay>transformer"], "VALUE must be a number or a baseline"),
    (["--arch", "lstm", "--no-train", "--expect", "critical_gap>=10"], "needs training"),
    (["--arch", "lstm", "--profile", "medium"], "profile must be one of"),
    (["--arch", "lstm", "--probe-seeds", "1"], "probe-seeds must be an integer >= 2"),
    (["--arch", "lstm", "--tasks", "copyy"], "task must be one of"),
])
def test_check_bad_input_exits_2_with_a_named_error(args, message, capsys, tmp_path):
    assert main(["check", *args, "--store", str(tmp_path / "runs.sqlite")]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not (tmp_path / "runs.sqlite").exists()  # nothing ran


def test_expectations_parse_and_compare_with_baselines():
    battery = make_battery("quick")
    e = parse_expectation(" critical_gap >= lstm ", battery)
    assert (e.metric, e.op, e.target) == ("critical_gap.delayed_recall", ">=", "lstm")
    # judged on the seeds' reaches (one-sided Mann-Whitney U), not on the two critical gaps
    measures = {"me": {e.metric: {"value": 30, "reach": [30, 30, 100], "reach_censored": [False, False, True]}},
                "lstm": {e.metric: {"value": 10, "reach": [10, 10, 0], "reach_censored": [False] * 3}}}
    result = e.holds(measures, "me")
    assert result["passed"] and result["p_value"] == pytest.approx(0.05) and result["n"] == [3, 3]
    with pytest.raises(ExpectationError):
        parse_expectation("decay>nan", battery)


# -- the pytest integration --------------------------------------------------------------------------

#: 5 probe seeds: the fewest with which a sign test on the median horizon ("horizon>=0") can decide
TINY_BATTERY = make_battery("quick", train=False, hidden=8, probe_gap=10, probe_seeds=5, probe_batch=2,
                            baselines=["rnn-tanh"])


@parametrize_with_checks(
    [INDRNN, plugins._import_object(BROKEN)],
    expect=["decay>-1000", "horizon>=0"],
    battery=TINY_BATTERY,
    expected_failed_checks={
        "CutRecurrenceCell": {"gradient_reaches_first_step": "the recurrence is cut on purpose",
                              "decay>-1000": "its gradient is exactly 0 beyond one step"},
    },
)
def test_user_architectures_with_parametrize_with_checks(arch, check):
    check(arch)


def test_parametrize_with_checks_ids_and_xfails():
    from suite.testing import checks_for

    params = checks_for(INDRNN, layers=(1, 2), expect=["decay>-1"], battery=TINY_BATTERY,
                        expected_failed_checks={"float32_training_step": "reason"})
    ids = [p.id for p in params]
    assert "IndRNNCell-2layers-fast_matches_stepwise" in ids and "IndRNNCell-expect[decay>-1]" in ids
    xfails = [p.id for p in params if p.marks]
    assert xfails == ["IndRNNCell-1layers-float32_training_step", "IndRNNCell-2layers-float32_training_step"]


def test_the_example_user_test_file_passes():
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist",
                           "examples/test_indrnn.py"], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert " passed" in proc.stdout and "xfailed" in proc.stdout


def test_the_quick_battery_is_narrow():
    quick = check_module.make_battery("quick")
    assert quick.tasks == ("delayed_recall",) and quick.seeds == 3 and quick.ladder("delayed_recall") == (10, 30, 100)
    assert SOURCE_OPTION == "vgsuite_source"
