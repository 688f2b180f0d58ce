"""Checked tree to what a server is sent: its filter text, and whole search request bodies.

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

from collections.abc import Iterable

from lmfilter import ast
from lmfilter.check import gap_diagnostics
from lmfilter.diagnostics import FilterError
from lmfilter.front import parse
from lmfilter.native import is_native
from lmfilter.optimize.flatten import flatten
from lmfilter.printer import to_text
from lmfilter.request import Datasets, OrderByArg, RequestError, datasets_of, order_by_of
from lmfilter.schema import Target, get_target
from lmfilter.wire import SearchLoggedModelsRequest


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


def experiment_ids_of(experiment_ids: Iterable[str | int] | str | int) -> tuple[str, ...]:
    """Experiment ids as the API takes them; one id alone (``"12"``) is one id, not the characters of it."""
    if isinstance(experiment_ids, str | int):
        return (str(experiment_ids),)
    return tuple(str(i) for i in experiment_ids)


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
    tree = parse(filter) if isinstance(filter, str) else (filter if filter is not None else ast.MATCH_ALL)
    text_out = _native_text(tree, profile, text)
    ids = experiment_ids_of(experiment_ids)
    if not ids or any(not i for i in ids):
        raise RequestError("experiment_ids", "give at least one experiment id (the server requires them)")
    if max_results is not None:
        if isinstance(max_results, bool) or not isinstance(max_results, int) or max_results < 1:
            raise RequestError("max_results", f"must be a whole number of at least 1, not {max_results!r}")
        if profile.max_results is not None and max_results > profile.max_results:
            raise RequestError("max_results", f"{profile.title} returns at most {profile.max_results} a page")
    return SearchLoggedModelsRequest(
        experiment_ids=ids,
        filter=text_out or None,
        datasets=datasets_of(datasets) or None,
        max_results=max_results,
        order_by=order_by_of(order_by) or None,
        page_token=page_token,
    )
