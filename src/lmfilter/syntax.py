"""Text to surface tree: lexing and parsing with the Lark grammar, and syntax diagnostics.

Lark compiles the grammar (``grammar/lmfilter.lark``) once per process into a lexer and an LALR parse table,
which :mod:`lmfilter.lark_adapter` (the one module that reads Lark's internals) hands over as plain data.
The lexer is total: every character becomes a token, so a stray ``@`` or an unterminated string is reported
with its position instead of stopping the parse. This module runs Lark's table itself, in a shift-reduce
loop that builds AST nodes as it reduces (no parse tree in between). A filter without faults is read
straight through; at the first unexpected token the filter is read again one token at a time, which lets
the parser recover from errors and report all of them:

- a missing ``AND`` between two comparisons is inserted (a warning: MLflow reads it as AND);
- a leading, trailing or doubled ``AND`` is dropped (a warning: MLflow tolerates it);
- elsewhere the broken comparison is skipped up to the next ``AND``, ``OR`` or ``)`` and stands in the
  tree as :class:`~lmfilter.ast.Invalid`, so that the checker still reports problems in the rest.

Lone surrogates (``'\\ud800'``, or the ``'\\udcff'`` Python makes of a byte that is not UTF-8) are reported
too: they are not characters, and no server can be sent them.

The work is bounded: the text is at most :data:`MAX_LENGTH` characters, nesting at most :data:`MAX_DEPTH`
levels, and the mending reader gives up (``LMF110``) once it has reported
:data:`~lmfilter.diagnostics.MAX_DIAGNOSTICS` problems, so that reading stays linear in the text.

The result is a :class:`Surface`: the tree (``None`` only for input too long, too deep, or too broken to
read), the diagnostics, and the spans of grouping parentheses (which the tree does not keep, and servers
reject).

For an editor, :func:`expected_at` reads the text before a cursor the same way (same tokens, same machine,
same recovery) and says what the parser's state takes next there: an :class:`Expected`, whose
:class:`Slot` tells a field from an operator, a value, an IN list's parts, BETWEEN's AND or a connective.

>>> surface = parse_surface("name = 'a' metrics.acc > 1")
>>> [d.code for d in surface.diagnostics]
['LMF108']
>>> surface.tree == parse_surface("name = 'a' AND metrics.acc > 1").tree
True
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, NamedTuple

from lark import Lark

from lmfilter import ast, lark_adapter
from lmfilter.diagnostics import LIMIT_CODE, MAX_DIAGNOSTICS, Diagnostic, Edit, Fix, Span, quoted

MAX_LENGTH = 65_536
"""Longest filter text accepted, in characters."""

MAX_DEPTH = 100
"""Deepest nesting of parentheses and NOT accepted (later stages recurse on the tree)."""

# Diagnostics for what MLflow tolerates but a strict reader should not: warnings here, errors when
# validating a filter for a server (``check(..., native=True)``).
QUIRK_CODES = frozenset({"LMF107", "LMF108"})

_OPERAND_START = frozenset({"FIELD", "WORD", "NOT", "LPAR"})
_CONNECTIVES = frozenset({"AND", "OR", "RPAR", "$END"})
# Where the text read so far ends, mid-filter (see expected_at): recovery stops there as at the end.
_CURSOR = "$CURSOR"
_ENDS = frozenset({"$END", _CURSOR})
_RESUME = _CONNECTIVES | _OPERAND_START | {_CURSOR}
_MENDED = frozenset({"BAD_OP", "UNTERMINATED_STRING", "UNTERMINATED_DQ_STRING", "UNTERMINATED_FIELD"})


@dataclass(frozen=True, slots=True)
class Surface:
    """What the parser read: a surface tree, its diagnostics, and where grouping parentheses stand."""

    text: str
    tree: ast.Expr | None
    diagnostics: tuple[Diagnostic, ...]
    groups: tuple[Span, ...] = ()


def grammar_text(name: str = "lmfilter.lark") -> str:
    """A grammar's source (the filter language's, or ``stackql.lark``): from the installed package, or from
    the repository in a source checkout."""
    packaged = resources.files("lmfilter").joinpath(f"grammar/{name}")
    if packaged.is_file():
        return packaged.read_text(encoding="utf-8")
    return (Path(__file__).resolve().parents[2] / "grammar" / name).read_text(encoding="utf-8")


# The lexer's fault tokens: no rule uses them, so Lark must be told to keep them.
_FAULTS = (
    "BAD_CHAR",
    "BAD_WORD",
    "BAD_OP",
    "UNTERMINATED_STRING",
    "UNTERMINATED_DQ_STRING",
    "UNTERMINATED_FIELD",
)


@functools.cache
def parser() -> Lark:
    """The grammar compiled by Lark, once per process: the lexer and LALR table this module runs."""
    return lark_adapter.compile_lalr(grammar_text(), keep=_FAULTS)


class _Token(NamedTuple):
    """A token as the parser reads it: its terminal, its text, and where it stands."""

    kind: str
    text: str
    start: int
    end: int

    @property
    def span(self) -> Span:
        return Span(self.start, self.end)


def parse_surface(text: str) -> Surface:
    """Parse ``text`` into a surface tree, collecting every syntax diagnostic."""
    if len(text) > MAX_LENGTH:
        return Surface(
            text,
            None,
            (
                _error(
                    "LMF106",
                    f"filter is too long ({len(text):,} characters; at most {MAX_LENGTH:,})",
                    Span(MAX_LENGTH, len(text)),
                ),
            ),
        )
    diagnostics: list[Diagnostic] = []
    _report_surrogates(text, diagnostics)
    tokens = _tokens(text, diagnostics)
    too_deep = _too_deep(tokens)
    if too_deep is not None:
        diagnostics.append(
            _error(
                "LMF105",
                f"filter is nested too deeply (more than {MAX_DEPTH} levels of parentheses and NOT)",
                too_deep,
            )
        )
        return Surface(text, None, tuple(diagnostics))
    tree: ast.Expr | None
    try:
        # Straight through first: the mending reader departs from this reading only where it meets an
        # unexpected token (at a stray AND too, since the table takes no connective after AND).
        tree = _Machine(_table()).run(tokens)
    except _UnexpectedTokenError:
        tree = _Driver(text, tokens, diagnostics).run()
    return Surface(text, tree, tuple(diagnostics), _group_spans(tokens) if "(" in text else ())


# ---- lexing -------------------------------------------------------------------------------------

_SURROGATES = re.compile("[\ud800-\udfff]+")


def _report_surrogates(text: str, diagnostics: list[Diagnostic]) -> None:
    """Report each run of surrogate code points: a pair written as two halves can be mended into the
    character it stands for; a lone one is no character at all (UTF-8, and so any server, cannot take it)."""
    for run in _SURROGATES.finditer(text):
        found, span = run.group(), Span(run.start(), run.end())
        meant = _paired(found)
        if meant is not None:
            message = (
                f"surrogate pair {quoted(found)} is written as its two UTF-16 halves: write the character "
                f"{quoted(meant)} itself"
            )
            diagnostics.append(
                _error(
                    "LMF112", message, span, Fix(f"write {quoted(meant)}", (Edit(span, meant),), safe=True)
                )
            )
            continue
        bytes_meant = all("\udc80" <= char <= "\udcff" for char in found)
        origin = " (it is how Python keeps bytes that are not UTF-8)" if bytes_meant else ""
        what = "surrogates are not characters" if len(found) > 1 else "surrogate is not a character"
        diagnostics.append(
            _error("LMF112", f"lone {what}: no server can be sent {quoted(found)}{origin}", span)
        )


def _paired(surrogates: str) -> str | None:
    """The characters a run of surrogates stands for, if it is whole UTF-16 pairs (high, then low)."""
    if len(surrogates) % 2:
        return None
    try:
        return surrogates.encode("utf-16-le", "surrogatepass").decode("utf-16-le")
    except UnicodeDecodeError:
        return None


@dataclass(frozen=True, slots=True)
class _Scanner:
    """The grammar's terminals as Lark's basic lexer compiles them.

    ``pattern`` is Lark's alternation of the terminals, a named group each in Lark's order of preference,
    after the blanks that come before the token; ``renames`` names the terminals whose match Lark may retype
    (a ``(`` matches BAD_CHAR and becomes LPAR), which ``lexer`` does; ``ignored`` names the blanks'
    terminal, for blanks at the end.
    """

    pattern: re.Pattern[str]
    renames: frozenset[str]
    ignored: frozenset[str]
    lexer: lark_adapter.LexerPatterns


@functools.cache
def _scanner() -> _Scanner:
    lexer = lark_adapter.lexer_patterns(parser())
    alternation = lexer.alternation
    # At a blank only the blanks' terminal (first by priority, see the grammar) and the catch-all BAD_CHAR
    # match, and a run of blanks ends at something else: so skipping the blanks in front of each token
    # lexes as Lark does. Blanks at the very end still match as a token of their own.
    pattern = re.compile(f"(?:{lexer.blanks})?(?:{alternation.pattern})", alternation.flags)
    return _Scanner(pattern, lexer.retyped, lexer.ignored, lexer)


@functools.lru_cache(maxsize=1024)
def _renamed(kind: str, text: str) -> str:
    """The terminal Lark's lexer makes of a match of ``kind`` (once per text: they are short)."""
    return _scanner().lexer.retype(kind, text)


def _tokens(text: str, diagnostics: list[Diagnostic], mend: bool = True) -> list[_Token]:
    """The parser's tokens, with lexical faults reported and mended (unless not ``mend``); ends with ``$END``.

    Lark's basic lexing (same terminals, priorities and callbacks) without the line and column bookkeeping
    that lmfilter never reads. The lexer is total and no terminal matches empty text, so the matches found
    one after another cover the text.
    """
    scanner = _scanner()
    renames, ignored = scanner.renames, scanner.ignored
    mended = _MENDED if mend else frozenset()
    out: list[_Token] = []
    for found in scanner.pattern.finditer(text):
        kind = found.lastgroup or ""
        if kind in ignored:
            continue
        start, end = found.span(kind)
        value = text[start:end]
        if kind in renames:
            kind = _renamed(kind, value)
        tok = _Token(kind, value, start, end)
        out.append(_mended(text, tok, diagnostics) if kind in mended else tok)
    out.append(_Token("$END", "", len(text), len(text)))
    return out


Token = _Token
"""A token of :func:`tokens`: its terminal (``kind``), ``text``, ``start`` and ``end``."""


def tokens(text: str) -> list[Token]:
    """The lexer's tokens of ``text`` as they are: faults neither reported nor mended, no ``$END``.

    They are the tokens Lark's own lexer gives (``parser().lex(text)``), without building a lexer for each
    text as Lark does.

    >>> [(tok.kind, tok.text) for tok in tokens("status = 'RE")]
    [('WORD', 'status'), ('COMPARE_OP', '='), ('UNTERMINATED_STRING', "'RE")]
    """
    return _tokens(text, [], mend=False)[:-1]


def _mended(text: str, tok: _Token, diagnostics: list[Diagnostic]) -> _Token:
    """Report a wrong operator or an unterminated string or key; return the token meant."""
    span = tok.span
    if tok.kind == "BAD_OP":
        replacement = "=" if tok.text == "==" else "!="
        diagnostics.append(
            _error(
                "LMF109",
                f"'{tok.text}' is not an operator; use '{replacement}'",
                span,
                Fix(f"replace with '{replacement}'", (Edit(span, replacement),), safe=True),
            )
        )
        return tok._replace(kind="COMPARE_OP", text=replacement)
    closing = {"UNTERMINATED_STRING": "'", "UNTERMINATED_DQ_STRING": '"'}.get(tok.kind, "`")
    what = "key" if closing == "`" else "string"
    end = Span(len(text), len(text))
    diagnostics.append(
        _error(
            "LMF103",
            f"unterminated {what}: add the closing {closing}",
            span,
            Fix(f"add the closing {closing}", (Edit(end, closing),)),
        )
    )
    return tok._replace(kind=tok.kind.removeprefix("UNTERMINATED_"), text=tok.text + closing)


def _too_deep(tokens: list[_Token]) -> Span | None:
    """Where nesting first exceeds MAX_DEPTH, counting each open parenthesis and each NOT in a chain."""
    if len(tokens) <= MAX_DEPTH:
        return None  # each level takes a token
    nots = [0]  # NOTs in front of the operand being read, per open parenthesis
    depth = 0  # open parentheses and all the NOTs counted in ``nots``
    for tok in tokens:
        kind = tok.kind
        if kind == "LPAR":
            nots.append(0)
            depth += 1
        elif kind == "RPAR":
            if len(nots) > 1:
                depth -= nots.pop() + 1
            depth -= nots[-1]
            nots[-1] = 0
        elif kind == "NOT":
            nots[-1] += 1
            depth += 1
        elif kind in ("AND", "OR"):
            depth -= nots[-1]
            nots[-1] = 0
        if depth > MAX_DEPTH:
            return tok.span
    return None


def _group_spans(tokens: list[_Token]) -> tuple[Span, ...]:
    """The grouping parentheses (not those of an IN list)."""
    return tuple(
        tok.span
        for i, tok in enumerate(tokens)
        if tok.kind == "LPAR" and (i == 0 or tokens[i - 1].kind != "IN")
    )


# ---- the LALR machine ---------------------------------------------------------------------------

_Reduction = Callable[[list[Any]], Any]


@dataclass(frozen=True, slots=True)
class _Table:
    """Lark's LALR table for the grammar, laid out for a tight loop.

    ``actions[state]`` maps a terminal to the state to shift to (``>= 0``) or to ``~r`` to reduce by rule
    ``r``, and a rule's name to the state to go to once reduced to it. ``rules[r]`` holds the rule's length,
    its name, and how its value is built from its children's (``None``: its one child's value passes on).
    ``terminals`` names the terminals the machine may be fed (``$END`` too, but not ``RECOVERED``, which only
    the recovery feeds), and ``fields`` the states whose value is a condition's field (for
    :func:`expected_at`).
    """

    actions: tuple[dict[str, int], ...]
    rules: tuple[tuple[int, str, _Reduction | None], ...]
    start: int
    end: int
    terminals: frozenset[str]
    fields: frozenset[int]


@functools.cache
def _table() -> _Table:
    table = lark_adapter.lalr_table(parser())
    rules = table.rules()
    numbers = {rule: number for number, rule in enumerate(rules)}
    actions = tuple(
        {
            name: action.state if isinstance(action, lark_adapter.Shift) else ~numbers[action.rule]
            for name, action in row.items()
        }
        for row in table.states
    )
    for row in actions:
        after_and = row.get("AND", -1)
        if after_and >= 0 and _CONNECTIVES & actions[after_and].keys():  # pragma: no cover - grammar bug
            raise AssertionError("the grammar lets a connective follow AND; parse_surface assumes not")
    # A condition's field is its FIELD or WORD token until the next token reduces it to a ``field``.
    fields = frozenset(
        state
        for state, row in enumerate(table.states)
        if any(isinstance(a, lark_adapter.Reduce) and a.rule.origin == "field" for a in row.values())
    ) | frozenset(
        action.state for row in table.states if isinstance(action := row.get("field"), lark_adapter.Shift)
    )
    return _Table(
        actions,
        tuple((len(rule.expansion), rule.origin, _reduction(rule)) for rule in rules),
        table.start,
        table.end,
        frozenset(name for row in actions for name in row if name.isupper()) - {"RECOVERED"},
        fields,
    )


def _reduction(rule: lark_adapter.Rule) -> _Reduction | None:
    """How a rule's value is built from its children's, the way Lark's tree builder shapes children.

    A repetition's helper rule (``__conjunction_star_1``) makes a list of its items, spliced into the
    parent's children; a ``?rule`` of one symbol passes its child on; any other rule is built by the
    :class:`_Builder` method named by its alias or name.
    """
    name = rule.alias or rule.origin
    spliced = frozenset(
        i for i, symbol in enumerate(rule.expansion) if not symbol.is_terminal and symbol.name.startswith("_")
    )
    build: _Reduction
    if name.startswith("_"):
        if spliced == {0}:  # left-recursive: extend the list so far in place (linear, not quadratic)
            return _extended
        build = _items
    elif rule.expand1 and len(rule.expansion) == 1 and not spliced:
        return None
    else:
        build = getattr(_BUILDER, name)
    if not spliced:
        return build

    def spliced_then_built(children: list[Any]) -> Any:
        flat: list[Any] = []
        for i, child in enumerate(children):
            if i in spliced:
                flat.extend(child)
            else:
                flat.append(child)
        return build(flat)

    return spliced_then_built


def _items(children: list[Any]) -> list[Any]:
    return children


def _extended(children: list[Any]) -> list[Any]:
    items: list[Any] = children[0]
    items += children[1:]
    return items


class _UnexpectedTokenError(Exception):
    """The table has no action for a token; ``expected`` names the terminals it has one for."""

    def __init__(self, expected: frozenset[str]) -> None:
        super().__init__(expected)
        self.expected = expected


class _Machine:
    """One run of the LALR table: its stack of states and the values built for them."""

    __slots__ = ("_table", "states", "values")

    def __init__(self, table: _Table) -> None:
        self._table = table
        self.states = [table.start]
        self.values: list[Any] = []

    def run(self, tokens: Iterable[_Token]) -> Any:
        """Feed ``tokens`` in turn, making the reductions each calls for before shifting it; once fed
        ``$END``, return the filter's value.

        Raises :class:`_UnexpectedTokenError` at a token the table has no action for, with the reductions
        made so far kept (as Lark's parser keeps them).
        """
        actions, rules, end = self._table.actions, self._table.rules, self._table.end
        states, values = self.states, self.values
        for tok in tokens:
            kind = tok.kind
            action = actions[states[-1]].get(kind)
            while action is not None and action < 0:
                size, name, build = rules[~action]
                if build is None:  # its one child's value stands for it
                    del states[-1]
                elif size:
                    children = values[-size:]
                    del states[-size:]
                    del values[-size:]
                    values.append(build(children))
                else:
                    values.append(build([]))
                states.append(actions[states[-1]][name])
                if kind == "$END" and states[-1] == end:
                    return values[-1]
                action = actions[states[-1]].get(kind)
            if action is None:
                raise _UnexpectedTokenError(frozenset(name for name in actions[states[-1]] if name.isupper()))
            states.append(action)
            values.append(tok)
        return None

    def feed(self, tok: _Token) -> Any:
        """Feed one token (see :meth:`run`)."""
        return self.run((tok,))

    def accepts(self, kind: str) -> bool:
        """Whether a ``kind`` token could come next (tried on a copy of the states; nothing is built)."""
        actions, rules, end = self._table.actions, self._table.rules, self._table.end
        states = self.states.copy()
        while True:
            action = actions[states[-1]].get(kind)
            if action is None:
                return False
            if action >= 0:
                return True
            size, name, _ = rules[~action]
            if size:
                del states[-size:]
            states.append(actions[states[-1]][name])
            if kind == "$END" and states[-1] == end:
                return True

    def pop(self) -> Any:
        """Drop the top state; return its value."""
        self.states.pop()
        return self.values.pop()


# ---- parsing with recovery ----------------------------------------------------------------------


class _Driver:
    """Feeds tokens to the LALR machine one at a time, mending what it can and reporting the rest.

    It reads as the machine reads straight through up to the first unexpected token, so
    :func:`parse_surface` needs it only once that reading fails. The tokens end with ``$END``, or with a
    ``$CURSOR`` token for text that goes on past what is read (:func:`expected_at`): there the driver stops
    with the machine in the state it reached.
    """

    def __init__(self, text: str, tokens: list[_Token], diagnostics: list[Diagnostic]) -> None:
        self.text = text
        self.tokens = tokens
        self.diagnostics = diagnostics
        self.machine = _Machine(_table())
        self.gave_up = False

    def run(self) -> ast.Expr | None:
        """The tree as mended; ``None`` once there were too many problems to go on (reported as LMF110, and
        :attr:`gave_up` set), or at a ``$CURSOR`` token."""
        tokens = self.tokens
        feed = self.machine.feed
        i = 0
        budget = 4 * len(tokens) + 16  # every step advances or mends; this only guards against a bug
        # Each report costs far more than reading a token, so a limit on them keeps broken text linear.
        give_up_at = len(self.diagnostics) + MAX_DIAGNOSTICS
        while budget:
            budget -= 1
            tok = tokens[i]
            if len(self.diagnostics) >= give_up_at:
                self.diagnostics.append(
                    _error(
                        LIMIT_CODE,
                        f"too many syntax problems ({MAX_DIAGNOSTICS}): the filter is read no further",
                        Span(tok.start, len(self.text)),
                    )
                )
                self.gave_up = True
                return None
            if tok.kind == _CURSOR:
                return None
            if tok.kind == "AND" and self._stray_and(i):
                i += 1
                continue
            if not self.machine.accepts(tok.kind):
                # Asked before feeding: a token the table refuses may first trigger reductions (its row
                # reduces on it by default), which would close conditions that the text after it goes on.
                i = self._recover(i, {name for name in _table().terminals if self.machine.accepts(name)})
                continue
            if tok.kind == "$END":
                tree: ast.Expr = feed(tok)
                return tree
            feed(tok)
            i += 1
        raise AssertionError("parser recovery did not terminate")  # pragma: no cover

    def _stray_and(self, i: int) -> bool:
        """An AND with nothing after it to join (``a AND``, ``a AND AND b``, ``a AND )``) is dropped."""
        following = self.tokens[i + 1].kind
        if following not in _CONNECTIVES or not self.machine.accepts(following):
            return False
        self._stray_and_warning(self.tokens[i])
        return True

    def _stray_and_warning(self, tok: _Token) -> None:
        span = tok.span
        wide = _widen_to_space(self.text, span)
        self.diagnostics.append(
            Diagnostic(
                "LMF107",
                "warning",
                "stray AND: nothing on one side to join (MLflow ignores it)",
                span,
                (Fix("remove the AND", (Edit(wide, ""),), safe=True),),
            )
        )

    def _recover(self, i: int, expected: set[str]) -> int:
        """Report the fault at token ``i``, mend the machine's state, and return where to go on."""
        tok = self.tokens[i]
        if tok.kind == "AND" and "FIELD" in expected:  # a leading or doubled AND
            self._stray_and_warning(tok)
            return i + 1
        if tok.kind in _OPERAND_START and "AND" in expected:
            at = Span(tok.start, tok.start)
            self.diagnostics.append(
                Diagnostic(
                    "LMF108",
                    "warning",
                    "missing AND between two conditions (MLflow reads them as joined by AND)",
                    tok.span,
                    (Fix("insert AND", (Edit(at, "AND "),)),),
                )
            )
            self.machine.feed(_Token("AND", "AND", at.start, at.start))
            return i
        if tok.kind == "$END":
            # After an unterminated string or key, which runs to the end, the end is no news.
            if not any(d.code == "LMF103" for d in self.diagnostics):
                self.diagnostics.append(self._unexpected(tok, expected))
            self._finish()
            return i
        if expected <= _CONNECTIVES:
            # A complete condition followed by junk: drop the junk, up to where a condition could go on.
            j = i + 1
            while self.tokens[j].kind not in _RESUME:
                j += 1
            self.diagnostics.append(self._unexpected(tok, expected, self.tokens[j - 1]))
            return j
        self.diagnostics.append(self._unexpected(tok, expected))
        return self._skip_condition(i)

    def _skip_condition(self, i: int) -> int:
        """Replace the broken condition by a placeholder; return the index of the next AND/OR/)/end."""
        unclosed = 0
        while not self.machine.accepts("RECOVERED"):
            popped = self.machine.pop()
            if isinstance(popped, _Token) and popped.kind == "LPAR":
                unclosed += 1
        start = self.tokens[i].start
        j = i
        while True:
            kind = self.tokens[j].kind
            if kind in _ENDS or (kind in ("AND", "OR") and unclosed == 0):
                break
            if kind == "RPAR":
                if unclosed == 0:
                    break
                unclosed -= 1
            elif kind == "LPAR":
                unclosed += 1
            j += 1
        end = max(start, self.tokens[j - 1].end) if j > i else start
        self.machine.feed(_Token("RECOVERED", "", start, end))
        if j == i and self.tokens[j].kind not in _ENDS and not self.machine.accepts(self.tokens[j].kind):
            j += 1  # the faulty token itself cannot follow: drop it, so that every step advances
        return j

    def _finish(self) -> None:
        """At the end of the text: close what is open so that the tree can be built."""
        end = len(self.text)
        popped = False
        while True:
            if popped and self.machine.accepts("RECOVERED"):
                self.machine.feed(_Token("RECOVERED", "", end, end))
                popped = False
            elif self.machine.accepts("RPAR"):
                self.machine.feed(_Token("RPAR", ")", end, end))
            elif self.machine.accepts("$END"):
                return
            else:
                self.machine.pop()
                popped = True

    def _unexpected(self, tok: _Token, expected: set[str], last: _Token | None = None) -> Diagnostic:
        wanted = _describe_expected(expected)
        if tok.kind == "$END":
            at = len(self.text.rstrip())
            span = Span(at, at)
            fixes: tuple[Fix, ...] = ()
            if "RPAR" in expected:
                fixes = (Fix("add ')'", (Edit(Span(len(self.text), len(self.text)), ")"),)),)
            return _error("LMF102", f"unexpected end of filter; expected {wanted}", span, *fixes)
        span = tok.span.cover((last or tok).span)
        if tok.kind == "RPAR" and "RPAR" not in expected and expected <= _CONNECTIVES:
            return _error("LMF101", "unmatched ')'", span, Fix("remove the ')'", (Edit(span, ""),)))
        code = "LMF104" if tok.kind.startswith("BAD_") else "LMF101"
        return _error(code, f"unexpected {quoted(tok.text)}; expected {wanted}", span)


def _describe_expected(expected: Iterable[str]) -> str:
    """Name what the parser wanted in words a user knows."""
    names = set(expected)
    parts: list[str] = []
    if "FIELD" in names:
        parts.append("a field (metrics.<key>, params.<key>, tags.<key> or an attribute)")
    elif names & {"STRING", "NUMBER"}:
        parts.append("a value ('text' or a number)")
    if "COMPARE_OP" in names:
        parts.append("an operator (= != < <= > >= LIKE ILIKE IN IS BETWEEN)")
    else:
        parts.extend(name for name in ("LIKE", "ILIKE", "IN", "BETWEEN", "NULL") if name in names)
    if "NOT" in names and "COMPARE_OP" not in names and "FIELD" not in names:
        parts.append("NOT")
    for name, shown in (("LPAR", "'('"), ("COMMA", "','"), ("RPAR", "')'"), ("AND", "AND"), ("OR", "OR")):
        if name in names and not (name == "LPAR" and "FIELD" in names):
            parts.append(shown)
    if "$END" in names:
        parts.append("the end of the filter")
    if not parts:
        return "something else"
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " or " + parts[-1]


def _widen_to_space(text: str, span: Span) -> Span:
    """The span plus the blanks after it (or, at the end, before it), so removing it leaves tidy text."""
    end = span.end
    while end < len(text) and text[end] in " \t":
        end += 1
    if end < len(text):
        return Span(span.start, end)
    start = span.start
    while start > 0 and text[start - 1] in " \t":
        start -= 1
    return Span(start, span.end)


def _error(code: str, message: str, span: Span, *fixes: Fix) -> Diagnostic:
    return Diagnostic(code, "error", message, span, fixes)


# ---- what may come next -------------------------------------------------------------------------


class Slot(enum.Enum):
    """What goes at a point of a filter, as the parser's state there says (see :func:`expected_at`)."""

    OPERAND = "a condition: a field, NOT or '('"
    OPERATOR = "an operator after a field"
    NEGATED = "LIKE, ILIKE, IN or BETWEEN after a field's NOT"
    NULL = "NULL after IS (or NOT NULL, when NOT is among the terminals)"
    VALUE = "the value a field is compared with"
    LIST_OPEN = "the '(' of an IN list"
    LIST_VALUE = "a value of an IN list, or its ')'"
    LIST_NEXT = "',' or ')' after a value of an IN list"
    LOW = "the low bound of BETWEEN"
    BETWEEN_AND = "the AND of BETWEEN"
    HIGH = "the high bound of BETWEEN"
    CONNECTIVE = "AND, OR, ')' or the end, after a condition"
    NOTHING = "nothing: the filter is too long, too deeply nested or too broken to read"


_IN_CONDITION = frozenset(Slot) - {Slot.OPERAND, Slot.CONNECTIVE, Slot.NOTHING}

# The tokens a word being typed may lex as so far; an open string runs to the cursor and holds blanks.
_OPEN_KINDS = frozenset({"UNTERMINATED_STRING", "UNTERMINATED_DQ_STRING", "UNTERMINATED_FIELD"})
_KEYWORDS = frozenset({"AND", "OR", "NOT", "IN", "LIKE", "ILIKE", "IS", "NULL", "BETWEEN"})
_PARTIAL_KINDS = _OPEN_KINDS | _KEYWORDS | {"FIELD", "WORD", "NUMBER", "BAD_WORD"}


class Partial(NamedTuple):
    """The word being typed at the cursor: it starts at ``start`` and reads ``text`` up to the cursor.

    ``kind`` is the terminal it lexes as so far (``UNTERMINATED_STRING`` for ``'RE``); a word cut short may
    lex as several tokens (``metrics.`` is WORD then BAD_WORD), and then ``kind`` is the first one's.
    """

    kind: str
    text: str
    start: int


@dataclass(frozen=True, slots=True)
class Expected:
    """What may come next at ``offset`` of a filter, read from the parser's own LALR state there.

    ``terminals`` names the grammar's terminals the parser takes next (``FIELD``, ``WORD``, ``COMPARE_OP``,
    ``STRING``, ``NUMBER``, ``DQ_STRING``, ``AND``, ``OR``, ``NOT``, ``IN``, ``LIKE``, ``ILIKE``, ``IS``,
    ``NULL``, ``BETWEEN``, ``LPAR``, ``RPAR``, ``COMMA``, and ``$END`` where the filter may end), and
    ``slot`` says what that is, in a completion's terms. Inside a condition (an operator, a value, an IN
    list, BETWEEN's bounds) ``field`` is the condition's field as written. ``partial`` is the word being typed
    at the cursor, left out of the reading: what comes next is what may replace it, from :attr:`start` on.
    """

    slot: Slot
    terminals: frozenset[str]
    field: str | None
    partial: Partial | None
    offset: int

    @property
    def start(self) -> int:
        """Where a completion's text goes: the start of the word being typed, or else the cursor."""
        return self.offset if self.partial is None else self.partial.start


def expected_at(text: str, offset: int) -> Expected:
    """What may be written at ``offset`` of ``text``, a filter being edited.

    ``text[:offset]`` is lexed and read as :func:`parse_surface` reads it, with the same recovery from
    errors (after a broken condition the parser goes on where its recovery does), except that the text
    read is not taken to end there. The word being typed at the cursor is not read (see
    :attr:`Expected.partial`). ``offset`` counts characters (code points), as slicing does, and must lie
    within ``text``.
    Text that the parser does not read (longer than :data:`MAX_LENGTH`, nested deeper than
    :data:`MAX_DEPTH`, or too broken) has :attr:`Slot.NOTHING` next.

    >>> expected_at("metrics.acc ", 12).slot, expected_at("metrics.acc ", 12).field
    (<Slot.OPERATOR: 'an operator after a field'>, 'metrics.acc')
    >>> after = expected_at("status IN ('READY', 'FA", 23)
    >>> after.slot.name, after.field, after.partial
    ('LIST_VALUE', 'status', Partial(kind='UNTERMINATED_STRING', text="'FA", start=20))
    >>> sorted(expected_at("(name = 'a' OR nam", 18).terminals)
    ['FIELD', 'LPAR', 'NOT', 'WORD']
    >>> sorted(expected_at("name = = 'a' ", 13).terminals)  # a broken condition, read past as parsing does
    ['$END', 'AND', 'OR']
    >>> expected_at("metrics.acc BETWEEN 1 ", 22).slot.name
    'BETWEEN_AND'
    """
    if not 0 <= offset <= len(text):
        raise ValueError(f"offset {offset} is outside the text (0 to {len(text)})")
    if len(text) > MAX_LENGTH:
        return Expected(Slot.NOTHING, frozenset(), None, None, offset)
    before = text[:offset]
    diagnostics: list[Diagnostic] = []  # the parse reports them; here only the reading counts
    tokens = _tokens(before, diagnostics, mend=False)
    tokens.pop()  # $END: the text goes on
    first, edge = len(tokens), offset
    while first and tokens[first - 1].end == edge and tokens[first - 1].kind in _PARTIAL_KINDS:
        first -= 1
        edge = tokens[first].start
        if tokens[first].kind in _OPEN_KINDS:  # it runs from its quote on: nothing before is part of it
            break
    partial = None if first == len(tokens) else Partial(tokens[first].kind, before[edge:], edge)
    read = [_mended(before, tok, diagnostics) if tok.kind in _MENDED else tok for tok in tokens[:first]]
    read.append(_Token(_CURSOR, "", edge, edge))
    if _too_deep(read) is not None:
        return Expected(Slot.NOTHING, frozenset(), None, partial, offset)
    machine = _Machine(_table())
    try:  # straight through first, as parse_surface reads (the cursor is no token the machine takes)
        machine.run(read[:-1])
    except _UnexpectedTokenError:
        driver = _Driver(before, read, diagnostics)
        driver.run()
        if driver.gave_up:
            return Expected(Slot.NOTHING, frozenset(), None, partial, offset)
        machine = driver.machine
    terminals = frozenset(kind for kind in _table().terminals if machine.accepts(kind))
    slot = _slot(terminals, machine)
    return Expected(slot, terminals, _field_read(machine) if slot in _IN_CONDITION else None, partial, offset)


def _slot(terminals: frozenset[str], machine: _Machine) -> Slot:
    """What the terminals the machine takes next stand for; BETWEEN's bounds are told apart by the stack."""
    if not terminals:
        return Slot.NOTHING
    if "FIELD" in terminals:
        return Slot.OPERAND
    if "COMPARE_OP" in terminals:
        return Slot.OPERATOR
    if "NULL" in terminals:
        return Slot.NULL
    if "LIKE" in terminals:
        return Slot.NEGATED
    if "STRING" in terminals:
        if "RPAR" in terminals:
            return Slot.LIST_VALUE
        top = machine.values[-1]
        if isinstance(top, _Token) and top.kind == "BETWEEN":
            return Slot.LOW
        return Slot.HIGH if "BETWEEN" in _condition_kinds(machine) else Slot.VALUE
    if "COMMA" in terminals:
        return Slot.LIST_NEXT
    if "LPAR" in terminals:
        return Slot.LIST_OPEN
    if "OR" not in terminals and "AND" in terminals:
        return Slot.BETWEEN_AND
    return Slot.CONNECTIVE


def _field_index(machine: _Machine) -> int | None:
    """The index in the machine's values of the field of the condition being read, if one is."""
    fields = _table().fields
    states = machine.states
    for i in range(len(states) - 1, 0, -1):
        if states[i] in fields:
            return i - 1  # the start state has no value
    return None


def _field_read(machine: _Machine) -> str | None:
    """The field of the condition being read, as written (the condition's FIELD or WORD token, or the
    field it was reduced to)."""
    i = _field_index(machine)
    if i is None:
        return None
    value = machine.values[i]
    return value.written if isinstance(value, ast.Field) else str(value.text)


def _condition_kinds(machine: _Machine) -> set[str]:
    """The terminals read in the condition being read, after its field."""
    i = _field_index(machine)
    after = machine.values[i + 1 :] if i is not None else []
    return {value.kind for value in after if isinstance(value, _Token)}


# ---- tree building ------------------------------------------------------------------------------

_ENTITIES = {entity.value: entity for entity in ast.Entity}
_OPS = {op.value: op for op in ast.Op}
_VALUE_NODES = (ast.String, ast.Number, ast.StatusValue, ast.Word, ast.DoubleQuoted)


def field_from_text(text: str, span: Span = ast.NO_SPAN) -> ast.Field:
    """The surface field for a FIELD or WORD token.

    A known prefix gives its entity; anything else (``metric.acc``, ``nmae``) is an attribute whose name is
    the whole text, for the checker to report.

    >>> field_from_text("params.a.b")
    Field(entity=<Entity.PARAM: 'params'>, key='a.b', type=<ValueType.UNKNOWN: 'unknown'>)
    >>> field_from_text("tags.`my key`").key
    'my key'
    """
    prefix, dot, key = text.partition(".")
    entity = _ENTITIES.get(prefix) if dot else None
    if entity is None:
        return ast.Field(ast.Entity.ATTRIBUTE, text, written=text, span=span)
    if len(key) >= 2 and key[0] == key[-1] and key[0] in '`"':
        key = key[1:-1]
    return ast.Field(entity, key, written=text, span=span)


class _Builder:
    """The value of each rule, by the rule's alias or name: AST nodes, built as the machine reduces.

    Children come in the order of the rule's symbols: tokens for terminals, built values for rules. They
    stand in reading order, so a node's span runs from its first child's start to its last one's end.
    """

    def start(self, children: list[Any]) -> ast.Expr:
        return children[0] if children else ast.MATCH_ALL

    def disjunction(self, children: list[Any]) -> ast.Or:
        items = tuple(children[::2])
        return ast.Or(items, span=_cover(items))

    def conjunction(self, children: list[Any]) -> ast.And:
        items = tuple(children[::2])
        return ast.And(items, span=_cover(items))

    def negation(self, children: list[Any]) -> ast.Not:
        not_tok, item = children
        return ast.Not(item, span=Span(not_tok.start, item.span.end))

    def group(self, children: list[Any]) -> ast.Expr:
        lpar, item, rpar = children
        grouped: ast.Expr = dataclasses.replace(item, span=Span(lpar.start, rpar.end))
        return grouped

    def compare(self, children: list[Any]) -> ast.Compare:
        field, op, value = children
        return ast.Compare(field, _OPS[op.text], value, span=Span(field.span.start, value.span.end))

    def like(self, children: list[Any]) -> ast.Like:
        field, *words, pattern = children
        negated = len(words) == 2
        insensitive = words[-1].kind == "ILIKE"
        return ast.Like(field, pattern, negated, insensitive, span=Span(field.span.start, pattern.span.end))

    def in_list(self, children: list[Any]) -> ast.In:
        field = children[0]
        negated = children[1].kind == "NOT"
        values = tuple([c for c in children[2:] if isinstance(c, _VALUE_NODES)])
        return ast.In(field, values, negated, span=Span(field.span.start, children[-1].end))

    def is_null(self, children: list[Any]) -> ast.IsNull:
        field, *words = children
        return ast.IsNull(field, len(words) == 3, span=Span(field.span.start, words[-1].end))

    def between(self, children: list[Any]) -> ast.Between:
        field = children[0]
        negated = children[1].kind == "NOT"
        low, high = children[-3], children[-1]
        return ast.Between(field, low, high, negated, span=Span(field.span.start, high.span.end))

    def recovered(self, children: list[Any]) -> ast.Invalid:
        return ast.Invalid(span=children[0].span)

    def field(self, children: list[Any]) -> ast.Field:
        tok = children[0]
        return field_from_text(tok.text, Span(tok.start, tok.end))

    def value(self, children: list[Any]) -> ast.Value:
        tok = children[0]
        text, span = tok.text, Span(tok.start, tok.end)
        match tok.kind:
            case "STRING":
                return ast.String(text[1:-1].replace("''", "'"), span=span)
            case "NUMBER":
                return ast.Number(text, span=span)
            case "DQ_STRING":
                return ast.DoubleQuoted(text[1:-1], span=span)
            case _:
                return ast.Word(text, span=span)


_BUILDER = _Builder()


def _cover(nodes: Iterable[ast.Node]) -> Span:
    spans = [node.span for node in nodes]
    return Span(min(span.start for span in spans), max(span.end for span in spans))
