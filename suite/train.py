"""Training one run: `run(spec) -> RunResult`, a pure function of the spec on a given device.

`run` hands the spec to the one trainer the spec decides (`trainer_of`): the stacked trainer of
suite.batched (alone, as a batch of one) for the architectures a sweep batches, else the loop
below (`run_single`). A stored run, a run of `vgsuite train` and a network a claim retrains are
therefore the same computation, and a member's numbers do not depend on its batch-mates, so a
spec's result does not depend on who asked for it or how a sweep grouped it.

Protocol (the same for every architecture and mitigation):

* every step draws a fresh batch from the task's training stream (a generator seeded from
  (task, seed)), so there is no fixed training set to overfit;
* the optimizer (Adam by default) steps once per batch; gradient clipping, when asked for, runs
  between `backward()` and `step()`;
* every `eval_every` steps (and at step 0) the model is scored on a held-out evaluation set drawn
  once from its own generator (seeded from the task alone: every run sees the same examples);
* the run stops early when the evaluation meets the task's solved criterion;
* a non-finite loss or gradient norm ends the run as `diverged` with the step it happened at;
  it never raises.

Same spec, same device, same thread count: the same numbers, bit for bit (checked by the tests).
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field

import torch

from .environment import resolve_device
from .mitigations import clip_gradients
from .models import RecurrentModel, make_model
from .specs import RunSpec, TrainSpec, json_ready

OPTIMIZERS = {
    "adam": torch.optim.Adam,
    "rmsprop": torch.optim.RMSprop,
    "sgd": torch.optim.SGD,
}


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

    @classmethod
    def from_dict(cls, data: dict) -> RunResult:
        data = {k: v for k, v in data.items() if k != "metric"}
        data["evals"] = [EvalPoint(**e) for e in data.get("evals", [])]
        return cls(**data)




def make_optimizer(model: torch.nn.Module, train: TrainSpec) -> torch.optim.Optimizer:
    return OPTIMIZERS[train.optimizer](model.parameters(), lr=train.lr)


@torch.no_grad()
def evaluate(model: RecurrentModel, task, x, y) -> tuple[float, float]:
    model.eval()
    outputs = model(x, task.output_positions)
    model.train()
    return task.loss(outputs, y).item(), task.metric(outputs, y)


#: the two trainers, as run metadata names them
BATCHED_TRAINER, SINGLE_TRAINER = "suite.batched", "suite.train"


def trainer_of(spec: RunSpec) -> str:
    """The trainer that runs `spec`: decided by the spec alone (suite.batched.sweep_key)."""
    from . import batched  # batched builds on this module's RunResult

    return SINGLE_TRAINER if batched.sweep_key(spec) is None else BATCHED_TRAINER


def run(spec: RunSpec, model: RecurrentModel | None = None) -> RunResult:
    """Train one run as `spec` says, with the trainer `trainer_of(spec)` names.

    `model`, when given (one built with `make_model` so that the caller can probe it afterwards,
    or a user's model that replaces the spec's architecture), is trained in place. A model whose
    class the stacked trainer cannot hold trains in the single loop.
    """
    from . import batched

    if trainer_of(spec) == BATCHED_TRAINER and (model is None or batched.supports_class(type(model))):
        return batched.run_batch([spec], None if model is None else [model])[0]
    return run_single(spec, model)


def run_single(spec: RunSpec, model: RecurrentModel | None = None) -> RunResult:
    """Train one run in the per-run loop (PyTorch's fused nn.RNN/LSTM/GRU where the model uses
    them); `run` calls it for the specs that `trainer_of` gives to suite.train."""
    task = spec.task.build()
    device = resolve_device(spec.device)
    if model is None:
        model = make_model(spec.arch, task.input_size, task.output_size, spec.init_seed())
    model = model.to(device)
    optimizer = make_optimizer(model, spec.train)
    train_stream = torch.Generator().manual_seed(spec.data_seed())
    x_eval, y_eval = task.sample(spec.train.eval_size, torch.Generator().manual_seed(spec.eval_seed()), device)

    started = time.perf_counter()
    result = RunResult(
        solved=False, steps_to_solve=None, steps_run=0, final_loss=None, final_metric=None,
        baseline_loss=task.baseline_loss, baseline_metric=task.baseline_metric,
        diverged=False, diverged_at=None, wall_s=0.0,
        num_parameters=model.num_parameters(), task=task.describe(),
    )
    _train(model, task, spec.train, optimizer, train_stream, (x_eval, y_eval), result, device)
    result.wall_s = time.perf_counter() - started
    return result


def _train(model, task, train: TrainSpec, optimizer, stream, eval_set, result: RunResult, device):
    losses: list[float] = []
    norms: list[float] = []

    def record_eval(step: int) -> bool:
        loss, metric = evaluate(model, task, *eval_set)
        result.evals.append(EvalPoint(step, loss, metric))
        result.final_loss, result.final_metric = loss, metric
        if losses:
            result.train_loss.append(sum(losses) / len(losses))
            result.grad_norm.append(sum(norms) / len(norms))
            losses.clear(), norms.clear()
        if not (math.isfinite(loss) and math.isfinite(metric)):
            result.diverged, result.diverged_at = True, step
            return True
        if task.is_solved(metric) and not result.solved:
            result.solved, result.steps_to_solve = True, step
        return result.solved and train.early_stop

    if record_eval(0):
        return
    for step in range(1, train.steps + 1):
        x, y = task.sample(train.batch_size, stream, device)
        loss = task.loss(model(x, task.output_positions), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if train.clip is not None:
            norm = clip_gradients(model.parameters(), train.clip, train.clip_mode)
        else:
            norm = float(torch.nn.utils.get_total_norm([p.grad for p in model.parameters() if p.grad is not None]))
        result.steps_run = step
        if not (math.isfinite(loss.item()) and math.isfinite(norm)):
            result.diverged, result.diverged_at = True, step
            return
        optimizer.step()
        losses.append(loss.item())
        norms.append(norm)
        if step % train.eval_every == 0 or step == train.steps:
            if record_eval(step):
                return
