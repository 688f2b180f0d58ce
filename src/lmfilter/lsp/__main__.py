"""``python -m lmfilter.lsp``: the language server on stdio (as ``lmfilter lsp``)."""

import sys

from lmfilter.lsp.server import main

sys.exit(main())
