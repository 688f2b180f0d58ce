"""Surface tree to checked tree: field resolution, typing, and target validation.

The checker walks the parser's surface tree once and collects every diagnostic it finds:

- ``LMF2xx``, whatever the target: unknown entity prefixes and attributes (with did-you-mean fixes),
  operators a field's type does not take, values of the wrong type, status names, empty ``IN`` lists,
  double-quoted values, unquoted words and numbers that will be compared as text;
- ``LMF3xx``, for the target: what its server would reject or misread (OR, NOT, parentheses, IS NULL,
  BETWEEN, numeric comparisons on params, a quote in a value, fields it lacks, status conditions). With
  ``native=True`` they are errors, for a filter about to be sent as it is; otherwise lmfilter can still run
  them by planning, and they are infos.

When no error was found it also returns the checked tree: each :class:`~lmfilter.ast.Field` typed and its
attribute name canonical, each value a :class:`~lmfilter.ast.String`, :class:`~lmfilter.ast.Number` or
:class:`~lmfilter.ast.StatusValue` of the field's type (``params.lr = 0.01`` compares text, so its value
becomes the string ``'0.01'``).

>>> from lmfilter.syntax import parse_surface
>>> tree, diags = check_surface(parse_surface("params.alpha < 0.3 OR tags.t = x"), get_target("mlflow"))
>>> [(d.code, d.severity) for d in diags]
[('LMF207', 'warning'), ('LMF301', 'info'), ('LMF306', 'info')]
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from lmfilter import ast
from lmfilter.ast import Entity, Op, ValueType
from lmfilter.diagnostics import (
    Diagnostic,
    Edit,
    Fix,
    Severity,
    Span,
    did_you_mean,
    has_errors,
    quoted,
    shown,
)
from lmfilter.native import Unsupported, unsupported
from lmfilter.reserved import RESERVED_WORDS
from lmfilter.schema import ATTRIBUTES, ENTITY_PREFIXES, Feature, Target, attribute, entity_type, get_target
from lmfilter.schema import suggest_attribute as _suggest_attribute
from lmfilter.status import ModelStatus
from lmfilter.syntax import QUIRK_CODES, Surface

_NUMBER_TEXT = re.compile(r"\s*[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?\s*\Z")
_ODD_KEY = re.compile(r"[:$]|\A\d+\Z|\A[iI][nN]\Z")  # MLflow needs backticks for these (`in` lexes as IN)
_SPECIAL_FLOATS = frozenset({"inf", "infinity", "nan"})
_NEVER_NULL = frozenset(attr.name for attr in ATTRIBUTES if not attr.nullable)
_KEY_AT = {entity: len(entity.value) + 1 for entity in Entity}  # where the key starts: after "<entity>."

_FEATURE_CODES: dict[Feature, str] = {
    Feature.OR: "LMF301",
    Feature.NOT: "LMF302",
    Feature.GROUPING: "LMF303",
    Feature.IS_NULL: "LMF304",
    Feature.BETWEEN: "LMF305",
    Feature.NUMERIC_PARAM: "LMF306",
    Feature.QUOTE_IN_VALUE: "LMF307",
    Feature.IN_NUMERIC: "LMF310",
    Feature.PREFIXED_ALIAS: "LMF311",
    Feature.PLAIN_ODD_KEY: "LMF312",
}


def check_surface(
    surface: Surface, target: Target | str = "local", *, native: bool = False
) -> tuple[ast.Expr | None, list[Diagnostic]]:
    """Check a parsed filter for ``target``; return the checked tree (``None`` on errors) and diagnostics."""
    checker = _Checker(get_target(target), native, surface.text)
    for diagnostic in surface.diagnostics:
        if diagnostic.code in QUIRK_CODES and native and checker.target.is_server:
            # Tolerated by MLflow, but a string about to be sent as it is should not lean on that.
            diagnostic = replace(diagnostic, severity="error")
        checker.diagnostics.append(diagnostic)
    if surface.tree is None:
        return None, checker.diagnostics
    if surface.text and not surface.text.strip() and not surface.diagnostics:
        everything = Span(0, len(surface.text))
        checker.misread(
            "a filter of blanks only is an error there; send an empty filter",
            everything,
            Fix("remove the blanks", (Edit(everything, ""),), safe=True),
        )
    for span in surface.groups:
        checker.support(Feature.GROUPING, span, "parentheses")
    tree = checker.expr(surface.tree)
    for gap in unsupported(tree, checker.target):
        checker.unsupported(gap)
    return (None if has_errors(checker.diagnostics) else tree), checker.diagnostics


@dataclass
class _Checker:
    target: Target
    native: bool
    text: str
    diagnostics: list[Diagnostic] = field(default_factory=list)

    # ---- reporting ----------------------------------------------------------------------------

    def report(self, code: str, severity: Severity, message: str, span: Span, *fixes: Fix) -> None:
        self.diagnostics.append(Diagnostic(code, severity, message, span, fixes))

    def support(self, feature: Feature, span: Span, what: str, fixes: tuple[Fix, ...] = ()) -> None:
        """Report a construct the target's server lacks: an error for native use, else an info."""
        if feature in self.target.features:
            return
        title = self.target.title
        code = _FEATURE_CODES[feature]
        if self.native:
            self.report(code, "error", f"{title} does not accept {what}", span, *fixes)
        else:
            self.report(code, "info", f"{title} does not run {what} itself: lmfilter runs it locally", span)

    def unsupported(self, gap: Unsupported) -> None:
        """Report a construct of the checked tree that the target's server lacks."""
        node, title = gap.node, self.target.title
        match node:
            case ast.Or(items):
                span = self.keyword_span("or", items[0].span.end, items[1].span.start)
            case ast.Not(item):
                span = self.keyword_span("not", node.span.start, item.span.start)
            case _:
                span = node.span
        if gap.feature is Feature.STATUS:
            how = self.target.status_filter
            message = (
                f"{title} compares status as a stored number; a name matches nothing there"
                if how == "numbers"
                else f"{title} is not known to filter on status"
            )
            if self.native:
                self.report("LMF309", "error", message, span)
            else:
                self.report("LMF309", "info", f"{message}: lmfilter runs this condition locally", span)
        elif gap.feature is Feature.FIELD:
            ending = "" if self.native else ": lmfilter runs this condition locally"
            severity: Severity = "error" if self.native else "info"
            self.report("LMF308", severity, f"{title} cannot filter on {gap.what}{ending}", span)
        else:
            self.support(gap.feature, span, gap.what)

    def misread(self, message: str, span: Span, *fixes: Fix) -> None:
        """Report text a server rejects or misreads though lmfilter reads it fine (native use only)."""
        if self.native and self.target.is_server:
            self.report("LMF314", "error", f"{self.target.title}: {message}", span, *fixes)

    # ---- conditions ---------------------------------------------------------------------------

    def expr(self, node: ast.Expr) -> ast.Expr:
        match node:
            case ast.And(items):
                return ast.And(tuple([self.expr(item) for item in items]), span=node.span)
            case ast.Or(items):
                return ast.Or(tuple([self.expr(item) for item in items]), span=node.span)
            case ast.Not(item):
                return ast.Not(self.expr(item), span=node.span)
            case ast.Invalid():
                return node
            case _:
                return self.comparison(node)

    def keyword_span(self, keyword: str, start: int, end: int) -> Span:
        """Where ``keyword`` stands in the text between ``start`` and ``end``."""
        found = re.search(rf"(?i)\b{keyword}\b", self.text[start:end])
        return Span(start + found.start(), start + found.end()) if found else Span(start, max(start, end))

    def comparison(self, node: ast.Comparison) -> ast.Expr:
        fld = self.field(node.field)
        kind = fld.type
        if kind is ValueType.UNKNOWN:
            return replace(node, field=fld)  # the field was reported; its values cannot be judged
        match node:
            case ast.Compare(_, op, value):
                return ast.Compare(fld, op, self.compared_value(fld, op, value), span=node.span)
            case ast.Like(_, pattern, negated, insensitive):
                keyword = ("NOT " if negated else "") + ("ILIKE" if insensitive else "LIKE")
                if kind in (ValueType.NUMBER, ValueType.STATUS):
                    self.wrong_operator(fld, keyword, node.span)
                return ast.Like(fld, self.string_value(fld, pattern), negated, insensitive, span=node.span)
            case ast.In(_, values, negated):
                if not values:
                    matches = "every model that has the field" if negated else "nothing"
                    self.report(
                        "LMF206", "warning", f"empty IN list: this condition matches {matches}", node.span
                    )
                if kind is ValueType.STRING and len(values) == 1 and isinstance(values[0], ast.Number):
                    number = values[0]
                    self.misread(
                        f"IN ({shown(number.text)}) is read as a number, not a list (HTTP 400)",
                        number.span,
                        _quote_fix(number.span, number.text),
                    )
                checked = tuple([self.listed_value(fld, value) for value in values])
                return ast.In(fld, checked, negated, span=node.span)
            case ast.IsNull(_, negated):
                if fld.entity is Entity.ATTRIBUTE and fld.key in _NEVER_NULL:
                    matches = "every model" if negated else "nothing"
                    self.report(
                        "LMF212", "warning", f"{fld.key} is never null: this matches {matches}", node.span
                    )
                return ast.IsNull(fld, negated, span=node.span)
            case ast.Between(_, low, high, negated):
                lo, hi = (self.bound(fld, "BETWEEN", bound) for bound in (low, high))
                if isinstance(lo, ast.Number) and isinstance(hi, ast.Number) and lo.value > hi.value:
                    matches = "every model that has the field" if negated else "nothing"
                    self.report(
                        "LMF210",
                        "warning",
                        f"empty range ({shown(lo.text)} > {shown(hi.text)}): matches {matches}",
                        node.span,
                        Fix("swap the bounds", (Edit(low.span, hi.text), Edit(high.span, lo.text))),
                    )
                return ast.Between(fld, lo, hi, negated, span=node.span)
        raise AssertionError(node)  # pragma: no cover

    # ---- fields -------------------------------------------------------------------------------

    def field(self, fld: ast.Field) -> ast.Field:
        written, span = fld.written, fld.span
        if fld.entity is Entity.ATTRIBUTE:
            prefix, dot, key = written.partition(".")
            if dot and prefix != "attributes":
                return self.unknown_prefix(fld, prefix)
            return self.attribute_field(fld, key if dot else written, prefixed=bool(dot))
        key_at = _KEY_AT[fld.entity]
        if not fld.key:
            self.report("LMF209", "error", f"empty {fld.entity.value} key", span)
        elif written.startswith('"', key_at):
            key_span = Span(span.start + key_at, span.end)
            self.report(
                "LMF111",
                "error",
                "double quotes around a key are kept as part of it (MLflow "
                "never matches); quote keys with backticks",
                key_span,
                Fix("use backticks", (Edit(key_span, f"`{fld.key}`"),), safe=True),
            )
        elif not written.endswith("`") and _ODD_KEY.search(fld.key):
            key_span = Span(span.start + key_at, span.end)
            self.support(
                Feature.PLAIN_ODD_KEY,
                key_span,
                f"the key {quoted(fld.key)} without backticks",
                (Fix("add backticks", (Edit(key_span, f"`{fld.key}`"),), safe=True),),
            )
        return ast.Field(fld.entity, fld.key, entity_type(fld.entity, fld.key), written=written, span=span)

    def unknown_prefix(self, fld: ast.Field, prefix: str) -> ast.Field:
        prefix_span = Span(fld.span.start, fld.span.start + len(prefix))
        guess = did_you_mean(prefix, ENTITY_PREFIXES)
        if guess is None:
            self.report(
                "LMF201",
                "error",
                f"unknown field {quoted(fld.written)}: a field is metrics.<key>, "
                "params.<key>, tags.<key> or an attribute",
                fld.span,
            )
            return fld
        self.report(
            "LMF201",
            "error",
            f"unknown entity {quoted(prefix)}; did you mean {guess!r}?",
            prefix_span,
            Fix(f"replace with '{guess}'", (Edit(prefix_span, guess),)),
        )
        key = fld.written[len(prefix) + 1 :].strip("`")
        entity = ENTITY_PREFIXES[guess]
        if entity is Entity.ATTRIBUTE:
            return self.attribute_field(
                replace(fld, written=f"{guess}.{key}"), key, prefixed=True, quiet=True
            )
        return ast.Field(entity, key, entity_type(entity, key), written=fld.written, span=fld.span)

    def attribute_field(self, fld: ast.Field, name: str, *, prefixed: bool, quiet: bool = False) -> ast.Field:
        attr = attribute(name)
        name_span = Span(fld.span.end - len(name), fld.span.end)
        if attr is None:
            if not quiet:
                guess = _suggest_attribute(name)
                fixes = (Fix(f"replace with '{guess}'", (Edit(name_span, guess),)),) if guess else ()
                hint = f"; did you mean {guess!r}?" if guess else ""
                self.report("LMF202", "error", f"unknown attribute {quoted(name)}{hint}", name_span, *fixes)
            return ast.Field(Entity.ATTRIBUTE, name, ValueType.UNKNOWN, written=fld.written, span=fld.span)
        if prefixed and name != attr.mlflow_column and not quiet:
            self.support(
                Feature.PREFIXED_ALIAS,
                fld.span,
                f"{quoted(fld.written)} (MLflow answers HTTP 500)",
                (Fix(f"write '{attr.name}'", (Edit(fld.span, attr.name),), safe=True),),
            )
        return ast.Field(Entity.ATTRIBUTE, attr.name, attr.type, written=fld.written, span=fld.span)

    def wrong_operator(self, fld: ast.Field, op: str, span: Span) -> None:
        allowed = {
            ValueType.NUMBER: "= != < <= > >= BETWEEN IN IS NULL",
            ValueType.STRING: "= != LIKE ILIKE IN IS NULL",
            ValueType.STATUS: "= != IN",
        }[fld.type]
        if fld.entity is Entity.PARAM:
            allowed += " (and < <= > >= BETWEEN with a number)"
        self.report("LMF203", "error", f"{op} does not apply to {_describe(fld)}; it takes {allowed}", span)

    # ---- values -------------------------------------------------------------------------------

    def compared_value(self, fld: ast.Field, op: Op, value: ast.Value) -> ast.Value:
        if fld.type is ValueType.STATUS:
            if op not in (Op.EQ, Op.NE):
                self.wrong_operator(fld, op.value, fld.span.cover(value.span))
            return self.status_value(value)
        if op in ast.ORDERING_OPS:
            return self.bound(fld, op.value, value)
        if fld.type is ValueType.NUMBER:
            return self.number_value(value)
        return self.string_value(fld, value)

    def listed_value(self, fld: ast.Field, value: ast.Value) -> ast.Value:
        if fld.type is ValueType.STATUS:
            return self.status_value(value)
        if fld.type is ValueType.NUMBER:
            return self.number_value(value)
        if isinstance(value, ast.Word):
            self.report(
                "LMF207",
                "error",
                f"unquoted word {quoted(value.text)} in an IN list; quote it",
                value.span,
                _quote_fix(value.span, value.text),
            )
            return ast.String(value.text, span=value.span)
        return self.string_value(fld, value)

    def bound(self, fld: ast.Field, op: str, value: ast.Value) -> ast.Value:
        """A value an ordering operator or BETWEEN compares with: a number, also for params."""
        if fld.type is ValueType.STRING:
            if fld.entity is not Entity.PARAM or not _is_number(value):
                self.wrong_operator(fld, op, fld.span.cover(value.span))
                return value
            return self.number_value(value)
        if fld.type is ValueType.STATUS:
            self.wrong_operator(fld, op, fld.span.cover(value.span))
            return value
        return self.number_value(value)

    def number_value(self, value: ast.Value) -> ast.Value:
        match value:
            case ast.Number(text):
                if text.startswith("+"):
                    self.misread(
                        f"a number with a '+' sign is an error there ({shown(text)})",
                        value.span,
                        Fix("remove the '+'", (Edit(value.span, text[1:]),), safe=True),
                    )
                return _canonical_number(value)
            case ast.Word(text) if text.lower() in _SPECIAL_FLOATS:
                self.report(
                    "LMF213",
                    "warning",
                    f"MLflow stores NaN as 0 and infinities as ±1.797e308, so a "
                    f"comparison with {text} rarely means what it says",
                    value.span,
                )
                return _canonical_number(ast.Number(text, span=value.span))
            case ast.String(text) | ast.DoubleQuoted(text) | ast.Word(text):
                if isinstance(value, ast.DoubleQuoted):
                    self.double_quoted(value)
                fixes = (
                    (Fix("remove the quotes", (Edit(value.span, text.strip()),), safe=True),)
                    if _NUMBER_TEXT.match(text)
                    else ()
                )
                self.report(
                    "LMF204", "error", f"expected a number, not the string {quoted(text)}", value.span, *fixes
                )
        return value

    def string_value(self, fld: ast.Field, value: ast.Value) -> ast.Value:
        match value:
            case ast.String():
                return value
            case ast.Number(text):
                self.report(
                    "LMF208",
                    "warning",
                    f"{_describe(fld)} holds text: {shown(text)} is compared as "
                    f"the string '{shown(text)}' (so it does not match {_variant(text)})",
                    value.span,
                    _quote_fix(value.span, text),
                )
                return ast.String(text, span=value.span)
            case ast.Word(text):
                self.report(
                    "LMF207",
                    "warning",
                    f"unquoted word {quoted(text)} is read as the string '{shown(text)}'",
                    value.span,
                    _quote_fix(value.span, text),
                )
                if text.upper() in RESERVED_WORDS:  # sqlparse lexes it as a keyword: no comparison forms
                    self.misread(
                        f"the unquoted word {shown(text)} is an SQL keyword to its filter reader (a 400)",
                        value.span,
                        _quote_fix(value.span, text),
                    )
                return ast.String(text, span=value.span)
            case ast.DoubleQuoted(text):
                self.double_quoted(value)
                return ast.String(text, span=value.span)
        return value

    def status_value(self, value: ast.Value) -> ast.Value:
        match value:
            case ast.String(text) | ast.Word(text) | ast.DoubleQuoted(text):
                if isinstance(value, ast.DoubleQuoted):
                    self.double_quoted(value)
                try:
                    status = ModelStatus.from_name(text)
                except KeyError:
                    spelt = did_you_mean(text, ModelStatus.names(), cutoff=0.5)
                    guess = ModelStatus.from_name(spelt).name if spelt else None
                    fixes = (
                        (Fix(f"replace with '{guess}'", (Edit(value.span, f"'{guess}'"),)),) if guess else ()
                    )
                    names = ", ".join(s.name for s in ModelStatus)
                    self.report(
                        "LMF205",
                        "error",
                        f"unknown status {quoted(text)}; a status is one of {names}",
                        value.span,
                        *fixes,
                    )
                    return value
                self.status_support(status, text, value.span)
                return ast.StatusValue(status, span=value.span)
            case ast.Number(text):
                known = {str(s.number): s for s in ModelStatus}
                fixes = ()
                if text in known:
                    fixes = (
                        Fix(
                            f"replace with '{known[text].name}'",
                            (Edit(value.span, f"'{known[text].name}'"),),
                            safe=True,
                        ),
                    )
                self.report(
                    "LMF211",
                    "error",
                    "status is compared by name ('READY', 'PENDING', 'FAILED', 'UNSPECIFIED'), not by number",
                    value.span,
                    *fixes,
                )
        return value

    def status_support(self, status: ModelStatus, written: str, span: Span) -> None:
        """A server that takes status names takes the short ones only (the spelling is the user's)."""
        if self.target.status_filter == "names" and self.target.is_server and written != status.name:
            fix = Fix(f"replace with '{status.name}'", (Edit(span, f"'{status.name}'"),), safe=True)
            self.misread(f"status by its long name is an error there; write '{status.name}'", span, fix)

    def double_quoted(self, value: ast.DoubleQuoted) -> None:
        self.report(
            "LMF111",
            "error",
            f'double-quoted "{shown(value.text)}" is not a string: MLflow keeps the '
            "quotes and never matches; use single quotes",
            value.span,
            _quote_fix(value.span, value.text),
        )


