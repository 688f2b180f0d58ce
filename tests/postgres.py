"""A real PostgreSQL server for the tests, and an MLflow tracking server on it.

A library and a pytest plugin (registered in ``tests/conftest.py``'s ``pytest_plugins``):

* :class:`PostgresServer` -- a throwaway PostgreSQL cluster (``initdb`` in a temporary folder, ``pg_ctl``
  on a free port of 127.0.0.1, no Unix socket), run as the ``postgres`` user when the tests run as root
  (PostgreSQL refuses root). It is driven by ``psql`` (no Python driver is needed), holds a database of
  its own (:attr:`~PostgresServer.database`), makes more on demand, and is stopped by its process id.
* :func:`start_mlflow` -- an ``mlflow server`` of a venv from ``scripts/install-mlflow.sh`` whose backend
  store is a fresh database of that cluster.
* Fixtures (session scope): ``postgres_server`` (the cluster; skipped, with the reason, when PostgreSQL's
  programs are not on the machine) and ``mlflow_on_postgres`` (MLflow 3.18.0 on it, seeded with
  :func:`tests.servers.seed`; tests using it are marked ``mlflow`` and ``postgres``).

Where the programs are: ``initdb`` on the ``PATH``, else the newest ``/usr/lib/postgresql/<major>/bin``
(Debian's ``postgresql`` package puts them only there); ``pg_ctl`` and ``psql`` are taken from beside it.
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Self

import pytest

from tests.servers import (
    MlflowServer,
    SeededServer,
    ServerStartError,
    _free_port,
    _tail,
    seed,
)

__all__ = [
    "PostgresError",
    "PostgresServer",
    "PostgresUnavailableError",
    "Programs",
    "database_of",
    "find_programs",
    "start_mlflow",
    "url_of",
]

_USER = "postgres"  # the cluster's superuser, and the account it runs as when the tests run as root
_DATABASE = "lmfilter"
_DEBIAN = Path("/usr/lib/postgresql")
_TIMEOUT_S = 120.0
# the MLflow venvs' SQLAlchemy (2.1) reads a bare postgresql:// as psycopg 3; their driver is psycopg2
_DRIVER = "postgresql+psycopg2"


class PostgresUnavailableError(Exception):
    """PostgreSQL cannot be run here at all (no programs, or root without a ``postgres`` account): a reason
    to skip, never a failure of the code under test."""


class PostgresError(RuntimeError):
    """PostgreSQL is here but did not do what was asked (start, a statement, stop); says why, with the tail
    of the server's log where there is one."""


@dataclass(frozen=True)
class Programs:
    """The PostgreSQL programs of one installation, each an absolute path."""

    initdb: Path
    pg_ctl: Path
    psql: Path


def find_programs(path: str | None = None, debian: Path = _DEBIAN) -> Programs:
    """PostgreSQL's ``initdb``, ``pg_ctl`` and ``psql`` of one installation.

    ``initdb`` is looked up on *path* (``$PATH`` when None), else in the newest ``<debian>/<major>/bin``;
    the other two come from the folder ``initdb`` really lives in (a symlink on the ``PATH`` is followed),
    so that a ``psql`` of another major version is never mixed in. Raises :class:`PostgresUnavailableError`.
    """
    found = shutil.which("initdb", path=path)
    if found is not None:
        bindir = Path(found).resolve().parent
    else:
        majors = sorted(
            (p for p in debian.glob("*/bin") if p.parent.name.isdigit()), key=lambda p: int(p.parent.name)
        )
        if not majors:
            raise PostgresUnavailableError(
                f"PostgreSQL is not on this machine (no initdb on the PATH or in {debian}/*/bin): "
                "install Debian's postgresql package (./dev does)"
            )
        bindir = majors[-1]
    programs = {name: bindir / name for name in ("initdb", "pg_ctl", "psql")}
    missing = [name for name, p in programs.items() if not os.access(p, os.X_OK)]
    if missing:
        raise PostgresUnavailableError(f"PostgreSQL in {bindir} lacks {', '.join(missing)}")
    return Programs(**programs)


