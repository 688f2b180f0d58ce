"""``lmfilter lint`` and :mod:`lmfilter.lint`: filters found in ``.lmf`` files and Python call sites, placed
exactly in their documents, and reported as text, JSON and SARIF with the command's exit statuses.

Expected columns are computed from the source (``column_of``) so that each test states where the fault is
in words, not in counted numbers.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from lmfilter import documents
from lmfilter.cli import EXIT_ERRORS, EXIT_OK, EXIT_USAGE, main
from lmfilter.lint import (
    SKIPPED_CODE,
    FileReport,
    Finding,
    Region,
    apply_edits,
    documents_under,
    lint_paths,
    lint_source,
    render_text,
    to_json,
    to_sarif,
)
from tests.test_cli import console_script

REPO = Path(__file__).resolve().parent.parent


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def column_of(source: str, line: int, needle: str) -> int:
    """The 1-based code-point column where ``needle`` first stands on a 1-based line of ``source``."""
    index = source.split("\n")[line - 1].index(needle)
    return index + 1


def region_of(source: str, line: int, needle: str) -> Region:
    """The region of ``needle`` on one line, as the linter should report it."""
    column = column_of(source, line, needle)
    return Region(line, column, line, column + len(needle))


def placed(report: FileReport) -> list[tuple[str, str, Region]]:
    return [(f.code, f.severity, f.region) for f in report.findings]


# ---- .lmf files ----------------------------------------------------------------------------------

LMF = """\
# nightly report filters

metrics.accuracy > 0.9 AND params.optimizer = 'adam'
   # an indented comment
metric.accuracy > 0.9
    nmae LIKE 'churn-%' AND metrics.rmse < 'low'

name = 'a' OR name = 'b'
"""


def test_lmf_places_each_diagnostic_on_its_line_skipping_comments_and_blanks() -> None:
    report = lint_source(LMF, "lmf", path="nightly.lmf")
    assert report.filters == 4
    assert placed(report) == [
        ("LMF201", "error", region_of(LMF, 5, "metric")),
        ("LMF202", "error", Region(6, 5, 6, 9)),  # an indented filter keeps its document columns
        ("LMF204", "error", region_of(LMF, 6, "'low'")),
        ("LMF301", "info", region_of(LMF, 8, "OR")),
    ]
    assert {f.filter for f in report.findings} == {
        "metric.accuracy > 0.9",
        "nmae LIKE 'churn-%' AND metrics.rmse < 'low'",
        "name = 'a' OR name = 'b'",
    }


def test_lmf_file_with_crlf_and_bom_reads_like_the_plain_one(tmp_path: Path) -> None:
    path = tmp_path / "windows.lmf"
    path.write_bytes(b"\xef\xbb\xbf" + LMF.replace("\n", "\r\n").encode())
    (report,) = lint_paths([path])
    assert placed(report) == placed(lint_source(LMF, "lmf"))


def test_fix_edits_land_on_the_document() -> None:
    report = lint_source(LMF, "lmf")
    fixed = LMF
    for finding in reversed(report.findings):  # bottom up, so earlier regions stay put
        if finding.fixes:
            fixed = apply_edits(fixed, "lmf", finding.fixes[0].edits)
    assert "metrics.accuracy > 0.9\n    name LIKE" in fixed
    assert [f.code for f in lint_source(fixed, "lmf").findings] == ["LMF204", "LMF301"]


# ---- Python call sites ---------------------------------------------------------------------------

BAD = "nmae = 'x'"  # LMF202, with a fix


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(
            f'mlflow.search_logged_models(experiment_ids=["1"], filter_string="{BAD}")', id="mlflow"
        ),
        pytest.param(f'lmfilter.parse("{BAD}")', id="parse"),
        pytest.param(f'lmfilter.check("{BAD}", target="mlflow", native=True)', id="check"),
        pytest.param(f'lmfilter.select(models, "{BAD}")', id="select"),
        pytest.param(f'lmfilter.select(models, filter="{BAD}")', id="select-filter="),
        pytest.param(f'lmfilter.compile(filter="{BAD}", experiment_ids=["1"])', id="compile-filter="),
        pytest.param(f'lmfilter.plan("{BAD}", experiment_ids=["1"])', id="plan"),
        pytest.param(f'client.search("{BAD}", experiment_ids=["1"])', id="client.search"),
        pytest.param(
            f'lmfilter.Client(url).search(filter="{BAD}", experiment_ids=["1"])', id="search-filter="
        ),
    ],
)
def test_each_call_form_is_linted_in_place(call: str) -> None:
    source = (
        f"import lmfilter, mlflow\nmodels = []\n\n\ndef report(client: lmfilter.Client):\n    return {call}\n"
    )
    report = lint_source(source, "python", path="report.py")
    assert placed(report) == [("LMF202", "error", region_of(source, 6, "nmae"))]
    assert report.findings[0].filter == BAD


def test_calls_without_a_filter_string_are_not_linted() -> None:
    source = (
        "import lmfilter, mlflow\n"
        "mlflow.search_logged_models(experiment_ids=['1'])\n"
        "lmfilter.select(models)\n"
        "lmfilter.parse(text)\n"
        "mlflow.search_logged_models(filter='nmae = 1')\n"  # MLflow's keyword is filter_string
    )
    assert lint_source(source, "python").findings == ()


def test_non_ascii_filter_columns_count_code_points() -> None:
    source = "import lmfilter\nlmfilter.parse(\"tags.équipe = 'α𝔘' AND nmae = 'x'\")\n"
    assert placed(lint_source(source, "python")) == [("LMF202", "error", region_of(source, 2, "nmae"))]


ESCAPED = r"""import lmfilter
lmfilter.parse('tags.t = \'it\'\'s\'\nAND metrics.rmse < \'low\' AND nmae = 1')
"""


def test_escapes_map_to_the_characters_written() -> None:
    report = lint_source(ESCAPED, "python")
    assert report.findings[0].filter == "tags.t = 'it''s'\nAND metrics.rmse < 'low' AND nmae = 1"
    assert placed(report) == [
        ("LMF307", "info", region_of(ESCAPED, 2, r"\'it\'\'s\'")),  # a quote in a value, four escapes
        ("LMF204", "error", region_of(ESCAPED, 2, r"\'low\'")),  # the span ends after the closing \'
        ("LMF202", "error", region_of(ESCAPED, 2, "nmae")),
    ]


TRIPLE = '''import lmfilter

lmfilter.parse("""
    metrics.a BETWEEN 1
      AND 2
    AND nmae = 'x'
