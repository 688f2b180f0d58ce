"""A model store on DuckDB: logged models kept in MLflow's own four tables, searched with :func:`to_sql`.

A :class:`ModelStore` is a cache of logged models that a search reads as SQL: ``add`` loads models (a
JSON or JSON-lines file goes through DuckDB's own JSON reader, with no Python object per model), ``select``
returns what :func:`lmfilter.select` would return over the same models, in the same order, and ``count``
counts them. The tables are MLflow's (``logged_models``, ``logged_model_params``, ``logged_model_tags``,
``logged_model_metrics``: see the README), so ``to_parquet`` writes files any SQL engine reads with the same
statements.

>>> store = ModelStore()
>>> store.add([
...     {"info": {"model_id": "m-1", "name": "a", "creation_timestamp_ms": 1},
...      "data": {"params": [{"key": "alpha", "value": "0.1"}],
...               "metrics": [{"key": "acc", "value": 0.95, "step": 1}]}},
...     {"info": {"model_id": "m-2", "name": "b", "creation_timestamp_ms": 2},
...      "data": {"params": [{"key": "alpha", "value": "0.5"}]}},
... ])
2
>>> [m.model_id for m in store.select("params.alpha < 0.3 OR metrics.acc IS NULL")]
['m-2', 'm-1']
>>> store.count("metrics.acc > 0.9"), store.ids(order_by=[{"field_name": "name"}])
(1, ['m-1', 'm-2'])
>>> store.close()
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final, Self

import duckdb
from sqlglot import exp

from lmfilter import ast
from lmfilter.errors import LmfilterError
from lmfilter.model_files import starts_as_duckdb
from lmfilter.requests import Datasets, OrderByArg
from lmfilter.schema import Target
from lmfilter.sql import tables
from lmfilter.sql.compile import FirstPage, first_page, select_statement, to_sql
from lmfilter.wire import LoggedModel

if TYPE_CHECKING:
    from lmfilter.client import Client
    from lmfilter.sql.pull import PullProgress, PullReport

FULL_EVERY: Final = 24 * 3600.0
"""Seconds after which :meth:`ModelStore.pull` pulls an experiment in full again by default."""

__all__ = ["ModelStore", "StoreError"]

_OPEN: set[tuple[str, object]] = set()  # the store files this process has open
_OPEN_LOCK = threading.Lock()
# A first page is looked for among the first so many models by its order (or so many pages' worth), then
# among _FIRST_PAGE_WIDER times as many, up to _FIRST_PAGE_TRIES times, before the whole search runs; a
# try that finds under 1/_FIRST_PAGE_WIDER of a page goes to the whole search at once.
_FIRST_PAGE_MODELS, _FIRST_PAGE_PAGES, _FIRST_PAGE_WIDER, _FIRST_PAGE_TRIES = 10_000, 16, 16, 2
_FIRST_PAGE_LARGEST = 10_000  # a larger max_results is no page: the whole search runs


class StoreError(LmfilterError, ValueError):
    """A model store that cannot be opened, read or written: which one and why."""


class ModelStore:
    """Logged models in DuckDB, in MLflow's tables: ``path=None`` keeps them in memory, else in that database
    file (made when missing).

    A store file is open in one place at a time: a second :class:`ModelStore` on it, in this process or
    another, raises :class:`StoreError` (DuckDB locks the file against other processes). ``read_only``
    opens an existing file for searching only. Close the store (or use it in a ``with`` block) to let
    others open it. ``memory_limit`` (a size, such as ``"2GB"``) and ``threads`` are DuckDB's: without a
    limit, DuckDB may cache up to 80% of the machine's memory of a large store.

    >>> from lmfilter import ModelStore
    >>> with ModelStore() as store:
    ...     store.add([
    ...         {"info": {"model_id": "m-1", "experiment_id": "1", "name": "a"},
    ...          "data": {"params": [{"key": "alpha", "value": "0.1"}]}},
    ...         {"info": {"model_id": "m-2", "experiment_id": "1", "name": "b", "model_type": "agent"}},
    ...     ])
    ...     [m.model_id for m in store.select("params.alpha < 0.3 OR model_type IS NULL")]
    ...     store.count("model_type = 'agent'")
    2
    ['m-1']
    1
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        read_only: bool = False,
        memory_limit: str | None = None,
        threads: int | None = None,
    ) -> None:
        self.path = None if path is None else Path(path)
        self._claimed: list[_Key] = []
        self._links: str | None = None  # from_parquet's private folder
        config = _config(memory_limit, threads)
        if self.path is None:
            if read_only:
                raise StoreError("a store in memory cannot be read-only: give the path of a store file")
            self._con = duckdb.connect(":memory:", config=config)
        else:
            self._claimed.append(_claim(_path_key(self.path), self.path))
            try:
                self._con = _connect(self.path, read_only=read_only, config=config)
                self._claimed.append(_claim(_file_key(self.path), self.path))  # under any other name too
            except BaseException:
                self.close()
                raise
        self.read_only = read_only
        try:
            if not read_only:
                tables.create_tables(self._con)
            _check_tables(self._con, self._where())
        except BaseException:
            self.close()
            raise

    @classmethod
    def from_parquet(cls, directory: str | os.PathLike[str]) -> ModelStore:
        """A read-only store over the Parquet files of :meth:`to_parquet` (read where they are)."""
        folder = Path(directory)
        store = cls.__new__(cls)
        store.path, store._claimed, store.read_only, store._links = folder, [], True, None
        store._con = duckdb.connect(":memory:", config=_CONFIG)
        try:
            for name in tables.TABLES:
                file = folder / f"{name}.parquet"
                if not file.is_file():
                    raise StoreError(f"{folder}: no {file.name}: not written by ModelStore.to_parquet")
            # DuckDB reads *, ? and [ in a path as a glob (the folder 'e?' would read 'ex' too): the files
            # are read through a link of lmfilter's own naming, kept until the store closes.
            store._links = tempfile.mkdtemp(prefix="lmfilter-parquet-")
            os.symlink(folder.absolute(), os.path.join(store._links, "export"))
            for name in tables.TABLES:
                linked = os.path.join(store._links, "export", f"{name}.parquet")
                source = exp.func("read_parquet", exp.Literal.string(linked))
                store._con.execute(f"CREATE VIEW {name} AS SELECT * FROM {source.sql('duckdb')}")
            _check_tables(store._con, str(folder))
        except duckdb.Error as error:
            store.close()
            raise StoreError(f"{folder}: cannot read its Parquet files: {_first_line(error)}") from None
        except BaseException:
            store.close()
            raise
        return store

    # ---- writing ----

    def add(self, models: Iterable[LoggedModel | Mapping[str, Any]] | str | os.PathLike[str]) -> int:
        """Add models, replacing any model already there with the same id; return how many were added.

        ``models`` is an iterable of :class:`~lmfilter.LoggedModel` or API-JSON dicts, or the path of a model
        file (JSON lines, a JSON array, or a saved search answer), which DuckDB reads itself. All or nothing:
        a bad record (:class:`~lmfilter.RecordError`) or file (:class:`~lmfilter.ModelFileError`) leaves the
        store as it was."""
        con = self._live()
        if self.read_only:
            raise StoreError(f"{self._where()}: opened read-only, so models cannot be added")
        with con:
            if isinstance(models, str | os.PathLike):
                return tables.load_json(con, os.fspath(models))
            return tables.load_models(con, models)

    def to_parquet(self, directory: str | os.PathLike[str]) -> None:
        """Write the four tables as ``<table>.parquet`` files in ``directory`` (made when missing): all four
        are written beside, from one snapshot, and only then renamed over the old ones, so a failure while
        writing leaves the old export as it was."""
        con = self._live()
        folder = Path(directory)
        written: dict[str, str] = {}
        try:
            folder.mkdir(parents=True, exist_ok=True)
            with con:
                con.begin()  # one snapshot of the four tables
                for name in tables.TABLES:  # all four written beside first ...
                    handle, written[name] = tempfile.mkstemp(
                        prefix=f".{name}.", suffix=".parquet", dir=folder
                    )
                    os.close(handle)
                    target = exp.Literal.string(written[name]).sql("duckdb")
                    con.execute(f"COPY (SELECT * FROM {name}) TO {target} (FORMAT parquet)")
            for name in tables.TABLES:  # ... then renamed over the old ones, one after another
                os.replace(written.pop(name), folder / f"{name}.parquet")
        except OSError as error:
            raise StoreError(f"{folder}: cannot write the export: {error.strerror or error}") from None
        except duckdb.Error as error:
            raise StoreError(f"{folder}: cannot write the export: {_first_line(error)}") from None
        finally:
            for temporary in written.values():
                Path(temporary).unlink(missing_ok=True)

    def pull(
        self,
        client: Client,
        experiment_ids: Iterable[str | int] | str | int,
        *,
        full: bool = False,
        full_every: float | None = FULL_EVERY,
        page_size: int | None = None,
        progress: Callable[[PullProgress], None] | None = None,
    ) -> PullReport:
        """Fill the store with the models of ``experiment_ids`` on ``client``'s server, and return what
        was done (:class:`~lmfilter.sql.pull.PullReport`).

        Incremental: the store keeps a high-water mark of ``last_updated_timestamp`` per server and
        experiment, and fetches only the models updated since, a page per transaction (a pull stopped at
        any point leaves a whole store, and the next one goes on). Full (``full=True``, the first pull of
        an experiment, or when the last full one is older than ``full_every`` seconds; ``None``: only when
        asked): every model is fetched again, and the experiment's models the server no longer has are
        deleted; MLflow does not move the timestamp for tag, param and metric changes, so only a full pull
        sees those. ``progress`` is called after each page written. Raises
        :class:`~lmfilter.sql.pull.PullError` (its ``report`` says what was written before). See
        :mod:`lmfilter.sql.pull`."""
        from lmfilter.sql.pull import pull

        return pull(
            self,
            client,
            experiment_ids,
            full=full,
            full_every=full_every,
            page_size=page_size,
            progress=progress,
        )

    # ---- searching ----

    def ids(
        self,
        filter: str | ast.Expr | None = None,  # noqa: A002 - the API's word
        *,
        datasets: Datasets = None,
        order_by: OrderByArg = None,
        target: str | Target = "mlflow",
        experiment_ids: Iterable[str | int] | str | int | None = None,
        max_results: int | None = None,
    ) -> list[str]:
        """The ids of the models :meth:`select` returns, in its order (without reading the models)."""
        arguments: dict[str, Any] = {
            "datasets": datasets,
            "order_by": order_by,
            "target": target,
            "dialect": "duckdb",
            "experiment_ids": experiment_ids,
            "max_results": max_results,
        }
        statement = to_sql(filter, **arguments)  # checks the arguments first
        if max_results is not None and 0 < max_results <= _FIRST_PAGE_LARGEST:
            page = first_page(filter, **arguments)
            found = None if page is None else self._first_page(page, max_results)
            if found is not None:
                return found
        return [row[0] for row in self._run(statement).fetchall()]

    def _first_page(self, page: FirstPage, size: int) -> list[str] | None:
        """A first page found among the first models by the search's leading order (see
        :class:`~lmfilter.sql.compile.FirstPage`), _FIRST_PAGE_WIDER times wider at each try; ``None`` when
        no try fills it, or when a try finds so few that a wider one would not fill it at the same rate:
        a try reads whole tables of params, tags and metrics as the whole search does, so a try that fails
        costs about as much as the whole search."""
        cursor = self._live()
        k = max(_FIRST_PAGE_MODELS, _FIRST_PAGE_PAGES * size)
        for _ in range(_FIRST_PAGE_TRIES):
            row = cursor.execute(page.threshold, [k - 1]).fetchone()
            if row is None or row[0] is None:
                return None  # fewer than k models (or keys): the whole search is as fast
            found = [model[0] for model in cursor.execute(page.search, [row[0]]).fetchall()]
            if len(found) >= size:
                return found
            if len(found) * _FIRST_PAGE_WIDER < size:
                return None  # a selective filter: the whole search, without a try that would fail too
            k *= _FIRST_PAGE_WIDER
        return None

    def select(
        self,
        filter: str | ast.Expr | None = None,  # noqa: A002 - the API's word
        *,
        datasets: Datasets = None,
        order_by: OrderByArg = None,
        target: str | Target = "mlflow",
        experiment_ids: Iterable[str | int] | str | int | None = None,
        max_results: int | None = None,
    ) -> list[LoggedModel]:
        """The models a search with this filter, ``datasets`` and ``order_by`` would return, in its order, as
        :func:`lmfilter.select` returns them over the same models (it takes the same arguments and raises
        the same errors); ``experiment_ids`` keeps the models of those experiments."""
        found = self.ids(
            filter,
            datasets=datasets,
            order_by=order_by,
            target=target,
            experiment_ids=experiment_ids,
            max_results=max_results,
        )
        return tables.read_models(self._live(), found, dialect="duckdb")

    def count(
        self,
        filter: str | ast.Expr | None = None,  # noqa: A002 - the API's word
        *,
        datasets: Datasets = None,
        target: str | Target = "mlflow",
        experiment_ids: Iterable[str | int] | str | int | None = None,
    ) -> int:
        """How many models :meth:`select` would return (all of them, ``max_results`` aside)."""
        statement = select_statement(
            filter, datasets=datasets, target=target, dialect="duckdb", experiment_ids=experiment_ids
        )
        statement.set("order", None)
        counted = exp.select(exp.Count(this=exp.Star())).from_(statement.subquery("found"))
        row = self._run(counted.sql("duckdb")).fetchone()
        return int(row[0]) if row else 0

    def __len__(self) -> int:
        row = self._run("SELECT count(*) FROM logged_models").fetchone()
        return int(row[0]) if row else 0

    # ---- life ----

    def close(self) -> None:
        """Close the store (again is fine)."""
        con = getattr(self, "_con", None)
        if con is not None:
            con.close()
            self._con = None  # type: ignore[assignment]
        for key in self._claimed:
            _release(key)
        self._claimed = []
        if self._links is not None:
            shutil.rmtree(self._links, ignore_errors=True)
            self._links = None

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"ModelStore({'memory' if self.path is None else str(self.path)!r})"

    def _where(self) -> str:
        return "the store in memory" if self.path is None else str(self.path)

    def _live(self) -> duckdb.DuckDBPyConnection:
        """A cursor of its own for one call: threads sharing a store never read each other's rows."""
        if getattr(self, "_con", None) is None:
            raise StoreError(f"{self._where()}: the store is closed")
        return self._con.cursor()

    def _run(self, sql: str) -> duckdb.DuckDBPyConnection:
        return self._live().execute(sql)


