"""``lmfilter lint`` on StackQL files (``.iql``, ``.sql``): the statements on
databricks_workspace.ml.logged_models and their search filters, placed exactly in the file through both
layers of quoting, with noqa, targets, templates, formats and exit statuses as for the other kinds.

The golden reports of ``golden/stackql/*.iql`` are ``golden/stackql/*.txt``; after a deliberate change to
messages, regenerate them with ``UPDATE_GOLDEN=1`` and review the diff.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from lmfilter.cli import EXIT_ERRORS, EXIT_OK, EXIT_USAGE, main
from lmfilter.config import Config, Override
from lmfilter.diagnostics import Span
from lmfilter.documents import kind_of, noqa_lines
from lmfilter.lint import (
    FileReport,
    apply_edits,
    fix_paths,
    lint_paths,
    lint_source,
    render_text,
    to_sarif,
)
from lmfilter.stackql import OffsetMap, check_statements, fill, parse_statements, sql_escaped
from tests.test_stackql import VARIABLES

GOLDEN = Path(__file__).parent / "golden" / "stackql"
EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
SEARCH = "EXEC databricks_workspace.ml.logged_models.search @deployment_name='dbc-1' @@json="


def search(body: dict[str, object]) -> str:
    return SEARCH + "'" + sql_escaped(json.dumps(body, ensure_ascii=False)) + "';\n"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def write(directory: Path, name: str, text: str, newline: str = "\n") -> Path:
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.replace("\n", newline).encode("utf-8"))
    return path


def found(report: FileReport, source: str) -> list[tuple[str, str]]:
    """Each finding's code and the text of the file under its region."""
    starts = [0, *(i + 1 for i, c in enumerate(source) if c == "\n")]
    return [
        (
            f.code,
            source[
                starts[f.region.line - 1] + f.region.column - 1 : starts[f.region.end_line - 1]
                + f.region.end_column
                - 1
            ],
        )
        for f in report.findings
    ]


def lint(source: str, target: str = "databricks", **options: object) -> FileReport:
    return lint_source(source, "stackql", target, path="x.iql", **options)  # type: ignore[arg-type]


# ---- golden reports ----------------------------------------------------------------------------------------

CASES = sorted(GOLDEN.glob("*.iql"))


