"""The server: :class:`LmfilterServer`, the handler of each LSP message, and the command line.

:class:`LmfilterServer` keeps the settings (their layers, :mod:`lmfilter.lsp.settings`), the open documents
(:mod:`lmfilter.lsp.open_documents`), their linting (:mod:`lmfilter.lsp.background`) and the known models
(:mod:`lmfilter.lsp.known`). The handlers below it answer each message from the modules before this one;
:func:`build_server` registers them, and :func:`main` runs the server on stdio.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, cast
from urllib.parse import unquote

from lsprotocol import types
from pygls.exceptions import JsonRpcException, JsonRpcInvalidParams, JsonRpcParseError
from pygls.lsp.server import LanguageServer
from pygls.uris import to_fs_path

from lmfilter import __version__, lint
from lmfilter.auth import shown_url
from lmfilter.diagnostics import Span
from lmfilter.lsp.analysis import (
    SOURCE,
    Analysis,
    Outline,
    carried,
    document_finding,
    lmf_site_at,
    lmf_sites,
    published,
    python_site_at,
    stackql_sites,
)
from lmfilter.lsp.background import Job, Linter, in_thread, off_loop
from lmfilter.lsp.completion import suggest
from lmfilter.lsp.hover import describe_field, field_at
from lmfilter.lsp.known import NOTHING_KNOWN, Known, load_known
from lmfilter.lsp.open_documents import LIVE_LIMIT, Document, too_large
from lmfilter.lsp.positions import Lines, Site
from lmfilter.lsp.presentation import TOKEN_TYPES, formatting_edits, semantic_tokens
from lmfilter.lsp.protocol import LmfilterProtocol, strict_converter
from lmfilter.lsp.settings import Settings, pyproject_settings, resolve, settings_layer
from lmfilter.schema import TARGETS, get_target
from lmfilter.syntax import MAX_LENGTH

SECTION = "lmfilter"
"""The section of the client's configuration (``workspace/configuration``) that holds the settings."""

REFRESH_MODELS = "lmfilter.refreshModels"
"""The command that reads the known models again."""

MAX_PUBLISHED = 1000
"""Most diagnostics published for one document; one ``LMF110`` counts the rest."""

MODELS_WAIT = 1.0
"""Most seconds a completion or hover waits for known models that are still loading."""


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
            result = Analysis(Outline(kind, document.lines(), (), ()), (document_finding(why),))
        document.analysis, document.analyzed = result, job.revision
        self.publish(document)

    def publish(self, document: Document) -> None:
        """Publish what is known of the document as it is: its findings (up to :data:`MAX_PUBLISHED`) if it
        was linted as it is, and whether it is too large to lint as it is typed."""
        analysis = document.current
        findings = published(analysis.findings, MAX_PUBLISHED) if analysis else []
        if document.large:
            findings.insert(0, document_finding(too_large(document)))
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
        elif document.kind == "stackql" and not document.large:
            found = python_site_at(lines, await in_thread(stackql_sites, lines), position)
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

        return types.SemanticTokens(data=await off_loop(document, revision, work))

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
        return await off_loop(
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

    def checked_for(self, identifier: types.TextDocumentIdentifier) -> tuple[str, bool]:
        """The target and ``native`` a document's filters are read for, in completion and hover: a StackQL
        document's search filters as its statements are checked (:func:`lmfilter.lint.configured`)."""
        document = self.document(identifier)
        if document.kind != "stackql":
            return self.settings.target, self.settings.native
        target, _ = lint.configured(self.settings.configuration(), document.path, document.kind)
        return lint.statement_target(target), True

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
    target, native = ls.checked_for(params.text_document)
    items = []
    for rank, suggestion in enumerate(suggest(site.text, offset, known, target, native)):
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
    field = field_at(site.text, offset)
    if field is None:
        return None
    span, written = field
    known, _ = await ls.known()
    target, native = ls.checked_for(params.text_document)
    text = describe_field(written, known, get_target(target), native)
    if text is None:
        return None
    hover = ls.client_capabilities.text_document
    formats = hover.hover.content_format if hover and hover.hover else None
    return types.Hover(contents=ls.markup(text, formats), range=site.range(lines, span))


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
    parser.add_argument(
        "--target",
        choices=sorted(TARGETS),
        help="default: mlflow (databricks for StackQL statements, whose resource is Databricks')",
    )
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
    defaults = Settings(
        args.target or "mlflow",
        args.native,
        models,
        args.server,
        args.experiment_id,
        target_set=args.target is not None,
    )
    build_server(defaults).start_io()
    return 0
