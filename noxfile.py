"""nox sessions for vgsuite. Plain `nox` runs the default session(s).

Every session installs the package into its own virtualenv with `constraints.txt`, which pins
torch to the CPU build available offline on the CI machines.
"""

from __future__ import annotations

import nox

nox.needs_version = ">=2024.3.2"
nox.options.default_venv_backend = "virtualenv"
nox.options.reuse_existing_virtualenvs = True
nox.options.sessions = ["tests"]

PYTHON = "3.11"
CONSTRAINTS = ("-c", "constraints.txt")


def install(session: nox.Session, extras: str = "test") -> None:
    session.install(*CONSTRAINTS, "-e", f".[{extras}]")


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """Unit tests and the quick-profile claim tests (what CI runs). Extra args go to pytest."""
    install(session)
    session.run("python", "-m", "pytest", "-n", "2", "--dist", "worksteal", *session.posargs)
