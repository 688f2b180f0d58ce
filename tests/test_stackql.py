"""The StackQL statements of databricks_workspace.ml.logged_models: reading, filling in, checking, and where
every diagnostic lands in the file (lmfilter.stackql)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import lmfilter
from lmfilter.diagnostics import Diagnostic, Span
from lmfilter.stackql import (
    METHODS,
    JsonObject,
    JsonString,
    OffsetMap,
    check_statements,
    fill,
    parse_statements,
    sql_escaped,
)
from tests.strategies import trees

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "logged_models.iql"
SEARCH = "EXEC databricks_workspace.ml.logged_models.search @deployment_name='dbc-1'\n@@json="

# Values for every variable of the page's examples, as a user would pass them.
VARIABLES = {
    "model_id": "m-0123456789abcdef0123456789abcdef",
    "deployment_name": "dbc-abcd0123-a1bc",
    "experiment_id": "1",
    "model_type": "Agent",
    "name": 'it\'s "quoted" \\ 😀',
    "params": '[{"key": "alpha", "value": "0.3"}]',
    "source_run_id": "r-1",
    "tags": '[{"key": "team", "value": "vision"}]',
    "tag_key": "team",
    "status": "LOGGED_MODEL_READY",
    "datasets": '[{"dataset_name": "test", "dataset_digest": "abc"}]',
    "experiment_ids": '["1", "2"]',
    "filter": "params.alpha = '0.3' AND tags.team = 'vision' AND metrics.accuracy > 0.9",
    "max_results": "10",
    "order_by": '[{"field_name": "metrics.accuracy", "ascending": false}]',
    "page_token": "",
}


def sql_json(body: str) -> str:
    """A JSON text written as a single-quoted StackQL string (a backslash doubled, as a quote is)."""
    return "'" + sql_escaped(body) + "'"


def search(filter_text: str, *, ensure_ascii: bool = False) -> str:
    return SEARCH + sql_json(json.dumps({"filter": filter_text}, ensure_ascii=ensure_ascii)) + ";"


def at(text: str, diagnostic: Diagnostic) -> str:
    return text[diagnostic.span.start : diagnostic.span.end]


def codes(diagnostics: list[Diagnostic]) -> list[str]:
    return [d.code for d in diagnostics]


def assert_placed(text: str, diagnostics: list[Diagnostic]) -> None:
    """Every diagnostic and every edit of its fixes within the file."""
    for d in diagnostics:
        assert 0 <= d.span.start <= d.span.end <= len(text), d
        for fix in d.fixes:
            for edit in fix.edits:
                assert 0 <= edit.span.start <= edit.span.end <= len(text), fix


# ---- golden positions ------------------------------------------------------------------------------------


def test_doubled_quotes_and_escapes_before_the_fault() -> None:
    # The filter: tags.é = 'it''s' AND tags.x = '😀' AND nmae = 'x' -- with \u escapes and a surrogate pair,
    # whose backslashes StackQL's string takes doubled
    text = (
        SEARCH
        + r"""'{"filter": "tags.\\u00e9 = ''it''''s'' AND tags.x = ''\\ud83d\\ude00'' AND nmae = ''x''"}';"""
    )
    (d,) = check_statements(text, "local")
    assert (d.code, at(text, d)) == ("LMF202", "nmae")
    assert d.span.start == text.index("nmae")
    (fix,) = d.fixes
    assert check_statements(fix.apply(text), "local") == []
    # No server takes a quote in a value: the whole value is marked, its doubled doubled quotes and all.
    quote, _ = check_statements(text, "databricks")
    assert (quote.code, at(text, quote)) == ("LMF307", "''it''''s''")


def test_multi_line_json_and_a_span_over_escapes() -> None:
    text = (
        "-- a search\n"
        "EXEC databricks_workspace.ml.logged_models.search\n"
        "  @deployment_name='dbc-1' --required\n"
        "  @@json='{\n"
        '    "max_results": 10,\n'
        r"""    "filter": "params.p = ''a\\\\b'' AND\\n"""
        r"""        name = \\"\\u00e9\\"" """ + "\n"
        "  }';\n"
    )
    (d,) = check_statements(text)
    assert d.code == "LMF111"  # a double-quoted value: the whole \\"…\\" in the file, escapes and all
    assert at(text, d) == r'\\"\\u00e9\\"'
    assert text.count("\n", 0, d.span.start) + 1 == 6  # after the filter's own line break, written \\n
    (fix,) = d.fixes
    fixed = fix.apply(text)
    assert "name = ''é''" in fixed  # single quotes written as SQL takes them
    assert check_statements(fixed) == []


