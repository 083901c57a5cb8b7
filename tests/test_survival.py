"""Kaplan-Meier and log-rank wrappers (suite.survival) against cases worked out by hand."""

import math

import pytest
from scipy import stats

from suite.survival import KaplanMeier, kaplan_meier, logrank_longer


def test_km_without_censoring_is_the_empirical_survival():
    km = kaplan_meier([100, 200, 300, 400], [True] * 4)
    assert km.times == (100, 200, 300, 400)
    assert km.survival == pytest.approx((0.75, 0.5, 0.25, 0.0))
    assert (km.n, km.events, km.censored) == (4, 4, 0)
    assert km.median == 200  # S falls to exactly 0.5 there


def test_km_censored_run_stays_at_risk_until_its_last_step():
    # solved at 10, unsolved (censored) at 20, solved at 20, 30; censored at 40.
    # At 20 the censored run is still at risk: S = 4/5 * 3/4 = 0.6; at 30: 0.6 * 1/2 = 0.3
    km = kaplan_meier([10, 20, 20, 30, 40], [True, False, True, True, False])
    assert km.times == (10, 20, 30)
    assert km.survival == pytest.approx((0.8, 0.6, 0.3))
    assert km.median == 30
    assert km.at(5) == 1.0 and km.at(25) == pytest.approx(0.6) and km.at(1000) == pytest.approx(0.3)
    assert km.last == 40 and km.censored == 2


def test_km_median_is_none_when_fewer_than_half_solve():
    # pooled median of the solved runs would say 100; the curve never reaches 0.5
    km = kaplan_meier([100, 1000, 1000, 1000], [True, False, False, False])
    assert km.survival == pytest.approx((0.75,))
    assert km.median is None
    assert km.quantile(0.25) == 100
    assert km.quantile_ci(0.5)[1] is None


def test_km_band_brackets_the_estimate_and_gives_the_median_interval():
    km = kaplan_meier([100, 200, 300, 1000], [True, True, True, False])
    for low, s, high in zip(km.ci_low, km.survival, km.ci_high):
        assert 0.0 <= low <= s <= high <= 1.0
    lower, upper = km.quantile_ci(0.5)
    assert lower == 100 and upper is None  # 4 runs: the upper band never falls to 0.5


def test_km_with_no_solve_is_flat():
    km = kaplan_meier([1000, 1000], [False, False])
    assert km == KaplanMeier((), (), (), (), 2, 0, 1000.0)
    assert km.at(500) == 1.0 and km.median is None


@pytest.mark.parametrize("times, events, match", [
    ([], [], "non-empty"),
    ([1, 2], [True], "one bool"),
    ([1, float("nan")], [True, True], "finite"),
    ([1, -2], [True, True], ">= 0"),
    ([1, 2], [1, 0], "one bool"),
])
def test_km_rejects_bad_input(times, events, match):
    with pytest.raises(ValueError, match=match):
        kaplan_meier(times, events)


def test_quantile_rejects_a_q_outside_0_1():
    with pytest.raises(ValueError, match="q must be"):
        kaplan_meier([1], [True]).quantile(1.0)


def test_logrank_by_hand():
    # a solves at 3 and 4, b at 1 and 2. Observed minus expected for a over the event times
    # 1, 2, 3, 4: 2 - (1/2 + 2/3 + 1 + 1); variance 1/4 + 2/9 (the last two have none).
    res = logrank_longer([3, 4], [True, True], [1, 2], [True, True])
    z = (2 - (0.5 + 2 / 3 + 1 + 1)) / math.sqrt(0.25 + 2 / 9)
    assert res.statistic == pytest.approx(z)
    assert res.p_value == pytest.approx(stats.norm.cdf(z))
    assert res.p_value < 0.05
    assert res.n == (2, 2) and res.events == (2, 2)


def test_logrank_direction_and_censoring():
    slow = ([100, 125, 150, 1025, 1025], [True, True, True, False, False])
    fast = ([50, 75, 75, 100, 100], [True] * 5)
    assert logrank_longer(*slow, *fast).p_value < 0.01
    assert logrank_longer(*fast, *slow).p_value > 0.99


def test_logrank_without_any_solve_or_difference_has_no_evidence():
    none = logrank_longer([1000, 1000], [False, False], [1000], [False])
    same = logrank_longer([100, 100], [True, True], [100, 100], [True, True])
    assert (none.statistic, none.p_value) == (0.0, 1.0)
    assert (same.statistic, same.p_value) == (0.0, 1.0)
