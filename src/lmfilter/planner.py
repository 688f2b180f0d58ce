"""The query planner: run any lmfilter filter against servers that only AND simple comparisons.

:func:`plan` optimizes the tree for the target, then lowers it to server requests whose answers hold every
model the filter matches (a superset), and checks the whole filter locally on what comes back, with the
same semantics as the server (``lmfilter.select``). So the result is exact whatever the split.

- **One request**: the conjuncts the server runs natively go in its filter; the rest (OR, NOT, IS NULL,
  numeric params, status where the server lacks it, ...) is the *residual*, checked locally.
- **Fan-out**: an OR becomes one request per DNF term, when the cost model says fetching the terms' narrow
  results beats one broad request, within a cap on requests. Every request is sorted by the same total order
  (``order_by``, then ``creation_timestamp DESC, model_id ASC``), so a lazy k-way merge with dedupe by
  ``model_id`` gives the global order and stops at ``max_results``.
- **Local order**: an order the servers cannot give (params, tags; or metric values whose dataset filter
  could not be sent) is sorted locally after fetching.
- A contradiction (``name = 'x' AND name = 'y'``) plans no request at all.
- **Paging ends**: each request is paged until the server gives no next token. A server that would page
  for ever (a token seen before, empty pages without end, more pages or time than :class:`PageLimits`
  allow) gets a :class:`~lmfilter.wire.PagingError`, never an endless loop.

``datasets`` need care: a server applies "a model needs some metric row on the datasets" when its filter has
no metric condition, and MLflow matches nothing for an entry without a digest (SPEC §3); the planner only
sends ``datasets`` where the server reads them as the whole filter would.

>>> p = plan("params.a = 'x' OR tags.t = 'y'", target="mlflow", experiment_ids=["1"])
>>> [r.body.filter for r in p.requests]
["params.a = 'x'", "tags.t = 'y'"]
>>> plan("name = 'x' AND name = 'y'", experiment_ids=["1"]).requests
()
"""

from __future__ import annotations

import hashlib
import math
import time
from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeAlias

from lmfilter import ast
from lmfilter.api import tree_of
from lmfilter.ast import Op
from lmfilter.evaluate import Query, compile_query, has_metric_condition
from lmfilter.native import is_native, unsupported
from lmfilter.optimizer import MATCH_NONE, optimize, to_dnf
from lmfilter.printer import to_text
from lmfilter.requests import (
    Datasets,
    OrderByArg,
    datasets_of,
    experiment_ids_of,
    max_results_of,
    order_keys,
)
from lmfilter.requests import compile as compile_request
from lmfilter.schema import Target, get_target
from lmfilter.wire import (
    DatasetFilter,
    LoggedModel,
    MalformedAnswerError,
    PagingError,
    SearchLoggedModelsRequest,
    SearchLoggedModelsResponse,
)

MAX_REQUESTS = 8
"""The most requests one plan fans out to."""

DEFAULT_PAGE_SIZE = 100
"""Models a page asks for where the target sets no limit."""

REQUEST_COST = 0.02
"""What one more request costs, as a share of fetching every model of the experiments."""

Fetch = Callable[[SearchLoggedModelsRequest], SearchLoggedModelsResponse]

Step: TypeAlias = "list[PageStream] | LoggedModel"
"""What :meth:`Plan.steps` yields: the streams that need their next page, or the next model of the result."""


@dataclass(frozen=True)
class PageLimits:
    """When a search stops asking a server for pages and raises :class:`~lmfilter.wire.PagingError`.

    ``pages`` counts the pages of the whole search (all its requests); ``empty_pages`` the empty pages in
    a row of one request (each with a new token, or it would be a token seen before); ``seconds`` the time
    spent waiting for pages, measured with ``clock`` (the caller's time between models does not count).
    A token seen before in the same request always stops it: the pages would repeat for ever.
    """

    pages: int = 100_000
    empty_pages: int = 100
    seconds: float = 3600.0
    clock: Callable[[], float] = time.monotonic

    def __post_init__(self) -> None:
        for name in ("pages", "empty_pages"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"PageLimits.{name} must be a whole number of at least 1, not {value!r}")
        if not (isinstance(self.seconds, int | float) and self.seconds > 0 and math.isfinite(self.seconds)):
            raise ValueError(f"PageLimits.seconds must be a positive number, not {self.seconds!r}")


