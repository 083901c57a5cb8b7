"""`vgsuite sweep`, `show` and `export`: the grid flags, a foreign store file refused (exit 2,
untouched), failed runs reported, and the listing and export of stored runs. In-process through
`suite.cli.main` with tiny runs (hidden 4, 4 steps)."""

from __future__ import annotations

import csv
import json
import sqlite3
import time

import pytest
import torch

import suite.sweep
import suite.train
from suite.cli import build_parser, main, sweep_specs
from suite.profiles import FULL, QUICK

TINY = ["--task", "delayed_recall", "--gaps", "2,3", "--archs", "rnn-tanh,gru", "--seeds", "2",
        "--hidden", "4", "--steps", "4", "--batch-size", "4", "--eval-every", "2"]


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """No test touches the repository's .vgsuite/; tiny runs use one torch thread."""
    monkeypatch.setenv("VGSUITE_STORE", str(tmp_path / "default.sqlite"))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def filled(tmp_path, capsys):
    """A store with 8 ok runs from `vgsuite sweep`."""
    path = tmp_path / "runs.sqlite"
    assert main(["sweep", *TINY, "--store", str(path)]) == 0
    capsys.readouterr()
    return path


def specs_for(*args):
    return sweep_specs(build_parser().parse_args(["sweep", *args]))


# -- sweep ----------------------------------------------------------------------------------------

def test_explicit_flags_override_the_profile():
    default = specs_for("--task", "copy", "--gaps", "5")
    assert len(default) == QUICK.seeds
    assert default[0].arch.hidden == QUICK.hidden and default[0].train == QUICK.train
    full = specs_for("--task", "copy", "--profile", "full", "--archs", "lstm", "--forget-bias", "1")
    assert len(full) == len(FULL.gaps_for("copy")) * FULL.seeds
    assert full[0].train == FULL.train and full[0].arch.forget_bias == 1.0
    mine = specs_for("--task", "copy", "--gaps", "5", "--hidden", "8", "--lr", "0.01",
                     "--clip", "1", "--seeds", "2", "--master-seed", "4")
    assert mine[0].arch.hidden == 8 and mine[0].train.lr == 0.01 and mine[0].train.clip == 1.0
    assert mine[0].train.steps == QUICK.train.steps and [s.seed for s in mine] == [40_000, 40_001]


def test_sweep_then_a_rerun_does_no_training(filled, capsys, monkeypatch):
    def no_training(spec):
        raise AssertionError("a completed sweep must not train")

    monkeypatch.setattr(suite.train, "run", no_training)
    started = time.perf_counter()
    assert main(["sweep", *TINY, "--store", str(filled), "--json"]) == 0
    elapsed = time.perf_counter() - started
    summary = json.loads(capsys.readouterr().out)
    assert (summary["total"], summary["stored"], summary["ran"], summary["failed"]) == (8, 8, 0, [])
    assert elapsed < 2.0
    assert main(["sweep", *TINY, "--seeds", "3", "--store", str(filled), "--dry-run"]) == 0
    assert "12 runs in the grid, 8 already stored" in capsys.readouterr().out


