"""MLflow's logged-model tables in DuckDB: the layout (:func:`create_tables`), loading models into it
(:func:`load_models`, :func:`load_json`), and reading models back out of it or out of MLflow's own tracking
database (:func:`read_models`).

**The layout is MLflow's** (SPEC §6; ``SqlLoggedModel*`` in ``mlflow/store/tracking/dbmodels/models.py``, the
same in 3.17.2 and 3.18.0), so the SQL :func:`lmfilter.sql.to_sql` writes runs on the store and on MLflow's
database alike. Where the store differs, it is to hold every wire record exactly:

- ``logged_models``: ``model_id`` (the primary key), ``experiment_id`` (BIGINT, as MLflow's INTEGER; NULL
  for a record without one), ``name``, ``artifact_location`` (the wire's ``artifact_uri``),
  ``creation_timestamp_ms``, ``last_updated_timestamp_ms``, ``status`` (INTEGER:
  :attr:`ModelStatus.number <lmfilter.ModelStatus.number>`), ``lifecycle_stage`` (``'active'``; search leaves
  out ``'deleted'``), ``model_type``, ``source_run_id``, ``status_message``. The timestamps and
  ``artifact_location``, NOT NULL on MLflow, are NULL when the record leaves them out (a filter reads a null
  timestamp as 0, as :func:`lmfilter.records.attribute_value` does). Added: ``creator_id`` (the wire's;
  MLflow keeps none) and ``status_name``, the name of a status lmfilter does not know, given by name
  (``status`` then holds :data:`~lmfilter.status.UNKNOWN_NAME_NUMBER`).
- ``logged_model_params`` (``model_id``, ``experiment_id``, ``param_key``, ``param_value``) and
  ``logged_model_tags`` (``model_id``, ``experiment_id``, ``tag_key``, ``tag_value``); one row per key.
  Added: ``ordinal``, the item's place in the record's list, so a model comes back in its own order.
- ``logged_model_metrics``: ``model_id``, ``metric_name``, ``metric_timestamp_ms``, ``metric_step``,
  ``metric_value`` (DOUBLE, as MLflow's SQL store keeps it: NaN as 0, ±infinity as ±1.797e308, see
  :func:`lmfilter.wire.stored`), ``experiment_id`` (the model's), ``run_id``, ``dataset_uuid`` (always NULL:
  the wire has none), ``dataset_name``, ``dataset_digest``. Added: ``ordinal``; ``metric_model_id``, the
  metric's own ``model_id`` field as the record gives it (NULL when left out); ``metric_value_name``,
  ``'NaN'``, ``'Infinity'`` or ``'-Infinity'`` when the value was one (``metric_value`` holds what MLflow
  keeps).

The store keeps no primary key on params and tags (the load itself refuses a key twice: a record with one
never came from a server); an index on them costs a load more than the load's own work.

**Loading** is an upsert by ``model_id`` (a model already there is replaced whole, its params, tags and
metrics with it), all or nothing (one transaction: an error leaves the tables as they were), and refuses two
records with one id (:meth:`lmfilter.records.Record.first_of_its_id`). Whatever the path, a record means
what :func:`lmfilter.select` reads in it (:mod:`lmfilter.records`), and a record it would refuse raises the
same :class:`~lmfilter.records.RecordError`:

- :func:`load_json` hands a model file (JSON lines, a JSON array, a saved search answer:
  :mod:`lmfilter.model_files`) to DuckDB's JSON reader, which reads every field as JSON; SQL converts the
  fields in the plain forms servers send (strings, integers, numbers, integers and numbers as decimal text,
  ``"NaN"`` and the infinities by name, statuses by name or number) and finds the records holding anything
  else; only those are read again in Python, checked as :class:`~lmfilter.records.Record` checks them, and
  loaded as the wire model reads them. A file DuckDB cannot read (bad JSON, a line that is no object, not
  UTF-8, a pipe, standard input) is read by :mod:`lmfilter.model_files` instead, whose
  :class:`~lmfilter.model_files.ModelFileError` says what is wrong where.
- :func:`load_models` takes LoggedModels and API-JSON dicts. It writes them, a batch at a time, as JSON lines
  for the same SQL (a dict as it is, a LoggedModel as its wire JSON), so both paths fill the tables alike.

DuckDB's reader takes a little more than JSON: trailing commas, ``nan`` and ``inf``, nesting past Python's
recursion limit, integers past 4300 digits. In a field lmfilter reads, these send the record to Python, whose
reader refuses the file; elsewhere in a record (a key no logged model has) DuckDB's reading stands.

**Reading** (:func:`read_models`) rebuilds :class:`~lmfilter.wire.LoggedModel` s from the four tables, of the
store (``dialect="duckdb"``) or of MLflow's SQLite database (``dialect="sqlite"``), there exactly as MLflow's
REST API answers for them (see :func:`read_models`).
"""

from __future__ import annotations

import contextlib
import json
import mmap
import os
import re
import sqlite3
import stat
import tempfile
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final, NamedTuple, Protocol

import duckdb

from lmfilter.evaluate import collector_paused
from lmfilter.model_files import ModelFile, ModelFileError
from lmfilter.records import Record, RecordError, brief
from lmfilter.status import UNKNOWN_NAME_NUMBER, ModelStatus
from lmfilter.wire import (
    ENUM_NAME,
    INT32_MAX,
    INT32_MIN,
    INTEGER_TEXT,
    NAMED_FLOATS,
    NUMBER_TEXT,
    KeyValue,
    LoggedModel,
    LoggedModelInfo,
    Metric,
    stored,
)

__all__ = ["TABLES", "create_tables", "load_json", "load_models", "read_models"]

TABLES: Final = ("logged_models", "logged_model_params", "logged_model_tags", "logged_model_metrics")
"""The four tables, MLflow's names."""

