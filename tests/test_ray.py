"""The Ray executor on a real Ray (a local one on loopback, 2 CPUs; no mock): a sweep through it
stores the same keys and numbers as the local pool, a killed driver loses only the groups in
flight and a rerun resumes, a worker that dies mid-task becomes failed rows, and asking for Ray
without it installed is one line, exit 2.

Ray is an optional extra; without it these tests skip, except where $VGSUITE_REQUIRE_RAY is set
(CI and `nox -s tests` set it), so that CI cannot pass by skipping them.
"""

from __future__ import annotations

import builtins
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from suite.cli import main
from suite.executors import Executor, ExecutorUnavailable, import_ray
from suite.specs import ArchSpec, TrainSpec
from suite.store import Store, StoreError
from suite.sweep import ensure_runs, grid

ROOT = Path(__file__).resolve().parents[1]
if os.environ.get("VGSUITE_REQUIRE_RAY"):
    import ray
else:
    ray = pytest.importorskip("ray")

SMALL = TrainSpec(steps=30, batch_size=8, eval_every=10, eval_size=32)
KILLER = '''
import os

import torch
from torch import nn


class KillerCell(nn.Module):
    """A user cell whose first training step ends its own process, as an out-of-memory kill would."""

    def __init__(self, input_size, hidden_size):
        super().__init__()
        self.linear = nn.Linear(input_size + hidden_size, hidden_size)

    def forward(self, x, h):
        if self.training:
            os._exit(9)
        return torch.tanh(self.linear(torch.cat([x, h], -1)))
'''


@pytest.fixture(scope="module")
def cluster():
    """A local Ray for this module (2 CPUs, loopback); yields its address for other drivers."""
    ray.init(num_cpus=2, _node_ip_address="127.0.0.1", include_dashboard=False, log_to_driver=False)
    try:
        yield ray.get_runtime_context().gcs_address
    finally:
        ray.shutdown()


def _specs(gaps=(3,)):
    archs = [ArchSpec("rnn-tanh", hidden=6), ArchSpec("gru", hidden=6), ArchSpec("lstm", hidden=6)]
    return grid("delayed_recall", archs, gaps=list(gaps), seeds=2, train=SMALL)


def _numbers(path: Path) -> dict:
    with Store(path) as store:
        return {r.key: ({k: v for k, v in r.result.items() if k != "wall_s"}, r.status, r.meta["threads"])
                for r in store.query(status=None)}


def test_a_ray_sweep_stores_the_same_keys_and_numbers_as_the_local_pool(cluster, tmp_path):
    specs = _specs()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the local reference at the Ray tasks' one thread each
    try:
        local = ensure_runs(specs, tmp_path / "local.sqlite", progress=False)
    finally:
        torch.set_num_threads(threads)
    on_ray = ensure_runs(specs, tmp_path / "ray.sqlite", workers=2, progress=False, executor=Executor("ray"))
    assert on_ray.ran == local.ran == len(specs) and not on_ray.failed
    assert _numbers(tmp_path / "ray.sqlite") == _numbers(tmp_path / "local.sqlite")
    again = ensure_runs(specs, tmp_path / "ray.sqlite", progress=False, executor=Executor("ray"))
    assert again.ran == 0 and again.stored == len(specs)  # resumable: nothing trains twice


def test_a_killed_driver_loses_only_groups_in_flight_and_a_rerun_resumes(cluster, tmp_path):
    specs = _specs(gaps=(2, 3, 4, 5, 6))   # 15 groups: the kill lands midway
    path = tmp_path / "runs.sqlite"
    code = ("import sys; from suite.executors import Executor; from suite.specs import ArchSpec, TrainSpec; "
            "from suite.sweep import ensure_runs, grid; "
            f"specs = grid('delayed_recall', [ArchSpec('rnn-tanh', hidden=6), ArchSpec('gru', hidden=6), "
            f"ArchSpec('lstm', hidden=6)], gaps=[2, 3, 4, 5, 6], seeds=2, train=TrainSpec(**{SMALL.__dict__!r})); "
            f"ensure_runs(specs, sys.argv[1], progress=False, executor=Executor('ray', address={cluster!r}))")
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    env.pop("VGSUITE_STORE", None)
    driver = subprocess.Popen([sys.executable, "-c", code, str(path)], cwd=ROOT, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while _count(path) < 4 and driver.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    driver.send_signal(signal.SIGKILL)
    driver.communicate(timeout=30)
    done = _count(path)
    assert 4 <= done < len(specs), "the driver should have been killed midway"
    summary = ensure_runs(specs, path, workers=2, progress=False, executor=Executor("ray"))
    assert summary.complete and not summary.failed and summary.stored >= done
    assert summary.stored + summary.ran == len(specs)
    numbers = _numbers(path)
    assert len(numbers) == len(specs) and {status for _, status, _ in numbers.values()} == {"ok"}
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        ensure_runs(specs, tmp_path / "uninterrupted.sqlite", progress=False)
    finally:
        torch.set_num_threads(threads)
    assert numbers == _numbers(tmp_path / "uninterrupted.sqlite")


def _count(path: Path) -> int:
    if not path.exists():
        return 0
    try:
        with Store(path, readonly=True) as store:
            return len(store.keys("ok"))
    except StoreError:  # the driver is still creating the file
        return 0


def test_a_worker_that_dies_mid_task_becomes_failed_rows_not_a_hang(cluster, tmp_path):
    cell = tmp_path / "killer.py"
    cell.write_text(KILLER)
    dying = grid("delayed_recall", [ArchSpec(f"{cell}:KillerCell", hidden=6)], gaps=[3], seeds=2, train=SMALL)
    healthy = grid("delayed_recall", [ArchSpec("rnn-tanh", hidden=6)], gaps=[3], seeds=2, train=SMALL)
    started = time.monotonic()
    summary = ensure_runs(dying + healthy, tmp_path / "runs.sqlite", workers=2, progress=False,
                          executor=Executor("ray"))
    assert time.monotonic() - started < 120
    assert summary.ran == len(healthy) and {f.spec.key for f in summary.failed} == {s.key for s in dying}
    assert all("WorkerCrashedError" in f.error or "died" in f.error for f in summary.failed), summary.failed
    with Store(tmp_path / "runs.sqlite") as store:
        assert {store.get(s.key).status for s in dying} == {"failed"}
        assert store.get(dying[0].key).meta == {"executor": "ray"}


def test_executor_input_is_checked_and_missing_ray_is_one_line(tmp_path, capsys, monkeypatch):
    with pytest.raises(ValueError, match="executor must be one of"):
        Executor("slurm")
    with pytest.raises(ValueError, match="address is for the ray executor only"):
        Executor("local", address="auto")
    real_import = builtins.__import__

    def no_ray(name, *args, **kwargs):
        if name == "ray" or name.startswith("ray."):
            raise ImportError("No module named 'ray'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_ray)
    with pytest.raises(ExecutorUnavailable, match="pip install 'vgsuite\\[ray\\]'"):
        import_ray()
    store = tmp_path / "runs.sqlite"
    code = main(["sweep", "--task", "delayed_recall", "--gaps", "3", "--seeds", "1", "--steps", "4",
                 "--executor", "ray", "--store", str(store)])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "vgsuite[ray]" in err and len(err.splitlines()) == 1 and not store.exists()
