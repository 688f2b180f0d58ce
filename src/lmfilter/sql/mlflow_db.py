"""MLflow's own tracking database, opened read-only: which database it is, which MLflow wrote it, and so which
semantics a search of it must follow.

:func:`open_database` takes what MLflow users already have in ``MLFLOW_TRACKING_URI`` or
``--backend-store-uri``: ``sqlite:///relative.db``, ``sqlite:////absolute.db`` (SQLAlchemy's URL forms,
with its percent-decoding), a plain path taken as it is (so a name may hold ``?``, ``#`` or ``%``), or
``postgresql://user:password@host:port/database?option=value`` (also ``postgresql+psycopg2://`` and
``postgresql+psycopg://``; the options are libpq's: ``sslmode``, ``options=-csearch_path%3Dschema``,
``host=/socket/dir``, ...; the ``postgres`` extra brings the driver, psycopg 3). It promises the next stage a
:class:`TrackingDatabase`:

- opened read-only for real: SQLite's ``mode=ro`` (the file is never created, written or journaled, and
  ``PRAGMA query_only`` holds the connection to it), safe to read while an MLflow server writes the file;
  on PostgreSQL every statement runs in a ``READ ONLY`` transaction that lmfilter begins, has already read
  in, and rolls back (so no statement can make it read-write, nor end it), one ``REPEATABLE READ`` snapshot
  per :meth:`~TrackingDatabase.snapshot`, with the session's options forced (``standard_conforming_strings``,
  the schema MLflow's tables are in, a ``statement_timeout`` when a timeout is given);
- holding the tables a search reads (:data:`LAYOUT`), with the columns it reads;
- knowing which MLflow wrote it, from the alembic revision MLflow's migrations leave in ``alembic_version``
  (:data:`REVISIONS` is MLflow 3.18.0's chain of them), and so the target whose semantics apply: ``mlflow``
  for 3.18.0, ``mlflow-3.17`` for 3.17.2 and the older 3.x releases that have logged models; an unknown,
  presumably newer, revision is read as ``mlflow`` with a :attr:`~TrackingDatabase.warning`, and a caller
  may force a target;
- with a ``regexp(pattern, text)`` function on SQLite (its ``text REGEXP pattern``), and queries that Ctrl-C
  ends (on PostgreSQL, the server cancels it).

Every failure is a :class:`TrackingDatabaseError` with one line that names the database and says what to
do; no driver message reaches the user bare. A password in a URL is never shown
(:func:`lmfilter.auth.shown_url`), nor in any message a driver writes. Each engine is one small class
(:class:`_Sqlite`, :class:`_Postgres`); :class:`TrackingDatabase` holds what they share.
"""

from __future__ import annotations

import contextlib
import functools
import math
import os
import re
import shlex
import sqlite3
import stat
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final, Literal, Protocol
from urllib.parse import parse_qsl, quote, unquote

from lmfilter.auth import shown_url
from lmfilter.errors import LmfilterError
from lmfilter.requests import Datasets, OrderByArg, RequestError, experiment_ids_of
from lmfilter.schema import ATTRIBUTES, TARGETS, Target, UnknownTargetError, get_target

if TYPE_CHECKING:
    import psycopg

__all__ = [
    "LAYOUT",
    "LOGGED_MODELS_REVISION",
    "MLFLOW_3_17_2_HEAD",
    "MLFLOW_3_18_0_HEAD",
    "REVISIONS",
    "DatabaseUnavailableError",
    "DatabaseUrlError",
    "ExperimentNotFoundError",
    "NotAnMlflowDatabaseError",
    "QueryInterruptedError",
    "QueryTooLargeError",
    "ReadOnlyError",
    "Semantics",
    "TrackingDatabase",
    "TrackingDatabaseError",
    "open_database",
    "semantics_of",
]


# ---- errors -----------------------------------------------------------------------------------------


class TrackingDatabaseError(LmfilterError):
    """A tracking database that cannot be opened or read as MLflow's; ``database`` names it as shown to
    the user (a path, or a URL without its password)."""

    def __init__(self, database: str, message: str) -> None:
        self.database = database
        super().__init__(message)


class DatabaseUrlError(TrackingDatabaseError, ValueError):
    """A database URL or path lmfilter cannot take: a scheme it does not read, an in-memory or empty name,
    a host, credentials or options on an SQLite URL, an option libpq does not know on a PostgreSQL one."""


class DatabaseUnavailableError(TrackingDatabaseError):
    """The database cannot be read: no such file, not a regular file, no permission, locked for too long,
    damaged, or a crashed writer's journal to roll back first; on PostgreSQL, a server that cannot be
    reached, refuses the login, has no such database, lacks resources or went away; a missing driver."""


class NotAnMlflowDatabaseError(TrackingDatabaseError):
    """The file is not an SQLite database, or not MLflow's tracking database, or one from an MLflow without
    logged models (before 3.0), or one whose revision says nothing and no target was given."""


class ExperimentNotFoundError(TrackingDatabaseError, ValueError):
    """An experiment id or name that the database does not hold, or a name that several experiments
    (of different workspaces) share."""


class QueryTooLargeError(TrackingDatabaseError, ValueError):
    """A query past one of the engine's limits (SQLite: 64 tables in a join, expressions 1,000 deep, ...;
    PostgreSQL: its program limits), or holding what it cannot take: a NUL character; on PostgreSQL, a LIKE
    pattern that ends with its escape character (a backslash), or a number past a double's range."""


class QueryInterruptedError(TrackingDatabaseError):
    """A query ended by :meth:`TrackingDatabase.interrupt`, or by the server past the timeout given to
    :func:`open_database` (a Ctrl-C ends one with KeyboardInterrupt)."""


class ReadOnlyError(TrackingDatabaseError):
    """A statement given to :meth:`TrackingDatabase.query` that would write, or end the read-only
    transaction lmfilter reads in (which then closes the connection)."""


# ---- what MLflow's migrations say ----------------------------------------------------------------------

