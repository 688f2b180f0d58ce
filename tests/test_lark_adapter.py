"""The Lark internals lmfilter reads, pinned: each shape checked where Lark keeps it, the adapter's own clear
error when one changes, and the adapter's table driving the grammar as Lark's public ``parse`` does.

A failure here after upgrading Lark names the version and what changed: update ``lmfilter.lark_adapter``
(and its ``TESTED_LARK``, with the pin in ``pyproject.toml``), not the code that uses it.
"""

from __future__ import annotations

import functools
import re
import tomllib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import lark
import pytest
from hypothesis import assume, given, settings
from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedInput
from lark.parsers import lalr_analysis
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from lmfilter import lark_adapter
from lmfilter.lark_adapter import LarkInternalsError, Reduce, Shift, Table
from lmfilter.syntax import _FAULTS, grammar_text, parse_surface, parser
from tests.test_properties import well_formed_filters

VERSION = lark.__version__


def changed(what: str) -> str:
    return f"lark {VERSION}: {what} (lmfilter.lark_adapter reads it; update the adapter and TESTED_LARK)"


# ---- the pin -----------------------------------------------------------------------------------------------


def test_the_installed_lark_is_a_tested_one_and_pyproject_requires_those() -> None:
    pyproject = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text(encoding="utf-8"))
    (required,) = [dep for dep in pyproject["project"]["dependencies"] if re.match(r"lark\b", dep)]
    assert required == f"lark{lark_adapter.TESTED_LARK}"
    assert Version(VERSION) in SpecifierSet(lark_adapter.TESTED_LARK), changed("not a tested version")


# ---- each internal, where Lark keeps it ------------------------------------------------------------------


def _lexer() -> Any:
    lexer = parser()._build_lexer()
    _ = lexer.scanner  # builds the scanner, and with it lexer.callback
    return lexer


def _parse_table() -> Any:
    return parser().parser.parser.parser.parse_table


def _actions() -> list[tuple[Any, Any]]:
    return [entry for row in _parse_table().states.values() for entry in row.values()]


def _rules() -> list[Any]:
    return [argument for action, argument in _actions() if action is lalr_analysis.Reduce]


def _post_lexers_keep_terminals() -> bool:
    from lark.lark import PostLex

    return PostLex.always_accept == () and all(parser().get_terminal(name) for name in _FAULTS)


def _alternation_is_one_pattern() -> bool:
    patterns = _lexer().scanner._mres
    return isinstance(patterns, list) and len(patterns) == 1 and isinstance(patterns[0], re.Pattern)


def _alternation_in_preference_order() -> bool:
    lexer = _lexer()
    (pattern,) = lexer.scanner._mres
    order = sorted(pattern.groupindex, key=pattern.groupindex.__getitem__)
    return order == [t.name for t in lexer.terminals if t.name in pattern.groupindex]


def _terminals_name_their_patterns() -> bool:
    return all(isinstance(t.name, str) and isinstance(t.pattern.to_regexp(), str) for t in _lexer().terminals)


def _callbacks_retype() -> bool:
    callbacks = _lexer().callback
    token = callbacks["BAD_CHAR"](Token("BAD_CHAR", "("))  # "(" matches the catch-all first, and is LPAR
    return isinstance(callbacks, dict) and isinstance(token, Token) and token.type == "LPAR"


def _states_by_number() -> bool:
    states = _parse_table().states
    return sorted(states) == list(range(len(states))) and all(isinstance(r, dict) for r in states.values())


def _start_and_end_states() -> bool:
    table = _parse_table()
    return isinstance(table.start_states["start"], int) and isinstance(table.end_states["start"], int)


def _actions_are_shift_or_reduce() -> bool:
    shifts = [argument for action, argument in _actions() if action is lalr_analysis.Shift]
    return len(shifts) + len(_rules()) == len(_actions()) and all(isinstance(s, int) for s in shifts)


def _rules_name_their_origin() -> bool:
    return all(isinstance(rule.origin.name, str) for rule in _rules())


def _expansions_are_symbols() -> bool:
    symbols = [symbol for rule in _rules() for symbol in rule.expansion]
    return all(isinstance(s.name, str) and isinstance(s.is_term, bool) for s in symbols)


def _aliases() -> bool:
    aliases = [rule.alias for rule in _rules()]
    return all(a is None or isinstance(a, str) for a in aliases) and {"compare", "group"} <= set(aliases)


