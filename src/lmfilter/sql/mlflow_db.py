"""MLflow's own tracking database, opened read-only: which file it is, which MLflow wrote it, and so which
semantics a search of it must follow.

:func:`open_database` takes what MLflow users already have in ``MLFLOW_TRACKING_URI`` or
``--backend-store-uri``: ``sqlite:///relative.db``, ``sqlite:////absolute.db`` (SQLAlchemy's URL forms,
with its percent-decoding), or a plain path taken as it is (so a name may hold ``?``, ``#`` or ``%``). It
promises the next stage a :class:`TrackingDatabase`:

- opened read-only for real (SQLite's ``mode=ro``; the file is never created, written or journaled, and
  ``PRAGMA query_only`` holds the connection to it), safe to read while an MLflow server writes the file;
- holding the tables a search reads (:data:`LAYOUT`), with the columns it reads;
- knowing which MLflow wrote it, from the alembic revision MLflow's migrations leave in ``alembic_version``
  (:data:`REVISIONS` is MLflow 3.18.0's chain of them), and so the target whose semantics apply: ``mlflow``
  for 3.18.0, ``mlflow-3.17`` for 3.17.2 and the older 3.x releases that have logged models; an unknown,
  presumably newer, revision is read as ``mlflow`` with a :attr:`~TrackingDatabase.warning`, and a caller
  may force a target;
- with a ``regexp(pattern, text)`` function (SQLite's ``text REGEXP pattern``) and queries that Ctrl-C ends.

Every failure is a :class:`TrackingDatabaseError` with one line that names the database and says what to
do; no sqlite3 message reaches the user bare. A password in a URL is never shown
(:func:`lmfilter.auth.shown_url`). Only SQLite is read today; the engine is one small class
(:class:`_Sqlite`), so PostgreSQL (issue 14) is a second one beside it.
"""

from __future__ import annotations

import functools
import os
import re
import shlex
import sqlite3
import stat
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Literal
from urllib.parse import quote, unquote

from lmfilter.auth import shown_url
from lmfilter.errors import LmfilterError
from lmfilter.requests import RequestError, experiment_ids_of
from lmfilter.schema import ATTRIBUTES, TARGETS, Target, UnknownTargetError, get_target

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
    """A database URL or path lmfilter cannot take: a scheme it does not read (yet), an in-memory or
    empty name, a host, credentials or options on an SQLite URL."""


class DatabaseUnavailableError(TrackingDatabaseError):
    """The database cannot be read: no such file, not a regular file, no permission, locked for too long,
    damaged, or a crashed writer's journal to roll back first."""


class NotAnMlflowDatabaseError(TrackingDatabaseError):
    """The file is not an SQLite database, or not MLflow's tracking database, or one from an MLflow without
    logged models (before 3.0), or one whose revision says nothing and no target was given."""


class ExperimentNotFoundError(TrackingDatabaseError, ValueError):
    """An experiment id or name that the database does not hold, or a name that several experiments
    (of different workspaces) share."""


class QueryTooLargeError(TrackingDatabaseError, ValueError):
    """A query past one of SQLite's limits (64 tables in a join, expressions 1,000 deep, ...), or holding
    what SQLite's driver cannot send (a NUL character)."""


class QueryInterruptedError(TrackingDatabaseError):
    """A query ended by :meth:`TrackingDatabase.interrupt` (a Ctrl-C ends one with KeyboardInterrupt)."""


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
_LATER: Final[Mapping[str, str]] = {
    "postgresql": "MLflow on PostgreSQL is read by a later lmfilter (issue 14, with the 'postgres' extra)",
    "postgres": "MLflow on PostgreSQL is read by a later lmfilter (issue 14, with the 'postgres' extra)",
    "mysql": "MLflow on MySQL is not read by lmfilter",
    "mariadb": "MLflow on MariaDB is not read by lmfilter",
    "mssql": "MLflow on SQL Server is not read by lmfilter",
}
_SERVERS: Final = ("http", "https", "databricks")
_ALMOST_URL: Final = re.compile(r"[A-Za-z][\w+.-]*:")


