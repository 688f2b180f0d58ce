"""httpx clients for the eight logged-model operations, on an MLflow server or a Databricks workspace.

:class:`Client` and :class:`AsyncClient` share one core: every operation is first described as a
:class:`Call` (method, path with one percent-encoded segment per id or key, body, and how to read the
answer), the answer is read by the same function, and retries follow one :class:`RetryPolicy` (SPEC §1):
429 and 503 honour ``Retry-After`` (1 s by default, plus up to 1 s of jitter), connection errors back off
linearly up to 10 s, all within a deadline that covers reading the answer too; a plain 500 is not retried,
and a request that may have reached the server is not sent again unless repeating it is harmless (a create,
a log_params or a delete_tag is never repeated once it may have arrived; a resent delete that finds the
model gone is done). Only the sending and the sleeping differ between the two.

Errors are typed (:class:`NotFoundError`, :class:`BadRequestError`, ..., and
:class:`~lmfilter.wire.MalformedAnswerError` for an answer lmfilter cannot read) and carry the server's
``error_code``, ``message``, the HTTP status and the request (method, the URL really sent, and body, never a
header). No secret appears in a log line, an error message or a repr: the token, and a user and password
given in the server URL (moved into basic auth before httpx sees the URL), are replaced by ``***``, even
where a server echoes them.

>>> client = Client("http://user:secret@127.0.0.1:5000")
>>> client
Client('http://127.0.0.1:5000', target=None, token=***)
>>> describe(calls.get("m 1/x"))
'GET /api/2.0/mlflow/logged-models/m%201%2Fx'
>>> calls.delete_tag("m-1", "..")
Traceback (most recent call last):
...
ValueError: tag key '..' cannot be sent: '.' and '..' are steps of a URL path, which servers and proxies \
resolve, so the request would reach /api/2.0/mlflow/logged-models/m-1 instead
"""

from __future__ import annotations

import asyncio
import base64
import contextvars
import email.utils
import inspect
import json
import logging
import math
import random
import re
import ssl
import sys
import time
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable, Generator, Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from types import TracebackType
from typing import Any, Concatenate, Generic, ParamSpec, Protocol, Self, TypeVar
from urllib.parse import quote, quote_plus

import httpcore
import httpx
from pydantic import ValidationError

from lmfilter import ast
from lmfilter.auth import ConfigAuth, Settings, databricks_settings, mlflow_settings, shown_url
from lmfilter.planner import PageLimits, Plan
from lmfilter.planner import plan as make_plan
from lmfilter.requests import Datasets, OrderByArg
from lmfilter.requests import compile as compile_request
from lmfilter.schema import Target, get_target
from lmfilter.status import ModelStatus
from lmfilter.wire import (
    CreateLoggedModelRequest,
    FinalizeLoggedModelRequest,
    KeyValue,
    LoggedModel,
    LoggedModelResponse,
    LoggedModelsError,
    LogLoggedModelParamsRequest,
    MalformedAnswerError,
    PagingError,
    SearchLoggedModelsRequest,
    SearchLoggedModelsResponse,
    SetLoggedModelTagsRequest,
    status_argument,
)

API = "/api/2.0/mlflow/"
DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=10.0)

MAX_ANSWER_BYTES = 256 * 1024 * 1024
"""The largest 2xx answer read (decoded); a larger one is a :class:`MalformedAnswerError`."""

MAX_ERROR_BYTES = 64 * 1024
"""How much of an error answer is read: enough for any server's message, never a whole flood."""

MAX_SEGMENT = 8192
"""The longest id or key, percent-encoded, sent in a path: servers and proxies cap request lines."""

SHOWN_MESSAGE = 2000
SHOWN_TEXT = 300  # of an error body that is not the API's JSON (an HTML page, a proxy's text)

log = logging.getLogger("lmfilter.client")

JSON = dict[str, Any]


class KeyValueLike(Protocol):
    """Anything with ``.key`` and ``.value``: MLflow's ``LoggedModelParameter`` and ``LoggedModelTag``."""

    @property
    def key(self) -> str: ...

    @property
    def value(self) -> str: ...


Pair = KeyValue | KeyValueLike | tuple[str, str | int | float] | Mapping[str, str]
Pairs = Mapping[str, str | int | float] | Iterable[Pair]
"""Params or tags: ``{"lr": "0.1"}``, ``[("lr", "0.1")]``, ``[KeyValue(...)]``, the API's own JSON
``[{"key": "lr", "value": "0.1"}]`` or objects with ``.key`` and ``.value``; number values are written as
text, as MLflow writes them."""
T = TypeVar("T")

__all__ = [
    "API",
    "Answer",
    "AsyncClient",
    "AuthenticationError",
    "BadRequestError",
    "Call",
    "Client",
    "LoggedModelsError",
    "MalformedAnswerError",
    "NotFoundError",
    "PageLimits",
    "PagingError",
    "RateLimitedError",
    "RetryPolicy",
    "ServerError",
    "TransportError",
    "calls",
    "check_route",
    "describe",
    "key_values",
    "read_answer",
    "shown_url",
]


# ---- errors (the base and MalformedAnswerError live in lmfilter.wire, which the planner shares) ------


class BadRequestError(LoggedModelsError):
    """400: the server rejected the request (INVALID_PARAMETER_VALUE, BAD_REQUEST, ...)."""


class AuthenticationError(LoggedModelsError):
    """401 or 403: no valid credentials, or not allowed."""


class NotFoundError(LoggedModelsError):
    """404: no such model (RESOURCE_DOES_NOT_EXIST), or no such endpoint."""


class RateLimitedError(LoggedModelsError):
    """429 or 503 still answered when the retry deadline ran out (or the call was not safe to resend)."""


class ServerError(LoggedModelsError):
    """5xx: the server failed (its body may not even be JSON)."""


class TransportError(LoggedModelsError):
    """No answer, or no whole answer within the deadline, and retrying did not help (or was not safe)."""


