"""Spark answers what ``lmfilter.select`` answers: ``lmfilter.spark`` over the Parquet export of a
:class:`~lmfilter.ModelStore` (or tables of that layout), on pyspark in local mode.

One SparkSession serves the whole test session. The conformance cases run as batches of searches
(:func:`lmfilter.spark.select_many`) over views of the tables cached once, since a Spark job's start costs as
much as a small search; :func:`lmfilter.spark.select` itself runs the Parquet files where they lie.

Skipped (with the reason) when pyspark or Java is missing; under ``$CI`` that fails instead.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import uuid
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any
from unittest import mock

import pytest
import sqlglot
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from sqlglot import exp

import lmfilter
import lmfilter.spark
from lmfilter.sql import ModelStore, to_sql
from tests.strategies import models, trees
from tests.test_sql import (
    TRICKY_FILTERS,
    _cache,
    _quoted,
    dataset_entries,
    every_key_pivoted,
    orders,
    targets,
)

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

JSON = dict[str, Any]
COMPARED: dict[str, int] = {}  # cases compared, per group, for the closing note


def _missing() -> str | None:
    """Why Spark cannot run here, or None."""
    try:
        import pyspark  # noqa: F401
    except ImportError:
        return "pyspark is not installed (pip install 'lmfilter[spark]')"
    if not (os.environ.get("JAVA_HOME") or shutil.which("java")):
        return "Java is not installed (pyspark needs a JVM: Java 17 or later)"
    return None


@pytest.fixture(scope="session")
def spark() -> Iterator[SparkSession]:
    """One local SparkSession for every test here, stopped at the end."""
    why = _missing()
    if why is not None:
        if os.environ.get("CI"):
            pytest.fail(why, pytrace=False)
        pytest.skip(why)
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master("local[2]")
        .appName("lmfilter-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.driver.host", "127.0.0.1")  # the address blocks are fetched at, not the LAN's
        # Tables of dozens of rows, hundreds of small searches: what costs is planning each, not running it.
        # One partition is plenty; no adaptive re-planning, broadcast jobs or code generation per query
        # (interpreted expressions mean what generated code means, for a third of the time).
        .config("spark.sql.shuffle.partitions", "1")
        .config("spark.sql.adaptive.enabled", "false")
        .config("spark.sql.autoBroadcastJoinThreshold", "-1")
        .config("spark.sql.codegen.wholeStage", "false")
        .config("spark.sql.codegen.factoryMode", "NO_CODEGEN")
        .config("spark.sql.session.timeZone", "UTC")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("OFF")
    try:
        yield session
    finally:
        session.stop()


def export(models: Sequence[JSON] | Any, folder: Path) -> Path:
    """The models as ModelStore.to_parquet writes them, in ``folder``."""
    with ModelStore() as store:
        store.add(models)
        store.to_parquet(folder)
    return folder


def cached_views(spark: SparkSession, folder: Path) -> dict[str, str]:
    """The four tables of an export as cached temporary views of their own names: a ``tables`` mapping."""
    names = {}
    for table in lmfilter.spark.TABLES:
        name = f"t_{uuid.uuid4().hex}_{table}"
        spark.read.parquet(str(folder / f"{table}.parquet")).cache().createOrReplaceTempView(name)
        names[table] = name
    return names


def expected_ids(cache: Sequence[JSON] | Any, search: Mapping[str, Any]) -> list[str]:
    """What lmfilter.select returns for a search of select_many (its experiment ids kept first)."""
    wanted = search.get("experiment_ids")
    kept = [m for m in cache if wanted is None or m["info"].get("experiment_id") in wanted]
    found = lmfilter.select(
        kept,
        search.get("filter"),
        datasets=search.get("datasets"),
        order_by=search.get("order_by"),
        target=search.get("target", "mlflow"),
        max_results=search.get("max_results"),
    )
    return [m.model_id for m in found]


def assert_batch_agrees(
    spark: SparkSession,
    cache: Sequence[JSON] | Any,
    searches: Sequence[Mapping[str, Any]],
    tables: Mapping[str, str],
    group: str,
) -> None:
    found = lmfilter.spark.select_many(spark, searches, tables=tables)
    assert len(found) == len(searches)
    for search, ids in zip(searches, found, strict=True):
        assert ids == expected_ids(cache, search), search
    COMPARED[group] = COMPARED.get(group, 0) + len(searches)


# ---- texts, numbers and patterns Spark reads its own way ----------------------------------------------

# Beyond test_sql's texts: Java's regular expressions end a line at U+2028 and U+0085 as well as at \n, and
# read \v as any vertical whitespace; a NUL, a $, braces (pyspark formats the text), Spark's own escapes.
SPARK_TEXTS = [
    "5\u2028",
    "5\u0085",
    "5\u2029",
    " 5\u2028 ",
    "5\x0b",
    "\u20285",
    "a\x00b",
    "\x00",
    "$",
    "a$",
    "{a}",
    "{",
    "}}",
    "\\'",
    "\\%",
    "\\_",
    "\\u0041",
    "\\0",
    "-0.0",
    "0.0",
    "-0",
    "1e308",
    "1.7976931348623157e308",
    "1e-400",
    "𝟓",
    "\U0001f600x",
    "\uffff",
    "\ud7ff",
    "ǅ",
    "ß",
    "ẞ",
    "İ",
    "K",  # Kelvin sign: lower() in Java folds it to k
]


def _spark_cache() -> list[JSON]:
    return [
        {
            "info": {
                "model_id": f"s-{i:02d}",
                "name": text,
                "creation_timestamp_ms": i % 4,
                "tags": [{"key": "t", "value": text}],
            },
            "data": {
                "params": [{"key": "p", "value": text}],
                "metrics": [
                    {"key": "acc", "value": [0.0, -0.0, 1.5, -2.0][i % 4], "step": 0, "timestamp": i}
                ],
            },
        }
        for i, text in enumerate(SPARK_TEXTS)
    ]


SPARK_FILTERS = [
    *(f"params.p = {_quoted(t)}" for t in SPARK_TEXTS),
    *(f"tags.t LIKE {_quoted(t)}" for t in SPARK_TEXTS),
    *(f"name ILIKE {_quoted(t)}" for t in ["k", "K", "ß", "SS", "i", "İ", "ǆ", "%$", "_", "%\u2028"]),
    *(f"params.p {op} {n}" for op in ("<", ">=", "=", "!=") for n in ("5", "0", "-0.0", "1e308", "1e999")),
    "params.p LIKE '5_'",
    "params.p LIKE '%'",
    "tags.t LIKE '_'",
    "tags.t LIKE '__'",
    "metrics.acc = 0",
    "metrics.acc = -0.0",
    "metrics.acc < 0",
    "metrics.acc BETWEEN -0.0 AND 0",
    "tags.t IN ('{a}', '$', '\\')",
]


def test_texts_and_numbers_spark_reads_its_own_way(spark: SparkSession, tmp_path: Path) -> None:
    """test_sql's hostile texts and numbers, and Spark's own: each literal and pattern means on Spark what
    lmfilter means (text in order by code point, LIKE whole-text with no escape, ILIKE folding ASCII only)."""
    cache = _cache() + _spark_cache()
    tables = cached_views(spark, export(cache, tmp_path / "tricky"))
    by_name = [{"field_name": "name", "ascending": True}]
    texts = [*TRICKY_FILTERS, *SPARK_FILTERS]
    searches: list[JSON] = [
        *({"filter": text, "order_by": by_name} for text in texts),
        # 3.17 differs in how it reads metrics only
        *({"filter": text, "target": "mlflow-3.17"} for text in texts if "metrics." in text),
    ]
    assert_batch_agrees(spark, cache, searches, tables, "texts")


def test_a_number_in_a_param_is_what_python_reads_there() -> None:
    """Java reads $ before a final U+2028 as the end, and \\v as U+2028 too: Spark's pattern says neither."""
    sql = to_sql("params.p > 1", dialect="spark")
    assert "\\\\z'" in sql, sql
    assert "$'" not in sql, sql
    assert "\\\\v" not in sql, sql
    assert "\\v]" in to_sql("params.p > 1", dialect="duckdb")


