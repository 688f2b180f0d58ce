"""Searches on Spark: any filter as one Spark SQL query over the four tables of MLflow's layout.

:func:`select` runs :func:`lmfilter.sql.to_sql`'s statement, rendered for Spark SQL, on a
:class:`~pyspark.sql.SparkSession` (local, or a cluster's) and returns the ids of the models a search
returns, in the server's order, or the query as a :class:`~pyspark.sql.DataFrame` to go on with. The tables
are either

- the Parquet files :meth:`lmfilter.ModelStore.to_parquet` writes (a local directory holding
  ``logged_models.parquet``, ``logged_model_params.parquet``, ``logged_model_tags.parquet`` and
  ``logged_model_metrics.parquet``), or
- tables or views the session knows, named per table in a mapping: on Databricks, Delta tables of that layout
  in a catalog (``{"logged_models": "main.mlflow.logged_models", ...}``), so the same call runs on a cluster.

:func:`spark_sql` gives the statement's text over such names, to run in Databricks SQL or a notebook.

Text from the user reaches Spark only as string literals, which sqlglot writes for Spark's default reading
(a backslash is an escape there, so one is doubled); a session that reads literals raw
(``spark.sql.parser.escapedStringLiterals``) is refused rather than misread. Table names are lmfilter's to
quote: each part of a name is written between backticks. Needs the ``spark`` extra (pyspark) and sqlglot;
importing this module needs neither.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal, overload

from lmfilter import ast
from lmfilter.errors import LmfilterError
from lmfilter.requests import Datasets, OrderByArg
from lmfilter.schema import Target

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql.types import StructType
    from sqlglot import exp

__all__ = ["TABLES", "Search", "SparkError", "Tables", "select", "select_many", "spark_sql"]

TABLES: Final = ("logged_models", "logged_model_params", "logged_model_tags", "logged_model_metrics")
"""The four tables of MLflow's layout (:data:`lmfilter.sql.tables.TABLES`): a ``tables`` mapping's keys."""

Tables = str | os.PathLike[str] | Mapping[str, str] | None
"""Where the four tables are: a local directory of :meth:`~lmfilter.ModelStore.to_parquet`'s files, a mapping
of each table to a table or view name of the session (``catalog.schema.table``; a part with any character
besides letters, digits and ``_`` between backticks), or ``None``: the tables by their own names, in the
session's current catalog and schema."""

# What the statement reads of each table, and the kind of column it must be.
_COLUMNS: Final[Mapping[str, Mapping[str, str]]] = {
    "logged_models": {
        "model_id": "text",
        "experiment_id": "integer",
        "name": "text",
        "artifact_location": "text",
        "creation_timestamp_ms": "integer",
        "last_updated_timestamp_ms": "integer",
        "status": "integer",
        "lifecycle_stage": "text",
        "model_type": "text",
        "source_run_id": "text",
        "status_message": "text",
    },
    "logged_model_params": {"model_id": "text", "param_key": "text", "param_value": "text"},
    "logged_model_tags": {"model_id": "text", "tag_key": "text", "tag_value": "text"},
    "logged_model_metrics": {
        "model_id": "text",
        "metric_name": "text",
        "metric_timestamp_ms": "integer",
        "metric_step": "integer",
        "metric_value": "number",
        "run_id": "text",
        "dataset_name": "text",
        "dataset_digest": "text",
    },
}
_KINDS: Final = {
    "text": ("StringType", "VarcharType", "CharType"),
    "integer": ("ByteType", "ShortType", "IntegerType", "LongType"),
    "number": ("DoubleType",),  # a float column holds other numbers than MLflow's DOUBLE
}
_BINARY = "UTF8_BINARY"  # Spark's default collation: text compared by its UTF-8 bytes, as by code point

