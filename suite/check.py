"""`vgsuite check`: the battery that answers "does my recurrent cell really avoid vanishing gradients?"

    vgsuite check --arch mypkg.cells:MyCell --expect "critical_gap.delayed_recall>=100" --expect "decay>-0.05"

For one architecture (built-in or a user's, see suite/models/plugins.py), side by side with rnn-tanh,
LSTM and GRU under the very same protocol:

1. the architecture contract (`suite.contract`) at hidden 8; a fatal failure stops the battery;
2. at initialisation, on each task's inputs (the report's probe protocol, `suite.figures`): the
   gradient decay rate (decades per step of ||dL/dh_{T-k}||, task loss, float64 log-space probe;
   mean over seeds with a Student-t 95 % CI) and the memory horizon (median over seeds of the
   largest lag whose input saliency is >= 1 % of its peak). A sequence module without a step
   view (suite/models/sequence.py) gets its horizon from its fast view and its decay reported as
   "not measured" (null; an expectation on it fails);
3. the critical gap on each task: the largest gap of the ladder solved (task criterion, within the
   step budget) by >= 80 % of the seeds, walking up the ladder; an architecture stops climbing at
   its first failed rung, so the runs above it are never trained, and one that solves the ladder's
   top climbs on, doubling the gap up to the battery's max_gap (default 4x the top), so that its
   critical gap is bracketed rather than cut off (still solved there: a lower bound). Runs go through the sweep
   runner into the results store: a killed check resumes, and the baselines' runs (and any the
   claims already made) are reused.

Budgets (suite/battery.py, from the budget table suite/profiles.py): "quick" (a few minutes on
2 cores: delayed recall only, gaps 10/30/100, 3 seeds, hidden 32, the quick profile's training)
and "full" (every task, the full profile's ladders, seeds and training). `--tasks`, `--gaps`,
`--seeds`, `--steps` narrow either.

Exit status: 1 when a contract check fails or a run of the architecture cannot be trained, or when
a stated expectation (`--expect METRIC OP VALUE`) does not hold; else 0. Without expectations the
numbers are reported, never judged. Bad input (an arch that does not resolve, an expectation that
does not parse) is a ValueError: one line, exit 2.

Expectations: METRIC is decay, horizon or critical_gap, optionally with ".task" (without it: the
battery's first task); OP one of >= <= > < == !=; VALUE a number or a baseline's name (compare with
that baseline's measurement). They are judged with statistics (suite/expectations.py: a one-sided
Mann-Whitney U on per-seed values against a baseline, the mean's t-interval, a sign test on the
median or the critical gap's bracket against a number); each judged expectation names its test,
p-value, effect size, n per side and verdict, and one that its seeds cannot decide fails. A critical
gap below the first rung counts as 0; one with no failure on the ladder is a lower bound (the top
rung). The entries carry what the tests need: per-seed horizons (and whether each is censored at the
probe's longest lag) and per-seed reaches (censored when the seed failed no rung it was trained on).
"""

from __future__ import annotations

import math
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from . import stats
from .battery import BASELINES, Battery, make_battery
from .cache import ResultCache
from .claims.ladders import seed_reach
from .containment import UserCodeError, contained
from .contract import CheckResult, run_contract
from .executors import LOCAL, Executor
from .expectations import ALPHA, Expectation, ExpectationError, parse_expectation
from .models import architecture
from .models.plugins import SOURCE_OPTION
from .models.sequence import NO_STEP_VIEW, has_step_view
from .probes import build_model, decay_rate, gradient_profile, input_saliency, mean_ci, memory_horizon, probe_batch
from .profiles import task_options
from .specs import ArchSpec, RunSpec, TaskSpec, replicate_seeds
from .store import Store
from .sweep import ensure_runs, load_results

SCHEMA = "vgsuite-check/1"
CRITICAL_FRACTION = 0.8
# -- measuring -------------------------------------------------------------------------------------

