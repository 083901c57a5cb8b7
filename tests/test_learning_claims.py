"""The analysis helpers of the learning and mitigation claims, on synthetic results: no training.

The gap-ladder definitions (plateau, censored steps, outcome score, reach, critical-gap bracket)
are checked on hand-made RunResults, and each verdict rule is driven through its analysis by a fake
store (`fetch` patched to synthesise results from a small table of behaviours).
"""

from __future__ import annotations

import math

import pytest
import torch

from suite.catalogue import trained
from suite.claims import ladders, learning, reach, stability
from suite.claims.arms import arm, exploding_arms
from suite.claims.base import Context
from suite.claims.ladders import (
    Arm,
    ArmOutcome,
    cell_of,
    censored_steps,
    compare_reach,
    critical_text,
    loss_spike,
    outcome_score,
    plateau_length,
    seed_reach,
)
from suite.engine.protocol import EvalPoint, RunResult
from suite.profiles import PROFILES
from suite.specs import ArchSpec, TrainSpec

LN8 = math.log(8)
TRAIN = TrainSpec(steps=1000, eval_every=25)


def result(losses, solved_at=None, *, every=25, diverged=False, train_loss=None) -> RunResult:
    """A RunResult whose eval losses are `losses` at steps 0, every, 2 every, ..."""
    evals = [EvalPoint(i * every, loss, 1.0 if solved_at is not None and i * every >= solved_at else 0.5)
             for i, loss in enumerate(losses)]
    return RunResult(
        solved=solved_at is not None, steps_to_solve=solved_at, steps_run=evals[-1].step,
        final_loss=losses[-1], final_metric=evals[-1].metric, baseline_loss=LN8,
        baseline_metric=1 / 8, diverged=diverged, diverged_at=None, wall_s=0.0, num_parameters=123,
        task={}, evals=evals, train_loss=list(train_loss or [LN8] * (len(losses) - 1)),
    )


# -- one run -------------------------------------------------------------------------------------

def test_plateau_length_is_the_first_eval_below_90_percent_of_the_baseline():
    r = result([LN8, LN8, 0.95 * LN8, 0.85 * LN8, 0.1], solved_at=100)
    assert plateau_length(r) == (75, True)


def test_a_run_that_never_leaves_the_plateau_is_censored_at_its_last_step():
    r = result([LN8] * 41)
    assert plateau_length(r) == (1000, False)


def test_censored_steps_put_every_unsolved_run_after_every_solved_one():
    assert censored_steps(result([LN8, 0.1], solved_at=25), TRAIN) == 25
    assert censored_steps(result([LN8] * 41), TRAIN) == 1025


def test_outcome_score_orders_solved_then_part_learned_then_stuck():
    solved = outcome_score(result([LN8, 0.1], solved_at=900), TRAIN)
    part = outcome_score(result([LN8, 0.5]), TRAIN)
    stuck = outcome_score(result([LN8, LN8]), TRAIN)
    diverged = outcome_score(result([LN8, float("nan")], diverged=True), TRAIN)
    assert solved < part < stuck < diverged
    assert stuck == pytest.approx(2000.0)


def test_loss_spike_is_the_peak_training_loss_over_the_baseline_and_finite_when_diverged():
    assert loss_spike(result([LN8, LN8, LN8], train_loss=[LN8, 3 * LN8])) == pytest.approx(3.0)
    assert loss_spike(result([LN8, LN8], diverged=True)) == ladders.DIVERGED_SPIKE


# -- one arm -------------------------------------------------------------------------------------

def test_seed_reach_stops_at_the_first_failure():
    gaps = (5, 10, 20, 40)
    assert seed_reach([[True, True, False, True], [False, True, True, True], [True] * 4], gaps) == [10, 0, 40]


def test_critical_text_states_the_bracket_or_the_bound():
    assert critical_text(10, 20, (5, 10, 20)) == "[10, 20)"
    assert critical_text(None, 5, (5, 10)) == "< 5 (fails at 5)"
    assert critical_text(20, None, (5, 10, 20)).startswith(">= 20")


