"""Where a sweep's groups of runs train: this machine's process pool, or a Ray cluster.

    ensure_runs(specs, store, workers=4)                                   # the local pool (default)
    ensure_runs(specs, store, executor=Executor("ray"))                    # a Ray started here
    ensure_runs(specs, store, executor=Executor("ray", address="auto"))   # a running cluster

Both executors get the same groups (suite.sweep.group_runs: the batched groups of compatible runs)
and train each with the same function, so a run's numbers do not depend on where it trained (to
float tolerance across machines; bit for bit on one machine at one thread count). They differ in
who writes the store:

* local (suite.workers.spread): each worker process opens its own connection to the SQLite file
  and stores its runs itself; the file is on this machine.
* ray: each group is one Ray task (`num_gpus=1` when its runs train on CUDA), which trains and
  returns its records; the driver, here, is the only writer and stores each group's runs as the
  group finishes, so the cluster's nodes need no access to the store. A killed driver loses only
  the groups in flight (Ray cancels them with it), and a rerun trains only what the store lacks.
  A task that raises, or whose worker process dies, becomes failed rows with the error: tasks are
  never retried (`max_retries=0`: a run that kills its worker would kill the next one too) and
  never hang the sweep.

Ray is an optional extra (`pip install "vgsuite[ray]"`), imported only when asked for. With no
address, `ray.init` starts a local Ray on loopback with `workers` CPUs and shuts it down after the
sweep; with one ("auto", "HOST:PORT", "ray://HOST:PORT") it joins that cluster and leaves it
running. Every node needs vgsuite installed (the tasks import it); a user architecture given by
$VGSUITE_PLUGINS travels to the workers in the task's environment.
References: Moritz et al. (2018), "Ray: A Distributed Framework for Emerging AI Applications";
the fan-out pattern of HazyResearch/zoology and athms/mad-lab.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass

from .containment import describe
from .environment import set_threads

KINDS = ("local", "ray")


class ExecutorUnavailable(ValueError):
    """The executor asked for cannot run here (Ray is not installed, or no cluster at the address):
    bad input, which the command line reports in one line with exit 2."""


@dataclass(frozen=True)
class Executor:
    kind: str = "local"            # "local": this machine's process pool; "ray": a Ray cluster
    address: str | None = None     # ray only: None (start a local Ray), "auto", "HOST:PORT", "ray://..."

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"executor must be one of {list(KINDS)}, got {self.kind!r}")
        if self.address is not None:
            if self.kind != "ray":
                raise ValueError(f"address is for the ray executor only, got executor {self.kind!r}")
            if not isinstance(self.address, str) or not self.address.strip():
                raise ValueError(f"address must be 'auto', 'HOST:PORT' or 'ray://HOST:PORT', got {self.address!r}")

    def describe(self) -> str:
        return self.kind if self.address is None else f"{self.kind} at {self.address}"


LOCAL = Executor()


def import_ray():
    """The ray module, or ExecutorUnavailable saying how to install it."""
    try:
        import ray
    except ImportError:
        raise ExecutorUnavailable("executor 'ray' needs Ray: pip install 'vgsuite[ray]'") from None
    return ray


def ray_spread(fn: Callable, jobs: dict[Hashable, tuple], executor: Executor, *, workers: int = 1,
               threads: int = 1, gpus: Callable[[tuple], float] = lambda args: 0.0,
               broken: Callable[[Hashable, str], object]) -> Iterator[tuple[Hashable, object]]:
    """(key, fn(*args)) for every job, as each Ray task finishes, in any order: the Ray twin of
    suite.workers.spread. A task that raises or whose worker dies yields `broken(key, error)`.
    Each task asks for `threads` CPUs (its torch thread count) and `gpus(args)` GPUs."""
    ray = import_ray()
    started_here = not ray.is_initialized()
    if started_here:
        env = {name: os.environ[name] for name in ("VGSUITE_PLUGINS",) if name in os.environ}
        try:
            if executor.address is None:
                ray.init(num_cpus=max(workers, threads), _node_ip_address="127.0.0.1", include_dashboard=False,
                         log_to_driver=False, logging_level=logging.WARNING,
                         runtime_env={"env_vars": env} if env else None)
            else:
                ray.init(address=executor.address, log_to_driver=False, logging_level=logging.WARNING,
                         runtime_env={"env_vars": env} if env else None)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise ExecutorUnavailable(f"address: cannot join the Ray cluster at {executor.address!r}: "
                                      f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None
    task = ray.remote(max_retries=0)(_with_threads)
    pending = {task.options(num_cpus=threads, num_gpus=gpus(args)).remote(fn, threads, args): key
               for key, args in jobs.items()}
    try:
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            for ref in ready:
                key = pending.pop(ref)
                try:
                    result = ray.get(ref)
                except ray.exceptions.RayError as exc:  # the task raised, or its worker died
                    result = broken(key, _error_line(exc))
                yield key, result
    finally:  # Ctrl-C, an error here, or the caller stopped early: nothing trains on unseen
        for ref in pending:
            ray.cancel(ref, force=True)
        if started_here:
            ray.shutdown()


def _with_threads(fn: Callable, threads: int, args: tuple):
    """A Ray task: pin torch's threads (suite.environment.set_threads), then run the job."""
    set_threads(threads)
    return fn(*args)


def _error_line(exc: BaseException) -> str:
    """'Type: first line' of a Ray error; a task's own exception is named by its cause."""
    cause = getattr(exc, "cause", None)
    return describe(cause if isinstance(cause, BaseException) else exc)


__all__ = ["KINDS", "LOCAL", "Executor", "ExecutorUnavailable", "import_ray", "ray_spread"]
