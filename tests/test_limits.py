"""Size limits: runs and probes beyond them are refused before anything is allocated."""

from __future__ import annotations

import pytest

from suite.limits import LAYERS_ENV, MEMORY_ENV, SizeError, check_probe, check_run
from suite.profiles import FULL, QUICK
from suite.specs import ArchSpec, RunSpec, TaskSpec, TrainSpec


@pytest.mark.parametrize("change, named", [
    (dict(task=TaskSpec("copy", 10**9)), "gap 1000000000"),
    (dict(task=TaskSpec("copy", 100_000), arch=ArchSpec(hidden=8), train=TrainSpec(batch_size=2)), "gap 100000"),
    (dict(task=TaskSpec("delayed_recall", 5, {"n_symbols": 2**40})), "input size"),
    (dict(arch=ArchSpec(hidden=100_000)), "hidden 100000"),
    (dict(train=TrainSpec(batch_size=10**7)), "batch-size 10000000"),
])
def test_oversized_runs_are_refused_with_the_parameters_and_the_limit(change, named):
    spec = RunSpec(**{"task": TaskSpec("delayed_recall", 5), **change})
    with pytest.raises(SizeError, match=named) as info:
        check_run(spec)
    assert MEMORY_ENV in str(info.value) and "8 GiB" in str(info.value)


def test_deep_stacks_are_refused_and_the_limits_can_be_raised(monkeypatch):
    spec = RunSpec(TaskSpec("delayed_recall", 5), ArchSpec(layers=1000))
    with pytest.raises(SizeError, match=f"layers 1000 .* {LAYERS_ENV}"):
        check_run(spec)
    monkeypatch.setenv(LAYERS_ENV, "1000")
    check_run(spec)
    big = RunSpec(TaskSpec("delayed_recall", 5), ArchSpec(hidden=100_000))
    monkeypatch.setenv(MEMORY_ENV, "10000")
    check_run(big)
    monkeypatch.setenv(MEMORY_ENV, "lots")
    with pytest.raises(SizeError, match=MEMORY_ENV):
        check_run(big)


def test_probes_are_estimated_too():
    with pytest.raises(SizeError, match="probe of gap 100000"):
        check_probe(ArchSpec(), TaskSpec("delayed_recall", 100_000), 16)


def test_every_profile_fits_well_within_the_default_limits():
    for prof in (QUICK, FULL):
        for task, gaps in prof.gaps:
            check_run(RunSpec(TaskSpec(task, max(gaps)), ArchSpec(hidden=64, layers=4), prof.train))
            check_probe(ArchSpec(hidden=64, layers=4), TaskSpec(task, 1000), 64)
