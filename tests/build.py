"""Short builders for expected trees, so that table tests read like the language itself."""

from __future__ import annotations

from lmfilter import ast
from lmfilter.ast import Entity, Op, ValueType
from lmfilter.schema import entity_type
from lmfilter.status import ModelStatus


def metric(key: str) -> ast.Field:
    return ast.Field(Entity.METRIC, key, ValueType.NUMBER)


def param(key: str) -> ast.Field:
    return ast.Field(Entity.PARAM, key, ValueType.STRING)


def tag(key: str) -> ast.Field:
    return ast.Field(Entity.TAG, key, ValueType.STRING)


def attr(name: str) -> ast.Field:
    return ast.Field(Entity.ATTRIBUTE, name, entity_type(Entity.ATTRIBUTE, name))


def s(text: str) -> ast.String:
    return ast.String(text)


def n(text: str) -> ast.Number:
    return ast.Number(text)


def status(name: str) -> ast.StatusValue:
    return ast.StatusValue(ModelStatus.from_name(name))


def eq(field: ast.Field, value: ast.Value) -> ast.Compare:
    return ast.Compare(field, Op.EQ, value)


def ne(field: ast.Field, value: ast.Value) -> ast.Compare:
    return ast.Compare(field, Op.NE, value)


def lt(field: ast.Field, value: ast.Value) -> ast.Compare:
    return ast.Compare(field, Op.LT, value)


def gt(field: ast.Field, value: ast.Value) -> ast.Compare:
    return ast.Compare(field, Op.GT, value)


def ge(field: ast.Field, value: ast.Value) -> ast.Compare:
    return ast.Compare(field, Op.GE, value)


def and_(*items: ast.Expr) -> ast.And:
    return ast.And(items)


def or_(*items: ast.Expr) -> ast.Or:
    return ast.Or(items)


def not_(item: ast.Expr) -> ast.Not:
    return ast.Not(item)
