"""nox sessions for vgsuite. Plain `nox` builds the full report: sweep -> claims -> report.

    nox                                 # the full-profile report under reports/ (resumable)
    nox -s tests                        # unit tests + quick-profile claim tests (what CI runs)
    nox -s report -- --profile quick    # the chain on the quick profile; args reach every step
    nox -s bench                        # speed benchmark -> reports/bench.md
    nox -s regression                   # claims' verdicts vs reports/baseline.json (-- --update)

Every session installs the package into its own virtualenv with `constraints.txt`, which pins
torch to the CPU build that the CI machines have offline (an unpinned torch pulls a CUDA build).
The sweep, claims and report steps share the results store (.vgsuite/results.sqlite, or
$VGSUITE_STORE) and a cache of verdicts beside it, so a second `nox` trains nothing and only
re-renders.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import nox

nox.needs_version = ">=2024.3.2"
nox.options.default_venv_backend = "virtualenv"
nox.options.reuse_existing_virtualenvs = True
nox.options.sessions = ["report"]

PYTHON = "3.11"
CONSTRAINTS = ("-c", "constraints.txt")
BASELINE = "reports/baseline.json"  # the committed quick-profile verdicts (nox -s regression)
VERDICTS = ".vgsuite/verdicts"      # where the claim tests write this run's verdicts
#: flags of `vgsuite report` that the other steps of the chain do not take
REPORT_ONLY_FLAGS = ("--out",)


def install(session: nox.Session, extras: str = "test") -> None:
    session.install(*CONSTRAINTS, "-e", f".[{extras}]")


def chain_args(session: nox.Session, *, report: bool = False) -> list[str]:
    """The posargs, defaulting to the full profile; report-only flags kept for the report step."""
    args, skip = [], False
    for arg in session.posargs:
        if skip:
            skip = False
            continue
        name = arg.split("=", 1)[0]
        if name in REPORT_ONLY_FLAGS and not report:
            skip = "=" not in arg
            continue
        args.append(arg)
    if not any(a.split("=", 1)[0] == "--profile" for a in args):
        args = ["--profile", "full", *args]
    return args


def fresh_verdicts() -> str:
    """An empty folder for the verdict lines the claim tests write ($VGSUITE_VERDICTS)."""
    shutil.rmtree(VERDICTS, ignore_errors=True)
    return VERDICTS


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """Unit tests, quick-profile claim tests and the regression check (what CI runs).

    The regression check compares the verdicts the claim tests computed anyway with
    reports/baseline.json (on a full default run only). Extra args go to pytest."""
    install(session, "test,ray")
    verdicts = fresh_verdicts()
    # VGSUITE_REQUIRE_RAY: the Ray executor's tests run on a real local Ray here, never skip
    session.run("python", "-m", "pytest", "-n", "2", "--dist", "worksteal", *session.posargs,
                env={"VGSUITE_VERDICTS": verdicts, "VGSUITE_REQUIRE_RAY": "1"})
    if session.posargs or os.environ.get("VGSUITE_PROFILE", "quick") != "quick" \
            or os.environ.get("VGSUITE_MASTER_SEED", "0") != "0":
        session.log("regression check skipped: it compares a full default run with the quick baseline")
    elif not Path(BASELINE).exists():
        session.warn(f"regression check skipped: no {BASELINE} (create it: nox -s regression -- --update)")
    else:
        session.run("vgsuite", "compare", BASELINE, verdicts)


@nox.session(python=PYTHON, default=False)
def regression(session: nox.Session) -> None:
    """Quick-profile claim verdicts vs reports/baseline.json; `-- --update` rewrites the baseline.

    Exit 1 on a regression (a verdict flip, a key number outside the baseline's CI, a missing
    claim). With `-- --update` this run becomes the baseline (review the printed differences, then
    commit the file); other args go to `vgsuite compare` (e.g. --rtol 0.1)."""
    install(session)
    verdicts = fresh_verdicts()
    # a claim test that fails shows up as a verdict flip in the comparison, so go on to compare
    session.run("python", "-m", "pytest", "tests/test_claims.py", "-m", "claim", "-k", "cpu", "-n", "2",
                env={"VGSUITE_VERDICTS": verdicts, "VGSUITE_PROFILE": "quick", "VGSUITE_MASTER_SEED": "0"},
                success_codes=[0, 1])
    session.run("vgsuite", "compare", BASELINE, verdicts, *session.posargs)


@nox.session(python=PYTHON, default=False)
def sweep(session: nox.Session) -> None:
    """Train every run the claims need (full profile by default); resumable, skips stored runs."""
    install(session)
    session.run("vgsuite", "claims", "--runs-only", "--workers", "2", *chain_args(session))


@nox.session(python=PYTHON, default=False, requires=["sweep"])
def claims(session: nox.Session) -> None:
    """Evaluate every claim from the store and fail if a verdict differs from the expected one."""
    install(session)
    session.run("vgsuite", "claims", "--check", "--workers", "2", *chain_args(session))


@nox.session(python=PYTHON, requires=["claims"])
def report(session: nox.Session) -> None:
    """Write reports/: index.md, tables (md, tex, csv), figures, results.json, meta.json."""
    install(session)
    session.run("vgsuite", "report", "--workers", "2", *chain_args(session, report=True))


@nox.session(python=PYTHON, default=False)
def gpu(session: nox.Session) -> None:
    """The device-parametrized tests (claims included) on CUDA; skips cleanly without a GPU."""
    install(session)
    probe = "import torch; print(torch.cuda.is_available())"
    if session.run("python", "-c", probe, silent=True).strip() != "True":
        session.skip("CUDA is not available on this machine")
    session.run("python", "-m", "pytest", "-k", "cuda", "-p", "no:xdist", *session.posargs)


@nox.session(python=PYTHON, default=False)
def bench(session: nox.Session) -> None:
    """Training speed: bare PyTorch vs a vgsuite run vs batched runs (S = 8, 32), side by side ->
    reports/bench.md and reports/bench.json; then the probe against a bare float64 backward pass
    and the CLI's start-up -> reports/bench-probe.md and .json. A few minutes each; `-- --quick`
    for a short grid. Args go to benchmarks/bench.py (--threads, --rounds, --task, --archs, --out,
    --tag); probe_bench.py takes --quick, --threads, --rounds and --out; with `--claims-store
    PATH --claims-before REV` claims_bench.py also times the claims step of this code against REV
    on copies of that store -> reports/bench-claims.md; executor_bench.py times the same small sweep
    on the local pool and on a local Ray -> reports/bench-executor.md; on a machine with CUDA,
    gpu_bench.py -> reports/bench-gpu.md (benchmarks/gpu.sh runs it with the GPU tests). Each ignores
    the others' flags."""
    install(session, "test,ray")
    session.run("python", "benchmarks/bench.py", *session.posargs)
    session.run("python", "benchmarks/probe_bench.py", *session.posargs)
    session.run("python", "benchmarks/scan_bench.py", *session.posargs)
    session.run("python", "benchmarks/executor_bench.py", *session.posargs)
    probe = "import torch; print(torch.cuda.is_available())"
    if session.run("python", "-c", probe, silent=True).strip() == "True":  # runs/s batched vs one by one
        session.run("python", "benchmarks/gpu_bench.py", "--device", "cuda", *session.posargs)
    if any(arg.startswith("--claims-store") for arg in session.posargs):  # this code vs --claims-before
        session.run("python", "benchmarks/claims_bench.py", *session.posargs)


@nox.session(python=PYTHON, default=False)
def lint(session: nox.Session) -> None:
    """Static checks with ruff."""
    session.install("ruff")
    session.run("ruff", "check", "suite", "tasks", "tests", "examples", "noxfile.py", *session.posargs)
