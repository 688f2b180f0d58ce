"""Reading model records, as :class:`~lmfilter.wire.LoggedModel` objects or API-JSON dicts, for evaluation.

The evaluator reads few fields of each model (an attribute, a param, the rows of one metric), and it reads
them from whichever form the caller has. A dict straight from a JSON file is not validated as a whole (that
costs more than the filtering), but each field read here is checked, and a bad one raises
:class:`RecordError` naming the record, its model id and the field. A model that matches is validated whole
when it is turned into a :class:`~lmfilter.wire.LoggedModel` for the result.

**One meaning for a record, whatever its form.** A dict's field is read as :mod:`lmfilter.wire`'s model reads
it: the plain case (an ASCII string, an int64, a float) is taken as it is, and anything else is validated by
the wire model itself, so a value means the same in a dict and in a ``LoggedModel``, and a value one rejects
the other rejects too. On top of the wire's forms, two rules hold for both:

- an attribute a record leaves out (or sends as null, where the wire takes null) is what the server stores
  for it, decided in one place, :func:`attribute_value`: ``model_type``, ``source_run_id`` and
  ``status_message`` are null (SPEC §3), and the attributes a server always stores (``name``, the timestamps,
  ``status``, ...) hold the zero of their type, as a protobuf reader takes an omitted field (``''``, ``0``,
  ``UNSPECIFIED``). So ``name IS NULL`` matches nothing, as the optimizer and the checker assume
  (:attr:`lmfilter.schema.Attribute.nullable`);
- a key that appears twice in a record's params or tags is a :class:`RecordError`: a server keeps one value
  per key, so such a record never came from one. So is a model id that two records of one search hold
  (:meth:`Record.first_of_its_id`): a server holds one model per id.

Metric rows come out as :data:`MetricRow` tuples, with values as the MLflow SQL store keeps them (NaN as 0,
infinities as the largest doubles).

>>> record = Record.of({"info": {"model_id": "m-1", "status": 2, "tags": [{"key": "t", "value": "x"}]},
...                     "data": {"metrics": [{"key": "acc", "value": "NaN", "timestamp": "5"}]}}, 0)
>>> record.attribute("status"), record.attribute("name"), record.attribute("model_type"), record.tags()
(<ModelStatus.READY: 'LOGGED_MODEL_READY'>, '', None, {'t': 'x'})
>>> record.metric_rows({"acc"})["acc"]
[MetricRow(value=0.0, timestamp=5, step=0, dataset_name=None, dataset_digest=None, run_id=None)]
"""

from __future__ import annotations

import math
import reprlib
from collections.abc import Collection, Mapping, Sequence
from typing import Any

from pydantic import ValidationError

from lmfilter.ast import ValueType
from lmfilter.errors import LmfilterError, validation_message
from lmfilter.schema import ATTRIBUTES
from lmfilter.status import ModelStatus
from lmfilter.wire import KeyValue, LoggedModel, LoggedModelInfo, Metric, MetricRow, parse_status, stored

__all__ = ["Record", "RecordError", "attribute_value"]

_INFINITIES = (math.inf, -math.inf)


class RecordError(LmfilterError, ValueError):
    """A model record that is not a logged model: which one (index, model_id) and which field."""

    def __init__(self, index: int, model_id: str | None, field: str, message: str) -> None:
        self.index, self.model_id, self.field = index, model_id, field
        who = f"record {index}" + (f" (model_id {brief(model_id)})" if model_id else "")
        super().__init__(f"{who}: {field}: {message}")


# ---- what an attribute means ----------------------------------------------------------------------

_ZERO: Mapping[ValueType, Any] = {
    ValueType.STRING: "",
    ValueType.NUMBER: 0,
    ValueType.STATUS: ModelStatus.UNSPECIFIED,
}
_WHEN_ABSENT: Mapping[str, Any] = {
    attr.name: None if attr.nullable else _ZERO[attr.type] for attr in ATTRIBUTES
}