_DDL: Final = (
    """CREATE TABLE IF NOT EXISTS logged_models (
        model_id VARCHAR PRIMARY KEY,
        experiment_id BIGINT,
        name VARCHAR NOT NULL,
        artifact_location VARCHAR,
        creation_timestamp_ms BIGINT,
        last_updated_timestamp_ms BIGINT,
        status INTEGER NOT NULL,
        lifecycle_stage VARCHAR NOT NULL DEFAULT 'active' CHECK (lifecycle_stage IN ('active', 'deleted')),
        model_type VARCHAR,
        source_run_id VARCHAR,
        status_message VARCHAR,
        creator_id BIGINT,
        status_name VARCHAR
    )""",
    """CREATE TABLE IF NOT EXISTS logged_model_params (
        model_id VARCHAR NOT NULL,
        experiment_id BIGINT,
        param_key VARCHAR NOT NULL,
        param_value VARCHAR NOT NULL,
        ordinal INTEGER NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS logged_model_tags (
        model_id VARCHAR NOT NULL,
        experiment_id BIGINT,
        tag_key VARCHAR NOT NULL,
        tag_value VARCHAR NOT NULL,
        ordinal INTEGER NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS logged_model_metrics (
        model_id VARCHAR NOT NULL,
        metric_name VARCHAR NOT NULL,
        metric_timestamp_ms BIGINT NOT NULL,
        metric_step BIGINT NOT NULL,
        metric_value DOUBLE,
        experiment_id BIGINT,
        run_id VARCHAR,
        dataset_uuid VARCHAR,
        dataset_name VARCHAR,
        dataset_digest VARCHAR,
        ordinal INTEGER NOT NULL,
        metric_model_id VARCHAR,
        metric_value_name VARCHAR
    )""",
    # A page of models is read by id: with these, four index lookups, not four scans of the tables.
    *(
        f"CREATE INDEX IF NOT EXISTS {table}_model_id ON {table} (model_id)"
        for table in ("logged_model_params", "logged_model_tags", "logged_model_metrics")
    ),
)


def create_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Create the four tables (see the module) where they do not exist yet."""
    for statement in _DDL:
        con.execute(statement)


# ---- what a record's fields mean, in SQL ------------------------------------------------------------------
#
# DuckDB reads every field a logged model has as a JSON leaf (its JSON text, minified: a string starts with a
# double quote, an integer is its bare digits), so SQL can tell the plain forms from the rest. For each field,
# one expression reads its value, NULL when the leaf is not in a plain form; a record is plain when each of
# its leaves is absent or read. Every expression is built from this module's constants: no text a user gave
# ever becomes SQL (a file's path is a parameter).

_EXPERIMENT_ID: Final = re.compile(r"0|-?[1-9][0-9]{0,18}")
"""An experiment id MLflow's INTEGER column holds and gives back as the same text."""


def _sql_text(value: str) -> str:
    """A constant of this module as an SQL string literal."""
    return "'" + value.replace("'", "''") + "'"


def _is_string(x: str) -> str:
    return f"starts_with({x}::VARCHAR, '\"')"


def _string(x: str) -> str:
    """The text of a JSON string leaf; NULL for any other JSON value."""
    return f"CASE WHEN {_is_string(x)} THEN ({x} ->> '$') END"


def _int64(x: str) -> str:
    """An int64 leaf as :func:`lmfilter.wire.int64` reads its plain forms: a JSON integer in range (its text
    is then the integer's own), or its decimal text; NULL for anything else (a whole float, ``1e3``, ...),
    which Python reads."""
    text, number = f"({x} ->> '$')", f"TRY_CAST({x}::VARCHAR AS BIGINT)"
    integer = _sql_text(INTEGER_TEXT.pattern)
    return (
        f"CASE WHEN {_is_string(x)} THEN CASE WHEN regexp_full_match({text}, {integer}) "
        f"THEN TRY_CAST({text} AS BIGINT) END WHEN {number}::VARCHAR = {x}::VARCHAR THEN {number} END"
    )


_NAMED_DOUBLES: Final = " ".join(
    f"WHEN {_sql_text(name)} THEN CAST({_sql_text(repr(stored(value)))} AS DOUBLE)"
    for name, value in NAMED_FLOATS.items()
)
_FLOAT_NAMES: Final = ", ".join(map(_sql_text, NAMED_FLOATS))


def _double(x: str) -> str:
    """A double leaf as :func:`lmfilter.wire.double` reads it, stored as MLflow's SQL store keeps it: a JSON
    number, its decimal text, or NaN and the infinities by name. A value that is not finite (a JSON ``NaN``
    token, ``1e400``) is left to Python by the caller; a JSON ``true`` or an object casts to NULL."""
    text = f"({x} ->> '$')"
    return (
        f"CASE WHEN {_is_string(x)} THEN CASE {text} {_NAMED_DOUBLES} "
        f"ELSE CASE WHEN regexp_full_match({text}, {_sql_text(NUMBER_TEXT.pattern)}) "
        f"THEN TRY_CAST({text} AS DOUBLE) END END ELSE TRY_CAST({x}::VARCHAR AS DOUBLE) END"
    )


def _double_name(x: str) -> str:
    """The name a NaN or infinite value was given by, kept so the value reads back as it was loaded."""
    return f"CASE WHEN {_is_string(x)} AND ({x} ->> '$') IN ({_FLOAT_NAMES}) THEN ({x} ->> '$') END"


_STATUS_NUMBERS: Final = " ".join(
    f"WHEN {_sql_text(name)} THEN {ModelStatus.from_name(name).number}" for name in ModelStatus.names()
)
_STATUS_NAMES: Final = ", ".join(map(_sql_text, ModelStatus.names()))


def _status(x: str) -> str:
    """A status leaf as :func:`lmfilter.wire.parse_status` reads it, as the number the store keeps: a name
    (one lmfilter does not know is :data:`~lmfilter.status.UNKNOWN_NAME_NUMBER`) or a 32-bit integer."""
    text, number = f"({x} ->> '$')", f"TRY_CAST({x}::VARCHAR AS BIGINT)"
    return (
        f"CASE WHEN {_is_string(x)} THEN CASE {text} {_STATUS_NUMBERS} "
        f"ELSE CASE WHEN regexp_full_match({text}, {_sql_text(ENUM_NAME.pattern)}) "
        f"THEN {UNKNOWN_NAME_NUMBER} END END "
        f"WHEN {number}::VARCHAR = {x}::VARCHAR AND {number} BETWEEN {INT32_MIN} AND {INT32_MAX} "
        f"THEN {number} END"
    )


def _status_name(x: str) -> str:
    """The name of a status lmfilter does not know, given by name."""
    text = f"({x} ->> '$')"
    return (
        f"CASE WHEN {_is_string(x)} AND {text} NOT IN ({_STATUS_NAMES}) "
        f"AND regexp_full_match({text}, {_sql_text(ENUM_NAME.pattern)}) THEN {text} END"
    )


class _Kind(NamedTuple):
    """How SQL reads a field: its ``value`` from the leaf (NULL: not read); whether the record stays
    ``plain`` given the leaf and that value; what the store keeps of the value (``store``: the wire's
    default for an absent field); ``vague``: the field has a default, so a null (which the wire refuses)
    and an absent field (the default) differ, though DuckDB reads both as NULL."""

    value: Callable[[str], str]
    plain: Callable[[str, str], str]
    store: Callable[[str], str]
    vague: bool


