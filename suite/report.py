"""The citable report: verdicts, tables and figures under `reports/`, rendered from the evidence.

    vgsuite report --profile full            # what plain `nox` runs: gather, then render

`render` only formats and writes what `suite.evidence.gather` evaluated: it never trains,
decides a claim or probes a network.

Layout of the output folder (every table and figure has a stable id, e.g. "vgsuite table T3"):

    index.md                 verdict table first, then overviews and one section per claim
    tables/<ID>.md|.tex|.csv every table in Markdown, LaTeX (booktabs) and CSV
    figures/<ID>.png|.svg    F1 gradient vs distance, F2 success vs gap, F3 critical gaps, F4 saliency,
                             F5 critical gap vs step budget, F6 time to solve (Kaplan-Meier); the
                             paper profile adds T10, its runs beside the published numbers
                             (suite/literature.py)
    results.json             schema "vgsuite-report/1": {schema, version, profile, verdicts[],
                             tables{id: {title, columns, rows}}, figures{id: {title, files}}}
    meta.json                versions, commit, device and CPU model, threads, profile, seeds, date

Everything except meta.json is a pure function of the evidence (the store, the cached verdicts and
the code), so re-rendering gives byte-identical files (no timestamps outside meta.json).
"""

from __future__ import annotations

import csv
import io
import json
import math
import platform
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from tabulate import tabulate

from . import figures, plots
from .claims.base import Context
from .claims.evaluate import Evaluated
from .claims.learning_rates import GRID, TUNING_GAP, TUNING_MASTER_SEED, disagreements
from .environment import code_version, metadata
from .evidence import Evidence
from .literature import COMPARISON_NOTE, comparison_rows

SCHEMA = "vgsuite-report/1"


@dataclass
class Table:
    id: str
    title: str
    rows: list[dict]
    note: str = ""

    @property
    def columns(self) -> list[str]:
        cols: list[str] = []
        for row in self.rows:
            cols += [c for c in row if c not in cols]
        return cols

    def cells(self) -> list[list[str]]:
        return [[fmt(row.get(c)) for c in self.columns] for row in self.rows]

    def markdown(self) -> str:
        if not self.rows:
            return "_(no rows)_\n"
        return tabulate(self.cells(), headers=self.columns, tablefmt="github", disable_numparse=True) + "\n"

    def latex(self) -> str:
        body = tabulate(self.cells(), headers=self.columns, tablefmt="latex_booktabs", disable_numparse=True)
        return f"% vgsuite table {self.id}: {self.title}\n{body}\n"

    def csv(self) -> str:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(self.columns)
        writer.writerows(self.cells())
        return buffer.getvalue()


@dataclass
class Report:
    profile: str
    evaluated: list[Evaluated]
    tables: list[Table] = field(default_factory=list)
    figures: dict[str, dict] = field(default_factory=dict)
    confirmed: dict[str, str] = field(default_factory=dict)  # claim id -> verdict on fresh seeds
    confirmed_under: str = ""                                 # e.g. "fresh seeds (quick, master seed 1)"
    confirmed_profile: str = ""                               # the profile of those fresh seeds