def attribute_value(name: str, value: Any) -> Any:
    """What attribute ``name`` holds for filters and sorts, given a record's value (``None``: absent or null).

    A server always stores the attributes the schema marks not nullable, so a record without one stands for
    the zero of its type; the others are null when absent.

    >>> [attribute_value(name, None) for name in ("name", "creation_timestamp", "status", "model_type")]
    ['', 0, <ModelStatus.UNSPECIFIED: 'LOGGED_MODEL_STATUS_UNSPECIFIED'>, None]
    """
    return _WHEN_ABSENT.get(name) if value is None else value


# Attribute name -> the info field that holds it.
_INFO_FIELDS = {
    "creation_timestamp": "creation_timestamp_ms",
    "last_updated_timestamp": "last_updated_timestamp_ms",
    "artifact_location": "artifact_uri",
}
_INFO_DEFAULTS: Mapping[str, Any] = {
    name: field.get_default(call_default_factory=True)
    for name, field in LoggedModelInfo.model_fields.items()
    if not field.is_required()
}
# The plain forms of the info fields, which the wire model takes as they are: an ASCII string (text in every
# encoding, never half a surrogate pair), an int64. The wire model validates anything else.
_INFO_TEXT = frozenset(
    {"model_id", "experiment_id", "name", "artifact_uri", "model_type", "source_run_id", "status_message"}
)
_INFO_INT64 = frozenset({"creation_timestamp_ms", "last_updated_timestamp_ms", "creator_id"})
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_EXACT_DOUBLE = 2**53  # ints up to this size are the same as doubles
_ABSENT: Any = object()


class _Brief(reprlib.Repr):
    """Reprs cut short: a few items, two levels, 40 characters of a string or a number."""

    def __init__(self) -> None:
        super().__init__()
        self.maxlevel, self.maxstring, self.maxlong, self.maxother = 2, 40, 40, 40

    def repr_int(self, x: int, level: int) -> str:
        if x.bit_length() > 128:  # repr() of an int of thousands of digits raises (and would be long)
            return f"<an integer of about {math.floor(x.bit_length() * math.log10(2)) + 1} digits>"
        return super().repr_int(x, level)


_brief = _Brief()


def brief(value: Any) -> str:
    """A short repr of any value, however large or deeply nested, for an error message.

    >>> brief("x" * 100), brief([[[[1]]]]), brief(10**5000)
    ("'xxxxxxxxxxxxxxxxx...xxxxxxxxxxxxxxxxxx'", '[[[...]]]', '<an integer of about 5001 digits>')
    """
    return _brief.repr(value)


def _kind(value: Any) -> str:
    return "null" if value is None else type(value).__name__


# ---- records --------------------------------------------------------------------------------------


class Record:
    """One model record and the reads the evaluator makes of it."""

    __slots__ = ("_index", "model_id")

    _index: int
    model_id: str

    @staticmethod
    def of(item: Any, index: int) -> Record:
        """The record of a :class:`~lmfilter.wire.LoggedModel` or an API-JSON dict (``index`` names it)."""
        if type(item) is dict:  # exact type tests first: isinstance with an ABC costs more than reading
            return _DictRecord(item, index)
        if type(item) is LoggedModel or isinstance(item, LoggedModel):
            return _ModelRecord(item, index)
        if isinstance(item, Mapping):
            return _DictRecord(item, index)
        raise RecordError(index, None, "(record)", f"expected a logged model (a dict), not {_kind(item)}")

    def attribute(self, name: str) -> Any:
        """The attribute's value (status as :class:`ModelStatus`), or ``None`` when null
        (see :func:`attribute_value`)."""
        raise NotImplementedError

    def params(self) -> Mapping[str, str]:
        raise NotImplementedError

    def tags(self) -> Mapping[str, str]:
        raise NotImplementedError

    def metric_rows(self, keys: Collection[str] | None) -> Mapping[str, Sequence[MetricRow]]:
        """The rows of the metrics named in ``keys`` (of every metric for ``None``), by key."""
        raise NotImplementedError

    def model(self) -> LoggedModel:
        """The record as a validated :class:`LoggedModel`."""
        raise NotImplementedError

    def first_of_its_id(self, seen: set[str]) -> None:
        """Add this record's model id to ``seen`` (the ids of the records before it); raise
        :class:`RecordError` if it is there already: a server holds one model per id, so two records with
        one id never came from one server (and a search would list that model once, not twice)."""
        if self.model_id in seen:
            raise self._error(
                "info.model_id", "another record before it has this id: a server holds one model per id"
            )
        seen.add(self.model_id)

    def _error(self, field: str, message: str) -> RecordError:
        return RecordError(self._index, self.model_id, field, message)

    def _invalid(self, path: str, error: ValidationError) -> RecordError:
        """The first fault the wire model found in a value that sits at ``path`` in the record."""
        first = error.errors()[0]
        where = ".".join(part for part in (path, *map(str, first["loc"])) if part)
        return self._error(where or "(record)", validation_message(first, brief))

    def _duplicate(self, keys: Sequence[str], path: str) -> RecordError:
        """The error for the first key of ``keys`` (a record's params or tags) that appears twice."""
        seen: dict[str, int] = {}
        for i, key in enumerate(keys):
            if key in seen:
                raise self._error(
                    f"{path}.{i}.key",
                    f"{brief(key)} appears twice (also {path}.{seen[key]}): a server keeps one value per key",
                )
            seen[key] = i
        raise AssertionError("no key appears twice")


