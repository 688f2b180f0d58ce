"""Write what a tree built by hand may spell otherwise the one way a checked tree holds it.

The checker spells every number canonically (:func:`lmfilter.ast.canonical_number_text`) and writes a
param's numeric equality as ``BETWEEN x AND x`` (``params.lr = 0.1`` compares text;
:func:`lmfilter.ast.equal_number`). A tree built by hand may hold ``Number("1.0")`` or a numeric ``=`` on a
param; the passes after this one compare values by their text (``metrics.a = 1.0 AND metrics.a = 1`` is no
contradiction), and the printer writes a checked tree's text, so they get the checked spelling.

>>> from lmfilter import ast, format
>>> from lmfilter.schema import get_target
>>> lr = ast.Field(ast.Entity.PARAM, "lr", ast.ValueType.STRING)
>>> format(canonical(ast.Compare(lr, ast.Op.EQ, ast.Number("0.10")), Facts(get_target("mlflow"))))
'params.lr BETWEEN 0.1 AND 0.1'
"""

from __future__ import annotations

from dataclasses import replace

from lmfilter import ast
from lmfilter.ast import Entity, Op
from lmfilter.optimizer.facts import Facts, rewrite


def canonical(tree: ast.Expr, facts: Facts) -> ast.Expr:
    return rewrite(tree, _checked)


def _checked(node: ast.Expr) -> ast.Expr:
    match node:
        case ast.Compare(field, Op.EQ | Op.NE as op, ast.Number() as number) if field.entity is Entity.PARAM:
            return ast.equal_number(field, _number(number), negated=op is Op.NE)
        case ast.Compare(value=value) if _odd(value):
            return replace(node, value=_canonical(value))
        case ast.In(values=values) if any(_odd(v) for v in values):
            return replace(node, values=tuple(_canonical(v) for v in values))
        case ast.Between(low=low, high=high) if _odd(low) or _odd(high):
            return replace(node, low=_canonical(low), high=_canonical(high))
    return node


def _odd(value: ast.Value) -> bool:
    return isinstance(value, ast.Number) and value.text != ast.canonical_number_text(value.value)


def _canonical(value: ast.Value) -> ast.Value:
    return _number(value) if isinstance(value, ast.Number) else value


def _number(number: ast.Number) -> ast.Number:
    text = ast.canonical_number_text(number.value)
    return number if text == number.text else ast.Number(text, span=number.span)
