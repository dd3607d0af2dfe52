"""The main demo as a script: a CNN learns the handwritten digits that ship with graphgrad.

    python examples/demo_digits.py [--epochs N] [--seed S] [--out DIR] [--quick]

The same as ``python3 tasks.py demo`` and ``graphgrad demo``.  The code (model,
training loop, plots) is in ``graphgrad/demo.py``, which is installed with the
package so that the ``graphgrad`` command works outside a checkout.  Needs the
demo extra: ``pip install -e '.[demo]'``.
"""
import sys

from graphgrad.cli import main

if __name__ == "__main__":
    sys.exit(main(["demo", *sys.argv[1:]]))