class _ModelRecord(Record):
    __slots__ = ("_model",)

    def __init__(self, model: LoggedModel, index: int) -> None:
        self._index, self.model_id, self._model = index, model.model_id, model

    def attribute(self, name: str) -> Any:
        return attribute_value(name, getattr(self._model.info, _INFO_FIELDS.get(name, name)))

    # A LoggedModel keeps its lookups once computed, so a cache searched again and again pays once.
    def params(self) -> Mapping[str, str]:
        data = self._model.data
        if len(data.param_map) != len(data.params):
            raise self._duplicate([p.key for p in data.params], "data.params")
        return data.param_map

    def tags(self) -> Mapping[str, str]:
        info = self._model.info
        if len(info.tag_map) != len(info.tags):
            raise self._duplicate([t.key for t in info.tags], "info.tags")
        return info.tag_map

    def metric_rows(self, keys: Collection[str] | None) -> Mapping[str, Sequence[MetricRow]]:
        index = self._model.data.metric_index
        if keys is None:
            return index
        return {key: index[key] for key in keys if key in index}

    def model(self) -> LoggedModel:
        return self._model


class _DictRecord(Record):
    __slots__ = ("_data", "_info", "_record")

    def __init__(self, record: Mapping[str, Any], index: int) -> None:
        self._record, self._index = record, index
        info = record.get("info", _ABSENT)
        if not (type(info) is dict or isinstance(info, Mapping)):
            what = "missing" if info is _ABSENT else f"expected an object, not {_kind(info)}"
            raise RecordError(index, None, "info", what)
        self._info: Mapping[str, Any] = info
        # Every record has its id checked, read or not: errors name it, and results are told apart by it.
        model_id = info.get("model_id", _ABSENT)
        if model_id is _ABSENT:
            raise RecordError(index, None, "info.model_id", "missing: every logged model has an id")
        if type(model_id) is str and model_id.isascii():
            self.model_id = model_id
        else:
            self.model_id = ""
            self.model_id = self._info_field("model_id", model_id)
        data = record.get("data", _ABSENT)
        if data is _ABSENT:
            data = {}
        elif not (type(data) is dict or isinstance(data, Mapping)):
            raise self._error("data", f"expected an object, not {_kind(data)}")
        self._data: Mapping[str, Any] = data

    def _info_field(self, field: str, value: Any) -> Any:
        """An info field that is not in its plain form, as the wire model reads it (or a RecordError)."""
        try:
            info = LoggedModelInfo.model_validate({"model_id": self.model_id or "-"} | {field: value})
        except ValidationError as error:
            raise self._invalid("info", error) from None
        return getattr(info, field)

    def attribute(self, name: str) -> Any:
        field = _INFO_FIELDS.get(name, name)
        value = self._info.get(field, _ABSENT)
        kind = type(value)
        if value is _ABSENT:
            value = _INFO_DEFAULTS.get(field)
        elif field == "status":
            if kind is str or kind is int:
                try:
                    value = parse_status(value)  # the wire model's own reading of a status
                except ValueError as error:
                    raise self._error("info.status", str(error)) from None
            else:
                value = self._info_field(field, value)
        elif not (
            (kind is str and value.isascii() and field in _INFO_TEXT)
            or (kind is int and _INT64_MIN <= value <= _INT64_MAX and field in _INFO_INT64)
        ):
            value = self._info_field(field, value)
        return attribute_value(name, value)

    def _list(self, where: Mapping[str, Any], name: str, path: str) -> Sequence[Any]:
        items = where.get(name, ())
        if type(items) is list or type(items) is tuple:
            return items
        raise self._error(path, f"expected a list, not {_kind(items)}")

    def _pairs(self, where: Mapping[str, Any], name: str, path: str) -> Mapping[str, str]:
        items = self._list(where, name, path)
        pairs: dict[str, str] = {}
        for i, item in enumerate(items):
            if type(item) is dict:
                key, value = item.get("key"), item.get("value", "")
                if type(key) is str and type(value) is str and key.isascii() and value.isascii():
                    pairs[key] = value
                    continue
            pair = self._pair(item, f"{path}.{i}")
            pairs[pair.key] = pair.value
        if len(pairs) != len(items):  # all valid (checked above), but some key came twice
            raise self._duplicate([self._pair(item, path).key for item in items], path)
        return pairs

    def _pair(self, item: Any, path: str) -> KeyValue:
        """A param or tag, as the wire model reads it."""
        try:
            return KeyValue.model_validate(item)
        except ValidationError as error:
            raise self._invalid(path, error) from None

    def params(self) -> Mapping[str, str]:
        return self._pairs(self._data, "params", "data.params")

    def tags(self) -> Mapping[str, str]:
        return self._pairs(self._info, "tags", "info.tags")

    def metric_rows(self, keys: Collection[str] | None) -> dict[str, list[MetricRow]]:
        rows: dict[str, list[MetricRow]] = {}
        for i, m in enumerate(self._list(self._data, "metrics", "data.metrics")):
            key = m.get("key") if type(m) is dict else None
            if type(key) is not str:  # not a metric with a key: the wire model says what is wrong
                key, row = self._metric(m, i)
            elif keys is not None and key not in keys:
                continue
            else:
                # The common case (numbers as numbers, names as ASCII strings) costs a type test each.
                value, timestamp, step = m.get("value", 0.0), m.get("timestamp", 0), m.get("step", 0)
                name, digest, run = m.get("dataset_name"), m.get("dataset_digest"), m.get("run_id")
                if type(value) is int and -_EXACT_DOUBLE <= value <= _EXACT_DOUBLE:
                    value = float(value)
                if (
                    type(value) is float
                    and type(timestamp) is int
                    and _INT64_MIN <= timestamp <= _INT64_MAX
                    and type(step) is int
                    and _INT64_MIN <= step <= _INT64_MAX
                    and key.isascii()
                    and (name is None or (type(name) is str and name.isascii()))
                    and (digest is None or (type(digest) is str and digest.isascii()))
                    and (run is None or (type(run) is str and run.isascii()))
                ):
                    if value != value or value in _INFINITIES:
                        value = stored(value)
                    row = MetricRow(value, timestamp, step, name, digest, run)
                else:
                    key, row = self._metric(m, i)
            if keys is None or key in keys:
                rows.setdefault(key, []).append(row)
        return rows

    def _metric(self, item: Any, i: int) -> tuple[str, MetricRow]:
        """A metric not in its plain form, as the wire model reads it: its key and row."""
        try:
            m = Metric.model_validate(item)
        except ValidationError as error:
            raise self._invalid(f"data.metrics.{i}", error) from None
        return m.key, MetricRow(
            stored(m.value), m.timestamp, m.step, m.dataset_name, m.dataset_digest, m.run_id
        )

    def model(self) -> LoggedModel:
        try:
            return LoggedModel.model_validate(self._record)
        except ValidationError as error:
            raise self._invalid("", error) from None