def test_ordering_text_by_code_point_past_the_basic_plane(spark: SparkSession, tmp_path: Path) -> None:
    """UTF-16 (Java's strings) puts U+FFFF after U+1F600; Spark orders by UTF-8 bytes, as Python by code
    point: what select sorts, Spark sorts alike, ascending and descending."""
    cache = _spark_cache()
    folder = export(cache, tmp_path / "order")
    for ascending in (True, False):
        order = [{"field_name": "name", "ascending": ascending}]
        ids = lmfilter.spark.select(spark, order_by=order, tables=folder)
        assert ids == expected_ids(cache, {"order_by": order})
        names = {m["info"]["model_id"]: m["info"]["name"] for m in cache}
        assert [names[i] for i in ids] == sorted(names.values(), reverse=not ascending)


# ---- the conformance table, on the servers' models ---------------------------------------------------


@pytest.mark.parametrize("version_index", [0, 1], ids=["3.17.2", "3.18.0"])
def test_conformance_table(
    spark: SparkSession, mlflow_servers: Mapping[str, Any], tmp_path: Path, version_index: int
) -> None:
    """tests/test_conformance.py's table (the native filters, datasets and orders the servers answer, and
    the filters beyond them) on the models each real server holds: Spark answers what select answers, which
    test_conformance holds equal to the server's answers."""
    from tests.servers import TARGETS, VERSIONS
    from tests.test_conformance import DATASET_CHOICES, EXTENDED, FILTERS, ORDERS, TRAIN1

    version = VERSIONS[version_index]
    seeded = mlflow_servers[version].seeded
    cache = list(seeded.models.values())
    tables = cached_views(spark, export(cache, tmp_path / "conformance"))
    target = TARGETS[version]
    cases: list[tuple[str, list[JSON] | None, list[JSON] | None]] = [
        *((text, None, None) for text in FILTERS),
        *(
            (text, datasets, None)
            for text in ["", "metrics.acc > 0.5", "metrics.loss < 1 AND params.lr != ''"]
            for datasets in DATASET_CHOICES
        ),
        *(
            (text, datasets, order)
            for text in ["", "metrics.acc > 0.2"]
            for order in ORDERS
            for datasets in (None, [TRAIN1])
        ),
        *(
            (text, datasets, order)
            for text in EXTENDED
            for datasets in (None, [TRAIN1], [{"dataset_name": "train"}])
            for order in ORDERS[:5]
        ),
    ]
    searches = []
    for text, datasets, order in cases:
        try:
            lmfilter.parse(text)
        except lmfilter.FilterError:  # the table's filter the server refuses: so does Spark's side
            with pytest.raises(lmfilter.FilterError):
                lmfilter.spark.select_many(spark, [{"filter": text}], tables=tables)
            continue
        searches.append(
            {
                "filter": text,
                "datasets": datasets,
                "order_by": order,
                "target": target,
                "experiment_ids": seeded.experiment_ids,
            }
        )
    assert len(searches) > 250
    assert_batch_agrees(spark, cache, searches, tables, f"conformance {version}")