def _expand1() -> bool:
    flags = [rule.options.expand1 for rule in _rules()]
    return all(isinstance(flag, bool) for flag in flags) and any(flags) and not all(flags)


SHAPES: list[tuple[str, Callable[[], bool]]] = [
    ("a post-lexer's always_accept (lark.lark.PostLex) keeps unused terminals", _post_lexers_keep_terminals),
    ("Lark._build_lexer() builds a lexer", lambda: callable(parser()._build_lexer)),
    ("BasicLexer.scanner._mres is a list of one compiled pattern", _alternation_is_one_pattern),
    ("BasicLexer.scanner._mres has a group per terminal, by preference", _alternation_in_preference_order),
    ("BasicLexer.ignore_types is a frozenset of names", lambda: _lexer().ignore_types == frozenset({"WS"})),
    ("TerminalDef.name and .pattern.to_regexp() give strings", _terminals_name_their_patterns),
    ("BasicLexer.callback maps a terminal to a callable that retypes a Token", _callbacks_retype),
    ("Lark.parser.parser.parser.parse_table.states maps 0, 1, ... to dicts", _states_by_number),
    ("parse_table.start_states and .end_states map 'start' to a state number", _start_and_end_states),
    (
        "each action is (lalr_analysis.Shift, state) or (lalr_analysis.Reduce, rule)",
        _actions_are_shift_or_reduce,
    ),
    ("Rule.origin.name is the rule's name", _rules_name_their_origin),
    ("Rule.expansion holds symbols with .name and .is_term", _expansions_are_symbols),
    ("Rule.alias is the rule's -> alias, or None", _aliases),
    ("Rule.options.expand1 marks ?rules", _expand1),
]


@pytest.mark.parametrize(("what", "holds"), SHAPES, ids=[what for what, _ in SHAPES])
def test_each_internal_the_adapter_reads_has_its_shape(what: str, holds: Callable[[], bool]) -> None:
    try:
        ok = holds()
    except Exception as error:  # any failure to read it is the news
        pytest.fail(changed(f"{what}: reading it raised {error!r}"))
    assert ok, changed(f"{what}: no longer so")


# ---- a change of shape is one clear error --------------------------------------------------------------


def _fresh() -> Lark:
    return lark_adapter.compile_lalr(grammar_text(), keep=_FAULTS)


def _no_lexer_builder(compiled: Lark) -> Callable[[Lark], object]:
    setattr(compiled, "_build_lexer", None)  # noqa: B010 - an attribute Lark's types say is a method
    return lark_adapter.lexer_patterns


def _lexer_without_scanner(compiled: Lark) -> Callable[[Lark], object]:
    setattr(compiled, "_build_lexer", lambda dont_ignore=False: object())  # noqa: B010 - as above
    return lark_adapter.lexer_patterns


def _table_not_by_number(compiled: Lark) -> Callable[[Lark], object]:
    table = compiled.parser.parser.parser.parse_table
    table.states = {f"s{n}": row for n, row in table.states.items()}
    return lark_adapter.lalr_table


def _unknown_action(compiled: Lark) -> Callable[[Lark], object]:
    row = compiled.parser.parser.parser.parse_table.states[0]
    name = next(iter(row))
    row[name] = ("Goto", 1)
    return lark_adapter.lalr_table


def _rule_reshaped(compiled: Lark) -> Callable[[Lark], object]:
    for row in compiled.parser.parser.parser.parse_table.states.values():
        for name, (action, _) in row.items():
            if action is lalr_analysis.Reduce:
                row[name] = (action, type("Rule", (), {"origin": None, "expansion": (), "alias": None})())
    return lark_adapter.lalr_table


def _no_end_state(compiled: Lark) -> Callable[[Lark], object]:
    compiled.parser.parser.parser.parse_table.end_states = {}
    return lark_adapter.lalr_table


@pytest.mark.parametrize(
    ("breaking", "named"),
    [
        (_no_lexer_builder, "Lark._build_lexer"),
        (_lexer_without_scanner, "object.scanner._mres is gone"),
        (_table_not_by_number, "states is not a dict keyed by the state numbers"),
        (_unknown_action, "neither Shift nor Reduce"),
        (_rule_reshaped, "Rule.origin.name is gone"),
        (_no_end_state, "end_states does not map 'start'"),
    ],
)
def test_a_changed_internal_is_one_clear_error_naming_the_lark_version(
    breaking: Callable[[Lark], Callable[[Lark], object]], named: str
) -> None:
    compiled = _fresh()
    read = breaking(compiled)
    with pytest.raises(LarkInternalsError) as caught:
        read(compiled)
    message = str(caught.value)
    assert f"lark {VERSION}" in message
    assert named in message
    assert f"lark{lark_adapter.TESTED_LARK}" in message
    assert not isinstance(caught.value, AttributeError | KeyError | TypeError)