def _absent_or_read(x: str, v: str) -> str:
    return f"({x} IS NULL OR {v} IS NOT NULL)"


def _as_read(v: str) -> str:
    return v


def _or(default: str) -> Callable[[str], str]:
    return lambda v: f"COALESCE({v}, {default})"


_KINDS: Final[Mapping[str, _Kind]] = {
    "required text": _Kind(_string, lambda x, v: f"{v} IS NOT NULL", _as_read, False),
    "text": _Kind(_string, _absent_or_read, _as_read, False),
    "int64": _Kind(_int64, _absent_or_read, _as_read, False),
    "text or ''": _Kind(_string, _absent_or_read, _or("''"), True),
    "int64 or 0": _Kind(_int64, _absent_or_read, _or("0"), True),
    "double or 0": _Kind(_double, lambda x, v: f"({x} IS NULL OR isfinite({v}))", _or("0.0"), True),
    "status": _Kind(_status, _absent_or_read, _or(str(ModelStatus.UNSPECIFIED.number)), True),
    "experiment id": _Kind(
        _string,
        lambda x, v: (
            f"({x} IS NULL OR {v} = '' OR (regexp_full_match({v}, {_sql_text(_EXPERIMENT_ID.pattern)}) "
            f"AND TRY_CAST({v} AS BIGINT) IS NOT NULL))"
        ),
        lambda v: f"CASE WHEN {v} <> '' THEN TRY_CAST({v} AS BIGINT) END",
        True,
    ),
}

# Each field of the wire's records: the store's name for it, and its kind. Every field is here (checked
# below), so a field the wire gains is an error at import until the store keeps it.
_INFO_FIELDS: Final = {
    "model_id": ("model_id", "required text"),
    "experiment_id": ("experiment_id", "experiment id"),
    "name": ("name", "text or ''"),
    "creation_timestamp_ms": ("creation_timestamp_ms", "int64"),
    "last_updated_timestamp_ms": ("last_updated_timestamp_ms", "int64"),
    "artifact_uri": ("artifact_location", "text"),
    "status": ("status", "status"),
    "creator_id": ("creator_id", "int64"),
    "model_type": ("model_type", "text"),
    "source_run_id": ("source_run_id", "text"),
    "status_message": ("status_message", "text"),
}
_PAIR_FIELDS: Final = {"key": ("key", "required text"), "value": ("value", "text or ''")}
_METRIC_FIELDS: Final = {
    "key": ("metric_name", "required text"),
    "value": ("metric_value", "double or 0"),
    "timestamp": ("metric_timestamp_ms", "int64 or 0"),
    "step": ("metric_step", "int64 or 0"),
    "dataset_name": ("dataset_name", "text"),
    "dataset_digest": ("dataset_digest", "text"),
    "model_id": ("metric_model_id", "text"),
    "run_id": ("run_id", "text"),
}
assert set(_INFO_FIELDS) == set(LoggedModelInfo.model_fields) - {"tags"}
assert set(_PAIR_FIELDS) == set(KeyValue.model_fields)
assert set(_METRIC_FIELDS) == set(Metric.model_fields)

# The JSON shape DuckDB reads: every field of the wire's records, each a JSON leaf.
_PAIRS: Final = "STRUCT(" + ", ".join(f"{name} JSON" for name in _PAIR_FIELDS) + ")[]"
_INFO: Final = "STRUCT(" + ", ".join(f"{name} JSON" for name in _INFO_FIELDS) + f", tags {_PAIRS})"
_DATA: Final = (
    f"STRUCT(params {_PAIRS}, metrics STRUCT(" + ", ".join(f"{name} JSON" for name in _METRIC_FIELDS) + ")[])"
)
_RECORD: Final = f"STRUCT(info {_INFO}, data {_DATA})"


class _Conversion(NamedTuple):
    """How SQL converts a struct of fields, in two steps: ``first`` the leaves and their values (named
    ``j<i>``, ``v<i>``), then, over those names, whether the struct is ``plain``, whether it is ``vague``,
    and the ``stored`` columns."""

    first: list[tuple[str, str]]
    plain: str
    vague: str
    stored: list[tuple[str, str]]


def _conversion(fields: Mapping[str, tuple[str, str]], x: str, ref: str = "") -> _Conversion:
    """The conversion of the struct ``x`` of ``fields``; the second step names the first's results
    ``{ref}j<i>`` and ``{ref}v<i>``."""
    kinds = [(field, column, _KINDS[kind]) for field, (column, kind) in fields.items()]
    first = []
    for i, (field, _, kind) in enumerate(kinds):
        first += [(f"j{i}", f"{x}.{field}"), (f"v{i}", kind.value(f"{x}.{field}"))]
    plain = " AND ".join(kind.plain(f"{ref}j{i}", f"{ref}v{i}") for i, (_, _, kind) in enumerate(kinds))
    vague = " OR ".join(
        [f"{ref}j{i} IS NULL" for i, (_, _, kind) in enumerate(kinds) if kind.vague] or ["false"]
    )
    stored_values = [(column, kind.store(f"{ref}v{i}")) for i, (_, column, kind) in enumerate(kinds)]
    return _Conversion(first, plain, vague, stored_values)


def _struct(fields: Iterable[tuple[str, str]]) -> str:
    return "struct_pack(" + ", ".join(f"{name} := {value}" for name, value in fields) + ")"


def _list_conversion(fields: Mapping[str, tuple[str, str]], items: str, extra: Mapping[str, str] = {}) -> str:
    """The list ``items`` converted: each item a struct of ``plain``, ``vague`` and the stored fields (and
    ``extra``, computed from the item ``i``)."""
    step = _conversion(fields, "i", "x.")
    inner = _struct([("lost", "i IS NULL"), *step.first, *extra.items()])
    outer = _struct(
        [
            ("plain", f"COALESCE(NOT x.lost AND {step.plain}, false)"),
            ("vague", step.vague),
            *step.stored,
            *((name, f"x.{name}") for name in extra),
        ]
    )
    return f"list_transform(list_transform({items}, lambda i: {inner}), lambda x: {outer})"