_PART = r"(?:[A-Za-z0-9_]+|`(?:[^`]|``)+`)"
_NAME = re.compile(rf"{_PART}(?:\.{_PART})*")
_GLOB = re.compile(r"([{}\[\]*?\\])")  # what Hadoop reads as a glob in a path


class SparkError(LmfilterError, ValueError):
    """A Spark search that cannot run: pyspark missing, a ``tables`` that does not name the four tables of
    MLflow's layout, or an error of Spark's (its first line)."""


@overload
def select(
    spark: SparkSession,
    filter: str | ast.Expr | None = ...,
    experiment_ids: Iterable[str | int] | str | int | None = ...,
    *,
    datasets: Datasets = ...,
    order_by: OrderByArg = ...,
    max_results: int | None = ...,
    target: str | Target = ...,
    tables: Tables = ...,
    as_dataframe: Literal[False] = ...,
) -> list[str]: ...


@overload
def select(
    spark: SparkSession,
    filter: str | ast.Expr | None = ...,
    experiment_ids: Iterable[str | int] | str | int | None = ...,
    *,
    datasets: Datasets = ...,
    order_by: OrderByArg = ...,
    max_results: int | None = ...,
    target: str | Target = ...,
    tables: Tables = ...,
    as_dataframe: Literal[True],
) -> DataFrame: ...


def select(
    spark: SparkSession,
    filter: str | ast.Expr | None = None,  # noqa: A002 - the API's word
    experiment_ids: Iterable[str | int] | str | int | None = None,
    *,
    datasets: Datasets = None,
    order_by: OrderByArg = None,
    max_results: int | None = None,
    target: str | Target = "mlflow",
    tables: Tables = None,
    as_dataframe: bool = False,
) -> list[str] | DataFrame:
    """The ids of the models a search with this filter, ``datasets`` and ``order_by`` returns, in its order,
    as :func:`lmfilter.select` returns them over the same models, run by Spark over ``tables`` (see
    :data:`Tables`); ``experiment_ids`` keeps the models of those experiments (all with ``None``),
    ``max_results`` the first so many. With ``as_dataframe``, the query as a DataFrame of one column,
    ``model_id``, in that order (Spark runs it when asked).

    Raises :class:`~lmfilter.FilterError` for a bad filter, :class:`~lmfilter.RequestError` for a bad
    argument and :class:`SparkError` for tables Spark cannot read as MLflow's layout.

    >>> ids = select(spark, "metrics.acc > 0.9", ["1"], tables="export/")  # doctest: +SKIP
    """
    statement = _statement(filter, experiment_ids, datasets, order_by, max_results, target)
    errors = _pyspark_errors()
    found = _query(spark, statement, tables, errors)
    if as_dataframe:
        return found
    try:
        return [row[0] for row in found.collect()]
    except errors as error:
        raise SparkError(f"Spark cannot run the search: {_first_line(error)}") from None


Search = Mapping[str, object]
"""One search of :func:`select_many`: :func:`select`'s arguments by name (``filter``, ``experiment_ids``,
``datasets``, ``order_by``, ``max_results``, ``target``), each optional."""

_SEARCH_KEYS: Final = ("filter", "experiment_ids", "datasets", "order_by", "max_results", "target")
_BATCH: Final = 48  # searches per Spark job: past some dozens, Spark plans the union longer than it runs it


def select_many(spark: SparkSession, searches: Iterable[Search], *, tables: Tables = None) -> list[list[str]]:
    """What :func:`select` returns for each of ``searches`` (see :data:`Search`), in their order, run as a
    few Spark jobs rather than one each: a job's start costs as much as a small search, so many searches
    over one set of tables (a batch of saved searches, alerts) are run together, each ordered by a window
    over its own order.

    >>> select_many(spark, [{"filter": "metrics.acc > 0.9"}, {"order_by": [{"field_name": "name"}]}],
    ...             tables="export/")  # doctest: +SKIP
    [['m-2'], ['m-1', 'm-2']]
    """
    statements = [_search_statement(i, search) for i, search in enumerate(searches)]
    if not statements:
        return []
    from sqlglot import exp

    errors = _pyspark_errors()
    found: list[list[str]] = [[] for _ in statements]
    for start in range(0, len(statements), _BATCH):
        batch = statements[start : start + _BATCH]
        union = batch[0] if len(batch) == 1 else exp.union(*batch, distinct=False)
        frame = _query(spark, union, tables, errors)
        try:
            rows = frame.collect()
        except errors as error:
            raise SparkError(f"Spark cannot run the searches: {_first_line(error)}") from None
        for search, _place, model_id in sorted(rows, key=lambda row: (row[0], row[1])):
            found[search].append(model_id)
    return found


