"""`--expect` judged with statistics (suite/expectations.py), on synthetic measurements: fast, and
each test pins one rule of the module docstring."""

from __future__ import annotations

import json
import math

import pytest

from suite.check import CheckReport, expectation_lines, make_battery, parse_expectation
from suite.expectations import mwu_seeds_needed, sign_seeds_needed
from suite.testing import _default_battery

BATTERY = make_battery("quick", baselines=["rnn-tanh", "lstm", "gru"])
TASK = "delayed_recall"


def decay(*values):
    finite = [v for v in values if math.isfinite(v)]
    mean = sum(values) / len(values)
    return {"value": mean, "ci": [min(finite), max(finite)] if len(finite) == len(values) else None,
            "n": len(values), "per_seed": list(values), "notes": []}


def horizon(values, censored=None):
    censored = censored or [False] * len(values)
    return {"value": sorted(values)[len(values) // 2], "min": min(values), "max": max(values),
            "censored": sum(censored), "n": len(values), "per_seed": list(values), "censored_per_seed": censored}


def gap(reach, censored, success, ladder=(10, 30, 100)):
    return {"value": None, "bracket": None, "lower_bound": False, "ladder": list(ladder),
            "success": {str(g): list(v) for g, v in success.items()}, "reach": reach, "reach_censored": censored}


def judge(text, mine, theirs=None, baseline="rnn-tanh"):
    e = parse_expectation(text, BATTERY)
    measures = {"me": {e.metric: mine}, baseline: {e.metric: theirs} if theirs is not None else {}}
    return e.holds(measures, "me")


# -- against a baseline: Mann-Whitney U on per-seed values ---------------------------------------------

def test_overlapping_intervals_pass_when_every_seed_is_ahead():
    # the Student-t intervals over 3 seeds overlap ([-0.14, -0.08] and [-0.51, 0.05]), yet every seed of
    # the arm is ahead of every baseline seed: 3 vs 3 at complete separation, p = 1/20
    r = judge("decay>rnn-tanh", decay(-0.10, -0.11, -0.125), decay(-0.13, -0.20, -0.35))
    assert r["passed"] and r["verdict"] == "holds" and r["p_value"] == pytest.approx(0.05)
    assert r["test"].startswith("one-sided Mann-Whitney U on per-seed decay") and r["n"] == [3, 3]
    assert r["effect_size"] == 1.0 and r["effect_ci"][0] < 1.0  # Newcombe: no collapse at separation


def test_a_better_mean_alone_does_not_pass():
    # the arm's mean is higher (one lucky seed), but its seeds interleave with the baseline's
    r = judge("decay>rnn-tanh", decay(-0.01, -0.20, -0.22, -0.24), decay(-0.19, -0.21, -0.23, -0.25))
    assert r["measured"] > r["target_value"] and not r["passed"] and r["verdict"] == "does not hold"
    assert r["p_value"] > 0.05 and 0.5 < r["effect_size"] < 1


def test_less_and_greater_take_their_direction_from_the_op():
    mine, theirs = decay(-0.5, -0.6, -0.7), decay(-0.1, -0.2, -0.3)
    assert judge("decay<rnn-tanh", mine, theirs)["passed"] and judge("decay<=rnn-tanh", mine, theirs)["passed"]
    assert not judge("decay>rnn-tanh", mine, theirs)["passed"]
    assert "H1: arm < rnn-tanh" in judge("decay<rnn-tanh", mine, theirs)["test"]


def test_too_few_seeds_against_a_baseline_are_not_decided_and_fail():
    r = judge("decay>rnn-tanh", decay(-0.1, -0.12), decay(-0.5, -0.6))  # 1/6 is the best 2 vs 2 can do
    assert not r["passed"] and r["verdict"].startswith("not decided (n too small: 2 vs 2 seeds")
    assert r["seeds_needed"] == 3 and "needs >= 3 seeds per side" in r["verdict"] and r["p_value"] is None
    assert (mwu_seeds_needed(), mwu_seeds_needed(two_sided=True)) == (3, 4)


def test_identical_brackets_pass_neither_greater_nor_greater_or_equal():
    success = {10: (3, 3), 30: (3, 3), 100: (0, 3)}
    same = gap([30, 30, 30], [False] * 3, success)
    for op in (">", ">=", "<", "<="):
        r = judge(f"critical_gap{op}gru", same, same, "gru")
        assert not r["passed"] and r["verdict"] == "does not hold" and r["p_value"] == 1.0, op
        assert "per-seed reach" in r["test"]
    # == is "no difference detected", and only where the seeds could have detected one
    assert judge("critical_gap==gru", same, same, "gru")["verdict"].startswith("not decided (n too small")
    four = gap([30] * 4, [False] * 4, {10: (4, 4), 30: (4, 4), 100: (0, 4)})
    assert judge("critical_gap==gru", four, four, "gru")["passed"]
    assert judge("critical_gap!=gru", four, four, "gru")["verdict"] == "does not hold"


def test_identical_brackets_pass_greater_or_equal_when_the_reaches_say_so():
    # both brackets are [30, 100) (100 solved by 4/6 < 80 %), but 4 of the arm's seeds reach further
    # (censored at 100: the arm stopped climbing there), none of the baseline's
    ladder = (10, 30, 100, 300)
    mine = gap([100] * 4 + [30] * 2, [True] * 4 + [False] * 2, {10: (6, 6), 30: (6, 6), 100: (4, 6)}, ladder)
    theirs = gap([30] * 6, [False] * 6, {10: (6, 6), 30: (6, 6), 100: (0, 6)}, ladder)
    r = judge("critical_gap>=gru", mine, theirs, "gru")
    assert r["passed"] and r["p_value"] == pytest.approx(28 / 924) and r["censored"] == [4, 0]
    assert not judge("critical_gap<=gru", mine, theirs, "gru")["passed"]


def test_censored_values_count_where_they_are_least_favourable():
    # horizons at the probe's longest lag (60) are censored: the true horizon is >= 60
    saturated = horizon([60, 60, 60, 60], [True] * 4)
    r = judge("horizon>rnn-tanh", saturated, saturated)
    assert r["verdict"] == "does not hold" and not judge("horizon<rnn-tanh", saturated, saturated)["passed"]
    assert judge("horizon==rnn-tanh", saturated, saturated)["passed"]  # no difference can be detected
    assert judge("horizon>rnn-tanh", saturated, horizon([5, 8, 9, 12]))["passed"]  # censored above exact ones
    # a reach censored because its architecture stopped climbing may lie anywhere above: "less" cannot use it
    stopped = gap([10, 10, 10], [True] * 3, {10: (1, 3)})
    exact = gap([30, 30, 30], [False] * 3, {10: (3, 3), 30: (3, 3), 100: (0, 3)})
    assert not judge("critical_gap<lstm", stopped, exact, "lstm")["passed"]
    assert judge("critical_gap<lstm", gap([10] * 3, [False] * 3, {10: (3, 3), 30: (0, 3)}), exact, "lstm")["passed"]


def test_a_zero_gradient_ranks_below_every_decay():
    r = judge("decay<rnn-tanh", decay(-math.inf, -math.inf, -math.inf), decay(-0.3, -0.4, -0.5))
    assert r["passed"] and r["p_value"] == pytest.approx(0.05)
    assert not judge("decay>rnn-tanh", decay(-math.inf, -math.inf, -0.9), decay(-0.3, -0.4, -0.5))["passed"]


# -- against a number -----------------------------------------------------------------------------------

def test_decay_against_a_number_uses_the_one_sided_t_bound_of_the_mean():
    r = judge("decay>-0.2", decay(-0.10, -0.12, -0.14))
    assert r["passed"] and r["interval"][0] > -0.2 and r["interval"][1] == math.inf and r["p_value"] < 0.05
    noisy = judge("decay>-0.2", decay(-0.05, -0.10, -0.30))  # mean -0.15 > -0.2, lower bound is not
    assert noisy["measured"] > -0.2 and noisy["verdict"] == "does not hold" and noisy["interval"][0] < -0.2
    assert judge("decay<-0.05", decay(-0.10, -0.12, -0.14))["passed"]
    assert judge("decay==-0.15", decay(-0.05, -0.10, -0.30))["passed"]  # inside the two-sided interval
    assert judge("decay!=-0.15", decay(-0.05, -0.10, -0.30))["verdict"] == "does not hold"
    assert judge("decay>-1000", decay(-0.1, -0.2))["passed"]  # 2 seeds suffice for a far-away number


def test_all_seeds_equal_make_a_point_interval():
    assert judge("decay>=-0.25", decay(-0.25, -0.25, -0.25))["passed"]
    assert judge("decay>-0.25", decay(-0.25, -0.25, -0.25))["verdict"] == "does not hold"
    assert judge("decay>-0.5", decay(-0.25, -0.25, -0.25))["p_value"] == 0.0


def test_a_zero_gradient_seed_hands_the_decay_to_the_sign_test_on_the_median():
    r = judge("decay>-1000", decay(*[-math.inf] * 5))
    assert r["verdict"] == "does not hold" and "sign test" in r["test"] and "-inf" in r["test"]
    assert judge("decay<-0.01", decay(*[-math.inf] * 5))["passed"]
    assert judge("decay>-1000", decay(-math.inf, -math.inf))["verdict"].startswith("not decided (n too small")
    mixed = judge("decay>-1", decay(-math.inf, -0.1, -0.1, -0.2, -0.1, -0.3))  # 5 of 6 above: p = 7/64
    assert mixed["verdict"] == "does not hold" and mixed["seeds_on_side"] == 5


def test_horizon_against_a_number_is_a_sign_test_that_needs_five_seeds():
    assert (sign_seeds_needed(), sign_seeds_needed(two_sided=True)) == (5, 6)
    small = judge("horizon>=0", horizon([0, 0, 0, 0]))
    assert small["verdict"] == "not decided (n too small: 4 seeds cannot reach p <= 0.05; needs >= 5)"
    assert small["seeds_needed"] == 5 and not small["passed"]
    r = judge("horizon>=0", horizon([0] * 5))
    assert r["passed"] and r["p_value"] == pytest.approx(1 / 32) and r["effect_size"] == 1.0
    assert judge("horizon>0", horizon([0] * 5))["verdict"] == "does not hold"


def test_a_censored_horizon_is_never_below_a_number():
    censored = horizon([60] * 5, [True] * 5)
    assert judge("horizon>=50", censored)["passed"]
    assert judge("horizon<200", censored)["verdict"] == "does not hold"  # its true value may exceed 200
    assert judge("horizon<200", horizon([60] * 5))["passed"]


@pytest.mark.parametrize("text,verdict", [
    ("critical_gap>=30", "holds"), ("critical_gap>10", "holds"), ("critical_gap>=100", "does not hold"),
    ("critical_gap<100", "holds"), ("critical_gap<=99", "holds"), ("critical_gap<30", "does not hold"),
    ("critical_gap==50", "holds"), ("critical_gap!=50", "does not hold"), ("critical_gap!=100", "holds"),
    ("critical_gap>=50", "not decided (the bracket [30, 100) straddles 50: a rung between would decide)"),
])
def test_critical_gap_against_a_number_reads_the_bracket(text, verdict):
    r = judge(text, gap([30] * 3, [False] * 3, {10: (3, 3), 30: (3, 3), 100: (1, 3)}))
    assert r["verdict"] == verdict and r["passed"] == (verdict == "holds")
    assert r["bracket"] == [30, 100] and r["p_value"] is None and "no test" in r["test"]
    assert r["effect_size"] == pytest.approx(1 / 3)  # how sure the failure that closes the bracket is
    assert r["effect"].startswith("success rate at the first failed rung 100")


def test_critical_gap_at_the_ladder_top_or_below_the_first_rung():
    top = gap([100] * 3, [True] * 3, {10: (3, 3), 30: (3, 3), 100: (3, 3)})
    assert judge("critical_gap>=100", top)["passed"]
    assert judge("critical_gap<1000", top)["verdict"].endswith("a longer ladder would decide)")
    below = gap([0] * 3, [False] * 3, {10: (1, 3)})
    assert judge("critical_gap<10", below)["passed"] and judge("critical_gap>=10", below)["verdict"] == "does not hold"


def test_missing_per_seed_values_fail_as_not_measured():
    old = {"value": 12.0, "min": 10, "max": 14, "censored": 0, "n": 3}  # a probe cached before per-seed horizons
    r = judge("horizon>=5", old)
    assert not r["passed"] and r["verdict"].startswith("not decided (not measured")
    assert judge("decay>rnn-tanh", decay(-0.1, -0.1, -0.1), None)["verdict"].startswith("not decided (not measured")


# -- reports and determinism -------------------------------------------------------------------------------

def test_the_json_and_text_report_name_the_deciding_test():
    battery = make_battery("quick", baselines=["rnn-tanh"])
    measures = {"me": {f"decay.{TASK}": decay(-0.1, -0.12, -0.14), f"horizon.{TASK}": horizon([9, 10, 11])},
                "rnn-tanh": {f"decay.{TASK}": decay(-0.3, -0.4, -0.5), f"horizon.{TASK}": horizon([3, 4, 5])}}
    texts = ["decay>rnn-tanh", "horizon>=5", "decay>-1"]
    report = CheckReport("me", "me", battery, [], measures=measures,
                         expectations=[parse_expectation(t, battery).holds(measures, "me") for t in texts])
    data = json.loads(json.dumps(report.to_dict()))
    first, second = data["expectations"][:2]
    assert {"test", "p_value", "effect", "effect_size", "effect_ci", "n", "verdict", "seeds_needed",
            "alpha", "passed"} <= set(first)
    assert first["verdict"] == "holds" and first["n"] == [3, 3] and first["p_value"] == pytest.approx(0.05)
    assert second["verdict"].startswith("not decided (n too small") and data["exit_code"] == 1
    assert data["expectations"][2]["effect_ci"][1] is None  # a one-sided bound: unbounded above
    assert "decides it at p <= 0.05" in data["rule"]
    text = report.render()
    assert "PASS decay>rnn-tanh: holds" in text and "one-sided Mann-Whitney U on per-seed decay" in text
    assert "FAIL horizon>=5: not decided (n too small: 3 seeds cannot reach p <= 0.05; needs >= 5)" in text
    assert "n 3 vs 3" in text and "p = 0.05" in text


def test_judging_is_deterministic():
    mine, theirs = decay(-0.1, -0.2, -0.3, -0.15), decay(-0.2, -0.25, -0.35, -0.4)
    assert judge("decay>rnn-tanh", mine, theirs) == judge("decay>rnn-tanh", mine, theirs)
    assert expectation_lines(judge("decay>rnn-tanh", mine, theirs))[1].startswith("       one-sided Mann-Whitney")


def test_the_default_pytest_battery_has_the_seeds_its_tests_need():
    assert _default_battery(["decay>-0.05"]).probe_seeds == make_battery("quick").probe_seeds
    assert _default_battery(["horizon>=50"]).probe_seeds == 5
    assert _default_battery(["decay==rnn-tanh"]).probe_seeds == 4
    assert _default_battery(["critical_gap!=lstm"]).seeds == 4


def test_a_battery_too_small_to_decide_is_named_before_anything_runs():
    quick = make_battery("quick")  # 3 probe seeds, 3 training seeds
    assert parse_expectation("horizon>=50", quick).too_few_seeds(quick) == (
        "horizon>=50 cannot be decided with 3 seeds: its test needs >= 5 (--probe-seeds 5); "
        "it will fail as not decided")
    assert "(--seeds 4)" in parse_expectation("critical_gap==lstm", quick).too_few_seeds(quick)
    assert parse_expectation("decay>lstm", quick).too_few_seeds(quick) is None
