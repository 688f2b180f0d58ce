"""The SQL back end's tables (``lmfilter.sql.tables``): MLflow's layout in DuckDB, models loaded into it by
both paths (Python objects; a model file read by DuckDB), and models read back out of it and out of an MLflow
server's own SQLite database.

The reference is Python's reading of a record (:class:`lmfilter.records.Record` and the wire model): every
load is compared with it, on generated models (round trips), on the same models written in other forms a
server may send (both paths, identical tables), on broken records (the same error), and on broken files.
"""

from __future__ import annotations

import json
import math
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lmfilter.model_files import ModelFileError, iter_models
from lmfilter.records import Record, RecordError
from lmfilter.sql import tables
from lmfilter.sql.tables import TABLES, create_tables, load_json, load_models, read_models
from lmfilter.wire import LoggedModel
from tests.servers import SeededServer, iter_search, quote_segment

JSON = dict[str, Any]
Load = Callable[[duckdb.DuckDBPyConnection], int]
KEPT = "m-loaded-before"  # longer than the generated texts, so no generated record has its id

# ---- helpers ------------------------------------------------------------------------------------------


@pytest.fixture
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    connection = duckdb.connect()
    create_tables(connection)
    yield connection
    connection.close()


def fresh() -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect()
    create_tables(connection)
    return connection


def snapshot(connection: duckdb.DuckDBPyConnection) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the four tables (sorted: the tables promise no order of rows)."""
    return {t: sorted(connection.execute(f"SELECT * FROM {t}").fetchall(), key=repr) for t in TABLES}


def write_lines(path: Path, records: Sequence[Any]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def wire(models: Sequence[LoggedModel]) -> list[JSON]:
    """Models as the API's JSON: NaN is ``"NaN"`` there, so lists of models compare with ``==``."""
    return [m.to_json() for m in models]


def python_load(records: Any) -> list[LoggedModel]:
    """What a load must make of ``records`` (a list, or a model file's path): each record as Python reads it,
    in order, with the load's checks, the first fault raised."""
    seen: set[str] = set()
    models = []
    for index, item in enumerate(iter_models(records) if isinstance(records, Path) else records):
        model = tables._checked(item, index)
        Record.of({"info": {"model_id": model.model_id}}, index).first_of_its_id(seen)
        models.append(model)
    return models


def _new_models(connection: duckdb.DuckDBPyConnection, load: Any) -> list[LoggedModel]:
    """Run ``load``; the models it added (all but :data:`KEPT`), in the order loaded."""
    load()
    rows = connection.execute("SELECT model_id FROM logged_models WHERE model_id <> ? ORDER BY rowid", [KEPT])
    return read_models(connection, [row[0] for row in rows.fetchall()])


def outcome(load: Any) -> tuple[str, Any]:
    """A load's models, or its error's kind and text."""
    try:
        return "ok", wire(load())
    except (RecordError, ModelFileError) as error:
        return type(error).__name__, str(error)


# ---- strategies ---------------------------------------------------------------------------------------

HOSTILE = [
    "",
    ".",
    "..",
    "/",
    "a/b",
    "'",
    '"',
    "\\",
    "'; DROP TABLE logged_models; --",
    "a\x00b",
    "é",
    "🙂",
    "null",
    "NaN",
    "%_",
    "\n",
    "模型",
    "x" * 300,
]
texts = st.sampled_from(HOSTILE) | st.text(max_size=6)
int64s = st.sampled_from([0, 1, -1, 2**53 + 1, 2**63 - 1, -(2**63)]) | st.integers(-(2**63), 2**63 - 1)
doubles = st.sampled_from([-0.0, 5e-324, 1.7976931348623157e308, 0.1, 1e300]) | st.floats()
statuses = st.sampled_from(
    [
        "LOGGED_MODEL_READY",
        "READY",
        "PENDING",
        "LOGGED_MODEL_UPLOAD_FAILED",
        "UNSPECIFIED",
        "ARCHIVED",
        0,
        2,
        7,
    ]
) | st.sampled_from([2**31 - 1, -(2**31), "LOGGED_MODEL_ARCHIVED"])
experiments = st.sampled_from(["", "0", "1", "42", "-3", "9223372036854775807"])


def maybe(draw: st.DrawFn, target: JSON, key: str, values: st.SearchStrategy[Any]) -> None:
    if draw(st.booleans()):
        target[key] = draw(values)


@st.composite
def pairs(draw: st.DrawFn) -> list[JSON]:
    items = []
    for key in draw(st.lists(texts, max_size=3, unique=True)):
        item = {"key": key}
        maybe(draw, item, "value", texts)
        items.append(item)
    return items


