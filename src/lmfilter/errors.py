"""The base of every error lmfilter raises on purpose, and the words for a value of the wrong shape.

Every error lmfilter raises about what it was given (a filter, ``datasets`` or ``order_by``, a model record,
a model file, a server's answer) is a :class:`LmfilterError`, so ``except lmfilter.LmfilterError`` catches
them all and nothing else (a bug in lmfilter stays a bug). Those about a value the caller passed are
:class:`ValueError` s too, as they were before the family had a base:

==========================================  =============================================================
error (from ``lmfilter``)                   raised when
==========================================  =============================================================
``FilterError`` (ValueError)                a filter does not parse or check (``parse``, ``format``,
                                            ``select``, ``compile``, ``plan``, ...); ``diagnostics`` says why
``RequestError`` (ValueError)               a ``datasets``, ``order_by``, ``experiment_ids`` or
                                            ``max_results`` value the server would reject; ``where`` names it
``RecordError`` (ValueError)                a model record to evaluate is not a logged model (``select``,
                                            ``ModelTable``); ``index``, ``model_id`` and ``field`` name it
``ModelFileError`` (ValueError)             a model file cannot be read (``iter_models``, ``lmfilter eval``)
``UnknownTargetError`` (ValueError)         a target name that is not in ``TARGETS``
``LoggedModelsError`` and its subclasses    a server call failed, or its answer cannot be read (``Client``)
``StoreError`` (ValueError)                a model store cannot be opened, read or written (``ModelStore``,
                                            ``lmfilter.sql``; needs the ``sql`` extra)
``sql.TrackingDatabaseError`` and subclass  MLflow's tracking database cannot be read (``lmfilter.sql.
                                            open_database``, ``lmfilter search --db``)
``spark.SparkError`` (ValueError)           a Spark search cannot run: pyspark missing, ``tables`` not
                                            MLflow's layout, or Spark's own error (``lmfilter.spark``)
==========================================  =============================================================

This module imports nothing of lmfilter, so every module can build on it.

>>> import lmfilter
>>> issubclass(lmfilter.RequestError, lmfilter.LmfilterError), issubclass(lmfilter.RequestError, ValueError)
(True, True)
"""

from __future__ import annotations

import reprlib
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["LmfilterError", "kind_of", "validation_message"]


class LmfilterError(Exception):
    """The base of every error lmfilter raises about its input or a server (see the module for the family)."""


_KINDS: Mapping[type, str] = {
    dict: "an object",
    list: "a list",
    tuple: "a list",
    str: "a string",
    bool: "a boolean",
    int: "a number",
    float: "a number",
    type(None): "null",
}


def is_interruption(error: BaseException) -> bool:
    """Whether ``error`` is a Ctrl-C: a ``KeyboardInterrupt``, or the ``RuntimeError('Query interrupted')``
    DuckDB's Python client ends a query with when Ctrl-C comes during it (it takes the KeyboardInterrupt).

    >>> is_interruption(KeyboardInterrupt()), is_interruption(RuntimeError("Query interrupted"))
    (True, True)
    >>> is_interruption(RuntimeError("something else"))
    False
    """
    return isinstance(error, KeyboardInterrupt) or (
        type(error) is RuntimeError and str(error) == "Query interrupted"
    )


def kind_of(value: object) -> str:
    """What a value is, in the words of JSON (``"a string"``, ``"an object"``, ``"null"``, ...).

    >>> kind_of("train"), kind_of({}), kind_of(None), kind_of(1.5), kind_of(object())
    ('a string', 'an object', 'null', 'a number', 'an object')
    """
    for cls in type(value).__mro__:
        if cls in _KINDS:
            return _KINDS[cls]
    return "a list" if isinstance(value, list | tuple) else "an object"


# What pydantic's error types mean, said as lmfilter says it: a value of the wrong kind is named as JSON names
# it, never as the Python class the model validates into.
_EXPECTED: Mapping[str, str] = {
    "string_type": "a string",
    "string_unicode": "a string",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "float_type": "a number",
    "float_parsing": "a number",
    "list_type": "a list",
    "tuple_type": "a list",
    "dict_type": "an object",
    "model_type": "an object",
    "model_attributes_type": "an object",
}


def validation_message(error: Mapping[str, Any], show: Callable[[Any], str] = reprlib.repr) -> str:
    """One error of a pydantic ``ValidationError.errors()`` in lmfilter's words, without its location;
    ``show`` writes the value it was given (cut short).

    >>> validation_message({"type": "bool_parsing", "msg": "Input should be a valid boolean", "input": "no"})
    "expected true or false, got a string ('no')"
    >>> validation_message({"type": "missing", "msg": "Field required", "input": {}})
    'missing (it is required)'
    """
    kind = error.get("type", "")
    if kind == "missing":
        return "missing (it is required)"
    got = show(error.get("input"))
    expected = _EXPECTED.get(kind)
    if expected is None:  # a validator's own words (lmfilter.wire's say what they want)
        return str(error.get("msg", "not valid")).removeprefix("Value error, ") + f" (got {got})"
    value = error.get("input")
    said = (
        "" if value is None or isinstance(value, bool) else f" ({got})"
    )  # null, true, false: the kind says it
    return f"expected {expected}, got {kind_of(value)}{said}"
