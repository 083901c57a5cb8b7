"""Tests for suite.specs keys, suite.profiles and suite.sweep: stable keys, grids, resumable and
idempotent sweeps, failed runs, concurrent sweeps on one store and a sweep killed with SIGKILL.

Runs are tiny (hidden 4, a few steps, gaps 2-5); the subprocess tests pay mostly for importing
torch, so the whole file takes well under a minute on 2 cores.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest
import torch

import suite.sweep
import suite.train
from suite import specs as specs_module
from suite.claims.base import Context
from suite.engine.protocol import RunResult
from suite.labels import spec_mitigation_label
from suite.profiles import FULL, PROFILES, QUICK, Profile, profile
from suite.specs import ArchSpec, RunSpec, TaskSpec, TrainSpec
from suite.store import Store
from suite.sweep import (
    MissingRuns,
    SweepSummary,
    available_cores,
    ensure_runs,
    execute_group,
    grid,
    group_runs,
    label,
    load_results,
)
from tasks import TASKS

ROOT = Path(__file__).resolve().parents[1]
TINY_TRAIN = TrainSpec(steps=4, batch_size=4, eval_every=2, eval_size=16)
REAL_RUN = suite.train.run


def tiny(seed=0, gap=2, arch="rnn-tanh", **arch_fields) -> RunSpec:
    return RunSpec(TaskSpec("delayed_recall", gap), ArchSpec(arch, hidden=4, **arch_fields),
                   TINY_TRAIN, seed)


def tiny_grid(**kw) -> list[RunSpec]:
    kw = {"gaps": [2, 3], "seeds": 2, "train": TINY_TRAIN, **kw}
    return grid("delayed_recall", [ArchSpec("rnn-tanh", hidden=4)], **kw)


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny runs in this process: one torch thread (several crawl on a busy machine)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def python(code: str, *args: str, **kw) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p))
    env.pop("VGSUITE_STORE", None)
    env["OMP_NUM_THREADS"] = "1"  # tiny runs: more threads only wait on each other
    return subprocess.Popen([sys.executable, *(["-c", code] if code else []), *args], cwd=ROOT,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def rows(path: Path) -> list[tuple]:
    """(key, status, spec, meta) of every row, read without the Store (as a foreign reader)."""
    if not path.exists():
        return []
    conn = sqlite3.connect(path, timeout=30)
    try:
        return conn.execute("SELECT key, status, spec, meta FROM runs").fetchall()
    except sqlite3.OperationalError:  # the sweep is still creating the schema
        return []
    finally:
        conn.close()


# -- keys and seeds -------------------------------------------------------------------------------

def test_same_spec_same_key_and_equal_specs_spelled_differently():
    a = tiny()
    assert a.key == tiny().key == RunSpec.from_dict(json.loads(json.dumps(a.to_dict()))).key
    spelled_out = RunSpec(TaskSpec("delayed_recall", 2, {"n_distractors": 4, "n_symbols": 8}),
                          ArchSpec("rnn-tanh", hidden=4, init="default"), TINY_TRAIN, 0, "cpu")
    assert spelled_out.key == a.key and len(a.key) == 64


@pytest.mark.parametrize("change", [
    dict(task=TaskSpec("delayed_recall", 3)), dict(task=TaskSpec("delayed_recall", 2, {"n_symbols": 4})),
    dict(arch=ArchSpec("gru", hidden=4)), dict(arch=ArchSpec("rnn-tanh", hidden=5)),
    dict(arch=ArchSpec("rnn-tanh", hidden=4, init="orthogonal")),
    dict(train=replace(TINY_TRAIN, lr=2e-3)), dict(train=replace(TINY_TRAIN, clip=1.0)),
    dict(seed=1), dict(device="cuda"),
], ids=["gap", "task-option", "arch", "hidden", "init", "lr", "clip", "seed", "device"])
def test_a_different_spec_has_a_different_key(change):
    assert replace(tiny(), **change).key != tiny().key


def test_key_covers_the_protocol_version(monkeypatch):
    key, seed = tiny().key, tiny().data_seed()  # computed now: both read the version when called
    monkeypatch.setattr(specs_module, "PROTOCOL_VERSION", specs_module.PROTOCOL_VERSION + 1)
    assert tiny().key != key and tiny().data_seed() != seed


def test_seeds_derive_from_the_spec_and_not_from_the_device():
    cpu, cuda = tiny(), replace(tiny(), device="cuda")
    assert cpu.key != cuda.key
    assert (cpu.data_seed(), cpu.eval_seed(), cpu.init_seed()) == \
           (cuda.data_seed(), cuda.eval_seed(), cuda.init_seed())
    gru = tiny(arch="gru")
    assert gru.data_seed() == cpu.data_seed() and gru.eval_seed() == cpu.eval_seed()  # paired data
    assert gru.init_seed() != cpu.init_seed() and tiny(seed=1).data_seed() != cpu.data_seed()
    clipped = replace(cpu, train=replace(TINY_TRAIN, clip=1.0))
    assert clipped.init_seed() == cpu.init_seed()  # training-only mitigations: same initial net


def test_keys_and_seeds_are_the_same_in_another_process():
    specs = [tiny(), tiny(seed=3, arch="lstm", forget_bias=1.0), replace(tiny(), device="cuda")]
    code = ("import json, sys\nfrom suite.specs import RunSpec\n"
            "for d in json.loads(sys.stdin.read()):\n"
            "    s = RunSpec.from_dict(d)\n"
            "    print(s.key, s.data_seed(), s.eval_seed(), s.init_seed())\n")
    proc = python(code, stdin=subprocess.PIPE)
    out, err = proc.communicate(json.dumps([s.to_dict() for s in specs]), timeout=60)
    assert proc.returncode == 0, err
    assert out.split("\n")[:-1] == [f"{s.key} {s.data_seed()} {s.eval_seed()} {s.init_seed()}"
                                    for s in specs]


# -- profiles -------------------------------------------------------------------------------------

def test_profiles_registry_and_budgets():
    assert set(PROFILES) == {"quick", "full", "paper"} and profile("quick") is QUICK and profile(FULL) is FULL
    assert (QUICK.hidden, QUICK.train.lr, QUICK.train.steps, QUICK.train.batch_size,
            QUICK.train.eval_every, QUICK.train.optimizer, QUICK.seeds) == (32, 3e-3, 1000, 64, 25, "adam", 5)
    assert FULL.seeds == 10 and FULL.hidden >= QUICK.hidden and FULL.train.steps >= QUICK.train.steps
    for prof in PROFILES.values():
        for task in TASKS:
            ladder = prof.gaps_for(task)
            assert ladder == tuple(sorted(set(ladder))) and ladder[0] >= 1
    assert set(QUICK.gaps_for("copy")) <= set(FULL.gaps_for("copy"))
    assert QUICK.arch("lstm", forget_bias=1.0) == ArchSpec("lstm", hidden=32, forget_bias=1.0)
    hash(QUICK)  # frozen and hashable


def test_profile_errors_name_the_parameter():
    with pytest.raises(ValueError, match=r"profile must be one of \['full', 'paper', 'quick'\], got 'huge'"):
        profile("huge")
    with pytest.raises(ValueError, match="no gap ladder for task 'parity'"):
        QUICK.gaps_for("parity")
    with pytest.raises(ValueError, match="seeds must be a positive integer"):
        Profile("x", "", 8, TINY_TRAIN, 0, {"copy": (1,)})
    with pytest.raises(ValueError, match="gap ladder for 'copy' must be increasing"):
        Profile("x", "", 8, TINY_TRAIN, 1, {"copy": (5, 2)})


# -- grids ----------------------------------------------------------------------------------------

def test_grid_order_defaults_and_overrides():
    specs = grid(["copy", "adding"], ["rnn-tanh", QUICK.arch("lstm", forget_bias=1.0)],
                 gaps=[5, 10], seeds=3, master_seed=7)
    assert len(specs) == 2 * 2 * 2 * 3 and len({s.key for s in specs}) == len(specs)
    first = specs[0]
    assert (first.task.name, first.task.gap, first.arch.name, first.seed) == ("copy", 5, "rnn-tanh", 70_000)
    assert [s.seed for s in specs[:3]] == [70_000, 70_001, 70_002] and specs[3].arch.forget_bias == 1.0
    # one seed rule: a sweep fills exactly the seeds the claims read for the same master seed
    assert [s.seed for s in specs[:3]] == Context(master_seed=7).seeds(3)
    assert first.arch.hidden == QUICK.hidden and first.train == QUICK.train
    default = grid("delayed_recall", "gru", profile="full")
    assert len(default) == len(FULL.gaps_for("delayed_recall")) * FULL.seeds
    assert {s.task.gap for s in default} == set(FULL.gaps_for("delayed_recall"))
    assert grid("copy", "gru", gaps=[5], train=TINY_TRAIN)[0].train == TINY_TRAIN
    assert label(specs[3]) == "copy gap 5 lstm [forget bias 1] seed 70000"
    assert spec_mitigation_label(tiny(init="orthogonal", init_gain=1.5).to_dict()) == "init orthogonal x1.5"


@pytest.mark.parametrize("kwargs,message", [
    (dict(tasks="parity"), "task must be one of"),
    (dict(archs=["rnn-tanh", "rnn"]), "arch must be one of"),
    (dict(gaps=[5, 0]), "gap must be an integer >= 1, got 0"),
    (dict(seeds=-1), "seeds must be an integer >= 1, got -1"),
    (dict(seeds=0), "seeds must be an integer >= 1, got 0"),
    (dict(master_seed=-2), "master_seed must be an integer >= 0"),
    (dict(gaps=[]), "gaps must not be empty"),
    (dict(profile="huge"), "profile must be one of"),
], ids=lambda v: v if isinstance(v, str) else "-".join(v))
def test_a_malformed_grid_is_rejected_naming_the_parameter(kwargs, message):
    kwargs = {"tasks": "copy", "archs": "rnn-tanh", "gaps": [5], **kwargs}
    with pytest.raises(ValueError, match=message):
        grid(kwargs.pop("tasks"), kwargs.pop("archs"), **kwargs)


def test_ensure_runs_rejects_bad_input_before_any_run(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(suite.train, "run", lambda spec: calls.append(spec))
    path = tmp_path / "runs.sqlite"
    with pytest.raises(ValueError, match="workers must be an integer >= 1, got 0"):
        ensure_runs([tiny()], path, workers=0)
    with pytest.raises(ValueError, match=r"specs\[1\] must be a RunSpec, got dict"):
        ensure_runs([tiny(), tiny().to_dict()], path)
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            ensure_runs([tiny(), replace(tiny(), device="cuda")], path)
    assert calls == [] and not path.exists()


# -- running --------------------------------------------------------------------------------------

def test_ensure_runs_then_a_rerun_trains_nothing(tmp_path, monkeypatch, capsys):
    path = tmp_path / "runs.sqlite"
    specs = tiny_grid()
    summary = ensure_runs(specs + specs[:2], path)  # duplicates count once
    assert (summary.total, summary.stored, summary.ran, summary.failed) == (4, 0, 4, [])
    assert summary.complete and "4 runs: 0 already stored, 4 ran, 0 failed" in str(summary)
    assert capsys.readouterr().err == ""  # no progress bar when stderr is not a terminal
    with Store(path) as store:
        assert len(store) == 4
        record = store.get(specs[0].key)
        assert record.spec == json.loads(json.dumps(specs[0].to_dict()))
        assert record.meta["threads"] == torch.get_num_threads() and record.meta["torch"]
    results = load_results(specs, path)
    assert set(results) == {s.key for s in specs}
    assert all(isinstance(r, RunResult) and r.steps_run >= 1 for r in results.values())

    def no_training(spec):
        raise AssertionError("a completed sweep must not train")

    monkeypatch.setattr(suite.train, "run", no_training)
    started = time.perf_counter()
    again = ensure_runs(specs, path)
    assert (again.stored, again.ran, again.failed) == (4, 0, [])
    assert time.perf_counter() - started < 2.0


def test_a_failing_run_is_stored_and_retried(tmp_path, monkeypatch):
    path = tmp_path / "runs.sqlite"
    specs = tiny_grid()
    bad = specs[1]

    def flaky(spec):
        if spec.key == bad.key:
            raise RuntimeError("boom: the loss went sideways")
        return REAL_RUN(spec)

    monkeypatch.setattr(suite.train, "run", flaky)
    monkeypatch.setattr(suite.sweep, "BATCHED", False)  # every run through suite.train.run
    summary = ensure_runs(specs, path)
    assert (summary.ran, len(summary.failed)) == (3, 1) and not summary.complete
    failure = summary.failed[0]
    assert failure.spec == bad and failure.reason == "RuntimeError: boom: the loss went sideways"
    assert "1 failed with RuntimeError: boom" in str(summary) and bad.key[:12] in str(summary)
    with Store(path) as store:
        record = store.get(bad.key)
        assert record.status == "failed" and record.result == {} and record.meta["torch"]
        assert record.error.startswith("RuntimeError: boom") and "Traceback" in record.error
        assert "in flaky" in record.error and len(store.keys("ok")) == 3
    with pytest.raises(MissingRuns, match="1 of 4 runs have no ok result"):
        load_results(specs, path)
    assert len(load_results(specs, path, strict=False)) == 3

    monkeypatch.setattr(suite.train, "run", REAL_RUN)  # fixed: the next sweep retries it
    retry = ensure_runs(specs, path)
    assert (retry.stored, retry.ran, retry.failed) == (3, 1, [])
    with Store(path) as store:
        assert store.get(bad.key).status == "ok" and store.get(bad.key).error is None
        assert len(store) == 4
    assert len(load_results(specs, path)) == 4


def test_compatible_runs_share_a_group_and_execute_group_stores_each(tmp_path):
    specs = tiny_grid()[:2]  # two seeds of one configuration: one batch (suite.engine.stacked)
    assert group_runs(specs) == [specs]
    with Store(tmp_path / "runs.sqlite") as store:
        assert [o.status for o in execute_group(specs, store)] == ["ok", "ok"]
        assert [o.status for o in execute_group(specs, store)] == ["stored", "stored"]
        assert len(store) == 2
    assert available_cores() >= 1
    assert SweepSummary(total=0).complete


# -- a run's numbers are a function of its spec, not of its schedule -----------------------------

SCHEDULE_TRAIN = TrainSpec(steps=30, batch_size=8, lr=1e-2, eval_every=10, eval_size=32, early_stop=False)


def _schedule_specs(arch: str) -> list[RunSpec]:
    """A target run and 7 runs it can share a batch with (other seeds, learning rates, clipping)."""
    base = RunSpec(TaskSpec("delayed_recall", 3), ArchSpec(arch, hidden=6), SCHEDULE_TRAIN, 0)
    mates = [replace(base, seed=seed) for seed in (1, 2, 3, 4)]
    mates += [replace(base, seed=5, train=replace(SCHEDULE_TRAIN, lr=3e-3)),
              replace(base, seed=6, train=replace(SCHEDULE_TRAIN, clip=0.1)),
              replace(base, seed=7, train=replace(SCHEDULE_TRAIN, steps=12))]
    return [base, *mates]


def _stored(path: Path, spec: RunSpec) -> dict:
    """The stored result of `spec` without its wall time (the one field that measures the machine)."""
    with Store(path) as store:
        record = store.get(spec.key)
    assert record is not None and record.status == "ok", record
    return {k: v for k, v in record.result.items() if k != "wall_s"}


def test_mkl_products_do_not_depend_on_the_batch_around_them():
    from suite.environment import batched_products_reproducible, metadata

    assert batched_products_reproducible(), "MKL_CBWR did not take effect (see suite/__init__.py)"
    assert metadata()["batched_products_reproducible"] and metadata()["mkl_cbwr"]


@pytest.mark.parametrize("arch,threads", [("rnn-tanh", 1), ("rnn-tanh", 2), ("gru", 1), ("lstm", 1),
                                          ("rnn-attention", 1)])
def test_a_runs_numbers_do_not_depend_on_how_it_was_scheduled(tmp_path, arch, threads):
    """The same spec alone, in a group of 2, in a group of 8, listed last, and finished after a
    sweep stopped midway: bit-identical results, and `suite.train.run` gives them too."""
    torch.set_num_threads(threads)  # the autouse fixture restores it
    target, *mates = _schedule_specs(arch)
    schedules = {
        "alone": [[target]],
        "group of 2": [[mates[0], target]],
        "group of 8": [[*mates, target]],
        "stopped, then resumed": [mates[:3], [*mates[::-1], target]],
    }
    results = {}
    for name, sweeps in schedules.items():
        path = tmp_path / f"{name.replace(' ', '-')}.sqlite"
        for specs in sweeps:
            ensure_runs(specs, path)
        results[name] = _stored(path, target)
    direct = {k: v for k, v in suite.train.run(target).to_dict().items() if k != "wall_s"}
    assert results["alone"]["steps_run"] == SCHEDULE_TRAIN.steps
    for name, result in results.items():
        assert result == results["alone"], f"{arch}: {name} differs from alone"
    assert direct == results["alone"]


# -- several processes ----------------------------------------------------------------------------

SWEEP = ["-m", "suite.cli", "sweep", "--task", "delayed_recall", "--archs", "rnn-tanh",
         "--hidden", "4", "--batch-size", "8", "--eval-every", "25"]


def cli_specs(args: list[str]) -> list[RunSpec]:
    from suite.cli import build_parser, sweep_specs

    return sweep_specs(build_parser().parse_args(["sweep", *args]))


def test_two_sweeps_at_once_on_one_store(tmp_path):
    path = tmp_path / "shared.sqlite"
    grid_a = ["--gaps", "2,3", "--seeds", "4", "--steps", "10"]
    grid_b = ["--gaps", "3,4", "--seeds", "6", "--steps", "10"]
    procs = [python("", *SWEEP, *g, "--store", str(path)) for g in (grid_a, grid_b)]
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    specs = {s.key: s for g in (grid_a, grid_b) for s in cli_specs([*SWEEP[3:], *g])}
    assert len(specs) == 8 + 12 - 4  # gap 3, seeds 0-3 are in both grids
    stored = rows(path)
    assert sorted(r[0] for r in stored) == sorted(specs)  # every spec once, nothing else
    assert {r[1] for r in stored} == {"ok"}
    for key, _, spec, _ in stored:
        assert RunSpec.from_dict(json.loads(spec)).key == key
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")
def test_a_sweep_killed_with_sigkill_resumes(tmp_path, capsys):
    path = tmp_path / "runs.sqlite"
    # 12 configurations of 2 seeds: 12 batched groups, so the kill lands between groups
    args = ["--gaps", "2,3,4,5,6,7", "--archs", "rnn-tanh,gru", "--seeds", "2", "--steps", "20"]
    total = len(cli_specs([*SWEEP[3:], *args]))
    proc = python("", *SWEEP, *args, "--workers", "2", "--store", str(path))
    deadline = time.monotonic() + 90
    while len(rows(path)) < 3 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    workers = _children(proc.pid)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    done = rows(path)
    assert 3 <= len(done) < total, "the sweep should have been killed midway"
    expected_threads = max(1, available_cores() // 2)
    assert all(json.loads(meta)["threads"] == expected_threads for *_, meta in done)
    deadline = time.monotonic() + 10  # orphaned workers notice and exit; none trains on
    while any(_alive(w) for w in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_alive(w) for w in workers)

    from suite.cli import main  # the rerun: the same command, here in-process

    assert main([*SWEEP[2:], *args, "--json", "--store", str(path)]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["total"] == total and summary["ran"] == total - summary["stored"]
    assert summary["stored"] >= len(done) and summary["failed"] == [] and summary["complete"]
    stored = rows(path)
    assert len(stored) == len({r[0] for r in stored}) == total and {r[1] for r in stored} == {"ok"}
    # killed and resumed, the numbers are those of an uninterrupted sweep at the same threads
    threads = {key: json.loads(meta)["threads"] for key, _, _, meta in stored}
    for count in sorted(set(threads.values())):
        torch.set_num_threads(count)  # the autouse fixture restores it
        specs = [s for s in cli_specs([*SWEEP[3:], *args]) if threads[s.key] == count]
        reference = tmp_path / f"uninterrupted-{count}.sqlite"
        ensure_runs(specs, reference)
        for spec in specs:
            assert _stored(path, spec) == _stored(reference, spec), label(spec)