@dataclass(frozen=True, slots=True)
class _Location:
    """A database to open: its engine's dialect, the file (SQLite), and how messages name it."""

    dialect: Literal["sqlite"]
    path: Path
    shown: str


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
    if engine != "sqlite":
        if engine in _SERVERS:
            raise DatabaseUrlError(
                shown, f"{shown!r} is a tracking server, not a database: search it with --server URL"
            )
        why = _LATER.get(engine, f"lmfilter does not read {scheme}:// databases")
        raise DatabaseUrlError(
            shown, f"{shown!r}: {why}; lmfilter reads MLflow's SQLite databases (sqlite:///PATH)"
        )
    parts = _SQLALCHEMY.fullmatch(match["rest"])
    assert parts is not None  # every group is optional and the last takes the rest
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
    return _Location("sqlite", Path(os.path.abspath(path)), repr(shown))


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


class _Sqlite:
    """The SQLite engine: how to open a file read-only, list its tables and columns, and read its errors."""

    dialect: Final = "sqlite"

    @staticmethod
    def connect(location: _Location, timeout: float) -> tuple[sqlite3.Connection, _Regexp]:
        db, path = location.shown, location.path
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
            connection = sqlite3.connect(uri, uri=True, timeout=timeout)
        except sqlite3.Error as error:
            raise _failure(db, error) from None
        regexp = _Regexp()
        try:
            connection.execute("PRAGMA query_only = ON")
            # views and triggers of a hostile file may not call functions that are not innocuous (regexp)
            connection.execute("PRAGMA trusted_schema = OFF")
        except sqlite3.Error as error:
            connection.close()
            raise _failure(db, error) from None
        connection.create_function("regexp", 2, regexp, deterministic=True)
        connection.set_progress_handler(_let_signals_in, _PROGRESS_STEPS)
        return connection, regexp

    @staticmethod
    def relations(connection: sqlite3.Connection) -> set[str]:
        # tables only: a view of a hostile file could make a plain read of "logged_models" run anything
        rows = connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
        return {str(name).lower() for (name,) in rows}

    @staticmethod
    def columns(connection: sqlite3.Connection, table: str) -> set[str]:
        rows = connection.execute("SELECT name FROM pragma_table_info(?)", (table,)).fetchall()
        return {str(name).lower() for (name,) in rows}


_ENGINES: Final = {"sqlite": _Sqlite}
"""Each dialect's engine; PostgreSQL's comes beside SQLite's (issue 14)."""


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


# ---- the database ---------------------------------------------------------------------------------------


class TrackingDatabase:
    """An MLflow tracking database, open read-only (make one with :func:`open_database`).

    ``connection`` is the DB-API connection (``sqlite3`` today) for the SQL of :func:`lmfilter.sql.to_sql`
    in ``dialect``; :meth:`query` runs a statement on it with lmfilter's errors and Ctrl-C. ``target`` is
    the semantics to search it with, ``revision`` its alembic revision (None when it has none),
    ``version_label`` the MLflow that wrote it (``"3.18.0"``, ``"3.17.2"``, ``"older than 3.17.2"``, ...),
    and ``warning`` one line for the user when the target is a guess (None otherwise). Closing is
    idempotent; a ``with`` block closes it.
    """

    def __init__(
        self,
        connection: sqlite3.Connection,
        *,
        database: str,
        path: Path,
        dialect: str,
        revision: str | None,
        target: str,
        version_label: str,
        warning: str | None,
        regexp: _Regexp,
    ) -> None:
        self.connection = connection
        self.database = database
        self.path = path
        self.dialect = dialect
        self.revision = revision
        self.target = target
        self.version_label = version_label
        self.warning = warning
        self._regexp = regexp
        self._interrupted = False
        self._closed = False

    def __repr__(self) -> str:
        return (
            f"TrackingDatabase({self.database}, dialect={self.dialect!r}, target={self.target!r}, "
            f"version={self.version_label!r})"
        )

    def query(self, sql: str, parameters: Sequence[Any] | Mapping[str, Any] = ()) -> list[tuple[Any, ...]]:
        """Every row of one statement. A Ctrl-C ends it with KeyboardInterrupt, :meth:`interrupt` with
        :class:`QueryInterruptedError`; a lock held too long or a damaged file is a
        :class:`DatabaseUnavailableError`, a query past SQLite's limits a :class:`QueryTooLargeError`. Any
        other error in the SQL itself is raised as sqlite3 raises it."""
        self._interrupted = False
        self._regexp.error = None
        try:
            rows: list[tuple[Any, ...]] = self.connection.execute(sql, parameters).fetchall()
        except sqlite3.Error as error:
            if getattr(error, "sqlite_errorname", "") == "SQLITE_INTERRUPT":
                if self._interrupted:
                    raise QueryInterruptedError(
                        self.database, f"a query of database {self.database} was interrupted"
                    ) from None
                raise KeyboardInterrupt from None
            if self._regexp.error is not None:
                raise self._regexp.error[
                    1
                ] from None  # a pattern of lmfilter's own: a bug, shown as re shows it
            if _meaning(error) is None:
                raise
            raise _failure(self.database, error) from None
        return rows

    def ids(self, sql: str) -> list[str]:
        """The first column of every row of ``sql`` as text, in order: the model ids a
        :func:`~lmfilter.sql.to_sql` statement selects (run by :meth:`query`)."""
        return [str(row[0]) for row in self.query(sql)]

    def describe(self) -> str:
        """One line on what was opened, e.g. ``database 'mlflow.db' (sqlite, MLflow 3.18.0, alembic revision
        f4a9b2c7d1e6)``."""
        revision = f"alembic revision {self.revision}" if self.revision else "no alembic revision"
        return f"database {self.database} ({self.dialect}, MLflow {self.version_label}, {revision})"

    def interrupt(self) -> None:
        """End the query running on this database now (safe to call from another thread)."""
        self._interrupted = True
        self.connection.interrupt()

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
            self.connection.close()

    def __enter__(self) -> TrackingDatabase:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()