# MLflow 3.18.0's alembic revisions, oldest first (mlflow/store/db_migrations/versions; the chain is linear:
# every revision has one down_revision). 3.17.2's chain is this one up to its head; 3.18.0 adds three.
_CHAIN: Final = """
    451aebb31d03 90e64c465722 181f10493468 df50e92ffc5e 7ac759974ad8 89d4b8295536 2b4d017a5e9b cfd24bdc0731
    0a8213491aaa 728d730b5ebd 27a6a02d2cf1 84291f40a231 a8c4a736bde6 39d1c3be5f05 c48cb773bb87 bd07f7e963c5
    0c779009ac13 cc1f77228345 97727af70f4d 3500859a5d39 7f2a7d5fae7d 2d6e25af4d3e acf3f17fdcc7 867495a8f9d4
    5b0e9adcef9c 4465047574b1 f5a4f2784254 0584bdc529eb 400f98739977 6953534de441 bda7b8c39065 cbc13b556ace
    770bee3ae1dd a1b2c3d4e5f6 de4033877273 1a0cddfcaa16 534353b11cbc 71994744cf8e 3da73c924c2f bf29a5ff90ea
    1bd49d398cd23 b7c8d9e0f1a2 5d2d30f0abce c9d4e5f6a7b8 2c33131f4dae d3e4f5a6b7c8 d0e1f2a3b4c5 c8d9e0f1a2b3
    1b5f0d9ad7c1 e1f2a3b4c5d6 76601a5f987d c3d6457b6d8a a5b4c3d2e1f0 ae8bbe7743c9 7d34483879f0 da6fb0208061
    89d3d66ed43f b7e4c1a90f23 a8b9c0d1e2f3 c1d2e3f4a5b6 c3d9e7f1a2b4 6f8d9c3b2a1e 1971f2d9a75b 17e22815139b
    b7e2c1a4d9f3 75868b020152 dc11669786a5 e7d1f4b2a9c6 8b6ad64cb8f5 f4a9b2c7d1e6
"""
REVISIONS: Final[tuple[str, ...]] = tuple(_CHAIN.split())
LOGGED_MODELS_REVISION: Final = "400f98739977"
"""The revision that adds the ``logged_models`` tables (``add_logged_model_tables``, MLflow 3.0)."""
MLFLOW_3_17_2_HEAD: Final = "dc11669786a5"
"""The newest revision of MLflow 3.17.2 (``add_job_executor_persistence_model``)."""
MLFLOW_3_18_0_HEAD: Final = "f4a9b2c7d1e6"
"""The newest revision of MLflow 3.18.0 (``make_mcp_versions_case_sensitive``)."""

_AT: Final[Mapping[str, int]] = {revision: i for i, revision in enumerate(REVISIONS)}

LAYOUT: Final[Mapping[str, tuple[str, ...]]] = {
    "logged_models": (*(attr.mlflow_column for attr in ATTRIBUTES), "lifecycle_stage"),
    "logged_model_params": ("model_id", "experiment_id", "param_key", "param_value"),
    "logged_model_tags": ("model_id", "experiment_id", "tag_key", "tag_value"),
    "logged_model_metrics": (
        "model_id",
        "experiment_id",
        "metric_name",
        "metric_timestamp_ms",
        "metric_step",
        "metric_value",
        "run_id",
        "dataset_name",
        "dataset_digest",
    ),
    "experiments": ("experiment_id", "name"),
}
"""The tables of MLflow's tracking database a search reads, and the columns of each it needs."""


@dataclass(frozen=True, slots=True)
class Semantics:
    """What an alembic revision says: the MLflow that wrote it (``label``, e.g. ``"3.18.0"``), the target
    whose semantics apply (None: an MLflow without logged models), and a ``note`` when that is a guess."""

    target: str | None
    label: str
    note: str | None = None


def semantics_of(revision: str | None) -> Semantics:
    """The MLflow version and search semantics an alembic revision stands for.

    >>> semantics_of("f4a9b2c7d1e6")
    Semantics(target='mlflow', label='3.18.0', note=None)
    >>> semantics_of("dc11669786a5").target, semantics_of("400f98739977").label
    ('mlflow-3.17', 'older than 3.17.2')
    >>> semantics_of("0584bdc529eb").target is None, semantics_of("abc123").label
    (True, 'unknown')
    """
    at = _AT.get(revision or "")
    if at is None:
        shown = "no revision" if revision is None else f"alembic revision {revision!r}"
        return Semantics(
            "mlflow",
            "unknown",
            f"{shown} is not one lmfilter knows (MLflow 3.18.0 ends at {MLFLOW_3_18_0_HEAD}): "
            "read as a newer MLflow, with 3.18's semantics (target mlflow); give a target (mlflow-3.17) "
            "if it is not",
        )
    if at < _AT[LOGGED_MODELS_REVISION]:
        return Semantics(None, "before 3.0")
    if at < _AT[MLFLOW_3_17_2_HEAD]:
        return Semantics(
            "mlflow-3.17",
            "older than 3.17.2",
            f"written by an MLflow older than 3.17.2 (alembic revision {revision}): read with 3.17.2's "
            "semantics (target mlflow-3.17), the oldest lmfilter knows",
        )
    if at == _AT[MLFLOW_3_17_2_HEAD]:
        return Semantics("mlflow-3.17", "3.17.2")
    if at < _AT[MLFLOW_3_18_0_HEAD]:
        return Semantics(
            "mlflow",
            "between 3.17.2 and 3.18.0",
            f"written by a development version between MLflow 3.17.2 and 3.18.0 (alembic revision "
            f"{revision}): read with 3.18.0's semantics (target mlflow)",
        )
    return Semantics("mlflow", "3.18.0")


# ---- where the database is -----------------------------------------------------------------------------

_URL: Final = re.compile(r"(?P<scheme>[\w+]+)://(?P<rest>.*)", re.DOTALL)
# SQLAlchemy's reading of a URL after its scheme: user and password up to '@', host and port, '/' and the
# database up to '?', then options
_SQLALCHEMY: Final = re.compile(
    r"(?:(?P<user>[^:/]*)(?::(?P<password>[^@]*))?@)?"
    r"(?P<host>\[[^/?]+\]|[^/:?]+)?(?::(?P<port>[^/?]*))?"
    r"(?:/(?P<database>[^?]*))?(?:\?(?P<query>.*))?",
    re.DOTALL,
)
_POSTGRES: Final = ("postgresql", "postgres")
_LATER: Final[Mapping[str, str]] = {
    "mysql": "MLflow on MySQL is not read by lmfilter",
    "mariadb": "MLflow on MariaDB is not read by lmfilter",
    "mssql": "MLflow on SQL Server is not read by lmfilter",
}
_SERVERS: Final = ("http", "https", "databricks")
_ALMOST_URL: Final = re.compile(r"[A-Za-z][\w+.-]*:")


