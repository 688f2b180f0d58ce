"""Opening MLflow's tracking database read-only (lmfilter.sql.mlflow_db): URLs and hostile paths, which MLflow
wrote it, the regexp function, Ctrl-C, and reading the real test servers' databases while they run.

The fast tests build databases with MLflow 3.18.0's own DDL for the tables a search reads; the ``mlflow`` ones
read the servers' ``mlflow.db`` and MLflow's migration folders in the installed venvs.
"""

from __future__ import annotations

import ast
import functools
import os
import re
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lmfilter.errors import LmfilterError
from lmfilter.requests import RequestError
from lmfilter.schema import UnknownTargetError
from lmfilter.sql.mlflow_db import (
    LAYOUT,
    LOGGED_MODELS_REVISION,
    MLFLOW_3_17_2_HEAD,
    MLFLOW_3_18_0_HEAD,
    REVISIONS,
    DatabaseUnavailableError,
    DatabaseUrlError,
    ExperimentNotFoundError,
    NotAnMlflowDatabaseError,
    QueryInterruptedError,
    TrackingDatabase,
    TrackingDatabaseError,
    _compiled,
    open_database,
    semantics_of,
)
from tests.conftest_servers import venvs_dir
from tests.servers import SeededServer, search_all

# MLflow 3.18.0's DDL of the tables a search reads (from `mlflow db upgrade` on an empty file), less the
# foreign keys to tables not made here.
_DDL = """
CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL,
    CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num));
CREATE TABLE "experiments" (experiment_id INTEGER NOT NULL, name VARCHAR(256) NOT NULL,
    artifact_location VARCHAR(256), lifecycle_stage VARCHAR(32), creation_time BIGINT,
    last_update_time BIGINT, workspace VARCHAR(63) DEFAULT 'default' NOT NULL,
    CONSTRAINT experiment_pk PRIMARY KEY (experiment_id),
    CONSTRAINT uq_experiments_workspace_name UNIQUE (workspace, name));
CREATE TABLE logged_models (model_id VARCHAR(36) NOT NULL, experiment_id INTEGER NOT NULL,
    name VARCHAR(500) NOT NULL, artifact_location VARCHAR(1000) NOT NULL,
    creation_timestamp_ms BIGINT NOT NULL, last_updated_timestamp_ms BIGINT NOT NULL, status INTEGER NOT NULL,
    lifecycle_stage VARCHAR(32),
    model_type VARCHAR(500), source_run_id VARCHAR(32), status_message VARCHAR(1000),
    CONSTRAINT logged_models_pk PRIMARY KEY (model_id));
CREATE TABLE logged_model_metrics (model_id VARCHAR(36) NOT NULL, metric_name VARCHAR(500) NOT NULL,
    metric_timestamp_ms BIGINT NOT NULL, metric_step BIGINT NOT NULL, metric_value FLOAT,
    experiment_id INTEGER NOT NULL, run_id VARCHAR(32) NOT NULL, dataset_uuid VARCHAR(36),
    dataset_name VARCHAR(500), dataset_digest VARCHAR(36),
    CONSTRAINT logged_model_metrics_pk
        PRIMARY KEY (model_id, metric_name, metric_timestamp_ms, metric_step, run_id));
CREATE TABLE logged_model_params (model_id VARCHAR(36) NOT NULL, experiment_id INTEGER NOT NULL,
    param_key VARCHAR(255) NOT NULL, param_value TEXT NOT NULL,
    CONSTRAINT logged_model_params_pk PRIMARY KEY (model_id, param_key));
CREATE TABLE logged_model_tags (model_id VARCHAR(36) NOT NULL, experiment_id INTEGER NOT NULL,
    tag_key VARCHAR(255) NOT NULL, tag_value TEXT NOT NULL,
    CONSTRAINT logged_model_tags_pk PRIMARY KEY (model_id, tag_key));
INSERT INTO experiments (experiment_id, name, lifecycle_stage) VALUES (0, 'Default', 'active'),
    (1, 'demo', 'active'), (2, '1', 'active'), (3, 'old', 'deleted');
INSERT INTO logged_models VALUES ('m-1', 1, 'a', 'x', 1, 1, 2, 'active', 'agent', '', NULL),
    ('m-2', 1, 'b', 'x', 2, 2, 2, 'deleted', '', '', NULL),
    ('m-3', 0, 'c', 'x', 3, 3, 1, 'active', NULL, '', NULL);
"""


