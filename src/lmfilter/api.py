"""The front end's public calls: ``parse``, ``check``, ``format`` and ``is_valid``, with a bounded cache.

Each takes a filter as its text or as a tree (:data:`Filter`); they default to the ``mlflow`` target, as
every entry point of lmfilter does. Parsing and checking a filter is pure, so results are cached by (text,
target, native) in an LRU cache of :data:`CACHE_SIZE` entries; trees are immutable and diagnostics are
tuples, so sharing them is safe.

A filter gets at most :data:`~lmfilter.diagnostics.MAX_DIAGNOSTICS` diagnostics, the first in reading order,
then one ``LMF110`` that counts the rest and is as severe as the worst of them (see
:func:`~lmfilter.diagnostics.capped`), so that what a filter of any text costs to report stays bounded.

>>> import lmfilter
>>> lmfilter.format("params.alpha<0.3 and   metrics.accuracy>0.9")
'params.alpha < 0.3 AND metrics.accuracy > 0.9'
>>> [d.code for d in lmfilter.check("metrics.acc > 1 OR name = 'x'", target="mlflow", native=True)]
['LMF301']
"""

from __future__ import annotations

import functools
import typing

from lmfilter import ast
from lmfilter.checker import check_surface
from lmfilter.diagnostics import Diagnostic, FilterError, capped, has_errors, ordered
from lmfilter.printer import to_text
from lmfilter.schema import Target, get_target
from lmfilter.syntax import parse_surface

CACHE_SIZE = 4096


Filter = str | ast.Expr
"""What every entry point takes as a filter: its text, or a tree (from :func:`parse`, :func:`optimize`, or
built by hand). A tree stands for its canonical text (:func:`format`)."""

_TREES: tuple[type[ast.Expr], ...] = typing.get_args(ast.Expr)


@functools.lru_cache(maxsize=CACHE_SIZE)
def _analyze(text: str, target: Target, native: bool) -> tuple[ast.Expr | None, tuple[Diagnostic, ...]]:
    tree, diagnostics = check_surface(parse_surface(text), target, native=native)
    return tree, tuple(capped(ordered(diagnostics)))


def _text(filter: Filter) -> str:  # noqa: A002 - the API's word
    """The text of a filter: itself, or a tree's canonical text."""
    if isinstance(filter, str):
        return filter
    if isinstance(filter, _TREES):
        return to_text(filter)
    raise TypeError(f"a filter is a str or a tree (lmfilter.Expr), not {type(filter).__name__}")


def parse(filter: Filter) -> ast.Expr:  # noqa: A002 - the API's word
    """Parse and check a filter; return its checked tree, or raise :class:`FilterError` with its problems.

    The tree holds lmfilter's whole language (OR, NOT, IS NULL, ...); use :func:`check` to learn what a
    particular server would accept. A tree is checked as its canonical text, so a tree built by hand comes
    back typed (or raises :class:`FilterError` on that text; :class:`ValueError` when no text says it).

    >>> parse("metrics.acc > 0.9 AND params.lr = '0.01'").items[1]
    Compare(field=Field(entity=<Entity.PARAM: 'params'>, key='lr', type=<ValueType.STRING: 'string'>), \
op=<Op.EQ: '='>, value=String(value='0.01'))
    >>> parse("")
    And(items=())
    """
    text = _text(filter)
    tree, diagnostics = _analyze(text, get_target("local"), False)
    if tree is None:
        raise FilterError(text, diagnostics)
    return tree


def check(filter: Filter, target: str | Target = "mlflow", native: bool = False) -> list[Diagnostic]:  # noqa: A002
    """Every diagnostic for ``filter`` meant for ``target``; never raises on a bad filter.

    With ``native=True``, whatever the target's server would reject or misread is an error, so a string
    that passes can be sent to the server as it is. Otherwise constructs that lmfilter runs by planning
    (OR, NOT, IS NULL, ...) are infos.

    A tree is checked as its canonical text, :func:`format` ``(tree)``: the diagnostics' spans point into
    that text (a tree has no text of its own to point into).

    >>> [(d.code, d.severity) for d in check("name = 'a' OR name = 'b'")]
    [('LMF301', 'info')]
    >>> [(d.code, d.severity) for d in check("name = 'a' OR name = 'b'", native=True)]
    [('LMF301', 'error')]
    >>> [(d.code, d.span) for d in check(parse("params.a < 1 AND name = 'x'"), native=True)]
    [('LMF306', Span(start=0, end=12))]
    """
    return list(_analyze(_text(filter), get_target(target), native)[1])


def format(filter: Filter) -> str:  # noqa: A001, A002 - the public names the API promises
    """The canonical text of a filter (raises :class:`FilterError` if it does not parse).

    >>> format("NOT(name='a'OR name = 'b')AND tags.`x`='1'")
    "NOT (name = 'a' OR name = 'b') AND tags.x = '1'"
    """
    return to_text(parse(filter) if isinstance(filter, str) else filter)


def is_valid(filter: Filter, target: str | Target = "mlflow", native: bool = False) -> bool:  # noqa: A002
    """Whether ``filter`` has no error for ``target`` (the same defaults as :func:`check`)."""
    return not has_errors(check(filter, target, native))


def tree_of(filter: Filter | None) -> ast.Expr:  # noqa: A002 - the API's word
    """The tree a stage works on: a text parsed, a tree as it is, ``None`` as the filter that matches all."""
    if filter is None:
        return ast.MATCH_ALL
    if isinstance(filter, str):
        return parse(filter)
    if isinstance(filter, _TREES):
        return filter
    raise TypeError(f"a filter is a str or a tree (lmfilter.Expr), not {type(filter).__name__}")
