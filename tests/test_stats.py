"""Tests for suite.stats against values computed independently of scipy.

Reference values come from brute-force enumeration (itertools, math.comb) or
from published worked examples (Newcombe 1998 for Wilson and hybrid-score
intervals; a hand-worked Holm example).
"""

import itertools
import math

import numpy as np
import pytest

from suite.stats import (
    LinearFit,
    TestOutcome,
    auc_ci,
    bootstrap_ci,
    critical_gap,
    fisher_greater,
    holm,
    linear_fit,
    mann_whitney_greater,
    sign_test_greater,
    wilson_ci,
)

Z95 = 1.959963984540054


def _pairwise_u(a, b):
    return sum((x > y) + 0.5 * (x == y) for x in a for y in b)


def _enumerated_mwu_p(a, b):
    """Exact one-sided permutation p-value of U over every split of the pool."""
    pool, n_a = list(a) + list(b), len(a)
    observed = _pairwise_u(a, b)
    hits = total = 0
    for chosen in itertools.combinations(range(len(pool)), n_a):
        rest = [pool[i] for i in range(len(pool)) if i not in chosen]
        hits += _pairwise_u([pool[i] for i in chosen], rest) >= observed - 1e-9
        total += 1
    return hits / total


def _hypergeom_upper_tail(k_a, n_a, k_b, n_b):
    """P(X >= k_a) for the successes X in group a, margins fixed."""
    k, n = k_a + k_b, n_a + n_b
    top = min(k, n_a)
    return sum(math.comb(n_a, x) * math.comb(n_b, k - x)
               for x in range(k_a, top + 1)) / math.comb(n, k)


# ---------------------------------------------------------------- Mann-Whitney

def test_mann_whitney_fully_separated_5_vs_5_is_one_over_252():
    out = mann_whitney_greater([6, 7, 8, 9, 10], [1, 2, 3, 4, 5])
    assert out.p_value == pytest.approx(1 / 252, rel=1e-12)
    assert out.statistic == 25.0
    assert out.effect_size == 1.0
    lo, hi = out.effect_ci  # Newcombe's interval stays honest at complete separation
    assert hi == 1.0 and 0.5 < lo < 0.8
    assert out.n == (5, 5)
    assert "exact" in out.test and "a > b" in out.test


def test_mann_whitney_wrong_direction_gives_p_one_and_zero_effect():
    out = mann_whitney_greater([1, 2, 3], [4, 5, 6, 7])
    assert out.p_value == pytest.approx(1.0)
    assert out.effect_size == 0.0


def test_mann_whitney_exact_matches_enumeration_without_ties():
    a, b = [3.1, 4.5, 2.2, 5.0], [1.0, 2.5, 3.0, 0.5, 4.0]
    out = mann_whitney_greater(a, b)
    assert out.test.endswith("exact")
    assert out.p_value == pytest.approx(_enumerated_mwu_p(a, b), rel=1e-9)
    assert out.effect_size == pytest.approx(_pairwise_u(a, b) / 20)


def test_mann_whitney_with_ties_uses_exact_permutation():
    a = [1.0, 1.0, 1.0, 0.5, 0.9, 1.0]
    b = [0.5, 0.5, 1.0, 0.6, 0.5, 0.7]
    out = mann_whitney_greater(a, b)
    assert out.test.endswith("exact permutation")
    assert out.p_value == pytest.approx(_enumerated_mwu_p(a, b), rel=1e-9)
    assert out.statistic == _pairwise_u(a, b)
    assert out.effect_size == pytest.approx(_pairwise_u(a, b) / 36)


def test_mann_whitney_large_tied_samples_use_tie_corrected_normal():
    rng = np.random.default_rng(1)
    a = np.round(rng.normal(0.5, 1, 30))
    b = np.round(rng.normal(0.0, 1, 25))
    out = mann_whitney_greater(a, b)
    assert out.test.endswith("asymptotic")
    n1, n2 = len(a), len(b)
    n = n1 + n2
    _, counts = np.unique(np.concatenate([a, b]), return_counts=True)
    tie_term = np.sum(counts ** 3 - counts) / (n * (n - 1))
    sigma = math.sqrt(n1 * n2 / 12 * ((n + 1) - tie_term))
    z = (_pairwise_u(a, b) - n1 * n2 / 2 - 0.5) / sigma
    assert out.p_value == pytest.approx(0.5 * math.erfc(z / math.sqrt(2)), rel=1e-9)


