"""httpx clients for the eight logged-model operations, on an MLflow server or a Databricks workspace.

:class:`Client` and :class:`AsyncClient` share one core: every operation is first described as a
:class:`Call` (method, path with percent-encoded segments, body), the answer is read by the same function,
and retries follow one :class:`RetryPolicy` (SPEC §1): 429 and 503 honour ``Retry-After`` (1 s by default,
plus up to 1 s of jitter), connection errors back off linearly up to 10 s, all within a deadline; a plain
500 is not retried, and a request that may have reached the server is not sent again unless repeating it is
harmless (a create is never blindly repeated). Only the sending and the sleeping differ between the two.

Errors are typed (:class:`NotFoundError`, :class:`BadRequestError`, ...) and carry the server's
``error_code``, ``message``, the HTTP status and the request (method, URL and body, never a header). The
token never appears in a log line, an error message or a repr.

>>> client = Client("http://127.0.0.1:5000", token="secret")
>>> client
Client('http://127.0.0.1:5000', target=None, token=***)
>>> describe(calls.get("m 1/x"))
'GET /api/2.0/mlflow/logged-models/m%201%2Fx'
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import time
from collections.abc import AsyncIterator, Callable, Generator, Iterable, Iterator, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self
from urllib.parse import quote

import httpx

from lmfilter import ast
from lmfilter.emit import compile as compile_request
from lmfilter.plan import Plan
from lmfilter.plan import plan as make_plan
from lmfilter.request import Datasets, OrderByArg
from lmfilter.schema import Target, get_target
from lmfilter.status import ModelStatus
from lmfilter.wire import (
    CreateLoggedModelRequest,
    FinalizeLoggedModelRequest,
    KeyValue,
    LoggedModel,
    LoggedModelResponse,
    LogLoggedModelParamsRequest,
    SearchLoggedModelsRequest,
    SearchLoggedModelsResponse,
    SetLoggedModelTagsRequest,
    parse_status,
)

API = "/api/2.0/mlflow/"
DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=10.0)

log = logging.getLogger("lmfilter.client")

JSON = dict[str, Any]
Pairs = Mapping[str, str] | Iterable[KeyValue | tuple[str, str]]


# ---- errors ---------------------------------------------------------------------------------------


class LoggedModelsError(Exception):
    """A request that failed: the server's error code and message, the HTTP status, and the request."""

    def __init__(
        self,
        message: str,
        *,
        error_code: str | None = None,
        status_code: int | None = None,
        method: str = "",
        url: str = "",
        body: JSON | None = None,
    ) -> None:
        self.message, self.error_code, self.status_code = message, error_code, status_code
        self.method, self.url, self.body = method, url, body
        where = f"{method} {url}".strip()
        code = f" {error_code}" if error_code else ""
        status = f"HTTP {status_code}{code}: " if status_code else ""
        super().__init__(f"{status}{message}" + (f" ({where})" if where else ""))


class BadRequestError(LoggedModelsError):
    """400: the server rejected the request (INVALID_PARAMETER_VALUE, BAD_REQUEST, ...)."""


class AuthenticationError(LoggedModelsError):
    """401 or 403: no valid credentials, or not allowed."""


class NotFoundError(LoggedModelsError):
    """404: no such model (RESOURCE_DOES_NOT_EXIST), or no such endpoint."""


class RateLimitedError(LoggedModelsError):
    """429 or 503 still answered when the retry deadline ran out."""


class ServerError(LoggedModelsError):
    """5xx: the server failed (its body may not even be JSON)."""


class TransportError(LoggedModelsError):
    """No answer: the connection failed or timed out, and retrying did not help (or was not safe)."""


