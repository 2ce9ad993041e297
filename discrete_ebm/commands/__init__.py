"""Subcommands of ``discrete-ebm``: one module each, with ``register(subparsers)``."""