@dataclass(frozen=True)
class Request:
    """One server request of a plan: its body (without paging) and the native part it sends."""

    body: SearchLoggedModelsRequest
    native: ast.Expr
    estimate: float  # the share of the experiments' models it is expected to return


@dataclass(frozen=True)
class Plan:
    """Server requests plus a local check of the whole filter; :meth:`run` executes it."""

    target: Target
    tree: ast.Expr
    requests: tuple[Request, ...]
    residual: ast.Expr
    query: Query
    local_order: bool
    max_results: int | None
    page_size: int
    reasons: tuple[str, ...] = field(default=())
    limits: PageLimits = field(default=PageLimits(), compare=False)

    def explain(self) -> str:
        """The plan in words: each request, what is checked locally, and why."""
        lines = [f"plan for {self.target.title}: {_count(len(self.requests), 'request')}"]
        if not self.requests:
            lines.append("  no request: the filter matches no model")
        for i, request in enumerate(self.requests, 1):
            body = request.body
            sent = body.filter if body.filter else "(no filter: every model)"
            lines.append(f"  request {i}: {sent}")
            if body.datasets:
                listed = ", ".join(f"{d.dataset_name}@{d.dataset_digest}" for d in body.datasets)
                lines.append(f"    datasets: {listed}")
            if body.order_by:
                order = ", ".join(f"{o.field_name} {'ASC' if o.ascending else 'DESC'}" for o in body.order_by)
                lines.append(f"    order by: {order}")
            lines.append(f"    expected share of the experiments' models: {request.estimate:.2f}")
        if self.requests:
            residual = to_text(self.residual) if self.residual != ast.MATCH_ALL else "nothing more"
            lines.append(f"  checked locally: {residual}")
        how = "sorted locally after fetching" if self.local_order else "merged as the server orders them"
        if self.requests:
            lines.append(f"  order: {how}")
        if self.max_results is not None:
            lines.append(f"  stops after {_count(self.max_results, 'model')}")
        lines.extend(f"  why: {reason}" for reason in self.reasons)
        return "\n".join(lines)

    def steps(self) -> Generator[Step, None, None]:
        """The plan without I/O: yields the streams that need their next page (a list of
        :class:`PageStream`: the caller sends each one's :meth:`~PageStream.next_request` and gives the
        answer to its :meth:`~PageStream.feed` before asking for the next step), or the next model of the
        result (a :class:`~lmfilter.wire.LoggedModel`). Raises :class:`~lmfilter.wire.PagingError` when the
        pages would not end (see :class:`PageLimits`); this is what :meth:`run` and the clients drive."""
        budget = _Budget(self.limits)
        ordered = not self.local_order  # merged: each stream must come in the plan's order
        streams = [
            PageStream(r.body, self.page_size, self.query, i, budget, ordered=ordered)
            for i, r in enumerate(self.requests, 1)
        ]
        if self.local_order:
            yield from self._sorted(streams)
        else:
            yield from self._merged(streams)

    def run(self, fetch: Fetch) -> Iterator[LoggedModel]:
        """Execute with ``fetch`` (one search page per call), lazily."""
        for step in self.steps():
            if isinstance(step, list):
                for stream in step:
                    stream.feed(fetch(stream.next_request()))
            else:
                yield step

    def _merged(self, streams: list[PageStream]) -> Generator[Step, None, None]:
        # Each model id once: a model two requests of a fan-out both match, and a model a server lists
        # again (its offset paging shifts when a model is created meanwhile), come out the first time only.
        # Keys need not tell them apart (the same model may come back with other values), so ids are kept.
        emitted, seen = 0, set[str]()
        while self.max_results is None or emitted < self.max_results:
            live = yield from _refilled(streams)
            if not live:
                return
            _, row, model = min(live, key=lambda s: s.buffer[0][0]).pop()
            if model.model_id in seen:
                continue
            seen.add(model.model_id)
            if self.query.matches(row):
                emitted += 1
                yield model

    def _sorted(self, streams: list[PageStream]) -> Generator[Step, None, None]:
        found: dict[str, tuple[list[Any], LoggedModel]] = {}
        while live := (yield from _refilled(streams)):
            for stream in live:
                while stream.buffer:
                    _, row, model = stream.pop()
                    if model.model_id not in found and self.query.matches(row):
                        found[model.model_id] = (row, model)
        ordered = self.query.sort(list(found.values()))
        yield from (model for _, model in ordered[: self.max_results])