""")
'''


def test_triple_quoted_multi_line_filter() -> None:
    report = lint_source(TRIPLE, "python", path="t.py")
    between = column_of(TRIPLE, 4, "metrics")
    assert placed(report) == [
        ("LMF305", "info", Region(4, between, 5, column_of(TRIPLE, 5, "2") + 1)),
        ("LMF202", "error", region_of(TRIPLE, 6, "nmae")),
    ]
    text = render_text([report])
    assert text.startswith(  # a span that goes on is underlined to the end of its first line
        "t.py:4:5: LMF305 MLflow 3.18 does not run BETWEEN itself: lmfilter runs it locally\n"
        "  4 |     metrics.a BETWEEN 1\n"
        "    |     ^^^^^^^^^^^^^^^^^^^ info\n"
    )


SKIPPED = """import lmfilter
x = 1
lmfilter.parse(f"metrics.a > {x}")
lmfilter.parse(
    "name = 'a' "
    "AND nmae = 1"
)
"""


def test_f_strings_with_unknowable_holes_and_implicit_concatenation_are_skipped_infos() -> None:
    report = lint_source(SKIPPED, "python", path="s.py")
    assert report.filters == 2
    assert placed(report) == [
        (SKIPPED_CODE, "info", Region(3, 16, 3, 16)),
        (SKIPPED_CODE, "info", Region(5, 5, 5, 5)),
    ]
    assert [f.message for f in report.findings] == [
        "an f-string with a hole outside quotes is not linted",
        "an implicitly concatenated string is not linted",
    ]
    native = lint_source(SKIPPED, "python", native=True, path="s.py").findings
    assert [(f.code, f.severity, f.region) for f in native] == [  # still infos
        (f.code, f.severity, f.region) for f in report.findings
    ]
    assert "s.py:3:16: LMF401 an f-string with a hole outside quotes is not linted\n" in render_text([report])


F_STRINGS = [
    # (the f-string as written, the filter linted, the text under the finding's region)
    ("f\"name = '{name}' AND nmae = 'x'\"", "name = 'x' AND nmae = 'x'", "nmae"),
    ("f\"params.{key} = '{v!r:>{w}}' AND nmae = 1\"", "params.x = 'x' AND nmae = 1", "nmae"),
    ("f\"tags.`{k}` = '{d['a']}' AND nmae = 1\"", "tags.`x` = 'x' AND nmae = 1", "nmae"),
    ("f\"tags.é = '{x}' AND nmae = 1\"", "tags.é = 'x' AND nmae = 1", "nmae"),
    ("rf\"name = '\\{x}' AND nmae = 1\"", "name = '\\x' AND nmae = 1", "nmae"),
    (
        "f\"name = '{x}' AND {{nmae}} = 1\"",
        "name = 'x' AND {nmae} = 1",
        "{{nmae}}",
    ),  # braces sent as they are
    ("f\"name = '{x}\\n' AND nmae = 1\"", "name = 'x\n' AND nmae = 1", "nmae"),
    (
        "f\"name = 'a' AND tags.t = '{nmae}' AND nmae = 1\"",
        "name = 'a' AND tags.t = 'x' AND nmae = 1",
        "nmae =",
    ),
]


@pytest.mark.parametrize(("written", "text", "under"), F_STRINGS, ids=[w for w, _, _ in F_STRINGS])
def test_an_f_string_is_linted_with_a_stand_in_for_each_hole_inside_quotes(
    written: str, text: str, under: str
) -> None:
    source = f"import mlflow\nmlflow.search_logged_models(filter_string={written})\n"
    (finding,) = lint_source(source, "python").findings
    assert (finding.code, finding.filter) == ("LMF202", text) or (finding.code, finding.filter) == (
        "LMF104",
        text,
    )
    line = source.split("\n")[1]
    start = line.rindex(under) + 1
    assert (finding.region.line, finding.region.column) == (2, start)


def test_a_file_deeper_than_recursion_still_has_its_filters_found() -> None:
    source = "import lmfilter\nx = " + "+".join(["1"] * 990) + "\nlmfilter.parse('nmae = 1')\n"
    assert [f.code for f in lint_source(source, "python").findings] == ["LMF202"]


@pytest.mark.parametrize(
    "written",
    [
        "f\"status = '{s}'\"",  # 'x' is no status; what s holds may be
        "f\"tags.`{k}` = 1 AND name = '{n}'\"",
        "f'name = \"{x}\"'",  # LMF111 stays (the quotes are the text's), its fix would write over {x}
    ],
)
def test_what_is_said_of_a_stand_in_is_not_said_of_the_hole(written: str) -> None:
    source = f"import mlflow\nmlflow.search_logged_models(['1'], {written})\n"
    findings = lint_source(source, "python").findings
    assert all(f.code in ("LMF111", "LMF208") for f in findings)
    assert all(not f.fixes for f in findings if f.code == "LMF111")


def test_a_hole_that_may_hold_a_number_is_not_linted() -> None:
    source = "import mlflow\nmlflow.search_logged_models(['1'], f'metrics.acc > {v!r}')\n"
    assert [f.code for f in lint_source(source, "python").findings] == ["LMF401"]


def test_a_finding_on_a_stand_in_points_at_its_hole() -> None:
    source = "import mlflow\nmlflow.search_logged_models(filter_string=f\"params.{k} < '{v}'\")\n"
    (finding,) = lint_source(source, "python").findings  # < on a string
    assert finding.code == "LMF203"
    assert source.split("\n")[1][finding.region.column - 1 :].startswith("params.{k} < '{v}'")


def test_a_triple_quoted_f_string_maps_holes_across_lines() -> None:
    source = (
        "import mlflow\n"
        'mlflow.search_logged_models(filter_string=f"""\n'
        "  name = '{\n"
        "  x}'\n"
        '  AND nmae = 1""")\n'
    )
    (finding,) = lint_source(source, "python").findings
    assert (finding.code, finding.region.line, finding.region.column) == ("LMF202", 5, 7)


