"""The command line every example shares: ``--quick`` and ``--out DIR``."""
from __future__ import annotations

import argparse


def example_args(doc: str | None = None, argv: list[str] | None = None) -> argparse.Namespace:
    """Parse ``--quick`` (a run of seconds, for tests) and ``--out DIR`` (plots).

    ``doc`` (the script's ``__doc__``) becomes the ``--help`` text.  ``args.out``
    is None unless given; ``plotting.output_dir(None)`` then picks the default.
    """
    parser = argparse.ArgumentParser(description=doc,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help="a short run (seconds) that still shows the effect; used by tests")
    parser.add_argument("--out", default=None, metavar="DIR",
                        help="folder for the plots (default: out/examples in the repository)")
    return parser.parse_args(argv)