_BY_STATUS: dict[int, type[LoggedModelsError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: AuthenticationError,
    404: NotFoundError,
    429: RateLimitedError,
    503: RateLimitedError,  # only ever raised once retrying it ran out of time or was not safe
}


# ---- secrets ----------------------------------------------------------------------------------------


class _Secrets:
    """The credentials of a client, in every form a server might echo them (as given, percent-encoded as
    in a path or a form, JSON-escaped, and the basic-auth header's base64), to replace by ``***``; one
    fetched later (an OAuth token) is added as it is sent.

    A secret shorter than :data:`_ANYWHERE` is replaced only where it stands as a whole token, not inside
    another word or number: a password ``1`` must not turn ``line 10`` into ``line ***0`` (which would
    mangle the message and show where the password was)."""

    def __init__(self, token: str | None, basic: tuple[str, str] | None) -> None:
        self.forms: list[str] = []
        self._pattern: re.Pattern[str] | None = None
        if token:
            self.add(token)
        if basic:
            self.add(basic[1])
            self.add(base64.b64encode(f"{basic[0]}:{basic[1]}".encode()).decode())

    def add(self, value: str) -> None:
        if not value or value in self.forms:
            return
        encoded = {quote(value, safe=""), quote_plus(value, safe="")}
        escaped = {json.dumps(value)[1:-1], json.dumps(value, ensure_ascii=False)[1:-1]}
        forms = {*self.forms, value, *encoded, *escaped}
        self.forms = sorted(forms, key=len, reverse=True)  # the longest first: one may hold another
        self._pattern = re.compile("|".join(_secret_pattern(form) for form in self.forms))

    def redact(self, text: str) -> str:
        return self._pattern.sub("***", text) if self._pattern else text


_ANYWHERE = 8
"""How long a secret must be to be replaced wherever it appears, even inside other text."""


def _secret_pattern(form: str) -> str:
    pattern = re.escape(form)
    if "%" in form:
        pattern = f"(?i:{pattern})"  # percent-escapes come in either case (%2f, %2F)
    if len(form) < _ANYWHERE:
        pattern = rf"(?<!\w){pattern}(?!\w)"
    return pattern


def _server_url(text: str) -> tuple[str, tuple[str, str] | None]:
    """The server's base URL without user and password, and those as basic-auth credentials."""
    shown = shown_url(str(text))
    try:
        url = httpx.URL(text)
    except (httpx.InvalidURL, TypeError):
        raise ValueError(f"not a server URL: {shown!r}") from None
    if url.scheme not in ("http", "https") or not url.host:
        raise ValueError(f"not a server URL: {shown!r} (expected http://HOST[:PORT] or https://...)")
    if url.query or url.fragment:
        raise ValueError(f"a server URL has no query or fragment: {shown!r}")
    if url.port is not None and not 0 < url.port < 65536:
        raise ValueError(f"not a server URL: {shown!r} (a port is from 1 to 65535)")
    credentials = (url.username, url.password) if url.userinfo else None
    return str(url.copy_with(userinfo=b"")).rstrip("/"), credentials


# ---- calls ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Answer:
    """What a server answered to one attempt, as the transport read it."""

    status_code: int
    reason: str
    headers: Mapping[str, str]
    content: bytes
    url: str  # the URL the request was really sent to
    cut: str | None = None  # why reading stopped early: "deadline", "size" or "encoding"

    @property
    def is_success(self) -> bool:
        return 200 <= self.status_code < 300


@dataclass(frozen=True, slots=True)
class Call(Generic[T]):
    """One HTTP request to the server, before any transport: what to send, how to read its answer, and
    whether resending is safe."""

    method: str
    path: str  # from the server's root, each id or key one percent-encoded segment
    read: Callable[[Answer], T]  # a 2xx answer to the result; raises on a shape it cannot read
    json: JSON | None = None
    params: Mapping[str, str] | None = None
    idempotent: bool = True  # may be sent again after a failure that happened once it could have arrived
    done_if_gone: bool = False  # a 404 after a resend means an earlier attempt did it (deletes)
    segments: tuple[tuple[str, str], ...] = ()  # (what, value) of each id or key in the path
    # The call as the target has it (a search compiled for it, a body as it documents it); with
    # needs_target the target is resolved first, else it is given when known (None: an MLflow server).
    for_target: Callable[[Target | None], Call[T]] | None = None
    needs_target: bool = False


def describe(call: Call[Any]) -> str:
    """``METHOD /path``, for logs and messages."""
    return f"{call.method} {call.path}"


class _UnreadableError(Exception):
    """A 2xx answer that is not what its operation answers (why, in words)."""


def _json_object(answer: Answer) -> JSON:
    if not answer.content:
        return {}
    try:
        data = json.loads(answer.content)
    except RecursionError:
        raise _UnreadableError("JSON nested too deeply to read") from None
    except ValueError:
        raise _UnreadableError("the server answered with something that is not JSON") from None
    if not isinstance(data, dict):
        raise _UnreadableError(f"a JSON {_json_kind(data)}, not an object")
    return data


def _json_kind(data: Any) -> str:
    kinds = {list: "array", str: "string", bool: "boolean", int: "number", float: "number"}
    return "null" if data is None else kinds.get(type(data), type(data).__name__)


def _model(answer: Answer) -> LoggedModel:
    return LoggedModelResponse.model_validate(_json_object(answer)).model


def _page(answer: Answer) -> SearchLoggedModelsResponse:
    return SearchLoggedModelsResponse.model_validate(_json_object(answer))


def _nothing(answer: Answer) -> None:
    _json_object(answer)  # an operation that answers {} still answers a JSON object


def _text(answer: Answer) -> str:
    return answer.content.decode("utf-8", "replace")


def _path(*parts: str | tuple[str, str]) -> tuple[str, tuple[tuple[str, str], ...]]:
    """An API path of fixed parts and ``(what, value)`` ids or keys, each value one encoded segment; and
    those ids and keys. Refuses what no encoding can send as data (SPEC §1: ids and keys are data)."""
    encoded = []
    for part in parts:
        if isinstance(part, str):
            encoded.append(part)
            continue
        what, value = part
        if not isinstance(value, str):
            raise ValueError(f"a {what} is text, not {type(value).__name__}: {value!r}")
        if not value:
            raise ValueError(f"a {what} must not be empty")
        if value in (".", ".."):
            # Even as %2E, RFC 3986 lets any hop on the way decode it and drop the step (MLflow itself
            # reads %2E%2E as data): refused, not bet on.
            steps = [
                p if isinstance(p, str) else p[1] if p[1] in (".", "..") else _shown_segment(str(p[1]))
                for p in parts
            ]
            raise ValueError(
                f"{what} {value!r} cannot be sent: '.' and '..' are steps of a URL path, which servers and "
                f"proxies resolve, so the request would reach {_resolved(API + '/'.join(steps))} instead"
            )
        try:
            segment = quote(value, safe="")
        except UnicodeEncodeError:
            raise ValueError(
                f"{what} {value!r} is not valid Unicode text (it holds a lone surrogate) and cannot be sent"
            ) from None
        if len(segment) > MAX_SEGMENT:
            raise ValueError(
                f"{what} is {len(segment):,} characters long once encoded; at most {MAX_SEGMENT:,} can be "
                f"sent in a URL (it starts {value[:20]!r})"
            )
        encoded.append(segment)
    segments = tuple(part for part in parts if not isinstance(part, str))
    return API + "/".join(encoded), segments


def _shown_segment(value: str) -> str:
    return quote(value, safe="", errors="backslashreplace")


def _resolved(path: str) -> str:
    """``path`` with its ``.`` and ``..`` steps taken, as RFC 3986 §5.2.4 has every hop do."""
    steps: list[str] = []
    for step in path.strip("/").split("/"):
        if step == "..":
            steps = steps[:-1]
        elif step != ".":
            steps.append(step)
    return "/" + "/".join(steps)


def _unencodable(value: Any) -> str | None:
    """The first text in a request body that UTF-8 cannot carry (a lone surrogate), if any."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return value
        return None
    items = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
    return next((bad for item in items if (bad := _unencodable(item)) is not None), None)


_RequestBody = (
    CreateLoggedModelRequest
    | FinalizeLoggedModelRequest
    | LogLoggedModelParamsRequest
    | SetLoggedModelTagsRequest
    | SearchLoggedModelsRequest
)


def _body(request: _RequestBody) -> JSON:
    """The JSON of a request body, refused when it holds text a server could not store."""
    data: JSON = request.to_json()
    # A page token is the server's own, sent back as it came (JSON escapes carry any text).
    bad = _unencodable({k: v for k, v in data.items() if k != "page_token"})
    if bad is not None:
        raise ValueError(f"the request holds text that is not valid Unicode (a lone surrogate): {bad!r}")
    return data


_PAIR_SHAPES = (
    "a mapping, (key, value) pairs, KeyValues, {'key': ..., 'value': ...} objects or objects with .key "
    "and .value"
)


def key_values(items: Pairs, what: str = "pairs") -> tuple[KeyValue, ...]:
    """Params or tags in any shape users have (see :data:`Pairs`), as the wire takes them; a bad one is a
    ``TypeError`` or ``ValueError`` naming it (``what[i]``), never pydantic's text. A key given twice with
    two values is refused: which one a server keeps differs."""
    if isinstance(items, Mapping):
        found = [(f"{what}[{k!r}]", k, v) for k, v in items.items()]
    elif isinstance(items, str | bytes) or not isinstance(items, Iterable):
        raise TypeError(f"{what}: expected {_PAIR_SHAPES}; not {_shown_value(items)}")
    else:
        found = [(f"{what}[{i}]", *_key_value(item, f"{what}[{i}]")) for i, item in enumerate(items)]
    pairs: dict[str, KeyValue] = {}
    for where, key, value in found:
        pair = _pair(where, key, value)
        earlier = pairs.setdefault(pair.key, pair)
        if earlier.value != pair.value:
            raise ValueError(
                f"{where}: the key {pair.key!r} is given twice, with {earlier.value!r} and {pair.value!r}"
            )
    return tuple(pairs.values())


def _key_value(item: Any, where: str) -> tuple[Any, Any]:
    if isinstance(item, KeyValue):
        return item.key, item.value
    if isinstance(item, tuple | list):
        if len(item) != 2:
            raise ValueError(f"{where}: a pair is (key, value), not {len(item)} items: {_shown_value(item)}")
        return item[0], item[1]
    if isinstance(item, Mapping):
        extra = set(item) - {"key", "value"}
        if "key" not in item or extra:
            problem = f"unknown fields {sorted(map(str, extra))}" if extra and "key" in item else "no 'key'"
            raise ValueError(
                f"{where}: an object is {{'key': ..., 'value': ...}}; {problem} in {_shown_value(item)}"
            )
        return item["key"], item.get("value", "")
    if not isinstance(item, str | bytes) and hasattr(item, "key") and hasattr(item, "value"):
        return item.key, item.value  # MLflow's LoggedModelParameter and LoggedModelTag, and their like
    raise TypeError(f"{where}: expected {_PAIR_SHAPES}; not {_shown_value(item)}")


def _pair(where: str, key: Any, value: Any) -> KeyValue:
    """A param or tag as the wire takes it: text keys; text values, or numbers written as MLflow writes
    them (``0.1`` as ``'0.1'``)."""
    if not isinstance(key, str):
        raise TypeError(f"{where}: a key is text, not {type(key).__name__}: {_shown_value(key)}")
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise TypeError(
            f"{where}: the value of {key!r} is text or a number, not {type(value).__name__}: "
            + _shown_value(value)
        )
    try:
        return KeyValue(key=key, value=value)
    except ValidationError as error:
        raise ValueError(f"{where}: cannot be sent: {_first_problem(error)}") from None


def _shown_value(value: Any) -> str:
    return _clip(repr(value), 80)


_MODEL_ID = "model id"


class calls:  # noqa: N801 - a namespace of call builders
    """The eight operations as :class:`Call` s, with the arguments users give (SPEC §1); and ``version``.
    :class:`Client` and :class:`AsyncClient` are made from these: each builder is an operation of both,
    with its signature and docstring."""

    @staticmethod
    def version() -> Call[str]:
        return Call("GET", "/version", _text)

    @staticmethod
    def get(model_id: str, *, allow_deleted: bool = False) -> Call[LoggedModel]:
        """``GET logged-models/{model_id}`` (MLflow: ``allow_deleted`` also finds deleted models)."""
        params = {"allow_deleted": "true"} if allow_deleted else None
        path, segments = _path("logged-models", (_MODEL_ID, model_id))
        return Call("GET", path, _model, params=params, segments=segments)

    @staticmethod
    def create(
        experiment_id: str | int,
        *,
        name: str | None = None,
        model_type: str | None = None,
        source_run_id: str | None = None,
        params: Pairs | None = None,
        tags: Pairs | None = None,
    ) -> Call[LoggedModel]:
        """``POST logged-models``: a new model, PENDING until finalized. ``params`` and ``tags`` take any
        shape of :data:`Pairs`."""
        body = CreateLoggedModelRequest(
            experiment_id=str(experiment_id),
            name=name,
            model_type=model_type,
            source_run_id=source_run_id,
            params=key_values(params, "params") if params is not None else None,
            tags=key_values(tags, "tags") if tags is not None else None,
        )
        # Not idempotent: a create that may have arrived is never sent again.
        return Call("POST", API + "logged-models", _model, _body(body), idempotent=False)

    @staticmethod
    def delete(model_id: str) -> Call[None]:
        """``DELETE logged-models/{model_id}`` (a soft delete on MLflow)."""
        path, segments = _path("logged-models", (_MODEL_ID, model_id))
        return Call("DELETE", path, _nothing, done_if_gone=True, segments=segments)

    @staticmethod
    def delete_tag(model_id: str, key: str) -> Call[None]:
        """``DELETE logged-models/{model_id}/tags/{key}``."""
        path, segments = _path("logged-models", (_MODEL_ID, model_id), "tags", ("tag key", key))
        # Not idempotent on MLflow: a second DELETE of the same tag is a 404, so do not resend once sent.
        return Call("DELETE", path, _nothing, idempotent=False, segments=segments)

    @staticmethod
    def finalize(model_id: str, status: str | ModelStatus) -> Call[LoggedModel]:
        """``PATCH logged-models/{model_id}``: set the final status (``READY`` or ``FAILED``)."""
        chosen = status_argument(status)
        path, segments = _path("logged-models", (_MODEL_ID, model_id))

        def for_target(target: Target | None) -> Call[LoggedModel]:
            body = FinalizeLoggedModelRequest(model_id=_id_in_body(target, model_id), status=chosen)
            return Call("PATCH", path, _model, _body(body), segments=segments)

        return replace(for_target(None), for_target=for_target)

    @staticmethod
    def log_params(model_id: str, params: Pairs) -> Call[None]:
        """``POST logged-models/{model_id}/params`` (a param, once logged, cannot change); ``params`` take
        any shape of :data:`Pairs`."""
        pairs = key_values(params, "params")
        path, segments = _path("logged-models", (_MODEL_ID, model_id), "params")

        def for_target(target: Target | None) -> Call[None]:
            body = LogLoggedModelParamsRequest(model_id=_id_in_body(target, model_id), params=pairs)
            # Logging a param twice is an error: do not resend once it may have arrived.
            return Call("POST", path, _nothing, _body(body), idempotent=False, segments=segments)

        return replace(for_target(None), for_target=for_target)

    @staticmethod
    def set_tags(model_id: str, tags: Pairs) -> Call[None]:
        """``PATCH logged-models/{model_id}/tags``; ``tags`` take any shape of :data:`Pairs`."""
        body = SetLoggedModelTagsRequest(tags=key_values(tags, "tags"))
        path, segments = _path("logged-models", (_MODEL_ID, model_id), "tags")
        return Call("PATCH", path, _nothing, _body(body), segments=segments)

    @staticmethod
    def search_page(
        filter: str | ast.Expr | None = None,  # noqa: A002
        *,
        experiment_ids: Iterable[str | int],
        datasets: Datasets = None,
        order_by: OrderByArg = None,
        max_results: int | None = None,
        page_token: str | None = None,
    ) -> Call[SearchLoggedModelsResponse]:
        """One page of ``POST logged-models/search`` (the filter must be native for the target)."""
        ids = list(experiment_ids)  # read once: a generator given here is not read again per target

        def for_target(target: Target | None) -> Call[SearchLoggedModelsResponse]:
            assert target is not None  # needs_target
            body = compile_request(
                filter,
                target=target,
                experiment_ids=ids,
                datasets=datasets,
                order_by=order_by,
                max_results=max_results,
                page_token=page_token,
            )
            return calls.search(body)

        return Call("POST", API + "logged-models/search", _page, for_target=for_target, needs_target=True)

    @staticmethod
    def search(body: SearchLoggedModelsRequest) -> Call[SearchLoggedModelsResponse]:
        """``POST logged-models/search`` with a compiled body (see :func:`lmfilter.requests.compile`)."""
        return Call("POST", API + "logged-models/search", _page, _body(body))


def _id_in_body(target: Target | None, model_id: str) -> str | None:
    """MLflow requires the model id in the body of finalize and log_params too (SPEC §1); Databricks
    documents only the path's."""
    return None if target is not None and target.kind == "databricks" else model_id


_MLFLOW_ROUTES = ("/", "\n")  # MLflow decodes a path before routing: these reach another endpoint, or none


def _needs_target(call: Call[Any]) -> bool:
    return any(c in value for _, value in call.segments for c in _MLFLOW_ROUTES)


def check_route(target: Target, call: Call[Any]) -> None:
    """MLflow decodes ``%2F`` before routing (``DELETE logged-models/m-1%2Ftags%2Ft`` deletes tag ``t``), and
    finds no route for a decoded line break: no encoding gets such an id or key through."""
    if target.kind != "mlflow":
        return
    for what, value in call.segments:
        if "/" in value or "\n" in value:
            kind = "'/'" if "/" in value else "a line break"
            raise ValueError(
                f"MLflow cannot take the {what} {value!r} in a URL: its server routes on a decoded {kind}, "
                "so the request would reach another endpoint or none"
            )


# ---- retries --------------------------------------------------------------------------------------

_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
_DIGITS = re.compile(r"[0-9]+")
NOT_SENT_AGAIN = "not sent again: it may have reached the server and been done"


@dataclass(frozen=True)
class RetryPolicy:
    """When to try a call again, and after how long (SPEC §1, as the Databricks SDK does).

    ``deadline`` bounds one call: its attempts, the pauses between them and the reading of each answer
    (the status line and headers included). ``min_pause`` is the least pause before the n-th retry of a
    429 or 503, times n (up to ``max_backoff``), whatever ``Retry-After`` says: a server answering
    ``Retry-After: 0`` for ever is asked about ``sqrt(20 * deadline)`` times within the deadline (49 in
    the default 120 s), not thousands. ``clock`` measures the deadline; ``wall_clock`` reads a
    ``Retry-After`` given as an HTTP date.
    """

    deadline: float = 120.0  # seconds for one call, retries included
    default_retry_after: float = 1.0
    jitter: float = 1.0
    max_backoff: float = 10.0
    min_pause: float = 0.1
    clock: Callable[[], float] = time.monotonic
    random: Callable[[], float] = random.random
    wall_clock: Callable[[], float] = time.time

    def __post_init__(self) -> None:
        if not (isinstance(self.deadline, int | float) and 0 < self.deadline < math.inf):
            raise ValueError(f"the deadline is a positive number of seconds, not {self.deadline!r}")
        if not (isinstance(self.min_pause, int | float) and 0 <= self.min_pause < math.inf):
            raise ValueError(f"min_pause is a number of seconds, not {self.min_pause!r}")

    def retry_after(self, header: str | None) -> float:
        """The pause a ``Retry-After`` asks for: whole seconds or an HTTP date; the default when missing
        or unreadable (a negative, fractional, non-ASCII or NaN value). Very large values stay large, so
        the deadline ends the retries."""
        value = (header or "").strip()
        if _DIGITS.fullmatch(value):
            return float(value) if len(value) <= 12 else math.inf
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError, OverflowError):
            return self.default_retry_after
        if when.tzinfo is None:
            return self.default_retry_after
        return max(0.0, when.timestamp() - self.wall_clock())

    def after_answer(self, answer: Answer, call: Call[Any], attempt: int, started: float) -> float | None:
        """Seconds to wait before retrying this answer, or ``None`` to take it as it is."""
        if answer.status_code not in (429, 503) or not call.idempotent:
            return None  # not busy; or the server got it, and sending it again could do it twice
        floor = min(self.min_pause * attempt, self.max_backoff)
        wait = max(self.retry_after(answer.headers.get("Retry-After")), floor)
        return self._within_deadline(wait + self.jitter * self.random(), started)

    def after_error(
        self, error: httpx.TransportError, call: Call[Any], attempt: int, started: float
    ) -> float | None:
        """Seconds to wait before retrying after no answer, or ``None`` to give up."""
        if not call.idempotent and not isinstance(error, _NOT_SENT):
            return None  # it may have arrived: sending it again could do it twice
        return self._within_deadline(min(float(attempt), self.max_backoff), started)

    def _within_deadline(self, wait: float, started: float) -> float | None:
        # Strictly within: an attempt that would start as the deadline ends could not read an answer.
        return wait if self.clock() + wait - started < self.deadline else None