def _connect_rw(path: Path) -> sqlite3.Connection:
    """A writing connection to exactly ``path`` (a URI: a plain connect would read '?' in a name)."""
    return sqlite3.connect("file://" + quote(os.fsencode(path.absolute()), safe="/") + "?mode=rwc", uri=True)


def _make_db(path: Path, revisions: tuple[str, ...] = (MLFLOW_3_18_0_HEAD,), *, ddl: str = _DDL) -> Path:
    connection = _connect_rw(path)
    try:
        connection.executescript(ddl)
        connection.executemany("INSERT INTO alembic_version VALUES (?)", [(r,) for r in revisions])
        connection.commit()
    finally:
        connection.close()
    return path


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return _make_db(tmp_path / "mlflow.db")


def _error(call: Callable[[], object], kind: type[TrackingDatabaseError]) -> str:
    """The message of the error ``call`` raises, which must be one line of ``kind``, an LmfilterError."""
    with pytest.raises(kind) as caught:
        call()
    assert isinstance(caught.value, LmfilterError)
    message = str(caught.value)
    assert "\n" not in message
    assert "Traceback" not in message
    return message


def _listing(directory: Path) -> dict[str, tuple[int, bytes]]:
    return {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in directory.iterdir() if p.is_file()}


# ---- revisions ----------------------------------------------------------------------------------------


def test_the_head_of_each_version_gives_its_target() -> None:
    assert semantics_of(MLFLOW_3_18_0_HEAD).target == "mlflow"
    assert semantics_of(MLFLOW_3_18_0_HEAD).label == "3.18.0"
    assert semantics_of(MLFLOW_3_17_2_HEAD).target == "mlflow-3.17"
    assert semantics_of(MLFLOW_3_17_2_HEAD).label == "3.17.2"
    assert semantics_of(MLFLOW_3_18_0_HEAD).note is None
    assert semantics_of(MLFLOW_3_17_2_HEAD).note is None


@pytest.mark.parametrize("revision", REVISIONS)
def test_every_known_revision_has_its_place(revision: str) -> None:
    at, models_at = REVISIONS.index(revision), REVISIONS.index(LOGGED_MODELS_REVISION)
    at_317, at_318 = REVISIONS.index(MLFLOW_3_17_2_HEAD), REVISIONS.index(MLFLOW_3_18_0_HEAD)
    semantics = semantics_of(revision)
    if at < models_at:
        assert semantics.target is None
    elif at <= at_317:
        assert semantics.target == "mlflow-3.17"
        assert (semantics.note is None) == (at == at_317)
    else:
        assert semantics.target == "mlflow"
        assert (semantics.note is None) == (at == at_318)


@pytest.mark.parametrize("revision", ["0123456789ab", "", "F4A9B2C7D1E6", "dc11669786a5+f4a9b2c7d1e6", None])
def test_an_unknown_revision_reads_as_the_newest_with_a_note(revision: str | None) -> None:
    semantics = semantics_of(revision)
    assert (semantics.target, semantics.label) == ("mlflow", "unknown")
    assert semantics.note is not None
    assert MLFLOW_3_18_0_HEAD in semantics.note


def _migrations(version: str) -> dict[str, str | tuple[str, ...] | None]:
    """revision -> down_revision of every migration of an installed MLflow, read without importing it."""
    folder = (
        venvs_dir() / f"mlflow-{version}/lib/python3.11/site-packages/mlflow/store/db_migrations/versions"
    )
    if not folder.is_dir():
        message = f"MLflow {version} not installed under {venvs_dir()}: run scripts/install-mlflow.sh"
        if os.environ.get("CI"):
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    graph: dict[str, str | tuple[str, ...] | None] = {}
    for file in folder.glob("*.py"):
        values = {
            node.targets[0].id: ast.literal_eval(node.value)
            for node in ast.parse(file.read_text()).body
            if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name)
            if node.targets[0].id in ("revision", "down_revision")
        }
        if "revision" in values:
            graph[values["revision"]] = values.get("down_revision")
    return graph


def _chain(graph: dict[str, str | tuple[str, ...] | None]) -> list[str]:
    downs = {down for down in graph.values() if down is not None}
    assert all(isinstance(down, str) for down in downs), "a merge revision: the chain is no longer linear"
    heads = [revision for revision in graph if revision not in downs]
    assert len(heads) == 1, heads
    chain: list[str] = []
    at: str | None = heads[0]
    while at is not None:
        chain.append(at)
        down = graph[at]
        at = down if isinstance(down, str) else None
    assert len(chain) == len(graph)
    return chain[::-1]


