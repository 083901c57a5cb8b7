"""coRNN, the coupled oscillatory RNN (Rusch & Mishra 2021, "Coupled Oscillatory Recurrent Neural
Network (coRNN): An Accurate and (Gradient) Stable Architecture for Learning Long Time Dependencies",
ICLR 2021).

The paper's hidden units are damped, driven, coupled oscillators, the second-order ODE

    y'' = sigma(W y + Wc y' + V u + b) - gamma y - epsilon y',      sigma = tanh,

written as a first-order system in y and z = y' and discretised with the paper's IMEX scheme
(eq. 3): explicit in the drive and the restoring force, implicit in the damping,

    z_n = z_(n-1) + dt (sigma(W y_(n-1) + Wc z_(n-1) + V u_n + b) - gamma y_(n-1) - epsilon z_n)
    y_n = y_(n-1) + dt z_n

i.e. z_n = (z_(n-1) + dt (sigma(...) - gamma y_(n-1))) / (1 + dt epsilon). y_n is the output the
readout (or the next layer) sees. Each step moves the state by O(dt), so the per-step Jacobian is
I + O(dt) and the gradient can neither explode nor vanish faster than O(dt) per step: the source
of the paper's gradient bounds, which need dt small against gamma and epsilon. Its energy bound
(Section 3: the states' energy grows at most linearly in time) and the O(dt) per-step change of
the gradient are pinned in tests/test_modern_cells.py, in a discrete form derived there.

Defaults are the paper's sequential-MNIST hyperparameters (as the authors' sMNIST script sets
them): dt = 0.042, gamma = 2.7, epsilon = 4.7. The paper states no weight initialisation beyond
the usual one, so the maps keep PyTorch's Linear initialisation. The state is (y, z) per layer,
named "h<l>" and "z<l>" so that the probes report the output part and the velocity part
separately. The hidden-to-hidden maps act on two state parts and a recurrent initialisation of
one of them would be half applied, so `recurrent_weights()` is empty and such an init is refused
by name (suite.mitigations).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .two_part import ExplicitStack

PAPER_DEFAULTS = {"dt": 0.042, "gamma": 2.7, "epsilon": 4.7}  # sequential MNIST


def positive_option(name: str, value) -> float:
    """A finite number > 0, else a ValueError naming the option."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return float(value)


class CoRNN(ExplicitStack):
    """A stack of coRNN layers; layer l reads layer l - 1's y."""

    derivative_bound = None  # a second-order system, not a squashed affine map of h_(t-1)
    recurrent_init_refusal = ("coRNN's hidden-to-hidden maps act on both state parts (y and z = y'); "
                              "a recurrent init of one square matrix cannot apply")

    def __init__(self, input_size: int, output_size: int, hidden_size: int, num_layers: int = 1,
                 dt: float = PAPER_DEFAULTS["dt"], gamma: float = PAPER_DEFAULTS["gamma"],
                 epsilon: float = PAPER_DEFAULTS["epsilon"]):
        super().__init__(input_size, output_size, hidden_size, num_layers)
        self.dt = positive_option("dt", dt)
        self.gamma = positive_option("gamma", gamma)
        self.epsilon = positive_option("epsilon", epsilon)
        sizes = [input_size] + [hidden_size] * (num_layers - 1)
        self.drive = nn.ModuleList(nn.Linear(n, hidden_size) for n in sizes)  # V u + b
        self.coupling = nn.ModuleList(nn.Linear(2 * hidden_size, hidden_size, bias=False)  # [W, Wc]
                                      for _ in range(num_layers))

    def project(self, layer: int, inputs: torch.Tensor) -> torch.Tensor:
        return self.drive[layer](inputs)  # V u + b

    def advance(self, layer: int, drive_t: torch.Tensor, y: torch.Tensor, z: torch.Tensor):
        """One IMEX step of one layer, given V u_n + b."""
        force = torch.tanh(self.coupling[layer](torch.cat([y, z], dim=-1)) + drive_t)
        z = (z + self.dt * (force - self.gamma * y)) / (1.0 + self.dt * self.epsilon)
        return y + self.dt * z, z