@dataclass(frozen=True, slots=True)
class _Location:
    """A database to open: its engine's dialect, how messages name it, the file (SQLite), and libpq's
    connection keywords (PostgreSQL; the password among them, so never shown)."""

    dialect: Literal["sqlite", "postgres"]
    shown: str
    path: Path | None = None
    keywords: Mapping[str, str] = field(default_factory=dict, repr=False)

    @property
    def secrets(self) -> tuple[str, ...]:
        """What no message may show: the password, as given and as percent-encoded."""
        password = self.keywords.get("password")
        return (password, quote(password, safe="")) if password else ()


def _locate(url: str | os.PathLike[str]) -> _Location:
    if isinstance(url, os.PathLike):
        url = os.fspath(url)
        return _file(url, url)
    if not isinstance(url, str) or not url:
        raise DatabaseUrlError(repr(url), "no database given: expected sqlite:///PATH or the path of a file")
    match = _URL.fullmatch(url)
    if match is None:
        almost = _ALMOST_URL.match(url)
        if almost and "@" in url:
            # a URL with one slash too few, say, whose password must not be shown as a path
            shown = repr(f"{almost[0]}***")
            raise DatabaseUrlError(
                shown,
                f"{shown} is not a URL (SCHEME://...); an SQLite URL is sqlite:///relative.db or "
                "sqlite:////absolute.db (a file whose name starts so is given as ./NAME)",
            )
        return _file(url, url)
    shown = shown_url(url)
    scheme = match["scheme"].lower()
    engine = scheme.partition("+")[0]
    parts = _SQLALCHEMY.fullmatch(match["rest"])
    assert parts is not None  # every group is optional and the last takes the rest
    if engine in _POSTGRES:
        return _postgres(parts, repr(shown))
    if engine != "sqlite":
        if engine in _SERVERS:
            raise DatabaseUrlError(
                shown, f"{shown!r} is a tracking server, not a database: search it with --server URL"
            )
        why = _LATER.get(engine, f"lmfilter does not read {scheme}:// databases")
        raise DatabaseUrlError(
            shown,
            f"{shown!r}: {why}; lmfilter reads MLflow's SQLite (sqlite:///PATH) and PostgreSQL "
            "(postgresql://...) databases",
        )
    if parts["user"] is not None or parts["host"] or parts["port"] is not None:
        raise DatabaseUrlError(
            shown,
            f"{shown!r} names a host or user: an SQLite URL is sqlite:///relative.db or sqlite:////abs.db",
        )
    if parts["query"] is not None:
        raise DatabaseUrlError(
            shown,
            f"{shown!r} has options ('?...'): lmfilter opens the database read-only itself; drop them "
            "(a file name holding '?' is written %3F, or given as a plain path)",
        )
    database = unquote(parts["database"] or "", errors="surrogateescape")
    if database in ("", ":memory:"):
        raise DatabaseUrlError(
            shown, f"{shown!r} is an in-memory database, which holds nothing to read: give sqlite:///PATH"
        )
    return _file(database, database)


def _file(path: str, shown: str) -> _Location:
    if "\0" in path:
        raise DatabaseUrlError(repr(shown), f"the database path {shown!r} holds a NUL character")
    return _Location("sqlite", repr(shown), Path(os.path.abspath(path)))


def _postgres(parts: re.Match[str], db: str) -> _Location:
    """libpq's keywords for a PostgreSQL URL as SQLAlchemy reads it for MLflow (and hands its driver): user,
    password, host, port and database percent-decoded, and each option of the query a keyword."""
    keywords: dict[str, str] = {}
    for name, group in (("user", "user"), ("password", "password"), ("port", "port"), ("dbname", "database")):
        if parts[group]:
            keywords[name] = unquote(parts[group])
    host = parts["host"] or ""
    if "@" in host:  # SQLAlchemy ends the password at the first '@': the rest would be sent as the host
        raise DatabaseUrlError(
            db,
            f"database {db}: an '@' after the user's '@': a password holding '@' is written %40 "
            "(postgresql://user:p%40ss@host/db)",
        )
    if host.startswith("["):  # an IPv6 address
        host = host[1:-1]
    if host:
        keywords["host"] = unquote(host)
    for name, value in parse_qsl(parts["query"] or "", keep_blank_values=True):
        if name in keywords:
            raise DatabaseUrlError(db, f"database {db} gives {name!r} twice: give it once")
        keywords[name] = value
    if any("\0" in item for pair in keywords.items() for item in pair):
        raise DatabaseUrlError(db, f"database {db}: its URL holds a NUL character (%00)")
    return _Location("postgres", db, keywords=keywords)


# ---- SQLite -------------------------------------------------------------------------------------------

_PROGRESS_STEPS: Final = 100_000
"""SQLite calls back into Python every this many virtual-machine steps (well under a millisecond)."""


def _let_signals_in() -> int:
    # A Python frame, so a pending Ctrl-C is raised here; sqlite3 then ends the query with SQLITE_INTERRUPT
    # (it swallows the KeyboardInterrupt), which TrackingDatabase.query raises as KeyboardInterrupt again.
    return 0


@functools.lru_cache(maxsize=512)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


_text_lock = threading.Lock()
_text_connection: sqlite3.Connection | None = None


def _sqlite_text(value: object) -> str:
    """A value as SQLite's own ``CAST(value AS TEXT)`` writes it (a REAL's digits vary by SQLite version)."""
    if isinstance(value, str):
        return value
    if isinstance(value, int):
        return str(value)
    global _text_connection  # one private connection, made when a REAL or BLOB is first met
    with _text_lock:
        if _text_connection is None:
            _text_connection = sqlite3.connect(":memory:", check_same_thread=False)
            _text_connection.text_factory = lambda raw: raw.decode("utf-8", "replace")
        text: str = _text_connection.execute("SELECT CAST(? AS TEXT)", (value,)).fetchone()[0]
    return text


