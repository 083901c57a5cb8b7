"""Mechanism claims G7-G9 and L5: gates, skip connections and attention as gradient paths, and the
recency bias that vanishing gradients leave in what a vanilla RNN's output depends on.

G7 and G8 compare decay rates of ||dL/dh_(T-k)|| with the vanilla tanh RNN's; G9 and L5 look at
input saliency ||dy_T/dx_(T-k)|| and the memory horizon (the longest lag whose saliency is still
>= 1 % of its peak; see `suite.probes.memory_horizon`).
"""

from __future__ import annotations

import numpy as np

from ..labels import arm_label
from ..probes import build_model
from ..specs import ArchSpec, RunSpec, TaskSpec, TrainSpec
from ..stats import sign_test_greater
from .base import Claim, Context, graded
from .compare import compare, decided_by
from .mechanism_common import (
    ALPHA,
    FLAT_DECADES,
    RATE_RATIO,
    compare_rates,
    profile_row,
    public,
    saliency_row,
    summarise_arm,
    train_models,
    verdict,
)

# ---------------------------------------------------------------------------------------------- G7

# A trained arm is compared only over its seeds that solved their training task (a network that did
# not learn the task says nothing about what learning does to the gates), and only when at least
# MIN_SOLVED did: with 3 of them against 5 references a one-sided Mann-Whitney U can reach p = 0.018.
MIN_SOLVED = 3


def analyse_g7(ctx: Context):
    cfg = ctx.settings_of("G7")
    probe_task = TaskSpec("delayed_recall", cfg["gap"])
    train_task = TaskSpec("delayed_recall", cfg["train_gap"])
    train = TrainSpec(steps=cfg["steps"], batch_size=32, lr=cfg["lr"], eval_every=25, eval_size=256)
    h = cfg["hidden"]
    seeds = ctx.seeds(cfg["seeds"])
    tanh, lstm, gru = ArchSpec("rnn-tanh", hidden=h), ArchSpec("lstm", hidden=h), ArchSpec("gru", hidden=h)
    lstm_fb = ArchSpec("lstm", hidden=h, forget_bias=1.0)
    plan = [(tanh, None), (lstm, None), (gru, None), (lstm_fb, None),
            (lstm, train), (gru, train), (tanh, train)]
    arms: dict[str, list[dict]] = {}
    for arch, how in plan:
        label = arm_label(arch, trained=how is not None)
        # every arm starts from the weights that training on train_task would start from, so the
        # trained arms are paired with their own initialisation
        arms[label] = [profile_row(arch, probe_task, s, batch=cfg["batch"], device=ctx.device, train=how,
                                   train_task=train_task, label=label) for s in seeds]
    trained = {arm_label(a): arm_label(a, trained=True) for a in (lstm, gru, tanh)}
    for label in trained.values():
        for row in arms[label]:
            row["solved"] = row["training"]["solved"]
    ref = arm_label(tanh)
    solved = {label: [r for r in rows if r.get("solved", True)] for label, rows in arms.items()}
    by_arm = {label: compare_rates(label, ref, solved) for label in arms
              if label != ref and len(solved[label]) >= (MIN_SOLVED if label in trained.values() else 1)}
    comparisons = [by_arm[label].row() if label in by_arm else
                   {"arm": label, "reference": ref, "n": f"{len(solved[label])} solved of {len(arms[label])}",
                    "note": f"fewer than {MIN_SOLVED} seeds solved: not compared"}
                   for label in arms if label != ref]
    carries = {label: label in by_arm and by_arm[label].notes["carries_further"] for label in arms}
    at_default = carries[arm_label(lstm)] and carries[arm_label(gru)]
    fixed = carries[arm_label(lstm_fb)] or carries[trained["lstm"]] or carries[trained["gru"]]
    word = graded(at_default, fixed)
    learned = [_trained_vs_init(arms[init], arms[label]) for init, label in trained.items()]
    default = arms[arm_label(lstm)]

    def ratio(label):
        return f"{by_arm[label].notes['rate_ratio']:.2f}" if label in by_arm else "not compared"

    def after(row):
        if row["median_trained"] is None:
            return f"{row['arm']} solved {row['solved']}"
        return (f"{row['arm']} solved {row['solved']}, median rate {row['median_trained']:.4f} "
                f"(rate ratio {ratio(row['arm'])}; flatter than its own init: sign test p = "
                f"{row['p_value']:.2g})")

    tanh_learned = carries[trained["rnn-tanh"]]
    return verdict(
        "G7", word, [r["slope"] for r in default],
        statistic="LSTM decay rate at PyTorch default init (decades per step), mean over seeds",
        n_counts="initialisations (seeds) per arm, LSTM and rnn-tanh alike",
        **by_arm[arm_label(lstm)].decides("one-sided Mann-Whitney U, H1: LSTM's decay rates exceed (are "
                                          "flatter than) rnn-tanh's"),
        conditions=(
            f"Decay rate relative to rnn-tanh at init (hidden {h}, delayed_recall inputs, T = "
            f"{cfg['gap'] + 2}): LSTM default {ratio(arm_label(lstm))}, GRU default {ratio(arm_label(gru))} "
            f"(forget/update gates near sigmoid(0) = 0.5: about as fast as tanh); LSTM forget bias 1 "
            f"{ratio(arm_label(lstm_fb))}. After <= {cfg['steps']} Adam steps (lr {cfg['lr']:g}) on "
            f"delayed_recall gap {cfg['train_gap']}, probed at T = {cfg['gap'] + 2} and compared over the "
            f"seeds that solved it only (at least {MIN_SOLVED}): " + "; ".join(after(r) for r in learned)
            + ". At their default values the gates do not carry the gradient further than tanh; a forget "
            "bias does. " + ("Learning the task flattens the decay of the ungated tanh control too, so a "
                             "trained arm alone does not isolate the gates." if tanh_learned else
                             "The trained ungated tanh control does not carry the gradient further.")
        ),
        settings={"hidden": h, "probe_task": "delayed_recall", "gap": cfg["gap"], "seeds": seeds,
                  "probe_batch": cfg["batch"], "train": {"task": "delayed_recall", "gap": cfg["train_gap"],
                  "steps": cfg["steps"], "lr": cfg["lr"], "batch": 32, "optimizer": "adam",
                  "early_stop": "when solved"},
                  "trained_arms": f"compared over solved seeds only, at least {MIN_SOLVED}",
                  "rate_ratio_max": RATE_RATIO, "alpha": ALPHA},
        tables={"per_seed": public([r for rows in arms.values() for r in rows]),
                "summary": [summarise_arm(rows) for rows in arms.values()], "comparisons": comparisons,
                "trained_vs_init": learned},
    )


