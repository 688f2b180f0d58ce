"""``open_database("postgresql://...")`` and ``lmfilter search --db postgresql://...``: MLflow's tracking
database on a real PostgreSQL, read directly, answers what the MLflow server on it answers.

The judge is the server: MLflow 3.18.0 on a C-collated database (``mlflow_on_postgres``), and MLflow 3.17.2
with its tables in a schema of its own in an ICU ``en-US`` database (``mlflow_317_on_postgres``), where texts
sort and ILIKE folds by the locale. Each is compared on the conformance table, on hypothesis-generated
filters x datasets x order_by, and through the command line. Beside them, clusters of the tests' own
(``tests/postgres.py``) hold the hostile cases: logins, missing databases, a server stopped mid-query,
databases that are not MLflow's, statements that would write, and a missing driver.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any
from urllib.parse import quote

import psycopg
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import lmfilter
from lmfilter import ast
from lmfilter.ast import Entity, ValueType
from lmfilter.cli import EXIT_ERRORS, EXIT_OK
from lmfilter.errors import LmfilterError
from lmfilter.sql import to_sql
from lmfilter.sql.mlflow_db import (
    MLFLOW_3_17_2_HEAD,
    MLFLOW_3_18_0_HEAD,
    DatabaseUnavailableError,
    NotAnMlflowDatabaseError,
    QueryInterruptedError,
    QueryTooLargeError,
    ReadOnlyError,
    TrackingDatabase,
    TrackingDatabaseError,
    open_database,
)
from tests.postgres import (
    ICU_317,
    SCHEMA_317,
    PostgresError,
    PostgresServer,
    database_of,
    started_or_skipped,
    url_of,
)
from tests.servers import TARGETS, RestError, SeededServer, search_all
from tests.test_cli_sql import EXTENDED as CLI_EXTENDED
from tests.test_cli_sql import NATIVE as CLI_NATIVE
from tests.test_cli_sql import one_error, options, run, same_answer, where_args
from tests.test_conformance import (
    DATASET_CHOICES,
    EXTENDED,
    FILTERS,
    ORDERS,
    TRAIN1,
    Vocabulary,
    native_requests,
)
from tests.test_sql_mlflow_db import _DDL

JSON = dict[str, Any]
Case = tuple[str, Sequence[JSON] | None, Sequence[JSON] | None]
"""A search: filter, datasets, order_by."""
VERSIONS = ("3.18.0", "3.17.2")
SERVERS = {"3.18.0": "mlflow_on_postgres", "3.17.2": "mlflow_317_on_postgres"}


# ---- the servers' databases -------------------------------------------------------------------------------


@pytest.fixture(params=VERSIONS)
def seeded(request: pytest.FixtureRequest) -> SeededServer:
    """Each MLflow on PostgreSQL in turn."""
    server: SeededServer = request.getfixturevalue(SERVERS[request.param])
    return server


@pytest.fixture
def db(seeded: SeededServer) -> Iterator[TrackingDatabase]:
    with open_database(url_of(seeded.server)) as database:
        yield database


def _error(call: Callable[[], object], kind: type[TrackingDatabaseError]) -> str:
    """The message of the error ``call`` raises: one line of ``kind``, an LmfilterError."""
    with pytest.raises(kind) as caught:
        call()
    assert isinstance(caught.value, LmfilterError)
    message = str(caught.value)
    assert "\n" not in message
    return message


def _rest(seeded: SeededServer, case: Case) -> list[str]:
    text, datasets, order_by = case
    return search_all(
        seeded.server, seeded.seeded.experiment_ids, text or None, datasets, order_by, page_size=1000
    )


def _read(db: TrackingDatabase, seeded: SeededServer, case: Case) -> list[str]:
    text, datasets, order_by = case
    return db.ids(
        db.sql(text, datasets=datasets, order_by=order_by, experiment_ids=seeded.seeded.experiment_ids)
    )


def _native(seeded: SeededServer, text: str) -> bool:
    target = TARGETS[seeded.server.version]
    return not [d for d in lmfilter.check(text, target, native=True) if d.severity == "error"]


def _differing(db: TrackingDatabase, seeded: SeededServer, cases: Sequence[Case]) -> list[object]:
    wrong: list[object] = []
    for case in cases:
        got, want = _read(db, seeded, case), _rest(seeded, case)
        if got != want:
            wrong.append((case, got, want))
    return wrong


# ---- opening ----------------------------------------------------------------------------------------------


def test_the_url_forms_mlflow_users_have(
    mlflow_on_postgres: SeededServer, postgres_server: PostgresServer
) -> None:
    server = mlflow_on_postgres.server
    database, port = database_of(server), postgres_server.port
    forms = [
        url_of(server),
        url_of(server, "postgres"),
        url_of(server, "postgresql+psycopg2"),
        url_of(server, "POSTGRESQL+psycopg"),
        f"postgresql://postgres:any-password@127.0.0.1:{port}/{database}?sslmode=disable&application_name=x",
        f"postgresql:///{database}?host=127.0.0.1&port={port}&user=postgres",  # libpq's keywords as options
        f"postgresql://postgres@127.0.0.1:{port}/{database}?options=-c%20search_path%3Dpublic&connect_timeout=3",
        f"postgresql://postgres@127.0.0.1:{port}/{quote(database)}?options=-c%20default_transaction_read_only%3Doff",
    ]
    for url in forms:
        with open_database(url) as db:
            assert (db.dialect, db.target, db.revision, db.version_label, db.path, db.warning) == (
                "postgres",
                "mlflow",
                MLFLOW_3_18_0_HEAD,
                "3.18.0",
                None,
                None,
            ), url
            assert db.describe().endswith(
                f"(postgres, MLflow 3.18.0, alembic revision {MLFLOW_3_18_0_HEAD}, schema 'public')"
            )
            assert db.query("SHOW transaction_read_only") == [("on",)]
            assert db.query("SHOW standard_conforming_strings") == [("on",)]
            assert db.query("SHOW search_path") == [("public",)]


def test_a_schema_of_its_own_and_the_version_that_wrote_it(mlflow_317_on_postgres: SeededServer) -> None:
    server = mlflow_317_on_postgres.server
    assert "csearch_path" in url_of(server)
    with open_database(url_of(server)) as db:
        assert (db.target, db.revision, db.version_label, db.warning) == (
            "mlflow-3.17",
            MLFLOW_3_17_2_HEAD,
            "3.17.2",
            None,
        )
        assert f"schema {SCHEMA_317!r}" in db.describe()
        assert db.query("SHOW search_path") == [(SCHEMA_317,)]
        (collation,) = db.query(
            "SELECT datlocprovider::text || ':' || daticulocale FROM pg_database "
            "WHERE datname = current_database()"
        )
        assert collation == (f"i:{ICU_317}",)
    # the same database without the schema: the tables are not where MLflow's URL says they are
    bare = url_of(server).partition("?")[0]
    message = _error(lambda: open_database(bare), NotAnMlflowDatabaseError)
    assert "schema 'public'" in message
    assert "csearch_path" in message
    with open_database(bare + f"?options=-csearch_path%3D{SCHEMA_317}%2Cpublic") as db:
        assert db.target == "mlflow-3.17"
        assert db.query("SHOW search_path") == [(SCHEMA_317,)]  # pinned to the one schema read


# ---- the same answers as the server ----------------------------------------------------------------------


@pytest.mark.parametrize("text", FILTERS)
def test_native_filters_answer_as_the_server(db: TrackingDatabase, seeded: SeededServer, text: str) -> None:
    """Each filter of the conformance table, under every order of it, on both servers (a backslash in a
    LIKE pattern escapes, as MLflow on PostgreSQL reads it)."""
    if not _native(seeded, text):
        pytest.skip(f"not native for {seeded.server.version}")
    cases: list[Case] = [(text, None, order_by) for order_by in ORDERS]
    assert _differing(db, seeded, cases) == []


@pytest.mark.parametrize("datasets", DATASET_CHOICES, ids=str)
def test_datasets_answer_as_the_server(
    db: TrackingDatabase, seeded: SeededServer, datasets: list[JSON] | None
) -> None:
    texts = ["", "metrics.acc > 0.5", "metrics.loss < 1 AND params.lr != ''", "params.optimizer = 'adam'"]
    orders = [None, ORDERS[1], ORDERS[3], ORDERS[4]]
    cases: list[Case] = [(text, datasets, order) for text in texts for order in orders]
    assert _differing(db, seeded, cases) == []


def test_the_comparisons_can_fail(db: TrackingDatabase, seeded: SeededServer) -> None:
    """Most filters keep some models and leave out others, and the orders differ: a wrong answer shows."""
    models = len(seeded.seeded.models)
    kept = [len(_rest(seeded, (text, None, None))) for text in FILTERS if _native(seeded, text)]
    assert sum(0 < n < models for n in kept) > len(kept) // 2
    assert len({tuple(_rest(seeded, ("", None, order))) for order in ORDERS}) > len(ORDERS) // 2


# Patterns with a backslash: MLflow on PostgreSQL sends them as they are, so it escapes the next character
BACKSLASHED = [
    r"tags.note LIKE '%\_%'",
    r"tags.note LIKE 'a\_b'",
    r"tags.note LIKE 'a\%b'",
    r"tags.note LIKE '%\%%'",
    r"tags.note ILIKE '50\%'",
    r"tags.note LIKE 'a\xb'",
    r"tags.note LIKE 'a\%'",
    r"params.lr LIKE '%\_%'",
    r"params.lr ILIKE '%\\%'",
    r"name LIKE 'a\_b'",
    r"name ILIKE 'A\_%'",
    r"name LIKE 'a\__b'",
]


@pytest.mark.parametrize("text", BACKSLASHED)
def test_a_backslash_in_a_pattern_escapes_as_on_the_server(
    db: TrackingDatabase, seeded: SeededServer, text: str
) -> None:
    assert _native(seeded, text)
    cases: list[Case] = [(text, None, None), (text, None, [{"field_name": "name", "ascending": False}])]
    assert _differing(db, seeded, cases) == []


def test_the_backslash_cases_are_where_lmfilter_and_the_server_differ(
    mlflow_on_postgres: SeededServer,
) -> None:
    """Without MLflow's reading of a backslash (what select and the store do), some answers differ."""
    differ = 0
    for text in BACKSLASHED:
        found = lmfilter.select(mlflow_on_postgres.seeded.models.values(), text, target="mlflow")
        differ += sorted(m.model_id for m in found) != sorted(_rest(mlflow_on_postgres, (text, None, None)))
    assert differ >= 3


