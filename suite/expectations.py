"""`--expect METRIC OP VALUE`: what a user states an architecture must achieve in `vgsuite check`,
judged with statistics, never by comparing two point estimates.

    critical_gap.delayed_recall>=100     decay>-0.05     horizon>=lstm

METRIC is decay, horizon or critical_gap, optionally with ".task" (without it: the battery's
first task); OP one of >= <= > < == !=; VALUE a number or a baseline's name (the comparison is
then with that baseline's measurement under the same protocol). A text that does not parse, or
names a metric, task or baseline the battery does not have, is an ExpectationError (a ValueError:
one line, exit 2) before anything is trained. An expectation about a value that was not measured
fails rather than passing vacuously.

Every judged expectation names the test that decided it, its p-value, effect size, n per side and
a verdict: "holds", "does not hold", or "not decided (...)". Only "holds" passes: an undecided
expectation fails and says the smallest number of seeds that could decide it. A test decides at
level ALPHA = 5 % (its p-value <= 0.05: an exact test of size <= 5 %, so 3 seeds against 3 at
complete separation, p = 1/20, decide a one-sided comparison).

Against a baseline (all three metrics): a one-sided Mann-Whitney U test on per-seed values
(`suite.stats.mann_whitney_greater`: exact, ties by an exact permutation test; effect size
P(arm > baseline) + 0.5 P(tie) with Newcombe's interval). The per-seed values are the decay rates,
the memory horizons, and for the critical gap each seed's reach (`suite.claims.ladders.seed_reach`:
the longest ladder gap the seed solves with every shorter gap solved).

* `>` and `>=` both ask the "greater" test (H1: the arm's values tend to exceed the baseline's),
  `<` and `<=` the "less" test. Without an equivalence margin "at least as good" can only be shown
  by showing "better", so `>=` is judged as `>`: identical measurements (identical brackets with
  identical reaches) pass neither; a `>=` passes only where the test shows the arm ahead.
* `!=` holds when the two-sided test (twice the smaller one-sided p-value) is <= 5 %; `==` is its
  complement, "no difference detected": it holds when that test does not reject AND the seeds were
  enough for it to reject (otherwise not decided). It is not an equivalence test.
* Censored values (a horizon at the probe's longest lag; a reach at the ladder's top, or of a seed
  that solved every rung it was trained on before its architecture stopped climbing: the true
  value is at least the recorded one) count in each one-sided test where they are least favourable
  to the statement: the side that must come out ahead keeps its recorded lower bound, the other
  side's censored seeds rank above every value (tied with each other). The test keeps its level
  whatever the censored values really are; two architectures that both saturate a probe or a
  ladder are never shown to differ.
* A decay of -inf (a seed whose gradient is exactly 0 within 3 lags) ranks below every finite
  decay; such seeds tie with each other.

Against a number:

* decay: the mean over seeds (the report's number) with a Student-t interval: `>`/`>=` hold when
  the one-sided 95 % lower confidence bound is above (at or above) VALUE, `<`/`<=` when the upper
  bound is below (at or below); `==` when the two-sided 95 % interval contains VALUE, `!=` when it
  does not. The p-value is the one-sided t-test's. With all seeds equal the interval is the point.
  When a seed's decay is -inf the mean is undefined, and the median decides by the sign test below.
* horizon (and decay with a -inf seed): the median over seeds (the report's number) by an exact
  sign test: for `> VALUE` the count of seeds above VALUE against Binomial(n, 1/2) (H1: more than
  half of the seeds lie above), likewise for `>=`, `<`, `<=`; a censored seed never counts as below
  a number (its horizon has no upper bound). `!=`/`==`: the two-sided sign test (twice the smaller
  one-sided p), `==` only where it could reject. One-sided it needs >= 5 seeds, two-sided >= 6.
* critical_gap: no test: the critical gap is the 80 % rule over the seeds, known at the ladder's
  resolution as a bracket [a, b) (a the largest rung solved, b the first rung failed; a = 0 below
  the first rung; b open above the top rung when none failed). A statement holds when every gap in
  the bracket satisfies it, does not hold when none does, and is not decided when the bracket
  straddles VALUE (a rung between would decide). `==` holds when VALUE lies in the bracket, `!=`
  when it does not. Its effect size is the success rate at the rung that closes the bracket (the
  top rung when none failed) with a Wilson 95 % interval: how sure that failure is.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from scipy import stats as sps

from . import stats

if TYPE_CHECKING:
    from .battery import Battery

METRICS = ("decay", "horizon", "critical_gap")
OPS = {">=": lambda a, b: a >= b, "<=": lambda a, b: a <= b, ">": lambda a, b: a > b,
       "<": lambda a, b: a < b, "==": lambda a, b: a == b, "!=": lambda a, b: a != b}
ALPHA = 0.05
CRITICAL_FRACTION = 0.8  # as suite.check: a rung is solved when >= 80 % of the seeds solve it
_DIRECTION = {">": "greater", ">=": "greater", "<": "less", "<=": "less"}


class ExpectationError(ValueError):
    """An --expect that does not parse or names something the battery does not measure."""


_EXPECT = re.compile(r"^\s*([A-Za-z_]+)(?:\.([A-Za-z_]+))?\s*(>=|<=|==|!=|>|<)\s*(\S+)\s*$")


@dataclass(frozen=True)
class Expectation:
    text: str
    metric: str          # "decay.delayed_recall"
    op: str
    target: float | str  # a number or a baseline label

    @property
    def kind(self) -> str:
        return self.metric.split(".")[0]

    def seeds_needed(self) -> int:
        """The smallest number of seeds (per side, against a baseline) that could decide this
        expectation at 5 %: probe seeds for decay and horizon, training seeds for critical_gap."""
        two_sided = self.op in ("==", "!=")
        if isinstance(self.target, str):
            return mwu_seeds_needed(two_sided)
        if self.kind == "horizon":
            return sign_seeds_needed(two_sided)
        return 2 if self.kind == "decay" else 1

    def too_few_seeds(self, battery: Battery) -> str | None:
        """Why `battery` cannot decide this expectation, said before anything runs (None: it can)."""
        gap = self.kind == "critical_gap"
        have, needed = (battery.seeds if gap else battery.probe_seeds), self.seeds_needed()
        if have >= needed:
            return None
        flag = "--seeds" if gap else "--probe-seeds"
        side = " per side" if isinstance(self.target, str) else ""
        return (f"{self.text} cannot be decided with {have} seeds{side}: "
                f"its test needs >= {needed} ({flag} {needed}); it will fail as not decided")

    def holds(self, measures: dict, label: str) -> dict:
        """The judged expectation: `passed` only for the verdict "holds"."""
        mine = measures.get(label, {}).get(self.metric)
        out = {"expect": self.text, "metric": self.metric, "op": self.op, "target": self.target,
               "measured": (mine or {}).get("value"), "alpha": ALPHA}
        if isinstance(self.target, str):
            theirs = measures.get(self.target, {}).get(self.metric)
            out["target_value"] = (theirs or {}).get("value")
            judged = _versus_baseline(self.kind, self.op, mine, theirs, self.target)
        else:
            out["target_value"] = self.target
            judged = _versus_number(self.kind, self.op, mine, self.target)
        out.update(judged)
        out["passed"] = out["verdict"] == "holds"
        return out


def _rejects(p: float) -> bool:
    """p <= 5 %, with room for rounding (an exact 1/20 computed as 0.05000000000000001)."""
    return p <= ALPHA * (1 + 1e-9)


# -- per-seed values -------------------------------------------------------------------------------

def seed_values(kind: str, entry: dict | None) -> tuple[list[float], list[bool]] | None:
    """(values, censored) per seed of one measurement, None when it has none."""
    if not entry:
        return None
    if kind == "critical_gap":
        values, censored = entry.get("reach"), entry.get("reach_censored")
    else:
        values = entry.get("per_seed")
        censored = entry.get("censored_per_seed") if kind == "horizon" else None
    if not values or (kind == "horizon" and censored is None):
        return None
    values = [-math.inf if v is None else float(v) for v in values]  # JSON keeps -inf as None
    return values, [bool(c) for c in censored] if censored is not None else [False] * len(values)


def _undecided_result(test: str, reason: str, n, needed=None, **extra) -> dict:
    return {"verdict": f"not decided ({reason})", "test": test, "p_value": None, "effect": None,
            "effect_size": None, "effect_ci": None, "n": list(n), "seeds_needed": needed} | extra


def _missing(what: str) -> dict:
    return {"verdict": f"not decided (not measured: {what})", "test": None, "p_value": None,
            "effect": None, "effect_size": None, "effect_ci": None, "n": None, "seeds_needed": None}


# -- against a baseline: Mann-Whitney U on per-seed values -----------------------------------------

def mwu_min_p(n_a: int, n_b: int) -> float:
    """The smallest one-sided p-value a Mann-Whitney U test of n_a against n_b values can give."""
    return 1.0 / math.comb(n_a + n_b, n_a)


def mwu_seeds_needed(two_sided: bool = False) -> int:
    n = 1
    while not _rejects((2 if two_sided else 1) * mwu_min_p(n, n)):
        n += 1
    return n


def _ranked(arm, arm_cens, ref, ref_cens, direction: str):
    """Finite values for the `direction` test ("greater": H1 arm > ref), censored values placed
    least favourably to it, -inf below every finite value."""
    finite = [v for v in (*arm, *ref) if math.isfinite(v)]
    low = (min(finite) if finite else 0.0) - 1.0
    high = (max(finite) if finite else 0.0) + 1.0

    def place(values, cens, ahead):  # `ahead`: the side the statement says comes out on top
        return [low if v == -math.inf else (v if (ahead or not c) else high) for v, c in zip(values, cens)]

    return place(arm, arm_cens, direction == "greater"), place(ref, ref_cens, direction == "less")


def _one_sided(arm, arm_cens, ref, ref_cens, direction: str) -> stats.TestOutcome:
    a, b = _ranked(arm, arm_cens, ref, ref_cens, direction)
    return stats.mann_whitney_greater(a, b) if direction == "greater" else stats.mann_whitney_greater(b, a)


def _versus_baseline(kind: str, op: str, mine: dict | None, theirs: dict | None, baseline: str) -> dict:
    arm, ref = seed_values(kind, mine), seed_values(kind, theirs)
    if arm is None or ref is None:
        return _missing("no per-seed values of " + ("this architecture" if arm is None else baseline))
    (a, a_cens), (b, b_cens) = arm, ref
    n = (len(a), len(b))
    what = "reach" if kind == "critical_gap" else kind
    two_sided = op in ("==", "!=")
    test = f"{'two' if two_sided else 'one'}-sided Mann-Whitney U on per-seed {what}"
    needed = mwu_seeds_needed(two_sided)
    min_p = (2 if two_sided else 1) * mwu_min_p(*n)
    if not _rejects(min_p):  # ties only raise the smallest p-value
        return _undecided_result(test, f"n too small: {n[0]} vs {n[1]} seeds cannot reach p <= {ALPHA:g}; "
                                       f"needs >= {needed} seeds per side", n, needed)
    extra = {"censored": [sum(a_cens), sum(b_cens)]}
    if not two_sided:
        direction = _DIRECTION[op]
        outcome = _one_sided(a, a_cens, b, b_cens, direction)
        verdict = "holds" if _rejects(outcome.p_value) else "does not hold"
        sign = ">" if direction == "greater" else "<"
        return {"verdict": verdict, "test": f"{test} ({outcome.test.split(', ')[-1]}; H1: arm {sign} {baseline})",
                "p_value": outcome.p_value, "effect": f"P(arm {sign} {baseline}) + 0.5 P(tie)",
                "effect_size": outcome.effect_size, "effect_ci": list(outcome.effect_ci), "n": list(n),
                "seeds_needed": needed} | extra
    greater = _one_sided(a, a_cens, b, b_cens, "greater")
    less = _one_sided(a, a_cens, b, b_cens, "less")
    p = min(1.0, 2 * min(greater.p_value, less.p_value))
    differ = _rejects(p)
    verdict = "holds" if differ == (op == "!=") else "does not hold"
    return {"verdict": verdict, "test": f"{test} (twice the smaller one-sided p)", "p_value": p,
            "effect": f"P(arm > {baseline}) + 0.5 P(tie)", "effect_size": greater.effect_size,
            "effect_ci": list(greater.effect_ci), "n": list(n), "seeds_needed": needed} | extra


# -- against a number ------------------------------------------------------------------------------

def sign_seeds_needed(two_sided: bool = False) -> int:
    n = 1
    while not _rejects((2 if two_sided else 1) * 0.5 ** n):
        n += 1
    return n


def _on_side(value: float, censored: bool, op: str, c: float) -> bool:
    if op in ("<", "<=") and censored:
        return False  # a censored value has no upper bound
    return OPS[op](value, c)


def _sign_test(values, censored, op: str, c: float, what: str) -> dict:
    n = len(values)
    two_sided = op in ("==", "!=")
    needed = sign_seeds_needed(two_sided)
    test = f"{'two' if two_sided else 'one'}-sided exact sign test on the median {what} (vs {c:g})"
    min_p = (2 if two_sided else 1) * 0.5 ** n
    if not two_sided:
        flags = [_on_side(v, k, op, c) for v, k in zip(values, censored)]
        k = sum(flags)
        if not _rejects(min_p):
            return _undecided_result(test, f"n too small: {n} seeds cannot reach p <= {ALPHA:g}; needs >= {needed}",
                                     (n,), needed, seeds_on_side=k)
        outcome = stats.sign_test_greater([1.0 if f else -1.0 for f in flags])
        return {"verdict": "holds" if _rejects(outcome.p_value) else "does not hold", "test": test,
                "p_value": outcome.p_value, "effect": f"fraction of seeds {op} {c:g}",
                "effect_size": outcome.effect_size, "effect_ci": list(outcome.effect_ci), "n": [n],
                "seeds_needed": needed, "seeds_on_side": k}
    above = sum(_on_side(v, k, ">", c) for v, k in zip(values, censored))
    below = sum(_on_side(v, k, "<", c) for v, k in zip(values, censored))
    p = min(1.0, 2 * min(_binom_p(above, n), _binom_p(below, n)))
    differ = _rejects(p)
    if not _rejects(min_p):
        return _undecided_result(test, f"n too small: {n} seeds cannot reach two-sided p <= {ALPHA:g}; "
                                       f"needs >= {needed}", (n,), needed)
    return {"verdict": "holds" if differ == (op == "!=") else "does not hold", "test": test, "p_value": p,
            "effect": f"fraction of seeds > {c:g}", "effect_size": above / n,
            "effect_ci": list(stats.wilson_ci(above, n)), "n": [n], "seeds_needed": needed}


def _binom_p(k: int, n: int) -> float:
    return float(sps.binomtest(k, n, 0.5, alternative="greater").pvalue)


def _t_test(values, op: str, c: float) -> dict:
    n = len(values)
    test = f"Student-t interval of the mean decay ({'two' if op in ('==', '!=') else 'one'}-sided 95 %)"
    if n < 2:
        return _undecided_result(test, "n too small: an interval needs >= 2 seeds", (n,), 2)
    data = np.asarray(values, dtype=float)
    mean, se = float(data.mean()), float(data.std(ddof=1) / math.sqrt(n))
    t_one, t_two = (float(sps.t.ppf(q, df=n - 1)) for q in (1 - ALPHA, 1 - ALPHA / 2))
    if op in (">", ">="):
        interval = [mean - t_one * se, math.inf]
        ok = OPS[op](interval[0], c)
    elif op in ("<", "<="):
        interval = [-math.inf, mean + t_one * se]
        ok = OPS[op](interval[1], c)
    else:
        interval = [mean - t_two * se, mean + t_two * se]
        ok = (interval[0] <= c <= interval[1]) == (op == "==")
    if se > 0:
        t = (mean - c) / se
        p_greater, p_less = float(sps.t.sf(t, n - 1)), float(sps.t.cdf(t, n - 1))
        p = {"greater": p_greater, "less": p_less}.get(_DIRECTION.get(op), min(1.0, 2 * min(p_greater, p_less)))
    else:  # every seed equal: the interval is a point, and it alone decides
        p = 0.0 if ok != (op == "==") else 1.0
    return {"verdict": "holds" if ok else "does not hold", "test": test, "p_value": p,
            "effect": f"mean - ({c:g})" if c < 0 else f"mean - {c:g}", "effect_size": mean - c,
            "effect_ci": [interval[0] - c, interval[1] - c], "interval": interval, "n": [n],
            "seeds_needed": 2}


def _bracket(entry: dict) -> tuple[int, int | None, dict] | None:
    """(a, b, success): the critical gap lies in [a, b) at the ladder's resolution (b None: open)."""
    success = {int(g): tuple(v) for g, v in (entry.get("success") or {}).items()}
    if not success:
        return None
    crit, (_, upper) = stats.critical_gap(success, CRITICAL_FRACTION)
    return (crit or 0), upper, success


