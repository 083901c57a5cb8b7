"""The `vgsuite` command line. Each subcommand is a thin shell over the Python API.

    vgsuite train --task copy --gap 100 --arch lstm --forget-bias 1 --json

Bad input (an unknown name, a gap of 0, a malformed option, a malformed verdict file, an output
location that cannot be written, a run beyond the size limits) prints one line naming the
parameter and what is allowed, and exits with status 2, before any work; an OS error during the
work (a full disk) prints one line and exits with status 1; never a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys

from . import architectures, results, run, verdicts  # noqa: F401  (each registers its subcommands)
from .common import add_run_arguments
from .registry import EXIT_BAD_INPUT, EXIT_FAILURE, SUBCOMMANDS, UsageError, subcommand
from .results import sweep_specs

HELP_ORDER = ("train", "probe", "sweep", "show", "export", "merge", "claims", "report", "check", "compare")


def _help_order(item) -> int:
    return HELP_ORDER.index(item[0]) if item[0] in HELP_ORDER else len(HELP_ORDER)


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is the one line `vgsuite CMD: error: ...` (exit 2), no usage block."""

    def error(self, message):
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {_one_line(message)}\n")


def _one_line(text) -> str:
    return " ".join(str(text).split())


def build_parser() -> argparse.ArgumentParser:
    from .. import __version__

    parser = Parser(prog="vgsuite", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"vgsuite {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (help_text, handler) in sorted(SUBCOMMANDS.items(), key=_help_order):
        p = sub.add_parser(name, help=help_text, description=help_text)
        getattr(handler, "add_arguments", add_run_arguments)(p)
        p.add_argument("--json", action="store_true", help="print one JSON object")
        p.set_defaults(handler=handler)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from ..containment import UserCodeError, install_interrupt_flag
    from ..store import StoreError
    from .outputs import os_error_line

    install_interrupt_flag()  # a real Ctrl-C still stops us inside user code (suite/containment.py)
    try:
        return args.handler(args)
    except UserCodeError as exc:  # the user's architecture raised: a failed step, not a vgsuite bug
        print(f"vgsuite {args.command}: error: {_one_line(exc)}", file=sys.stderr)
        return EXIT_FAILURE
    except (ValueError, StoreError) as exc:  # our validation errors name the parameter; no traceback
        print(f"vgsuite {args.command}: error: {_one_line(exc)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # an OS error during the work (disk full, I/O), or a bug: one line, exit 1
        line = os_error_line(exc)
        if line is None:
            if os.environ.get("VGSUITE_DEBUG"):
                raise
            line = (f"internal error: {type(exc).__name__}: {exc} (a bug in vgsuite: please report it; "
                    "VGSUITE_DEBUG=1 shows the traceback)")
        print(f"vgsuite {args.command}: error: {_one_line(line)}", file=sys.stderr)
        return EXIT_FAILURE



__all__ = ["EXIT_BAD_INPUT", "EXIT_FAILURE", "UsageError", "build_parser", "main", "subcommand", "sweep_specs"]