_Key = tuple[str, object]  # ("path", the resolved path) or ("file", (device, inode))


def _path_key(path: Path) -> _Key:
    if "\0" in str(path):
        raise StoreError(f"{str(path)!r}: a path holds no NUL character")
    try:
        return ("path", path.resolve())
    except (OSError, RuntimeError) as error:  # a symlink loop
        raise StoreError(f"{path}: cannot be resolved ({error})") from None


def _file_key(path: Path) -> _Key:
    """The file itself, whatever its name: a hard link or another spelling is the same store."""
    found = path.stat()
    return ("file", (found.st_dev, found.st_ino))


def _claim(key: _Key, path: Path) -> _Key:
    """Mark a store file open in this process (DuckDB shares one database among a process's connections,
    so two stores on one file would write past each other)."""
    with _OPEN_LOCK:
        if key in _OPEN:
            raise StoreError(f"{path}: this store is already open in this process; close the other first")
        _OPEN.add(key)
    return key


def _release(key: _Key) -> None:
    with _OPEN_LOCK:
        _OPEN.discard(key)


def _connect(path: Path, *, read_only: bool, config: _Config) -> duckdb.DuckDBPyConnection:
    if read_only and not path.exists():
        raise StoreError(f"{path}: no such store")
    if path.exists() and not path.is_file():
        raise StoreError(f"{path}: not a store file (a {'directory' if path.is_dir() else 'special file'})")
    if path.exists() and not starts_as_duckdb(path):
        # DuckDB would open an SQLite file through an extension it downloads: refuse what is not its own
        raise StoreError(f"{path}: not a model store (not a DuckDB database file)")
    try:  # an absolute name: DuckDB reads ':memory:' or 'md:x' as names of its own, not as files
        return duckdb.connect(os.path.abspath(path), read_only=read_only, config=config)
    except duckdb.IOException as error:
        message = _first_line(error)
        if "lock" in message.lower():
            raise StoreError(f"{path}: the store is open in another process ({message})") from None
        raise StoreError(f"{path}: cannot open the store: {message}") from None
    except duckdb.Error as error:
        raise StoreError(f"{path}: not a DuckDB store: {_first_line(error)}") from None