def _trained_vs_init(init: list[dict], trained: list[dict]) -> dict:
    """One trained arm against its own initialisation, over the seeds that solved (paired by seed)."""
    pairs = [(i["slope"], t["slope"]) for i, t in zip(init, trained) if t["solved"]]
    row = {"arm": trained[0]["arm"], "solved": f"{len(pairs)}/{len(trained)}",
           "median_at_init": float(np.median([p[0] for p in pairs])) if pairs else None,
           "median_trained": float(np.median([p[1] for p in pairs])) if pairs else None,
           "median_trained_unsolved": (float(np.median([t["slope"] for t in trained if not t["solved"]]))
                                       if len(pairs) < len(trained) else None)}
    flatter = [t - i for i, t in pairs if t != i]
    test = sign_test_greater(flatter) if flatter else None  # H1: training flattens the decay
    return row | {"test": "one-sided sign test, H1: trained flatter than at init (solved seeds)",
                  "p_value": test.p_value if test else None}


# ---------------------------------------------------------------------------------------------- G8

def analyse_g8(ctx: Context):
    cfg = ctx.settings_of("G8")
    task = TaskSpec("copy", cfg["gap"])
    seeds = ctx.seeds(cfg["seeds"])
    archs = [ArchSpec("rnn-tanh", hidden=cfg["hidden"])]
    archs += [ArchSpec("resrnn", hidden=cfg["hidden"], options={"skip": k}) for k in cfg["skips"]]
    arms = {arm_label(a): [profile_row(a, task, s, batch=cfg["batch"], device=ctx.device) for s in seeds]
            for a in archs}
    ref = arm_label(archs[0])
    comparisons = [compare_rates(label, ref, arms) for label in arms if label != ref]
    carried = [c.notes["carries_further"] for c in comparisons]
    word = graded(all(carried), any(carried))
    growth = [summarise_arm(arms[c.arm])["mean"] for c in comparisons]
    return verdict(
        "G8", word, comparisons[0].arm_values,
        statistic="resrnn (skip 1) decay rate (decades per step), mean over seeds",
        **comparisons[0].decides("one-sided Mann-Whitney U, H1: resrnn's decay rates exceed (are flatter "
                                 "than) rnn-tanh's"),
        conditions=(
            f"tanh cell with a k-step identity skip in time, k in {list(cfg['skips'])}, default init, "
            f"hidden {cfg['hidden']}, T = {cfg['gap'] + 20}: mean rates "
            + ", ".join(f"{g:+.4f}" for g in growth)
            + f" vs rnn-tanh {summarise_arm(arms[ref])['mean']:.4f} decades/step. The identity path "
            "stops the decay; at this init the gradient even grows slowly (a mild explosion), because "
            "the Jacobian is I + diag(tanh') W_hh."
        ),
        settings={"hidden": cfg["hidden"], "task": "copy", "gap": cfg["gap"], "seeds": seeds,
                  "probe_batch": cfg["batch"], "skips": list(cfg["skips"]), "rate_ratio_max": RATE_RATIO,
                  "alpha": ALPHA},
        tables={"per_seed": public([r for rows in arms.values() for r in rows]),
                "summary": [summarise_arm(rows) for rows in arms.values()],
                "comparisons": [c.row() for c in comparisons]},
    )


