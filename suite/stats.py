"""Statistics for judging claims over a handful of random seeds.

Every claim in the suite ("gradients vanish faster without gating", "an LSTM
solves longer gaps than a vanilla RNN", ...) is settled by comparing outcomes
across seeds. Seed counts are small (often 5-20) and outcomes are often tied
(many runs reach accuracy 1.0), so this module prefers exact and
rank-based procedures, always reports an effect size with a confidence
interval next to the p-value, and is deterministic given a seed.

Procedures and references:

* Mann-Whitney U test (Mann & Whitney 1947) with the common-language effect
  size P(A > B) + 0.5 P(A = B) (McGraw & Wong 1992; the A of Vargha & Delaney 2000)
  and its score-type interval (Newcombe 2006, "Confidence intervals for an effect
  size measure based on the Mann-Whitney statistic. Part 2", method 5), which,
  unlike a percentile bootstrap, does not collapse to a point at complete
  separation (5 vs 5 seeds all apart: [0.57, 1], not [1, 1]).
* Fisher's exact test (Fisher 1922) for success counts, with a Newcombe
  hybrid-score interval for the difference of proportions (Newcombe 1998,
  method 10).
* Sign test for paired differences, via the exact binomial test.
* Wilson score interval for a proportion (Wilson 1927).
* Holm's step-down correction for multiple claims (Holm 1979).
* Percentile bootstrap intervals (Efron & Tibshirani 1993, ch. 13).
* Ordinary least squares slope with a Student-t interval.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
from scipy import optimize, stats

# Largest number of distinct splits enumerated for an exact permutation test
# when there are ties (8 vs 8 seeds is 12 870 splits, about 0.1 s).
_MAX_EXACT_PERMUTATIONS = 20_000
# Without ties scipy's exact U distribution is cheap well beyond seed counts.
_MAX_EXACT_MWU_SIZE = 100


@dataclass(frozen=True)
class TestOutcome:
    """Result of a one-sided test, with an effect size and its 95 % CI."""

    __test__ = False  # not a pytest test class, despite the name

    test: str
    statistic: float
    p_value: float
    effect_size: float
    effect_ci: tuple[float, float]
    n: tuple[int, ...]

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class LinearFit:
    """Ordinary least squares fit y = slope * x + intercept."""

    slope: float
    intercept: float
    slope_ci: tuple[float, float]
    stderr: float
    r2: float
    n: int


# ---------------------------------------------------------------- validation

def _sample(values, name: str, min_size: int = 1) -> np.ndarray:
    try:
        arr = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a 1-D sequence of numbers") from None
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {arr.shape}")
    if arr.size < min_size:
        raise ValueError(f"{name} needs at least {min_size} value(s), got {arr.size}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must contain only finite values (no NaN/inf)")
    return arr


def _count(value, name: str, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def _confidence(confidence) -> float:
    if isinstance(confidence, bool) or not isinstance(confidence, numbers.Real) \
            or not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be a number in (0, 1), got {confidence!r}")
    return float(confidence)


def _seed_and_n_boot(seed, n_boot) -> None:
    _count(seed, "seed")
    _count(n_boot, "n_boot", minimum=1)


# ---------------------------------------------------------------- intervals

def wilson_ci(k: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a proportion k/n (sensible even at k=0 or k=n)."""
    n = _count(n, "n", minimum=1)
    k = _count(k, "k")
    if k > n:
        raise ValueError(f"k must be <= n, got k={k}, n={n}")
    z = float(stats.norm.ppf(0.5 + _confidence(confidence) / 2))
    z2 = z * z
    centre = (k + z2 / 2) / (n + z2)
    half = z / (n + z2) * math.sqrt(k * (n - k) / n + z2 / 4)
    # At k = 0 (k = n) the bound is exactly 0 (1); rounding would leave ~1e-17.
    lower = 0.0 if k == 0 else float(centre - half)
    upper = 1.0 if k == n else float(centre + half)
    return lower, upper