def _probe(arch: ArchSpec, task: str, battery: Battery, device: str) -> dict:
    task_spec = TaskSpec(task, battery.probe_gap, task_options(task))
    built = task_spec.build()
    slopes, horizons, censored, notes = [], [], [], []
    unmeasured = None  # why the decay is not measured (a sequence module without a step view)
    for seed in replicate_seeds(0, battery.probe_seeds):
        model = build_model(arch, task_spec, seed, device)
        x, y = probe_batch(task_spec, battery.probe_batch, seed, device)
        if not has_step_view(model):
            unmeasured = f"decay {NO_STEP_VIEW} ({model.module_name}); the horizon is from its fast view"
        else:
            try:
                profile_ = gradient_profile(model, x, loss="task", task=built, y=y, probe_seed=seed)
                slopes.append(decay_rate(profile_.k, profile_.mean()).slope)
            except ValueError:  # an exact-zero gradient within 3 lags: nothing reaches back
                zero = np.flatnonzero(~np.isfinite(profile_.mean()))
                notes.append(f"seed {seed}: the gradient is exactly 0 from lag {int(zero[0]) if len(zero) else '?'} on")
                slopes.append(-math.inf)
            except RuntimeError as exc:
                if "does not require grad" not in str(exc):
                    raise
                notes.append(f"seed {seed}: step(x_t, state) does not depend on the state through autograd: "
                             "the gradient never reaches an earlier step")
                slopes.append(-math.inf)
        try:
            sal = input_saliency(model, x)
            h, c = memory_horizon(sal.mean(), sal.k)
        except (ValueError, RuntimeError):  # no finite saliency, or no path from the inputs at all
            h, c = 0, False
        horizons.append(h)
        censored.append(bool(c))
    horizon = {"value": float(np.median(horizons)), "min": min(horizons), "max": max(horizons),
               "censored": sum(censored), "n": len(horizons), "per_seed": horizons, "censored_per_seed": censored}
    if unmeasured:  # no "per_seed" key: a stored null stays "not measured", never -inf
        return {"decay": {"value": None, "ci": None, "n": 0, "not_measured": unmeasured, "notes": [unmeasured]},
                "horizon": horizon}
    finite = all(math.isfinite(s) for s in slopes)
    mean, ci = mean_ci(slopes) if finite else (-math.inf, None)
    return {
        "decay": {"value": mean, "ci": list(ci) if ci else None, "n": len(slopes), "per_seed": slopes,
                  "notes": notes},
        "horizon": horizon,
    }


def _probe_cached(arch: ArchSpec, task: str, battery: Battery, device: str, cache) -> dict:
    params = {"arch": asdict(arch), "task": task, "probe_gap": battery.probe_gap, "seeds": battery.probe_seeds,
              "batch": battery.probe_batch, "device": device}
    # "/2": entries carry per-seed horizons, which the expectations test (suite/expectations.py)
    data = cache.get_or_compute("check-probe/2", params, lambda: _jsonable(_probe(arch, task, battery, device)))
    for entry in data.values():  # JSON stores -inf as None
        if entry.get("value") is None and "per_seed" in entry:
            entry["value"] = -math.inf
        if "ci" in entry and "per_seed" in entry:  # a measured decay: a seed's -inf too
            entry["per_seed"] = [-math.inf if v is None else v for v in entry["per_seed"]]
    return data