def test_mann_whitney_interval_is_newcombes_and_covers_the_effect():
    rng = np.random.default_rng(0)
    a, b = rng.normal(0.8, 1, 20), rng.normal(0.0, 1, 20)
    out = mann_whitney_greater(a, b)
    assert out == mann_whitney_greater(a, b)
    assert out.effect_ci == auc_ci(out.effect_size, 20, 20)
    lo, hi = out.effect_ci
    assert 0.0 < lo < out.effect_size < hi < 1.0


@pytest.mark.parametrize("effect,n_a,n_b", [(1.0, 5, 5), (0.83, 10, 20), (0.5, 3, 4), (0.0, 8, 8), (0.97, 25, 25)])
def test_auc_interval_bounds_solve_newcombes_equation(effect, n_a, n_b):
    lo, hi = auc_ci(effect, n_a, n_b)
    assert 0.0 <= lo <= effect <= hi <= 1.0 and lo < hi
    z, n_star = 1.959963984540054, (n_a + n_b) / 2 - 1

    def excess(t):
        var = t * (1 - t) * (1 + n_star * ((1 - t) / (2 - t) + t / (1 + t))) / (n_a * n_b)
        return (effect - t) ** 2 - z * z * var

    for bound in (lo, hi):
        if 0.0 < bound < 1.0:
            assert excess(bound) == pytest.approx(0.0, abs=1e-12)
    lo_flip, hi_flip = auc_ci(1 - effect, n_b, n_a)  # theta for (b, a) is 1 - theta for (a, b)
    assert (lo_flip, hi_flip) == pytest.approx((1 - hi, 1 - lo), abs=1e-9)


def test_auc_interval_at_separation_narrows_with_more_seeds_and_covers_about_95_percent():
    lows = [auc_ci(1.0, n, n)[0] for n in (3, 5, 10, 20)]
    assert lows == sorted(lows) and lows[0] > 0.0 and lows[-1] < 1.0
    rng = np.random.default_rng(7)
    true = 0.5 + 0.5 * math.erf(0.8 / 2)  # P(A > B) for a normal shift of 0.8 sd
    hits = 0
    for _ in range(1000):
        a, b = rng.normal(0.8, 1, 10), rng.normal(0.0, 1, 10)
        lo, hi = auc_ci(float((a[:, None] > b[None, :]).mean()), 10, 10)
        hits += lo <= true <= hi
    assert 0.92 <= hits / 1000 <= 0.99


def test_outcome_as_dict_and_not_collected_by_pytest():
    out = fisher_greater(4, 5, 1, 5)
    d = out.as_dict()
    assert set(d) == {"test", "statistic", "p_value", "effect_size", "effect_ci", "n"}
    assert d["n"] == (5, 5) and d["p_value"] == out.p_value
    assert TestOutcome.__test__ is False


# ---------------------------------------------------------------- Fisher

def test_fisher_5_of_5_vs_0_of_5_is_one_over_252():
    out = fisher_greater(5, 5, 0, 5)
    assert out.p_value == pytest.approx(1 / 252, rel=1e-12)
    assert out.statistic == math.inf
    assert out.effect_size == 1.0
    assert out.n == (5, 5)


@pytest.mark.parametrize("k_a,n_a,k_b,n_b", [(3, 5, 3, 5), (7, 10, 2, 8), (1, 6, 4, 6)])
def test_fisher_p_matches_hypergeometric_tail(k_a, n_a, k_b, n_b):
    out = fisher_greater(k_a, n_a, k_b, n_b)
    assert out.p_value == pytest.approx(_hypergeom_upper_tail(k_a, n_a, k_b, n_b), rel=1e-9)
    assert out.effect_size == pytest.approx(k_a / n_a - k_b / n_b)