@pytest.mark.parametrize("pattern", ["a\\", "\\", "%\\_\\"])
def test_a_pattern_ending_in_a_backslash(db: TrackingDatabase, seeded: SeededServer, pattern: str) -> None:
    """PostgreSQL refuses a LIKE pattern that ends with its escape character; so does the server."""
    for text in (f"tags.note LIKE '{pattern}'", f"name ILIKE '{pattern}'"):
        with pytest.raises(RestError):
            _rest(seeded, (text, None, None))
        message = _error(functools.partial(_read, db, seeded, (text, None, None)), QueryTooLargeError)
        assert "ends with a backslash" in message
        assert "'\\\\'" in message


COLLATED: list[Case] = [
    ("", None, [{"field_name": "name"}]),
    ("", None, [{"field_name": "name", "ascending": False}]),
    ("", None, [{"field_name": "model_type"}, {"field_name": "name", "ascending": False}]),
    ("name ILIKE 'äp%'", None, None),
    ("name ILIKE 'ÄPFEL'", None, None),
    ("tags.team ILIKE 'äpfel'", None, [{"field_name": "name"}]),
    ("name ILIKE 'model-%'", None, [{"field_name": "name"}]),
    ("name ILIKE 'Ω%'", None, None),
]


def test_texts_sort_and_fold_by_the_databases_collation(mlflow_317_on_postgres: SeededServer) -> None:
    """On the ICU en-US database, names sort by the locale (a before B, Ä beside A) and ILIKE folds Ä and
    ä: as the server answers, and not as code points (what lmfilter's own reading gives there)."""
    seeded = mlflow_317_on_postgres
    with open_database(url_of(seeded.server)) as db:
        assert _differing(db, seeded, COLLATED) == []
        by_code_point = [
            db.ids(to_sql(text, datasets=d, order_by=o, target=db.target, dialect="postgres"))
            for text, d, o in COLLATED
        ]
    assert sum(got != _rest(seeded, case) for got, case in zip(by_code_point, COLLATED, strict=True)) >= 3


