"""MLflow's tracking database on a real PostgreSQL, read directly: ``to_sql(..., dialect="postgres",
mlflow_backend=True)`` (LIKE as MLflow sends it) run on the database an MLflow 3.18.0 server writes answers
what that server's REST search answers (native filters) and what ``lmfilter.select`` answers over the same
models (filters only lmfilter runs).

The cluster and the server come from ``tests/postgres.py`` (fixtures ``postgres_server`` and
``mlflow_on_postgres``); they are skipped, with the reason, where PostgreSQL or MLflow is not installed. The
statements run in read-only sessions (``default_transaction_read_only``), as lmfilter will open the database.
"""

from __future__ import annotations

import os
import pwd
import socket
import subprocess
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

import lmfilter
from lmfilter.sql import to_sql
from lmfilter.sql.mlflow_db import LAYOUT, MLFLOW_3_18_0_HEAD, semantics_of
from tests.postgres import (
    PostgresError,
    PostgresServer,
    PostgresUnavailableError,
    database_of,
    find_programs,
    started_or_skipped,
    tables_of,
)
from tests.servers import SeededServer, search_all
from tests.test_conformance import DATASET_CHOICES, EXTENDED, FILTERS, ORDERS

JSON = dict[str, Any]
Case = tuple[str, Sequence[JSON] | None, Sequence[JSON] | None]
"""A search: filter, datasets, order_by."""


# ---- the cluster ---------------------------------------------------------------------------------------


def test_find_programs_says_why_postgresql_is_missing(tmp_path: Path) -> None:
    with pytest.raises(PostgresUnavailableError, match="not on this machine"):
        find_programs(path=str(tmp_path), debian=tmp_path / "none")
    bindir = tmp_path / "15" / "bin"
    bindir.mkdir(parents=True)
    (bindir / "initdb").write_text("#!/bin/sh\n")
    (bindir / "initdb").chmod(0o755)
    with pytest.raises(PostgresUnavailableError, match="lacks pg_ctl, psql"):
        find_programs(path=str(tmp_path), debian=tmp_path)


def test_find_programs_takes_the_newest_debian_major(tmp_path: Path) -> None:
    for major in ("9", "15", "13"):  # by number: "9" sorts after "15" as text
        bindir = tmp_path / major / "bin"
        bindir.mkdir(parents=True)
        for name in ("initdb", "pg_ctl", "psql"):
            (bindir / name).write_text("#!/bin/sh\n")
            (bindir / name).chmod(0o755)
    assert (
        find_programs(path=str(tmp_path / "empty"), debian=tmp_path).psql == tmp_path / "15" / "bin" / "psql"
    )


def test_the_cluster_is_reached_by_its_url(postgres_server: PostgresServer) -> None:
    url = postgres_server.superuser_url
    assert url == f"postgresql://postgres@127.0.0.1:{postgres_server.port}/{postgres_server.database}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    done = subprocess.run(
        [str(postgres_server.programs.psql), "-X", "-A", "-t", url, "-c", "SELECT current_database()"],
        capture_output=True,
        env=env,
        timeout=60,
        check=True,
    )
    assert done.stdout.decode().strip() == postgres_server.database
    assert postgres_server.psql("SHOW server_encoding; SHOW lc_collate") == ["UTF8", "C"]


@pytest.mark.skipif(os.geteuid() != 0, reason="as root only: PostgreSQL then runs as the postgres account")
def test_the_cluster_runs_as_postgres_not_root(postgres_server: PostgresServer) -> None:
    status = Path(f"/proc/{postgres_server.pid}/status").read_text()
    uid = next(line.split()[1] for line in status.splitlines() if line.startswith("Uid:"))
    assert int(uid) == pwd.getpwnam("postgres").pw_uid


def test_a_read_only_session_refuses_writes_but_only_a_role_forbids_them(
    postgres_server: PostgresServer,
) -> None:
    """``default_transaction_read_only`` (how lmfilter will open the database) stops a write by mistake; a
    statement may still turn it off, so only a role without write privileges makes a session read-only for
    real (what the README must tell users to give lmfilter: ``pg_read_all_data``)."""
    database = postgres_server.create_database("ro")
    postgres_server.psql("CREATE TABLE t (a int); INSERT INTO t VALUES (1)", database)
    with pytest.raises(PostgresError, match="read-only transaction"):
        postgres_server.psql("INSERT INTO t VALUES (2)", database, read_only=True)
    turned_off = "BEGIN; SET TRANSACTION READ WRITE; INSERT INTO t VALUES (3); COMMIT"
    postgres_server.psql(turned_off, database, read_only=True)
    assert postgres_server.psql("SELECT a FROM t ORDER BY a", database) == ["1", "3"]
    postgres_server.psql(
        "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'reader') THEN "
        "CREATE ROLE reader LOGIN IN ROLE pg_read_all_data; END IF; END $$"
    )
    assert postgres_server.psql("SELECT count(*) FROM t", database, user="reader") == ["2"]
    with pytest.raises(PostgresError, match="permission denied"):
        postgres_server.psql(turned_off, database, read_only=True, user="reader")


def test_values_come_back_whole(postgres_server: PostgresServer) -> None:
    """Empty strings, NULLs, newlines and quotes survive psql (NUL-separated records)."""
    rows = postgres_server.psql(
        "SELECT x FROM (VALUES (1, ''), (2, NULL), (3, E'a\\nb'), (4, '\"')) v(i, x) ORDER BY i"
    )
    assert rows == ["", "", "a\nb", '"']
    assert postgres_server.answers(["SELECT x FROM (VALUES ('b'), ('a\"')) v(x)"]) == [["b", 'a"']]


