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


def test_probe_bench_targets_and_table():
    import probe_bench

    rows = [{"arch": "rnn-tanh", "task": "copy", "gap": 1000, "seq_len": 1020, "saliency_rows": 144,
             "bare_s": 2.0, "chunked_s": 3.0, "per_step_s": 20.0, "chunked_over_bare": 1.5,
             "per_step_over_bare": 10.0, "speedup": 20 / 3},
            {"arch": "lstm", "task": "copy", "gap": 1000, "seq_len": 1020, "saliency_rows": 144,
             "bare_s": 2.0, "chunked_s": 7.0, "per_step_s": 30.0, "chunked_over_bare": 3.5,
             "per_step_over_bare": 15.0, "speedup": 30 / 7}]
    start = {"vgsuite_help": 1.0, "import_torch": 1.25, "ratio": 0.8}
    found = probe_bench.targets(rows, start)
    assert found[0] == ("a probe <= 3x the bare float64 forward + backward (every row)",
                        "worst 3.50x (lstm, copy gap 1000)", False)
    assert found[1][1:] == ("0.80x (1.00 s vs 1.25 s)", True)
    meta = {"date": "d", "torch": "t", "threads": 1, "cpu_model": "c", "code_version": "v", "rounds": 3,
            "startup": start, "targets": found}
    text = probe_bench.markdown(meta, rows)
    assert "| rnn-tanh | copy | 1000 | 1020 | 144 | 2.00 | 3.00 | 20.00 | 1.50x | 10.00x | 6.7x |" in text
    assert "| a probe <= 3x the bare float64 forward + backward (every row) | worst 3.50x" in text


def test_claims_bench_table_and_what_a_code_change_drops(tmp_path):
    import json

    import claims_bench

    cache = tmp_path / "cache.json"
    cache.write_text(json.dumps({"abc": {"verdict": "supported"}, "duration:def": {"seconds": 3.5}}))
    claims_bench.drop_verdicts(cache)
    assert json.loads(cache.read_text()) == {"duration:def": {"seconds": 3.5}}
    rows = [{"variant": "before (b9a3f80)", "first_s": 258.0, "warm_s": 258.0, "verdicts": "ok G1 s"},
            {"variant": "this checkout", "first_s": 170.0, "warm_s": 128.0, "verdicts": "ok G1 s"}]
    meta = {"date": "d", "profile": "full", "workers": 2, "runs": 2497}
    text = claims_bench.markdown(meta, rows)
    assert "| before (b9a3f80) | 258 | 258 | 1.00x | yes |" in text
    assert "| this checkout | 170 | 128 | 0.50x | yes |" in text


def test_scan_bench_table():
    import scan_bench

    rows = [{"arch": "mingru", "seq_len": 100, "scan_ms": 70.0, "loop_ms": 20.0, "step_ms": 40.0,
             "scan_over_loop": 3.5, "step_over_loop": 2.0}]
    meta = {"date": "d", "torch": "t", "threads": 1, "cpu_model": "c", "code_version": "v", "rounds": 3}
    assert "| mingru | 100 | 70.0 | 20.0 | 40.0 | 3.50x | 2.00x |" in scan_bench.markdown(meta, rows)


def test_executor_bench_table():
    import executor_bench

    row = {"runs": 12, "workers": 2, "rounds": 2, "local_s": 20.0, "ray_running_s": 24.0, "ray_with_start_s": 36.0,
           "ratio_running": 1.2, "ratio_with_start": 1.8}
    text = executor_bench.markdown({"date": "d", "ray": "2", "cpu_model": "c", "code_version": "v"}, row)
    assert "| Ray, already running (`--address auto`) | 24.0 | 1.20 |" in text and "| 20.0 | 1.00 |" in text