def _outcome(label, gaps, solved_by_gap, seeds=5) -> ArmOutcome:
    a = Arm(label, "delayed_recall", ArchSpec(hidden=4), TRAIN, tuple(gaps))
    out = ArmOutcome(a, list(range(seeds)))
    for gap in gaps:
        runs = [result([LN8, 0.1], solved_at=25) if ok else result([LN8] * 41) for ok in solved_by_gap[gap]]
        out.cells[gap] = cell_of(a, gap, runs)
    return out


def test_critical_gap_and_rows_of_an_arm():
    out = _outcome("x", (5, 10, 20), {5: [True] * 5, 10: [True] * 4 + [False], 20: [False] * 5})
    assert out.critical() == (10, (10, 20))
    assert out.reach() == [10, 10, 10, 10, 5]
    row = out.critical_row()
    assert row["bracket"] == "[10, 20)" and row["params"] == 123 and row["ladder"] == [5, 10, 20]
    rows = out.rows()
    assert [r["solved"] for r in rows] == [5, 4, 0] and rows[2]["never_left_plateau"] == 5


def test_compare_uses_only_the_gaps_both_arms_ran():
    long = _outcome("long", (5, 10, 20, 40), {g: [True] * 5 for g in (5, 10, 20, 40)})
    short = _outcome("short", (5, 10), {5: [True] * 5, 10: [True] * 5})
    comp = compare_reach(long, short)
    assert comp.arm_values == comp.reference_values == (10,) * 5
    assert comp.direction == "none"


def test_compare_detects_a_clear_difference_in_both_directions():
    good = _outcome("good", (5, 10, 20), {5: [True] * 5, 10: [True] * 5, 20: [True] * 5})
    bad = _outcome("bad", (5, 10, 20), {5: [True] * 5, 10: [False] * 5, 20: [False] * 5})
    assert compare_reach(good, bad).direction == "greater"
    assert compare_reach(bad, good).direction == "less"
    assert compare_reach(good, bad).greater.p_value < 0.01


# -- the protocol --------------------------------------------------------------------------------

def test_every_catalogued_arm_builds_under_both_profiles():
    for profile in PROFILES:
        ctx = Context(profile=profile)
        for label in trained():
            a = arm(ctx, label)
            assert a.gaps == tuple(sorted(a.gaps)) and a.arch.hidden == PROFILES[profile].hidden
        plain, clipped = exploding_arms(ctx)
        assert plain.arch == clipped.arch and clipped.train.clip is not None and plain.train.clip is None


def test_a_mitigation_that_only_trains_differently_shares_its_initial_weights():
    ctx = Context()
    base, clipped = arm(ctx, "rnn-tanh"), arm(ctx, "rnn-tanh clip=0.25")
    assert base.spec(10, 0).init_seed() == clipped.spec(10, 0).init_seed()
    assert base.spec(10, 0).data_seed() == arm(ctx, "gru").spec(10, 0).data_seed()


def test_the_quick_profile_has_at_least_five_seeds_per_arm():
    assert all(p.seeds >= 5 for p in PROFILES.values())


# -- verdict rules, through a fake store ---------------------------------------------------------