def fmt(value) -> str:
    """One formatting rule for every table cell (4 significant digits, CIs in brackets)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        return f"{value:.4g}"
    is_pair = isinstance(value, (tuple, list)) and len(value) == 2
    if is_pair and all(isinstance(v, (int, float)) or v is None for v in value):
        return f"[{fmt(value[0])}, {fmt(value[1])}]"
    if isinstance(value, dict):  # a cached result's keys come back as strings: order them alike
        return "{" + ", ".join(f"{k}: {fmt(value[k])}" for k in sorted(value, key=_key_order)) + "}"
    return str(value)


def _key_order(key) -> tuple:
    """Numeric keys (5, "10") by value, before any other keys in string order."""
    try:
        return (0, float(key), "")
    except (TypeError, ValueError):
        return (1, 0.0, str(key))


def confirmation_column(confirm: Context | None) -> str:
    return f"fresh seeds ({confirm.profile}, master seed {confirm.master_seed})" if confirm else ""


def confirmation_text(measured: str, again: str, expected_there: str = "") -> str:
    """'same', or the fresh seeds' verdict, saying when it is the one the confirming profile's own
    protocol expects (e.g. a claim whose full protocol adds a task the quick one does not run)."""
    if again == measured:
        return "same"
    return f"{again}, as that protocol expects" if again == expected_there else f"differs: {again}"


def verdict_table(evaluated: list[Evaluated], confirmed: dict[str, str] | None = None,
                  confirm: Context | None = None) -> Table:
    rows = []
    for e in evaluated:
        v, c = e.verdict, e.claim
        again = ({confirmation_column(confirm): confirmation_text(v.verdict, confirmed[c.id],
                                                                  c.expected_for(confirm.profile))}
                 if confirmed else {})
        rows.append({
            "claim": c.id,
            "the article says": c.article,
            "literature prior": e.prior.text,
            "measured verdict": v.verdict,
            "vs prior": e.agreement,
            **again,
            "protocol": protocol_of(v.settings),
            "key number": f"{v.statistic} = {fmt(v.value)}",
            "95% CI": v.ci,
            "n": v.n,
            "n counts": v.n_counts,
            "p (Holm)": e.p_holm,
            "conditions": v.conditions,
        })
    return Table("T1", "Verdicts on the article's claims", rows,
                 "Literature prior: the expectation of the shared claims.md, as written (a hypothesis, "
                 "never edited to match a measurement); vs prior: whether the measured verdict is the "
                 "prior's (open: no prior). Protocol: what the verdict was measured under; a learning "
                 "verdict holds for that protocol. p-values are Holm-corrected across every claim that "
                 "reports one."
                 + (f" {confirmation_column(confirm)}: every verdict decided again under the {confirm.profile} "
                    f"profile on the replicate seeds of master seed {confirm.master_seed}, which no ladder, seed "
                    "count, threshold or learning rate was calibrated on." if confirmed else ""))


def budget_table(by_budget: dict) -> Table:
    """T6: each learning verdict decided at every read budget, and where it changes."""
    rows = []
    for claim_id, verdicts in by_budget.items():
        budgets = sorted(verdicts)
        row = {"claim": claim_id}
        row |= {f"<= {b} steps": verdicts[b].verdict for b in budgets}
        changes = [f"{verdicts[a].verdict} -> {verdicts[b].verdict} at {b}"
                   for a, b in zip(budgets, budgets[1:]) if verdicts[a].verdict != verdicts[b].verdict]
        row["changes"] = "; ".join(changes) or "no"
        rows.append(row)
    return Table("T6", "Learning verdicts vs step budget", rows,
                 "Each verdict decided again from the same runs read at a shorter budget (a run solved "
                 "by then counts as solved; the first N steps of a longer run are the N-step run). A "
                 "verdict that changes with the budget holds only from the budget where it last changes.")


def protocol_of(settings: dict) -> str:
    """A verdict's protocol in one line: training (learning claims) or probe (mechanism claims)."""
    if "step_budget" in settings:
        return (f"{settings.get('task', '')}; hidden {settings['hidden']}; {settings['optimizer']}, "
                f"batch {settings['batch_size']}, <= {settings['step_budget']} steps; "
                f"{settings['profile']} profile (arms' inits and seeds in the claim's section)")
    parts = []
    if "task" in settings:
        parts.append(f"{settings['task']} gap {settings.get('gap', '?')}")
    if "hidden" in settings:
        parts.append(f"hidden {settings['hidden']}")
    parts.append("float64 probe at initialisation")
    train = settings.get("train")
    if isinstance(train, dict):
        parts.append(f"and after <= {train.get('steps')} {train.get('optimizer', 'adam')} steps "
                     f"(lr {fmt(train.get('lr'))})")
    for half in ("vanishing", "exploding"):
        if isinstance(settings.get(half), dict):
            sub = settings[half]
            parts.append(f"{half}: {sub.get('task', '')} gap {sub.get('gap', '?')}, hidden {sub.get('hidden', '?')}")
    return "; ".join(parts)