def test_the_recorded_revisions_are_those_of_the_installed_mlflows() -> None:
    chain_317, chain_318 = _chain(_migrations("3.17.2")), _chain(_migrations("3.18.0"))
    assert tuple(chain_318) == REVISIONS
    assert chain_317 == chain_318[: len(chain_317)]
    assert chain_317[-1] == MLFLOW_3_17_2_HEAD
    assert chain_318[-1] == MLFLOW_3_18_0_HEAD
    folder = venvs_dir() / "mlflow-3.18.0/lib/python3.11/site-packages/mlflow/store/db_migrations/versions"
    (adds_models,) = folder.glob(f"{LOGGED_MODELS_REVISION}_*.py")
    assert re.search(r"create_table\(\s*['\"]logged_models['\"]", adds_models.read_text())
    earlier = [folder.glob(f"{r}_*.py") for r in REVISIONS[: REVISIONS.index(LOGGED_MODELS_REVISION)]]
    assert not any("logged_models" in file.read_text() for files in earlier for file in files)


# ---- where the database is ------------------------------------------------------------------------------


def test_the_url_forms_mlflow_users_have(db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(db_path.parent)
    forms = [
        "sqlite:///mlflow.db",
        f"sqlite:///{db_path}",  # sqlite:////abs/path
        "mlflow.db",
        str(db_path),
        "SQLITE:///mlflow.db",
        "sqlite+pysqlite:///mlflow.db",
        f"sqlite:///{quote(str(db_path))}",
    ]
    for url in forms:
        with open_database(url) as db:
            assert db.path == db_path
            assert (db.target, db.revision, db.version_label, db.dialect) == (
                "mlflow",
                MLFLOW_3_18_0_HEAD,
                "3.18.0",
                "sqlite",
            )
            assert db.warning is None


_HOSTILE_NAMES = [
    "what?.db",
    "a#b.db",
    "100%.db",
    "%41.db",
    "with space .db",
    "äpfel-模型.db",
    "line\nbreak.db",
    "'quote\".db",
    "-dash.db",
    "file:x.db",
    "a?mode=rwc.db",
    "x.db?mode=rw",
]


@pytest.mark.parametrize("name", _HOSTILE_NAMES)
def test_a_hostile_file_name_opens_that_file_and_no_other(tmp_path: Path, name: str) -> None:
    path = _make_db(tmp_path / name)
    before = _listing(tmp_path)
    urls: list[str | Path] = [str(path), path, f"sqlite:///{quote(str(path))}"]
    if "?" not in name and "%" not in name:
        urls.append(f"sqlite:///{path}")  # '#', spaces and the rest as they are: SQLAlchemy takes them so
    for url in urls:
        with open_database(url) as db:
            assert db.path == path
            assert db.query("SELECT count(*) FROM logged_models") == [(3,)]
    assert _listing(tmp_path) == before


def test_a_name_that_is_not_utf8(tmp_path: Path) -> None:
    path = _make_db(tmp_path / os.fsdecode(b"caf\xe9.db"))
    with open_database(str(path)) as db:
        assert db.target == "mlflow"
    with open_database(f"sqlite:///{tmp_path}/caf%E9.db") as db:
        assert db.path == path


def test_a_missing_file_is_not_created(tmp_path: Path) -> None:
    for url in ("absent.db", str(tmp_path / "absent.db"), f"sqlite:///{tmp_path}/absent.db"):
        message = _error(functools.partial(open_database, url), DatabaseUnavailableError)
        assert "absent.db" in message
        assert "does not exist" in message
    assert list(tmp_path.iterdir()) == []
    assert "'no\\nsuch.db'" in _error(lambda: open_database("no\nsuch.db"), DatabaseUnavailableError)
    message = _error(lambda: open_database(str(tmp_path / "no-dir" / "x.db")), DatabaseUnavailableError)
    assert "does not exist" in message
    assert not (tmp_path / "no-dir").exists()


def test_a_missing_file_with_a_hint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert "'~' is not expanded" in _error(lambda: open_database("~/mlflow.db"), DatabaseUnavailableError)
    assert "sqlite:///relative.db" in _error(
        lambda: open_database("sqlite:mlflow.db"), DatabaseUnavailableError
    )


def test_a_path_through_a_file(db_path: Path) -> None:
    message = _error(lambda: open_database(str(db_path / "x.db")), DatabaseUnavailableError)
    assert "a part of its path is a file" in message


def test_a_directory(tmp_path: Path) -> None:
    message = _error(lambda: open_database(str(tmp_path)), DatabaseUnavailableError)
    assert "is a directory" in message
    assert "did you mean" not in message
    _make_db(tmp_path / "mlflow.db")
    message = _error(lambda: open_database(f"sqlite:///{tmp_path}"), DatabaseUnavailableError)
    assert f"did you mean {str(tmp_path / 'mlflow.db')!r}" in message


def _returns_within(seconds: float, call: Callable[[], object]) -> BaseException | None:
    """What ``call`` raised (None if nothing), failing the test if it does not return within ``seconds``."""
    outcome: list[BaseException | None] = []

    def run() -> None:
        try:
            call()
            outcome.append(None)
        except BaseException as error:
            outcome.append(error)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(seconds)
    assert outcome, f"still running after {seconds} s"
    return outcome[0]


def test_a_fifo_or_a_device_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "mlflow.db"
    os.mkfifo(fifo)
    for path in (str(fifo), "/dev/null", "/dev/zero"):
        error = _returns_within(10, functools.partial(open_database, path))
        assert isinstance(error, DatabaseUnavailableError), error
        assert "not a regular file" in str(error)


def test_a_symlink_is_followed(db_path: Path, tmp_path: Path) -> None:
    link = tmp_path / "link.db"
    link.symlink_to(db_path)
    with open_database(str(link)) as db:
        assert db.target == "mlflow"
    dangling = tmp_path / "dangling.db"
    dangling.symlink_to(tmp_path / "gone.db")
    assert "does not exist" in _error(lambda: open_database(str(dangling)), DatabaseUnavailableError)
    loop = tmp_path / "loop.db"
    loop.symlink_to(loop)
    _error(lambda: open_database(str(loop)), DatabaseUnavailableError)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every file")
def test_a_file_without_permission(db_path: Path) -> None:
    db_path.chmod(0)
    try:
        assert "permission denied" in _error(lambda: open_database(str(db_path)), DatabaseUnavailableError)
    finally:
        db_path.chmod(0o644)


def test_a_file_that_is_not_sqlite(tmp_path: Path) -> None:
    text = tmp_path / "notes.db"
    text.write_text("not a database\n" * 100)
    assert "not an SQLite database" in _error(lambda: open_database(str(text)), NotAnMlflowDatabaseError)
    empty = tmp_path / "empty.db"
    empty.touch()
    assert "is empty" in _error(lambda: open_database(str(empty)), NotAnMlflowDatabaseError)
    assert empty.read_bytes() == b""


def test_an_sqlite_file_that_is_not_mlflows(tmp_path: Path) -> None:
    other = tmp_path / "other.db"
    _make_db(
        other, ("abc",), ddl="CREATE TABLE alembic_version (version_num VARCHAR(32)); CREATE TABLE t (x);"
    )
    message = _error(lambda: open_database(str(other)), NotAnMlflowDatabaseError)
    assert "no logged_models, logged_model_params" in message
    assert "tables)" in message


def test_a_view_in_place_of_a_table(tmp_path: Path) -> None:
    path = _make_db(tmp_path / "x.db")
    connection = _connect_rw(path)
    connection.executescript(
        "ALTER TABLE logged_models RENAME TO hidden;"
        "CREATE VIEW logged_models AS SELECT * FROM hidden WHERE name REGEXP '(a*)*b';"
    )
    connection.close()
    assert "no logged_models table" in _error(lambda: open_database(str(path)), NotAnMlflowDatabaseError)


def test_a_damaged_file(tmp_path: Path) -> None:
    path = _make_db(tmp_path / "x.db")
    connection = sqlite3.connect(path)
    connection.executemany("INSERT INTO logged_model_params VALUES (?, 1, ?, ?)", [
        ("m-1", f"k{i}", "v" * 200) for i in range(5000)
    ])  # fmt: skip
    connection.commit()
    connection.close()
    with path.open("r+b") as file:
        file.seek(path.stat().st_size // 2)
        file.write(b"\xff" * 40960)
    with open_database(str(path)) as db:
        message = _error(
            lambda: db.query("SELECT count(*), max(param_value) FROM logged_model_params"),
            DatabaseUnavailableError,
        )
    assert "is damaged" in message


def test_a_database_without_a_column(tmp_path: Path) -> None:
    path = _make_db(tmp_path / "x.db", ddl=_DDL.replace("dataset_digest VARCHAR(36)", "digest VARCHAR(36)"))
    message = _error(lambda: open_database(str(path)), NotAnMlflowDatabaseError)
    assert "no column logged_model_metrics.dataset_digest" in message


def test_an_mlflow_database_from_before_logged_models(tmp_path: Path) -> None:
    before = REVISIONS[REVISIONS.index(LOGGED_MODELS_REVISION) - 1]
    ddl = _DDL.split("CREATE TABLE logged_models")[0]
    path = _make_db(tmp_path / "old db.db", (before,), ddl=ddl)
    message = _error(lambda: open_database(str(path)), NotAnMlflowDatabaseError)
    assert "before 3.0" in message
    assert before in message
    assert f"mlflow db upgrade 'sqlite:///{path}'" in message


def test_an_unknown_revision_warns_and_a_target_forces(tmp_path: Path) -> None:
    path = _make_db(tmp_path / "x.db", ("0123456789ab",))
    with open_database(str(path)) as db:
        assert (db.target, db.version_label, db.revision) == ("mlflow", "unknown", "0123456789ab")
        assert db.warning is not None
        assert "'0123456789ab'" in db.warning
        assert "x.db" in db.warning
        assert "\n" not in db.warning
    with open_database(str(path), target="mlflow-3.17") as db:
        assert (db.target, db.warning) == ("mlflow-3.17", None)


def test_an_older_revision_with_logged_models_reads_as_317_with_a_note(tmp_path: Path) -> None:
    path = _make_db(tmp_path / "x.db", (LOGGED_MODELS_REVISION,))
    with open_database(str(path)) as db:
        assert (db.target, db.version_label) == ("mlflow-3.17", "older than 3.17.2")
        assert db.warning is not None
    path = _make_db(tmp_path / "y.db", (MLFLOW_3_17_2_HEAD,))
    with open_database(str(path)) as db:
        assert (db.target, db.version_label, db.warning) == ("mlflow-3.17", "3.17.2", None)
    with open_database(str(path), target="mlflow") as db:
        assert db.target == "mlflow"
        assert db.version_label == "3.17.2"


def test_no_revision_needs_a_target(tmp_path: Path) -> None:
    path = _make_db(tmp_path / "x.db", ())
    assert "give a target" in _error(lambda: open_database(str(path)), NotAnMlflowDatabaseError)
    with open_database(str(path), target="mlflow-3.18") as db:
        assert (db.target, db.revision, db.version_label) == ("mlflow-3.18", None, "unknown")


def test_several_revisions_are_unknown(tmp_path: Path) -> None:
    path = _make_db(tmp_path / "x.db", (MLFLOW_3_17_2_HEAD, MLFLOW_3_18_0_HEAD))
    with open_database(str(path)) as db:
        assert db.version_label == "unknown"
        assert db.warning is not None


@pytest.mark.parametrize("target", ["databricks", "local", "nope"])
def test_a_target_that_is_not_mlflows(db_path: Path, target: str) -> None:
    with pytest.raises(UnknownTargetError):
        open_database(str(db_path), target=target)


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("postgresql://me:s3cr3t-pw@db/mlflow?nosuchoption=1", "libpq's connection keywords"),
        ("postgresql+psycopg2://me:s3cr3t-pw@db/mlflow?user=again", "twice"),
        ("postgres://me:s3cr3t-pw@db/ml%00flow", "NUL"),
        ("postgresql://me:s3cr3t@pw-s3cr3t@db:5432/mlflow", "%40"),  # the part after the '@' is no host
        ("mysql://me:s3cr3t-pw@db/mlflow", "MySQL"),
        ("mssql+pyodbc://me:s3cr3t-pw@db/mlflow", "SQL Server"),
        ("oracle://me:s3cr3t-pw@db/mlflow", "oracle://"),
        ("http://me:s3cr3t-pw@localhost:5000", "tracking server"),
        ("https://host/?token=s3cr3t-pw", "tracking server"),
        ("sqlite://me:s3cr3t-pw@/mlflow.db", "host or user"),
        ("sqlite://host/mlflow.db", "host or user"),
        ("sqlite:///mlflow.db?mode=rwc&password=s3cr3t-pw", "options"),
        ("sqlite://", "in-memory"),
        ("sqlite:///", "in-memory"),
        ("sqlite:///:memory:", "in-memory"),
        ("", "no database"),
        ("mlflow\0.db", "NUL"),
        ("postgresql:/me:s3cr3t-pw@db/mlflow", "not a URL"),
        ("sqlite:me:s3cr3t-pw@/mlflow.db", "not a URL"),
        ("sqlite:///mlflow%00.db", "NUL"),
    ],
)
def test_a_url_lmfilter_does_not_read(
    url: str, words: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    message = _error(lambda: open_database(url), DatabaseUrlError)
    assert words in message
    assert "s3cr3t" not in message
    assert list(tmp_path.iterdir()) == []


def test_a_hot_journal_is_left_to_a_writer(db_path: Path) -> None:
    code = (
        "import sqlite3, os, sys\n"
        "c = sqlite3.connect(sys.argv[1]); c.execute('PRAGMA cache_size = 1')\n"
        "c.execute('CREATE TABLE big (x)')\n"
        "c.executemany('INSERT INTO big VALUES (?)', [('x' * 200,)] * 5000)\n"
        "os._exit(0)\n"  # mid-transaction, as a crash: the journal stays
    )
    subprocess.run([sys.executable, "-c", code, str(db_path)], check=True)
    journal = db_path.with_name("mlflow.db-journal")
    assert journal.exists()
    before = _listing(db_path.parent)
    message = _error(lambda: open_database(str(db_path)), DatabaseUnavailableError)
    assert "stopped mid-transaction" in message
    assert _listing(db_path.parent) == before


def test_a_lock_held_too_long(db_path: Path) -> None:
    writer = sqlite3.connect(db_path, isolation_level=None)
    writer.execute("BEGIN EXCLUSIVE")
    try:
        error = _returns_within(10, lambda: open_database(str(db_path), timeout=0.2))
        assert isinstance(error, DatabaseUnavailableError), error
        assert "locked" in str(error)
    finally:
        writer.execute("ROLLBACK")
        writer.close()


# ---- reading never writes -------------------------------------------------------------------------------


def _a_session(db: TrackingDatabase) -> None:
    db.query("SELECT model_id FROM logged_models WHERE name REGEXP '^[a-c]$' ORDER BY model_id")
    db.experiment_ids_of(["demo", "0"])


def test_reading_writes_nothing(db_path: Path) -> None:
    os.utime(db_path, ns=(1_000_000_000, 1_000_000_000))  # an mtime a write would change
    before = _listing(db_path.parent)
    with open_database(str(db_path)) as db:
        _a_session(db)
        with pytest.raises(sqlite3.OperationalError, match=r"readonly|read-only"):
            db.connection.execute("DELETE FROM logged_models")
        with pytest.raises(sqlite3.OperationalError):
            db.connection.execute("CREATE TEMP TABLE t (x)")
    assert _listing(db_path.parent) == before


def test_a_wal_database_is_read_and_its_file_not_written(db_path: Path) -> None:
    connection = sqlite3.connect(db_path)
    connection.execute("PRAGMA journal_mode = WAL")
    connection.close()
    data = db_path.read_bytes()
    with open_database(str(db_path)) as db:
        _a_session(db)
        assert db.query("PRAGMA journal_mode") == [("wal",)]
    assert db_path.read_bytes() == data


# ---- the connection ---------------------------------------------------------------------------------------


def test_regexp(db_path: Path) -> None:
    with open_database(str(db_path)) as db:

        def one(sql: str) -> object:
            return db.query(sql)[0][0]

        assert one("SELECT 'abc' REGEXP '^a.c$'") == 1
        assert one("SELECT 'xabcx' REGEXP 'abc'") == 1  # re.search: the pattern anchors itself
        assert one("SELECT 'ABC' REGEXP '^abc$'") == 0
        assert one("SELECT NULL REGEXP '^a$'") is None
        assert one("SELECT 'a' REGEXP NULL") is None
        assert one("SELECT NOT (NULL REGEXP 'x')") is None  # unknown stays unknown
        assert one("SELECT 12 REGEXP '^12$'") == 1
        assert one("SELECT experiment_id REGEXP '^1$' FROM logged_models WHERE model_id = 'm-1'") == 1
        assert one("SELECT 'line\nbreak' REGEXP '^line$'") == 0
        assert one("SELECT 'Äpfel' REGEXP '^Äpfel$'") == 1
        assert db.query("SELECT model_id FROM logged_models WHERE model_type REGEXP '^$'") == [("m-2",)]
        with pytest.raises(re.error):
            db.query("SELECT 'a' REGEXP '('")
        assert one("SELECT 'a' REGEXP 'a'") == 1  # the error of the last query does not stay


@pytest.fixture(scope="module")
def shared_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _make_db(tmp_path_factory.mktemp("shared") / "mlflow.db")


@settings(max_examples=60)
@given(value=st.floats(allow_nan=False) | st.binary(max_size=8) | st.integers(-(2**63), 2**63 - 1))
def test_regexp_matches_a_number_or_blob_as_sqlite_writes_it(
    shared_db: Path, value: float | bytes | int
) -> None:
    connection = sqlite3.connect(":memory:")
    connection.text_factory = lambda raw: raw.decode("utf-8", "replace")
    (text,) = connection.execute("SELECT CAST(? AS TEXT)", (value,)).fetchone()
    connection.close()
    with open_database(str(shared_db)) as db:
        assert db.query("SELECT ? REGEXP ?", (value, "^" + re.escape(text) + "$")) == [(1,)]
        assert db.query("SELECT ? REGEXP ?", (value, "^" + re.escape(text) + "x$")) == [(0,)]


def test_patterns_are_compiled_once(db_path: Path) -> None:
    with open_database(str(db_path)) as db:
        before = _compiled.cache_info()
        db.query("WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r WHERE i < 500) "
                 "SELECT count(*) FROM r WHERE 'row' || i REGEXP '^row[0-9]*7$'")  # fmt: skip
        after = _compiled.cache_info()
    assert after.misses - before.misses <= 1
    assert after.hits - before.hits >= 499


_ENDLESS = (
    "WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r WHERE i < 10000000000) "
    "SELECT count(*) FROM r"
)


def test_ctrl_c_ends_a_long_query(db_path: Path) -> None:
    with open_database(str(db_path)) as db:
        sigint = threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT))
        fallback = threading.Timer(30, db.interrupt)  # should Ctrl-C not end it, end the test anyway
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
        assert db.query("SELECT 1") == [(1,)]  # the connection still works