@pytest.mark.parametrize("counts,expected", [
    # Newcombe (1998), Stat. Med. 17:873-890, Table II, method 10.
    ((56, 70, 48, 80), (0.0524, 0.3339)),
    ((9, 10, 3, 10), (0.1705, 0.8090)),
    ((5, 56, 0, 29), (-0.0381, 0.1926)),
    ((0, 10, 0, 20), (-0.1611, 0.2775)),
])
def test_fisher_newcombe_interval_matches_published_values(counts, expected):
    lo, hi = fisher_greater(*counts).effect_ci
    assert lo == pytest.approx(expected[0], abs=6e-5)
    assert hi == pytest.approx(expected[1], abs=6e-5)


# ---------------------------------------------------------------- sign test

def test_sign_test_drops_zeros_and_counts_positives():
    out = sign_test_greater([1.0, 2.0, 0.0, 3.0, -1.0, 4.0])
    assert out.n == (5,)
    assert out.statistic == 4.0
    assert out.p_value == pytest.approx(6 / 32)  # P(X >= 4), X ~ Bin(5, 1/2)
    assert out.effect_size == pytest.approx(0.8)
    assert out.effect_ci == wilson_ci(4, 5)


def test_sign_test_all_positive():
    out = sign_test_greater([0.1] * 5)
    assert out.p_value == pytest.approx(1 / 32)
    assert out.effect_ci[1] == 1.0


# ---------------------------------------------------------------- Wilson

def test_wilson_zero_and_full_successes():
    z2 = Z95 ** 2
    assert wilson_ci(0, 10) == (0.0, pytest.approx(z2 / (10 + z2)))
    assert wilson_ci(10, 10) == (pytest.approx(10 / (10 + z2)), 1.0)
    assert wilson_ci(0, 10)[1] == pytest.approx(0.2775, abs=5e-5)


@pytest.mark.parametrize("k,n,expected", [
    # Newcombe (1998), Stat. Med. 17:857-872, Table I, Wilson score method.
    (81, 263, (0.2553, 0.3662)),
    (15, 148, (0.0624, 0.1605)),
    (1, 29, (0.0061, 0.1718)),
])
def test_wilson_textbook_values(k, n, expected):
    lo, hi = wilson_ci(k, n)
    assert lo == pytest.approx(expected[0], abs=6e-5)
    assert hi == pytest.approx(expected[1], abs=6e-5)


def test_wilson_higher_confidence_is_wider():
    lo95, hi95 = wilson_ci(3, 10)
    lo99, hi99 = wilson_ci(3, 10, confidence=0.99)
    assert lo99 < lo95 < 0.3 < hi95 < hi99


# ---------------------------------------------------------------- bootstrap

def test_bootstrap_is_deterministic_given_seed():
    values = [0.2, 0.5, 0.9, 0.4, 0.7, 0.1, 0.8]
    assert bootstrap_ci(values, seed=5) == bootstrap_ci(values, seed=5)
    assert bootstrap_ci(values, seed=5) != bootstrap_ci(values, seed=6)
    lo, hi = bootstrap_ci(values, np.median, confidence=0.9, n_boot=500, seed=1)
    assert min(values) <= lo < np.median(values) < hi <= max(values)


def test_bootstrap_constant_data_gives_point_interval():
    assert bootstrap_ci([2.5] * 6) == (2.5, 2.5)


def test_bootstrap_mean_interval_close_to_normal_theory():
    values = np.random.default_rng(0).normal(10.0, 2.0, size=200)
    lo, hi = bootstrap_ci(values, seed=0)
    se = values.std(ddof=1) / math.sqrt(values.size)
    assert lo == pytest.approx(values.mean() - Z95 * se, abs=0.15 * se * Z95)
    assert hi == pytest.approx(values.mean() + Z95 * se, abs=0.15 * se * Z95)


# ---------------------------------------------------------------- Holm

