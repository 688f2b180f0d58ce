"""Any filter as one SQL ``SELECT`` of model ids over MLflow's own tables, in exactly the server's order.

:func:`to_sql` compiles a filter, ``datasets`` and ``order_by`` with :func:`lmfilter.compile_query` into the
typed logic of :mod:`lmfilter.logic` (the same nodes the row and column executors run, so the three cannot
drift), and renders that logic as SQL expressions through sqlglot, which writes each dialect:

- each *slot* of the logic becomes a value: an attribute is a column of ``logged_models``; a param, a tag or a
  metric's latest value is a ``LEFT JOIN`` of one row per model (none when the model has no such value, so the
  value is NULL, which is unknown in SQL's three-valued logic as it is in lmfilter's); MLflow 3.17's "any
  passing row" comparisons are one aggregate per comparison over the metric's passing rows;
- each *leaf* becomes a condition on its value, from its test (:class:`~lmfilter.logic.Compare`,
  :class:`~lmfilter.logic.Like`, :class:`~lmfilter.logic.InSet`, :class:`~lmfilter.logic.Between`), written so
  that every dialect means what lmfilter means: LIKE case-sensitive with no escape character, ILIKE folding
  the 26 ASCII letters only, text compared by code point, NaN and infinite literals as Python compares them;
- AND, OR and NOT are SQL's own, which is Kleene's logic, as lmfilter's is.

User text only ever reaches the SQL as literals that sqlglot quotes for the dialect; identifiers are
lmfilter's own.

>>> print(to_sql("params.alpha = '0.1' OR metrics.acc > 0.9", dialect="sqlite"))
... # doctest: +NORMALIZE_WHITESPACE
SELECT m.model_id FROM logged_models AS m
LEFT JOIN (SELECT model_id, param_value AS v FROM logged_model_params WHERE param_key = 'alpha') AS s0
  ON s0.model_id = m.model_id
LEFT JOIN (SELECT model_id, v FROM (SELECT model_id, COALESCE(metric_value, 0) AS v, ROW_NUMBER() OVER
  (PARTITION BY model_id ORDER BY metric_step DESC, metric_timestamp_ms DESC, COALESCE(metric_value, 0) DESC)
  AS r FROM logged_model_metrics WHERE metric_name = 'acc') AS w WHERE r = 1) AS s1
  ON s1.model_id = m.model_id
WHERE m.lifecycle_stage <> 'deleted' AND (s0.v = '0.1' OR s1.v > 0.9)
ORDER BY COALESCE(m.creation_timestamp_ms, 0) DESC, m.model_id ASC NULLS LAST

When the models must also meet conditions on attributes, params and tags (a conjunct of the filter, or
``experiment_ids``), those models are found first, in a CTE, and the metric rows of those models only are read
(see ``_Compiler._narrowed``); on DuckDB, a latest value is one ``arg_max`` aggregate rather than a window.
"""

from __future__ import annotations

import functools
import inspect
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple, TypeVar, cast, get_args

import sqlglot
from sqlglot import exp

from lmfilter import ast
from lmfilter.evaluate import compile_query
from lmfilter.logic import (
    NUMERIC_TEXT,
    AnyRow,
    Attr,
    Between,
    ByTime,
    Compare,
    InSet,
    Junction,
    Latest,
    Leaf,
    Like,
    Logic,
    Negation,
    Param,
    ParamNumber,
    RowFilter,
    Scalar,
    Slot,
    SortAttr,
    Tag,
    Values,
)
from lmfilter.requests import Datasets, OrderByArg, RequestError, experiment_id_items, max_results_of
from lmfilter.schema import ATTRIBUTES, Target
from lmfilter.status import ModelStatus

__all__ = ["DIALECTS", "Dialect", "FirstPage", "first_page", "select_statement", "to_sql"]

Dialect = Literal["duckdb", "sqlite", "postgres", "spark", "databricks"]
"""The SQL dialects :func:`to_sql` writes (sqlglot's names)."""

DIALECTS: tuple[Dialect, ...] = get_args(Dialect)

_WHITESPACE = " \t\n\r\f\v"
_UPPER, _LOWER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz"
_ASCII_LOWER = str.maketrans(_UPPER, _LOWER)

_MODELS, _PARAMS, _TAGS = "logged_models", "logged_model_params", "logged_model_tags"
_METRICS = "logged_model_metrics"
# Java's regular expressions (Spark's RLIKE) read \v as any vertical whitespace (U+2028 among them) and $ as
# the end or the place before a final line terminator (U+2028 and U+0085 too): there, NUMERIC_TEXT gives the
# vertical tab by its code and ends at the very end (\z).
_JAVA_NUMERIC_TEXT = NUMERIC_TEXT.replace(r"\v", r"\x0B").removesuffix("$") + r"\z"
_ZERO = {"string": exp.Literal.string(""), "number": exp.Literal.number(0), "status": exp.Literal.number(0)}
# attribute -> its column; the zero an attribute the server always has reads as when the store holds NULL
_COLUMNS = {attr.name: attr.mlflow_column for attr in ATTRIBUTES}
_COLUMNS["artifact_location"] = "artifact_location"
_NOT_NULLABLE = {
    attr.name: _ZERO[attr.type.value] for attr in ATTRIBUTES if not attr.nullable and attr.name != "model_id"
}