def tuning_table(context: Context, rows: list[dict]) -> Table:
    """T7: the learning-rate grid, each rate's evidence on the tuning seeds, the rule's pick and the
    rate the claims use."""
    differ = disagreements(rows)
    train = context.budget.train
    return Table("T7", "Learning rate per architecture: grid, evidence and pick", rows,
                 f"Grid {', '.join(f'{lr:g}' for lr in GRID)}; delayed recall gap {TUNING_GAP}, hidden "
                 f"{context.budget.hidden}, {train.optimizer}, <= {train.steps} steps, batch {train.batch_size}; "
                 f"{context.budget.tuning_seeds} tuning seeds of master seed {TUNING_MASTER_SEED}, which no "
                 "verdict reads. Rule: most runs solved, then the lowest median outcome score (steps to "
                 "solve; an unsolved run after every solved one, by its final loss / memoryless loss), "
                 "compared at 1 % of the budget; a tie keeps 3e-3. Mitigation arms train at their "
                 "architecture's rate. "
                 + ("The rule's pick and the rate used agree for every architecture." if not differ else
                    "THE RULE'S PICK DIFFERS FROM THE RATE USED: " + "; ".join(differ)))


def render(evidence: Evidence, out: Path) -> Report:
    """Every table and figure of the evidence, written under `out`."""
    context, evaluated, overview, records = evidence.context, evidence.evaluated, evidence.overview, evidence.records
    confirm, confirmed = evidence.confirm, evidence.confirmed
    report = Report(context.profile, evaluated, confirmed=confirmed,
                    confirmed_under=confirmation_column(confirm),
                    confirmed_profile=confirm.profile if confirm is not None else "")
    runs = figures.runs_by_gap(evidence.table_records)
    budgets = context.budget.read_budgets
    survival = figures.survival_by_gap(runs)
    probe = context.budget.probe
    probe_note = (f"The task's loss (copy: recall window), gap {probe.gap}, hidden {probe.hidden}, "
                  f"{probe.seeds} seeds x batch {probe.batch}; decay = slope of log10 norm vs k "
                  "(mean over seeds, bootstrap 95 % CI).")
    critical_rows = figures.critical_gap_rows(runs)
    success_rows = figures.success_rows(runs)
    budget_rows = figures.critical_gap_by_budget(runs, budgets) if budgets else []
    report.tables = [
        verdict_table(evaluated, confirmed, confirm),
        Table("T2", "Critical gap per task, architecture and mitigation", critical_rows,
              "Largest gap of the ladder solved by >= 80 % of seeds, with every smaller gap; "
              "'fails at' is the next gap (empty: the critical gap is only a lower bound); lr: the "
              "arm's learning rate (T7)."
              + "".join(f" {part.task} rows: {part.why}." for part in context.budget.slices)),
        Table("T3", "Gradient decay per step (log10) per architecture and mitigation, at initialisation",
              figures.decay_rows(overview), probe_note),
        Table("T4", "Effective memory horizon (delayed recall, at initialisation)", figures.horizon_rows(overview),
              "Largest lag whose input saliency is still >= 1 % of its peak; censored = reaches the sequence start."),
        Table("T5", "Success rate vs gap per arm", success_rows,
              "Solved criterion per task (README); Wilson 95 % CI. Median steps to solve: Kaplan-Meier, "
              "unsolved runs censored at their last step ('not reached': fewer than half solved); budget-bound: that "
              f"median exceeds {figures.BUDGET_BOUND_FRACTION:g} x the step budget, so a longer budget "
              "could change the cell."),
        budget_table(evidence.by_budget),
    ]
    if evidence.tuning is not None:
        report.tables.append(tuning_table(context, evidence.tuning))
    if budget_rows:
        report.tables.append(Table("T8", "Critical gap vs step budget, per arm and task", budget_rows,
                                   "Each arm's critical gap read from the same runs at every budget "
                                   "(a run counts as solved at N steps if it had solved by then); "
                                   "'[a, b)': solved up to a, fails at b; '>= a': no gap of the ladder failed; "
                                   "at its own budget: for a protocol that trains longer than the last "
                                   "read (the copy slice)."))
    report.tables.append(Table(
        "T9", "Time to solve per gap (Kaplan-Meier), plain architectures", figures.survival_rows(survival),
        "Steps until the solved criterion; an unsolved run is censored at its last step. Median and "
        "quartiles are read off the Kaplan-Meier curve (empty: fewer than that fraction solved); the "
        "median's interval is where the pointwise 95 % log-log band crosses one half (empty upper "
        "end: unbounded within the budget)."))
    if context.profile == "paper":  # the profile that trains at the published scale
        report.tables.append(Table("T10", "Beside the literature: published results and this profile's runs",
                                   comparison_rows(records, context.budget.hidden, context.budget.train.steps),
                                   COMPARISON_NOTE))
    for e in evaluated:
        for i, (name, rows) in enumerate(sorted(e.verdict.tables.items()), start=1):
            report.tables.append(Table(f"{e.claim.id}.{i}", f"{e.claim.id}: {name}", rows))

    fig_dir = out / "figures"
    fig_dir.mkdir(parents=True, exist_ok=True)
    report.figures = {
        "F1": {"title": "Gradient norm vs distance, per architecture, one panel per task",
               "files": plots.gradient_panels(overview, figures.PANEL_ARCHS, fig_dir / "F1",
                                              "F1: log10 ||dL/dh_(T-k)|| at initialisation")},
        "F2": {"title": "Success rate vs gap per architecture",
               "files": plots.success_vs_gap(success_rows, fig_dir / "F2", "F2: success rate vs gap")},
        "F3": {"title": "Critical gap per architecture and mitigation",
               "files": plots.critical_gap_bars(critical_rows, fig_dir / "F3", "F3: critical gaps")},
        "F4": {"title": "Input saliency vs lag (delayed recall)",
               "files": plots.saliency_curves(overview["delayed_recall"], figures.PANEL_ARCHS, fig_dir / "F4",
                                              "F4: log10 ||dy_T/dx_(T-k)||, delayed recall")},
        "F6": {"title": "Time to solve: Kaplan-Meier fraction of runs not yet solved, per architecture and gap",
               "files": plots.survival_curves(survival, fig_dir / "F6", "F6: fraction of runs not yet solved")},
    }
    if budget_rows:
        report.figures["F5"] = {
            "title": "Critical gap vs step budget, per arm and task",
            "files": plots.critical_gap_vs_budget(runs, budgets, fig_dir / "F5", "F5: critical gap vs step budget")}
    write(report, context, out, records)
    return report