def test_holm_worked_example():
    # Sorted: d 0.005*4=0.02, a 0.01*3=0.03, c 0.03*2=0.06, b 0.04*1 -> max(0.06, 0.04).
    adjusted = holm({"a": 0.01, "b": 0.04, "c": 0.03, "d": 0.005})
    assert adjusted == pytest.approx({"a": 0.03, "b": 0.06, "c": 0.06, "d": 0.02})
    assert list(adjusted) == ["a", "b", "c", "d"]


def test_holm_caps_at_one_and_keeps_single_p():
    assert holm({"x": 0.6, "y": 0.7}) == {"x": 1.0, "y": 1.0}
    assert holm({"only": 0.037}) == {"only": 0.037}


def test_holm_ties_get_equal_adjusted_values():
    adjusted = holm({"a": 0.02, "b": 0.02, "c": 0.5})
    assert adjusted["a"] == adjusted["b"] == pytest.approx(0.06)
    assert adjusted["c"] == pytest.approx(0.5)


# ---------------------------------------------------------------- linear fit

def test_linear_fit_recovers_exact_slope_on_noiseless_data():
    x = np.arange(6.0)
    fit = linear_fit(x, -1.5 * x + 4.0)
    assert isinstance(fit, LinearFit)
    assert fit.slope == pytest.approx(-1.5)
    assert fit.intercept == pytest.approx(4.0)
    assert fit.slope_ci == pytest.approx((-1.5, -1.5), abs=1e-9)
    assert fit.r2 == pytest.approx(1.0)
    assert fit.n == 6


def test_linear_fit_constant_y():
    fit = linear_fit([1, 2, 3, 4], [0.1, 0.1, 0.1, 0.1])
    assert (fit.slope, fit.slope_ci, fit.stderr, fit.r2) == (0.0, (0.0, 0.0), 0.0, 0.0)
    assert fit.intercept == 0.1


def test_linear_fit_ci_covers_true_slope_about_95_percent_of_the_time():
    rng = np.random.default_rng(7)
    x = np.linspace(0, 1, 8)
    covered = 0
    for _ in range(400):
        fit = linear_fit(x, 2.0 * x + 1.0 + rng.normal(0, 0.5, x.size))
        covered += fit.slope_ci[0] <= 2.0 <= fit.slope_ci[1]
    assert 0.92 <= covered / 400 <= 0.98


def test_linear_fit_interval_uses_student_t():
    x, y = [0.0, 1.0, 2.0], [0.0, 1.0, 3.0]
    fit = linear_fit(x, y)
    # slope 1.5, residuals (1/6, -1/3, 1/6): s^2 = (1/6) / 1, Sxx = 2; t_{0.975, 1} = 12.7062.
    assert fit.slope == pytest.approx(1.5)
    assert fit.stderr == pytest.approx(math.sqrt(1 / 12))
    assert fit.slope_ci == pytest.approx((1.5 - 12.7062 * math.sqrt(1 / 12),
                                          1.5 + 12.7062 * math.sqrt(1 / 12)), abs=1e-4)


# ---------------------------------------------------------------- critical gap

def test_critical_gap_hole_in_ladder_stops_at_first_failure():
    assert critical_gap({50: (5, 5), 10: (5, 5), 20: (1, 5)}) == (10, (10, 20))


def test_critical_gap_all_solved_is_only_a_lower_bound():
    assert critical_gap({10: (5, 5), 20: (4, 5), 40: (5, 5)}) == (40, (40, None))


def test_critical_gap_none_solved():
    assert critical_gap({10: (0, 5), 20: (0, 5)}) == (None, (None, 10))


def test_critical_gap_threshold_boundary_is_inclusive():
    assert critical_gap({10: (7, 10), 20: (6, 10)}, threshold=0.7) == (10, (10, 20))
    assert critical_gap({10: (4, 5), 20: (3, 5)}) == (10, (10, 20))
    assert critical_gap({10: (5, 5), 20: (4, 5)}, threshold=1.0) == (10, (10, 20))


# ---------------------------------------------------------------- validation

