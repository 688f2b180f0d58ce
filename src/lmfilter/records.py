"""Reading model records, as :class:`~lmfilter.wire.LoggedModel` objects or API-JSON dicts, for evaluation.

The evaluator reads few fields of each model (an attribute, a param, the rows of one metric), and it reads
them from whichever form the caller has: a dict straight from a JSON file is not validated as a whole (that
costs more than the filtering), but each field read here is checked, and a bad one raises
:class:`RecordError` naming the record and the field. A model that matches is validated whole when it is
turned into a :class:`~lmfilter.wire.LoggedModel` for the result.

Metric rows come out as :data:`MetricRow` tuples, with values as the MLflow SQL store keeps them (NaN as 0,
infinities as the largest doubles).

>>> record = Record.of({"info": {"model_id": "m-1", "status": 2, "tags": [{"key": "t", "value": "x"}]},
...                     "data": {"metrics": [{"key": "acc", "value": "NaN", "timestamp": "5"}]}}, 0)
>>> record.attribute("status"), record.tags()
(<ModelStatus.READY: 'LOGGED_MODEL_READY'>, {'t': 'x'})
>>> record.metric_rows({"acc"})["acc"]
[MetricRow(value=0.0, timestamp=5, step=0, dataset_name=None, dataset_digest=None, run_id=None)]
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any, TypeVar

from pydantic import ValidationError

from lmfilter.status import ModelStatus
from lmfilter.wire import LoggedModel, MetricRow, named_float, parse_status, stored

LARGEST = 1.7976931348623157e308
_INFINITIES = (math.inf, -math.inf)
_T = TypeVar("_T")


class RecordError(ValueError):
    """A model record that is not a logged model: which one (index, model_id) and which field."""

    def __init__(self, index: int, model_id: str | None, field: str, message: str) -> None:
        self.index, self.model_id, self.field = index, model_id, field
        who = f"record {index}" + (f" (model_id {model_id!r})" if model_id else "")
        super().__init__(f"{who}: {field}: {message}")


# Attribute name -> the info field that holds it.
_INFO_FIELDS = {
    "creation_timestamp": "creation_timestamp_ms",
    "last_updated_timestamp": "last_updated_timestamp_ms",
    "artifact_location": "artifact_uri",
}
_INT_FIELDS = frozenset({"creation_timestamp_ms", "last_updated_timestamp_ms", "creator_id"})


class Record:
    """One model record and the reads the evaluator makes of it."""

    __slots__ = ()

    @staticmethod
    def of(item: Any, index: int) -> Record:
        if type(item) is LoggedModel or isinstance(item, LoggedModel):
            return _ModelRecord(item)
        if isinstance(item, Mapping):
            return _DictRecord(item, index)
        raise RecordError(
            index, None, "(record)", f"expected a logged model (a dict), not {type(item).__name__}"
        )

    def attribute(self, name: str) -> Any:
        """The attribute's value (status as :class:`ModelStatus`), or ``None`` when null."""
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


class _ModelRecord(Record):
    __slots__ = ("_model",)

    def __init__(self, model: LoggedModel) -> None:
        self._model = model

    def attribute(self, name: str) -> Any:
        return getattr(self._model.info, _INFO_FIELDS.get(name, name))

    # A LoggedModel keeps its lookups once computed, so a cache searched again and again pays once.
    def params(self) -> Mapping[str, str]:
        return self._model.data.param_map

    def tags(self) -> Mapping[str, str]:
        return self._model.info.tag_map

    def metric_rows(self, keys: Collection[str] | None) -> Mapping[str, Sequence[MetricRow]]:
        index = self._model.data.metric_index
        if keys is None:
            return index
        return {key: index[key] for key in keys if key in index}

    def model(self) -> LoggedModel:
        return self._model