def _critical_gaps(arms: dict[str, ArchSpec], battery: Battery, store, device: str, workers: int,
                   progress, executor: Executor = LOCAL) -> tuple[dict, dict]:
    """label -> task -> critical-gap entry; and label -> error for runs that failed."""
    out = {label: {} for label in arms}
    errors: dict[str, str] = {}
    for task in battery.tasks:
        ladder = battery.ladder(task)
        if not ladder:
            continue
        climbing = list(arms)
        success = {label: {} for label in arms}
        flags = {label: {} for label in arms}  # gap -> solved per seed, for each seed's reach
        trained: list[int] = []
        gap = ladder[0]
        while gap is not None and climbing:
            trained.append(gap)
            specs = {label: [RunSpec(TaskSpec(task, gap), arms[label], battery.train, seed, device)
                             for seed in replicate_seeds(0, battery.seeds)] for label in climbing}
            flat = [s for group in specs.values() for s in group]
            summary = ensure_runs(flat, store, workers=min(workers, len(flat)), progress=progress,
                                  executor=executor)
            failed = {f.spec.key: f.reason for f in summary.failed}
            results = load_results(flat, store, strict=False)
            for label in list(climbing):
                missing = [s for s in specs[label] if s.key not in results]
                if missing:
                    errors[label] = (f"training {task} gap {gap} failed: "
                                     f"{failed.get(missing[0].key, 'no stored result')}")
                    climbing.remove(label)
                    continue
                flags[label][gap] = [bool(results[s.key].solved) for s in specs[label]]
                solved = sum(flags[label][gap])
                success[label][gap] = (solved, battery.seeds)
                if solved / battery.seeds < CRITICAL_FRACTION:
                    climbing.remove(label)
            gap = battery.next_gap(task, gap)
        rungs = sorted(set(ladder) | set(trained))
        for label in arms:
            entry = {"value": None, "bracket": None, "lower_bound": False, "ladder": rungs,
                     "success": {str(g): list(v) for g, v in success[label].items()}}
            if success[label]:
                crit, (_, upper) = stats.critical_gap(success[label], CRITICAL_FRACTION)
                top = max(success[label]) == rungs[-1] and battery.next_gap(task, rungs[-1]) is None
                entry.update(value=crit if crit is not None else 0, lower_bound=upper is None and top,
                             bracket=_bracket(crit, upper, ladder), **_reach(flags[label]))
            out[label][f"critical_gap.{task}"] = entry
    return out, errors


def _reach(flags: dict[int, list[bool]]) -> dict:
    """Each seed's reach over the rungs trained (suite.claims.ladders.seed_reach), censored when the
    seed failed none of them: its architecture stopped climbing first, or the ladder ended."""
    gaps = sorted(flags)
    by_seed = [[flags[g][i] for g in gaps] for i in range(len(flags[gaps[0]]))]
    return {"reach": seed_reach(by_seed, gaps), "reach_censored": [all(f) for f in by_seed]}


def _bracket(crit, upper, ladder) -> str:
    if crit is None:
        return f"< {ladder[0]}"
    if upper is None:
        return f">= {crit}"
    return f"[{crit}, {upper})"


# -- the report ------------------------------------------------------------------------------------