def open_database(
    url: str | os.PathLike[str], *, target: str | Target | None = None, timeout: float = 5.0
) -> TrackingDatabase:
    """Open MLflow's tracking database at ``url`` (``sqlite:///relative.db``, ``sqlite:////abs.db`` or a
    path) read-only, and tell which MLflow semantics apply to it.

    A ``Path`` is a path too. ``target`` forces the semantics (an MLflow target: ``mlflow``,
    ``mlflow-3.18``, ``mlflow-3.17``) instead of reading them from the database's alembic revision;
    ``timeout`` is how many seconds a read waits for a writer's lock.

    Raises :class:`DatabaseUrlError` (a URL it does not read), :class:`DatabaseUnavailableError` (cannot be
    read), :class:`NotAnMlflowDatabaseError`, and :class:`~lmfilter.UnknownTargetError` for a target that is
    not MLflow's.
    """
    forced = _mlflow_target(target) if target is not None else None
    location = _locate(url)
    engine = _ENGINES[location.dialect]()
    connection, regexp = engine.connect(location, timeout)
    try:
        revision, semantics = _inspect(engine, connection, location, forced)
    except BaseException:
        connection.close()
        raise
    db = location.shown
    return TrackingDatabase(
        connection,
        database=db,
        path=location.path,
        dialect=engine.dialect,
        revision=revision,
        target=forced or str(semantics.target),
        version_label=semantics.label,
        warning=None if forced or semantics.note is None else f"database {db}: {semantics.note}",
        regexp=regexp,
    )


def _mlflow_target(target: str | Target) -> str:
    profile = get_target(target)
    if profile.kind != "mlflow":
        known = ", ".join(name for name, t in TARGETS.items() if t.kind == "mlflow")
        raise UnknownTargetError(
            f"an MLflow database is searched with an MLflow target ({known}), not {profile.name!r}"
        )
    return target if isinstance(target, str) else profile.name


def _inspect(
    engine: _Sqlite, connection: sqlite3.Connection, location: _Location, forced: str | None
) -> tuple[str | None, Semantics]:
    db = location.shown
    try:
        relations = engine.relations(connection)
        revisions = (
            [str(row[0]) for row in connection.execute("SELECT version_num FROM alembic_version")]
            if "alembic_version" in relations
            else []
        )
        missing = [table for table in LAYOUT if table not in relations]
        absent = {
            table: [column for column in LAYOUT[table] if column not in engine.columns(connection, table)]
            for table in LAYOUT
            if table not in missing
        }
    except sqlite3.Error as error:
        raise _failure(db, error) from None
    revision = "+".join(sorted(revisions)) or None
    semantics = semantics_of(revision)
    if not relations:
        raise NotAnMlflowDatabaseError(
            db, f"database {db} is empty (no tables): not MLflow's tracking database"
        )
    if semantics.target is None:
        upgrade = shlex.quote(f"sqlite:///{location.path}")
        raise NotAnMlflowDatabaseError(
            db,
            f"database {db} is from an MLflow without logged models (before 3.0; alembic revision "
            f"{revision}): upgrade it with `mlflow db upgrade {upgrade}` (back it up first)",
        )
    if missing:
        raise NotAnMlflowDatabaseError(
            db,
            f"database {db} is not MLflow's tracking database (no {', '.join(missing)} "
            f"table{'s' if len(missing) > 1 else ''})",
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