@pytest.mark.parametrize("datasets", [None, [TRAIN1]], ids=str)
def test_what_the_server_cannot_run_answers_as_select(
    mlflow_on_postgres: SeededServer, datasets: list[JSON] | None
) -> None:
    """Filters only lmfilter runs (OR, NOT, IS NULL, numeric params, ...) on the C-collated database: as
    select answers them over the same models."""
    seeded = mlflow_on_postgres
    with open_database(url_of(seeded.server)) as db:
        for text in EXTENDED:
            for order in ORDERS[:5]:
                found = lmfilter.select(
                    seeded.seeded.models.values(), text, datasets=datasets, order_by=order
                )
                want = [m.model_id for m in found]
                assert _read(db, seeded, (text, datasets, order)) == want, (text, datasets, order)


@st.composite
def backslash_requests(draw: st.DrawFn) -> Case:
    """A LIKE or ILIKE whose pattern holds backslashes, on a text field of the seeded models."""
    field = draw(
        st.sampled_from(
            [
                ast.Field(Entity.TAG, "note", ValueType.STRING),
                ast.Field(Entity.PARAM, "lr", ValueType.STRING),
                ast.Field(Entity.ATTRIBUTE, "name", ValueType.STRING),
            ]
        )
    )
    parts = draw(st.lists(st.sampled_from(["\\", "%", "_", "a", "b", "x", "5", "0"]), max_size=5))
    pattern = "".join(parts)
    assume((len(pattern) - len(pattern.rstrip("\\"))) % 2 == 0)  # one ending in an escape is refused
    tree = ast.Like(field, ast.String(pattern), case_insensitive=draw(st.booleans()))
    return lmfilter.format(tree), None, None


