"""Lint filters where people write them: every filter of ``.lmf`` files and of Python call sites, checked;
and the StackQL statements of ``.iql`` and ``.sql`` files (:func:`statement_diagnostics`).

This stage serves the two faces, ``lmfilter lint`` and the language server: :func:`diagnostics_of` is the one
analysis both run. It finds the filters of a document with :mod:`lmfilter.documents` (a Python call site with
what its call sends, :mod:`lmfilter.callsites`), checks each for what it is sent to (:func:`reading`),
leaves out what a ``# noqa`` comment names, and places every diagnostic, and every edit of its fixes, on the
document's own lines and columns: a :class:`Region` is 1-based, counts columns in code points and ends just
after the last character, as SARIF regions do. A filter that cannot be linted (an f-string with a hole
outside quotes, an implicitly concatenated string) becomes an ``info`` of its own code,
:data:`SKIPPED_CODE`; a Python file that does not parse, a warning (:data:`NOT_PYTHON_CODE`). What each
file is checked for comes from the configuration (:mod:`lmfilter.config`). Reports come out as text
(``file:line:col: CODE message`` with the line and a caret under the fault), as JSON, or as SARIF 2.1.0;
:func:`fix_paths` applies the safe fixes in place. Nothing is printed and nothing exits here.

>>> report = lint_source("# nightly\\nmetric.acc > 0.9 AND name = 'a'\\n", "lmf", path="nightly.lmf")
>>> [(f.code, f.severity, f.region) for f in report.findings]
[('LMF201', 'error', Region(line=2, column=1, end_line=2, end_column=7))]
>>> print(render_text([report]))
nightly.lmf:2:1: LMF201 unknown entity 'metric'; did you mean 'metrics'?
  2 | metric.acc > 0.9 AND name = 'a'
    | ^^^^^^ error; fix: replace with 'metrics'
<BLANKLINE>
1 file, 1 filter: 1 error, 0 warnings, 0 infos
"""

from __future__ import annotations

import bisect
import contextlib
import dataclasses
import errno
import io
import os
import re
import stat
import tempfile
import tokenize
import urllib.parse
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lmfilter.api import check
from lmfilter.callsites import Sends
from lmfilter.config import DEFAULT, Config
from lmfilter.diagnostics import SEVERITY_RANK, Diagnostic, Fix, Severity, Span, plural, render_located
from lmfilter.documents import (
    Found,
    Kind,
    Place,
    Run,
    Spread,
    Suppressed,
    filters_in,
    kind_of,
    line_starts,
    noqa_lines,
    outside_holes,
    split_lines,
    suppressed,
    utf16_column,
)
from lmfilter.errors import LmfilterError
from lmfilter.schema import Target, UnknownTargetError
from lmfilter.stackql import OTHER_RESOURCE_CODE, RESOURCE, layout
from lmfilter.stackql import checked as checked_statements
from lmfilter.version import __version__

SKIPPED_CODE = "LMF401"  # a filter found in a document but not linted (the reason is the message)
NOT_PYTHON_CODE = "LMF402"  # a Python file that does not parse: none of its filters can be found
UNKNOWN_TARGET_CODE = "LMF403"  # a call names a target lmfilter does not know

STACKQL_TARGET = "databricks"
"""What a StackQL file is checked for unless a target is configured: its resource is Databricks'."""

SKIPPED_DIRECTORIES = frozenset({"node_modules", "__pycache__", "build", "dist"})  # and hidden ones

SARIF_SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
INFORMATION_URI = "https://pypi.org/project/lmfilter/"  # the project has no other home yet

# What each family of codes is about: the rules' short descriptions in SARIF.
_FAMILIES = {
    "LMF1": "filter syntax",
    "LMF2": "filter fields and types",
    "LMF3": "not supported as written by the target server",
    "LMF4": "filter not linted",
    "LMF5": "StackQL statements",
}
_SARIF_LEVELS: dict[Severity, str] = {"error": "error", "warning": "warning", "info": "note"}


