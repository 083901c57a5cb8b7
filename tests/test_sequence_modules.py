"""Sequence modules (issue 18, item 2): a module whose forward takes the whole (batch, time, input)
sequence joins the suite as it is (suite/models/sequence.py). Pinned here: how it is recognised
against a cell, how it is built (nn.GRU unchanged, time-major or batch-first; num_layers passed or
stacked), both return conventions, the contract (causality, fast == step where both views exist,
skips where there is no step view), the probes (saliency always, hidden-state gradients "not
measured" without a step view) and `vgsuite check` end to end on the paper example."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from torch import nn

from suite.cli import main
from suite.contract import run_contract
from suite.engine.groups import SINGLE_TRAINER, trainer_of
from suite.models import architecture, make_model
from suite.models.plugins import ArchitectureInterfaceError, CellModel, _import_object, module_kind
from suite.models.sequence import NoStepView, SequenceModel, has_step_view
from suite.probes import gradient_profile, input_saliency
from suite.specs import ArchSpec, RunSpec, TaskSpec, TrainSpec

ROOT = Path(__file__).resolve().parent.parent
MINGRU = f"{ROOT}/examples/mingru.py:MinGRU"
PARALLEL_ONLY = f"{ROOT}/examples/mingru.py:MinGRUParallelOnly"
TINY = ["--hidden", "8", "--seeds", "2", "--steps", "40", "--gaps", "4", "--probe-gap", "12",
        "--probe-seeds", "2", "--probe-batch", "4"]


# -- modules used below ------------------------------------------------------------------------------

class BatchFirstGRU(nn.GRU):
    """nn.GRU as a user would publish it for batch-first data."""

    def __init__(self, input_size, hidden_size, **options):
        super().__init__(input_size, hidden_size, batch_first=True, **options)


class LeakyScan(nn.Module):
    """forward(x) -> hidden sequence: h_t = 0.9 h_(t-1) + tanh(W x_t), by a cumulative sum."""

    def __init__(self, input_size, hidden_size):
        super().__init__()
        self.lin = nn.Linear(input_size, hidden_size)

    def forward(self, x):
        decay = 0.9 ** torch.arange(x.shape[1], dtype=x.dtype, device=x.device)[None, :, None]
        return torch.cumsum(torch.tanh(self.lin(x)) / decay, dim=1) * decay


class LeakyScanTuple(LeakyScan):
    vgsuite_kind = "sequence"

    def forward(self, x, h0=None):  # PyTorch's (output, h_n)
        h = super().forward(x)
        return h, h[:, -1]


class LeakyScanWithStep(LeakyScan):
    def step(self, x_t, h):
        return 0.9 * h + torch.tanh(self.lin(x_t))


class WrongStep(LeakyScan):
    def step(self, x_t, h):
        return 0.5 * h + torch.tanh(self.lin(x_t))  # not the function forward computes


class ReverseScan(LeakyScan):
    """Non-causal: h_t sums the inputs from t to the end (a backward pass over time)."""

    def forward(self, x):
        return super().forward(x.flip(1)).flip(1)


class CellWithDefaultState(nn.Module):
    def __init__(self, input_size, hidden_size):
        super().__init__()
        self.lin = nn.Linear(input_size + hidden_size, hidden_size)

    def forward(self, x_t, h=None):
        return torch.tanh(self.lin(torch.cat([x_t, h], -1)))


class BadKind(LeakyScan):
    vgsuite_kind = "sequential"


class NumLayersScan(nn.Module):
    def __init__(self, input_size, hidden_size, num_layers=1):
        super().__init__()
        self.num_layers = num_layers
        self.lins = nn.ModuleList(nn.Linear(input_size if i == 0 else hidden_size, hidden_size)
                                  for i in range(num_layers))

    def forward(self, x):
        for lin in self.lins:
            x = torch.cumsum(torch.tanh(lin(x)), dim=1) / 10
        return x


def name(cls) -> str:
    return f"{__name__}:{cls.__name__}"


# -- recognition and building ---------------------------------------------------------------------------

def test_recognition_is_by_marker_then_rnnbase_then_a_one_argument_forward():
    assert module_kind(nn.GRU) == module_kind(nn.LSTM) == module_kind(BatchFirstGRU) == "sequence"
    assert module_kind(LeakyScan) == "sequence"            # forward(x)
    assert module_kind(LeakyScanTuple) == "sequence"       # forward(x, h0=None) with the marker
    assert module_kind(CellWithDefaultState) is None       # forward(x_t, h=None) stays a cell
    assert isinstance(make_model(ArchSpec(name(CellWithDefaultState), hidden=4), 3, 2, 0), CellModel)
    with pytest.raises(ArchitectureInterfaceError, match="vgsuite_kind must be 'sequence' or 'cell'"):
        ArchSpec(name(BadKind))


def test_nn_gru_plugs_in_unchanged_time_major_or_batch_first():
    a = make_model(ArchSpec("torch.nn:GRU", hidden=6, layers=2), 3, 2, seed=4)
    b = make_model(ArchSpec(name(BatchFirstGRU), hidden=6, layers=2), 3, 2, seed=4)
    assert isinstance(a, SequenceModel) and not has_step_view(a)
    assert len(a.layers) == 1 and a.layers[0].num_layers == 2      # num_layers passed, not stacked
    assert [w.shape for w, blocks in a.recurrent_weights()] == [(18, 6), (18, 6)]
    x = torch.randn(5, 7, 3)
    torch.testing.assert_close(a(x), b(x))                         # same weights, same function
    assert a(x).shape == (5, 7, 2)
    entry = architecture("torch.nn:LSTM")
    assert not entry.stackable and "sequence module, fast view only" in entry.summary


def test_stacked_or_num_layers_and_both_return_conventions():
    stacked = make_model(ArchSpec(name(LeakyScan), hidden=4, layers=3), 3, 2, seed=0)
    assert len(stacked.layers) == 3 and stacked.layers[1].lin.in_features == 4
    passed = make_model(ArchSpec(name(NumLayersScan), hidden=4, layers=3), 3, 2, seed=0)
    assert len(passed.layers) == 1 and passed.layers[0].num_layers == 3
    tensor = make_model(ArchSpec(name(LeakyScan), hidden=4, layers=2), 3, 2, seed=1)
    tupled = make_model(ArchSpec(name(LeakyScanTuple), hidden=4, layers=2), 3, 2, seed=1)
    x = torch.randn(2, 9, 3)
    torch.testing.assert_close(tensor.hidden_sequence(x), tupled.hidden_sequence(x))


def test_sequence_modules_train_in_the_per_run_loop():
    from suite import train

    spec = RunSpec(TaskSpec("delayed_recall", 2), ArchSpec(PARALLEL_ONLY, hidden=4),
                   TrainSpec(steps=3, eval_every=3, eval_size=8, batch_size=8), seed=0)
    assert not architecture(PARALLEL_ONLY).stackable and trainer_of(spec) == SINGLE_TRAINER
    result = train.run(spec)
    assert result.steps_run == 3 and torch.isfinite(torch.tensor(result.final_loss))


# -- the contract -------------------------------------------------------------------------------------

STEP_VIEW_CHECKS = {"state_interface", "fast_matches_stepwise", "fast_and_stepwise_gradients_agree"}


@pytest.mark.parametrize("arch,layers", [("torch.nn:GRU", 2), ("torch.nn:LSTM", 1), (MINGRU, 2),
                                         (PARALLEL_ONLY, 1), (name(LeakyScanWithStep), 2)])
def test_the_contract_passes_and_skips_only_the_step_view_without_one(arch, layers):
    results = run_contract(arch, layers)
    assert all(r.passed for r in results), [r for r in results if not r.passed]
    skipped = {r.check for r in results if r.message.startswith("skipped: a sequence module without a step view")}
    model = make_model(ArchSpec(arch, hidden=4, layers=layers), 3, 2, 0)
    assert skipped == (set() if has_step_view(model) else STEP_VIEW_CHECKS)


def test_a_non_causal_module_fails_the_causality_check_fatally():
    results = {r.check: r for r in run_contract(name(ReverseScan))}
    assert not results["causal"].passed and results["causal"].fatal
    assert "reads the future" in results["causal"].message
    # (its last output sees only the last input, so the gradient does not reach the first one either)
    assert [c for c, r in results.items() if not r.passed] == ["causal", "gradient_reaches_first_step"]


def test_a_step_view_that_disagrees_with_the_fast_view_fails():
    results = {r.check: r for r in run_contract(name(WrongStep))}
    assert not results["fast_matches_stepwise"].passed and results["fast_matches_stepwise"].fatal


def test_parametrize_with_checks_skips_the_step_view_checks():
    from suite.testing import checks_for

    params = {p.id: p.values for p in checks_for(PARALLEL_ONLY)}
    arch, check = params["MinGRUParallelOnly-1layers-state_interface"]
    with pytest.raises(pytest.skip.Exception, match="without a step view"):
        check(arch)
    arch, check = params["MinGRUParallelOnly-1layers-causal"]
    check(arch)


# -- the probes ---------------------------------------------------------------------------------------

def test_probes_measure_saliency_and_say_hidden_gradients_are_not_measured():
    x = torch.randn(3, 15, 3)
    only = make_model(ArchSpec(PARALLEL_ONLY, hidden=5), 3, 2, seed=2)
    both = make_model(ArchSpec(MINGRU, hidden=5), 3, 2, seed=2)  # the same weights, with a step view
    with pytest.raises(NoStepView, match="not measured: a sequence module without a step view"):
        gradient_profile(only, x)
    fast, stepped = input_saliency(only, x), input_saliency(both, x)
    assert "fast view" in fast.what
    assert fast.log10["total"].shape == (3, 15)
    # the fast view's saliency is the step view's (float64 rounding apart)
    torch.testing.assert_close(torch.tensor(fast.log10["total"]), torch.tensor(stepped.log10["total"]),
                               rtol=1e-9, atol=1e-9)
    assert gradient_profile(both, x).log10["total"].shape == (3, 16)


# -- vgsuite check end to end ---------------------------------------------------------------------------

def test_check_runs_the_whole_battery_on_the_paper_example(tmp_path, capsys):
    code = main(["check", "--arch", MINGRU, *TINY, "--store", str(tmp_path / "runs.sqlite"), "--json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 0 and all(c["passed"] for c in report["contract"]), report["reason"]
    assert set(report["measures"]) == {"MinGRU", "rnn-tanh", "lstm", "gru"}
    mine = report["measures"]["MinGRU"]
    assert mine["decay.delayed_recall"]["value"] is not None and mine["decay.delayed_recall"]["ci"]
    assert mine["horizon.delayed_recall"]["n"] == 2
    assert mine["critical_gap.delayed_recall"]["success"]["4"][1] == 2


def test_check_without_a_step_view_reports_decay_not_measured(tmp_path, capsys):
    code = main(["check", "--arch", PARALLEL_ONLY, *TINY, "--probe-seeds", "5", "--no-train", "--baselines", "none",
                 "--store", str(tmp_path / "runs.sqlite"), "--expect", "decay<0", "--expect", "horizon>=0"])
    out = capsys.readouterr().out
    assert code == 1  # an expectation about an unmeasured metric fails
    assert "not measured (no step view)" in out
    assert "note: decay not measured: a sequence module without a step view (MinGRUParallelOnly)" in out
    assert "FAIL decay<0: not decided (not measured" in out and "PASS horizon>=0" in out  # 5 seeds: a sign test


def test_the_example_is_importable_without_vgsuite():
    text = (ROOT / "examples" / "mingru.py").read_text()
    assert "suite" not in [line.split()[1].split(".")[0] for line in text.splitlines()
                           if line.startswith(("import ", "from "))]
    assert _import_object(MINGRU).vgsuite_kind == "sequence"


def test_vgsuite_probe_on_a_module_without_a_step_view_says_why_in_one_line(capsys):
    assert main(["probe", "--arch", "torch.nn:GRU", "--task", "delayed_recall", "--gap", "5"]) == 2
    err = capsys.readouterr().err
    assert "not measured: a sequence module without a step view (GRU)" in err and "Traceback" not in err