def _generated(seeded: SeededServer, examples: int) -> None:
    vocab = Vocabulary(list(seeded.seeded.models.values()))
    target = TARGETS[seeded.server.version]
    with open_database(url_of(seeded.server)) as db:

        @settings(max_examples=examples, deadline=None, suppress_health_check=list(HealthCheck))
        @given(st.one_of(native_requests(vocab, with_status=target == "mlflow"), backslash_requests()))
        def compare(case: Case) -> None:
            assume(_native(seeded, case[0]))
            assert _read(db, seeded, case) == _rest(seeded, case), case

        compare()


def test_generated_requests_answer_as_the_server(seeded: SeededServer) -> None:
    """Hypothesis: filters x datasets x order_by (strings ordered and folded, NULLs, numbers, statuses)."""
    _generated(seeded, 120)


# ---- the command line -----------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["ids", "json", "table"])
def test_search_db_prints_what_the_server_prints(seeded: SeededServer, fmt: str) -> None:
    url, base = url_of(seeded.server), seeded.server.base_url
    for text, datasets, order_by in CLI_NATIVE:
        argv = ["search", text, *where_args(seeded), "--format", fmt, *options(datasets, order_by)]
        served = run(*argv, "--server", base)
        assert served[0] == EXIT_OK, served[2]
        read = run(*argv, "--db", url)
        assert (read[0], read[2]) == (EXIT_OK, "")
        assert same_answer(fmt, read[1], served[1]), (seeded.server.version, text, datasets, order_by)
        assert read[1].strip()


def test_search_db_prints_what_eval_prints_beyond_the_native_language(
    mlflow_on_postgres: SeededServer, tmp_path: Any
) -> None:
    saved = tmp_path / "models.json"
    saved.write_text(
        json.dumps({"models": list(mlflow_on_postgres.seeded.models.values())}), encoding="utf-8"
    )
    for text, datasets, order_by in CLI_EXTENDED:
        for fmt in ("ids", "json"):
            more = [*options(datasets, order_by), "--format", fmt]
            evaluated = run("eval", text, "--models", str(saved), "--target", "mlflow", *more)
            read = run(
                "search",
                text,
                *where_args(mlflow_on_postgres),
                "--db",
                url_of(mlflow_on_postgres.server),
                *more,
            )
            assert (read[0], read[2]) == (EXIT_OK, "")
            if fmt == "json":  # a model's GET (the saved models) and search list its params in other orders
                assert _by_key(read[1]) == _by_key(evaluated[1]), text
            else:
                assert read[1] == evaluated[1], text


def _by_key(answer: str) -> list[JSON]:
    """Models of a JSON answer with their params and tags sorted by key: MLflow on PostgreSQL gives a model's
    params in the order its plan reads them (search: as written; GET: by key)."""
    models: list[JSON] = json.loads(answer)
    for model in models:
        model["data"]["params"].sort(key=lambda item: item["key"])
        model["info"].get("tags", []).sort(key=lambda item: item["key"])
    return models


