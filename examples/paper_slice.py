"""Train a slice of the `paper` profile and print it beside the published numbers (issue 16, item 8).

The whole paper profile is for a GPU or a cluster (`vgsuite claims --profile paper --plan`); this
trains the runs of one (task, T) cell for a few plain architectures exactly as that profile would
(same arms, width 128, <= 10k Adam steps at each architecture's tuned rate, the same seeds and
store keys, so a later full paper run reuses them) and writes the literature rows they cover
(suite/literature.py, the report's table T10) plus their success and time to solve as Markdown:

    python examples/paper_slice.py --task adding --gap 200 --archs irnn,lstm,gru,rnn-tanh \\
        --seeds 2 --store .vgsuite/paper.sqlite --out reports/paper-slice.md
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

from tabulate import tabulate

from suite.catalogue import trained
from suite.claims.arms import arm
from suite.claims.base import Context
from suite.environment import code_version, resolve_device, set_threads
from suite.literature import COMPARISON_NOTE, comparison_rows
from suite.store import Store
from suite.sweep import ensure_runs, load_results


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="adding", choices=("adding", "copy", "delayed_recall"))
    parser.add_argument("--gap", type=int, required=True, help="one gap of the paper profile's ladder")
    parser.add_argument("--archs", default="irnn,lstm,gru,rnn-tanh", help="comma-separated catalogue arms")
    parser.add_argument("--seeds", type=int, default=1, help="first N seeds of the arm's tier (>= 1)")
    parser.add_argument("--store", default=".vgsuite/paper.sqlite")
    parser.add_argument("--out", default="reports/paper-slice.md")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--device", default="cpu", help="cpu or cuda[:N] (the runs' device, part of their keys)")
    args = parser.parse_args(argv)
    labels = [a for a in args.archs.split(",") if a]
    try:
        resolve_device(args.device)
        context = Context(profile="paper", device=args.device)
    except ValueError as exc:
        print(f"paper_slice: --device: {exc}", file=sys.stderr)
        return 2
    unknown = [a for a in labels if a not in trained()]
    if unknown or args.seeds < 1:
        print(f"paper_slice: --archs must be among {sorted(trained())} and --seeds >= 1; got {unknown or args.seeds}",
              file=sys.stderr)
        return 2
    arms = [arm(context, label, args.task) for label in labels]
    if any(args.gap not in a.gaps for a in arms):
        print(f"paper_slice: --gap must be on the paper ladder {arms[0].gaps}, got {args.gap}", file=sys.stderr)
        return 2
    set_threads(1)
    specs = [s for a in arms for s in replace(a.at(args.gap), n_seeds=min(args.seeds, a.n_seeds)).specs(context)]
    with Store(args.store) as store:
        summary = ensure_runs(specs, store, workers=args.workers)
        print(f"paper slice: {summary}")
        results = load_results(specs, store)
        records = store.query()
    rows = []
    for spec in specs:
        r = results.get(spec.key)
        if r is not None:
            rows.append({"arm": next(a.label for a in arms if a.arch == spec.arch), "seed": spec.seed,
                         "lr": spec.train.lr, "solved": r.solved, "steps to solve": r.steps_to_solve,
                         "steps run": r.steps_run, "diverged": r.diverged, "final loss": r.final_loss,
                         "wall s": round(r.wall_s)})
    budget = context.budget
    literature = [row for row in comparison_rows(records, budget.hidden, budget.train.steps)
                  if row["solved"] != "not run"]
    text = [f"# A slice of the paper profile: {args.task}, T = {args.gap}", "",
            f"vgsuite {code_version()}; hidden {budget.hidden}, <= {budget.train.steps} Adam steps "
            f"(evaluated every {budget.train.eval_every}), batch {budget.train.batch_size}, each architecture "
            "at its tuned learning rate; written by `examples/paper_slice.py`.", "",
            "## Runs", "", tabulate(rows, headers="keys", tablefmt="github"), "",
            "## Beside the literature (table T10 of a paper report)", "",
            tabulate(literature, headers="keys", tablefmt="github") if literature else
            "No published finding at this (task, T).", "", COMPARISON_NOTE, ""]
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text("\n".join(text))
    print(f"wrote {args.out}")
    return 0 if not summary.failed else 1


if __name__ == "__main__":
    sys.exit(main())