#: (arch name, init, layers, clip, optimizer) -> largest gap its seeds solve (None: none)
WORLD = {
    ("rnn-tanh", "default", 1, None, "adam"): 5,
    ("lstm", "default", 1, None, "adam"): 10,
    ("lstm", "default", 1, None, "adam", 1.0): 10,
    ("lstm", "default", 1, None, "adam", 3.0): 10,
    ("lstm", "default", 1, None, "adam", "chrono"): 10,
    ("gru", "default", 1, None, "adam"): 20,
    ("resrnn", "default", 1, None, "adam"): 160,
    ("rnn-attention", "default", 1, None, "adam"): 320,
    ("rnn-tanh", "orthogonal", 1, None, "adam"): 40,
    ("rnn-tanh", "xavier", 1, None, "adam"): 5,
    ("rnn-tanh", "identity", 1, None, "adam"): 5,
    ("irnn", "default", 1, None, "adam"): 40,
    ("rnn-relu", "default", 1, None, "adam"): 5,
    ("rnn-leakyrelu", "default", 1, None, "adam"): 5,
    ("rnn-prelu", "default", 1, None, "adam"): 5,
    ("rnn-tanh", "default", 1, 0.25, "adam"): 5,
    ("rnn-tanh", "default", 1, None, "sgd"): 5,
    ("rnn-tanh", "default", 1, 0.25, "sgd"): 5,
    ("rnn-relu", "identity", 1, None, "sgd"): None,
    ("rnn-relu", "identity", 1, 1.0, "sgd"): 20,
    ("rnn-tanh", "default", 2, None, "adam"): 10,
    ("rnn-tanh", "default", 4, None, "adam"): 10,
    ("rnn-sigmoid", "default", 1, None, "adam"): None,
    ("rnn-sigmoid", "default", 2, None, "adam"): None,
}


