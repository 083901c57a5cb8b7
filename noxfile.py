"""nox sessions for vgsuite. Plain `nox` builds the full report: sweep -> claims -> report.

    nox                                 # the full-profile report under reports/ (resumable)
    nox -s tests                        # unit tests + quick-profile claim tests (what CI runs)
    nox -s report -- --profile quick    # the chain on the quick profile; args reach every step
    nox -s bench                        # speed benchmark -> reports/bench.md

Every session installs the package into its own virtualenv with `constraints.txt`, which pins
torch to the CPU build that the CI machines have offline (an unpinned torch pulls a CUDA build).
The sweep, claims and report steps share the results store (.vgsuite/results.sqlite, or
$VGSUITE_STORE) and a cache of verdicts beside it, so a second `nox` trains nothing and only
re-renders.
"""

from __future__ import annotations

import nox

nox.needs_version = ">=2024.3.2"
nox.options.default_venv_backend = "virtualenv"
nox.options.reuse_existing_virtualenvs = True
nox.options.sessions = ["report"]

PYTHON = "3.11"
CONSTRAINTS = ("-c", "constraints.txt")
#: flags of `vgsuite report` that the other steps of the chain do not take
REPORT_ONLY_FLAGS = ("--out",)


def install(session: nox.Session, extras: str = "test") -> None:
    session.install(*CONSTRAINTS, "-e", f".[{extras}]")


def chain_args(session: nox.Session, *, report: bool = False) -> list[str]:
    """The posargs, defaulting to the full profile; report-only flags kept for the report step."""
    args, skip = [], False
    for i, arg in enumerate(session.posargs):
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


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """Unit tests and the quick-profile claim tests (what CI runs). Extra args go to pytest."""
    install(session)
    session.run("python", "-m", "pytest", "-n", "2", "--dist", "worksteal", *session.posargs)


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
def lint(session: nox.Session) -> None:
    """Static checks with ruff."""
    session.install("ruff")
    session.run("ruff", "check", "suite", "tasks", "tests", "noxfile.py", *session.posargs)
