"""``discrete-ebm data fetch mnist|citeseer``: download a data set into the data folder.

The folder is ``--data`` if given, else ``$DISCRETE_EBM_DATA``, else the cache folder
(``~/.cache/discrete_ebm``), where every command looks when ``--data`` is left out. Files
come from the canonical public mirrors and are checked against pinned SHA-256 checksums
before anything is written; the target appears whole or not at all. MNIST is the four
LeCun/Cortes/Burges IDX files converted to ``mnist/mnist_uint8.npz``; Citeseer is the
Planetoid file ``citeseer/ind.citeseer.graph``. ``--mirror URL`` (or
``$DISCRETE_EBM_MIRROR``) fetches the same file names from another folder URL. Prints the
path written on stdout; a failure is one line on stderr and exit code 2.
"""

from __future__ import annotations

import argparse

from ..threads import add_threads_argument

NAMES = ("mnist", "citeseer")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "data",
        help="download a data set (MNIST, Citeseer) into the data folder",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("action", choices=("fetch",), help="fetch: download and verify")
    p.add_argument("name", choices=NAMES, help="data set to download")
    p.add_argument(
        "--data",
        default=None,
        help="data folder to write to (default: $DISCRETE_EBM_DATA, else the cache folder)",
    )
    p.add_argument(
        "--mirror",
        default=None,
        help="folder URL serving the same file names (default: $DISCRETE_EBM_MIRROR, else "
        "the public mirrors)",
    )
    p.add_argument(
        "--force", action="store_true", help="download again even if the file is present"
    )
    add_threads_argument(p)
    p.add_argument("--quiet", action="store_true", help="no progress bars or messages")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..data.download import fetch
    from ..data.paths import data_dir, data_source
    from ._common import say, show_progress

    say(args, f"data folder {data_dir(args.data)} (from {data_source(args.data)})")
    path = fetch(  # a failure (ValueError / OSError) is one line and exit 2 via cli.main
        args.name,
        args.data,
        base_url=args.mirror,
        force=args.force,
        progress=show_progress(args),
        log=lambda line: say(args, line),
    )
    print(path)
    return 0