# ---- answers --------------------------------------------------------------------------------------


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


def _as_text(value: Any) -> str:
    """A server's message as text: itself when it is a string, else its JSON (a message can be anything)."""
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, ensure_ascii=False)
    except (RecursionError, ValueError):
        return f"(a JSON {_json_kind(value)})"


def _error_text(answer: Answer, redact: Callable[[str], str]) -> tuple[str, str | None]:
    """The message and error code of an error answer: the API's JSON, or the start of whatever it is;
    redacted before it is cut short, so no cut leaves the start of a secret."""
    try:
        data = json.loads(answer.content) if answer.content and answer.cut is None else None
    except (RecursionError, ValueError):
        data = None
    if isinstance(data, dict) and ("message" in data or "error_code" in data):
        code = data.get("error_code")
        if not (isinstance(code, str) and code.isprintable() and 0 < len(code) <= 100):
            code = None
        return _clip(redact(_as_text(data.get("message", ""))), SHOWN_MESSAGE), code
    text = redact(answer.content.decode("utf-8", "replace").strip())
    return _clip(text, SHOWN_TEXT) or redact(answer.reason), None


def _first_problem(error: ValidationError) -> str:
    problems = error.errors(include_url=False, include_input=False, include_context=False)
    if not problems:
        return "its values cannot be read"
    where = ".".join(str(step) for step in problems[0]["loc"]) or "the answer"
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    reason = str(problems[0]["msg"]).removeprefix("Value error, ")
    return f"{where}: {_clip(reason, SHOWN_TEXT)}{more}"


