"""The per-run trainer: one network, one optimizer, PyTorch's own layers (fused nn.RNN/nn.LSTM
where the model uses them), under the protocol of suite.engine.protocol.

suite.train.run hands it the specs the stacked trainer does not take (LSTM on CPU, where the
fused oneDNN LSTM is faster per run; rnn-attention and user architectures, which have no stacked
kernel) and any model whose class cannot be stacked.
"""

from __future__ import annotations

import time

import torch

from ..environment import resolve_device
from ..mitigations import clip_gradients
from ..models import RecurrentModel, make_model
from ..specs import RunSpec, TrainSpec
from .protocol import RunLog, RunResult

OPTIMIZERS = {
    "adam": torch.optim.Adam,
    "rmsprop": torch.optim.RMSprop,
    "sgd": torch.optim.SGD,
}


def make_optimizer(model: torch.nn.Module, train: TrainSpec) -> torch.optim.Optimizer:
    return OPTIMIZERS[train.optimizer](model.parameters(), lr=train.lr)


@torch.no_grad()
def evaluate(model: RecurrentModel, task, x, y) -> tuple[float, float]:
    model.eval()
    outputs = model(x, task.output_positions)
    model.train()
    return task.loss(outputs, y).item(), task.metric(outputs, y)


def run_single(spec: RunSpec, model: RecurrentModel | None = None) -> RunResult:
    """Train one run in the per-run loop; `model`, when given, is trained in place."""
    task = spec.task.build()
    device = resolve_device(spec.device)
    if model is None:
        model = make_model(spec.arch, task.input_size, task.output_size, spec.init_seed())
    model = model.to(device)
    optimizer = make_optimizer(model, spec.train)
    stream = torch.Generator().manual_seed(spec.data_seed())
    x_eval, y_eval = task.sample(spec.train.eval_size, torch.Generator().manual_seed(spec.eval_seed()), device)
    log = RunLog(spec.train, task, model.num_parameters())
    started = time.perf_counter()
    _train(model, task, spec.train, optimizer, stream, (x_eval, y_eval), log, device)
    log.result.wall_s = time.perf_counter() - started
    return log.result


def _train(model, task, train: TrainSpec, optimizer, stream, eval_set, log: RunLog, device) -> None:
    if log.evaluation(0, *evaluate(model, task, *eval_set)):
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
        if not log.step(step, loss.item(), norm):
            return
        optimizer.step()
        if log.eval_due(step) and log.evaluation(step, *evaluate(model, task, *eval_set)):
            return


__all__ = ["OPTIMIZERS", "evaluate", "make_optimizer", "run_single"]