def bootstrap_ci(values, statistic: Callable = np.mean, *, confidence: float = 0.95,
                 n_boot: int = 2000, seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval of statistic(values); deterministic in seed."""
    data = _sample(values, "values")
    if not callable(statistic):
        raise ValueError("statistic must be callable, e.g. np.mean")
    confidence = _confidence(confidence)
    _seed_and_n_boot(seed, n_boot)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, data.size, size=(n_boot, data.size))
    boot = np.array([float(statistic(data[row])) for row in idx])
    if not np.all(np.isfinite(boot)):
        raise ValueError("statistic must return a finite number on every resample")
    return _percentiles(boot, confidence)


def _percentiles(boot: np.ndarray, confidence: float) -> tuple[float, float]:
    alpha = 1.0 - confidence
    lo, hi = np.quantile(boot, [alpha / 2, 1 - alpha / 2])
    return float(lo), float(hi)


# ---------------------------------------------------------------- tests

def _common_language(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """P(A > B) + 0.5 P(A = B), along the last axis of stacked samples.

    Computed from midranks of the pooled sample (the U statistic), which needs
    O(n) memory per resample instead of the O(n_a * n_b) pairwise table.
    """
    n_a, n_b = a.shape[-1], b.shape[-1]
    ranks = stats.rankdata(np.concatenate([a, b], axis=-1), axis=-1)
    u_a = ranks[..., :n_a].sum(axis=-1) - n_a * (n_a + 1) / 2
    return u_a / (n_a * n_b)


def _u_statistic(x, y, axis=-1):
    return stats.mannwhitneyu(x, y, axis=axis, method="asymptotic").statistic


def auc_ci(effect: float, n_a: int, n_b: int, confidence: float = 0.95) -> tuple[float, float]:
    """Score-type interval for the Mann-Whitney effect size theta = P(A > B) + 0.5 P(A = B)
    (Newcombe 2006, part 2, method 5): the thetas whose Hanley-McNeil variance, with the
    sample sizes replaced by N* = (n_a + n_b) / 2 - 1, puts the estimate within z standard errors:
    |effect - theta| <= z sqrt(theta (1 - theta) (1 + N* ((1 - theta) / (2 - theta)
    + theta / (1 + theta))) / (n_a n_b)). At complete separation (effect 1) the upper bound is 1 and
    the lower bound stays below it, narrowing as the samples grow."""
    n_a, n_b = _count(n_a, "n_a", minimum=1), _count(n_b, "n_b", minimum=1)
    if not (isinstance(effect, numbers.Real) and 0.0 <= effect <= 1.0):
        raise ValueError(f"effect must be a number in [0, 1], got {effect!r}")
    z = float(stats.norm.ppf(0.5 + _confidence(confidence) / 2))
    n_star = (n_a + n_b) / 2 - 1

    def excess(theta: float) -> float:  # < 0 inside the interval, > 0 outside
        var = theta * (1 - theta) * (1 + n_star * ((1 - theta) / (2 - theta) + theta / (1 + theta))) / (n_a * n_b)
        return (effect - theta) ** 2 - z * z * var

    # at effect 1 (0) the equation also holds at theta = 1 (0) itself: bracket the other root
    below, above = (effect if effect < 1 else 1 - 1e-12), (effect if effect > 0 else 1e-12)
    lower = 0.0 if effect <= 0 or excess(0.0) <= 0 else float(optimize.brentq(excess, 0.0, below))
    upper = 1.0 if effect >= 1 or excess(1.0) <= 0 else float(optimize.brentq(excess, above, 1.0))
    return lower, upper


def mann_whitney_greater(a, b) -> TestOutcome:
    """One-sided Mann-Whitney U test, H1: values in a tend to exceed those in b.

    p-value: scipy's exact U distribution when there are no ties (and each
    sample has at most 100 values); with ties, an exact permutation test over
    all splits when there are at most 20 000 of them (about 8 vs 8);
    otherwise the tie-corrected normal approximation, which is poor for
    small samples. The method used is named in `test`. `statistic` is U for sample a.
    Effect size: P(A > B) + 0.5 P(A = B) (0.5 = no effect, 1 = complete
    separation), with Newcombe's score interval (`auc_ci`).
    """
    x, y = _sample(a, "a"), _sample(b, "b")
    has_ties = np.unique(np.concatenate([x, y])).size < x.size + y.size
    if not has_ties and max(x.size, y.size) <= _MAX_EXACT_MWU_SIZE:
        method = "exact"
        res = stats.mannwhitneyu(x, y, alternative="greater", method="exact")
    elif has_ties and math.comb(x.size + y.size, x.size) <= _MAX_EXACT_PERMUTATIONS:
        method = "exact permutation"
        res = stats.permutation_test((x, y), _u_statistic, permutation_type="independent",
                                     vectorized=True, n_resamples=np.inf,
                                     alternative="greater")
    else:
        method = "asymptotic"
        res = stats.mannwhitneyu(x, y, alternative="greater", method="asymptotic")
    effect = float(_common_language(x, y))
    return TestOutcome(
        test=f"one-sided Mann-Whitney U (a > b), {method}",
        statistic=float(res.statistic),
        p_value=float(res.pvalue),
        effect_size=effect,
        effect_ci=auc_ci(min(1.0, max(0.0, effect)), x.size, y.size),
        n=(int(x.size), int(y.size)),
    )


def fisher_greater(k_a: int, n_a: int, k_b: int, n_b: int) -> TestOutcome:
    """One-sided Fisher exact test, H1: the success rate of a exceeds that of b.

    `statistic` is scipy's sample odds ratio (k_a * f_b) / (f_a * k_b), with
    f the failures: inf when only the denominator is 0, NaN when both are.
    Effect size: k_a/n_a - k_b/n_b with Newcombe's hybrid Wilson-score 95 % CI.
    """
    n_a, n_b = _count(n_a, "n_a", minimum=1), _count(n_b, "n_b", minimum=1)
    k_a, k_b = _count(k_a, "k_a"), _count(k_b, "k_b")
    if k_a > n_a:
        raise ValueError(f"k_a must be <= n_a, got k_a={k_a}, n_a={n_a}")
    if k_b > n_b:
        raise ValueError(f"k_b must be <= n_b, got k_b={k_b}, n_b={n_b}")
    odds_ratio, p_value = stats.fisher_exact([[k_a, n_a - k_a], [k_b, n_b - k_b]],
                                             alternative="greater")
    p_a, p_b = k_a / n_a, k_b / n_b
    lo_a, hi_a = wilson_ci(k_a, n_a)
    lo_b, hi_b = wilson_ci(k_b, n_b)
    diff = p_a - p_b
    lower = diff - math.hypot(p_a - lo_a, hi_b - p_b)
    upper = diff + math.hypot(hi_a - p_a, p_b - lo_b)
    return TestOutcome(
        test="one-sided Fisher exact test (rate a > rate b)",
        statistic=float(odds_ratio),
        p_value=float(p_value),
        effect_size=diff,
        effect_ci=(max(-1.0, lower), min(1.0, upper)),
        n=(n_a, n_b),
    )


def sign_test_greater(differences) -> TestOutcome:
    """One-sided sign test on paired differences, H1: the median difference > 0.

    Zero differences carry no sign and are dropped; raises ValueError when
    nothing is left. `statistic` is the number of positive differences and
    `n` is (number of non-zero differences,). Effect size: the fraction of
    positive differences among the non-zero ones, with a Wilson 95 % CI.
    """
    d = _sample(differences, "differences")
    d = d[d != 0]
    if d.size == 0:
        raise ValueError("differences must contain at least one non-zero value")
    positives, used = int(np.sum(d > 0)), int(d.size)
    res = stats.binomtest(positives, used, p=0.5, alternative="greater")
    return TestOutcome(
        test="one-sided sign test (median difference > 0)",
        statistic=float(positives),
        p_value=float(res.pvalue),
        effect_size=positives / used,
        effect_ci=wilson_ci(positives, used),
        n=(used,),
    )


# ---------------------------------------------------------------- multiplicity

def holm(p_values: Mapping[str, float]) -> dict[str, float]:
    """Holm-Bonferroni adjusted p-values: monotone in the raw p, capped at 1.

    Reject claim i at level alpha iff its adjusted p-value is <= alpha; this
    controls the family-wise error rate over all claims in the mapping.
    """
    if not isinstance(p_values, Mapping):
        raise ValueError("p_values must be a mapping of name -> p-value")
    if not p_values:
        raise ValueError("p_values must not be empty")
    for name, p in p_values.items():
        if isinstance(p, bool) or not isinstance(p, numbers.Real) or not 0.0 <= p <= 1.0:
            raise ValueError(f"p_values[{name!r}] must be a number in [0, 1], got {p!r}")
    ordered = sorted(p_values, key=lambda name: p_values[name])
    m = len(ordered)
    adjusted, running_max = {}, 0.0
    for rank, name in enumerate(ordered):
        running_max = max(running_max, min(1.0, (m - rank) * float(p_values[name])))
        adjusted[name] = running_max
    return {name: adjusted[name] for name in p_values}


# ---------------------------------------------------------------- trends

def linear_fit(x, y, confidence: float = 0.95) -> LinearFit:
    """OLS slope of y on x with a Student-t CI (n - 2 degrees of freedom).

    Needs n >= 3 points and at least two distinct x. If all y are equal the
    fit is exact: slope 0, CI (0, 0), stderr 0, and r2 = 0 by convention.
    """
    xs, ys = _sample(x, "x", min_size=3), _sample(y, "y", min_size=3)
    if xs.size != ys.size:
        raise ValueError(f"x and y must have the same length, got {xs.size} and {ys.size}")
    if np.all(xs == xs[0]):
        raise ValueError("x must contain at least two distinct values")
    confidence = _confidence(confidence)
    n = int(xs.size)
    # scipy returns NaN r and stderr for constant y; the exact answer is known.
    if np.all(ys == ys[0]):
        return LinearFit(0.0, float(ys[0]), (0.0, 0.0), 0.0, 0.0, n)
    res = stats.linregress(xs, ys)
    t = stats.t.ppf(0.5 + confidence / 2, df=n - 2)
    half = t * res.stderr
    return LinearFit(
        slope=float(res.slope),
        intercept=float(res.intercept),
        slope_ci=(float(res.slope - half), float(res.slope + half)),
        stderr=float(res.stderr),
        r2=float(res.rvalue ** 2),
        n=n,
    )


# ---------------------------------------------------------------- gap ladders

def critical_gap(success: Mapping[int, tuple[int, int]], threshold: float = 0.8
                 ) -> tuple[int | None, tuple[int | None, int | None]]:
    """Largest gap up to which a model reliably solves a task, with its bracket.

    `success` maps gap -> (seeds solved, seeds run). A gap is solved when
    solved / run >= threshold. Walking the ladder upwards, the critical gap is
    the last gap before the first failure, so a solved gap above a failed one
    (a hole in the ladder) does not count. Returns
    (critical, (lower, upper)) with lower == critical and upper the first
    failed gap; the true limit lies in [lower, upper). critical/lower is None
    when even the smallest gap fails; upper is None when no gap failed, and
    the critical gap is then only a lower bound (the ladder was too short).
    """
    if not isinstance(success, Mapping) or not success:
        raise ValueError("success must be a non-empty mapping of gap -> (solved, run)")
    if isinstance(threshold, bool) or not isinstance(threshold, numbers.Real) \
            or not 0.0 < threshold <= 1.0:
        raise ValueError(f"threshold must be a number in (0, 1], got {threshold!r}")
    for gap, counts in success.items():
        _count(gap, "success gap")
        if not isinstance(counts, (tuple, list)) or len(counts) != 2:
            raise ValueError(f"success[{gap}] must be a (solved, run) pair, got {counts!r}")
        solved = _count(counts[0], f"success[{gap}] solved")
        run = _count(counts[1], f"success[{gap}] run", minimum=1)
        if solved > run:
            raise ValueError(f"success[{gap}] solved must be <= run, got {solved} > {run}")
    critical = None
    for gap in sorted(success):
        solved, run = success[gap]
        # Compare the ratio, not solved >= threshold * run: 0.7 * 10 rounds to
        # 7.000000000000001, whereas 7 / 10 rounds to the same double as 0.7.
        if solved / run < threshold:
            return critical, (critical, int(gap))
        critical = int(gap)
    return critical, (critical, None)
