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

import dataclasses
import functools
import typing

from lmfilter import ast
from lmfilter.checker import check_surface
from lmfilter.diagnostics import Diagnostic, FilterError, Span, capped, has_errors, ordered, shown
from lmfilter.printer import EVERY_MODEL, NO_MODEL, to_text
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


NOT_ITS_TEXT = "LMF113"
"""The code for a tree built by hand that is not the tree its text reads as (see :func:`parse`)."""


def _text(filter: Filter) -> str:  # noqa: A002 - the API's word
    """The text of a filter: itself, or a tree's canonical text."""
    if isinstance(filter, str):
        return filter
    return _tree_text(_as_tree(filter))


def _as_tree(filter: object) -> ast.Expr:  # noqa: A002 - the API's word
    if isinstance(filter, _TREES):
        return filter
    raise TypeError(f"a filter is a str or a tree (lmfilter.Expr), not {type(filter).__name__}")


def _tree_text(tree: ast.Expr) -> str:
    """A tree's canonical text; a tree that no text says (a key with a backtick, a syntax error's
    placeholder, a number compared as text, a lone surrogate) is a :class:`FilterError` ``LMF113``."""
    try:
        return to_text(tree)
    except FilterError:
        raise
    except ValueError as error:
        found = Diagnostic(NOT_ITS_TEXT, "error", f"no filter says this tree: {error}", Span(0, 0))
        raise FilterError("", (found,)) from None


def _verified(tree: ast.Expr) -> tuple[str, ast.Expr]:
    """A tree's canonical text and the checked tree that text reads as, when that is the same tree.

    A tree built by hand can hold what only the parser makes or what no field takes: a
    :class:`~lmfilter.ast.Word` whose text is more filter (``'x' OR name = 'y'``), an empty key, an unknown
    attribute, ``LIKE`` on a metric. Its text is checked (so the checker's errors apply to it), and the
    tree must be the one that text reads as, up to what the printer writes for it and the fields' types
    (filled in by the checker); else every entry point would run one filter and send another."""
    text = _tree_text(tree)
    checked, diagnostics = _analyze(text, get_target("local"), False)
    if checked is None:
        raise FilterError(text, diagnostics)
    mismatch = _mismatch(tree, checked, text)
    if mismatch is not None:
        raise FilterError(text, (mismatch,))
    return text, checked


def _mismatch(tree: ast.Expr, checked: ast.Expr, text: str) -> Diagnostic | None:
    """``LMF113`` when ``tree`` is not ``checked``, the tree its text reads as (see :func:`_shape`)."""
    given, read = _shape(tree), _shape(checked)
    if given == read:
        return None
    mine, theirs = list(ast.comparisons(given)), list(ast.comparisons(read))
    if len(mine) != len(theirs):
        why = (
            f"the tree has {len(mine)} comparison(s) but its text reads as {len(theirs)}: "
            "a value or key of the tree holds filter syntax"
        )
    else:
        which = next((i for i, (a, b) in enumerate(zip(mine, theirs, strict=True)) if a != b), None)
        if which is None:
            why = "its AND, OR and NOT read back otherwise"
        else:
            given_leaf, read_leaf = shown(repr(mine[which]), 120), shown(repr(theirs[which]), 120)
            why = f"comparison {which + 1} of the tree, {given_leaf}, reads back as {read_leaf}"
    return Diagnostic(
        NOT_ITS_TEXT,
        "error",
        f"this tree is not the filter its text says: {why}; build trees with lmfilter.parse, or of the "
        "values it makes (String, Number, StatusValue)",
        Span(0, len(text)),
    )


def _shape(tree: ast.Expr) -> ast.Expr:
    """What of ``tree`` its text says: the printer's stand-ins (an AND or OR of one item is the item, an
    empty OR ``model_id IN ()``, an empty AND inside ``model_id NOT IN ()``), a param's numeric equality as
    BETWEEN, numbers by value, and fields without their types."""
    if tree == ast.MATCH_ALL:
        return tree
    return ast.fold(tree, _shape_node)