def _stage_select(source: str) -> str:
    """A SELECT over ``source`` (rows of rec, info, data, has_null) of one row per record: its stored
    columns, ``params``, ``tags`` and ``metrics`` as lists of converted items, ``plain`` (SQL read the
    record's own fields as the wire model does) and ``vague`` (a field with a default is NULL: left out,
    or null), the lists' items each with their own ``plain`` and ``vague``."""
    step = _conversion(_INFO_FIELDS, "info")
    lists = {
        "params": _list_conversion(_PAIR_FIELDS, "data.params"),
        "tags": _list_conversion(_PAIR_FIELDS, "info.tags"),
        "metrics": _list_conversion(
            _METRIC_FIELDS, "data.metrics", {"metric_value_name": _double_name("i.value")}
        ),
    }
    firsts = [
        ("lost", "info IS NULL"),
        *step.first,
        ("status_name", _status_name("info.status")),
        ("lists_vague", "info.tags IS NULL OR data IS NULL OR data.params IS NULL OR data.metrics IS NULL"),
        *lists.items(),
    ]
    outer = [
        ("plain", f"COALESCE(NOT lost AND NOT has_null AND {step.plain}, false)"),
        ("vague", f"({step.vague}) OR lists_vague"),
        *step.stored,
        *((name, name) for name in ("status_name", *lists)),
    ]
    return (
        f"SELECT rec, {', '.join(f'{value} AS {name}' for name, value in outer)} FROM "
        f"(SELECT rec, has_null, {', '.join(f'{value} AS {name}' for name, value in firsts)} FROM ({source}))"
    )


def _all(items: str, test: str) -> str:
    return f"COALESCE(list_bool_and(list_transform({items}, lambda i: {test})), true)"


def _any(items: str, test: str) -> str:
    return f"COALESCE(list_bool_or(list_transform({items}, lambda i: {test})), false)"


def _key_twice(items: str) -> str:
    return f"COALESCE(len(list_distinct(list_transform({items}, lambda i: i.key))) < len({items}), false)"


def _flagged(source: str) -> str:
    """The stage's rows for the records of ``source`` (:func:`_stage_select`), ``plain`` and ``vague`` summed
    up for each record with its lists: ``irregular`` when SQL did not read the record whole (a field not in
    a plain form, or a param or tag key twice), ``vague`` when any of it is."""
    return (
        f"SELECT * EXCLUDE (plain, vague), NOT (plain AND {_all('params', 'i.plain')} "
        f"AND {_all('tags', 'i.plain')} AND {_all('metrics', 'i.plain')}) OR {_key_twice('params')} "
        f"OR {_key_twice('tags')} AS irregular, vague OR {_any('params', 'i.vague')} "
        f"OR {_any('tags', 'i.vague')} OR {_any('metrics', 'i.vague')} AS vague "
        f"FROM ({_stage_select(source)})"
    )


# ---- the load's SQL --------------------------------------------------------------------------------------

# The load's own tables (temporary: this connection's, gone with its transaction).
_STAGE, _TOP, _LOADED = "lmfilter_load_stage", "lmfilter_load_top", "lmfilter_load_ids"

_MAX_OBJECT: Final = 16 * 1024 * 1024  # DuckDB's own default for maximum_object_size
_MAX_OBJECT_LIMIT: Final = 2**32 - 1  # the most it takes
_READ: Final = "compression = 'none', maximum_object_size = ?"
_FORMATS: Final = {"jsonl": "newline_delimited", "array": "array"}
_NUMBER: Final = "lmfilter_record"  # the key that numbers the records lmfilter writes for its second reading


def _record_source(form: str, exact: bool, *, numbered: bool = False) -> str:
    """A SELECT of (rec, info, data, has_null) over the records of a file of ``form``; its parameters are
    the path and ``maximum_object_size`` (a search answer's reads the table :data:`_TOP` instead).

    ``rec`` is NULL (numbered later from the row) unless the file is ``numbered`` (lmfilter wrote it with
    :data:`_NUMBER`). ``exact`` marks the records whose text holds ``null`` (``has_null``): DuckDB reads a
    null leaf as an absent one, so only Python tells what such a record means."""
    if exact:
        if form == "response":
            items = f"SELECT unnest(CAST(json -> '$.models' AS JSON[])) AS j FROM {_TOP}"
        else:
            items = (
                f"SELECT json AS j FROM read_json(?, format = '{_FORMATS[form]}', {_READ}, records = false)"
            )
        return (
            f"SELECT NULL::BIGINT AS rec, r.info AS info, r.data AS data, has_null FROM "
            f"(SELECT CAST(j AS {_RECORD}) AS r, contains(j::VARCHAR, 'null') AS has_null FROM ({items}))"
        )
    if form == "response":
        models = f"SELECT unnest(models) AS m FROM {_TOP}"
        return (
            f"SELECT NULL::BIGINT AS rec, m.info AS info, m.data AS data, false AS has_null FROM ({models})"
        )
    columns = f"info: {_sql_text(_INFO)}, data: {_sql_text(_DATA)}"
    if numbered:
        columns += f", {_NUMBER}: 'BIGINT'"
    rec = _NUMBER if numbered else "NULL::BIGINT"
    return (
        f"SELECT {rec} AS rec, info, data, false AS has_null "
        f"FROM read_json(?, format = '{_FORMATS[form]}', {_READ}, columns = {{{columns}}})"
    )


def _top_source(exact: bool) -> str:
    """The top-level values of a search answer's file (one, if it is one)."""
    if exact:
        return f"SELECT json FROM read_json(?, format = 'unstructured', records = false, {_READ})"
    models = _sql_text(f"{_RECORD}[]")
    return (
        f"SELECT models FROM read_json(?, format = 'unstructured', {_READ}, columns = {{models: {models}}})"
    )


_ONE_ANSWER: Final = {
    False: f"SELECT count(*) = 1 FROM {_TOP}",
    True: f"""SELECT count(*) = 1 AND bool_and(json_type(json -> '$.models') = 'ARRAY'
                AND len(list_filter(json_keys(json), lambda k: k = 'models')) = 1) FROM {_TOP}""",
}
"""Whether the file held one JSON value, an object with one ``models``, a list (else Python says what)."""


_IRREGULAR: Final = f"SELECT rec FROM {_STAGE} WHERE irregular ORDER BY rec"
"""The records SQL did not read whole (see :func:`_flagged`)."""

_VAGUE: Final = f"SELECT COALESCE(bool_or(vague), false) FROM {_STAGE}"
"""Whether a record leaves out a field that has a default (or gives it as null: DuckDB cannot tell)."""

