"""A plug-in's runs are keyed by all of the user's code it computes with, and user code cannot end a
check or a sweep (issue 18, items 1, 5 and the sibling import of item 6)."""

from __future__ import annotations

import json
import textwrap
from types import SimpleNamespace

import pytest

from suite import check, containment
from suite.check import make_battery
from suite.cli import main
from suite.models import architecture
from suite.models.plugins import SOURCE_OPTION
from suite.specs import ArchSpec, RunSpec, TaskSpec, TrainSpec
from suite.sweep import ensure_runs

TINY_TRAIN = TrainSpec(steps=2, batch_size=2, eval_every=1, eval_size=4)
CELL = '''
import torch
from torch import nn

from {helper} import squash


class Cell(nn.Module):
    def __init__(self, input_size, hidden_size):
        super().__init__()
        self.lin = nn.Linear(input_size + hidden_size, hidden_size)

    def forward(self, x_t, h):
        {body}
        return squash(self.lin(torch.cat([x_t, h], -1)))
'''
HELPER = "import torch\n\n\ndef squash(v):\n    return torch.tanh({scale} * v)\n"


def _cell(folder, helper_name="helpers", scale="1.0", body="pass"):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "cell.py").write_text(CELL.format(helper=helper_name, body=body))
    (folder / f"{helper_name}.py").write_text(HELPER.format(scale=scale))
    return f"{folder}/cell.py:Cell"


def _spec(name):
    return RunSpec(TaskSpec("delayed_recall", 3), ArchSpec(name, hidden=4), TINY_TRAIN, seed=0)


def test_an_edit_to_a_module_the_cell_imports_trains_anew(tmp_path):
    first = _cell(tmp_path / "v1", "helpers_v1")  # distinct module names: one process imports both
    second = _cell(tmp_path / "v2", "helpers_v2", scale="2.0")
    same = _cell(tmp_path / "v3", "helpers_v1")
    a, b, c = (architecture(n) for n in (first, second, same))
    assert a.source_files == ("cell.py", "helpers_v1") and b.source_files == ("cell.py", "helpers_v2")
    assert a.source != b.source
    assert dict(ArchSpec(first, hidden=4).options)[SOURCE_OPTION] == a.source  # every spec carries it
    store = tmp_path / "runs.sqlite"
    assert ensure_runs([_spec(first)], store, progress=False).ran == 1
    assert ensure_runs([_spec(second)], store, progress=False).ran == 1  # the helper differs: new run
    assert _spec(same).key == _spec(first).key and c.source == a.source  # same code elsewhere: same key
    assert ensure_runs([_spec(same)], store, progress=False).stored == 1


