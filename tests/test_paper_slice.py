"""examples/paper_slice.py: bad input is one line naming the parameter (exit 2), nothing trained."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "examples" / "paper_slice.py"


@pytest.fixture(scope="module")
def paper_slice():
    spec = importlib.util.spec_from_file_location("paper_slice", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("argv, names", [
    (["--gap", "7"], "--gap"),                                  # not on the paper ladder
    (["--gap", "200", "--archs", "nope"], "--archs"),
    (["--gap", "200", "--seeds", "0"], "--seeds"),
])
def test_bad_input_exits_2_and_trains_nothing(paper_slice, tmp_path, capsys, argv, names):
    store = tmp_path / "paper.sqlite"
    assert paper_slice.main(argv + ["--store", str(store), "--out", str(tmp_path / "x.md")]) == 2
    err = capsys.readouterr().err.strip()
    assert names in err and len(err.splitlines()) == 1
    assert not store.exists() and not (tmp_path / "x.md").exists()
