"""lmfilter: a compiler for the search-filter language of ML logged models (MLflow, Databricks).

>>> import lmfilter
>>> tree = lmfilter.parse("params.alpha < 0.3 AND metrics.accuracy > 0.9")
>>> lmfilter.format(tree)
'params.alpha < 0.3 AND metrics.accuracy > 0.9'
>>> [d.code for d in lmfilter.check("params.alpha < 0.3", target="mlflow", native=True)]
['LMF306']
"""

from typing import TYPE_CHECKING, Any

from lmfilter.api import Filter, check, format, is_valid, parse  # noqa: A004 - format is the API's name
from lmfilter.ast import (
    And,
    Between,
    Compare,
    Entity,
    Expr,
    Field,
    In,
    IsNull,
    Like,
    Not,
    Number,
    Op,
    Or,
    StatusValue,
    String,
    ValueType,
)
from lmfilter.client import AsyncClient, Client
from lmfilter.diagnostics import Diagnostic, Edit, FilterError, Fix, Position, Span, render
from lmfilter.errors import LmfilterError
from lmfilter.evaluate import Query, RecordError, compile_query, select
from lmfilter.model_files import ModelFileError, iter_models
from lmfilter.optimizer import optimize
from lmfilter.planner import PageLimits, PageStream, Plan, Step, plan
from lmfilter.requests import (
    RequestError,
    compile,  # noqa: A004 - the API's name
)
from lmfilter.schema import TARGETS, Target, UnknownTargetError, get_target
from lmfilter.status import ModelStatus
from lmfilter.table import ModelTable
from lmfilter.version import __version__ as __version__

if TYPE_CHECKING:
    from lmfilter.sql import ModelStore, StoreError, to_sql
from lmfilter.wire import (
    DatasetFilter,
    KeyValue,
    LoggedModel,
    LoggedModelData,
    LoggedModelInfo,
    LoggedModelsError,
    MalformedAnswerError,
    Metric,
    OrderBy,
    PagingError,
)

__all__ = [
    "TARGETS",
    "And",
    "AsyncClient",
    "Between",
    "Client",
    "Compare",
    "DatasetFilter",
    "Diagnostic",
    "Edit",
    "Entity",
    "Expr",
    "Field",
    "Filter",
    "FilterError",
    "Fix",
    "In",
    "IsNull",
    "KeyValue",
    "Like",
    "LmfilterError",
    "LoggedModel",
    "LoggedModelData",
    "LoggedModelInfo",
    "LoggedModelsError",
    "MalformedAnswerError",
    "Metric",
    "ModelFileError",
    "ModelStatus",
    "ModelStore",
    "ModelTable",
    "Not",
    "Number",
    "Op",
    "Or",
    "OrderBy",
    "PageLimits",
    "PageStream",
    "PagingError",
    "Plan",
    "Position",
    "Query",
    "RecordError",
    "RequestError",
    "Span",
    "StatusValue",
    "Step",
    "StoreError",
    "String",
    "Target",
    "UnknownTargetError",
    "ValueType",
    "check",
    "compile",
    "compile_query",
    "format",
    "get_target",
    "is_valid",
    "iter_models",
    "optimize",
    "parse",
    "plan",
    "render",
    "select",
    "to_sql",
]


def __getattr__(name: str) -> Any:
    """The SQL back end (the ``sql`` extra), imported when first used: ``lmfilter.to_sql``,
    ``lmfilter.ModelStore``, ``lmfilter.StoreError``."""
    if name in ("to_sql", "ModelStore", "StoreError"):
        from lmfilter import sql

        return getattr(sql, name)
    raise AttributeError(f"module 'lmfilter' has no attribute {name!r}")
