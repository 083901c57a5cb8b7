"""Models: resolve an architecture name (built-in registry or a user's) and build it with its
mitigations applied.

The built-in names are in suite/models/registry.py (one screen; a new architecture is one module
with a `RecurrentModel` subclass plus one line there); user architectures resolve through
suite/models/plugins.py; mitigations are applied by suite/mitigations.py.
"""

from __future__ import annotations

import torch

from ..mitigations import apply_recurrent_init, set_forget_bias, zero_recurrent_biases
from .base import RecurrentModel, State
from .plugins import register_architecture, resolve
from .registry import ARCHITECTURES, Architecture

#: what make_model reads from an ArchSpec
ARCH_FIELDS = ("name", "hidden", "layers", "init", "init_gain", "forget_bias", "options")


def make_model(arch, input_size: int, output_size: int, seed: int) -> RecurrentModel:
    """Build `arch` (an ArchSpec) with its mitigations applied; weights depend only on `seed`."""
    # duck-typed (suite.specs imports this package, so it cannot import ArchSpec back)
    if not all(hasattr(arch, f) for f in ARCH_FIELDS):
        raise TypeError(f"arch must be an ArchSpec, got {type(arch).__name__} {arch!r}")
    for name, value, low in (("input_size", input_size, 1), ("output_size", output_size, 1), ("seed", seed, 0)):
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value < 2**63:
            raise ValueError(f"{name} must be an integer in [{low}, 2**63), got {value!r}")

    entry = architecture(arch.name)
    init = entry.defining_init or arch.init
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = entry.build(input_size, output_size, arch.hidden, arch.layers, **dict(arch.options))
        apply_recurrent_init(model, init, arch.init_gain)
    if entry.zero_recurrent_bias:
        zero_recurrent_biases(model)
    if arch.forget_bias is not None:
        set_forget_bias(model, arch.forget_bias)
    return model


def architecture(name: str) -> Architecture:
    """A built-in name, or a user architecture: a name registered with `register_architecture`,
    an import path "package.module:Class" or "file.py:Class", or an entry point of the group
    "vgsuite.architectures" (see plugins.py)."""
    if isinstance(name, str) and name in ARCHITECTURES:
        return ARCHITECTURES[name]
    return resolve(name)


__all__ = ["ARCHITECTURES", "Architecture", "RecurrentModel", "State", "architecture", "make_model",
           "register_architecture"]
