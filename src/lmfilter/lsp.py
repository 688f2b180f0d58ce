"""The language server: lmfilter's checks, fixes and help in any editor that speaks LSP (stdio).

``lmfilter lsp`` (or ``python -m lmfilter.lsp``) serves ``.lmf`` files (one filter a line, ``#`` comments) and
Python files, where the filter strings that :mod:`lmfilter.documents` finds are linted in place:

- **diagnostics** on open and on every change (full sync): each lmfilter diagnostic with its code, severity
  and range in the client's position units (UTF-16 unless the client asked for another), and an information
  for each filter that is skipped (implicit concatenation, an f-string with holes);
- **code actions**: a quick fix for each :class:`~lmfilter.diagnostics.Fix`, its edits mapped back to the
  document (escaped for the Python string literal they land in);
- **completion** on broken, half-typed text, read from the tokens before the cursor: entity prefixes,
  attributes and known keys where a field goes, the operators the checker accepts for that field, status
  names and known values where a value goes, and keywords; in Python only inside a linted filter string;
- **hover** over a field: its type, meaning and operators, and what the known models hold for it;
- **formatting** of ``.lmf`` files (each line that parses, in canonical text) and **semantic tokens**.

Settings are ``target``, ``native``, ``models`` (a model file, :mod:`lmfilter.cache`), ``server`` and
``experiment_id`` (an MLflow server whose models are fetched once, then on the command
``lmfilter.refreshModels``). They come, each the winner over the next, from the client's
``initializationOptions``, ``workspace/configuration`` (section ``lmfilter``), a ``[tool.lmfilter]`` table
in the workspace root's ``pyproject.toml``, and the command line (whose own defaults are ``mlflow``, not
native). Known keys and values come from ``models`` when it is set, else from ``server``.

What completion offers comes from the same reading of the text that a user sees, so it works where the parse
fails:

>>> [s.label for s in suggest("metrics.acc ", 12)][:7]
['=', '!=', '<', '<=', '>', '>=', 'IN']
>>> [s.label for s in suggest("name = 'a' AND status = ", 24)]
["'UNSPECIFIED'", "'PENDING'", "'READY'", "'FAILED'"]
>>> [s.label for s in suggest("name = = 'a' AND ", 17)][:4]
['metrics.', 'params.', 'tags.', 'attributes.']
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import dataclasses
import enum
import functools
import logging
import os
import re
import sys
import tomllib
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lark import Token

from lmfilter import __version__, ast, documents, front
from lmfilter.ast import Entity, ValueType
from lmfilter.cache import CacheError, iter_models
from lmfilter.client import Client, LoggedModelsError
from lmfilter.diagnostics import Diagnostic, FilterError, Fix, Span
from lmfilter.documents import Found, Kind, Place
from lmfilter.lint import SKIPPED_CODE
from lmfilter.printer import field_text, value_text
from lmfilter.records import Record, RecordError
from lmfilter.schema import (
    ATTRIBUTES,
    ENTITY_PREFIXES,
    TARGETS,
    Feature,
    Target,
    UnknownTargetError,
    attribute,
    entity_type,
    get_target,
)
from lmfilter.status import ModelStatus
from lmfilter.syntax import field_from_text, parser

try:
    from lsprotocol import types
    from pygls.lsp.server import LanguageServer
    from pygls.uris import to_fs_path
except ImportError as error:  # pragma: no cover - only without the extra
    raise ImportError("lmfilter's language server needs pygls: pip install 'lmfilter[lsp]'") from error

SOURCE = "lmfilter"
SECTION = "lmfilter"
REFRESH_MODELS = "lmfilter.refreshModels"
TOKEN_TYPES = ("keyword", "property", "string", "number", "operator", "enumMember")
"""The semantic token legend: keywords, fields, strings, numbers, operators, status names."""

_log = logging.getLogger(__name__)

# ---- settings -----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Settings:
    """What the server checks for and where it learns known keys."""

    target: str = "mlflow"
    native: bool = False
    models: str | None = None  # a model file; wins over server
    server: str | None = None  # an MLflow server's URL, with experiment_id
    experiment_id: str | None = None

    @property
    def model_source(self) -> tuple[str | None, str | None, str | None]:
        return (self.models, self.server, self.experiment_id)


_SETTING_TYPES: dict[str, type] = {
    "target": str,
    "native": bool,
    "models": str,
    "server": str,
    "experiment_id": str,
}


def settings_layer(raw: object, origin: str, base: Path | None, problems: list[str]) -> dict[str, Any]:
    """The settings one source gives, checked; what is wrong goes to ``problems`` and is left out.

    A relative ``models`` path is taken from ``base`` (the workspace root, or the pyproject's folder).

    >>> problems = []
    >>> settings_layer({"target": "mlflow-3.17", "native": "yes", "color": 1}, "test", None, problems)
    {'target': 'mlflow-3.17'}
    >>> problems
    ["test: native must be a bool, not 'yes'"]
    """
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        problems.append(f"{origin}: expected a table of settings, not {raw!r}")
        return {}
    layer: dict[str, Any] = {}
    for name, value in raw.items():
        wanted = _SETTING_TYPES.get(name)
        if wanted is None or value is None:
            continue  # another tool's setting, or one left unset
        if name == "experiment_id" and isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, wanted) or (wanted is not bool and isinstance(value, bool)):
            problems.append(f"{origin}: {name} must be a {wanted.__name__}, not {value!r}")
            continue
        if name == "target":
            try:
                get_target(str(value))
            except UnknownTargetError as error:
                problems.append(f"{origin}: {error}")
                continue
        if name == "models" and base is not None:
            value = str(base / Path(str(value)).expanduser())
        layer[name] = value
    return layer


def pyproject_settings(root: Path, problems: list[str]) -> dict[str, Any]:
    """The ``[tool.lmfilter]`` table of ``root/pyproject.toml``, checked (empty when there is none)."""
    path = root / "pyproject.toml"
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        problems.append(f"{path}: {error}")
        return {}
    tool = data.get("tool")
    table = tool.get("lmfilter") if isinstance(tool, dict) else None
    return settings_layer(table, f"{path} [tool.lmfilter]", root, problems)


def resolve(defaults: Settings, *layers: Mapping[str, Any]) -> Settings:
    """The settings: ``defaults`` overridden by each layer in turn (the last wins).

    >>> resolve(Settings(), {"target": "databricks", "native": True}, {"native": False})
    Settings(target='databricks', native=False, models=None, server=None, experiment_id=None)
    """
    merged: dict[str, Any] = {}
    for layer in layers:
        merged.update(layer)
    return dataclasses.replace(defaults, **merged)


# ---- known models -------------------------------------------------------------------------------------


@dataclass(slots=True)
class FieldStats:
    """What the known models hold for one field: how many have it, its values (text), its range (numbers)."""

    models: int = 0
    values: Counter[str] = field(default_factory=Counter)
    low: float | None = None
    high: float | None = None
    datasets: set[str] = field(default_factory=set)

    def add_number(self, value: float) -> None:
        self.low = value if self.low is None else min(self.low, value)
        self.high = value if self.high is None else max(self.high, value)


@dataclass(slots=True)
class Known:
    """The keys and values of known models (a model file or a server), by field."""

    source: str = ""
    models: int = 0
    fields: dict[tuple[Entity, str], FieldStats] = field(default_factory=dict)
    skipped: int = 0  # records that are not logged models
    error: str | None = None

    @classmethod
    def of(cls, models: Iterable[Any], source: str) -> Known:
        """Index models given as API-JSON dicts or :class:`~lmfilter.wire.LoggedModel` objects."""
        known = cls(source)
        for index, item in enumerate(models):
            try:
                record = Record.of(item, index)
                entries = [
                    *((Entity.PARAM, key, value) for key, value in record.params().items()),
                    *((Entity.TAG, key, value) for key, value in record.tags().items()),
                    *((Entity.ATTRIBUTE, attr.name, record.attribute(attr.name)) for attr in ATTRIBUTES),
                ]
                rows = record.metric_rows(None)
            except RecordError:
                known.skipped += 1
                continue
            known.models += 1
            for entity, key, value in entries:
                if value is None:
                    continue
                stats = known._stats(entity, key)
                if isinstance(value, ModelStatus):
                    stats.values[value.name] += 1
                elif isinstance(value, int | float):
                    stats.add_number(float(value))
                else:
                    stats.values[str(value)] += 1
            for key, metric_rows in rows.items():
                stats = known._stats(Entity.METRIC, key)
                for row in metric_rows:
                    stats.add_number(row.value)
                    if row.dataset_name:
                        stats.datasets.add(row.dataset_name)
        return known

    def _stats(self, entity: Entity, key: str) -> FieldStats:
        stats = self.fields.get((entity, key))
        if stats is None:
            stats = self.fields[(entity, key)] = FieldStats()
        stats.models += 1
        return stats

    def keys(self, entity: Entity) -> list[str]:
        """The keys of an entity, the most common first."""
        found = [(key, stats.models) for (kind, key), stats in self.fields.items() if kind is entity]
        return [key for key, _ in sorted(found, key=lambda item: (-item[1], item[0]))]

    def stats(self, fld: ast.Field) -> FieldStats | None:
        return self.fields.get((fld.entity, fld.key))


NOTHING_KNOWN = Known()


def load_known(settings: Settings) -> Known:
    """The known models of the settings' model file, or else of its server (never raises)."""
    if settings.models:
        try:
            return Known.of(iter_models(settings.models), settings.models)
        except CacheError as error:
            return Known(settings.models, error=str(error))
    if settings.server and settings.experiment_id:
        source = f"{settings.server}, experiment {settings.experiment_id}"
        try:
            with Client(settings.server) as client:
                return Known.of(client.search(None, experiment_ids=[settings.experiment_id]), source)
        except (LoggedModelsError, ValueError, OSError) as error:
            return Known(source, error=str(error))
    return NOTHING_KNOWN


# ---- reading a filter up to a point -------------------------------------------------------------------


class Expect(enum.Enum):
    """What the grammar takes next, as far as the tokens so far tell."""

    OPERAND = "a field, NOT or ("
    OPERATOR = "an operator"
    NEGATED = "LIKE, ILIKE, IN or BETWEEN after NOT"
    NULL = "NULL or NOT NULL"
    NOT_NULL = "NULL after IS NOT"
    VALUE = "a value"
    LIST_OPEN = "( after IN"
    LIST_VALUE = "a value in an IN list"
    LIST_NEXT = ", or ) in an IN list"
    LOW = "the low bound of BETWEEN"
    BETWEEN_AND = "AND in BETWEEN"
    HIGH = "the high bound of BETWEEN"
    CONNECTIVE = "AND, OR or )"
    SKIP = "the rest of a broken condition"


class Role(enum.Enum):
    FIELD = "field"
    VALUE = "value"
    KEYWORD = "keyword"
    OPERATOR = "operator"
    PUNCTUATION = "punctuation"
    JUNK = "junk"


_KEYWORDS = frozenset({"AND", "OR", "NOT", "IN", "LIKE", "ILIKE", "IS", "NULL", "BETWEEN"})
_FIELD_TOKENS = frozenset({"FIELD", "WORD", "UNTERMINATED_FIELD"})
_VALUE_TOKENS = frozenset(
    {"STRING", "NUMBER", "WORD", "DQ_STRING", "UNTERMINATED_STRING", "UNTERMINATED_DQ_STRING"}
)
_PARTIAL_TOKENS = _KEYWORDS | _FIELD_TOKENS | {"BAD_WORD", "NUMBER"}
_OPEN_STRINGS = frozenset({"UNTERMINATED_STRING", "UNTERMINATED_DQ_STRING"})

_E = Expect
_STEPS: dict[tuple[Expect, str], tuple[Expect, Role]] = {
    (_E.OPERAND, "NOT"): (_E.OPERAND, Role.KEYWORD),
    (_E.OPERAND, "LPAR"): (_E.OPERAND, Role.PUNCTUATION),
    (_E.OPERATOR, "COMPARE_OP"): (_E.VALUE, Role.OPERATOR),
    (_E.OPERATOR, "BAD_OP"): (_E.VALUE, Role.OPERATOR),
    (_E.OPERATOR, "NOT"): (_E.NEGATED, Role.KEYWORD),
    (_E.OPERATOR, "LIKE"): (_E.VALUE, Role.KEYWORD),
    (_E.OPERATOR, "ILIKE"): (_E.VALUE, Role.KEYWORD),
    (_E.OPERATOR, "IN"): (_E.LIST_OPEN, Role.KEYWORD),
    (_E.OPERATOR, "IS"): (_E.NULL, Role.KEYWORD),
    (_E.OPERATOR, "BETWEEN"): (_E.LOW, Role.KEYWORD),
    (_E.NEGATED, "LIKE"): (_E.VALUE, Role.KEYWORD),
    (_E.NEGATED, "ILIKE"): (_E.VALUE, Role.KEYWORD),
    (_E.NEGATED, "IN"): (_E.LIST_OPEN, Role.KEYWORD),
    (_E.NEGATED, "BETWEEN"): (_E.LOW, Role.KEYWORD),
    (_E.NULL, "NOT"): (_E.NOT_NULL, Role.KEYWORD),
    (_E.NULL, "NULL"): (_E.CONNECTIVE, Role.KEYWORD),
    (_E.NOT_NULL, "NULL"): (_E.CONNECTIVE, Role.KEYWORD),
    (_E.LIST_OPEN, "LPAR"): (_E.LIST_VALUE, Role.PUNCTUATION),
    (_E.LIST_VALUE, "RPAR"): (_E.CONNECTIVE, Role.PUNCTUATION),
    (_E.LIST_NEXT, "COMMA"): (_E.LIST_VALUE, Role.PUNCTUATION),
    (_E.LIST_NEXT, "RPAR"): (_E.CONNECTIVE, Role.PUNCTUATION),
    (_E.BETWEEN_AND, "AND"): (_E.HIGH, Role.KEYWORD),
    (_E.CONNECTIVE, "AND"): (_E.OPERAND, Role.KEYWORD),
    (_E.CONNECTIVE, "OR"): (_E.OPERAND, Role.KEYWORD),
}
_AFTER_VALUE = {_E.VALUE: _E.CONNECTIVE, _E.LIST_VALUE: _E.LIST_NEXT, _E.LOW: _E.BETWEEN_AND}
_AFTER_VALUE[_E.HIGH] = _E.CONNECTIVE


@dataclass(slots=True)
class Reading:
    """Tokens read one at a time, tolerantly: what each is (its role) and what comes next.

    A broken condition is skipped up to the next AND or OR, as the parser recovers; a field where AND, OR
    or ``)`` should be starts a new condition, as the parser inserts the missing AND.
    """

    expect: Expect = Expect.OPERAND
    field: str = ""  # the text of the field of the condition being read
    depth: int = 0
    roles: list[Role] = dataclasses.field(default_factory=list)
    fields: list[str] = dataclasses.field(default_factory=list)  # per token: its condition's field

    @classmethod
    def of(cls, tokens: Iterable[Token]) -> Reading:
        reading = cls()
        for tok in tokens:
            reading.roles.append(reading._step(tok.type, str(tok)))
            reading.fields.append(reading.field)
        return reading

    def _step(self, kind: str, text: str) -> Role:
        step = _STEPS.get((self.expect, kind))
        if step is not None:
            if kind == "LPAR" and self.expect is Expect.OPERAND:
                self.depth += 1
            self.expect = step[0]
            return step[1]
        if self.expect in _AFTER_VALUE and kind in _VALUE_TOKENS:
            self.expect = _AFTER_VALUE[self.expect]
            return Role.VALUE
        if self.expect in (Expect.OPERAND, Expect.CONNECTIVE) and kind in _FIELD_TOKENS:
            self.field, self.expect = text, Expect.OPERATOR
            return Role.FIELD
        if kind == "RPAR" and self.depth:
            self.depth -= 1
            self.expect = Expect.CONNECTIVE
            return Role.PUNCTUATION
        if kind in ("AND", "OR"):
            self.expect = Expect.OPERAND
            return Role.KEYWORD
        self.expect = Expect.SKIP
        return Role.JUNK


def _lex(text: str) -> list[Token]:
    return list(parser().lex(text))


def _partial_start(before: str, tokens: Sequence[Token]) -> int:
    """Where the word being typed at the end of ``before`` starts (``len(before)`` when none is)."""
    start = len(before)
    for tok in reversed(tokens):
        if tok.end_pos != start or tok.type not in _PARTIAL_TOKENS | _OPEN_STRINGS:
            break
        start = tok.start_pos or 0
        if tok.type in _OPEN_STRINGS:
            break
    return start


# ---- what a field takes -------------------------------------------------------------------------------

# (label, text inserted, a whole condition to try it in: {f} the field, {v} a value of the field's type)
_OPERATORS = (
    ("=", "=", "{f} = {v}"),
    ("!=", "!=", "{f} != {v}"),
    ("<", "<", "{f} < 1"),
    ("<=", "<=", "{f} <= 1"),
    (">", ">", "{f} > 1"),
    (">=", ">=", "{f} >= 1"),
    ("IN", "IN (", "{f} IN ({v})"),
    ("NOT IN", "NOT IN (", "{f} NOT IN ({v})"),
    ("LIKE", "LIKE", "{f} LIKE {v}"),
    ("ILIKE", "ILIKE", "{f} ILIKE {v}"),
    ("NOT LIKE", "NOT LIKE", "{f} NOT LIKE {v}"),
    ("NOT ILIKE", "NOT ILIKE", "{f} NOT ILIKE {v}"),
    ("BETWEEN", "BETWEEN", "{f} BETWEEN 1 AND 2"),
    ("NOT BETWEEN", "NOT BETWEEN", "{f} NOT BETWEEN 1 AND 2"),
    ("IS NULL", "IS NULL", "{f} IS NULL"),
    ("IS NOT NULL", "IS NOT NULL", "{f} IS NOT NULL"),
)
_SAMPLE_VALUES = {ValueType.NUMBER: "1", ValueType.STATUS: "'READY'"}


def typed_field(text: str) -> ast.Field:
    """The field a FIELD or WORD token names, typed (an unknown attribute is ``UNKNOWN``)."""
    fld = field_from_text(text + "`" if text.count("`") % 2 else text)
    if fld.entity is Entity.ATTRIBUTE:
        attr = attribute(fld.key)
        if attr is not None:
            return ast.Field(Entity.ATTRIBUTE, attr.name, attr.type)
        return ast.Field(Entity.ATTRIBUTE, fld.key, ValueType.UNKNOWN)
    return ast.Field(fld.entity, fld.key, entity_type(fld.entity, fld.key))


@functools.lru_cache(maxsize=1024)
def operators_for(field_written: str, target: Target, native: bool) -> tuple[tuple[str, str], ...]:
    """The operators (label, text to insert) that the checker takes after a field, for a target.

    Each is tried in a whole condition: one the checker finds an error or warning in, other than in the
    field itself, is left out. If none is left (a field the target lacks), those of local evaluation are.

    >>> mlflow = get_target("mlflow")
    >>> [label for label, _ in operators_for("status", mlflow, False)]
    ['=', '!=', 'IN', 'NOT IN']
    >>> [label for label, _ in operators_for("params.lr", mlflow, True)]
    ['=', '!=', 'IN', 'NOT IN', 'LIKE', 'ILIKE']
    """
    fld = typed_field(field_written)
    try:
        written = field_text(fld)
    except ValueError:  # a key with a backtick
        written = ""
    if fld.type is ValueType.UNKNOWN or not written:  # nothing to judge by
        return tuple((label, insert) for label, insert, _ in _OPERATORS)
    value = _SAMPLE_VALUES.get(fld.type, "'x'")
    for checked_target, checked_native in ((target, native), (get_target("local"), False)):
        taken = tuple(
            (label, insert)
            for label, insert, shape in _OPERATORS
            if not any(
                d.severity != "info" and d.span.end > len(written)
                for d in front.check(shape.format(f=written, v=value), checked_target, checked_native)
            )
        )
        if taken:
            return taken
    return ()


_ENTITY_MEANING = {
    Entity.PARAM: (
        "A param of the model: text. Servers compare it as text; lmfilter also compares it as a number "
        "(`params.lr < 0.1`), evaluated locally. A model without the param matches only IS NULL."
    ),
    Entity.TAG: "A tag of the model: text. A model without the tag matches only IS NULL.",
}


def _meaning(fld: ast.Field, target: Target) -> str:
    if fld.entity is Entity.METRIC:
        rule = (
            "a condition tests the metric's latest value (by step, then timestamp, then value)"
            if target.metric_rule == "latest"
            else "a condition matches when any logged value of the metric passes"
        )
        absent = "A model without the metric matches only IS NULL."
        return f"A metric of the model: a number. On {target.title}, {rule}. {absent}"
    if fld.entity is Entity.ATTRIBUTE:
        attr = attribute(fld.key)
        if attr is None:
            return ""
        also = f" Also written {', '.join(attr.aliases)}." if attr.aliases else ""
        return attr.doc + also
    return _ENTITY_MEANING[fld.entity]


def describe_field(written: str, known: Known, target: Target, native: bool) -> str | None:
    """Markdown about a field: its type, what it means, its operators, and what known models hold."""
    fld = typed_field(written)
    if fld.type is ValueType.UNKNOWN:
        return None
    try:
        title = field_text(fld)
    except ValueError:
        title = written
    operators = " ".join(f"`{label}`" for label, _ in operators_for(written, target, native))
    lines = [f"**{title}** — {fld.type.value}", "", _meaning(fld, target), "", f"Operators: {operators}"]
    stats = known.stats(fld)
    if stats is not None:
        lines += ["", f"In {stats.models} of {known.models} models ({known.source}): {_seen(stats)}"]
    return "\n".join(lines)


def _seen(stats: FieldStats) -> str:
    parts = []
    if stats.low is not None and stats.high is not None:
        low, high = (ast.canonical_number_text(bound) for bound in (stats.low, stats.high))
        parts.append(f"min {low}, max {high}")
    if stats.values:
        common = [f"{value_text(ast.String(v))} ({n})" for v, n in stats.values.most_common(5)]
        more = len(stats.values) - len(common)
        parts.append("values " + ", ".join(common) + (f" and {more} more" if more > 0 else ""))
    if stats.datasets:
        parts.append("datasets " + ", ".join(sorted(stats.datasets)))
    return "; ".join(parts)


# ---- completion ---------------------------------------------------------------------------------------

_K = types.CompletionItemKind


@dataclass(frozen=True, slots=True)
class Suggestion:
    """A completion: the text to put over the filter's ``[start, end)`` (``end`` is at or past the cursor)."""

    label: str
    kind: types.CompletionItemKind
    insert: str
    start: int
    end: int
    detail: str = ""


_Make = Callable[..., Suggestion]
_STATUS_NAMES = tuple(f"'{status.name}'" for status in ModelStatus)
_MAX_VALUES = 100


def suggest(
    text: str,
    offset: int,
    known: Known = NOTHING_KNOWN,
    target: Target | str = "mlflow",
    native: bool = False,
) -> list[Suggestion]:
    """What may be typed at ``offset`` of a filter, from the tokens before it (the text may be broken)."""
    profile = get_target(target)
    before = text[:offset]
    tokens = _lex(before)
    start = _partial_start(before, tokens)
    partial = before[start:]
    reading = Reading.of(tok for tok in tokens if (tok.end_pos or 0) <= start)
    end = offset + 1 if partial[:1] == "'" and text[offset : offset + 1] == "'" else offset

    def item(
        label: str, kind: types.CompletionItemKind, insert: str | None = None, detail: str = ""
    ) -> Suggestion:
        return Suggestion(label, kind, label if insert is None else insert, start, end, detail)

    def keywords(*words: str) -> list[Suggestion]:
        return [item(word, _K.Keyword) for word in words if _native_keyword(word, profile, native)]

    expect = reading.expect
    if expect is Expect.OPERAND:
        fields = _operand_suggestions(partial, known, profile, native, item)
        return fields if "." in partial else fields + keywords("NOT", "(")
    if expect is Expect.OPERATOR:
        return [
            item(label, _K.Operator, insert)
            for label, insert in operators_for(reading.field, profile, native)
        ]
    if expect is Expect.NEGATED:
        labels = [label for label, _ in operators_for(reading.field, profile, native)]
        return [item(label[4:], _K.Keyword) for label in labels if label.startswith("NOT ")]
    if expect is Expect.NULL:
        return keywords("NULL", "NOT NULL")
    if expect is Expect.NOT_NULL:
        return keywords("NULL")
    if expect in (Expect.VALUE, Expect.LIST_VALUE, Expect.LOW, Expect.HIGH):
        return _value_suggestions(reading.field, known, expect, item)
    if expect is Expect.LIST_OPEN:
        return [item("(", _K.Keyword)]
    if expect is Expect.LIST_NEXT:
        return [item(",", _K.Keyword), item(")", _K.Keyword)]
    if expect is Expect.BETWEEN_AND:
        return keywords("AND")
    return keywords("AND", "OR", *([")"] if reading.depth else []))


_KEYWORD_FEATURES = {"OR": Feature.OR, "NOT": Feature.NOT, "(": Feature.GROUPING}


def _native_keyword(word: str, target: Target, native: bool) -> bool:
    feature = _KEYWORD_FEATURES.get(word)
    return not native or feature is None or feature in target.features


def _operand_suggestions(
    partial: str, known: Known, target: Target, native: bool, item: _Make
) -> list[Suggestion]:
    prefix, dot, _ = partial.partition(".")
    entity = ENTITY_PREFIXES.get(prefix) if dot else None
    attributes = [attr for attr in ATTRIBUTES if not native or attr.name in target.attributes]
    out: list[Suggestion] = []
    if entity is None:
        out += [
            item(f"{name}.", _K.Module, detail=f"{prefixed.name.lower()} key")
            for name, prefixed in ENTITY_PREFIXES.items()
        ]
        out += [item(attr.name, _K.Field, detail=f"attribute — {attr.type.value}") for attr in attributes]
    elif entity is Entity.ATTRIBUTE:
        out += [
            item(f"attributes.{attr.mlflow_column}", _K.Field, detail=attr.type.value) for attr in attributes
        ]
    for kind in (Entity.METRIC, Entity.PARAM, Entity.TAG):
        if entity not in (None, kind):
            continue
        for key in known.keys(kind):
            try:
                written = field_text(ast.Field(kind, key))
            except ValueError:
                continue
            stats = known.fields[(kind, key)]
            out.append(item(written, _K.Variable, detail=f"{kind.name.lower()} — in {stats.models} models"))
    return out


def _value_suggestions(field_written: str, known: Known, expect: Expect, item: _Make) -> list[Suggestion]:
    fld = typed_field(field_written)
    if fld.type is ValueType.STATUS:
        return (
            []
            if expect in (Expect.LOW, Expect.HIGH)
            else [item(name, _K.EnumMember) for name in _STATUS_NAMES]
        )
    stats = known.stats(fld)
    if stats is None:
        return []
    if fld.type is ValueType.NUMBER:
        bounds = [(stats.low, "the smallest known"), (stats.high, "the largest known")]
        return [
            item(ast.canonical_number_text(value), _K.Value, detail=why)
            for value, why in bounds
            if value is not None
        ]
    return [
        item(value_text(ast.String(value)), _K.Value, detail=f"in {count} models")
        for value, count in stats.values.most_common(_MAX_VALUES)
    ]


# ---- documents: lines, positions and string literals -----------------------------------------------------

_LINE_BREAK = re.compile(r"\r\n|\r|\n")


class Lines:
    """A document's lines as LSP counts them, and columns in the client's units (UTF-16 by default)."""

    def __init__(self, source: str, encoding: str = types.PositionEncodingKind.Utf16) -> None:
        self.lines = _LINE_BREAK.split(source)
        self.encoding = encoding

    def at(self, line: int) -> str:
        return self.lines[line] if 0 <= line < len(self.lines) else ""

    def units(self, text: str, column: int) -> int:
        """A code-point column of ``text`` in the client's units."""
        if self.encoding == types.PositionEncodingKind.Utf8:
            return len(text[:column].encode("utf-8"))
        if self.encoding == types.PositionEncodingKind.Utf32:
            return column
        return documents.utf16_column(text, column)

    def position(self, where: tuple[int, int]) -> types.Position:
        line, column = where
        return types.Position(line=line, character=self.units(self.at(line), column))

    def column(self, position: types.Position) -> int:
        """The code-point column of a client position (within its line)."""
        text = self.at(position.line)
        units = 0
        for index, char in enumerate(text):
            if units >= position.character:
                return index
            units += self.units(char, 1)
        return len(text)


@dataclass(frozen=True, slots=True)
class Quoting:
    """How text is written into a filter's place: as it is (``.lmf``), or escaped for a Python literal."""

    quote: str = ""  # the literal's delimiter (one or three quotes); empty for a .lmf line
    raw: bool = False

    @classmethod
    def python(cls, lines: Lines, found: Found) -> Quoting:
        """The literal a Python filter is in, read from the characters before its first one."""
        line, column = found.place.position(0)
        before = lines.at(line)[:column]
        quote = before[-3:] if before.endswith(('"""', "'''")) else before[-1:]
        prefix = re.search(r"[A-Za-z]*\Z", before[: len(before) - len(quote)])
        return cls(quote, "r" in (prefix.group() if prefix else "").lower())

    def write(self, text: str) -> str | None:
        r"""``text`` as it must be written in place, or ``None`` when the literal cannot hold it.

        >>> Quoting("'").write("name = 'x'"), Quoting('\"\"\"').write("a\nb")
        ("name = \\'x\\'", 'a\nb')
        >>> Quoting("'", raw=True).write("'x'") is None
        True
        """
        if not self.quote:
            return text
        quote, single = self.quote[0], len(self.quote) == 1
        if self.raw:
            unwritable = quote in text or text.endswith("\\") or (single and "\n" in text)
            return None if unwritable else text
        out = text.replace("\\", "\\\\").replace(quote, "\\" + quote)
        return out.replace("\n", "\\n").replace("\r", "\\r") if single else out


@dataclass(frozen=True, slots=True)
class Site:
    """A filter in a document: its text, where each of its characters is, and how to write into it."""

    text: str
    place: Place
    quoting: Quoting = Quoting()

    def range(self, lines: Lines, span: Span) -> types.Range:
        return types.Range(
            start=lines.position(self.place.position(span.start)),
            end=lines.position(self.place.position(span.end)),
        )

    def edits(self, lines: Lines, fix: Fix) -> list[types.TextEdit] | None:
        """The document edits of a fix (``None`` if one cannot be written in the literal)."""
        out = []
        for edit in fix.edits:
            written = self.quoting.write(edit.replacement)
            if written is None:
                return None
            out.append(types.TextEdit(range=self.range(lines, edit.span), new_text=written))
        return out


@dataclass(frozen=True, slots=True)
class Finding:
    diagnostic: types.Diagnostic
    fixes: tuple[Fix, ...]
    site: Site


@dataclass(frozen=True, slots=True)
class Analysis:
    """A document's filters and what was found in them."""

    kind: Kind
    lines: Lines
    sites: tuple[Site, ...]
    findings: tuple[Finding, ...]


_SEVERITY = {
    "error": types.DiagnosticSeverity.Error,
    "warning": types.DiagnosticSeverity.Warning,
    "info": types.DiagnosticSeverity.Information,
}


def analyze(
    source: str, kind: Kind, settings: Settings, encoding: str = types.PositionEncodingKind.Utf16
) -> Analysis:
    """Lint every filter of a document; positions in ``encoding`` units.

    >>> found = analyze("name = 'a'\\ntags.`ключ🔑` = 'x' AND nmae = 'y'\\n", "lmf", Settings())
    >>> [(f.diagnostic.code, f.diagnostic.range.start.character, f.diagnostic.range.end.character)
    ...  for f in found.findings]
    [('LMF202', 24, 28)]
    """
    lines = Lines(source, encoding)
    sites: list[Site] = []
    findings: list[Finding] = []
    for found in documents.filters_in(source, kind):
        if found.skipped:
            at = lines.position(found.place.position(0))
            info = types.Diagnostic(
                range=types.Range(start=at, end=at),
                message=found.skipped,
                severity=types.DiagnosticSeverity.Information,
                code=SKIPPED_CODE,
                source=SOURCE,
            )
            findings.append(Finding(info, (), Site(found.text, found.place)))
            continue
        site = Site(found.text, found.place, Quoting.python(lines, found) if kind == "python" else Quoting())
        sites.append(site)
        findings += (
            Finding(_lsp_diagnostic(lines, site, d), d.fixes, site)
            for d in front.check(found.text, settings.target, settings.native)
        )
    return Analysis(kind, lines, tuple(sites), tuple(findings))


def _lsp_diagnostic(lines: Lines, site: Site, diagnostic: Diagnostic) -> types.Diagnostic:
    return types.Diagnostic(
        range=site.range(lines, diagnostic.span),
        message=diagnostic.message,
        severity=_SEVERITY[diagnostic.severity],
        code=diagnostic.code,
        source=SOURCE,
    )


def site_at(analysis: Analysis, position: types.Position) -> tuple[Site, int] | None:
    """The filter the cursor is in and the cursor's offset in it (``.lmf``: any line but a comment)."""
    lines = analysis.lines
    column = lines.column(position)
    if analysis.kind == "lmf":
        text = lines.at(position.line)
        if text.lstrip().startswith("#"):
            return None
        return Site(text, Place(tuple((position.line, i) for i in range(len(text) + 1)))), column
    cursor = (position.line, column)
    for site in analysis.sites:
        positions = site.place.positions
        if positions[0] <= cursor <= positions[-1]:
            return site, bisect.bisect_right(positions, cursor) - 1
    return None


def _token_at(tokens: Sequence[Token], offset: int) -> int | None:
    """The token under the cursor: the one it is in, else the one it is just after."""
    after = None
    for index, tok in enumerate(tokens):
        if (tok.start_pos or 0) <= offset < (tok.end_pos or 0):
            return index
        if tok.end_pos == offset:
            after = index
    return after


# ---- semantic tokens ------------------------------------------------------------------------------------

_TOKEN_TYPE = {name: index for index, name in enumerate(TOKEN_TYPES)}
_LEXICAL_TYPE = {
    **dict.fromkeys(_KEYWORDS, "keyword"),
    "COMPARE_OP": "operator",
    "BAD_OP": "operator",
    "STRING": "string",
    "DQ_STRING": "string",
    "UNTERMINATED_STRING": "string",
    "UNTERMINATED_DQ_STRING": "string",
    "NUMBER": "number",
    "FIELD": "property",
    "UNTERMINATED_FIELD": "property",
}


def _token_type(tok: Token, role: Role, field_written: str) -> str | None:
    if role is Role.FIELD:
        return "property"
    if role is Role.VALUE and typed_field(field_written).type is ValueType.STATUS:
        name = str(tok)[1:-1].replace("''", "'") if tok.type == "STRING" else str(tok)
        if name in ModelStatus.names():
            return "enumMember"
    if role is Role.VALUE and tok.type == "WORD":
        return "string"
    return _LEXICAL_TYPE.get(tok.type)


def semantic_tokens(analysis: Analysis) -> list[int]:
    """The LSP encoding of the semantic tokens of every linted filter (one line each; no modifiers)."""
    found: list[tuple[int, int, int, int]] = []
    for site in analysis.sites:
        tokens = _lex(site.text)
        reading = Reading.of(tokens)
        for tok, role, field_written in zip(tokens, reading.roles, reading.fields, strict=True):
            kind = _token_type(tok, role, field_written)
            if kind is None:
                continue
            start = analysis.lines.position(site.place.position(tok.start_pos or 0))
            end = analysis.lines.position(site.place.position(tok.end_pos or 0))
            if end.line != start.line:  # a string across lines: its first line only
                line_text = analysis.lines.at(start.line)
                end = types.Position(
                    line=start.line, character=analysis.lines.units(line_text, len(line_text))
                )
            found.append((start.line, start.character, end.character - start.character, _TOKEN_TYPE[kind]))
    data: list[int] = []
    last_line = last_start = 0
    for line, column, length, token_type in sorted(found):
        data += [
            line - last_line,
            column - last_start if line == last_line else column,
            length,
            token_type,
            0,
        ]
        last_line, last_start = line, column
    return data


# ---- the server -----------------------------------------------------------------------------------------


class LmfilterServer(LanguageServer):
    """pygls' server plus what lmfilter keeps: settings, each document's analysis, the known models."""

    def __init__(self, defaults: Settings) -> None:
        super().__init__(SOURCE, __version__, text_document_sync_kind=types.TextDocumentSyncKind.Full)
        self.defaults = defaults
        self.settings = defaults
        self.layers: dict[str, dict[str, Any]] = {"pyproject": {}, "configuration": {}, "initialization": {}}
        self.pull_configuration = False
        self.ready = False  # settings are known: documents opened before wait for them
        self.waiting: set[str] = set()
        self.analyses: dict[str, Analysis] = {}
        self._known: asyncio.Task[Known] | None = None
        self._known_source: tuple[str | None, str | None, str | None] = (None, None, None)

    @property
    def root(self) -> Path | None:
        root = self.workspace.root_path
        if root:
            return Path(root)
        folders = list(self.workspace.folders.values())
        path = to_fs_path(folders[0].uri) if folders else None
        return Path(path) if path else None

    def log(self, message: str, kind: types.MessageType = types.MessageType.Warning) -> None:
        self.window_log_message(types.LogMessageParams(type=kind, message=message))

    def read_layer(self, name: str, raw: object, origin: str) -> None:
        problems: list[str] = []
        self.layers[name] = settings_layer(raw, origin, self.root, problems)
        for problem in problems:
            self.log(problem)

    def read_pyproject(self) -> None:
        root = self.root
        problems: list[str] = []
        self.layers["pyproject"] = pyproject_settings(root, problems) if root else {}
        for problem in problems:
            self.log(problem)

    async def pull(self) -> None:
        """Ask the client for the ``lmfilter`` section of its configuration."""
        request = types.ConfigurationParams(items=[types.ConfigurationItem(section=SECTION)])
        try:
            answer = await asyncio.wait_for(self.workspace_configuration_async(request), 10)
        except Exception as error:  # any failure leaves the other layers in force
            self.log(f"workspace/configuration failed: {error!r}")
            return
        self.read_layer("configuration", answer[0] if answer else None, "workspace/configuration")

    def apply_settings(self) -> None:
        """Settle the settings; lint what waited or was linted with others; reload known models if moved."""
        layers = self.layers
        settings = resolve(
            self.defaults, layers["pyproject"], layers["configuration"], layers["initialization"]
        )
        changed, self.settings = settings != self.settings, settings
        self.ready = True
        for uri in sorted(self.waiting | (set(self.analyses) if changed else set())):
            self.lint(uri)
        self.waiting.clear()
        if settings.model_source != self._known_source:
            self.load_models()

    def lint(self, uri: str) -> None:
        if not self.ready:
            self.waiting.add(uri)
            return
        document = self.workspace.get_text_document(uri)
        kind = documents.kind_of(document.path or document.uri) or (
            "python" if document.language_id == "python" else None
        )
        if kind is None:
            return
        analysis = analyze(document.source, kind, self.settings, self.workspace.position_encoding or "utf-16")
        self.analyses[uri] = analysis
        self.text_document_publish_diagnostics(
            types.PublishDiagnosticsParams(
                uri=uri, version=document.version, diagnostics=[f.diagnostic for f in analysis.findings]
            )
        )

    def load_models(self) -> asyncio.Task[Known] | None:
        """Start (again) reading the known models of the settings, in a thread."""
        settings = self.settings
        self._known_source = settings.model_source
        if not (settings.models or (settings.server and settings.experiment_id)):
            self._known = None
            return None
        self._known = asyncio.get_running_loop().create_task(self._load(settings))
        return self._known

    async def _load(self, settings: Settings) -> Known:
        known = await asyncio.to_thread(load_known, settings)
        if known.error:
            self.log(f"lmfilter: no known models from {known.source}: {known.error}")
        else:
            skipped = f" ({known.skipped} records skipped)" if known.skipped else ""
            self.log(f"lmfilter: {known.models} models from {known.source}{skipped}", types.MessageType.Info)
        return known

    async def known(self, wait: float = 5.0) -> Known:
        """The known models; while they are loading, up to ``wait`` seconds for them."""
        task = self._known
        if task is None:
            return NOTHING_KNOWN
        try:
            return await asyncio.wait_for(asyncio.shield(task), wait)
        except TimeoutError:
            return NOTHING_KNOWN

    def markup(self, text: str, formats: Sequence[types.MarkupKind] | None) -> types.MarkupContent:
        markdown = types.MarkupKind.Markdown in (formats or ())
        return types.MarkupContent(
            kind=types.MarkupKind.Markdown if markdown else types.MarkupKind.PlainText, value=text
        )


def _initialize(ls: LmfilterServer, params: types.InitializeParams) -> None:
    workspace = params.capabilities.workspace
    ls.pull_configuration = bool(workspace and workspace.configuration)
    ls.read_layer("initialization", params.initialization_options, "initializationOptions")
    ls.read_pyproject()
    if not ls.pull_configuration:
        ls.apply_settings()


async def _initialized(ls: LmfilterServer, params: types.InitializedParams) -> None:
    if ls.pull_configuration:
        await ls.pull()
        ls.apply_settings()


async def _did_change_configuration(ls: LmfilterServer, params: types.DidChangeConfigurationParams) -> None:
    pushed = params.settings.get(SECTION) if isinstance(params.settings, Mapping) else None
    if isinstance(pushed, Mapping):
        ls.read_layer("configuration", pushed, "workspace/didChangeConfiguration")
    elif ls.pull_configuration:
        await ls.pull()
    ls.read_pyproject()
    ls.apply_settings()


def _did_open(ls: LmfilterServer, params: types.DidOpenTextDocumentParams) -> None:
    ls.lint(params.text_document.uri)


def _did_change(ls: LmfilterServer, params: types.DidChangeTextDocumentParams) -> None:
    ls.lint(params.text_document.uri)


def _did_close(ls: LmfilterServer, params: types.DidCloseTextDocumentParams) -> None:
    uri = params.text_document.uri
    ls.waiting.discard(uri)
    if ls.analyses.pop(uri, None) is not None:
        ls.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri=uri, diagnostics=[]))


