"""``python -m tso3``: the same as the ``tso3`` command."""

import sys

from .cli import main

sys.exit(main())
