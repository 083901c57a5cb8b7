"""Sequence modules: a user's module that takes the whole sequence at once joins the suite as it is.

Recognition (`suite.models.plugins.is_sequence_module`, checked in this order, so it never guesses between a cell and a
sequence module):

1. a class attribute `vgsuite_kind`: "sequence" (a sequence module) or "cell" (a cell); any other
   value is an `ArchitectureInterfaceError`;
2. a subclass of `torch.nn.RNNBase` (nn.RNN, nn.GRU, nn.LSTM and subclasses of them) is a sequence
   module;
3. an `nn.Module` whose `forward` takes exactly one positional argument, `forward(x)`, is a
   sequence module (such a class was refused before: a cell's forward takes `(x_t, state)`).

Everything else stays what it was: a `forward(x_t, state)` with two positional parameters is a
cell, even when the second has a default. A module shaped like `nn.GRU` (`forward(x, hx=None)`)
that is not an `nn.RNNBase` subclass therefore says `vgsuite_kind = "sequence"`.

The interface:

* built as `Module(input_size, hidden_size, **options)`;
* `forward(x)` takes one (batch, time, input) tensor and returns either the hidden sequence, a
  (batch, time, hidden) tensor, or a tuple whose first element is it (PyTorch's `(output, h_n)`
  convention; anything after the first element is ignored);
* time-major modules: a module whose attribute `batch_first` is `False` (nn.GRU's default) is fed
  (time, batch, input) and its output is read as (time, batch, hidden), so `nn.GRU`, `nn.LSTM` and
  `nn.RNN` plug in unchanged, with or without `batch_first=True`;
* layers: with `--layers N`, a module whose constructor names a `num_layers` parameter (or an
  `nn.RNNBase` subclass) and that has no step view is built once with `num_layers=N`; any other is
  stacked, N modules, layer l reading layer l - 1's output sequence;
* optional step view, for the hidden-state gradient probes: `step(x_t, state) -> state` with the
  state as a cell's (one (batch, hidden) tensor, or a tuple named by `state_names`, "h" the
  layer's output) and optionally `initial_state(batch, like)` (default zeros). A module with a
  step view is always stacked one per layer, and the contract checks that both views agree.

`SequenceModel` is the `RecurrentModel` that wraps them, with vgsuite's linear readout. Its fast view
calls the module. Without a step view, `has_step_view` is False and the step-view methods raise
`NoStepView`: the probes then measure what the fast view allows, the input saliency (and with it
the memory horizon), and report the gradient w.r.t. the hidden states as "not measured: a sequence
module without a step view". Sequence modules train through the per-run trainer
(suite.engine.single): their registry entry is never `stackable`.
"""

from __future__ import annotations

import inspect

import torch
from torch import nn

from .base import RecurrentModel, State

SEQUENCE_KIND, CELL_KIND = "sequence", "cell"
KIND_ATTRIBUTE = "vgsuite_kind"
WITHOUT_STEP_VIEW = "a sequence module without a step view"
NO_STEP_VIEW = f"not measured: {WITHOUT_STEP_VIEW}"  # what the probes say of the hidden-state gradients


class NoStepView(ValueError):
    """The step view of a sequence module that offers none (see `has_step_view`). A ValueError, so
    that the CLI reports it in one line (`vgsuite probe` on such a module: exit 2)."""


def has_step_view(model) -> bool:
    """Whether `model` (a RecurrentModel) has a step view: every model except a SequenceModel
    whose module defines no `step`."""
    return bool(getattr(model, "has_step_view", True))


def _as_tuple(state) -> tuple:
    return tuple(state) if isinstance(state, (tuple, list)) else (state,)


def _layer_name(name: str, layer: int) -> str:
    head, at, tail = name.partition("@")
    return f"{head}{layer}{at}{tail}"


def _takes_num_layers(cls) -> bool:
    if issubclass(cls, nn.RNNBase):
        return True
    try:
        return "num_layers" in inspect.signature(cls).parameters
    except (TypeError, ValueError):
        return False


