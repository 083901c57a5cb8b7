"""The protocol of the learning and mitigation claims' arms: a catalogued arm on its gap ladder.

Which arm uses which ladder and seed tier is its row in suite/catalogue.py; the sizes (width,
TrainSpec, seeds per tier, the named ladders) are the budget table's (suite/profiles.py); this
module turns a row into a ladder of run specs and says why the protocol is what it is.

One protocol for every architecture and mitigation (what differs between arms is only what the
arm's label says):

    task        delayed recall (8 symbols, 4 distractor symbols): ln 8 = 2.079 memoryless loss,
                solved at accuracy >= 0.99 on 512 held-out sequences; the full profile adds the
                adding problem ("halves" variant, solved at MSE <= 0.01, memoryless MSE 1/6)
    network     hidden 32 for every architecture (equal width, not equal parameter count: the
                tables state each arm's parameter count; an LSTM has ~4x a tanh RNN's recurrent
                weights, a GRU ~3x)
    training    Adam at the architecture's own learning rate (suite/claims/learning_rates.py: picked
                on a grid, on tuning seeds no verdict reads; a mitigation arm trains at its base
                architecture's rate), batch 64 fresh sequences per step (the same stream for every
                arm), at most 1000 steps, evaluated every 25 steps, stopped as soon as it is solved
    seeds       quick 5 / 10 / 20 per (arm, gap) by tier (full 10 / 15 / 30): the tests the claims
                state need at least 5 (with 3, the smallest one-sided p is 0.05)

The `paper` profile runs the same arms at the literature's scale (hidden 128, <= 10k steps, every
ladder 10 ... 1000 on a x3 grid, seeds 5 / 10 / 10) and adds copy (the loss over all steps, as the
papers score it) to the adding problem in L1; nobody has calibrated anything on it.

Calibration (at one shared lr 3e-3, before the learning rates were tuned; the critical gaps of the
report's own runs, at the tuned rates, are in its tables T2 and T8). First 3 seeds per gap, walking
each arm up 5, 10, 20, ... until a gap nobody solved; then the quick protocol itself at master seed
0 (solved/seeds per gap; "[a, b)" = critical gap):

    rnn-tanh             [5, 10)    5: 9/10  10: 4/10  20: 7/10  40: 0/10   (a hole: see below)
    lstm                 [10, 20)   5: 10/10 10: 9/10  20: 0/10  40: 0/10
    lstm fb=1            [10, 20)   5: 10/10 10: 10/10 20: 2/10  40: 0/10   (part-learned at 20-40)
    gru                  [20, 40)   5-20: 10/10      40: 0/10
    resrnn, attention    >= 160     every gap 5/5; attention ~100 steps at every gap, resrnn 225+ at 160
    rnn-tanh xavier      [10, 20)   20: 7/10  40: 8/10  80: 10/10
    rnn-tanh orthogonal  [20, 40)   40: 6/10  80: 7/10
    rnn-tanh identity    [10, 20)   20: 2/10
    irnn                 >= 40      (3 calibration seeds: 0/3 at 80)
    rnn-relu / leakyrelu / prelu [5, 10)  10: 2/5, 1/5, 0/5
    rnn-tanh, 2 / 4 layers  10: 4/5, 5/5 (1 layer 1/5); rnn-sigmoid, 1 or 2 layers: 0/5 at 5 (one
                         layer part-learns, loss 1.1-1.4; two sit at ln 8)
    exploding regime (rnn-relu, identity x1.1, SGD lr 0.01, gap 20, 600 steps): 0/10 without
                         clipping (training-loss peaks 8x the memoryless loss), 9/10 with clipping

    rnn-tanh is erratic: at gap 10 six of ten seeds stall at loss ~1.39 = ln 4 (a second plateau:
    one of the symbol's three bits learned) while at gap 20 seven of ten solve. Its per-seed reach
    spreads over 0-20, so an arm one ladder rung above it (lstm, identity init) cannot be told apart
    from it with 10 seeds (P(reach > tanh's) ~ 0.6-0.7); the claims decide on the robust contrasts
    and report those. Failing gated runs sit at exactly ln 8 for all 1000 steps. A default tanh
    RNN's gradient norm on the plateau is 0.3-0.8 per step, so clip 0.25 acts on almost every step.
    No architecture solves copy at gap 10 within 1000 steps (recall accuracy 0.15-0.23 for gru,
    lstm, attention): copy is not used. On adding, rnn-tanh fails at 10 (MSE 0.012-0.019), lstm
    solves 20 and fails 40, gru solves 80 (~600 steps).

    Across master seeds 0-3 (10 seeds each) rnn-tanh solved gap 10 in 4-8 and gap 20 in 6-7 of 10,
    gru every gap up to 20 and none at 40: gru's gain over rnn-tanh is reliability (its critical
    gap), not reach, and 10 seeds against 10 decided it in three of four master seeds; hence 20
    seeds each for rnn-tanh and gru.

Ladders are per arm: every arm runs the base ladder 5, 10, 20, 40 (gru, the ReLU family and
identity-init tanh stop at 20: they fail there or, gru, at 40 (0/40 runs in calibration), and the
gap-40 runs are the dearest); arms that pass 40 run on to 80 (Xavier, orthogonal) or 160 (resrnn,
attention), so that their critical gaps are bracketed rather than cut off. A critical gap at the
top of an arm's ladder is reported as a lower bound. Comparisons of reach only use the gaps both
arms ran. Seeds per (arm, gap): 5; 10 for the arms the verdicts compare with rnn-tanh; 20 for
rnn-tanh and gru (the full profile: 10, 15, 30).
"""

