"""The language server: lmfilter's checks, fixes and help in any editor that speaks LSP (stdio).

``lmfilter lsp`` (or ``python -m lmfilter.lsp``) serves ``.lmf`` files (one filter a line, ``#`` comments) and
Python files, where the filter strings that :mod:`lmfilter.documents` finds are linted in place:

- **diagnostics** on open and after changes (incremental sync): each lmfilter diagnostic with its code,
  severity and range in the client's position units (UTF-16 unless the client asked for another), and an
  information for each filter that is skipped (implicit concatenation, an f-string with holes);
- **code actions**: a quick fix for each :class:`~lmfilter.diagnostics.Fix`, its edits mapped back to the
  document (escaped for the Python string literal they land in);
- **completion** on broken, half-typed text, read from the tokens before the cursor: entity prefixes,
  attributes and known keys where a field goes, the operators the checker accepts for that field, status
  names and known values where a value goes, and keywords; in Python only inside a linted filter string;
- **hover** over a field: its type, meaning and operators, and what the known models hold for it;
- **formatting** of ``.lmf`` files or a range of their lines (each line that parses, in canonical text) and
  **semantic tokens**, of a whole document or a range.

It stays responsive whatever the documents. Linting runs in a background thread (:class:`Linter`), never on
the path of a request: a change is linted once typing pauses, work on a text that has since changed is
dropped and never published, and a relint checks again only the filters whose text changed. Requests answer
from the newest text: hover and completion in a ``.lmf`` file read the line itself; in Python, the filters
found when the text was last outlined, where their lines are unchanged. A document over
:data:`LIVE_LIMIT` characters is linted when opened or saved, not as it is typed; formatting or semantic
tokens of that much text at once are refused, and what is done runs in a thread that stops if the document
changes. A request whose params do not fit, or that names a document not open or a line past its end, gets
a JSON-RPC error (``InvalidParams``) saying so (:class:`LmfilterProtocol`).

Settings are ``target``, ``native``, ``models`` (a model file, :mod:`lmfilter.model_files`), ``server`` and
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
import concurrent.futures
import contextlib
import dataclasses
import enum
import functools
import itertools
import json
import logging
import operator
import os
import re
import sys
import threading
import time
import tomllib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar, cast
from urllib.parse import unquote, urlsplit

from lark import Token

from lmfilter import __version__, api, ast, documents
from lmfilter.ast import Entity, ValueType
from lmfilter.auth import shown_url
from lmfilter.client import Client, LoggedModelsError
from lmfilter.diagnostics import Diagnostic, FilterError, Fix, Span, capped
from lmfilter.documents import Found, Kind, Place
from lmfilter.lint import SKIPPED_CODE
from lmfilter.model_files import CacheError, iter_models
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
from lmfilter.syntax import MAX_LENGTH, field_from_text, parser

try:
    import cattrs
    import cattrs.v
    from lsprotocol import types
    from lsprotocol.types import ResponseErrorMessage
    from pygls.exceptions import (
        JsonRpcContentModified,
        JsonRpcException,
        JsonRpcInvalidParams,
        JsonRpcInvalidRequest,
        JsonRpcParseError,
        JsonRpcServerNotInitialized,
    )
    from pygls.lsp.server import LanguageServer
    from pygls.protocol import (
        JsonRPCNotification,
        JsonRPCRequestMessage,
        JsonRPCResponseMessage,
        LanguageServerProtocol,
        default_converter,
        lsp_method,
    )
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


PYPROJECT_LIMIT = 1 << 20
"""Most bytes of a ``pyproject.toml`` read for settings (one is a few kilobytes)."""


def pyproject_settings(root: Path, problems: list[str]) -> dict[str, Any]:
    """The ``[tool.lmfilter]`` table of ``root/pyproject.toml``, checked (empty when there is none).

    A file that cannot be read or parsed, or is over :data:`PYPROJECT_LIMIT` bytes, gives none and a problem.
    """
    path = root / "pyproject.toml"
    if not path.is_file():  # none; or a folder, a FIFO or a device, which reading could block on
        if path.exists():
            problems.append(f"{path}: not a regular file, not read")
        return {}
    try:
        with path.open("rb") as file:
            data = file.read(PYPROJECT_LIMIT + 1)
        if len(data) > PYPROJECT_LIMIT:
            problems.append(f"{path}: over {PYPROJECT_LIMIT:,} bytes, not read")
            return {}
        table = tomllib.loads(data.decode("utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        problems.append(f"{path}: {error}")
        return {}
    except RecursionError:  # tomllib recurses into nested arrays and tables
        problems.append(f"{path}: nested too deeply to read")
        return {}
    tool = table.get("tool")
    settings = tool.get("lmfilter") if isinstance(tool, dict) else None
    return settings_layer(settings, f"{path} [tool.lmfilter]", root, problems)


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
        source = f"{shown_url(settings.server)}, experiment {settings.experiment_id}"
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
                for d in api.check(shape.format(f=written, v=value), checked_target, checked_native)
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
_SURROGATE = re.compile(r"[\ud800-\udfff]")


def readable(text: str) -> str:
    r"""``text`` with each lone surrogate as U+FFFD.

    A client's JSON may carry a lone surrogate (``"\ud800"``), which no file and no UTF-8 codec holds. Either
    character is one UTF-16 unit, one code point and three UTF-8 (WTF-8) bytes, so every position is the
    same in both texts.

    >>> readable("name = '\ud800'") == "name = '\ufffd'"
    True
    """
    return _SURROGATE.sub("\ufffd", text) if _has_surrogates(text) else text


def _has_surrogates(text: str) -> bool:
    if text.isascii():  # the common case, at memory speed (a regular expression is ten times slower)
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _joined(text: str) -> str:
    """``text`` with the halves of a surrogate pair that meet as one character (an edit may split a pair,
    a later one join it again); lone halves are kept."""
    if not _has_surrogates(text):
        return text
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "surrogatepass")


def _halves(char: str) -> str:
    """A character beyond the BMP as the two halves of its UTF-16 surrogate pair (two lone surrogates)."""
    units = char.encode("utf-16-le")
    return chr(int.from_bytes(units[:2], "little")) + chr(int.from_bytes(units[2:], "little"))


class Lines:
    """A document's lines as LSP counts them, and columns in the client's units (UTF-16 by default).

    Lines end at ``\\n``, ``\\r\\n`` or ``\\r`` only (not at U+2028 or a form feed, as ``str.splitlines``
    would). The text is kept :func:`readable`.
    """

    def __init__(self, source: str, encoding: str = types.PositionEncodingKind.Utf16) -> None:
        self.source = readable(source)
        # str.split is several times faster than a regular expression, and most texts end lines with \n.
        self.lines = _LINE_BREAK.split(self.source) if "\r" in self.source else self.source.split("\n")
        self.encoding = encoding
        self._starts: list[int] | None = None

    def __len__(self) -> int:
        return len(self.lines)

    def at(self, line: int) -> str:
        return self.lines[line] if 0 <= line < len(self.lines) else ""

    def units(self, text: str, column: int) -> int:
        """A code-point column of ``text`` in the client's units."""
        if self.encoding == types.PositionEncodingKind.Utf8:
            return len(text[:column].encode("utf-8", "surrogatepass"))
        if self.encoding == types.PositionEncodingKind.Utf32:
            return column
        return documents.utf16_column(text, column)

    def position(self, where: tuple[int, int]) -> types.Position:
        line, column = where
        return types.Position(line=line, character=self.units(self.at(line), column))

    def column(self, position: types.Position) -> int:
        """The code-point column of a client position in its line.

        Past the end of the line it is the end, as LSP says; inside a character (half of a surrogate pair,
        a byte of a UTF-8 sequence), after the character.

        >>> Lines("a😀b").column(types.Position(0, 2)), Lines("a😀b").column(types.Position(0, 9))
        (2, 3)
        """
        text = self.at(position.line)
        wanted = position.character
        if self.encoding == types.PositionEncodingKind.Utf32 or text.isascii():
            return min(wanted, len(text))
        if self.encoding == types.PositionEncodingKind.Utf8:
            data = text.encode("utf-8", "surrogatepass")[:wanted]
            head = data.decode("utf-8", "ignore")
            return len(head) + (len(head.encode("utf-8", "surrogatepass")) < len(data))
        # A cut pair decodes to its high half: one more code point, the character the cut is in.
        return len(self._utf16_head(text, wanted))

    def cut(self, position: types.Position) -> int | None:
        """The offset in the text of the character a UTF-16 position falls inside, between the halves of its
        surrogate pair (which a client counting UTF-16 units may do), if it does."""
        if self.encoding != types.PositionEncodingKind.Utf16 or self.at(position.line).isascii():
            return None
        head = self._utf16_head(self.at(position.line), position.character)
        if not head or not "\ud800" <= head[-1] <= "\udbff":  # the text is readable: a high half is a cut
            return None
        return self.offset(types.Position(position.line, 0)) + len(head) - 1

    @staticmethod
    def _utf16_head(text: str, units: int) -> str:
        return text.encode("utf-16-le")[: 2 * units].decode("utf-16-le", "surrogatepass")

    def holds(self, position: types.Position) -> bool:
        """Whether a client position is in the text (not past its line's end, nor past the last line)."""
        if position.line >= len(self.lines):
            return False
        text = self.lines[position.line]
        return position.character <= self.units(text, len(text))

    def offset(self, position: types.Position) -> int:
        """The offset in the text of a client position; one outside it is taken as LSP's reference
        implementation does: to its line's end, or to the end of the text."""
        if position.line >= len(self.lines):
            return len(self.source)
        if self._starts is None:
            breaks = (
                map(len, _LINE_BREAK.findall(self.source)) if "\r" in self.source else itertools.repeat(1)
            )
            self._starts = list(
                itertools.accumulate(map(operator.add, map(len, self.lines), breaks), initial=0)
            )
        return self._starts[position.line] + self.column(position)


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
class Run:
    """Where the characters of a filter that is one run of a line are (a ``.lmf`` filter).

    What a :class:`~lmfilter.documents.Place` says with a position per character, in constant space: a
    line of megabytes costs no more than a short one.
    """

    line: int
    start: int  # the column of its first character
    length: int

    def position(self, offset: int) -> tuple[int, int]:
        return self.line, self.start + max(0, min(offset, self.length))