def test_interrupt_from_another_thread(db_path: Path) -> None:
    with open_database(str(db_path)) as db:
        timer = threading.Timer(0.3, db.interrupt)
        timer.start()
        message = _error(lambda: db.query(_ENDLESS), QueryInterruptedError)
        assert "mlflow.db" in message
        assert db.query("SELECT 1") == [(1,)]


def test_ids_and_describe(db_path: Path) -> None:
    with open_database(str(db_path)) as db:
        assert db.ids("SELECT model_id FROM logged_models WHERE lifecycle_stage <> 'deleted' ORDER BY 1") == [
            "m-1",
            "m-3",
        ]
        assert db.ids("SELECT experiment_id FROM logged_models ORDER BY model_id") == ["1", "1", "0"]
        assert (
            db.describe()
            == f"database {str(db_path)!r} (sqlite, MLflow 3.18.0, alembic revision {MLFLOW_3_18_0_HEAD})"
        )


def test_close_and_context(db_path: Path) -> None:
    db = open_database(str(db_path))
    assert "mlflow.db" in repr(db)
    db.close()
    db.close()
    with pytest.raises(sqlite3.ProgrammingError):
        db.query("SELECT 1")


# ---- experiments ------------------------------------------------------------------------------------------


def test_experiments_by_id_or_name(db_path: Path) -> None:
    with open_database(str(db_path)) as db:
        assert db.experiment_ids_of(["1"]) == ("1",)
        assert db.experiment_ids_of("demo") == ("1",)
        assert db.experiment_ids_of(1) == ("1",)
        assert db.experiment_ids_of(["Default", "1", "demo", "0"]) == ("0", "1")
        assert db.experiment_ids_of(["01"]) == ("1",)
        assert db.experiment_ids_of(["old"]) == ("3",)  # a deleted experiment's models are still searched
        # '1' is the id of 'demo' and the name of experiment 2: the id comes first, as search takes ids
        assert db.experiment_ids_of(["1", "2"]) == ("1", "2")
        for missing in ("nope", "99", "99999999999999999999999", "demo ", "DEMO", "-1", "١"):
            message = _error(functools.partial(db.experiment_ids_of, [missing]), ExperimentNotFoundError)
            assert repr(missing) in message
        for empty in ([], [""]):
            with pytest.raises(RequestError):
                db.experiment_ids_of(empty)