def test_a_fault_after_a_doubled_quote_in_the_filter_value() -> None:
    text = search("name = 'it''s' OR metric.acc > 1")
    found = check_statements(text, "local")
    assert [(d.code, at(text, d)) for d in found] == [("LMF201", "metric")]
    found = check_statements(text)
    assert [(d.code, at(text, d)) for d in found] == [
        ("LMF307", "''it''''s''"),
        ("LMF301", "OR"),
        ("LMF201", "metric"),
    ]


def test_a_fix_that_writes_a_quote_is_escaped_for_both_layers() -> None:
    text = search('tags.a = "x"')
    (d,) = check_statements(text)
    assert at(text, d) == r'\\"x\\"'
    assert d.fixes[0].apply(text).endswith("tags.a = ''x''\"}';")


def test_json_errors_have_their_place() -> None:
    text = SEARCH + '\'{\n  "filter": "a"\n  "max_results": 1}\''
    (d,) = check_statements(text)
    assert d.code == "LMF506"
    assert d.span.start == text.index('"max_results"')
    text = SEARCH + r"""'{"filter": "a\\x"}'"""
    (d,) = check_statements(text)
    assert (d.code, at(text, d)) == ("LMF506", r"\\x")
    text = SEARCH + '\'{"filter": "a\nb"}\''  # a raw line break inside a JSON string
    (d,) = check_statements(text)
    assert (d.code, at(text, d)) == ("LMF506", "\n")


def test_lone_surrogate_escapes() -> None:
    text = SEARCH + r"""'{"page_token": "a\\ud83db", "filter": "name = ''\\udc00''"}'"""
    found = check_statements(text)
    assert ("LMF505", r"\\ud83d") in [(d.code, at(text, d)) for d in found]
    assert ("LMF112", r"\\udc00") in [(d.code, at(text, d)) for d in found]


def test_offset_map_of_sql_string() -> None:
    m = OffsetMap.of_sql("'a''''b'", 10)
    assert m.decoded == "a''b"
    assert [m.start(i) for i in range(5)] == [11, 12, 14, 16, 17]
    assert m.span(Span(1, 3)) == Span(12, 16)
    assert m.span(Span(4, 4)) == Span(17, 17)


# ---- statements --------------------------------------------------------------------------------------------


def test_the_page_examples_parse_one_statement_per_method() -> None:
    text = EXAMPLES.read_text(encoding="utf-8")
    statements, diagnostics = parse_statements(text)
    assert diagnostics == []
    assert [s.method for s in statements] == [
        "get",
        "create",
        "delete_tag",
        "delete",
        "finalize",
        "log_params",
        "search",
        "set_tags",
    ]
    assert {s.method for s in statements} == set(METHODS)
    assert check_statements(text) == []  # templates not filled in are not checked


@pytest.mark.parametrize("target", ["databricks", "mlflow", "mlflow-3.17"])
def test_the_page_examples_check_clean_once_filled(target: str) -> None:
    text = EXAMPLES.read_text(encoding="utf-8")
    assert check_statements(text, target, VARIABLES) == []
    statements, diagnostics = parse_statements(fill(text, VARIABLES).text)
    assert diagnostics == []
    search_statement = next(s for s in statements if s.method == "search")
    found = search_statement.search_filter()
    assert found is not None
    assert found.value == VARIABLES["filter"]  # read back exactly through both layers
    create = next(s for s in statements if s.method == "create")
    name = create.param("data__name")
    assert name is not None
    assert name.value.text == VARIABLES["name"]


def test_every_variable_the_page_uses_is_named() -> None:
    text = EXAMPLES.read_text(encoding="utf-8")
    missing = [d for d in check_statements(text, variables={}) if d.code == "LMF507"]
    assert {at(text, d).strip("{} ") for d in missing} == set(VARIABLES)


def test_the_statement_model() -> None:
    text = (
        "/* first */ select MODEL from databricks_workspace.ml.logged_models"
        " where Model_Id = 'm-1' and deployment_name = 'dbc-1';\n"
        "-- ; a comment with a semicolon\n"
        "exec databricks_workspace.ml.logged_models.finalize @model_id='a;b', @deployment_name='dbc-1'"
        ' @@json=\'{"status": "LOGGED_MODEL_UPLOAD_FAILED"}\''
    )
    (get, finalize), diagnostics = parse_statements(text)
    assert diagnostics == []
    assert (get.verb, get.method, [c.text for c in get.columns]) == ("select", "get", ["MODEL"])
    model_id = get.param("model_id")
    assert model_id is not None
    assert at(text, Diagnostic("x", "info", "", model_id.value.span)) == "'m-1'"
    assert (finalize.verb, finalize.method) == ("exec", "finalize")
    assert text[finalize.method_span.start : finalize.method_span.end] == "finalize"
    mid = finalize.param("model_id")
    assert mid is not None
    assert mid.value.text == "a;b"
    assert isinstance(finalize.body, JsonObject)
    status = finalize.body.get("status")
    assert isinstance(status, JsonString)
    assert text[status.span.start : status.span.end] == '"LOGGED_MODEL_UPLOAD_FAILED"'
    assert check_statements(text) == []


