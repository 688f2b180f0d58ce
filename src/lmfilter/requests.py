"""What a server is sent: a search's ``datasets`` and ``order_by`` validated by the server's rules, the
filter text a server reads, and whole search request bodies.

A search's ``datasets`` and ``order_by``, validated by the server's rules (SPEC §3).

Both the local evaluator and the request builder take these in the request body's shape (lists of dicts,
or the pydantic models of :mod:`lmfilter.wire`) and need the same checks, so they live here once.

>>> [k.describe() for k in order_keys([{"field_name": "metrics.acc", "ascending": False}])]
['metrics.acc DESC', 'creation_timestamp DESC', 'model_id ASC']
>>> datasets_of([{"dataset_name": ""}])
Traceback (most recent call last):
...
lmfilter.requests.RequestError: datasets[0].dataset_name: must not be empty (the server answers 400)

Checked tree to what a server is sent: its filter text, and whole search request bodies.

:func:`server_filter` writes a native tree the way the target's server reads it: canonical text with
keys in backticks where they need them, single-quoted strings, bare attribute names, status as the
target knows it (short names for MLflow 3.18, stored numbers for MLflow 3.17), and ANDs flat (a server takes
no parentheses, and an AND inside an AND needs none). :func:`compile` builds a
:class:`~lmfilter.wire.SearchLoggedModelsRequest` and refuses, before anything is sent, what the server
would reject or misread: a filter it cannot run natively (that is for the planner), ``datasets`` or
``order_by`` it rejects, a page size over the target's limit.

Whatever :func:`~lmfilter.optimize` returns compiles when its comparisons are native. A contradiction
(``MATCH_NONE``) is sent as ``model_id IN ()``, which the server answers with no model: a request, not an
error, so that a caller who compiles before sending needs no special case (the planner sends none).

>>> request = compile("params.lr = '0.01' AND status = 'READY'", target="mlflow-3.17", experiment_ids=["1"])
>>> request.to_json()
{'experiment_ids': ['1'], 'filter': "params.lr = '0.01' AND status = 2"}
>>> from lmfilter import optimize, parse
>>> compile(optimize(parse("model_type IS NULL AND model_type = 'agent'")), experiment_ids=["1"]).filter
'model_id IN ()'
>>> compile("name = 'a' OR name = 'b'", experiment_ids=["1"])
Traceback (most recent call last):
...
lmfilter.diagnostics.FilterError: error[LMF301]: MLflow 3.18 does not accept OR
...
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from pydantic import ValidationError

from lmfilter import ast
from lmfilter.api import parse, tree_of
from lmfilter.checker import gap_diagnostics
from lmfilter.diagnostics import FilterError
from lmfilter.errors import LmfilterError, kind_of, validation_message
from lmfilter.native import is_native
from lmfilter.optimizer.flatten import flatten
from lmfilter.printer import to_text
from lmfilter.schema import Attribute, Target, attribute, get_target
from lmfilter.wire import DatasetFilter, OrderBy, SearchLoggedModelsRequest


class RequestError(LmfilterError, ValueError):
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

_EXAMPLES = {DatasetFilter: '{"dataset_name": "eval"}', OrderBy: '{"field_name": "name", "ascending": false}'}


def _model(cls: type[_M], entry: _M | Mapping[str, Any], where: str) -> _M:
    """An entry of ``datasets`` or ``order_by`` as its wire model, checked strictly: an object with only the
    keys the API knows, each of its own JSON type (``"ascending": "no"`` is an error, not false: read as
    a truthy string or as ``bool("no")`` it would sort the other way)."""
    if isinstance(entry, cls):
        return entry
    if not isinstance(entry, Mapping):
        raise RequestError(where, f"expected an object like {_EXAMPLES[cls]}, got {kind_of(entry)}")
    known = cls.model_fields
    unknown = [key for key in entry if key not in known]
    if unknown:
        raise RequestError(
            f"{where}.{unknown[0]}" if isinstance(unknown[0], str) else where,
            f"unknown key {unknown[0]!r} (the keys are {', '.join(known)})",
        )
    try:
        return cls.model_validate(dict(entry), strict=True)
    except ValidationError as error:
        first = error.errors()[0]
        path = ".".join(str(part) for part in first["loc"])
        raise RequestError(f"{where}.{path}" if path else where, validation_message(first)) from None


def max_results_of(max_results: int | None, *, least: int, where: str = "max_results") -> int | None:
    """``max_results`` (or another count, named by ``where``) checked: ``None`` (no limit) or a whole
    number of at least ``least``.

    >>> max_results_of(-1, least=0)
    Traceback (most recent call last):
    ...
    lmfilter.requests.RequestError: max_results: must be a whole number of at least 0, not -1
    """
    if max_results is not None and (
        isinstance(max_results, bool) or not isinstance(max_results, int) or max_results < least
    ):
        raise RequestError(where, f"must be a whole number of at least {least}, not {max_results!r}")
    return max_results


def server_filter(tree: ast.Expr, target: str | Target = "mlflow") -> str:
    """The filter text ``target``'s server reads as ``tree`` (which must be native for it)."""
    profile = get_target(target)
    return _native_text(tree, profile, "")