@pytest.mark.parametrize("flags,message", [
    (["--gaps", "2,0"], "gap must be an integer >= 1, got 0"),
    (["--task", "parity"], "task must be one of"),
    (["--archs", "rnn-tanh,rnn"], "arch must be one of"),
    (["--seeds", "-1"], "seeds must be an integer >= 1, got -1"),
    (["--workers", "0"], "workers must be an integer >= 1, got 0"),
    (["--threads", "0"], "threads must be an integer >= 1, got 0"),
    (["--gaps", "2,x"], "gaps must be a comma-separated list of ints"),
    (["--profile", "huge"], "profile must be one of"),
    (["--forget-bias", "1"], "forget_bias applies only to arch 'lstm'"),
], ids=["gap0", "task", "arch", "seeds", "workers", "threads", "gaps", "profile", "forget-bias"])
def test_a_malformed_grid_exits_2_before_any_run(flags, message, tmp_path, capsys, monkeypatch):
    calls = []
    monkeypatch.setattr(suite.train, "run", lambda spec: calls.append(spec))
    path = tmp_path / "runs.sqlite"
    assert main(["sweep", *TINY, *flags, "--store", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("vgsuite sweep: error: ") and message in err and "Traceback" not in err
    assert calls == [] and not path.exists()


def test_failed_runs_are_reported_and_exit_1(tmp_path, capsys, monkeypatch):
    real = suite.train.run

    def flaky(spec):
        if spec.arch.name == "gru" and spec.seed == 1:
            raise FloatingPointError("nan in the hidden state")
        return real(spec)

    monkeypatch.setattr(suite.train, "run", flaky)
    monkeypatch.setattr(suite.sweep, "BATCHED", False)  # every run through suite.train.run
    path = tmp_path / "runs.sqlite"
    assert main(["sweep", *TINY, "--store", str(path)]) == 1
    out = capsys.readouterr().out
    assert "8 runs: 0 already stored, 6 ran, 2 failed" in out
    assert "2 failed with FloatingPointError: nan in the hidden state" in out
    assert main(["show", "--store", str(path), "--status", "failed"]) == 0
    out = capsys.readouterr().out
    assert out.count("failed ") >= 2 and "FloatingPointError: nan in the hidden state" in out
    assert "2 runs (0 ok, 2 failed)" in out


# -- foreign and missing stores -------------------------------------------------------------------

def foreign_sqlite(path):
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE photos (id INTEGER PRIMARY KEY, name TEXT)")
    conn.execute("INSERT INTO photos (name) VALUES ('cat.jpg')")
    conn.commit()
    conn.close()


@pytest.mark.parametrize("kind", ["text", "sqlite"])
@pytest.mark.parametrize("command", [["sweep", *TINY], ["show"], ["export", "--out", "x.jsonl"]],
                         ids=["sweep", "show", "export"])
def test_a_foreign_store_file_is_refused_and_left_untouched(kind, command, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / f"not-a-store.{kind}"
    if kind == "text":
        path.write_text("these are my notes, not a database\n" * 50)
    else:
        foreign_sqlite(path)
    before = (path.read_bytes(), path.stat().st_mtime_ns)
    calls = []
    monkeypatch.setattr(suite.train, "run", lambda spec: calls.append(spec))
    assert main([*command, "--store", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"vgsuite {command[0]}: error: results store {str(path)!r}: refusing to use it" in err
    assert "Traceback" not in err and calls == []
    assert (path.read_bytes(), path.stat().st_mtime_ns) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]  # no -wal, no x.jsonl


def test_show_on_a_missing_store_names_it_and_creates_nothing(tmp_path, capsys):
    path = tmp_path / "nowhere.sqlite"
    assert main(["show", "--store", str(path)]) == 2
    assert f"no results store at {str(path)!r}" in capsys.readouterr().err
    assert not path.exists()


# -- show and export ------------------------------------------------------------------------------

def test_show_lists_runs_as_a_table(filled, capsys):
    assert main(["show", "--store", str(filled)]) == 0
    lines = capsys.readouterr().out.splitlines()
    for column in ("key", "task", "gap", "arch", "mitigations", "seed", "solved",
                   "steps_to_solve", "final metric", "wall"):
        assert column in lines[0]
    body = [line for line in lines[2:] if "delayed_recall" in line]
    assert len(body) == 8 and lines[-1] == f"8 runs (8 ok, 0 failed) in {filled}"
    assert body[0].split()[1:5] == ["ok", "delayed_recall", "2", "gru"]  # sorted by task, gap, arch

    assert main(["show", "--store", str(filled), "--arch", "gru", "--gap", "3", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert len(shown) == 2 and {r["spec"]["arch"]["name"] for r in shown} == {"gru"}
    assert {r["spec"]["task"]["gap"] for r in shown} == {3} and all(r["status"] == "ok" for r in shown)
    assert {"key", "spec", "result", "meta", "error", "created"} <= set(shown[0])
    assert "final_metric" in shown[0]["result"] and shown[0]["meta"]["threads"] >= 1

    assert main(["show", "--store", str(filled), "--status", "failed"]) == 0
    assert capsys.readouterr().out.strip() == f"0 runs (0 ok, 0 failed) in {filled}"


def test_export_jsonl_and_csv_with_filters(filled, tmp_path, capsys):
    out = tmp_path / "out" / "runs.jsonl"
    assert main(["export", "--store", str(filled), "--out", str(out), "--arch", "rnn-tanh"]) == 0
    assert "wrote 4 runs" in capsys.readouterr().out
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(records) == 4 and {r["spec"]["arch"]["name"] for r in records} == {"rnn-tanh"}

    table = tmp_path / "runs.txt"
    assert main(["export", "--store", str(filled), "--out", str(table), "--format", "csv",
                 "--gap", "2", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"count": 4, "format": "csv", "out": str(table)}
    with table.open() as fh:
        exported = list(csv.DictReader(fh))
    assert len(exported) == 4 and {r["spec.task.gap"] for r in exported} == {"2"}
    assert "result.final_metric" in exported[0] and "meta.torch" in exported[0]


def test_export_refuses_an_unknown_format_and_the_store_itself(filled, capsys):
    before = filled.read_bytes()
    assert main(["export", "--store", str(filled), "--out", "runs.txt"]) == 2
    assert "format must be jsonl or csv" in capsys.readouterr().err
    assert main(["export", "--store", str(filled), "--out", str(filled), "--format", "csv"]) == 2
    assert "is the results store itself" in capsys.readouterr().err
    assert filled.read_bytes() == before