def _touches(a: types.Range, b: types.Range) -> bool:
    def key(p: types.Position) -> tuple[int, int]:
        return (p.line, p.character)

    return key(a.start) <= key(b.end) and key(b.start) <= key(a.end)


def _code_actions(ls: LmfilterServer, params: types.CodeActionParams) -> list[types.CodeAction] | None:
    only = params.context.only
    analysis = ls.analyses.get(params.text_document.uri)
    if analysis is None or (only and not any(types.CodeActionKind.QuickFix.startswith(k) for k in only)):
        return None
    actions = []
    for finding in analysis.findings:
        if not _touches(finding.diagnostic.range, params.range):
            continue
        for fix in finding.fixes:
            edits = finding.site.edits(analysis.lines, fix)
            if edits is None:
                continue
            actions.append(
                types.CodeAction(
                    title=fix.title,
                    kind=types.CodeActionKind.QuickFix,
                    diagnostics=[finding.diagnostic],
                    edit=types.WorkspaceEdit(changes={params.text_document.uri: edits}),
                    is_preferred=len(finding.fixes) == 1,
                )
            )
    return actions


def _site_under(ls: LmfilterServer, uri: str, position: types.Position) -> tuple[Analysis, Site, int] | None:
    """The open document's analysis, the filter under the cursor, and the cursor's offset in it."""
    analysis = ls.analyses.get(uri)
    found = site_at(analysis, position) if analysis else None
    if analysis is None or found is None:
        return None
    return analysis, *found