def to_sql(
    filter: str | ast.Expr | None = None,  # noqa: A002 - the API's word
    *,
    datasets: Datasets = None,
    order_by: OrderByArg = None,
    target: str | Target = "mlflow",
    dialect: str = "duckdb",
    experiment_ids: Iterable[str | int] | str | int | None = None,
    max_results: int | None = None,
    mlflow_backend: bool = False,
) -> str:
    """One SQL ``SELECT`` of ``model_id`` over MLflow's tables: what a search returns, in its order.

    Takes what :func:`lmfilter.select` takes (any filter lmfilter parses: OR, NOT, IS NULL, BETWEEN, numeric
    params; ``datasets``; ``order_by``; the ``target`` whose semantics to follow) and runs on MLflow's
    tracking database (``sqlite``, ``postgres``), on lmfilter's DuckDB store (``duckdb``), or on Spark tables
    of that layout (``spark``, ``databricks``). Deleted models are left out; ``experiment_ids`` keeps the
    models of those experiments (all with ``None``); ``max_results`` the first so many (all with ``None``).

    ``mlflow_backend`` writes LIKE, ILIKE and the order of texts as MLflow's own SQL means them on that
    dialect, so that a search of MLflow's tracking database answers what the MLflow server on it answers.
    Only PostgreSQL's differ from lmfilter's: there MLflow sends ``LIKE``/``ILIKE`` as they are, so a
    backslash escapes the next character of a pattern, ILIKE folds case as the database's ctype does, and
    texts compare and sort by the database's collation. Without it, every dialect means what
    :func:`lmfilter.select` means (no escape character, ASCII folding, code-point order).

    On ``sqlite``, a comparison of a param with a number uses ``REGEXP``, which SQLite leaves to the
    connection to define (:func:`lmfilter.sql.mlflow_db.open_database` does).

    Raises :class:`~lmfilter.FilterError` for a bad filter and :class:`~lmfilter.RequestError` for a bad
    argument.

    >>> print(to_sql("tags.team = 'it''s' AND name ILIKE 'm%'", dialect="postgres", max_results=10))
    ... # doctest: +NORMALIZE_WHITESPACE
    SELECT m.model_id FROM logged_models AS m
    LEFT JOIN (SELECT model_id, tag_value AS v FROM logged_model_tags WHERE tag_key = 'team') AS s0
      ON s0.model_id = m.model_id
    WHERE m.lifecycle_stage <> 'deleted' AND (s0.v = 'it''s'
      AND TRANSLATE(COALESCE(m.name, ''), 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')
      LIKE 'm%')
    ORDER BY COALESCE(m.creation_timestamp_ms, 0) DESC NULLS LAST, m.model_id COLLATE "C" ASC
    LIMIT 10
    """
    shape, checked, ids, limit = _arguments(
        filter, datasets, order_by, target, dialect, experiment_ids, max_results
    )
    return _rendered(shape, checked, ids, limit, mlflow_backend)


def select_statement(
    filter: str | ast.Expr | None = None,  # noqa: A002 - the API's word
    *,
    datasets: Datasets = None,
    order_by: OrderByArg = None,
    target: str | Target = "mlflow",
    dialect: str = "duckdb",
    experiment_ids: Iterable[str | int] | str | int | None = None,
    max_results: int | None = None,
    mlflow_backend: bool = False,
) -> exp.Select:
    """:func:`to_sql`'s statement as a sqlglot expression (to change, or render in another way)."""
    shape, checked, ids, limit = _arguments(
        filter, datasets, order_by, target, dialect, experiment_ids, max_results
    )
    return _Compiler(shape, checked, mlflow_backend).statement(ids, limit)


class _Shape(NamedTuple):
    """What the SQL is made of: a compiled query's slots, logic and order (values, so a cache key)."""

    slots: tuple[Slot, ...]
    logic: Logic
    order: tuple[tuple[int, bool], ...]


def _arguments(
    filter: str | ast.Expr | None,  # noqa: A002 - the API's word
    datasets: Datasets,
    order_by: OrderByArg,
    target: str | Target,
    dialect: str,
    experiment_ids: Iterable[str | int] | str | int | None,
    max_results: int | None,
) -> tuple[_Shape, Dialect, tuple[int, ...] | None, int | None]:
    """The arguments of :func:`to_sql`, checked: the query's shape, the dialect, the ids and the limit."""
    if dialect not in DIALECTS:
        known = ", ".join(DIALECTS)
        raise RequestError("dialect", f"{dialect!r} is not one lmfilter writes; use one of {known}")
    query = compile_query(filter, datasets=datasets, order_by=order_by, target=target)
    limit = max_results_of(max_results, least=0)
    if limit is not None and limit >= 2**63:  # past every engine's LIMIT, and past any table's size
        limit = None
    ids = None
    if experiment_ids is not None:
        ids = tuple(_experiment_id(i) for i in experiment_id_items(experiment_ids))
    return _Shape(query.slots, query.logic, query.order), dialect, ids, limit


@functools.lru_cache(maxsize=256)
def _rendered(
    shape: _Shape, dialect: Dialect, ids: tuple[int, ...] | None, limit: int | None, mlflow_backend: bool
) -> str:
    """The SQL text of a statement, kept: sqlglot takes milliseconds to build and write one, as long as a
    search of a loaded store takes."""
    return _Compiler(shape, dialect, mlflow_backend).statement(ids, limit).sql(dialect=dialect)


class FirstPage(NamedTuple):
    """How to find a first page of a search fast on a large table, when it is ordered first by an attribute
    (by default the creation time): take the ``k``-th model by that order (``threshold``, whose one
    parameter is ``k - 1``, gives its key, or no row when there are fewer than ``k`` models or a NULL key),
    and run the search among the models whose key is at or before that one (``search``, whose one parameter
    is the key). When that finds a full page, it is the search's first page: every model left out sorts
    after all of those. Otherwise, try again with a larger ``k``, or run the whole search. The metrics are
    then read for the models near the page only (see ``_Compiler._narrowed``)."""

    threshold: str
    search: str


