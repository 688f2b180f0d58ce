"""End to end: a real LSP client (pytest-lsp) drives ``python -m lmfilter.lsp`` over stdio.

Positions in these tests are written out by hand in UTF-16 code units (what LSP counts), so that a server
counting code points or bytes fails them.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import sys
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar, cast

import pytest
import pytest_asyncio
import pytest_lsp
from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pytest_lsp import ClientServerConfig, LanguageClient

import lmfilter
from lmfilter.lsp import LIVE_LIMIT, REFRESH_MODELS, main

ROOT = Path(__file__).resolve().parents[1]
MODELS = ROOT / "examples" / "models.json"
SERVER = [sys.executable, "-m", "lmfilter.lsp"]
PUBLISH = types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS
CURSOR = "|"

pytestmark = [
    pytest.mark.asyncio(loop_scope="module"),
    pytest.mark.filterwarnings("error::pytest_lsp.LspSpecificationWarning"),
]

F = TypeVar("F", bound=Callable[..., Any])
_lsp_fixture = cast("Callable[..., Callable[[F], F]]", pytest_lsp.fixture)

CAPABILITIES = types.ClientCapabilities(
    text_document=types.TextDocumentClientCapabilities(
        hover=types.HoverClientCapabilities(content_format=[types.MarkupKind.Markdown]),
    ),
)
INITIALIZED: dict[str, types.InitializeResult] = {}


@_lsp_fixture(config=ClientServerConfig(server_command=[*SERVER, "--models", str(MODELS)]), scope="module")
async def client(lsp_client: LanguageClient) -> AsyncIterator[None]:
    loaded = lsp_client.protocol.wait_for_notification_async(types.WINDOW_LOG_MESSAGE)
    INITIALIZED["models"] = await lsp_client.initialize_session(
        types.InitializeParams(capabilities=CAPABILITIES)
    )
    # Requests wait a second at most for models still loading: let them load first, however slowly.
    assert (await asyncio.wait_for(loaded, 30)).message.startswith("lmfilter: 38 models from")
    yield
    await lsp_client.shutdown_session()


async def started(*arguments: str) -> LanguageClient:
    """A server of its own, for a test that sets it up differently (stopped by :func:`stop`)."""
    config = ClientServerConfig(server_command=[*SERVER, *arguments])
    return cast(LanguageClient, await config.start())


async def stop(lsp_client: LanguageClient) -> None:
    """Shut the server down; one that does not exit in time is killed, and the test fails."""

    async def shut_down() -> None:
        await lsp_client.shutdown_session()
        await cast("Callable[[], Awaitable[None]]", lsp_client.stop)()

    try:
        await asyncio.wait_for(shut_down(), 30)
    except TimeoutError:
        server = cast("asyncio.subprocess.Process | None", getattr(lsp_client, "_server", None))
        if server is not None and server.returncode is None:
            server.kill()
        raise


# ---- documents and positions, counted independently of the server -------------------------------------

_numbers = itertools.count()


def new_uri(name: str) -> str:
    return f"file:///lmfilter-lsp-tests/{next(_numbers)}/{name}"


def utf16_position(text: str, offset: int) -> types.Position:
    line = text.count("\n", 0, offset)
    start = text.rfind("\n", 0, offset) + 1
    return types.Position(line=line, character=len(text[start:offset].encode("utf-16-le")) // 2)


def utf16_offset(text: str, position: types.Position) -> int:
    start = sum(len(line) for line in text.splitlines(keepends=True)[: position.line])
    units = 0
    offset = start
    while units < position.character:
        units += 2 if ord(text[offset]) > 0xFFFF else 1
        offset += 1
    return offset


def apply_edits(text: str, edits: Sequence[types.TextEdit]) -> str:
    spans = [(utf16_offset(text, e.range.start), utf16_offset(text, e.range.end), e.new_text) for e in edits]
    for start, end, new in sorted(spans, reverse=True):
        text = text[:start] + new + text[end:]
    return text


def at(line: int, start: int, end: int) -> tuple[int, int, int, int]:
    return (line, start, line, end)


def where(rng: types.Range) -> tuple[int, int, int, int]:
    return (rng.start.line, rng.start.character, rng.end.line, rng.end.character)


async def published(
    lsp: LanguageClient, send: Callable[[], None], uri: str, version: int
) -> list[types.Diagnostic]:
    """Send a notification; the diagnostics then published for ``uri`` at ``version``."""
    waiting = lsp.protocol.wait_for_notification_async(PUBLISH)
    send()
    while True:
        params: types.PublishDiagnosticsParams = await asyncio.wait_for(waiting, 15)
        if params.uri == uri and params.version == version:
            return list(params.diagnostics)
        waiting = lsp.protocol.wait_for_notification_async(PUBLISH)


async def open_document(
    lsp: LanguageClient, name: str, text: str, language: str = "lmfilter"
) -> tuple[str, list[types.Diagnostic]]:
    uri = new_uri(name)
    item = types.TextDocumentItem(uri=uri, language_id=language, version=1, text=text)
    params = types.DidOpenTextDocumentParams(text_document=item)
    return uri, await published(lsp, lambda: lsp.text_document_did_open(params), uri, 1)


async def change_document(lsp: LanguageClient, uri: str, version: int, text: str) -> list[types.Diagnostic]:
    params = types.DidChangeTextDocumentParams(
        text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
        content_changes=[types.TextDocumentContentChangeWholeDocument(text=text)],
    )
    return await published(lsp, lambda: lsp.text_document_did_change(params), uri, version)


def summary(diagnostics: Sequence[types.Diagnostic]) -> list[tuple[Any, ...]]:
    """Code, severity and range of each diagnostic, in reading order."""
    return sorted(((d.code, d.severity, where(d.range)) for d in diagnostics), key=lambda row: row[2])


ERROR, WARNING, INFO = (
    types.DiagnosticSeverity.Error,
    types.DiagnosticSeverity.Warning,
    types.DiagnosticSeverity.Information,
)


# ---- diagnostics ----------------------------------------------------------------------------------------


async def test_diagnostics_on_open_have_code_severity_source_and_range(client: LanguageClient) -> None:
    text = "# a comment\nmetric.acc > 0.9\n\n  nmae LIKE 'x%' AND status = 'READY'\n"
    _, diagnostics = await open_document(client, "open.lmf", text)
    assert summary(diagnostics) == [("LMF201", ERROR, at(1, 0, 6)), ("LMF202", ERROR, at(3, 2, 6))]
    assert {d.source for d in diagnostics} == {"lmfilter"}
    assert diagnostics[1].message == "unknown attribute 'nmae'; did you mean 'name'?"


async def test_diagnostics_follow_changes_and_clear_on_close(client: LanguageClient) -> None:
    uri, diagnostics = await open_document(client, "change.lmf", "name = 'a'\n")
    assert diagnostics == []
    assert summary(await change_document(client, uri, 2, "name = 'a'\nname = 'b' OR nmae = 'c'\n")) == [
        ("LMF301", INFO, at(1, 11, 13)),
        ("LMF202", ERROR, at(1, 14, 18)),
    ]
    assert await change_document(client, uri, 3, "name = 'a'\nname = 'b' OR name = 'c'\n") != []
    assert await change_document(client, uri, 4, "") == []
    closing = types.DidCloseTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=uri))
    waiting = client.protocol.wait_for_notification_async(PUBLISH)
    client.text_document_did_close(closing)
    cleared: types.PublishDiagnosticsParams = await asyncio.wait_for(waiting, 15)
    assert (cleared.uri, list(cleared.diagnostics)) == (uri, [])


@pytest.mark.parametrize(
    ("line", "nmae"),
    [
        ("tags.`ключ` = '模型' AND nmae = 'x'", (23, 27)),  # BMP: one unit per character
        ("tags.`🔑` = '😀' AND nmae = 'x'", (21, 25)),  # each emoji is two UTF-16 units
        ("tags.`𝒳𝒴` = 'é' AND nmae = 'x'", (22, 26)),
    ],
)
async def test_ranges_count_utf16_units(client: LanguageClient, line: str, nmae: tuple[int, int]) -> None:
    _, diagnostics = await open_document(client, "unicode.lmf", f"name = 'x'\n{line}\n")
    assert summary(diagnostics) == [("LMF202", ERROR, at(1, *nmae))]


async def test_python_filters_are_linted_in_place_and_skipped_ones_reported(client: LanguageClient) -> None:
    text = (
        "import lmfilter, mlflow\n"
        "label = '🔑'; mlflow.search_logged_models(filter_string=\"nmae = 'x'\")\n"
        "lmfilter.check('metrics.acc > 1'\n"
        "               ' AND nmae = 2')\n"
        'mlflow.search_logged_models(filter_string=f"metrics.a > {label}")\n'
        "print('nmae = 1')\n"
    )
    _, diagnostics = await open_document(client, "calls.py", text, "python")
    assert summary(diagnostics) == [
        ("LMF202", ERROR, at(1, 57, 61)),
        ("LMF401", INFO, at(2, 15, 15)),
        ("LMF401", INFO, at(4, 42, 42)),
    ]
    assert [d.message for d in diagnostics[1:]] == [
        "an implicitly concatenated string is not linted",
        "an f-string with a hole outside quotes is not linted",
    ]


async def test_utf8_positions_when_the_client_asks_for_them() -> None:
    lsp = await started()
    try:
        general = types.GeneralClientCapabilities(position_encodings=[types.PositionEncodingKind.Utf8])
        result = await lsp.initialize_session(
            types.InitializeParams(capabilities=types.ClientCapabilities(general=general))
        )
        assert result.capabilities.position_encoding == types.PositionEncodingKind.Utf8
        _, diagnostics = await open_document(lsp, "bytes.lmf", "tags.`🔑` = 'é' AND nmae = 'x'")
        assert summary(diagnostics) == [("LMF202", ERROR, at(0, 23, 27))]  # 🔑 is 4 bytes, é 2
    finally:
        await stop(lsp)


# ---- code actions ---------------------------------------------------------------------------------------


async def quick_fixes(lsp: LanguageClient, uri: str, diagnostic: types.Diagnostic) -> list[types.CodeAction]:
    params = types.CodeActionParams(
        text_document=types.TextDocumentIdentifier(uri=uri),
        range=diagnostic.range,
        context=types.CodeActionContext(diagnostics=[diagnostic]),
    )
    actions = await lsp.text_document_code_action_async(params) or []
    return [a for a in actions if isinstance(a, types.CodeAction)]


@pytest.mark.parametrize(
    ("name", "language", "text", "title", "fixed"),
    [
        ("fix.lmf", "lmfilter", "tags.`🔑` = '😀' AND nmae = 'x'", "replace with 'name'", "name = 'x'"),
        ("fix.lmf", "lmfilter", "metrics.acc > 1 AND AND name = 'x'", "remove the AND", "1 AND name = 'x'"),
        (
            "fix.py",
            "python",
            "import mlflow\nmlflow.search_logged_models(filter_string='name = \"x\"')\n",
            "use single quotes",
            "filter_string='name = \\'x\\'')",
        ),
        (
            "fix.py",
            "python",
            "import lmfilter\nlmfilter.check('''tags.`🔑` = '1' AND\n  nmae = \\'x\\'''')\n",
            "replace with 'name'",
            "  name = \\'x\\'",
        ),
    ],
)
async def test_quick_fixes_apply_and_mend(
    client: LanguageClient, name: str, language: str, text: str, title: str, fixed: str
) -> None:
    uri, diagnostics = await open_document(client, name, text, language)
    broken = [d for d in diagnostics if d.severity in (ERROR, WARNING)]
    assert broken
    (action,) = [a for a in await quick_fixes(client, uri, broken[-1]) if a.title == title]
    assert action.kind == types.CodeActionKind.QuickFix
    assert list(action.diagnostics or ()) == [broken[-1]]
    assert action.edit is not None
    assert action.edit.changes is not None
    mended = apply_edits(text, action.edit.changes[uri])
    assert fixed in mended
    if language == "python":
        compile(mended, name, "exec")  # still Python
    assert [d for d in await change_document(client, uri, 2, mended) if d.severity in (ERROR, WARNING)] == []


async def test_no_quick_fix_outside_a_diagnostic(client: LanguageClient) -> None:
    uri, (diagnostic,) = await open_document(client, "elsewhere.lmf", "name = 'x'\nnmae = 'y'\n")
    elsewhere = types.Diagnostic(
        range=types.Range(start=types.Position(0, 0), end=types.Position(0, 4)), message=""
    )
    assert await quick_fixes(client, uri, elsewhere) == []
    assert [a.title for a in await quick_fixes(client, uri, diagnostic)] == ["replace with 'name'"]


# ---- completion -----------------------------------------------------------------------------------------


async def complete(lsp: LanguageClient, text: str, name: str = "complete.lmf") -> list[types.CompletionItem]:
    """Open ``text`` without its cursor mark and complete where the mark was."""
    offset = text.index(CURSOR)
    source = text.replace(CURSOR, "", 1)
    uri, _ = await open_document(lsp, name, source, "python" if name.endswith(".py") else "lmfilter")
    params = types.CompletionParams(
        text_document=types.TextDocumentIdentifier(uri=uri), position=utf16_position(source, offset)
    )
    result = await lsp.text_document_completion_async(params)
    if result is None:
        return []
    return list(result.items if isinstance(result, types.CompletionList) else result)


def labels(items: Sequence[types.CompletionItem]) -> list[str]:
    return [item.label for item in items]


def edit_of(items: Sequence[types.CompletionItem], label: str) -> tuple[tuple[int, int, int, int], str]:
    (item,) = [i for i in items if i.label == label]
    assert isinstance(item.text_edit, types.TextEdit)
    return where(item.text_edit.range), item.text_edit.new_text


STATUSES = ["'UNSPECIFIED'", "'PENDING'", "'READY'", "'FAILED'"]


@pytest.mark.parametrize(
    ("text", "wanted", "unwanted"),
    [
        pytest.param(
            "|",
            ["metrics.", "params.", "tags.", "attributes.", "name", "status", "NOT", "(", "metrics.acc"],
            ["AND", "="],
            id="empty document",
        ),
        pytest.param(
            "metrics.|",
            ["metrics.acc", "metrics.loss", "metrics.`my metric`", "metrics.val.acc"],
            ["params.lr", "name", "metrics."],
            id="after metrics.",
        ),
        pytest.param("tags.|", ["tags.team", "tags.模型", "tags.`in`"], ["metrics.acc"], id="after tags."),
        pytest.param(
            "attributes.|",
            ["attributes.name", "attributes.creation_timestamp_ms"],
            ["attributes.creation_timestamp", "params.lr"],
            id="after attributes.",
        ),
        pytest.param("nm| = 'x'", ["name", "model_type", "metrics."], ["="], id="mid-token"),
        pytest.param(
            "metrics.acc |",
            ["=", "<", ">=", "BETWEEN", "IS NULL", "IN"],
            ["LIKE", "AND"],
            id="after a metric",
        ),
        pytest.param(
            "name |", ["=", "LIKE", "NOT ILIKE", "IN"], ["<", "BETWEEN", "IS NULL"], id="after name"
        ),
        pytest.param("status |", ["=", "!=", "IN", "NOT IN"], ["LIKE", "<", "IS NULL"], id="after status"),
        pytest.param("metrics.acc NOT |", ["IN", "BETWEEN"], ["LIKE", "NOT IN"], id="after field NOT"),
        pytest.param("model_type IS |", ["NULL", "NOT NULL"], ["="], id="after IS"),
        pytest.param("status = |", STATUSES, ["name"], id="after status ="),
        pytest.param("status IN ('READY', |", STATUSES, [")"], id="in an IN list"),
        pytest.param("params.optimizer = |", ["'adam'", "'sgd'", "'ADAM'"], ["'READY'"], id="known values"),
        pytest.param("metrics.acc > |", ["0.0584", "0.9872"], ["'adam'"], id="known range"),
        pytest.param("name = 'x' |", ["AND", "OR"], [")", "name"], id="after a condition"),
        pytest.param("(name = 'x' OR metrics.acc > 1 |", ["AND", "OR", ")"], [], id="inside parentheses"),
        pytest.param("metrics.acc BETWEEN 1 |", ["AND"], ["OR"], id="inside BETWEEN"),
        pytest.param("name = = 'x' AND |", ["metrics.", "name", "NOT"], ["AND"], id="after a syntax error"),
        pytest.param("name = 'x' AND @@ metrics.acc |", ["AND", "OR"], [], id="after junk"),
        pytest.param("metric.acc |", ["=", "LIKE", "<"], [], id="after an unknown field"),
    ],
)
async def test_completion_at_cursor(
    client: LanguageClient, text: str, wanted: list[str], unwanted: list[str]
) -> None:
    offered = labels(await complete(client, text))
    assert [label for label in wanted if label not in offered] == []
    assert [label for label in unwanted if label in offered] == []


async def test_completion_replaces_the_word_being_typed(client: LanguageClient) -> None:
    assert edit_of(await complete(client, "nm| = 'x'"), "name") == (at(0, 0, 2), "name")
    assert edit_of(await complete(client, "metrics.|"), "metrics.acc") == (at(0, 0, 8), "metrics.acc")
    # An open string is replaced whole, with the quote the editor closed after the cursor.
    assert edit_of(await complete(client, "status = 'RE|'"), "'READY'") == (at(0, 9, 13), "'READY'")
    # UTF-16 columns: 🔑 is two units.
    assert edit_of(await complete(client, "tags.`🔑` = 'x' AND nm|"), "name") == (at(0, 20, 22), "name")


async def test_completion_on_a_comment_line_offers_nothing(client: LanguageClient) -> None:
    assert await complete(client, "name = 'a'\n# see metrics.|\n") == []


async def test_completion_in_python_only_inside_a_filter_string(client: LanguageClient) -> None:
    inside = await complete(
        client, 'import mlflow\nmlflow.search_logged_models(filter_string="metrics.|")\n', "a.py"
    )
    assert "metrics.acc" in labels(inside)
    outside = await complete(
        client, 'import mlflow\nmlflow.search_logged_models(fil|ter_string="x")\n', "b.py"
    )
    assert outside == []
    other = await complete(client, 'import mlflow\nprint("metrics.|")\n', "c.py")
    assert other == []


async def test_completion_in_python_is_escaped_for_the_literal(client: LanguageClient) -> None:
    items = await complete(
        client, "import mlflow\nmlflow.search_logged_models(filter_string='status = |')\n", "d.py"
    )
    assert edit_of(items, "'READY'") == (at(1, 52, 52), "\\'READY\\'")


# ---- hover ----------------------------------------------------------------------------------------------


async def hover(lsp: LanguageClient, text: str, name: str = "hover.lmf") -> types.Hover | None:
    offset = text.index(CURSOR)
    source = text.replace(CURSOR, "", 1)
    uri, _ = await open_document(lsp, name, source, "python" if name.endswith(".py") else "lmfilter")
    params = types.HoverParams(
        text_document=types.TextDocumentIdentifier(uri=uri), position=utf16_position(source, offset)
    )
    return await lsp.text_document_hover_async(params)


def hover_text(result: types.Hover | None) -> str:
    assert result is not None
    assert isinstance(result.contents, types.MarkupContent)
    assert result.contents.kind == types.MarkupKind.Markdown
    return result.contents.value


async def test_hover_on_a_metric_shows_type_meaning_operators_and_range(client: LanguageClient) -> None:
    result = await hover(client, "tags.`🔑` = 'x' AND metr|ics.acc > 0.5")
    text = hover_text(result)
    assert "**metrics.acc** — number" in text
    assert "latest value" in text  # MLflow 3.18's rule
    assert "`BETWEEN`" in text
    assert "`LIKE`" not in text
    assert "min 0.0584, max 0.9872; datasets eval, train" in text
    assert result is not None
    assert result.range is not None
    assert where(result.range) == at(0, 20, 31)


async def test_hover_on_an_attribute_and_a_param(client: LanguageClient) -> None:
    name = hover_text(await hover(client, "na|me = 'x'"))
    assert "The model's name." in name
    assert "`LIKE`" in name
    optimizer = hover_text(await hover(client, "params.optimizer| = 'adam'"))
    assert "'adam' (8)" in optimizer
    assert "`<`" in optimizer
    created = hover_text(await hover(client, "creation_ti|me > 1"))
    assert "milliseconds since the Unix epoch" in created
    assert "min 1795681946" in created


async def test_hover_elsewhere_is_nothing(client: LanguageClient) -> None:
    assert await hover(client, "metrics.acc > 0.|5") is None
    assert await hover(client, "nm|ae = 'x'") is None  # no such field
    assert (
        await hover(
            client, "import mlflow\nmlf|low.search_logged_models(filter_string=\"name = 'x'\")", "e.py"
        )
        is None
    )


async def test_hover_inside_a_python_string(client: LanguageClient) -> None:
    text = hover_text(
        await hover(client, 'import mlflow\nmlflow.search_logged_models(filter_string="sta|tus = 1")', "f.py")
    )
    assert "READY, PENDING, FAILED or UNSPECIFIED." in text


# ---- formatting and semantic tokens ---------------------------------------------------------------------


async def test_formatting_rewrites_each_line_that_parses(client: LanguageClient) -> None:
    text = "name='a'and metrics.acc>1\n# keep   this\nnmae = 'x'\n  status=READY   \nname = 'b'\n"
    uri, _ = await open_document(client, "format.lmf", text)
    params = types.DocumentFormattingParams(
        text_document=types.TextDocumentIdentifier(uri=uri),
        options=types.FormattingOptions(tab_size=4, insert_spaces=True),
    )
    edits = await client.text_document_formatting_async(params) or []
    assert [(where(e.range), e.new_text) for e in edits] == [
        (at(0, 0, 25), "name = 'a' AND metrics.acc > 1"),
        (at(3, 2, 14), "status = 'READY'"),
    ]
    assert apply_edits(text, edits) == (
        "name = 'a' AND metrics.acc > 1\n# keep   this\nnmae = 'x'\n  status = 'READY'   \nname = 'b'\n"
    )


def decode_tokens(data: Sequence[int], legend: Sequence[str]) -> list[tuple[int, int, int, str]]:
    line = column = 0
    decoded = []
    for i in range(0, len(data), 5):
        line += data[i]
        column = data[i + 1] if data[i] else column + data[i + 1]
        decoded.append((line, column, data[i + 2], legend[data[i + 3]]))
    return decoded


async def semantic_tokens(lsp: LanguageClient, text: str, name: str) -> list[tuple[int, int, int, str]]:
    provider = INITIALIZED["models"].capabilities.semantic_tokens_provider
    assert isinstance(provider, types.SemanticTokensOptions)
    uri, _ = await open_document(lsp, name, text, "python" if name.endswith(".py") else "lmfilter")
    params = types.SemanticTokensParams(text_document=types.TextDocumentIdentifier(uri=uri))
    result = await lsp.text_document_semantic_tokens_full_async(params)
    assert result is not None
    return decode_tokens(result.data, provider.legend.token_types)


async def test_semantic_tokens(client: LanguageClient) -> None:
    text = "status = 'READY' AND metrics.acc > 0.5\n# note\ntags.`🔑` IN ('a') OR NOT name LIKE x"
    assert await semantic_tokens(client, text, "tokens.lmf") == [
        (0, 0, 6, "property"),
        (0, 7, 1, "operator"),
        (0, 9, 7, "enumMember"),
        (0, 17, 3, "keyword"),
        (0, 21, 11, "property"),
        (0, 33, 1, "operator"),
        (0, 35, 3, "number"),
        (2, 0, 9, "property"),
        (2, 10, 2, "keyword"),
        (2, 14, 3, "string"),
        (2, 19, 2, "keyword"),
        (2, 22, 3, "keyword"),
        (2, 26, 4, "property"),
        (2, 31, 4, "keyword"),
        (2, 36, 1, "string"),
    ]


async def test_semantic_tokens_in_python_strings(client: LanguageClient) -> None:
    text = "import mlflow\nx = '🔑'; mlflow.search_logged_models(filter_string='name = \\'x\\'')\n"
    assert await semantic_tokens(client, text, "tokens.py") == [
        (1, 53, 4, "property"),
        (1, 58, 1, "operator"),
        (1, 60, 5, "string"),  # \'x\' as written, escapes included
    ]


# ---- settings -------------------------------------------------------------------------------------------

PRECEDENCE_FILTER = "source_run_id = 'r' OR status = 'READY'"
MLFLOW = {"LMF301": INFO}
MLFLOW_NATIVE = {"LMF301": ERROR}
MLFLOW_3_17_NATIVE = {"LMF301": ERROR, "LMF309": ERROR}
MLFLOW_3_17 = {"LMF301": INFO, "LMF309": INFO}
DATABRICKS_NATIVE = {"LMF301": ERROR, "LMF308": ERROR, "LMF309": ERROR}
PYPROJECT = '[project]\nname = "x"\n\n[tool.lmfilter]\ntarget = "databricks"\nnative = true\n'


@pytest.mark.parametrize(
    ("cli", "pyproject", "configuration", "initialization", "expected"),
    [
        pytest.param([], None, None, None, MLFLOW, id="defaults"),
        pytest.param(["--native"], None, None, None, MLFLOW_NATIVE, id="command line"),
        pytest.param(["--target", "mlflow-3.17"], PYPROJECT, None, None, DATABRICKS_NATIVE, id="pyproject"),
        pytest.param([], PYPROJECT, {"target": "mlflow-3.17"}, None, MLFLOW_3_17_NATIVE, id="configuration"),
        pytest.param([], PYPROJECT, {"target": "mlflow-3.17"}, {"native": False}, MLFLOW_3_17, id="init"),
        pytest.param(
            [], PYPROJECT, None, {"target": "mlflow", "native": None}, MLFLOW_NATIVE, id="init, null"
        ),
        pytest.param([], None, {"target": "nope"}, {"native": "yes"}, MLFLOW, id="bad settings ignored"),
    ],
)
async def test_settings_precedence(
    tmp_path: Path,
    cli: list[str],
    pyproject: str | None,
    configuration: dict[str, Any] | None,
    initialization: dict[str, Any] | None,
    expected: dict[str, types.DiagnosticSeverity],
) -> None:
    if pyproject is not None:
        (tmp_path / "pyproject.toml").write_text(pyproject, encoding="utf-8")
    lsp = await started(*cli)
    try:
        if configuration is not None:
            lsp.set_configuration(configuration, section="lmfilter")
        workspace = types.WorkspaceClientCapabilities(configuration=configuration is not None)
        await lsp.initialize_session(
            types.InitializeParams(
                capabilities=types.ClientCapabilities(workspace=workspace),
                root_uri=tmp_path.as_uri(),
                initialization_options=initialization,
            )
        )
        _, diagnostics = await open_document(lsp, "settings.lmf", PRECEDENCE_FILTER)
        assert {d.code: d.severity for d in diagnostics} == expected
    finally:
        await stop(lsp)


async def test_configuration_changes_relint_open_documents(tmp_path: Path) -> None:
    lsp = await started()
    try:
        lsp.set_configuration({"target": "mlflow"}, section="lmfilter")
        workspace = types.WorkspaceClientCapabilities(configuration=True)
        await lsp.initialize_session(
            types.InitializeParams(capabilities=types.ClientCapabilities(workspace=workspace))
        )
        uri, diagnostics = await open_document(lsp, "relint.lmf", PRECEDENCE_FILTER)
        assert {d.code: d.severity for d in diagnostics} == MLFLOW
        lsp.set_configuration({"target": "databricks", "native": True}, section="lmfilter")
        changed = types.DidChangeConfigurationParams(settings=None)
        diagnostics = await published(lsp, lambda: lsp.workspace_did_change_configuration(changed), uri, 1)
        assert {d.code: d.severity for d in diagnostics} == DATABRICKS_NATIVE
        # Native completion leaves out what the target cannot run.
        offered = labels(await complete(lsp, "metrics.acc |"))
        assert "<" in offered
        assert "BETWEEN" not in offered
        assert "IS NULL" not in offered
    finally:
        await stop(lsp)


# ---- known models from a server, refreshed on demand ----------------------------------------------------


def _model(model_id: str, params: dict[str, str]) -> dict[str, Any]:
    return {
        "info": {
            "model_id": model_id,
            "experiment_id": "7",
            "name": model_id,
            "status": "LOGGED_MODEL_READY",
        },
        "data": {"params": [{"key": k, "value": v} for k, v in params.items()]},
    }


@pytest.fixture
def stub_server() -> Iterator[tuple[str, list[dict[str, Any]], list[dict[str, Any]]]]:
    """A stand-in MLflow server: its URL, the models it serves (mutable) and the search bodies it got."""
    models: list[dict[str, Any]] = []
    searches: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self._answer(b"3.18.0", "text/plain")

        def do_POST(self) -> None:
            searches.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self._answer(json.dumps({"models": models}).encode(), "application/json")

        def _answer(self, body: bytes, kind: str) -> None:
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
            pass

    http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{http.server_address[1]}", models, searches
    finally:
        http.shutdown()
        http.server_close()


async def test_keys_from_a_server_fetched_once_and_refreshed_on_command(
    stub_server: tuple[str, list[dict[str, Any]], list[dict[str, Any]]],
) -> None:
    url, models, searches = stub_server
    models.append(_model("m-1", {"alpha": "0.1"}))
    lsp = await started()
    try:
        options = {"server": url, "experiment_id": "7"}
        loaded = lsp.protocol.wait_for_notification_async(types.WINDOW_LOG_MESSAGE)
        await lsp.initialize_session(
            types.InitializeParams(capabilities=CAPABILITIES, initialization_options=options)
        )
        # Completion waits a second at most for models still loading: let them load, however slowly.
        assert (await asyncio.wait_for(loaded, 30)).message.startswith("lmfilter: 1 models from")
        assert labels(await complete(lsp, "params.|")) == ["params.alpha"]
        assert labels(await complete(lsp, "params.alpha = |")) == ["'0.1'"]
        assert len(searches) == 1
        assert searches[0]["experiment_ids"] == ["7"]
        models[:] = [_model("m-2", {"beta": "b"}), _model("m-3", {"beta": "c"})]
        command = types.ExecuteCommandParams(command=REFRESH_MODELS, arguments=[])
        answer = await lsp.workspace_execute_command_async(command)
        assert answer is not None
        assert answer["models"] == 2
        assert answer["error"] is None
        assert labels(await complete(lsp, "params.|")) == ["params.beta"]
        assert "In 2 of 2 models" in hover_text(await hover(lsp, "params.be|ta = 'b'"))
    finally:
        await stop(lsp)


async def test_refresh_without_a_model_source_says_so() -> None:
    lsp = await started()
    try:
        await lsp.initialize_session(types.InitializeParams(capabilities=CAPABILITIES))
        command = types.ExecuteCommandParams(command=REFRESH_MODELS)
        answer = await lsp.workspace_execute_command_async(command)
        assert answer is not None
        assert answer["models"] == 0
        assert "no model source" in answer["error"]
    finally:
        await stop(lsp)


async def test_command_line_needs_an_experiment_with_a_server(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--server", "http://127.0.0.1:1"])
    assert exit_info.value.code == 2
    assert "--server and --experiment-id go together" in capsys.readouterr().err


# ---- hostile text: lone surrogates, line ends, edits --------------------------------------------------


async def test_lone_surrogates_count_one_utf16_unit(client: LanguageClient) -> None:
    # JSON carries "\ud800" to the server, which no file or UTF-8 codec holds; the client counts one unit.
    _, diagnostics = await open_document(client, "lone.lmf", "tags.`\ud800` = '\udc00' AND nmae = 'y'\n")
    assert summary(diagnostics) == [("LMF202", ERROR, at(0, 19, 23))]
    text = "import mlflow\nmlflow.search_logged_models(filter_string=\"tags.`\ud800` = 'x' AND nmae = 2\")\n"
    _, diagnostics = await open_document(client, "lone.py", text, "python")
    assert summary(diagnostics) == [("LMF202", ERROR, at(1, 62, 66))]


async def test_lines_end_where_lsp_says(client: LanguageClient) -> None:
    # \r\n and a lone \r end lines; U+2028 and a form feed (which str.splitlines splits at) do not.
    text = "name = 'a'\r\nnmae = 'b'\rtags.t = 'x\u2028y' AND nmae = 'c'\nname = 'd\x0c' AND nmae = 'e'\r\n"
    _, diagnostics = await open_document(client, "ends.lmf", text)
    assert summary(diagnostics) == [
        ("LMF202", ERROR, at(1, 0, 4)),
        ("LMF202", ERROR, at(2, 19, 23)),
        ("LMF202", ERROR, at(3, 16, 20)),
    ]
    source = "import mlflow\r\nmlflow.search_logged_models(filter_string=\"nmae = 'x'\")\r\n"
    _, diagnostics = await open_document(client, "ends.py", source, "python")
    assert summary(diagnostics) == [("LMF202", ERROR, at(1, 43, 47))]
    source = "import mlflow\rmlflow.search_logged_models(filter_string=\"nmae = 'x'\")\r"
    _, diagnostics = await open_document(client, "cr.py", source, "python")
    assert summary(diagnostics) == [("LMF202", ERROR, at(1, 43, 47))]


def edit(start: tuple[int, int], end: tuple[int, int], text: str) -> types.TextDocumentContentChangePartial:
    return types.TextDocumentContentChangePartial(
        range=types.Range(start=types.Position(*start), end=types.Position(*end)), text=text
    )


async def change_by(
    lsp: LanguageClient, uri: str, version: int, *changes: types.TextDocumentContentChangePartial
) -> list[types.Diagnostic]:
    params = types.DidChangeTextDocumentParams(
        text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
        content_changes=list(changes),
    )
    return await published(lsp, lambda: lsp.text_document_did_change(params), uri, version)


async def test_edits_apply_in_utf16_units_and_in_turn(client: LanguageClient) -> None:
    uri, diagnostics = await open_document(client, "edits.lmf", "tags.`😀` = 'x'\r\nnmae = 'b'\n")
    assert summary(diagnostics) == [("LMF202", ERROR, at(1, 0, 4))]
    assert await change_by(client, uri, 2, edit((1, 0), (1, 4), "name")) == []
    # Two edits in one change, the second at positions of the text the first made.
    diagnostics = await change_by(
        client, uri, 3, edit((0, 15), (0, 15), " AND nmae = 'z'"), edit((1, 0), (1, 0), "metric.x > 1 AND ")
    )
    assert summary(diagnostics) == [("LMF202", ERROR, at(0, 20, 24)), ("LMF201", ERROR, at(1, 0, 6))]


async def test_edits_outside_the_text_are_clamped_and_logged(client: LanguageClient) -> None:
    uri, _ = await open_document(client, "clamped.lmf", "name = 'a'\n")
    logged = len(client.log_messages)
    # Past the last line: at the end of the text, as LSP's reference implementation takes it.
    diagnostics = await change_by(client, uri, 2, edit((99, 0), (99, 5), "nmae = 'q'"))
    assert summary(diagnostics) == [("LMF202", ERROR, at(1, 0, 4))]
    # Past the end of a line: at its end. A start after the end: between the two.
    diagnostics = await change_by(
        client, uri, 3, edit((1, 4), (1, 0), "name"), edit((0, 50), (0, 90), " OR nmae = 'x'")
    )
    assert summary(diagnostics) == [("LMF301", INFO, at(0, 11, 13)), ("LMF202", ERROR, at(0, 14, 18))]
    messages = [m.message for m in client.log_messages[logged:]]
    assert any("reaches past the end" in m and "line 99" in m for m in messages)
    assert any("after its end" in m for m in messages)


async def test_a_surrogate_pair_split_and_joined_again(client: LanguageClient) -> None:
    uri, _ = await open_document(client, "split.lmf", "tags.`😀` = 'x'\n")
    await change_by(client, uri, 2, edit((0, 6), (0, 7), ""))  # the high half goes: a lone low one stays
    await change_by(client, uri, 3, edit((0, 6), (0, 6), "\ud83d"))
    params = types.HoverParams(
        text_document=types.TextDocumentIdentifier(uri=uri), position=types.Position(0, 2)
    )
    assert "**tags.`😀`** — string" in hover_text(await client.text_document_hover_async(params))


async def test_completion_right_after_a_change_reads_the_changed_text(client: LanguageClient) -> None:
    text = "import mlflow\nmlflow.search_logged_models(filter_string=\"name = 'x'\")\n"
    uri, _ = await open_document(client, "typed.py", text, "python")
    typed = types.DidChangeTextDocumentParams(
        text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
        content_changes=[edit((1, 53), (1, 53), " AND metrics.")],
    )
    client.text_document_did_change(typed)  # and at once, before the lint of it is published:
    params = types.CompletionParams(
        text_document=types.TextDocumentIdentifier(uri=uri), position=types.Position(1, 66)
    )
    result = await client.text_document_completion_async(params)
    assert isinstance(result, types.CompletionList)
    assert edit_of(list(result.items), "metrics.acc") == (at(1, 58, 66), "metrics.acc")


async def test_documents_known_by_language_and_by_uri_however_escaped(client: LanguageClient) -> None:
    untitled = f"untitled:Untitled-{next(_numbers)}"  # no file name: the language says what it is
    item = types.TextDocumentItem(uri=untitled, language_id="lmfilter", version=1, text="nmae = 'x'")
    opening = types.DidOpenTextDocumentParams(text_document=item)
    assert summary(await published(client, lambda: client.text_document_did_open(opening), untitled, 1)) == [
        ("LMF202", ERROR, at(0, 0, 4))
    ]
    uri, _ = await open_document(client, "with space.lmf", "name = 'x'")
    escaped = uri.replace(" ", "%20")
    params = types.HoverParams(
        text_document=types.TextDocumentIdentifier(uri=escaped), position=types.Position(0, 1)
    )
    assert "**name** — string" in hover_text(await client.text_document_hover_async(params))


async def test_a_change_to_a_document_never_opened_is_logged(client: LanguageClient) -> None:
    uri = new_uri("never.lmf")
    waiting = client.protocol.wait_for_notification_async(types.WINDOW_LOG_MESSAGE)
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
            content_changes=[edit((0, 0), (0, 0), "x")],
        )
    )
    logged: types.LogMessageParams = await asyncio.wait_for(waiting, 15)
    assert logged.message == f"lmfilter ignored a change to {uri}, which is not open"
    _, diagnostics = await open_document(client, "after.lmf", "nmae = 'x'")  # the server goes on
    assert len(diagnostics) == 1


# ---- raw JSON-RPC: what no client library sends -----------------------------------------------------


class RawServer:
    """The server on stdio, spoken to in JSON-RPC by hand: for messages no client library would send, and to
    see every message the server sends, in order."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.seen: list[dict[str, Any]] = []
        self._queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._reader = asyncio.create_task(self._read())
        self._ids = itertools.count(1)

    @classmethod
    async def start(cls, *arguments: str) -> RawServer:
        process = await asyncio.create_subprocess_exec(
            *SERVER, *arguments, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE
        )
        return cls(process)

    async def _read(self) -> None:
        stdout = self.process.stdout
        assert stdout is not None
        while True:
            length = None
            while (line := await stdout.readline()) not in (b"\r\n", b""):
                name, _, value = line.decode("ascii").partition(":")
                if name.lower() == "content-length":
                    length = int(value)
            if length is None:
                return
            message = json.loads(await stdout.readexactly(length))
            self.seen.append(message)
            await self._queue.put(message)

    async def write(self, body: bytes) -> None:
        stdin = self.process.stdin
        assert stdin is not None
        stdin.write(b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
        await stdin.drain()

    async def send(self, message: Any) -> None:
        await self.write(json.dumps(message).encode())

    async def notify(self, method: str, params: Any = None) -> None:
        await self.send({"jsonrpc": "2.0", "method": method, "params": params})

    async def next(self, wanted: Callable[[dict[str, Any]], bool], timeout: float = 15) -> dict[str, Any]:
        """The next message from the server that is ``wanted`` (those before it are passed over)."""

        async def find() -> dict[str, Any]:
            while not wanted(message := await self._queue.get()):
                pass
            return message

        return await asyncio.wait_for(find(), timeout)

    async def answer(self, ident: Any, timeout: float = 15) -> dict[str, Any]:
        return await self.next(lambda m: m.get("id") == ident and "method" not in m, timeout)

    async def request(self, method: str, params: Any = None, timeout: float = 15) -> dict[str, Any]:
        ident = next(self._ids)
        message = {"jsonrpc": "2.0", "id": ident, "method": method}
        if params is not None:
            message["params"] = params
        await self.send(message)
        return await self.answer(ident, timeout)

    async def initialize(self, capabilities: dict[str, Any] | None = None) -> dict[str, Any]:
        params = {"processId": None, "rootUri": None, "capabilities": capabilities or {}}
        answer = await self.request("initialize", params)
        await self.notify("initialized", {})
        return answer

    async def open(self, uri: str, text: str, version: int = 1, language: str = "lmfilter") -> None:
        item = {"uri": uri, "languageId": language, "version": version, "text": text}
        await self.notify("textDocument/didOpen", {"textDocument": item})

    async def diagnostics(self, uri: str, version: int, timeout: float = 15) -> list[dict[str, Any]]:
        published = await self.next(
            lambda m: (
                m.get("method") == PUBLISH and m["params"]["uri"] == uri and m["params"]["version"] == version
            ),
            timeout,
        )
        return list(published["params"]["diagnostics"])

    async def stop(self) -> None:
        try:
            if self.process.returncode is None:
                await self.request("shutdown", timeout=10)
                await self.notify("exit")
                await asyncio.wait_for(self.process.wait(), 10)
        finally:
            if self.process.returncode is None:
                self.process.kill()
                await self.process.wait()
            self._reader.cancel()


RAW_URI = "file:///lmfilter-lsp-tests/raw/a.lmf"
RAW_TEXT = "metrics.acc > 1 AND name\nnmae = 'x'\n"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def raw() -> AsyncIterator[RawServer]:
    server = await RawServer.start()
    try:
        await server.initialize()
        await server.open(RAW_URI, RAW_TEXT)
        await server.diagnostics(RAW_URI, 1)
        yield server
    finally:
        await server.stop()


def hover_params(line: Any = 0, character: Any = 0, uri: Any = RAW_URI) -> dict[str, Any]:
    return {"textDocument": {"uri": uri}, "position": {"line": line, "character": character}}


def request(method: str, params: Any = None, ident: Any = 7) -> dict[str, Any]:
    message: dict[str, Any] = {"jsonrpc": "2.0", "id": ident, "method": method}
    if params is not None:
        message["params"] = params
    return message


INVALID_PARAMS, INVALID_REQUEST, PARSE_ERROR = -32602, -32600, -32700
NOT_OPEN = f"{new_uri('closed.lmf')} is not open"


@pytest.mark.parametrize(
    ("message", "code", "says"),
    [
        pytest.param(
            request("textDocument/hover", hover_params(-1)),
            INVALID_PARAMS,
            "Position.line should be in range [0:2147483647], but was -1 at $.params.position",
            id="negative line",
        ),
        pytest.param(
            request("textDocument/hover", {"textDocument": {}, "position": {"line": 0, "character": 0}}),
            INVALID_PARAMS,
            "required field missing at $.params.textDocument.uri",
            id="textDocument without uri",
        ),
        pytest.param(
            request("textDocument/hover", hover_params("0")),
            INVALID_PARAMS,
            "expected int, not '0' at $.params.position.line",
            id="line as a string",
        ),
        pytest.param(
            request("textDocument/hover", hover_params(1.5, True)),
            INVALID_PARAMS,
            "expected int, not 1.5 at $.params.position.line; "
            "expected int, not True at $.params.position.character",
            id="line a float, character a bool",
        ),
        pytest.param(
            request("textDocument/hover", hover_params(uri=5)),
            INVALID_PARAMS,
            "expected str, not 5 at $.params.textDocument.uri",
            id="uri a number",
        ),
        pytest.param(
            request("textDocument/hover"),
            INVALID_PARAMS,
            "required field missing at $.params",
            id="no params",
        ),
        pytest.param(
            request("textDocument/hover", [1, 2]),
            INVALID_PARAMS,
            "expected TextDocumentIdentifier at $.params.textDocument",
            id="params an array",
        ),
        pytest.param(
            request("textDocument/hover", hover_params(3)),
            INVALID_PARAMS,
            f"line 3 is past the end of {RAW_URI}, which has 3 lines",
            id="line past the end",
        ),
        pytest.param(
            request("textDocument/completion", hover_params(2**31)),
            INVALID_PARAMS,
            "Position.line should be in range",
            id="line past 2**31",
        ),
        *(
            pytest.param(
                request(method, {**params, "textDocument": {"uri": NOT_OPEN.split()[0]}}),
                INVALID_PARAMS,
                NOT_OPEN,
                id=f"{method} of a document not open",
            )
            for method, params in [
                ("textDocument/hover", hover_params()),
                ("textDocument/completion", hover_params()),
                ("textDocument/formatting", {"options": {"tabSize": 4, "insertSpaces": True}}),
                ("textDocument/semanticTokens/full", {}),
                (
                    "textDocument/codeAction",
                    {
                        "range": {"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 0}},
                        "context": {"diagnostics": []},
                    },
                ),
            ]
        ),
        pytest.param(
            request("workspace/executeCommand", {"command": "lmfilter.nope"}),
            INVALID_PARAMS,
            "Command name 'lmfilter.nope' is not defined",
            id="unknown command",
        ),
        pytest.param(
            request("lmfilter/nope", {}), -32601, "Method Not Found: lmfilter/nope", id="unknown method"
        ),
        pytest.param(
            request("textDocument/hover", hover_params(), ident={"a": 1}),
            INVALID_REQUEST,
            "a request's id is a string or an integer, not {'a': 1}",
            id="id an object",
        ),
        pytest.param(
            {"jsonrpc": "2.0", "id": 7, "method": 5},
            INVALID_REQUEST,
            "a method is a string, not 5",
            id="method 5",
        ),
        pytest.param(
            {"id": 7, "method": "shutdown"}, INVALID_REQUEST, "not a JSON-RPC 2.0 message", id="no jsonrpc"
        ),
        pytest.param([request("shutdown")], INVALID_REQUEST, "not a JSON-RPC 2.0 message", id="a batch"),
        pytest.param(b'{"jsonrpc": "2.0", "id": 7,', PARSE_ERROR, "not JSON", id="cut JSON"),
        pytest.param(
            b'{"jsonrpc": "2.0", "id": 7, "method": "\xff"}', PARSE_ERROR, "not JSON", id="not UTF-8"
        ),
    ],
)
async def test_requests_that_cannot_be_answered_get_errors(
    raw: RawServer, message: Any, code: int, says: str
) -> None:
    await (raw.write(message) if isinstance(message, bytes) else raw.send(message))
    ident = message.get("id") if isinstance(message, dict) else None
    answer = await raw.answer(ident if isinstance(ident, int) else None)
    assert answer["error"]["code"] == code
    assert says in answer["error"]["message"]
    # ... and the server goes on: a position past the end of its line is at the end (as LSP says).
    hover = await raw.request("textDocument/hover", hover_params(0, 999))
    assert "**name** — string" in hover["result"]["contents"]["value"]


async def test_a_notification_that_cannot_be_read_is_logged(raw: RawServer) -> None:
    await raw.notify("textDocument/didChange", {"textDocument": {"uri": 5}})
    logged = await raw.next(lambda m: m.get("method") == "window/logMessage")
    assert logged["params"]["message"] == (
        "lmfilter ignored a textDocument/didChange notification: required field missing at "
        "$.params.textDocument.version; expected str, not 5 at $.params.textDocument.uri; required field "
        "missing at $.params.contentChanges"
    )
    assert (await raw.request("textDocument/hover", hover_params(0, 20)))["result"] is not None


async def test_requests_before_initialize_and_after_shutdown() -> None:
    server = await RawServer.start()
    try:
        early = await server.request("textDocument/hover", hover_params())
        assert early["error"] == {"code": -32002, "message": "initialize first"}
        await server.initialize()
        assert (await server.request("shutdown"))["result"] is None
        late = await server.request("textDocument/hover", hover_params())
        assert late["error"] == {"code": INVALID_REQUEST, "message": "the server is shutting down"}
        await server.notify("exit")
        assert await asyncio.wait_for(server.process.wait(), 10) == 0
    finally:
        await server.stop()


@pytest.mark.parametrize(
    ("answer", "logged"),
    [
        (
            {"result": 5},
            "failed: the client's answer does not fit: invalid value for type, expected Sequence at $.result",
        ),
        ({"result": [5]}, "workspace/configuration: expected a table of settings, not 5"),
        ({"result": [{"target": 5}]}, "workspace/configuration: target must be a string, not 5"),
        ({"result": [{"native": "yes"}]}, "workspace/configuration: native must be a bool, not 'yes'"),
        ({"error": {"code": -32603, "message": "no"}}, "workspace/configuration failed: no"),
        ({"error": "no"}, "workspace/configuration failed: the client's answer does not fit"),
    ],
)
async def test_configuration_that_does_not_fit_leaves_the_defaults(
    answer: dict[str, Any], logged: str
) -> None:
    server = await RawServer.start()
    try:
        await server.initialize({"workspace": {"configuration": True}})
        asked = await server.next(lambda m: m.get("method") == "workspace/configuration")
        await server.send({"jsonrpc": "2.0", "id": asked["id"], **answer})
        log = await server.next(lambda m: m.get("method") == "window/logMessage")
        assert logged in log["params"]["message"]
        uri = new_uri("defaults.lmf")
        await server.open(uri, PRECEDENCE_FILTER)
        assert {d["code"]: d["severity"] for d in await server.diagnostics(uri, 1)} == MLFLOW
    finally:
        await server.stop()


# ---- large documents: nothing waits for linting ---------------------------------------------------------

LARGE = 5_000_000
DEADLINE = 15.0  # seconds: a bound that ends a hang, not a benchmark (linting such a document takes longer)
CALL = 'm{i} = mlflow.search_logged_models(filter_string="{text}")'


def too_large(characters: int) -> str:
    return (
        f"this document has {characters:,} characters, more than {LIVE_LIMIT:,}: "
        "lmfilter lints it when it is opened or saved, not as you type"
    )


def a_filter(i: int) -> str:
    """A filter of ~160 characters, different for each ``i``, with one unknown attribute (``nmae``)."""
    return (
        f"metrics.accuracy > 0.{i:05d} AND params.optimizer = 'adam-{i}' AND tags.team IN ('a', 'x{i}') "
        f"AND name LIKE 'm-{i}%' AND creation_time > {1_700_000_000_000 + i} AND nmae = 'm{i}'"
    )


def filters(size: int, python: bool = False) -> str:
    """About ``size`` characters of distinct filters, one a line (in Python, one call a line)."""
    lines = ["import mlflow"] if python else []
    total = 0
    for i in itertools.count():
        line = CALL.format(i=i, text=a_filter(i)) if python else a_filter(i)
        lines.append(line)
        total += len(line) + 1
        if total >= size:
            return "\n".join(lines) + "\n"
    raise AssertionError("unreachable")


def position_in(text: str, line: int, word: str, shift: int = 0) -> types.Position:
    """The position ``shift`` characters from the start of ``word`` in a line of ASCII ``text``."""
    return types.Position(line=line, character=text.split("\n")[line].index(word) + shift)


@pytest.mark.parametrize("name", ["large.lmf", "large.py"])
async def test_requests_are_answered_while_a_5_mb_document_is_linted(name: str) -> None:
    python = name.endswith(".py")
    text = filters(LARGE, python)
    last = text.count("\n")
    lsp = await started("--models", str(MODELS))
    try:
        result = await lsp.initialize_session(types.InitializeParams(capabilities=CAPABILITIES))
        uri = new_uri(name)
        identifier = types.TextDocumentIdentifier(uri=uri)
        item = types.TextDocumentItem(
            uri=uri, language_id="python" if python else "lmfilter", version=1, text=text
        )

        def open_and_type() -> None:  # a burst of keystrokes on the last line, as the document is linted
            lsp.text_document_did_open(types.DidOpenTextDocumentParams(text_document=item))
            for version, char in enumerate("name = 'x'", start=2):
                lsp.text_document_did_change(
                    types.DidChangeTextDocumentParams(
                        text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
                        content_changes=[edit((last, version - 2), (last, version - 2), char)],
                    )
                )

        # Too large to lint as it is typed: once changed, its findings (of an older text) give way to this.
        notice = await published(lsp, open_and_type, uri, 2)
        assert [(d.code, d.severity, where(d.range)) for d in notice] == [("LMF401", INFO, at(0, 0, 0))]
        assert notice[0].message == too_large(len(text) + 1)
        line = 1 if python else 0
        hover = await asyncio.wait_for(
            lsp.text_document_hover_async(
                types.HoverParams(text_document=identifier, position=position_in(text, line, "accuracy", 1))
            ),
            DEADLINE,
        )
        if python:  # answered from the filters found before the change, once they are found
            assert hover is None or "**metrics.accuracy** — number" in hover_text(hover)
        else:
            assert "**metrics.accuracy** — number" in hover_text(hover)
        completion = await asyncio.wait_for(
            lsp.text_document_completion_async(
                types.CompletionParams(text_document=identifier, position=position_in(text, line, "> 0."))
            ),
            DEADLINE,
        )
        assert python or (
            isinstance(completion, types.CompletionList) and "BETWEEN" in labels(completion.items)
        )
        # Work a request would do over the whole of it is refused; over a part of it, done.
        full = types.SemanticTokensParams(text_document=identifier)
        assert await asyncio.wait_for(lsp.text_document_semantic_tokens_full_async(full), DEADLINE) is None
        ranged = types.SemanticTokensRangeParams(
            text_document=identifier, range=types.Range(start=types.Position(0, 0), end=types.Position(2, 0))
        )
        tokens = await asyncio.wait_for(lsp.text_document_semantic_tokens_range_async(ranged), DEADLINE)
        if not python:
            assert tokens is not None
            provider = cast(types.SemanticTokensOptions, result.capabilities.semantic_tokens_provider)
            decoded = decode_tokens(tokens.data, provider.legend.token_types)
            assert decoded[:3] == [(0, 0, 16, "property"), (0, 17, 1, "operator"), (0, 19, 7, "number")]
            assert {row[0] for row in decoded} == {0, 1}
            formatting = types.DocumentFormattingParams(
                text_document=identifier, options=types.FormattingOptions(tab_size=4, insert_spaces=True)
            )
            with pytest.raises(JsonRpcException) as refused:
                await asyncio.wait_for(lsp.text_document_formatting_async(formatting), DEADLINE)
            assert refused.value.code == types.LSPErrorCodes.RequestFailed
            assert (
                "more than lmfilter formats at once (1,000,000): format a selection" in refused.value.message
            )
    finally:
        await stop(lsp)


async def test_a_document_over_the_limit_is_linted_when_opened_and_saved(client: LanguageClient) -> None:
    # 1,500 filters with an error each, then comment lines (cheap to lint) past the limit.
    text = filters(1_500 * 150) + ("# " + "-" * 998 + "\n") * 1_000
    count = text.count("nmae")
    uri, diagnostics = await open_document(client, "over.lmf", text)
    notice, *findings, rest = diagnostics
    assert (notice.code, notice.severity) == ("LMF401", INFO)
    assert notice.message == too_large(len(text))
    # At most 1,000 diagnostics for a document, in reading order; one more counts the rest, where they begin.
    assert [(d.code, d.range.start.line) for d in findings] == [("LMF202", n) for n in range(1_000)]
    assert (rest.code, rest.severity, rest.range.start) == ("LMF110", ERROR, position_in(text, 1_000, "nmae"))
    assert rest.message == f"{count - 1_000:,} more problems not listed ({count - 1_000:,} errors)"
    # Changed, it is not linted: what was found points into an older text, so only the notice stays ...
    changed = await change_by(client, uri, 2, edit((0, 0), (0, 0), "nmae = 'a' AND "))
    assert [(d.code, d.message) for d in changed] == [("LMF401", too_large(len(text) + 15))]
    # ... until it is saved.
    saved = types.DidSaveTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=uri))
    diagnostics = await published(client, lambda: client.text_document_did_save(saved), uri, 2)
    column = len("nmae = 'a' AND ") + a_filter(0).index("nmae")
    assert [(d.code, where(d.range)) for d in diagnostics[1:3]] == [
        ("LMF202", at(0, 0, 4)),
        ("LMF202", at(0, column, column + 4)),
    ]