@dataclass(frozen=True, slots=True, order=True)
class Region:
    """Where something stands in a document: 1-based lines and code-point columns; the end is exclusive."""

    line: int
    column: int
    end_line: int
    end_column: int

    @classmethod
    def of(cls, place: Place | Run | Spread, span: Span) -> Region:
        """The region of a span of a found filter's text, from where its characters are (``found.place``)."""
        line, column = place.position(span.start)
        end_line, end_column = place.position(span.end)
        return cls(line + 1, column + 1, end_line + 1, end_column + 1)

    def to_json(self) -> dict[str, int]:
        return {
            "line": self.line,
            "column": self.column,
            "end_line": self.end_line,
            "end_column": self.end_column,
        }


@dataclass(frozen=True, slots=True)
class DocumentEdit:
    """Replace the document's text in ``region`` by ``replacement``, written as the document needs it
    (escaped for the Python string literal it lands in)."""

    region: Region
    replacement: str


@dataclass(frozen=True, slots=True)
class DocumentFix:
    """A diagnostic's :class:`~lmfilter.diagnostics.Fix` as edits of the document."""

    title: str
    edits: tuple[DocumentEdit, ...]
    safe: bool = False  # see :class:`lmfilter.diagnostics.Fix`


@dataclass(frozen=True, slots=True)
class Finding:
    """One diagnostic of one filter of a document, placed in the document.

    ``filter`` is the filter's text (empty for a skipped one), ``diagnostic`` its diagnostic with spans into
    that text, ``region`` the diagnostic's place in the document, and ``fixes`` the diagnostic's fixes as
    document edits (a fix that cannot be written into the document, such as a line break in an ``.lmf``
    line, is left out). ``call``, ``target`` and ``native`` say how the filter was read: the call it goes
    to, and what it was checked for (see :func:`reading`).
    """

    path: str
    filter: str
    diagnostic: Diagnostic
    region: Region
    fixes: tuple[DocumentFix, ...] = ()
    call: str | None = None  # the call the filter is passed to (Python), as :mod:`lmfilter.callsites` read it
    sends: Sends = "lmfilter"  # who reads the filter
    target: str = "mlflow"  # the target and nativeness the filter was checked for
    native: bool = False

    @property
    def code(self) -> str:
        return self.diagnostic.code

    @property
    def severity(self) -> Severity:
        return self.diagnostic.severity

    @property
    def message(self) -> str:
        return self.diagnostic.message


@dataclass(frozen=True)
class FileReport:
    """What linting one document found.

    ``filters`` counts the filters found (skipped ones included); ``lines`` holds the document's lines when
    there are findings to show (for carets and UTF-16 columns), else nothing; ``error`` says why a file
    could not be read (then nothing else is filled in).
    """

    path: str
    kind: Kind | None
    filters: int = 0
    findings: tuple[Finding, ...] = ()
    lines: tuple[str, ...] = field(default=(), repr=False)
    error: str | None = None

    @property
    def has_errors(self) -> bool:
        return self.error is not None or any(f.severity == "error" for f in self.findings)


# ---- linting ------------------------------------------------------------------------------------------


def lint_source(
    source: str,
    kind: Kind,
    target: str | Target = "mlflow",
    native: bool = False,
    *,
    path: str = "<source>",
    variables: Mapping[str, str] | None = None,
) -> FileReport:
    """Lint one document's text: every diagnostic of every filter in it, in reading order.

    A StackQL file's statements are checked whole (:func:`statement_diagnostics`), their templates filled
    in from ``variables`` when given.

    >>> code = 'import lmfilter\\nlmfilter.parse("tags.équipe = \\'α\\' AND nmae = \\'x\\'")\\n'
    >>> [(f.code, f.region.line, f.region.column) for f in lint_source(code, "python").findings]
    [('LMF202', 2, 39)]
    """
    if kind == "stackql":
        return _lint_statements(source, target, path, variables)
    found = filters_in(source, kind)
    lines = split_lines(source)
    noqa = noqa_lines(source, kind)
    findings: list[Finding] = []
    for item in found:
        checked_for, checked_native = reading(item, target, native)
        target_name = checked_for if isinstance(checked_for, str) else checked_for.name
        for diagnostic in diagnostics_of(item, checked_for, checked_native, noqa):
            fixes = tuple(
                mapped
                for fix in diagnostic.fixes
                if (mapped := _document_fix(fix, item, source, kind, lines)) is not None
            )
            region = Region.of(item.place, diagnostic.span)
            text = item.text
            findings.append(
                Finding(
                    path, text, diagnostic, region, fixes, item.call, item.sends, target_name, checked_native
                )
            )
    findings.sort(key=lambda f: (f.region, SEVERITY_RANK[f.severity], f.code))
    return FileReport(path, kind, len(found), tuple(findings), tuple(lines) if findings else ())