def first_page(filter: str | ast.Expr | None = None, **arguments: Any) -> FirstPage | None:  # noqa: A002
    """The two statements of :class:`FirstPage` for this search (with ``?`` parameters), or ``None`` where
    they do not apply: no ``max_results``, or a first order that is no attribute (a metric, or a param or a
    tag on a local target). Takes :func:`to_sql`'s arguments and raises its errors.

    >>> page = first_page("metrics.acc > 0.9", max_results=10)
    >>> print(page.threshold)  # doctest: +NORMALIZE_WHITESPACE
    SELECT COALESCE(m.creation_timestamp_ms, 0) FROM logged_models AS m WHERE m.lifecycle_stage <> 'deleted'
    ORDER BY COALESCE(m.creation_timestamp_ms, 0) DESC LIMIT 1 OFFSET ?
    >>> "COALESCE(m.creation_timestamp_ms, 0) >= ?" in page.search
    True
    >>> print(first_page(order_by=[{"field_name": "metrics.acc"}], max_results=10))
    None
    """
    given = inspect.signature(to_sql).bind(filter, **arguments)  # to_sql's names, defaults and errors
    given.apply_defaults()
    backend = given.arguments.pop("mlflow_backend")
    shape, checked, ids, limit = _arguments(*given.arguments.values())
    if limit is None:
        return None
    return _first_page(shape, checked, ids, limit, backend)


@functools.lru_cache(maxsize=256)
def _first_page(
    shape: _Shape, dialect: Dialect, ids: tuple[int, ...] | None, limit: int, backend: bool
) -> FirstPage | None:
    slot, ascending = shape.order[0]
    if not isinstance(shape.slots[slot], Attr | SortAttr):
        return None  # by a metric: the metric rows are read by a scan either way, measured no faster
    keys = _Compiler(shape, dialect, backend)
    keys.statement(ids, None)  # for the key's expression and the models' conditions
    key = keys._sortable(slot)
    near = exp.LTE if ascending else exp.GTE  # at or before the threshold, by the order
    bound = near(this=key.copy(), expression=exp.Placeholder())
    threshold = (
        exp.select(key.copy())
        .from_(exp.to_table(_MODELS).as_("m"))
        .where(exp.and_(*keys.base))
        .order_by(exp.Ordered(this=key.copy(), desc=not ascending, nulls_first=False))
        .limit(1)
        .offset(exp.Placeholder())
    )
    search = _Compiler(shape, dialect, backend).statement(ids, limit, bound=bound)
    return FirstPage(threshold.sql(dialect=dialect), search.sql(dialect=dialect))


