"""Mitigations the article proposes, applied so that a test can see they took effect.

* Recurrent initialisation (`INITS`), per gate block of W_hh, times a gain:
  "default" (PyTorch's U(-1/sqrt(H), 1/sqrt(H)), scaled by the gain), "xavier" (Glorot & Bengio
  2010), "orthogonal" (Saxe et al. 2014; the gain is then the spectral radius) and "identity"
  (Le et al. 2015). The gain is how the suite sets up the exploding regime (e.g. orthogonal, 3).
* LSTM forget-gate bias (Gers et al. 2000; Jozefowicz et al. 2015). PyTorch adds bias_ih and
  bias_hh, so the value goes on bias_ih and the forget slice of bias_hh is zeroed: the effective
  bias is exactly the value asked for.
* LSTM chrono initialisation (Tallec & Ollivier 2018, "Can recurrent neural networks warp
  time?"): forget-gate biases drawn as log(U[1, T_max - 1]) per unit and input-gate biases their
  negatives, so the units' memory time constants spread over 1..T_max steps. It is the LSTM's
  `chrono` option (ArchSpec(name="lstm", options={"chrono": T_max})), applied as the model is built.
* Gradient clipping by global norm or by value (Pascanu, Mikolov & Bengio 2013), which the
  training loop calls between backward() and optimizer.step(); it rescales the whole gradient, so
  it cannot change the ratio of early to late gradient contributions.
* The activation is the architecture's name (rnn-relu, rnn-prelu, ...).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import torch
from torch import nn

if TYPE_CHECKING:
    from .models.base import RecurrentModel

INITS = ("default", "xavier", "orthogonal", "identity")
CLIP_MODES = ("norm", "value")


def apply_recurrent_init(model: RecurrentModel, init: str, gain: float = 1.0) -> None:
    """Re-initialise every hidden-to-hidden gate block of `model` (uses the global torch RNG)."""
    if init not in INITS:
        raise ValueError(f"init must be one of {list(INITS)}, got {init!r}")
    if not (isinstance(gain, (int, float)) and math.isfinite(gain) and gain > 0):
        raise ValueError(f"init_gain must be a finite number > 0, got {gain!r}")
    weights = model.recurrent_weights()
    if not weights and (init != "default" or gain != 1.0):
        # never let a requested mitigation pass silently (e.g. a user cell with a diagonal recurrence);
        # an architecture may say why in its own words (`recurrent_init_refusal`)
        reason = getattr(model, "recurrent_init_refusal", None) or (
            f"{type(model).__name__} exposes no square recurrent matrix (its recurrent_weights() is empty)")
        raise ValueError(f"init {init!r} with init_gain {gain} cannot be applied: {reason}")
    with torch.no_grad():
        for weight, n_blocks in weights:
            size = weight.shape[1]
            for block in weight.view(n_blocks, size, size):
                if init == "default":
                    block.mul_(gain)
                elif init == "xavier":
                    nn.init.xavier_uniform_(block, gain=gain)
                elif init == "orthogonal":
                    nn.init.orthogonal_(block, gain=gain)
                else:
                    block.copy_(gain * torch.eye(size, dtype=block.dtype, device=block.device))


def zero_recurrent_biases(model: RecurrentModel) -> None:
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "bias_ih" in name or "bias_hh" in name:
                param.zero_()


def set_forget_bias(model: RecurrentModel, value: float) -> None:
    """Make the effective forget-gate bias (b_ih + b_hh) of every LSTM layer equal `value`."""
    if not getattr(model, "has_forget_gate", False):  # suite.models.gated.LSTM declares it
        raise ValueError(f"forget_bias applies only to arch 'lstm', not {type(model).__name__}")
    h = model.hidden_size
    with torch.no_grad():
        for layer in range(model.num_layers):
            _, _, b_ih, b_hh = model.layer_params(layer)
            b_ih[h : 2 * h] = value
            b_hh[h : 2 * h] = 0.0


def set_chrono_bias(model: RecurrentModel, t_max: int) -> None:
    """Chrono init of every LSTM layer: b_f ~ log(U[1, t_max - 1]), b_i = -b_f (uses the global
    torch RNG, so the model's seed decides it). Like set_forget_bias, on bias_ih with bias_hh zeroed."""
    if not getattr(model, "has_forget_gate", False):
        raise ValueError(f"chrono applies only to arch 'lstm', not {type(model).__name__}")
    if isinstance(t_max, bool) or not isinstance(t_max, int) or t_max < 3:
        raise ValueError(f"chrono must be an integer T_max >= 3 (the longest dependency, in steps), got {t_max!r}")
    h = model.hidden_size
    with torch.no_grad():
        for layer in range(model.num_layers):
            _, _, b_ih, b_hh = model.layer_params(layer)
            forget = torch.log(torch.empty(h, dtype=b_ih.dtype).uniform_(1.0, float(t_max - 1)))
            b_ih[h : 2 * h] = forget.to(b_ih.device)
            b_ih[0:h] = -forget.to(b_ih.device)
            b_hh[0 : 2 * h] = 0.0


def clip_gradients(parameters, clip: float, mode: str = "norm") -> float:
    """Clip gradients in place; returns the global gradient norm *before* clipping."""
    params = [p for p in parameters if p.grad is not None]
    if mode not in CLIP_MODES:
        raise ValueError(f"clip_mode must be one of {list(CLIP_MODES)}, got {mode!r}")
    if mode == "norm":
        return float(nn.utils.clip_grad_norm_(params, clip))
    norm = float(nn.utils.get_total_norm([p.grad for p in params]))
    nn.utils.clip_grad_value_(params, clip)
    return norm
