"""L4: are networks that suffer vanishing gradients unstable? Measured, not assumed.

The article says the models become unstable: tiny changes of inputs or parameters change their
predictions a lot. Two readings are measured, vanilla (rnn-tanh) against gated (lstm, gru), on
delayed recall with the same seeds:

* sensitivity of a trained network, at a long gap. The gap is the longest of rnn-tanh's ladder at
  which at least `MIN_SOLVED` (half) of its stored seeds solved: the longest gap with enough trained
  vanilla networks (quick, master seed 0: gap 20; gap 5, where every architecture solves, is no
  vanishing regime). Per arm, the first `NETS` seeds that solved there are retrained exactly as
  their stored runs (same specs, batched: the store cannot hold weights; training is
  deterministic); a gated arm none of whose seeds solved there is left out and named. Then, on
  256 held-out sequences, the read-out distribution is compared with the one under Gaussian input
  noise of std s on the one-hot inputs and Gaussian weight noise of std s times each parameter
  tensor's RMS, for each s of the sweep `NOISE_LEVELS` (0.3 %, 1 %, 3 %, 10 %), `NOISE_DRAWS`
  draws each. Per network and level: the mean total-variation distance between the two
  distributions (0: none, 1: disjoint) and the fraction of predictions that flip. The curve over
  the sweep is reported per arm.
* spread of outcomes across seeds, from the gap ladder: per arm and gap, the success rate with its
  Wilson interval, its Bernoulli spread sqrt(p (1 - p)) (0: every seed agrees, 0.5: an even split)
  and the quartiles of the steps to solve read off the Kaplan-Meier curve (unsolved runs censored).

"Tiny" is the sweep's levels up to `TINY` (1 %); "a lot" is `LOT`: 5 % of predictions flipping, or
a mean TV distance of 0.05. Verdict, from the sensitivity reading: refuted when, at every tiny
level, the vanilla networks' upper 95 % bootstrap bounds of the mean flip rate and mean TV distance
are below `LOT` under input and under weight noise; supported when a lower bound is at or above
`LOT` at some tiny level and the vanilla networks are more sensitive than the gated ones there
(one-sided Mann-Whitney, p < 0.05); inconclusive otherwise. The seed spread is reported beside it:
it is the other reading of "unstable", and it answers a different question (does the outcome of
training depend on the seed?), not the article's tiny perturbations.
"""

from __future__ import annotations

import copy

import numpy as np
import torch

from .. import stats
from ..models import make_model
from ..specs import derive_seed
from .arms import arm, settings
from .base import Claim, Context, Verdict
from .ladders import ALPHA, all_specs, outcomes
from .mechanism_common import train_runs

VANILLA = ("rnn-tanh",)
GATED = ("lstm", "gru")
#: noise std on the one-hot inputs, and on the weights relative to each parameter tensor's RMS
NOISE_LEVELS = (0.003, 0.01, 0.03, 0.1)
TINY = 0.01             # the levels up to this one are the article's "tiny" perturbations
INPUT_NOISE = WEIGHT_NOISE = TINY   # sensitivity()'s defaults
MIN_SOLVED = 0.5        # the sensitivity gap: the longest at which >= half of rnn-tanh's seeds solved
NETS = 5                # solved networks retrained per arm (the retraining is L4's whole cost)
NOISE_DRAWS = 4
PROBE_SIZE = 256
LOT = 0.05              # "a lot": 5 % of predictions flip, or a mean TV distance of 0.05


def _arms(context: Context):
    return [arm(context, label) for label in VANILLA + GATED]


def runs_l4(context: Context):
    return all_specs(_arms(context), context)


def _tv(p: torch.Tensor, q: torch.Tensor) -> float:
    return float(0.5 * (p - q).abs().sum(-1).mean())


@torch.no_grad()
def sensitivity(model, task, x, seed: int, *, input_noise: float = INPUT_NOISE,
                weight_noise: float = WEIGHT_NOISE, draws: int = NOISE_DRAWS) -> dict:
    """Mean TV distance and flip rate of the read-out distribution under input / weight noise."""
    gen = torch.Generator().manual_seed(derive_seed("l4-noise", seed))
    model.eval()
    pos = task.output_positions

    def dist(net, inputs):
        return torch.softmax(net(inputs, pos)[:, -1].double(), dim=-1)

    clean = dist(model, x)
    out = {"input_tv": [], "input_flip": [], "weight_tv": [], "weight_flip": []}
    for _ in range(draws):
        noise = torch.randn(x.shape, generator=gen).to(x.device)
        noisy = dist(model, x + input_noise * noise)
        out["input_tv"].append(_tv(noisy, clean))
        out["input_flip"].append(float((noisy.argmax(-1) != clean.argmax(-1)).double().mean()))
        perturbed = copy.deepcopy(model)
        for p in perturbed.parameters():
            rms = p.detach().pow(2).mean().sqrt()
            p.add_(weight_noise * rms * torch.randn(p.shape, generator=gen).to(p.device))
        noisy = dist(perturbed, x)
        out["weight_tv"].append(_tv(noisy, clean))
        out["weight_flip"].append(float((noisy.argmax(-1) != clean.argmax(-1)).double().mean()))
    return {k: float(np.mean(v)) for k, v in out.items()}


