"""Regression checks: did a change (ours, PyTorch's, a user's) break a documented result?

    vgsuite compare reports/baseline.json .vgsuite/verdicts          # exit 1 on a regression
    vgsuite compare reports/baseline.json .vgsuite/verdicts --update # make the new run the baseline

A *verdict set* is every claim's verdict from one run of the claims under one profile. It is read
from any of:

* a directory of JSON lines that the claim tests write when $VGSUITE_VERDICTS names it
  (`record_verdict`, called by tests/test_claims.py: one file per claim and device, so
  pytest-xdist workers never share a file and two runs' folders compare byte for byte): CI
  compares the verdicts its claim tests computed anyway;
* a baseline file (schema "vgsuite-verdicts/1", e.g. the committed reports/baseline.json);
* a report's results.json (schema "vgsuite-report/1") or the output of `vgsuite claims --json`.

Claim by claim, number by number (`compare`), the new run is a **regression** when
* a claim's verdict differs from the baseline's (a verdict flip), or
* its key number (`value`) or its effect size moved beyond the statistical noise: both runs
  estimate the number from their seeds, so the difference is judged against both intervals,
  z = |new - base| / sqrt(se_base^2 + se_new^2) with each se read off the 95 % CI on the side of
  the move (half-width / 1.96), and it is a regression when z exceeds the Bonferroni bound for
  a two-sided 5 % family-wise level over every number compared (about 3.3 for 22 claims x 2
  numbers). Another CPU computes the same claims with other last digits, which can flip a
  run's outcome near the solved threshold (shown as "changed"); a real change moves a number
  by several of its standard errors or flips a verdict. Or
* for a number the baseline gives without a usable CI (none, or one collapsed to a point), it
  moved by more than `rtol` (default 5 %) relative to the baseline (and more than `atol` = 1e-6,
  float noise), or became non-finite, or
* a claim of the baseline is missing from the new run.
Numbers that moved within tolerance are shown as "changed"; a changed n or protocol (settings) is
shown as a note, since the comparison is then not like for like. Claims new since the baseline
are listed, never a regression. The two sets must come from the same profile (else a ValueError).
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

from .verdict_schema import VerdictFileError, check_header, check_line, check_list

SCHEMA = "vgsuite-verdicts/1"
REPORT_SCHEMA = "vgsuite-report/1"
VERDICTS_ENV = "VGSUITE_VERDICTS"
DEFAULT_RTOL = 0.05
DEFAULT_ATOL = 1e-6   # differences this small are float noise (e.g. a ratio that is 1 up to rounding)
FAMILY_ALPHA = 0.05   # family-wise level of the noise test over every number one comparison judges
Z95 = 1.959963984540054  # a 95 % CI's half-width in standard errors
#: what a baseline keeps of a verdict (the per-claim tables stay in the report)
KEPT = ("claim_id", "verdict", "statistic", "value", "ci", "n", "test", "p_value", "effect_size",
        "effect_ci", "conditions", "settings", "expected")


#: the numbers of a verdict that the gate judges: (label, key, key of its 95 % CI)
NUMBERS = (("value", "value", "ci"), ("effect size", "effect_size", "effect_ci"))


# -- writing ---------------------------------------------------------------------------------------

def record_verdict(claim, verdict, context) -> Path | None:
    """Write `verdict` to $VGSUITE_VERDICTS/<claim>-<device>.jsonl (no-op when the variable is
    unset): one file per claim and device, replaced whole, so that two runs of the same code give
    folders that compare byte for byte whatever process ran which claim."""
    folder = os.environ.get(VERDICTS_ENV)
    if not folder:
        return None
    from .environment import code_version

    path = Path(folder) / f"{claim.id}-{context.device}.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {k: v for k, v in verdict.to_dict().items() if k in KEPT}
    line = {"verdict": data | {"expected": claim.expected_for(context.profile)}, "profile": context.profile,
            "device": context.device, "master_seed": context.master_seed, "version": code_version()}
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(line, sort_keys=True) + "\n")
    os.replace(tmp, path)
    return path


@dataclass
class VerdictSet:
    profile: str | None
    verdicts: dict[str, dict]                 # claim id -> verdict dict
    device: str | None = None
    master_seed: int | None = None
    meta: dict = field(default_factory=dict)  # versions, where it came from

    def to_dict(self) -> dict:
        return {"schema": SCHEMA, "profile": self.profile, "device": self.device,
                "master_seed": self.master_seed, "meta": self.meta,
                "verdicts": [self.verdicts[k] for k in sorted(self.verdicts, key=_claim_order)]}


def write_baseline(verdicts: VerdictSet, path: str | os.PathLike) -> Path:
    """Write `verdicts` as a baseline file (atomically), with the environment that produced them."""
    from .environment import metadata

    path = Path(path)
    env = metadata(verdicts.device or "cpu")
    meta = {k: v for k, v in verdicts.meta.items() if k != "from"}  # no local paths in a committed file
    meta |= {k: env.get(k) for k in ("torch", "python", "code_version", "device_name") if k in env}
    data = VerdictSet(verdicts.profile, verdicts.verdicts, verdicts.device, verdicts.master_seed, meta).to_dict()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    os.replace(tmp, path)
    return path


# -- reading ---------------------------------------------------------------------------------------

def load_verdicts(path: str | os.PathLike, device: str | None = None) -> VerdictSet:
    """A verdict set from a directory of JSON lines, a baseline, a results.json or a claims list."""
    path = Path(path)
    if path.is_dir():
        return _from_lines(path, device)
    if not path.is_file():
        raise VerdictFileError(f"verdicts: no file or directory {str(path)!r}")
    data = _parse(path.read_bytes() if path.stat().st_size <= MAX_BYTES else None, repr(str(path)))
    if isinstance(data, list):  # vgsuite claims --json
        return VerdictSet(None, _by_id(data, path), meta={"from": str(path)})
    schema = data.get("schema") if isinstance(data, dict) else None
    if schema not in (SCHEMA, REPORT_SCHEMA):
        raise VerdictFileError(f"verdicts: {str(path)!r} has schema {schema!r:.60}; expected {SCHEMA!r} "
                               f"(a baseline) or {REPORT_SCHEMA!r} (a report's results.json)")
    check_header(data, repr(str(path)))
    meta = dict(data.get("meta") or {}) | ({"version": data["version"]} if "version" in data else {})
    return VerdictSet(data.get("profile"), _by_id(data.get("verdicts"), path), data.get("device"),
                      data.get("master_seed"), meta)


#: a verdict file larger than this is not one (the committed baseline is 30 kB)
MAX_BYTES = 64 * 2**20


def _parse(text, where: str):
    """JSON, or a VerdictFileError: not JSON, too large, or nested too deeply to be a verdict file."""
    if text is None:
        raise VerdictFileError(f"verdicts: {where} is larger than {MAX_BYTES // 2**20} MiB: not a verdict file")
    try:
        return json.loads(text)
    except RecursionError:
        raise VerdictFileError(f"verdicts: {where} is nested too deeply to be a verdict file") from None
    except ValueError as exc:  # UnicodeDecodeError included
        raise VerdictFileError(f"verdicts: {where} is not JSON ({' '.join(str(exc).split())[:120]})") from None


def _by_id(items, path: Path) -> dict[str, dict]:
    check_list(items, repr(str(path)))
    return {item["claim_id"]: {k: v for k, v in item.items() if k in KEPT} for item in items}


def _from_lines(folder: Path, device: str | None) -> VerdictSet:
    records = []
    for file in sorted(folder.glob("*.jsonl")):
        if not file.is_file():
            raise VerdictFileError(f"verdicts: {str(file)!r} is not a file")
        raw = file.read_bytes() if file.stat().st_size <= MAX_BYTES else None
        try:
            lines = (raw or b"").decode().splitlines()
        except UnicodeDecodeError:
            raise VerdictFileError(f"verdicts: {str(file)!r} is not UTF-8 text") from None
        for number, line in enumerate(lines if raw is not None else [None], start=1):
            if line is not None and not line.strip():
                continue
            records.append(check_line(_parse(line, f"{file}:{number}"), f"{file}:{number}"))
    if not records:
        raise VerdictFileError(f"verdicts: no verdicts in {str(folder)!r} (run the claim tests with "
                               f"{VERDICTS_ENV}={folder})")
    devices = sorted({r["device"] for r in records})
    if device is not None and device not in devices:
        raise VerdictFileError(f"device: no verdicts for device {device!r} in {str(folder)!r}; it has {devices}")
    device = device or ("cpu" if "cpu" in devices else devices[0])
    chosen = [r for r in records if r.get("device") == device]
    seen = set()
    for r in chosen:
        if r["verdict"]["claim_id"] in seen:
            raise VerdictFileError(f"verdicts: {str(folder)!r} holds claim {r['verdict']['claim_id']!r} twice "
                                   f"for device {device!r}")
        seen.add(r["verdict"]["claim_id"])
    profiles = sorted({str(r.get("profile")) for r in chosen})
    seeds = sorted({r.get("master_seed") for r in chosen}, key=str)
    if len(profiles) > 1 or len(seeds) > 1:
        raise VerdictFileError(f"verdicts: {str(folder)!r} mixes profiles {profiles} / master seeds {seeds}; "
                               "clear it before a run")
    return VerdictSet(chosen[0].get("profile"), {r["verdict"]["claim_id"]: r["verdict"] for r in chosen},
                      device, seeds[0], {"version": chosen[-1].get("version"), "from": str(folder)})


# -- comparing -------------------------------------------------------------------------------------

@dataclass
class Row:
    claim: str
    status: str                 # ok | changed | REGRESSION | new | missing
    base_verdict: str | None
    new_verdict: str | None
    base_value: float | None
    base_ci: list | None
    new_value: float | None
    reasons: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return dict(vars(self))


@dataclass
class RegressionReport:
    rows: list[Row]
    profile: str | None
    base_meta: dict
    new_meta: dict

    @property
    def regressions(self) -> list[Row]:
        return [r for r in self.rows if r.status in ("REGRESSION", "missing")]

    @property
    def exit_code(self) -> int:
        return 1 if self.regressions else 0

    def to_dict(self) -> dict:
        return {"profile": self.profile, "regressions": len(self.regressions), "exit_code": self.exit_code,
                "base": self.base_meta, "new": self.new_meta, "rows": [r.to_dict() for r in self.rows]}

    def render(self) -> str:
        from tabulate import tabulate

        table = []
        for r in self.rows:
            verdict = (r.base_verdict or "-") if r.base_verdict == r.new_verdict else \
                f"{r.base_verdict or '-'} -> {r.new_verdict or '-'}"
            ci = f" [{_fmt(r.base_ci[0])}, {_fmt(r.base_ci[1])}]" if r.base_ci else ""
            table.append([r.claim, r.status, verdict, f"{_fmt(r.base_value)}{ci}", _fmt(r.new_value),
                          "; ".join(r.reasons + r.notes)])
        counts = {s: sum(r.status == s for r in self.rows) for s in ("ok", "changed", "REGRESSION", "missing", "new")}
        summary = ", ".join(f"{n} {s.lower()}" for s, n in counts.items() if n)
        head = (f"vgsuite compare ({self.profile or '?'} profile): baseline {self.base_meta.get('version', '?')} "
                f"vs new {self.new_meta.get('version', '?')}")
        body = tabulate(table, ["claim", "status", "verdict", "baseline value [95% CI]", "new value", "why"],
                        disable_numparse=True)
        verdict = (f"{len(self.regressions)} regression(s)" if self.regressions else "no regression")
        return f"{head}\n{body}\n{len(self.rows)} claims: {summary}. Result: {verdict}."


def _fmt(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _claim_order(claim_id: str):
    head = claim_id.rstrip("0123456789")
    tail = claim_id[len(head):]
    return (head, int(tail) if tail else 0, claim_id)


def _finite(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _usable(ci, slack: float) -> tuple[float, float] | None:
    """(lo, hi) of a CI that can judge a move; None for no CI or one collapsed to a point."""
    if not ci or len(ci) != 2 or not all(_finite(c) for c in ci):
        return None
    lo, hi = min(ci), max(ci)
    return (lo, hi) if hi - lo > slack else None


def _z_gate(n_numbers: int, alpha: float = FAMILY_ALPHA) -> float:
    """Two-sided Bonferroni bound on |z| for `n_numbers` comparisons at family-wise level alpha."""
    from scipy.stats import norm

    return float(norm.ppf(1 - alpha / (2 * max(1, n_numbers))))


def _check_number(label: str, base, base_ci, new, new_ci, rtol: float, atol: float,
                  z_gate: float) -> tuple[str, str | None]:
    """('ok' | 'changed' | 'regression', reason) for one number."""
    if base is None and new is None:
        return "ok", None
    if _finite(base) and not _finite(new):
        return "regression", f"{label} {_fmt(base)} became {_fmt(new)}"
    if not _finite(base):
        return ("ok", None) if new == base else ("changed", f"{label} {_fmt(base)} -> {_fmt(new)}")
    if new == base:
        return "ok", None
    slack = atol + 1e-9 * max(abs(base), abs(new))  # float noise never counts
    if abs(new - base) <= slack:
        return "changed", f"{label} {_fmt(base)} -> {_fmt(new)} (float noise, <= {atol:g})"
    b_ci = _usable(base_ci, slack)
    if b_ci is not None:
        n_ci = _usable(new_ci, slack)
        if n_ci is None or not n_ci[0] - slack <= new <= n_ci[1] + slack:  # else as wide as the baseline's
            n_ci = (new - (base - b_ci[0]), new + (b_ci[1] - base))
        up = new > base  # each se from the half of its interval that faces the other estimate
        se_b = ((b_ci[1] - base) if up else (base - b_ci[0])) / Z95
        se_n = ((new - n_ci[0]) if up else (n_ci[1] - new)) / Z95
        se = math.hypot(se_b, se_n)
        z = abs(new - base) / se if se > 0 else math.inf
        if z > z_gate:
            return "regression", (f"{label} {_fmt(base)} -> {_fmt(new)}: z = {z:.2f} > {z_gate:.2f} "
                                  f"(beyond the noise of both runs' 95% CIs, Bonferroni over the numbers)")
        return "changed", f"{label} {_fmt(base)} -> {_fmt(new)} (z = {z:.2f}, within noise)"
    why = "collapsed CI in the baseline" if base_ci else "no CI in the baseline"
    if abs(new - base) > slack + rtol * max(abs(base), abs(new)):
        return "regression", f"{label} {_fmt(base)} -> {_fmt(new)}: beyond {rtol:.0%} ({why})"
    return "changed", f"{label} {_fmt(base)} -> {_fmt(new)} (within {rtol:.0%}; {why})"


def compare(base: VerdictSet, new: VerdictSet, rtol: float = DEFAULT_RTOL,
            atol: float = DEFAULT_ATOL) -> RegressionReport:
    if not (isinstance(rtol, (int, float)) and 0 <= rtol < 1):
        raise ValueError(f"rtol must be a number in [0, 1), got {rtol!r}")
    if base.profile and new.profile and base.profile != new.profile:
        raise ValueError(f"profiles differ: the baseline is {base.profile!r}, the new run {new.profile!r}; "
                         "compare runs of the same profile")
    shared = set(base.verdicts) & set(new.verdicts)
    z_gate = _z_gate(sum(base.verdicts[c].get(key) is not None for c in shared for _, key, _ in NUMBERS))
    rows = []
    for claim in sorted(set(base.verdicts) | set(new.verdicts), key=_claim_order):
        b, n = base.verdicts.get(claim), new.verdicts.get(claim)
        if n is None:
            rows.append(Row(claim, "missing", b["verdict"], None, b.get("value"), b.get("ci"), None,
                            ["the claim is missing from the new run"]))
            continue
        if b is None:
            rows.append(Row(claim, "new", None, n["verdict"], None, None, n.get("value"),
                            notes=["not in the baseline"]))
            continue
        row = Row(claim, "ok", b["verdict"], n["verdict"], b.get("value"), b.get("ci"), n.get("value"))
        worst = "ok"
        if b["verdict"] != n["verdict"]:
            worst = "regression"
            row.reasons.append(f"verdict flip: {b['verdict']} -> {n['verdict']}")
        for label, key, ci in NUMBERS:
            outcome, reason = _check_number(label, b.get(key), b.get(ci), n.get(key), n.get(ci), rtol, atol,
                                            z_gate)
            if reason:
                (row.reasons if outcome == "regression" else row.notes).append(reason)
            if outcome == "regression" or (outcome == "changed" and worst == "ok"):
                worst = outcome
        if b.get("n") != n.get("n"):
            row.notes.append(f"n {b.get('n')} -> {n.get('n')}")
        if b.get("settings") and n.get("settings") and b["settings"] != n["settings"]:
            changed = sorted(k for k in set(b["settings"]) | set(n["settings"])
                             if b["settings"].get(k) != n["settings"].get(k))
            row.notes.append(f"protocol changed: {', '.join(changed)}")
        row.status = {"ok": "ok", "changed": "changed", "regression": "REGRESSION"}[worst]
        rows.append(row)
    return RegressionReport(rows, base.profile or new.profile, base.meta, new.meta)


__all__ = ["RegressionReport", "DEFAULT_ATOL", "DEFAULT_RTOL", "Row", "SCHEMA", "VERDICTS_ENV", "VerdictFileError",
           "VerdictSet", "compare", "load_verdicts", "record_verdict", "write_baseline"]
