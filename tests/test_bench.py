"""The benchmark's arithmetic (benchmarks/bench.py): ratios, ceilings and target lines from
synthetic timings. Speed itself is measured by `nox -s bench`, never asserted in a test."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
import bench  # noqa: E402


def row(arch, hidden=64, seq_len=100, bare=10.0, single=11.0, batched=None, flops=2e8):
    return {"arch": arch, "hidden": hidden, "seq_len": seq_len, "flops_per_step": flops, "bare_ms": bare,
            "single_ms": single, "batched_ms": batched or {}, "skipped_sizes": []}


def test_derived_ratios_and_ceiling():
    r = row("rnn-tanh", bare=10.0, single=11.0, batched={"8": 22.0})
    d = bench.derived(r, sgemm=100.0)
    assert d["single_over_bare"] == pytest.approx(1.1)
    assert d["gflops_bare"] == pytest.approx(20.0)  # 2e8 flops in 10 ms
    assert d["batched"]["8"]["speedup_vs_single"] == pytest.approx(4.0)  # 8 x 11 ms / 22 ms
    assert d["batched"]["8"]["run_steps_s"] == pytest.approx(8e3 / 22)
    # the single run makes 2e8 / 11 ms = 18.2 GFLOP/s: batching can gain at most 100 / 18.2
    assert d["batching_ceiling"] == pytest.approx(100 / (2e8 / 11e-3 / 1e9))


def test_targets_report_met_and_unmet():
    rows = [row("rnn-tanh", single=10.5, batched={"8": 21.0}), row("lstm", single=10.0, batched={"8": 40.0}),
            row("gru", bare=11.0, single=12.0), row("gru", hidden=32, bare=13.0, single=14.0),
            row("lstm", hidden=32, single=10.0)]
    for r in rows:
        r["derived"] = bench.derived(r, sgemm=100.0)
    found = {name: (value, met) for name, value, met in bench.targets(rows)}
    assert found["batched S=8 >= 4x the throughput of 8 sequential runs (rnn-tanh, H=64, T=100)"][1] is True
    lstm_value, lstm_met = found["batched S=8 >= 4x the throughput of 8 sequential runs (lstm, H=64, T=100)"]
    assert lstm_met is False and lstm_value.startswith("2.00x")
    assert found["GRU <= 1.3x LSTM per step (vgsuite single, H=64, T=100)"] == ("1.20x", True)
    assert found["GRU <= 1.3x LSTM per step (vgsuite single, H=32, T=100)"] == ("1.40x", False)
    single = found["vgsuite single <= 1.10x bare time per step (every configuration)"]
    assert single[1] is True and single[0].startswith("worst 1.09x (gru H=64 T=100)")
