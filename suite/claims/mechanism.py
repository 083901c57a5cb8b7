"""The mechanism claims (shared claims.md, G1-G9 and L5): how the gradient flows back through time.

Each claim probes freshly initialised networks (and, where the claim is about learned gates or
a learned recency bias, networks after a short training run through `suite.train.run`) with the
float64 log-space probes of `suite.probes`, over several seeds, and decides its verdict with a
stated one-sided test and thresholds fixed in advance (`mechanism_common`). None of them reads
the results store: their runs are seconds long and their models must be probed, not just scored.

    G1-G3  mechanism_decay        exponential decay, squashing (sigmoid vs tanh), depth
    G4-G6  mechanism_fixes        ReLU family, Xavier and friends, gradient clipping
    G7-G9  mechanism_paths        gates, skip connections, attention; L5 recency bias
"""

from __future__ import annotations

from .mechanism_decay import CLAIMS as _DECAY
from .mechanism_fixes import CLAIMS as _FIXES
from .mechanism_paths import CLAIMS as _PATHS

CLAIMS = [*_DECAY, *_FIXES, *_PATHS]

__all__ = ["CLAIMS"]
