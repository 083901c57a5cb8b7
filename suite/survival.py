"""Time to solve as a survival outcome: Kaplan-Meier curves and the log-rank test.

A training run "survives" while it has not yet solved its task; solving is the event. A run that
never solves within its step budget (or stops early because it diverged) is right-censored at its
last step: we know only that it had not solved by then. Pooled medians of the solved runs' steps
ignore those runs and so look faster the more runs fail; the Kaplan-Meier estimate keeps them in
the risk set until they drop out, and its median is None when fewer than half the runs solve.

* Kaplan-Meier estimate of the fraction still unsolved after t steps (Kaplan & Meier 1958), with
  pointwise log-log ("exponential Greenwood") 95 % intervals (Kalbfleisch & Prentice 1980): both
  from `scipy.stats.ecdf` on `scipy.stats.CensoredData`.
* Median (and any quantile) time to solve read off the curve: the first step at which the
  estimate falls to 1 - q or below; its interval is the range of steps where the pointwise band
  still contains 1 - q (Brookmeyer & Crowley 1982, with the band in place of their test).
* One-sided log-rank test (Mantel 1966; Peto & Peto 1972): `scipy.stats.logrank`, whose statistic
  is the signed z (the square root of the usual chi-square with one degree of freedom).

Thin wrappers: each returns a frozen dataclass so that a verdict can carry it.

    >>> km = kaplan_meier([100, 200, 300, 1000], [True, True, True, False])
    >>> km.median, km.survival
    (200.0, (0.75, 0.5, 0.25))
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import warnings
from dataclasses import dataclass

import numpy as np
from scipy import stats

_CI_METHOD = "log-log"   # stays inside [0, 1] and is not degenerate at the first events


@dataclass(frozen=True)
class KaplanMeier:
    """The Kaplan-Meier curve of one sample: S(t) = fraction of runs not yet solved after t steps.

    `times` are the distinct event steps (solves), `survival` the estimate just after each, and
    `ci_low`/`ci_high` its pointwise 95 % band there. Between event steps the curve is flat; before
    the first it is 1. `last` is the largest time observed (event or censoring): beyond it the
    curve is not estimated.
    """

    times: tuple[float, ...]
    survival: tuple[float, ...]
    ci_low: tuple[float, ...]
    ci_high: tuple[float, ...]
    n: int
    events: int
    last: float

    @property
    def censored(self) -> int:
        return self.n - self.events

    def at(self, t: float) -> float:
        """S(t): the estimated fraction of runs still unsolved after t steps."""
        i = int(np.searchsorted(self.times, t, side="right"))
        return 1.0 if i == 0 else self.survival[i - 1]

    def quantile(self, q: float = 0.5) -> float | None:
        """Steps by which a fraction q of the runs has solved (S <= 1 - q); None if never reached."""
        return _first_below(self.times, self.survival, _fraction(q))

    @property
    def median(self) -> float | None:
        return self.quantile(0.5)

    def quantile_ci(self, q: float = 0.5) -> tuple[float | None, float | None]:
        """95 % interval of `quantile(q)`: from the step at which the lower band falls to 1 - q to
        the step at which the upper band does (None: not within the observed steps, unbounded)."""
        q = _fraction(q)
        return _first_below(self.times, self.ci_low, q), _first_below(self.times, self.ci_high, q)

    def as_dict(self) -> dict:
        return dataclasses.asdict(self) | {"median": self.median, "median_ci": self.quantile_ci(0.5)}


@dataclass(frozen=True)
class LogRank:
    """A one-sided log-rank test: H1, runs of sample a take longer to solve than those of b."""

    test: str
    statistic: float        # scipy's signed z for sample a: negative when a solves later
    p_value: float
    n: tuple[int, int]
    events: tuple[int, int]

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


def _fraction(q) -> float:
    if isinstance(q, bool) or not isinstance(q, numbers.Real) or not 0.0 < q < 1.0:
        raise ValueError(f"q must be a number in (0, 1), got {q!r}")
    return float(q)


def _first_below(times, curve, q: float) -> float | None:
    # A small tolerance: S = 0.5 exactly (e.g. 2 of 4 solved) must count as reaching the median.
    for t, s in zip(times, curve):
        if s <= 1.0 - q + 1e-12:
            return float(t)
    return None


def censored_data(times, events, name: str = "times") -> stats.CensoredData:
    """Solved runs (events) exact, unsolved runs right-censored at their time, as scipy wants them."""
    try:
        t = np.asarray(times, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a 1-D sequence of numbers") from None
    e = np.asarray(events)
    if t.ndim != 1 or t.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D sequence, got shape {t.shape}")
    if e.shape != t.shape or e.dtype != bool:
        raise ValueError(f"events must be one bool per entry of {name}, got {e.dtype} of shape {e.shape}")
    if not np.all(np.isfinite(t)) or np.any(t < 0):
        raise ValueError(f"{name} must be finite and >= 0")
    return stats.CensoredData(uncensored=t[e], right=t[~e])


def kaplan_meier(times, events, confidence: float = 0.95) -> KaplanMeier:
    """Kaplan-Meier estimate from per-run `times` (steps to solve, or the last step when unsolved)
    and `events` (True: solved at that time; False: censored there)."""
    data = censored_data(times, events)
    t = np.asarray(times, dtype=float)
    n_events = int(np.sum(events))
    if n_events == 0:  # scipy needs an event; with none the curve is 1 throughout
        return KaplanMeier((), (), (), (), int(t.size), 0, float(t.max()))
    sf = stats.ecdf(data).sf
    with warnings.catch_warnings():  # scipy warns where the log-log band is undefined (S = 0 or 1)
        warnings.simplefilter("ignore", RuntimeWarning)
        band = sf.confidence_interval(confidence, method=_CI_METHOD)
    # scipy also lists censoring times: keep the steps where the estimate drops (the solves)
    solve_times = np.unique(t[np.asarray(events)])
    keep = np.isin(sf.quantiles, solve_times)
    # log-log bands are NaN where S is 0 or 1 exactly; there the band is that value
    low = np.where(np.isnan(band.low.probabilities), sf.probabilities, band.low.probabilities)
    high = np.where(np.isnan(band.high.probabilities), sf.probabilities, band.high.probabilities)
    return KaplanMeier(
        times=tuple(float(x) for x in sf.quantiles[keep]),
        survival=tuple(float(x) for x in sf.probabilities[keep]),
        ci_low=tuple(float(x) for x in low[keep]),
        ci_high=tuple(float(x) for x in high[keep]),
        n=int(t.size), events=n_events, last=float(t.max()),
    )


def logrank_longer(a_times, a_events, b_times, b_events) -> LogRank:
    """One-sided log-rank test, H1: sample a solves later than sample b (a's hazard of solving is
    lower). With no solve in either sample there is nothing to compare: z = 0, p = 1."""
    a = censored_data(a_times, a_events, "a_times")
    b = censored_data(b_times, b_events, "b_times")
    events = (int(np.sum(a_events)), int(np.sum(b_events)))
    if sum(events) == 0:
        statistic, p = 0.0, 1.0
    else:
        # alternative="less": a's survival (staying unsolved) is favoured over b's
        with np.errstate(invalid="ignore", divide="ignore"):
            res = stats.logrank(a, b, alternative="less")
        statistic, p = float(res.statistic), float(res.pvalue)
        if math.isnan(p):  # every run solved at one common step: no evidence either way
            statistic, p = 0.0, 1.0
    return LogRank(test="one-sided log-rank test (a solves later than b), unsolved runs censored "
                        "at their last step",
                   statistic=statistic, p_value=p, n=(len(a), len(b)),
                   events=events)


__all__ = ["KaplanMeier", "LogRank", "censored_data", "kaplan_meier", "logrank_longer"]