def _by_bracket(entry: dict | None, op: str, c: float) -> dict:
    bracket = _bracket(entry or {})
    if bracket is None:
        return _missing("no rung of the ladder trained")
    a, b, success = bracket
    last = math.inf if b is None else b - 1  # gaps are integers: the bracket holds a .. b - 1
    text = f"[{a}, {'inf' if b is None else b})"
    test = f"critical-gap bracket {text} (the 80 % rule at the ladder's resolution; no test)"
    rung = b if b is not None else max(success)  # how sure the rung that closes (or tops) the bracket is
    k, seeds = success[rung]
    common = {"test": test, "p_value": None, "effect_size": k / seeds,
              "effect": f"success rate at {'the first failed' if b is not None else 'the top'} rung {rung} "
                        "(Wilson 95 %)",
              "effect_ci": list(stats.wilson_ci(k, seeds)), "n": [seeds], "seeds_needed": None, "bracket": [a, b]}
    if op in ("==", "!="):
        inside = a <= c <= last
        return common | {"verdict": "holds" if inside == (op == "==") else "does not hold"}
    every = OPS[op](a, c) and OPS[op](last, c)
    none = not OPS[op](a, c) and not OPS[op](last, c)
    if every or none:
        return common | {"verdict": "holds" if every else "does not hold"}
    why = ("the ladder ends without a failure: a longer ladder would decide" if b is None
           else "a rung between would decide")
    return common | {"verdict": f"not decided (the bracket {text} straddles {c:g}: {why})"}


