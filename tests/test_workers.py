"""suite.workers.spread, the one pool behind sweeps, claims and the probe overview: the same
results here and in workers, each worker on its own store connection, a failed job raised in the
caller, and a worker that dies reported per job when the caller asks (a sweep records those runs
as failed), else raised."""

from __future__ import annotations

import os
from concurrent.futures.process import BrokenProcessPool

import pytest

from suite.store import Store
from suite.workers import spread


def _keys_in(store: Store, prefix: str) -> tuple:
    return os.getpid(), str(store.path), tuple(sorted(k for k in store.keys() if k.startswith(prefix)))


def _fail(x: int) -> int:
    if x == 2:
        raise ValueError("job 2 fails")
    return x


def _die(x: int) -> int:
    if x == 1:
        os._exit(3)  # the worker process dies, as when it is killed or runs out of memory
    return x


def test_the_same_results_here_and_in_workers_each_on_its_own_store_connection(tmp_path):
    store = Store(tmp_path / "runs.sqlite")
    store.put("run-a", {"seed": 0}, {"solved": True}, {})
    jobs = {i: ("run-",) for i in range(3)}
    here = dict(spread(_keys_in, jobs, 1, store=store))
    there = dict(spread(_keys_in, jobs, 2, store=store))
    assert {r[1:] for r in here.values()} == {r[1:] for r in there.values()} == {(str(store.path), ("run-a",))}
    assert {r[0] for r in here.values()} == {os.getpid()}
    assert os.getpid() not in {r[0] for r in there.values()}
    assert dict(spread(pow, {"a": (2, 3), "b": (3, 2)}, 2)) == {"a": 8, "b": 9}  # no store: fn(*args)


@pytest.mark.parametrize("workers", [1, 2])
def test_a_failed_job_raises_in_the_caller(workers):
    with pytest.raises(ValueError, match="job 2 fails"):
        dict(spread(_fail, {i: (i,) for i in range(4)}, workers))


def test_a_dead_worker_is_reported_per_job_or_raised():
    results = dict(spread(_die, {i: (i,) for i in range(3)}, 2, broken=lambda key, error: f"failed: {error}"))
    assert results[1].startswith("failed: BrokenProcessPool: a worker process died")
    assert set(results) == {0, 1, 2}
    with pytest.raises(BrokenProcessPool):
        dict(spread(_die, {i: (i,) for i in range(3)}, 2))
