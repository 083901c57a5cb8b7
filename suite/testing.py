"""Run vgsuite's checks inside your own pytest suite, in the style of scikit-learn's
`parametrize_with_checks`: one test per (architecture, check) pair, with a readable id, and known
failures as explained xfails.

    from suite.testing import parametrize_with_checks
    from mypkg.cells import MyCell                        # a cell or a RecurrentModel subclass

    @parametrize_with_checks([MyCell, "lstm"], expect=["decay>-0.05", "horizon>=50"],
                             expected_failed_checks={"lstm": {"decay>-0.05": "LSTM at default init decays"}})
    def test_vgsuite(arch, check):
        check(arch)

yields tests such as `MyCell-1layers-fast_matches_stepwise` (the architecture contract,
`suite.contract`) and `MyCell-expect[decay>-0.05]` (an expectation measured by the `vgsuite check`
battery, `suite.check`; same syntax as `vgsuite check --expect`). An architecture is a class (it is
registered under its import path "module:Class", which spawned sweep workers can import) or any name
`vgsuite check --arch` accepts.

`expected_failed_checks`: {check name: reason}, or {architecture label: {check name: reason}}, or a
callable arch name -> {check name: reason}; each such test is marked xfail (strict: a known failure
that starts passing is reported). Check names are the contract's ("gradient_reaches_first_step") and
"expect[EXPR]" (or the bare EXPR).

Expectations share one battery run per architecture per test session. The default battery is the
quick one with training only when an expectation asks for a critical gap, only the baselines an
expectation names, and as many seeds as the expectations' tests need to be able to decide at 5 %
(e.g. 5 probe seeds for "horizon>=50", a sign test; `Expectation.seeds_needed`); pass
`battery=suite.check.make_battery(...)` for another budget. A failed expectation's message names the
test that decided it, its p-value, effect size and n, or why it was not decided.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from .cache import ResultCache
from .check import BASELINES, Battery, expectation_lines, make_battery, parse_expectation, run_check, short_label
from .contract import CHECKS, ContractSkip
from .models import architecture, plugins

_REPORTS: dict = {}  # (arch name, battery, device) -> CheckReport, for the whole session
_PROBES = ResultCache(None)  # in memory: each baseline is probed once per session


class ArchCheck:
    """One check, bound to its layers and device: `check(arch)` raises AssertionError on failure."""

    def __init__(self, name: str, run: Callable[[str], None]):
        self.name = name
        self._run = run

    def __call__(self, arch: str) -> None:
        self._run(arch)

    def __repr__(self) -> str:
        return f"<vgsuite check {self.name}>"


def arch_name(arch) -> str:
    """The registry name of `arch`: a string as given; a class as 'module:QualName' (registered)."""
    if isinstance(arch, str):
        architecture(arch)  # a name that does not resolve fails at collection, with its message
        return arch
    name = f"{getattr(arch, '__module__', '?')}:{getattr(arch, '__qualname__', type(arch).__name__)}"
    if name not in plugins.PLUGINS:
        plugins.PLUGINS[name] = plugins.as_architecture(arch, name, "registered")
    return name


def _measure(name: str, battery: Battery, device: str):
    key = (name, battery, device)
    if key not in _REPORTS:
        _REPORTS[key] = run_check(name, battery, device=device, cache=_PROBES)
    return _REPORTS[key]


def _expectation_check(text: str, battery: Battery, device: str) -> ArchCheck:
    expectation = parse_expectation(text, battery)

    def run(name: str) -> None:
        report = _measure(name, battery, device)
        if report.stopped:
            raise AssertionError(f"{text}: the battery stopped: {report.stopped}")
        result = expectation.holds(report.measures, report.label)
        if not result["passed"]:
            detail = " ".join(line.strip() for line in expectation_lines(result))
            raise AssertionError(f"expected {text}: {detail} ({battery.describe()})")

    return ArchCheck(f"expect[{text}]", run)


def _contract_check(check, layers: int, device: str) -> ArchCheck:
    def run(name: str) -> None:
        try:
            check(name, layers, device)
        except ContractSkip as exc:  # a step-view check on a sequence module without one
            import pytest

            pytest.skip(str(exc))

    return ArchCheck(check.name, run)


def _default_battery(expect: list[str]) -> Battery:
    probe = make_battery("quick", train=True)
    parsed = [parse_expectation(e, probe) for e in expect]  # named errors for bad expectations
    trains = any(e.metric.startswith("critical_gap") for e in parsed)
    named = tuple(b for b in BASELINES if any(e.target == b for e in parsed))
    # as many seeds as the stated tests need to be able to decide (suite/expectations.py)
    probe_seeds = max([probe.probe_seeds, *(e.seeds_needed() for e in parsed if e.kind != "critical_gap")])
    seeds = max([probe.seeds, *(e.seeds_needed() for e in parsed if e.kind == "critical_gap")])
    return make_battery("quick", train=trains, baselines=named, probe_seeds=probe_seeds, seeds=seeds)


def checks_for(arch, *, layers: Iterable[int] = (1,), device: str = "cpu", expect: Iterable[str] = (),
               battery: Battery | None = None, expected_failed_checks=None):
    """The pytest.params (arch name, check) for one architecture."""
    import pytest

    name = arch_name(arch)
    label = short_label(name)
    expect = list(expect)
    battery = battery or _default_battery(expect)
    known = expected_failed_checks or {}
    if callable(known):
        known = known(name) or {}
    elif label in known and isinstance(known[label], dict):
        known = known[label]
    elif name in known and isinstance(known[name], dict):
        known = known[name]
    pairs = [(f"{label}-{n}layers-{c.name}", _contract_check(c, n, device)) for n in layers for c in CHECKS]
    pairs += [(f"{label}-expect[{e}]", _expectation_check(e, battery, device)) for e in expect]
    params = []
    for test_id, check in pairs:
        bare = check.name[len("expect["):-1] if check.name.startswith("expect[") else None
        reason = known.get(check.name) or (known.get(bare) if bare else None)
        marks = [pytest.mark.xfail(reason=reason, strict=True)] if isinstance(reason, str) else []
        params.append(pytest.param(name, check, id=test_id, marks=marks))
    return params


def parametrize_with_checks(archs, *, layers: Iterable[int] = (1,), device: str = "cpu",
                            expect: Iterable[str] = (), battery: Battery | None = None,
                            expected_failed_checks=None):
    """A `pytest.mark.parametrize("arch,check", ...)` over every (architecture, check) pair."""
    import pytest

    archs = list(archs) if isinstance(archs, (list, tuple)) else [archs]
    params = [p for arch in archs for p in checks_for(arch, layers=tuple(layers), device=device,
                                                      expect=expect, battery=battery,
                                                      expected_failed_checks=expected_failed_checks)]
    return pytest.mark.parametrize("arch,check", params)


__all__ = ["ArchCheck", "arch_name", "checks_for", "parametrize_with_checks"]