class SequenceModel(RecurrentModel):
    """A user's sequence module (or a stack of them) as a RecurrentModel (see the module docstring)."""

    def __init__(self, module: type, input_size: int, output_size: int, hidden_size: int,
                 num_layers: int = 1, **options):
        super().__init__(input_size, output_size, hidden_size, num_layers)
        self.module_name = module.__name__
        self.has_step_view = callable(getattr(module, "step", None))
        if _takes_num_layers(module) and not self.has_step_view:
            self.layers = nn.ModuleList([module(input_size, hidden_size, num_layers=num_layers, **options)])
        else:
            sizes = [input_size] + [hidden_size] * (num_layers - 1)
            self.layers = nn.ModuleList(module(n, hidden_size, **options) for n in sizes)
        names = tuple(getattr(module, "state_names", ("h",)))
        if self.has_step_view and ("h" not in names or len(set(names)) != len(names)):
            raise ValueError(
                f"{self.module_name}.state_names must name each state element once and include 'h' "
                f"(the layer's output), got {names!r}")
        self._names, self._h = names, names.index("h") if "h" in names else 0
        bound = getattr(self.layers[0], "derivative_bound", None)
        self.derivative_bound = bound if isinstance(bound, (int, float)) else None
        if not self.recurrent_weights():
            self.recurrent_init_refusal = (f"sequence module {self.module_name} lists no recurrent_weights() "
                                           "(square hidden-to-hidden matrices)")

    # -- the fast view: the module itself ------------------------------------------------------
    def hidden_sequence(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            x = self._run(layer, x)
        return x

    def _run(self, layer: nn.Module, x: torch.Tensor) -> torch.Tensor:
        time_major = getattr(layer, "batch_first", True) is False
        out = layer(x.transpose(0, 1) if time_major else x)
        if isinstance(out, (tuple, list)) and out:
            out = out[0]  # PyTorch's (output, h_n)
        if not isinstance(out, torch.Tensor) or out.dim() != 3:
            got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
            raise ValueError(f"{self.module_name}.forward(x) returned {got}; expected the hidden sequence, "
                             "a (batch, time, hidden) tensor, or a tuple (output, h_n) starting with it")
        return out.transpose(0, 1) if time_major else out

    # -- the step view, where the module has one -----------------------------------------------
    def _need_step(self):
        if not self.has_step_view:
            raise NoStepView(f"{NO_STEP_VIEW} ({self.module_name} defines no step(x_t, state))")

    def state_names(self):
        self._need_step()
        return tuple(_layer_name(name, layer) for layer in range(len(self.layers)) for name in self._names)

    def initial_state(self, batch: int, like: torch.Tensor) -> State:
        self._need_step()
        out = []
        for layer in self.layers:
            if callable(getattr(layer, "initial_state", None)):
                out += _as_tuple(layer.initial_state(batch, like))
            else:
                out += [like.new_zeros(batch, self.hidden_size) for _ in self._names]
        return tuple(out)

    def step(self, x_t, state):
        self._need_step()
        k, new, inputs = len(self._names), [], x_t
        for i, layer in enumerate(self.layers):
            own = state[i * k:(i + 1) * k]
            out = _as_tuple(layer.step(inputs, own if k > 1 else own[0]))
            if len(out) != k:
                raise ValueError(f"{self.module_name}.step returned {len(out)} state tensor(s); "
                                 f"its state_names {self._names!r} name {k}")
            new += out
            inputs = out[self._h]
        return tuple(new)

    def top_hidden(self, state):
        self._need_step()
        return state[(len(self.layers) - 1) * len(self._names) + self._h]

    def forward_stepwise(self, x, positions=slice(None)):
        self._need_step()
        return super().forward_stepwise(x, positions)

    # -- what the init mitigations act on ------------------------------------------------------
    def recurrent_weights(self):
        weights = []
        for layer in self.layers:
            if callable(getattr(layer, "recurrent_weights", None)):
                weights += list(layer.recurrent_weights())
            elif isinstance(layer, nn.RNNBase) and not layer.bidirectional and not layer.proj_size:
                blocks = {"LSTM": 4, "GRU": 3}.get(layer.mode, 1)
                weights += [(getattr(layer, f"weight_hh_l{i}"), blocks) for i in range(layer.num_layers)]
            else:
                return []
        return weights


__all__ = ["KIND_ATTRIBUTE", "NO_STEP_VIEW", "WITHOUT_STEP_VIEW", "NoStepView", "SequenceModel", "has_step_view"]
