"""Shared by the fuzz tests (tests/test_fuzz_*.py): the Hypothesis profile and how a CLI call is judged.

The profile is derandomized (the same inputs on every run: CI cannot flake) and small enough that
the whole fuzz suite runs in seconds; `HYPOTHESIS_PROFILE=dev` explores with fresh random inputs.
`call` runs `vgsuite ARGV` in-process and returns (exit status, stderr lines); `assert_clean`
states the promise: exit 0, 1 or 2 as documented, at most one line on stderr, never a traceback.
"""

from __future__ import annotations

import contextlib
import io
import os

from hypothesis import HealthCheck, settings

settings.register_profile("ci", derandomize=True, max_examples=60, deadline=None, database=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
settings.register_profile("dev", max_examples=300, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def call(argv: list[str]) -> tuple[int, list[str], str]:
    """(exit status, stderr lines, stdout) of `vgsuite argv`, run in this process."""
    from suite.cli import main

    err, out = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        try:
            code = main(argv)
        except SystemExit as exc:  # argparse: --help, a usage error
            code = exc.code if isinstance(exc.code, int) else 2
    return code, [line for line in err.getvalue().splitlines() if line.strip()], out.getvalue()


def assert_clean(code: int, lines: list[str], allowed=(0, 2)) -> None:
    text = "\n".join(lines)
    assert "Traceback" not in text and "internal error" not in text, text
    assert code in allowed, (code, text)
    if code == 2:
        assert len(lines) == 1 and ": error: " in lines[0], text
    assert len(lines) <= 1, text
