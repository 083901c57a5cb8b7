"""Worker processes: the one way vgsuite spreads work over cores.

    for key, result in spread(fn, {key: args, ...}, workers=2, store=store):
        ...                                   # as each job finishes, in any order

Sweeps (training runs), the claims' evaluation and the report's probe overview all hand their jobs
to `spread`. With `workers` <= 1 the jobs run here, one after another. Otherwise each runs in one
of `workers` spawned processes (spawn, not fork: torch's threads do not survive a fork), which:

* pin their torch threads (the cores over the workers, at least one each: small recurrent networks
  run fastest on one thread per process, and the count is recorded with every result);
* open their own connection to the store when the jobs need one (SQLite connections do not cross
  processes), so a job is `fn(store, *args)` here and there alike;
* leave Ctrl-C to the parent, which stops them, and exit on their own once the parent is gone, so
  a killed sweep leaves no orphans training on.

A job that raises stops the others and raises in the caller. A worker that dies (killed, out of
memory) breaks the pool: `broken(key, error)` then stands in for each unfinished job's result when
given (a sweep records those runs as failed and carries on), else the error is raised.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable, Hashable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool

from .environment import available_cores, set_threads
from .store import Store

_worker_store: Store | None = None


def spread(fn: Callable, jobs: dict[Hashable, tuple], workers: int, *, store: Store | None = None,
           threads: int | None = None, broken: Callable | None = None) -> Iterator[tuple[Hashable, object]]:
    """(key, result) for every job, as each finishes. With a `store`, `fn(store, *args)` gets
    this process's store, or in a worker the worker's own connection to the same file."""
    workers = min(workers, len(jobs))
    if workers <= 1:
        for key, args in jobs.items():
            yield key, (fn(store, *args) if store is not None else fn(*args))
        return
    threads = threads or max(1, available_cores() // workers)
    pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"), initializer=init_worker,
                               initargs=(str(store.path) if store is not None else None, threads, os.getpid()))
    try:
        futures = {pool.submit(_call, fn, store is not None, args): key for key, args in jobs.items()}
        for future in as_completed(futures):
            try:
                result = future.result()
            except BrokenProcessPool as error:
                if broken is None:
                    raise
                result = broken(futures[future], f"BrokenProcessPool: a worker process died ({error})")
            yield futures[future], result
    except BaseException:  # a failed job, Ctrl-C, or the caller stopped early: stop the jobs in flight
        for process in list((getattr(pool, "_processes", None) or {}).values()):
            process.terminate()
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(wait=True)


def init_worker(store_path: str | None, threads: int, parent: int) -> None:
    """A spawned worker: threads pinned, its own store connection, Ctrl-C left to the parent, and
    gone with the parent."""
    global _worker_store
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the parent, which stops us
    set_threads(threads)
    _worker_store = Store(store_path) if store_path is not None else None
    threading.Thread(target=_exit_with_parent, args=(parent,), daemon=True).start()


def _call(fn: Callable, with_store: bool, args: tuple):
    if with_store:
        if _worker_store is None:
            raise RuntimeError("a job that needs the store ran in a worker without one")
        return fn(_worker_store, *args)
    return fn(*args)


def _exit_with_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(1)
