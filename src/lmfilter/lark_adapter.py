"""The one place lmfilter reads Lark's internals: the compiled lexer and the LALR table, as plain data.

:mod:`lmfilter.syntax` runs Lark's lexer patterns and parse table itself (for speed, and to recover from
errors the way it wants), and Lark has no public API for either. Every attribute of Lark that is private or
undocumented is read here and nowhere else, and handed on as the small typed surface below:

- :func:`compile_lalr` compiles a grammar, keeping terminals that no rule uses (lmfilter's fault tokens);
- :func:`lexer_patterns` gives the terminals' alternation, the blanks' pattern, and how Lark retypes a match;
- :func:`lalr_table` gives the LALR table: per state, each symbol's :class:`Shift` or :class:`Reduce`, with
  each :class:`Rule` as its origin, alias, expansion and whether it inlines a single child.

Lark's internals change between versions, so the supported versions are pinned (:data:`TESTED_LARK`, the
range in ``pyproject.toml``) and every shape read here is checked when it is read (the modules on import,
the rest on first use): a Lark that differs raises one :class:`LarkInternalsError` naming the Lark version
and what changed, not an ``AttributeError`` from deep inside a parse.

>>> from lmfilter.syntax import parser
>>> table = lalr_table(parser())
>>> isinstance(table.states[table.start]["FIELD"], Shift)
True
>>> sorted({rule.alias for rule in table.rules() if rule.origin == "comparison"})
['between', 'compare', 'in_list', 'is_null', 'like', 'recovered']
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import lark
from lark import Lark, Token

__all__ = [
    "TESTED_LARK",
    "LarkInternalsError",
    "LexerPatterns",
    "Reduce",
    "Rule",
    "Shift",
    "Symbol",
    "Table",
    "compile_lalr",
    "lalr_table",
    "lexer_patterns",
]

TESTED_LARK = ">=1.3.1,<1.4"
"""The Lark versions this module is tested with: the range ``pyproject.toml`` requires."""


class LarkInternalsError(RuntimeError):
    """The installed Lark's internals are not shaped as lmfilter reads them (a Lark outside
    :data:`TESTED_LARK`). Not a :class:`~lmfilter.errors.LmfilterError`: it says nothing about a filter."""


def _changed(what: str) -> LarkInternalsError:
    return LarkInternalsError(
        f"lmfilter cannot use lark {lark.__version__}: {what} (lmfilter is tested with lark{TESTED_LARK}; "
        f"install a lark in that range)"
    )


try:
    from lark.lark import PostLex  # not exported by lark, though Lark(postlex=...) takes one
    from lark.parsers.lalr_analysis import Reduce as _LarkReduce
    from lark.parsers.lalr_analysis import Shift as _LarkShift
except ImportError as missing:  # pragma: no cover - only a lark outside TESTED_LARK
    raise _changed(f"its modules changed ({missing})") from None


def _read(obj: object, path: str, owner: str) -> Any:
    """``obj.<path>`` (a dotted path), or the clear error naming the attribute Lark no longer has."""
    value: Any = obj
    for name in path.split("."):
        try:
            value = getattr(value, name)
        except AttributeError:
            raise _changed(f"{owner}.{path} is gone (no attribute {name!r})") from None
    return value


def _require(holds: bool, what: str) -> None:
    if not holds:
        raise _changed(what)


# ---- compiling --------------------------------------------------------------------------------------------


def compile_lalr(grammar: str, keep: Iterable[str] = ()) -> Lark:
    """``grammar`` compiled for the LALR parser with Lark's basic lexer, keeping the terminals ``keep``
    although no rule uses them (Lark drops such terminals otherwise, and then never lexes them)."""
    kept = tuple(keep)
    compiled = Lark(grammar, parser="lalr", lexer="basic", postlex=_KeepTerminals(kept))
    for name in kept:
        try:
            compiled.get_terminal(name)
        except KeyError:
            raise _changed(f"it dropped the terminal {name}, kept by a post-lexer's always_accept") from None
    return compiled


class _KeepTerminals(PostLex):
    """A post-lexer that passes the tokens on and names terminals to keep (its ``always_accept``)."""

    def __init__(self, keep: tuple[str, ...]) -> None:
        self.always_accept = keep

    def process(self, stream: Iterator[Token]) -> Iterator[Token]:
        return stream


# ---- the lexer -------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LexerPatterns:
    """The terminals as Lark's basic lexer matches them.

    ``alternation`` holds one named group per terminal, in Lark's order of preference (priority, then
    longest pattern); the first group that matches at a place is the token Lark makes there. ``blanks`` is
    the pattern of the ignored terminal named in ``ignored``. ``retyped`` names the terminals whose match Lark
    may give another terminal (a ``(`` matched by a catch-all pattern is the string terminal ``"("``): ask
    :meth:`retype`.
    """

    alternation: re.Pattern[str]
    blanks: str
    ignored: frozenset[str]
    retyped: frozenset[str]
    _callbacks: Mapping[str, Callable[[Token], Any]] = field(repr=False)

    def retype(self, kind: str, text: str) -> str:
        """The terminal Lark makes of ``text`` matched as ``kind`` (``kind`` itself when not retyped)."""
        callback = self._callbacks.get(kind)
        if callback is None:
            return kind
        token = callback(Token(kind, text))
        _require(isinstance(token, Token), f"its lexer callback for {kind} returned {type(token).__name__}")
        return str(token.type)


def lexer_patterns(compiled: Lark) -> LexerPatterns:
    """The patterns of ``compiled``'s basic lexer (Lark builds them on first use; this builds a lexer)."""
    build = _read(compiled, "_build_lexer", "Lark")
    _require(callable(build), "Lark._build_lexer is not a method")
    lexer = build()
    owner = type(lexer).__name__
    # Reading the scanner builds it, and with it the callbacks: so it comes first.
    alternations = _read(lexer, "scanner._mres", owner)
    _require(
        isinstance(alternations, list) and all(isinstance(p, re.Pattern) for p in alternations),
        f"{owner}.scanner._mres is not a list of compiled patterns",
    )
    # Lark splits the alternation only past Python's 100 groups: a grammar that large is not read here.
    _require(len(alternations) == 1, f"{owner}.scanner._mres holds {len(alternations)} patterns, not one")
    (alternation,) = alternations
    terminals = list(_read(lexer, "terminals", owner))
    ignored = _read(lexer, "ignore_types", owner)
    callbacks = _read(lexer, "callback", owner)
    _require(isinstance(ignored, frozenset), f"{owner}.ignore_types is not a frozenset of names")
    _require(
        isinstance(callbacks, dict) and all(callable(f) for f in callbacks.values()),
        f"{owner}.callback is not a dict of callables",
    )
    names = [str(_read(terminal, "name", "TerminalDef")) for terminal in terminals]
    _require(
        sorted(alternation.groupindex, key=alternation.groupindex.__getitem__)
        == [name for name in names if name in alternation.groupindex],
        f"{owner}.scanner._mres does not hold a group per terminal in {owner}.terminals' order",
    )
    blanks = [terminal for terminal in terminals if terminal.name in ignored]
    _require(len(blanks) == 1, f"{owner}.terminals holds {len(blanks)} ignored terminals, not one")
    blanks_pattern = _read(blanks[0], "pattern.to_regexp", "TerminalDef")()
    _require(isinstance(blanks_pattern, str), "TerminalDef.pattern.to_regexp() does not give a str")
    return LexerPatterns(
        alternation,
        blanks_pattern,
        frozenset(str(name) for name in ignored),
        frozenset(str(name) for name in callbacks),
        dict(callbacks),
    )


# ---- the LALR table --------------------------------------------------------------------------------------


class Symbol(NamedTuple):
    """A grammar symbol of a rule's expansion."""

    name: str
    is_terminal: bool


@dataclass(frozen=True, slots=True)
class Rule:
    """A grammar rule as Lark compiled it (``?rule`` inlining, ``[ ]`` and ``*`` expanded into helper rules
    whose names start with ``_``).

    ``origin`` is the rule's name, ``alias`` its ``-> alias`` (or ``None``), ``expansion`` its symbols, and
    ``expand1`` whether it is a ``?rule``, whose value is its one child's when it has one child.
    """

    origin: str
    alias: str | None
    expansion: tuple[Symbol, ...]
    expand1: bool


class Shift(NamedTuple):
    """Shift the symbol and go to ``state`` (for a rule's name: go to ``state`` once reduced to it)."""

    state: int


class Reduce(NamedTuple):
    """Reduce the top of the stack by ``rule``."""

    rule: Rule


@dataclass(frozen=True, slots=True)
class Table:
    """An LALR table: ``states[s]`` maps each symbol the state has an action for (a terminal, or a rule's
    name for the state to go to after a reduction) to its action. Parsing starts in ``start``; it is done
    when, fed the terminal ``$END``, it reaches ``end``."""

    states: tuple[Mapping[str, Shift | Reduce], ...]
    start: int
    end: int

    def rules(self) -> tuple[Rule, ...]:
        """The rules the table reduces by, each once, in the order the states first name them."""
        seen: dict[Rule, None] = {}
        for row in self.states:
            for action in row.values():
                if isinstance(action, Reduce):
                    seen.setdefault(action.rule)
        return tuple(seen)


def lalr_table(compiled: Lark, start: str = "start") -> Table:
    """The LALR table ``compiled`` parses with, for its start rule ``start``."""
    owner = "Lark"
    parse_table = _read(compiled, "parser.parser.parser.parse_table", owner)
    table_owner = f"{owner}.parser.parser.parser.parse_table"
    states = _read(parse_table, "states", table_owner)
    _require(
        isinstance(states, dict) and sorted(states) == list(range(len(states))),
        f"{table_owner}.states is not a dict keyed by the state numbers 0, 1, ...",
    )
    rules: dict[Any, Rule] = {}
    rows: list[dict[str, Shift | Reduce]] = []
    for number in range(len(states)):
        row: dict[str, Shift | Reduce] = {}
        entries = states[number]
        _require(isinstance(entries, dict), f"{table_owner}.states[{number}] is not a dict")
        for name, entry in entries.items():
            _require(
                isinstance(entry, tuple) and len(entry) == 2,
                f"{table_owner}.states[{number}][{name!r}] is not an (action, argument) pair",
            )
            action, argument = entry
            if action is _LarkShift:
                _require(isinstance(argument, int), f"a Shift in {table_owner} does not name a state number")
                row[str(name)] = Shift(argument)
            elif action is _LarkReduce:
                if argument not in rules:
                    rules[argument] = _rule(argument)
                row[str(name)] = Reduce(rules[argument])
            else:
                raise _changed(f"{table_owner} holds the action {action!r}, neither Shift nor Reduce")
        rows.append(row)
    ends = {}
    for kind in ("start_states", "end_states"):
        found = _read(parse_table, kind, table_owner)
        _require(
            isinstance(found, dict) and isinstance(found.get(start), int),
            f"{table_owner}.{kind} does not map {start!r} to a state number",
        )
        ends[kind] = found[start]
    return Table(tuple(rows), ends["start_states"], ends["end_states"])


def _rule(rule: object) -> Rule:
    owner = type(rule).__name__
    expansion = _read(rule, "expansion", owner)
    symbols = tuple(
        Symbol(str(_read(symbol, "name", "Symbol")), bool(_read(symbol, "is_term", "Symbol")))
        for symbol in expansion
    )
    alias = _read(rule, "alias", owner)
    _require(alias is None or isinstance(alias, str), f"{owner}.alias is not a str or None")
    return Rule(
        str(_read(rule, "origin.name", owner)),
        None if alias is None else str(alias),
        symbols,
        bool(_read(rule, "options.expand1", owner)),
    )