class _Regexp:
    """SQLite's ``text REGEXP pattern``, which calls ``regexp(pattern, text)``: Python's ``re.search`` with
    the pattern as given; NULL on either side is NULL. The error of a bad pattern is kept, since sqlite3
    reports only that a function raised."""

    def __init__(self) -> None:
        self.error: tuple[str, re.error] | None = None

    def __call__(self, pattern: object, text: object) -> bool | None:
        if pattern is None or text is None:
            return None
        source = _sqlite_text(pattern)
        try:
            compiled = _compiled(source)
        except re.error as error:
            self.error = (source, error)
            raise
        return compiled.search(_sqlite_text(text)) is not None


def _meaning(error: sqlite3.Error) -> tuple[type[TrackingDatabaseError], str] | None:
    """What an SQLite error means for a reader, or None for one that is lmfilter's own fault (bad SQL)."""
    name = getattr(error, "sqlite_errorname", "")
    if isinstance(error, sqlite3.ProgrammingError) and "null character" in str(error):
        return (
            QueryTooLargeError,
            "cannot be sent a query holding a NUL character (SQLite's driver refuses it)",
        )
    if name == "SQLITE_ERROR" and any(
        limit in str(error) for limit in ("at most", "too large", "too many", "maximum depth")
    ):
        return QueryTooLargeError, f"cannot run a query this large ({error}): search with fewer keys or terms"
    if name == "SQLITE_NOTADB":
        return NotAnMlflowDatabaseError, "is not an SQLite database (nor an MLflow one)"
    if name.startswith("SQLITE_CORRUPT"):
        return DatabaseUnavailableError, f"is damaged ({error}); restore it from a backup"
    if name == "SQLITE_READONLY_ROLLBACK":
        return DatabaseUnavailableError, (
            "has the journal of a writer that stopped mid-transaction, which only a writer may roll back: "
            "open it once with MLflow (or sqlite3) and try again"
        )
    if name.startswith("SQLITE_READONLY"):
        return DatabaseUnavailableError, (
            f"cannot be read without writing ({error}; a WAL database needs its -shm file, or a writable "
            "directory to make it): open it once with MLflow (or sqlite3) and try again"
        )
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
        return DatabaseUnavailableError, "stayed locked by a writer for too long: try again"
    if name.startswith(("SQLITE_CANTOPEN", "SQLITE_IOERR", "SQLITE_PERM", "SQLITE_AUTH")):
        return DatabaseUnavailableError, f"cannot be read ({error})"
    if name in ("SQLITE_NOMEM", "SQLITE_FULL", "SQLITE_TOOBIG"):
        return DatabaseUnavailableError, f"cannot be read ({error})"
    return None


Rows = list[tuple[Any, ...]]
Parameters = Sequence[Any] | Mapping[str, Any]


class _Engine(Protocol):
    """What :class:`TrackingDatabase` needs of an engine: statements run with lmfilter's errors, its tables
    and their columns, snapshots, interruption."""

    @property
    def dialect(self) -> str: ...
    @property
    def connection(self) -> Any: ...
    @property
    def where(self) -> str:
        """Where the tables were looked for, for messages (PostgreSQL's schema; empty for SQLite)."""
        ...

    def run(self, sql: str, parameters: Parameters) -> Rows: ...
    def relations(self) -> set[str]: ...
    def columns(self, table: str) -> set[str]: ...
    def snapshot(self) -> contextlib.AbstractContextManager[None]: ...
    def interrupt(self) -> None: ...
    def close(self) -> None: ...


class _Sqlite:
    """The SQLite engine: a file opened read-only, its tables and columns, and its errors."""

    dialect: Final = "sqlite"
    where: Final = ""

    def __init__(self, location: _Location, timeout: float | None) -> None:
        db, path = location.shown, location.path
        assert path is not None
        self.db = db
        self.interrupted = False
        try:
            info = path.stat()
        except FileNotFoundError:
            raise DatabaseUnavailableError(db, f"database {db} does not exist{_hint(path)}") from None
        except NotADirectoryError:
            raise DatabaseUnavailableError(
                db, f"database {db} does not exist (a part of its path is a file)"
            ) from None
        except PermissionError:
            raise DatabaseUnavailableError(
                db, f"database {db} cannot be reached (permission denied on a directory of its path)"
            ) from None
        except OSError as error:
            raise DatabaseUnavailableError(db, f"database {db} cannot be opened ({error.strerror})") from None
        if stat.S_ISDIR(info.st_mode):
            inside = path / "mlflow.db"
            hint = f"; did you mean {str(inside)!r}?" if inside.is_file() else ""
            raise DatabaseUnavailableError(
                db, f"database {db} is a directory, not MLflow's SQLite file (--backend-store-uri){hint}"
            )
        if not stat.S_ISREG(info.st_mode):
            # a FIFO or a device would block the open or read as an empty database: refuse before opening
            raise DatabaseUnavailableError(
                db, f"database {db} is not a regular file (a pipe, socket or device)"
            )
        if not os.access(path, os.R_OK):
            raise DatabaseUnavailableError(db, f"database {db} cannot be read (permission denied)")
        # A URI, so that mode=ro can be said: the path percent-encoded byte by byte, so '?', '#', '%' and
        # any byte of a non-UTF-8 name stay part of it; a missing file is an error, never a new database.
        uri = "file://" + quote(os.fsencode(path), safe="/") + "?mode=ro"
        try:
            connection = sqlite3.connect(uri, uri=True, timeout=5.0 if timeout is None else timeout)
        except sqlite3.Error as error:
            raise _failure(db, error) from None
        self.regexp = _Regexp()
        try:
            connection.execute("PRAGMA query_only = ON")
            # views and triggers of a hostile file may not call functions that are not innocuous (regexp)
            connection.execute("PRAGMA trusted_schema = OFF")
        except sqlite3.Error as error:
            connection.close()
            raise _failure(db, error) from None
        connection.create_function("regexp", 2, self.regexp, deterministic=True)
        connection.set_progress_handler(_let_signals_in, _PROGRESS_STEPS)
        self.connection = connection

    def run(self, sql: str, parameters: Parameters) -> Rows:
        self.interrupted = False
        self.regexp.error = None
        try:
            rows: Rows = self.connection.execute(sql, parameters).fetchall()
        except sqlite3.Error as error:
            if getattr(error, "sqlite_errorname", "") == "SQLITE_INTERRUPT":
                if self.interrupted:
                    raise QueryInterruptedError(
                        self.db, f"a query of database {self.db} was interrupted"
                    ) from None
                raise KeyboardInterrupt from None
            if self.regexp.error is not None:
                raise self.regexp.error[
                    1
                ] from None  # a pattern of lmfilter's own: a bug, shown as re shows it
            if _meaning(error) is None:
                raise
            raise _failure(self.db, error) from None
        return rows

    def relations(self) -> set[str]:
        # tables only: a view of a hostile file could make a plain read of "logged_models" run anything
        rows = self._read("SELECT name FROM sqlite_master WHERE type = 'table'")
        return {str(name).lower() for (name,) in rows}

    def columns(self, table: str) -> set[str]:
        rows = self._read("SELECT name FROM pragma_table_info(?)", (table,))
        return {str(name).lower() for (name,) in rows}

    def _read(self, sql: str, parameters: Parameters = ()) -> Rows:
        """A statement of lmfilter's own inspection: any failure is the database's."""
        try:
            return self.run(sql, parameters)
        except sqlite3.Error as error:
            raise _failure(self.db, error) from None

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[None]:
        if self.connection.in_transaction:  # within one already: it is the snapshot
            yield
            return
        self.run("BEGIN", ())
        try:
            yield
        finally:
            with contextlib.suppress(sqlite3.Error):
                self.connection.rollback()

    def interrupt(self) -> None:
        self.interrupted = True
        self.connection.interrupt()

    def close(self) -> None:
        self.connection.close()


