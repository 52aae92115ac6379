"""The ``segscope`` command line. Each command lives in ``segscope.cli.commands.<name>`` and
registers itself through a ``register(app)`` function."""

from __future__ import annotations

import _thread
import contextlib
import functools
import importlib
import os
import pkgutil
import signal
import sys
import threading
import warnings

import typer

try:  # recent typer vendors its own copy of click
    from typer import _click as click
except ImportError:  # pragma: no cover
    import click

from .._progress import set_notice_handler
from ..exceptions import SegscopeError

app = typer.Typer(
    name="segscope",
    help="Evaluate semantic segmentation masks: per-class IoU, boundary metrics, failure analysis, reports.",
    no_args_is_help=True,
    invoke_without_command=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.callback()
def _root(
    ctx: typer.Context,
    version: bool = typer.Option(False, "--version", help="Show the version and exit.", is_eager=True),
) -> None:
    if version:
        from .._version import __version__

        typer.echo(f"segscope {__version__}")
        raise typer.Exit(0)
    if ctx.invoked_subcommand is None:
        typer.echo(ctx.get_help())
        raise typer.Exit(2)


def _register_commands() -> None:
    from . import commands

    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{commands.__name__}.{info.name}")
        module.register(app)


_register_commands()


def _one_line(text: str) -> str:
    """A message as one line: control characters of the names in it (a file called "a\\nb")
    written as escapes."""
    from ..io.files import printable

    return printable(text)


def _show_warning(message, category, filename, lineno, file=None, line=None):
    print(f"segscope: warning: {_one_line(str(message))}", file=sys.stderr)


#: the exit code of a run stopped by Ctrl-C (128 + SIGINT)
INTERRUPTED = 130
#: the exit code of a run stopped by SIGTERM (128 + SIGTERM)
TERMINATED = 143


class Terminated(BaseException):
    """SIGTERM arrived: unwinds like Ctrl-C (staging folders removed, workers stopped), but is
    not a :class:`KeyboardInterrupt`, which click would turn into a silent abort."""


class _Unwinding:
    """SIGTERM raises :class:`Terminated` in the main thread; a second SIGTERM during the
    cleanup ends the process at once.

    A signal's exception raised where Python cannot pass it on (an at-fork hook, a ``__del__``)
    is only printed as "Exception ignored"; ``sys.unraisablehook`` catches those of
    :class:`Terminated` and :class:`KeyboardInterrupt` and delivers the signal again, so that the
    run still stops (silently).

    A signal's exception can also cut a constructor short (a ``multiprocessing`` finalizer
    whose weak reference exists but whose key does not); once a signal has stopped the run, what
    such objects raise as they are collected is dropped, as it says nothing about the run."""

    def __init__(self) -> None:
        self.raised = False
        self.again = False
        self.stopping = False

    def on_sigterm(self, signum, frame) -> None:
        if self.raised and not self.again:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGTERM)
            return
        self.raised, self.again, self.stopping = True, False, True
        raise Terminated()

    def on_sigint(self, signum, frame) -> None:
        self.stopping = True
        signal.default_int_handler(signum, frame)

    def unraisable(self, hook, args) -> None:
        if isinstance(args.exc_value, Terminated):
            self.again = True
            self._deliver(signal.SIGTERM)
        elif isinstance(args.exc_value, KeyboardInterrupt):
            self.stopping = True
            self._deliver(signal.SIGINT)
        elif not self.stopping:
            hook(args)

    @staticmethod
    def _deliver(signum: int) -> None:
        """Signal the main thread again from another thread, once it is out of the code that
        swallowed the exception (raised in there, it would be swallowed again)."""
        import time

        def later() -> None:
            time.sleep(0.05)
            _thread.interrupt_main(signum)

        threading.Thread(target=later, name="segscope-signal", daemon=True).start()


@contextlib.contextmanager
def _sigterm_unwinds(ending: bool = False):
    """:class:`_Unwinding` for the duration (nothing outside the main thread, where signal
    handlers cannot be set). ``ending``: the process ends after the command, so once a signal
    stopped it, unraisable errors stay dropped to the end (the signal's traceback can keep
    half-built objects alive beyond the ``with``)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    state = _Unwinding()
    hook = sys.unraisablehook
    previous = signal.signal(signal.SIGTERM, state.on_sigterm)
    previous_int = signal.getsignal(signal.SIGINT)
    if previous_int is signal.default_int_handler:
        signal.signal(signal.SIGINT, state.on_sigint)
    try:
        sys.unraisablehook = functools.partial(state.unraisable, hook)
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
        if previous_int is signal.default_int_handler:
            signal.signal(signal.SIGINT, previous_int)
        sys.unraisablehook = _drop_unraisable if ending and state.stopping else hook


def _drop_unraisable(args) -> None:
    """The unraisable hook of a process that a signal is ending (see :class:`_Unwinding`)."""


def _show_notice(text: str) -> None:
    print(f"segscope: {text}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    """Entry point: bad input gives one line on stderr and exit 1, usage errors exit 2, Ctrl-C
    exits 130 and SIGTERM 143, each with one line (after the results folder is cleaned up)."""
    warnings.showwarning = _show_warning
    set_notice_handler(_show_notice)
    try:
        with _sigterm_unwinds(ending=argv is None):
            result = app(args=argv, prog_name="segscope", standalone_mode=False)
    except SegscopeError as exc:
        print(f"segscope: error: {_one_line(str(exc))}", file=sys.stderr)
        return _exit(1, argv)
    except click.exceptions.UsageError as exc:
        exc.show()
        return _exit(2, argv)
    except click.exceptions.ClickException as exc:
        exc.show()
        return _exit(exc.exit_code, argv)
    except typer.Exit as exc:
        result = getattr(exc, "exit_code", getattr(exc, "code", 0)) or 0
    except (typer.Abort, KeyboardInterrupt):
        result = INTERRUPTED
    except Terminated:
        print("segscope: terminated", file=sys.stderr)
        return _exit(TERMINATED, argv)
    except BrokenPipeError:
        return _exit(0, argv)
    except (OSError, MemoryError) as exc:  # what no reader or writer turned into its own line
        print(f"segscope: error: {_one_line(_environment_error(exc))}", file=sys.stderr)
        return _exit(1, argv)
    code = result if isinstance(result, int) else 0
    if code == INTERRUPTED:  # typer turns Ctrl-C into a silent exit code 130
        print("segscope: interrupted", file=sys.stderr)
    return _exit(code, argv)


def _environment_error(exc: BaseException) -> str:
    """One line for an operating-system error or a failed allocation."""
    text = str(exc).strip().splitlines()
    if isinstance(exc, MemoryError):
        return f"out of memory: {text[0] if text else 'an allocation failed'}"
    if exc.strerror:
        where = f"{exc.filename}: " if exc.filename is not None else ""
        return f"{where}{exc.strerror}"
    return text[0] if text else type(exc).__name__


def _exit(code: int, argv) -> int:
    if argv is None:
        sys.exit(code)
    return code
