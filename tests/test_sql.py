"""The SQL back end answers what ``lmfilter.select`` answers: ``to_sql`` on DuckDB (a :class:`ModelStore`) and
on SQLite (the same tables copied into an SQLite database with MLflow's column types), for any filter lmfilter
parses (OR, NOT, IS NULL, BETWEEN, numeric params), ``datasets`` and ``order_by``, on both targets.

Against the real servers' own databases, ``tests/test_conformance.py`` runs ``to_sql`` beside them.
"""

from __future__ import annotations

import math
import re
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any
from unittest import mock

import pytest
import sqlglot
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlglot import exp

import lmfilter
from lmfilter import ast
from lmfilter.sql import DIALECTS, ModelStore, StoreError, to_sql
from lmfilter.sql import compile as compile_module
from lmfilter.sql.tables import TABLES
from tests.strategies import DATASETS, KEYS, models, trees

JSON = dict[str, Any]
COMPARED: dict[str, int] = {}  # cases compared per engine, for the closing note

dataset_entries = st.lists(
    st.sampled_from(DATASETS).map(lambda d: {"dataset_name": d[0], "dataset_digest": d[1]})
    | st.just({"dataset_name": "train"}),
    max_size=2,
)
order_fields = st.sampled_from(
    ["name", "creation_timestamp", "model_type", "status", "model_id", *(f"metrics.{k}" for k in KEYS)]
)
orders = st.lists(
    st.builds(
        lambda f, a, d: {"field_name": f, "ascending": a, **d},
        order_fields,
        st.booleans(),
        st.sampled_from([{}, {"dataset_name": "train"}, {"dataset_name": "eval", "dataset_digest": "e1"}]),
    ),
    max_size=2,
)
targets = st.sampled_from(["mlflow", "mlflow-3.17"])

_SQLITE_TYPES = {"BIGINT": "INTEGER", "INTEGER": "INTEGER", "DOUBLE": "REAL", "VARCHAR": "TEXT"}


def _regexp(pattern: str, text: str | None) -> bool | None:
    return None if text is None else re.search(pattern, text) is not None


def sqlite_copy(store: ModelStore) -> sqlite3.Connection:
    """The store's four tables in an SQLite database in memory, with the SQLite types of MLflow's columns."""
    db = sqlite3.connect(":memory:")
    db.create_function("regexp", 2, _regexp, deterministic=True)
    con = store._con
    for table in TABLES:
        columns = con.execute(f"DESCRIBE {table}").fetchall()
        names = [c[0] for c in columns]
        kinds = [_SQLITE_TYPES.get(str(c[1]), "TEXT") for c in columns]
        db.execute(
            f"CREATE TABLE {table} ({', '.join(f'{n} {k}' for n, k in zip(names, kinds, strict=True))})"
        )
        rows = con.execute(f"SELECT * FROM {table}").fetchall()
        db.executemany(f"INSERT INTO {table} VALUES ({', '.join('?' * len(names))})", rows)
    return db


def answers(
    cache: list[JSON], tree: ast.Expr | str, target: str, datasets: Sequence[JSON], order_by: Sequence[JSON]
) -> Iterator[tuple[str, list[str]]]:
    """Each engine's answer, by name: select, the store (DuckDB), and to_sql on SQLite."""
    kwargs: dict[str, Any] = {"datasets": datasets, "order_by": order_by, "target": target}
    yield "select", [m.model_id for m in lmfilter.select(cache, tree, **kwargs)]
    with ModelStore() as store:
        store.add(cache)
        yield "duckdb", [m.model_id for m in store.select(tree, **kwargs)]
        db = sqlite_copy(store)
    yield "sqlite", [row[0] for row in db.execute(to_sql(tree, dialect="sqlite", **kwargs))]


def assert_agree(
    cache: list[JSON], tree: ast.Expr | str, target: str, datasets: Sequence[JSON], order_by: Sequence[JSON]
) -> list[str]:
    found = dict(answers(cache, tree, target, datasets, order_by))
    expected = found.pop("select")
    for engine, ids in found.items():
        assert ids == expected, (engine, lmfilter.format(tree) if not isinstance(tree, str) else tree)
        COMPARED[engine] = COMPARED.get(engine, 0) + 1
    return expected


@settings(max_examples=250, deadline=None, suppress_health_check=list(HealthCheck))
@given(trees, models(max_size=30), targets, dataset_entries, orders)
def test_sql_answers_what_select_answers(
    tree: ast.Expr, cache: list[JSON], target: str, datasets: list[JSON], order_by: list[JSON]
) -> None:
    assert_agree(cache, tree, target, datasets, order_by)


@contextmanager
def every_key_pivoted() -> Iterator[None]:
    """Params and tags read through one pivot per table, as a filter over many keys is (however few)."""
    compile_module._rendered.cache_clear()
    try:
        with mock.patch.object(compile_module, "_JOINS", 0):
            yield
    finally:
        compile_module._rendered.cache_clear()


@settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck))
@given(trees, models(max_size=30), targets, dataset_entries, orders)
def test_the_pivot_of_many_keys_answers_what_select_answers(
    tree: ast.Expr, cache: list[JSON], target: str, datasets: list[JSON], order_by: list[JSON]
) -> None:
    with every_key_pivoted():
        assert_agree(cache, tree, target, datasets, order_by)


def test_a_filter_over_many_keys_is_one_pivot_per_table() -> None:
    text = " OR ".join(
        [*(f"params.p{i} = '{i}'" for i in range(40)), *(f"tags.t{i} IS NULL" for i in range(30))]
    )
    sql = to_sql(text, dialect="sqlite")
    assert sql.count(" JOIN ") == 2, sql
    models = [
        {
            "info": {"model_id": f"m{i}", "tags": [{"key": f"t{j}", "value": "x"} for j in range(30)]},
            "data": {"params": [{"key": f"p{i}", "value": str(i if i % 2 else -1)}]},
        }
        for i in range(50)
    ]
    assert assert_agree(models, text, "mlflow", [], []) == [m.model_id for m in lmfilter.select(models, text)]


# ---- literals and patterns an engine reads its own way ---------------------------------------------

TRICKY_TEXTS = [
    "",
    "it's",
    "''",
    "a\\b",
    "\\",
    "%",
    "_",
    "a%b_c",
    "*",
    "?",
    "[",
    "[a]",
    "]",
    "x\ny",
    "x\r\n",
    "'; DROP TABLE logged_models; --",
    '"',
    "É",
    "é",
    "Äpfel",
    "äpfel",
    "ÄPFEL",
    "模型",
    "😀",
    " 5 ",
    "5\n",
    "+1.",
    ".5e-3",
    "1e400",
    "-1e400",
    "1e",
    "٣",
    "0x10",
    "nan",
    "inf",
    "\u00a05",
    "\v5\f",
]


def _cache() -> list[JSON]:
    return [
        {
            "info": {
                "model_id": f"m-{i:02d}",
                "name": text,
                "creation_timestamp_ms": i % 3,
                "tags": [{"key": "t", "value": text}],
            },
            "data": {
                "params": [{"key": "p", "value": text}, {"key": text or "empty", "value": "k"}],
                "metrics": [{"key": "acc", "value": float(i), "step": i % 2, "timestamp": i}],
            },
        }
        for i, text in enumerate(TRICKY_TEXTS)
    ]


def _quoted(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


TRICKY_FILTERS = [
    *(f"params.p = {_quoted(t)}" for t in TRICKY_TEXTS if "\n" not in t and "\r" not in t),
    *(f"tags.t LIKE {_quoted(t)}" for t in TRICKY_TEXTS if "\n" not in t and "\r" not in t),
    *(f"name ILIKE {_quoted(t)}" for t in ["äpfel", "ÄPFEL", "É", "a%", "%\\%", "[a]", "_", "?", "*"]),
    *(
        f"params.p {op} {n}"
        for op in ("<", ">=", "=", "!=")
        for n in ("5", "0.005", "1e999", "-1e999", "nan")
    ),
    "params.p BETWEEN 0 AND 1e999",
    "params.p NOT BETWEEN nan AND 1",
    "metrics.acc != nan",
    "metrics.acc IN (1, nan, 3)",
    "metrics.acc NOT IN (nan)",
    "params.p IN ()",
    "params.p NOT IN ()",
    "name IN ('É', 'é', 'e') OR tags.t != 'É'",
    "params.`it's` = 'k'",
    "params.`a\\b` = 'k'",
    "params.`'; DROP TABLE logged_models; --` = 'k'",
    "params.`%` LIKE 'k'",
    "tags.t IS NULL OR NOT params.p LIKE '%'",
]


@pytest.mark.parametrize("text", TRICKY_FILTERS)
@pytest.mark.parametrize("target", ["mlflow", "mlflow-3.17"])
def test_texts_and_numbers_each_engine_reads_its_own_way(text: str, target: str) -> None:
    order = [{"field_name": "name", "ascending": True}]
    assert_agree(_cache(), text, target, [], order)


def test_a_hostile_text_is_a_literal_in_every_dialect() -> None:
    """Whatever the text, each dialect's SQL reads back (by sqlglot, in that dialect) to the same literals:
    nothing the user wrote became SQL."""
    for text in TRICKY_TEXTS:
        if "\n" in text or "\r" in text:
            continue
        for dialect in DIALECTS:
            sql = to_sql(f"tags.t = {_quoted(text)} AND params.`{text or 'x'}` != 'v'", dialect=dialect)
            tree = sqlglot.parse_one(sql, read=dialect)
            literals = {lit.this for lit in tree.find_all(exp.Literal) if lit.is_string}
            assert text in literals, (dialect, text, sql)
            assert (text or "x") in literals, (dialect, text, sql)
            assert {t.name for t in tree.find_all(exp.Table)} <= set(TABLES), (dialect, text)


def test_an_order_by_text_sorts_by_code_point() -> None:
    order = [{"field_name": "name", "ascending": False}]
    expected = assert_agree(_cache(), "", "mlflow", [], order)
    names = {m["info"]["model_id"]: m["info"]["name"] for m in _cache()}
    assert [names[i] for i in expected] == sorted(names.values(), reverse=True)


# ---- arguments --------------------------------------------------------------------------------------


def test_experiment_ids_and_max_results() -> None:
    cache = _cache()
    for i, model in enumerate(cache):
        model["info"]["experiment_id"] = str(i % 3)
    with ModelStore() as store:
        store.add(cache)
        assert store.ids(experiment_ids=["1", 2]) == [
            m.model_id for m in lmfilter.select(cache) if m.info.experiment_id in ("1", "2")
        ]
        assert store.ids(experiment_ids=[]) == []
        assert store.ids(max_results=3) == [m.model_id for m in lmfilter.select(cache, max_results=3)]
        assert store.ids(max_results=0) == []
        assert store.count() == len(cache) == len(store)
        assert store.count("params.p LIKE '%a%'") == len(lmfilter.select(cache, "params.p LIKE '%a%'"))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"dialect": "oracle"}, "dialect: 'oracle' is not one lmfilter writes"),
        ({"experiment_ids": ["1; DROP TABLE x"]}, "is not an experiment id"),
        ({"experiment_ids": [str(2**64)]}, "past the range"),
        ({"experiment_ids": [1.5]}, "expected ids"),
        ({"max_results": -1}, "max_results"),
        ({"order_by": [{"field_name": "params.x"}]}, "order_by"),
    ],
)
def test_bad_arguments_are_request_errors(kwargs: JSON, message: str) -> None:
    with pytest.raises(lmfilter.RequestError, match=re.escape(message)):
        to_sql("name = 'a'", **kwargs)