def _lint_statements(
    source: str, target: str | Target, path: str, variables: Mapping[str, str] | None
) -> FileReport:
    place = Spread.of(source)
    lines = split_lines(source)
    name = statement_target(target)
    filters, diagnostics = statement_diagnostics(
        source, name, noqa_lines(source, "stackql"), variables, place
    )
    findings = []
    for diagnostic in diagnostics:
        fixes = tuple(
            DocumentFix(
                fix.title,
                tuple(DocumentEdit(Region.of(place, e.span), e.replacement) for e in fix.edits),
                fix.safe,
            )
            for fix in diagnostic.fixes
        )
        sends: Sends = "databricks" if name == STACKQL_TARGET else "server"
        region = Region.of(place, diagnostic.span)
        findings.append(Finding(path, "", diagnostic, region, fixes, None, sends, name, True))
    findings.sort(key=lambda f: (f.region, SEVERITY_RANK[f.severity], f.code))
    return FileReport(path, "stackql", filters, tuple(findings), tuple(lines) if findings else ())


# A file is about the resource when it names its provider, or its service and name: one that does not (the
# SQL of some other database, MLflow's own logged_models table among them, or StackQL on another provider)
# is none of lmfilter's business, and not read.
_ABOUT_THE_RESOURCE = re.compile(r"databricks_workspace|\bml\s*\.\s*`?logged_models", re.I)


def statement_target(target: str | Target) -> str:
    """The target a StackQL file's statements are checked for, given the configured one: a server's, so
    ``local`` (which no server is) stands for :data:`STACKQL_TARGET`."""
    name = target if isinstance(target, str) else target.name
    return STACKQL_TARGET if name == "local" else name


def statement_diagnostics(
    source: str,
    target: str,
    noqa: Suppressed,
    variables: Mapping[str, str] | None = None,
    place: Spread | None = None,
    between: Callable[[], None] | None = None,
) -> tuple[int, list[Diagnostic]]:
    """What lint says of a StackQL file: how many search filters it holds, and the diagnostics of
    :func:`lmfilter.stackql.check_statements` (spans in ``source``), leaving out what a noqa comment names.
    The one analysis of ``lint`` and the language server.

    A file that names neither ``databricks_workspace`` nor ``ml.logged_models`` is not read: it has no
    diagnostics. In one that does, the statements on other resources (or that no page shows, ``SHOW``,
    ``REGISTRY PULL``) are StackQL's own business: they are said once, as an ``info`` where the first is; a
    name close to the resource's stays an error, with its fix. A noqa comment counts on the line a
    diagnostic starts, and on the line where the string it is in ends (a comment cannot go inside a
    string). ``between`` is called before each statement is checked (see
    :func:`lmfilter.stackql.checked`).

    >>> text = "SELECT model FROM databricks_workspace.ml.logged_model WHERE model_id = 'm';"
    >>> [(d.code, d.severity, d.fixes[0].title) for d in statement_diagnostics(text, "databricks", {})[1]]
    [('LMF502', 'error', "replace with 'databricks_workspace.ml.logged_models'")]
    >>> statement_diagnostics("SELECT * FROM pg_tables;", "databricks", {})
    (0, [])
    """
    if _ABOUT_THE_RESOURCE.search(source) is None:
        return 0, []
    statements, diagnostics = checked_statements(source, target, variables, between)
    filters = sum(1 for statement in statements if statement.search_filter() is not None)
    others = [d for d in diagnostics if d.code == OTHER_RESOURCE_CODE and not d.fixes]
    if others:
        first = others[0]
        said = Diagnostic(
            OTHER_RESOURCE_CODE,
            "info",
            f"{plural(len(others), 'statement')} not on {RESOURCE} (the first here): not checked",
            first.span,
        )
        left_out = {id(d) for d in others[1:]}
        diagnostics = [said if d is first else d for d in diagnostics if id(d) not in left_out]
    if not noqa:
        return filters, diagnostics
    place = place or Spread.of(source)
    strings = layout(source).strings
    ends = [s.end for s in strings]

    def lines(span: Span) -> tuple[int, ...]:
        at = bisect.bisect_right(ends, span.start)  # the first string ending after the diagnostic starts
        inside = at < len(strings) and strings[at].start <= span.start
        return (place.position(span.start)[0], *((place.position(strings[at].end)[0],) if inside else ()))

    return filters, [d for d in diagnostics if not suppressed(noqa, lines(d.span), d.code)]


