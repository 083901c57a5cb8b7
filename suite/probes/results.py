"""The probes' result types: lag profiles, decay fits, Jacobian norms."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy import stats

from ..stats import LinearFit

PROBE_LOSSES = ("probe", "task")
LN10 = math.log(10.0)
HORIZON_DECADES = 2.0  # the memory horizon's threshold: 1 % of the peak saliency

# ----------------------------------------------------------------------------- results


@dataclass
class LagProfile:
    """log10 norms per sample over lags k; `log10[name]` has shape (batch, len(k))."""

    k: np.ndarray
    log10: dict[str, np.ndarray]
    what: str  # e.g. "log10 ||dL/dh_{T-k}||, loss 'probe'"

    def mean(self, name: str = "total") -> np.ndarray:
        """Mean over the batch of the log10 norms (the log of the geometric mean)."""
        return _nanfree_mean(self.log10[name])

    def std(self, name: str = "total") -> np.ndarray:
        values = self.log10[name]
        with np.errstate(invalid="ignore"):
            return np.where(np.isfinite(values).all(axis=0), values.std(axis=0), np.nan)

    def percentiles(self, name: str = "total", q=(5, 50, 95)) -> np.ndarray:
        """Shape (len(q), len(k)); -inf entries (exact zeros) count as the smallest values."""
        return np.percentile(self.log10[name], q, axis=0)

    def at(self, k: int, name: str = "total") -> float:
        return float(self.mean(name)[int(np.searchsorted(self.k, k))])

    @property
    def names(self) -> list[str]:
        return list(self.log10)


def _nanfree_mean(values: np.ndarray) -> np.ndarray:
    """Mean over axis 0; -inf if any sample is an exact zero (never NaN)."""
    out = np.full(values.shape[1], -np.inf)
    finite = np.isfinite(values).all(axis=0)
    out[finite] = values[:, finite].mean(axis=0)
    return out


def mean_ci(values, confidence: float = 0.95) -> tuple[float, tuple[float, float]]:
    """Mean of per-seed values with a Student-t interval (n - 1 degrees of freedom); n >= 2."""
    data = np.asarray(values, dtype=float)
    if data.ndim != 1 or data.size < 2 or not np.isfinite(data).all():
        raise ValueError(f"mean_ci needs at least 2 finite values, got {values!r}")
    mean = float(data.mean())
    t = stats.t.ppf(0.5 + confidence / 2, df=data.size - 1)
    half = float(t * data.std(ddof=1) / math.sqrt(data.size))
    return mean, (mean - half, mean + half)


@dataclass(frozen=True)
class DecayFit:
    """Slope of log10 norm vs k (decades per step) over the window [k_min, k_max]."""

    slope: float
    ci: tuple[float, float]
    intercept: float
    r2: float
    k_min: int
    k_max: int
    n: int

    @classmethod
    def from_linear(cls, fit: LinearFit, k_min: int, k_max: int) -> DecayFit:
        return cls(fit.slope, fit.slope_ci, fit.intercept, fit.r2, k_min, k_max, fit.n)


@dataclass
class JacobianNorms:
    """Spectral norms of the per-step state Jacobian ds_t/ds_{t-1}; arrays (batch, len(steps))."""

    steps: np.ndarray
    full: np.ndarray
    blocks: dict[str, np.ndarray] = field(default_factory=dict)  # per state name, diagonal block


