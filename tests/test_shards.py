"""Sweeps split over machines: `--shard I/N` parts are disjoint, whole groups and order-free, and
`vgsuite merge` puts them back together with no lost or duplicated row, reports rows of one key
that disagree (exit 1) instead of overwriting them, and keeps every row's provenance."""

from __future__ import annotations

import json
import random

import pytest

from suite.cli import main
from suite.merge import first_difference, merge
from suite.specs import ArchSpec, TrainSpec
from suite.store import Store
from suite.sweep import ensure_runs, grid, group_runs, shard

TINY = TrainSpec(steps=4, batch_size=4, eval_every=2, eval_size=16)


def _grid():
    return grid("delayed_recall", [ArchSpec("rnn-tanh", hidden=4), ArchSpec("gru", hidden=4),
                                   ArchSpec("lstm", hidden=4)], gaps=[2, 3, 4], seeds=3, train=TINY)


def test_shards_partition_the_grid_in_whole_groups_whatever_its_order():
    specs = _grid()
    parts = [shard(specs, i, 4) for i in range(1, 5)]
    keys = [s.key for part in parts for s in part]
    assert sorted(keys) == sorted(s.key for s in specs) and len(keys) == len(set(keys))
    shuffled = specs[:]
    random.Random(0).shuffle(shuffled)
    assert [{s.key for s in shard(shuffled, i, 4)} for i in range(1, 5)] == [{s.key for s in p} for p in parts]
    home = {s.key: i for i, part in enumerate(parts) for s in part}
    for group in group_runs(specs):
        assert len({home[s.key] for s in group}) == 1  # a batched group is never split
    assert {s.key for s in shard(specs, 1, 1)} == {s.key for s in specs}


@pytest.mark.parametrize("index, count", [(0, 2), (3, 2), (1, 0), (True, 2)])
def test_a_bad_shard_is_refused_naming_it(index, count):
    with pytest.raises(ValueError, match="shard index|count"):
        shard(_grid(), index, count)


def test_shard_then_merge_round_trips_a_sweep(tmp_path, capsys):
    specs = _grid()
    whole = tmp_path / "whole.sqlite"
    ensure_runs(specs, whole, progress=False)
    parts = []
    for i in (1, 2, 3):
        part = tmp_path / f"part{i}.sqlite"
        ensure_runs(shard(specs, i, 3), part, progress=False)
        parts.append(str(part))
    out = tmp_path / "merged.sqlite"
    assert main(["merge", *parts, "--out", str(out), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["added"] == len(specs) and summary["conflicts"] == [] and summary["same"] == 0
    with Store(out) as merged, Store(whole) as reference:
        assert merged.keys() == reference.keys() == {s.key for s in specs} and len(merged) == len(specs)
        for key in merged.keys():
            assert first_difference(merged.get(key).result, reference.get(key).result, 0.0) is None
    # merging again changes nothing: every row is already there and equal
    again = merge(parts, out)
    assert again.added == 0 and again.same == len(specs) and not again.conflicts


def test_disagreeing_rows_are_reported_not_overwritten_and_provenance_is_kept(tmp_path, capsys):
    a, b, out = tmp_path / "a.sqlite", tmp_path / "b.sqlite", tmp_path / "out.sqlite"
    spec = {"seed": 0}
    with Store(a) as sa, Store(b) as sb:
        sa.put("k1", spec, {"final_loss": 1.0, "curve": [1.0, 0.5], "wall_s": 3.0}, {"host": "alpha", "threads": 1},
               created="2026-01-01T00:00:00+00:00")
        sb.put("k1", spec, {"final_loss": 1.0, "curve": [1.0, 0.7], "wall_s": 9.0}, {"host": "beta", "threads": 4})
        sa.put("k2", spec, {}, {"host": "alpha"}, status="failed", error="boom")
        sb.put("k2", spec, {"final_loss": 2.0}, {"host": "beta"})
        sb.put("k3", spec, {"final_loss": 3.0 * (1 + 1e-9), "wall_s": 1.0}, {"host": "beta"})
        sa.put("k3", spec, {"final_loss": 3.0, "wall_s": 2.0}, {"host": "alpha"})
    assert main(["merge", str(a), str(b), "--out", str(out)]) == 1
    text = capsys.readouterr().out
    assert "1 conflicts" in text and "differs in curve.1" in text and "alpha" in text and "beta" in text
    with Store(out) as merged:
        kept = merged.get("k1")
        assert kept.result["curve"] == [1.0, 0.5] and kept.meta["host"] == "alpha"  # the first, not overwritten
        assert kept.created == "2026-01-01T00:00:00+00:00"
        assert merged.get("k2").status == "ok" and merged.get("k2").meta["host"] == "beta"  # ok supersedes failed
        assert merged.get("k3").result["final_loss"] == 3.0  # within rtol: the same run
    with Store(a) as sa:
        assert sa.get("k2").status == "failed"  # inputs are only read


@pytest.mark.parametrize("args, message", [
    (["merge", "{a}", "--out", "{a}"], "out must not be one of the inputs"),
    (["merge", "{missing}", "--out", "{out}"], "no results store"),
    (["merge", "{a}", "--out", "{out}", "--rtol", "-1"], "rtol must be a number in [0, 1)"),
])
def test_bad_merge_input_is_one_line_exit_2_and_nothing_changes(tmp_path, capsys, args, message):
    a = tmp_path / "a.sqlite"
    with Store(a) as sa:
        sa.put("k", {"seed": 0}, {"final_loss": 1.0}, {})
    paths = {"a": a, "missing": tmp_path / "missing.sqlite", "out": tmp_path / "out.sqlite"}
    assert main([x.format(**paths) for x in args]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    with Store(a) as sa:
        assert len(sa) == 1
    assert not paths["out"].exists()
