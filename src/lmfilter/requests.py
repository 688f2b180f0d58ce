"""A search's ``datasets`` and ``order_by``, validated by the server's rules (SPEC §3).

Both the local evaluator and the request builder take these in the request body's shape (lists of dicts,
or the pydantic models of :mod:`lmfilter.wire`) and need the same checks, so they live here once.

>>> [k.describe() for k in order_keys([{"field_name": "metrics.acc", "ascending": False}])]
['metrics.acc DESC', 'creation_timestamp DESC', 'model_id ASC']
>>> datasets_of([{"dataset_name": ""}])
Traceback (most recent call last):
...
lmfilter.request.RequestError: datasets[0].dataset_name: must not be empty (the server answers 400)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from pydantic import ValidationError

from lmfilter.schema import Attribute, attribute
from lmfilter.wire import DatasetFilter, OrderBy


class RequestError(ValueError):
    """A ``datasets`` or ``order_by`` entry the server would reject; ``where`` names the entry."""

    def __init__(self, where: str, message: str) -> None:
        self.where = where
        super().__init__(f"{where}: {message}")


Datasets = Iterable[DatasetFilter | Mapping[str, Any]] | None
OrderByArg = Iterable[OrderBy | Mapping[str, Any]] | None


def datasets_of(datasets: Datasets) -> tuple[DatasetFilter, ...]:
    """The ``datasets`` entries, validated: each has a non-empty ``dataset_name``."""
    out = []
    for i, entry in enumerate(datasets or ()):
        parsed = _model(DatasetFilter, entry, f"datasets[{i}]")
        if not parsed.dataset_name:
            raise RequestError(f"datasets[{i}].dataset_name", "must not be empty (the server answers 400)")
        out.append(parsed)
    return tuple(out)


@dataclass(frozen=True, slots=True)
class OrderKey:
    """One resolved sort key: an attribute, or a metric with the dataset its value is taken from."""

    kind: Literal["attribute", "metric", "param", "tag"]  # params and tags: sorted locally only
    name: str  # canonical attribute name, or the metric key
    ascending: bool
    dataset_name: str | None = None
    dataset_digest: str | None = None

    @property
    def field_name(self) -> str:
        return self.name if self.kind == "attribute" else f"{self.kind}s.{self.name}"

    def describe(self) -> str:
        field = self.field_name
        on = f" on {self.dataset_name}" if self.dataset_name else ""
        on += f"@{self.dataset_digest}" if self.dataset_digest else ""
        return f"{field}{on} {'ASC' if self.ascending else 'DESC'}"


TIE_BREAKERS = (
    OrderKey("attribute", "creation_timestamp", ascending=False),
    OrderKey("attribute", "model_id", ascending=True),
)


def order_by_of(order_by: OrderByArg, *, local: bool = False) -> tuple[OrderBy, ...]:
    """The ``order_by`` entries, validated by the server's rules (as they are sent); with ``local``,
    params and tags are allowed too (lmfilter sorts by them itself)."""
    return tuple(entry for entry, _ in _resolved(order_by, local))


def order_keys(order_by: OrderByArg, *, local: bool = False) -> tuple[OrderKey, ...]:
    """The sort keys of ``order_by``, then ``creation_timestamp DESC, model_id ASC`` unless present."""
    keys = [key for _, key in _resolved(order_by, local)]
    present = {k.name for k in keys if k.kind == "attribute"}
    keys.extend(k for k in TIE_BREAKERS if k.name not in present)
    return tuple(keys)


def _resolved(order_by: OrderByArg, local: bool) -> list[tuple[OrderBy, OrderKey]]:
    """Each entry, validated once, with the sort key it stands for."""
    out = []
    for i, raw in enumerate(order_by or ()):
        entry = _model(OrderBy, raw, f"order_by[{i}]")
        out.append((entry, _order_key(entry, f"order_by[{i}].field_name", local)))
    return out


def _order_key(entry: OrderBy, where: str, local: bool = False) -> OrderKey:
    field = entry.field_name
    if "." not in field:
        attr: Attribute | None = attribute(field)
        if attr is None:
            raise RequestError(where, f"invalid order by field name {field!r} (the server answers 400)")
        return OrderKey("attribute", attr.name, entry.ascending)
    entity, key = field.split(".", 1)
    if local and entity in ("params", "tags"):
        return OrderKey("param" if entity == "params" else "tag", key.strip("`"), entry.ascending)
    if entity != "metrics":
        raise RequestError(
            where, f"cannot order by {field!r}: only attributes and metrics (the server answers 400)"
        )
    # The server treats an empty dataset name or digest as none.
    return OrderKey("metric", key, entry.ascending, entry.dataset_name or None, entry.dataset_digest or None)


_M = TypeVar("_M", DatasetFilter, OrderBy)


def _model(cls: type[_M], entry: _M | Mapping[str, Any], where: str) -> _M:
    if isinstance(entry, cls):
        return entry
    try:
        return cls.model_validate(entry)
    except ValidationError as error:
        first = error.errors()[0]
        path = ".".join(str(part) for part in first["loc"])
        raise RequestError(f"{where}.{path}" if path else where, first["msg"]) from None