_BY_STATUS: dict[int, type[LoggedModelsError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: AuthenticationError,
    404: NotFoundError,
    429: RateLimitedError,
    503: RateLimitedError,  # only ever raised once retrying it ran out of time
}


# ---- calls ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Call:
    """One HTTP request to the API, before any transport: what to send, and whether resending is safe."""

    method: str
    path: str  # below API, with each segment percent-encoded
    json: JSON | None = None
    params: Mapping[str, str] | None = None
    idempotent: bool = True  # may be sent again after a failure that happened once it could have arrived


def describe(call: Call) -> str:
    """``METHOD /path``, for logs and messages."""
    return f"{call.method} {API}{call.path}"


def _segment(value: str) -> str:
    if not value:
        raise ValueError("a model id or tag key must not be empty")
    return quote(value, safe="")


def _pairs(items: Pairs) -> tuple[KeyValue, ...]:
    if isinstance(items, Mapping):
        return tuple(KeyValue(key=k, value=v) for k, v in items.items())
    return tuple(i if isinstance(i, KeyValue) else KeyValue(key=i[0], value=i[1]) for i in items)


class calls:  # noqa: N801 - a namespace of call builders
    """The eight operations as :class:`Call` s, from the arguments users give (SPEC §1)."""

    @staticmethod
    def get(model_id: str, allow_deleted: bool = False) -> Call:
        params = {"allow_deleted": "true"} if allow_deleted else None
        return Call("GET", f"logged-models/{_segment(model_id)}", params=params)

    @staticmethod
    def create(
        experiment_id: str | int,
        name: str | None = None,
        model_type: str | None = None,
        source_run_id: str | None = None,
        params: Pairs | None = None,
        tags: Pairs | None = None,
    ) -> Call:
        body = CreateLoggedModelRequest(
            experiment_id=str(experiment_id),
            name=name,
            model_type=model_type,
            source_run_id=source_run_id,
            params=_pairs(params) if params is not None else None,
            tags=_pairs(tags) if tags is not None else None,
        )
        # Not idempotent: a create that may have arrived is never sent again.
        return Call("POST", "logged-models", body.to_json(), idempotent=False)

    @staticmethod
    def delete(model_id: str) -> Call:
        return Call("DELETE", f"logged-models/{_segment(model_id)}")

    @staticmethod
    def delete_tag(model_id: str, key: str) -> Call:
        # Not idempotent on MLflow: a second DELETE of the same tag is a 404, so do not resend once sent.
        return Call("DELETE", f"logged-models/{_segment(model_id)}/tags/{_segment(key)}", idempotent=False)

    @staticmethod
    def finalize(model_id: str, status: str | ModelStatus) -> Call:
        body = FinalizeLoggedModelRequest(model_id=model_id, status=parse_status(status))
        return Call("PATCH", f"logged-models/{_segment(model_id)}", body.to_json())

    @staticmethod
    def log_params(model_id: str, params: Pairs) -> Call:
        body = LogLoggedModelParamsRequest(model_id=model_id, params=_pairs(params))
        # Logging a param twice is an error: do not resend once it may have arrived.
        return Call("POST", f"logged-models/{_segment(model_id)}/params", body.to_json(), idempotent=False)

    @staticmethod
    def set_tags(model_id: str, tags: Pairs) -> Call:
        body = SetLoggedModelTagsRequest(tags=_pairs(tags))
        return Call("PATCH", f"logged-models/{_segment(model_id)}/tags", body.to_json())

    @staticmethod
    def search(body: SearchLoggedModelsRequest) -> Call:
        return Call("POST", "logged-models/search", body.to_json())


def _check_tag_key(target: Target, key: str) -> None:
    """MLflow decodes ``%2F`` before routing, so no encoding reaches a tag key with ``/`` in it."""
    if target.kind == "mlflow" and "/" in key:
        raise ValueError(
            f"MLflow cannot delete the tag {key!r} over REST: its server routes on a decoded '/'"
        )


def _model(answer: JSON) -> LoggedModel:
    return LoggedModelResponse.model_validate(answer).model


# ---- retries --------------------------------------------------------------------------------------

_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


@dataclass(frozen=True)
class RetryPolicy:
    """When to try a call again, and after how long (SPEC §1, as the Databricks SDK does)."""

    deadline: float = 120.0  # seconds for one call, retries included
    default_retry_after: float = 1.0
    jitter: float = 1.0
    max_backoff: float = 10.0
    clock: Callable[[], float] = time.monotonic
    random: Callable[[], float] = random.random

    def after_response(self, response: httpx.Response, attempt: int, started: float) -> float | None:
        """Seconds to wait before retrying this answer, or ``None`` to take it as it is."""
        if response.status_code not in (429, 503):
            return None
        header = response.headers.get("Retry-After", "")
        wait = float(header) if header.strip().isdigit() else self.default_retry_after
        return self._within_deadline(wait + self.jitter * self.random(), started)

    def after_error(
        self, error: httpx.TransportError, call: Call, attempt: int, started: float
    ) -> float | None:
        """Seconds to wait before retrying after no answer, or ``None`` to give up."""
        if not call.idempotent and not isinstance(error, _NOT_SENT):
            return None  # it may have arrived: sending it again could do it twice
        return self._within_deadline(min(float(attempt), self.max_backoff), started)

    def _within_deadline(self, wait: float, started: float) -> float | None:
        return wait if self.clock() + wait - started <= self.deadline else None


# ---- answers --------------------------------------------------------------------------------------


def _error(
    call: Call, url: str, response: httpx.Response | None, message: str, kind: type[LoggedModelsError]
) -> LoggedModelsError:
    status = response.status_code if response is not None else None
    return kind(message, status_code=status, method=call.method, url=url, body=call.json)


def read_answer(call: Call, url: str, response: httpx.Response) -> JSON:
    """The JSON of a 2xx answer (``{}`` when empty), or the typed error of any other."""
    if response.is_success:
        if not response.content:
            return {}
        try:
            data = response.json()
        except ValueError:
            raise _error(
                call, url, response, "the server answered with something that is not JSON", ServerError
            ) from None
        return data if isinstance(data, dict) else {}
    try:
        data = response.json()
    except ValueError:
        data = None
    if isinstance(data, dict) and ("message" in data or "error_code" in data):
        message, code = str(data.get("message", "")), data.get("error_code")
    else:
        text = response.text.strip()
        message, code = (text[:300] + ("..." if len(text) > 300 else "")) or response.reason_phrase, None
    kind = _BY_STATUS.get(
        response.status_code, ServerError if response.status_code >= 500 else LoggedModelsError
    )
    raise kind(
        message,
        error_code=code,
        status_code=response.status_code,
        method=call.method,
        url=url,
        body=call.json,
    )


@dataclass(frozen=True, slots=True)
class _Sleep:
    seconds: float


Outcome = httpx.Response | httpx.TransportError
Exchange = Generator[Call | _Sleep, Outcome | None, JSON]


def _exchange(call: Call, url: str, policy: RetryPolicy) -> Exchange:
    """One call with its retries, without I/O: yields the call to send (and is sent the response or the
    transport error), or a pause to take; returns the answer's JSON or raises its typed error."""
    started, attempt = policy.clock(), 0
    while True:
        attempt += 1
        outcome = yield call
        if isinstance(outcome, httpx.Response):
            wait = policy.after_response(outcome, attempt, started)
            if wait is None:
                log.debug("%s -> %s", describe(call), outcome.status_code)
                return read_answer(call, url, outcome)
            log.info("%s -> %s; retrying in %.1f s", describe(call), outcome.status_code, wait)
        else:
            assert outcome is not None
            wait = policy.after_error(outcome, call, attempt, started)
            if wait is None:
                raise TransportError(f"no answer: {outcome}", method=call.method, url=url, body=call.json)
            log.info("%s: %s; retrying in %.1f s", describe(call), type(outcome).__name__, wait)
        yield _Sleep(wait)


# ---- the shared core ------------------------------------------------------------------------------


def _version_target(version: str) -> str:
    """The semantics profile of an MLflow release (SPEC §3): 3.17.x and older are ``mlflow-3.17``."""
    try:
        major, minor = (int(part) for part in version.strip().split(".")[:2])
    except ValueError:
        return "mlflow"
    return "mlflow-3.17" if (major, minor) <= (3, 17) else "mlflow"


@dataclass
class _Core:
    """What the sync and async clients share: where, who, which target, and how to page."""

    base_url: str
    target: Target | None
    retry: RetryPolicy
    page_size: int | None

    def url(self, call: Call) -> str:
        return f"{self.base_url}{API}{call.path}"

    @property
    def version_url(self) -> str:
        return f"{self.base_url}/version"

    def target_of(self, response: httpx.Response) -> Target:
        """The profile for what ``GET /version`` answered (an MLflow release; newest semantics if none)."""
        return get_target(_version_target(response.text if response.is_success else ""))

    def unreachable(self, error: httpx.TransportError) -> TransportError:
        # Not guessed and kept: a wrong guess (3.18 for a 3.17 server) would silently change results.
        return TransportError(f"no answer to GET /version: {error}", method="GET", url=self.version_url)

    def search_request(
        self,
        target: Target,
        filter: str | ast.Expr | None,  # noqa: A002
        experiment_ids: Iterable[str | int],
        datasets: Datasets,
        order_by: OrderByArg,
        max_results: int | None,
        page_token: str | None,
    ) -> SearchLoggedModelsRequest:
        return compile_request(
            filter,
            target=target,
            experiment_ids=experiment_ids,
            datasets=datasets,
            order_by=order_by,
            max_results=max_results,
            page_token=page_token,
        )

    def plan(
        self,
        target: Target,
        filter: str | ast.Expr | None,  # noqa: A002
        experiment_ids: Iterable[str | int],
        datasets: Datasets,
        order_by: OrderByArg,
        max_results: int | None,
    ) -> Plan:
        return make_plan(
            filter,
            target=target,
            experiment_ids=experiment_ids,
            datasets=datasets,
            order_by=order_by,
            max_results=max_results,
            page_size=self.page_size,
        )


def _auth_headers(
    token: str | None, basic: tuple[str, str] | None
) -> tuple[dict[str, str], httpx.Auth | None]:
    if token and basic:
        raise ValueError("give a token or basic auth, not both")
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return headers, (httpx.BasicAuth(*basic) if basic else None)


def _databricks_host(deployment_name: str | None, host: str | None) -> str:
    if deployment_name:
        return f"https://{deployment_name}.cloud.databricks.com"
    host = host or os.environ.get("DATABRICKS_HOST")
    if not host:
        raise ValueError("give deployment_name=, host=, or set DATABRICKS_HOST")
    return host if "://" in host else f"https://{host}"


# ---- the sync client ------------------------------------------------------------------------------


class _ClientBase:
    """What both clients hold: where, who, which target, how to retry and page; never the token in a repr."""

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        *,
        basic_auth: tuple[str, str] | None = None,
        target: str | Target | None = None,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        page_size: int | None = None,
        transport: httpx.BaseTransport | httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if page_size is not None and (isinstance(page_size, bool) or page_size < 1):
            raise ValueError(f"page_size must be a whole number of at least 1, not {page_size!r}")
        headers, auth = _auth_headers(token, basic_auth)
        self._core = _Core(
            base_url.rstrip("/"),
            get_target(target) if target else None,
            retry or RetryPolicy(),
            page_size,
        )
        self._token = bool(token or basic_auth)
        self._open(timeout=timeout, transport=transport, auth=auth, headers=headers, follow_redirects=False)

    def _open(self, **options: Any) -> None:
        """Make the httpx client (sync or async) that sends this client's requests."""
        raise NotImplementedError

    @classmethod
    def for_databricks(
        cls,
        deployment_name: str | None = None,
        token: str | None = None,
        *,
        host: str | None = None,
        **options: Any,
    ) -> Self:
        """A client of a Databricks workspace: ``https://<deployment_name>.cloud.databricks.com``, or
        ``host``, or ``DATABRICKS_HOST``; the token from ``token`` or ``DATABRICKS_TOKEN``."""
        token = token or os.environ.get("DATABRICKS_TOKEN")
        if not token:
            raise ValueError("a Databricks workspace needs a token: give token= or set DATABRICKS_TOKEN")
        return cls(_databricks_host(deployment_name, host), token, target="databricks", **options)

    def __repr__(self) -> str:
        target = self._core.target.name if self._core.target else None
        token = "***" if self._token else None
        return f"{type(self).__name__}({self._core.base_url!r}, target={target!r}, token={token})"


class Client(_ClientBase):
    """A synchronous client of the logged-model API (MLflow server or Databricks workspace).

    ``target`` picks the semantics and limits (``mlflow``, ``mlflow-3.17``, ``databricks``); for an MLflow
    server it is read from ``GET /version`` when not given. ``transport`` is an ``httpx.BaseTransport``.
    """

    _http: httpx.Client

    def _open(self, **options: Any) -> None:
        self._http = httpx.Client(**options)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # ---- sending ----

    def _send(self, call: Call) -> JSON:
        steps = _exchange(call, self._core.url(call), self._core.retry)
        step = next(steps)
        try:
            while True:
                if isinstance(step, _Sleep):
                    time.sleep(step.seconds)
                    step = next(steps)
                    continue
                try:
                    outcome: Outcome = self._http.request(
                        step.method, self._core.url(step), json=step.json, params=step.params
                    )
                except httpx.TransportError as error:
                    outcome = error
                step = steps.send(outcome)
        except StopIteration as done:
            answer: JSON = done.value
            return answer

    @property
    def target(self) -> Target:
        """The target's profile (for an MLflow server, from its ``/version`` on first use)."""
        if self._core.target is None:
            try:
                response = self._http.get(self._core.version_url)
            except httpx.TransportError as error:
                raise self._core.unreachable(error) from None
            self._core.target = self._core.target_of(response)
        return self._core.target

    # ---- the eight operations ----

    def get(self, model_id: str, *, allow_deleted: bool = False) -> LoggedModel:
        """``GET logged-models/{model_id}`` (MLflow: ``allow_deleted`` also finds deleted models)."""
        return _model(self._send(calls.get(model_id, allow_deleted)))

    def create(
        self,
        experiment_id: str,
        *,
        name: str | None = None,
        model_type: str | None = None,
        source_run_id: str | None = None,
        params: Pairs | None = None,
        tags: Pairs | None = None,
    ) -> LoggedModel:
        """``POST logged-models``: a new model, PENDING until finalized."""
        return _model(self._send(calls.create(experiment_id, name, model_type, source_run_id, params, tags)))

    def delete(self, model_id: str) -> None:
        """``DELETE logged-models/{model_id}`` (a soft delete on MLflow)."""
        self._send(calls.delete(model_id))

    def delete_tag(self, model_id: str, key: str) -> None:
        """``DELETE logged-models/{model_id}/tags/{key}``."""
        _check_tag_key(self.target, key)
        self._send(calls.delete_tag(model_id, key))

    def finalize(self, model_id: str, status: str | ModelStatus) -> LoggedModel:
        """``PATCH logged-models/{model_id}``: set the final status (``READY`` or ``FAILED``)."""
        return _model(self._send(calls.finalize(model_id, status)))

    def log_params(self, model_id: str, params: Pairs) -> None:
        """``POST logged-models/{model_id}/params`` (a param, once logged, cannot change)."""
        self._send(calls.log_params(model_id, params))

    def set_tags(self, model_id: str, tags: Pairs) -> None:
        """``PATCH logged-models/{model_id}/tags``."""
        self._send(calls.set_tags(model_id, tags))

    def search_page(
        self,
        filter: str | ast.Expr | None = None,  # noqa: A002
        *,
        experiment_ids: Iterable[str | int],
        datasets: Datasets = None,
        order_by: OrderByArg = None,
        max_results: int | None = None,
        page_token: str | None = None,
    ) -> SearchLoggedModelsResponse:
        """One page of ``POST logged-models/search`` (the filter must be native for the target)."""
        body = self._core.search_request(
            self.target, filter, experiment_ids, datasets, order_by, max_results, page_token
        )
        return SearchLoggedModelsResponse.model_validate(self._send(calls.search(body)))

    def search(
        self,
        filter: str | ast.Expr | None = None,  # noqa: A002
        *,
        experiment_ids: Iterable[str | int],
        datasets: Datasets = None,
        order_by: OrderByArg = None,
        max_results: int | None = None,
    ) -> Iterator[LoggedModel]:
        """Every model the filter matches in these experiments, in order, until exhausted or
        ``max_results`` models: exactly what ``lmfilter.select`` gives over all their models. Any filter
        lmfilter parses is taken; what the server cannot run is planned (``lmfilter.plan``). Pages are at
        most the target's limit. A failure mid-way raises; it never ends early silently."""
        searched = self._core.plan(self.target, filter, experiment_ids, datasets, order_by, max_results)
        return searched.run(
            lambda body: SearchLoggedModelsResponse.model_validate(self._send(calls.search(body)))
        )

    def plan(
        self,
        filter: str | ast.Expr | None = None,  # noqa: A002
        *,
        experiment_ids: Iterable[str | int],
        datasets: Datasets = None,
        order_by: OrderByArg = None,
        max_results: int | None = None,
    ) -> Plan:
        """The plan :meth:`search` would run (see :meth:`lmfilter.plan.Plan.explain`)."""
        return self._core.plan(self.target, filter, experiment_ids, datasets, order_by, max_results)


# ---- the async client -----------------------------------------------------------------------------


class AsyncClient(_ClientBase):
    """The asynchronous twin of :class:`Client`: the same operations, awaited; ``search`` is async.
    ``transport`` is an ``httpx.AsyncBaseTransport``."""

    _http: httpx.AsyncClient

    def _open(self, **options: Any) -> None:
        self._http = httpx.AsyncClient(**options)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _send(self, call: Call) -> JSON:
        steps = _exchange(call, self._core.url(call), self._core.retry)
        step = next(steps)
        try:
            while True:
                if isinstance(step, _Sleep):
                    await asyncio.sleep(step.seconds)
                    step = next(steps)
                    continue
                try:
                    outcome: Outcome = await self._http.request(
                        step.method, self._core.url(step), json=step.json, params=step.params
                    )
                except httpx.TransportError as error:
                    outcome = error
                step = steps.send(outcome)
        except StopIteration as done:
            answer: JSON = done.value
            return answer

    async def target(self) -> Target:
        """The target's profile (for an MLflow server, from its ``/version`` on first use)."""
        if self._core.target is None:
            try:
                response = await self._http.get(self._core.version_url)
            except httpx.TransportError as error:
                raise self._core.unreachable(error) from None
            self._core.target = self._core.target_of(response)
        return self._core.target

    async def get(self, model_id: str, *, allow_deleted: bool = False) -> LoggedModel:
        return _model(await self._send(calls.get(model_id, allow_deleted)))

    async def create(
        self,
        experiment_id: str,
        *,
        name: str | None = None,
        model_type: str | None = None,
        source_run_id: str | None = None,
        params: Pairs | None = None,
        tags: Pairs | None = None,
    ) -> LoggedModel:
        return _model(
            await self._send(calls.create(experiment_id, name, model_type, source_run_id, params, tags))
        )

    async def delete(self, model_id: str) -> None:
        await self._send(calls.delete(model_id))

    async def delete_tag(self, model_id: str, key: str) -> None:
        _check_tag_key(await self.target(), key)
        await self._send(calls.delete_tag(model_id, key))

    async def finalize(self, model_id: str, status: str | ModelStatus) -> LoggedModel:
        return _model(await self._send(calls.finalize(model_id, status)))

    async def log_params(self, model_id: str, params: Pairs) -> None:
        await self._send(calls.log_params(model_id, params))

    async def set_tags(self, model_id: str, tags: Pairs) -> None:
        await self._send(calls.set_tags(model_id, tags))

    async def search_page(
        self,
        filter: str | ast.Expr | None = None,  # noqa: A002
        *,
        experiment_ids: Iterable[str | int],
        datasets: Datasets = None,
        order_by: OrderByArg = None,
        max_results: int | None = None,
        page_token: str | None = None,
    ) -> SearchLoggedModelsResponse:
        target = await self.target()
        body = self._core.search_request(
            target, filter, experiment_ids, datasets, order_by, max_results, page_token
        )
        return SearchLoggedModelsResponse.model_validate(await self._send(calls.search(body)))

    async def search(
        self,
        filter: str | ast.Expr | None = None,  # noqa: A002
        *,
        experiment_ids: Iterable[str | int],
        datasets: Datasets = None,
        order_by: OrderByArg = None,
        max_results: int | None = None,
        concurrency: int = 4,
    ) -> AsyncIterator[LoggedModel]:
        """See :meth:`Client.search`; the requests of a fan-out run concurrently, at most ``concurrency``
        at a time."""
        target = await self.target()
        searched = self._core.plan(target, filter, experiment_ids, datasets, order_by, max_results)
        bound = asyncio.Semaphore(max(1, concurrency))

        async def fill(stream: Any) -> None:
            async with bound:
                answer = await self._send(calls.search(stream.next_request()))
            stream.feed(SearchLoggedModelsResponse.model_validate(answer))

        for step in searched.steps():
            if isinstance(step, list):
                await asyncio.gather(*(fill(stream) for stream in step))
            else:
                yield step