def _hint(path: Path) -> str:
    text = str(path)
    if "/~" in text:
        return " ('~' is not expanded: give the full path)"
    if re.search(r"/[a-z][\w+.-]*:[^/]", text):
        return " (an SQLite URL is sqlite:///relative.db or sqlite:////absolute.db)"
    return ""


def _failure(db: str, error: sqlite3.Error) -> TrackingDatabaseError:
    described = _meaning(error)
    if described is None:
        return DatabaseUnavailableError(db, f"database {db} cannot be read ({error})")
    kind, words = described
    return kind(db, f"database {db} {words}")


# ---- PostgreSQL -------------------------------------------------------------------------------------------

_LOCK_WAIT_S: Final = 5.0
"""How long a read waits for a lock when no timeout is given (SQLite's and PostgreSQL's alike)."""
_CONNECT_WAIT_S: Final = 10
"""How long a connection to PostgreSQL may take when no timeout is given."""

# What a PostgreSQL error means for a reader, by SQLSTATE (its class, or the whole code: the longest
# prefix that is here wins); anything else is lmfilter's own fault (bad SQL) and raised as psycopg raises it.
_SQLSTATES: Final[Mapping[str, tuple[type[TrackingDatabaseError], str]]] = {
    "08": (DatabaseUnavailableError, "cannot be reached ({message}): try again"),
    "28": (
        DatabaseUnavailableError,
        "refuses the login ({message}): check the user and password in the URL, ~/.pgpass or PGPASSWORD",
    ),
    "3D000": (DatabaseUnavailableError, "does not exist ({message}): MLflow's --backend-store-uri names it"),
    "53": (DatabaseUnavailableError, "lacks the resources to answer ({message}): try again later"),
    "57P": (DatabaseUnavailableError, "went away ({message}): try again when it is back"),
    "58": (DatabaseUnavailableError, "cannot be read ({message})"),
    "XX": (DatabaseUnavailableError, "cannot be read ({message})"),
    "55P03": (DatabaseUnavailableError, "stayed locked by a writer for too long: try again"),
    "42501": (
        DatabaseUnavailableError,
        "cannot be read by this role ({message}): give it SELECT on MLflow's tables (GRANT pg_read_all_data)",
    ),
    "54": (QueryTooLargeError, "cannot run a query this large ({message}): search with fewer keys or terms"),
    "22021": (QueryTooLargeError, "cannot take a character of this query ({message})"),
    "22P05": (QueryTooLargeError, "cannot take a character of this query ({message})"),
    "22025": (
        QueryTooLargeError,
        "cannot match a LIKE pattern that ends with a backslash ({message}): MLflow on PostgreSQL reads a "
        "backslash as an escape, so one backslash is written '\\\\'",
    ),
    "22003": (QueryTooLargeError, "cannot read a value as a number ({message})"),
    "42P01": (NotAnMlflowDatabaseError, "is not the MLflow tracking layout lmfilter reads ({message})"),
    "42703": (NotAnMlflowDatabaseError, "is not the MLflow tracking layout lmfilter reads ({message})"),
    "25": (ReadOnlyError, "is read-only to lmfilter ({message})"),
    "25P02": (ReadOnlyError, "refuses more of a snapshot in which a statement failed ({message})"),
}


# libpq gives no SQLSTATE for a connection it could not make: its message says which it would have been
_CONNECT_FAILURES: Final = (
    (
        re.compile(
            r"authentication failed|no password supplied|no pg_hba\.conf entry|role \S+ does not exist"
        ),
        "28000",
    ),
    (re.compile(r"database \S+ does not exist"), "3D000"),
    (re.compile(r"too many (?:connections|clients)|remaining connection slots"), "53300"),
    (re.compile(r"starting up|shutting down|in recovery mode"), "57P03"),
)


def _connect_failure(message: str) -> str:
    """The SQLSTATE a failed connection's message stands for (08006, connection failure, by default)."""
    return next((code for pattern, code in _CONNECT_FAILURES if pattern.search(message)), "08006")


def _scrubbed(text: str, secrets: Sequence[str]) -> str:
    """A driver's message as one line, without any secret in it."""
    for secret in secrets:
        text = text.replace(secret, "***")
    text = " ".join(text.split())
    return text.removeprefix("connection failed: ")