def test_the_error_is_not_one_about_a_filter() -> None:
    """``except LmfilterError`` catches what lmfilter says about its input; a broken install is not that."""
    from lmfilter.errors import LmfilterError

    assert issubclass(LarkInternalsError, RuntimeError)
    assert not issubclass(LarkInternalsError, LmfilterError)


# ---- the adapter's table drives the grammar as Lark does ----------------------------------------------


class _Inlined(list[Any]):
    """The children of a helper rule (``_name``), spliced into the parent's."""


def _built(rule: lark_adapter.Rule, children: Sequence[Any]) -> Any:
    flat: list[Any] = []
    for child in children:
        flat.extend(child) if isinstance(child, _Inlined) else flat.append(child)
    if rule.origin.startswith("_"):
        return _Inlined(flat)
    if rule.expand1 and len(flat) == 1:
        return flat[0]
    return Tree(rule.alias or rule.origin, flat)


def _tree_by_table(table: Table, tokens: Sequence[Token]) -> Any:
    """A parse tree shaped as Lark's tree builder shapes it, from the adapter's table alone."""
    states, values = [table.start], []
    for tok in [*tokens, Token("$END", "")]:
        while True:
            action = table.states[states[-1]].get(tok.type)
            assert action is not None, (tok, states)
            if isinstance(action, Shift):
                states.append(action.state)
                values.append(tok)
                break
            size = len(action.rule.expansion)
            children = values[len(values) - size :]
            del states[len(states) - size :], values[len(values) - size :]
            goto = table.states[states[-1]][action.rule.origin]
            assert isinstance(goto, Shift)
            states.append(goto.state)
            values.append(_built(action.rule, children))
            if tok.type == "$END" and states[-1] == table.end:
                return values[-1]
    raise AssertionError("no end")


def _without_placeholders(tree: Any) -> Any:
    """Lark's tree without the ``None`` it puts for an empty ``[ ]`` (lmfilter builds no such thing)."""
    if isinstance(tree, Tree):
        return Tree(tree.data, [_without_placeholders(c) for c in tree.children if c is not None])
    return tree


@functools.cache
def _table() -> Table:
    return lark_adapter.lalr_table(parser())


@settings(max_examples=150, deadline=None)
@given(well_formed_filters())
def test_the_adapters_table_parses_as_lark_does(text: str) -> None:
    try:
        expected = parser().parse(text)
    except UnexpectedInput:
        assume(False)  # a field the grammar's lexer does not close (params.`unterminated)
        return
    tokens = list(parser().lex(text))
    assert _tree_by_table(_table(), tokens) == _without_placeholders(expected)


def test_the_adapters_rules_are_the_grammars() -> None:
    table = lark_adapter.lalr_table(parser())
    rules = table.rules()
    assert len(set(rules)) == len(rules)
    comparisons = {rule.alias for rule in rules if rule.origin == "comparison"}
    assert comparisons == {"compare", "like", "in_list", "is_null", "between", "recovered"}
    (field_by_word,) = [r for r in rules if r.origin == "field" and r.expansion[0].name == "WORD"]
    assert field_by_word.expansion == (lark_adapter.Symbol("WORD", True),)
    assert isinstance(table.states[table.start]["FIELD"], Shift)
    assert any(isinstance(action, Reduce) for row in table.states for action in row.values())


def test_the_adapters_lexer_patterns_lex_as_lark_does() -> None:
    lexer = lark_adapter.lexer_patterns(parser())
    assert lexer.ignored == frozenset({"WS"})
    assert re.fullmatch(lexer.blanks, " \t\n")
    assert lexer.retype("BAD_CHAR", "(") == "LPAR"
    assert lexer.retype("BAD_CHAR", "@") == "BAD_CHAR"
    assert lexer.retype("STRING", "'a'") == "STRING"  # not retyped at all
    found = lexer.alternation.match("metrics.acc")
    assert found is not None
    assert found.lastgroup == "FIELD"
    assert parse_surface("tags.`in` IN ('a')").diagnostics == ()
