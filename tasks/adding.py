"""The adding problem: add the two values whose marker is on, anywhere in a long sequence.

Hochreiter & Schmidhuber (1997), in the form of Le, Jaitly & Hinton (2015) and Arjovsky et al.
(2016): each step carries a value drawn from U[0, 1] and a marker bit; the target, read at the last
step, is the sum of the two marked values. Here `gap` is the sequence length. Worked example,
gap = 6, variant "halves":

    values  = 0.71 0.05 0.42 | 0.90 0.13 0.66
    markers = 0    1    0    | 0    0    1
    target  = 0.05 + 0.66 = 0.71

Variants: "halves" (one marker in each half: the usual one) and "anywhere" (two distinct positions
drawn uniformly; papers differ here, so the variant is recorded with every result).
The best memoryless predictor outputs the mean, 1, and has MSE Var(u1 + u2) = 2/12 = 1/6 exactly
(a widely copied README says 0.1767: that is wrong).

Solved: MSE <= 0.01 on the held-out evaluation set. Minimal lag: "halves" gap - gap//2 (the first
marker lies in the first half), "anywhere" 1.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .base import Task, require_choice, require_int


class AddingTask(Task):
    name = "adding"
    metric_name = "mse"
    higher_is_better = False
    VARIANTS = ("halves", "anywhere")

    def __init__(self, gap: int, variant: str = "halves"):
        self.gap = require_int("gap", gap, 2)
        self.variant = require_choice("variant", variant, self.VARIANTS)
        self.seq_len = gap
        self.input_size = 2
        self.output_size = 1
        self.min_lag = gap - gap // 2 if variant == "halves" else 1
        self.baseline_loss = 1.0 / 6.0
        self.baseline_metric = 1.0 / 6.0
        self.solved_threshold = 0.01

    def options(self) -> dict:
        return {"variant": self.variant}

    @property
    def output_positions(self) -> slice:
        return slice(-1, None)

    def _marker_positions(self, n, generator):
        device = generator.device
        if self.variant == "halves":
            half = self.gap // 2
            first = torch.randint(0, half, (n,), generator=generator, device=device)
            second = torch.randint(half, self.gap, (n,), generator=generator, device=device)
            return first, second
        # Two distinct positions: rank random keys and take the two smallest.
        keys = torch.rand(n, self.gap, generator=generator, device=device)
        picked = keys.topk(2, dim=1, largest=False).indices
        return picked[:, 0], picked[:, 1]

    def _generate(self, n, generator):
        values = torch.rand(n, self.gap, generator=generator, device=generator.device)
        first, second = self._marker_positions(n, generator)
        markers = torch.zeros_like(values)
        rows = torch.arange(n, device=values.device)
        markers[rows, first] = 1.0
        markers[rows, second] = 1.0
        targets = (values * markers).sum(dim=1)
        return torch.stack([values, markers], dim=-1), targets

    def loss(self, outputs, targets):
        return F.mse_loss(outputs[:, -1, 0], targets.to(outputs.dtype))

    def metric(self, outputs, targets):
        return self.loss(outputs, targets).item()