@dataclass(frozen=True, slots=True)
class Site:
    """A filter in a document: its text, where each of its characters is, and how to write into it."""

    text: str
    place: Place | Run
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

    @property
    def line_span(self) -> tuple[int, int]:
        """The document lines ``[first, stop)`` the filter is on."""
        return self.place.position(0)[0], self.place.position(len(self.text))[0] + 1


_SEVERITY = {
    "error": types.DiagnosticSeverity.Error,
    "warning": types.DiagnosticSeverity.Warning,
    "info": types.DiagnosticSeverity.Information,
}


@dataclass(frozen=True, slots=True)
class Finding:
    """A diagnostic about a filter of a document (its span counts in the filter's text)."""

    site: Site
    diagnostic: Diagnostic

    @property
    def where(self) -> tuple[int, int]:
        """The (line, code-point column) it starts at in the document."""
        return self.site.place.position(self.diagnostic.span.start)

    def lsp(self, lines: Lines) -> types.Diagnostic:
        """The diagnostic as the client gets it."""
        return types.Diagnostic(
            range=self.site.range(lines, self.diagnostic.span),
            message=self.diagnostic.message,
            severity=_SEVERITY[self.diagnostic.severity],
            code=self.diagnostic.code,
            source=SOURCE,
        )


def _document_finding(message: str) -> Finding:
    """An information about the whole document, at its start."""
    return Finding(Site("", Run(0, 0, 0)), Diagnostic(SKIPPED_CODE, "info", message, Span(0, 0)))


@dataclass(frozen=True, slots=True)
class Outline:
    """Where a document's filters are, before any is checked."""

    kind: Kind
    lines: Lines
    sites: tuple[Site, ...]  # the filters to lint, in reading order
    skipped: tuple[Finding, ...]  # an information for each filter that is not linted, saying why


@dataclass(frozen=True, slots=True)
class Analysis:
    """A document's filters and what was found in them."""

    outline: Outline
    findings: tuple[Finding, ...]  # in reading order, the skipped filters' among them


def lmf_filter(line: str) -> tuple[int, str] | None:
    """The filter a ``.lmf`` line holds, and the column it starts at (``None`` for a blank or comment line).

    The rule of :func:`lmfilter.documents.filters_in` for a ``.lmf`` file, read here a line at a time and
    without a position per character.

    >>> lmf_filter("  name = 'a'  "), lmf_filter("  # a comment"), lmf_filter("   ")
    ((2, "name = 'a'"), None, None)
    """
    stripped = line.strip()
    if not stripped or stripped.startswith("#"):
        return None
    return len(line) - len(line.lstrip()), stripped


def lmf_sites(lines: Lines, first: int = 0, stop: int | None = None) -> list[Site]:
    """The filters of lines ``[first, stop)`` of a ``.lmf`` document (LSP's lines: ``\\r`` ends one too)."""
    sites = []
    for number in range(max(first, 0), min(len(lines), len(lines) if stop is None else stop)):
        found = lmf_filter(lines.lines[number])
        if found is not None:
            start, text = found
            sites.append(Site(text, Run(number, start, len(text))))
    return sites


