"""Published numbers on the suite's tasks, to print beside what the suite measures.

The `paper` profile (suite/profiles.py) trains at the scale of these papers so that its results can
be read against them. Each `Finding` is one published outcome for one (task, T, architecture),
spelled in the suite's own names: T is the suite's gap (copy: the blanks between the symbols and
the marker, sequence length T + 20; adding: the sequence length), "rnn-tanh" is the papers'
generic or tanh RNN, "irnn" Le et al.'s identity-initialised ReLU RNN.

    Bai, Kolter & Koltun (2018), "An empirical evaluation of generic convolutional and recurrent
        networks for sequence modeling", Table 1: recurrent baselines of roughly equal parameter
        count, trained with the authors' tuned settings; test loss (adding: MSE; copy:
        cross-entropy averaged over every step).
    Le, Jaitly & Hinton (2015), "A simple way to initialize recurrent networks of rectified linear
        units", adding problem at T = 150, 200, 300 and 400 (hidden 100, SGD): reported as test-MSE
        curves, not as a table, so the suite records only the qualitative outcome (`value` None).

What the suite puts beside a finding (`comparison_rows`): the median final evaluation loss of the
stored runs of that plain architecture (default init, no mitigation, one layer) on that task and
gap under the given width and step budget, with how many of them solved the task.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: memoryless losses the findings are read against: adding predicts the mean 1 (MSE 1/6); copy
#: is uniform over 8 symbols in the 10 recall steps and certain elsewhere (10 ln 8 / (T + 20))
ADDING_BASELINE = 1 / 6


def copy_baseline(gap: int) -> float:
    return 10 * float(np.log(8)) / (gap + 20)


@dataclass(frozen=True)
class Finding:
    source: str            # author (year), table or figure
    task: str              # suite task name
    gap: int               # the paper's T in the suite's gap units
    arch: str              # suite architecture name
    measure: str           # what `value` is
    value: float | None    # the published number (None: reported only as a curve)
    outcome: str           # the reading, in words

    def row(self) -> dict:
        return {"source": self.source, "task": self.task, "T": self.gap, "arch": self.arch,
                "published": f"{self.measure} {self.value:.3g}" if self.value is not None else "curve only",
                "outcome": self.outcome}


BAI = "Bai, Kolter & Koltun (2018), Table 1"
LE = "Le, Jaitly & Hinton (2015), Fig. 2"
_ADDING_MSE = "test MSE"
_COPY_LOSS = "test loss (all steps)"

FINDINGS: tuple[Finding, ...] = (
    Finding(BAI, "adding", 600, "gru", _ADDING_MSE, 5.3e-5, "solved"),
    Finding(BAI, "adding", 600, "lstm", _ADDING_MSE, 0.164, "near the 1/6 baseline"),
    Finding(BAI, "adding", 600, "rnn-tanh", _ADDING_MSE, 0.177, "at the 1/6 baseline"),
    Finding(BAI, "copy", 1000, "gru", _COPY_LOSS, 0.0197, "at the memoryless 0.0204"),
    Finding(BAI, "copy", 1000, "lstm", _COPY_LOSS, 0.0204, "at the memoryless 0.0204"),
    Finding(BAI, "copy", 1000, "rnn-tanh", _COPY_LOSS, 0.0202, "at the memoryless 0.0204"),
    *(Finding(LE, "adding", t, "irnn", _ADDING_MSE, None, "learns it (MSE far below the baseline)")
      for t in (150, 200, 300, 400)),
    *(Finding(LE, "adding", t, "lstm", _ADDING_MSE, None, "learns it, more slowly than the IRNN")
      for t in (150, 200, 300)),
    Finding(LE, "adding", 400, "lstm", _ADDING_MSE, None, "struggles (no clear convergence in the run shown)"),
    Finding(LE, "adding", 150, "rnn-tanh", _ADDING_MSE, None, "does not learn it"),
)


COMPARISON_NOTE = (
    "Published: the paper's own setting (its width, optimizer and training length; Le et al. only as curves). "
    "Measured: median final held-out loss of this profile's runs of the plain architecture at that task and T "
    "(adding: MSE; copy: cross-entropy over every step), and how many solved it (adding MSE <= 0.01, copy "
    "recall accuracy >= 0.99); baseline: the memoryless loss. 'not run': the profile has no such runs.")


def findings(task: str | None = None, gap: int | None = None, arch: str | None = None) -> list[Finding]:
    """The published findings for a (task, T, architecture); None matches any."""
    return [f for f in FINDINGS if task in (None, f.task) and gap in (None, f.gap) and arch in (None, f.arch)]


def is_plain(spec: dict, arch: str) -> bool:
    """A stored spec of `arch` as the papers ran it: default init, no forget bias, one layer, no
    clipping, no architecture options, and copy scored over every step."""
    a, t = spec["arch"], spec["train"]
    options = dict(spec["task"].get("options") or ())
    return (a["name"] == arch and a["init"] == "default" and a["init_gain"] == 1.0
            and a.get("forget_bias") is None and a["layers"] == 1 and not a.get("options")
            and t.get("clip") is None and options.get("loss_window", "all") == "all")


def _matches(spec: dict, f: Finding, hidden: int, steps: int) -> bool:
    return (spec["task"]["name"] == f.task and spec["task"]["gap"] == f.gap and is_plain(spec, f.arch)
            and spec["arch"]["hidden"] == hidden and spec["train"]["steps"] == steps)


def covered(specs, hidden: int, steps: int) -> list[tuple[Finding, int]]:
    """Each finding with the number of `specs` (RunSpecs or spec dicts) that will measure it."""
    dicts = [s if isinstance(s, dict) else s.to_dict() for s in specs]
    return [(f, sum(_matches(d, f, hidden, steps) for d in dicts)) for f in FINDINGS]


def comparison_rows(records, hidden: int, steps: int) -> list[dict]:
    """One row per finding: the published outcome and, beside it, the stored runs' median final
    loss (same measure: adding MSE, copy cross-entropy over every step) and solved / runs."""
    rows = []
    for f in FINDINGS:
        runs = [r for r in records if _matches(r.spec, f, hidden, steps)]
        losses = [r.result["final_loss"] for r in runs if r.result.get("final_loss") is not None]
        solved = sum(bool(r.result.get("solved")) for r in runs)
        rows.append(f.row() | {
            "measured median loss": float(np.median(losses)) if losses else None,
            "solved": f"{solved}/{len(runs)}" if runs else "not run",
            "baseline": ADDING_BASELINE if f.task == "adding" else copy_baseline(f.gap)})
    return rows


__all__ = ["ADDING_BASELINE", "COMPARISON_NOTE", "FINDINGS", "Finding", "comparison_rows", "copy_baseline",
           "covered", "findings", "is_plain"]
