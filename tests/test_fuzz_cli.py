"""Fuzz the command line: generated flags for train, probe and sweep end in a clean refusal
(one line, exit 2) or reach the point where work would start; never a traceback or a hang.

Training and probing are replaced by stubs that apply the size limits and stop (`Reached`), so a
generated input that passes validation costs nothing; a sweep runs as --dry-run.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz import assert_clean, call


class Reached(BaseException):
    """Validation passed: the command would now train or probe."""


@pytest.fixture
def stubbed(monkeypatch, tmp_path):
    from suite.limits import check_probe, check_run

    def run(spec, model=None):
        check_run(spec)
        raise Reached

    def probe(arch, task, seed, *, batch=16, **kw):
        check_probe(arch, task, batch)
        raise Reached

    monkeypatch.setattr("suite.train.run", run)
    monkeypatch.setattr("suite.probes.probe", probe)
    monkeypatch.setenv("VGSUITE_STORE", str(tmp_path / "fuzz.sqlite"))
    return tmp_path


INTS = st.one_of(st.integers(-3, 5), st.sampled_from([0, 10**6, 10**9, 2**40, 2**63, -2**63]))
NUMBERS = st.one_of(INTS.map(str), st.sampled_from(["nan", "inf", "-inf", "1e308", "1e-320", "0.0", "-1"]),
                    st.floats(allow_nan=True).map(str))
TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=12)
VALUES = st.one_of(NUMBERS, TEXT, st.sampled_from(["copy", "adding", "delayed_recall", "lstm", "gru", "cuda:x",
                                                   "cuda:0", "tpu", "sgd", "value", "identity", "x=1", "=",
                                                   "[1, 2]", "n_symbols=2**40", "skip=4", "variant=tcn"]))
FLAGS = {
    "train": ["--task", "--gap", "--arch", "--seed", "--task-option", "--arch-option", "--hidden", "--layers",
              "--init", "--init-gain", "--forget-bias", "--clip", "--clip-mode", "--steps", "--batch-size", "--lr",
              "--optimizer", "--eval-every", "--device"],
    "probe": ["--task", "--gap", "--arch", "--seed", "--seeds", "--task-option", "--arch-option", "--hidden",
              "--layers", "--init", "--init-gain", "--forget-bias", "--loss", "--probe-batch", "--train-steps",
              "--batch-size", "--lr", "--optimizer", "--clip", "--clip-mode", "--device"],
    "sweep": ["--task", "--gaps", "--archs", "--seeds", "--master-seed", "--profile", "--workers", "--threads",
              "--hidden", "--layers", "--steps", "--batch-size", "--lr", "--task-option", "--arch-option",
              "--device", "--init", "--clip"],
}
GOOD = {"train": ["--task", "delayed_recall", "--gap", "5"], "probe": ["--task", "delayed_recall", "--gap", "5"],
        "sweep": ["--task", "delayed_recall", "--gaps", "5", "--seeds", "1", "--dry-run"]}


def argv_for(command: str):
    flag = st.sampled_from(FLAGS[command])
    pairs = st.lists(st.tuples(flag, VALUES), max_size=4)
    return st.tuples(st.booleans(), pairs).map(
        lambda t: [command] + (GOOD[command] if t[0] else []) + [x for pair in t[1] for x in pair])


@pytest.mark.parametrize("command", ["train", "probe", "sweep"])
@given(data=st.data())
def test_generated_flags_are_refused_in_one_line_or_accepted(stubbed, command, data):
    argv = data.draw(argv_for(command))
    if command == "sweep" and "--dry-run" not in argv:
        argv.append("--dry-run")
    try:
        code, lines, _ = call(argv)
    except Reached:
        return
    assert_clean(code, lines)


@pytest.mark.parametrize("argv, named", [
    (["train", "--task", "copy", "--gap", "100000", "--steps", "2", "--hidden", "8", "--batch-size", "2"], "gap"),
    (["train", "--task", "copy", "--gap", "1000000000"], "gap"),
    (["train", "--task", "delayed_recall", "--gap", "5", "--task-option", "n_symbols=1099511627776"], "input size"),
    (["train", "--task", "delayed_recall", "--gap", "5", "--hidden", "100000"], "hidden"),
    (["train", "--task", "delayed_recall", "--gap", "5", "--batch-size", "10000000"], "batch-size"),
    (["train", "--task", "delayed_recall", "--gap", "5", "--layers", "1000"], "layers"),
    (["probe", "--task", "delayed_recall", "--gap", "100000"], "gap"),
    (["train", "--task", "delayed_recall", "--gap", "5", "--arch-option", "skip=4"], "skip"),
    (["train", "--task", "delayed_recall", "--gap", "5", "--device", "cuda:x"], "device"),
    (["train", "--task", "delayed_recall", "--gap", "5", "--task-option", "n_symbols=[1]"], "n_symbols"),
    (["train", "--task", "delayed_recall", "--gap", "abc"], "--gap"),
])
def test_the_issues_examples_are_refused_before_any_work(stubbed, argv, named):
    code, lines, _ = call(argv)
    assert_clean(code, lines)
    assert code == 2 and named in lines[0]