def _shape_node(node: ast.Expr, below: list[ast.Expr]) -> ast.Expr:
    match node:
        case ast.And() | ast.Or() if len(below) == 1:
            return below[0]
        case ast.And() | ast.Or() if not below:
            return _shape_node(EVERY_MODEL if isinstance(node, ast.And) else NO_MODEL, [])
        case ast.And():
            return ast.And(tuple(below))
        case ast.Or():
            return ast.Or(tuple(below))
        case ast.Not():
            return ast.Not(below[0])
        case ast.Compare(field, op, ast.Number() as number) if field.entity is ast.Entity.PARAM and op in (
            ast.Op.EQ,
            ast.Op.NE,
        ):
            return _shape_node(ast.equal_number(field, number, negated=op is ast.Op.NE), [])
        case ast.Compare(field, _, value):
            return dataclasses.replace(node, field=_untyped(field), value=_by_value(value))
        case ast.Like(field, pattern):
            return dataclasses.replace(node, field=_untyped(field), pattern=_by_value(pattern))
        case ast.In(field, values):
            return dataclasses.replace(node, field=_untyped(field), values=tuple(map(_by_value, values)))
        case ast.Between(field, low, high):
            return dataclasses.replace(node, field=_untyped(field), low=_by_value(low), high=_by_value(high))
        case ast.IsNull(field):
            return dataclasses.replace(node, field=_untyped(field))
    return node


def _untyped(field: ast.Field) -> ast.Field:
    return ast.Field(field.entity, field.key)


def _by_value(value: ast.Value) -> ast.Value:
    return ast.Number(ast.canonical_number_text(value.value)) if isinstance(value, ast.Number) else value


def parse(filter: Filter) -> ast.Expr:  # noqa: A002 - the API's word
    """Parse and check a filter; return its checked tree, or raise :class:`FilterError` with its problems.

    The tree holds lmfilter's whole language (OR, NOT, IS NULL, ...); use :func:`check` to learn what a
    particular server would accept. A tree is checked as its canonical text, so a tree built by hand comes
    back typed, or raises :class:`FilterError`: with that text's problems, or ``LMF113`` when no text says
    the tree or its text reads as another tree (a value that holds filter syntax, ...).

    >>> parse("metrics.acc > 0.9 AND params.lr = '0.01'").items[1]
    Compare(field=Field(entity=<Entity.PARAM: 'params'>, key='lr', type=<ValueType.STRING: 'string'>), \
op=<Op.EQ: '='>, value=String(value='0.01'))
    >>> parse("")
    And(items=())
    """
    if not isinstance(filter, str):
        return _verified(_as_tree(filter))[1]
    tree, diagnostics = _analyze(filter, get_target("local"), False)
    if tree is None:
        raise FilterError(filter, diagnostics)
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
    if isinstance(filter, str):
        return list(_analyze(filter, get_target(target), native)[1])
    tree = _as_tree(filter)
    try:
        text = _tree_text(tree)
    except FilterError as error:
        return list(error.diagnostics)
    found = list(_analyze(text, get_target(target), native)[1])
    checked = _analyze(text, get_target("local"), False)[0]
    mismatch = None if checked is None else _mismatch(tree, checked, text)
    return found if mismatch is None else [mismatch, *found]


def format(filter: Filter) -> str:  # noqa: A001, A002 - the public names the API promises
    """The canonical text of a filter (raises :class:`FilterError` if it does not parse, or for a tree
    that is not what its text says, as :func:`parse`).

    >>> format("NOT(name='a'OR name = 'b')AND tags.`x`='1'")
    "NOT (name = 'a' OR name = 'b') AND tags.x = '1'"
    """
    if isinstance(filter, str):
        return to_text(parse(filter))
    return _verified(_as_tree(filter))[0]


def is_valid(filter: Filter, target: str | Target = "mlflow", native: bool = False) -> bool:  # noqa: A002
    """Whether ``filter`` has no error for ``target`` (the same defaults as :func:`check`)."""
    return not has_errors(check(filter, target, native))


def tree_of(filter: Filter | None) -> ast.Expr:  # noqa: A002 - the API's word
    """The checked tree a stage works on: ``None`` is the filter that matches all; a text or a tree is
    :func:`parse` d, so that every entry point (``compile``, ``plan``, ``select``, ``optimize``, ...)
    refuses the same trees built by hand and works on the tree the filter's text says."""
    if filter is None:
        return ast.MATCH_ALL
    return parse(filter)