def configured(config: Config, path: str | None, kind: Kind | None) -> tuple[str, bool]:
    """The target and ``native`` a file is checked for under ``config`` (:meth:`Config.for_path`; a
    document with no ``path`` has the settings alone): for a StackQL file, :data:`STACKQL_TARGET` unless a
    target is configured (an override for its path too)."""
    if kind == "stackql" and config.origin("target") == DEFAULT:
        config = dataclasses.replace(config, target=STACKQL_TARGET)
    return config.for_path(path) if path is not None else (config.target, config.native)


def reading(found: Found, target: str | Target, native: bool) -> tuple[str | Target, bool]:
    """The target and ``native`` a found filter is checked for, given the configured ones.

    A filter lmfilter reads is checked as configured, unless its call names a target or ``native``; one a
    client sends to a server is checked natively: for Databricks from the Databricks SDK, else for the
    configured server (MLflow's latest when the configured target is ``local``, which no server is).

    >>> from lmfilter.documents import filters_in
    >>> code = 'import mlflow\\nmlflow.search_logged_models(filter_string="a = 1")\\n'
    >>> reading(filters_in(code, "python")[0], "mlflow-3.17", False)
    ('mlflow-3.17', True)
    """
    if found.sends == "lmfilter":
        return found.target or target, native if found.native is None else found.native
    if found.sends == "databricks":
        return "databricks", True
    name = target if isinstance(target, str) else target.name
    return ("mlflow" if name == "local" else target), True


def diagnostics_of(
    found: Found,
    target: str | Target,
    native: bool,
    noqa: Suppressed,
    check: Callable[[str, str | Target, bool], Sequence[Diagnostic]] | None = None,
) -> list[Diagnostic]:
    """What lint says of one found filter, checked for ``target`` and ``native`` (see :func:`reading`):
    the reason it is skipped, or its diagnostics, leaving out those a noqa comment names. The one analysis
    of ``lint`` and the language server, which passes a ``check`` that remembers what it checked before.

    A noqa comment counts on the line a diagnostic starts, and where the filter's literal ends (a comment
    cannot go inside a string).
    """
    if found.skipped is not None:
        code = NOT_PYTHON_CODE if found.severity == "warning" else SKIPPED_CODE
        skipped = Diagnostic(code, found.severity, found.skipped, Span(0, 0))
        return [] if suppressed(noqa, (found.place.position(0)[0],), code) else [skipped]
    diagnostics = outside_holes(found.text, (check or checked)(found.text, target, native), found.stand_ins)
    if not noqa:
        return list(diagnostics)
    end_line = found.place.position(len(found.text))[0]
    return [
        d
        for d in diagnostics
        if not suppressed(noqa, (found.place.position(d.span.start)[0], end_line), d.code)
    ]


def checked(text: str, target: str | Target, native: bool) -> list[Diagnostic]:
    """:func:`lmfilter.check`, with a target lmfilter does not know (one named at a call) as a diagnostic."""
    try:
        return check(text, target, native)
    except UnknownTargetError as error:  # a target named at the call: it fails there too
        return [Diagnostic(UNKNOWN_TARGET_CODE, "error", str(error), Span(0, 0))]


def lint_paths(
    paths: Iterable[str | os.PathLike[str]],
    target: str | Target | None = None,
    native: bool | None = None,
    *,
    config: Config | None = None,
    variables: Mapping[str, str] | None = None,
) -> list[FileReport]:
    """Lint every ``.lmf``, Python and StackQL (``.iql``, ``.sql``) file named, and those under the
    directories named; a StackQL file's templates filled in from ``variables`` when given.

    Directories are walked recursively in name order, leaving out hidden ones, ``node_modules``,
    ``__pycache__``, ``build`` and ``dist``; a named file of another kind is left out too, and so is a path
    the configuration excludes (named or not, so that a pre-commit hook, which names each file, leaves out
    the same). Each file is checked for the ``target`` and ``native`` given, else for what the
    configuration says for its path (:meth:`~lmfilter.config.Config.for_path`). A file that cannot be read
    (or a path that does not exist) gets a report with its ``error``.
    """
    config = config or Config()
    reports = []
    for path in documents_under(paths, config):
        configured_target, configured_native = configured(config, path, kind_of(path))
        reports.append(
            _lint_file(
                path,
                configured_target if target is None else target,
                configured_native if native is None else native,
                variables,
            )
        )
    return reports