@pytest.mark.parametrize(
    ("text", "code", "marked"),
    [
        ("SELECT model FROM databricks_workspace.ml.logged_models WHERE model_id = 'a'", "LMF503", None),
        (
            "DELETE FROM databricks_workspace.ml.logged_models WHERE model_id = 'a' AND tag_kye = 'x'"
            " AND deployment_name = 'd'",
            "LMF504",
            "tag_kye",
        ),
        (
            "INSERT INTO databricks_workspace.ml.logged_models"
            " (data__experiment_id, data__nmae, deployment_name) SELECT '1', 'x', 'd'",
            "LMF504",
            "data__nmae",
        ),
        (
            "EXEC databricks_workspace.ml.logged_models.finalize @model_id='m' @deployment_name='d'"
            ' @@json=\'{"status": "READY"}\'',
            "LMF505",
            '"READY"',
        ),
        (
            "EXEC databricks_workspace.ml.logged_models.finalize @model_id='m' @deployment_name='d'",
            "LMF503",
            None,
        ),
        (SEARCH + "'{\"max_results\": 51}'", "LMF505", "51"),
        (SEARCH + '\'{"max_results": "51"}\'', "LMF505", '"51"'),
        (SEARCH + "'{\"fitler\": \"name = ''a''\"}'", "LMF504", "fitler"),
        (SEARCH + '\'{"filter": "a", "filter": "name = \'\'b\'\'"}\'', "LMF508", None),
        (SEARCH + '\'{"order_by": [{"field": "name"}]}\'', "LMF504", '"field"'),
        (SEARCH + "'[1]'", "LMF505", "[1]"),
        ("EXEC databricks_workspace.ml.logged_models.serach @deployment_name='d'", "LMF509", "serach"),
        ("EXEC databricks_workspace.ml.logged_models.search @deployment_name='evil.com/x'", "LMF505", None),
        ("SELECT * FROM aws.ec2.instances WHERE region = 'us-east-1'", "LMF502", "aws.ec2.instances"),
        ("DESCRIBE databricks_workspace.ml.logged_models", "LMF502", "DESCRIBE"),
        ("EXEC databricks_workspace.ml.other.search @deployment_name='d'", "LMF502", None),
        ("SELECT model FROM databricks_workspace.ml.logged_models WHERE model_id > 'a'", "LMF501", ">"),
        ('SELECT model FROM databricks_workspace.ml.logged_models WHERE model_id = "a"', "LMF501", '"a"'),
    ],
)
def test_statement_faults(text: str, code: str, marked: str | None) -> None:
    found = check_statements(text)
    assert code in codes(found), found
    assert_placed(text, found)
    if marked is not None:
        assert marked in [at(text, d) for d in found if d.code == code]


def test_max_results_limit_is_the_targets() -> None:
    text = SEARCH + "'{\"max_results\": 500}'"
    assert codes(check_statements(text, "databricks")) == ["LMF505"]
    assert check_statements(text, "mlflow") == []


# ---- templates -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["it's", 'say "hi" \\ there', "line\nbreak\ttab", "😀 é ''", "{{ x }}"])
def test_fill_writes_values_for_where_they_stand(value: str) -> None:
    text = (
        "INSERT INTO databricks_workspace.ml.logged_models (data__experiment_id, data__name, deployment_name)"
        " SELECT '1', '{{ v }}', 'd';\n" + SEARCH + '\'{"page_token": "{{ v }}"}\''
    )
    filled = fill(text, {"v": value})
    assert filled.diagnostics == ()
    (create, found), diagnostics = parse_statements(filled.text)
    assert diagnostics == []
    name = create.param("data__name")
    assert name is not None
    assert name.value.text == value
    assert isinstance(found.body, JsonObject)
    token = found.body.get("page_token")
    assert isinstance(token, JsonString)
    assert token.value == value