def test_python_fix_is_escaped_for_its_literal() -> None:
    source = "import lmfilter\nlmfilter.parse('name = \"x\"')\n"  # LMF111: double-quoted value
    (finding,) = lint_source(source, "python").findings
    (edit,) = finding.fixes[0].edits
    assert edit.replacement == "\\'x\\'"
    fixed = apply_edits(source, "python", finding.fixes[0].edits)
    assert fixed == "import lmfilter\nlmfilter.parse('name = \\'x\\'')\n"
    assert lint_source(fixed, "python").findings == ()


def test_python_fix_that_a_raw_literal_cannot_hold_is_left_out() -> None:
    source = "import lmfilter\nlmfilter.parse(r'name = \"x\"')\n"
    (finding,) = lint_source(source, "python").findings
    assert (finding.code, finding.fixes) == ("LMF111", ())


@pytest.mark.parametrize(
    ("source", "line", "column", "says"),
    [
        ("lmfilter.parse('nmae = 1'\n", 1, 15, "'(' was never closed"),
        ("x = 1\n\ndef f(:\n", 3, 7, "invalid syntax"),
        ("x = 'é' +\n", 1, 10, "invalid syntax"),
        ("a = 1\x00\n", 1, 1, "null bytes"),
        ("(" * 300 + ")" * 300 + "\n", 1, 201, "too many nested parentheses"),
        ("x = " + "-" * 200_000 + "1\n", 1, 1, "nested too deeply"),  # the parser's stack
        ("x = " + "+".join(["1"] * 5000) + "\n", 1, 1, "nested too deeply"),  # ast's depth
    ],
)
def test_a_python_file_that_does_not_parse_is_a_warning_where_it_stops(
    source: str, line: int, column: int, says: str
) -> None:
    (finding,) = lint_source(source, "python", path="broken.py").findings
    assert (finding.code, finding.severity) == ("LMF402", "warning")
    assert (finding.region.line, finding.region.column) == (line, column)
    assert says in finding.message
    assert "not linted" in finding.message
    # A warning: the run does not fail on a file it cannot read as Python.
    assert not lint_source(source, "python").has_errors