def test_a_bad_filter_is_a_filter_error() -> None:
    with pytest.raises(lmfilter.FilterError):
        to_sql("name = ")


def test_nan_and_infinite_literals_mean_what_python_compares() -> None:
    """Folded or written per dialect: NaN equals nothing, infinity is past every stored number."""
    for dialect in DIALECTS:
        assert "nan" not in to_sql("metrics.a < nan", dialect=dialect).lower().replace("nan'", "")
    cache = _cache()
    assert assert_agree(cache, "metrics.acc < 1e999", "mlflow", [], []) != []
    assert assert_agree(cache, "metrics.acc = nan", "mlflow", [], []) == []
    assert len(assert_agree(cache, "metrics.acc != nan", "mlflow", [], [])) == len(cache)
    assert not math.isnan(0.0)


# ---- the store --------------------------------------------------------------------------------------


def test_a_store_file_is_open_in_one_place_at_a_time(tmp_path: Any) -> None:
    path = tmp_path / "models.duckdb"
    with ModelStore(path) as store:
        store.add(_cache())
        with pytest.raises(StoreError, match="already open in this process"):
            ModelStore(path)
    with ModelStore(path, read_only=True) as again:
        assert len(again) == len(_cache())
        with pytest.raises(StoreError, match="read-only"):
            again.add(_cache())


def test_a_store_round_trips_through_parquet(tmp_path: Any) -> None:
    cache = _cache()
    with ModelStore() as store:
        store.add(cache)
        store.to_parquet(tmp_path / "export")
        expected = store.select("params.p LIKE '%5%'", order_by=[{"field_name": "name"}])
    with ModelStore.from_parquet(tmp_path / "export") as copy:
        assert copy.select("params.p LIKE '%5%'", order_by=[{"field_name": "name"}]) == expected
    assert sorted(p.name for p in (tmp_path / "export").iterdir()) == sorted(f"{t}.parquet" for t in TABLES)


@pytest.mark.parametrize("make", ["directory", "not duckdb", "other duckdb"])
def test_what_is_not_a_store_is_said_so(tmp_path: Any, make: str) -> None:
    path = tmp_path / "x.duckdb"
    if make == "directory":
        path.mkdir()
    elif make == "not duckdb":
        path.write_bytes(b"SQLite format 3\x00" + b"\x00" * 200)
    else:
        import duckdb

        duckdb.connect(str(path)).execute("CREATE TABLE t (x INT)").close()
    with pytest.raises(StoreError, match=re.escape(str(path))):
        ModelStore(path, read_only=True)
    with pytest.raises(StoreError, match=r"nowhere: no logged_models\.parquet"):
        ModelStore.from_parquet(tmp_path / "nowhere")


def test_select_returns_the_models_select_returns() -> None:
    cache = _cache()
    with ModelStore() as store:
        store.add(cache)
        assert store.select("params.p LIKE '%'") == lmfilter.select(cache, "params.p LIKE '%'")


def test_one_experiment_id_alone_is_one_id_not_its_characters() -> None:
    assert to_sql(experiment_ids="12") == to_sql(experiment_ids=["12"]) == to_sql(experiment_ids=12)
    assert "IN (12)" in to_sql(experiment_ids="12")
    with pytest.raises(lmfilter.RequestError, match="expected ids"):
        to_sql(experiment_ids=True)