def read_answer(call: Call[T], answer: Answer, secrets: _Secrets | None = None, note: str = "") -> T:
    """The result of a 2xx answer, or the typed error of any other (and of a 2xx that cannot be read);
    ``note`` ends an error's text, and ``secrets`` are replaced by ``***`` in it."""
    redact = secrets.redact if secrets else (lambda text: text)
    status, method, url, body = answer.status_code, call.method, answer.url, call.json
    if answer.is_success:
        if answer.cut == "size":
            reason = f"the answer is larger than the {len(answer.content):,} bytes lmfilter reads"
        elif answer.cut == "encoding":
            encoding = answer.headers.get("Content-Encoding", "")
            reason = (
                f"the answer's Content-Encoding ({encoding}) cannot be decoded "
                "(lmfilter reads one of gzip, deflate or none)"
            )
        else:
            try:
                return call.read(answer)
            except _UnreadableError as error:
                reason = str(error)
            except ValidationError as error:
                reason = _first_problem(error)
            except (RecursionError, ValueError) as error:
                reason = f"its values cannot be read ({type(error).__name__})"
        message = redact(f"an answer lmfilter cannot read: {reason}")
        raise MalformedAnswerError(message, status_code=status, method=method, url=url, body=body, note=note)
    message, code = _error_text(answer, redact)
    kind = _BY_STATUS.get(status, ServerError if status >= 500 else LoggedModelsError)
    code = redact(code) if code else None
    raise kind(message, error_code=code, status_code=status, method=method, url=url, body=body, note=note)