_FIRST_DUPLICATE: Final = f"""
    SELECT rec, model_id FROM (
        SELECT s.rec, s.model_id FROM {_STAGE} s JOIN {_LOADED} l USING (model_id) WHERE s.rec < ?
        UNION ALL
        SELECT rec, model_id FROM (
            SELECT rec, model_id, row_number() OVER (PARTITION BY model_id ORDER BY rec) AS n
            FROM {_STAGE} WHERE rec < ?
        ) WHERE n > 1
    ) ORDER BY rec LIMIT 1"""
"""The first record (before a limit) whose id a record before it holds, in this batch or an earlier one."""

_MODEL_COLUMNS: Final = ", ".join([*(column for column, _ in _INFO_FIELDS.values()), "status_name"])
_METRIC_COLUMNS: Final = ", ".join(column for column, _ in _METRIC_FIELDS.values())
_UPSERT: Final = (
    *(f"DELETE FROM {table} WHERE model_id IN (SELECT model_id FROM {_STAGE})" for table in TABLES),
    f"INSERT INTO logged_models ({_MODEL_COLUMNS}, lifecycle_stage) "
    f"SELECT {_MODEL_COLUMNS}, 'active' FROM {_STAGE} ORDER BY rec",
    *(
        f"INSERT INTO logged_model_{kind}s (model_id, experiment_id, {kind}_key, {kind}_value, ordinal) "
        f"SELECT model_id, experiment_id, i.key, i.value, ordinal FROM (SELECT model_id, experiment_id, "
        f"unnest({kind}s) AS i, generate_subscripts({kind}s, 1) - 1 AS ordinal FROM {_STAGE}) "
        "ORDER BY i.key, model_id"
        for kind in ("param", "tag")
    ),
    f"INSERT INTO logged_model_metrics (model_id, experiment_id, ordinal, {_METRIC_COLUMNS}, "
    f"metric_value_name) SELECT model_id, experiment_id, ordinal, "
    f"{', '.join(f'i.{c}' for c in _METRIC_COLUMNS.split(', '))}, "
    f"i.metric_value_name FROM (SELECT model_id, experiment_id, unnest(metrics) AS i, "
    f"generate_subscripts(metrics, 1) - 1 AS ordinal FROM {_STAGE}) ORDER BY i.metric_name, model_id",
    f"INSERT INTO {_LOADED} SELECT model_id, rec FROM {_STAGE}",
)
"""Replace the tables' models of the staged ids with the staged models. The rows of params, tags and metrics
go in by key, then model: a search reads the rows of one key, and DuckDB skips the blocks of rows (122,880
each) that hold only others, so a large import is several times faster to search. Metrics are not ordered by
dataset too: that spreads a model's rows over more blocks, and at 10,000,000 models made reading a page and
searching without datasets slower than it made searching with them faster. A model's rows are read back in
their own order (by ``ordinal``)."""


class _DuckDBRefusedError(Exception):
    """DuckDB cannot read this file as lmfilter's reader would: Python reads it instead."""


# What DuckDB raises for a file it cannot read (bad JSON, a value of another shape, an unreadable file).
# What DuckDB raises on a file it does not read as we need: the file then goes to the Python reader. A
# UnicodeDecodeError is DuckDB's error message itself, cut inside a character (seen with DuckDB 2.0.1 on an
# answer file whose name is U+10000): the Python binding cannot decode it.
_READ_ERRORS: Final = (
    duckdb.InvalidInputException,
    duckdb.ConversionException,
    duckdb.IOException,
    UnicodeDecodeError,
)


def _mentions_null(path: str) -> bool:
    """Whether the file's bytes hold ``null`` anywhere (if not, no field of it is null, and a field DuckDB
    reads as NULL was left out). When the file cannot be mapped, it may: the answer is yes."""
    try:
        with open(path, "rb") as file, mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ) as view:
            return view.find(b"null") != -1
    except (OSError, ValueError):
        return True


_GLOB: Final = re.compile(r"[*?\[\]{}~]|://")
"""What DuckDB would read in a path as a glob, a home directory or a URL."""


def _form_of(path: str) -> str | None:
    """The form of a model file for DuckDB (``jsonl``, ``array``, ``response``), ``empty`` when it holds no
    model, or ``None`` when Python reads it (standard input, a pipe or device: anything but a regular file).
    The form is :class:`~lmfilter.model_files.ModelFile`'s, which also refuses a bad start."""
    if path == "-":
        return None
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            return None
    except (OSError, ValueError):
        return None
    with ModelFile.open(path) as file:
        first = next(iter(file), None)
        return "empty" if first is None else file.format


# ---- one load -------------------------------------------------------------------------------------------