def test_search_db_verbose_names_the_database_without_its_password(
    mlflow_317_on_postgres: SeededServer,
) -> None:
    server = mlflow_317_on_postgres.server
    url = url_of(server).replace("postgres@", "postgres:pw-s3cr3t@")
    status, out, err = run(
        "search", "name LIKE 'model-%'", *where_args(mlflow_317_on_postgres), "--db", url, "-v"
    )
    assert status == EXIT_OK
    assert out.split() == _rest(mlflow_317_on_postgres, ("name LIKE 'model-%'", None, None))
    assert "(postgres, MLflow 3.17.2" in err
    assert f"schema '{SCHEMA_317}'), semantics of mlflow-3.17" in err
    assert "s3cr3t" not in out + err


def test_search_db_timeout_ends_a_query(seeded: SeededServer, postgres_server: PostgresServer) -> None:
    """``--timeout`` is the statement_timeout: a lock MLflow's migration would hold ends the search."""
    url = url_of(seeded.server)
    holder = psycopg.connect(url, autocommit=False)
    try:
        holder.execute("LOCK TABLE logged_models IN ACCESS EXCLUSIVE MODE")
        started = time.monotonic()
        result = run("search", "", *where_args(seeded), "--db", url, "--timeout", "1")
        assert time.monotonic() - started < 20
        one_error(result, EXIT_ERRORS, "search", r"ran past the timeout \(1 s\)|stayed locked by a writer")
    finally:
        holder.rollback()
        holder.close()


# ---- hostile ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cluster() -> Iterator[PostgresServer]:
    """A cluster of these tests' own, with a password login for role ``secretive``."""
    with started_or_skipped() as server:
        hba = server.data / "pg_hba.conf"
        rule = "host all secretive 127.0.0.1/32 scram-sha-256\n"
        hba.write_text(rule + hba.read_text())
        server.psql(
            "CREATE ROLE secretive LOGIN PASSWORD 'p@ss/w:rd s3cr3t'; "
            "CREATE ROLE reader LOGIN IN ROLE pg_read_all_data; CREATE ROLE nobody LOGIN; "
            "SELECT pg_reload_conf()"
        )
        yield server


def _mlflow_layout(server: PostgresServer, *, revision: str = MLFLOW_3_18_0_HEAD, ddl: str = _DDL) -> str:
    """A database of *server* holding MLflow 3.18.0's tables (the DDL of the SQLite tests) and *revision*."""
    database = server.create_database("layout")
    server.psql(ddl + f"INSERT INTO alembic_version VALUES ('{revision}');", database)
    return database


@pytest.fixture(scope="module")
def layout(cluster: PostgresServer) -> str:
    return _mlflow_layout(cluster)


SECRET = "p@ss/w:rd s3cr3t"


def _secret_url(cluster: PostgresServer, database: str, password: str = SECRET) -> str:
    return f"postgresql://secretive:{quote(password, safe='')}@127.0.0.1:{cluster.port}/{database}"


def _no_secret(*texts: str) -> None:
    for text in texts:
        for form in (SECRET, quote(SECRET, safe=""), "s3cr3t"):
            assert form not in text


def test_a_password_login(cluster: PostgresServer, layout: str) -> None:
    cluster.psql(f'GRANT pg_read_all_data TO secretive; GRANT CONNECT ON DATABASE "{layout}" TO secretive')
    url = _secret_url(cluster, layout)
    with open_database(url) as db:
        assert db.ids("SELECT model_id FROM logged_models ORDER BY model_id") == ["m-1", "m-2", "m-3"]
        _no_secret(repr(db), db.describe(), db.database, repr(db.connection), str(db.connection.info.dsn))
    result = run("search", "", "--db", url, "--experiment-id", "1", "-v")
    assert result[:2] == (EXIT_OK, "m-1\n")
    _no_secret(*result[1:])


@pytest.mark.parametrize(
    ("password", "database", "kind", "words"),
    [
        ("wrong s3cr3t", None, DatabaseUnavailableError, "refuses the login ("),
        (SECRET, "nosuch", DatabaseUnavailableError, 'database "nosuch" does not exist'),
    ],
)
def test_a_login_refused_shows_no_password(
    cluster: PostgresServer,
    layout: str,
    password: str,
    database: str | None,
    kind: type[TrackingDatabaseError],
    words: str,
) -> None:
    url = _secret_url(cluster, database or layout, password)
    message = _error(lambda: open_database(url), kind)
    assert words in message
    assert "password authentication failed" in message or "nosuch" in message
    _no_secret(message)
    assert "secretive" not in message.split(" refuses")[0]  # the URL shown hides the user too
    result = run("search", "", "--db", url, "--experiment-id", "1")
    _no_secret(one_error(result, EXIT_ERRORS, "search", re.escape(words)))