# ---- once bugs of documents.py ---------------------------------------------------------------------


def test_non_ascii_before_the_literal_on_its_line() -> None:
    source = 'import lmfilter\nmodèles = []\nlmfilter.select(modèles, "nmae = 1")\n'
    assert placed(lint_source(source, "python")) == [("LMF202", "error", region_of(source, 3, "nmae"))]


def test_regular_expressions_and_ast_parse_are_not_filters() -> None:
    source = 'import ast, re\nre.search(r"\\d+", s)\nre.compile("a+b")\nast.parse("x = 1")\n'
    assert lint_source(source, "python").findings == ()


def test_f_string_without_holes_is_linted_or_reported() -> None:
    assert lint_source('import lmfilter\nlmfilter.parse(f"nmae = 1")\n', "python").findings != ()


def test_filters_in_returns_filters_in_source_order() -> None:
    source = 'import lmfilter\ndef f():\n    lmfilter.parse("a = 1")\nlmfilter.parse("b = 1")\n'
    assert [f.text for f in documents.filters_in(source, "python")] == ["a = 1", "b = 1"]


# ---- walking paths -------------------------------------------------------------------------------


def test_directories_are_walked_in_order_skipping_tool_and_hidden_ones(tmp_path: Path) -> None:
    for name in (
        "b.lmf",
        "a/z.py",
        "a/notes.txt",
        ".hidden/x.lmf",
        ".venv/lib/x.py",
        ".venv-3.12/x.py",
        "node_modules/x.py",
        "a/__pycache__/x.py",
        "build/x.py",
        "dist/x.lmf",
        "a/b/c.lmf",
    ):
        write(tmp_path, name, "")
    found = [
        Path(p).relative_to(tmp_path).as_posix() for p in documents_under([tmp_path, tmp_path / "b.lmf"])
    ]
    assert found == ["b.lmf", "a/z.py", "a/b/c.lmf"]


def test_named_files_of_other_kinds_are_left_out_and_missing_ones_reported(tmp_path: Path) -> None:
    write(tmp_path, "notes.txt", "nmae = 1\n")
    reports = lint_paths([tmp_path / "notes.txt", tmp_path / "gone.lmf"])
    assert [(Path(r.path).name, r.error) for r in reports] == [
        ("gone.lmf", "cannot read: No such file or directory")
    ]


