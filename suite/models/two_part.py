"""Stacks whose every layer carries a state of two parts: the output the next layer and the readout
see, and a second part that only the recurrence reads.

    coRNN, LEM   (h<l>, z<l>): the position y and the velocity z of an oscillator (cornn.py), the
                 slow and the fast state of LEM (lem.py)
    LRU, S4D     (h<l>, s<l>): the output y and the complex state as [Re h, Im h] (lru.py, s4d.py)

The probes report each named part on its own (suite.probes: a gradient profile per state name), so
that, e.g., coRNN's bound on z and on y can be read apart. `TwoPartStack` names the parts and reads
the top layer's output; `ExplicitStack` adds the two views for cells whose layer step is
`advance(layer, projected input, y, z) -> (y, z)` after one input map per layer (coRNN, LEM): the
fast view computes the input map for every step in one matmul, then loops; the step view advances
layer by layer. Neither has a square hidden-to-hidden matrix, so `recurrent_weights` is empty and a
recurrent init is refused with the cell's own reason (`recurrent_init_refusal`).
"""

from __future__ import annotations

import torch

from .base import RecurrentModel, State


class TwoPartStack(RecurrentModel):
    """Layer l's state is (h<l>, <part><l>); the readout and layer l + 1 see h<l>."""

    part = "z"   # the second part's letter in the state names

    def state_names(self):
        return tuple(name for layer in range(self.num_layers) for name in (f"h{layer}", f"{self.part}{layer}"))

    def top_hidden(self, state: State) -> torch.Tensor:
        return state[-2]

    def recurrent_weights(self):
        return []


class ExplicitStack(TwoPartStack):
    """A TwoPartStack advanced by an explicit step after one input map per layer."""

    def project(self, layer: int, inputs: torch.Tensor) -> torch.Tensor:
        """The layer's input map of `inputs` (any leading shape): what `advance` reads per step."""
        raise NotImplementedError

    def advance(self, layer: int, projected_t: torch.Tensor, y: torch.Tensor, z: torch.Tensor):
        """One step of one layer: (y, z) at t from (y, z) at t - 1 and the projected input at t."""
        raise NotImplementedError

    # -- the fast view: every layer's input map for all steps in one matmul, then the loop --------
    def hidden_sequence(self, x: torch.Tensor) -> torch.Tensor:
        h = x
        for layer in range(self.num_layers):
            y = z = x.new_zeros(x.shape[0], self.hidden_size)
            outputs = []
            for projected_t in self.project(layer, h).unbind(1):
                y, z = self.advance(layer, projected_t, y, z)
                outputs.append(y)
            h = torch.stack(outputs, dim=1)
        return h

    # -- the step view -----------------------------------------------------------------------------
    def step(self, x_t: torch.Tensor, state: State) -> State:
        new, inputs = [], x_t
        for layer in range(self.num_layers):
            y, z = self.advance(layer, self.project(layer, inputs), state[2 * layer], state[2 * layer + 1])
            new += [y, z]
            inputs = y
        return tuple(new)