class _Load:
    """The steps of one load (see :func:`_loading`): records are read into a stage table, those SQL did not
    read whole are read again by Python, and the stage replaces the tables' models of its ids.

    Everything that writes the tables happens in one transaction, begun by :meth:`begin`. A user's file is
    staged before it: the stage's rows are then numbered by their ``rowid`` (in a transaction DuckDB gives
    new rows other ids); the files lmfilter writes number their records themselves (:data:`_NUMBER`)."""

    def __init__(self, con: duckdb.DuckDBPyConnection, workdir: Path) -> None:
        self.con, self.workdir, self.count, self.begun = con, workdir, 0, False

    def begin(self) -> None:
        if not self.begun:
            self.con.begin()
            self.begun = True
            self.con.execute(f"CREATE TEMP TABLE {_LOADED} (model_id VARCHAR, rec BIGINT)")

    def commit(self) -> None:
        if self.begun:
            self.con.commit()
            self.begun = False

    def abort(self) -> None:
        if self.begun:
            self.begun = False
            self.con.rollback()

    def clean(self) -> None:
        """Drop the load's own tables (best effort: an error of the load's own is the one to raise)."""
        with contextlib.suppress(duckdb.Error):
            for table in (_STAGE, _TOP, _LOADED):
                self.con.execute(f"DROP TABLE IF EXISTS {table}")

    def items(self, items: Sequence[Any], start: int) -> None:
        """Load ``items``, records ``start``, ``start + 1``, ...: the dicts json.dumps writes as plain JSON
        go to SQL as they are; the rest (and LoggedModels) to Python, each standing in the file as ``{}``."""
        self.begin()
        path = self.workdir / "batch.jsonl"
        longest = 0
        with path.open("wb") as out:
            for rec, item in enumerate(items, start):
                line = _numbered(_plain_json(item), rec)
                longest = max(longest, len(line))
                out.write(line + b"\n")
        self._stage("jsonl", str(path), longest, numbered=True)
        irregular = self._irregular()
        self._settle(irregular, ((rec, items[rec - start]) for rec in irregular))

    def file(self, path: str, form: str) -> None:
        """Load a model file of ``form`` that DuckDB reads (see :func:`load_json`)."""
        source = self._link(path)
        longest = os.stat(path).st_size if form == "response" else 0  # an answer is one JSON value
        try:
            self._stage(form, source, longest)
            if self.con.execute(_VAGUE).fetchone() == (True,) and _mentions_null(path):
                self._stage(form, source, longest, exact=True)  # a null read as absent: read it again
        except _READ_ERRORS:
            raise _DuckDBRefusedError from None
        self.con.execute(f"UPDATE {_STAGE} SET rec = rowid")
        self.begin()
        irregular = self._irregular()
        with contextlib.closing(_records_at(path, irregular)) as pending:  # closes the file on an error
            self._settle(irregular, pending)

    def _link(self, path: str) -> str:
        """A name of the file that DuckDB takes as it is (not as a glob, a URL or a home directory)."""
        source = os.path.abspath(path)
        link = str(self.workdir / "models.json")
        try:
            os.symlink(source, link)
        except OSError:
            link = source
        if _GLOB.search(link):
            raise _DuckDBRefusedError
        return link

    def _stage(
        self, form: str, path: str, longest: int, *, exact: bool = False, numbered: bool = False
    ) -> None:
        """Read the file's records into the stage table, made anew."""
        size = max(_MAX_OBJECT, longest + 1)
        if size > _MAX_OBJECT_LIMIT:
            raise _DuckDBRefusedError
        con = self.con
        source = _record_source(form, exact, numbered=numbered)
        if form == "response":
            con.execute(f"CREATE OR REPLACE TEMP TABLE {_TOP} AS {_top_source(exact)}", [path, size])
            if con.execute(_ONE_ANSWER[exact]).fetchone() != (True,):
                raise _DuckDBRefusedError
            con.execute(f"CREATE OR REPLACE TEMP TABLE {_STAGE} AS {_flagged(source)}")
        else:
            con.execute(f"CREATE OR REPLACE TEMP TABLE {_STAGE} AS {_flagged(source)}", [path, size])

    def _irregular(self) -> list[int]:
        return [row[0] for row in self.con.execute(_IRREGULAR).fetchall()]

    def _settle(self, irregular: list[int], pending: Iterator[tuple[int, Any]]) -> None:
        """Read the ``irregular`` records (``pending`` gives them, in order) as the wire model does, put
        them in the stage in place of what SQL made of them; then raise the first error (a bad record, or
        an id a record before it holds) or replace the tables' models with the stage's."""
        con = self.con
        failure: RecordError | None = None
        if irregular:
            con.execute(f"DELETE FROM {_STAGE} WHERE rec IN (SELECT unnest(?::BIGINT[]))", [irregular])
            path = self.workdir / "checked.jsonl"
            longest, written = 0, False
            with path.open("wb") as out:
                for rec, item in pending:
                    try:
                        model = _checked(item, rec)
                    except RecordError as error:
                        failure = error
                        break
                    line = _numbered(model.model_dump_json(exclude_none=True).encode(), rec)
                    longest = max(longest, len(line))
                    out.write(line + b"\n")
                    written = True
            if written:
                size = max(_MAX_OBJECT, longest + 1)
                source = _record_source("jsonl", False, numbered=True)
                con.execute(f"INSERT INTO {_STAGE} {_flagged(source)}", [str(path), size])
                left = self._irregular()
                assert not left, f"records {left[:5]} as lmfilter wrote them are not plain JSON to its SQL"
        limit = failure.index if failure is not None else 2**63 - 1
        row = con.execute(_FIRST_DUPLICATE, [limit, limit]).fetchone()
        if row is not None:
            rec, model_id = row
            Record.of({"info": {"model_id": model_id}}, rec).first_of_its_id({model_id})
        if failure is not None:
            raise failure
        found = con.execute(f"SELECT count(*) FROM {_STAGE}").fetchone()
        for statement in _UPSERT:
            con.execute(statement)
        self.count += found[0] if found else 0


@contextmanager
def _loading(con: duckdb.DuckDBPyConnection) -> Iterator[_Load]:
    """One load: its transaction (rolled back on any error, so the tables are as they were), a directory
    for its files, and DuckDB keeping rows in the order read (the records' numbers come from it)."""
    try:  # a load is all or nothing only in a transaction of its own
        con.begin()
    except duckdb.TransactionException:
        raise RuntimeError(
            "a load runs in a transaction of its own: commit or roll back the connection's first"
        ) from None
    con.rollback()
    with tempfile.TemporaryDirectory(prefix="lmfilter-load-") as workdir:
        row = con.execute("SELECT current_setting('preserve_insertion_order')").fetchone()
        kept = bool(row[0]) if row else True
        con.execute("SET preserve_insertion_order = true")
        load = _Load(con, Path(workdir))
        try:
            yield load
            load.commit()
        except BaseException:
            load.abort()
            raise
        finally:
            load.clean()
            with contextlib.suppress(duckdb.Error):
                con.execute(f"SET preserve_insertion_order = {'true' if kept else 'false'}")


def _plain_json(item: Any) -> bytes:
    """A dict as one line of JSON, when DuckDB reads it whole (:func:`_shaped`), json.dumps writes it as
    JSON, with no ``null`` (a null field needs Python: see :func:`_record_source`); else ``{}``, a record
    SQL leaves to Python."""
    if type(item) is dict and _shaped(item):
        try:
            text = json.dumps(item, ensure_ascii=False, allow_nan=False)
            if "null" not in text:
                return text.encode()
        except (TypeError, ValueError, RecursionError):  # a key not text, NaN, a cycle, half a surrogate
            pass
    return b"{}"


def _shaped(item: dict[str, Any]) -> bool:
    """Whether DuckDB's reader takes a record's shape (an object for ``info`` and ``data``, lists of objects
    for ``tags``, ``params`` and ``metrics``; no key of lmfilter's). It fails a whole file on any other, and
    a load must not fail in its transaction: the rest is Python's to read."""
    info, data = item.get("info"), item.get("data", {})
    if type(info) is not dict or type(data) is not dict or _NUMBER in item:
        return False
    for where, key in ((info, "tags"), (data, "params"), (data, "metrics")):
        items = where.get(key, ())
        if not (type(items) is list or type(items) is tuple) or (items and set(map(type, items)) != {dict}):
            return False
    return True