@dataclass(frozen=True, slots=True)
class _Sleep:
    seconds: float


@dataclass(frozen=True, slots=True)
class _Send:
    """Send this call to this URL; the whole answer must be read by ``until`` (on ``clock``)."""

    call: Call[Any]
    url: str
    until: float
    clock: Callable[[], float]

    def left(self) -> float:
        return self.until - self.clock()


Outcome = Answer | httpx.TransportError


def _exchange(
    call: Call[T], url: str, policy: RetryPolicy, secrets: _Secrets
) -> Generator[_Send | _Sleep, Outcome, T]:
    """One call with its retries, without I/O: yields the attempt to make (and is sent its answer or the
    transport error), or a pause to take; returns the call's result or raises its typed error."""
    started = policy.clock()
    attempt, may_have_arrived = 0, False
    while True:
        attempt += 1
        outcome = yield _Send(call, url, started + policy.deadline, policy.clock)
        if isinstance(outcome, Answer):
            where = f"{call.method} {outcome.url}"
            if outcome.cut == "deadline":
                raise TransportError(
                    f"no whole answer within the {policy.deadline:g} s deadline "
                    f"({len(outcome.content):,} bytes of HTTP {outcome.status_code} read)",
                    method=call.method,
                    url=outcome.url,
                    body=call.json,
                )
            log.debug("%s -> %s", where, outcome.status_code)
            if call.done_if_gone and may_have_arrived and outcome.status_code == 404:
                log.debug("%s: 404 after a resend, so an earlier attempt did it: done", where)
                return call.read(Answer(200, "OK", {}, b"", outcome.url))
            wait = policy.after_answer(outcome, call, attempt, started)
            if wait is None:
                note = ""
                if outcome.status_code in (429, 503):
                    note = NOT_SENT_AGAIN if not call.idempotent else f"still busy after {_attempts(attempt)}"
                return read_answer(call, outcome, secrets, note)
            # A 429 or 503 did nothing, so a 404 after it is the model's own answer (only an attempt whose
            # answer was lost may have done the work a later 404 reports).
            log.info("%s answered %s; retrying in %.1f s", where, outcome.status_code, wait)
        else:
            where = f"{call.method} {url}"
            wait = policy.after_error(outcome, call, attempt, started)
            arrived = not isinstance(outcome, _NOT_SENT)
            may_have_arrived = may_have_arrived or arrived
            if wait is None:
                tries = f" after {_attempts(attempt)}" if attempt > 1 else ""
                if policy.clock() - started >= policy.deadline:
                    message = f"no answer within the {policy.deadline:g} s deadline{tries}"
                else:
                    message = f"no answer{tries}: {str(outcome) or type(outcome).__name__}"
                note = NOT_SENT_AGAIN if arrived and not call.idempotent else ""
                raise TransportError(
                    secrets.redact(message),
                    method=call.method,
                    url=url,
                    body=call.json,
                    note=note,
                )
            log.info("no answer to %s (%s); retrying in %.1f s", where, type(outcome).__name__, wait)
        yield _Sleep(wait)


def _attempts(n: int) -> str:
    return f"{n} attempt{'' if n == 1 else 's'}"


class _Decoder:
    """Undoes one ``Content-Encoding`` (gzip, deflate or none), never producing more than asked: httpx
    would inflate a whole chunk, and any stack of encodings, before a size cap could look at it."""

    def __init__(self, encoding: str) -> None:
        self.encoding = encoding.strip().lower()
        wbits = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}
        if self.encoding in ("", "identity"):
            self.inflate = None
        elif self.encoding in wbits:
            self.inflate = zlib.decompressobj(wbits[self.encoding])
        else:  # a stack ("gzip, gzip"), or one lmfilter does not ask for (br, zstd, ...)
            raise zlib.error(f"unsupported Content-Encoding {encoding!r}")
        self.started = False

    def decode(self, data: bytes, room: int) -> bytes:
        """At most ``room`` (at least 1) bytes decoded from ``data``; what ``data`` holds beyond them is
        dropped, so more than ``room - 1`` bytes means the answer is too large."""
        if self.inflate is None:
            return data[:room]
        if not self.started and data and self.encoding == "deflate" and (data[0] & 0x0F) != 8:
            self.inflate = zlib.decompressobj(-zlib.MAX_WBITS)  # raw deflate, as some servers send
        self.started = self.started or bool(data)
        return self.inflate.decompress(data, room)

    def ended(self) -> bool:
        """Whether a compressed body came whole (an empty body is nothing, not a cut stream)."""
        return self.inflate is None or not self.started or self.inflate.eof


