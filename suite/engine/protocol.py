"""The run protocol, once: what a run records, when it evaluates, when it stops, what it returns.

Both trainers (the per-run loop of suite.engine.single and the stacked trainer of
suite.engine.stacked) drive one `RunLog` per run and differ only in how they compute a step, so
evaluation, divergence and early stop cannot drift apart between them. The protocol, the same
for every architecture and mitigation:

* every step draws a fresh batch from the task's training stream (a generator seeded from the
  spec's `data_seed()`), so there is no fixed training set to overfit;
* the optimizer (Adam by default) steps once per batch; gradient clipping, when asked for, runs
  between the backward pass and the step, and the recorded gradient norm is the one before it;
* every `eval_every` steps, at step 0 and at the last step the model is scored on a held-out set
  drawn once from its own generator (`eval_seed()`, the task's alone: every run sees the same
  examples); the record keeps the mean training loss and gradient norm of each interval;
* a training loss or gradient norm that is non-finite, or a loss beyond `divergence_limit` (a
  million times the task's memoryless baseline loss, and at least a million), ends the run as
  diverged at that step (the step is not taken); such an evaluation ends it as diverged at that
  evaluation; it never raises. The finite bound catches a learning rate that blows the loss up
  to 1e30 without overflowing, and stays far from runs that recover: M2's exploding arm (rnn-relu
  identity x1.1, SGD) peaks at a step loss of 1,670 (800 times ln 8) and then trains on, which
  a bound of 1000 times the baseline would have cut short;
* with `early_stop` the run ends at the first evaluation that meets the task's solved criterion;
  otherwise it runs its budget and `steps_to_solve` still records that first evaluation.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

from ..specs import TrainSpec, json_ready

#: a finite loss above DIVERGENCE_FACTOR x max(baseline loss, 1) is divergence, as NaN and inf are
DIVERGENCE_FACTOR = 1e6


def divergence_limit(baseline_loss: float) -> float:
    """The largest loss a run may reach and still count as training (see the module docstring)."""
    return DIVERGENCE_FACTOR * max(baseline_loss, 1.0)


@dataclass
class EvalPoint:
    step: int
    loss: float
    metric: float


@dataclass
class RunResult:
    solved: bool
    steps_to_solve: int | None
    steps_run: int
    final_loss: float | None
    final_metric: float | None
    baseline_loss: float
    baseline_metric: float
    diverged: bool
    diverged_at: int | None
    wall_s: float
    num_parameters: int
    task: dict
    evals: list[EvalPoint] = field(default_factory=list)
    #: mean training loss and mean pre-clipping gradient norm over each evaluation interval
    train_loss: list[float] = field(default_factory=list)
    grad_norm: list[float] = field(default_factory=list)

    @property
    def metric(self) -> float | None:
        return self.final_metric

    def to_dict(self) -> dict:
        """JSON-ready: non-finite floats become None."""
        return json_ready(asdict(self) | {"metric": self.final_metric})

    def at_budget(self, steps: int) -> RunResult:
        """This run as a run of the same spec with a budget of `steps` would have recorded it.

        Exact when `steps` is an evaluation step of this run (a multiple of eval_every): the first
        `steps` steps of a longer run are that shorter run (same batches, same updates), so a run
        trained to 3000 steps is also the 1000-step run. `steps` beyond this run's budget is an
        error (what happened there was never trained); wall_s stays the whole run's."""
        if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
            raise ValueError(f"budget must be a positive number of steps, got {steps!r}")
        if steps >= self.steps_run:
            return self
        evals = [e for e in self.evals if e.step <= steps]
        if not evals or evals[-1].step != steps:
            raise ValueError(f"budget {steps} is not an evaluation step of this run (evaluated at "
                             f"{[e.step for e in self.evals][:6]}...)")
        intervals = len(evals) - 1
        solved = self.solved and self.steps_to_solve is not None and self.steps_to_solve <= steps
        diverged = self.diverged and self.diverged_at is not None and self.diverged_at <= steps
        return RunResult(
            solved=solved, steps_to_solve=self.steps_to_solve if solved else None, steps_run=steps,
            final_loss=evals[-1].loss, final_metric=evals[-1].metric,
            baseline_loss=self.baseline_loss, baseline_metric=self.baseline_metric,
            diverged=diverged, diverged_at=self.diverged_at if diverged else None, wall_s=self.wall_s,
            num_parameters=self.num_parameters, task=self.task, evals=evals,
            train_loss=self.train_loss[:intervals], grad_norm=self.grad_norm[:intervals],
        )

    @classmethod
    def from_dict(cls, data: dict) -> RunResult:
        data = {k: v for k, v in data.items() if k != "metric"}
        data["evals"] = [EvalPoint(**e) for e in data.get("evals", [])]
        return cls(**data)


class RunLog:
    """One run's record as it trains: the trainer reports each step and each evaluation, and the
    log says whether the run goes on. `result` is the run's RunResult throughout."""

    def __init__(self, train: TrainSpec, task, num_parameters: int):
        self.train, self.task = train, task
        self.result = RunResult(
            solved=False, steps_to_solve=None, steps_run=0, final_loss=None, final_metric=None,
            baseline_loss=task.baseline_loss, baseline_metric=task.baseline_metric,
            diverged=False, diverged_at=None, wall_s=0.0,
            num_parameters=num_parameters, task=task.describe(),
        )
        self._losses: list[float] = []
        self._norms: list[float] = []
        self._limit = divergence_limit(task.baseline_loss)

    def step(self, step: int, loss: float, grad_norm: float) -> bool:
        """Record training step `step`; False when it diverged (the run ends, the step is not taken)."""
        self.result.steps_run = step
        if not (math.isfinite(loss) and math.isfinite(grad_norm)) or loss > self._limit:
            self.result.diverged, self.result.diverged_at = True, step
            return False
        self._losses.append(loss)
        self._norms.append(grad_norm)
        return True

    def eval_due(self, step: int) -> bool:
        return step == 0 or step % self.train.eval_every == 0 or step == self.train.steps

    def evaluation(self, step: int, loss: float, metric: float) -> bool:
        """Record an evaluation at `step`; True when the run stops there (diverged, or solved
        with early stop)."""
        result = self.result
        result.evals.append(EvalPoint(step, loss, metric))
        result.final_loss, result.final_metric = loss, metric
        if self._losses:
            result.train_loss.append(sum(self._losses) / len(self._losses))
            result.grad_norm.append(sum(self._norms) / len(self._norms))
            self._losses.clear(), self._norms.clear()
        if not (math.isfinite(loss) and math.isfinite(metric)) or loss > self._limit:
            result.diverged, result.diverged_at = True, step
            return True
        if self.task.is_solved(metric) and not result.solved:
            result.solved, result.steps_to_solve = True, step
        return result.solved and self.train.early_stop

    def out_of_steps(self, step: int) -> bool:
        return step >= self.train.steps

    def copy(self) -> RunLog:
        """An independent twin at the same point (the stacked trainer's shadow of a lone member)."""
        twin = RunLog.__new__(RunLog)
        twin.train, twin.task = self.train, self.task
        twin.result = RunResult.from_dict(asdict(self.result))
        twin._losses, twin._norms = list(self._losses), list(self._norms)
        twin._limit = self._limit
        return twin


__all__ = ["DIVERGENCE_FACTOR", "EvalPoint", "RunLog", "RunResult", "divergence_limit"]