class _Postgres:
    """The PostgreSQL engine (psycopg 3): a session forced read-only, its tables and columns in its schema,
    its errors by SQLSTATE, and cancellation."""

    dialect: Final = "postgres"

    def __init__(self, location: _Location, timeout: float | None) -> None:
        db = self.db = location.shown
        self.secrets = location.secrets
        self.timeout = timeout
        self.interrupted = False
        self._depth = 0
        self._started: object = None
        try:
            import psycopg
        except ImportError:
            raise DatabaseUnavailableError(
                db,
                f"database {db} is on PostgreSQL, which lmfilter reads with the postgres extra (psycopg 3): "
                "pip install 'lmfilter[postgres]'",
            ) from None
        self._psycopg = psycopg
        keywords = dict(location.keywords)
        wait = _CONNECT_WAIT_S if timeout is None else timeout
        keywords.setdefault("connect_timeout", str(max(2, math.ceil(wait))))  # libpq's least is 2
        keywords.setdefault("application_name", "lmfilter")
        try:
            conninfo = psycopg.conninfo.make_conninfo(**keywords)
        except psycopg.ProgrammingError as error:
            raise DatabaseUrlError(
                db,
                f"database {db}: {_scrubbed(str(error), self.secrets)} (a PostgreSQL URL's options are "
                "libpq's connection keywords: sslmode, options, host, ...)",
            ) from None
        try:
            self.connection: psycopg.Connection[tuple[Any, ...]] = psycopg.connect(conninfo, autocommit=True)
        except psycopg.Error as error:
            raise self.failure(error) from None
        try:
            self.where = f" (schema {self._configure(timeout)!r})"
        except BaseException:
            self.connection.close()
            raise

    def _configure(self, timeout: float | None) -> str:
        """Force the session's options lmfilter's SQL relies on; pin the schema; return it."""
        lock_ms = round(1000 * (_LOCK_WAIT_S if timeout is None else timeout))
        settings = {
            "standard_conforming_strings": "on",  # a backslash in a literal is a backslash
            "default_transaction_read_only": "on",
            "client_encoding": "UTF8",
            "extra_float_digits": "1",  # a double written as text is its shortest exact form
            "lock_timeout": str(max(1, lock_ms)),
        }
        if timeout is not None:
            settings["statement_timeout"] = str(max(1, round(1000 * timeout)))
        # outside any transaction (autocommit), so that no ROLLBACK undoes them
        self._session(
            "SELECT set_config(name, value, false) FROM unnest(%s::text[], %s::text[]) AS s(name, value)",
            (list(settings), list(settings.values())),
        )
        ((schema,),) = self._session("SELECT current_schema()")
        if schema is None:
            raise NotAnMlflowDatabaseError(
                self.db,
                f"database {self.db} has no schema of its search_path: name the schema of MLflow's tables "
                "with ?options=-csearch_path%3DSCHEMA",
            )
        # Only that schema (pg_catalog is searched first): no function of another shadows a built-in one.
        self._session("SELECT set_config('search_path', quote_ident(%s), false)", (schema,))
        return str(schema)

    def _session(self, sql: str, parameters: Parameters = ()) -> Rows:
        """A statement of lmfilter's own on the session, outside any transaction."""
        try:
            return self.connection.execute(sql, parameters or None).fetchall()
        except self._psycopg.Error as error:
            raise self.failure(error) from None

    def run(self, sql: str, parameters: Parameters) -> Rows:
        psycopg = self._psycopg
        if self.connection.closed:
            raise DatabaseUnavailableError(
                self.db,
                f"database {self.db} is closed (by close(), or after a statement that ended its transaction)",
            )
        if "\0" in sql:  # libpq would end the statement at the NUL
            raise QueryTooLargeError(
                self.db,
                f"database {self.db} cannot be sent a query holding a NUL character (PostgreSQL's "
                "text cannot hold one)",
            )
        self.interrupted = False
        with self.snapshot():
            try:
                with self.connection.cursor() as cursor:
                    # binary: always the extended protocol, which runs one statement, never several
                    cursor.execute(sql, parameters or None, binary=True)
                    rows: Rows = cursor.fetchall() if cursor.description is not None else []
            except psycopg.Error as error:
                if self.connection.closed:
                    raise self.failure(error) from None
                described = self._meaning(error)
                if described is None:
                    raise
                raise described from None
            if not self._still_ours():
                self.connection.close()
                raise ReadOnlyError(
                    self.db,
                    f"database {self.db}: a statement ended the read-only transaction lmfilter reads in "
                    "(COMMIT, ROLLBACK, ...); the connection is closed",
                )
        return rows

    def _still_ours(self) -> bool:
        """Whether the transaction is still the one :meth:`snapshot` began (a COMMIT AND CHAIN begins
        another, whose mode a SET TRANSACTION could still change: reading in it makes that final too)."""
        psycopg = self._psycopg
        if self.connection.info.transaction_status != psycopg.pq.TransactionStatus.INTRANS:
            return False
        try:
            return self.connection.execute("SELECT now()").fetchall() == [(self._started,)]
        except psycopg.Error as error:
            raise self.failure(error) from None

    def _read(self, sql: str, parameters: Parameters = ()) -> Rows:
        """A statement of lmfilter's own inspection: any failure is the database's."""
        try:
            return self.run(sql, parameters)
        except self._psycopg.Error as error:
            raise self.failure(error) from None

    def relations(self) -> set[str]:
        # pg_catalog, not information_schema: that one hides the tables a role may not read, whose reads
        # should fail as "permission denied", not as "not MLflow's"; tables only, as for SQLite
        rows = self._read(
            "SELECT c.relname FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n "
            "ON n.oid = c.relnamespace WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p')"
        )
        return {str(name) for (name,) in rows}

    def columns(self, table: str) -> set[str]:
        rows = self._read(
            "SELECT a.attname FROM pg_catalog.pg_attribute a "
            "JOIN pg_catalog.pg_class c ON c.oid = a.attrelid "
            "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = current_schema() AND c.relname = %s AND a.attnum > 0 AND NOT a.attisdropped",
            (table,),
        )
        return {str(name) for (name,) in rows}

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[None]:
        if self._depth:
            yield
            return
        psycopg = self._psycopg
        try:
            self.connection.execute("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            # A first statement takes the snapshot now, and makes the transaction's mode final: a later
            # SET TRANSACTION READ WRITE is refused. now() is when the transaction began: its identity.
            ((self._started,),) = self.connection.execute("SELECT now()").fetchall()
        except psycopg.Error as error:
            raise self.failure(error) from None
        self._depth = 1
        try:
            yield
        finally:
            self._depth = 0
            if not self.connection.closed:
                with contextlib.suppress(psycopg.Error):
                    self.connection.execute("ROLLBACK")

    def _meaning(self, error: psycopg.Error) -> TrackingDatabaseError | None:
        """What a PostgreSQL error means for a reader, or None for one that is lmfilter's own fault."""
        db, code = self.db, error.sqlstate or ""
        message = _scrubbed(
            getattr(error.diag, "message_primary", None) or str(error).split("\n", 1)[0], self.secrets
        )
        if code == "57014":
            if self.interrupted:
                return QueryInterruptedError(db, f"a query of database {db} was interrupted")
            if "statement timeout" in message:
                return QueryInterruptedError(
                    db,
                    f"a query of database {db} ran past the timeout ({self.timeout:g} s): give a longer "
                    "one, or search less",
                )
            return QueryInterruptedError(db, f"a query of database {db} was cancelled ({message})")
        if not code and isinstance(error, self._psycopg.OperationalError):
            code = _connect_failure(message)
        if code == "42601" and "memory exhausted" in message:  # the parser's stack: a statement too deep
            code = "54001"
        if not code:
            if isinstance(error, self._psycopg.DataError) and "NUL" in message:
                return QueryTooLargeError(db, f"database {db} cannot take a NUL character ({message})")
            return None
        for prefix in (code, code[:3], code[:2]):
            if prefix in _SQLSTATES:
                kind, words = _SQLSTATES[prefix]
                return kind(db, f"database {db} " + words.format(message=message))
        return None

    def failure(self, error: psycopg.Error) -> TrackingDatabaseError:
        """Any error, as the database's fault."""
        described = self._meaning(error)
        if described is not None:
            return described
        message = _scrubbed(str(error), self.secrets)
        return DatabaseUnavailableError(self.db, f"database {self.db} cannot be read ({message})")

    def interrupt(self) -> None:
        self.interrupted = True
        self.connection.cancel_safe()

    def close(self) -> None:
        self.connection.close()


_ENGINES: Final[Mapping[str, type[_Sqlite] | type[_Postgres]]] = {"sqlite": _Sqlite, "postgres": _Postgres}
"""Each dialect's engine."""


# ---- the database ---------------------------------------------------------------------------------------


class TrackingDatabase:
    """An MLflow tracking database, open read-only (make one with :func:`open_database`).

    ``connection`` is the DB-API connection (``sqlite3`` or ``psycopg``) for the SQL of
    :func:`lmfilter.sql.to_sql` in ``dialect`` (``"sqlite"`` or ``"postgres"``); :meth:`query` runs a
    statement on it with lmfilter's errors and Ctrl-C, :meth:`sql` writes a search's statement,
    :meth:`snapshot` keeps several reads to one state of the database. ``target`` is the semantics to
    search it with, ``revision`` its alembic revision (None when it has none), ``version_label`` the MLflow
    that wrote it (``"3.18.0"``, ``"3.17.2"``, ``"older than 3.17.2"``, ...), ``warning`` one line for
    the user when the target is a guess (None otherwise), and ``path`` its file (SQLite; None for
    PostgreSQL). Closing is idempotent; a ``with`` block closes it.
    """

    def __init__(
        self,
        engine: _Engine,
        *,
        database: str,
        path: Path | None,
        revision: str | None,
        target: str,
        version_label: str,
        warning: str | None,
    ) -> None:
        self._engine = engine
        self.connection = engine.connection
        self.database = database
        self.path = path
        self.dialect = engine.dialect
        self.revision = revision
        self.target = target
        self.version_label = version_label
        self.warning = warning
        self._closed = False

    def __repr__(self) -> str:
        return (
            f"TrackingDatabase({self.database}, dialect={self.dialect!r}, target={self.target!r}, "
            f"version={self.version_label!r})"
        )

    def query(self, sql: str, parameters: Parameters = ()) -> Rows:
        """Every row of one statement (SQLite's parameters are ``?``, PostgreSQL's ``%s``). A Ctrl-C ends it
        with KeyboardInterrupt, :meth:`interrupt` with :class:`QueryInterruptedError`; a lock held too long,
        a damaged file or a server gone is a :class:`DatabaseUnavailableError`, a query past the engine's
        limits a :class:`QueryTooLargeError`, one that would write a :class:`ReadOnlyError`. Any other
        error in the SQL itself is raised as the driver raises it.

        On PostgreSQL, a statement outside a :meth:`snapshot` runs in a read-only transaction of its own."""
        return self._engine.run(sql, parameters)

    def sql(
        self,
        filter: str | None = None,  # noqa: A002 - the API's word
        *,
        datasets: Datasets = None,
        order_by: OrderByArg = None,
        experiment_ids: Iterable[str | int] | str | int | None = None,
        max_results: int | None = None,
    ) -> str:
        """The :func:`lmfilter.sql.to_sql` statement of a search of this database: its dialect, its target,
        and the meaning MLflow's own SQL has on it (on PostgreSQL, a backslash escapes in a LIKE pattern,
        and ILIKE and text order follow the database's collation), so that it answers what the MLflow
        server on this database answers."""
        from lmfilter.sql.compile import to_sql

        return to_sql(
            filter,
            datasets=datasets,
            order_by=order_by,
            target=self.target,
            dialect=self.dialect,
            experiment_ids=experiment_ids,
            max_results=max_results,
            mlflow_backend=True,
        )

    def ids(self, sql: str) -> list[str]:
        """The first column of every row of ``sql`` as text, in order: the model ids a
        :func:`~lmfilter.sql.to_sql` statement selects (run by :meth:`query`)."""
        return [str(row[0]) for row in self.query(sql)]

    def snapshot(self) -> contextlib.AbstractContextManager[None]:
        """A context in which every :meth:`query` reads one committed state of the database, however a
        server writes it meanwhile (SQLite: one read transaction; PostgreSQL: one ``REPEATABLE READ,
        READ ONLY`` transaction). Nested, it is the outer one."""
        return self._engine.snapshot()

    def describe(self) -> str:
        """One line on what was opened, e.g. ``database 'mlflow.db' (sqlite, MLflow 3.18.0, alembic revision
        f4a9b2c7d1e6)``."""
        revision = f"alembic revision {self.revision}" if self.revision else "no alembic revision"
        where = self._engine.where.strip(" ()")
        return (
            f"database {self.database} ({self.dialect}, MLflow {self.version_label}, {revision}"
            f"{', ' + where if where else ''})"
        )

    def interrupt(self) -> None:
        """End the query running on this database now (safe to call from another thread)."""
        self._engine.interrupt()

    def experiment_ids_of(self, names_or_ids: Iterable[str | int] | str | int) -> tuple[str, ...]:
        """The ids of experiments given by id or by name, in order, each once; an id is taken before a
        name that reads like it (``lmfilter search`` takes ids; a name is the convenience).

        Raises :class:`~lmfilter.RequestError` for none, :class:`ExperimentNotFoundError` for one the
        database does not hold or a name several experiments share (in different workspaces).
        """
        wanted = experiment_ids_of(names_or_ids)
        if not wanted or any(not item for item in wanted):
            raise RequestError("experiment_ids", "give at least one experiment id or name")
        ids: dict[str, None] = {}
        names: dict[str, list[str]] = {}
        for experiment_id, name in self.query("SELECT experiment_id, name FROM experiments"):
            ids[str(experiment_id)] = None
            names.setdefault(str(name), []).append(str(experiment_id))
        found: dict[str, None] = {}
        for item in wanted:
            as_id = str(int(item)) if re.fullmatch(r"[0-9]+", item) else None
            if as_id in ids:
                found[as_id] = None
                continue
            matches = names.get(item, [])
            if len(matches) > 1:
                raise ExperimentNotFoundError(
                    self.database,
                    f"experiment name {item!r} names {len(matches)} experiments of database {self.database} "
                    f"(ids {', '.join(matches)}, in different workspaces): give one id",
                )
            if not matches:
                raise ExperimentNotFoundError(
                    self.database, f"database {self.database} holds no experiment with id or name {item!r}"
                )
            found[matches[0]] = None
        return tuple(found)

    def close(self) -> None:
        """Close the connection (again is a no-op)."""
        if not self._closed:
            self._closed = True
            self._engine.close()

    def __enter__(self) -> TrackingDatabase:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()


def open_database(
    url: str | os.PathLike[str], *, target: str | Target | None = None, timeout: float | None = None
) -> TrackingDatabase:
    """Open MLflow's tracking database at ``url`` (``sqlite:///relative.db``, ``sqlite:////abs.db``, a path,
    or ``postgresql://user:password@host:port/database?option=value``) read-only, and tell which MLflow
    semantics apply to it.

    A ``Path`` is a path too. ``target`` forces the semantics (an MLflow target: ``mlflow``,
    ``mlflow-3.18``, ``mlflow-3.17``) instead of reading them from the database's alembic revision.
    ``timeout`` is how many seconds a read waits for a writer's lock (5 when None); on PostgreSQL also how
    long connecting may take (10 when None) and, when given, how long a statement may run.

    Raises :class:`DatabaseUrlError` (a URL it does not read), :class:`DatabaseUnavailableError` (cannot be
    read; also a missing PostgreSQL driver), :class:`NotAnMlflowDatabaseError`, and
    :class:`~lmfilter.UnknownTargetError` for a target that is not MLflow's.
    """
    forced = _mlflow_target(target) if target is not None else None
    if timeout is not None and not 0 < timeout < math.inf:
        raise ValueError(f"a timeout is a positive number of seconds, not {timeout!r}")
    location = _locate(url)
    engine = _ENGINES[location.dialect](location, timeout)
    try:
        revision, semantics = _inspect(engine, location, forced)
    except BaseException:
        engine.close()
        raise
    db = location.shown
    return TrackingDatabase(
        engine,
        database=db,
        path=location.path,
        revision=revision,
        target=forced or str(semantics.target),
        version_label=semantics.label,
        warning=None if forced or semantics.note is None else f"database {db}: {semantics.note}",
    )


def _mlflow_target(target: str | Target) -> str:
    profile = get_target(target)
    if profile.kind != "mlflow":
        known = ", ".join(name for name, t in TARGETS.items() if t.kind == "mlflow")
        raise UnknownTargetError(
            f"an MLflow database is searched with an MLflow target ({known}), not {profile.name!r}"
        )
    return target if isinstance(target, str) else profile.name


def _inspect(engine: _Engine, location: _Location, forced: str | None) -> tuple[str | None, Semantics]:
    db, where = location.shown, engine.where
    with engine.snapshot():
        relations = engine.relations()
        revisions = (
            [str(row[0]) for row in engine.run("SELECT version_num FROM alembic_version", ())]
            if "alembic_version" in relations
            else []
        )
        missing = [table for table in LAYOUT if table not in relations]
        absent = {
            table: [column for column in LAYOUT[table] if column not in engine.columns(table)]
            for table in LAYOUT
            if table not in missing
        }
    revision = "+".join(sorted(revisions)) or None
    semantics = semantics_of(revision)
    schema_hint = (
        " (MLflow's tables in another schema are named with ?options=-csearch_path%3DSCHEMA)"
        if location.dialect == "postgres"
        else ""
    )
    if not relations:
        raise NotAnMlflowDatabaseError(
            db, f"database {db}{where} is empty (no tables): not MLflow's tracking database{schema_hint}"
        )
    if semantics.target is None:
        url = f"sqlite:///{location.path}" if location.path is not None else "URL"
        raise NotAnMlflowDatabaseError(
            db,
            f"database {db} is from an MLflow without logged models (before 3.0; alembic revision "
            f"{revision}): upgrade it with `mlflow db upgrade {shlex.quote(url)}` (back it up first)",
        )
    if missing:
        raise NotAnMlflowDatabaseError(
            db,
            f"database {db}{where} is not MLflow's tracking database (no {', '.join(missing)} "
            f"table{'s' if len(missing) > 1 else ''}){schema_hint}",
        )
    lacking = [f"{table}.{column}" for table, columns in absent.items() for column in columns]
    if lacking:
        raise NotAnMlflowDatabaseError(
            db,
            f"database {db} is not the MLflow tracking layout lmfilter reads "
            f"(no column {', '.join(lacking)})",
        )
    if revision is None and forced is None:
        raise NotAnMlflowDatabaseError(
            db,
            f"database {db} has no alembic revision, so which MLflow wrote it is unknown: give a target "
            "(mlflow for 3.18, mlflow-3.17) to read it",
        )
    return revision, semantics
