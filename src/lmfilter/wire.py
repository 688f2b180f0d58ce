"""The API's record shapes (SPEC §1) as pydantic models: what servers send, and what lmfilter sends back;
and the errors of talking to the API (:class:`LoggedModelsError` and its family, shared by the client and the
planner's paging).

Models accept what servers actually send: omitted empty fields, int64 as JSON numbers or numeric strings,
status as its wire name, short name or number, and unknown keys (``registrations``) ignored. They dump to
the same JSON with :meth:`LoggedModel.to_json`.

>>> m = LoggedModel.model_validate({"info": {"model_id": "m-1", "experiment_id": "0", "name": "a",
...     "creation_timestamp_ms": "1700000000000", "status": "LOGGED_MODEL_READY", "registrations": []},
...     "data": {"params": [{"key": "lr", "value": "0.01"}]}})
>>> m.info.creation_timestamp_ms, m.info.status, m.data.param("lr")
(1700000000000, <ModelStatus.READY: 'LOGGED_MODEL_READY'>, '0.01')
>>> m.to_json()["info"]["status"]
'LOGGED_MODEL_READY'

This module uses no other stage of lmfilter (only the status enum, shared with the language).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from functools import cached_property
from typing import Annotated, Any, NamedTuple

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer

from lmfilter.errors import LmfilterError, kind_of
from lmfilter.status import ModelStatus

# ---- errors ---------------------------------------------------------------------------------------


class LoggedModelsError(LmfilterError):
    """A request that failed: the server's error code and message, the HTTP status, and the request.

    ``note`` says what lmfilter did about it (e.g. why it was not sent again); it ends the text.
    """

    def __init__(
        self,
        message: str,
        *,
        error_code: str | None = None,
        status_code: int | None = None,
        method: str = "",
        url: str = "",
        body: dict[str, Any] | None = None,
        note: str = "",
    ) -> None:
        self.message, self.error_code, self.status_code = message, error_code, status_code
        self.method, self.url, self.body, self.note = method, url, body, note
        where = f"{method} {url}".strip()
        code = f" {error_code}" if error_code else ""
        status = f"HTTP {status_code}{code}: " if status_code else ""
        text = f"{status}{message}" + (f" ({where})" if where else "") + (f"; {note}" if note else "")
        super().__init__(text)


class MalformedAnswerError(LoggedModelsError):
    """The server answered something lmfilter cannot read: not JSON, nested too deeply, too large, not
    the shape the operation answers, or pages that never end."""


class PagingError(MalformedAnswerError):
    """A search whose pages would never end: a page token seen before, endless empty pages, or more pages
    or time than :class:`lmfilter.planner.PageLimits` allow."""


ENUM_NAME = re.compile(r"[A-Z][A-Z0-9_]{0,99}")  # an enum value's name (shared with the SQL store's loader)
INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1


def parse_status(value: Any) -> ModelStatus:
    """A status as servers send it: the wire name, the short name or the enum's number. A name or number
    lmfilter does not know yet (a newer server's) is kept as an unknown status (see
    :mod:`lmfilter.status`); what cannot be a protobuf enum value at all is a ``ValueError``.

    >>> parse_status("READY"), parse_status(3), parse_status("LOGGED_MODEL_ARCHIVED").known
    (<ModelStatus.READY: 'LOGGED_MODEL_READY'>, <ModelStatus.FAILED: 'LOGGED_MODEL_UPLOAD_FAILED'>, False)
    """
    if isinstance(value, ModelStatus):
        return value
    if isinstance(value, str) and ENUM_NAME.fullmatch(value):
        return ModelStatus.unknown(value)
    if isinstance(value, int) and not isinstance(value, bool) and INT32_MIN <= value <= INT32_MAX:
        return ModelStatus.unknown(value)
    names = ", ".join(s.wire_name for s in ModelStatus)
    if isinstance(value, str):
        shown = repr(value[:60]) + ("..." if len(value) > 60 else "")
        raise ValueError(f"unknown status {shown}: not a status name ({names}, or another upper-case name)")
    # Only a kind is named: a value of any size or depth can come here, and its repr could be neither.
    what = (
        kind_of(value)
        if isinstance(value, bool) or not isinstance(value, int | float)
        else "a number out of the 32-bit range"
        if isinstance(value, int)
        else "a number that is not a whole one"
    )
    raise ValueError(f"not a status: {what} (a status is a name such as {names}, or a 32-bit number)")


def status_argument(value: str | ModelStatus) -> ModelStatus:
    """A status a user gives (to finalize): one lmfilter knows, by short or wire name; never guessed."""
    if isinstance(value, ModelStatus) and value.known:
        return value
    if isinstance(value, str):
        try:
            return ModelStatus.from_name(value)
        except KeyError:
            pass
    names = ", ".join(s.name for s in ModelStatus)
    raise ValueError(f"unknown status {value!r}: one of {names} (or its wire name)")


Status = Annotated[
    ModelStatus,
    BeforeValidator(parse_status),
    PlainSerializer(lambda status: status.raw, return_type=str | int),
]


NAMED_FLOATS = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def float_name(value: float) -> float | str:
    """A float as JSON can carry it: NaN and the infinities by the names of :data:`NAMED_FLOATS`."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value