from __future__ import annotations

from dataclasses import replace

from ..catalogue import CATALOG, trained
from ..specs import ArchSpec
from .base import Context
from .ladders import Arm
from .learning_rates import learning_rate

TASK = "delayed_recall"
#: copy in the learning ladders is scored as the papers score it: cross-entropy over every step
#: (the probes use the recall window instead: suite.profiles.TASK_OPTIONS)
LADDER_TASK_OPTIONS = {"copy": {"loss_window": "all"}}


def arm(context: Context, label: str, task: str = TASK) -> Arm:
    """The catalogued arm `label` (suite.catalogue) on its gap ladder under this context's profile."""
    if label not in trained():
        raise ValueError(f"arm must be one of the trained arms {sorted(trained())}, got {label!r}")
    entry = CATALOG[label]
    fields, budget = entry.fields, context.budget
    gaps = {TASK: budget.ladder(entry.ladder), "adding": budget.adding_ladder, "copy": budget.copy_ladder}
    if task not in gaps:
        raise ValueError(f"task must be one of {sorted(gaps)}, got {task!r}")
    train = replace(budget.train, **{"lr": learning_rate(fields["name"]), **entry.overrides})
    return Arm(label, task, ArchSpec(hidden=budget.hidden, **fields), train, tuple(gaps[task]),
               n_seeds=budget.seeds_for(entry.tier), task_options=tuple(LADDER_TASK_OPTIONS.get(task, {}).items()))


# M2's vanishing half under plain SGD as well as Adam: Adam divides each step by a running gradient
# scale, so it largely undoes a global rescale such as clipping. SGD lr 0.1 was calibrated on master
# seed 100 (3 seeds, rnn-tanh): 3/3 solve gap 5 and 0/3 gap 10 unclipped, 2/3 and 0/3 clipped at
# 0.25; at lr 1.0 the unclipped network diverges (0/3 at both) while the clipped one solves both
# (3/3), the exploding case again rather than the vanishing one.

# The exploding regime of M2 (Pascanu, Mikolov & Bengio 2013 study clipping under SGD): a ReLU RNN
# whose identity recurrent matrix is scaled by 1.1, trained by plain SGD, with and without clipping
# the global gradient norm at 1. Same seeds, same initial weights, same batches (paired).
EXPLODING_GAP = 20
EXPLODING_ARCH = {"name": "rnn-relu", "init": "identity", "init_gain": 1.1}
EXPLODING_TRAIN = {"optimizer": "sgd", "lr": 0.01, "steps": 600}
EXPLODING_CLIP = 1.0


def exploding_arms(context: Context) -> tuple[Arm, Arm]:
    budget = context.budget
    arch = ArchSpec(hidden=budget.hidden, **EXPLODING_ARCH)
    base = replace(budget.train, **EXPLODING_TRAIN)
    n = budget.seeds_reference
    plain = Arm("rnn-relu identity x1.1, SGD", TASK, arch, base, (EXPLODING_GAP,), n_seeds=n)
    clipped = Arm(f"rnn-relu identity x1.1, SGD, clip={EXPLODING_CLIP:g}", TASK, arch,
                  replace(base, clip=EXPLODING_CLIP), (EXPLODING_GAP,), n_seeds=n)
    return plain, clipped


def settings(context: Context, *arms: Arm) -> dict:
    """The protocol as a verdict states it."""
    budget = context.budget
    t = budget.train
    return {
        "profile": context.profile, "task": "delayed_recall (8 symbols, 4 distractors)",
        "hidden": budget.hidden,
        "seeds_per_gap": f"{budget.seeds}; {budget.seeds_reference} for the arms the verdicts compare "
                         f"with rnn-tanh; {budget.seeds_core} for rnn-tanh and gru",
        "seeds": context.seeds(budget.seeds_core),
        "optimizer": f"{t.optimizer}, lr per architecture (" + ", ".join(
            sorted({f"{a.arch.name} {a.train.lr:g}" for a in arms if a.train.optimizer == t.optimizer})) + ")",
        "batch_size": t.batch_size,
        "step_budget": min(t.steps, context.read_steps or t.steps),
        "eval_every": t.eval_every, "eval_size": t.eval_size,
        "solved": "accuracy >= 0.99 on the held-out set (adding: MSE <= 0.01)",
        "arms": {a.label: a.describe() for a in arms},
    }