def _experiment_id(value: str | int) -> int:
    """An experiment id as MLflow's INTEGER column holds it."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise RequestError("experiment_ids", f"expected ids (texts or integers), not {type(value).__name__}")
    if isinstance(value, str) and not re.fullmatch(r"[+-]?[0-9]{1,40}", value):
        shown = value if len(value) <= 40 else value[:40] + "..."
        raise RequestError("experiment_ids", f"{shown!r} is not an experiment id (MLflow's ids are integers)")
    number = int(value)
    if not -(2**63) <= number < 2**63:
        raise RequestError("experiment_ids", f"{value!r} is past the range of MLflow's experiment ids")
    return number


# ---- the compiler ---------------------------------------------------------------------------------


@dataclass
class _Compiler:
    """Renders one compiled query: a value per slot (with the joins that bring it), a condition per leaf."""

    query: _Shape
    dialect: Dialect
    mlflow_backend: bool = False
    joins: list[exp.Join] = field(default_factory=list)
    values: dict[int, exp.Expr] = field(default_factory=dict)
    # MLflow 3.17's "some passing row satisfies it": per Values slot, the leaves that test its rows.
    hits: dict[int, list[Leaf]] = field(default_factory=dict)
    # With many keys, one pivot per table instead of a join per key: per table, (slot, key, value) each.
    pivots: dict[str, list[tuple[int, str, exp.Expr]]] | None = None
    # per slot, the join that brings its value; the slots read from the metrics table
    join_of: dict[int, exp.Join] = field(default_factory=dict)
    metric_slots: set[int] = field(default_factory=set)
    base: list[exp.Expr] = field(default_factory=list)  # what every model returned meets, on m's columns

    def statement(
        self,
        experiment_ids: Sequence[int] | None,
        limit: int | None,
        bound: exp.Expr | None = None,
    ) -> exp.Select:
        """The ``SELECT``; ``bound``, a condition on the columns of ``m`` (``logged_models``), is one more
        the models must meet."""
        for leaf in _leaves(self.query.logic):
            if leaf.mode == "any":
                self.hits.setdefault(leaf.slot, []).append(leaf)
        keyed = [slot for slot in self.query.slots if isinstance(slot, Param | ParamNumber | Tag)]
        if len(keyed) > _JOINS:
            self.pivots = {_PARAMS: [], _TAGS: []}
        for i, slot in enumerate(self.query.slots):
            self.values[i] = self._slot(i, slot)
        for table, columns in (self.pivots or {}).items():
            if columns:
                self._join(_PIVOT_ALIAS[table], _pivot(table, columns))
        base: list[exp.Expr] = [exp.column("lifecycle_stage", "m").neq(exp.Literal.string("deleted"))]
        if experiment_ids is not None:
            ids = [exp.Literal.number(i) for i in dict.fromkeys(experiment_ids)]
            base.append(exp.column("experiment_id", "m").isin(*ids) if ids else exp.false())
        if bound is not None:
            base.append(_paren(bound))
        self.base = base
        items = _conjuncts(self.query.logic)
        cheap = [item for item in items if self._cheap(item)]
        if (cheap or len(base) > 1) and self.metric_slots and self.pivots is None:
            rest = [item for item in items if item not in cheap]
            return self._narrowed(base, cheap, rest, limit)
        where = [*base, *self._conditions(items)]
        return self._finished(exp.to_table(_MODELS), list(self.joins), where, limit)

    def _finished(
        self, source: exp.Expr, joins: list[exp.Join], where: list[exp.Expr], limit: int | None
    ) -> exp.Select:
        """``SELECT m.model_id FROM source AS m LEFT JOIN ... WHERE ... ORDER BY ... LIMIT ...``"""
        if self.dialect == "postgres":
            joins = [_without_nul(join) for join in joins]
            where = [_without_nul(condition) for condition in where]
        select = exp.select(exp.column("model_id", "m")).from_(exp.alias_(source, "m", table=True))
        for join in joins:
            select = select.join(join, join_type="left", copy=False)  # a copy per join is quadratic
        if where:
            select = select.where(exp.and_(*where))
        order = [
            exp.Ordered(this=self._sortable(i), desc=not ascending, nulls_first=False)
            for i, ascending in self.query.order
        ]
        select = select.order_by(*order)
        if limit is not None:
            select = select.limit(limit)
        return select

    def _conditions(self, items: Sequence[Logic]) -> list[exp.Expr]:
        condition = self._logic(Junction("all", tuple(items)))
        return [] if condition == exp.true() else [_paren(condition)]

    def _narrowed(
        self,
        base: list[exp.Expr],
        cheap: list[Logic],
        rest: list[Logic],
        limit: int | None,
    ) -> exp.Select:
        """The statement when the metrics need only be read for some models: those that meet ``base`` and
        the ``cheap`` conjuncts (conditions on attributes, params and tags). They are found first, as the
        CTE ``c`` (each model's columns read later, and the values of the params and tags it was found
        by), and each metric subquery reads the rows of those models only. It returns the same models in
        the same order: a model outside ``c`` fails a conjunct of the filter, whatever its metrics hold."""
        used = sorted({leaf.slot for item in cheap for leaf in _leaves(item)} & set(self.join_of))
        finding = self._conditions(cheap)  # before their values are the carried columns
        within = exp.column("model_id").isin(query=exp.select("model_id").from_(_FOUND))
        joins = []
        for i, join in self.join_of.items():
            if i in used:
                self.values[i] = exp.column(_CARRIED.format(i), "m")
                continue
            if i in self.metric_slots:
                for reads in join.find_all(exp.Select):
                    source = reads.args["from_"].this
                    if isinstance(source, exp.Table) and source.name == _METRICS:
                        reads.where(within.copy(), copy=False)
            joins.append(join)
        select = self._finished(exp.to_table(_FOUND), joins, self._conditions(rest), limit)
        # c holds the columns of logged_models the rest of the statement reads, and the carried values
        carried = {_CARRIED.format(i): exp.column("v", f"s{i}") for i in used}
        columns = {c.name for c in select.find_all(exp.Column) if c.table == "m"} - carried.keys()
        found = exp.select(
            *(exp.column(name, "m") for name in sorted(columns | {"model_id"})),
            *(value.as_(name) for name, value in carried.items()),
        ).from_(exp.to_table(_MODELS).as_("m"))
        for i in used:
            found = found.join(self.join_of[i], join_type="left", copy=False)
        found = found.where(exp.and_(*base, *finding))
        if self.dialect == "postgres":
            found = _without_nul(found)
        # DuckDB would run c twice (once for the FROM, once for the metrics), PostgreSQL runs it once
        once = self.dialect == "duckdb"
        return select.with_(_FOUND, as_=found, materialized=once or None, copy=False)

    def _cheap(self, item: Logic) -> bool:
        """Whether a conjunct tests attributes, params and tags only (no metric)."""
        return all(isinstance(self.query.slots[leaf.slot], _CHEAP) for leaf in _leaves(item))

    # ---- slots ----

    def _slot(self, i: int, slot: Slot) -> exp.Expr:
        """The slot's value, adding the join that brings it."""
        alias = f"s{i}"
        match slot:
            case Attr(name) | SortAttr(name):
                return self._attribute(name, sort=isinstance(slot, SortAttr))
            case Param(key):
                return self._keyed(i, _PARAMS, key, exp.column("param_value"))
            case ParamNumber(key):
                return self._keyed(i, _PARAMS, key, self._number(exp.column("param_value")))
            case Tag(key):
                return self._keyed(i, _TAGS, key, exp.column("tag_value"))
            case Latest(key, rows) | ByTime(key, rows):
                by_time = isinstance(slot, ByTime)
                if self.dialect == "duckdb":
                    self._join(alias, _latest_by_key(key, rows, by_time=by_time), slot=i, metric=True)
                else:
                    ranked = _ranked(key, rows, _BY_TIME if by_time else _BY_STEP)
                    self._join(alias, _first_ranked(ranked), slot=i, metric=True)
            case Values(key, rows):
                hits = [
                    exp.Max(this=_when(self._test(leaf, _METRIC_VALUE), 1, 0)).as_(f"h{j}")
                    for j, leaf in enumerate(self.hits.get(i, ()))
                ]
                passing = _where(exp.column("metric_name").eq(exp.Literal.string(key)), *_rows(rows))
                query = exp.select("model_id", *hits).from_(_METRICS).where(passing).group_by("model_id")
                self._join(alias, query, slot=i, metric=True)
            case AnyRow(rows):
                some = exp.select("model_id").distinct().from_(_METRICS).where(_where(*_rows(rows)))
                self._join(alias, some, slot=i, metric=True)
        return exp.column("v", alias)

    def _keyed(self, i: int, table: str, key: str, value: exp.Expr) -> exp.Expr:
        """A param's or a tag's value: a join of its own, or a column of the table's pivot."""
        if self.pivots is not None:
            self.pivots[table].append((i, key, value))
            return exp.column(f"v{i}", _PIVOT_ALIAS[table])
        kind = "param" if table == _PARAMS else "tag"
        self._join(f"s{i}", _pairs(table, kind, key, value), slot=i)
        return exp.column("v", f"s{i}")

    def _join(self, alias: str, query: exp.Select, *, slot: int | None = None, metric: bool = False) -> None:
        """A ``LEFT JOIN`` of ``query`` on the model id; ``slot``, the slot whose value it brings (a value
        read from the metrics table when ``metric``)."""
        on = exp.column("model_id", alias).eq(exp.column("model_id", "m"))
        join = exp.Join(this=query.subquery(alias), on=on)
        self.joins.append(join)
        if slot is not None:
            self.join_of[slot] = join
        if slot is not None and metric:
            self.metric_slots.add(slot)

    def _attribute(self, name: str, *, sort: bool) -> exp.Expr:
        column: exp.Expr = exp.column(_COLUMNS[name], "m")
        if name == "experiment_id":
            # An INTEGER column: sorted by its number as the server sorts it, compared as the API's text.
            return column if sort else exp.cast(column, exp.DataType.build("text"))
        zero = _NOT_NULLABLE.get(name)
        return column if zero is None else exp.Coalesce(this=column, expressions=[zero.copy()])

    def _number(self, text: exp.Expr) -> exp.Expr:
        """A param's text as a number, where it is one (else NULL)."""
        trimmed = exp.Trim(this=text.copy(), expression=exp.Literal.string(_WHITESPACE))
        number = _postgres_number(trimmed) if self.dialect == "postgres" else exp.cast(trimmed, "double")
        pattern = _JAVA_NUMERIC_TEXT if self.dialect in ("spark", "databricks") else NUMERIC_TEXT
        matches = exp.RegexpLike(this=text.copy(), expression=exp.Literal.string(pattern))
        return exp.Case(ifs=[exp.If(this=matches, true=number)])

    @property
    def _code_points(self) -> bool:
        """Texts compared by code point where the engine's default is the locale's (PostgreSQL), unless
        MLflow's own meaning (the database's collation) is asked for."""
        return self.dialect == "postgres" and not self.mlflow_backend

    def _sortable(self, i: int) -> exp.Expr:
        value = self.values[i]
        if self._code_points and isinstance(self.query.slots[i], Attr | SortAttr | Param | Tag):
            return _by_code_point(value, self.query.slots[i])
        return value

    # ---- the logic ----

    def _logic(self, logic: Logic) -> exp.Expr:
        match logic:
            case Junction(kind, items):
                parts = [_paren(self._logic(item)) for item in items if item != _EVERY_MODEL]
                if not parts:  # AND of nothing holds, OR of nothing does not
                    return exp.Boolean(this=kind == "all")
                return _connected(kind, parts)
            case Negation(item):
                return exp.Not(this=_paren(self._logic(item)))
            case Leaf(i, mode):
                return self._leaf(logic, i, mode)
        raise AssertionError(f"unknown logic {logic!r}")

    def _leaf(self, leaf: Leaf, i: int, mode: str) -> exp.Expr:
        value = self.values[i]
        match mode:
            case "value":
                return self._test(leaf, value)
            case "any":
                j = self.hits[i].index(leaf)
                return exp.column(f"h{j}", f"s{i}").eq(exp.Literal.number(1))
            case "null":
                return value.is_(exp.null())
            case "not_null":
                return exp.Not(this=value.is_(exp.null()))
            case "empty" | "flag" | "not_empty":
                present = exp.Not(this=exp.column("model_id", f"s{i}").is_(exp.null()))
                return exp.Not(this=_paren(present)) if mode == "empty" else present
        raise AssertionError(f"unknown leaf mode {mode!r}")

    def _test(self, leaf: Leaf, value: exp.Expr) -> exp.Expr:
        """The leaf's test of ``value``: NULL (unknown) when the value is NULL, as SQL's operators give."""
        value = value.copy()
        slot = self.query.slots[leaf.slot] if leaf.slot < len(self.query.slots) else None
        match leaf.test:
            case Compare(op, literal):
                if isinstance(literal, float) and math.isnan(literal):
                    return _constant(value, op == "!=")  # Python: NaN equals nothing, is unequal to all
                if isinstance(literal, ModelStatus) and not literal.known:
                    return _constant(value, op == "!=")  # the store holds numbers: none is this name
                if isinstance(literal, str) and self._code_points and op not in ("=", "!="):
                    value = _by_code_point(value, slot)
                return _COMPARISONS[op](this=value, expression=self._literal(literal))
            case Like(pattern, insensitive, negated):
                condition = self._like(value, pattern, insensitive)
                return exp.Not(this=_paren(condition)) if negated else condition
            case InSet(values, negated):
                members = [v for v in dict.fromkeys(values) if not _never_equal(v)]
                if not members:
                    return _constant(value, negated)
                condition = value.isin(*(self._literal(v) for v in members))
                return exp.Not(this=_paren(condition)) if negated else condition
            case Between(low, high, negated):
                if math.isnan(low) or math.isnan(high):
                    return _constant(value, negated)
                condition = exp.Between(this=value, low=self._literal(low), high=self._literal(high))
                return exp.Not(this=_paren(condition)) if negated else condition
        raise AssertionError(f"unknown test {leaf.test!r}")

    def _literal(self, literal: Scalar) -> exp.Expr:
        if isinstance(literal, ModelStatus):
            return exp.Literal.number(literal.number)
        if isinstance(literal, str):
            return exp.Literal.string(literal)
        if math.isinf(literal):
            return self._infinity(negative=literal < 0)
        return exp.Literal.number(repr(literal))

    def _infinity(self, *, negative: bool) -> exp.Expr:
        if self.dialect == "sqlite":  # SQLite reads an overflowing literal as infinity, casts no text to it
            return exp.Literal.number("-9e999" if negative else "9e999")
        text = {"duckdb": "inf", "postgres": "Infinity"}.get(self.dialect, "Infinity")
        return exp.cast(exp.Literal.string(("-" if negative else "") + text), exp.DataType.build("double"))

    def _like(self, value: exp.Expr, pattern: str, insensitive: bool) -> exp.Expr:
        """``value LIKE pattern`` as lmfilter means it: whole text, case-sensitive, ``%`` and ``_`` always
        wildcards and nothing an escape; ILIKE folds the 26 ASCII letters of both sides, nothing else. With
        ``mlflow_backend`` on PostgreSQL, the pattern as MLflow sends it (see :func:`to_sql`)."""
        if self.mlflow_backend and self.dialect == "postgres":
            kind = exp.ILike if insensitive else exp.Like
            return kind(this=value, expression=exp.Literal.string(pattern))
        if insensitive:
            pattern = pattern.translate(_ASCII_LOWER)
            if self.dialect == "sqlite":
                value = exp.Lower(this=value)  # SQLite's own lower() folds ASCII letters only
            else:
                value = exp.func("translate", value, exp.Literal.string(_UPPER), exp.Literal.string(_LOWER))
        match self.dialect:
            case "sqlite":  # SQLite's LIKE ignores ASCII case: GLOB is its case-sensitive match
                return exp.Glob(this=value, expression=exp.Literal.string(_glob(pattern)))
            case "duckdb":  # DuckDB's LIKE has no escape character unless one is named
                return exp.Like(this=value, expression=exp.Literal.string(pattern))
        # PostgreSQL and Spark escape with a backslash by default: one in the pattern is doubled
        return exp.Like(this=value, expression=exp.Literal.string(pattern.replace("\\", "\\\\")))


