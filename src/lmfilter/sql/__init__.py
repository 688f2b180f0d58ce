"""The SQL back end: any filter as one SELECT over MLflow's own tables (:func:`to_sql`), a model store on
DuckDB (:class:`ModelStore`), and MLflow's tracking database read directly.

Needs the ``sql`` extra (``pip install 'lmfilter[sql]'``: sqlglot writes the SQL, DuckDB runs the store);
the parse and lint path never imports this package, and :func:`to_sql` needs sqlglot only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lmfilter.sql.compile import DIALECTS, to_sql

if TYPE_CHECKING:
    from lmfilter.sql.mlflow_db import TrackingDatabase, TrackingDatabaseError, open_database
    from lmfilter.sql.pull import PullError, PullProgress, PullReport
    from lmfilter.sql.store import ModelStore, StoreError

__all__ = [
    "DIALECTS",
    "ModelStore",
    "PullError",
    "PullProgress",
    "PullReport",
    "StoreError",
    "TrackingDatabase",
    "TrackingDatabaseError",
    "open_database",
    "to_sql",
]

_LAZY = {
    "ModelStore": "store",
    "PullError": "pull",
    "PullProgress": "pull",
    "PullReport": "pull",
    "StoreError": "store",
    "TrackingDatabase": "mlflow_db",
    "TrackingDatabaseError": "mlflow_db",
    "open_database": "mlflow_db",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:  # DuckDB is loaded by the first store, not by to_sql
        import importlib

        return getattr(importlib.import_module(f"lmfilter.sql.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'lmfilter.sql' has no attribute {name!r}")
