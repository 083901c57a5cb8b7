"""CONTRIBUTING.md's promises, tested: a mitigation of one architecture is one option of its
constructor (registered in one place) and then reaches the spec, its key, the trained run and every
label without touching any other file; an arm is one catalogue row, for the ladders and the probes."""

from __future__ import annotations

import pytest
import torch

from suite import figures
from suite.catalogue import CATALOG, Entry
from suite.claims.arms import arm
from suite.claims.base import Context
from suite.claims.ladders import Arm
from suite.labels import mitigation_label, spec_label
from suite.models import architecture, make_model, plugins, register_architecture
from suite.models.gated import LSTM
from suite.specs import ArchSpec, RunSpec, TaskSpec, TrainSpec
from suite.train import run

SUMMARY = "LSTM whose recurrent weights start scaled (a throwaway mitigation)"


class DampedLSTM(LSTM):
    """A throwaway mitigation: the `damp` option scales every W_hh at construction."""

    def __init__(self, input_size, output_size, hidden_size, num_layers=1, damp: float = 1.0):
        super().__init__(input_size, output_size, hidden_size, num_layers)
        with torch.no_grad():
            for weight, _ in self.recurrent_weights():
                weight.mul_(damp)


@pytest.fixture(autouse=True)
def registered(monkeypatch):
    """Registers the throwaway cell for one test only: neither the registry nor $VGSUITE_PLUGINS
    (which registration extends for spawned workers) outlives it."""
    monkeypatch.setattr(plugins, "PLUGINS", {})
    monkeypatch.setenv(plugins.PLUGINS_ENV, "")
    register_architecture("lstm-damped", summary=SUMMARY)(DampedLSTM)


def test_a_throwaway_mitigation_registered_in_one_place_reaches_spec_run_and_labels():
    plain = ArchSpec("lstm-damped", hidden=4)
    damped = ArchSpec("lstm-damped", hidden=4, options={"damp": 0.5})
    a, b = make_model(plain, 3, 2, seed=0), make_model(damped, 3, 2, seed=0)
    torch.testing.assert_close(b.recurrent_weights()[0][0], 0.5 * a.recurrent_weights()[0][0])  # it acts
    train = TrainSpec(steps=4, batch_size=4, eval_every=2, eval_size=8)
    spec = RunSpec(TaskSpec("delayed_recall", 3), damped, train, seed=0)
    assert spec.key != RunSpec(TaskSpec("delayed_recall", 3), plain, train, seed=0).key
    result = run(spec)
    assert result.steps_run == 4 and not result.diverged
    assert "damp=0.5" in spec_label(spec.to_dict())
    assert "damp=0.5" in mitigation_label(Arm("lstm damped", "delayed_recall", damped, train, (3,)).arch)


def test_a_summary_given_at_registration_keeps_the_rest_of_the_entry():
    entry = architecture("lstm-damped")
    assert entry.summary == SUMMARY and entry.origin == "registered"
    assert entry.stackable is False and entry.alone_on_cpu is False


def test_a_mitigation_arm_is_one_catalogue_row_for_the_ladders_and_the_probe_overview(monkeypatch):
    row = Entry({"name": "rnn-tanh", "init": "orthogonal", "init_gain": 0.5}, "short", probed=True)
    monkeypatch.setitem(CATALOG, "rnn-tanh orthogonal x0.5", row)
    ladder = arm(Context(profile="quick"), "rnn-tanh orthogonal x0.5")
    assert ladder.arch.init_gain == 0.5 and ladder.gaps and ladder.specs(Context(profile="quick"))
    assert ("rnn-tanh, init orthogonal x0.5", row.fields) in figures.decay_arms()


def test_catalogue_rows_are_checked_against_the_budget_table():
    with pytest.raises(ValueError, match="ladder must be one of"):
        Entry({"name": "gru"}, "nonexistent")
    with pytest.raises(ValueError, match="seed tier must be one of"):
        Entry({"name": "gru"}, "short", tier="many")
    with pytest.raises(ValueError, match="must be probed"):
        Entry({"name": "gru"}, None)
    assert CATALOG["mingru"].ladder is None and CATALOG["mingru"].probed