def documents_under(paths: Iterable[str | os.PathLike[str]], config: Config | None = None) -> Iterator[str]:
    """The files :func:`lint_paths` lints, each once, in order (a missing path too, to report it), leaving
    out those ``config`` excludes."""
    seen: set[str] = set()
    for given in paths:
        for path in _walk(os.path.normpath(os.fspath(given))):
            if path not in seen and not (config is not None and config.excluded(path)):
                seen.add(path)
                yield path


def _walk(path: str) -> Iterator[str]:
    if not os.path.isdir(path):
        if not os.path.exists(path) or kind_of(path) is not None:
            yield path
        return
    for directory, subdirectories, files in os.walk(path):
        subdirectories[:] = sorted(
            name for name in subdirectories if not name.startswith(".") and name not in SKIPPED_DIRECTORIES
        )
        for name in sorted(files):
            if kind_of(name) is not None:
                yield os.path.normpath(os.path.join(directory, name))


def _lint_file(
    path: str, target: str | Target, native: bool, variables: Mapping[str, str] | None = None
) -> FileReport:
    kind = kind_of(path)
    try:
        source = read_document(path)
    except (OSError, UnicodeDecodeError, SyntaxError) as error:
        return FileReport(path, kind, error=_read_error(error))
    if kind is None:  # a named path of a kind lmfilter does not lint
        return FileReport(path, kind)
    return lint_source(source, kind, target, native, path=path, variables=variables)


def read_document(path: str) -> str:
    """A document's text: decoded as Python reads it for ``.py`` files (PEP 263 cookie or BOM), as UTF-8
    otherwise, with every line break made ``\\n``. A path that is not a regular file (a FIFO, a device,
    which reading could block on for ever) raises ``OSError``."""
    if os.path.exists(path) and not os.path.isfile(path):
        raise OSError(errno.EINVAL, "not a regular file", path)
    with open(path, "rb") as file:
        data = file.read()
    return _decoded(path, data)[1].replace("\r\n", "\n").replace("\r", "\n")


def _read_error(error: OSError | UnicodeDecodeError | SyntaxError) -> str:
    if isinstance(error, UnicodeDecodeError):
        return f"cannot read: not {error.encoding} text (byte {error.start})"
    if isinstance(error, OSError):
        return f"cannot read: {error.strerror or error}"
    return f"cannot read: {error.msg}"  # a bad encoding declaration


# ---- fixes as document edits --------------------------------------------------------------------------


def _document_fix(
    fix: Fix, found: Found, source: str, kind: Kind, lines: Sequence[str]
) -> DocumentFix | None:
    """A fix as edits of the document, or ``None`` when its text cannot be written where it goes (or it
    would write over an f-string's hole)."""
    if any(found.touches_a_hole(edit.span) for edit in fix.edits):
        return None
    edits = [(Region.of(found.place, edit.span), edit.replacement) for edit in fix.edits]
    if kind == "lmf":
        if any(len(replacement.splitlines()) > 1 or "\r" in replacement for _, replacement in edits):
            return None  # a line break would split the filter's line
        return DocumentFix(fix.title, tuple(DocumentEdit(r, text) for r, text in edits), fix.safe)
    quote = _closing_quote(found, lines)
    plain = all(not any(c in text for c in ("\\", "\n", "\r", quote)) for _, text in edits)
    written = DocumentFix(
        fix.title,
        tuple(DocumentEdit(r, text if plain else _escaped(text, quote)) for r, text in edits),
        fix.safe,
    )
    if plain:
        return written
    # An escaped replacement is right unless the literal is raw: make sure it reads back as the fixed filter.
    fixed = apply_edits(source, "python", written.edits)
    start = found.place.position(0)
    if any(f.text == fix.apply(found.text) and f.place.position(0) == start for f in filters_in(fixed, kind)):
        return written
    return None


def _closing_quote(found: Found, lines: Sequence[str]) -> str:
    line, column = found.place.position(len(found.text))
    return lines[line][column] if line < len(lines) and column < len(lines[line]) else '"'


