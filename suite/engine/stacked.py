"""The stacked trainer: S compatible runs trained as one stacked model, `run_batch(specs)`.

Small recurrent models on a CPU are latency-bound: a step of one run is hundreds of tiny kernels.
A sweep is many small independent runs of a few shapes, so S of them go through one batched
matmul per time step (suite.engine.stacked_model, suite.engine.kernels). Each member is still its
own run, under the protocol of suite.engine.protocol, with a `RunLog` of its own:

* its own data: a generator seeded from its spec's `data_seed()`, sampled with `task.sample`;
* its own initial weights: `make_model(arch, ..., init_seed())`, then stacked;
* its own optimizer state: Adam, RMSprop and SGD act elementwise, so one update of the stacked
  tensors is S independent updates (`BatchedOptimizer`; the per-member learning rate is a tensor);
* its own loss (`task.loss` on its slice; the batch backpropagates their sum, whose gradient with
  respect to member k's weights is member k's gradient alone), its own pre-clipping gradient norm
  and its own clipping (by norm or by value, each member against its own threshold);
* its own evaluations, early stop and divergence: a member that is solved (with early stop),
  diverged or out of steps leaves the batch (its rows are dropped from the weights and the
  optimizer state) and the rest go on, untouched by it;
* its own `RunResult`. `wall_s` is the member's share of the batch's time: each step's (and
  evaluation's) time divided among the members in it.

Numbers match the per-run loop (suite.engine.single) on the same spec to float tolerance (the
kernels differ from the fused nn.RNN/nn.LSTM/nn.GRU at the last bits, which training amplifies
slowly), and do not depend on which other runs share the batch: every member's arithmetic is the
same whatever S is (a member left alone trains beside a shadow, see `_Trainer._pair_if_alone`).
Which specs can share a batch: suite.engine.groups.
"""

from __future__ import annotations

import ctypes
import math
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import torch

from ..environment import resolve_device
from ..models import make_model
from ..specs import RunSpec
from .groups import MEMORY_BUDGET, check_compatible
from .optim import BatchedOptimizer, clip_, grad_norms
from .protocol import RunLog, RunResult
from .stacked_model import BatchedRNN

EVAL_CHUNK_BYTES = 256 * 2**20  # per-member activation bytes of one evaluation chunk


@lru_cache(maxsize=1)
def keep_freed_memory() -> bool:
    """Have glibc keep freed memory for reuse rather than hand it back to the kernel (once per
    process; True if set). A batch allocates tens of MB of activations per step; by default glibc
    returns blocks over 32 MiB (and a heap top over 64 MiB) to the kernel on free, so each step
    page-faults them in again, zero-filled, 4 KiB at a time: measured here, 135,000 faults and a
    third of the wall time of an 8-member batch. Thresholds of 1 GiB avoid that, at the price of
    the process keeping its peak memory. Linux with glibc only; VGSUITE_MALLOPT=0 turns it off."""
    if os.environ.get("VGSUITE_MALLOPT", "1") == "0" or not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
        m_trim_threshold, m_mmap_threshold = -1, -3
        return bool(libc.mallopt(m_mmap_threshold, 2**30) and libc.mallopt(m_trim_threshold, 2**31 - 1))
    except (OSError, AttributeError):  # not glibc
        return False


# -- training ---------------------------------------------------------------------------------

@dataclass
class _Member:
    spec: RunSpec
    log: RunLog
    stream: torch.Generator
    shadow_of: int | None = None  # a shadow's real member (see _Trainer._pair_if_alone)


def run_batch(specs: Sequence[RunSpec], models: Sequence | None = None) -> list[RunResult]:
    """Train compatible `specs` together; one RunResult per spec, in order.

    `models`, when given (one per spec, e.g. built with make_model), are the initial networks;
    each receives its member's final weights when that member leaves the batch.
    """
    specs = list(specs)
    check_compatible(specs)
    keep_freed_memory()
    first = specs[0]
    task = first.task.build()
    device = resolve_device(first.device)
    if models is None:
        models = [make_model(s.arch, task.input_size, task.output_size, s.init_seed()) for s in specs]
    if len(models) != len(specs):
        raise ValueError(f"models must have one model per spec ({len(specs)}), got {len(models)}")
    net = BatchedRNN(models, device)
    eval_set = task.sample(first.train.eval_size, torch.Generator().manual_seed(first.eval_seed()), device)
    members = [_Member(s, RunLog(s.train, task, m.num_parameters()), torch.Generator().manual_seed(s.data_seed()))
               for s, m in zip(specs, models)]
    _Trainer(net, task, members, list(models), eval_set, device).train()
    return [m.log.result for m in members[: len(specs)]]


