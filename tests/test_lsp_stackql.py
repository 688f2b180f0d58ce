"""The language server on StackQL documents (``.iql``, ``.sql``, languageId ``sql`` or ``stackql``): the
statements' diagnostics live, in UTF-16 ranges computed here independently, with their quick fixes."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient

from lmfilter.lsp.analysis import Stale, check_outline, outline
from lmfilter.lsp.positions import Lines
from lmfilter.lsp.settings import Settings
from lmfilter.stackql import parse_statements, sql_escaped
from tests.test_lsp import (
    CAPABILITIES,
    SERVER,
    _lsp_fixture,
    apply_edits,
    change_document,
    complete,
    hover,
    hover_text,
    labels,
    open_document,
    started,
    stop,
    utf16_position,
    where,
)

pytestmark = [
    pytest.mark.asyncio(loop_scope="module"),
    pytest.mark.filterwarnings("error::pytest_lsp.LspSpecificationWarning"),
]

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
GOLDEN = Path(__file__).parent / "golden" / "stackql"
SEARCH = "EXEC databricks_workspace.ml.logged_models.search @deployment_name='dbc-1'\n@@json="


def search(body: dict[str, object]) -> str:
    return SEARCH + "'" + sql_escaped(json.dumps(body, ensure_ascii=False)) + "';\n"


def span_of(text: str, needle: str, nth: int = 0) -> tuple[int, int, int, int]:
    """The UTF-16 range of the ``nth`` occurrence of ``needle`` in ``text``."""
    at = -1
    for _ in range(nth + 1):
        at = text.index(needle, at + 1)
    start, end = utf16_position(text, at), utf16_position(text, at + len(needle))
    return (start.line, start.character, end.line, end.character)


@_lsp_fixture(config=ClientServerConfig(server_command=SERVER), scope="module")
async def client(lsp_client: LanguageClient) -> AsyncIterator[None]:
    await lsp_client.initialize_session(types.InitializeParams(capabilities=CAPABILITIES))
    yield
    await lsp_client.shutdown_session()


async def test_diagnostics_land_on_the_characters_in_utf16_after_surrogate_pairs(
    client: LanguageClient,
) -> None:
    text = (
        "-- 😀 a comment with an emoji\n"
        + SEARCH
        + "'{\"filter\": \"tags.`😀` = ''😀😀'' AND nmae = ''x'' AND tags.y = ''"
        + r"\\ud83d\\ude00"
        + "'' AND metric.a > 1\", \"max_results\": 51}';\n"
    )
    _, diagnostics = await open_document(client, "search.iql", text, "sql")
    got = sorted((d.code, where(d.range)) for d in diagnostics)
    assert got == sorted(
        [
            ("LMF202", span_of(text, "nmae")),
            ("LMF201", span_of(text, "metric")),
            ("LMF505", span_of(text, "51")),
        ]
    )
    assert {d.source for d in diagnostics} == {"lmfilter"}


@pytest.mark.parametrize(
    ("name", "language"), [("untitled-1", "stackql"), ("untitled-2", "sql"), ("q.SQL", "x")]
)
async def test_a_document_is_stackql_by_its_language_or_its_extension(
    client: LanguageClient, name: str, language: str
) -> None:
    text = search({"filter": "nmae = 'a'"})
    _, diagnostics = await open_document(client, name, text, language)
    assert [(d.code, where(d.range)) for d in diagnostics] == [("LMF202", span_of(text, "nmae"))]


async def test_templates_and_sql_of_other_databases_are_quiet(client: LanguageClient) -> None:
    page = (EXAMPLES / "logged_models.iql").read_text(encoding="utf-8")
    _, diagnostics = await open_document(client, "logged_models.iql", page, "sql")
    assert diagnostics == []
    postgres = 'CREATE TABLE "t" (a int); SELECT $$x$$ FROM "t";\n'
    _, diagnostics = await open_document(client, "schema.sql", postgres, "sql")
    assert diagnostics == []


async def test_a_quick_fix_edits_the_file_through_both_layers_of_quoting(client: LanguageClient) -> None:
    text = search({"filter": "nmae = 'a' AND tags.t = \"it's\""})
    uri, diagnostics = await open_document(client, "fix.iql", text, "sql")
    by_code = {d.code: d for d in diagnostics}
    assert {"LMF202", "LMF111"} <= set(by_code)
    for code, expected in (("LMF202", "name = "), ("LMF111", "= ''it''''s''")):
        diagnostic = by_code[code]
        actions = await client.text_document_code_action_async(
            types.CodeActionParams(
                text_document=types.TextDocumentIdentifier(uri=uri),
                range=diagnostic.range,
                context=types.CodeActionContext(diagnostics=[diagnostic]),
            )
        )
        assert actions
        action = actions[0]
        assert isinstance(action, types.CodeAction)
        assert action.edit is not None
        assert action.edit.changes is not None
        fixed = apply_edits(text, action.edit.changes[uri])
        assert expected in fixed


async def test_a_change_is_linted_again(client: LanguageClient) -> None:
    text = search({"filter": "name = 'a'"})
    uri, diagnostics = await open_document(client, "change.iql", text, "sql")
    assert diagnostics == []
    changed = text.replace('"name', '"nmae') + "SELECT model FROM databricks_workspace.ml.logged_models;\n"
    diagnostics = await change_document(client, uri, 2, changed)
    assert sorted((d.code, where(d.range)) for d in diagnostics) == [
        ("LMF202", span_of(changed, "nmae")),
        ("LMF503", span_of(changed, "databricks_workspace.ml.logged_models", 1)),  # no model_id
        ("LMF503", span_of(changed, "databricks_workspace.ml.logged_models", 1)),  # no deployment_name
    ]


HOSTILE = [
    SEARCH + "'{\"filter\": \"name = ''a",  # an unterminated string at the end
    SEARCH + "'{}'; /* never closed",
    "SELECT model FROM databricks_workspace.ml.logged_models WHERE model_id = {{ m",
    SEARCH + '\'{"page_token": "\ud800", "filter": "a\x00"}\';',  # a lone surrogate, a NUL
    "\ufeff" + SEARCH + "'" + '{"datasets": ' + "[" * 3000 + "]" * 3000 + "}';",
]


@pytest.mark.parametrize("text", HOSTILE, ids=range(len(HOSTILE)))
async def test_hostile_documents_get_diagnostics_and_the_server_lives(
    client: LanguageClient, text: str
) -> None:
    _, diagnostics = await open_document(client, "hostile.iql", text, "sql")
    assert any(d.severity == types.DiagnosticSeverity.Error for d in diagnostics)
    for d in diagnostics:
        assert d.range.start.line <= text.count("\n")


async def test_the_configured_target_wins_over_databricks() -> None:
    text = search({"filter": "name = 'a'", "max_results": 51})
    lsp = await started()
    try:
        await lsp.initialize_session(
            types.InitializeParams(
                capabilities=types.ClientCapabilities(), initialization_options={"target": "mlflow"}
            )
        )
        _, diagnostics = await open_document(lsp, "target.iql", text, "sql")
        assert diagnostics == []  # MLflow takes any max_results
    finally:
        await stop(lsp)
    lsp = await started("--target", "mlflow-3.17")
    try:
        await lsp.initialize_session(types.InitializeParams(capabilities=types.ClientCapabilities()))
        _, diagnostics = await open_document(lsp, "target.iql", text, "sql")
        assert diagnostics == []
    finally:
        await stop(lsp)


# ---- completion and hover inside the @@json filter --------------------------------------------------------


async def test_completion_inside_the_filter_writes_through_both_layers(client: LanguageClient) -> None:
    text = SEARCH + "'{\"max_results\": 5, \"filter\": \"tags.`😀` = ''x'' AND |\"}';"
    items = await complete(client, text, "complete.iql")
    assert {"metrics.", "params.", "tags.", "name"} <= set(labels(items))
    assert "AND" not in labels(items)
    text = SEARCH + "'{\"filter\": \"model_type = ''a'' AND name |\"}';"
    items = await complete(client, text, "complete.iql")
    assert {"=", "LIKE"} <= set(labels(items))
    # A value with quotes is written for the JSON string, then for the SQL string: ' becomes ''.
    text = SEARCH + "'{\"filter\": \"name = ''a'' AND model_type = |\"}';"
    source = text.replace("|", "")
    for item in await complete(client, text, "complete.iql"):
        assert isinstance(item.text_edit, types.TextEdit)
        new = item.text_edit.new_text
        if item.label.startswith("'"):
            assert new == sql_escaped(item.label)
        fixed = apply_edits(source, [item.text_edit])
        (statement,), _ = parse_statements(fixed)
        filter_value = statement.search_filter()
        assert filter_value is not None
        assert filter_value.value.startswith("name = 'a' AND model_type = " + item.label[:1])


async def test_completion_outside_a_filter_is_nothing(client: LanguageClient) -> None:
    assert await complete(client, "SELECT mo|del FROM databricks_workspace.ml.logged_models;", "c.iql") == []
    assert await complete(client, SEARCH + '\'{"page_token": "a|"}\';', "c.iql") == []


async def test_hover_over_a_field_in_the_filter(client: LanguageClient) -> None:
    text = SEARCH + "'{\"filter\": \"tags.`😀` = ''x'' AND metr|ics.acc > 0.5\"}';"
    result = await hover(client, text, "hover.iql")
    assert "**metrics.acc** — number" in hover_text(result)
    assert result is not None
    assert result.range is not None
    assert where(result.range) == span_of(text.replace("|", ""), "metrics.acc")


async def test_a_stale_lint_of_a_statement_file_stops_between_statements() -> None:
    text = search({"filter": "nmae = 'a'"}) * 50
    calls: list[int] = []

    def stop() -> bool:
        calls.append(1)
        return len(calls) > 3

    found = outline(Lines(text), "stackql")
    with pytest.raises(Stale):
        check_outline(found, Settings(), {}, stop)
    assert len(calls) == 4  # the document, then three statements: not all fifty
    analysis = check_outline(found, Settings())
    assert [f.diagnostic.code for f in analysis.findings] == ["LMF202"] * 50


async def test_crlf_line_ends_place_the_same(client: LanguageClient) -> None:
    text = (GOLDEN / "multi_line.iql").read_text(encoding="utf-8")
    _, expected = await open_document(client, "lf.iql", text, "sql")
    _, got = await open_document(client, "crlf.iql", text.replace("\n", "\r\n"), "sql")
    assert sorted((d.code, where(d.range)) for d in got) == sorted((d.code, where(d.range)) for d in expected)
    assert len(expected) == 3