def _escaped(text: str, quote: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r").replace(quote, "\\" + quote)


def apply_edits(source: str, kind: Kind, edits: Sequence[DocumentEdit]) -> str:
    """The document with non-overlapping edits made (what an editor does with a code action).

    >>> fix = lint_source("metric.a > 1\\n", "lmf").findings[0].fixes[0]
    >>> apply_edits("metric.a > 1\\n", "lmf", fix.edits)
    'metrics.a > 1\\n'
    """
    starts = line_starts(source)

    def offset(line: int, column: int) -> int:
        return starts[min(line - 1, len(starts) - 1)] + column - 1

    pieces: list[str] = []  # from the end, joined once: a file of many edits is copied once, not per edit
    rest = len(source)
    for edit in sorted(edits, key=lambda e: e.region, reverse=True):
        region = edit.region
        start, end = offset(region.line, region.column), offset(region.end_line, region.end_column)
        pieces += [source[end:rest], edit.replacement]
        rest = start
    pieces.append(source[:rest])
    return "".join(reversed(pieces))


# ---- fixing files ----------------------------------------------------------------------------------------

FIX_ROUNDS = 10
"""Most times a document is linted and fixed again: a fix may reveal another (ruff's way)."""


def fixed_source(
    source: str, kind: Kind, target: str | Target = "mlflow", native: bool = False, *, unsafe: bool = False
) -> tuple[str, int]:
    """A document with its fixes applied, and how many were: the safe ones (any, with ``unsafe``), the first
    of each finding, leaving out one whose edits overlap another's, until none is left or
    :data:`FIX_ROUNDS` rounds have run.

    >>> fixed_source("status = 2 AND metrics.acc > '0.9'\\n", "lmf")
    ("status = 'READY' AND metrics.acc > 0.9\\n", 2)
    """
    total = 0
    for _ in range(FIX_ROUNDS):
        chosen: list[DocumentEdit] = []
        for finding in lint_source(source, kind, target, native).findings:
            fix = next((f for f in finding.fixes if f.safe or unsafe), None)
            if fix is None:
                continue
            regions = [edit.region for edit in fix.edits]
            if any(_overlap(a, edit.region) for a in regions for edit in chosen):
                continue
            chosen += fix.edits
            total += 1
        if not chosen:
            break
        source = apply_edits(source, kind, chosen)
    return source, total


def _overlap(a: Region, b: Region) -> bool:
    start_a, end_a = (a.line, a.column), (a.end_line, a.end_column)
    start_b, end_b = (b.line, b.column), (b.end_line, b.end_column)
    return (start_a < end_b and start_b < end_a) or start_a == start_b


def fix_paths(
    paths: Iterable[str | os.PathLike[str]],
    target: str | Target | None = None,
    native: bool | None = None,
    *,
    config: Config | None = None,
    unsafe: bool = False,
    failed: dict[str, str] | None = None,
) -> dict[str, int]:
    """Apply the fixes of every file :func:`lint_paths` would lint, in place; how many in each file changed.

    A file is written whole or not at all (a temporary file beside it, renamed over it, with its mode),
    in its own encoding, byte order mark and line breaks. A file that mixes line breaks, or cannot be read,
    is left as it is (linting it says why); one that cannot be written, or changed since it was read, is
    left as it is and put in ``failed`` with the reason, and the others are fixed all the same.
    """
    config = config or Config()
    failed = {} if failed is None else failed
    changed: dict[str, int] = {}
    for path in documents_under(paths, config):
        kind = kind_of(path)
        configured_target, configured_native = configured(config, path, kind)
        try:
            read = os.stat(path)
            if not stat.S_ISREG(read.st_mode):  # a FIFO or a device would block or never end
                continue
            with open(path, "rb") as file:
                data = file.read()
            encoding, text = _decoded(path, data)
        except (OSError, UnicodeDecodeError, SyntaxError):
            continue  # lint reports it
        newline = _line_break(text)
        if kind is None or newline is None:
            continue
        normal = text.replace(newline, "\n") if newline != "\n" else text
        fixed, count = fixed_source(
            normal,
            kind,
            configured_target if target is None else target,
            configured_native if native is None else native,
            unsafe=unsafe,
        )
        if count and fixed != normal:
            try:
                write_atomically(path, fixed.replace("\n", newline).encode(encoding, "surrogateescape"), read)
            except (OSError, ChangedError) as error:
                failed[path] = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
                continue
            changed[path] = count
    return changed


def _line_break(text: str) -> str | None:
    """The one line break a text uses (``\\n`` when it has none), or ``None`` when it mixes them."""
    crlf = text.count("\r\n")
    used = [
        b for b, n in (("\r\n", crlf), ("\r", text.count("\r") - crlf), ("\n", text.count("\n") - crlf)) if n
    ]
    return "\n" if not used else used[0] if len(used) == 1 else None


def _decoded(path: str, data: bytes) -> tuple[str, str]:
    """A document's encoding (``utf-8-sig`` when it starts with a byte order mark) and text, as written."""
    encoding = "utf-8"
    if kind_of(path) == "python":
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    if data.startswith(b"\xef\xbb\xbf"):
        encoding = "utf-8-sig"
    return encoding, data.decode(encoding)


class ChangedError(LmfilterError):
    """A file changed between being read and being written over: it is left as it is."""


def write_atomically(path: str, data: bytes, read: os.stat_result | None = None) -> None:
    """Replace a file's bytes whole, so that it is always either all old or all new: a new file is written
    beside it (synced) and renamed over it, with the file's mode (and owner, where that may be given).

    A symbolic link stays one: the file it names is written. A read-only file raises ``PermissionError``;
    with ``read`` (the file's status when it was read), one that changed since raises
    :class:`ChangedError`. Any other failure is the ``OSError``, and no temporary file is left.
    """
    target = os.path.realpath(path)
    now = os.stat(target)
    if read is not None and (now.st_ino, now.st_size, now.st_mtime_ns) != (
        read.st_ino,
        read.st_size,
        read.st_mtime_ns,
    ):
        raise ChangedError(f"{path}: changed since it was read; left as it is")
    if not now.st_mode & 0o222 or not os.access(target, os.W_OK):
        raise PermissionError(errno.EACCES, "the file is read-only", path)
    handle, temporary = tempfile.mkstemp(
        prefix=f".{os.path.basename(target)}.", suffix=".tmp", dir=os.path.dirname(target)
    )
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temporary, stat.S_IMODE(now.st_mode))
        if hasattr(os, "chown") and (now.st_uid, now.st_gid) != (os.geteuid(), os.getegid()):
            with contextlib.suppress(OSError):  # only root may give a file away; the owner keeps it
                os.chown(temporary, now.st_uid, now.st_gid)
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


