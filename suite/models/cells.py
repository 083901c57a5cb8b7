"""User cells stacked into a model: `CellModel` turns a cell, `Cell(input_size, hidden_size, **options)`
with `forward(x_t, state) -> state`, into a RecurrentModel of `num_layers` such cells with vgsuite's
linear readout (suite/models/plugins.py says how a cell is recognised and resolved).

A cell's state is one (batch, hidden) tensor, or a tuple of them named by the class attribute
`state_names` (default ("h",)); "h" is the layer's output, what the next layer and the readout see.
The stack's state names carry the layer index ("h0", "c0", "h1", ...; a delayed copy "h@t-1" becomes
"h0@t-1"), so the probes report each element of each layer apart. Its fast view is its step view in
a loop, so the two agree by construction; `recurrent_weights` exposes the cells' own
(`recurrent_weights()`, else a square `weight_hh`), so the init mitigations can act on them.
"""

from __future__ import annotations

import torch
from torch import nn

from .base import RecurrentModel, State


class ArchitectureInterfaceError(ValueError):
    """An importable object that cannot serve as an architecture."""


class CellModel(RecurrentModel):
    """`num_layers` user cells stacked into a RecurrentModel (fast view = step view, in a loop)."""

    def __init__(self, cell: type, input_size: int, output_size: int, hidden_size: int,
                 num_layers: int = 1, **options):
        super().__init__(input_size, output_size, hidden_size, num_layers)
        sizes = [input_size] + [hidden_size] * (num_layers - 1)
        self.cells = nn.ModuleList(cell(n, hidden_size, **options) for n in sizes)
        self.cell_name = cell.__name__
        names = tuple(getattr(cell, "state_names", ("h",)))
        if "h" not in names or len(set(names)) != len(names):
            raise ArchitectureInterfaceError(
                f"{cell.__name__}.state_names must name each state element once and include 'h' "
                f"(the layer's output), got {names!r}")
        self._names = names
        self._h = names.index("h")
        bound = getattr(self.cells[0], "derivative_bound", None)
        self.derivative_bound = bound if isinstance(bound, (int, float)) else None

    def state_names(self):
        return tuple(_layer_name(name, layer) for layer in range(self.num_layers) for name in self._names)

    def initial_state(self, batch: int, like: torch.Tensor) -> State:
        out = []
        for cell in self.cells:
            if hasattr(cell, "initial_state"):
                out += _as_tuple(cell.initial_state(batch, like))
            else:
                out += [like.new_zeros(batch, self.hidden_size) for _ in self._names]
        return tuple(out)

    def step(self, x_t, state):
        k, new, inputs = len(self._names), [], x_t
        for layer, cell in enumerate(self.cells):
            own = state[layer * k:(layer + 1) * k]
            out = _as_tuple(cell(inputs, own if k > 1 else own[0]))
            if len(out) != k:
                raise ValueError(f"{self.cell_name}.forward returned {len(out)} state tensor(s); "
                                 f"its state_names {self._names!r} name {k}")
            new += out
            inputs = out[self._h]
        return tuple(new)

    def top_hidden(self, state):
        return state[(self.num_layers - 1) * len(self._names) + self._h]

    def hidden_sequence(self, x):
        state, out = self.initial_state(x.shape[0], x), []
        for t in range(x.shape[1]):
            state = self.step(x[:, t], state)
            out.append(self.top_hidden(state))
        return torch.stack(out, dim=1)

    def recurrent_weights(self):
        weights = []
        for cell in self.cells:
            if hasattr(cell, "recurrent_weights"):
                weights += list(cell.recurrent_weights())
                continue
            w = getattr(cell, "weight_hh", None)
            if isinstance(w, torch.Tensor) and w.dim() == 2 and w.shape[1] == self.hidden_size \
                    and w.shape[0] % self.hidden_size == 0:
                weights.append((w, w.shape[0] // self.hidden_size))
            else:
                return []  # no square recurrent matrix: the init mitigations have nothing to act on
        return weights


def _layer_name(name: str, layer: int) -> str:
    head, at, tail = name.partition("@")
    return f"{head}{layer}{at}{tail}"


def _as_tuple(state) -> tuple:
    return tuple(state) if isinstance(state, (tuple, list)) else (state,)


__all__ = ["ArchitectureInterfaceError", "CellModel"]