# ---------------------------------------------------------------------------------------------- G9

TAIL_FROM = 10  # saliency tail: lags k >= 10, past the direct path through the last few steps


def analyse_g9(ctx: Context):
    cfg = ctx.settings_of("G9")
    task = TaskSpec("copy", cfg["gap"])
    seeds = ctx.seeds(cfg["seeds"])
    arms = {}
    for name in ("rnn-tanh", "rnn-attention"):
        arch = ArchSpec(name, hidden=cfg["hidden"])
        arms[name] = [saliency_row(build_model(arch, task, s, ctx.device), task, s, batch=cfg["batch"],
                                   device=ctx.device, label=name, tail_from=TAIL_FROM) for s in seeds]
    attention, tanh = arms["rnn-attention"], arms["rnn-tanh"]
    test = compare("rnn-attention", "rnn-tanh", [r["tail_slope"] for r in attention],
                   [r["tail_slope"] for r in tanh], f"saliency slope over k >= {TAIL_FROM}")
    flat = all(abs(r["tail_drop_decades"]) < FLAT_DECADES for r in attention)
    significant = test.direction == "greater"
    word = graded(flat and significant, significant)
    share = np.mean([r[f"log10_k{TAIL_FROM}"] - r["peak_log10"] for r in attention])
    return verdict(
        "G9", word, [r["tail_slope"] for r in attention],
        statistic=f"slope of log10 ||dy_T/dx_(T-k)|| over k >= {TAIL_FROM} with attention (decades per step)",
        **test.decides("one-sided Mann-Whitney U, H1: attention's saliency slopes exceed (are flatter than) "
                       "rnn-tanh's"),
        conditions=(
            f"At init, hidden {cfg['hidden']}, T = {cfg['gap'] + 20}: with the attention readout the "
            f"saliency of x_(T-k) changes by less than {FLAT_DECADES:g} decade from k = {TAIL_FROM} to "
            f"k = T-1 in every seed: {flat} (largest drop "
            f"{max(abs(r['tail_drop_decades']) for r in attention):.3f}); rnn-tanh falls "
            f"{np.mean([r['tail_drop_decades'] for r in tanh]):.1f} decades over the same lags. Distance "
            f"no longer matters, but at init the attention path is diluted (uniform weights ~1/T): it "
            f"sits {-share:.1f} decades below the peak, so the 1 % memory horizon stays short until "
            "training sharpens the attention weights."
        ),
        settings={"hidden": cfg["hidden"], "task": "copy", "gap": cfg["gap"], "seeds": seeds,
                  "probe_batch": cfg["batch"], "tail": f"k = {TAIL_FROM}..T-1", "flat_decades": FLAT_DECADES,
                  "alpha": ALPHA},
        tables={"per_seed": attention + tanh, "comparisons": [test.row()]},
    )


# ---------------------------------------------------------------------------------------------- L5