@st.composite
def metric(draw: st.DrawFn) -> JSON:
    item: JSON = {"key": draw(st.sampled_from(["acc", "loss", "a.b", "'", "🙂"]))}
    for key, values in (
        ("value", doubles),
        ("timestamp", int64s),
        ("step", int64s),
        ("dataset_name", texts),
        ("dataset_digest", texts),
        ("model_id", texts),
        ("run_id", texts),
    ):
        maybe(draw, item, key, values)
    return item


@st.composite
def records(draw: st.DrawFn, max_size: int = 4) -> list[JSON]:
    """Wire-valid records with unique ids, over hostile texts and the edges of each type."""
    out = []
    for model_id in draw(st.lists(texts, min_size=1, max_size=max_size, unique=True)):
        info: JSON = {"model_id": model_id}
        for key, values in (
            ("experiment_id", experiments),
            ("name", texts),
            ("creation_timestamp_ms", int64s),
            ("last_updated_timestamp_ms", int64s),
            ("artifact_uri", texts),
            ("status", statuses),
            ("creator_id", int64s),
            ("model_type", texts),
            ("source_run_id", texts),
            ("status_message", texts),
            ("tags", pairs()),
        ):
            maybe(draw, info, key, values)
        record: JSON = {"info": info}
        if draw(st.booleans()):
            data: JSON = {}
            maybe(draw, data, "params", pairs())
            maybe(draw, data, "metrics", st.lists(metric(), max_size=4))
            record["data"] = data
        out.append(record)
    return out


def other_form(draw: st.DrawFn, field: str, value: Any) -> Any:
    """The value in another form a server may send that means the same (SPEC §1)."""
    if isinstance(value, bool):
        return value
    if field in ("creation_timestamp_ms", "last_updated_timestamp_ms", "creator_id", "timestamp", "step"):
        forms = [value, str(value)]
        if abs(value) <= 2**53:
            forms.append(float(value))
        return draw(st.sampled_from(forms))
    if field == "value":
        if math.isnan(value):
            return draw(st.sampled_from([value, "NaN"]))
        if math.isinf(value):
            return draw(st.sampled_from([value, "Infinity" if value > 0 else "-Infinity"]))
        forms = [value, repr(value)]
        if value.is_integer() and abs(value) < 2**53:
            forms.append(int(value))
        return draw(st.sampled_from(forms))
    if field == "status":
        from lmfilter.wire import parse_status

        status = parse_status(value)
        if status.known:
            return draw(st.sampled_from([status.name, status.wire_name, status.number]))
    return value


@st.composite
def recast(draw: st.DrawFn, items: list[JSON]) -> list[JSON]:
    """``items`` with some values in another form that means the same."""
    out = []
    for record in items:
        info = {k: other_form(draw, k, v) if draw(st.booleans()) else v for k, v in record["info"].items()}
        copy: JSON = {"info": info}
        if "data" in record:
            data = dict(record["data"])
            if "metrics" in data:
                data["metrics"] = [
                    {k: other_form(draw, k, v) if draw(st.booleans()) else v for k, v in m.items()}
                    for m in data["metrics"]
                ]
            copy["data"] = data
        out.append(copy)
    return out


JUNK = [
    None,
    True,
    "",
    "x",
    " 5",
    "5.5",
    "+5",
    "1_000",
    "1e400",
    "nan",
    "007",
    "ready",
    5.5,
    1e300,
    2**63,
    -(2**63) - 1,
    2**31,
    10**40,
    [],
    {},
    [1],
    {"key": "k"},
    "\ud800",
    float("nan"),
]
SPOTS = [
    ("info", None),
    ("info", "model_id"),
    ("info", "experiment_id"),
    ("info", "name"),
    ("info", "creation_timestamp_ms"),
    ("info", "status"),
    ("info", "model_type"),
    ("info", "tags"),
    ("data", None),
    ("data", "params"),
    ("tag", "key"),
    ("tag", "value"),
    ("param", "value"),
    ("metric", "key"),
    ("metric", "value"),
    ("metric", "step"),
    ("metric", "run_id"),
    ("metric", None),
    ("record", None),
]