# ---- reports ------------------------------------------------------------------------------------------


def counts(reports: Iterable[FileReport]) -> dict[Severity, int]:
    """How many findings of each severity."""
    out: dict[Severity, int] = {"error": 0, "warning": 0, "info": 0}
    for report in reports:
        for finding in report.findings:
            out[finding.severity] += 1
    return out


def summary(reports: Sequence[FileReport]) -> str:
    """``N files, M filters: E errors, W warnings, I infos`` (unreadable files are not counted)."""
    read = [r for r in reports if r.error is None]
    parts = [plural(n, kind) for kind, n in counts(read).items()]
    return (
        f"{plural(len(read), 'file')}, {plural(sum(r.filters for r in read), 'filter')}: {', '.join(parts)}"
    )


def render_text(reports: Sequence[FileReport]) -> str:
    """Each finding as ``file:line:col: CODE message``, the document's line and a caret line under the
    fault (to the end of the line for a span that goes on), then the summary. Unreadable files are left to
    the caller.

    Each finding's text is bounded: its message is clipped to :data:`~lmfilter.diagnostics.MAX_MESSAGE`
    characters and its line is a :func:`~lmfilter.diagnostics.frame` of at most
    :data:`~lmfilter.diagnostics.FRAME_WIDTH` columns around the fault; what would not show as itself (in a
    path too) is shown escaped. A filter has at most :data:`~lmfilter.diagnostics.MAX_DIAGNOSTICS` findings
    and one ``LMF110`` counting the rest (see :func:`lmfilter.check`).
    """
    blocks = [_render_finding(finding, report.lines) for report in reports for finding in report.findings]
    return "".join(block + "\n\n" for block in blocks) + summary(reports)