# ---- pieces ---------------------------------------------------------------------------------------

_COMPARISONS: dict[str, type[exp.Binary]] = {
    "=": exp.EQ,
    "!=": exp.NEQ,
    "<": exp.LT,
    "<=": exp.LTE,
    ">": exp.GT,
    ">=": exp.GTE,
}
_EVERY_MODEL = Junction("all", ())  # an empty filter
# How a metric's rows rank for its one value: MLflow 3.18's latest by (step, timestamp, value), and MLflow
# 3.17's sort value, the latest by timestamp, then step, then the lowest run id.
_METRIC_VALUE = exp.Coalesce(this=exp.column("metric_value"), expressions=[exp.Literal.number(0)])
_BY_STEP = (
    exp.Ordered(this=exp.column("metric_step"), desc=True),
    exp.Ordered(this=exp.column("metric_timestamp_ms"), desc=True),
    exp.Ordered(this=_METRIC_VALUE, desc=True),
)
_BY_TIME = (
    exp.Ordered(this=exp.column("metric_timestamp_ms"), desc=True),
    exp.Ordered(this=exp.column("metric_step"), desc=True),
    exp.Ordered(
        this=exp.Coalesce(this=exp.column("run_id"), expressions=[exp.Literal.string("")]), desc=False
    ),
)