async def test_one_line_of_5_mb(client: LanguageClient) -> None:
    # A line is no filter past the parser's 65,536 characters: it is said so at once, and requests on it
    # answer without reading it (nor holding a position for each of its characters).
    text = "name = '" + "x" * LARGE + "'"
    uri, diagnostics = await open_document(client, "long.lmf", text)
    assert [(d.code, where(d.range)) for d in diagnostics] == [
        ("LMF401", at(0, 0, 0)),
        ("LMF106", at(0, 65_536, len(text))),
    ]
    identifier = types.TextDocumentIdentifier(uri=uri)
    hover = types.HoverParams(text_document=identifier, position=types.Position(0, 2))
    assert await asyncio.wait_for(client.text_document_hover_async(hover), DEADLINE) is None
    ranged = types.SemanticTokensRangeParams(
        text_document=identifier, range=types.Range(start=types.Position(0, 0), end=types.Position(0, 10))
    )
    assert await asyncio.wait_for(client.text_document_semantic_tokens_range_async(ranged), DEADLINE) is None


async def test_a_burst_of_changes_is_linted_once_at_its_end() -> None:
    server = await RawServer.start()
    try:
        await server.initialize()
        uri = new_uri("burst.lmf")
        await server.open(uri, filters(LIVE_LIMIT // 3))  # a third of a second's linting, or more
        for version in range(2, 12):
            start = {"line": 0, "character": 0}
            change = {"range": {"start": start, "end": start}, "text": "name = 'a' AND "}
            await server.notify(
                "textDocument/didChange",
                {"textDocument": {"uri": uri, "version": version}, "contentChanges": [change]},
            )
        hover = await server.request("textDocument/hover", hover_params(0, 2, uri), DEADLINE)
        assert "**name** — string" in hover["result"]["contents"]["value"]
        diagnostics = await server.diagnostics(uri, 11, timeout=120)
        assert len(diagnostics) == 1_001
        # What was found in the texts before the last one (stale when found) was never published.
        versions = [m["params"]["version"] for m in server.seen if m.get("method") == PUBLISH]
        assert versions == [11]
    finally:
        await server.stop()


async def test_a_large_document_being_linted_lets_a_small_one_go_first() -> None:
    server = await RawServer.start()
    try:
        await server.initialize()
        large, small = new_uri("large.lmf"), new_uri("small.lmf")
        await server.open(large, filters(2 * LIVE_LIMIT))  # seconds of linting
        await server.open(small, "nmae = 'x'")
        diagnostics = await server.diagnostics(small, 1, timeout=120)
        assert [d["code"] for d in diagnostics] == ["LMF202"]
        assert [m for m in server.seen if m.get("method") == PUBLISH and m["params"]["uri"] == large] == []
    finally:
        await server.stop()


# ---- settings and model files that do not fit -------------------------------------------------------------


def fifo(path: Path) -> Path:
    """A named pipe at ``path``: reading it waits until something writes to it."""
    if not hasattr(os, "mkfifo"):
        pytest.skip("no named pipes here")
    os.mkfifo(path)
    return path


@pytest.mark.parametrize(
    ("pyproject", "logged"),
    [
        ('[tool.lmfilter]\ntarget = 5\nnative = "yes"\n', "[tool.lmfilter]: target must be a string, not 5"),
        ("[tool]\nlmfilter = 5\n", "[tool.lmfilter]: expected a table of settings, not 5"),
        ("[tool.lmfilter\n", "pyproject.toml: Expected ']'"),
        (b"[tool.lmfilter]\ntarget = '\xff'\n", "pyproject.toml: 'utf-8' codec can't decode byte 0xff"),
        ("a = " + "[" * 5_000 + "]" * 5_000 + "\n", "pyproject.toml: nested too deeply to read"),
        ("a = 1\n" + "#" * (1 << 20), "pyproject.toml: over 1,048,576 bytes, not read"),
        ("a folder", "pyproject.toml: not a regular file, not read"),
        ("a named pipe", "pyproject.toml: not a regular file, not read"),  # reading it would wait for ever
    ],
)
async def test_a_pyproject_that_does_not_fit_leaves_the_defaults(
    tmp_path: Path, pyproject: str | bytes, logged: str
) -> None:
    path = tmp_path / "pyproject.toml"
    if pyproject == "a folder":
        path.mkdir()
    elif pyproject == "a named pipe":
        fifo(path)
    else:
        path.write_bytes(pyproject if isinstance(pyproject, bytes) else pyproject.encode())
    lsp = await started("--native")
    try:
        await lsp.initialize_session(
            types.InitializeParams(capabilities=types.ClientCapabilities(), root_uri=tmp_path.as_uri())
        )
        _, diagnostics = await open_document(lsp, "defaults.lmf", PRECEDENCE_FILTER)
        assert {d.code: d.severity for d in diagnostics} == MLFLOW_NATIVE
        assert [m.message for m in lsp.log_messages if logged in m.message] != []
    finally:
        await stop(lsp)


async def test_a_model_file_that_does_not_parse_leaves_no_known_models(tmp_path: Path) -> None:
    models = tmp_path / "models.json"
    models.write_text('{"models": [{"info": ', encoding="utf-8")
    lsp = await started("--models", str(models))
    try:
        await lsp.initialize_session(types.InitializeParams(capabilities=CAPABILITIES))
        assert labels(await complete(lsp, "params.|")) == []
        assert "name" in labels(await complete(lsp, "|"))
        assert any(
            m.message.startswith(f"lmfilter: no known models from {models}: {models}:1:")
            for m in lsp.log_messages
        )
    finally:
        await stop(lsp)


async def test_a_model_file_slow_to_read_holds_up_no_request(tmp_path: Path) -> None:
    models = fifo(tmp_path / "models.json")
    lsp = await started("--models", str(models))
    try:
        await lsp.initialize_session(types.InitializeParams(capabilities=CAPABILITIES))
        uri, _ = await open_document(lsp, "slow.lmf", "params.")
        params = types.CompletionParams(
            text_document=types.TextDocumentIdentifier(uri=uri), position=types.Position(0, 7)
        )
        # While the file is being read: completion answers (the bound is on a hang), saying it is incomplete.
        early = await asyncio.wait_for(lsp.text_document_completion_async(params), DEADLINE)
        assert isinstance(early, types.CompletionList)
        assert (early.is_incomplete, labels(early.items)) == (True, [])
        loaded = lsp.protocol.wait_for_notification_async(types.WINDOW_LOG_MESSAGE)
        await asyncio.to_thread(models.write_text, json.dumps({"models": [_model("m-1", {"alpha": "0.1"})]}))
        assert (await asyncio.wait_for(loaded, DEADLINE)).message.startswith("lmfilter: 1 models from")
        late = await lsp.text_document_completion_async(params)
        assert isinstance(late, types.CompletionList)
        assert (late.is_incomplete, labels(late.items)) == (False, ["params.alpha"])
    finally:
        await stop(lsp)


async def test_exit_waits_for_no_model_file(tmp_path: Path) -> None:
    lsp = await started("--models", str(fifo(tmp_path / "models.json")))  # read by nobody, for ever
    await lsp.initialize_session(types.InitializeParams(capabilities=CAPABILITIES))
    await stop(lsp)  # which fails if the server does not exit


async def test_work_a_request_does_in_a_thread_stops_when_the_text_changes_or_it_is_cancelled() -> None:
    server = await RawServer.start()
    try:
        await server.initialize()
        uri = new_uri("format.lmf")
        # Seconds of formatting: every line parses and is not canonical.
        text = filters(LIVE_LIMIT - 10_000).replace("nmae", "name").replace(" AND ", " and ")
        await server.open(uri, text)
        options = {"textDocument": {"uri": uri}, "options": {"tabSize": 4, "insertSpaces": True}}
        await server.send(request("textDocument/formatting", options, ident=101))
        start = {"line": 0, "character": 0}
        change = {"range": {"start": start, "end": start}, "text": "name = 'a' and "}
        await server.notify(
            "textDocument/didChange", {"textDocument": {"uri": uri, "version": 2}, "contentChanges": [change]}
        )
        modified = await server.answer(101, timeout=120)
        assert modified["error"] == {
            "code": -32801,
            "message": f"{uri} changed while the request was being answered",
        }
        await server.send(request("textDocument/formatting", options, ident=102))
        await server.notify("$/cancelRequest", {"id": 102})
        cancelled = await server.answer(102, timeout=120)
        assert cancelled["error"]["code"] == -32800
        ranged = await server.request(
            "textDocument/rangeFormatting",
            {**options, "range": {"start": start, "end": {"line": 1, "character": 0}}},  # line 0 alone
        )
        first = "name = 'a' and " + text.split("\n")[0]
        (only,) = ranged["result"]  # line 0, in canonical text
        assert only["range"] == {"start": start, "end": {"line": 0, "character": len(first)}}
        assert only["newText"] == lmfilter.format(first)
    finally:
        await server.stop()


# ---- one analysis: the language server publishes what lint reports --------------------------------------

SAME_PYPROJECT = """
[tool.lmfilter]
target = "mlflow-3.17"
exclude = ["legacy/"]

[[tool.lmfilter.overrides]]
paths = ["notebooks/**"]
target = "databricks"
native = true
"""

SAME_DOCUMENTS = {
    "src/app.py": (
        "import mlflow, lmfilter\n"
        "from databricks.sdk import WorkspaceClient\n"
        "mlflow.search_logged_models(['1'], \"tags.a = 'x' OR status = 'READY'\")\n"
        "WorkspaceClient().experiments.search_logged_models(filter=\"params.a < '1'\")\n"
        "lmfilter.select(models, \"tags.`🔑` = '1' OR nmae = 'x'\")  # noqa: LMF301\n"
        "mlflow.search_logged_models(filter_string=f\"name = '{n}' AND nmae = 'y'\")\n"
        'mlflow.search_logged_models(filter_string=f"metrics.a > {t}")\n'
        "lmfilter.parse('''\n  status = 2\n  AND nmae = 1''')  # noqa: LMF211\n"
    ),
    "filters/a.lmf": (
        "tags.a = 'x' OR status = 'READY'\nnmae = 'x'  # noqa: LMF202\ntags.`é\u2028` = 1 AND nmae = 1\n"
    ),
    "notebooks/n/b.lmf": "tags.a = 'x' OR name = 'y'\n",
    "legacy/old.lmf": "nmae = 'x'\n",
    "src/broken.py": "import mlflow\ndef f(:\n",
}


async def test_the_server_publishes_what_lint_reports(tmp_path: Path) -> None:
    from lmfilter.config import load
    from lmfilter.documents import kind_of, utf16_column
    from lmfilter.lint import lint_paths

    (tmp_path / "pyproject.toml").write_text(SAME_PYPROJECT, encoding="utf-8")
    for name, text in SAME_DOCUMENTS.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text, encoding="utf-8")
    config = load(tmp_path)
    linted = {
        os.path.relpath(report.path, tmp_path): [
            (
                f.code,
                f.severity,
                f.region.line - 1,
                utf16_column(text.split("\n")[f.region.line - 1], f.region.column - 1),
            )
            for f in report.findings
        ]
        for report in lint_paths([tmp_path], config=config)
        for text in [SAME_DOCUMENTS[os.path.relpath(report.path, tmp_path)]]
    }
    assert "legacy/old.lmf" not in linted  # excluded
    assert sum(map(len, linted.values())) >= 10  # a test of something
    severities: dict[types.DiagnosticSeverity | None, str] = {
        ERROR: "error",
        WARNING: "warning",
        INFO: "info",
    }
    lsp = await started()
    try:
        await lsp.initialize_session(
            types.InitializeParams(capabilities=types.ClientCapabilities(), root_uri=tmp_path.as_uri())
        )
        for name, text in SAME_DOCUMENTS.items():
            uri = (tmp_path / name).as_uri()
            language = "python" if kind_of(name) == "python" else "lmfilter"
            item = types.TextDocumentItem(uri=uri, language_id=language, version=1, text=text)
            params = types.DidOpenTextDocumentParams(text_document=item)

            def send(params: types.DidOpenTextDocumentParams = params) -> None:
                lsp.text_document_did_open(params)

            diagnostics = await published(lsp, send, uri, 1)
            served = [
                (d.code, severities.get(d.severity), d.range.start.line, d.range.start.character)
                for d in sorted(diagnostics, key=lambda d: (d.range.start.line, d.range.start.character))
            ]
            assert served == sorted(linted.get(name, []), key=lambda f: (f[2], f[3])), name
    finally:
        await stop(lsp)


async def test_hover_and_completion_on_a_condition_being_typed(client: LanguageClient) -> None:
    """The field of a condition cut short is one (the parser reads it so), and an open key the editor closed
    is replaced up to its closing backquote."""
    assert "**status** — status" in hover_text(await hover(client, "name = 'a' AND sta|tus IN ("))
    assert await hover(client, "name = (x OR sta|tus") is None  # skipped by the parser
    items = await complete(client, "metrics.`my|`")
    assert edit_of(items, "metrics.`my metric`") == (at(0, 0, 12), "metrics.`my metric`")
