"""Text to surface tree: lexing and parsing with the Lark grammar, and syntax diagnostics.

The grammar (``grammar/lmfilter.lark``) is compiled once per process into an LALR parser whose lexer is
total: every character becomes a token, so a stray ``@`` or an unterminated string is reported with its
position instead of stopping the parse. Tokens are fed to Lark's interactive parser one at a time, which
lets this module recover from errors and report all of them:

- a missing ``AND`` between two comparisons is inserted (a warning: MLflow reads it as AND);
- a leading, trailing or doubled ``AND`` is dropped (a warning: MLflow tolerates it);
- elsewhere the broken comparison is skipped up to the next ``AND``, ``OR`` or ``)`` and stands in the
  tree as :class:`~lmfilter.ast.Invalid`, so that the checker still reports problems in the rest.

The result is a :class:`Surface`: the tree (``None`` only for input too long or too deep to parse), the
diagnostics, and the spans of grouping parentheses (which the tree does not keep, and servers reject).

>>> surface = parse_surface("name = 'a' metrics.acc > 1")
>>> [d.code for d in surface.diagnostics]
['LMF108']
>>> surface.tree == parse_surface("name = 'a' AND metrics.acc > 1").tree
True
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from lark import Lark, Token, Transformer, UnexpectedToken
from lark.lark import PostLex
from lark.parsers.lalr_interactive_parser import InteractiveParser

from lmfilter import ast
from lmfilter.diagnostics import Diagnostic, Edit, Fix, Span

MAX_LENGTH = 65_536
"""Longest filter text accepted, in characters."""

MAX_DEPTH = 100
"""Deepest nesting of parentheses and NOT accepted (later stages recurse on the tree)."""

# Diagnostics for what MLflow tolerates but a strict reader should not: warnings here, errors when
# validating a filter for a server (``check(..., native=True)``).
QUIRK_CODES = frozenset({"LMF107", "LMF108"})

_OPERAND_START = frozenset({"FIELD", "WORD", "NOT", "LPAR"})
_CONNECTIVES = frozenset({"AND", "OR", "RPAR", "$END"})
_OPERATOR_TERMINALS = ("COMPARE_OP", "LIKE", "ILIKE", "IN", "IS", "BETWEEN")


@dataclass(frozen=True, slots=True)
class Surface:
    """What the parser read: a surface tree, its diagnostics, and where grouping parentheses stand."""

    text: str
    tree: ast.Expr | None
    diagnostics: tuple[Diagnostic, ...]
    groups: tuple[Span, ...] = ()


def grammar_text() -> str:
    """The grammar's source: from the installed package, or from the repository in a source checkout."""
    packaged = resources.files("lmfilter").joinpath("grammar/lmfilter.lark")
    if packaged.is_file():
        return packaged.read_text(encoding="utf-8")
    return (Path(__file__).resolve().parents[2] / "grammar" / "lmfilter.lark").read_text(encoding="utf-8")


@functools.cache
def parser() -> Lark:
    """The one LALR parser of this process, building AST nodes as it reduces."""
    return Lark(
        grammar_text(),
        parser="lalr",
        lexer="basic",
        transformer=_Builder(),
        maybe_placeholders=True,
        postlex=_KeepFaultTokens(),
    )


@functools.cache
def _scanner() -> tuple[tuple[re.Pattern[str], ...], dict[str, Callable[[Token], Token]], frozenset[str]]:
    """The grammar's terminals as Lark compiles them (its regexes, keyword callbacks, ignored types), once."""
    lexer: Any = parser()._build_lexer()
    scanner = lexer.scanner
    return tuple(scanner._mres), dict(lexer.callback), frozenset(lexer.ignore_types)


def _scan(text: str) -> Iterator[Token]:
    """Lark's basic lexing of ``text`` (same terminals, priorities and keyword callbacks), without the line
    and column bookkeeping that lmfilter never reads: the lexer is total, so every position matches."""
    patterns, callbacks, ignored = _scanner()
    pos, end = 0, len(text)
    while pos < end:
        for pattern in patterns:
            found = pattern.match(text, pos)
            if found:
                break
        else:  # pragma: no cover - BAD_CHAR matches any character
            raise AssertionError(f"no terminal matches at {pos}")
        value, kind = found.group(0), found.lastgroup or ""
        after = pos + len(value)
        if kind not in ignored:
            tok = Token(kind, value, start_pos=pos, end_pos=after)
            yield callbacks[kind](tok) if kind in callbacks else tok
        pos = after


