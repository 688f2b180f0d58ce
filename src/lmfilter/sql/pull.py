"""Pulling a server's logged models into a :class:`~lmfilter.sql.store.ModelStore`: incremental, resumable,
one transaction a page (:meth:`ModelStore.pull <lmfilter.sql.store.ModelStore.pull>` and ``lmfilter pull``).

**The high-water mark.** For each (server, experiment) the store keeps, in a table of its own
(:data:`PULLS`, beside MLflow's four, which readers that do not know it never look at), a *mark*: every
model whose ``last_updated_timestamp`` is below it is in the store as the server had it. A pull asks for
``last_updated_timestamp >= mark`` (lmfilter's own filter, native on MLflow 3.17.2, 3.18.0 and Databricks),
sorted by it ascending, and moves the mark to the last model of each page. Each page is one transaction:
its models (an upsert by id) and the new mark are written together, so a pull killed at any point leaves a
store that is whole, and the next pull goes on from the last page written. ``>=`` (not ``>``) and the
upsert mean models that share the mark's millisecond are fetched again, never lost.

**No page tokens.** Each request starts afresh at the mark (keyset paging): MLflow's page tokens are
offsets, so a model updated while a pull pages (it moves to the end of the order) would shift every model
after it by one and one would be skipped. Only when more models than a page share one millisecond does
the pull page through that millisecond with tokens (:func:`lmfilter.planner.plan`'s paging, with its
guards against servers that loop), then moves the mark past it.

**What a mark does not see.** MLflow 3.17.2 and 3.18.0 move ``last_updated_timestamp`` when a model is
created, finalized or deleted, but not when tags are set or deleted, params logged or metrics logged
(checked against both servers, see ``tests/test_sql_pull.py``), and a deleted model is no longer in any
search. So a *full* pull reads every model of the experiment (upserting them all), then deletes the models
of the experiment the store holds and the server no longer lists (each one asked for again by id first,
so a model the server still has is never deleted). Each page is read as the server has it then: a model
deleted after its page was read stays until the next full pull, as in any pull that takes time (an
interrupted full pull that goes on counts the pages read before the interruption as read).

A pull is full when asked (``full=True``), on the first pull of an experiment, when the last full one is
older than ``full_every``, and when a full pull was interrupted (it goes on where it stopped: the ids it
has seen are kept in :data:`SEEN`). Models of other experiments in the store are never touched.

**One server per experiment.** The store's models carry no server, so an experiment pulled from one server
is refused from another by an incremental pull (their models would mix, and a full pull of one would
delete the other's); a full pull from the other server makes the store follow it instead.

**What a server may do wrong.** A model of another experiment, a model without a timestamp or below the
mark asked for, pages out of order, the same model twice in a page, or a record lmfilter would refuse:
:class:`PullError`, with nothing of that page written. A server error, a timeout or a page token that
loops: :class:`PullError` too, the pages before it kept. A model the server sends older than the store's
copy (its clock went back, or its database was restored) is written, and makes the next pull full.
"""

from __future__ import annotations

import contextlib
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from typing import Final
from urllib.parse import urlsplit, urlunsplit

import duckdb
from sqlglot import exp

from lmfilter import ast
from lmfilter.client import Client, LoggedModelsError
from lmfilter.diagnostics import plural
from lmfilter.errors import LmfilterError, is_interruption
from lmfilter.planner import plan
from lmfilter.records import RecordError
from lmfilter.requests import RequestError, experiment_ids_of
from lmfilter.sql import tables
from lmfilter.sql.store import FULL_EVERY, ModelStore
from lmfilter.wire import LoggedModel, PagingError

__all__ = [
    "PAGE_SIZE",
    "PULLS",
    "SEEN",
    "PullError",
    "PullProgress",
    "PullReport",
    "pull",
    "server_of",
]

PULLS: Final = "lmfilter_pulls"
"""The store's table of marks: one row per (server, experiment) pulled."""

SEEN: Final = "lmfilter_pull_seen"
"""The ids a full pull under way has seen, per (server, experiment): what it must not delete."""

