"""User code cannot end a check or a sweep: what it raises becomes a failed step, with its message.

A plug-in's import, constructor and forward are the user's code, and a CI gate reads `vgsuite
check`'s exit status. `SystemExit(0)` raised in a forward would otherwise end the process with
status 0 and no output, a pass; a `KeyboardInterrupt` raised by the code itself would look like a
Ctrl-C. So every place that calls user code runs it `contained(what)`: any BaseException it raises
becomes a `UserCodeError` (an Exception) naming the step, which the caller records as a failed
contract check, a probe or training error of that architecture (exit 1), or a failed run.

The one exception that passes is a real interrupt: a SIGINT delivered to this process (Ctrl-C, or
a scheduler stopping it), which `install_interrupt_flag` records as it arrives, so that Ctrl-C still
stops vgsuite however deep in user code it lands. Worker processes leave SIGINT to their parent.
"""

from __future__ import annotations

import signal
import threading
from contextlib import contextmanager

_interrupted = threading.Event()


class UserCodeError(Exception):
    """The user's architecture raised (anything, SystemExit included) during a named step."""


def install_interrupt_flag() -> None:
    """Record real SIGINTs before raising KeyboardInterrupt as Python does (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        return

    def on_sigint(signum, frame):
        _interrupted.set()
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, on_sigint)


def real_interrupt(exc: BaseException) -> bool:
    """Whether `exc` is a Ctrl-C delivered to this process (not one raised by user code)."""
    return isinstance(exc, KeyboardInterrupt) and _interrupted.is_set()


def describe(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


@contextmanager
def contained(what: str, ours: tuple[type[BaseException], ...] = ()):
    """Run user code; what it raises (but a real interrupt, or an error of a type in `ours`: vgsuite's
    own, raised around the user's code) is re-raised as UserCodeError(what ...)."""
    try:
        yield
    except (UserCodeError, *ours):
        raise
    except BaseException as exc:
        if real_interrupt(exc):
            raise
        raise UserCodeError(f"{what} raised {describe(exc)}") from exc


__all__ = ["UserCodeError", "contained", "describe", "install_interrupt_flag", "real_interrupt"]
