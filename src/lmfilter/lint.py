"""Lint filters where people write them: every filter of ``.lmf`` files and of Python call sites, checked.

This stage serves the two faces, ``lmfilter lint`` and the language server. It finds the filters of a
document with :mod:`lmfilter.documents`, checks each with :func:`lmfilter.check`, and places every
diagnostic, and every edit of its fixes, on the document's own lines and columns: a :class:`Region` is
1-based, counts columns in code points and ends just after the last character, as SARIF regions do. A
filter that cannot be linted (an f-string with holes, an implicitly concatenated string) becomes an
``info`` of its own code, :data:`SKIPPED_CODE`. Reports come out as text (``file:line:col: CODE message``
with the line and a caret under the fault), as JSON, or as SARIF 2.1.0. Files are read here; nothing is
printed and nothing exits.

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

import io
import os
import tokenize
import urllib.parse
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lmfilter.api import check
from lmfilter.diagnostics import MAX_MESSAGE, SEVERITY_RANK, Diagnostic, Fix, Severity, Span, frame, shown
from lmfilter.documents import Found, Kind, filters_in, kind_of, utf16_column
from lmfilter.schema import Target
from lmfilter.version import __version__

SKIPPED_CODE = "LMF401"  # a filter found in a document but not linted (the reason is the message)

SKIPPED_DIRECTORIES = frozenset({"node_modules", "__pycache__", "build", "dist"})  # and hidden ones

SARIF_SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
INFORMATION_URI = "https://pypi.org/project/lmfilter/"  # the project has no other home yet

# What each family of codes is about: the rules' short descriptions in SARIF.
_FAMILIES = {
    "LMF1": "filter syntax",
    "LMF2": "filter fields and types",
    "LMF3": "not supported as written by the target server",
    "LMF4": "filter not linted",
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
    def of(cls, found: Found, span: Span) -> Region:
        """The region of a span of a found filter's text."""
        line, column = found.place.position(span.start)
        end_line, end_column = found.place.position(span.end)
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


@dataclass(frozen=True, slots=True)
class Finding:
    """One diagnostic of one filter of a document, placed in the document.

    ``filter`` is the filter's text (empty for a skipped one), ``diagnostic`` its diagnostic with spans into
    that text, ``region`` the diagnostic's place in the document, and ``fixes`` the diagnostic's fixes as
    document edits (a fix that cannot be written into the document, such as a line break in an ``.lmf``
    line, is left out).
    """

    path: str
    filter: str
    diagnostic: Diagnostic
    region: Region
    fixes: tuple[DocumentFix, ...] = ()

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
) -> FileReport:
    """Lint one document's text: every diagnostic of every filter in it, in reading order.

    >>> code = 'import lmfilter\\nlmfilter.parse("tags.équipe = \\'α\\' AND nmae = \\'x\\'")\\n'
    >>> [(f.code, f.region.line, f.region.column) for f in lint_source(code, "python").findings]
    [('LMF202', 2, 39)]
    """
    found = filters_in(source, kind)
    lines = document_lines(source, kind)
    findings: list[Finding] = []
    for item in found:
        if item.skipped is not None:
            skipped = Diagnostic(SKIPPED_CODE, "info", item.skipped, Span(0, 0))
            findings.append(Finding(path, "", skipped, Region.of(item, skipped.span)))
            continue
        for diagnostic in check(item.text, target, native):
            fixes = tuple(
                mapped
                for fix in diagnostic.fixes
                if (mapped := _document_fix(fix, item, source, kind, lines)) is not None
            )
            findings.append(Finding(path, item.text, diagnostic, Region.of(item, diagnostic.span), fixes))
    findings.sort(key=lambda f: (f.region, SEVERITY_RANK[f.severity], f.code))
    return FileReport(path, kind, len(found), tuple(findings), tuple(lines) if findings else ())


def lint_paths(
    paths: Iterable[str | os.PathLike[str]], target: str | Target = "mlflow", native: bool = False
) -> list[FileReport]:
    """Lint every ``.lmf`` and Python file named, and those under the directories named.

    Directories are walked recursively in name order, leaving out hidden ones, ``node_modules``,
    ``__pycache__``, ``build`` and ``dist``; a named file of another kind is left out too. A file that cannot
    be read (or a path that does not exist) gets a report with its ``error``.
    """
    return [_lint_file(path, target, native) for path in documents_under(paths)]