class _KeepFaultTokens(PostLex):
    """Keeps the lexer's fault tokens, which no rule uses (Lark would drop them otherwise)."""

    always_accept = (
        "BAD_CHAR",
        "BAD_WORD",
        "BAD_OP",
        "UNTERMINATED_STRING",
        "UNTERMINATED_DQ_STRING",
        "UNTERMINATED_FIELD",
    )

    def process(self, stream: Iterator[Token]) -> Iterator[Token]:
        return stream


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
    tree = _Driver(text, tokens, diagnostics).run()
    return Surface(text, tree, tuple(diagnostics), _group_spans(tokens))


# ---- lexing -------------------------------------------------------------------------------------


def _tokens(text: str, diagnostics: list[Diagnostic]) -> list[Token]:
    """The parser's tokens, with lexical faults reported and mended (or dropped); ends with ``$END``."""
    out: list[Token] = []
    for tok in _scan(text):
        span = Span(tok.start_pos or 0, tok.end_pos or 0)
        kind = tok.type
        if kind == "BAD_OP":
            replacement = "=" if tok == "==" else "!="
            diagnostics.append(
                _error(
                    "LMF109",
                    f"'{tok}' is not an operator; use '{replacement}'",
                    span,
                    Fix(f"replace with '{replacement}'", (Edit(span, replacement),)),
                )
            )
            tok = _retyped(tok, "COMPARE_OP", replacement)
        elif kind.startswith("UNTERMINATED_"):
            closing = {"UNTERMINATED_STRING": "'", "UNTERMINATED_DQ_STRING": '"'}.get(kind, "`")
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
            tok = _retyped(tok, kind.removeprefix("UNTERMINATED_"), str(tok) + closing)
        out.append(tok)
    out.append(Token("$END", "", start_pos=len(text), end_pos=len(text)))
    return out


def _retyped(tok: Token, kind: str, value: str) -> Token:
    return Token(kind, value, start_pos=tok.start_pos, end_pos=tok.end_pos)


def _too_deep(tokens: list[Token]) -> Span | None:
    """Where nesting first exceeds MAX_DEPTH, counting each open parenthesis and each NOT in a chain."""
    nots = [0]  # NOTs in front of the operand being read, per open parenthesis
    for tok in tokens:
        if tok.type == "LPAR":
            nots.append(0)
        elif tok.type == "RPAR":
            if len(nots) > 1:
                nots.pop()
            nots[-1] = 0
        elif tok.type == "NOT":
            nots[-1] += 1
        elif tok.type in ("AND", "OR"):
            nots[-1] = 0
        if len(nots) - 1 + sum(nots) > MAX_DEPTH:
            return Span(tok.start_pos or 0, tok.end_pos or 0)
    return None


def _group_spans(tokens: list[Token]) -> tuple[Span, ...]:
    """The grouping parentheses (not those of an IN list)."""
    return tuple(
        Span(tok.start_pos or 0, tok.end_pos or 0)
        for before, tok in zip([None, *tokens], tokens, strict=False)
        if tok.type == "LPAR" and (before is None or before.type != "IN")
    )


# ---- parsing with recovery ----------------------------------------------------------------------