def test_a_server_that_is_not_there(cluster: PostgresServer) -> None:
    import socket

    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"postgresql://me:{quote(SECRET, safe='')}@127.0.0.1:{port}/mlflow"
    started = time.monotonic()
    message = _error(lambda: open_database(url, timeout=2), DatabaseUnavailableError)
    assert time.monotonic() - started < 15
    assert "cannot be reached" in message
    assert "refused" in message.lower()
    _no_secret(message)


def test_a_missing_driver(layout: str, cluster: PostgresServer) -> None:
    code = textwrap.dedent(
        """
        import sys
        sys.modules["psycopg"] = None  # as if the postgres extra were not installed
        from lmfilter.cli import main
        sys.exit(main(sys.argv[1:]))
        """
    )
    url = _secret_url(cluster, layout)
    done = subprocess.run(
        [sys.executable, "-c", code, "search", "", "--db", url, "--experiment-id", "1"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (done.returncode, done.stdout) == (EXIT_ERRORS, "")
    assert "pip install 'lmfilter[postgres]'" in done.stderr
    assert "Traceback" not in done.stderr
    _no_secret(done.stderr)


def test_databases_that_are_not_mlflows(cluster: PostgresServer) -> None:
    empty = cluster.create_database("empty")
    other = cluster.create_database("other")
    cluster.psql("CREATE TABLE t (x int); CREATE VIEW logged_models AS SELECT 1 AS model_id", other)
    lacking = _mlflow_layout(cluster, ddl=_DDL + "ALTER TABLE logged_model_tags DROP COLUMN tag_value;")
    old = _mlflow_layout(cluster, revision="0584bdc529eb")
    newer = _mlflow_layout(cluster, revision="0123456789ab")
    url = cluster.url
    assert "empty (no tables)" in _error(lambda: open_database(url(empty)), NotAnMlflowDatabaseError)
    message = _error(lambda: open_database(url(other)), NotAnMlflowDatabaseError)
    assert "no logged_models, logged_model_params" in message  # a view is no table
    message = _error(lambda: open_database(url(lacking)), NotAnMlflowDatabaseError)
    assert "no column logged_model_tags.tag_value" in message
    message = _error(lambda: open_database(url(old)), NotAnMlflowDatabaseError)
    assert "mlflow db upgrade URL" in message
    with open_database(url(newer)) as db:
        assert db.warning is not None
        assert db.target == "mlflow"


def test_a_role_that_may_not_read(cluster: PostgresServer, layout: str) -> None:
    url = cluster.url(layout).replace("postgres@", "nobody@")
    message = _error(lambda: open_database(url), DatabaseUnavailableError)
    assert "cannot be read by this role (permission denied for table alembic_version)" in message
    assert "pg_read_all_data" in message
    cluster.psql("GRANT SELECT ON alembic_version, experiments TO nobody", layout)
    with open_database(url) as db:
        message = _error(lambda: db.ids(db.sql("")), DatabaseUnavailableError)
    assert "cannot be read by this role (permission denied for table logged_models)" in message


WRITES = [
    "INSERT INTO experiments (experiment_id, name) VALUES (99, 'written')",
    "UPDATE logged_models SET name = 'written'",
    "DELETE FROM logged_models",
    "CREATE TABLE written (x int)",
    "CREATE TEMP TABLE written (x int)",
    "DROP TABLE logged_model_tags",
    "SET TRANSACTION READ WRITE",
    "SET TRANSACTION ISOLATION LEVEL SERIALIZABLE",
    "DO $$ BEGIN INSERT INTO experiments (experiment_id, name) VALUES (98, 'written'); END $$",
    "SELECT nextval('written')",
    "TRUNCATE logged_models",
    "COPY experiments FROM STDIN",
]


@pytest.mark.parametrize("role", ["postgres", "reader"])
def test_no_statement_writes(cluster: PostgresServer, layout: str, role: str) -> None:
    """The superuser (a read-write role, with default_transaction_read_only off) may not write either: every
    statement runs in lmfilter's READ ONLY transaction, one statement at a time."""
    before = cluster.psql("SELECT count(*) FROM experiments; SELECT count(*) FROM logged_models", layout)
    with open_database(cluster.url(layout).replace("postgres@", f"{role}@")) as db:
        for statement in WRITES:
            with pytest.raises(TrackingDatabaseError):
                db.query(statement)
            assert db.ids("SELECT model_id FROM logged_models ORDER BY 1") == ["m-1", "m-2", "m-3"]
        # several statements in one call are refused (the extended protocol takes one)
        with pytest.raises(psycopg.errors.SyntaxError, match="multiple commands"):
            db.query("SELECT 1; INSERT INTO experiments (experiment_id, name) VALUES (97, 'written')")
        # a setting changed in a transaction is undone with it: the next statement is read-only again
        db.query("SELECT set_config('default_transaction_read_only', 'off', false)")
        _error(
            lambda: db.query("INSERT INTO experiments (experiment_id, name) VALUES (96, 'w')"), ReadOnlyError
        )
        with db.snapshot():
            _error(lambda: db.query("SET TRANSACTION READ WRITE"), ReadOnlyError)
        with db.snapshot():  # a chained transaction is another: refused before it could be made read-write
            message = _error(lambda: db.query("COMMIT AND CHAIN"), ReadOnlyError)
            assert "connection is closed" in message
    assert (
        cluster.psql("SELECT count(*) FROM experiments; SELECT count(*) FROM logged_models", layout) == before
    )
    assert cluster.psql("SELECT count(*) FROM pg_class WHERE relname = 'written'", layout) == ["0"]


@pytest.mark.parametrize("statement", ["COMMIT", "ROLLBACK", "END", "ABORT", "COMMIT AND CHAIN"])
def test_a_statement_that_ends_the_transaction_closes_the_database(
    cluster: PostgresServer, layout: str, statement: str
) -> None:
    with open_database(cluster.url(layout)) as db:
        message = _error(lambda: db.query(statement), ReadOnlyError)
        assert "connection is closed" in message
        assert "is closed (by close()" in _error(lambda: db.query("SELECT 1"), DatabaseUnavailableError)


def test_a_snapshot_reads_one_state(cluster: PostgresServer) -> None:
    database = _mlflow_layout(cluster)
    with open_database(cluster.url(database)) as db:
        count = "SELECT count(*) FROM logged_models"
        with db.snapshot():
            assert db.query(count) == [(3,)]
            cluster.psql(
                "INSERT INTO logged_models VALUES ('m-4', 1, 'd', 'x', 4, 4, 2, 'active', NULL, '', NULL)",
                database,
            )
            assert db.query(count) == [(3,)]
            with db.snapshot():  # nested: the same snapshot
                assert db.ids(db.sql("")) == ["m-3", "m-1"]
        assert db.query(count) == [(4,)]
        assert db.ids(db.sql("")) == ["m-4", "m-3", "m-1"]


# Endless, and never spilling to disk (a set-returning function in FROM is materialized: count(*) over
# generate_series wrote tens of GB of temporary files before it was stopped)
_ENDLESS = "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT count(*) FROM r"


def test_interrupt_from_another_thread(cluster: PostgresServer, layout: str) -> None:
    with open_database(cluster.url(layout)) as db:
        timer = threading.Timer(0.5, db.interrupt)
        started = time.monotonic()
        timer.start()
        message = _error(lambda: db.query(_ENDLESS), QueryInterruptedError)
        assert time.monotonic() - started < 20
        assert "was interrupted" in message
        assert db.query("SELECT 1") == [(1,)]


def test_ctrl_c_cancels_the_query_on_the_server(cluster: PostgresServer, layout: str) -> None:
    with open_database(cluster.url(layout)) as db:
        sigint = threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGINT))
        fallback = threading.Timer(30, db.interrupt)
        started = time.monotonic()
        sigint.start()
        fallback.start()
        try:
            with pytest.raises(KeyboardInterrupt):
                db.query(_ENDLESS)
        finally:
            fallback.cancel()
            sigint.cancel()
        assert time.monotonic() - started < 20
        assert db.query("SELECT 1") == [(1,)]
    running = cluster.psql(
        "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%SELECT n + 1 FROM r%' "
        "AND state = 'active' AND pid <> pg_backend_pid()"
    )
    assert running == ["0"]