def test_a_fault_inside_a_filled_value_lands_on_its_template() -> None:
    text = SEARCH + "'{\"filter\": \"{{ f }} AND nmae = ''x''\"}'"
    found = check_statements(text, variables={"f": "metric.a > 1"})
    assert [(d.code, at(text, d)) for d in found] == [("LMF201", "{{ f }}"), ("LMF202", "nmae")]
    assert found[0].fixes == ()  # the file holds the template, not the value: no edit there
    assert found[1].fixes  # beside it, the fix stands
    assert check_statements(found[1].fixes[0].apply(text), variables={"f": "metrics.a > 1"}) == []


def test_undefined_variables_and_templates_in_comments() -> None:
    text = (
        "-- {{ ignored }}\nSELECT model FROM databricks_workspace.ml.logged_models "
        "WHERE model_id = {{ id }} AND deployment_name = '{{ host }}'"
    )
    found = check_statements(text, variables={"host": "dbc-1"})
    assert [(d.code, at(text, d)) for d in found] == [("LMF507", "{{ id }}")]


# ---- hostile input -----------------------------------------------------------------------------------------

HOSTILE = [
    "SELECT model FROM databricks_workspace.ml.logged_models WHERE model_id = 'never closed; AND x = 1",
    "SELECT model /* never closed; ",
    SEARCH + '\'{"filter": "' + "x" * 1_000_000 + "\"}'",
    SEARCH + "'" + "[" * 5000 + "]" * 5000 + "'",
    SEARCH + '\'{"a":' * 3000 + "1" + "}" * 3000 + "'",
    SEARCH + '\'{"filter": "\\ud800", "page_token": "\\udfff\\ud800"}\'',
    SEARCH + '\'{"filter": "\\u12"}\'',
    SEARCH + "'{\"filter\": \"name = ''a'' AND",
    SEARCH + '\'{"filter": "' + "name = ''a'' AND " * 70_000 + "\"}'",
    "SELECT model FROM aws.ec2.instances; EXEC google.compute.instances.start @x='1'",
    "'; DROP TABLE x; --",
    "SELECT model FROM databricks_workspace.ml.logged_models WHERE model_id = 'a' ; ;;; @",
    "\x00\x1b[2J" * 1000,
    '"' * 200_000,
    "EXEC",
    "INSERT INTO databricks_workspace.ml.logged_models (a, b) SELECT '1'",
    "SELECT model FROM databricks_workspace.ml.logged_models WHERE model_id = '\udcff'"
    " AND deployment_name = 'd'",
]


@pytest.mark.parametrize("text", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_input_is_a_placed_diagnostic(text: str) -> None:
    found = check_statements(text)
    assert any(d.severity == "error" for d in found)
    assert len(found) <= 60
    assert_placed(text, found)
    assert_placed(text, list(parse_statements(text).diagnostics))


def test_semicolons_inside_strings_and_comments_do_not_split() -> None:
    text = (
        "SELECT model FROM databricks_workspace.ml.logged_models /* ; */ WHERE model_id = ';' -- ;\n"
        "AND deployment_name = 'd' ; ; " + SEARCH + sql_json(json.dumps({"filter": "name = 'a;b'"}))
    )
    statements, diagnostics = parse_statements(text)
    assert diagnostics == []
    assert [s.method for s in statements] == ["get", "search"]


# ---- the mapping, against checking the filter directly ---------------------------------------------------

_filter_texts = st.one_of(
    trees.map(lmfilter.format),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=40),
    st.tuples(
        trees.map(lmfilter.format),
        st.integers(0, 60),
        st.sampled_from(["'", '"', "\\", "é", "😀", "`", "\n"]),
    ).map(lambda t: t[0][: t[1]] + t[2] + t[0][t[1] :]),
)


@settings(max_examples=150, deadline=None)
@given(_filter_texts, st.booleans())
def test_diagnostics_inside_json_in_sql_map_to_the_filters_own(filter_text: str, ensure_ascii: bool) -> None:
    text = search(filter_text, ensure_ascii=ensure_ascii)
    (statement,), _ = parse_statements(text)
    found = statement.search_filter()
    assert found is not None
    assert found.value == filter_text
    direct = lmfilter.check(filter_text, "databricks", native=True)
    embedded = [d for d in check_statements(text) if not d.code.startswith("LMF5")]
    assert sorted(d.span for d in embedded) == sorted(found.offsets.span(d.span) for d in direct)
    for d in direct:
        if d.span.start < d.span.end:
            # The file's text under the mapped span decodes (SQL, then JSON) to the filter's under its own.
            written = at(text, found.offsets.diagnostic(d))
            assert json.loads('"' + OffsetMap.of_sql(f"'{written}'", 0).decoded + '"') == at(filter_text, d)