PAGE_SIZE: Final = 1000
"""Models asked for a page (at most the target's own limit: 50 on Databricks)."""


_VERIFY_BATCH: Final = 100  # ids asked for again in one request before a full pull deletes them

_DDL: Final = (
    f"""CREATE TABLE IF NOT EXISTS {PULLS} (
        server VARCHAR NOT NULL,
        experiment_id VARCHAR NOT NULL,
        mark BIGINT NOT NULL,
        sweeping BOOLEAN NOT NULL,
        last_full_ms BIGINT,
        PRIMARY KEY (server, experiment_id)
    )""",
    f"""CREATE TABLE IF NOT EXISTS {SEEN} (
        server VARCHAR NOT NULL,
        experiment_id VARCHAR NOT NULL,
        model_id VARCHAR NOT NULL
    )""",
)

_PAGE_DB: Final = "lmfilter_pull_page"  # an in-memory database a page is loaded (and checked) in first

_UPDATED: Final = ast.Field(ast.Entity.ATTRIBUTE, "last_updated_timestamp", ast.ValueType.NUMBER)
_MODEL_ID: Final = ast.Field(ast.Entity.ATTRIBUTE, "model_id", ast.ValueType.STRING)

_EXPERIMENT: Final = re.compile(r"0|[1-9][0-9]{0,18}")


class PullError(LmfilterError, RuntimeError):
    """A pull that stopped: why, and where. What was written before stays (``report`` counts it), and the
    next pull goes on from there."""

    def __init__(self, message: str, report: PullReport | None = None) -> None:
        super().__init__(message)
        self.report = report


@dataclass(frozen=True)
class PullReport:
    """What a pull did: models ``added`` (new to the store), ``updated`` (already there, with another
    ``last_updated_timestamp``), ``refreshed`` (already there, written again with the same one: a full pull
    rewrites every model, as tag, param and metric changes do not move the timestamp), ``deleted`` (gone
    from the server: full pulls only); ``fetched`` models and ``requests`` sent; the experiments pulled
    ``full``; ``older``: models the server sent older than the store's copy (the next pull is full)."""

    experiments: tuple[str, ...] = ()
    full: tuple[str, ...] = ()
    added: int = 0
    updated: int = 0
    refreshed: int = 0
    deleted: int = 0
    fetched: int = 0
    requests: int = 0
    older: int = 0
    seconds: float = 0.0

    def summary(self) -> str:
        """One line: ``N added, N updated, N deleted, N refreshed; N models in N requests, S s``."""
        full = f" (full: {', '.join(self.full)})" if self.full else ""
        return (
            f"{self.added:,} added, {self.updated:,} updated, {self.deleted:,} deleted, "
            f"{self.refreshed:,} refreshed; {plural(self.fetched, 'model')} in "
            f"{plural(self.requests, 'request')}, "
            f"{self.seconds:.1f} s{full}"
        )


@dataclass(frozen=True)
class PullProgress:
    """Where a pull is, after each page written: the ``experiment`` being pulled (``index`` of ``of``), its
    ``mark`` (ms) and the time of the first model it fetched (``start_ms``, None before one), whether the
    pull of it is ``full``, and the report so far."""

    experiment: str
    index: int
    of: int
    mark: int
    start_ms: int | None
    full: bool
    report: PullReport


Progress = Callable[[PullProgress], None]

_PULLING: set[int] = set()  # the stores (by id) a pull runs into in this process
_PULLING_LOCK = threading.Lock()


