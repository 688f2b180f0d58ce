"""Open documents: each one's text as the client has it, and what the server made of each revision of it.

A :class:`Document` applies ``didChange`` edits to its text (clamped as LSP's reference implementation does)
and counts revisions; its lines and outline are made once per revision, by whichever thread asks first, and
its analysis is used only while it is of the text as it is. :data:`LIVE_LIMIT` and :data:`LINT_DELAY` say
what is linted as it is typed, and when.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Callable
from typing import Generic, TypeVar
from urllib.parse import unquote, urlsplit

from lsprotocol import types
from pygls.uris import to_fs_path

from lmfilter import documents
from lmfilter.documents import Kind
from lmfilter.lsp.analysis import Analysis, Memo, Outline, outline
from lmfilter.lsp.positions import Lines, halves, joined

LIVE_LIMIT = 1_000_000
"""Documents of up to this many characters are linted as they are typed. A longer one is linted when opened,
saved or its settings change, and otherwise shows one information saying so (diagnostics of an older text
would point at the wrong places); semantic tokens of the whole of it are not computed (the client asks for
ranges), and neither formatting nor a range of lines over this size is formatted at once."""

LINT_DELAY = 0.15
"""Most seconds without a change before a document is linted: as long as its last lint took, up to this. A
burst of keystrokes in a document slow to lint is linted once; one quick to lint is linted at once."""

_KIND_OF_LANGUAGE: dict[str, Kind] = {
    "python": "python",
    "lmfilter": "lmf",
    "sql": "stackql",
    "stackql": "stackql",
}

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
        self.path: str | None = to_fs_path(item.uri)  # for the settings of its path (None: not a file)
        self.key = unquote(item.uri)  # how the server knows it, whichever %-escapes a message uses
        self.kind: Kind | None = documents.kind_of(urlsplit(item.uri).path) or _KIND_OF_LANGUAGE.get(
            item.language_id
        )
        self.encoding = encoding
        self.version: int = item.version
        self.text = joined(item.text)
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
                        text = text[:index] + halves(text[index]) + text[index + 1 :]
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
        self.text = joined(text)
        self.version = params.text_document.version
        self.revision += 1
        return problems


def _written(position: types.Position) -> str:
    return f"line {position.line}, character {position.character}"


def too_large(document: Document) -> str:
    """The information published on a document too large to lint as it is typed."""
    return (
        f"this document has {len(document.text):,} characters, more than {LIVE_LIMIT:,}: lmfilter lints it "
        "when it is opened or saved, not as you type"
    )