def _numbered(line: bytes, rec: int) -> bytes:
    """A line of JSON (an object) with the record's number added, as :data:`_NUMBER`."""
    number = b'"%s": %d}' % (_NUMBER.encode(), rec)
    return line[:-1] + (number if line == b"{}" else b", " + number)


def _checked(item: Any, index: int) -> LoggedModel:
    """Record ``index`` as the wire model reads it, with what the tables need besides: no param or tag key
    twice (as :class:`~lmfilter.records.Record` reads them) and an experiment id that MLflow's INTEGER
    column keeps as the same text."""
    record = Record.of(item, index)
    model = record.model()
    record.params()
    record.tags()
    experiment = model.info.experiment_id
    if experiment and not (_EXPERIMENT_ID.fullmatch(experiment) and -(2**63) <= int(experiment) < 2**63):
        raise RecordError(
            index,
            model.model_id,
            "info.experiment_id",
            f"{brief(experiment)} is not an experiment id: MLflow keeps one as an integer, so it is decimal "
            "digits (no sign but a minus, no leading zero)",
        )
    return model


def _records_at(path: str, recs: Sequence[int]) -> Generator[tuple[int, Any], None, None]:
    """The records ``recs`` (ascending) of a model file, read again by Python, with their numbers."""
    if not recs:
        return
    wanted = iter(recs)
    rec = next(wanted)
    with ModelFile.open(path) as file:
        for index, item in enumerate(file):
            if index == rec:
                yield index, item
                following = next(wanted, None)
                if following is None:
                    return
                rec = following
    raise ModelFileError(path, f"holds fewer models than DuckDB's JSON reader found ({rec + 1} or more)")


def _batches(items: Iterable[Any], size: int) -> Iterator[tuple[list[Any], int]]:
    """``items`` in lists of ``size``, each with the number of its first item. When ``items`` fails (a model
    file's fault), the items before the fault come first, so an error in them is the one raised, as a
    reader going record by record would raise it."""
    batch: list[Any] = []
    start = 0
    iterator = iter(items)
    while True:
        try:
            item = next(iterator)
        except StopIteration:
            break
        except Exception:
            if batch:
                yield batch, start
            raise
        batch.append(item)
        if len(batch) == size:
            yield batch, start
            start += size
            batch = []
    if batch:
        yield batch, start


BATCH: Final = 20_000
"""How many models :func:`load_models` converts at a time (its memory holds about that many models' JSON)."""


def load_models(
    con: duckdb.DuckDBPyConnection, models: Iterable[LoggedModel | Mapping[str, Any]], *, batch: int = BATCH
) -> int:
    """Load ``models`` (LoggedModels or API-JSON dicts) into the tables, ``batch`` at a time; return how many.

    An upsert by ``model_id``, all or nothing: a :class:`~lmfilter.records.RecordError` (a record
    :func:`lmfilter.select` would refuse, a param or tag key twice, two records with one id, an experiment id
    that is no integer) leaves the tables as they were. See the module for how records are read.
    """
    with _loading(con) as load:
        for items, start in _batches(models, batch):
            load.items(items, start)
        return load.count


def load_json(con: duckdb.DuckDBPyConnection, path: str | os.PathLike[str]) -> int:
    """Load the models of a model file (JSON lines, a JSON array or a saved search answer; ``-`` reads
    standard input) into the tables, as :func:`load_models` would load them; return how many.

    DuckDB's JSON reader reads the file (no Python object per model), and Python only the records SQL does
    not read whole; a file DuckDB cannot read at all is read by :mod:`lmfilter.model_files`, whose
    :class:`~lmfilter.model_files.ModelFileError` names the fault. All or nothing, like :func:`load_models`.
    """
    name = os.fspath(path)
    form = _form_of(name)
    if form == "empty":
        return 0
    if form is not None:
        try:
            with _loading(con) as load:
                load.file(name, form)
                return load.count
        except _DuckDBRefusedError:
            pass
    with _loading(con) as load, ModelFile.open(name) as file:
        for items, start in _batches(file, BATCH):
            load.items(items, start)
        return load.count


# ---- reading models out of the tables ---------------------------------------------------------------------

# A few ids (a page) go to DuckDB as an IN list of parameters, which its index on model_id answers; more, as
# one list that it joins with a scan of each table.
_DUCKDB_LIST: Final = 1000
_SQLITE_BATCH: Final = 500  # ids per query: well under SQLite's least limit on parameters (999)

_READ_MODEL_COLUMNS: Final = (
    "model_id, experiment_id, name, artifact_location, creation_timestamp_ms, last_updated_timestamp_ms, "
    "status, model_type, source_run_id, status_message"
)

# Per dialect, the four queries ({ids} is where the ids go), each giving the columns read_models unpacks.
_QUERIES: Final[Mapping[str, tuple[str, str, str, str]]] = {
    "duckdb": (
        f"SELECT {_READ_MODEL_COLUMNS}, creator_id, status_name FROM logged_models "
        "WHERE model_id IN ({ids})",
        "SELECT model_id, param_key, param_value FROM logged_model_params WHERE model_id IN ({ids}) "
        "ORDER BY model_id, ordinal",
        "SELECT model_id, tag_key, tag_value FROM logged_model_tags WHERE model_id IN ({ids}) "
        "ORDER BY model_id, ordinal",
        "SELECT model_id, metric_name, metric_value, metric_value_name, metric_timestamp_ms, metric_step, "
        "dataset_name, dataset_digest, metric_model_id, run_id FROM logged_model_metrics "
        "WHERE model_id IN ({ids}) ORDER BY model_id, ordinal",
    ),
    # MLflow loads a model's params and tags by its primary key's index, so in key order, and its metrics
    # by the index on model_id alone, so in the order they were logged (rowid); see read_models.
    "sqlite": (
        f"SELECT {_READ_MODEL_COLUMNS}, NULL, NULL FROM logged_models WHERE model_id IN ({{ids}})",
        "SELECT model_id, param_key, param_value FROM logged_model_params WHERE model_id IN ({ids}) "
        "ORDER BY model_id, param_key",
        "SELECT model_id, tag_key, tag_value FROM logged_model_tags WHERE model_id IN ({ids}) "
        "ORDER BY model_id, tag_key",
        "SELECT model_id, metric_name, metric_value, NULL, metric_timestamp_ms, metric_step, dataset_name, "
        "dataset_digest, model_id, run_id FROM logged_model_metrics WHERE model_id IN ({ids}) "
        "ORDER BY model_id, rowid",
    ),
    # MLflow on PostgreSQL loads a model's params, tags and metrics with no ORDER BY: PostgreSQL gives them
    # in the order they lie in the table (a scan, or a bitmap scan of an index), the order they were written.
    "postgres": (
        f"SELECT {_READ_MODEL_COLUMNS}, NULL, NULL FROM logged_models WHERE model_id IN ({{ids}})",
        "SELECT model_id, param_key, param_value FROM logged_model_params WHERE model_id IN ({ids}) "
        "ORDER BY model_id, ctid",
        "SELECT model_id, tag_key, tag_value FROM logged_model_tags WHERE model_id IN ({ids}) "
        "ORDER BY model_id, ctid",
        "SELECT model_id, metric_name, metric_value, NULL, metric_timestamp_ms, metric_step, dataset_name, "
        "dataset_digest, model_id, run_id FROM logged_model_metrics WHERE model_id IN ({ids}) "
        "ORDER BY model_id, ctid",
    ),
}