def test_a_name_in_two_workspaces(tmp_path: Path) -> None:
    extra = "INSERT INTO experiments (experiment_id, name, workspace) VALUES (7, 'demo', 'team-b');"
    path = _make_db(tmp_path / "x.db", ddl=_DDL + extra)
    with open_database(str(path)) as db:
        message = _error(lambda: db.experiment_ids_of(["demo"]), ExperimentNotFoundError)
        assert "ids 1, 7" in message
        assert db.experiment_ids_of(["7"]) == ("7",)


def test_the_layout_is_mlflows() -> None:
    for table, columns in LAYOUT.items():
        assert columns, table
        assert re.search(rf"CREATE TABLE \"?{table}\"? \(", _DDL)


# ---- the real servers' databases -------------------------------------------------------------------------

_EXPECTED = {"3.17.2": ("mlflow-3.17", MLFLOW_3_17_2_HEAD), "3.18.0": ("mlflow", MLFLOW_3_18_0_HEAD)}


def test_a_running_servers_database(mlflow_server: SeededServer) -> None:
    server, seeded = mlflow_server
    path = server.tmpdir / "mlflow.db"
    assert server.process.poll() is None  # open by the server while it is read
    with open_database(f"sqlite:///{path}") as db:
        assert (db.target, db.revision) == _EXPECTED[server.version]
        assert db.version_label == server.version
        assert db.warning is None
        assert db.query("PRAGMA journal_mode") == [("delete",)]
        ids = db.experiment_ids_of(["lmfilter-conformance-a", seeded.experiment_ids[1]])
        assert list(ids) == seeded.experiment_ids
        rows = db.query(
            "SELECT model_id, lifecycle_stage FROM logged_models WHERE experiment_id IN (?, ?)", ids
        )
        # the server answers while the database is open here, and the two agree (other tests of the session
        # may have added models to these experiments: the seeded ones are there in any case)
        live = {m for m, stage in rows if stage != "deleted"}
        assert set(search_all(server, seeded.experiment_ids)) == live
        assert seeded.model_ids <= live
        assert set(seeded.deleted_ids) <= {m for m, stage in rows if stage == "deleted"}
        named = db.query("SELECT count(*) FROM logged_models WHERE name IS NOT NULL")
        assert db.query("SELECT count(*) FROM logged_models WHERE name REGEXP ''") == named