_Config = dict[str, str | bool | int | float | list[str]]
_CONFIG: Final[_Config] = {
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
}
"""A store is DuckDB's own: no extension is fetched or loaded to read another kind of file (an SQLite file, a
URL), so nothing reaches the network."""

_SIZE = re.compile(r"\d+(\.\d+)?\s*([KMGT]i?B|B)", re.IGNORECASE)


def _config(memory_limit: str | None, threads: int | None) -> _Config:
    """DuckDB's settings for a store: its own, and the caller's memory limit and threads. DuckDB's default
    limit is 80% of the machine's memory, which its buffer pool fills with pages of a large store as it
    reads them: a limit keeps the process's resident set near it (DuckDB spills to disk past it)."""
    config = dict(_CONFIG)
    if memory_limit is not None:
        if not isinstance(memory_limit, str) or not _SIZE.fullmatch(memory_limit.strip()):
            raise StoreError(f"memory_limit must be a size such as '2GB' or '512MiB', not {memory_limit!r}")
        config["memory_limit"] = memory_limit.strip()
    if threads is not None:
        if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
            raise StoreError(f"threads must be a whole number of at least 1, not {threads!r}")
        config["threads"] = threads
    return config


def _columns(con: duckdb.DuckDBPyConnection) -> dict[str, frozenset[str]]:
    rows = con.execute("SELECT table_name, column_name FROM information_schema.columns").fetchall()
    found: dict[str, set[str]] = {}
    for table, column in rows:
        found.setdefault(table, set()).add(column)
    return {table: frozenset(columns) for table, columns in found.items()}


@functools.cache
def _layout() -> dict[str, frozenset[str]]:
    """The columns of each table as :func:`tables.create_tables` makes them."""
    with duckdb.connect(":memory:", config=_CONFIG) as con:
        tables.create_tables(con)
        return _columns(con)


def _check_tables(con: duckdb.DuckDBPyConnection, where: str) -> None:
    """Refuse a database that lacks MLflow's tables, or a column of them (some other DuckDB file, Parquet
    files not written by :meth:`ModelStore.to_parquet`)."""
    found = _columns(con)
    missing = [name for name in tables.TABLES if name not in found]
    if missing:
        raise StoreError(f"{where}: not a model store (no table {', '.join(missing)})")
    layout = _layout()
    lacking = [f"{name}.{column}" for name in tables.TABLES for column in sorted(layout[name] - found[name])]
    if lacking:
        raise StoreError(f"{where}: not a model store (no column {', '.join(lacking)})")


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