def outline(lines: Lines, kind: Kind) -> Outline:
    """Find the filters of a document (its text is ``lines.source``)."""
    if kind == "lmf":
        return Outline(kind, lines, tuple(lmf_sites(lines)), ())
    sites = []
    skipped = []
    for found in documents.filters_in(lines.source, kind):
        if found.skipped:
            info = Diagnostic(SKIPPED_CODE, "info", found.skipped, Span(0, 0))
            skipped.append(Finding(Site(found.text, found.place), info))
        else:
            sites.append(Site(found.text, found.place, Quoting.python(lines, found)))
    return Outline(kind, lines, tuple(sites), tuple(skipped))


class Stale(Exception):  # noqa: N818 - not an error: a signal to stop
    """Work on a document stopped because it is no longer wanted (or other work goes first)."""


Memo = dict[str, tuple[Diagnostic, ...]]
"""A filter's diagnostics by its text, under one target and ``native``."""


def check_outline(
    found: Outline, settings: Settings, memo: Memo | None = None, stop: Callable[[], bool] | None = None
) -> Analysis:
    """Check each filter of an outline.

    ``memo`` holds the diagnostics of filters checked before under the same settings; it is read and added
    to, so relinting a document after a keystroke checks only the filter that changed. ``stop`` is asked
    between filters; when it says so, :class:`Stale` is raised (what was checked stays in ``memo``).
    """
    memo = {} if memo is None else memo
    findings = list(found.skipped)
    for site in found.sites:
        if stop is not None and stop():
            raise Stale
        diagnostics = memo.get(site.text)
        if diagnostics is None:
            diagnostics = memo[site.text] = tuple(api.check(site.text, settings.target, settings.native))
        findings += (Finding(site, diagnostic) for diagnostic in diagnostics)
    findings.sort(key=lambda finding: finding.where)
    return Analysis(found, tuple(findings))


def analyze(
    source: str, kind: Kind, settings: Settings, encoding: str = types.PositionEncodingKind.Utf16
) -> Analysis:
    """Lint every filter of a document; positions in ``encoding`` units.

    >>> found = analyze("name = 'a'\\ntags.`ключ🔑` = 'x' AND nmae = 'y'\\n", "lmf", Settings())
    >>> [(f.diagnostic.code, f.lsp(found.outline.lines).range.start.character,
    ...   f.lsp(found.outline.lines).range.end.character) for f in found.findings]
    [('LMF202', 24, 28)]
    """
    return check_outline(outline(Lines(source, encoding), kind), settings)


def published(findings: Sequence[Finding], limit: int) -> list[Finding]:
    """The first ``limit`` findings, then one ``LMF110`` counting the rest where the first of them is.

    The rule and its wording are :func:`lmfilter.diagnostics.capped`'s, applied to a whole document.
    """
    kept = capped([finding.diagnostic for finding in findings], limit)
    if len(kept) == len(findings):
        return list(findings)
    # capped keeps an ordered subsequence of what it is given, then appends its count of the others.
    out = []
    first_left_out = None
    wanted = iter(kept[:-1])
    next_kept = next(wanted, None)
    for finding in findings:
        if finding.diagnostic is next_kept:
            out.append(finding)
            next_kept = next(wanted, None)
        elif first_left_out is None:
            first_left_out = finding
    assert first_left_out is not None
    out.append(Finding(first_left_out.site, kept[-1]))
    return out


def carried(old: Outline, lines: Lines) -> list[Site]:
    """The sites of an older outline that are where they were in ``lines``: those whose lines are unchanged.

    A request on a document too large to outline again at each change answers from these.
    """
    return [
        site
        for site in old.sites
        if site.line_span[1] <= len(lines)
        and all(old.lines.at(n) == lines.at(n) for n in range(*site.line_span))
    ]


def lmf_site_at(lines: Lines, position: types.Position) -> tuple[Site, int] | None:
    """The filter of a ``.lmf`` line the cursor is on (any line but a comment, blank ones too) and the
    cursor's offset in it."""
    text = lines.at(position.line)
    if text.lstrip().startswith("#"):
        return None
    return Site(text, Run(position.line, 0, len(text))), lines.column(position)


def python_site_at(lines: Lines, sites: Iterable[Site], position: types.Position) -> tuple[Site, int] | None:
    """The Python filter string the cursor is in and the cursor's offset in it."""
    cursor = (position.line, lines.column(position))
    for site in sites:
        if not isinstance(site.place, Place):
            continue
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


def semantic_tokens(lines: Lines, sites: Iterable[Site], stop: Callable[[], bool] | None = None) -> list[int]:
    """The LSP encoding of the semantic tokens of filters (one line each; no modifiers).

    A filter longer than the parser reads (:data:`lmfilter.syntax.MAX_LENGTH`) is not colored. ``stop`` is
    asked between filters; when it says so, :class:`Stale` is raised.
    """
    found: list[tuple[int, int, int, int]] = []
    for site in sites:
        if stop is not None and stop():
            raise Stale
        if len(site.text) > MAX_LENGTH:
            continue
        tokens = _lex(site.text)
        reading = Reading.of(tokens)
        for tok, role, field_written in zip(tokens, reading.roles, reading.fields, strict=True):
            kind = _token_type(tok, role, field_written)
            if kind is None:
                continue
            start = lines.position(site.place.position(tok.start_pos or 0))
            end = lines.position(site.place.position(tok.end_pos or 0))
            if end.line != start.line:  # a string across lines: its first line only
                line_text = lines.at(start.line)
                end = types.Position(line=start.line, character=lines.units(line_text, len(line_text)))
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


def formatting_edits(
    lines: Lines, sites: Iterable[Site], stop: Callable[[], bool] | None = None
) -> list[types.TextEdit]:
    """An edit to the canonical text of each filter that parses and is not canonical already.

    ``stop`` is asked between filters; when it says so, :class:`Stale` is raised.
    """
    edits = []
    for site in sites:
        if stop is not None and stop():
            raise Stale
        try:
            canonical = api.format(site.text)
        except FilterError:
            continue
        if canonical != site.text:
            whole = site.range(lines, Span(0, len(site.text)))
            edits.append(types.TextEdit(range=whole, new_text=canonical))
    return edits


# ---- open documents -------------------------------------------------------------------------------------

LIVE_LIMIT = 1_000_000
"""Documents of up to this many characters are linted as they are typed. A longer one is linted when opened,
saved or its settings change, and otherwise shows one information saying so (diagnostics of an older text
would point at the wrong places); semantic tokens of the whole of it are not computed (the client asks for
ranges), and neither formatting nor a range of lines over this size is formatted at once."""

LINT_DELAY = 0.15
"""Most seconds without a change before a document is linted: as long as its last lint took, up to this. A
burst of keystrokes in a document slow to lint is linted once; one quick to lint is linted at once."""

