"""``python -m lmfilter``: the same as the ``lmfilter`` command."""

import sys

from lmfilter.cli import main

sys.exit(main())
