"""The front end's public calls: ``parse``, ``check`` and ``format``, with a bounded cache.

Parsing and checking a filter is pure, so results are cached by (text, target, native) in an LRU cache of
:data:`CACHE_SIZE` entries; trees are immutable and diagnostics are tuples, so sharing them is safe.

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

from lmfilter import ast
from lmfilter.checker import check_surface
from lmfilter.diagnostics import Diagnostic, FilterError, capped, has_errors, ordered
from lmfilter.printer import to_text
from lmfilter.schema import Target, get_target
from lmfilter.syntax import parse_surface

CACHE_SIZE = 4096


@functools.lru_cache(maxsize=CACHE_SIZE)
def _analyze(text: str, target: Target, native: bool) -> tuple[ast.Expr | None, tuple[Diagnostic, ...]]:
    tree, diagnostics = check_surface(parse_surface(text), target, native=native)
    return tree, tuple(capped(ordered(diagnostics)))


def parse(text: str) -> ast.Expr:
    """Parse and check a filter; return its checked tree, or raise :class:`FilterError` with its problems.

    The tree holds lmfilter's whole language (OR, NOT, IS NULL, ...); use :func:`check` to learn what a
    particular server would accept.

    >>> parse("metrics.acc > 0.9 AND params.lr = '0.01'").items[1]
    Compare(field=Field(entity=<Entity.PARAM: 'params'>, key='lr', type=<ValueType.STRING: 'string'>), \
op=<Op.EQ: '='>, value=String(value='0.01'))
    >>> parse("")
    And(items=())
    """
    if not isinstance(text, str):
        raise TypeError(f"a filter is a str, not {type(text).__name__}")
    tree, diagnostics = _analyze(text, get_target("local"), False)
    if tree is None:
        raise FilterError(text, diagnostics)
    return tree


def check(text: str, target: str | Target = "mlflow", native: bool = False) -> list[Diagnostic]:
    """Every diagnostic for ``text`` meant for ``target``; never raises on a bad filter.

    With ``native=True``, whatever the target's server would reject or misread is an error, so a string
    that passes can be sent to the server as it is. Otherwise constructs that lmfilter runs by planning
    (OR, NOT, IS NULL, ...) are infos.

    >>> [(d.code, d.severity) for d in check("name = 'a' OR name = 'b'")]
    [('LMF301', 'info')]
    >>> [(d.code, d.severity) for d in check("name = 'a' OR name = 'b'", native=True)]
    [('LMF301', 'error')]
    """
    if not isinstance(text, str):
        raise TypeError(f"a filter is a str, not {type(text).__name__}")
    return list(_analyze(text, get_target(target), native)[1])


def format(text: str | ast.Expr) -> str:  # noqa: A001 - the public name the API promises
    """The canonical text of a filter (raises :class:`FilterError` if it does not parse).

    >>> format("NOT(name='a'OR name = 'b')AND tags.`x`='1'")
    "NOT (name = 'a' OR name = 'b') AND tags.x = '1'"
    """
    return to_text(parse(text) if isinstance(text, str) else text)


def is_valid(text: str, target: str | Target = "local", native: bool = False) -> bool:
    """Whether ``text`` has no error for ``target``."""
    return not has_errors(check(text, target, native))
