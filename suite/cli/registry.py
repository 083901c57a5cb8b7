"""The subcommand registry and the error type every command raises for bad input."""

from __future__ import annotations

EXIT_BAD_INPUT = 2
EXIT_FAILURE = 1  # an OS error during the work (disk full), a failed run or check
SUBCOMMANDS: dict[str, tuple] = {}  # name -> (help, handler); filled by `subcommand`


class UsageError(ValueError):
    """Bad input from the command line."""


def subcommand(name: str, help: str):
    """Register `handler` as `vgsuite NAME`; its `add_arguments(parser)` attribute, if any, adds its flags."""

    def register(handler):
        SUBCOMMANDS[name] = (help, handler)
        return handler

    return register