class _Driver:
    """Feeds tokens to the interactive parser, mending what it can and reporting the rest."""

    def __init__(self, text: str, tokens: list[Token], diagnostics: list[Diagnostic]) -> None:
        self.text = text
        self.tokens = tokens
        self.diagnostics = diagnostics
        self.ip: InteractiveParser = parser().parse_interactive()

    def run(self) -> ast.Expr:
        tokens = self.tokens
        i = 0
        budget = 4 * len(tokens) + 16  # every step advances or mends; this only guards against a bug
        while budget:
            budget -= 1
            tok = tokens[i]
            if tok.type == "AND" and self._stray_and(i):
                i += 1
                continue
            try:
                if tok.type == "$END":
                    return self._result(self.ip.feed_token(tok))
                self.ip.feed_token(tok)
                i += 1
            except UnexpectedToken as err:
                i = self._recover(i, {name for name in err.expected if self._accepts(name)})
        raise AssertionError("parser recovery did not terminate")  # pragma: no cover

    def _result(self, value: Any) -> ast.Expr:
        return value if isinstance(value, ast.Node) else ast.MATCH_ALL  # type: ignore[return-value]

    def _stray_and(self, i: int) -> bool:
        """An AND with nothing after it to join (``a AND``, ``a AND AND b``, ``a AND )``) is dropped."""
        following = self.tokens[i + 1].type
        if following not in _CONNECTIVES or not self._accepts(following):
            return False
        self._stray_and_warning(self.tokens[i])
        return True

    def _stray_and_warning(self, tok: Token) -> None:
        span = _span(tok)
        wide = _widen_to_space(self.text, span)
        self.diagnostics.append(
            Diagnostic(
                "LMF107",
                "warning",
                "stray AND: nothing on one side to join (MLflow ignores it)",
                span,
                (Fix("remove the AND", (Edit(wide, ""),)),),
            )
        )

    def _recover(self, i: int, expected: set[str]) -> int:
        """Report the fault at token ``i``, mend the parser's state, and return where to go on."""
        tok = self.tokens[i]
        if tok.type == "AND" and "FIELD" in expected:  # a leading or doubled AND
            self._stray_and_warning(tok)
            return i + 1
        if tok.type in _OPERAND_START and "AND" in expected:
            at = Span(tok.start_pos or 0, tok.start_pos or 0)
            self.diagnostics.append(
                Diagnostic(
                    "LMF108",
                    "warning",
                    "missing AND between two conditions (MLflow reads them as joined by AND)",
                    _span(tok),
                    (Fix("insert AND", (Edit(at, "AND "),)),),
                )
            )
            self.ip.feed_token(Token("AND", "AND", start_pos=at.start, end_pos=at.start))
            return i
        if tok.type == "$END":
            # After an unterminated string or key, which runs to the end, the end is no news.
            if not any(d.code == "LMF103" for d in self.diagnostics):
                self.diagnostics.append(self._unexpected(tok, expected))
            self._finish()
            return i
        if expected <= _CONNECTIVES:
            # A complete condition followed by junk: drop the junk, up to where a condition could go on.
            j = i + 1
            while self.tokens[j].type not in _CONNECTIVES | _OPERAND_START:
                j += 1
            self.diagnostics.append(self._unexpected(tok, expected, self.tokens[j - 1]))
            return j
        self.diagnostics.append(self._unexpected(tok, expected))
        return self._skip_condition(i)

    def _skip_condition(self, i: int) -> int:
        """Replace the broken condition by a placeholder; return the index of the next AND/OR/)/end."""
        state = self.ip.parser_state
        unclosed = 0
        while not self._accepts("RECOVERED"):
            state.state_stack.pop()
            popped = state.value_stack.pop()
            if isinstance(popped, Token) and popped.type == "LPAR":
                unclosed += 1
        start = self.tokens[i].start_pos or 0
        j = i
        while True:
            kind = self.tokens[j].type
            if kind == "$END" or (kind in ("AND", "OR") and unclosed == 0):
                break
            if kind == "RPAR":
                if unclosed == 0:
                    break
                unclosed -= 1
            elif kind == "LPAR":
                unclosed += 1
            j += 1
        end = max(start, self.tokens[j - 1].end_pos or 0) if j > i else start
        self.ip.feed_token(Token("RECOVERED", "", start_pos=start, end_pos=end))
        if j == i and self.tokens[j].type != "$END" and not self._accepts(self.tokens[j].type):
            j += 1  # the faulty token itself cannot follow: drop it, so that every step advances
        return j

    def _finish(self) -> None:
        """At the end of the text: close what is open so that the tree can be built."""
        end = len(self.text)
        popped = False
        while True:
            if popped and self._accepts("RECOVERED"):
                self.ip.feed_token(Token("RECOVERED", "", start_pos=end, end_pos=end))
                popped = False
            elif self._accepts("RPAR"):
                self.ip.feed_token(Token("RPAR", ")", start_pos=end, end_pos=end))
            elif self._accepts("$END"):
                return
            else:
                self.ip.parser_state.state_stack.pop()
                self.ip.parser_state.value_stack.pop()
                popped = True

    def _accepts(self, terminal: str) -> bool:
        probe = self.ip.copy(deepcopy_values=False)  # type: ignore[no-untyped-call]
        probe.parser_state.parse_conf = copy.copy(probe.parser_state.parse_conf)
        probe.parser_state.parse_conf.callbacks = _NO_CALLBACKS
        try:
            probe.feed_token(Token(terminal, ""))
        except UnexpectedToken:
            return False
        return True

    def _unexpected(self, tok: Token, expected: set[str], last: Token | None = None) -> Diagnostic:
        wanted = _describe_expected(expected)
        if tok.type == "$END":
            at = len(self.text.rstrip())
            span = Span(at, at)
            fixes: tuple[Fix, ...] = ()
            if "RPAR" in expected:
                fixes = (Fix("add ')'", (Edit(Span(len(self.text), len(self.text)), ")"),)),)
            return _error("LMF102", f"unexpected end of filter; expected {wanted}", span, *fixes)
        span = _span(tok).cover(_span(last or tok))
        if tok.type == "RPAR" and "RPAR" not in expected and expected <= _CONNECTIVES:
            return _error("LMF101", "unmatched ')'", span, Fix("remove the ')'", (Edit(span, ""),)))
        code = "LMF104" if tok.type.startswith("BAD_") else "LMF101"
        return _error(code, f"unexpected {_quote(str(tok))}; expected {wanted}", span)