class _Reading:
    """One answer's body, read raw chunk by chunk and decoded here (so a compression bomb is stopped at
    the cap, not inflated first), until it ends, the deadline passes or it grows too large; the same for
    the sync and the async transport."""

    def __init__(self, step: _Send, response: httpx.Response, max_bytes: int) -> None:
        self.step, self.response = step, response
        self.limit = max_bytes if response.is_success else MAX_ERROR_BYTES
        self.chunks: list[bytes] = []
        self.size = 0
        self.cut: str | None = None
        self.pending = not response.is_stream_consumed  # whether the body is still to be read
        encoding = response.headers.get("Content-Encoding", "") if self.pending else ""
        try:
            self.decoder: _Decoder | None = _Decoder(encoding)
        except zlib.error:
            self.decoder, self.cut, self.pending = None, "encoding", False
        if response.is_stream_consumed:
            # A transport or an auth flow that read the body (httpx decoded it): it is in memory already.
            self.take(response.content)

    def take(self, data: bytes) -> bool:
        """Keep a raw chunk, decoded; ``False`` when reading must stop."""
        if self.decoder is None:
            return False
        try:
            chunk = self.decoder.decode(data, self.limit - self.size + 1)
        except zlib.error:
            self.cut = "encoding"
            return False
        self.chunks.append(chunk)
        self.size += len(chunk)
        if self.size > self.limit:
            self.cut = "size"
        elif self.step.left() <= 0:
            self.cut = "deadline"
        return self.cut is None

    def lost(self, error: httpx.TransportError) -> Outcome:
        """What an attempt is when reading its body failed: cut at the deadline if that is why; else the
        error (the answer may be retried)."""
        if self.step.left() > 0:
            return error
        self.cut = "deadline"
        return self.answer()

    def answer(self) -> Answer:
        if self.cut is None and self.decoder is not None and not self.decoder.ended():
            self.cut = "encoding"  # the compressed stream stopped short
        content = b"".join(self.chunks)[: self.limit]
        response = self.response
        return Answer(
            response.status_code,
            response.reason_phrase,
            response.headers,
            content,
            str(response.url),
            self.cut,
        )


# ---- the deadline, on every read -------------------------------------------------------------------

_ATTEMPT: contextvars.ContextVar[_Send | None] = contextvars.ContextVar("lmfilter_attempt", default=None)