@st.composite
def broken(draw: st.DrawFn) -> list[Any]:
    """Records with one value somewhere replaced by junk, or a key or an id twice."""
    items: list[Any] = draw(records(max_size=3))
    spot = draw(st.sampled_from([*SPOTS, ("twice", "tag"), ("twice", "param"), ("twice", "id")]))
    value = draw(st.sampled_from(JUNK))
    i = draw(st.integers(0, len(items) - 1))
    record = items[i]
    where, key = spot
    if where == "twice":
        if key == "id":
            items.append({"info": {"model_id": record["info"]["model_id"]}})
        else:
            item = {"key": "k", "value": "v"}
            listed = record["info"] if key == "tag" else record.setdefault("data", {})
            listed[key + "s" if key == "tag" else "params"] = [item, dict(item)]
    elif where == "record":
        items[i] = value
    elif where in ("info", "data"):
        if key is None:
            record[where] = value
        else:
            record.setdefault(where, {})[key] = value
    else:
        lists = {"tag": ("info", "tags"), "param": ("data", "params"), "metric": ("data", "metrics")}
        part, name = lists[where]
        first: Any = {"key": "k"} if key != "key" else {}
        if key is not None:
            first[key] = value
        else:
            first = value
        record.setdefault(part, {})[name] = [first]
    return items


# ---- the layout ---------------------------------------------------------------------------------------


def test_the_tables_have_mlflows_columns_and_the_stores_own(con: duckdb.DuckDBPyConnection) -> None:
    columns = {
        table: dict(con.execute(f"SELECT name, type FROM pragma_table_info('{table}')").fetchall())
        for table in TABLES
    }
    assert columns["logged_models"] == {
        "model_id": "VARCHAR",
        "experiment_id": "BIGINT",
        "name": "VARCHAR",
        "artifact_location": "VARCHAR",
        "creation_timestamp_ms": "BIGINT",
        "last_updated_timestamp_ms": "BIGINT",
        "status": "INTEGER",
        "lifecycle_stage": "VARCHAR",
        "model_type": "VARCHAR",
        "source_run_id": "VARCHAR",
        "status_message": "VARCHAR",
        "creator_id": "BIGINT",
        "status_name": "VARCHAR",
    }
    assert set(columns["logged_model_params"]) == {
        "model_id",
        "experiment_id",
        "param_key",
        "param_value",
        "ordinal",
    }
    assert set(columns["logged_model_tags"]) == {
        "model_id",
        "experiment_id",
        "tag_key",
        "tag_value",
        "ordinal",
    }
    assert columns["logged_model_metrics"]["metric_value"] == "DOUBLE"
    create_tables(con)  # again: nothing changes, nothing fails
    assert {t: len(c) for t, c in columns.items()} == {
        t: len(con.execute(f"SELECT * FROM pragma_table_info('{t}')").fetchall()) for t in TABLES
    }


# ---- round trips --------------------------------------------------------------------------------------


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(records())
def test_models_come_back_as_they_were_loaded_by_either_path(tmp_path: Path, items: list[JSON]) -> None:
    expected = wire([LoggedModel.model_validate(r) for r in items])
    ids = [r["info"]["model_id"] for r in items]
    models = [LoggedModel.model_validate(r) for r in items]
    loads: list[Load] = [
        lambda c: load_models(c, items),
        lambda c: load_models(c, models),
        lambda c: load_json(c, write_lines(tmp_path / "models.jsonl", items)),
        lambda c: load_json(c, write_lines(tmp_path / "wire.jsonl", expected)),
    ]
    for load in loads:
        connection = fresh()
        assert load(connection) == len(items)
        assert wire(read_models(connection, ids)) == expected
        assert wire(read_models(connection, list(reversed(ids)))) == expected[::-1]


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_every_form_of_the_same_models_fills_the_same_tables(tmp_path: Path, data: st.DataObject) -> None:
    items = data.draw(records())
    forms = data.draw(recast(items))
    reference = fresh()
    load_models(reference, [LoggedModel.model_validate(r) for r in items])
    expected = snapshot(reference)
    loads: list[Load] = [
        lambda c: load_models(c, forms),
        lambda c: load_models(c, forms, batch=2),
        lambda c: load_json(c, write_lines(tmp_path / "forms.jsonl", forms)),
        lambda c: load_json(c, _write(tmp_path / "forms.json", forms)),
        lambda c: load_json(c, _write(tmp_path / "answer.json", {"models": forms, "next_page_token": "t"})),
    ]
    for load in loads:
        connection = fresh()
        load(connection)
        assert snapshot(connection) == expected


def _write(path: Path, value: Any) -> Path:
    path.write_text(json.dumps(value), encoding="utf-8")
    return path