def named_float(value: Any) -> Any:
    """JSON has no NaN or infinities; Python's json module and some servers write them by name."""
    if isinstance(value, str) and value in NAMED_FLOATS:
        return NAMED_FLOATS[value]
    return value


LARGEST = 1.7976931348623157e308

# ---- the scalar forms of the wire (SPEC §1): what a field accepts, for every reader of records ---------

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
# An int64 and a double written as text, as the wire accepts them (shared with the SQL store's loader).
INTEGER_TEXT = re.compile(r"-?[0-9]{1,19}")
NUMBER_TEXT = re.compile(r"-?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_SURROGATE = re.compile("[\ud800-\udfff]")


def int64(value: Any) -> int:
    """An int64 as JSON carries it: an integer (a whole float too) or its decimal text; not a boolean.

    >>> int64(5), int64("-5"), int64(5.0)
    (5, -5, 5)
    """
    whole = isinstance(value, float) and value.is_integer() and abs(value) <= 2.0**63
    if whole or (isinstance(value, str) and INTEGER_TEXT.fullmatch(value)):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError("expected an integer (a number or its decimal text)")
    if not INT64_MIN <= value <= INT64_MAX:
        raise ValueError("out of the range of an int64")
    return value


def double(value: Any) -> float:
    """A double as JSON carries it: a number, its decimal text, or ``NaN``, ``Infinity``, ``-Infinity`` by
    name; not a boolean, and not a number past the largest double (a server rejects those).

    >>> double(1), double("2.5e1"), double("-Infinity")
    (1.0, 25.0, -inf)
    """
    value = named_float(value)
    if isinstance(value, str) and NUMBER_TEXT.fullmatch(value):
        value = float(value)
        if math.isinf(value):
            raise ValueError("out of the range of a double")
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("expected a number")
    try:
        return float(value)
    except OverflowError:
        raise ValueError("out of the range of a double") from None


def text(value: str) -> str:
    """A string that is text: a lone surrogate (what a ``\\ud800`` escape alone decodes to) is half a
    character, which no server stores and no UTF-8 output can write."""
    if not value.isascii() and _SURROGATE.search(value):
        raise ValueError("is not valid Unicode text: it holds half a surrogate pair")
    return value


Int64 = Annotated[int, BeforeValidator(int64)]
Double = Annotated[float, BeforeValidator(double)]
Text = Annotated[str, AfterValidator(text)]


def stored(value: float) -> float:
    """A metric value as the MLflow SQL store keeps it: NaN as 0, infinities as the largest doubles."""
    if math.isnan(value):
        return 0.0
    if math.isinf(value):
        return math.copysign(LARGEST, value)
    return value


class MetricRow(NamedTuple):
    """One row of a metric, as evaluation reads it: its stored value and what tells rows apart."""

    value: float
    timestamp: int
    step: int
    dataset_name: str | None
    dataset_digest: str | None
    run_id: str | None


class _Wire(BaseModel):
    model_config = ConfigDict(
        extra="ignore", frozen=True, populate_by_name=True, allow_inf_nan=True, ser_json_inf_nan="strings"
    )


class KeyValue(_Wire):
    """A param or tag: ``{key, value}``."""

    key: Text
    value: Text = ""


class Metric(_Wire):
    """One logged value of a model metric, with its step, time, dataset and run."""

    key: Text
    value: Double = 0.0
    timestamp: Int64 = 0
    step: Int64 = 0
    dataset_name: Text | None = None
    dataset_digest: Text | None = None
    model_id: Text | None = None
    run_id: Text | None = None


class LoggedModelInfo(_Wire):
    """A logged model's attributes and tags."""

    model_id: Text
    experiment_id: Text = ""
    name: Text = ""
    creation_timestamp_ms: Int64 | None = None
    last_updated_timestamp_ms: Int64 | None = None
    artifact_uri: Text | None = None
    status: Status = ModelStatus.UNSPECIFIED
    creator_id: Int64 | None = None
    model_type: Text | None = None
    source_run_id: Text | None = None
    status_message: Text | None = None
    tags: tuple[KeyValue, ...] = ()

    def tag(self, key: str) -> str | None:
        """The value of tag ``key``, or ``None``."""
        return self.tag_map.get(key)

    @cached_property
    def tag_map(self) -> Mapping[str, str]:
        """The tags by key (computed once)."""
        return {t.key: t.value for t in self.tags}


class LoggedModelData(_Wire):
    """A logged model's params and metrics."""

    params: tuple[KeyValue, ...] = ()
    metrics: tuple[Metric, ...] = ()

    def param(self, key: str) -> str | None:
        """The value of param ``key``, or ``None``."""
        return self.param_map.get(key)

    @cached_property
    def param_map(self) -> Mapping[str, str]:
        """The params by key (computed once)."""
        return {p.key: p.value for p in self.params}

    @cached_property
    def metric_index(self) -> Mapping[str, Sequence[MetricRow]]:
        """The metric rows by key, values as the store keeps them (computed once)."""
        index: dict[str, list[MetricRow]] = {}
        for m in self.metrics:
            row = MetricRow(stored(m.value), m.timestamp, m.step, m.dataset_name, m.dataset_digest, m.run_id)
            index.setdefault(m.key, []).append(row)
        return index


class LoggedModel(_Wire):
    """A logged model as the API sends it: ``{info, data}``."""

    info: LoggedModelInfo
    data: LoggedModelData = Field(default_factory=LoggedModelData)

    @property
    def model_id(self) -> str:
        return self.info.model_id

    def to_json(self) -> dict[str, Any]:
        """The API's JSON for this model (None fields left out, status by wire name; a NaN or infinite
        metric value as the strings ``"NaN"``, ``"Infinity"``, ``"-Infinity"``, which JSON can carry). Text is
        kept as it is, lone surrogates from a server's ``\\ud800`` escapes included."""
        data: dict[str, Any] = self.model_dump(mode="json", exclude_none=True)
        for metric in data["data"]["metrics"]:
            metric["value"] = float_name(metric["value"])
        return data


class DatasetFilter(_Wire):
    """An entry of a search's ``datasets``: metric rows of this dataset (and digest, if given) pass."""

    dataset_name: Text
    dataset_digest: Text | None = None


class OrderBy(_Wire):
    """An entry of a search's ``order_by``: an attribute or ``metrics.<key>``, with its dataset."""

    field_name: Text
    ascending: bool = True
    dataset_name: Text | None = None
    dataset_digest: Text | None = None


# ---- request and response bodies (SPEC §1, §4) -------------------------------------------------------


class _Body(_Wire):
    """A request or response body: snake_case keys, unset fields left out, no NaN or infinity."""

    model_config = ConfigDict(extra="ignore", frozen=True, allow_inf_nan=False)

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)