def _report(path: Path, text: str) -> str:
    return render_text([lint_source(text, "stackql", "databricks", path=path.name)]) + "\n"


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_golden_reports(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert _report(path, text) == path.with_suffix(".txt").read_text(encoding="utf-8")


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_golden_files_with_crlf_line_ends_report_the_same_places(path: Path, tmp_path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    crlf = write(tmp_path, path.name, text, "\r\n")
    assert b"\r\n" in crlf.read_bytes()
    (report,) = lint_paths([crlf], config=Config(root=tmp_path))
    (expected,) = [lint_source(text, "stackql", "databricks", path=str(crlf))]
    assert report.findings == expected.findings
    assert report.findings  # each golden case has something to place


def test_update_golden() -> None:
    """With UPDATE_GOLDEN=1, rewrite the expected reports from the current code (for review in git)."""
    if not os.environ.get("UPDATE_GOLDEN"):
        pytest.skip("set UPDATE_GOLDEN=1 to regenerate golden/stackql/*.txt")
    for path in CASES:
        path.with_suffix(".txt").write_text(_report(path, path.read_text(encoding="utf-8")), encoding="utf-8")


def test_the_golden_places_are_the_characters_meant() -> None:
    """What the golden reports show, said in words: each caret is on the text it is about."""
    text = (GOLDEN / "surrogate_pair.iql").read_text(encoding="utf-8")
    report = lint(text)
    assert found(report, text) == [("LMF202", "nmae"), ("LMF202", "nmae")]
    # The same column in SARIF's UTF-16 units, after an emoji written as itself (two units) on line 2.
    sarif = to_sarif([report])["runs"][0]["results"]
    line2 = text.split("\n")[1]
    assert sarif[0]["locations"][0]["physicalLocation"]["region"]["startColumn"] == (
        len(line2[: line2.index("nmae")].encode("utf-16-le")) // 2 + 1
    )
    text = (GOLDEN / "tabs.iql").read_text(encoding="utf-8")
    assert found(lint(text), text) == [("LMF201", "metric")]
    text = (GOLDEN / "multi_line.iql").read_text(encoding="utf-8")
    assert found(lint(text), text) == [("LMF505", "100"), ("LMF202", "stauts"), ("LMF506", "\n")]


# ---- which files, and what they are checked for ------------------------------------------------------------


def test_iql_and_sql_files_are_stackql_files() -> None:
    assert [kind_of(n) for n in ("a.iql", "b.sql", "C.SQL", "d.IQL", "e.sqlx", "f.py")] == [
        "stackql",
        "stackql",
        "stackql",
        "stackql",
        None,
        "python",
    ]


def test_directories_are_walked_for_statement_files_and_sql_of_other_databases_is_left_alone(
    tmp_path: Path,
) -> None:
    postgres = (
        'CREATE TABLE "users" (id serial PRIMARY KEY, name text);\n'
        "CREATE FUNCTION f() RETURNS int AS $$ SELECT 1 $$ LANGUAGE sql;\n"
        "SELECT * FROM \"users\" WHERE name = 'it''s' -- a comment\n"
    )
    write(tmp_path, "db/schema.sql", postgres)
    mlflow_dump = (
        "CREATE TABLE logged_models (model_id varchar(36) PRIMARY KEY, name text);\n"
        "INSERT INTO logged_models VALUES ('m-1', \"it's\");\n"
    )
    write(tmp_path, "db/mlflow.sql", mlflow_dump)
    write(tmp_path, "aws.iql", "SELECT * FROM aws.ec2.instances WHERE region = 'us-east-1';\n")
    bad = search({"filter": "nmae = 'a'"})
    write(tmp_path, "q/search.iql", bad)
    reports = lint_paths([tmp_path], config=Config(root=tmp_path))
    assert [(Path(r.path).name, r.filters, [f.code for f in r.findings]) for r in reports] == [
        ("aws.iql", 0, []),
        ("mlflow.sql", 0, []),  # MLflow's own logged_models table: not the resource
        ("schema.sql", 0, []),
        ("search.iql", 1, ["LMF202"]),
    ]


def test_statements_on_other_resources_are_said_once_in_a_file_about_this_one() -> None:
    text = (
        "SHOW PROVIDERS;\n"
        "SELECT * FROM aws.ec2.instances WHERE region = 'us-east-1';\n"
        + search({"filter": "name = 'a'", "max_results": 60})
        + "SELECT * FROM databricks_workspace.compute.clusters WHERE deployment_name = 'd';\n"
        "SELECT model FROM databricks_workspace.ml.loggedmodels"
        " WHERE model_id = 'm' AND deployment_name = 'd';\n"
    )
    report = lint(text)
    assert found(report, text) == [
        ("LMF502", "SHOW"),
        ("LMF505", "60"),
        ("LMF502", "databricks_workspace.ml.loggedmodels"),  # a near miss: an error, with its fix
    ]
    summary, _, near = report.findings
    assert (summary.severity, summary.message) == (
        "info",
        "3 statements not on databricks_workspace.ml.logged_models (the first here): not checked",
    )
    assert near.severity == "error"
    assert near.fixes[0].edits[0].replacement == "databricks_workspace.ml.logged_models"


def test_faults_of_statements_on_other_resources_are_not_said() -> None:
    text = (
        'CREATE TABLE "users" (id serial, name text);\n'
        'SELECT $$ x $$ FROM "users" WHERE name = "a";\n'
        'SELECT * FROM aws.ec2.instances WHERE region = "us-east-1";\n'
        + search({"filter": "nmae = 'a'"})
        + 'SELECT model FROM databricks_workspace.ml.logged_models WHERE model_id = "m";\n'
    )
    report = lint(text)
    assert found(report, text) == [
        ("LMF502", "CREATE"),
        ("LMF202", "nmae"),
        ("LMF501", '"m"'),  # a fault of a statement on the resource is said
    ]
    assert report.findings[0].message.startswith("3 statements not on")


def test_a_statement_file_is_checked_for_databricks_unless_a_target_is_configured(tmp_path: Path) -> None:
    path = write(tmp_path, "s.iql", search({"filter": "name = 'a' OR name = 'b'", "max_results": 51}))
    lmf = write(tmp_path, "f.lmf", "name = 'a' OR name = 'b'\n")

    def seen(config: Config, target: str | None = None) -> list[tuple[str, str, str]]:
        return [
            (Path(r.path).suffix, f.code, f.target)
            for r in lint_paths([tmp_path], target, config=config)
            for f in r.findings
        ]

    # By default: Databricks for the statements (OR and max_results 51 refused), MLflow for the .lmf file.
    assert seen(Config(root=tmp_path)) == [
        (".lmf", "LMF301", "mlflow"),
        (".iql", "LMF301", "databricks"),
        (".iql", "LMF505", "databricks"),
    ]
    # A configured target wins, for every file.
    configured = Config.of({"target": "mlflow"}, "test", base=tmp_path)
    assert seen(configured) == [(".lmf", "LMF301", "mlflow"), (".iql", "LMF301", "mlflow")]
    # So does an override for the file's path, and --target.
    override = Config(root=tmp_path, overrides=(Override(("*.iql",), "mlflow-3.17", None, "test"),))
    assert {t for s, _, t in seen(override) if s == ".iql"} == {"mlflow-3.17"}
    assert {t for _, _, t in seen(Config(root=tmp_path), "mlflow")} == {"mlflow"}
    # local is no server: the statements are checked for Databricks, whose resource they are on.
    assert {t for s, _, t in seen(Config(root=tmp_path), "local") if s == ".iql"} == {"databricks"}
    assert path.exists()
    assert lmf.exists()


# ---- noqa --------------------------------------------------------------------------------------------------


def test_noqa_comments_in_sql_comments() -> None:
    text = (
        SEARCH
        + "'{\"max_results\": 99}'; -- noqa: LMF505\n"
        + SEARCH
        + "'{\"max_results\": 99}'; /* NOQA */\n"
        + SEARCH
        + "'{\"max_results\": 99}'; -- noqa: LMF2\n"  # another code: still said
        + SEARCH
        + '\'{"max_results": 99, "page_token": "-- noqa"}\';\n'  # inside a string: no comment
        + SEARCH
        + "'{\n  \"filter\": \"nmae = ''a''\",\n  \"max_results\": 99\n}'; -- noqa: LMF202\n"
    )
    report = lint(text)
    assert [(f.code, f.region.line) for f in report.findings] == [
        ("LMF505", 3),
        ("LMF505", 4),
        ("LMF505", 7),  # the noqa after the string names LMF202 only
    ]
    assert noqa_lines(text, "stackql") == {
        0: frozenset({"LMF505"}),
        1: None,
        2: frozenset({"LMF2"}),
        7: frozenset({"LMF202"}),
    }


# ---- templates ---------------------------------------------------------------------------------------------


def test_the_page_examples_lint_clean_as_templates(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run(capsys, "lint", "--isolated", str(EXAMPLES / "logged_models.iql"))
    assert (status, err) == (EXIT_OK, "")
    assert out.endswith("1 file, 1 filter: 0 errors, 0 warnings, 0 infos\n")


def test_given_variables_a_template_with_no_value_is_an_error(capsys: pytest.CaptureFixture[str]) -> None:
    path = str(EXAMPLES / "logged_models.iql")
    given = [f"--var={name}={value}" for name, value in VARIABLES.items() if name != "tag_key"]
    status, out, _ = run(capsys, "lint", "--isolated", path, *given, "--format", "json")
    assert status == EXIT_ERRORS
    (missing,) = json.loads(out)
    assert (missing["code"], missing["line"], missing["message"]) == (
        "LMF507",
        35,
        "template variable 'tag_key' has no value",
    )
    all_given = [f"--var={name}={value}" for name, value in VARIABLES.items()]
    status, out, _ = run(capsys, "lint", "--isolated", path, *all_given, "--format", "json")
    assert (status, json.loads(out)) == (EXIT_OK, [])
    # A filled-in value with a fault: the fault is said on its template.
    bad = [f"--var={name}={value}" for name, value in {**VARIABLES, "filter": "nmae = 'x'"}.items()]
    status, out, _ = run(capsys, "lint", "--isolated", path, *bad, "--format", "json")
    (finding,) = json.loads(out)
    assert (status, finding["code"], finding["line"], finding["column"]) == (EXIT_ERRORS, "LMF202", 68, 12)


@pytest.mark.parametrize(
    "given",
    [
        ["--var", "novalue"],
        ["--var", "=x"],
        ["--var", "1x=y"],
        ["--var", "a b=c"],
        ["--var=a=1", "--var=a=2"],
    ],
)
def test_a_var_that_is_not_name_equals_value_is_a_usage_error(
    given: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    status, _, err = run(capsys, "lint", "--isolated", str(EXAMPLES), *given)
    assert status == EXIT_USAGE
    assert "is not NAME=VALUE" in err or "a is given twice" in err


@pytest.mark.parametrize(
    ("written", "said"),
    [
        ("name = ''{{ n }}'' AND nmae = ''x''", [("LMF202", "nmae")]),  # a stand-in for the value
        ("tags.{{ key }} = ''x'' AND metric.a > 1", [("LMF201", "metric")]),  # for a key
        ("tags.`{{ key }}` = ''{{ v }}''", []),
        ("name LIKE ''{{ prefix }}%'' AND tags.t = ''{{ v }}''", []),
        ("status = ''{{ s }}''", [("LMF309", "status = ''{{ s }}''")]),  # the target's, not the stand-in's
        ("metrics.acc > {{ t }} AND nmae = 1", []),  # a hole that could be anything: not checked
        ("{{ filter }}", []),
    ],
)
def test_a_filter_partly_made_of_templates_is_checked_with_stand_ins(
    written: str, said: list[tuple[str, str]]
) -> None:
    text = SEARCH + '\'{"filter": "' + written + "\"}';"
    diagnostics = check_statements(text)
    assert [(d.code, text[d.span.start : d.span.end]) for d in diagnostics] == said
    for d in diagnostics:  # a fix never writes into a template
        for fix in d.fixes:
            assert "{{" in fix.apply(text)


# ---- StackQL's strings: a backslash escapes ----------------------------------------------------------------


def test_a_stackql_string_reads_backslash_escapes_as_stackql_does() -> None:
    # StackQL's parser (Vitess') reads strings as MySQL: \\ \' \" \n \t \r \b \0 \Z, any other \c is c.
    m = OffsetMap.of_sql(r"'a\\b\'c\"d\ne\tf\u00e9\Zg''h'", 0)
    assert m.decoded == "a\\b'c\"d\ne\tfu00e9\x1ag'h"
    assert m.span(Span(1, 2)) == Span(2, 4)  # the backslash, written \\\\
    assert [m.start(i) for i in (1, 2, 3)] == [2, 4, 5]


def test_values_written_by_fill_read_back_through_backslashes() -> None:
    for value in ["C:\\dir\\", "a\\'b", '\\"', "\\u00e9", "it's"]:
        text = fill(SEARCH + "'{\"filter\": \"name = ''{{ v }}''\"}';", {"v": value}).text
        (statement,), diagnostics = parse_statements(text)
        assert diagnostics == []
        filter_value = statement.search_filter()
        assert filter_value is not None
        assert filter_value.value == f"name = '{value}'"


@pytest.mark.parametrize(
    ("written", "escape", "decoded"),
    [
        (r'''"filter": "tags.\u00e9 = ''x''"''', r"\u", "tags.u00e9 = 'x'"),  # silently another key
        ('"filter": "name = \'\'a\'\'", "page_token": "a\\"b"', r"\"", None),  # a bare quote: malformed
        (r'''"filter": "name = ''a\nb''"''', r"\n", None),  # a line break in a JSON string: malformed
    ],
)
def test_a_json_escape_written_once_is_said_with_a_fix_doubling_it(
    written: str, escape: str, decoded: str | None
) -> None:
    text = SEARCH + "'{" + written + "}';"
    diagnostics = check_statements(text)
    said = [d for d in diagnostics if d.code == "LMF510"]
    assert [text[d.span.start : d.span.end] for d in said] == [escape]
    if decoded is not None:
        (statement,), _ = parse_statements(text)
        filter_value = statement.search_filter()
        assert filter_value is not None
        assert filter_value.value == decoded
    fixed = said[0].fixes[0].apply(text)
    assert [d.code for d in check_statements(fixed)] == []


def test_a_backslash_quote_does_not_end_a_string() -> None:
    text = (
        "SELECT model FROM databricks_workspace.ml.logged_models"
        " WHERE model_id = 'it\\'s' AND deployment_name = 'd';"
    )
    (statement,), diagnostics = parse_statements(text)
    assert diagnostics == []
    model_id = statement.param("model_id")
    assert model_id is not None
    assert model_id.value.text == "it's"


# ---- fixes, formats, exit statuses -------------------------------------------------------------------------


def test_fix_applies_the_safe_fixes_of_statement_files_in_place_keeping_crlf(tmp_path: Path) -> None:
    text = SEARCH + '\'{"filter": "name = \\\\"a\\\\"", "max_results": 99}\';\n'
    path = write(tmp_path, "s.iql", text, "\r\n")
    changed = fix_paths([path], config=Config(root=tmp_path))
    assert changed == {str(path): 1}
    fixed = path.read_bytes().decode("utf-8")
    assert fixed.count("\r\n") == 1
    assert "name = ''a''" in fixed  # the safe fix of LMF111, written for both layers
    (report,) = lint_paths([path], config=Config(root=tmp_path))
    assert [f.code for f in report.findings] == ["LMF505"]  # its fix (to 50) is a suggestion, not applied
    edits = report.findings[0].fixes[0].edits
    assert "50" in apply_edits(fixed.replace("\r\n", "\n"), "stackql", edits)


def test_formats_and_exit_statuses(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = write(tmp_path, "bad.iql", "-- 😀\n" + search({"filter": "tags.x = '😀' AND nmae = 'a'"}))
    status, out, _ = run(capsys, "lint", "--isolated", str(bad))
    assert status == EXIT_ERRORS
    assert f"{bad}:2:" in out
    assert "LMF202" in out
    status, out, _ = run(capsys, "lint", "--isolated", str(bad), "--format", "json")
    (finding,) = json.loads(out)
    assert (finding["code"], finding["line"], finding["target"], finding["native"]) == (
        "LMF202",
        2,
        "databricks",
        True,
    )
    line = bad.read_text(encoding="utf-8").split("\n")[1]
    assert finding["column"] == line.index("nmae") + 1
    status, out, _ = run(capsys, "lint", "--isolated", str(bad), "--format", "sarif")
    (result,) = json.loads(out)["runs"][0]["results"]
    region = result["locations"][0]["physicalLocation"]["region"]
    assert region["startColumn"] == len(line[: line.index("nmae")].encode("utf-16-le")) // 2 + 1
    assert result["ruleId"] == "LMF202"
    good = write(tmp_path, "good.sql", search({"filter": "name = 'a'"}))
    status, out, _ = run(capsys, "lint", "--isolated", str(good))
    assert (status, out.splitlines()[-1]) == (EXIT_OK, "1 file, 1 filter: 0 errors, 0 warnings, 0 infos")


# ---- hostile files -----------------------------------------------------------------------------------------


HOSTILE = [
    ("an unterminated string at the end", SEARCH + "'{\"filter\": \"name = ''a", "LMF501", "'"),
    ("an unterminated comment at the end", SEARCH + "'{}'; /* never closed", "LMF501", "/*"),
    (
        "a {{ never closed",
        "SELECT model FROM databricks_workspace.ml.logged_models WHERE model_id = {{ m",
        "LMF501",
        "{",
    ),
    (
        "a NUL byte",
        "SELECT model FROM databricks_workspace.ml.logged_models\x00 WHERE model_id = 'm';",
        "LMF501",
        "\x00",
    ),
    (
        "JSON nested past the limit",
        SEARCH + "'" + '{"datasets": ' + "[" * 5000 + "]" * 5000 + "}';",
        "LMF506",
        "[",
    ),
    ("a lone surrogate", SEARCH + '\'{"page_token": "\udcff"}\';', "LMF505", "\udcff"),
]


@pytest.mark.parametrize(("what", "text", "code", "marked"), HOSTILE, ids=[h[0] for h in HOSTILE])
def test_hostile_files_get_placed_diagnostics(what: str, text: str, code: str, marked: str) -> None:
    report = lint(text)
    assert code in [f.code for f in report.findings], report.findings
    finding = next(f for f in report.findings if f.code == code)
    lines = text.split("\n")
    assert lines[finding.region.line - 1][finding.region.column - 1 :].startswith(marked)
    render_text([report])  # prints without a traceback
    to_sarif([report])


def test_a_byte_order_mark_is_no_fault(tmp_path: Path) -> None:
    path = tmp_path / "bom.iql"
    path.write_bytes(b"\xef\xbb\xbf" + search({"filter": "nmae = 'a'"}).encode("utf-8"))
    (report,) = lint_paths([path], config=Config(root=tmp_path))
    assert [(f.code, f.region.line, f.region.column) for f in report.findings] == [
        ("LMF202", 1, SEARCH.index("@@json") + len('@@json=\'{"filter": "') + 1)
    ]


def test_a_file_that_is_not_utf8_is_a_read_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "latin.sql"
    path.write_bytes(b"-- logged_models caf\xe9\n")
    status, _, err = run(capsys, "lint", "--isolated", str(path))
    assert status == EXIT_ERRORS
    assert f"cannot read: not utf-8 text (byte {len('-- logged_models caf')})" in err


def test_thousands_of_statements_are_all_checked(tmp_path: Path) -> None:
    statements = [
        search({"filter": f"nmae = '{i}'" if i % 100 == 0 else f"name = '{i}'"}) for i in range(3000)
    ]
    path = write(tmp_path, "many.iql", "".join(statements))
    (report,) = lint_paths([path], config=Config(root=tmp_path))
    assert report.filters == 3000
    assert [(f.code, f.region.line) for f in report.findings] == [
        ("LMF202", i + 1) for i in range(0, 3000, 100)
    ]


@pytest.mark.parametrize(
    ("end", "value"),
    [("abc", "abc"), ("abc\\", "abc\\"), ("abc\\\\", "abc\\"), ("it''s", "it's")],
)
def test_the_fix_of_an_unterminated_string_closes_it(end: str, value: str) -> None:
    text = (
        "SELECT model FROM databricks_workspace.ml.logged_models WHERE deployment_name = 'd' AND model_id = '"
    )
    (fault,) = check_statements(text + end)
    assert fault.code == "LMF501"
    fixed = fault.fixes[0].apply(text + end)
    assert check_statements(fixed) == []
    (statement,), _ = parse_statements(fixed)
    model_id = statement.param("model_id")
    assert model_id is not None
    assert model_id.value.text == value


def test_json_escapes_written_once_in_an_insert_column_of_json_are_said_too() -> None:
    text = (
        "INSERT INTO databricks_workspace.ml.logged_models (data__experiment_id, data__params, data__name,"
        " deployment_name)\nSELECT '1',"
        ' \'[{"key": "a\\u00e9", "value": "x\\/y"}]\', \'n\\u00e9\', \'dbc-1\';'
    )
    said = [(d.code, text[d.span.start : d.span.end]) for d in check_statements(text)]
    # In data__params, JSON: \u is lost. In data__name, a plain string: \u is StackQL's own business. And
    # \/ is / either way.
    assert said == [("LMF510", "\\u")]
    assert text.index("\\u") == next(d.span.start for d in check_statements(text))


@pytest.mark.parametrize(
    "written",
    [
        r"""'{\"filter\": \"name = ''a''\"}'""",  # quotes escaped as StackQL takes them: the JSON's own
        r"""'{"filter":\t"name = ''a''",\n"max_results": 5}'""",  # blanks between JSON values
        r"""'{"filter": "name = ''a\/b''"}'""",  # \/ is / either way
    ],
)
def test_escapes_outside_json_strings_mean_what_they_say(written: str) -> None:
    text = SEARCH + written + ";"
    assert check_statements(text) == []
    (statement,), _ = parse_statements(text)
    filter_value = statement.search_filter()
    assert filter_value is not None
    assert filter_value.value.startswith("name = 'a")


def test_a_fix_for_an_escaped_quote_in_json_that_does_not_read_is_only_suggested() -> None:
    text = SEARCH + r"""'{"filter": "name = \"a\""}';"""
    said = [d for d in check_statements(text) if d.code == "LMF510"]
    assert [text[d.span.start : d.span.end] for d in said] == ['\\"', '\\"']
    assert not any(fix.safe for d in said for fix in d.fixes)
    fixed = said[0].fixes[0].apply(said[1].fixes[0].apply(text))  # the later first: offsets hold
    assert [d.code for d in check_statements(fixed)] == [
        "LMF111"
    ]  # now JSON's escapes: a double-quoted value