MAX_PUBLISHED = 1000
"""Most diagnostics published for one document; one ``LMF110`` counts the rest."""

MODELS_WAIT = 1.0
"""Most seconds a completion or hover waits for known models that are still loading."""

_SLICE = 0.5
"""Seconds a lint job runs before it lets a waiting one go first (it resumes after it)."""

_KIND_OF_LANGUAGE: dict[str, Kind] = {"python": "python", "lmfilter": "lmf"}

T = TypeVar("T")


class _PerRevision(Generic[T]):
    """A value made from one revision of a document, once, by whichever thread asks first."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self._revision = -1
        self._future: concurrent.futures.Future[T] | None = None

    def get(self, revision: int, make: Callable[[], T]) -> T:
        """The value of ``revision``: made now, or by the thread making it (the newest revision asked for
        is kept)."""
        with self.lock:
            owner = self._future is None or self._revision != revision
            if owner:
                self._future, self._revision = concurrent.futures.Future(), revision
            future = self._future
        assert future is not None
        if owner:
            try:
                future.set_result(make())
            except BaseException as error:
                future.set_exception(error)
                raise
        return future.result()

    def ready(self, revision: int) -> T | None:
        """The value of ``revision`` if it is made (and without an error)."""
        with self.lock:
            future = self._future if self._revision == revision else None
        if future is None or not future.done() or future.exception() is not None:
            return None
        return future.result()


class Document:
    """An open document: its text as the client has it, and what lmfilter made of it.

    ``revision`` counts changes; work on a document notes the revision it began at, and what it finds is used
    only while the document is still at it. (The client's ``version`` is only echoed: nothing stops a client
    from sending one twice.)
    """

    def __init__(self, item: types.TextDocumentItem, encoding: str) -> None:
        self.uri = item.uri
        self.key = unquote(item.uri)  # how the server knows it, whichever %-escapes a message uses
        self.kind: Kind | None = documents.kind_of(urlsplit(item.uri).path) or _KIND_OF_LANGUAGE.get(
            item.language_id
        )
        self.encoding = encoding
        self.version: int = item.version
        self.text = _joined(item.text)
        self.revision = 0
        self.open = True
        self.analysis: Analysis | None = None  # the newest published, maybe of an older revision
        self.analyzed = -1  # its revision
        self.shown = ""  # what was published last: "" (nothing), "findings" or "notice"
        self.memo: tuple[tuple[str, bool], Memo] = (("", False), {})  # the lint thread's alone
        self.lint_seconds: float | None = None  # how long its last lint took
        self._lines: _PerRevision[Lines] = _PerRevision()
        self._outline: _PerRevision[Outline] = _PerRevision()
        self.last_outline: Outline | None = None  # of the newest revision outlined, maybe an older one
        self._last_outlined = -1
        self.outlining = asyncio.Lock()  # held by a request outlining it

    @property
    def large(self) -> bool:
        """Whether it is too large to lint as it is typed (:data:`LIVE_LIMIT`)."""
        return len(self.text) > LIVE_LIMIT

    @property
    def delay(self) -> float:
        """How long to wait for another change before linting it (:data:`LINT_DELAY`)."""
        return LINT_DELAY if self.lint_seconds is None else min(LINT_DELAY, self.lint_seconds)

    @property
    def current(self) -> Analysis | None:
        """Its analysis, if it is of the text as it is."""
        return self.analysis if self.analyzed == self.revision else None

    def lines(self) -> Lines:
        """The lines of the text as it is."""
        return self.lines_of(self.revision, self.text)

    def lines_of(self, revision: int, text: str) -> Lines:
        return self._lines.get(revision, lambda: Lines(text, self.encoding))

    def outline_of(self, revision: int, text: str) -> Outline:
        """The outline of a revision, made once (the lint thread and requests share it)."""
        kind = self.kind
        assert kind is not None

        def make() -> Outline:
            made = outline(self.lines_of(revision, text), kind)
            with self._outline.lock:
                if revision > self._last_outlined:
                    self.last_outline, self._last_outlined = made, revision
            return made

        return self._outline.get(revision, make)

    def outline_ready(self, revision: int) -> Outline | None:
        return self._outline.ready(revision)

    def change(self, params: types.DidChangeTextDocumentParams) -> list[str]:
        """Apply the changes of a ``didChange`` in turn; what was wrong with them.

        A range outside the text is taken as LSP's reference implementation takes it (clamped to the text;
        its ends swapped if the start is after the end), and said so.
        """
        problems = []
        text = self.text
        lines: Lines | None = self.lines()
        for change in params.content_changes:
            if isinstance(change, types.TextDocumentContentChangePartial):
                lines = lines or Lines(text, self.encoding)
                start, end = change.range.start, change.range.end
                cuts = {index for index in (lines.cut(start), lines.cut(end)) if index is not None}
                if cuts:  # an edit between the halves of a pair: split it, so that each half is a character
                    for index in sorted(cuts, reverse=True):
                        text = text[:index] + _halves(text[index]) + text[index + 1 :]
                    lines = Lines(text, self.encoding)
                if not (lines.holds(start) and lines.holds(end)):
                    problems.append(
                        f"a change from {_written(start)} to {_written(end)} reaches past the end of "
                        f"{self.uri} ({len(lines)} lines): applied to the text it covers"
                    )
                if (start.line, start.character) > (end.line, end.character):
                    problems.append(
                        f"a change to {self.uri} starts at {_written(start)}, after its end at "
                        f"{_written(end)}: applied between the two"
                    )
                    start, end = end, start
                text = text[: lines.offset(start)] + change.text + text[lines.offset(end) :]
            else:
                text = change.text
            lines = None
        self.text = _joined(text)
        self.version = params.text_document.version
        self.revision += 1
        return problems


def _written(position: types.Position) -> str:
    return f"line {position.line}, character {position.character}"


def _too_large(document: Document) -> str:
    return (
        f"this document has {len(document.text):,} characters, more than {LIVE_LIMIT:,}: lmfilter lints it "
        "when it is opened or saved, not as you type"
    )


# ---- linting in the background --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Job:
    """Linting one revision of a document under some settings."""

    document: Document
    revision: int
    text: str
    settings: Settings
    generation: int

    def run(self, stop: Callable[[], bool]) -> Analysis:
        document = self.document
        key = (self.settings.target, self.settings.native)
        if document.memo[0] != key:
            document.memo = (key, {})
        memo = document.memo[1]
        began = time.monotonic()
        found = document.outline_of(self.revision, self.text)
        analysis = check_outline(found, self.settings, memo, stop)
        document.memo = (key, {site.text: memo[site.text] for site in found.sites})  # only what is there
        document.lint_seconds = time.monotonic() - began
        return analysis


class Linter:
    """Lints open documents in one background thread, so that no request ever waits for linting.

    A change schedules its document to be linted once typing pauses (:attr:`Document.delay`): a burst of
    keystrokes is linted once. A job lints the text of the moment it is taken and asks between filters
    whether it is still wanted (its document unchanged and open, the settings the same); one that is not
    stops, and what it found is never published. A job that has run for :data:`_SLICE` lets a waiting one
    go first and then resumes where it stopped (what it checked is memoized). Results go to ``finish`` on
    the event loop, which publishes them if they are still current.
    """

    def __init__(
        self, settings: Callable[[], Settings], finish: Callable[[Job, Analysis | Exception], None]
    ) -> None:
        self._settings = settings
        self._finish = finish
        self._pending: dict[str, Job] = {}  # by document key, the oldest first
        self._wake = threading.Condition()
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self.generation = 0  # one more whenever the settings change: every job before is stale
        self.stopped = False

    def wanted(self, job: Job) -> bool:
        document = job.document
        return (
            not self.stopped
            and document.open
            and document.revision == job.revision
            and job.generation == self.generation
        )

    def schedule(self, document: Document, delay: float) -> None:
        """Lint ``document`` once ``delay`` seconds pass without another schedule (call on the event loop)."""
        if self.stopped:
            return
        loop = self._start()
        self.cancel(document)
        self._timers[document.key] = loop.call_later(delay, self._submit, document)

    def cancel(self, document: Document) -> None:
        """Forget the lint that ``document`` is waiting for, if any (a running one stops by itself)."""
        timer = self._timers.pop(document.key, None)
        if timer is not None:
            timer.cancel()
        with self._wake:
            job = self._pending.get(document.key)
            if job is not None and job.document is document:
                del self._pending[document.key]

    def stop(self) -> None:
        self.stopped = True
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        with self._wake:
            self._pending.clear()
            self._wake.notify_all()

    def _start(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
            # A daemon: exiting the server never waits for a lint.
            threading.Thread(target=self._work, args=(self._loop,), name="lmfilter-lint", daemon=True).start()
        return self._loop

    def _submit(self, document: Document) -> None:
        self._timers.pop(document.key, None)
        if not document.open or self.stopped:
            return
        job = Job(document, document.revision, document.text, self._settings(), self.generation)
        with self._wake:
            self._pending.pop(document.key, None)
            self._pending[document.key] = job
            self._wake.notify()

    def _work(self, loop: asyncio.AbstractEventLoop) -> None:
        while True:
            with self._wake:
                while not self._pending and not self.stopped:
                    self._wake.wait()
                if self.stopped:
                    return
                job = self._pending.pop(next(iter(self._pending)))
            if not self.wanted(job):
                continue
            began = time.monotonic()

            def stop(job: Job = job, began: float = began) -> bool:
                return not self.wanted(job) or (bool(self._pending) and time.monotonic() - began > _SLICE)

            result: Analysis | Exception
            try:
                result = job.run(stop)
            except Stale:
                if self.wanted(job):
                    with self._wake:
                        self._pending.setdefault(job.document.key, job)  # after those waiting
                continue
            except Exception as error:  # a bug, or a document no reader expected: reported, never fatal
                result = error
            try:
                loop.call_soon_threadsafe(self._finish, job, result)
            except RuntimeError:  # the loop is closed: the server is gone
                return


def in_thread(function: Callable[..., T], *arguments: Any) -> asyncio.Future[T]:
    """Call ``function`` in a thread of its own; its result, on the event loop.

    Unlike :func:`asyncio.to_thread`, the thread is a daemon: exiting the server never waits for work that
    is no longer wanted (a model file that is slow to read, an outline of a huge document).
    """
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def settle(outcome: Callable[[], None]) -> None:
        if not future.done():  # a cancelled request's future stays cancelled
            outcome()

    def run() -> None:
        try:
            result = function(*arguments)
        except BaseException as error:  # handed to the loop, which raises it in the awaiting task
            answer = functools.partial(future.set_exception, error)
        else:
            answer = functools.partial(future.set_result, result)
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits
            loop.call_soon_threadsafe(settle, answer)

    threading.Thread(target=run, name="lmfilter-request", daemon=True).start()
    return future


async def _off_loop(document: Document, revision: int, work: Callable[[Callable[[], bool]], T]) -> T:
    """Run a request's ``work`` on ``revision`` of a document in a thread, so that the event loop goes on
    reading messages.

    ``work`` is given a ``stop`` to ask between steps: it says so once the request is cancelled or the
    document is at another revision, and the request then fails with ``ContentModified``.
    """
    abandoned = threading.Event()

    def stop() -> bool:
        return abandoned.is_set() or document.revision != revision or not document.open

    try:
        return await in_thread(work, stop)
    except Stale:
        raise JsonRpcContentModified(f"{document.uri} changed while the request was being answered") from None
    finally:
        abandoned.set()


# ---- the protocol: every request answered ---------------------------------------------------------------


def _exactly(kind: type[T]) -> Callable[[object, type], T]:
    def structure(value: object, _: type) -> T:
        if type(value) is not kind:
            raise ValueError(f"expected {kind.__name__}, not {value!r}"[:200])
        return value

    return structure


def _number(value: object, _: type) -> float:
    if type(value) not in (int, float):
        raise ValueError(f"expected a number, not {value!r}"[:200])
    return float(value)  # type: ignore[arg-type]


def strict_converter() -> cattrs.Converter:
    """pygls' converter, strict about JSON's scalars: a line given as ``"3"``, ``1.5`` or ``true`` is refused
    (cattrs would take each as 3, 1 and 1)."""
    converter = cast(cattrs.Converter, default_converter())  # type: ignore[no-untyped-call]
    for kind in (int, str, bool):
        converter.register_structure_hook(kind, _exactly(kind))
    converter.register_structure_hook(float, _number)
    return converter


def _message_id(message: object) -> int | str | None:
    ident = message.get("id") if isinstance(message, dict) else None
    return ident if isinstance(ident, str) or type(ident) is int else None


def _described(error: BaseException, kind: type | None) -> str:
    # A validator's or a strict hook's own words say more than cattrs' "invalid value".
    if isinstance(error, ValueError) and str(error):
        return str(error).rstrip(".")
    return cattrs.v.format_exception(error, kind)


def _what_is_wrong(error: Exception) -> str:
    """What is wrong in a message that cattrs could not structure, at JSON's names of the fields.

    For example ``required field missing at $.params.textDocument.uri``.
    """
    if not isinstance(error, cattrs.BaseValidationError):
        return f"{type(error).__name__}: {error}"[:500]
    found = []
    for problem in cattrs.transform_error(error, path="$", format_exception=_described):
        text, at, path = problem.partition(" @ ")
        path = re.sub(r"_([a-z])", lambda match: match.group(1).upper(), path)  # text_document: textDocument
        found.append(f"{text} at {path}" if at else text)
    return "; ".join(found)[:500]


class LmfilterProtocol(LanguageServerProtocol):
    """pygls' protocol, answering every request however malformed.

    pygls reads a request whose params do not fit their type, logs it and never answers (the client waits
    for ever); one before ``initialize`` fails inside, one after ``shutdown`` is dropped. Here a message is
    structured whole once JSON has read it, and a request that cannot be gets an error: ``InvalidParams``
    saying what is wrong where, ``InvalidRequest`` for what is not a request, ``ServerNotInitialized``
    before ``initialize``. A response that cannot be structured fails the request it answers; a
    notification that cannot be is dropped with a message in the client's log.
    """

    def structure_message(self, data: dict[str, Any]) -> Any:
        return data  # json.loads calls this for each object, the innermost first: wait for the whole message

    def handle_message(self, message: Any) -> None:
        if not isinstance(message, dict) or message.get("jsonrpc") != self.VERSION:
            if not (isinstance(message, dict) and ("result" in message or "error" in message)):
                self.fail(_message_id(message), JsonRpcInvalidRequest("not a JSON-RPC 2.0 message"))
            return
        method = message.get("method")
        request = "id" in message and method is not None
        if method is not None and not isinstance(method, str):
            self.fail(
                _message_id(message), JsonRpcInvalidRequest(f"a method is a string, not {method!r}"[:200])
            )
            return
        if "id" in message and _message_id(message) is None:
            if request:  # an answer to nothing the server asked is dropped
                wrong = f"a request's id is a string or an integer, not {message['id']!r}"[:200]
                self.fail(None, JsonRpcInvalidRequest(wrong))
            return
        if self._workspace is None and method not in (types.INITIALIZE, types.EXIT):
            if request:
                self.fail(message["id"], JsonRpcServerNotInitialized("initialize first"))
            return  # a notification before initialize is dropped, as LSP says
        if self._shutdown and request and method != types.EXIT:
            self.fail(message["id"], JsonRpcInvalidRequest("the server is shutting down"))
            return
        try:
            structured: Any = self._converter.structure(message, self._message_type(message))
        except Exception as error:
            self._unreadable(message, _what_is_wrong(error))
            return
        super().handle_message(structured)

    def _message_type(self, message: dict[str, Any]) -> type:
        method = message.get("method")
        if method is None:  # the client's answer to a request of the server's
            expected = self._result_types.pop(message["id"], None)
            return ResponseErrorMessage if "error" in message else expected or JsonRPCResponseMessage
        return self.get_message_type(method) or (
            JsonRPCRequestMessage if "id" in message else JsonRPCNotification
        )

    def _send_handler_result(self, future: concurrent.futures.Future[Any], *, msg_id: Any) -> None:
        error = None if future.cancelled() else future.exception()
        if isinstance(error, JsonRpcException):  # refused on purpose: answered, not logged as a crash
            self._request_futures.pop(msg_id, None)
            self.fail(msg_id, error)
            return
        super()._send_handler_result(future, msg_id=msg_id)

    def fail(self, ident: int | str | None, error: JsonRpcException) -> None:
        """Answer request ``ident`` (``None``: one whose id is unknown) with an error."""
        self._send_data(
            {"jsonrpc": self.VERSION, "id": ident, "error": {"code": error.code, "message": error.message}}
        )

    def _unreadable(self, message: dict[str, Any], wrong: str) -> None:
        method = message.get("method")
        if method is None:
            future = self._request_futures.pop(message["id"], None)
            if future is not None and not future.done():
                future.set_exception(JsonRpcInvalidParams(f"the client's answer does not fit: {wrong}"))
        elif "id" in message:
            self.fail(message["id"], JsonRpcInvalidParams(f"invalid params of {method}: {wrong}"))
        else:
            params = types.LogMessageParams(
                type=types.MessageType.Warning, message=f"lmfilter ignored a {method} notification: {wrong}"
            )
            self.notify(types.WINDOW_LOG_MESSAGE, params)

    # pygls keeps its own copy of each document, which it splits into lines as Python does (at U+2028, form
    # feeds, ...), not as LSP does, and which fails on a change to a document never opened. The server keeps
    # its own (:class:`Document`), so the copy is not made.

    def _ours(self, method: str, params: Any) -> Iterator[Any]:
        if (handler := self.fm.features.get(method)) is not None:
            yield handler, (params,), None

    @lsp_method(types.TEXT_DOCUMENT_DID_OPEN)
    def lsp_text_document__did_open(self, params: types.DidOpenTextDocumentParams) -> Iterator[Any]:
        yield from self._ours(types.TEXT_DOCUMENT_DID_OPEN, params)

    @lsp_method(types.TEXT_DOCUMENT_DID_CHANGE)
    def lsp_text_document__did_change(self, params: types.DidChangeTextDocumentParams) -> Iterator[Any]:
        yield from self._ours(types.TEXT_DOCUMENT_DID_CHANGE, params)

    @lsp_method(types.TEXT_DOCUMENT_DID_CLOSE)
    def lsp_text_document__did_close(self, params: types.DidCloseTextDocumentParams) -> Iterator[Any]:
        yield from self._ours(types.TEXT_DOCUMENT_DID_CLOSE, params)


# ---- the server -----------------------------------------------------------------------------------------


class LmfilterServer(LanguageServer):
    """pygls' server plus what lmfilter keeps: settings, the open documents, the known models."""

    def __init__(self, defaults: Settings) -> None:
        super().__init__(
            SOURCE,
            __version__,
            text_document_sync_kind=types.TextDocumentSyncKind.Incremental,
            protocol_cls=LmfilterProtocol,
            converter_factory=strict_converter,
        )
        self.defaults = defaults
        self.settings = defaults
        self.layers: dict[str, dict[str, Any]] = {"pyproject": {}, "configuration": {}, "initialization": {}}
        self.pull_configuration = False
        self.ready = False  # settings are known: documents opened before wait for them
        self.waiting: set[str] = set()
        self.documents: dict[str, Document] = {}  # by URI, %-escapes undone
        self.linter = Linter(lambda: self.settings, self._linted)
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

    def report_server_error(self, error: Exception, source: Any) -> None:
        # What pygls could not read as JSON (or as UTF-8) gets JSON-RPC's answer to it.
        if isinstance(error, json.JSONDecodeError | UnicodeDecodeError):
            cast(LmfilterProtocol, self.protocol).fail(None, JsonRpcParseError(f"not JSON: {error}"[:300]))
            return
        super().report_server_error(error, source)

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
            self.log(f"workspace/configuration failed: {error}")
            return
        self.read_layer("configuration", answer[0] if answer else None, "workspace/configuration")

    def apply_settings(self) -> None:
        """Settle the settings; lint what waited (all, if they changed); reload known models if moved."""
        layers = self.layers
        settings = resolve(
            self.defaults, layers["pyproject"], layers["configuration"], layers["initialization"]
        )
        changed, self.settings = settings != self.settings, settings
        self.ready = True
        if changed:
            self.linter.generation += 1
        for key in sorted(self.waiting | (set(self.documents) if changed else set())):
            if key in self.documents:
                self.lint(self.documents[key], 0)
        self.waiting.clear()
        if settings.model_source != self._known_source:
            self.load_models()

    # -- documents

    def document(self, identifier: types.TextDocumentIdentifier) -> Document:
        """The open document a request names (a request on another is refused: its text is unknown)."""
        document = self.documents.get(unquote(identifier.uri))
        if document is None:
            raise JsonRpcInvalidParams(f"{identifier.uri} is not open: send textDocument/didOpen first")
        return document

    def lint(self, document: Document, delay: float) -> None:
        if document.kind is None:
            return
        if not self.ready:
            self.waiting.add(document.key)
            return
        self.linter.schedule(document, delay)

    def _linted(self, job: Job, result: Analysis | Exception) -> None:
        if not self.linter.wanted(job):
            return
        document = job.document
        if isinstance(result, Exception):
            self.log(f"lmfilter could not lint {document.uri}: {result!r}"[:500], types.MessageType.Error)
            why = f"lmfilter could not lint this document: {type(result).__name__}: {result}"[:300]
            kind = document.kind or "lmf"
            result = Analysis(Outline(kind, document.lines(), (), ()), (_document_finding(why),))
        document.analysis, document.analyzed = result, job.revision
        self.publish(document)

    def publish(self, document: Document) -> None:
        """Publish what is known of the document as it is: its findings (up to :data:`MAX_PUBLISHED`) if it
        was linted as it is, and whether it is too large to lint as it is typed."""
        analysis = document.current
        findings = published(analysis.findings, MAX_PUBLISHED) if analysis else []
        if document.large:
            findings.insert(0, _document_finding(_too_large(document)))
        lines = analysis.outline.lines if analysis else document.lines()
        document.shown = "findings" if analysis else "notice"
        params = types.PublishDiagnosticsParams(
            uri=document.uri, version=document.version, diagnostics=[f.lsp(lines) for f in findings]
        )
        self.text_document_publish_diagnostics(params)

    async def sites(self, document: Document, position: types.Position | None = None) -> Sequence[Site]:
        """The Python filters of a document as it is (``document.lines()``), for a request, which never waits
        for linting.

        Those linted at this revision, or else outlined at it; else those of an older one whose lines are
        unchanged, when they answer the request (the one at ``position``) or the document is too large to
        outline at each change; else an outline made now, in a thread, one at a time for a document (a
        request that waits for another's is usually cancelled by the client as the user types on).
        """
        if (analysis := document.current) is not None:
            return analysis.outline.sites
        revision, text, lines = document.revision, document.text, document.lines()  # the text asked about
        async with document.outlining:
            if (ready := document.outline_ready(revision)) is not None:
                return ready.sites
            old = carried(document.last_outline, lines) if document.last_outline else []
            if document.large or (position is not None and python_site_at(lines, old, position)):
                return old
            try:
                made = await in_thread(document.outline_of, revision, text)
            except Exception as error:  # the same error reaches the lint, which publishes it
                self.log(f"lmfilter could not read the filters of {document.uri}: {error!r}"[:500])
                return ()
            return made.sites

    async def site_under(
        self, identifier: types.TextDocumentIdentifier, position: types.Position
    ) -> tuple[Lines, Site, int] | None:
        """The lines of the document, the filter under the cursor and the cursor's offset in it."""
        document = self.document(identifier)
        lines = document.lines()
        if position.line >= len(lines):
            raise JsonRpcInvalidParams(
                f"line {position.line} is past the end of {document.uri}, which has {len(lines)} lines"
            )
        if document.kind == "lmf":
            found = lmf_site_at(lines, position)
        elif document.kind == "python":
            found = python_site_at(lines, await self.sites(document, position), position)
        else:
            found = None
        if found is None or len(found[0].text) > MAX_LENGTH:  # a filter longer than the parser reads
            return None
        return lines, *found

    async def semantic_tokens(self, document: Document, first: int, stop: int) -> types.SemanticTokens | None:
        """The semantic tokens of lines ``[first, stop)`` (``None`` if they hold too much text)."""
        revision, lines = document.revision, document.lines()
        if sum(len(text) for text in lines.lines[first:stop]) > LIVE_LIMIT:
            return None
        chosen: Sequence[Site] | None = None  # .lmf: read from the lines, in the thread
        if document.kind == "python":
            chosen = [
                s for s in await self.sites(document) if first < s.line_span[1] and s.line_span[0] < stop
            ]
        elif document.kind != "lmf":
            return types.SemanticTokens(data=[])

        def work(stop_now: Callable[[], bool]) -> list[int]:
            sites = lmf_sites(lines, first, stop) if chosen is None else chosen
            return semantic_tokens(lines, sites, stop_now)

        return types.SemanticTokens(data=await _off_loop(document, revision, work))

    async def formatted(self, document: Document, first: int, stop: int) -> list[types.TextEdit] | None:
        """Edits formatting the filters of lines ``[first, stop)`` of a ``.lmf`` document."""
        if document.kind != "lmf":
            return None
        lines = document.lines()
        size = sum(len(text) for text in lines.lines[first:stop])
        if size > LIVE_LIMIT:
            raise JsonRpcException(
                f"{size:,} characters are more than lmfilter formats at once ({LIVE_LIMIT:,}): "
                "format a selection",
                code=types.LSPErrorCodes.RequestFailed,
            )
        return await _off_loop(
            document,
            document.revision,
            lambda stop_now: formatting_edits(lines, lmf_sites(lines, first, stop), stop_now),
        )

    # -- known models

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
        try:
            known = await in_thread(load_known, settings)
        except Exception as error:  # load_known's readers failing otherwise than they say (a model file
            # nested past the recursion limit, memory): no known models, and the reason
            server = shown_url(settings.server or "")
            source = settings.models or f"{server}, experiment {settings.experiment_id}"
            known = Known(source, error=f"{type(error).__name__}: {error}"[:300])
        if known.error:
            self.log(f"lmfilter: no known models from {known.source}: {known.error}")
        else:
            skipped = f" ({known.skipped} records skipped)" if known.skipped else ""
            self.log(f"lmfilter: {known.models} models from {known.source}{skipped}", types.MessageType.Info)
        return known

    async def known(self, wait: float = MODELS_WAIT) -> tuple[Known, bool]:
        """The known models and whether they are loaded; while they load, up to ``wait`` seconds for them."""
        task = self._known
        if task is None:
            return NOTHING_KNOWN, True
        try:
            return await asyncio.wait_for(asyncio.shield(task), wait), True
        except TimeoutError:
            return NOTHING_KNOWN, False

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
    document = Document(params.text_document, ls.workspace.position_encoding or "utf-16")
    old = ls.documents.get(document.key)
    if old is not None:  # opened again without a close: the new text wins
        old.open = False
        ls.linter.cancel(old)
    ls.documents[document.key] = document
    ls.lint(document, 0)