_Tree = TypeVar("_Tree", bound=exp.Expr)
_CHEAP = (Attr, SortAttr, Param, ParamNumber, Tag)  # slots a model's own row and two small tables give
_FOUND, _CARRIED = "c", "v{}"  # the CTE of the narrowed statement, and the column carrying slot {}'s value


def _conjuncts(logic: Logic) -> list[Logic]:
    """The parts of a filter that must all hold (the filter itself when it is no AND)."""
    return list(logic.items) if isinstance(logic, Junction) and logic.kind == "all" else [logic]


def _leaves(logic: Logic) -> Iterable[Leaf]:
    stack = [logic]
    while stack:
        match stack.pop():
            case Junction(_, items):
                stack.extend(reversed(items))
            case Negation(item):
                stack.append(item)
            case Leaf() as leaf:
                yield leaf


_FLAT = 64  # up to so many parts, AND and OR are written flat; past it, as a balanced tree


def _connected(kind: str, parts: list[exp.Expr]) -> exp.Expr:
    """``parts`` joined by AND (``kind == "all"``) or OR. A long list is nested as a balanced tree, so that
    its depth grows as the logarithm of its length: SQLite refuses an expression 1,000 deep, and a flat
    list of 1,000 terms is one that deep to its parser."""
    join = exp.and_ if kind == "all" else exp.or_
    if len(parts) <= _FLAT:
        return join(*parts)
    half = len(parts) // 2
    return join(_paren(_connected(kind, parts[:half])), _paren(_connected(kind, parts[half:])))


def _paren(expression: exp.Expr) -> exp.Expr:
    return exp.Paren(this=expression) if isinstance(expression, exp.Connector | exp.Not) else expression