def _refilled(streams: list[PageStream]) -> Generator[list[PageStream], None, list[PageStream]]:
    """Ask for the next page of every stream whose buffer ran dry; then the streams with models left."""
    while hungry := [s for s in streams if s.hungry]:  # a page may come back empty yet not be the last
        budget = hungry[0].budget
        budget.before_pages(len(hungry))
        started = budget.limits.clock()
        yield hungry  # the caller feeds each of them before resuming
        budget.waited(budget.limits.clock() - started)
    return [s for s in streams if s.buffer]


class _Budget:
    """What one search has spent on paging so far, against its :class:`PageLimits`."""

    def __init__(self, limits: PageLimits) -> None:
        self.limits = limits
        self.pages = 0
        self.seconds = 0.0

    def before_pages(self, count: int) -> None:
        if self.pages + count > self.limits.pages:
            raise PagingError(
                f"the search would need more than {_count(self.limits.pages, 'page')} "
                f"(PageLimits.pages): stopped after {_count(self.pages, 'page')}"
            )
        self.pages += count

    def waited(self, seconds: float) -> None:
        self.seconds += seconds
        if self.seconds > self.limits.seconds:
            raise PagingError(
                f"the search spent {self.seconds:.1f} s waiting for {_count(self.pages, 'page')}, more than "
                f"the {self.limits.seconds:g} s of PageLimits.seconds"
            )


def _token_id(token: str) -> bytes:
    """A short fingerprint of a page token, so remembering every token of a search costs little."""
    return hashlib.blake2b(token.encode("utf-8", "surrogatepass"), digest_size=16).digest()


class PageStream:
    """The pages of one request of a plan, buffered, each model with its row and sort key.

    :meth:`Plan.steps` yields the streams that need a page: send :meth:`next_request` (one search page)
    and pass the server's answer to :meth:`feed`. Only :meth:`Plan.steps` makes them. With ``ordered``
    (the plan merges the streams), :meth:`feed` checks that the models come in the order asked for."""

    def __init__(
        self,
        body: SearchLoggedModelsRequest,
        page_size: int,
        query: Query,
        number: int,
        budget: _Budget,
        *,
        ordered: bool = False,
    ) -> None:
        self.request = body.model_copy(update={"max_results": page_size})
        self.query = query
        self.number, self.budget = number, budget
        self.buffer: deque[tuple[tuple[Any, ...], list[Any], LoggedModel]] = deque()
        self.exhausted = False
        self.pages = 0
        self.empty_in_a_row = 0
        self.tokens: set[bytes] = set()
        self.ordered = ordered
        self.last: tuple[tuple[Any, ...], str] | None = None  # the key and id of the last model fed

    @property
    def hungry(self) -> bool:
        return not self.buffer and not self.exhausted

    def next_request(self) -> SearchLoggedModelsRequest:
        return self.request

    def feed(self, page: SearchLoggedModelsResponse) -> None:
        """Take the answer to :meth:`next_request`; raise :class:`~lmfilter.wire.PagingError` when the
        server's next token would make the pages go round (or on for ever with nothing in them), and
        :class:`~lmfilter.wire.MalformedAnswerError` when a model of a merged stream sorts before the one
        fed before it, on this page or an earlier one (the k-way merge would give the wrong order). Equal
        keys pass: a model listed again as paging shifts is skipped by the merge."""
        self.pages += 1
        self.empty_in_a_row = 0 if page.models else self.empty_in_a_row + 1
        token = page.next_page_token
        if not token or (not page.models and token == self.request.page_token):
            # An empty page that gives back the token it was asked with has nothing more to give: the end.
            self.exhausted = True
        else:
            fingerprint = _token_id(token)
            if fingerprint in self.tokens:
                self._stop(f"the server sent the page token {_shown(token)} again")
            if self.empty_in_a_row >= self.budget.limits.empty_pages:
                self._stop(f"{_count(self.empty_in_a_row, 'empty page')} in a row (PageLimits.empty_pages)")
            self.tokens.add(fingerprint)
            self.request = self.request.model_copy(update={"page_token": token})
        for model in page.models:
            row = self.query.row(model)
            key = self.query.key(row)
            if self.ordered:
                self._in_order(key, model.model_id)
            self.buffer.append((key, row, model))

    def _in_order(self, key: tuple[Any, ...], model_id: str) -> None:
        if self.last is not None and key < self.last[0]:
            self.exhausted = True
            order = ", ".join(k.describe() for k in order_keys(self.request.order_by))
            raise MalformedAnswerError(
                f"the server answered search request {self.number} ({self.request.filter or 'no filter'}) "
                f"out of order: model {_shown(model_id)} after {_shown(self.last[1])}, in page "
                f"{self.pages}, sorting by {order}; lmfilter merges the answers in that order"
            )
        self.last = (key, model_id)

    def _stop(self, why: str) -> None:
        self.exhausted = True
        filter_text = self.request.filter or "no filter"
        raise PagingError(
            f"{why} after {_count(self.pages, 'page')} of search request {self.number} ({filter_text}): "
            "its pages would never end"
        )

    def pop(self) -> tuple[tuple[Any, ...], list[Any], LoggedModel]:
        return self.buffer.popleft()