def documents_under(paths: Iterable[str | os.PathLike[str]]) -> Iterator[str]:
    """The files :func:`lint_paths` lints, each once, in order (a missing path too, to report it)."""
    seen: set[str] = set()
    for given in paths:
        for path in _walk(os.path.normpath(os.fspath(given))):
            if path not in seen:
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


def _lint_file(path: str, target: str | Target, native: bool) -> FileReport:
    kind = kind_of(path)
    try:
        source = read_document(path)
    except (OSError, UnicodeDecodeError, SyntaxError) as error:
        return FileReport(path, kind, error=_read_error(error))
    if kind is None:  # a named path of a kind lmfilter does not lint
        return FileReport(path, kind)
    return lint_source(source, kind, target, native, path=path)


def read_document(path: str) -> str:
    """A document's text: decoded as Python reads it for ``.py`` files (PEP 263 cookie or BOM), as UTF-8
    otherwise, with every line break made ``\\n``."""
    with open(path, "rb") as file:
        data = file.read()
    encoding = "utf-8-sig"
    if kind_of(path) == "python":
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    return data.decode(encoding).replace("\r\n", "\n").replace("\r", "\n")


def _read_error(error: OSError | UnicodeDecodeError | SyntaxError) -> str:
    if isinstance(error, UnicodeDecodeError):
        return f"cannot read: not {error.encoding} text (byte {error.start})"
    if isinstance(error, OSError):
        return f"cannot read: {error.strerror or error}"
    return f"cannot read: {error.msg}"  # a bad encoding declaration


def document_lines(source: str, kind: Kind) -> list[str]:
    """The lines of a document as :mod:`lmfilter.documents` numbers them, without their line breaks."""
    if kind == "lmf":
        return source.splitlines()
    return [line.removesuffix("\r") for line in source.split("\n")]


# ---- fixes as document edits --------------------------------------------------------------------------


def _document_fix(
    fix: Fix, found: Found, source: str, kind: Kind, lines: Sequence[str]
) -> DocumentFix | None:
    """A fix as edits of the document, or ``None`` when its text cannot be written where it goes."""
    edits = [(Region.of(found, edit.span), edit.replacement) for edit in fix.edits]
    if kind == "lmf":
        if any(len(replacement.splitlines()) > 1 or "\r" in replacement for _, replacement in edits):
            return None  # a line break would split the filter's line
        return DocumentFix(fix.title, tuple(DocumentEdit(r, text) for r, text in edits))
    quote = _closing_quote(found, lines)
    plain = all(not any(c in text for c in ("\\", "\n", "\r", quote)) for _, text in edits)
    written = DocumentFix(
        fix.title, tuple(DocumentEdit(r, text if plain else _escaped(text, quote)) for r, text in edits)
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
    starts = [0]
    for line in _lines_with_breaks(source, kind):
        starts.append(starts[-1] + len(line))

    def offset(line: int, column: int) -> int:
        return starts[min(line - 1, len(starts) - 1)] + column - 1

    out = source
    for edit in sorted(edits, key=lambda e: e.region, reverse=True):
        region = edit.region
        start, end = offset(region.line, region.column), offset(region.end_line, region.end_column)
        out = out[:start] + edit.replacement + out[end:]
    return out


def _lines_with_breaks(source: str, kind: Kind) -> list[str]:
    if kind == "lmf":
        return source.splitlines(keepends=True)
    *lines, last = source.split("\n")
    return [line + "\n" for line in lines] + [last]


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
    parts = [_plural(n, kind) for kind, n in counts(read).items()]
    return (
        f"{_plural(len(read), 'file')}, {_plural(sum(r.filters for r in read), 'filter')}: {', '.join(parts)}"
    )


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'s' if n != 1 else ''}"


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
    region = finding.region
    line_text = lines[region.line - 1] if region.line <= len(lines) else ""
    start = region.column - 1
    stop = region.end_column - 1 if region.end_line == region.line else len(line_text)
    shown_line, carets = frame(line_text, start, stop)
    gutter = " " * len(str(region.line))
    notes = "; ".join([finding.severity, *(f"fix: {fix.title}" for fix in finding.fixes)])
    path = shown(finding.path, None)  # escaped, never cut: it names the file
    return "\n".join(
        [
            f"{path}:{region.line}:{region.column}: {finding.code} {shown(finding.message, MAX_MESSAGE)}",
            f"  {region.line} | {shown_line}".rstrip(),
            f"  {gutter} | {carets} {shown(notes, MAX_MESSAGE)}",
        ]
    )


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
            "fixes": [
                {
                    "title": fix.title,
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