def _search_statement(index: int, search: Search) -> exp.Select:
    """A search's statement giving (its index, each model's place in its order, the model's id)."""
    from sqlglot import exp

    if not isinstance(search, Mapping):
        raise SparkError(
            f"searches[{index}]: expected a mapping of select's arguments, not {type(search).__name__}"
        )
    unknown = [key for key in search if key not in _SEARCH_KEYS]
    if unknown:
        raise SparkError(
            f"searches[{index}]: {unknown[0]!r} is none of select's arguments ({', '.join(_SEARCH_KEYS)})"
        )
    arguments: dict[str, Any] = dict(search)
    statement = _statement(
        arguments.get("filter"),
        arguments.get("experiment_ids"),
        arguments.get("datasets"),
        arguments.get("order_by"),
        arguments.get("max_results"),
        arguments.get("target", "mlflow"),
    )
    order, limit = statement.args.get("order"), statement.args.get("limit")
    statement.set("order", None)
    statement.set("limit", None)
    place = exp.Window(this=exp.RowNumber(), order=order)
    statement.select(place.as_("place"), copy=False)
    kept = exp.select(exp.Literal.number(index).as_("search"), "place", "model_id").from_(
        statement.subquery("q")
    )
    if limit is not None:
        kept = kept.where(exp.column("place") <= limit.expression)
    return kept


def spark_sql(
    filter: str | ast.Expr | None = None,  # noqa: A002 - the API's word
    experiment_ids: Iterable[str | int] | str | int | None = None,
    *,
    datasets: Datasets = None,
    order_by: OrderByArg = None,
    max_results: int | None = None,
    target: str | Target = "mlflow",
    tables: Mapping[str, str] | None = None,
) -> str:
    """The Spark SQL text :func:`select` runs, over the tables ``tables`` names (see :data:`Tables`; their
    own names with ``None``): to run in Databricks SQL or a notebook over tables of MLflow's layout.

    >>> print(spark_sql("params.lr = '0.1'", tables={  # doctest: +NORMALIZE_WHITESPACE
    ...     **{t: f"main.mlflow.{t}" for t in TABLES}, "logged_model_params": "main.mlflow.`params v2`"}))
    SELECT m.model_id FROM `main`.`mlflow`.`logged_models` AS m
    LEFT JOIN (SELECT model_id, param_value AS v FROM `main`.`mlflow`.`params v2` WHERE param_key = 'lr')
      AS s0 ON s0.model_id = m.model_id
    WHERE m.lifecycle_stage <> 'deleted' AND s0.v = '0.1'
    ORDER BY COALESCE(m.creation_timestamp_ms, 0) DESC, m.model_id ASC NULLS LAST
    """
    names = {table: _quoted_name(table, name) for table, name in _mapping(tables).items()}
    return _text(_statement(filter, experiment_ids, datasets, order_by, max_results, target), names)


# ---- the statement ------------------------------------------------------------------------------------


def _statement(
    filter: str | ast.Expr | None,  # noqa: A002 - the API's word
    experiment_ids: Iterable[str | int] | str | int | None,
    datasets: Datasets,
    order_by: OrderByArg,
    max_results: int | None,
    target: str | Target,
) -> exp.Select:
    from lmfilter.sql.compile import select_statement

    return select_statement(
        filter,
        datasets=datasets,
        order_by=order_by,
        target=target,
        dialect="spark",
        experiment_ids=experiment_ids,
        max_results=max_results,
    )