def sensitivity_gap(vanilla) -> int:
    """The longest gap of the vanilla arm's ladder at which >= MIN_SOLVED of its seeds solved (its
    first gap when none qualifies)."""
    good = [g for g, c in vanilla.cells.items() if c.rate >= MIN_SOLVED]
    return max(good) if good else vanilla.arm.gaps[0]


def _retrain(specs) -> list:
    """Models trained exactly as their stored runs, with their results (batched where the spec's
    trainer stacks: a member's numbers do not depend on its batch-mates)."""
    task = specs[0].task.build()
    models = [make_model(s.arch, task.input_size, task.output_size, s.init_seed()) for s in specs]
    return list(zip(models, train_runs(specs, models)))


def _sensitivity_rows(context: Context, out, gap: int) -> list[dict]:
    cell = out.cells[gap]
    seeds = [seed for seed, ok in zip(out.seeds, cell.solved) if ok][:NETS]
    if not seeds:
        return []
    specs = [out.arm.spec(gap, seed, context.device) for seed in seeds]
    task = specs[0].task.build()
    x, _ = task.sample(PROBE_SIZE, torch.Generator().manual_seed(derive_seed("l4-probe-data", specs[0].task)),
                       context.device)
    rows = []
    for seed, (model, result) in zip(seeds, _retrain(specs)):
        row = {"arm": out.arm.label, "seed": seed, "gap": gap, "solved": result.solved,
               "steps": result.steps_to_solve, "final_loss": result.final_loss}
        for level in NOISE_LEVELS:
            measured = sensitivity(model, task, x, seed, input_noise=level, weight_noise=level)
            row.update({f"{k}@{level:g}": v for k, v in measured.items()})
        rows.append(row)
    return rows


def _spread(outs) -> list[dict]:
    rows = []
    for (_task, label), out in outs.items():
        for gap, cell in out.cells.items():
            km = cell.survival()
            lo, hi = stats.wilson_ci(cell.k, cell.n)
            rows.append({"arm": label, "gap": gap, "solved": f"{cell.k}/{cell.n}", "rate_ci": [lo, hi],
                         "split": 0 < cell.k < cell.n,
                         "outcome_sd": round(float(np.sqrt(cell.rate * (1 - cell.rate))), 3),
                         "steps_to_25pct": km.quantile(0.25), "km_median_steps": km.median,
                         "steps_to_75pct": km.quantile(0.75)})
    return rows


MEASURES = ("input_tv", "input_flip", "weight_tv", "weight_flip")


def _curve(vanilla, gated, context: Context) -> tuple[list[dict], dict]:
    """Per noise level and measure: vanilla mean with its bootstrap CI, gated mean, the tests."""
    rows, tests = [], {}
    for level in NOISE_LEVELS:
        for kind in MEASURES:
            key = f"{kind}@{level:g}"
            v, g = [r[key] for r in vanilla], [r[key] for r in gated]
            ci = stats.bootstrap_ci(v, seed=context.master_seed)
            row = {"noise": level, "measure": kind, "vanilla_mean": float(np.mean(v)), "vanilla_ci": list(ci)}
            if g:
                more, less = stats.mann_whitney_greater(v, g), stats.mann_whitney_greater(g, v)
                tests[key] = (ci, more, less)
                row |= {"gated_mean": float(np.mean(g)), "p_vanilla_more": more.p_value,
                        "p_gated_more": less.p_value, "P(vanilla>gated)": more.effect_size}
            else:
                tests[key] = (ci, None, None)
            rows.append(row)
    return rows, tests