def pull(
    store: ModelStore,
    client: Client,
    experiment_ids: Iterable[str | int] | str | int,
    *,
    full: bool = False,
    full_every: float | None = FULL_EVERY,
    page_size: int | None = None,
    progress: Progress | None = None,
    clock: Callable[[], float] = time.time,
) -> PullReport:
    """See :meth:`lmfilter.sql.store.ModelStore.pull`."""
    if store.read_only:
        raise PullError(f"{store._where()}: opened read-only, so nothing can be pulled into it")
    experiments = _experiments(experiment_ids)
    if full_every is not None and not full_every > 0:
        raise ValueError(f"full_every must be a positive number of seconds or None, not {full_every!r}")
    with _pulling(store):
        run = _Run(store, client, progress, clock)
        try:
            run.open(page_size)
            for index, experiment in enumerate(experiments):
                run.experiment(experiment, index, len(experiments), full=full, full_every=full_every)
        except PullError as error:
            error.report = run.report()
            raise
        except (LoggedModelsError, RecordError) as error:
            raise PullError(run.stopped(error), run.report()) from error
        except (duckdb.Error, OSError) as error:  # a full disk, a store file gone bad
            raise PullError(run.stopped(f"cannot write the store: {error}"), run.report()) from error
        except RuntimeError as error:
            if is_interruption(error):  # Ctrl-C during a DuckDB statement: what was written stays
                raise KeyboardInterrupt from error
            raise
        finally:
            run.close()
        return run.report()


def _experiments(given: Iterable[str | int] | str | int) -> tuple[str, ...]:
    try:
        ids = experiment_ids_of(given)
    except RequestError as error:
        raise PullError(str(error)) from None
    if not ids:
        raise PullError("give at least one experiment id to pull")
    for experiment in ids:
        if not _EXPERIMENT.fullmatch(experiment):
            raise PullError(
                f"{experiment!r} is not an experiment id: MLflow's are decimal digits (no sign, no leading "
                "zero), and the store keeps them as integers"
            )
    return tuple(dict.fromkeys(ids))


class _pulling:  # noqa: N801 - a guard, used as `with _pulling(store)`
    """One pull at a time into a store object: the store's claim keeps other objects and processes out,
    this keeps out a second thread of this process pulling through the same object."""

    def __init__(self, store: ModelStore) -> None:
        self.key = id(store)
        self.store = store

    def __enter__(self) -> None:
        with _PULLING_LOCK:
            if self.key in _PULLING:
                raise PullError(f"{self.store._where()}: a pull into this store is already running")
            _PULLING.add(self.key)

    def __exit__(self, *exc_info: object) -> None:
        with _PULLING_LOCK:
            _PULLING.discard(self.key)


def server_of(client: Client) -> str:
    """The server a client talks to, as the store names it: its base URL, scheme and host in lower case,
    without a trailing slash (credentials never are in it: the client keeps them apart)."""
    parts = urlsplit(client.base_url)
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), parts.path.rstrip("/"), "", ""))


@dataclass
class _Counts:
    """The tally of a pull under way: :class:`PullReport`'s counts, by the same names."""

    added: int = 0
    updated: int = 0
    refreshed: int = 0
    deleted: int = 0
    fetched: int = 0
    requests: int = 0
    older: int = 0