def _versus_number(kind: str, op: str, mine: dict | None, c: float) -> dict:
    if kind == "critical_gap":
        return _by_bracket(mine, op, c)
    seeds = seed_values(kind, mine)
    if seeds is None:
        return _missing("no per-seed values")
    values, censored = seeds
    if kind == "decay" and all(math.isfinite(v) for v in values):
        return _t_test(values, op, c)
    what = kind if kind == "horizon" else "decay (a seed's gradient is exactly 0: decay -inf, no mean)"
    return _sign_test(values, censored, op, c, what)


def parse_expectation(text: str, battery: Battery) -> Expectation:
    match = _EXPECT.match(text or "")
    if not match:
        raise ExpectationError(f"expect must look like METRIC OP VALUE, e.g. 'critical_gap.delayed_recall>=100' "
                               f"or 'decay>-0.05' (OP one of {list(OPS)}), got {text!r}")
    metric, task, op, value = match.groups()
    if metric not in METRICS:
        raise ExpectationError(f"expect {text!r}: metric must be one of {list(METRICS)}, got {metric!r}")
    task = task or battery.tasks[0]
    if task not in battery.tasks:
        raise ExpectationError(f"expect {text!r}: task {task!r} is not in this check's tasks "
                               f"{list(battery.tasks)}; add it with --tasks")
    if metric == "critical_gap" and not battery.ladder(task):
        raise ExpectationError(f"expect {text!r}: the critical gap needs training, which this check skips")
    try:
        target: float | str = float(value)
        if math.isnan(target):
            raise ValueError
    except ValueError:
        if value not in battery.baselines:
            raise ExpectationError(f"expect {text!r}: VALUE must be a number or a baseline of this check "
                                   f"{list(battery.baselines)}, got {value!r}") from None
        target = value
    return Expectation(text.strip(), f"{metric}.{task}", op, target)


__all__ = ["ALPHA", "METRICS", "OPS", "Expectation", "ExpectationError", "mwu_seeds_needed",
           "parse_expectation", "seed_values", "sign_seeds_needed"]