class _DictRecord(Record):
    __slots__ = ("_data", "_index", "_info", "_record")

    def __init__(self, record: Mapping[str, Any], index: int) -> None:
        self._record, self._index = record, index
        info = record.get("info")
        if not isinstance(info, Mapping):
            raise self._error("info", "missing, or not an object")
        self._info: Mapping[str, Any] = info
        data = record.get("data")
        if data is None:
            data = {}
        elif not isinstance(data, Mapping):
            raise self._error("data", "not an object")
        self._data: Mapping[str, Any] = data

    def _error(self, field: str, message: str) -> RecordError:
        info = self._record.get("info")
        model_id = info.get("model_id") if isinstance(info, Mapping) else None
        return RecordError(self._index, model_id if isinstance(model_id, str) else None, field, message)

    def attribute(self, name: str) -> Any:
        field = _INFO_FIELDS.get(name, name)
        value = self._info.get(field)
        if value is None:
            return ModelStatus.UNSPECIFIED if field == "status" else None
        try:
            if field == "status":
                return parse_status(value)
            if field in _INT_FIELDS:
                return _integer(value)
        except ValueError as error:
            raise self._error(f"info.{field}", str(error)) from None
        if not isinstance(value, str):
            raise self._error(f"info.{field}", f"expected a string, not {type(value).__name__}")
        return value

    def _pairs(self, where: Mapping[str, Any], name: str, path: str) -> dict[str, str]:
        items = where.get(name) or ()
        if not isinstance(items, list | tuple):
            raise self._error(path, "expected a list")
        out = {}
        for i, item in enumerate(items):
            if type(item) is dict or isinstance(item, Mapping):
                key, value = item.get("key"), item.get("value", "")
                if type(key) is str and type(value) is str:
                    out[key] = value
                    continue
            raise self._error(f"{path}.{i}", "expected {key, value} strings")
        return out

    def params(self) -> dict[str, str]:
        return self._pairs(self._data, "params", "data.params")

    def tags(self) -> dict[str, str]:
        return self._pairs(self._info, "tags", "info.tags")

    def metric_rows(self, keys: Collection[str] | None) -> dict[str, list[MetricRow]]:
        items = self._data.get("metrics") or ()
        if not isinstance(items, list | tuple):
            raise self._error("data.metrics", "expected a list")
        rows: dict[str, list[MetricRow]] = {}
        for i, m in enumerate(items):
            if not (type(m) is dict or isinstance(m, Mapping)) or type(key := m.get("key")) is not str:
                raise self._error(f"data.metrics.{i}.key", "expected a metric with a string key")
            if keys is not None and key not in keys:
                continue
            # The common case (numbers as numbers, names as strings) costs a type test each.
            value, timestamp, step = m.get("value", 0.0), m.get("timestamp", 0), m.get("step", 0)
            name, digest, run = m.get("dataset_name"), m.get("dataset_digest"), m.get("run_id")
            path = f"data.metrics.{i}"
            if type(value) is not float:
                value = self._read(m, "value", 0.0, _number, path)
            if value != value or value in _INFINITIES:
                value = stored(value)
            if type(timestamp) is not int:
                timestamp = self._read(m, "timestamp", 0, _integer, path)
            if type(step) is not int:
                step = self._read(m, "step", 0, _integer, path)
            if not (name is None or type(name) is str):
                name = self._read(m, "dataset_name", None, _optional_text, path)
            if not (digest is None or type(digest) is str):
                digest = self._read(m, "dataset_digest", None, _optional_text, path)
            if not (run is None or type(run) is str):
                run = self._read(m, "run_id", None, _optional_text, path)
            rows.setdefault(key, []).append(MetricRow(value, timestamp, step, name, digest, run))
        return rows

    def _read(
        self, item: Mapping[str, Any], name: str, default: Any, read: Callable[[Any], _T], path: str
    ) -> _T:
        try:
            return read(item.get(name, default))
        except ValueError as error:
            raise self._error(f"{path}.{name}", str(error)) from None

    def model(self) -> LoggedModel:
        try:
            return LoggedModel.model_validate(self._record)
        except ValidationError as error:
            first = error.errors()[0]
            raise self._error(".".join(str(p) for p in first["loc"]), first["msg"]) from None


def _integer(value: Any) -> int:
    """An int64 as JSON carries it: a number or a numeric string."""
    if isinstance(value, bool):
        raise ValueError(f"expected an integer, not {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.lstrip("-").isdigit():
        return int(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    raise ValueError(f"expected an integer, not {value!r}")


def _number(value: Any) -> float:
    value = named_float(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    raise ValueError(f"expected a number, not {value!r}")


def _optional_text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise ValueError(f"expected a string, not {value!r}")
