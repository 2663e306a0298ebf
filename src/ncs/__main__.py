"""``python -m ncs``: the same entry point as the ``ncs`` command."""

import sys

from ncs.cli import main

sys.exit(main())