def _left(timeout: float | None, expired: type[Exception]) -> float | None:
    """A socket operation's timeout, cut to what the deadline of the attempt under way leaves: httpx's
    timeouts apply to each read, so a server sending its headers a byte at a time, or ``102 Processing``
    for ever, would otherwise outlast any deadline."""
    step = _ATTEMPT.get()
    if step is None:
        return timeout
    left = step.left()
    if left <= 0:
        raise expired("the deadline passed")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    def __init__(self, stream: httpcore.NetworkStream) -> None:
        self._stream = stream

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max_bytes, _left(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, _left(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        tls = self._stream.start_tls(ssl_context, server_hostname, _left(timeout, httpcore.ConnectTimeout))
        return _DeadlineStream(tls)

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class _DeadlineBackend(httpcore.NetworkBackend):
    """httpcore's blocking network, each socket operation bounded by the deadline of the attempt."""

    def __init__(self, backend: httpcore.NetworkBackend) -> None:
        self._backend = backend

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        left = _left(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(self._backend.connect_tcp(host, port, left, local_address, socket_options))

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        left = _left(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(self._backend.connect_unix_socket(path, left, socket_options))

    def sleep(self, seconds: float) -> None:
        self._backend.sleep(seconds)


def _bound_by_deadline(http: httpx.Client, given: object) -> None:
    """Put :class:`_DeadlineBackend` under the transports httpx made for this client (the default and
    any proxy's from the environment); httpx has no public hook for it. A transport the caller gave is
    left as it is (its reads are bounded by the timeouts of each request only)."""
    for transport in [http._transport, *http._mounts.values()]:
        if transport is given:
            continue
        pool = getattr(transport, "_pool", None)
        backend = getattr(pool, "_network_backend", None)
        if isinstance(backend, httpcore.NetworkBackend) and not isinstance(backend, _DeadlineBackend):
            pool._network_backend = _DeadlineBackend(backend)  # type: ignore[union-attr]


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
    """What the sync and async clients share: where, who, which target, and how to retry, read and page."""

    base_url: str
    target: Target | None
    retry: RetryPolicy
    page_size: int | None
    page_limits: PageLimits
    max_answer_bytes: int
    secrets: _Secrets

    def url(self, call: Call[Any]) -> str:
        return f"{self.base_url}{call.path}"

    def exchange(self, call: Call[T]) -> Generator[_Send | _Sleep, Outcome, T]:
        return _exchange(call, self.url(call), self.retry, self.secrets)

    def run(self, call: Call[T]) -> Generator[_Send | _Sleep, Outcome, T]:
        """One operation, without I/O: the target first when the call needs it (read from ``/version``
        once), the call as that target has it, then its exchange. Both clients only drive this."""
        if call.needs_target or _needs_target(call):
            target = yield from self.resolve()
            if call.for_target is not None:
                call = call.for_target(target)
            check_route(target, call)
        elif call.for_target is not None and self.target is not None:
            call = call.for_target(self.target)
        return (yield from self.exchange(call))

    def resolve(self) -> Generator[_Send | _Sleep, Outcome, Target]:
        """The target's profile: as given, or for an MLflow server from its ``/version`` (asked once)."""
        if self.target is None:
            try:
                version = yield from self.exchange(calls.version())
            except LoggedModelsError as error:
                version = self.version_after(error)
            self.target = self.target_of(version)
        return self.target

    def request(self, http: httpx.Client | httpx.AsyncClient, step: _Send) -> httpx.Request:
        """The httpx request of an attempt, each of its timeouts cut to the time the deadline leaves."""
        left = max(step.left(), 0.05)
        configured = http.timeout
        timeout = httpx.Timeout(
            connect=min(configured.connect or left, left),
            read=min(configured.read or left, left),
            write=min(configured.write or left, left),
            pool=min(configured.pool or left, left),
        )
        call = step.call
        if call.json is None:
            return http.build_request(call.method, step.url, params=call.params, timeout=timeout)
        # ASCII JSON (\uXXXX escapes) carries any text, a server's own odd page token included.
        content = json.dumps(call.json, separators=(",", ":"), allow_nan=False).encode("ascii")
        headers = {"Content-Type": "application/json"}
        return http.build_request(
            call.method, step.url, content=content, headers=headers, params=call.params, timeout=timeout
        )

    def reading(self, step: _Send, response: httpx.Response) -> _Reading:
        return _Reading(step, response, self.max_answer_bytes)

    def version_after(self, error: LoggedModelsError) -> str:
        """What to take for the version when ``GET /version`` failed: nothing when the server answered
        (it is not an MLflow server that tells: the newest semantics); no answer is raised, not guessed:
        a wrong guess (3.18 for a 3.17 server) would silently change results."""
        if isinstance(error, TransportError | RateLimitedError):
            raise error
        return ""

    def target_of(self, version: str) -> Target:
        """The profile for what ``GET /version`` answered (an MLflow release; newest semantics if none)."""
        return get_target(_version_target(version))

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
            limits=self.page_limits,
        )


def _auth_headers(
    token: str | None, basic: tuple[str, str] | None
) -> tuple[dict[str, str], httpx.Auth | None]:
    if token and basic:
        raise ValueError("give a token or basic auth (a user and password), not both")
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return headers, (httpx.BasicAuth(*basic) if basic else None)


def _user_agent() -> str:
    from lmfilter import __version__  # the package imports this module before it sets its version

    python = ".".join(map(str, sys.version_info[:3]))
    return f"lmfilter/{__version__} httpx/{httpx.__version__} python/{python}"


# ---- the operations, defined once for both clients ------------------------------------------------

P = ParamSpec("P")
F = TypeVar("F", bound=Callable[..., Any])


def _operation(build: Callable[P, Call[T]]) -> Callable[Concatenate[Client, P], T]:
    """A :class:`Client` method that sends what ``build`` describes (its signature and docstring)."""

    def operation(self: Client, /, *args: P.args, **kwargs: P.kwargs) -> T:
        return self._send(build(*args, **kwargs))

    return _named(operation, build, "Client")


def _async_operation(build: Callable[P, Call[T]]) -> Callable[Concatenate[AsyncClient, P], Awaitable[T]]:
    """An :class:`AsyncClient` method, awaited, that sends what ``build`` describes."""

    async def operation(self: AsyncClient, /, *args: P.args, **kwargs: P.kwargs) -> T:
        return await self._send(build(*args, **kwargs))

    return _named(operation, build, "AsyncClient")


def _named(operation: F, build: Callable[..., Call[Any]], owner: str) -> F:
    """``operation`` with the name, docstring and signature (``self`` first, the result unwrapped from
    its Call) of ``build``, so ``help()`` and IDEs show the operation as written in :class:`calls`."""
    signature = inspect.signature(build)
    result = signature.return_annotation
    if isinstance(result, str) and result.startswith("Call[") and result.endswith("]"):
        result = result[len("Call[") : -1]
    self_parameter = inspect.Parameter("self", inspect.Parameter.POSITIONAL_ONLY)
    operation.__name__ = build.__name__
    operation.__qualname__ = f"{owner}.{build.__name__}"
    operation.__doc__ = build.__doc__
    operation.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=[self_parameter, *signature.parameters.values()], return_annotation=result
    )
    return operation


# ---- the clients ------------------------------------------------------------------------------------


class _ClientBase:
    """What both clients hold: where, who, which target, how to retry and page; never a secret in a repr."""

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        *,
        basic_auth: tuple[str, str] | None = None,
        auth: httpx.Auth | None = None,
        target: str | Target | None = None,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        page_size: int | None = None,
        page_limits: PageLimits | None = None,
        max_answer_bytes: int = MAX_ANSWER_BYTES,
        verify: ssl.SSLContext | bool = True,
        transport: httpx.BaseTransport | httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if page_size is not None and (isinstance(page_size, bool) or page_size < 1):
            raise ValueError(f"page_size must be a whole number of at least 1, not {page_size!r}")
        base, in_url = _server_url(base_url)
        if in_url and (token or basic_auth):
            raise ValueError("the server URL holds a user and password: give credentials once, not twice")
        basic = basic_auth or in_url
        headers, basic_flow = _auth_headers(token, basic)
        if auth is not None and (token or basic):
            raise ValueError("give auth=, a token or basic auth: one of them")
        secrets = _Secrets(token, basic)
        if isinstance(auth, ConfigAuth):
            auth.on_secret = secrets.add  # tokens the Config fetches are kept out of what is shown
        self._core = _Core(
            base,
            get_target(target) if target else None,
            retry or RetryPolicy(),
            page_size,
            page_limits or PageLimits(),
            max_answer_bytes,
            secrets,
        )
        self._token = bool(token or basic or auth)
        # Only what _Decoder undoes (httpx would also offer br and zstd when they are installed).
        headers |= {
            "Accept": "application/json",
            "Accept-Encoding": "gzip, deflate",
            "User-Agent": _user_agent(),
        }
        self._open(
            timeout=timeout,
            transport=transport,
            auth=auth or basic_flow,
            headers=headers,
            verify=verify,
            follow_redirects=False,
        )

    @property
    def base_url(self) -> str:
        """Where the client sends its requests: the server's base URL (never a user or a password)."""
        return self._core.base_url

    @property
    def page_limits(self) -> PageLimits:
        """When a search stops asking for pages (:class:`~lmfilter.planner.PageLimits`)."""
        return self._core.page_limits

    @property
    def known_target(self) -> Target | None:
        """The target, when it is known without asking the server (given, or asked already)."""
        return self._core.target

    def _open(self, **options: Any) -> None:
        """Make the httpx client (sync or async) that sends this client's requests."""
        raise NotImplementedError

    @classmethod
    def _of(cls, settings: Settings, options: dict[str, Any]) -> Self:
        if settings.target:
            options.setdefault("target", settings.target)
        if settings.verify is not True:
            options.setdefault("verify", settings.verify)
        return cls(
            settings.base_url, settings.token, basic_auth=settings.basic_auth, auth=settings.auth, **options
        )

    @classmethod
    def from_env(cls, tracking_uri: str | None = None, *, token: str | None = None, **options: Any) -> Self:
        """A client of the server MLflow would talk to: ``MLFLOW_TRACKING_URI`` (or ``tracking_uri``) is an
        ``http(s)://`` server, or ``databricks`` / ``databricks://PROFILE`` for a Databricks workspace (see
        :meth:`for_databricks`); ``MLFLOW_TRACKING_TOKEN`` (or ``token``), ``MLFLOW_TRACKING_USERNAME`` and
        ``MLFLOW_TRACKING_PASSWORD``, ``MLFLOW_TRACKING_INSECURE_TLS`` and the certificate paths apply as in
        MLflow (:func:`lmfilter.auth.mlflow_settings`). A local store (``file:``, ``sqlite:``, a path) is a
        ``ValueError``: lmfilter talks to a tracking server. ``options`` are the constructor's."""
        return cls._of(mlflow_settings(tracking_uri, token=token), options)

    @classmethod
    def for_databricks(
        cls,
        deployment_name: str | None = None,
        token: str | None = None,
        *,
        host: str | None = None,
        profile: str | None = None,
        **options: Any,
    ) -> Self:
        """A client of a Databricks workspace: ``https://<deployment_name>.cloud.databricks.com``, or
        ``host``. A ``token`` given is sent as it is; otherwise the Databricks SDK's own configuration
        authenticates (``DATABRICKS_HOST``, ``DATABRICKS_TOKEN``, the ``profile`` of ``~/.databrickscfg``,
        OAuth machine-to-machine, ...; OAuth tokens refresh per request), which needs
        ``pip install 'lmfilter[databricks]'`` beyond a plain ``DATABRICKS_HOST`` and ``DATABRICKS_TOKEN``
        (:func:`lmfilter.auth.databricks_settings`)."""
        settings = databricks_settings(deployment_name, token, host=host, profile=profile)
        return cls._of(settings, options)

    def __repr__(self) -> str:
        target = self._core.target.name if self._core.target else None
        token = "***" if self._token else None
        return f"{type(self).__name__}({self._core.base_url!r}, target={target!r}, token={token})"


class Client(_ClientBase):
    """A synchronous client of the logged-model API (MLflow server or Databricks workspace).

    ``target`` picks the semantics and limits (``mlflow``, ``mlflow-3.17``, ``databricks``); for an MLflow
    server it is read from ``GET /version`` when not given. A user and password in ``base_url`` become
    basic auth; ``auth`` takes any ``httpx.Auth`` instead of a token. ``retry`` bounds each call in time
    (its ``deadline`` covers reading the answer too), ``page_limits`` each search's paging,
    ``max_answer_bytes`` the answers read. ``verify`` is httpx's (``False`` or an ``ssl.SSLContext``).
    ``transport`` is an ``httpx.BaseTransport``. :meth:`from_env` and :meth:`for_databricks` make one from
    what MLflow and Databricks users have set up.
    """

    _http: httpx.Client

    def _open(self, **options: Any) -> None:
        self._http = httpx.Client(**options)
        _bound_by_deadline(self._http, options.get("transport"))

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # ---- sending: the core's steps, driven with blocking I/O ----

    def _send(self, call: Call[T]) -> T:
        return self._drive(self._core.run(call))

    def _drive(self, steps: Generator[_Send | _Sleep, Outcome, T]) -> T:
        try:
            step = next(steps)
            while True:
                if isinstance(step, _Sleep):
                    time.sleep(step.seconds)
                    step = next(steps)
                else:
                    step = steps.send(self._attempt(step))
        except StopIteration as done:
            answer: T = done.value
            return answer

    def _attempt(self, step: _Send) -> Outcome:
        under_way = _ATTEMPT.set(step)  # every socket read and write of it ends by the deadline
        try:
            try:
                response = self._http.send(self._core.request(self._http, step), stream=True)
            except httpx.TransportError as error:
                return error
            reading = self._core.reading(step, response)
            try:
                if reading.pending:
                    for chunk in response.iter_raw():
                        if not reading.take(chunk):
                            break
            except httpx.TransportError as error:
                return reading.lost(error)
            finally:
                response.close()
            return reading.answer()
        finally:
            _ATTEMPT.reset(under_way)

    @property
    def target(self) -> Target:
        """The target's profile (for an MLflow server, from its ``/version`` on first use)."""
        return self._drive(self._core.resolve())

    # ---- the eight operations (written once, in :class:`calls`) ----

    get = _operation(calls.get)
    create = _operation(calls.create)
    delete = _operation(calls.delete)
    delete_tag = _operation(calls.delete_tag)
    finalize = _operation(calls.finalize)
    log_params = _operation(calls.log_params)
    set_tags = _operation(calls.set_tags)
    search_page = _operation(calls.search_page)

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
        most the target's limit. A failure mid-way raises (a :class:`~lmfilter.wire.PagingError` when the
        server's pages would never end); it never ends early silently."""
        return self.run(self._core.plan(self.target, filter, experiment_ids, datasets, order_by, max_results))

    def search_body(self, body: SearchLoggedModelsRequest) -> SearchLoggedModelsResponse:
        """One ``POST logged-models/search`` of a compiled body: a page, sent as :meth:`search` sends its
        pages (retried, checked, never a secret shown)."""
        return self._send(calls.search(body))

    def run(self, plan: Plan) -> Iterator[LoggedModel]:
        """The models of a plan :meth:`plan` made (or one derived from it, e.g. started at a page token),
        sent as :meth:`search` sends its pages."""
        return plan.run(self.search_body)

    def plan(
        self,
        filter: str | ast.Expr | None = None,  # noqa: A002
        *,
        experiment_ids: Iterable[str | int],
        datasets: Datasets = None,
        order_by: OrderByArg = None,
        max_results: int | None = None,
    ) -> Plan:
        """The plan :meth:`search` would run (see :meth:`lmfilter.planner.Plan.explain`)."""
        return self._core.plan(self.target, filter, experiment_ids, datasets, order_by, max_results)


class AsyncClient(_ClientBase):
    """The asynchronous twin of :class:`Client`: the same operations, awaited; ``search`` is async.
    ``transport`` is an ``httpx.AsyncBaseTransport``.

    :attr:`target` is a plain property, as on :class:`Client`, valid once the target is known: given to
    the constructor (:meth:`for_databricks` gives it), or resolved by ``await client.resolve_target()`` or
    by any operation that needed it (a search). Before that it raises ``RuntimeError`` rather than block.
    """

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

    # ---- sending: the core's steps, driven with awaited I/O ----

    async def _send(self, call: Call[T]) -> T:
        return await self._drive(self._core.run(call))

    async def _drive(self, steps: Generator[_Send | _Sleep, Outcome, T]) -> T:
        try:
            step = next(steps)
            while True:
                if isinstance(step, _Sleep):
                    await asyncio.sleep(step.seconds)
                    step = next(steps)
                else:
                    step = steps.send(await self._attempt(step))
        except StopIteration as done:
            answer: T = done.value
            return answer

    async def _attempt(self, step: _Send) -> Outcome:
        reading: _Reading | None = None
        try:
            # httpx's timeouts apply to each read: only a timeout around it all bounds the status line
            # and headers (a byte at a time, or ``102 Processing`` for ever) by the deadline.
            async with asyncio.timeout(step.left()):
                response = await self._http.send(self._core.request(self._http, step), stream=True)
                reading = self._core.reading(step, response)
                try:
                    if reading.pending:
                        async for chunk in response.aiter_raw():
                            if not reading.take(chunk):
                                break
                finally:
                    await response.aclose()
        except TimeoutError:
            expired = httpx.ReadTimeout("the deadline passed")
            return expired if reading is None else reading.lost(expired)
        except httpx.TransportError as error:
            return error if reading is None else reading.lost(error)
        return reading.answer()

    @property
    def target(self) -> Target:
        """The target's profile, once known (given, or resolved: see :meth:`resolve_target`)."""
        if self._core.target is None:
            raise RuntimeError(
                "the target of this AsyncClient is not known yet: `await client.resolve_target()` first "
                "(or give target=)"
            )
        return self._core.target

    async def resolve_target(self) -> Target:
        """The target's profile, for an MLflow server read from its ``/version`` (asked once)."""
        return await self._drive(self._core.resolve())

    # ---- the eight operations (written once, in :class:`calls`) ----

    get = _async_operation(calls.get)
    create = _async_operation(calls.create)
    delete = _async_operation(calls.delete)
    delete_tag = _async_operation(calls.delete_tag)
    finalize = _async_operation(calls.finalize)
    log_params = _async_operation(calls.log_params)
    set_tags = _async_operation(calls.set_tags)
    search_page = _async_operation(calls.search_page)

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
        at a time (when one fails, the others are cancelled)."""
        target = await self.resolve_target()
        searched = self._core.plan(target, filter, experiment_ids, datasets, order_by, max_results)
        bound = asyncio.Semaphore(max(1, concurrency))

        async def fill(stream: Any) -> None:
            async with bound:
                page = await self._send(calls.search(stream.next_request()))
            stream.feed(page)

        for step in searched.steps():
            if isinstance(step, list):
                tasks = [asyncio.ensure_future(fill(stream)) for stream in step]
                try:
                    await asyncio.gather(*tasks)
                except BaseException:
                    for task in tasks:
                        task.cancel()
                    await asyncio.gather(*tasks, return_exceptions=True)
                    raise
            else:
                yield step

    async def plan(
        self,
        filter: str | ast.Expr | None = None,  # noqa: A002
        *,
        experiment_ids: Iterable[str | int],
        datasets: Datasets = None,
        order_by: OrderByArg = None,
        max_results: int | None = None,
    ) -> Plan:
        """The plan :meth:`search` would run (see :meth:`lmfilter.planner.Plan.explain`)."""
        target = await self.resolve_target()
        return self._core.plan(target, filter, experiment_ids, datasets, order_by, max_results)
