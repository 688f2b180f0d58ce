"""Find ANDs no model can satisfy and ORs every model satisfies.

An AND is ``MATCH_NONE`` when, on one single-valued field, it asks for two different values
(``name = 'x' AND name = 'y'``), a value and its negation (``a = 1 AND a != 1``), a value outside its own IN
list, an empty ``IN ()``, or IS NULL together with anything that needs a value; also a never-null attribute
that IS NULL. Each of these is false or unknown for every model, so never a match. An OR is ``MATCH_ALL``
when it holds ``f IS NULL`` and ``f IS NOT NULL``; a never-null attribute IS NOT NULL, or NOT IN an empty
list, is ``MATCH_ALL`` (true for every model, never unknown). So the texts the printer writes for
``MATCH_NONE`` and ``MATCH_ALL`` (``model_id IN ()``, ``model_id NOT IN ()``) come back as them.

>>> from lmfilter import parse
>>> from lmfilter.schema import get_target
>>> facts = Facts(get_target("mlflow"))
>>> contradictions(parse("name = 'x' AND tags.t = 'a' AND name = 'y'"), facts)
Or(items=())
>>> contradictions(parse("tags.t IS NULL OR name = 'a' OR tags.t IS NOT NULL"), facts)
And(items=())
"""

from __future__ import annotations

from lmfilter import ast
from lmfilter.ast import Entity, Op
from lmfilter.optimizer.facts import MATCH_NONE, Facts, Slot, is_nan, rewrite, slot
from lmfilter.schema import attribute


def _never_null(field: ast.Field) -> bool:
    attr = attribute(field.key) if field.entity is Entity.ATTRIBUTE else None
    return attr is not None and not attr.nullable


def contradictions(tree: ast.Expr, facts: Facts) -> ast.Expr:
    return rewrite(tree, lambda node: _decided(node, facts), under_not=False)


def _decided(node: ast.Expr, facts: Facts) -> ast.Expr:
    match node:
        case ast.IsNull(field, negated) if _never_null(field):
            return ast.MATCH_ALL if negated else MATCH_NONE
        case ast.In(_, (), negated=False):
            return MATCH_NONE
        case ast.In(field, (), negated=True) if _never_null(field):
            return ast.MATCH_ALL
        case ast.And(items) if _impossible(items, facts):
            return MATCH_NONE
        case ast.Or(items) if _certain(items):
            return ast.MATCH_ALL
    return node


def _impossible(items: tuple[ast.Expr, ...], facts: Facts) -> bool:
    null: set[ast.Field] = set()
    valued: set[ast.Field] = set()
    equal: dict[Slot, set[ast.Value]] = {}
    allowed: dict[Slot, list[set[ast.Value]]] = {}
    unequal: dict[Slot, set[ast.Value]] = {}
    for item in items:
        if not isinstance(item, ast.Compare | ast.Like | ast.In | ast.IsNull | ast.Between):
            continue
        field = item.field
        if isinstance(item, ast.IsNull):
            (valued if item.negated else null).add(field)
            continue
        valued.add(field)
        if not facts.single_valued(field):
            continue
        match item:
            case ast.Compare(_, Op.EQ, value) if not is_nan(value):
                equal.setdefault(slot(field, value), set()).add(value)
            case ast.Compare(_, Op.NE, value) if not is_nan(value):
                unequal.setdefault(slot(field, value), set()).add(value)
            case ast.In(_, listed, negated=negated) if listed and len({slot(field, v) for v in listed}) == 1:
                key = slot(field, listed[0])
                if negated:
                    unequal.setdefault(key, set()).update(listed)
                else:
                    allowed.setdefault(key, []).append(set(listed))
    if null & valued:
        return True  # missing makes every other condition on it unknown
    for key, values in equal.items():
        if len(values) > 1 or values & unequal.get(key, set()):
            return True
        if any(not values <= listed for listed in allowed.get(key, [])):
            return True
    return False


def _certain(items: tuple[ast.Expr, ...]) -> bool:
    null = {i.field for i in items if isinstance(i, ast.IsNull) and not i.negated}
    present = {i.field for i in items if isinstance(i, ast.IsNull) and i.negated}
    return bool(null & present)