def _native_text(tree: ast.Expr, profile: Target, text: str) -> str:
    """The server text of ``tree``, or a :class:`FilterError` naming what ``profile`` lacks (at its place
    in ``text``, the filter ``tree`` was parsed from; for a tree given as such, in its canonical text)."""
    tree = flatten(tree)
    if not is_native(tree, profile, status_numbers=True):
        if not text:
            text = to_text(tree)
            tree = parse(text)  # so that each diagnostic points into the text it is shown with
        raise FilterError(text, gap_diagnostics(tree, profile, text))
    numbers = profile.status_filter == "numbers"
    return to_text(_single_status_lists(tree) if numbers else tree, status_numbers=numbers, bounded=False)


def _single_status_lists(tree: ast.Expr) -> ast.Expr:
    """``status IN (2)`` is a 400 on MLflow 3.17 (a one-number list reads as a number): write ``= 2``."""
    match tree:
        case ast.And(items):
            return ast.And(tuple(_single_status_lists(item) for item in items), span=tree.span)
        case ast.In(field, (only,), negated) if isinstance(only, ast.StatusValue):
            return ast.Compare(field, ast.Op.NE if negated else ast.Op.EQ, only, span=tree.span)
    return tree


def experiment_id_items(experiment_ids: Iterable[str | int] | str | int) -> tuple[str | int, ...]:
    """Experiment ids as given: one id alone (``"12"``) is one id, not the characters of it; bytes are
    refused (iterated, ``b"12"`` would be the experiments 49 and 50)."""
    if isinstance(experiment_ids, bytes | bytearray | memoryview):
        raise RequestError("experiment_ids", "expected ids (texts or integers), not bytes")
    if isinstance(experiment_ids, str | int):
        return (experiment_ids,)
    return tuple(experiment_ids)


def experiment_ids_of(experiment_ids: Iterable[str | int] | str | int) -> tuple[str, ...]:
    """Experiment ids as the API takes them (texts); see :func:`experiment_id_items`."""
    return tuple(str(i) for i in experiment_id_items(experiment_ids))


def compile(  # noqa: A001 - the API's name
    filter: str | ast.Expr | None = None,  # noqa: A002 - the API's word
    *,
    target: str | Target = "mlflow",
    experiment_ids: Iterable[str | int],
    datasets: Datasets = None,
    order_by: OrderByArg = None,
    max_results: int | None = None,
    page_token: str | None = None,
) -> SearchLoggedModelsRequest:
    """A search request body for ``target``, or an error saying what the server would not take.

    Raises :class:`FilterError` for a bad filter or one the target cannot run natively (plan it instead),
    :class:`RequestError` for bad ``experiment_ids``, ``datasets``, ``order_by`` or ``max_results``, and
    :class:`ValueError` for a tree built by hand that no filter can say (:func:`~lmfilter.printer.to_text`).
    """
    profile = get_target(target)
    text = filter if isinstance(filter, str) else ""
    # A tree flattened first: an AND chain too deep for any text still has a flat one, which a server takes.
    tree = tree_of(flatten(filter) if isinstance(filter, ast.Expr) else filter)
    text_out = _native_text(tree, profile, text)
    ids = experiment_ids_of(experiment_ids)
    if not ids or any(not i for i in ids):
        raise RequestError("experiment_ids", "give at least one experiment id (the server requires them)")
    max_results = max_results_of(max_results, least=1)
    if max_results is not None and profile.max_results is not None and max_results > profile.max_results:
        raise RequestError("max_results", f"{profile.title} returns at most {profile.max_results} a page")
    return SearchLoggedModelsRequest(
        experiment_ids=ids,
        filter=text_out or None,
        datasets=datasets_of(datasets) or None,
        max_results=max_results,
        order_by=order_by_of(order_by) or None,
        page_token=page_token,
    )