async def _completion(ls: LmfilterServer, params: types.CompletionParams) -> types.CompletionList | None:
    under = _site_under(ls, params.text_document.uri, params.position)
    if under is None:
        return None
    analysis, site, offset = under
    known = await ls.known()
    settings = ls.settings
    lines = analysis.lines
    items = []
    for rank, suggestion in enumerate(suggest(site.text, offset, known, settings.target, settings.native)):
        written = site.quoting.write(suggestion.insert)
        edit_range = site.range(lines, Span(suggestion.start, suggestion.end))
        if written is None or edit_range.start.line != edit_range.end.line:
            continue
        items.append(
            types.CompletionItem(
                label=suggestion.label,
                kind=suggestion.kind,
                detail=suggestion.detail or None,
                sort_text=f"{rank:04d}",
                filter_text=written,
                text_edit=types.TextEdit(range=edit_range, new_text=written),
            )
        )
    return types.CompletionList(is_incomplete=False, items=items)


async def _hover(ls: LmfilterServer, params: types.HoverParams) -> types.Hover | None:
    under = _site_under(ls, params.text_document.uri, params.position)
    if under is None:
        return None
    analysis, site, offset = under
    tokens = _lex(site.text)
    index = _token_at(tokens, offset)
    if index is None or Reading.of(tokens[: index + 1]).roles[index] is not Role.FIELD:
        return None
    tok = tokens[index]
    text = describe_field(str(tok), await ls.known(), get_target(ls.settings.target), ls.settings.native)
    if text is None:
        return None
    hover = ls.client_capabilities.text_document
    formats = hover.hover.content_format if hover and hover.hover else None
    return types.Hover(
        contents=ls.markup(text, formats),
        range=site.range(analysis.lines, Span(tok.start_pos or 0, tok.end_pos or 0)),
    )


