"""Progress of long work, readable both on a terminal and in a captured log.

A sweep from scratch trains for tens of minutes; under CI or nox its output is captured, where a
tqdm bar prints nothing useful (it redraws one line with carriage returns, or is switched off
because stderr is not a terminal). `Progress` draws the bar on a terminal and otherwise writes one
plain line to stderr at most every `every_s` seconds, and at the end (of work that took longer):

    sweep: 636/2497 runs (25 %), 2.31 runs/s, ETA 13 min 25 s, 0 failed

The rate counts only the work done since it started (runs already stored do not inflate it).
`enabled`: None means "bar on a terminal, lines elsewhere", True forces the bar, False is silent.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

from tqdm import tqdm

EVERY_S = 30.0


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


class Progress:
    """done/total of one piece of long work: a tqdm bar on a terminal, timed log lines elsewhere."""

    def __init__(self, total: int, desc: str, unit: str = "run", *, initial: int = 0,
                 enabled: bool | None = None, every_s: float = EVERY_S, file: TextIO | None = None,
                 clock=time.monotonic):
        self.total, self.desc, self.unit = total, desc, unit
        self.done, self.initial = initial, initial
        self.every_s, self.clock = every_s, clock
        self.file = file if file is not None else sys.stderr
        self.postfix: dict = {}
        is_tty = getattr(self.file, "isatty", lambda: False)()
        self.mode = "bar" if enabled or (enabled is None and is_tty) else ("off" if enabled is False else "lines")
        self._bar = (tqdm(total=total, initial=initial, unit=unit, desc=desc, file=self.file, dynamic_ncols=True)
                     if self.mode == "bar" else None)
        self.started = self._last = clock()
        self._written = initial   # `done` at the last line written

    def update(self, n: int = 1) -> None:
        self.done += n
        if self._bar is not None:
            self._bar.update(n)
        elif self.mode == "lines" and self.clock() - self._last >= self.every_s:
            self._write()

    def set_postfix(self, **values) -> None:
        self.postfix.update(values)
        if self._bar is not None:
            self._bar.set_postfix(**self.postfix)

    def line(self) -> str:
        """The status as one line: done/total, share, rate since the start, ETA and the postfix."""
        elapsed = max(self.clock() - self.started, 1e-9)
        rate = (self.done - self.initial) / elapsed
        share = f" ({100 * self.done / self.total:.0f} %)" if self.total else ""
        text = f"{self.desc}: {self.done}/{self.total} {self.unit}s{share}"
        if self.done > self.initial:
            left = self.total - self.done
            text += f", {rate:.3g} {self.unit}s/s" + (f", ETA {_duration(left / rate)}" if left > 0 else "")
        text += f", {_duration(elapsed)} elapsed"
        return text + "".join(f", {value} {name}" for name, value in self.postfix.items())

    def _write(self) -> None:
        print(self.line(), file=self.file, flush=True)
        self._last, self._written = self.clock(), self.done

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        elif (self.mode == "lines" and self.done > self._written
              and self.clock() - self.started >= self.every_s):
            self._write()  # work shorter than one interval needs no progress line, a line written no twin
        self.mode = "closed" if self.mode != "off" else "off"

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


__all__ = ["EVERY_S", "Progress"]