def write(report: Report, context: Context, out: Path, records) -> None:
    table_dir = out / "tables"
    table_dir.mkdir(parents=True, exist_ok=True)
    for table in report.tables:
        (table_dir / f"{table.id}.md").write_text(f"**Table {table.id}.** {table.title}\n\n{table.markdown()}")
        (table_dir / f"{table.id}.tex").write_text(table.latex())
        (table_dir / f"{table.id}.csv").write_text(table.csv())
    (out / "index.md").write_text(render_index(report))
    results = {
        "schema": SCHEMA,
        "version": code_version(),
        "profile": report.profile,
        "verdicts": [
            {**e.verdict.to_dict(), "p_holm": e.p_holm, "expected": e.expected,
             **({"confirmation": {"under": report.confirmed_under,
                                  "verdict": report.confirmed[e.claim.id]}} if report.confirmed else {}),
             "literature_prior": e.prior.text, "prior_verdict": e.prior.verdict, "vs_prior": e.agreement,
             "protocol": protocol_of(e.verdict.settings), "article": e.claim.article,
             "measured": e.claim.measured, "group": e.claim.group, "reason": e.claim.reason}
            for e in report.evaluated
        ],
        "tables": {t.id: {"title": t.title, "columns": t.columns, "rows": t.cells()} for t in report.tables},
        "figures": report.figures,
    }
    (out / "results.json").write_text(json.dumps(results, indent=1, sort_keys=True) + "\n")
    machine = {k: v for k, v in metadata(context.device).items() if k != "host"}  # no host names in a report
    meta = machine | {
        "profile": context.profile,
        "master_seed": context.master_seed,
        "runs_in_store": len(records),
        "generated_utc": datetime.now(timezone.utc).replace(microsecond=0).isoformat(),
        "packages": _package_versions(),
        "python_implementation": platform.python_implementation(),
    }
    (out / "meta.json").write_text(json.dumps(meta, indent=1, sort_keys=True) + "\n")


def _package_versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    versions = {}
    for name in ("torch", "numpy", "scipy", "matplotlib", "tabulate", "tqdm"):
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            versions[name] = None
    return versions


