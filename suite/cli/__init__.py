"""The `vgsuite` command line. Each subcommand is a thin shell over the Python API.

    vgsuite train --task copy --gap 100 --arch lstm --forget-bias 1 --json

Bad input (an unknown name, a gap of 0, a malformed option) prints one line naming the parameter
and what is allowed, and exits with status 2; never a traceback.
"""

from __future__ import annotations

import argparse
import sys

from . import architectures, results, run, verdicts  # noqa: F401  (each registers its subcommands)
from .common import add_run_arguments
from .registry import EXIT_BAD_INPUT, SUBCOMMANDS, UsageError, subcommand
from .results import sweep_specs

HELP_ORDER = ("train", "probe", "sweep", "show", "export", "claims", "report", "check", "compare")


def _help_order(item) -> int:
    return HELP_ORDER.index(item[0]) if item[0] in HELP_ORDER else len(HELP_ORDER)


def build_parser() -> argparse.ArgumentParser:
    from .. import __version__

    parser = argparse.ArgumentParser(prog="vgsuite", description=__doc__.splitlines()[0])
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
    try:
        return args.handler(args)
    except ValueError as exc:  # our validation errors name the parameter; no traceback
        print(f"vgsuite {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130



__all__ = ["EXIT_BAD_INPUT", "UsageError", "build_parser", "main", "subcommand", "sweep_specs"]
