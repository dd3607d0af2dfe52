"""``python -m graphgrad ...``: the same as the ``graphgrad`` command."""
import sys

from .cli import main

sys.exit(main())
