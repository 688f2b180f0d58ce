"""lmfilter's version, read from the installed package's metadata (``pyproject.toml`` is the one source).

A leaf: every module may import it, the package's ``__init__`` included.

>>> import lmfilter, importlib.metadata
>>> lmfilter.__version__ == importlib.metadata.version("lmfilter")
True
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("lmfilter")
except PackageNotFoundError:  # run from a source tree that was never installed
    __version__ = "0+unknown"