def _setting(value) -> str:
    return json.dumps(value, sort_keys=True) if isinstance(value, dict) else fmt(value)


def render_index(report: Report) -> str:
    tables = {t.id: t for t in report.tables}
    counts = {word: sum(e.agreement == word for e in report.evaluated) for word in ("agrees", "differs", "open")}
    confirm_profile = report.confirmed_profile
    changed = [e.claim.id for e in report.evaluated
               if report.confirmed and report.confirmed.get(e.claim.id) != e.verdict.verdict]
    expected = [c for c in changed if report.confirmed[c] == next(
        e.claim.expected_for(confirm_profile) for e in report.evaluated if e.claim.id == c)]
    surprising = [c for c in changed if c not in expected]
    same = len(report.evaluated) - len(changed)
    lines = [
        f"# vgsuite report ({report.profile} profile)",
        "",
        f"vgsuite {code_version()}. Cite a table or figure by its id and this version, e.g. "
        f"\"vgsuite table T1, version {code_version()}\". Environment and date: `meta.json`; "
        "machine-readable results: `results.json`; every table also as LaTeX and CSV under `tables/`.",
        "",
        f"{len(report.evaluated)} claims. Against the literature's prior (claims.md): {counts['agrees']} "
        f"agree, {counts['differs']} differ, {counts['open']} without a prior. Each learning verdict "
        "holds for the protocol in its row (T1) and section."
        + (f" On {report.confirmed_under}: {same} of {len(report.evaluated)} verdicts the same"
           + (f"; {', '.join(expected)} as the {confirm_profile} protocol expects" if expected else "")
           + (f"; different: {', '.join(surprising)}." if surprising else ".") if report.confirmed else ""),
        "",
    ]

    def table(tid):
        t = tables[tid]
        note = f"\n{t.note}\n" if t.note else ""
        return [f"**Table {t.id}.** {t.title}", "", t.markdown(), note]

    def figure(fid):
        f = report.figures[fid]
        return [f"![Figure {fid}: {f['title']}](figures/{f['files'][0]})", "",
                f"**Figure {fid}.** {f['title']} (also [SVG](figures/{f['files'][1]})).", ""]

    lines += ["## Verdicts", ""] + table("T1")
    lines += ["## Gradient flow at initialisation", ""] + table("T3") + figure("F1")
    lines += ["## Memory horizon", ""] + table("T4") + figure("F4")
    if "T7" in tables:
        lines += ["## The learning rate", ""] + table("T7")
    lines += ["## Learning long-range dependencies", ""] + table("T2") + figure("F3") + figure("F2") + table("T5")
    lines += ["## Time to solve", ""] + table("T9") + figure("F6")
    if "T10" in tables:
        lines += ["## Beside the literature", ""] + table("T10")
    lines += ["## The step budget", ""] + table("T6")
    if "T8" in tables:
        lines += table("T8") + figure("F5")
    lines += ["## The claims one by one", ""]
    for e in report.evaluated:
        c, v = e.claim, e.verdict
        lines += [
            f"### {c.id}: {c.slug}",
            "",
            f"- **The article says:** {c.article}",
            f"- **What the suite measures and asserts:** {c.measured}",
            f"- **Verdict:** {v.verdict} (literature prior: {e.prior.text}; {e.agreement}). {c.reason}",
            f"- **Key number:** {v.statistic} = {fmt(v.value)}" + (f", 95% CI {fmt(v.ci)}" if v.ci else "")
            + f", n = {v.n}",
        ]
        if v.test:
            lines.append(f"- **Test:** {v.test}; p = {fmt(v.p_value)}, Holm-adjusted {fmt(e.p_holm)}; "
                         f"effect size {fmt(v.effect_size)}" + (f" {fmt(v.effect_ci)}" if v.effect_ci else ""))
        if v.conditions:
            lines.append(f"- **Conditions:** {v.conditions}")
        if v.settings:
            protocol = "; ".join(f"{k} = {_setting(val)}" for k, val in sorted(v.settings.items()))
            lines.append(f"- **Protocol:** {protocol}")
        lines.append("")
        for tid in sorted(t for t in tables if t.startswith(f"{c.id}.")):
            lines += table(tid)
    return "\n".join(lines).rstrip() + "\n"
