"""Delayed recall: name the one symbol shown at the start, after a gap of distractors.

A minimal long-lag memory task in the spirit of Hochreiter & Schmidhuber (1997): step 0 shows one
of `n_symbols` symbols, the next `gap` steps show distractors drawn from a separate alphabet of
`n_distractors` symbols, and a final cue step asks for the symbol. Inputs are one-hot over
n_symbols + n_distractors + 1 channels (symbols, distractors, cue). Worked example, gap = 4,
n_symbols = 8 (S3 = third symbol, D = distractor, C = cue):

    x = S3 D2 D0 D3 D1 C      target (read at the last step) = 3

The distractors carry no information about the symbol, so the best memoryless predictor is uniform
and its cross-entropy is ln n_symbols (ln 8 = 2.079); chance accuracy 1/n_symbols.

Solved: accuracy >= 0.99 on the held-out evaluation set. Minimal lag: gap + 1 steps.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .base import Task, class_accuracy, one_hot, require_int


class DelayedRecallTask(Task):
    name = "delayed_recall"
    metric_name = "accuracy"
    higher_is_better = True

    def __init__(self, gap: int, n_symbols: int = 8, n_distractors: int = 4):
        self.gap = require_int("gap", gap, 1)
        self.n_symbols = require_int("n_symbols", n_symbols, 2)
        self.n_distractors = require_int("n_distractors", n_distractors, 1)
        self.seq_len = gap + 2
        self.input_size = n_symbols + n_distractors + 1
        self.output_size = n_symbols
        self.min_lag = gap + 1
        self.baseline_loss = math.log(n_symbols)
        self.baseline_metric = 1.0 / n_symbols
        self.solved_threshold = 0.99

    def options(self) -> dict:
        return {"n_symbols": self.n_symbols, "n_distractors": self.n_distractors}

    @property
    def output_positions(self) -> slice:
        return slice(-1, None)

    def _generate(self, n, generator):
        device = generator.device
        symbol = torch.randint(0, self.n_symbols, (n,), generator=generator, device=device)
        distractors = torch.randint(
            0, self.n_distractors, (n, self.gap), generator=generator, device=device
        )
        cue = torch.full((n, 1), self.n_symbols + self.n_distractors, device=device)
        tokens = torch.cat([symbol[:, None], distractors + self.n_symbols, cue], dim=1)
        return one_hot(tokens, self.input_size), symbol

    def loss(self, outputs, targets):
        return F.cross_entropy(outputs[:, -1], targets)

    def metric(self, outputs, targets):
        return class_accuracy(outputs[:, -1], targets)