@dataclass
class CheckReport:
    arch: str
    label: str
    battery: Battery
    contract: list[CheckResult]
    measures: dict = field(default_factory=dict)      # label -> metric -> entry
    expectations: list[dict] = field(default_factory=list)
    errors: dict = field(default_factory=dict)
    stopped: str | None = None                        # why the battery stopped early
    source: str | None = None
    source_files: tuple[str, ...] = ()   # what the source hash covers (suite/models/sources.py)
    options: dict = field(default_factory=dict)   # the architecture's options, as given
    wall_s: float = 0.0

    @property
    def contract_ok(self) -> bool:
        return all(r.passed for r in self.contract) and self.label not in self.errors

    @property
    def exit_code(self) -> int:
        return 0 if self.contract_ok and all(e["passed"] for e in self.expectations) else 1

    def reason(self) -> str:
        failed = [r.check for r in self.contract if not r.passed]
        bad = [e["expect"] for e in self.expectations if not e["passed"]]
        parts = []
        if failed:
            parts.append(f"contract check(s) failed: {', '.join(failed)}")
        if self.label in self.errors:
            parts.append(self.errors[self.label])
        if bad:
            parts.append(f"expectation(s) not met: {', '.join(bad)}")
        if not parts:
            return ("every contract check passed" + (" and every expectation holds" if self.expectations
                                                     else "; no expectations stated (--expect)"))
        return "; ".join(parts)

    def to_dict(self) -> dict:
        return _jsonable({
            "schema": SCHEMA, "arch": self.arch, "label": self.label, "source": self.source,
            "source_files": list(self.source_files), "options": self.options,
            "battery": asdict(self.battery) | {"description": self.battery.describe()},
            "contract": [r.to_dict() for r in self.contract],
            "measures": self.measures, "expectations": self.expectations, "errors": self.errors,
            "stopped": self.stopped, "exit_code": self.exit_code, "reason": self.reason(),
            "rule": "exit 1 when a contract check fails, a run of the architecture fails, or an "
                    "expectation does not hold; else 0. An expectation holds only when its stated test "
                    f"decides it at p <= {ALPHA:g} (or its critical-gap bracket lies wholly on the stated "
                    "side); 'not decided' fails (suite/expectations.py)",
            "wall_s": round(self.wall_s, 1),
        })

    def render(self) -> str:
        from tabulate import tabulate

        lines = [f"vgsuite check: {self.arch}" + (f" (source {self.source}: {', '.join(self.source_files)})"
                                                  if self.source else "")
                 + (f", options {', '.join(f'{k}={v}' for k, v in self.options.items())}" if self.options else ""),
                 f"  {self.battery.describe()}", ""]
        passed = sum(r.passed for r in self.contract)
        lines.append(f"Contract (hidden 8, layers {self.battery.layers}): {passed}/{len(self.contract)} checks passed")
        for r in self.contract:
            lines.append(f"  {'ok  ' if r.passed else 'FAIL'} {r.check}" + (f": {r.message}" if r.message else ""))
        if self.stopped:
            lines += ["", f"Stopped: {self.stopped}"]
        if self.measures:
            labels = [self.label, *[b for b in self.battery.baselines if b != self.label]]
            metrics = [m for m in self.measures[self.label]]
            rows = [[m + _unit(m), *[_cell(self.measures[lab].get(m)) for lab in labels]] for m in metrics]
            lines += ["", tabulate(rows, ["measure", *labels], disable_numparse=True)]
            notes = self.measures[self.label].get(f"decay.{self.battery.tasks[0]}", {}).get("notes")
            lines += [f"  note: {n}" for n in notes or []]
            lines += ["  decay: log10 gradient norm per step back in time (0 = none lost), mean over seeds [95% CI];",
                      "  horizon: median lag whose input saliency is still >= 1% of its peak (+ = censored);",
                      "  critical gap: largest gap solved by >= 80% of seeds ([solved, failed) bracket)."]
        for label, error in self.errors.items():
            lines.append(f"  error ({label}): {error}")
        if self.expectations:
            lines += ["", "Expectations:"]
            for e in self.expectations:
                lines += expectation_lines(e)
            lines.append(f"  (a test decides at p <= {ALPHA:g}; only 'holds' passes: see suite/expectations.py)")
        lines += ["", f"Result: exit {self.exit_code}: {self.reason()} ({self.wall_s:.0f} s)"]
        return "\n".join(lines)


def expectation_lines(e: dict) -> list[str]:
    """A judged expectation in two lines: its verdict, then the test that decided it."""
    target = "" if isinstance(e["target"], float) else f" ({e['target']}: {_short(e['target_value'])})"
    measured = "not measured" if "not measured" in str(e.get("verdict", "")) else f"measured {_short(e['measured'])}"
    lines = [f"  {'PASS' if e['passed'] else 'FAIL'} {e['expect']}: {e.get('verdict', '')}; {measured}{target}"]
    if e.get("test"):
        parts = [e["test"]]
        if e.get("p_value") is not None:
            parts.append(f"p = {e['p_value']:.3g}")
        if e.get("effect_size") is not None:
            ci = e.get("effect_ci")
            interval = "" if not ci else " [" + ", ".join(_short(v) for v in ci) + "]"
            parts.append(f"{e['effect']} = {e['effect_size']:.3g}{interval}")
        if e.get("n"):
            parts.append("n " + " vs ".join(map(str, e["n"])))
        lines.append("       " + "; ".join(parts))
    return lines


def _unit(metric: str) -> str:
    return {"decay": " (decades/step)", "horizon": " (steps)"}.get(metric.split(".")[0], "")