# ---- planning ---------------------------------------------------------------------------------------


def plan(
    filter: str | ast.Expr | None = None,  # noqa: A002 - the API's word
    *,
    target: str | Target = "mlflow",
    experiment_ids: Iterable[str | int],
    datasets: Datasets = None,
    order_by: OrderByArg = None,
    max_results: int | None = None,
    page_size: int | None = None,
    limits: PageLimits | None = None,
) -> Plan:
    """Plan a search: server requests for ``target`` and a local check, giving exactly ``select``'s
    answer over all the models of ``experiment_ids``; ``limits`` bound its paging (see
    :class:`PageLimits`)."""
    limits = limits or PageLimits()
    profile = get_target(target)
    tree = tree_of(filter)
    ids = list(experiment_ids_of(experiment_ids))
    entries = datasets_of(datasets)
    keys = order_keys(order_by, local=True)
    query = compile_query(tree, datasets=entries, order_by=order_by, target=profile, local_order=True)
    optimized = optimize(tree, profile)
    size = max_results_of(page_size, least=1, where="page_size") or profile.max_results or DEFAULT_PAGE_SIZE
    if profile.max_results is not None:
        size = min(size, profile.max_results)
    max_results = max_results_of(max_results, least=0)
    if optimized == MATCH_NONE or max_results == 0:
        reason = "the filter is a contradiction" if optimized == MATCH_NONE else "max_results is 0"
        return Plan(profile, optimized, (), MATCH_NONE, query, False, max_results, size, (reason,), limits)

    planner = _Planner(profile, ids, entries, has_metric_condition(tree))
    single, single_reasons = planner.single(optimized)
    fanned = planner.fan_out(optimized)
    reasons = list(single_reasons)
    chosen = single
    if fanned is not None:
        terms, fan_reasons = fanned
        cost_single = REQUEST_COST + single[0].estimate
        cost_fan = sum(REQUEST_COST + r.estimate for r in terms)
        if cost_fan < cost_single:
            chosen = terms
            reasons = [
                *fan_reasons,
                f"fan-out costs {cost_fan:.2f} against {cost_single:.2f} for one request",
            ]
        else:
            reasons.append(f"one request costs {cost_single:.2f} against {cost_fan:.2f} for a fan-out")
    server_sortable = all(k.kind in ("attribute", "metric") for k in keys)
    datasets_sent = all(tuple(r.body.datasets or ()) == entries for r in chosen)
    metric_keys = any(k.kind == "metric" for k in keys)
    local_order = not server_sortable or (
        metric_keys and not datasets_sent and profile.metric_order == "latest"
    )
    if local_order:
        reasons.append("the order needs values the servers cannot sort by as asked: sorted locally")
    sent_order = None if local_order else order_by
    requests = tuple(
        Request(
            compile_request(
                r.native, target=profile, experiment_ids=ids, datasets=r.body.datasets, order_by=sent_order
            ),
            r.native,
            r.estimate,
        )
        for r in chosen
    )
    residual = _residual(optimized, requests)
    if max_results is not None and len(requests) == 1 and residual == ast.MATCH_ALL and not local_order:
        size = min(size, max_results)  # the server filters it all: no page need hold more than asked for
    return Plan(
        profile, optimized, requests, residual, query, local_order, max_results, size, tuple(reasons), limits
    )


