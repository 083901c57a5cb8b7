"""A stack of S networks of one architecture and shape, run as one: `BatchedRNN`.

Built from S models that `make_model` made (each from its own spec's init seed, with its own
mitigations), whose parameters it stacks along a new leading member axis; the forward pass maps
inputs (S, batch, time, in) to outputs (S, batch, positions, out) with one batched matmul per
step (suite.engine.kernels). Member k computes exactly what model k computes.

Supported: the Elman cells (every activation, any depth, IRNN included), the residual RNN, LSTM
and GRU. Anything else (e.g. rnn-attention, whose readout is not a per-step linear map) is not:
`kind_of(model)` returns None and the trainer falls back to single runs.

    >>> net = BatchedRNN([make_model(arch, 10, 9, seed) for seed in (1, 2, 3)])
    >>> net(x, slice(None)).shape           # x: (3, 64, T, 10)
    (3, 64, T, 9)
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from ..models import RecurrentModel
from ..models.gated import GRU, LSTM
from ..models.residual import ResidualRNN
from ..models.vanilla import VanillaRNN
from .kernels import recurrent_layer, stacked_linear


def kind_of(model: RecurrentModel) -> str | None:
    """The kernel that computes `model`'s recurrence, or None when there is none."""
    cls = type(model)
    if cls is LSTM:
        return "lstm"
    if cls is GRU:
        return "gru"
    if cls in (VanillaRNN, ResidualRNN):
        return model.activation
    return None


def supports_class(cls: type) -> bool:
    """Whether models of class `cls` can be stacked (the exact class: subclasses may change the
    readout or the cell, as AttentionRNN does)."""
    return cls in (VanillaRNN, ResidualRNN, LSTM, GRU)


def _signature(model: RecurrentModel) -> tuple:
    return (type(model), kind_of(model), model.input_size, model.output_size, model.hidden_size,
            model.num_layers, getattr(model, "skip", 0), getattr(model, "negative_slope", None))


class BatchedRNN:
    """S same-shaped recurrent models as stacked parameters (leaf tensors of shape (S, ...))."""

    def __init__(self, models: Sequence[RecurrentModel], device: str | torch.device | None = None):
        if not models:
            raise ValueError("models must not be empty")
        first = models[0]
        self.kind = kind_of(first)
        if self.kind is None:
            raise ValueError(f"cannot batch {type(first).__name__}: supported are VanillaRNN, "
                             f"ResidualRNN, LSTM and GRU")
        for model in models[1:]:
            if _signature(model) != _signature(first):
                raise ValueError(f"models differ in architecture or shape: {_signature(model)} "
                                 f"vs {_signature(first)}")
        self.num_layers, self.hidden_size = first.num_layers, first.hidden_size
        self.skip = getattr(first, "skip", 0) if type(first) is ResidualRNN else 0
        self.negative_slope = getattr(first, "negative_slope", 0.01)
        with torch.no_grad():
            self.params = [torch.stack([t.detach() for t in tensors]).to(device).requires_grad_()
                           for tensors in zip(*(self._tensors(m) for m in models))]

    @property
    def size(self) -> int:
        return self.params[0].shape[0]

    def _tensors(self, model: RecurrentModel) -> list[Tensor]:
        """A model's parameters in the order this class stacks them (per layer, then the head)."""
        tensors = []
        for layer in range(self.num_layers):
            tensors += list(model.layer_params(layer))
            if self.kind == "prelu":
                tensors.append(model.prelu[layer].weight)
        return tensors + [model.head.weight, model.head.bias]

    def parameters(self) -> list[Tensor]:
        return list(self.params)

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    def select(self, index: Sequence[int]) -> None:
        """Keep only the members at `index` (in that order), as new leaf tensors."""
        idx = torch.as_tensor(list(index), dtype=torch.long, device=self.params[0].device)
        with torch.no_grad():
            self.params = [p.detach().index_select(0, idx).requires_grad_() for p in self.params]

    def member_params(self, index: Sequence[int]) -> list[Tensor]:
        """Detached copies of the parameters of the members at `index` (for evaluation)."""
        idx = torch.as_tensor(list(index), dtype=torch.long, device=self.params[0].device)
        return [p.detach().index_select(0, idx) for p in self.params]

    def copy_to(self, member: int, model: RecurrentModel) -> RecurrentModel:
        """Write member `member`'s current weights into `model` (same architecture); returns it."""
        with torch.no_grad():
            for target, stacked in zip(self._tensors(model), self.params):
                target.copy_(stacked[member])
        return model

    def __call__(self, x: Tensor, positions: slice = slice(None), params: list[Tensor] | None = None) -> Tensor:
        return self.forward(x, positions, params)

    def forward(self, x: Tensor, positions: slice = slice(None), params: list[Tensor] | None = None) -> Tensor:
        """x (S, batch, time, in) -> outputs (S, batch, positions, out); `params` defaults to
        the stacked parameters (pass `member_params(...)` to run a subset)."""
        params = self.params if params is None else params
        S, B = x.shape[:2]
        seq = x.transpose(1, 2).contiguous()  # (S, T, B, I): one matrix per member and step
        per_layer = 5 if self.kind == "prelu" else 4
        for layer in range(self.num_layers):
            p = params[layer * per_layer : (layer + 1) * per_layer]
            seq = recurrent_layer(self.kind, seq, *p[:4], p[4] if self.kind == "prelu" else None,
                                  skip=self.skip, negative_slope=self.negative_slope)
        w_head, b_head = params[-2:]
        hs = seq[:, positions]
        steps = hs.shape[1]
        out = stacked_linear(hs.reshape(S, steps * B, -1), w_head, b_head)
        return out.view(S, steps, B, -1).transpose(1, 2)


__all__ = ["BatchedRNN", "kind_of", "supports_class"]