def _where(*conditions: exp.Expr) -> exp.Expr | None:
    return exp.and_(*conditions) if conditions else None


# Up to so many params and tags, each is a join of its own (its key and value are filtered as the table is
# read); past it, one pivot per table (SQLite joins at most 64 tables, and DuckDB plans hundreds of joins
# for seconds).
_JOINS = 16
_PIVOT_ALIAS = {_PARAMS: "sp", _TAGS: "st"}


def _pivot(table: str, columns: list[tuple[int, str, exp.Expr]]) -> exp.Select:
    """One row per model holding any of the keys, a column ``v<slot>`` per key (NULL where the model lacks
    it): each model holds a key once (the table's primary key), so MAX picks that one value."""
    kind = "param" if table == _PARAMS else "tag"
    key_column = exp.column(f"{kind}_key")
    values = [
        exp.Max(this=exp.Case(ifs=[exp.If(this=key_column.eq(exp.Literal.string(key)), true=value)])).as_(
            f"v{i}"
        )
        for i, key, value in columns
    ]
    keys = [exp.Literal.string(key) for key in dict.fromkeys(key for _, key, _ in columns)]
    return exp.select("model_id", *values).from_(table).where(key_column.isin(*keys)).group_by("model_id")


def _pairs(table: str, kind: str, key: str, value: exp.Expr) -> exp.Select:
    """One row per model holding ``key`` (a param or tag table's primary key is the model and the key)."""
    return (
        exp.select("model_id", value.as_("v"))
        .from_(table)
        .where(exp.column(f"{kind}_key").eq(exp.Literal.string(key)))
    )


def _rows(rows: RowFilter) -> list[exp.Expr]:
    """The conditions a metric row passes ``rows`` by."""
    conditions: list[exp.Expr] = []
    if rows.name is not None:
        conditions.append(exp.column("dataset_name").eq(exp.Literal.string(rows.name)))
    if rows.digest is not None:
        conditions.append(exp.column("dataset_digest").eq(exp.Literal.string(rows.digest)))
    if rows.datasets is not None:
        entries = [
            exp.and_(
                exp.column("dataset_name").eq(exp.Literal.string(name)),
                *([] if digest is None else [exp.column("dataset_digest").eq(exp.Literal.string(digest))]),
            )
            for name, digest in dict.fromkeys(rows.datasets)
        ]
        conditions.append(_paren(exp.or_(*entries)) if entries else exp.false())
    return conditions


def _ranked(key: str, rows: RowFilter, rank: tuple[exp.Ordered, ...]) -> exp.Select:
    """A metric's passing rows, each with its value and its place ``r`` by ``rank`` among its model's."""
    window = exp.Window(
        this=exp.RowNumber(),
        partition_by=[exp.column("model_id")],
        order=exp.Order(expressions=[item.copy() for item in rank]),
    )
    passing = _where(exp.column("metric_name").eq(exp.Literal.string(key)), *_rows(rows))
    ranked = exp.select("model_id", _METRIC_VALUE.copy().as_("v"), window.as_("r"))
    return ranked.from_(_METRICS).where(passing)


def _first_ranked(ranked: exp.Select) -> exp.Select:
    """The value of each model's first row of ``ranked``: one row per model."""
    return exp.select("model_id", "v").from_(ranked.subquery("w")).where(exp.column("r").eq(1))


def _latest_by_key(key: str, rows: RowFilter, *, by_time: bool) -> exp.Select:
    """What ``_first_ranked(_ranked(...))`` selects, as one aggregate (DuckDB): the value of the row with
    the greatest key, a struct that orders as the rank does. By step: ``(step, timestamp, value)``, the
    greatest. By time: ``(~timestamp, ~step, run id)``, the least (a bitwise NOT reverses an integer's order
    and cannot overflow). Step and timestamp are never NULL (MLflow's schema). An aggregate keeps one row
    per model where a window keeps all: several times faster on a large store."""
    step, timestamp = exp.column("metric_step"), exp.column("metric_timestamp_ms")
    if by_time:
        run = exp.Coalesce(this=exp.column("run_id"), expressions=[exp.Literal.string("")])
        order = exp.Tuple(expressions=[exp.BitwiseNot(this=timestamp), exp.BitwiseNot(this=step), run])
        best: exp.Expr = exp.ArgMin(this=_METRIC_VALUE.copy(), expression=order)
    else:
        order = exp.Tuple(expressions=[step, timestamp, _METRIC_VALUE.copy()])
        best = exp.ArgMax(this=_METRIC_VALUE.copy(), expression=order)
    passing = _where(exp.column("metric_name").eq(exp.Literal.string(key)), *_rows(rows))
    return exp.select("model_id", best.as_("v")).from_(_METRICS).where(passing).group_by("model_id")


def _when(condition: exp.Expr, then: int, otherwise: int) -> exp.Expr:
    return exp.Case(
        ifs=[exp.If(this=condition, true=exp.Literal.number(then))], default=exp.Literal.number(otherwise)
    )


def _constant(value: exp.Expr, verdict: bool) -> exp.Expr:
    """A test whose verdict on any value that is there is known: unknown where the value is NULL."""
    unknown = exp.If(this=value.is_(exp.null()), true=exp.null())
    return exp.Case(ifs=[unknown], default=exp.Boolean(this=verdict))


_LESS = (exp.LT, exp.LTE)