@pytest.mark.parametrize("call,match", [
    (lambda: mann_whitney_greater([], [1.0]), "a needs at least 1"),
    (lambda: mann_whitney_greater([1.0], []), "b needs at least 1"),
    (lambda: mann_whitney_greater([1.0, np.nan], [1.0]), "a must contain only finite"),
    (lambda: mann_whitney_greater([[1.0]], [1.0]), "a must be 1-D"),
    (lambda: mann_whitney_greater(["x"], [1.0]), "a must be a 1-D sequence"),
    (lambda: auc_ci(1.5, 3, 3), r"effect must be a number in \[0, 1\]"),
    (lambda: auc_ci(0.5, 0, 3), "n_a must be >= 1"),
    (lambda: fisher_greater(6, 5, 0, 5), "k_a must be <= n_a"),
    (lambda: fisher_greater(0, 5, 6, 5), "k_b must be <= n_b"),
    (lambda: fisher_greater(1, 0, 0, 5), "n_a must be >= 1"),
    (lambda: fisher_greater(0, 5, 0, 0), "n_b must be >= 1"),
    (lambda: fisher_greater(-1, 5, 0, 5), "k_a must be >= 0"),
    (lambda: fisher_greater(1.5, 5, 0, 5), "k_a must be an integer"),
    (lambda: sign_test_greater([]), "differences needs at least 1"),
    (lambda: sign_test_greater([0.0, 0.0]), "differences must contain at least one non-zero"),
    (lambda: wilson_ci(11, 10), "k must be <= n"),
    (lambda: wilson_ci(0, 0), "n must be >= 1"),
    (lambda: wilson_ci(True, 10), "k must be an integer"),
    (lambda: wilson_ci(1, 10, confidence=1.0), "confidence must be a number in"),
    (lambda: wilson_ci(1, 10, confidence=0.0), "confidence must be a number in"),
    (lambda: bootstrap_ci([]), "values needs at least 1"),
    (lambda: bootstrap_ci([1.0], statistic="mean"), "statistic must be callable"),
    (lambda: bootstrap_ci([1.0, 2.0], statistic=lambda v: np.nan), "statistic must return a finite"),
    (lambda: bootstrap_ci([1.0], confidence=95), "confidence must be a number in"),
    (lambda: bootstrap_ci([1.0], n_boot=2.5), "n_boot must be an integer"),
    (lambda: holm({}), "p_values must not be empty"),
    (lambda: holm([0.1, 0.2]), "p_values must be a mapping"),
    (lambda: holm({"a": 1.2}), r"p_values\['a'\] must be a number in \[0, 1\]"),
    (lambda: holm({"a": float("nan")}), r"p_values\['a'\] must be a number"),
    (lambda: linear_fit([1, 2], [1, 2]), "x needs at least 3"),
    (lambda: linear_fit([1, 2, 3], [1, 2, 3, 4]), "x and y must have the same length"),
    (lambda: linear_fit([1, 1, 1], [1, 2, 3]), "x must contain at least two distinct"),
    (lambda: linear_fit([1, 2, 3], [1, 2, np.inf]), "y must contain only finite"),
    (lambda: linear_fit([1, 2, 3], [1, 2, 3], confidence=-0.1), "confidence must be"),
    (lambda: critical_gap({}), "success must be a non-empty mapping"),
    (lambda: critical_gap({10: (1, 1)}, threshold=0.0), r"threshold must be a number in \(0, 1\]"),
    (lambda: critical_gap({10: (1, 1)}, threshold=1.5), r"threshold must be a number in \(0, 1\]"),
    (lambda: critical_gap({10: (6, 5)}), r"success\[10\] solved must be <= run"),
    (lambda: critical_gap({10: (0, 0)}), r"success\[10\] run must be >= 1"),
    (lambda: critical_gap({10: 5}), r"success\[10\] must be a \(solved, run\) pair"),
    (lambda: critical_gap({-5: (1, 1)}), "success gap must be >= 0"),
    (lambda: critical_gap({2.5: (1, 1)}), "success gap must be an integer"),
])
def test_invalid_input_raises_value_error_naming_the_parameter(call, match):
    with pytest.raises(ValueError, match=match):
        call()