def fake_fetch(world):
    def fetch(context, specs):
        out = {}
        for spec in specs:
            a, t = spec.arch, spec.train
            key = (a.name, a.init, a.layers, t.clip, t.optimizer)
            init = (a.forget_bias,) if a.forget_bias is not None else ("chrono",) if a.options else ()
            limit = world[key + init]
            gap = spec.task.gap
            if limit is not None and gap <= limit:
                # slower at longer gaps, except through attention's direct path
                steps = 25 if a.name == "rnn-attention" else 25 * (1 + gap // 5)
                out[spec.key] = result([LN8, LN8, 0.1][: 2 + (steps > 25)] + [0.1], solved_at=steps)
            else:
                # one-layer sigmoid and the LSTM with forget bias 1 part-learn; the rest stay put
                part = (a.name == "rnn-sigmoid" and a.layers == 1) or a.forget_bias == 1.0
                final = 0.5 * LN8 if part else LN8
                out[spec.key] = result([LN8] * 40 + [final])
        return out
    return fetch


@pytest.fixture
def world(monkeypatch):
    table = dict(WORLD)
    monkeypatch.setattr(ladders, "fetch", fake_fetch(table))
    return table


def test_verdict_rules_on_a_synthetic_world(world):
    ctx = Context()
    assert learning.analyse_l1(ctx).verdict == "supported"
    assert learning.analyse_l2(ctx).verdict == "supported"
    assert learning.analyse_l3(ctx).verdict == "conditional"
    l6 = learning.analyse_l6(ctx)
    assert l6.verdict == "conditional" and "sigmoid" in l6.conditions
    assert reach.analyse_m1(ctx).verdict == "conditional"     # orthogonal, not xavier
    assert reach.analyse_m2(ctx).verdict == "conditional"   # stabilises exploding; vanishing reach equal
    assert reach.analyse_m3(ctx).verdict == "conditional"     # irnn only
    assert reach.analyse_m4(ctx).verdict == "supported"
    assert reach.analyse_m6(ctx).verdict == "supported"
    m5 = reach.analyse_m5(ctx)       # one rung up (2x): significantly short of 4x
    assert m5.verdict == "refuted", m5.conditions
    m7 = reach.analyse_m7(ctx)
    assert m7.verdict == "supported", m7.conditions
    assert "Holm" in m7.conditions and m7.n_counts == "seeds of rnn-attention plus seeds of rnn-tanh"


def test_every_learning_and_mitigation_verdict_says_what_its_n_counts(world):
    ctx = Context()
    for claim in learning.CLAIMS + reach.CLAIMS:
        v = claim.analyse(ctx)
        assert v.n_counts and v.n > 0, claim.id


def test_an_arm_no_better_than_the_baseline_is_inconclusive_and_a_worse_one_refuted(world):
    world[("gru", "default", 1, None, "adam")] = 5
    assert reach.analyse_m6(Context()).verdict == "inconclusive"
    world[("gru", "default", 1, None, "adam")] = None
    assert reach.analyse_m6(Context()).verdict == "refuted"


def test_clipping_that_also_raises_the_vanishing_reach_supports_m2(world):
    world[("rnn-tanh", "default", 1, 0.25, "adam")] = 40   # both halves of the sentence shown
    assert reach.analyse_m2(Context()).verdict == "supported"


def test_clipping_that_raises_the_reach_under_sgd_only_shows_the_vanishing_half(world):
    world[("rnn-tanh", "default", 1, None, "sgd")] = None       # plain SGD solves nothing
    v = reach.analyse_m2(Context())
    assert v.verdict == "supported" and "SGD: P(reach with clip > without) = 1" in v.conditions
    world[("rnn-relu", "identity", 1, 1.0, "sgd")] = None        # and the exploding half fails
    assert reach.analyse_m2(Context()).verdict == "conditional"


def test_m5_is_conditional_on_the_forget_gate_init_that_reaches_well_beyond(world):
    world[("lstm", "default", 1, None, "adam", "chrono")] = 40
    v = reach.analyse_m5(Context())
    assert v.verdict == "conditional" and "lstm chrono" in v.conditions and "Holm" in v.test
    assert v.statistic.startswith("P(reach of lstm chrono")
    world[("lstm", "default", 1, None, "adam")] = 40
    assert reach.analyse_m5(Context()).verdict == "supported"


def test_m5_short_for_some_inits_and_undecided_for_others_is_inconclusive(world):
    world[("lstm", "default", 1, None, "adam", 3.0)] = 20  # 4x tanh's reach: neither above nor below
    assert reach.analyse_m5(Context()).verdict == "inconclusive"


def test_xavier_and_orthogonal_raising_the_reach_support_m1_whatever_identity_does(world):
    world[("rnn-tanh", "xavier", 1, None, "adam")] = 20
    v = reach.analyse_m1(Context())
    assert v.verdict == "supported" and "reported only" in v.conditions


def test_verdicts_carry_tables_settings_and_numbers(world):
    v = reach.analyse_m4(Context())
    assert v.n == 25 and v.p_value is not None and v.settings["step_budget"] == 1000
    assert {"critical_gaps", "success_vs_gap", "comparisons"} <= set(v.tables)
    assert v.to_dict()["tables"]["critical_gaps"][0]["ladder"]


# -- L4's instrument -----------------------------------------------------------------------------

def test_sensitivity_is_zero_without_noise_and_grows_with_it():
    from suite.models import make_model
    from tasks import make_task

    task = make_task("delayed_recall", 5)
    model = make_model(ArchSpec("rnn-tanh", hidden=8), task.input_size, task.output_size, seed=0)
    x, _ = task.sample(32, torch.Generator().manual_seed(0))
    none = stability.sensitivity(model, task, x, 0, input_noise=0.0, weight_noise=0.0, draws=1)
    assert none["input_tv"] == 0.0 and none["weight_tv"] == 0.0
    small = stability.sensitivity(model, task, x, 0, input_noise=0.01, weight_noise=0.01, draws=2)
    large = stability.sensitivity(model, task, x, 0, input_noise=0.5, weight_noise=0.5, draws=2)
    assert 0 < small["input_tv"] < large["input_tv"] and 0 < small["weight_tv"] < large["weight_tv"]


def test_the_budget_dimension_decides_each_stored_run_claim_again_and_skips_retraining_ones(world):
    from suite.claims import CLAIMS
    from suite.claims.evaluate import evaluate_by_budget

    claims = [c for c in CLAIMS if c.id in ("M6", "L4")]
    table = evaluate_by_budget(Context(), (250, 1000), claims)
    assert set(table) == {"M6"} and set(table["M6"]) == {250, 1000}  # L4 retrains: not read by budget
    assert table["M6"][250].settings["step_budget"] == 250 and table["M6"][1000].settings["step_budget"] == 1000
    with pytest.raises(ValueError, match="read_steps must be a positive integer"):
        Context(read_steps=0)
