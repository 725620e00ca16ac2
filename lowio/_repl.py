"""``python -m lowio``: an interactive console where ``await`` works at the
top level, each statement running inside one long-lived ``lowio.run``.

The console reads and compiles input in a worker thread
(``to_thread.run_sync(console.interact)``) while the main thread runs the
loop; each compiled statement is sent back into the run
(``from_thread.run`` / ``from_thread.run_sync``) and executed by a task
there, so ``await lowio.sleep(1)``, nurseries and sockets behave as in any
lowio program.  Ctrl-C while a statement runs interrupts it (it is
delivered to the run as usual); Ctrl-C at the prompt discards the line, as
the standard console does.  ``exit()`` / end of input ends the run.
"""

from __future__ import annotations

import ast
import contextlib
import inspect
import signal
import sys
import types
import warnings
from code import InteractiveConsole
from typing import Any

from . import from_thread, to_thread
from ._core._outcome import Error, acapture, capture


class LowioConsole(InteractiveConsole):
    """``code.InteractiveConsole`` with top-level ``await``, its statements
    executed in the run that ``main`` starts.  Its methods are called from
    the worker thread that runs ``interact``."""

    def __init__(self, repl_locals: dict[str, object]) -> None:
        super().__init__(locals=repl_locals)
        self.compile.compiler.flags |= ast.PyCF_ALLOW_TOP_LEVEL_AWAIT
        self._prompt_interrupted = False

    def runcode(self, code: types.CodeType) -> None:
        function = types.FunctionType(code, self.locals)
        if inspect.iscoroutinefunction(function):  # the statement awaits something
            result = from_thread.run(acapture, function)
        else:
            result = from_thread.run_sync(capture, function)
        if isinstance(result, Error):
            error = result.error
            if isinstance(error, SystemExit):
                raise error
            sys.last_type, sys.last_value, sys.last_traceback = (
                type(error),
                error,
                error.__traceback__,
            )
            sys.excepthook(type(error), error, error.__traceback__)

    def raw_input(self, prompt: str = "") -> str:
        """Read a line; Ctrl-C meanwhile discards it.  While the prompt waits,
        SIGINT gets a handler of the console's own (the run's would interrupt
        the task waiting for this thread, not the prompt): it sets a flag and
        pushes a newline into the terminal so that ``input()`` returns."""
        previous = from_thread.run_sync(signal.signal, signal.SIGINT, self._interrupt_prompt)
        try:
            return input(prompt)
        finally:
            from_thread.run_sync(signal.signal, signal.SIGINT, previous)
            if self._prompt_interrupted:
                self._prompt_interrupted = False
                raise KeyboardInterrupt

    def _interrupt_prompt(self, signum: int, frame: object) -> None:
        self._prompt_interrupted = True
        with contextlib.suppress(OSError, ImportError, AttributeError):
            import fcntl
            import termios

            fcntl.ioctl(sys.stdin, termios.TIOCSTI, b"\n")  # type: ignore[attr-defined, unused-ignore]


async def run_console(console: LowioConsole) -> None:
    banner = (
        f"lowio REPL {sys.version} on {sys.platform}\n"
        'Use "await" directly instead of "lowio.run()".\n'
        f"{getattr(sys, 'ps1', '>>> ')}import lowio"
    )
    try:
        await to_thread.run_sync(console.interact, banner, "")
    finally:
        # statements left unawaited when the console ends are not worth a warning
        warnings.filterwarnings(
            "ignore", message=r"^coroutine .* was never awaited$", category=RuntimeWarning
        )


def main(original_locals: dict[str, Any]) -> None:
    """Run the console until its input ends or it is exited."""
    with contextlib.suppress(ImportError):
        import readline  # noqa: F401  (line editing for input())
    import lowio

    from ._core import run

    repl_locals: dict[str, object] = {"lowio": lowio}
    for key in ("__name__", "__package__", "__loader__", "__spec__", "__builtins__", "__file__"):
        if key in original_locals:
            repl_locals[key] = original_locals[key]
    run(run_console, LowioConsole(repl_locals))