def _did_change(ls: LmfilterServer, params: types.DidChangeTextDocumentParams) -> None:
    document = ls.documents.get(unquote(params.text_document.uri))
    if document is None:
        ls.log(f"lmfilter ignored a change to {params.text_document.uri}, which is not open")
        return
    for problem in document.change(params):
        ls.log(f"lmfilter: {problem}")
    if not document.large:
        ls.lint(document, document.delay)
        return
    ls.linter.cancel(document)
    if document.kind is not None and document.shown != "notice":
        ls.publish(document)  # its findings point into an older text: only the notice stays


def _did_save(ls: LmfilterServer, params: types.DidSaveTextDocumentParams) -> None:
    document = ls.documents.get(unquote(params.text_document.uri))
    if document is not None and document.large and document.current is None:  # changed since it was linted
        ls.lint(document, 0)


def _did_close(ls: LmfilterServer, params: types.DidCloseTextDocumentParams) -> None:
    key = unquote(params.text_document.uri)
    ls.waiting.discard(key)
    document = ls.documents.pop(key, None)
    if document is None:
        return
    document.open = False
    ls.linter.cancel(document)
    if document.shown:
        ls.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri=document.uri, diagnostics=[]))


def _shutdown(ls: LmfilterServer, *arguments: Any) -> None:
    ls.linter.stop()


