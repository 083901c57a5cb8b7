"""One label per arm (suite.labels), spelled alike from a spec object and from a stored spec, and
used by every table that names an arm (issue 14: one vocabulary)."""

from __future__ import annotations

import pytest

from suite.figures import decay_arms
from suite.labels import arm_label, mitigation_label, spec_label, spec_mitigation_label
from suite.specs import ArchSpec, RunSpec, TaskSpec, TrainSpec
from suite.sweep import label


@pytest.mark.parametrize("arch,train,expected", [
    (ArchSpec("rnn-tanh"), None, "rnn-tanh"),
    (ArchSpec("lstm", forget_bias=1.0), None, "lstm, forget bias 1"),
    (ArchSpec("lstm", options={"chrono": 320}), None, "lstm, chrono=320"),
    (ArchSpec("rnn-tanh", layers=2, init="orthogonal", init_gain=1.5), None,
     "rnn-tanh, 2 layers, init orthogonal x1.5"),
    (ArchSpec("rnn-tanh", init_gain=2.0), None, "rnn-tanh, init default x2"),
    (ArchSpec("rnn-relu", init="identity", init_gain=1.1), TrainSpec(optimizer="sgd", lr=0.01, clip=1.0),
     "rnn-relu, init identity x1.1, clip norm 1, sgd"),
    (ArchSpec("rnn-tanh"), TrainSpec(clip=0.5, clip_mode="value"), "rnn-tanh, clip value 0.5"),
])
def test_one_spelling_from_specs_and_from_stored_specs(arch, train, expected):
    assert arm_label(arch, train) == expected
    spec = RunSpec(TaskSpec("delayed_recall", 5), arch, train or TrainSpec()).to_dict()
    assert spec_label(spec) == expected  # the report's tables read stored specs
    mitigations = expected.partition(", ")[2] or "-"
    assert mitigation_label(arch, train) == spec_mitigation_label(spec) == mitigations
    assert label(spec) == f"delayed_recall gap 5 {arch.name}" + (
        f" [{mitigations}]" if mitigations != "-" else "") + f" seed {spec['seed']}"


def test_trained_networks_and_the_decay_table_use_it():
    assert arm_label(ArchSpec("gru"), trained=True) == "gru, trained"
    assert all(text == arm_label(ArchSpec(**fields)) for text, fields in decay_arms())
    assert "rnn-tanh, init xavier" in dict(decay_arms())


def test_a_plugin_the_process_does_not_know_is_still_labelled():
    spec = RunSpec(TaskSpec("delayed_recall", 5), ArchSpec("lstm", forget_bias=3.0)).to_dict()
    spec["arch"]["name"] = "someone-elses-cell"  # stored by a process that had it registered
    assert spec_label(spec) == "someone-elses-cell, forget bias 3"