def _short(value) -> str:
    if value is None or (isinstance(value, float) and value == -math.inf):
        return "-inf"
    if isinstance(value, float) and value == math.inf:
        return "inf"
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _cell(entry) -> str:
    if not entry:
        return "-"
    if entry.get("not_measured"):
        return "not measured (no step view)"
    if "ci" in entry:  # decay
        if entry["ci"] is None:
            return "-inf (gradient exactly 0)" if entry["value"] == -math.inf else _short(entry["value"])
        return f"{entry['value']:.4f} [{entry['ci'][0]:.4f}, {entry['ci'][1]:.4f}]"
    if "censored" in entry:  # horizon
        return f"{entry['value']:g}" + ("+" if entry["censored"] else "") + f" ({entry['min']}-{entry['max']})"
    if "bracket" in entry:
        return entry["bracket"] or "error"
    return str(entry.get("value"))


def _jsonable(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


# -- the battery -----------------------------------------------------------------------------------

def short_label(name: str) -> str:
    """'examples/indrnn.py:IndRNNCell' -> 'IndRNNCell'; registered and built-in names stay."""
    return name.rpartition(":")[2] if ":" in name else name


def run_check(name: str, battery: Battery, *, options: dict | None = None, expect=(), store=None,
              cache=None, device: str = "cpu", workers: int = 1, progress=None, log=None,
              executor: Executor = LOCAL) -> CheckReport:
    """Run the battery on architecture `name`. `store` is a Store or a path (None: a temporary one)."""
    started = time.perf_counter()
    entry = architecture(name)  # named errors for names that do not resolve
    expectations = [parse_expectation(e, battery) for e in expect]
    user = ArchSpec(name, hidden=battery.hidden, layers=battery.layers, options=dict(options or {}))
    label = short_label(name)
    if label in battery.baselines and name != label:
        label = name
    contract = run_contract(name, battery.layers, device, {k: v for k, v in user.options if k != SOURCE_OPTION})
    report = CheckReport(name, label, battery, contract, source=entry.source,
                         source_files=entry.source_files,
                         options={k: v for k, v in user.options if k != SOURCE_OPTION})
    say = log or (lambda text: None)
    for note in filter(None, (e.too_few_seeds(battery) for e in expectations)):
        say(f"note: {note}")
    say(f"contract: {sum(r.passed for r in report.contract)}/{len(report.contract)} checks passed")
    fatal = [r.check for r in report.contract if r.fatal and not r.passed]
    if fatal:
        report.stopped = f"fatal contract failure ({', '.join(fatal)}): the probes would measure nothing meaningful"
        report.wall_s = time.perf_counter() - started
        return report

    arms = {label: user, **{b: ArchSpec(b, hidden=battery.hidden, layers=battery.layers)
                            for b in battery.baselines if b != label}}
    with tempfile.TemporaryDirectory(prefix="vgsuite-check-") as tmp:
        db = store if isinstance(store, Store) else Store(store if store is not None else Path(tmp) / "runs.sqlite")
        cache = cache if cache is not None else ResultCache(db.path.parent / "cache.json")
        try:
            for lab, arch in arms.items():
                report.measures[lab] = {}
                for task in battery.tasks:
                    say(f"probing {lab} on {task} (gap {battery.probe_gap})")
                    try:
                        with contained(f"{lab}: probing on {task}"):
                            data = _probe_cached(arch, task, battery, device, cache)
                    except UserCodeError as exc:
                        report.errors[lab] = str(exc)
                        report.stopped = str(exc)
                        report.wall_s = time.perf_counter() - started
                        return report
                    report.measures[lab][f"decay.{task}"] = data["decay"]
                    report.measures[lab][f"horizon.{task}"] = data["horizon"]
            if battery.trains:
                say(f"critical gaps: training {', '.join(arms)} up their ladders (store {db.path})")
                gaps, report.errors = _critical_gaps(arms, battery, db, device, workers, progress, executor)
                for lab in arms:
                    report.measures[lab].update(gaps[lab])
        finally:
            if db is not store:
                db.close()
    report.expectations = [e.holds(report.measures, label) for e in expectations]
    report.wall_s = time.perf_counter() - started
    return report


__all__ = ["BASELINES", "Battery", "CheckReport", "Expectation", "ExpectationError",
           "make_battery", "parse_expectation", "run_check", "short_label"]
