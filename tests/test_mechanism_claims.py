"""The analysis helpers of the mechanism claims G1, G2 and G7, on synthetic rows: no probing, no training."""

from __future__ import annotations

import math

import pytest
import torch

from suite.claims.mechanism_decay import ACTIVATION_SHARE, _spectral_summary, _split_row, _split_summary
from suite.claims.mechanism_paths import _trained_vs_init


def split_rows(act, pairs):
    return [_split_row(act, seed, slope, linear) for seed, (slope, linear) in enumerate(pairs)]


def test_split_names_the_main_cause_by_the_share_interval():
    tanh = _split_summary(split_rows("rnn-tanh", [(-0.222, -0.212), (-0.244, -0.232), (-0.194, -0.187),
                                                  (-0.225, -0.216), (-0.220, -0.215)]))
    assert tanh["cause"] == "initialisation" and tanh["share_ci"][1] < ACTIVATION_SHARE
    assert tanh["part_mean"] < 0 and tanh["p_value"] == pytest.approx(1 / 32)  # 5 of 5 steeper
    sigmoid = _split_summary(split_rows("rnn-sigmoid", [(-0.82, -0.212), (-0.85, -0.232), (-0.80, -0.187),
                                                        (-0.83, -0.216), (-0.82, -0.215)]))
    assert sigmoid["cause"] == "activation" and sigmoid["share_ci"][0] > ACTIVATION_SHARE
    mixed = _split_summary(split_rows("rnn-tanh", [(-0.2, -0.19), (-0.4, -0.05), (-0.3, -0.2), (-0.2, -0.05)]))
    assert mixed["cause"] == "undecided"


def test_spectral_summary_relates_log10_rho_to_the_measured_rate():
    rows = [{"slope": math.log10(rho) - 0.01, "spectral_radius": rho, "log10_rho": math.log10(rho),
             "log10_sigma_max": 0.05, "beyond_log10_rho": -0.01} for rho in (0.55, 0.6, 0.65)]
    rows[0]["beyond_log10_rho"] = -0.012
    out = _spectral_summary(rows)
    assert out["rho_min"] == 0.55 and out["rho_max"] == 0.65 and out["below_log10_sigma_max"]
    assert out["across_seeds_slope"] == pytest.approx(1.0) and out["across_seeds_r2"] == pytest.approx(1.0)
    assert out["beyond_ci95"][0] < -0.01 < out["beyond_ci95"][1]
    assert 0 < out["predicted_share"] < 1


def test_trained_vs_init_uses_solved_seeds_only():
    init = [{"arm": "lstm", "slope": s} for s in (-0.2, -0.19, -0.21, -0.2)]
    trained = [{"arm": "lstm, trained", "slope": s, "solved": ok}
               for s, ok in ((-0.05, True), (-0.3, False), (-0.04, True), (-0.06, True))]
    row = _trained_vs_init(init, trained)
    assert row["solved"] == "3/4" and row["median_trained"] == pytest.approx(-0.05)
    assert row["median_at_init"] == pytest.approx(-0.2) and row["median_trained_unsolved"] == pytest.approx(-0.3)
    assert row["p_value"] == pytest.approx(1 / 8)  # 3 of 3 solved seeds flatter
    none = _trained_vs_init(init, [t | {"solved": False} for t in trained])
    assert none["solved"] == "0/4" and none["median_trained"] is None and none["p_value"] is None


def test_seeds_trained_together_match_seeds_trained_one_by_one():
    from suite.claims.mechanism_common import train_models
    from suite.probes import build_model
    from suite.specs import ArchSpec, RunSpec, TaskSpec, TrainSpec

    task, arch = TaskSpec("delayed_recall", 5), ArchSpec("rnn-tanh", hidden=16)
    train = TrainSpec(steps=30, batch_size=16, lr=1e-2, eval_every=10, eval_size=64)
    specs = [RunSpec(task=task, arch=arch, train=train, seed=s, device="cpu") for s in (3, 4)]
    together = [build_model(arch, task, s.seed, "cpu") for s in specs]
    alone = [build_model(arch, task, s.seed, "cpu") for s in specs]
    batched = train_models(specs, together)
    single = [train_models([spec], [model])[0] for spec, model in zip(specs, alone)]
    assert batched == single
    for a, b in zip(together, alone):
        for pa, pb in zip(a.parameters(), b.parameters()):
            assert torch.equal(pa, pb)