_NO_CALLBACKS: dict[str, Callable[..., Any]] = {}


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


def _quote(text: str) -> str:
    shown = text if len(text) <= 40 else text[:37] + "..."
    return repr(shown)


def _span(tok: Token) -> Span:
    return Span(tok.start_pos or 0, tok.end_pos or 0)


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


# ---- tree building ------------------------------------------------------------------------------

_ENTITIES = {entity.value: entity for entity in ast.Entity}
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


class _Builder(Transformer[Token, Any]):
    """Lark callbacks: build AST nodes while the parser reduces (no intermediate parse tree)."""

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
        return ast.Not(item, span=_span(not_tok).cover(item.span))

    def group(self, children: list[Any]) -> ast.Expr:
        lpar, item, rpar = children
        grouped: ast.Expr = dataclasses.replace(item, span=_span(lpar).cover(_span(rpar)))
        return grouped

    def compare(self, children: list[Any]) -> ast.Compare:
        field, op, value = children
        return ast.Compare(field, ast.Op(str(op)), value, span=field.span.cover(value.span))

    def like(self, children: list[Any]) -> ast.Like:
        field, *words, pattern = children
        negated = len(words) == 2
        insensitive = words[-1].type == "ILIKE"
        return ast.Like(field, pattern, negated, insensitive, span=field.span.cover(pattern.span))

    def in_list(self, children: list[Any]) -> ast.In:
        field = children[0]
        negated = children[1].type == "NOT"
        values = tuple(c for c in children[2:] if isinstance(c, _VALUE_NODES))
        return ast.In(field, values, negated, span=field.span.cover(_span(children[-1])))

    def is_null(self, children: list[Any]) -> ast.IsNull:
        field, *words = children
        return ast.IsNull(field, len(words) == 3, span=field.span.cover(_span(words[-1])))

    def between(self, children: list[Any]) -> ast.Between:
        field = children[0]
        negated = children[1].type == "NOT"
        low, high = children[-3], children[-1]
        return ast.Between(field, low, high, negated, span=field.span.cover(high.span))

    def recovered(self, children: list[Any]) -> ast.Invalid:
        return ast.Invalid(span=_span(children[0]))

    def field(self, children: list[Any]) -> ast.Field:
        tok = children[0]
        return field_from_text(str(tok), _span(tok))

    def value(self, children: list[Any]) -> ast.Value:
        tok = children[0]
        text, span = str(tok), _span(tok)
        match tok.type:
            case "STRING":
                return ast.String(text[1:-1].replace("''", "'"), span=span)
            case "NUMBER":
                return ast.Number(text, span=span)
            case "DQ_STRING":
                return ast.DoubleQuoted(text[1:-1], span=span)
            case _:
                return ast.Word(text, span=span)


def _cover(nodes: Iterable[ast.Node]) -> Span:
    spans = [node.span for node in nodes]
    return functools.reduce(Span.cover, spans)
