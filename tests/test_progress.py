"""suite.progress: done/total, rate and ETA as plain lines when stderr is no terminal."""

from __future__ import annotations

import io

from suite.progress import Progress


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_a_captured_log_gets_one_line_per_interval_and_one_at_the_end():
    out, clock = io.StringIO(), Clock()
    with Progress(100, "sweep", initial=20, file=out, every_s=30, clock=clock) as bar:
        for _ in range(8):
            clock.now += 10
            bar.update(5)          # 10 s per 5 runs: a line at 30, 60 s
        bar.set_postfix(failed=1)
    lines = out.getvalue().splitlines()
    assert len(lines) == 3
    assert lines[0] == "sweep: 35/100 runs (35 %), 0.5 runs/s, ETA 2 min 10 s, 30 s elapsed"
    # the rate counts only the work done since the start, not the 20 runs already stored
    assert lines[-1] == "sweep: 60/100 runs (60 %), 0.5 runs/s, ETA 1 min 20 s, 1 min 20 s elapsed, 1 failed"


def test_silent_when_disabled_and_a_bar_only_when_asked_for():
    out = io.StringIO()
    with Progress(10, "claims", unit="claim", file=out, enabled=False, every_s=0) as bar:
        bar.update(10)
    assert out.getvalue() == ""
    with Progress(10, "claims", unit="claim", file=out, every_s=0) as bar:
        bar.update(10)
    assert out.getvalue().splitlines()[-1].startswith("claims: 10/10 claims (100 %)")
    assert "ETA" not in out.getvalue().splitlines()[-1]


def test_nothing_done_prints_nothing():
    out = io.StringIO()
    with Progress(5, "probes", unit="arm", initial=5, file=out, every_s=0):
        pass
    assert out.getvalue() == ""


def test_the_closing_line_is_not_a_twin_of_the_last_one():
    out, clock = io.StringIO(), Clock()
    with Progress(2, "claims", unit="claim", file=out, every_s=30, clock=clock) as bar:
        clock.now += 40
        bar.update(2)
    assert len(out.getvalue().splitlines()) == 1