def test_python_source_encoding_declaration_is_honoured(tmp_path: Path) -> None:
    path = tmp_path / "latin.py"
    text = "# -*- coding: latin-1 -*-\nimport lmfilter\nlmfilter.parse(\"tags.é = 'ü' AND nmae = 1\")\n"
    path.write_bytes(text.encode("latin-1"))
    (report,) = lint_paths([path])
    assert placed(report) == [("LMF202", "error", region_of(text, 3, "nmae"))]


# ---- the command: text, exit statuses ------------------------------------------------------------


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project directory, made the current one: a clean .lmf file, a bad one, and Python code."""
    write(tmp_path, "filters/clean.lmf", "# fine\nmetrics.acc > 0.9\n")
    write(tmp_path, "filters/bad.lmf", "metric.acc > 0.9\nname = 'a' OR name = 'b'\n")
    write(tmp_path, "src/app.py", "import lmfilter\n\nlmfilter.parse(\"tags.équipe = 'α' AND nmae = 1\")\n")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_text_report(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run(capsys, "lint")
    assert (status, err) == (EXIT_ERRORS, "")
    assert out == (
        "filters/bad.lmf:1:1: LMF201 unknown entity 'metric'; did you mean 'metrics'?\n"
        "  1 | metric.acc > 0.9\n"
        "    | ^^^^^^ error; fix: replace with 'metrics'\n"
        "\n"
        "filters/bad.lmf:2:12: LMF301 MLflow 3.18 does not run OR itself: lmfilter runs it locally\n"
        "  2 | name = 'a' OR name = 'b'\n"
        "    |            ^^ info\n"
        "\n"
        "src/app.py:3:39: LMF202 unknown attribute 'nmae'; did you mean 'name'?\n"
        "  3 | lmfilter.parse(\"tags.équipe = 'α' AND nmae = 1\")\n"
        "    |                                       ^^^^ error; fix: replace with 'name'\n"
        "\n"
        "3 files, 4 filters: 2 errors, 0 warnings, 1 info\n"
    )


def test_clean_files_exit_0(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "lint", "filters/clean.lmf")
    assert (status, out) == (EXIT_OK, "1 file, 1 filter: 0 errors, 0 warnings, 0 infos\n")


def test_infos_exit_0_and_native_makes_them_errors(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(project, "or.lmf", "name = 'a' OR name = 'b'\n")
    status, out, _ = run(capsys, "lint", "or.lmf")
    assert (status, out.splitlines()[-1]) == (EXIT_OK, "1 file, 1 filter: 0 errors, 0 warnings, 1 info")
    status, out, _ = run(capsys, "lint", "--native", "or.lmf")
    assert status == EXIT_ERRORS
    assert "or.lmf:1:12: LMF301 MLflow 3.18 does not accept OR\n" in out
    assert out.endswith("1 file, 1 filter: 1 error, 0 warnings, 0 infos\n")


def test_target_changes_what_is_reported(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(project, "or.lmf", "name = 'a' OR name = 'b'\n")
    status, out, _ = run(capsys, "lint", "--target", "local", "--native", "or.lmf")
    assert (status, out) == (EXIT_OK, "1 file, 1 filter: 0 errors, 0 warnings, 0 infos\n")


@pytest.mark.parametrize(
    "argv",
    [
        pytest.param(["lint", "--format", "xml"], id="unknown format"),
        pytest.param(["lint", "--target", "mlflow-9"], id="unknown target"),
        pytest.param(["lint", "--frobnicate"], id="unknown option"),
    ],
)
def test_bad_usage_exits_2(capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == EXIT_USAGE == 2
    assert "usage: lmfilter" in capsys.readouterr().err


def test_unreadable_files_are_named_on_stderr_and_exit_1(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (project / "latin1.lmf").write_bytes(b"name = '\xe9'\n")
    status, out, err = run(capsys, "lint", "latin1.lmf", "missing.py", "filters/clean.lmf")
    assert status == EXIT_ERRORS
    assert err == (
        "lmfilter lint: latin1.lmf: cannot read: not utf-8 text (byte 8)\n"
        "lmfilter lint: missing.py: cannot read: No such file or directory\n"
    )
    assert out == "1 file, 1 filter: 0 errors, 0 warnings, 0 infos\n"


# ---- JSON and SARIF ------------------------------------------------------------------------------


def test_json_report(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "lint", "--format", "json")
    assert status == EXIT_ERRORS
    payload = json.loads(out)
    assert [(f["file"], f["code"], f["severity"]) for f in payload] == [
        ("filters/bad.lmf", "LMF201", "error"),
        ("filters/bad.lmf", "LMF301", "info"),
        ("src/app.py", "LMF202", "error"),
    ]
    keys = {
        "file",
        "line",
        "column",
        "end_line",
        "end_column",
        "code",
        "severity",
        "message",
        "filter",
        "call",
        "sends",
        "target",
        "native",
        "fixes",
    }
    assert all(set(f) == keys for f in payload)
    app = payload[2]
    # How each filter was read: a .lmf line as configured; a call site as its call sends it.
    assert [(f["call"], f["sends"], f["target"], f["native"]) for f in payload] == [
        (None, "lmfilter", "mlflow", False),
        (None, "lmfilter", "mlflow", False),
        ("lmfilter.parse", "lmfilter", "mlflow", False),
    ]
    assert (app["line"], app["column"], app["end_line"], app["end_column"]) == (3, 39, 3, 43)
    assert app["fixes"] == [
        {
            "title": "replace with 'name'",
            "safe": False,  # a guess at a misspelt name
            "edits": [{"line": 3, "column": 39, "end_line": 3, "end_column": 43, "replacement": "name"}],
        }
    ]


def test_json_of_nothing_is_an_empty_list(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "lint", "--format", "json", "filters/clean.lmf") == (EXIT_OK, "[]\n", "")


def sarif_results(log: dict[str, Any]) -> list[dict[str, Any]]:
    """The results of a SARIF log, after checking the shape every log must have."""
    assert log["version"] == "2.1.0"
    assert log["$schema"].endswith("sarif-schema-2.1.0.json")
    (sarif_run,) = log["runs"]
    driver = sarif_run["tool"]["driver"]
    assert driver["name"] == "lmfilter"
    assert driver["informationUri"].startswith("https://")
    rules = driver["rules"]
    assert all(set(rule) == {"id", "shortDescription"} and rule["shortDescription"]["text"] for rule in rules)
    results: list[dict[str, Any]] = sarif_run["results"]
    assert sorted({r["ruleId"] for r in results}) == [rule["id"] for rule in rules]
    for result in results:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        assert result["level"] in ("error", "warning", "note")
        assert result["message"]["text"]
        (location,) = result["locations"]
        physical = location["physicalLocation"]
        assert physical["artifactLocation"]["uri"]
        assert set(physical["region"]) == {"startLine", "startColumn", "endLine", "endColumn"}
    return results


def test_sarif_report(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "lint", "--format", "sarif")
    assert status == EXIT_ERRORS
    log = json.loads(out)
    results = sarif_results(log)
    assert [(r["ruleId"], r["level"]) for r in results] == [
        ("LMF201", "error"),
        ("LMF301", "note"),
        ("LMF202", "error"),
    ]
    first = results[0]["locations"][0]["physicalLocation"]
    assert first == {
        "artifactLocation": {"uri": "filters/bad.lmf", "uriBaseId": "%SRCROOT%"},
        "region": {"startLine": 1, "startColumn": 1, "endLine": 1, "endColumn": 7},
    }
    assert log["runs"][0]["originalUriBaseIds"]["%SRCROOT%"]["uri"] == project.resolve().as_uri() + "/"
    assert log["runs"][0]["invocations"][0]["executionSuccessful"] is True
    replacement = results[0]["fixes"][0]["artifactChanges"][0]["replacements"][0]
    assert replacement == {
        "deletedRegion": {"startLine": 1, "startColumn": 1, "endLine": 1, "endColumn": 7},
        "insertedContent": {"text": "metrics"},
    }


def test_sarif_columns_are_utf16_code_units() -> None:
    source = "tags.𝔘 = 'x' AND nmae = 1\n"  # 𝔘 is one code point, two UTF-16 code units
    report = lint_source(source, "lmf", path="astral.lmf")
    (result,) = sarif_results(to_sarif([report]))
    assert report.findings[0].region == Region(1, 18, 1, 22)
    assert result["locations"][0]["physicalLocation"]["region"] == {
        "startLine": 1,
        "startColumn": 19,
        "endLine": 1,
        "endColumn": 23,
    }


def test_sarif_of_an_unreadable_file_is_an_unsuccessful_run(tmp_path: Path) -> None:
    log = to_sarif(lint_paths([tmp_path / "gone.lmf"]), root=tmp_path)
    (invocation,) = log["runs"][0]["invocations"]
    assert invocation["executionSuccessful"] is False
    (notice,) = invocation["toolExecutionNotifications"]
    assert notice["level"] == "error"
    assert "No such file or directory" in notice["message"]["text"]
    assert sarif_results(log) == []


def test_json_and_text_agree_on_every_finding() -> None:
    reports = [lint_source(LMF, "lmf", path="a.lmf"), lint_source(TRIPLE, "python", path="t.py")]
    findings: list[Finding] = [f for r in reports for f in r.findings]
    text_heads = [line for line in render_text(reports).splitlines() if ": LMF" in line]
    json_heads = [
        f"{f['file']}:{f['line']}:{f['column']}: {f['code']} {f['message']}" for f in to_json(reports)
    ]
    assert text_heads == json_heads
    assert len(json_heads) == len(findings)


# ---- the installed command and the pre-commit hook -----------------------------------------------


def test_installed_command_lints_a_directory(tmp_path: Path) -> None:
    write(tmp_path, "ok.lmf", "metrics.acc > 0.9\n")
    write(tmp_path, "pkg/search.py", 'import mlflow\nmlflow.search_logged_models(filter_string="nmae = 1")\n')
    write(tmp_path, ".venv/lib/ignored.py", 'import lmfilter\nlmfilter.parse("nmae = 1")\n')
    result = subprocess.run(
        [console_script(), "lint"], cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False
    )
    assert (result.returncode, result.stderr) == (1, "")
    assert result.stdout.startswith("pkg/search.py:2:44: LMF202 unknown attribute 'nmae'")
    assert result.stdout.endswith("2 files, 2 filters: 1 error, 0 warnings, 0 infos\n")
    clean = subprocess.run(
        [console_script(), "lint", "ok.lmf"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (clean.returncode, clean.stdout) == (0, "1 file, 1 filter: 0 errors, 0 warnings, 0 infos\n")


def test_pre_commit_hook_definition() -> None:
    """PyYAML is not a dependency: check the lines the hook needs, and that it is a one-item YAML list."""
    lines = (REPO / ".pre-commit-hooks.yaml").read_text(encoding="utf-8").splitlines()
    entries = [line for line in lines if line.strip() and not line.lstrip().startswith("#")]
    assert entries[0] == "- id: lmfilter-lint"
    assert all(line.startswith("  ") and ": " in line for line in entries[1:])
    fields = dict(line.lstrip("- ").split(": ", 1) for line in entries)
    assert fields["entry"] == "lmfilter lint"
    assert fields["language"] == "python"
    assert fields["types_or"] == "[python, file]"
    assert fields["files"] == r"\.(py|lmf)$"
    assert fields["name"]


def test_a_line_separator_inside_a_filter_does_not_move_the_next_lines_caret() -> None:
    # U+2028 ends a line for str.splitlines, not for editors, Python or lint: line 2 is "nmae = 2".
    source = "name = 'a\u2028b'\nnmae = 2\n"
    report = lint_source(source, "lmf", path="sep.lmf")
    (finding,) = report.findings
    assert (finding.region.line, finding.region.column) == (2, 1)
    assert "  2 | nmae = 2\n    | ^^^^ error" in render_text([report])
    python = "import lmfilter\nlmfilter.parse('name = \u2028 nmae')\nlmfilter.parse('nmae = 1')\n"
    assert [(f.code, f.region.line, f.region.column) for f in lint_source(python, "python").findings] == [
        ("LMF104", 2, 24),  # the separator itself, where it stands
        ("LMF202", 3, 17),
    ]
