"""Mechanism claims G1-G3: the gradient decays exponentially, what causes it, depth adds to it.

All three are measured at initialisation (no training), with the float64 log-space probes of
`suite.probes`, so that decays far below float32's floor (~1e-45) are measured, not reported as 0.
What causes it is split against a linear control with the same weights: W_hh alone (its spectral
radius rho gives log10(rho) decades per step) vs what the activation adds on top.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ..models import make_model
from ..probes import (
    LinearRNN,
    autograd_profile,
    build_model,
    decay_rate,
    gradient_profile,
    jacobian_bound,
    mean_ci,
    probe_batch,
    spectral_radius,
    step_jacobian_norms,
)
from ..specs import ArchSpec, TaskSpec, derive_seed
from ..stats import linear_fit, sign_test_greater
from .base import Claim, Context, graded
from .compare import decided_by
from .mechanism_common import ALPHA, profile_row, public, summarise_arm, verdict

R2_MIN = 0.9  # a log-linear fit this good is called exponential
EXACT_TOL = 1e-9  # decades per step: the linear W = a*I anchor must come out exact
ANCHOR_A = 0.5
# G2's linear control: the tanh model's weights with the identity activation. The activation is the
# main cause of an activation's decay when its paired part (activation minus linear control) is more
# than ACTIVATION_SHARE of that decay, with the share's interval wholly above it (wholly below: W_hh,
# i.e. the initialisation, is).
LINEAR = "linear control (tanh's weights, no activation)"
ACTIVATION_SHARE = 0.5
SHARE_CONFIDENCE = 1 - ALPHA / 2  # Bonferroni over the two activations' decisions
_CAUSE_WORDS = {"activation": "mostly the activation's", "initialisation": "mostly the initialisation's",
                "undecided": "the main cause is undecided"}


# ---------------------------------------------------------------------------------------------- G1

def analyse_g1(ctx: Context):
    cfg = ctx.settings_of("G1")
    task = TaskSpec("copy", cfg["gap"])
    arch = ArchSpec("rnn-tanh", hidden=cfg["hidden"])
    seeds = ctx.seeds(cfg["seeds"])
    rows = []
    for seed in seeds:
        model = build_model(arch, task, seed, ctx.device)
        row = profile_row(arch, task, seed, batch=cfg["batch"], device=ctx.device, model=model)
        rows.append(row | _spectral(model, row["slope"]))
    slopes = [r["slope"] for r in rows]
    spectral = _spectral_summary(rows)
    mean, ci = mean_ci(slopes)
    sign = sign_test_greater([-s for s in slopes])  # H1: the slopes are negative
    exponential = all(r["r2"] >= R2_MIN for r in rows)

    # The instrument on a known answer: a linear RNN with W = a*I decays by log10(a) per step
    # (a = 1/2 is exact in binary floating point, so the float32 model holds exactly a).
    built = task.build()
    torch.manual_seed(derive_seed("G1-anchor", seeds[0]))
    anchor = LinearRNN(built.input_size, built.output_size, cfg["hidden"], a=ANCHOR_A).to(ctx.device)
    x, _ = probe_batch(task, 4, seeds[0], ctx.device)
    anchor_fit = decay_rate(*_curve(gradient_profile(anchor, x)))
    anchor_error = abs(anchor_fit.slope - math.log10(ANCHOR_A))
    # What a naive float32 backward pass reports on a longer sequence: exact zeros.
    long_task = TaskSpec("copy", cfg["float32_gap"])
    x_long, _ = probe_batch(long_task, 4, seeds[0], ctx.device)
    naive = autograd_profile(build_model(arch, task, seeds[0], ctx.device), x_long, torch.float32)
    zeros = np.flatnonzero(~np.isfinite(naive.log10["total"]).all(axis=0))
    first_zero = int(naive.k[zeros[0]]) if zeros.size else None

    if anchor_error > EXACT_TOL:
        word = "inconclusive"
    elif ci[1] < 0 and sign.p_value < ALPHA:
        word = "supported" if exponential else "conditional"
    elif ci[0] > 0:
        word = "refuted"
    else:
        word = "inconclusive"
    return verdict(
        "G1", word, slopes,
        statistic="decay rate of log10 ||dL/dh_(T-k)|| (decades per step), mean over seeds",
        **decided_by(sign, "one-sided sign test, H1: per-seed decay rates < 0"),
        conditions=(
            f"rnn-tanh, PyTorch default init, hidden {cfg['hidden']}, T = {cfg['gap'] + 20} (copy inputs), "
            f"probe loss u . h_T; every seed's log-linear fit has r2 >= {R2_MIN}: {exponential} "
            f"(min r2 {min(r['r2'] for r in rows):.4f}). The gradient falls by about "
            f"{-mean:.2f} decades per step (it shrinks {10 ** -mean:.2f}-fold per step). Instrument check: "
            f"a linear RNN with W = {ANCHOR_A} I measures {anchor_fit.slope:.12f} vs log10({ANCHOR_A}) = "
            f"{math.log10(ANCHOR_A):.12f}. A plain float32 backward pass returns exact zeros from k = "
            f"{first_zero} on (T = {cfg['float32_gap'] + 20}). What sets the rate: the spectral radius "
            f"rho of W_hh ({spectral['rho_min']:.3f}-{spectral['rho_max']:.3f} over seeds) predicts "
            f"log10(rho) = {spectral['predicted_mean']:.4f} decades per step for the same recurrence "
            f"without tanh; the measured rate lies {spectral['beyond_mean']:+.4f} "
            f"[{spectral['beyond_ci95'][0]:+.4f}, {spectral['beyond_ci95'][1]:+.4f}] decades per step "
            f"beyond it, so log10(rho) accounts for {spectral['predicted_share']:.0%} of the decay "
            "(per seed: table spectral_radius; tanh's own part is split off in G2)."
        ),
        settings={"arch": "rnn-tanh", "init": "default", "hidden": cfg["hidden"], "task": "copy",
                  "gap": cfg["gap"], "T": cfg["gap"] + 20, "seeds": seeds, "probe_batch": cfg["batch"],
                  "loss": "probe (u . h_T)", "fit_window": "k = 1..T", "r2_min": R2_MIN, "alpha": ALPHA},
        tables={
            "per_seed": public(rows),
            "summary": [summarise_arm(rows)],
            "spectral_radius": [spectral],
            "instrument": [
                {"check": f"linear RNN W = {ANCHOR_A} I: measured decay", "value": anchor_fit.slope,
                 "expected": math.log10(ANCHOR_A), "abs_error": anchor_error},
                {"check": "float32 plain autograd: first lag with an exact 0", "value": first_zero,
                 "expected": "none (the true norm is > 0)", "T": cfg["float32_gap"] + 20},
            ],
        },
    )


def _curve(profile, name="total"):
    return profile.k, profile.mean(name)


def _spectral(model, slope: float) -> dict:
    """What W_hh alone predicts for one seed: a linear recurrence decays by log10(rho) per step,
    and sigma_max bounds every per-step Jacobian of a tanh cell, so log10(sigma_max) caps the rate."""
    rho = spectral_radius(model)["h0"]
    sigma = jacobian_bound(model)["h0"] / model.derivative_bound
    return {"spectral_radius": rho, "sigma_max": sigma, "log10_rho": math.log10(rho),
            "log10_sigma_max": math.log10(sigma), "beyond_log10_rho": slope - math.log10(rho)}


def _spectral_summary(rows: list[dict]) -> dict:
    measured = [r["slope"] for r in rows]
    predicted = [r["log10_rho"] for r in rows]
    beyond_mean, beyond_ci = mean_ci([r["beyond_log10_rho"] for r in rows])
    fit = linear_fit(predicted, measured) if len(rows) >= 3 else None
    return {"n": len(rows), "rho_min": min(r["spectral_radius"] for r in rows),
            "rho_max": max(r["spectral_radius"] for r in rows),
            "predicted_mean": float(np.mean(predicted)), "measured_mean": float(np.mean(measured)),
            "beyond_mean": beyond_mean, "beyond_ci95": list(beyond_ci),
            "predicted_share": float(np.mean(predicted) / np.mean(measured)),
            "below_log10_sigma_max": all(r["slope"] <= r["log10_sigma_max"] for r in rows),
            "across_seeds_slope": fit.slope if fit else None, "across_seeds_r2": fit.r2 if fit else None}


# ---------------------------------------------------------------------------------------------- G2

def analyse_g2(ctx: Context):
    cfg = ctx.settings_of("G2")
    task = TaskSpec("copy", cfg["gap"])
    built = task.build()
    seeds = ctx.seeds(cfg["seeds"])
    rows, diffs, split_rows, tanh_range = [], [], [], [math.inf, -math.inf]
    for seed in seeds:
        shared = derive_seed("G2-paired-weights", seed)  # tanh and sigmoid get identical weights
        pair, models = {}, {}
        for act in ("rnn-tanh", "rnn-sigmoid"):
            arch = ArchSpec(act, hidden=cfg["hidden"])
            model = make_model(arch, built.input_size, built.output_size, shared).to(ctx.device)
            models[act] = model
            row = profile_row(arch, task, seed, batch=cfg["batch"], device=ctx.device, model=model)
            pair[act] = row
            rows.append(row)
            if act == "rnn-tanh":
                x, _ = probe_batch(task, cfg["batch"], seed, ctx.device)
                with torch.no_grad():
                    h = model.hidden_sequence(x)
                tanh_range = [min(tanh_range[0], h.min().item()), max(tanh_range[1], h.max().item())]
        same = zip(models["rnn-tanh"].parameters(), models["rnn-sigmoid"].parameters())
        pair["rnn-sigmoid"]["weights_identical_to_tanh"] = all(torch.equal(p, q) for p, q in same)
        control = LinearRNN.twin_of(models["rnn-tanh"])  # the same weights, no activation
        linear = profile_row(ArchSpec("rnn-tanh", hidden=cfg["hidden"]), task, seed, batch=cfg["batch"],
                             device=ctx.device, model=control, label=LINEAR)
        linear["spectral_radius"] = spectral_radius(models["rnn-tanh"])["h0"]
        rows.append(linear)
        split_rows += [_split_row(act, seed, pair[act]["slope"], linear["slope"]) for act in pair]
        diffs.append(pair["rnn-tanh"]["slope"] - pair["rnn-sigmoid"]["slope"])
    sign = sign_test_greater(diffs)  # H1: sigmoid's decay is steeper (tanh slope - sigmoid slope > 0)
    reverse = sign_test_greater([-d for d in diffs])
    split = {act: _split_summary([r for r in split_rows if r["arm"] == act]) for act in ("rnn-tanh", "rnn-sigmoid")}
    cause = {act: part["cause"] for act, part in split.items()}

    # The bound ||dh_t/dh_(t-1)|| <= gamma * sigma_max(W_hh), checked on every measured step.
    jac_task = TaskSpec("copy", cfg["jac_gap"])
    bound_rows = []
    for act in ("rnn-tanh", "rnn-sigmoid"):
        for init, gain in (("default", 1.0), ("orthogonal", 2.0)):
            arch = ArchSpec(act, hidden=cfg["hidden"], init=init, init_gain=gain)
            for seed in seeds[: cfg["jac_seeds"]]:
                model = build_model(arch, jac_task, seed, ctx.device)
                x, _ = probe_batch(jac_task, cfg["jac_batch"], seed, ctx.device)
                steps = range(1, jac_task.build().seq_len + 1, cfg["jac_stride"])
                norms = step_jacobian_norms(model, x, steps).blocks["h0"]
                bound = jacobian_bound(model)["h0"]
                bound_rows.append({"arm": f"{act}, init {init} x{gain:g}", "seed": seed, "bound": bound,
                                   "gamma": model.derivative_bound, "max_norm": float(norms.max()),
                                   "mean_norm": float(norms.mean()), "max_ratio": float(norms.max() / bound),
                                   "measured": int(norms.size)})
    bound_ok = all(r["max_ratio"] <= 1 + 1e-9 for r in bound_rows)

    if not bound_ok or reverse.p_value < ALPHA:
        word = "refuted"
    elif sign.p_value >= ALPHA or "undecided" in cause.values():
        word = "inconclusive"
    elif set(cause.values()) == {"activation"}:
        word = "supported"
    elif set(cause.values()) == {"initialisation"}:
        word = "refuted"  # sigmoid is worse, but W_hh, not the squashing, sets both decays
    else:
        word = "conditional"
    t, sg = split["rnn-tanh"], split["rnn-sigmoid"]
    return verdict(
        "G2", word, [-d for d in diffs],
        statistic="sigmoid minus tanh decay rate (decades per step), paired by identical weights",
        **decided_by(sign, "one-sided sign test on paired differences, H1: sigmoid decays faster"),
        conditions=(
            f"Vanilla RNNs at PyTorch default init, hidden {cfg['hidden']}, T = {cfg['gap'] + 20}; the "
            f"bound gamma * sigma_max(W_hh) (gamma 1 for tanh, 1/4 for sigmoid) held on all "
            f"{sum(r['measured'] for r in bound_rows)} measured per-step Jacobians: {bound_ok} (largest "
            f"norm/bound {max(r['max_ratio'] for r in bound_rows):.4f}). At default init the bound is "
            "nearly attained (pre-activations near 0), at orthogonal x2 saturation keeps the norms far "
            f"below it. tanh states observed in [{tanh_range[0]:.3f}, {tanh_range[1]:.3f}]: tanh squashes "
            "to (-1, 1), not (0, 1) as the article says; sigmoid squashes to (0, 1). What causes the "
            f"decay: a linear RNN with the very same weights decays at {t['linear_mean']:.4f} decades per "
            f"step (W_hh's spectral radius, the initialisation's part); tanh adds {t['part_mean']:+.4f} "
            f"[{t['part_ci95'][0]:+.4f}, {t['part_ci95'][1]:+.4f}] (sign test p = {t['p_value']:.2g}), "
            f"{t['share_mean']:.0%} [{t['share_ci'][0]:.0%}, {t['share_ci'][1]:.0%}] of its decay: "
            f"{_CAUSE_WORDS[t['cause']]}; sigmoid adds {sg['part_mean']:+.4f} "
            f"[{sg['part_ci95'][0]:+.4f}, {sg['part_ci95'][1]:+.4f}] (p = {sg['p_value']:.2g}), "
            f"{sg['share_mean']:.0%} [{sg['share_ci'][0]:.0%}, {sg['share_ci'][1]:.0%}] of its decay: "
            f"{_CAUSE_WORDS[sg['cause']]}. The squashing causes sigmoid's decay, while at this init "
            "tanh's is set by W_hh, not by tanh (share intervals at "
            f"{SHARE_CONFIDENCE:.1%}, Bonferroni over the two activations; the main cause is the part "
            f"whose interval lies wholly on its side of {ACTIVATION_SHARE:.0%})."
        ),
        settings={"hidden": cfg["hidden"], "task": "copy", "gap": cfg["gap"], "seeds": seeds,
                  "probe_batch": cfg["batch"], "pairing": "make_model with one seed for both activations",
                  "linear_control": "the tanh model's W_ih, W_hh and biases with the identity activation",
                  "activation_share_threshold": ACTIVATION_SHARE, "share_confidence": SHARE_CONFIDENCE,
                  "jacobian": {"gap": cfg["jac_gap"], "seeds": seeds[: cfg["jac_seeds"]],
                               "batch": cfg["jac_batch"], "every_kth_step": cfg["jac_stride"],
                               "inits": ["default x1", "orthogonal x2"]}, "alpha": ALPHA},
        tables={"per_seed": public(rows),
                "summary": [summarise_arm([r for r in rows if r["arm"] == a])
                            for a in ("rnn-tanh", "rnn-sigmoid", LINEAR)],
                "decay_split": list(split.values()),
                "decay_split_per_seed": split_rows,
                "jacobian_bound": bound_rows,
                "tanh_range": [{"min": tanh_range[0], "max": tanh_range[1]}]},
    )


def _split_row(act: str, seed: int, slope: float, linear_slope: float) -> dict:
    part = slope - linear_slope
    return {"arm": act, "seed": seed, "decay_rate": slope, "initialisation_part": linear_slope,
            "activation_part": part, "activation_share": part / slope}


def _split_summary(rows: list[dict]) -> dict:
    parts = [r["activation_part"] for r in rows]
    part_mean, part_ci = mean_ci(parts)
    share_mean, share_ci = mean_ci([r["activation_share"] for r in rows], SHARE_CONFIDENCE)
    test = sign_test_greater([-p for p in parts])  # H1: the activation steepens the decay
    if share_ci[0] > ACTIVATION_SHARE:
        cause = "activation"
    elif share_ci[1] < ACTIVATION_SHARE:
        cause = "initialisation"
    else:
        cause = "undecided"
    return {"arm": rows[0]["arm"], "n": len(rows), "decay_mean": float(np.mean([r["decay_rate"] for r in rows])),
            "linear_mean": float(np.mean([r["initialisation_part"] for r in rows])),
            "part_mean": part_mean, "part_ci95": list(part_ci), "test": test.test, "p_value": test.p_value,
            "share_mean": share_mean, "share_ci": list(share_ci), "cause": cause}


# ---------------------------------------------------------------------------------------------- G3

def analyse_g3(ctx: Context):
    cfg = ctx.settings_of("G3")
    task = TaskSpec("copy", cfg["gap"])
    seeds = ctx.seeds(cfg["seeds"])
    rows, depth_slopes, early_slopes, rate_slopes = [], [], [], []
    for seed in seeds:
        at_last, at_first, rates = [], [], []
        for layers in cfg["layers"]:
            arch = ArchSpec("rnn-tanh", hidden=cfg["hidden"], layers=layers)
            row = profile_row(arch, task, seed, batch=cfg["batch"], device=ctx.device)
            first_layer = row.pop("_profile").mean("h0")
            rate = decay_rate(np.arange(first_layer.size), first_layer).slope
            row.update(layers=layers, first_layer_log10_k0=float(first_layer[0]),
                       first_layer_log10_kT=float(first_layer[-1]), first_layer_rate=rate)
            rows.append(row)
            at_last.append(first_layer[0]), at_first.append(first_layer[-1]), rates.append(rate)
        depth_slopes.append(linear_fit(cfg["layers"], at_last).slope)
        early_slopes.append(linear_fit(cfg["layers"], at_first).slope)
        rate_slopes.append(linear_fit(cfg["layers"], rates).slope)
    depth = sign_test_greater([-s for s in depth_slopes])  # H1: fewer decades at k = 0 per layer
    early = sign_test_greater([-s for s in early_slopes])  # H1: fewer decades at k = T per layer
    mean_early = float(np.mean(early_slopes))
    mean_depth, depth_ci = mean_ci(depth_slopes)
    both = depth.p_value < ALPHA and early.p_value < ALPHA
    either = depth.p_value < ALPHA or early.p_value < ALPHA
    word = graded(both, either)
    return verdict(
        "G3", word, early_slopes,
        statistic="change per added layer of log10 ||dL/dh^(1)_0|| (first layer, earliest step), decades",
        **decided_by(early, "one-sided sign test over seeds, H1: the per-layer change is negative"),
        conditions=(
            f"Stacked rnn-tanh, {list(cfg['layers'])} layers, default init, hidden {cfg['hidden']}, "
            f"T = {cfg['gap'] + 20}. Along depth at the last step (k = 0) each layer costs "
            f"{mean_depth:.3f} decades [{depth_ci[0]:.3f}, {depth_ci[1]:.3f}] (sign test p = "
            f"{depth.p_value:.2g}): depth attenuates like a feed-forward net. At the earliest step "
            f"the first layer's gradient changes by {mean_early:.3f} decades per layer (p = "
            f"{early.p_value:.2g}) and the decay rate through time by "
            f"{float(np.mean(rate_slopes)):.4f} decades/step per layer: depth does not steepen the "
            "decay through time, so the claim holds along depth but not for the long-range part."
        ),
        settings={"arch": "rnn-tanh", "layers": list(cfg["layers"]), "hidden": cfg["hidden"], "task": "copy",
                  "gap": cfg["gap"], "seeds": seeds, "probe_batch": cfg["batch"],
                  "measure": "per-seed OLS slope over layers of the first layer's log10 gradient "
                             "at k = 0 and at k = T",
                  "alpha": ALPHA},
        tables={"per_arm_seed": public(rows),
                "per_seed_slopes": [{"seed": s, "depth_slope_k0": d, "depth_slope_kT": e, "rate_slope": r}
                                    for s, d, e, r in zip(seeds, depth_slopes, early_slopes, rate_slopes)]},
    )


CLAIMS = [
    Claim(
        id="G1", slug="exponential-decay", group="mechanism",
        article="Backpropagation through time multiplies one factor per step, so in a vanilla RNN the "
                "gradient reaching a state k steps before the loss shrinks geometrically with k.",
        measured="For rnn-tanh at default init, log10 ||dL/dh_(T-k)|| is linear in k (r2 >= 0.9 for "
                 "every seed) with a negative slope whose 95 % CI over seeds excludes 0 (sign test p < "
                 "0.05); the instrument reproduces log10(a) per step exactly for a linear RNN W = a I.",
        expected="supported",
        reason="Bengio, Simard & Frasconi (1994); Pascanu et al. (2013): a contracting Jacobian "
               "product decays exponentially. Measured: about -0.2 decades per step at hidden 64, "
               "within ~0.015 of log10 of W_hh's spectral radius (~0.6), seed by seed.",
        analyse=analyse_g1,
    ),
    Claim(
        id="G2", slug="sigmoid-vs-tanh", group="mechanism",
        article="Squashing activations cause the shrinking, and sigmoid is worse than tanh (the article "
                "says both squash to (0, 1); tanh's range is (-1, 1)).",
        measured="Every measured per-step Jacobian norm is <= gamma * sigma_max(W_hh) (gamma 1 tanh, 1/4 "
                 "sigmoid), and with identical weights sigmoid's decay is steeper than tanh's in a "
                 "one-sided sign test over seeds (p < 0.05). Against a linear RNN with the same weights, "
                 "the activation adds more than half of sigmoid's decay but less than half of tanh's "
                 "(paired per-seed shares, 97.5 % intervals wholly on either side of 50 %): the squashing "
                 "causes sigmoid's decay, W_hh at its initial scale causes tanh's. Supported if the "
                 "activation is the main cause for both, refuted if for neither.",
        expected="conditional",
        reason="max tanh' = 1, max sigmoid' = 1/4 (Pascanu et al. 2013), so the literature expects "
               "'supported'. Measured: sigmoid about -0.82, tanh -0.22 decades per step with the same "
               "weights, but the linear control already decays at -0.21: at PyTorch's default init "
               "(spectral radius of W_hh about 0.6 at hidden 64) tanh's pre-activations stay near 0, "
               "where tanh' is about 1, so tanh adds only ~4 % of its decay; sigmoid' <= 1/4 adds ~74 %.",
        analyse=analyse_g2,
    ),
    Claim(
        id="G3", slug="deeper-stacks", group="mechanism",
        article="Vanishing gradients are more pronounced in deeper networks with many layers.",
        measured="Per added tanh layer, the first layer's gradient at the earliest step (k = T) falls "
                 "(sign test over seeds, p < 0.05) and so does its gradient at the last step (k = 0); "
                 "supported if both, conditional if only one.",
        expected="conditional",
        reason="Measured (the literature's 'supported' is a hypothesis): each layer costs ~0.25 "
               "decades at k = 0, but the decay rate through time is unchanged and at the earliest step "
               "the first layer's gradient is no smaller (often larger: more paths, and the slowest layer "
               "sets the asymptotic rate). Depth hurts along depth, not through time.",
        analyse=analyse_g3,
    ),
]