def test_the_plain_forms_servers_send_are_read_by_sql_not_python(
    con: duckdb.DuckDBPyConnection, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    items = [
        {
            "info": {
                "model_id": "m-1",
                "experiment_id": "7",
                "creation_timestamp_ms": "1700000000000",
                "status": 2,
                "tags": [{"key": "模型", "value": "值"}],
            },
            "data": {
                "metrics": [
                    {"key": "a", "value": "NaN", "timestamp": "5", "step": "-1"},
                    {"key": "b", "value": "Infinity"},
                    {"key": "c", "value": "2.5e1"},
                    {"key": "d", "value": 3},
                ]
            },
        },
        {"info": {"model_id": "m-2", "status": "LOGGED_MODEL_ARCHIVED"}},
    ]
    expected = wire(python_load(items))

    def refuse(item: Any, index: int) -> LoggedModel:
        raise AssertionError(f"record {index} was read by Python")

    monkeypatch.setattr(tables, "_checked", refuse)
    assert load_json(con, write_lines(tmp_path / "m.jsonl", items)) == 2
    assert wire(read_models(con, ["m-1", "m-2"])) == expected
    row = con.execute("SELECT status, status_name FROM logged_models WHERE model_id = 'm-2'").fetchone()
    assert row == (2**31 - 1, "LOGGED_MODEL_ARCHIVED")
    values = con.execute(
        "SELECT metric_value, metric_value_name FROM logged_model_metrics ORDER BY ordinal"
    ).fetchall()
    assert values == [(0.0, "NaN"), (1.7976931348623157e308, "Infinity"), (25.0, None), (3.0, None)]


# ---- what a load refuses ------------------------------------------------------------------------------


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(broken())
def test_a_broken_record_gives_the_error_python_gives_by_either_path(
    tmp_path: Path, items: list[Any]
) -> None:
    path = write_lines(tmp_path / "broken.jsonl", items)
    for load, source in ((load_models, items), (load_json, path)):
        connection = fresh()
        load_models(connection, [{"info": {"model_id": KEPT}}])
        kept = snapshot(connection)
        expected = outcome(lambda source=source: python_load(source))
        assert outcome(lambda c=connection, f=load, s=source: _new_models(c, lambda: f(c, s))) == expected
        if expected[0] != "ok":
            assert snapshot(connection) == kept


def test_an_upsert_replaces_the_whole_model(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    first = {
        "info": {
            "model_id": "m",
            "name": "old",
            "tags": [{"key": "t", "value": "1"}, {"key": "u", "value": "2"}],
        },
        "data": {
            "params": [{"key": "a", "value": "1"}],
            "metrics": [{"key": "acc", "value": 0.5, "step": 1}],
        },
    }
    other = {"info": {"model_id": "other"}, "data": {"params": [{"key": "a", "value": "9"}]}}
    load_models(con, [first, other])
    second = {"info": {"model_id": "m", "name": "new"}, "data": {"params": [{"key": "b", "value": "2"}]}}
    assert load_json(con, write_lines(tmp_path / "again.jsonl", [second])) == 1
    assert wire(read_models(con, ["m", "other"])) == wire(python_load([second, other]))
    counts = con.execute(
        "SELECT (SELECT count(*) FROM logged_model_tags), (SELECT count(*) FROM logged_model_metrics), "
        "(SELECT count(*) FROM logged_model_params)"
    ).fetchone()
    assert counts == (0, 0, 2)


def test_two_records_with_one_id_are_refused_across_batches_and_nothing_is_loaded(
    con: duckdb.DuckDBPyConnection,
) -> None:
    items = [{"info": {"model_id": f"m-{i}"}} for i in range(5)] + [{"info": {"model_id": "m-1"}}]
    with pytest.raises(RecordError) as caught:
        load_models(con, items, batch=2)
    assert (caught.value.index, caught.value.model_id, caught.value.field) == (5, "m-1", "info.model_id")
    assert str(caught.value) == outcome(lambda: python_load(items))[1]
    assert snapshot(con) == {t: [] for t in TABLES}


def test_the_first_fault_in_record_order_is_the_one_raised(con: duckdb.DuckDBPyConnection) -> None:
    items: list[JSON] = [
        {"info": {"model_id": "a"}},
        {"info": {"model_id": "b", "name": 5}},  # record 1: a bad name
        {"info": {"model_id": "a"}},  # record 2: an id twice
    ]
    with pytest.raises(RecordError, match=r"^record 1 \(model_id 'b'\): info.name"):
        load_models(con, items)
    items[1]["info"]["name"] = "fine"
    items.append({"info": {"model_id": "c", "status": "ready"}})  # record 3, after the id twice
    with pytest.raises(RecordError, match=r"^record 2 \(model_id 'a'\): info.model_id: another record"):
        load_models(con, items)


@pytest.mark.parametrize(
    ("experiment_id", "stored"),
    [("", None), ("0", 0), ("42", 42), ("-3", -3), ("9223372036854775807", 2**63 - 1)],
)
def test_an_experiment_id_is_kept_as_mlflows_integer(
    con: duckdb.DuckDBPyConnection, experiment_id: str, stored: int | None
) -> None:
    load_models(con, [{"info": {"model_id": "m", "experiment_id": experiment_id}}])
    assert con.execute("SELECT experiment_id FROM logged_models").fetchone() == (stored,)
    assert read_models(con, ["m"])[0].info.experiment_id == experiment_id


@pytest.mark.parametrize("experiment_id", ["007", "-0", "+1", "1.0", " 1", "x", "9223372036854775808", "٣"])
def test_an_experiment_id_mlflow_cannot_keep_is_refused_by_either_path(
    con: duckdb.DuckDBPyConnection, tmp_path: Path, experiment_id: str
) -> None:
    record = {"info": {"model_id": "m", "experiment_id": experiment_id}}
    with pytest.raises(
        RecordError, match=r"^record 0 \(model_id 'm'\): info.experiment_id: .* not an experiment id"
    ):
        load_models(con, [record])
    with pytest.raises(RecordError, match=r"info.experiment_id"):
        load_json(con, write_lines(tmp_path / "m.jsonl", [record]))
    assert snapshot(con) == {t: [] for t in TABLES}


def test_a_failing_iterable_leaves_the_tables_as_they_were(con: duckdb.DuckDBPyConnection) -> None:
    load_models(con, [{"info": {"model_id": "kept", "name": "before"}}])
    kept = snapshot(con)

    def models() -> Iterator[JSON]:
        yield {"info": {"model_id": "kept", "name": "after"}}
        yield {"info": {"model_id": "new"}}
        raise KeyError("the caller's own failure")

    with pytest.raises(KeyError, match="the caller's own failure"):
        load_models(con, models(), batch=1)
    assert snapshot(con) == kept


def test_a_load_needs_a_transaction_of_its_own(con: duckdb.DuckDBPyConnection) -> None:
    con.begin()
    with pytest.raises(RuntimeError, match="transaction of its own"):
        load_models(con, [{"info": {"model_id": "m"}}])
    con.rollback()


def test_a_load_leaves_the_connection_as_it_found_it(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    con.execute("SET preserve_insertion_order = false")
    load_json(con, write_lines(tmp_path / "m.jsonl", [{"info": {"model_id": "m"}}]))
    with pytest.raises(RecordError):
        load_models(con, [{"info": {"model_id": 5}}])
    assert con.execute("SELECT current_setting('preserve_insertion_order')").fetchone() == (False,)
    temporary = con.execute("SELECT table_name FROM duckdb_tables() WHERE temporary").fetchall()
    assert temporary == []
    con.begin()  # not left in a transaction
    con.rollback()


# ---- model files --------------------------------------------------------------------------------------

M = '{"info": {"model_id": "m-%d"}}'
FILES = {
    "truncated": M % 1 + '\n{"info": {"model_id": "m-2"\n',
    "a number": "5\n",
    "a number on line 2": M % 1 + "\n5\n",
    "a list on line 2": M % 1 + "\n[1]\n",
    "two objects on a line": M % 1 + "\n" + M % 2 + " " + M % 3 + "\n",
    "an object over two lines": M % 1 + '\n{"info":\n {"model_id": "m-2"}}\n',
    "a lone surrogate": M % 1 + '\n{"info": {"model_id": "a\\ud800"}}\n',
    "a lone surrogate elsewhere": M % 1 + '\n{"info": {"model_id": "a"}, "x": "\\udc00"}\n',
    "a NUL escaped": M % 1 + '\n{"info": {"model_id": "a\\u0000b", "name": "\\u0000"}}\n',
    "a raw NUL": M % 1 + '\n{"info": {"model_id": "a\x00b"}}\n',
    "a raw control character": M % 1 + '\n{"info": {"model_id": "a\tb"}}\n',
    "deeply nested junk on line 1": '{"info": {"model_id": "a"}, "junk": ' + "[" * 5000 + "]" * 5000 + "}\n",
    "deeply nested in a field": M % 1
    + '\n{"info": {"model_id": "a", "name": '
    + "[" * 5000
    + "]" * 5000
    + "}}\n",
    "a number of 5000 digits in a field": M % 1
    + '\n{"info": {"model_id": "a", "creator_id": '
    + "9" * 5000
    + "}}\n",
    "an inf token in a value": M % 1
    + '\n{"info": {"model_id": "a"}, "data": {"metrics": [{"key": "k", "value": inf}]}}\n',
    "a NaN token in a value": M % 1
    + '\n{"info": {"model_id": "a"}, "data": {"metrics": [{"key": "k", "value": NaN}]}}\n',
    "single quotes": "{'info': {}}\n",
    "a BOM": "\ufeff" + M % 1 + "\n",
    "a BOM on line 2": M % 1 + "\n\ufeff" + M % 2 + "\n",
    "blank lines and CRLF": "\n\r\n" + M % 1 + "\r\n  \n\t\n" + M % 2 + "\r\n\n",
    "empty": "",
    "blank": "\n  \n",
    "duplicate keys": '{"info": {"model_id": "a", "name": "x", "name": "y"}}\n' + M % 2 + "\n",
    "an array": "[" + M % 1 + ",\n " + M % 2 + "]",
    "an empty array": "[]",
    "an array then more": "[" + M % 1 + "] [1]",
    "an array with a trailing comma": "[" + M % 1 + ", " + M % 2 + ",]",
    "an array with null": "[" + M % 1 + ", null]",
    "an answer": '{"next_page_token": "t", "models": [' + M % 1 + ", " + M % 2 + "]}",
    "an answer with null": '{"next_page_token": null, "models": [' + M % 1 + "]}",
    "an empty answer": "{}",
    "two answers": '{"models": [' + M % 1 + ']} {"models": [' + M % 2 + "]}",
    "models twice": '{"models": [' + M % 1 + '], "models": [' + M % 2 + "]}",
    "models null": '{"models": null}',
    "no models": '{"x": 1}',
    "one model, not in a list": M % 1,
    "a null name": M % 1 + '\n{"info": {"model_id": "a", "name": null}}\n',
    "a null step": M % 1
    + '\n{"info": {"model_id": "a"}, "data": {"metrics": [{"key": "k", "step": null}]}}\n',
    "null tags": M % 1 + '\n{"info": {"model_id": "a", "tags": null}}\n',
    "null data": M % 1 + '\n{"info": {"model_id": "a"}, "data": null}\n',
    "a null info": M % 1 + '\n{"info": null}\n',
    "a null optional field": M % 1 + '\n{"info": {"model_id": "a", "model_type": null}}\n',
    "null as a word": '{"info": {"model_id": "null", "name": "nullable"}}\n{"info": {"model_id": "b"}}\n',
    "null in a name, a field left out": (
        '{"info": {"model_id": "a", "name": "null"}}\n{"info": {"model_id": "b", "status": 2}}\n'
    ),
    "no info": M % 1 + '\n{"x": 1}\n',
    "an id twice": M % 1 + "\n" + M % 1 + "\n",
    "record fault before a file fault": '{"info": {"model_id": "a", "name": 5}}\n' + M % 2 + "\nnot json\n",
}


@pytest.mark.parametrize("name", list(FILES))
def test_a_model_file_loads_as_python_reads_it(
    con: duckdb.DuckDBPyConnection, tmp_path: Path, name: str
) -> None:
    path = tmp_path / "models.json"
    path.write_text(FILES[name], encoding="utf-8", errors="surrogatepass", newline="")
    load_models(con, [{"info": {"model_id": KEPT}}])
    kept = snapshot(con)
    expected = outcome(lambda: python_load(path))
    got = outcome(lambda: _new_models(con, lambda: load_json(con, path)))
    assert got == expected
    if expected[0] != "ok":
        assert snapshot(con) == kept


@pytest.mark.parametrize(
    "name",
    ["deeply nested junk on line 2", "a trailing comma on line 2", "an inf token on line 2"],
)
def test_duckdb_reads_a_little_more_than_json_where_no_value_is(
    con: duckdb.DuckDBPyConnection, tmp_path: Path, name: str
) -> None:
    """The documented difference: text no JSON writer makes, where no value lmfilter reads is."""
    line = {
        "deeply nested junk on line 2": '{"info": {"model_id": "a"}, "junk": '
        + "[" * 5000
        + "]" * 5000
        + "}",
        "a trailing comma on line 2": '{"info": {"model_id": "a",}}',
        "an inf token on line 2": '{"info": {"model_id": "a"}, "junk": inf}',
    }[name]
    path = tmp_path / "models.jsonl"
    path.write_text(M % 1 + "\n" + line + "\n", encoding="utf-8")
    with pytest.raises(ModelFileError):
        python_load(path)
    assert load_json(con, path) == 2


def test_a_line_longer_than_duckdbs_objects_is_read_by_python(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    path = tmp_path / "big.jsonl"
    name = "é" * (9 * 1024 * 1024)  # 18 MB of UTF-8, past DuckDB's 16 MB objects
    line = json.dumps({"info": {"model_id": "big", "name": name}}, ensure_ascii=False)
    path.write_text(M % 1 + "\n" + line + "\n", encoding="utf-8")
    assert load_json(con, path) == 2
    assert read_models(con, ["big"])[0].info.name == name


def test_endless_input_is_refused(con: duckdb.DuckDBPyConnection) -> None:
    with pytest.raises(ModelFileError, match="expected JSON lines"):
        load_json(con, "/dev/zero")
    assert snapshot(con) == {t: [] for t in TABLES}


def test_a_missing_file_and_a_directory_are_refused(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    with pytest.raises(ModelFileError, match="cannot read it"):
        load_json(con, tmp_path / "missing.jsonl")
    with pytest.raises(ModelFileError, match="cannot read it"):
        load_json(con, tmp_path)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
def test_a_named_pipe_is_read_as_a_stream(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    fifo = tmp_path / "models.fifo"
    os.mkfifo(fifo)
    text = "".join(json.dumps({"info": {"model_id": f"m-{i}", "status": "5"}}) + "\n" for i in range(3))

    def feed() -> None:
        with fifo.open("w", encoding="utf-8") as pipe:
            pipe.write(text)

    writer = threading.Thread(target=feed, daemon=True)
    writer.start()
    with pytest.raises(RecordError, match=r"^record 0 .*info.status"):
        load_json(con, fifo)
    writer.join(timeout=10)
    assert not writer.is_alive()


def test_standard_input_is_read_as_a_stream(
    con: duckdb.DuckDBPyConnection, monkeypatch: pytest.MonkeyPatch
) -> None:
    import io
    import sys

    stdin = io.TextIOWrapper(io.BytesIO((M % 1 + "\n" + M % 2 + "\n").encode()), encoding="utf-8")
    monkeypatch.setattr(sys, "stdin", stdin)
    assert load_json(con, "-") == 2


@pytest.mark.parametrize(
    "name", ["glob[1]*.jsonl", "quote'name.jsonl", "~home.jsonl", "s3:x.jsonl", "gz.json.gz"]
)
def test_a_file_name_is_a_name_not_a_pattern(
    con: duckdb.DuckDBPyConnection, tmp_path: Path, name: str
) -> None:
    (tmp_path / "glob1x.jsonl").write_text(M % 9 + "\n", encoding="utf-8")  # what the glob would match
    path = tmp_path / name
    path.write_text(M % 1 + "\n", encoding="utf-8")
    assert load_json(con, path) == 1
    assert [row[0] for row in con.execute("SELECT model_id FROM logged_models").fetchall()] == ["m-1"]


def test_a_large_file_loads_in_file_order(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    """Enough records for DuckDB to read in parallel: each record's number is still its place in the file."""
    items: list[Any] = [{"info": {"model_id": f"m-{i:06d}", "name": f"n{i}"}} for i in range(30000)]
    items[12345]["info"]["creation_timestamp_ms"] = 1.5  # Python's to read: found by its number
    items[29999]["info"]["status"] = "READY"
    path = write_lines(tmp_path / "many.jsonl", items)
    with pytest.raises(
        RecordError, match=r"^record 12345 \(model_id 'm-012345'\): info.creation_timestamp_ms"
    ):
        load_json(con, path)
    items[12345]["info"]["creation_timestamp_ms"] = 15.0
    path = write_lines(tmp_path / "many.jsonl", items)
    assert load_json(con, path) == 30000
    assert read_models(con, ["m-012345"])[0].info.creation_timestamp_ms == 15


# ---- reading ------------------------------------------------------------------------------------------


def test_read_models_keeps_the_order_asked_and_leaves_out_what_is_not_there(
    con: duckdb.DuckDBPyConnection,
) -> None:
    load_models(con, [{"info": {"model_id": "a"}}, {"info": {"model_id": "b"}}])
    assert [m.model_id for m in read_models(con, ["b", "x", "a", "b"])] == ["b", "a", "b"]
    assert [m.model_id for m in read_models(con, iter(["b", "a"]))] == ["b", "a"]
    assert read_models(con, []) == []
    with pytest.raises(ValueError, match="unknown dialect"):
        read_models(con, ["a"], dialect="oracle")


def test_read_models_refuses_a_row_that_is_no_logged_model(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("INSERT INTO logged_models (model_id, name, status) VALUES ('a', 'x', 1), ('b', 'y', 1)")
    con.execute("UPDATE logged_models SET status_name = 'lower case' WHERE model_id = 'b'")
    with pytest.raises(RecordError, match=r"^record 1 \(model_id 'b'\): info.status"):
        read_models(con, ["a", "b"])


def test_many_ids_are_read_in_batches_from_sqlite(tmp_path: Path) -> None:
    db = sqlite3.connect(tmp_path / "mlflow.db")
    db.executescript(
        """CREATE TABLE logged_models (model_id, experiment_id, name, artifact_location,
               creation_timestamp_ms, last_updated_timestamp_ms, status, lifecycle_stage, model_type,
               source_run_id, status_message);
           CREATE TABLE logged_model_params (model_id, experiment_id, param_key, param_value);
           CREATE TABLE logged_model_tags (model_id, experiment_id, tag_key, tag_value);
           CREATE TABLE logged_model_metrics (model_id, metric_name, metric_timestamp_ms, metric_step,
               metric_value, experiment_id, run_id, dataset_uuid, dataset_name, dataset_digest);"""
    )
    rows = [(f"m-{i}", 1, f"n{i}", "a", i, i, i % 4, "active", None, "", None) for i in range(1500)]
    db.executemany("INSERT INTO logged_models VALUES (?,?,?,?,?,?,?,?,?,?,?)", rows)
    db.executemany(
        "INSERT INTO logged_model_metrics VALUES (?,?,?,?,?,?,?,?,?,?)",
        [("m-7", "b", 2, 0, None, 1, "", None, "", "d"), ("m-7", "a", 1, 0, 0.5, 1, "r", None, "t", "")],
    )
    db.executemany(
        "INSERT INTO logged_model_tags VALUES (?,?,?,?)", [("m-7", 1, "z", "1"), ("m-7", 1, "a", "2")]
    )
    db.commit()
    ids = [f"m-{i}" for i in reversed(range(1500))]
    models = read_models(db, ids, dialect="sqlite")
    assert [m.model_id for m in models] == ids
    seven = models[ids.index("m-7")].to_json()
    assert seven["info"]["tags"] == [{"key": "a", "value": "2"}, {"key": "z", "value": "1"}]  # by key
    assert seven["data"]["metrics"] == [  # as logged; empty texts left out; a null value read as 0
        {"key": "b", "value": 0.0, "timestamp": 2, "step": 0, "dataset_digest": "d", "model_id": "m-7"},
        {
            "key": "a",
            "value": 0.5,
            "timestamp": 1,
            "step": 0,
            "dataset_name": "t",
            "model_id": "m-7",
            "run_id": "r",
        },
    ]
    assert seven["info"]["status"] == "LOGGED_MODEL_UPLOAD_FAILED"
    assert seven["info"]["source_run_id"] == ""


# ---- MLflow's own database, against its REST API ------------------------------------------------------


def _database(server_and_seeded: SeededServer) -> sqlite3.Connection:
    path = server_and_seeded.server.tmpdir / "mlflow.db"
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True)


def test_mlflows_database_reads_as_its_rest_api_answers(mlflow_server: SeededServer) -> None:
    server, seeded = mlflow_server
    db = _database(mlflow_server)
    try:
        ids = [*seeded.models, *seeded.deleted_ids]
        answers = [
            server.rest.get(f"logged-models/{quote_segment(i)}?allow_deleted=true")["model"] for i in ids
        ]
        for got, answer in zip(read_models(db, ids, dialect="sqlite"), answers, strict=True):
            expected = LoggedModel.model_validate(answer)
            assert got.to_json() == expected.to_json(), got.model_id
            assert got == expected
        found = list(iter_search(server, seeded.experiment_ids, page_size=7))
        searched = read_models(db, [m["info"]["model_id"] for m in found], dialect="sqlite")
        assert searched == [LoggedModel.model_validate(m) for m in found]
        columns = {t: {r[1] for r in db.execute(f"PRAGMA table_info({t})")} for t in TABLES}
    finally:
        db.close()
    store = fresh()
    ours = {t: {row[1] for row in store.execute(f"PRAGMA table_info({t})").fetchall()} for t in TABLES}
    assert all(columns[t] <= ours[t] for t in TABLES), {t: columns[t] - ours[t] for t in TABLES}


def test_mlflows_answers_round_trip_through_the_store(mlflow_server: SeededServer, tmp_path: Path) -> None:
    server, seeded = mlflow_server
    found = list(iter_search(server, seeded.experiment_ids, page_size=50))
    expected = [LoggedModel.model_validate(m) for m in found]
    ids = [m.model_id for m in expected]
    path = _write(tmp_path / "answer.json", {"models": found})
    loads: list[Load] = [
        lambda c: load_json(c, path),
        lambda c: load_models(c, found),
        lambda c: load_models(c, expected),
    ]
    for load in loads:
        store = fresh()
        assert load(store) == len(found)
        assert read_models(store, ids) == expected
