"""Learning rate as part of the protocol: the pick rule, the evidence table, and the arms using
the picks (suite/claims/learning_rates.py)."""

from __future__ import annotations

import pytest

from suite.catalogue import CATALOG, trained
from suite.claims import arms
from suite.claims.base import Context
from suite.claims.evaluate import planned_runs, report_runs, slice_runs, tuning_runs
from suite.claims.learning_rates import (
    DEFAULT_LR,
    GRID,
    LEARNING_RATES,
    TUNING_MASTER_SEED,
    RateEvidence,
    disagreements,
    learning_rate,
    pick,
    tuning_rows,
    tuning_specs,
)
from suite.engine.protocol import RunResult
from suite.profiles import CALIBRATED_TRAIN
from suite.specs import SEED_BLOCK


def ev(lr, solved, score, n=5):
    return RateEvidence("x", lr, solved, n, score, None, 1.0, resolution=10.0)


def test_rule_prefers_more_solved_then_lower_score_then_the_default():
    assert pick([ev(1e-3, 2, 100), ev(3e-3, 4, 900), ev(1e-2, 3, 50)]) == 3e-3
    assert pick([ev(1e-3, 5, 400), ev(3e-3, 5, 300), ev(1e-2, 5, 200)]) == 1e-2
    # unsolved everywhere: decided by how far the loss left the plateau
    assert pick([ev(1e-3, 0, 1690), ev(3e-3, 0, 2000), ev(1e-2, 0, 2000)]) == 1e-3
    # scores within the resolution tie, and a tie keeps the default
    assert pick([ev(1e-3, 0, 2000.3), ev(3e-3, 0, 2000.1), ev(1e-2, 0, 2000.2)]) == DEFAULT_LR
    assert pick([ev(1e-3, 5, 50), ev(1e-2, 5, 50)]) == 1e-3
    with pytest.raises(ValueError, match="at least one"):
        pick([])


def result(solved, steps=None, loss=2.0):
    return RunResult(solved=solved, steps_to_solve=steps, steps_run=steps or 1000, final_loss=loss,
                     final_metric=1.0 if solved else 0.1, baseline_loss=2.0, baseline_metric=0.125,
                     diverged=False, diverged_at=None, wall_s=0.0, num_parameters=1, task={})


def test_tuning_rows_show_every_rate_the_pick_and_the_rate_used():
    specs = tuning_specs(32, CALIBRATED_TRAIN, archs=("gru", "lstm"), seeds=2)
    assert len(specs) == 2 * len(GRID) * 2
    assert all(s.seed >= TUNING_MASTER_SEED * SEED_BLOCK for s in specs)  # never an evaluation seed
    outcome = {("gru", 1e-2): result(True, 100, 0.1), ("gru", 3e-3): result(True, 300, 0.1),
               ("lstm", 1e-3): result(False, loss=1.4)}
    results = {s.key: outcome.get((s.arch.name, s.train.lr), result(False)) for s in specs}
    rows = tuning_rows(results, specs)
    assert len(rows) == 2 * len(GRID)
    picked = {r["arch"]: r["lr"] for r in rows if r["rule's pick"]}
    assert picked == {"gru": 1e-2, "lstm": 1e-3}
    used = {r["arch"]: r["lr"] for r in rows if r["used"]}
    assert used == {"gru": learning_rate("gru"), "lstm": learning_rate("lstm")}
    assert (disagreements(rows) == []) == (picked == used)


def test_a_disagreement_between_rule_and_code_is_named():
    rows = [{"arch": "gru", "lr": 1e-3, "rule's pick": "yes", "used": ""}]
    assert disagreements(rows) == [f"gru: rule picks 0.001, claims use {learning_rate('gru'):g}"]


def test_every_arm_trains_at_its_architectures_rate_and_mitigations_inherit_it():
    context = Context(profile="quick")
    for label in trained():
        entry, arm = CATALOG[label], arms.arm(context, label)
        assert arm.train.lr == entry.overrides.get("lr", learning_rate(entry.fields["name"])), label
    assert arms.arm(context, "lstm chrono").train.lr == LEARNING_RATES["lstm"]
    assert arms.arm(context, "rnn-tanh clip=0.25").train.lr == LEARNING_RATES["rnn-tanh"]
    assert learning_rate("some-user-cell") == DEFAULT_LR


def test_the_full_report_trains_its_tuning_and_confirmation_runs_and_quick_does_not():
    quick, full = Context(profile="quick"), Context(profile="full")
    assert tuning_runs(quick) == []
    tuning = tuning_runs(full)
    assert len(tuning) == len(LEARNING_RATES) * len(GRID) * full.budget.tuning_seeds
    everything = {s.key for s in report_runs(full)}
    assert {s.key for s in tuning} <= everything
    assert {s.key for s in planned_runs(full)} <= everything
    confirm_profile, confirm_seed = full.budget.confirmation
    confirm = Context(profile=confirm_profile, master_seed=confirm_seed)
    assert {s.key for s in planned_runs(confirm)} <= everything
    assert len(everything) == len(report_runs(full))  # no run twice
    copy = slice_runs(full)
    assert copy and {s.key for s in copy} <= everything and slice_runs(quick) == []
    assert {s.task.name for s in copy} == {"copy"} and all(s.train.lr == learning_rate(s.arch.name) for s in copy)
    assert all(dict(s.task.options)["loss_window"] == "recall" and s.arch.hidden == 64 for s in copy)


def test_a_task_slice_is_validated():
    from suite.profiles import TaskSlice

    with pytest.raises(ValueError, match="slice task must be one of"):
        TaskSlice("copyy", ("gru",), (5,), 3, 64, CALIBRATED_TRAIN)
    with pytest.raises(ValueError, match="increasing gaps"):
        TaskSlice("copy", ("gru",), (10, 5), 3, 64, CALIBRATED_TRAIN)