def test_reading_a_real_database_writes_nothing(server_copy: Path) -> None:
    os.utime(server_copy, ns=(1_000_000_000, 1_000_000_000))
    before = _listing(server_copy.parent)
    with open_database(str(server_copy)) as db:
        assert db.target == "mlflow"
        db.query("SELECT * FROM logged_model_metrics WHERE metric_name REGEXP '^a'")
        db.experiment_ids_of(["Default"])
    assert _listing(server_copy.parent) == before


def test_reading_while_another_process_writes(server_copy: Path) -> None:
    # a writer that rewrites every model's tags in one transaction after another, as a server does
    code = textwrap.dedent("""
        import sqlite3, sys, time
        c = sqlite3.connect(sys.argv[1], timeout=30, isolation_level=None)
        end = time.monotonic() + float(sys.argv[2])
        while time.monotonic() < end:
            c.execute("BEGIN IMMEDIATE")
            c.execute("UPDATE logged_model_params SET param_value = param_value || ''")
            c.execute("DELETE FROM logged_model_tags WHERE tag_key = 'lmfilter-probe'")
            c.execute("INSERT INTO logged_model_tags "
                      "SELECT model_id, experiment_id, 'lmfilter-probe', 'x' FROM logged_models")
            c.execute("COMMIT")
    """)
    with open_database(str(server_copy)) as db:
        models = db.query("SELECT count(*) FROM logged_models")[0][0]
        writer = subprocess.Popen([sys.executable, "-c", code, str(server_copy), "3"])
        try:
            seen = set()
            while writer.poll() is None:
                # each statement sees one committed state: all probe tags or none
                seen.add(
                    db.query("SELECT count(*) FROM logged_model_tags WHERE tag_key = 'lmfilter-probe'")[0][0]
                )
        finally:
            writer.wait(30)
        assert writer.returncode == 0
    assert seen <= {0, models}
    assert models in seen


def test_a_copy_at_a_hostile_path(server_copy: Path, tmp_path: Path) -> None:
    hostile = tmp_path / "what?#%41 é.db"
    server_copy.rename(hostile)
    with open_database(f"sqlite:///{quote(str(hostile))}") as db:
        assert (db.target, db.version_label) == ("mlflow", "3.18.0")
    assert not server_copy.exists()