@dataclass
class _Planner:
    target: Target
    experiment_ids: list[str]
    datasets: tuple[DatasetFilter, ...]
    filter_has_metrics: bool

    def single(self, tree: ast.Expr) -> tuple[tuple[Request, ...], list[str]]:
        conjuncts = tree.items if isinstance(tree, ast.And) else (tree,)
        request, reasons = self.request(conjuncts)
        return (request,), reasons

    def fan_out(self, tree: ast.Expr) -> tuple[tuple[Request, ...], list[str]] | None:
        if not isinstance(tree, ast.Or) and not (
            isinstance(tree, ast.And) and any(isinstance(i, ast.Or) for i in tree.items)
        ):
            return None
        terms = to_dnf(tree, max_terms=MAX_REQUESTS)
        if terms is None or len(terms) < 2:
            return None
        requests = []
        for term in terms:
            request, _ = self.request(term)
            if request.native == ast.MATCH_ALL:
                return None  # a term the server cannot narrow: fetching everything once is cheaper
            requests.append(request)
        return tuple(requests), [f"OR: one request per DNF term ({len(terms)} terms)"]

    def request(self, conjuncts: Sequence[ast.Expr]) -> tuple[Request, list[str]]:
        """The request for an AND of ``conjuncts``: the native ones, with datasets where they are safe."""
        reasons = []
        sendable = bool(self.datasets) and (
            self.target.kind != "mlflow" or all(d.dataset_digest for d in self.datasets)
        )
        native = [c for c in conjuncts if is_native(c, self.target, status_numbers=True)]
        if self.datasets and not sendable:
            # MLflow matches nothing for a datasets entry without a digest: keep metrics local.
            native = [c for c in native if not has_metric_condition(c)]
            reasons.append("a datasets entry has no digest (MLflow would match nothing): checked locally")
        native_metrics = any(has_metric_condition(c) for c in native)
        # With no metric condition, a server asks for some metric row on the datasets; that is right only
        # when the whole filter has none either.
        send_datasets = sendable and (native_metrics or not self.filter_has_metrics)
        local = [c for c in conjuncts if c not in native]
        if local:
            reasons.append("not native for the target: " + "; ".join(_why(c, self.target) for c in local))
        tree = ast.And(tuple(native)) if len(native) != 1 else native[0]
        body = SearchLoggedModelsRequest(
            experiment_ids=tuple(self.experiment_ids),
            datasets=self.datasets if send_datasets else None,
        )
        return Request(body, tree, _selectivity(native)), reasons


def _why(node: ast.Expr, target: Target) -> str:
    gaps = list(unsupported(node, target, status_numbers=True))
    return f"{to_text(node)} ({', '.join(dict.fromkeys(g.what for g in gaps)) or 'metrics without datasets'})"


def _residual(tree: ast.Expr, requests: tuple[Request, ...]) -> ast.Expr:
    """What the servers do not check: for one request, the conjuncts it leaves; for a fan-out, the rest of
    each term (shown as the whole filter, which is what the local check runs)."""
    if len(requests) != 1:
        return tree
    sent = requests[0].native
    sent_items = set(sent.items) if isinstance(sent, ast.And) else {sent}
    items = tree.items if isinstance(tree, ast.And) else (tree,)
    left = tuple(i for i in items if i not in sent_items)
    return left[0] if len(left) == 1 else ast.And(left)


def _selectivity(conjuncts: Sequence[ast.Expr]) -> float:
    """A rough share of models a conjunction keeps: no statistics, just the shape of each condition."""
    share = 1.0
    for c in conjuncts:
        share *= _condition_share(c)
    return share


def _condition_share(node: ast.Expr) -> float:
    match node:
        case ast.Compare(_, Op.EQ, _):
            return 0.1
        case ast.Compare(_, Op.NE, _):
            return 0.9
        case ast.Compare():
            return 0.35
        case ast.In(_, values, negated=False):
            return min(0.6, 0.1 * max(1, len(values)))
        case ast.In():
            return 0.9
        case ast.Like(_, ast.String(pattern), negated=False):
            return 1.0 if pattern.strip("%") == "" else 0.25
        case ast.And(items):
            return math.prod(_condition_share(i) for i in items)
    return 0.5


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _shown(token: str) -> str:
    """A page token for a message: quoted, and cut short (tokens can be long)."""
    return repr(token if len(token) <= 40 else token[:40] + "...")


__all__ = ["MAX_REQUESTS", "PageLimits", "PageStream", "Plan", "Request", "Step", "plan"]