def _touches(a: types.Range, b: types.Range) -> bool:
    def key(p: types.Position) -> tuple[int, int]:
        return (p.line, p.character)

    return key(a.start) <= key(b.end) and key(b.start) <= key(a.end)


def _code_actions(ls: LmfilterServer, params: types.CodeActionParams) -> list[types.CodeAction] | None:
    document = ls.document(params.text_document)
    analysis = document.current  # fixes of an older text would land in the wrong places
    only = params.context.only
    if analysis is None or (only and not any(types.CodeActionKind.QuickFix.startswith(k) for k in only)):
        return None
    lines = analysis.outline.lines
    actions = []
    for finding in analysis.findings:
        if finding.where[0] > params.range.end.line:
            break  # findings are in reading order
        if not finding.diagnostic.fixes:
            continue
        diagnostic = finding.lsp(lines)
        if not _touches(diagnostic.range, params.range):
            continue
        for fix in finding.diagnostic.fixes:
            edits = finding.site.edits(lines, fix)
            if edits is None:
                continue
            actions.append(
                types.CodeAction(
                    title=fix.title,
                    kind=types.CodeActionKind.QuickFix,
                    diagnostics=[diagnostic],
                    edit=types.WorkspaceEdit(changes={params.text_document.uri: edits}),
                    is_preferred=len(finding.diagnostic.fixes) == 1,
                )
            )
    return actions


