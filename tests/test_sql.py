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
from lmfilter.sql import store as store_module
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


# ---- a first page: looked for among the first models by the order, then widened ----------------------

FIRST_PAGES = {"narrowed": 0, "whole": 0}  # how each first page was found, so a test sees both ways taken


@contextmanager
def small_first_pages() -> Iterator[None]:
    """The store looks for a page of ``n`` models among the first ``n`` by its order, then 3, 9 and 27 times
    as many: on caches of up to 30 models, pages are found either way."""
    with (
        mock.patch.object(store_module, "_FIRST_PAGE_MODELS", 1),
        mock.patch.object(store_module, "_FIRST_PAGE_PAGES", 1),
        mock.patch.object(store_module, "_FIRST_PAGE_WIDER", 3),
        mock.patch.object(store_module, "_FIRST_PAGE_TRIES", 4),
    ):
        yield


def first_page_ids(store: ModelStore, tree: ast.Expr | str, size: int, **kwargs: Any) -> list[str]:
    """``store.ids`` with ``max_results=size``, counting whether the first page was found narrowed."""
    looked = ModelStore._first_page

    def counted(self: ModelStore, page: compile_module.FirstPage, size: int) -> list[str] | None:
        found = looked(self, page, size)
        FIRST_PAGES["narrowed" if found is not None else "whole"] += 1
        return found

    with mock.patch.object(ModelStore, "_first_page", counted):
        return store.ids(tree, max_results=size, **kwargs)


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    trees,
    models(max_size=30),
    targets,
    dataset_entries,
    orders,
    st.integers(1, 4),
    st.none() | st.lists(st.sampled_from(["0", "1", "2"]), max_size=2),
)
def test_a_first_page_is_the_first_of_what_select_answers(
    tree: ast.Expr,
    cache: list[JSON],
    target: str,
    datasets: list[JSON],
    order_by: list[JSON],
    size: int,
    experiment_ids: list[str] | None,
) -> None:
    """However the page is found (among the first models by its order, widened, or by the whole search),
    it is the first ``size`` models select answers, ties on the order's first key included."""
    for i, model in enumerate(cache):
        model["info"]["experiment_id"] = str(i % 3)
    kwargs: dict[str, Any] = {"datasets": datasets, "order_by": order_by, "target": target}
    expected = [m.model_id for m in lmfilter.select(cache, tree, **kwargs)]
    if experiment_ids is not None:
        kept = {m["info"]["model_id"] for m in cache if m["info"]["experiment_id"] in experiment_ids}
        expected = [i for i in expected if i in kept]
    with ModelStore() as store, small_first_pages():
        store.add(cache)
        found = first_page_ids(store, tree, size, experiment_ids=experiment_ids, **kwargs)
    assert found == expected[:size], lmfilter.format(tree)


def test_first_pages_were_found_both_ways() -> None:
    """The property above took the narrowed way and the whole search's (it runs first, in file order)."""
    if not FIRST_PAGES["narrowed"] + FIRST_PAGES["whole"]:
        pytest.skip("runs after test_a_first_page_is_the_first_of_what_select_answers only")
    assert FIRST_PAGES["narrowed"] > 10, FIRST_PAGES
    assert FIRST_PAGES["whole"] > 10, FIRST_PAGES


def test_a_first_page_takes_every_model_tied_at_the_threshold() -> None:
    """40 models in 4 groups of one creation time, every other one matching: the 5th model by the order is
    in the first group of 10, whose 5 matches fill a page of 5 only when all 10 tied models are searched.
    By name (7 names), the page needs a second try. Ordered first by a metric, the whole search runs."""
    cache = [
        {
            "info": {"model_id": f"m-{i:02d}", "name": f"n{i % 7}", "creation_timestamp_ms": i // 10},
            "data": {"params": [{"key": "p", "value": str(i % 2)}], "metrics": [{"key": "a", "value": i}]},
        }
        for i in range(40)
    ]
    text = "params.p = '1' AND metrics.a >= 0"
    orders = [
        (None, 1),
        ([{"field_name": "name", "ascending": True}], 2),
    ]
    with ModelStore() as store, small_first_pages():
        store.add(cache)
        for order_by, tries in orders:
            page = compile_module.first_page(text, order_by=order_by, max_results=5)
            assert page is not None
            with mock.patch.object(store_module, "_FIRST_PAGE_TRIES", tries):
                found = store._first_page(page, 5)
            expected = [m.model_id for m in lmfilter.select(cache, text, order_by=order_by, max_results=5)]
            assert found == expected, order_by
        assert compile_module.first_page(text) is None  # no page asked for
        assert compile_module.first_page(text, order_by=[{"field_name": "metrics.a"}], max_results=5) is None


class _Counting:
    """A connection whose runs of one statement are counted."""

    def __init__(self, con: Any, statement: str) -> None:
        self.con, self.statement, self.runs = con, statement, 0

    def execute(self, sql: str, parameters: Any = None) -> Any:
        self.runs += sql == self.statement
        return self.con.execute(sql, parameters)


def test_a_try_that_finds_too_few_for_a_wider_one_goes_to_the_whole_search() -> None:
    """Pages of 6 among the newest 6, then 18 models (small_first_pages, 3 times wider): when only the 2
    oldest of 30 models match, the first try finds none, and no wider try runs (it would read the tables
    again for nothing); when every third model matches, the first try finds 2, a third of a page, which
    at that rate fills the wider try: it runs, and fills the page."""
    cache = [
        {
            "info": {"model_id": f"m-{i:02d}", "creation_timestamp_ms": i},
            "data": {"params": [{"key": "p", "value": v}]},
        }
        for i, v in enumerate(["1", "1", *("0" * 28)])
    ]
    every_third = [
        {**m, "data": {"params": [{"key": "q", "value": str(int(i % 3 == 0))}]}} for i, m in enumerate(cache)
    ]
    for cached, text, tries, filled in (
        (cache, "params.p = '1'", 1, False),
        (every_third, "params.q = '1'", 2, True),
    ):
        with ModelStore() as store, small_first_pages():
            store.add(cached)
            page = compile_module.first_page(text, max_results=6)
            assert page is not None
            counting = _Counting(store._live(), page.search)
            with mock.patch.object(store, "_live", return_value=counting):
                found = store._first_page(page, 6)
            assert counting.runs == tries, text
            expected = [m.model_id for m in lmfilter.select(cached, text, max_results=6)]
            assert found == (expected if filled else None), text
            assert store.ids(text, max_results=6) == expected


def test_a_first_page_by_hostile_names_is_the_first_of_what_select_answers() -> None:
    """Names that are quotes, backslashes, a NUL, ``.``, ``..``, ``/``, emoji and blanks, as the threshold a
    first page is bounded by (a parameter, never SQL text), in both orders."""
    cache = _cache()
    for i, name in enumerate([".", "..", "/", "a\x00b", "\x00"]):
        cache.append(
            {"info": {"model_id": f"n-{i}", "name": name}, "data": {"params": [{"key": "p", "value": ""}]}}
        )
    text = "params.p != 'never'"
    with ModelStore() as store, small_first_pages():
        store.add(cache)
        for ascending in (True, False):
            order_by = [{"field_name": "name", "ascending": ascending}]
            for size in (1, 2, 5, len(cache)):
                expected = [m.model_id for m in lmfilter.select(cache, text, order_by=order_by)][:size]
                assert first_page_ids(store, text, size, order_by=order_by) == expected, (ascending, size)


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