# ---- generated filters ----------------------------------------------------------------------------------


def drawn(strategy: st.SearchStrategy[Any], count: int) -> list[Any]:
    """``count`` values of a hypothesis strategy (generated, not shrunk), to run as one batch."""
    found: list[Any] = []

    @settings(
        max_examples=count,
        database=None,
        phases=[Phase.generate],
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def collect(value: Any) -> None:
        found.append(value)

    collect()
    return found


POOL = 8  # model caches, one experiment each: a search reads the union of some of them


@pytest.fixture(scope="module")
def pool(spark: SparkSession, tmp_path_factory: pytest.TempPathFactory) -> tuple[list[JSON], dict[str, str]]:
    """Caches drawn as test_sql draws them, each in an experiment of its own, in one set of cached views."""
    cache: list[JSON] = []
    for experiment, drawn_cache in enumerate(drawn(models(max_size=30), POOL)[:POOL]):
        for model in drawn_cache:
            model["info"]["model_id"] = f"e{experiment}-{model['info']['model_id']}"
            model["info"]["experiment_id"] = str(experiment)
            cache.append(model)
    return cache, cached_views(spark, export(cache, tmp_path_factory.mktemp("pool")))


searches = st.fixed_dictionaries(
    {
        "filter": trees,
        "experiment_ids": st.sets(st.sampled_from([str(i) for i in range(POOL)]), min_size=1).map(sorted),
        "target": targets,
        "datasets": dataset_entries,
        "order_by": orders,
        "max_results": st.none() | st.integers(0, 12),
    }
)


def test_generated_filters_datasets_and_orders(
    spark: SparkSession, pool: tuple[list[JSON], dict[str, str]]
) -> None:
    cache, tables = pool
    assert_batch_agrees(spark, cache, drawn(searches, 150), tables, "generated")


def test_generated_filters_through_the_pivot_of_many_keys(
    spark: SparkSession, pool: tuple[list[JSON], dict[str, str]]
) -> None:
    cache, tables = pool
    with every_key_pivoted():
        assert_batch_agrees(spark, cache, drawn(searches, 50), tables, "generated, pivoted")


# ---- select itself, the Parquet files where they lie ---------------------------------------------------


def test_select_over_a_parquet_export_and_as_a_dataframe(spark: SparkSession, tmp_path: Path) -> None:
    cache = _cache()
    for i, model in enumerate(cache):
        model["info"]["experiment_id"] = str(i % 3)
    folder = export(cache, tmp_path / "export")
    kwargs: JSON = {
        "order_by": [{"field_name": "metrics.acc", "ascending": False}, {"field_name": "name"}],
        "max_results": 7,
    }
    expected = expected_ids(cache, {"filter": "params.p LIKE '%5%' OR tags.t IS NULL", **kwargs})
    ids = lmfilter.spark.select(spark, "params.p LIKE '%5%' OR tags.t IS NULL", tables=folder, **kwargs)
    assert ids == expected
    assert ids
    frame = lmfilter.spark.select(
        spark, "params.p LIKE '%5%' OR tags.t IS NULL", tables=folder, as_dataframe=True, **kwargs
    )
    assert frame.columns == ["model_id"]
    assert [row.model_id for row in frame.collect()] == expected
    kept = lmfilter.spark.select(spark, None, ["1", 2], tables=str(folder))
    assert kept == expected_ids(cache, {"experiment_ids": ["1", "2"]})
    assert lmfilter.spark.select(spark, None, [], tables=folder) == []
    assert lmfilter.spark.select(spark, "name = 'x'", tables=folder, max_results=0) == []


@pytest.mark.parametrize(
    "name",
    [
        "with space",
        'it\'s "quoted" `ticked`',
        "glob [a]{b,c}*?\\",
        "colon:hash#percent%20",
        "ünïcödé 😀",
        " lead and trail ",
    ],
)
def test_a_parquet_directory_of_any_name(spark: SparkSession, tmp_path: Path, name: str) -> None:
    """Spark reads a path through Hadoop, which reads {, [, *, ? and \\ as a glob: each stands for itself."""
    cache = _cache()[:5]
    folder = export(cache, tmp_path / name)
    (tmp_path / "glob a").mkdir()  # what the glob [a] would read, were it one
    via_dots = tmp_path / "elsewhere" / ".." / name
    (tmp_path / "elsewhere").mkdir()
    for where in (folder, via_dots):
        assert lmfilter.spark.select(spark, "params.p != 'x'", tables=where) == expected_ids(
            cache, {"filter": "params.p != 'x'"}
        )


def test_an_empty_store(spark: SparkSession, tmp_path: Path) -> None:
    from lmfilter.sql.tables import TABLES

    assert lmfilter.spark.TABLES == TABLES  # the same four, whether DuckDB is installed or not
    folder = export([], tmp_path / "empty")
    assert lmfilter.spark.select(spark, "metrics.acc > 0 OR params.a IS NULL", tables=folder) == []
    assert lmfilter.spark.select_many(spark, [{}, {"filter": "name = 'a'"}], tables=folder) == [[], []]
    assert lmfilter.spark.select_many(spark, [], tables=folder) == []


def test_a_huge_filter(spark: SparkSession, tmp_path: Path) -> None:
    """Hundreds of keys (the pivot past 16), deep nesting, a long IN list: one statement Spark plans."""
    cache = [
        {
            "info": {
                "model_id": f"m{i:03d}",
                "tags": [{"key": f"t{j}", "value": str(i % 7)} for j in range(0, 40, 3)],
            },
            "data": {
                "params": [{"key": f"p{i % 150}", "value": str(i)}],
                "metrics": [{"key": "acc", "value": i / 10}],
            },
        }
        for i in range(120)
    ]
    wide = " OR ".join(f"params.p{i} = '{i}'" for i in range(150))
    tagged = " AND ".join(f"(tags.t{j} IS NULL OR tags.t{j} != '3')" for j in range(40))
    deep = "metrics.acc > 0"
    for i in range(60):
        deep = f"({deep} {'AND' if i % 2 else 'OR'} params.p{i} != '{i + 1}')"
    listed = f"params.p1 NOT IN ({', '.join(repr(str(i)) for i in range(300))})"
    folder = export(cache, tmp_path / "huge")
    searches: list[JSON] = [
        {"filter": f"({wide}) AND {tagged}"},
        {"filter": deep},
        {"filter": f"{listed} OR {tagged}"},
    ]
    for search in searches:
        assert lmfilter.spark.select(spark, tables=folder, **search) == expected_ids(cache, search)


# ---- hostile tables -------------------------------------------------------------------------------------


def test_a_mapping_of_the_session_s_tables(spark: SparkSession, tmp_path: Path) -> None:
    """Names of the session's tables in Spark SQL's syntax, each part quoted as it needs."""
    cache = _cache()
    folder = export(cache, tmp_path / "tables")
    tables = {}
    for table in lmfilter.spark.TABLES:
        view = f"odd `{table}` view.{uuid.uuid4().hex[:6]}"
        tables[table] = "`" + view.replace("`", "``") + "`"
        spark.read.parquet(str(folder / f"{table}.parquet")).createOrReplaceTempView(tables[table])
    search: JSON = {"filter": "params.p < 5 AND tags.t LIKE '%'", "order_by": [{"field_name": "name"}]}
    assert lmfilter.spark.select(spark, tables=tables, **search) == expected_ids(cache, search)
    sql = lmfilter.spark.spark_sql(tables=tables, **search)
    assert tables["logged_model_params"] in sql


def test_without_a_mapping_the_tables_are_the_session_s_own(spark: SparkSession, tmp_path: Path) -> None:
    """``tables=None``: logged_models and the rest, by those names, in the current catalog and schema."""
    cache = _cache()
    for table, view in cached_views(spark, export(cache, tmp_path / "own")).items():
        spark.table(view).createOrReplaceTempView(table)
    try:
        search: JSON = {"filter": "params.p >= 0 OR name ILIKE '%A%'", "order_by": [{"field_name": "name"}]}
        assert lmfilter.spark.select(spark, **search) == expected_ids(cache, search)
    finally:
        for table in lmfilter.spark.TABLES:
            spark.catalog.dropTempView(table)


@pytest.mark.parametrize(
    ("tables", "message"),
    [
        ({"logged_models": "a"}, "no name for logged_model_params, logged_model_tags, logged_model_metrics"),
        ({**{t: t for t in lmfilter.spark.TABLES}, "runs": "r"}, "'runs' is not one of MLflow's tables"),
        (
            {**{t: t for t in lmfilter.spark.TABLES}, "logged_models": "x; DROP TABLE y"},
            "is not a table name",
        ),
        ({**{t: t for t in lmfilter.spark.TABLES}, "logged_models": "my table"}, "between backticks"),
        ({**{t: t for t in lmfilter.spark.TABLES}, "logged_models": "`open"}, "is not a table name"),
        ({**{t: t for t in lmfilter.spark.TABLES}, "logged_models": ""}, "is not a table name"),
        ({**{t: t for t in lmfilter.spark.TABLES}, "logged_models": 5}, "int is not a table name"),
        ({t: f"nowhere_{t}" for t in lmfilter.spark.TABLES}, "Spark cannot read `nowhere_logged_models`"),
        (["logged_models"], "expected a mapping"),
        ("", "'' is not the path of a directory"),
        ("s3://bucket/export", "make tables or views of them"),
    ],
)
def test_a_bad_tables_mapping_is_said_so(spark: SparkSession, tables: Any, message: str) -> None:
    with pytest.raises(lmfilter.spark.SparkError, match=re.escape(message)):
        lmfilter.spark.select(spark, "name = 'a'", tables=tables)


@pytest.mark.parametrize(
    "fault", ["no directory", "a file missing", "not parquet", "another table's columns", "wrong type"]
)
def test_a_parquet_directory_of_another_layout_is_said_so(
    spark: SparkSession, tmp_path: Path, fault: str
) -> None:
    folder = export(_cache()[:3], tmp_path / "export")
    expected = {
        "no directory": "no such directory",
        "a file missing": "no logged_model_tags.parquet",
        "not parquet": "Spark cannot read it",
        "another table's columns": "no column param_key",
        "wrong type": "column status is string, not integer",
    }[fault]
    if fault == "no directory":
        folder = tmp_path / "nowhere"
    elif fault == "a file missing":
        (folder / "logged_model_tags.parquet").unlink()
    elif fault == "not parquet":
        (folder / "logged_model_metrics.parquet").write_bytes(b"PAR1 not really\n" * 10)
    elif fault == "another table's columns":
        shutil.copy(folder / "logged_model_tags.parquet", folder / "logged_model_params.parquet")
    else:
        import duckdb

        target = str(folder / "logged_models.parquet")
        duckdb.sql(
            f"COPY (SELECT * REPLACE (CAST(status AS VARCHAR) AS status) FROM read_parquet('{target}')) "
            f"TO '{target}.new' (FORMAT parquet)"
        )
        os.replace(target + ".new", target)
    with pytest.raises(lmfilter.spark.SparkError, match=re.escape(expected)):
        lmfilter.spark.select(spark, "name = 'a'", tables=folder)


def test_a_column_that_compares_text_by_another_collation_is_refused(
    spark: SparkSession, tmp_path: Path
) -> None:
    folder = export(_cache()[:3], tmp_path / "export")
    tables = cached_views(spark, folder)
    from pyspark.sql.functions import expr

    view = f"lcase_{uuid.uuid4().hex}"
    models = spark.table(tables["logged_models"])
    models.withColumn("name", expr("name COLLATE UTF8_LCASE")).createOrReplaceTempView(view)
    with pytest.raises(
        lmfilter.spark.SparkError, match="column name compares text by the UTF8_LCASE collation"
    ):
        lmfilter.spark.select(spark, "name = 'a'", tables={**tables, "logged_models": view})


def test_a_session_reading_literals_raw_is_refused(spark: SparkSession, tmp_path: Path) -> None:
    folder = export(_cache()[:3], tmp_path / "export")
    spark.conf.set("spark.sql.parser.escapedStringLiterals", "true")
    try:
        with pytest.raises(lmfilter.spark.SparkError, match="escapedStringLiterals"):
            lmfilter.spark.select(spark, "tags.t = 'a\\b'", tables=folder)
    finally:
        spark.conf.set("spark.sql.parser.escapedStringLiterals", "false")


@pytest.mark.parametrize(
    ("search", "error", "message"),
    [
        ({"filter": "name = "}, lmfilter.FilterError, "LMF"),
        ({"order_by": [{"field_name": "params.x"}]}, lmfilter.RequestError, "order_by"),
        ({"max_results": -1}, lmfilter.RequestError, "max_results"),
        ({"experiment_ids": ["1; DROP TABLE x"]}, lmfilter.RequestError, "not an experiment id"),
        ({"filters": "name = 'a'"}, lmfilter.spark.SparkError, "'filters' is none of select's arguments"),
    ],
)
def test_a_bad_search_is_refused_before_spark_runs(
    spark: SparkSession, tmp_path: Path, search: JSON, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        lmfilter.spark.select_many(spark, [{"filter": "name = 'a'"}, search], tables=tmp_path / "never read")


def test_without_pyspark_the_error_says_what_to_install(tmp_path: Path) -> None:
    missing = mock.patch.dict(sys.modules, {"pyspark": None, "pyspark.errors": None})
    with missing, pytest.raises(lmfilter.spark.SparkError, match=r"pip install 'lmfilter\[spark\]'"):
        lmfilter.spark.select(mock.Mock(), "name = 'a'", tables=tmp_path)


def test_the_statement_for_databricks_sql_names_the_tables_given() -> None:
    tables = {t: f"main.mlflow.{t}" for t in lmfilter.spark.TABLES}
    sql = lmfilter.spark.spark_sql("params.lr = '0.1' AND metrics.acc > 0.9", ["7"], tables=tables)
    assert "`main`.`mlflow`.`logged_model_params`" in sql
    assert "`main`.`mlflow`.`logged_model_metrics`" in sql
    assert "FROM `main`.`mlflow`.`logged_models` AS m" in sql
    tree = sqlglot.parse_one(sql, read="databricks")
    ctes = {cte.alias for cte in tree.find_all(exp.CTE)}  # the models found first, named in the statement
    named = {".".join(part.name for part in table.parts) for table in tree.find_all(exp.Table)}
    assert named - ctes <= set(tables.values()), named  # no table of the default names is read
    plain = lmfilter.spark.spark_sql("name = 'a'")
    assert plain == to_sql("name = 'a'", dialect="spark").replace(
        "FROM logged_models", "FROM `logged_models`"
    )


def test_a_jvm_error_says_why_in_its_first_line() -> None:
    from lmfilter.spark import _first_line

    jvm = Exception(
        "An error occurred while calling o56.collectToPython.\n: org.apache.spark.SparkException: x\n\tat"
    )
    assert _first_line(jvm) == "org.apache.spark.SparkException: x"
    assert _first_line(Exception("[TABLE_OR_VIEW_NOT_FOUND] t\n== SQL ==")) == "[TABLE_OR_VIEW_NOT_FOUND] t"


def test_report_cases_compared() -> None:
    """The closing note's counts (printed with -s)."""
    print(f"\nSpark cases compared with select: {COMPARED}")