def test_a_statement_past_the_timeout(cluster: PostgresServer, layout: str) -> None:
    with open_database(cluster.url(layout), timeout=1) as db:
        started = time.monotonic()
        message = _error(lambda: db.query(_ENDLESS), QueryInterruptedError)
        assert time.monotonic() - started < 20
        assert "ran past the timeout (1 s)" in message
        assert db.query("SELECT 1") == [(1,)]


def test_the_server_stopped_mid_query(layout: str) -> None:
    with started_or_skipped() as own:
        database = _mlflow_layout(own)
        with open_database(own.url(database)) as db:
            stopper = threading.Timer(1.0, own.stop)
            started = time.monotonic()
            stopper.start()
            try:
                message = _error(lambda: db.query(_ENDLESS), DatabaseUnavailableError)
            finally:
                stopper.join()
            assert time.monotonic() - started < 60
            assert "went away" in message or "cannot be reached" in message
            _error(lambda: db.query("SELECT 1"), DatabaseUnavailableError)


def test_nul_characters(cluster: PostgresServer, layout: str) -> None:
    """PostgreSQL's text cannot hold a NUL. A search with one in its filter or datasets is answered without
    sending it (no text there equals or is like it); SQL or a parameter holding one is a clear error."""
    with open_database(cluster.url(layout)) as db:
        every = db.query(db.sql())
        assert every, "the layout holds models"
        assert db.query(db.sql("name = 'a\x00' OR name LIKE '%\x00%' OR name IN ('\x00')")) == []
        assert db.query(db.sql("name != 'a\x00' AND name NOT LIKE '\x00%'")) == every
        assert db.query(db.sql(datasets=[{"dataset_name": "d\x00"}])) == []
        assert "NUL" in _error(functools.partial(db.query, "SELECT '\x00'"), QueryTooLargeError)
        assert "NUL" in _error(lambda: db.query("SELECT %s::text", ["a\x00"]), QueryTooLargeError)
        assert db.query("SELECT 1") == [(1,)]


