"""The ``segscope`` command line. Each command lives in ``segscope.cli.commands.<name>`` and
registers itself through a ``register(app)`` function."""

from __future__ import annotations

import importlib
import pkgutil
import sys
import warnings

import typer

try:  # recent typer vendors its own copy of click
    from typer import _click as click
except ImportError:  # pragma: no cover
    import click

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


def _show_warning(message, category, filename, lineno, file=None, line=None):
    print(f"segscope: warning: {message}", file=sys.stderr)


#: the exit code of a run stopped by Ctrl-C (128 + SIGINT)
INTERRUPTED = 130


def main(argv: list[str] | None = None) -> int:
    """Entry point: bad input gives one line on stderr and exit 1, usage errors exit 2."""
    warnings.showwarning = _show_warning
    try:
        result = app(args=argv, prog_name="segscope", standalone_mode=False)
    except SegscopeError as exc:
        print(f"segscope: error: {exc}", file=sys.stderr)
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
    except BrokenPipeError:
        return _exit(0, argv)
    code = result if isinstance(result, int) else 0
    if code == INTERRUPTED:  # typer turns Ctrl-C into a silent exit code 130
        print("segscope: interrupted", file=sys.stderr)
    return _exit(code, argv)


def _exit(code: int, argv) -> int:
    if argv is None:
        sys.exit(code)
    return code
