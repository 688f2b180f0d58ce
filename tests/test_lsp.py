"""End to end: a real LSP client (pytest-lsp) drives ``python -m lmfilter.lsp`` over stdio.

Positions in these tests are written out by hand in UTF-16 code units (what LSP counts), so that a server
counting code points or bytes fails them.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import sys
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar, cast

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient

from lmfilter.lsp import REFRESH_MODELS, main

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
    INITIALIZED["models"] = await lsp_client.initialize_session(
        types.InitializeParams(capabilities=CAPABILITIES)
    )
    yield
    await lsp_client.shutdown_session()


async def started(*arguments: str) -> LanguageClient:
    """A server of its own, for a test that sets it up differently (stopped by :func:`stop`)."""
    config = ClientServerConfig(server_command=[*SERVER, *arguments])
    return cast(LanguageClient, await config.start())


async def stop(lsp_client: LanguageClient) -> None:
    await lsp_client.shutdown_session()
    await cast("Callable[[], Awaitable[None]]", lsp_client.stop)()


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
        "mlflow.search_logged_models(filter_string=f\"name = '{label}'\")\n"
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
        "an f-string with holes is not linted",
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
        await lsp.initialize_session(
            types.InitializeParams(capabilities=CAPABILITIES, initialization_options=options)
        )
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
