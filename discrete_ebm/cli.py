"""The ``discrete-ebm`` command.

Each subcommand lives in its own module of ``discrete_ebm.commands`` and defines
``register(subparsers)``, which adds its parser and sets ``func`` (called with the parsed
arguments, returning an exit code). Modules are discovered, so adding a use case is
adding one file. Every subcommand has the common options of ``commands._common``.

``main`` first sets the OpenMP wait policy (``threads.set_openmp_environment``; torch is not
loaded yet: ``import discrete_ebm`` loads it lazily), then builds the parser, applies
``--threads`` and the allocator setting (``keep_freed_memory``) and runs the subcommand.
Command modules import their heavy dependencies inside ``run``, so building the parser
(``discrete-ebm --help``) stays light.

Under ``torchrun`` (``torchrun --nproc-per-node N -m discrete_ebm <command> ...``) every
process runs the command; ``fit`` joins them into one data-parallel run. Only rank 0 prints
the report and shows progress (the other ranks run as with ``--quiet``, their stdout
discarded) and only rank 0 writes files (``discrete_ebm.io``); the process group is closed
when the command ends.

Errors are one line on stderr, ``discrete-ebm <command>: error: <message>``, as argparse
prints its own, without a traceback (``--debug`` or ``DISCRETE_EBM_DEBUG=1`` shows it): a
flag rejected by the command (``SystemExit`` with a message) raises ``SystemExit(2)``, as
argparse does; a ``ValueError`` or ``OSError`` (a missing data file among them) raised
while the command runs returns exit code 2.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import pkgutil
import sys

from . import commands
from .threads import set_openmp_environment


class UsageError(SystemExit):
    """``SystemExit(2)`` whose ``str`` is the one-line message printed on stderr."""

    def __init__(self, line: str):
        super().__init__(2)
        self.line = line

    def __str__(self) -> str:
        return self.line


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="discrete-ebm",
        description="Energy-based models on binary, graph and continuous spaces.",
    )
    parser.add_argument(
        "--debug",
        action="store_true",
        help="show the traceback of an error (or set DISCRETE_EBM_DEBUG=1)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda i: i.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{commands.__name__}.{info.name}")
        module.register(sub)
    return parser


def _error_line(command: str, message: str) -> str:
    message = " ".join(str(message).split()) or "failed"
    return f"discrete-ebm {command}: error: {message}"


def main(argv: list[str] | None = None) -> int:
    set_openmp_environment()  # before build_parser: the command modules load torch
    from .cpu_allocator import keep_freed_memory
    from .threads import set_threads

    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        set_threads(getattr(args, "threads", None))
    except ValueError as err:
        parser.error(f"--threads: {err}")
    keep_freed_memory()  # every subcommand trains or samples on the CPU by default
    debug = args.debug or os.environ.get("DISCRETE_EBM_DEBUG", "0").strip() not in ("", "0")
    try:
        return _run_command(args)
    except SystemExit as stop:
        if debug or stop.code is None or isinstance(stop.code, int):
            raise
        line = _error_line(args.command, stop.code)
        print(line, file=sys.stderr)
        raise UsageError(line) from None
    except (ValueError, OSError) as err:
        if debug:
            raise
        print(_error_line(args.command, err), file=sys.stderr)
        return 2
    finally:
        _close_process_group()


def _run_command(args: argparse.Namespace) -> int:
    """``args.func(args)``; on a ``torchrun`` rank other than 0 quietly, stdout discarded."""
    if int(os.environ.get("RANK", "0")) == 0:
        return int(args.func(args) or 0)
    args.quiet = True
    with open(os.devnull, "w") as null, contextlib.redirect_stdout(null):
        return int(args.func(args) or 0)


def _close_process_group() -> None:
    """Destroy the default process group ``fit`` started under ``torchrun``, if any."""
    if "torch" not in sys.modules:
        return
    from .distributed import close_process_group

    close_process_group()


if __name__ == "__main__":
    sys.exit(main())