def analyse_l4(context: Context) -> Verdict:
    arms = _arms(context)
    outs = outcomes(context, arms)  # the stored runs: which seeds solved, and the seed spread
    vanilla_out = outs[(arms[0].task, VANILLA[0])]
    gap = sensitivity_gap(vanilla_out)
    by_arm = {a.label: _sensitivity_rows(context, outs[(a.task, a.label)], gap) for a in arms}
    rows = [r for label in VANILLA + GATED for r in by_arm[label] if r["solved"]]
    vanilla = [r for r in rows if r["arm"] in VANILLA]
    gated = [r for r in rows if r["arm"] in GATED]
    absent = [label for label in GATED if not by_arm[label]]
    curve, tests = _curve(vanilla, gated, context)
    tiny = [f"{kind}@{level:g}" for level in NOISE_LEVELS if level <= TINY for kind in MEASURES]
    small = all(tests[k][0][1] < LOT for k in tiny)
    large = [k for k in tiny if tests[k][0][0] >= LOT and tests[k][1] is not None and tests[k][1].p_value < ALPHA]
    more = [k for k in tiny if tests[k][1] is not None and tests[k][1].p_value < ALPHA]
    less = [k for k in tiny if tests[k][2] is not None and tests[k][2].p_value < ALPHA]
    spread = _spread(outs)
    splits = {label: [r["gap"] for r in spread if r["arm"] == label and r["split"]] for label in VANILLA + GATED}
    worst = {level: round(max(r["vanilla_mean"] for r in curve if r["noise"] == level and r["measure"] in
                              ("input_flip", "weight_flip")), 4) for level in NOISE_LEVELS}
    compare_text = (f"vanilla more sensitive than gated under {more or 'none'}, less under {less or 'none'} "
                    f"(one-sided Mann-Whitney, p < {ALPHA}; gated: "
                    f"{', '.join(g for g in GATED if g not in absent)} networks"
                    + (f"; {', '.join(absent)} solved no seed at gap {gap}" if absent else "") + ")")
    spread_text = (f"seed spread, the other reading of 'unstable': the outcome splits (some seeds solve, some "
                   f"not) at gaps {splits}; per arm and gap the rate, sqrt(p(1-p)) and Kaplan-Meier "
                   f"quartiles of the steps to solve are in the spread table")
    if small:
        verdict = "refuted"
        cond = (f"at gap {gap}, tiny perturbations (noise <= {TINY:g}) do not change trained rnn-tanh "
                f"networks' predictions a lot: every upper 95 % bound is below {LOT:g} (flip rate and TV "
                f"distance, input and weight noise); vanilla mean flip rate, the larger of input and weight "
                f"noise, per noise level: {worst}; {compare_text}. Instability in training (exploding "
                f"gradients) is M2's subject. {spread_text}")
    elif large:
        verdict = "supported"
        cond = f"at gap {gap} vanilla predictions change a lot under {large}; {compare_text}. {spread_text}"
    else:
        verdict = "inconclusive"
        cond = (f"at gap {gap}, neither bounded below {LOT:g} nor shown to reach it; {compare_text}; more "
                f"networks or probe sequences would decide it. {spread_text}")
    key = f"input_tv@{TINY:g}"
    (lo, hi), main, _ = tests[key]
    return Verdict(
        claim_id="L4", verdict=verdict,
        statistic=f"mean TV distance of a trained rnn-tanh's read-out distribution under input noise "
                  f"std {TINY:g} (gap {gap})",
        value=float(np.mean([r[key] for r in vanilla])), ci=(lo, hi), n=len(vanilla),
        n_counts="trained rnn-tanh networks that solved (one per seed)",
        test=("percentile bootstrap bounds over the vanilla networks against LOT at every noise level <= "
              f"{TINY:g}, input and weight noise"
              + (f"; {main.test} for vanilla vs gated" if main is not None else "")),
        p_value=None if main is None else main.p_value,
        effect_size=None if main is None else main.effect_size,
        effect_ci=None if main is None else main.effect_ci,
        conditions=cond + f". n = solved rnn-tanh networks probed; effect_size is P(vanilla TV > gated TV) "
                          f"under input noise {TINY:g}",
        settings=settings(context, *arms) | {"noise_levels": list(NOISE_LEVELS), "tiny": TINY,
                                             "noise_draws": NOISE_DRAWS, "probe_size": PROBE_SIZE,
                                             "sensitivity_gap": gap, "nets_per_arm": NETS, "lot": LOT},
        tables={"sensitivity": rows, "sensitivity_curve": curve, "spread": spread},
    )


CLAIMS = [
    Claim(
        id="L4", slug="instability", group="learning",
        article="Vanishing gradients make models unstable: small changes to inputs or parameters "
                "can change their predictions a great deal.",
        measured="At the longest ladder gap where at least half of rnn-tanh's seeds solve delayed recall "
                 "(quick: 20), up to 5 solved networks per arm, retrained as stored, change their "
                 "predictions a lot under tiny noise (0.3 % or 1 % on the inputs, or of each weight "
                 "tensor's RMS): mean flip rate or TV distance >= 0.05 (bootstrap bound), and more than the "
                 "gated networks that solved there (one-sided Mann-Whitney); refuted when every upper bound "
                 "at both tiny levels is below 0.05. Reported: the sensitivity curve over noise 0.3 %, 1 %, "
                 "3 %, 10 %, and the seed spread (success rate, sqrt(p(1-p)), Kaplan-Meier quartiles of "
                 "the steps to solve) per arm and gap.",
        expected="refuted",
        reason="Open in claims.md. Measured (quick, master seed 0, gap 20, 5 rnn-tanh vs 5 gru networks; "
               "lstm solves no seed there): under 1 % noise the rnn-tanh networks flip 0.7 % (input) and "
               "0.2 % (weight) of their predictions, mean TV 0.014; more than gru (TV p = 0.008) but far "
               "from a lot. Flips grow to 4 % at 3 % input noise and 27 % at 10 %. rnn-tanh's outcome "
               "splits across seeds at gaps 5-20, gru's nowhere. Vanishing gradients make outputs "
               "insensitive to distant inputs; sensitivity is the exploding regime's trait.",
        analyse=analyse_l4, runs=runs_l4, retrains=True,
    ),
]