def analyse_l5(ctx: Context):
    cfg = ctx.settings_of("L5")
    task = TaskSpec("delayed_recall", cfg["gap"])
    needed = task.build().min_lag
    arch = ArchSpec("rnn-tanh", hidden=cfg["hidden"])
    train = TrainSpec(steps=cfg["steps"], batch_size=32, lr=cfg["lr"], eval_every=50, eval_size=256)
    seeds = ctx.seeds(cfg["seeds"])
    models = [build_model(arch, task, seed, ctx.device) for seed in seeds]
    rows = {"init": [saliency_row(model, task, seed, batch=cfg["batch"], device=ctx.device, label="rnn-tanh at init")
                     for seed, model in zip(seeds, models)], "trained": []}
    specs = [RunSpec(task=task, arch=arch, train=train, seed=seed, device=ctx.device) for seed in seeds]
    for seed, model, training in zip(seeds, models, train_models(specs, models)):
        row = saliency_row(model, task, seed, batch=cfg["batch"], device=ctx.device, label="rnn-tanh trained")
        rows["trained"].append(row | {"training": training})
    # H1: horizon < needed lag; + 0.5 makes a horizon equal to the needed lag count as reaching it
    tests = {when: sign_test_greater([needed - r["memory_horizon"] + 0.5 for r in rs])
             for when, rs in rows.items()}
    holds = {when: t.p_value < ALPHA for when, t in tests.items()}
    word = graded(all(holds.values()), any(holds.values()))
    horizons = [r["memory_horizon"] for r in rows["trained"]]
    relevant = {when: np.mean([r["log10_kmax"] - r["peak_log10"] for r in rs]) for when, rs in rows.items()}
    t = tests["trained"]
    return verdict(
        "L5", word, horizons,
        statistic="memory horizon of rnn-tanh after training (steps; saliency >= 1 % of its peak)",
        n_counts="rnn-tanh networks (seeds), each probed before and after training",
        **decided_by(t, f"one-sided sign test, H1: the horizon is shorter than the lag the task needs ({needed})"),
        conditions=(
            f"rnn-tanh, hidden {cfg['hidden']}, delayed_recall gap {cfg['gap']} (the symbol sits {needed} "
            f"steps before the output): horizon at init "
            f"{np.median([r['memory_horizon'] for r in rows['init']]):.0f} "
            f"steps (median), after {cfg['steps']} Adam steps (lr {cfg['lr']:g}) {np.median(horizons):.0f}; "
            f"the saliency of the symbol's step is {-relevant['init']:.1f} (init) and "
            f"{-relevant['trained']:.1f} (trained) decades below the peak, which lies on the last steps."
        ),
        settings={"arch": "rnn-tanh", "hidden": cfg["hidden"], "task": "delayed_recall", "gap": cfg["gap"],
                  "needed_lag": needed, "seeds": seeds, "probe_batch": cfg["batch"],
                  "train": {"steps": cfg["steps"], "lr": cfg["lr"], "batch": 32, "optimizer": "adam"},
                  "horizon": "largest k with saliency >= 1 % of its peak (batch geometric mean)",
                  "alpha": ALPHA},
        tables={"per_seed": rows["init"] + rows["trained"],
                "tests": [{"when": w, "p_value": t.p_value, "effect_size": t.effect_size}
                          for w, t in tests.items()]},
    )


CLAIMS = [
    Claim(
        id="G7", slug="gated-cells", group="mechanism",
        article="The gates of LSTM and GRU cells let gradients survive over long distances.",
        measured="Decay rate vs rnn-tanh at init (at most half as fast, Mann-Whitney p < 0.05): "
                 "supported if LSTM and GRU manage it at PyTorch default init, conditional if only "
                 "LSTM with forget bias 1 or a trained LSTM/GRU does (trained arms: over the seeds that "
                 f"solved their training task, at least {MIN_SOLVED}).",
        expected="conditional",
        reason="Gers et al. (2000), Jozefowicz et al. (2015): at default init the forget gate sits "
               "near 0.5 and the cell forgets as fast as tanh decays; the forget bias or learning "
               "opens it. Measured: default ~0.9x tanh's rate, forget bias 1 ~0.3x.",
        analyse=analyse_g7,
    ),
    Claim(
        id="G8", slug="skip-connections", group="mechanism",
        article="Skip or residual connections help gradients flow through the network.",
        measured="resrnn (identity skip in time, k = 1 and 4) decays at most half as fast as rnn-tanh "
                 "(one-sided Mann-Whitney p < 0.05) for every skip length.",
        expected="supported",
        reason="Wang & Tian (2016); He et al. (2016): an identity path adds I to every per-step "
               "Jacobian. Measured: no decay (a slow growth) vs -0.2 decades per step.",
        analyse=analyse_g8,
    ),
    Claim(
        id="G9", slug="attention", group="mechanism",
        article="Attention lets the model look at relevant parts of the input directly, reducing the "
                "reliance on long-range propagation.",
        measured=f"With an attention readout, ||dy_T/dx_(T-k)|| changes by < {FLAT_DECADES:g} decade over "
                 f"k = {TAIL_FROM}..T-1 in every seed, and its slope is flatter than rnn-tanh's "
                 "(one-sided Mann-Whitney p < 0.05).",
        expected="supported",
        reason="Bahdanau et al. (2015): a one-hop path from the output to every past state. Measured: "
               "the tail moves by < 0.2 decades at init, vs ~23 decades of decay without attention.",
        analyse=analyse_g9,
    ),
    Claim(
        id="L5", slug="recency-bias", group="mechanism",
        article="Models hit by vanishing gradients give more weight to recent inputs and neglect the "
                "distant past.",
        measured="The memory horizon of rnn-tanh (largest lag with input saliency >= 1 % of its peak) "
                 "is shorter than the lag delayed recall needs, at init and after a short training "
                 "run (one-sided sign tests over seeds, p < 0.05).",
        expected="supported",
        reason="Follows from G1: saliency inherits the exponential decay. Measured: horizons of "
               "about 8-10 steps against a needed lag of 51.",
        analyse=analyse_l5,
    ),
]