Connection = duckdb.DuckDBPyConnection | sqlite3.Connection
"""What :func:`read_models` reads: lmfilter's store, or MLflow's database (read-only is enough)."""


class Queries(Protocol):
    """A database that runs one statement with parameters and gives every row, as
    :meth:`lmfilter.sql.mlflow_db.TrackingDatabase.query` does (lmfilter's errors for locks and Ctrl-C)."""

    def query(self, sql: str, parameters: Sequence[Any], /) -> list[tuple[Any, ...]]: ...


def _fetch(con: Connection | Queries, dialect: str, query: str, ids: list[str]) -> Iterator[tuple[Any, ...]]:
    """The rows of ``query`` for ``ids``, passed as parameters (DuckDB: one list; SQLite: in batches)."""
    if isinstance(con, (duckdb.DuckDBPyConnection, sqlite3.Connection)):
        connection = con

        def run(sql: str, parameters: Sequence[Any], /) -> list[tuple[Any, ...]]:
            return connection.execute(sql, parameters).fetchall()
    else:
        run = con.query
    if dialect == "duckdb" and len(ids) > _DUCKDB_LIST:  # many: one scan of each table
        yield from run(query.format(ids="SELECT unnest(?::VARCHAR[])"), [ids])
        return
    size = _DUCKDB_LIST if dialect == "duckdb" else _SQLITE_BATCH
    marker = "%s" if dialect == "postgres" else "?"  # psycopg's parameters
    for start in range(0, len(ids), size):
        part = ids[start : start + size]
        yield from run(query.format(ids=", ".join([marker] * len(part))), part)


def _mlflow_text(value: str | None) -> str | None:
    """A metric's text field as MLflow's REST answer carries it: an empty one is left out (``Metric.to_proto``
    sets a field only when it is truthy)."""
    return value or None


def _store_text(value: str | None) -> str | None:
    return value


def read_models(
    con: Connection | Queries, model_ids: Iterable[str], *, dialect: str = "duckdb"
) -> list[LoggedModel]:
    """The models of ``model_ids``, in that order, rebuilt from the four tables of ``con``: lmfilter's store
    (a DuckDB connection, ``dialect="duckdb"``), or MLflow's tracking database (an ``sqlite3`` connection or
    a :class:`~lmfilter.sql.mlflow_db.TrackingDatabase`, ``dialect="sqlite"``). An id the tables do not
    hold is left out; an id given twice comes twice.

    From the store, a model comes back as it was loaded (a NaN or infinite metric value too). From MLflow's
    database, it comes back as MLflow's REST API answers for it (``GET logged-models/{id}`` and search,
    3.17.2 and 3.18.0 alike): params and tags in key order (MLflow reads them by their primary key's index),
    metrics in the order they were logged (by the index on ``model_id``), a metric's empty ``dataset_name``,
    ``dataset_digest`` or ``run_id`` left out and its ``model_id`` the model's, no ``creator_id``; a null
    metric value (MLflow cannot send one) reads as 0. A row that is no logged model (a status past 32 bits,
    text that is not text) raises :class:`~lmfilter.records.RecordError` naming its place in ``model_ids``.
    """
    if dialect not in _QUERIES:
        raise ValueError(f"unknown dialect {dialect!r}: one of {', '.join(_QUERIES)}")
    wanted = list(model_ids)
    with collector_paused():  # dozens of small objects per model, none in a cycle: see collector_paused
        return _read_models(con, wanted, dialect)


def _read_models(con: Connection | Queries, wanted: list[str], dialect: str) -> list[LoggedModel]:
    ids = list(dict.fromkeys(wanted))
    models_q, params_q, tags_q, metrics_q = _QUERIES[dialect]
    infos: dict[str, dict[str, Any]] = {}
    for row in _fetch(con, dialect, models_q, ids):
        model_id, experiment, name, artifact, created, updated, status, kind, run, message, creator, named = (
            row
        )
        infos[model_id] = {
            "model_id": model_id,
            "experiment_id": "" if experiment is None else str(experiment),
            "name": name,
            "artifact_uri": artifact,
            "creation_timestamp_ms": created,
            "last_updated_timestamp_ms": updated,
            "status": status if named is None else named,
            "creator_id": creator,
            "model_type": kind,
            "source_run_id": run,
            "status_message": message,
            "tags": [],
        }
    datas: dict[str, dict[str, list[dict[str, Any]]]] = {i: {"params": [], "metrics": []} for i in infos}
    for model_id, key, value in _fetch(con, dialect, params_q, ids):
        datas[model_id]["params"].append({"key": key, "value": value})
    for model_id, key, value in _fetch(con, dialect, tags_q, ids):
        infos[model_id]["tags"].append({"key": key, "value": value})
    text = _store_text if dialect == "duckdb" else _mlflow_text
    for model_id, key, value, named, timestamp, step, name, digest, owner, run in _fetch(
        con, dialect, metrics_q, ids
    ):
        datas[model_id]["metrics"].append(
            {
                "key": key,
                "value": (0.0 if value is None else value) if named is None else named,
                "timestamp": timestamp,
                "step": step,
                "dataset_name": text(name),
                "dataset_digest": text(digest),
                "model_id": text(owner),
                "run_id": text(run),
            }
        )
    built: dict[str, LoggedModel] = {}
    models = []
    for index, model_id in enumerate(wanted):
        if model_id not in infos:
            continue
        model = built.get(model_id)
        if model is None:
            record = {"info": infos[model_id], "data": datas[model_id]}
            model = built[model_id] = Record.of(record, index).model()
        models.append(model)
    return models