def _is_number(value: ast.Value) -> bool:
    """A number, or a word that names one (inf, nan)."""
    return isinstance(value, ast.Number) or (
        isinstance(value, ast.Word) and value.text.lower() in _SPECIAL_FLOATS
    )


def _canonical_number(number: ast.Number) -> ast.Number:
    """A number in a numeric context, spelt one way: ``1.0``, ``+1`` and ``1_0e-1`` are all ``1``."""
    text = ast.canonical_number_text(number.value)
    return number if text == number.text else ast.Number(text, span=number.span)


def _quote_fix(span: Span, text: str) -> Fix:
    # Safe unless the value holds a quote: doubled, it is two quotes on MLflow, which unescapes nothing.
    return Fix("use single quotes", (Edit(span, "'" + text.replace("'", "''") + "'"),), safe="'" not in text)


def _describe(fld: ast.Field) -> str:
    kind = {ValueType.NUMBER: "a number", ValueType.STRING: "a string", ValueType.STATUS: "a status"}
    name = fld.key if fld.entity is Entity.ATTRIBUTE else f"{fld.entity.value}.{fld.key}"
    return f"{shown(name)} ({kind.get(fld.type, 'unknown')})"


def _variant(text: str) -> str:
    """Another spelling of the same number, to show that text comparison is exact."""
    return f"'{shown(text)}0'" if "." in text else f"'{shown(text)}.0'"


def gap_diagnostics(tree: ast.Expr, target: Target | str, text: str = "") -> list[Diagnostic]:
    """Errors for what of a checked tree ``target``'s server cannot run (``text``: the tree's source)."""
    checker = _Checker(get_target(target), True, text)
    for gap in unsupported(tree, checker.target, status_numbers=True):
        checker.unsupported(gap)
    return checker.diagnostics