def _text(statement: exp.Expr, names: Mapping[str, str]) -> str:
    """The statement in Spark SQL, each table read by the name (Spark SQL text, quoted) ``names`` gives."""
    from sqlglot import exp

    for table in statement.find_all(exp.Table):
        if not table.args.get("db") and table.name in names:
            table.set("this", exp.Var(this=names[table.name]))  # a name quoted already: written as it is
    return statement.sql(dialect="spark")


def _query(
    spark: SparkSession, statement: exp.Expr, tables: Tables, errors: tuple[type[Exception], ...]
) -> DataFrame:
    """The statement as a DataFrame over ``tables``: the session's tables by name, or a Parquet export's
    files read as DataFrames that the text refers to (pyspark names them as views of its own for the
    parse, and drops them after)."""
    if str(spark.conf.get("spark.sql.parser.escapedStringLiterals", "false")).lower() == "true":
        raise SparkError(
            "this session reads string literals raw (spark.sql.parser.escapedStringLiterals is true), so "
            "a backslash in a filter's text would be misread; set it to false for lmfilter's queries"
        )
    sources = _sources(spark, tables, errors)
    if isinstance(tables, str | os.PathLike):
        markers = {table: f"lmfilter_{uuid.uuid4().hex}_{table}" for table in TABLES}
        text = _text(statement, {table: f"`{marker}`" for table, marker in markers.items()})
        # spark.sql formats the text with str.format when given DataFrames: every brace but the markers'
        # is doubled to stand for itself
        text = text.replace("{", "{{").replace("}", "}}")
        for table, marker in markers.items():
            text = text.replace(f"`{marker}`", "{" + table + "}")
    else:
        text = _text(
            statement, {table: _quoted_name(table, name) for table, name in _mapping(tables).items()}
        )
        sources = {}
    try:
        return spark.sql(text, None, **sources)
    except errors as error:
        raise SparkError(f"Spark cannot run the search: {_first_line(error)}") from None


def _mapping(tables: Mapping[str, str] | None) -> dict[str, str]:
    """The four tables' names in a ``tables`` mapping, checked: each of the four named, and nothing else."""
    if tables is None:
        return {table: table for table in TABLES}
    if not isinstance(tables, Mapping):
        raise SparkError(
            f"tables: expected a mapping of the four tables to names, not {type(tables).__name__}"
        )
    unknown = [key for key in tables if key not in TABLES]
    if unknown:
        raise SparkError(f"tables: {unknown[0]!r} is not one of MLflow's tables ({', '.join(TABLES)})")
    missing = [table for table in TABLES if table not in tables]
    if missing:
        raise SparkError(f"tables: no name for {', '.join(missing)}; name each of the four tables")
    return {table: tables[table] for table in TABLES}