def _render_finding(finding: Finding, lines: Sequence[str]) -> str:
    sent = [f"{finding.call} sends it as it is"] if finding.sends != "lmfilter" and finding.call else []
    fixes = [f"fix: {fix.title}" for fix in finding.fixes]
    return render_located(finding.path, finding.region, lines, finding.diagnostic, [*sent, *fixes])


def to_json(reports: Iterable[FileReport]) -> list[dict[str, Any]]:
    """Every finding as a JSON-ready dict: file, region, code, severity, message, filter, fixes."""
    return [
        {
            "file": finding.path,
            **finding.region.to_json(),
            "code": finding.code,
            "severity": finding.severity,
            "message": finding.message,
            "filter": finding.filter,
            "call": finding.call,
            "sends": finding.sends,
            "target": finding.target,
            "native": finding.native,
            "fixes": [
                {
                    "title": fix.title,
                    "safe": fix.safe,
                    "edits": [{**e.region.to_json(), "replacement": e.replacement} for e in fix.edits],
                }
                for fix in finding.fixes
            ],
        }
        for report in reports
        for finding in report.findings
    ]


def to_sarif(reports: Sequence[FileReport], root: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """A SARIF 2.1.0 log of one run: a rule for each code found, a result for each finding.

    Columns are UTF-16 code units (SARIF's default ``columnKind``); file URIs are relative to ``root`` (the
    current directory by default) under the base id ``%SRCROOT%``. Unreadable files are tool notifications
    and make the run unsuccessful.
    """
    base = Path(root if root is not None else os.getcwd()).resolve()
    codes = sorted({finding.code for report in reports for finding in report.findings})
    rule_index = {code: index for index, code in enumerate(codes)}
    results = []
    for report in reports:
        location = _artifact_location(report.path, base)
        for finding in report.findings:
            region = _sarif_region(finding.region, report.lines)
            result: dict[str, Any] = {
                "ruleId": finding.code,
                "ruleIndex": rule_index[finding.code],
                "level": _SARIF_LEVELS[finding.severity],
                "message": {"text": finding.message},
                "locations": [{"physicalLocation": {"artifactLocation": location, "region": region}}],
            }
            if finding.fixes:
                result["fixes"] = [
                    {
                        "description": {"text": fix.title},
                        "artifactChanges": [
                            {
                                "artifactLocation": location,
                                "replacements": [
                                    {
                                        "deletedRegion": _sarif_region(edit.region, report.lines),
                                        "insertedContent": {"text": edit.replacement},
                                    }
                                    for edit in fix.edits
                                ],
                            }
                        ],
                    }
                    for fix in finding.fixes
                ]
            results.append(result)
    failures = [r for r in reports if r.error is not None]
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "lmfilter",
                        "version": __version__,
                        "informationUri": INFORMATION_URI,
                        "rules": [
                            {"id": code, "shortDescription": {"text": _FAMILIES.get(code[:4], "lmfilter")}}
                            for code in codes
                        ],
                    }
                },
                "originalUriBaseIds": {"%SRCROOT%": {"uri": base.as_uri() + "/"}},
                "columnKind": "utf16CodeUnits",
                "invocations": [
                    {
                        "executionSuccessful": not failures,
                        "toolExecutionNotifications": [
                            {
                                "level": "error",
                                "message": {"text": f"{r.path}: {r.error}"},
                                "locations": [
                                    {
                                        "physicalLocation": {
                                            "artifactLocation": _artifact_location(r.path, base)
                                        }
                                    }
                                ],
                            }
                            for r in failures
                        ],
                    }
                ],
                "results": results,
            }
        ],
    }


def _artifact_location(path: str, base: Path) -> dict[str, str]:
    absolute = Path(path).resolve()
    if absolute.is_relative_to(base):
        # As bytes: a name that is not UTF-8 holds surrogates, which only the file system's encoding takes.
        relative = os.fsencode(absolute.relative_to(base).as_posix())
        return {"uri": urllib.parse.quote(relative), "uriBaseId": "%SRCROOT%"}
    return {"uri": absolute.as_uri()}


def _sarif_region(region: Region, lines: Sequence[str]) -> dict[str, int]:
    def column(line: int, column: int) -> int:
        return utf16_column(lines[line - 1], column - 1) + 1 if line <= len(lines) else column

    return {
        "startLine": region.line,
        "startColumn": column(region.line, region.column),
        "endLine": region.end_line,
        "endColumn": column(region.end_line, region.end_column),
    }