def _client_env() -> dict[str, str]:
    # PG* variables of the caller's shell (PGHOST, PGDATABASE, PGOPTIONS, PGSERVICE, ...) would send psql
    # elsewhere or change its session: every setting a client needs is given explicitly
    return {key: value for key, value in os.environ.items() if not key.startswith("PG")}


@dataclass
class PostgresServer:
    """A running PostgreSQL cluster on ``host:port`` (see :meth:`start`); ``user`` is its superuser, with no
    password (``trust``, loopback only), and ``database`` a database of its own for tests to fill.

    ``root`` holds the data folder (``data``) and the server's log (``server.log``); :meth:`stop` ends the
    server by its process id and removes ``root``. It is a context manager.
    """

    host: str
    port: int
    user: str
    database: str
    root: Path
    pid: int
    programs: Programs
    _run_as: str | None = field(repr=False)
    _databases: int = field(default=0, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def data(self) -> Path:
        """The cluster's data folder."""
        return self.root / "data"

    @property
    def log_path(self) -> Path:
        """The server's log."""
        return self.root / "server.log"

    def url(self, database: str | None = None, *, scheme: str = "postgresql") -> str:
        """The superuser's URL of *database* (this server's own when None), for SQLAlchemy and libpq."""
        return f"{scheme}://{self.user}@{self.host}:{self.port}/{database or self.database}"

    @property
    def superuser_url(self) -> str:
        """The superuser's URL of :attr:`database`."""
        return self.url()

    # ---- lifecycle

    @classmethod
    def start(cls, programs: Programs | None = None, *, timeout: float = _TIMEOUT_S) -> PostgresServer:
        """``initdb`` a new cluster in a temporary folder and start it on a free port of 127.0.0.1.

        Raises :class:`PostgresUnavailableError` when PostgreSQL cannot run here, :class:`PostgresError`
        when it fails to start (with its log). A port taken between choosing and binding it is retried.
        """
        programs = programs or find_programs()
        run_as = None
        if os.geteuid() == 0:
            try:
                owner = pwd.getpwnam(_USER)
            except KeyError:
                raise PostgresUnavailableError(
                    f"running as root, and there is no {_USER!r} account to run PostgreSQL as"
                ) from None
            run_as = owner.pw_name
        root = Path(tempfile.mkdtemp(prefix="lmfilter-pg-"))
        try:
            if run_as is not None:
                os.chown(root, owner.pw_uid, owner.pw_gid)
            server = cls._init_and_start(programs, root, run_as, timeout)
        except BaseException:
            shutil.rmtree(root, ignore_errors=True)
            raise
        try:
            server.psql(f'CREATE DATABASE "{_DATABASE}"', database="postgres")
        except BaseException:
            server.stop()
            raise
        return server

    @classmethod
    def _init_and_start(cls, programs: Programs, root: Path, run_as: str | None, timeout: float) -> Self:
        data, log = root / "data", root / "server.log"
        initdb = [programs.initdb, "-D", data, "-U", _USER, "-A", "trust", "-E", "UTF8", "--locale=C"]
        _run(initdb, run_as, root, timeout, "initdb")
        for _attempt in range(3):
            port = _free_port()
            # no Unix socket (its path has a length limit a deep TMPDIR passes); fsync off: a test cluster;
            # a query that runs away spills at most 1 GB to disk, not the machine's whole disk
            options = (
                f"-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories= "
                "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c temp_file_limit=1GB"
            )
            start = [programs.pg_ctl, "-D", data, "-l", log, "-o", options, "-w", "-t", str(int(timeout))]
            try:
                _run([*start, "start"], run_as, root, timeout + 10, "pg_ctl start", log)
            except PostgresError as error:
                if "could not bind" in str(error) or "already in use" in str(error):
                    continue
                raise
            pid = int((data / "postmaster.pid").read_text().split("\n", 1)[0])
            return cls("127.0.0.1", port, _USER, _DATABASE, root, pid, programs, run_as)
        raise PostgresError(f"PostgreSQL found no free port in 3 tries; its log:\n{_tail(log)}")

    def stop(self) -> None:
        """Stop the server (``pg_ctl stop -m fast``, then SIGKILL of its process id if it stays) and remove
        its folder. Calling it again is harmless."""
        pidfile = self.data / "postmaster.pid"
        if pidfile.exists():
            stop = [self.programs.pg_ctl, "-D", self.data, "-m", "fast", "-w", "-t", "30", "stop"]
            with contextlib.suppress(PostgresError, subprocess.TimeoutExpired):
                _run(stop, self._run_as, self.root, 40, "pg_ctl stop")
        # the pid file outlives a server only when it did not shut down: then its process goes by force
        if pidfile.exists() and _alive(self.pid):
            os.kill(self.pid, signal.SIGKILL)
            deadline = time.monotonic() + 10
            while _alive(self.pid) and time.monotonic() < deadline:
                time.sleep(0.05)
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()

    # ---- SQL through psql

    def psql(
        self, sql: str, database: str | None = None, *, read_only: bool = False, user: str | None = None
    ) -> list[str]:
        """The first column of every row *sql* returns (all its statements, in one session), as text; NULL
        is ``""``. ``read_only`` opens the session as lmfilter does (``default_transaction_read_only``);
        ``user`` is a role to log in as (the superuser when None).
        Raises :class:`PostgresError` with PostgreSQL's message when a statement fails."""
        command = [self.programs.psql, "-X", "-q", "-A", "-t", "-0", "-v", "ON_ERROR_STOP=1"]
        command += [
            "-h",
            self.host,
            "-p",
            str(self.port),
            "-U",
            user or self.user,
            "-d",
            database or self.database,
        ]
        env = _client_env()
        if read_only:
            env["PGOPTIONS"] = "-c default_transaction_read_only=on"
        done = subprocess.run(
            [*map(str, command), "-f", "-"],
            input=sql.encode(),
            capture_output=True,
            env=env,
            timeout=_TIMEOUT_S,
            check=False,
        )
        if done.returncode:
            raise PostgresError(done.stderr.decode(errors="replace").strip())
        # -0 ends each record with NUL, so a newline inside a value stays, and an empty value is a record
        *rows, rest = done.stdout.decode().split("\0")
        if rest.strip():
            raise PostgresError(f"psql's output does not end a record: {rest[:200]!r}")
        return rows

    def answers(
        self, statements: Sequence[str], database: str | None = None, *, read_only: bool = True
    ) -> list[list[str]]:
        """The first column of each statement's rows, in its order, all from one ``psql`` session
        (``ARRAY(subquery)`` keeps the subquery's order)."""
        script = "".join(f"SELECT array_to_json(ARRAY({sql}));\n" for sql in statements)
        rows = self.psql(script, database, read_only=read_only)
        if len(rows) != len(statements):
            raise PostgresError(f"{len(statements)} statements gave {len(rows)} answers")
        return [[str(item) for item in json.loads(row)] for row in rows]

    def create_database(self, prefix: str = "db", *, icu_locale: str | None = None) -> str:
        """A new, empty database (UTF-8, collation C, or ICU's collation of *icu_locale*, e.g. ``en-US``)
        with a name no other call gets; its name."""
        with self._lock:
            self._databases += 1
            name = f"{prefix}_{self._databases}"
        if not name.replace("_", "").isalnum():
            raise ValueError(f"a database prefix is letters, digits and '_', not {prefix!r}")
        if icu_locale is not None and not icu_locale.replace("-", "").isalnum():
            raise ValueError(f"an ICU locale is letters, digits and '-', not {icu_locale!r}")
        icu = f" LOCALE_PROVIDER icu ICU_LOCALE '{icu_locale}' TEMPLATE template0" if icu_locale else ""
        self.psql(f'CREATE DATABASE "{name}"{icu}', database="postgres")
        return name


def _run(
    command: Sequence[object],
    run_as: str | None,
    cwd: Path,
    timeout: float,
    what: str,
    log: Path | None = None,
) -> None:
    # cwd: the server's own folder, which the postgres account can enter (root's cwd may not be)
    done = subprocess.run(
        [str(part) for part in command],
        user=run_as,
        group=run_as,
        extra_groups=[] if run_as else None,
        cwd=cwd,
        env=_client_env(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode:
        said = (done.stdout + done.stderr).decode(errors="replace").strip()
        logged = f"\nits log:\n{_tail(log)}" if log is not None else ""
        raise PostgresError(f"{what} failed (exit {done.returncode}): {said}{logged}")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # pragma: no cover - only when not root, and then it is not ours to end
        return True
    return True


# ---- MLflow on PostgreSQL -----------------------------------------------------------------------------


def start_mlflow(
    postgres: PostgresServer,
    version: str,
    venvs_dir: Path,
    *,
    timeout: float = 180.0,
    schema: str | None = None,
    icu_locale: str | None = None,
) -> MlflowServer:
    """``mlflow server`` of ``<venvs_dir>/mlflow-<version>`` with a new database of *postgres* as its backend
    store (MLflow creates its tables there on start; that takes longer than on SQLite, hence the timeout).

    ``schema`` puts MLflow's tables in that schema instead of ``public`` (made first; the backend store URI
    names it with ``?options=-csearch_path=...``, as MLflow's users do); ``icu_locale`` makes the database
    with that ICU collation (see :meth:`PostgresServer.create_database`).

    The venv needs ``psycopg2`` (``scripts/install-mlflow.sh`` puts ``psycopg2-binary`` in it); without it
    this raises :class:`PostgresUnavailableError`.
    """
    python = venvs_dir / f"mlflow-{version}" / "bin" / "python"
    probe = subprocess.run([python, "-c", "import psycopg2"], capture_output=True, check=False, timeout=60)
    if probe.returncode:
        raise PostgresUnavailableError(
            f"the MLflow {version} venv has no psycopg2: run scripts/install-mlflow.sh {version}"
        )
    database = postgres.create_database("mlflow", icu_locale=icu_locale)
    backend = postgres.url(database, scheme=_DRIVER)
    if schema is not None:
        if not schema.replace("_", "").isalnum():
            raise ValueError(f"a schema is letters, digits and '_', not {schema!r}")
        postgres.psql(f'CREATE SCHEMA "{schema}"', database)
        backend += f"?options=-csearch_path%3D{schema}"
    return MlflowServer.start(version, venvs_dir, timeout=timeout, backend_store_uri=backend)


# ---- fixtures ---------------------------------------------------------------------------------------------

_MLFLOW_FIXTURES = ("mlflow_on_postgres", "mlflow_317_on_postgres")
_POSTGRES_FIXTURES = ("postgres_server", *_MLFLOW_FIXTURES)


def pytest_configure(config: pytest.Config) -> None:
    """Register the ``postgres`` marker."""
    config.addinivalue_line(
        "markers", "postgres: starts a real PostgreSQL server (skipped when it is absent)"
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark tests that use a PostgreSQL fixture ``postgres``, and those that also need MLflow ``mlflow``."""
    for item in items:
        names = getattr(item, "fixturenames", ())
        if any(name in names for name in _POSTGRES_FIXTURES):
            item.add_marker(pytest.mark.postgres)
        if any(name in names for name in _MLFLOW_FIXTURES):
            item.add_marker(pytest.mark.mlflow)


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


@contextlib.contextmanager
def started_or_skipped() -> Iterator[PostgresServer]:
    """A cluster of its own, stopped at the end; the test is skipped with the reason when PostgreSQL cannot
    run here."""
    try:
        server = PostgresServer.start()
    except PostgresUnavailableError as why:
        pytest.skip(str(why))
    with server:
        yield server


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A PostgreSQL cluster for the whole session (``host``, ``port``, ``database``, ``superuser_url``);
    skipped with the reason when PostgreSQL cannot run here."""
    with started_or_skipped() as server:
        yield server


@pytest.fixture(scope="session")
def mlflow_on_postgres(postgres_server: PostgresServer) -> Iterator[SeededServer]:
    """MLflow 3.18.0 on ``postgres_server``, seeded with :func:`tests.servers.seed` (the same data set as
    the SQLite servers). Skipped when that MLflow or its psycopg2 is not installed (fails under ``$CI``)."""
    from tests.conftest_servers import venvs_dir

    venvs = venvs_dir()
    if not (venvs / "mlflow-3.18.0" / "bin" / "mlflow").exists():
        _unavailable(f"MLflow 3.18.0 is not installed under {venvs}: run scripts/install-mlflow.sh")
    try:
        server = start_mlflow(postgres_server, "3.18.0", venvs)
    except PostgresUnavailableError as why:
        _unavailable(str(why))
        raise
    with server:
        yield _seeded(server)


# the schema and ICU collation of mlflow_317_on_postgres's database
SCHEMA_317 = "tracking"
ICU_317 = "en-US"


@pytest.fixture(scope="session")
def mlflow_317_on_postgres(postgres_server: PostgresServer) -> Iterator[SeededServer]:
    """MLflow 3.17.2 on ``postgres_server``, seeded as ``mlflow_on_postgres``, with two things users do that
    change what a search reads: its tables in a schema of their own (:data:`SCHEMA_317`), and a database
    whose collation is not C (ICU's :data:`ICU_317`), so that texts sort and ILIKE folds by the locale.
    Skipped as ``mlflow_on_postgres`` is."""
    from tests.conftest_servers import venvs_dir

    venvs = venvs_dir()
    if not (venvs / "mlflow-3.17.2" / "bin" / "mlflow").exists():
        _unavailable(f"MLflow 3.17.2 is not installed under {venvs}: run scripts/install-mlflow.sh")
    try:
        server = start_mlflow(postgres_server, "3.17.2", venvs, schema=SCHEMA_317, icu_locale=ICU_317)
    except PostgresUnavailableError as why:
        _unavailable(str(why))
        raise
    with server:
        yield _seeded(server)


def _seeded(server: MlflowServer) -> SeededServer:
    try:
        seeded = seed(server)
    except BaseException as error:
        raise ServerStartError(f"seeding MLflow on PostgreSQL failed: {error}") from error
    return SeededServer(server, seeded)


def tables_of(postgres: PostgresServer, database: str) -> Mapping[str, set[str]]:
    """The columns of every table of *database*'s ``public`` schema, by table."""
    rows = postgres.psql(
        "SELECT table_name || '.' || column_name FROM information_schema.columns "
        "WHERE table_schema = 'public'",
        database,
    )
    tables: dict[str, set[str]] = {}
    for row in rows:
        table, _, column = row.partition(".")
        tables.setdefault(table, set()).add(column)
    return tables


def database_of(server: MlflowServer) -> str:
    """The PostgreSQL database an MLflow server of :func:`start_mlflow` keeps its tracking data in."""
    if not server.backend_store_uri.startswith(f"{_DRIVER}://"):
        raise ValueError(f"MLflow at {server.base_url} is not on PostgreSQL ({server.backend_store_uri})")
    return server.backend_store_uri.rsplit("/", 1)[1].partition("?")[0]


def url_of(server: MlflowServer, scheme: str = "postgresql") -> str:
    """The URL of an MLflow server's database as its users would give it to ``lmfilter search --db``: its
    backend store URI (schema option and all), with *scheme* (``postgresql``, ``postgresql+psycopg2``,
    ...)."""
    database_of(server)  # on PostgreSQL, or a ValueError
    return scheme + server.backend_store_uri.removeprefix(_DRIVER)