def _formatting(ls: LmfilterServer, params: types.DocumentFormattingParams) -> list[types.TextEdit] | None:
    analysis = ls.analyses.get(params.text_document.uri)
    if analysis is None or analysis.kind != "lmf":
        return None
    edits = []
    for site in analysis.sites:
        try:
            canonical = front.format(site.text)
        except FilterError:
            continue
        if canonical != site.text:
            whole = site.range(analysis.lines, Span(0, len(site.text)))
            edits.append(types.TextEdit(range=whole, new_text=canonical))
    return edits


def _semantic_tokens(ls: LmfilterServer, params: types.SemanticTokensParams) -> types.SemanticTokens:
    analysis = ls.analyses.get(params.text_document.uri)
    return types.SemanticTokens(data=semantic_tokens(analysis) if analysis else [])


async def _refresh_models(ls: LmfilterServer, *arguments: Any) -> dict[str, Any]:
    task = ls.load_models()
    if task is None:
        return {
            "models": 0,
            "source": None,
            "error": "no model source: set models, or server and experiment_id",
        }
    known = await task
    return {"models": known.models, "source": known.source, "error": known.error}


def build_server(defaults: Settings | None = None) -> LmfilterServer:
    """A server with every feature registered; ``defaults`` are the settings below all others."""
    server = LmfilterServer(defaults or Settings())
    server.feature(types.INITIALIZE)(_initialize)
    server.feature(types.INITIALIZED)(_initialized)
    server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)(_did_change_configuration)
    server.feature(types.TEXT_DOCUMENT_DID_OPEN)(_did_open)
    server.feature(types.TEXT_DOCUMENT_DID_CHANGE)(_did_change)
    server.feature(types.TEXT_DOCUMENT_DID_CLOSE)(_did_close)
    server.feature(
        types.TEXT_DOCUMENT_CODE_ACTION,
        types.CodeActionOptions(code_action_kinds=[types.CodeActionKind.QuickFix]),
    )(_code_actions)
    server.feature(
        types.TEXT_DOCUMENT_COMPLETION, types.CompletionOptions(trigger_characters=[".", " ", "(", "'", ","])
    )(_completion)
    server.feature(types.TEXT_DOCUMENT_HOVER)(_hover)
    server.feature(types.TEXT_DOCUMENT_FORMATTING)(_formatting)
    legend = types.SemanticTokensLegend(token_types=list(TOKEN_TYPES), token_modifiers=[])
    server.feature(types.TEXT_DOCUMENT_SEMANTIC_TOKENS_FULL, legend)(_semantic_tokens)
    server.command(REFRESH_MODELS)(_refresh_models)
    return server


def _arguments() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lmfilter lsp",
        description="The lmfilter language server, on stdin and stdout. Settings from the editor "
        "(initializationOptions, workspace/configuration) and pyproject.toml [tool.lmfilter] win over these.",
    )
    parser.add_argument("--target", default="mlflow", choices=sorted(TARGETS), help="default: mlflow")
    parser.add_argument("--native", action="store_true", help="errors for what the server cannot run itself")
    parser.add_argument("--models", metavar="FILE", help="a model file whose keys and values to complete")
    parser.add_argument("--server", metavar="URL", help="an MLflow server whose models' keys to complete")
    parser.add_argument("--experiment-id", metavar="ID", help="the experiment of --server")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the language server on stdio until the client exits it; the exit status."""
    parser = _arguments()
    args = parser.parse_args(argv)
    if bool(args.server) != bool(args.experiment_id):
        parser.error("--server and --experiment-id go together")
    models = os.path.abspath(args.models) if args.models else None
    defaults = Settings(args.target, args.native, models, args.server, args.experiment_id)
    build_server(defaults).start_io()
    return 0


if __name__ == "__main__":
    sys.exit(main())