def test_huge_and_deep_queries(cluster: PostgresServer, layout: str) -> None:
    with open_database(cluster.url(layout)) as db:
        names = ", ".join(f"'n{i}'" for i in range(3_000))
        assert db.ids(db.sql(f"name IN ({names}, 'a') OR params.k IN ({names})")) == ["m-1"]
        many = " OR ".join(f"params.k{i} = 'v'" for i in range(300))
        assert db.ids(db.sql(many)) == []
        for large in ("SELECT " + "- " * 100_000 + "1", "SELECT " + ", ".join(["1"] * 2000)):
            message = _error(functools.partial(db.query, large), QueryTooLargeError)
            assert "cannot run a query this large" in message
        assert db.query("SELECT 1") == [(1,)]


def test_closing(cluster: PostgresServer, layout: str) -> None:
    db = open_database(cluster.url(layout))
    assert "postgresql://***@127.0.0.1" in repr(db)
    db.close()
    db.close()
    assert "is closed" in _error(lambda: db.query("SELECT 1"), DatabaseUnavailableError)
    with contextlib.suppress(PostgresError):
        assert cluster.psql("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'lmfilter'") == [
            "0"
        ]


def test_a_param_past_a_doubles_range_reads_as_python_reads_it(cluster: PostgresServer) -> None:
    """PostgreSQL's cast to double precision refuses 1e400, where select (Python's float) reads infinity: the
    SQL reads its magnitude from the text first, on a live MLflow layout (every engine's agreement on many
    such texts is tests/test_sql_hostile.py's)."""
    database = _mlflow_layout(cluster)
    cluster.psql("INSERT INTO logged_model_params VALUES ('m-1', 1, 'p', '1e400')", database)
    with open_database(cluster.url(database)) as db:
        assert db.ids(db.sql("params.p > 1.7976931348623157e308")) == ["m-1"]
        assert db.ids(db.sql("params.p >= 1e999")) == ["m-1"]
        assert db.ids(db.sql("params.p < 0")) == []
        assert db.ids(db.sql("params.p = '1e400'")) == ["m-1"]
        # what PostgreSQL's cast still raises on, in SQL of the caller's own: one line of lmfilter's
        message = _error(lambda: db.query("SELECT CAST('1e400' AS DOUBLE PRECISION)"), QueryTooLargeError)
        assert "cannot read a value as a number" in message
        assert "1e400" in message
