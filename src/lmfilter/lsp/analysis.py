"""Analysis: a document's filters found (:func:`outline`) and checked (:func:`check_outline`), as findings.

An :class:`Outline` says where a document's filters are; an :class:`Analysis` adds a :class:`Finding` for each
diagnostic, which :meth:`Finding.lsp` turns into the client's. They keep no state of the server's (a ``memo``
of diagnostics is the caller's), so the background linter, the requests and :func:`analyze` share them. Also
here: the findings published (:func:`published`), the filters of an older outline still valid
(:func:`carried`), and the filter under a cursor (:func:`lmf_site_at`, :func:`python_site_at`; a StackQL
document's search filters are :func:`stackql_sites`).
"""

from __future__ import annotations

import bisect
import dataclasses
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from lsprotocol import types

from lmfilter import documents, lint
from lmfilter.diagnostics import Diagnostic, Span, capped
from lmfilter.documents import Found, Kind, Place, Run, Spread, Suppressed, lmf_filter, noqa_lines
from lmfilter.lint import SKIPPED_CODE
from lmfilter.lsp.positions import Lines, Quoting, Site
from lmfilter.lsp.settings import Settings
from lmfilter.schema import Target
from lmfilter.stackql import parse_statements

SOURCE = "lmfilter"
"""The ``source`` of every diagnostic, and the server's name."""

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


def document_finding(message: str) -> Finding:
    """An information about the whole document, at its start."""
    return Finding(Site("", Run(0, 0, 0)), Diagnostic(SKIPPED_CODE, "info", message, Span(0, 0)))


@dataclass(frozen=True, slots=True)
class Outline:
    """Where a document's filters are, before any is checked."""

    kind: Kind
    lines: Lines
    sites: tuple[Site, ...]  # the filters to lint, in reading order
    skipped: tuple[Finding, ...]  # an information for each filter that is not linted, saying why
    noqa: Suppressed = dataclasses.field(default_factory=dict)  # the lines with a noqa comment


@dataclass(frozen=True, slots=True)
class Analysis:
    """A document's filters and what was found in them."""

    outline: Outline
    findings: tuple[Finding, ...]  # in reading order, the skipped filters' among them


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
    """Find the filters of a document (its text is ``lines.source``), as ``lint`` finds them."""
    noqa = noqa_lines(lines.source, kind)
    if kind == "lmf":
        return Outline(kind, lines, tuple(lmf_sites(lines)), (), noqa)
    if kind == "stackql":  # its statements are checked whole: one site, the document
        return Outline(kind, lines, (Site(lines.source, Spread.of(lines.source)),), (), noqa)
    sites: list[Site] = []
    skipped: list[Finding] = []
    for found in documents.filters_in(lines.source, kind):
        if found.skipped:
            site = Site(found.text, found.place, found=found)
            skipped += (Finding(site, info) for info in lint.diagnostics_of(found, "mlflow", False, noqa))
        else:
            sites.append(Site(found.text, found.place, Quoting.python(lines, found), found))
    return Outline(kind, lines, tuple(sites), tuple(skipped), noqa)


class Stale(Exception):  # noqa: N818 - not an error: a signal to stop
    """Work on a document stopped because it is no longer wanted (or other work goes first)."""


Memo = dict[tuple[str, str, bool], tuple[Diagnostic, ...]]
"""A filter's diagnostics by its text and the target and ``native`` it was checked for."""


def check_outline(
    found: Outline,
    settings: Settings,
    memo: Memo | None = None,
    stop: Callable[[], bool] | None = None,
    path: str | None = None,
) -> Analysis:
    """Check each filter of an outline, as ``lint`` does: each for what its call sends
    (:func:`lmfilter.lint.reading`) under the settings for ``path``, leaving out what a noqa comment names;
    a StackQL document's statements whole (:func:`lmfilter.lint.statement_diagnostics`).

    ``memo`` holds the diagnostics of filters checked before; it is read and added to, so relinting a
    document after a keystroke checks only the filter that changed. ``stop`` is asked between filters; when
    it says so, :class:`Stale` is raised (what was checked stays in ``memo``). A document the settings
    exclude has no findings.
    """
    memo = {} if memo is None else memo
    configured = settings.configuration()
    if path is not None and configured.excluded(path):
        return Analysis(found, ())
    target, native = lint.configured(configured, path, found.kind)
    findings = list(found.skipped)

    def remembered(text: str, target: str | Target, native: bool) -> tuple[Diagnostic, ...]:
        key = (text, str(target), native)
        diagnostics = memo.get(key)
        if diagnostics is None:
            diagnostics = memo[key] = tuple(lint.checked(text, target, native))
        return diagnostics

    def between() -> None:
        if stop is not None and stop():
            raise Stale

    for site in found.sites:
        between()
        if found.kind == "stackql":
            name = lint.statement_target(target)
            key = (site.text, name, True)
            if (statements := memo.get(key)) is None:
                _, said = lint.statement_diagnostics(site.text, name, found.noqa, between=between)
                statements = memo[key] = tuple(said)
            findings += (Finding(site, diagnostic) for diagnostic in statements)
            continue
        item = site.found or Found(site.text, site.place)
        reading = lint.reading(item, target, native)
        diagnostics = lint.diagnostics_of(item, *reading, found.noqa, remembered)
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


def stackql_sites(lines: Lines) -> list[Site]:
    """The search filters of a StackQL document's statements, each a site whose characters are placed, and
    written back, through both layers of quoting (a JSON string in an SQL string); for
    :func:`python_site_at`. A filter that is a template is none."""
    spread = Spread.of(lines.source)
    sites = []
    for statement in parse_statements(lines.source).statements:
        found = statement.search_filter()
        if found is None or "{{" in found.value:
            continue
        offsets = found.offsets
        positions = tuple(spread.position(offsets.start(i)) for i in range(len(found.value) + 1))
        sites.append(Site(found.value, Place(positions), Quoting(layers=offsets)))
    return sites