def test_check_prints_what_the_source_hash_covers(tmp_path, capsys):
    name = _cell(tmp_path / "w", "helpers_w")
    assert main(["check", "--arch", name, "--no-train", "--baselines", "none", "--hidden", "4",
                 "--probe-gap", "5", "--probe-seeds", "2", "--probe-batch", "2", "--json",
                 "--store", str(tmp_path / "runs.sqlite")]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["source_files"] == ["cell.py", "helpers_w"] and report["source"] == architecture(name).source


@pytest.mark.parametrize("raise_what", ["SystemExit(0)", "KeyboardInterrupt()", "GeneratorExit()"])
def test_user_code_that_raises_anything_fails_the_check_with_its_message(tmp_path, capsys, raise_what):
    name = _cell(tmp_path / raise_what[:4], f"helpers_{raise_what[:4].lower()}",
                 body=f"raise {raise_what}")
    code = main(["check", "--arch", name, "--no-train", "--baselines", "none", "--json",
                 "--store", str(tmp_path / "runs.sqlite")])
    report = json.loads(capsys.readouterr().out)
    assert code == 1
    failed = [c for c in report["contract"] if not c["passed"]]
    assert failed and raise_what.split("(")[0] in failed[0]["message"]


def test_a_cell_that_exits_at_import_is_one_line_not_a_silent_pass(tmp_path, capsys):
    cell = tmp_path / "exits.py"
    cell.write_text("raise SystemExit(0)\n")
    assert main(["check", "--arch", f"{cell}:Cell", "--no-train"]) == 2
    err = capsys.readouterr().err.strip()
    assert "raised SystemExit" in err and len(err.splitlines()) == 1


def test_train_with_a_broken_cell_is_one_line_naming_cell_and_step(tmp_path, capsys):
    name = _cell(tmp_path / "t", "helpers_t", body="if self.training: raise RuntimeError('bad shape')")
    assert main(["train", "--task", "delayed_recall", "--gap", "3", "--arch", name, "--hidden", "4",
                 "--steps", "2", "--eval-every", "1"]) == 1
    err = capsys.readouterr().err.strip()
    assert f"arch {name}: training raised RuntimeError: bad shape" in err and len(err.splitlines()) == 1


def test_a_sweep_records_a_cells_systemexit_as_a_failed_run(tmp_path):
    name = _cell(tmp_path / "s", "helpers_s", body="if self.training: raise SystemExit(3)")
    summary = ensure_runs([_spec(name)], tmp_path / "runs.sqlite", progress=False)
    assert summary.ran == 0 and len(summary.failed) == 1 and summary.failed[0].reason == "SystemExit: 3"


def test_only_a_real_interrupt_passes_containment(monkeypatch):
    monkeypatch.setattr(containment, "_interrupted", type(containment._interrupted)())
    with pytest.raises(containment.UserCodeError, match="step raised KeyboardInterrupt"):
        with containment.contained("step"):
            raise KeyboardInterrupt
    containment._interrupted.set()  # as the SIGINT handler does when Ctrl-C arrives
    with pytest.raises(KeyboardInterrupt):
        with containment.contained("step"):
            raise KeyboardInterrupt



@pytest.mark.parametrize("argv, message", [
    (["train", "--arch", "cornn", "--arch-option", "gamma=abc"], "option 'gamma' takes a number (its default is 2.7)"),
    (["train", "--arch", "resrnn", "--arch-option", "skip=1.5"], "option 'skip' takes an integer"),
    (["train", "--arch", "cornn", "--arch-option", "gamma=0.4,66"], "key=a,b,c, is for vgsuite sweep"),
    (["train", "--arch", "cornn", "--arch-option", "nope=1"], "has no option 'nope'; its options are"),
])
def test_options_are_typed_and_checked_before_anything_runs(tmp_path, capsys, argv, message):
    assert main([*argv, "--task", "delayed_recall", "--gap", "3", "--steps", "2"]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1


def test_a_sweep_runs_an_option_list_as_a_grid_and_check_shows_options(tmp_path, capsys):
    assert main(["sweep", "--task", "delayed_recall", "--gaps", "3", "--archs", "cornn", "--arch-option",
                 "gamma=0.4,66", "--arch-option", "epsilon=8", "--seeds", "1", "--steps", "2", "--hidden", "4",
                 "--eval-every", "1", "--json", "--store", str(tmp_path / "runs.sqlite")]) == 0
    assert json.loads(capsys.readouterr().out)["ran"] == 2
    assert main(["check", "--arch", "cornn", "--arch-option", "gamma=0.4", "--no-train", "--baselines", "none",
                 "--hidden", "4", "--probe-gap", "5", "--probe-seeds", "2", "--probe-batch", "2",
                 "--store", str(tmp_path / "runs.sqlite")]) == 0
    assert "vgsuite check: cornn, options gamma=0.4" in capsys.readouterr().out


def test_the_check_ladder_doubles_past_its_top_while_an_arm_solves_up_to_max_gap(monkeypatch, tmp_path):
    battery = make_battery("quick", gaps=[5, 10], seeds=2, steps=4, hidden=4, max_gap=40, baselines=[])
    assert [battery.next_gap("delayed_recall", g) for g in (5, 10, 20, 40)] == [10, 20, 40, None]
    assert make_battery("quick", gaps=[5, 10], hidden=4).max_gap == 40  # default: two doublings
    assert make_battery("quick", gaps=[5, 10], hidden=4, max_gap=0).next_gap("delayed_recall", 10) is None
    with pytest.raises(ValueError, match="max-gap must be an integer >= 0"):
        make_battery("quick", max_gap=-1)
    reach = {"rnn-tanh": 20, "gru": 1000}  # each solves every gap up to this one
    monkeypatch.setattr(check, "ensure_runs", lambda specs, *a, **k: SimpleNamespace(failed=[]))
    monkeypatch.setattr(check, "load_results", lambda specs, *a, **k: {
        s.key: SimpleNamespace(solved=s.task.gap <= reach[s.arch.name]) for s in specs})
    arms = {"good": ArchSpec("rnn-tanh", hidden=4), "great": ArchSpec("gru", hidden=4)}
    out, errors = check._critical_gaps(arms, battery, None, "cpu", 1, False)
    good, great = out["good"]["critical_gap.delayed_recall"], out["great"]["critical_gap.delayed_recall"]
    assert not errors and good["bracket"] == "[20, 40)" and not good["lower_bound"]  # bracketed past the top
    assert great["bracket"] == ">= 40" and great["lower_bound"] and great["ladder"] == [5, 10, 20, 40]


def test_the_contract_checks_the_architecture_with_the_options_given(tmp_path, capsys):
    cell = tmp_path / "wide.py"
    cell.write_text(textwrap.dedent("""
        import torch
        from torch import nn


        class Cell(nn.Module):
            def __init__(self, input_size, hidden_size, extra=0):
                super().__init__()
                self.lin = nn.Linear(input_size + hidden_size, hidden_size + extra)  # extra > 0: wrong width

            def forward(self, x_t, h):
                return torch.tanh(self.lin(torch.cat([x_t, h], -1)))
    """))
    args = ["check", "--arch", f"{cell}:Cell", "--no-train", "--baselines", "none", "--hidden", "4",
            "--probe-gap", "5", "--probe-seeds", "2", "--probe-batch", "2", "--store", str(tmp_path / "r.sqlite")]
    assert main(args) == 0
    assert main([*args, "--arch-option", "extra=1"]) == 1  # the contract sees the option, not the default
    assert "FAIL output_shapes" in capsys.readouterr().out