class SearchLoggedModelsRequest(_Body):
    """``POST logged-models/search``."""

    experiment_ids: tuple[str, ...]
    filter: str | None = None
    datasets: tuple[DatasetFilter, ...] | None = None
    max_results: int | None = None
    order_by: tuple[OrderBy, ...] | None = None
    page_token: str | None = None


class SearchLoggedModelsResponse(_Body):
    """One page of a search: its models and, when more remain, the token of the next page."""

    models: tuple[LoggedModel, ...] = ()
    next_page_token: str | None = None


class CreateLoggedModelRequest(_Body):
    """``POST logged-models``."""

    experiment_id: str
    name: str | None = None
    model_type: str | None = None
    source_run_id: str | None = None
    params: tuple[KeyValue, ...] | None = None
    tags: tuple[KeyValue, ...] | None = None


class FinalizeLoggedModelRequest(_Body):
    """``PATCH logged-models/{model_id}``: MLflow requires the id in the body too; Databricks documents
    only ``status`` (the id is the path's), so it is left out there."""

    model_id: str | None = None
    status: Status


class LogLoggedModelParamsRequest(_Body):
    """``POST logged-models/{model_id}/params``: MLflow requires the id in the body too; Databricks
    documents only ``params``, so it is left out there."""

    model_id: str | None = None
    params: tuple[KeyValue, ...]


class SetLoggedModelTagsRequest(_Body):
    """``PATCH logged-models/{model_id}/tags``."""

    tags: tuple[KeyValue, ...]


class LoggedModelResponse(_Body):
    """The answer of get, create and finalize: ``{"model": ...}``."""

    model: LoggedModel