def _quoted_name(table: str, name: object) -> str:
    """A table name as Spark SQL reads it (``a.b.c``, a part between backticks where it needs them), written
    with every part between backticks."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        shown = repr(name) if isinstance(name, str) else type(name).__name__
        raise SparkError(
            f"tables: {table}: {shown} is not a table name; write catalog.schema.table, a part holding "
            "anything but letters, digits and _ between backticks (`my table`, a ` in it doubled)"
        )
    parts = re.findall(_PART, name)
    return ".".join(part if part.startswith("`") else f"`{part}`" for part in parts)


# ---- the tables ---------------------------------------------------------------------------------------


def _sources(
    spark: SparkSession, tables: Tables, errors: tuple[type[Exception], ...]
) -> dict[str, DataFrame]:
    """Each table as a DataFrame, its columns checked against what the statement reads."""
    if isinstance(tables, str | os.PathLike):
        folder = Path(os.fspath(tables))
        if not os.fspath(tables).strip():  # Path("") is the working directory
            raise SparkError(f"tables: {os.fspath(tables)!r} is not the path of a directory")
        read = {table: _parquet(spark, folder, table, errors) for table in TABLES}
        where = {table: str(folder / f"{table}.parquet") for table in TABLES}
    else:
        names = {table: _quoted_name(table, name) for table, name in _mapping(tables).items()}
        read, where = {}, {}
        for table, name in names.items():
            try:
                read[table] = spark.table(name)
            except errors as error:
                raise SparkError(f"tables: {table}: Spark cannot read {name}: {_first_line(error)}") from None
            where[table] = name
    for table, frame in read.items():
        try:
            schema = frame.schema
        except errors as error:
            raise SparkError(f"{where[table]}: Spark cannot read it: {_first_line(error)}") from None
        _check_columns(table, where[table], schema)
    return read


def _parquet(spark: SparkSession, folder: Path, table: str, errors: tuple[type[Exception], ...]) -> DataFrame:
    file = folder / f"{table}.parquet"
    if "\0" in str(file):
        raise SparkError(f"tables: {str(folder)!r} is not the path of a directory")
    if not folder.is_dir():
        raise SparkError(
            f"{folder}: no such directory (expected ModelStore.to_parquet's export here; for files "
            "elsewhere, s3:// or dbfs:/, make tables or views of them and give their names)"
        )
    if not file.is_file():
        raise SparkError(f"{folder}: no {file.name}: not written by ModelStore.to_parquet")
    # Hadoop reads {, [, *, ? and \ in a path as a glob: each is escaped to stand for itself
    path = _GLOB.sub(r"\\\1", os.path.abspath(file))
    try:
        return spark.read.parquet(path)
    except errors as error:
        raise SparkError(f"{file}: Spark cannot read it as Parquet: {_first_line(error)}") from None


def _check_columns(table: str, where: str, schema: StructType) -> None:
    """Every column the statement reads of ``table`` there, of its kind, text compared by code point."""
    fields = {field.name.lower(): field.dataType for field in schema.fields}
    for column, kind in _COLUMNS[table].items():
        found = fields.get(column)
        if found is None:
            raise SparkError(f"{where}: no column {column}: not the {table} table of MLflow's layout")
        type_name = type(found).__name__
        if type_name not in _KINDS[kind]:
            raise SparkError(
                f"{where}: column {column} is {found.simpleString()}, not {kind} as in MLflow's {table} table"
            )
        collation = getattr(found, "collation", _BINARY)
        if kind == "text" and collation != _BINARY:
            raise SparkError(
                f"{where}: column {column} compares text by the {collation} collation; lmfilter compares "
                f"by code point, as {_BINARY} does: give a view that casts it to STRING COLLATE {_BINARY}"
            )


# ---- pyspark --------------------------------------------------------------------------------------------


def _pyspark_errors() -> tuple[type[Exception], ...]:
    """The errors Spark raises for a query (pyspark's own, and py4j's for a JVM gone), or the ``spark``
    extra's :class:`SparkError` when pyspark is missing."""
    try:
        from pyspark.errors import PySparkException
    except ImportError:
        raise SparkError("lmfilter.spark needs pyspark: pip install 'lmfilter[spark]'") from None
    try:
        from py4j.protocol import Py4JError  # type: ignore[import-untyped]
    except ImportError:  # Spark Connect has no JVM in this process
        return (PySparkException,)
    return (PySparkException, Py4JError)


def _first_line(error: BaseException) -> str:
    """What went wrong, in a line: py4j's own first line only names the JVM call, the next one says why."""
    lines = [line.strip().removeprefix(": ") for line in str(error).splitlines() if line.strip()]
    if len(lines) > 1 and lines[0].startswith("An error occurred while calling"):
        return lines[1]
    return lines[0] if lines else type(error).__name__
