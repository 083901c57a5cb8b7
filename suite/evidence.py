"""Everything the report shows, evaluated before anything is rendered.

    evidence = gather(context, cache)        # trains what the store lacks, decides, probes
    report.render(evidence, "reports")       # formats and writes; never trains, decides or probes

`gather` is the one place where the report's numbers come from: the claims' verdicts (and the
same claims decided again on fresh seeds, and at every read budget), the probe overview behind
T3/T4/F1/F4, the learning-rate evidence of T7, and the stored runs the cross-cutting tables read.
Keeping it apart from `suite.report` means a re-render is only formatting, and a table cannot
start a sweep behind the caller's back.
"""

from __future__ import annotations

from dataclasses import dataclass

from .cache import ResultCache
from .claims.base import Context, Verdict
from .claims.evaluate import (
    Evaluated,
    confirmation_context,
    evaluate,
    evaluate_by_budget,
    planned_runs,
    slice_runs,
    tuning_runs,
)
from .claims.learning_rates import tuning_rows
from .overview import probe_overview
from .sweep import ensure_runs, load_results


@dataclass
class Evidence:
    """The report's inputs. `context` names the profile, master seed, budget and device (the
    report's notes and meta.json); its store is not read again after `gather`."""

    context: Context
    evaluated: list[Evaluated]
    confirm: Context | None                       # the fresh-seed confirmation's context, if any
    confirmed: dict[str, str]                     # claim id -> its verdict on those fresh seeds
    by_budget: dict[str, dict[int, Verdict]]      # learning claim id -> read budget -> verdict (T6)
    overview: dict                                # {task: {arm label: probe data}} (T3, T4, F1, F4)
    tuning: list[dict] | None                     # T7's rows; None when the profile tunes nothing
    records: list                                 # every stored run (T10, meta.json)
    table_records: list                           # the runs T2, T5, T8 and T9 read


def gather(context: Context, cache: ResultCache, progress=None) -> Evidence:
    """Evaluate (or load cached) verdicts, confirmation, budget reads and probe overview; train the
    report's own runs (the slices, the tuning runs) where the store lacks them."""
    evaluated = evaluate(context, cache=cache, progress=progress)
    confirm = confirmation_context(context)
    confirmed = ({e.claim.id: e.verdict.verdict for e in evaluate(confirm, cache=cache, progress=progress)}
                 if confirm is not None else {})
    overview = probe_overview(context.profile, cache, context.master_seed, progress=progress,
                                      workers=context.workers)
    by_budget = evaluate_by_budget(context, context.budget.read_budgets, cache=cache)
    store = context.store
    slices = slice_runs(context)
    if slices and store is not None:
        ensure_runs(slices, store, workers=context.workers, executor=context.executor, progress=progress)
    tuning = None
    specs = tuning_runs(context)
    if specs and store is not None:
        ensure_runs(specs, store, workers=context.workers, executor=context.executor, progress=False)
        tuning = tuning_rows(load_results(specs, store), specs)
    records = store.query() if store is not None else []
    return Evidence(context, evaluated, confirm, confirmed, by_budget, overview, tuning, records,
                    table_records(context, records))


def table_records(context: Context, records) -> list:
    """The stored runs the cross-cutting tables (T2, T5, T8, T9) read: all but the report's runs for
    other tables, the tuning runs (T7) and the fresh-seed confirmation's (T1), which share the
    claims' protocol but not their seeds, so pooling them would blur the claims' own numbers."""
    elsewhere = {spec.key for spec in tuning_runs(context)}
    confirm = confirmation_context(context)
    if confirm is not None:
        elsewhere |= {spec.key for spec in planned_runs(confirm)}
    elsewhere -= {spec.key for spec in planned_runs(context)}
    return [r for r in records if r.key not in elsewhere]