async def _completion(ls: LmfilterServer, params: types.CompletionParams) -> types.CompletionList | None:
    under = await ls.site_under(params.text_document, params.position)
    if under is None:
        return None
    lines, site, offset = under
    known, complete = await ls.known()
    settings = ls.settings
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
    # Without the known models yet, the client asks again as the user types.
    return types.CompletionList(is_incomplete=not complete, items=items)


async def _hover(ls: LmfilterServer, params: types.HoverParams) -> types.Hover | None:
    under = await ls.site_under(params.text_document, params.position)
    if under is None:
        return None
    lines, site, offset = under
    tokens = _lex(site.text)
    index = _token_at(tokens, offset)
    if index is None or Reading.of(tokens[: index + 1]).roles[index] is not Role.FIELD:
        return None
    tok = tokens[index]
    known, _ = await ls.known()
    text = describe_field(str(tok), known, get_target(ls.settings.target), ls.settings.native)
    if text is None:
        return None
    hover = ls.client_capabilities.text_document
    formats = hover.hover.content_format if hover and hover.hover else None
    return types.Hover(
        contents=ls.markup(text, formats),
        range=site.range(lines, Span(tok.start_pos or 0, tok.end_pos or 0)),
    )


def _line_span(range_: types.Range) -> tuple[int, int]:
    """The lines ``[first, stop)`` a range covers (one ending at the start of a line leaves that line out)."""
    start, end = range_.start, range_.end
    stop = end.line if end.character == 0 and end.line > start.line else end.line + 1
    return start.line, stop


