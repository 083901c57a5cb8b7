"""`--expect METRIC OP VALUE`: what a user states an architecture must achieve in `vgsuite check`.

    critical_gap.delayed_recall>=100     decay>-0.05     horizon>=lstm

METRIC is decay, horizon or critical_gap, optionally with ".task" (without it: the battery's
first task); OP one of >= <= > < == !=; VALUE a number or a baseline's name (the comparison is
then with that baseline's measurement under the same protocol). An expectation about a value that
was not measured fails rather than passing vacuously. A text that does
not parse, or names a metric, task or baseline the battery does not have, is an ExpectationError
(a ValueError: one line, exit 2) before anything is trained.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .battery import Battery

METRICS = ("decay", "horizon", "critical_gap")
OPS = {">=": lambda a, b: a >= b, "<=": lambda a, b: a <= b, ">": lambda a, b: a > b,
       "<": lambda a, b: a < b, "==": lambda a, b: a == b, "!=": lambda a, b: a != b}


class ExpectationError(ValueError):
    """An --expect that does not parse or names something the battery does not measure."""


_EXPECT = re.compile(r"^\s*([A-Za-z_]+)(?:\.([A-Za-z_]+))?\s*(>=|<=|==|!=|>|<)\s*(\S+)\s*$")


@dataclass(frozen=True)
class Expectation:
    text: str
    metric: str          # "decay.delayed_recall"
    op: str
    target: float | str  # a number or a baseline label

    def holds(self, measures: dict, label: str) -> dict:
        measured = measures[label][self.metric]["value"]
        target = (self.target if isinstance(self.target, float)
                  else measures[self.target][self.metric]["value"])
        ok = (measured is not None and target is not None and OPS[self.op](_num(measured), _num(target)))
        return {"expect": self.text, "metric": self.metric, "op": self.op,
                "target": self.target, "target_value": target, "measured": measured, "passed": bool(ok)}


def _num(value) -> float:
    return -math.inf if value is None else float(value)


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


__all__ = ["METRICS", "OPS", "Expectation", "ExpectationError", "parse_expectation"]