class _Trainer:
    def __init__(self, net, task, members, models, eval_set, device):
        self.net, self.task, self.models, self.eval_set, self.device = net, task, models, eval_set, device
        self.members = members
        self.rows = list(range(len(members)))  # spec index of each row of the stacked tensors
        train = members[0].spec.train
        self.batch_size, self.eval_every = train.batch_size, train.eval_every
        self.optimizer = BatchedOptimizer(train.optimizer, [m.spec.train.lr for m in members])
        self._pair_if_alone()

    def _pair_if_alone(self) -> None:
        """Give a member left alone in the batch a shadow: a twin row (same weights, optimizer
        state and data stream) whose results are thrown away. MKL computes a batch of one matrix
        product by another route than a batch of several, so without it a member's numbers
        would change when its batch-mates leave, and a run alone would not give the numbers it
        gives in a group."""
        if len(self.rows) != 1 or self.members[self.rows[0]].shadow_of is not None:
            return
        k = self.rows[0]
        real = self.members[k]
        stream = torch.Generator().set_state(real.stream.get_state())
        log = real.log.copy()
        log.result.wall_s = 0.0
        self.members.append(_Member(real.spec, log, stream, shadow_of=k))
        self.models.append(None)
        self.rows.append(len(self.members) - 1)
        self.net.select([0, 0])
        self.optimizer.select([0, 0])

    def _charge(self, rows, started: float) -> float:
        """Split the time since `started` among `rows`; returns now."""
        now = time.perf_counter()
        for k in rows:
            self.members[k].log.result.wall_s += (now - started) / len(rows)
        return now

    def train(self) -> None:
        started = time.perf_counter()
        stop = self._evaluate(self.rows, 0)
        started = self._charge(self.rows, started)
        self._drop(stop)
        step = 0
        while self.rows:
            step += 1
            rows = list(self.rows)
            self._train_step(rows, step)
            due = [k for k in self.rows if self.members[k].log.eval_due(step)]
            stop = set(self._evaluate(due, step)) if due else set()
            stop |= {k for k in self.rows if self.members[k].log.out_of_steps(step)}
            started = self._charge(rows, started)
            self._drop(stop)

    def _train_step(self, rows, step) -> None:
        """One optimizer step for every row but those that diverge, which leave the batch."""
        task, members = self.task, self.members
        batches = [task.sample(self.batch_size, members[k].stream, self.device) for k in rows]
        x = torch.stack([b[0] for b in batches])
        outputs = self.net(x, task.output_positions)
        # unbind: one backward that stacks the members' gradients (indexing makes a zero-filled
        # full-size gradient per member and sums them)
        losses = torch.stack([task.loss(out, b[1]) for out, b in zip(outputs.unbind(0), batches)])
        self.net.zero_grad()
        losses.sum().backward()
        grads = [p.grad for p in self.net.params]
        norms = grad_norms(grads)
        specs = [members[k].spec.train for k in rows]
        inf = math.inf
        clip_(grads, norms, [s.clip if s.clip is not None and s.clip_mode == "norm" else inf for s in specs],
              [s.clip if s.clip is not None and s.clip_mode == "value" else inf for s in specs])
        loss_values, norm_values = losses.tolist(), norms.tolist()
        diverged = {k for k, loss, norm in zip(rows, loss_values, norm_values)
                    if not members[k].log.step(step, loss, norm)}
        if diverged:
            keep = [j for j, k in enumerate(rows) if k not in diverged]
            grads = [g[keep] for g in grads]
            self._drop(diverged)
        if self.rows:
            self.optimizer.step(self.net.params, grads)

    @torch.no_grad()
    def _evaluate(self, rows, step) -> list[int]:
        """Evaluate `rows` on the held-out set and record it; returns the rows that stop."""
        return [k for k, (loss, metric) in zip(rows, self._eval_losses(rows))
                if self.members[k].log.evaluation(step, loss, metric)]

    def _eval_losses(self, rows) -> list[tuple[float, float]]:
        task, (x, y) = self.task, self.eval_set
        params = self.net.member_params([self.rows.index(k) for k in rows])
        n, steps = x.shape[0], x.shape[1]
        width = self.net.hidden_size * (4 if self.net.kind in ("lstm", "gru") else 2)
        chunk = max(1, min(n, EVAL_CHUNK_BYTES // (4 * steps * width)))  # examples per forward pass
        per_member = 4 * steps * (n * task.output_size + chunk * width)
        per_pass = max(1, min(len(rows), MEMORY_BUDGET // per_member))  # members per forward pass
        values = []
        for lo in range(0, len(rows), per_pass):
            sub = [p[lo : lo + per_pass] for p in params]
            m = sub[0].shape[0]
            if m == 1:  # a pass of one member beside its shadow, as in training
                sub = [torch.cat([q, q]) for q in sub]
            outputs = torch.cat([
                self.net(x[None, i : i + chunk].expand(len(sub[0]), -1, -1, -1), task.output_positions, sub)
                for i in range(0, n, chunk)
            ], dim=1)
            values += [(task.loss(out, y).item(), task.metric(out, y)) for out in outputs[:m]]
        return values

    def _drop(self, rows) -> None:
        """Remove `rows` (spec indices) from the batch, handing their weights to their models;
        a member's shadow leaves with it."""
        rows = set(rows) | {j for j in self.rows if self.members[j].shadow_of in set(rows)}
        rows &= set(self.rows)
        if not rows:
            return
        for j, k in enumerate(self.rows):
            if k in rows and self.models[k] is not None:
                self.net.copy_to(j, self.models[k])
            shadow_of = self.members[k].shadow_of
            if k in rows and shadow_of is not None:  # its share of the time was the run's
                self.members[shadow_of].log.result.wall_s += self.members[k].log.result.wall_s
        keep = [j for j, k in enumerate(self.rows) if k not in rows]
        self.rows = [self.rows[j] for j in keep]
        if self.rows:
            self.net.select(keep)
            self.optimizer.select(keep)
            self._pair_if_alone()


__all__ = ["EVAL_CHUNK_BYTES", "keep_freed_memory", "run_batch"]
