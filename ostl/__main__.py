"""``python -m ostl``: the command line (:func:`ostl.cli.main`)."""

import sys

from .cli import main

sys.exit(main())