def _without_nul(tree: _Tree) -> _Tree:
    """``tree`` with no literal holding a NUL, for PostgreSQL, whose texts cannot hold one and whose clients
    cannot send one: each test against such a literal becomes what it means for every text PostgreSQL holds
    (none holds a NUL). ``=``, LIKE and ILIKE hold for none, ``!=`` for all, an IN list loses those members,
    and an order is the one of the literal's part before its NUL (``P``): a text without a NUL is below
    ``P + NUL + ...`` exactly when it is at most ``P``. A NULL value stays unknown."""

    def rewritten(node: exp.Expr) -> exp.Expr:
        if isinstance(node, exp.In):
            members = [m for m in node.expressions if not _holds_nul(m)]
            if len(members) == len(node.expressions):
                return node
            return node.this.isin(*members) if members else _constant(node.this, False)
        if not _holds_nul(node.args.get("expression")):
            return node
        if isinstance(node, exp.EQ | exp.NEQ | exp.Like | exp.ILike):
            return _constant(node.this, isinstance(node, exp.NEQ))
        if isinstance(node, exp.LT | exp.LTE | exp.GT | exp.GTE):
            before = exp.Literal.string(str(node.expression.this).partition("\0")[0])
            kind = exp.LTE if isinstance(node, _LESS) else exp.GT
            return kind(this=node.this, expression=before)
        return node

    clean = cast(_Tree, tree.transform(rewritten))
    if any(_holds_nul(node) for node in clean.find_all(exp.Literal)):
        raise AssertionError(f"a NUL left in PostgreSQL's SQL: {clean.sql()!r}")
    return clean


def _holds_nul(node: exp.Expr | None) -> bool:
    return isinstance(node, exp.Literal) and node.is_string and "\0" in node.this


def _never_equal(value: Scalar) -> bool:
    """A member of an IN list no stored value equals: NaN, or a status the store cannot hold."""
    if isinstance(value, float):
        return math.isnan(value)
    return isinstance(value, ModelStatus) and not value.known


# PostgreSQL's CAST to double precision raises where a text is past a double's range (``1e400``, ``1e-400``),
# and its numeric type refuses an exponent past 1000: the magnitude of a number that is not short and plain is
# read from its text first. Such a number is 0.S x 10^M, S its significant digits (n.s). It is infinite from
# 2^1024 - 2^970 on (half way past the largest double) and zero up to 2^-1075 (half the least), both ties
# rounding to even as Python's float reads them; any other is cast as it is (strtod rounds it exactly).
_PG_NUMBER = r"""
CASE
  WHEN {t} ~ '^[+-]?[0-9]{1,15}(\.[0-9]{0,250})?$' THEN CAST({t} AS DOUBLE PRECISION)
  ELSE (
    SELECT CASE
      WHEN n.s = '' THEN CAST(0 AS DOUBLE PRECISION)
      WHEN n.m > 309 OR (n.m = 309 AND n.s >= '{overflow}')
        THEN CAST(CASE WHEN n.t LIKE '-%' THEN '-Infinity' ELSE 'Infinity' END AS DOUBLE PRECISION)
      WHEN n.m < -323 OR (n.m = -323 AND n.s <= '{underflow}') THEN CAST(0 AS DOUBLE PRECISION)
      ELSE CAST(n.t AS DOUBLE PRECISION)
    END
    FROM (
      SELECT
        p.t,
        BTRIM(p.d, '0') COLLATE "C" AS s,
        LENGTH(p.i) - (LENGTH(p.d) - LENGTH(LTRIM(p.d, '0')))
          + CAST(COALESCE(NULLIF(p.e, ''), '0') AS NUMERIC) AS m
      FROM (
        SELECT q.t, SPLIT_PART(q.f, '.', 1) AS i, REPLACE(q.f, '.', '') AS d, q.e
        FROM (
          SELECT {t} AS t, SPLIT_PART(LOWER(LTRIM({t}, '+-')), 'e', 1) AS f,
            SPLIT_PART(LOWER({t}), 'e', 2) AS e
        ) AS q
      ) AS p
    ) AS n
  )
END
"""


@functools.cache
def _postgres_number_template() -> exp.Expr:
    text = _PG_NUMBER.replace("{overflow}", str(2**1024 - 2**970).rstrip("0"))
    text = text.replace("{underflow}", str(5**1075)).replace("{t}", "lmfilter_text.t")
    return sqlglot.parse_one(text, read="postgres")


def _postgres_number(trimmed: exp.Expr) -> exp.Expr:
    """A numeric text (trimmed, matching NUMERIC_TEXT) as a double on PostgreSQL, read as Python reads it
    (``float``): ``1e400`` is infinity, ``1e-400`` zero."""

    def put(node: exp.Expr) -> exp.Expr:
        if isinstance(node, exp.Column) and node.table == "lmfilter_text":
            return trimmed.copy()
        return node

    return _postgres_number_template().copy().transform(put)


def _by_code_point(value: exp.Expr, slot: Slot | None) -> exp.Expr:
    """Text compared and sorted by code point on PostgreSQL (its default collation follows the locale)."""
    if isinstance(slot, Attr | SortAttr) and _text_attribute(slot.name):
        return exp.Collate(this=value, expression=exp.Identifier(this="C", quoted=True))
    if isinstance(slot, Param | Tag):
        return exp.Collate(this=value, expression=exp.Identifier(this="C", quoted=True))
    return value


def _text_attribute(name: str) -> bool:
    return name not in ("status", "creation_timestamp", "last_updated_timestamp", "experiment_id")


def _glob(pattern: str) -> str:
    """A LIKE pattern as a SQLite GLOB: ``%`` is ``*``, ``_`` is ``?``, and GLOB's own wildcards literal."""
    special = {"%": "*", "_": "?", "*": "[*]", "?": "[?]", "[": "[[]"}
    return "".join(special.get(c, c) for c in pattern)