async def _formatting(
    ls: LmfilterServer, params: types.DocumentFormattingParams
) -> list[types.TextEdit] | None:
    document = ls.document(params.text_document)
    return await ls.formatted(document, 0, len(document.lines()))


async def _range_formatting(
    ls: LmfilterServer, params: types.DocumentRangeFormattingParams
) -> list[types.TextEdit] | None:
    return await ls.formatted(ls.document(params.text_document), *_line_span(params.range))


async def _semantic_tokens(
    ls: LmfilterServer, params: types.SemanticTokensParams
) -> types.SemanticTokens | None:
    document = ls.document(params.text_document)
    return await ls.semantic_tokens(document, 0, len(document.lines()))


async def _semantic_tokens_range(
    ls: LmfilterServer, params: types.SemanticTokensRangeParams
) -> types.SemanticTokens | None:
    return await ls.semantic_tokens(ls.document(params.text_document), *_line_span(params.range))


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
    server.feature(types.SHUTDOWN)(_shutdown)
    server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)(_did_change_configuration)
    server.feature(types.TEXT_DOCUMENT_DID_OPEN)(_did_open)
    server.feature(types.TEXT_DOCUMENT_DID_CHANGE)(_did_change)
    server.feature(types.TEXT_DOCUMENT_DID_SAVE)(_did_save)
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
    server.feature(types.TEXT_DOCUMENT_RANGE_FORMATTING)(_range_formatting)
    legend = types.SemanticTokensLegend(token_types=list(TOKEN_TYPES), token_modifiers=[])
    server.feature(types.TEXT_DOCUMENT_SEMANTIC_TOKENS_FULL, legend)(_semantic_tokens)
    server.feature(types.TEXT_DOCUMENT_SEMANTIC_TOKENS_RANGE, legend)(_semantic_tokens_range)
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
