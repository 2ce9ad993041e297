"""The ``discrete-ebm`` command.

Each subcommand lives in its own module of ``discrete_ebm.commands`` and defines
``register(subparsers)``, which adds its parser and sets ``func`` (called with the parsed
arguments, returning an exit code). Modules are discovered, so adding a use case is
adding one file. Every subcommand has the common options of ``commands._common``;
``main`` applies ``--threads`` and the allocator setting (``keep_freed_memory``) once,
before the subcommand runs. Command modules import their heavy dependencies inside
``run``, so building the parser (``discrete-ebm --help``) stays light.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

from . import commands
from .cpu_allocator import keep_freed_memory
from .threads import set_threads


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="discrete-ebm",
        description="Energy-based models on binary, graph and continuous spaces.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda i: i.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{commands.__name__}.{info.name}")
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
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
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