@pytest.fixture
def own_cluster() -> Iterator[PostgresServer]:
    with started_or_skipped() as server:
        yield server


@pytest.mark.postgres
def test_a_cluster_stops_by_its_process_id(own_cluster: PostgresServer) -> None:
    own_cluster.stop()
    assert (
        not Path(f"/proc/{own_cluster.pid}").exists()
        or "zombie" in Path(f"/proc/{own_cluster.pid}/status").read_text()
    )
    assert not own_cluster.root.exists()
    with (
        pytest.raises(ConnectionRefusedError),
        socket.create_connection((own_cluster.host, own_cluster.port), timeout=5),
    ):
        pass
    own_cluster.stop()  # again: harmless


# ---- MLflow 3.18.0 on it --------------------------------------------------------------------------------


def _database(seeded: SeededServer) -> str:
    return database_of(seeded.server)


def test_mlflow_wrote_its_own_layout(
    postgres_server: PostgresServer, mlflow_on_postgres: SeededServer
) -> None:
    database = _database(mlflow_on_postgres)
    (revision,) = postgres_server.psql("SELECT version_num FROM alembic_version", database)
    assert revision == MLFLOW_3_18_0_HEAD
    assert semantics_of(revision).target == "mlflow"
    tables = tables_of(postgres_server, database)
    lacking = {t: set(columns) - tables.get(t, set()) for t, columns in LAYOUT.items()}
    assert {t: c for t, c in lacking.items() if c} == {}
    (deleted,) = postgres_server.psql(
        "SELECT count(*) FROM logged_models WHERE lifecycle_stage = 'deleted'", database
    )
    assert int(deleted) == len(mlflow_on_postgres.seeded.deleted_ids)


def _sql_answers(postgres: PostgresServer, seeded: SeededServer, cases: Sequence[Case]) -> list[list[str]]:
    statements = [
        to_sql(
            text or None,
            datasets=datasets,
            order_by=order_by,
            target="mlflow",
            dialect="postgres",
            experiment_ids=seeded.seeded.experiment_ids,
            mlflow_backend=True,
        )
        for text, datasets, order_by in cases
    ]
    return postgres.answers(statements, _database(seeded), read_only=True)


def _rest(seeded: SeededServer, case: Case) -> list[str]:
    text, datasets, order_by = case
    return search_all(
        seeded.server, seeded.seeded.experiment_ids, text or None, datasets, order_by, page_size=1000
    )


def _select(seeded: SeededServer, case: Case) -> list[str]:
    text, datasets, order_by = case
    found = lmfilter.select(
        seeded.seeded.models.values(), text, datasets=datasets, order_by=order_by, target="mlflow"
    )
    return [m.model_id for m in found]


def _differing(
    found: Sequence[list[str]], expected: Sequence[list[str]], cases: Sequence[Case]
) -> list[object]:
    return [(case, got, want) for case, got, want in zip(cases, found, expected, strict=True) if got != want]


# MLflow on PostgreSQL runs LIKE and ILIKE with PostgreSQL's default escape character, the backslash
# (SQLAlchemy sends no ESCAPE), so `%\_%` there means "holds an underscore": to_sql's mlflow_backend says the
# same (select and the other dialects have no escape character, as MLflow on SQLite).
@pytest.mark.parametrize("text", FILTERS)
def test_native_filters_answer_as_the_server(
    postgres_server: PostgresServer, mlflow_on_postgres: SeededServer, text: str
) -> None:
    """Each native filter, under every order of the conformance table, in one read-only session."""
    cases: list[Case] = [(text, None, order_by) for order_by in ORDERS]
    expected = [_rest(mlflow_on_postgres, case) for case in cases]
    assert _differing(_sql_answers(postgres_server, mlflow_on_postgres, cases), expected, cases) == []


def test_the_native_filters_compare_something(mlflow_on_postgres: SeededServer) -> None:
    """Most native filters keep some models and leave out others: the comparison above can fail."""
    found = [len(_rest(mlflow_on_postgres, (text, None, None))) for text in FILTERS]
    assert sum(0 < n < len(mlflow_on_postgres.seeded.models) for n in found) > len(FILTERS) // 2


@pytest.mark.parametrize("datasets", DATASET_CHOICES, ids=str)
def test_datasets_answer_as_the_server(
    postgres_server: PostgresServer, mlflow_on_postgres: SeededServer, datasets: list[JSON] | None
) -> None:
    texts = ["", "metrics.acc > 0.5", "metrics.loss < 1 AND params.lr != ''", "params.optimizer = 'adam'"]
    orders = [None, ORDERS[1], ORDERS[3], ORDERS[4]]
    cases: list[Case] = [(text, datasets, order) for text in texts for order in orders]
    expected = [_rest(mlflow_on_postgres, case) for case in cases]
    assert _differing(_sql_answers(postgres_server, mlflow_on_postgres, cases), expected, cases) == []


@pytest.mark.parametrize(
    "datasets", [None, [{"dataset_name": "train", "dataset_digest": "d-train-1"}]], ids=str
)
def test_what_the_server_cannot_run_answers_as_select(
    postgres_server: PostgresServer, mlflow_on_postgres: SeededServer, datasets: list[JSON] | None
) -> None:
    cases: list[Case] = [(text, datasets, order) for text in EXTENDED for order in ORDERS[:5]]
    expected = [_select(mlflow_on_postgres, case) for case in cases]
    assert any(expected)
    assert _differing(_sql_answers(postgres_server, mlflow_on_postgres, cases), expected, cases) == []