class _Run:
    """One pull: the store's connections (a writer, and a stage in the page database), the counts, and the
    page loop of each experiment."""

    writer: duckdb.DuckDBPyConnection
    stage: duckdb.DuckDBPyConnection

    def __init__(
        self,
        store: ModelStore,
        client: Client,
        progress: Progress | None,
        clock: Callable[[], float],
    ) -> None:
        self.store, self.client, self.progress, self.clock = store, client, progress, clock
        self.started = time.monotonic()
        self.server = server_of(client)
        self.counts = _Counts()
        self.experiments: list[str] = []
        self.full: list[str] = []
        self.where = ("", 0, 0)  # the experiment pulled, the page of it, how many experiments
        self.page_size = PAGE_SIZE
        self.opened: list[duckdb.DuckDBPyConnection] = []  # closed by close(), however far open() came
        self.home = ""

    def open(self, page_size: int | None) -> None:
        """Ask the server's limits (its version, for an MLflow server), make the store's tables of pulls
        where missing, and the page database."""
        size = PAGE_SIZE if page_size is None else page_size
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise ValueError(f"page_size must be a whole number of at least 1, not {page_size!r}")
        limit = self.client.target.max_results
        self.page_size = min(size, limit) if limit is not None else size
        self.writer = self.store._live()
        self.opened.append(self.writer)
        for statement in _DDL:
            self.writer.execute(statement)
        row = self.writer.execute("SELECT current_database()").fetchone()
        assert row is not None
        self.home = exp.to_identifier(row[0]).sql("duckdb")  # the store's own database, by its name
        self.stage = self.store._live()
        self.opened.append(self.stage)
        self.stage.execute(f"ATTACH ':memory:' AS {_PAGE_DB}")
        self.stage.execute(f"USE {_PAGE_DB}")
        tables.create_tables(self.stage)

    def close(self) -> None:
        if len(self.opened) == 2:
            with contextlib.suppress(duckdb.Error, RuntimeError):  # a Ctrl-C here too: the closes follow
                self.stage.execute(f"USE {self.home}")
                self.stage.execute(f"DETACH DATABASE IF EXISTS {_PAGE_DB}")
        for con in self.opened:
            con.close()
        self.opened = []

    def report(self) -> PullReport:
        return PullReport(
            experiments=tuple(self.experiments),
            full=tuple(self.full),
            seconds=time.monotonic() - self.started,
            **asdict(self.counts),
        )

    def stopped(self, error: BaseException | str) -> str:
        experiment, page, _ = self.where
        if not page:  # before any experiment: asking the server what it is
            return f"the pull stopped before its first page (nothing written): {error}; run it again"
        kept = f"{plural(page - 1, 'page')} of it" if page > 1 else "nothing of it"
        return (
            f"the pull of experiment {experiment} stopped at page {page} ({kept} written, the pages of "
            f"the experiments before it too): {error}; run it again to go on from there"
        )

    # ---- one experiment ----

    def experiment(
        self, experiment: str, index: int, of: int, *, full: bool, full_every: float | None
    ) -> None:
        self.experiments.append(experiment)
        self.where = (experiment, 1, of)
        state = self.writer.execute(
            f"SELECT mark, sweeping, last_full_ms FROM {PULLS} WHERE server = ? AND experiment_id = ?",
            [self.server, experiment],
        ).fetchone()
        others = [
            row[0]
            for row in self.writer.execute(
                f"SELECT server FROM {PULLS} WHERE server <> ? AND experiment_id = ? ORDER BY server",
                [self.server, experiment],
            ).fetchall()
        ]
        if others and not full:
            raise PullError(
                f"experiment {experiment} of {self.store._where()} was pulled from {others[0]}, not "
                f"{self.server}: their models would mix. Pull into another store, or pull in full "
                f"(--full, full=True) to make this store's experiment {experiment} follow {self.server}"
            )
        now_ms = int(self.clock() * 1000)
        due = (
            state is None
            or state[2] is None
            or (full_every is not None and now_ms - state[2] >= full_every * 1000)
        )
        sweeping = full or due or (state is not None and state[1])
        if sweeping and not (state is not None and state[1] and not others):
            self._start_sweep(experiment, state[2] if state is not None else None)
            mark = 0
        else:
            assert state is not None
            mark = state[0]
        if sweeping:
            self.full.append(experiment)
        self._pages(experiment, mark, sweeping, index, of)
        if sweeping:
            self._finish_sweep(experiment)

    def _start_sweep(self, experiment: str, last_full: int | None) -> None:
        w = self.writer
        w.begin()
        try:
            w.execute(f"DELETE FROM {PULLS} WHERE experiment_id = ?", [experiment])
            w.execute(f"DELETE FROM {SEEN} WHERE experiment_id = ?", [experiment])
            w.execute(f"INSERT INTO {PULLS} VALUES (?, ?, 0, true, ?)", [self.server, experiment, last_full])
            w.commit()
        except BaseException:
            w.rollback()
            raise

    def _pages(self, experiment: str, mark: int, sweeping: bool, index: int, of: int) -> None:
        start: int | None = None
        page_number = 0
        pages = self.client.page_limits.pages
        while True:
            page_number += 1
            self.where = (experiment, page_number, of)
            if page_number > pages:  # a server that makes up ever newer models
                raise PagingError(f"the pull would need more than {pages:,} pages (PageLimits.pages)")
            self.counts.requests += 1
            page = self.client.search_page(
                f"last_updated_timestamp >= {mark}",
                experiment_ids=[experiment],
                order_by=[{"field_name": "last_updated_timestamp", "ascending": True}],
                max_results=self.page_size,
            )
            models = list(page.models)
            self._check(models, experiment, mark)
            if not models:
                break
            if start is None:
                start = _updated(models[0])
            last = _updated(models[-1])
            more = bool(page.next_page_token)
            if more and last == mark:  # more models share this millisecond than a page holds
                self._millisecond(experiment, mark, sweeping)
                mark += 1
                self._write(experiment, [], mark, sweeping)
            else:
                self._write(experiment, models, last, sweeping)
                mark = last
            if self.progress is not None:
                self.progress(PullProgress(experiment, index, of, mark, start, sweeping, self.report()))
            if not more:
                break

    def _millisecond(self, experiment: str, mark: int, sweeping: bool) -> None:
        """Every model updated at ``mark`` (more than a page), paged with the server's tokens, written a
        page at a time with the mark unchanged."""
        condition = ast.Compare(_UPDATED, ast.Op.EQ, ast.Number(str(mark)))
        for models in self._planned(condition, experiment):
            self._check(models, experiment, mark, exact=True)
            self._write(experiment, models, mark, sweeping)

    def _planned(self, condition: ast.Expr, experiment: str) -> Iterator[list[LoggedModel]]:
        """The models a search finds, a whole page (or more) at a time, paged as :meth:`Client.search`
        pages (its guards against servers whose pages never end), each request counted."""
        planned = plan(
            condition,
            target=self.client.target,
            experiment_ids=[experiment],
            page_size=self.page_size,
            limits=self.client.page_limits,
        )
        batch: list[LoggedModel] = []
        for step in planned.steps():
            if isinstance(step, LoggedModel):
                batch.append(step)
                continue
            if batch:  # every page before is through
                yield batch
                batch = []
            for stream in step:
                self.counts.requests += 1
                stream.feed(self.client.search_body(stream.next_request()))
        if batch:
            yield batch

    def _check(
        self, models: Sequence[LoggedModel], experiment: str, mark: int, *, exact: bool = False
    ) -> None:
        """Refuse a page the pull cannot place: a model of another experiment, without a timestamp, below
        the mark asked for (or off it, ``exact``), or after a later one."""
        self.counts.fetched += len(models)
        _, page, _ = self.where
        previous = mark
        for model in models:
            shown = _shown(model.model_id)
            if model.info.experiment_id != experiment:
                raise PullError(
                    f"page {page} of experiment {experiment} holds model {shown} of experiment "
                    f"{_shown(model.info.experiment_id or '')}: the server answered for experiments not "
                    "asked for; nothing of the page was written"
                )
            updated = model.info.last_updated_timestamp_ms
            if updated is None:
                raise PullError(
                    f"page {page} of experiment {experiment}: model {shown} has no "
                    "last_updated_timestamp_ms, so the pull cannot place it; nothing of the page was written"
                )
            if updated < previous or (exact and updated != mark):
                what = "off the mark asked for" if updated < mark or exact else "out of order"
                asked = f"= {mark}" if exact else f">= {mark}, ascending"
                raise PullError(
                    f"page {page} of experiment {experiment}: model {shown} has last_updated_timestamp "
                    f"{updated}, {what} (last_updated_timestamp {asked}): the server does not search as "
                    "asked; nothing of the page was written"
                )
            previous = updated

    # ---- writing ----

    def _write(self, experiment: str, models: Sequence[LoggedModel], mark: int, sweeping: bool) -> None:
        """One page in one transaction: its models (an upsert), the ids a full pull has seen, the mark."""
        if models:
            try:
                # as API JSON, which the load's SQL reads whole (a LoggedModel goes through Python)
                tables.load_models(self.stage, [model.to_json() for model in models])
            except RecordError as error:
                _, page, _ = self.where
                raise PullError(
                    f"page {page} of experiment {experiment}: {error}; nothing of the page was written"
                ) from None
        w = self.writer
        w.begin()
        try:
            if models:
                self._upsert(experiment, sweeping)
            w.execute(
                f"UPDATE {PULLS} SET mark = ? WHERE server = ? AND experiment_id = ?",
                [mark, self.server, experiment],
            )
            w.commit()
        except BaseException:
            w.rollback()
            raise
        finally:
            for name in tables.TABLES:
                self.stage.execute(f"DELETE FROM {name}")

    def _upsert(self, experiment: str, sweeping: bool) -> None:
        w, page = self.writer, _PAGE_DB
        row = w.execute(
            f"""SELECT count(m.model_id),
                    count(m.model_id) FILTER (WHERE m.last_updated_timestamp_ms IS DISTINCT FROM
                        p.last_updated_timestamp_ms),
                    count(m.model_id) FILTER (
                        WHERE p.last_updated_timestamp_ms < m.last_updated_timestamp_ms),
                    count(*)
                FROM {page}.logged_models p LEFT JOIN logged_models m USING (model_id)"""
        ).fetchone()
        assert row is not None
        there, changed, older, total = row
        self.counts.added += total - there
        self.counts.updated += changed
        self.counts.refreshed += there - changed
        if older:
            self.counts.older += older
            w.execute(
                f"UPDATE {PULLS} SET last_full_ms = NULL WHERE server = ? AND experiment_id = ?",
                [self.server, experiment],
            )
        ids = f"SELECT model_id FROM {page}.logged_models"
        for name in tables.TABLES:
            w.execute(f"DELETE FROM {name} WHERE model_id IN ({ids})")
        for name in tables.TABLES:
            w.execute(f"INSERT INTO {name} BY NAME SELECT * FROM {page}.{name}")
        if sweeping:
            w.execute(
                f"INSERT INTO {SEEN} SELECT ?, ?, model_id FROM {page}.logged_models",
                [self.server, experiment],
            )

    # ---- the end of a full pull ----

    def _finish_sweep(self, experiment: str) -> None:
        """Delete the experiment's models the full pull did not see, each asked for again by id first (a
        model the server still lists is written instead); end the sweep."""
        unseen = [
            row[0]
            for row in self.writer.execute(
                f"""SELECT model_id FROM logged_models WHERE experiment_id = ? AND model_id NOT IN
                    (SELECT model_id FROM {SEEN} WHERE server = ? AND experiment_id = ?) ORDER BY model_id""",
                [int(experiment), self.server, experiment],
            ).fetchall()
        ]
        mark = self.writer.execute(
            f"SELECT mark FROM {PULLS} WHERE server = ? AND experiment_id = ?", [self.server, experiment]
        ).fetchone()
        assert mark is not None
        gone = set(unseen)
        for batch in _batched(unseen, _VERIFY_BATCH):
            listed = ast.In(_MODEL_ID, tuple(ast.String(model_id) for model_id in batch))
            for models in self._planned(listed, experiment):
                found = sorted((m for m in models if m.model_id in gone), key=_updated)
                self._check(found, experiment, 0)
                self._write(experiment, found, mark[0], True)
                gone.difference_update(m.model_id for m in found)
        w = self.writer
        w.begin()
        try:
            doomed = sorted(gone)
            for name in tables.TABLES:
                w.execute(f"DELETE FROM {name} WHERE model_id IN (SELECT unnest(?::VARCHAR[]))", [doomed])
            w.execute(
                f"UPDATE {PULLS} SET sweeping = false, last_full_ms = ? "
                "WHERE server = ? AND experiment_id = ?",
                [int(self.clock() * 1000), self.server, experiment],
            )
            w.execute(f"DELETE FROM {SEEN} WHERE server = ? AND experiment_id = ?", [self.server, experiment])
            w.commit()
        except BaseException:
            w.rollback()
            raise
        self.counts.deleted += len(gone)


def _updated(model: LoggedModel) -> int:
    return model.info.last_updated_timestamp_ms or 0


def _batched(items: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _shown(text: str) -> str:
    return repr(text) if len(text) <= 80 else repr(text[:77] + "...")
