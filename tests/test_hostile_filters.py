"""Hostile filter text: what lmfilter reports and prints about it stays bounded, and text that is not text
(lone surrogates) is a diagnostic of its own, never an encoding error later.

- Bounds: at most ``MAX_DIAGNOSTICS`` diagnostics a filter and one LMF110 counting the rest, a parser that
  gives up after that many syntax problems, messages that clip the user's text, code frames of at most
  ``FRAME_WIDTH`` columns around the fault; for ``parse``/``check``/``render``/``FilterError`` and for the
  ``check``, ``fmt`` and ``lint`` commands.
- Surrogates: LMF112 wherever they stand (strings, keys, words), a fix for a pair written as two halves; the
  commands print filters holding them (from arguments or stdin bytes that are not UTF-8) without failing.
- Nesting: deep text and deep hand-built trees are LMF105, never a RecursionError.
"""

from __future__ import annotations

import contextlib
import http.server
import io
import json
import os
import pickle
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import lmfilter
from lmfilter import ast, documents
from lmfilter.cli import EXIT_ERRORS, main
from lmfilter.diagnostics import (
    FRAME_WIDTH,
    LIMIT_CODE,
    MAX_DIAGNOSTICS,
    MAX_MESSAGE,
    SEVERITY_RANK,
    Diagnostic,
    FilterError,
    Severity,
    Span,
    capped,
    frame,
    has_errors,
    json_text,
    render,
    shown,
    text_width,
)
from lmfilter.lint import lint_paths, lint_source, render_text, to_json, to_sarif
from lmfilter.syntax import MAX_DEPTH, MAX_LENGTH
from tests.test_cli import console_script
from tests.test_properties import any_text

# ---- bounds ----------------------------------------------------------------------------------------

# What one rendered line may hold: a gutter, a frame (whose combining marks take no column but are
# characters, so up to twice the width) with its two ellipses, and a clipped message or fix notes.
LINE_BOUND = 12 + 2 * FRAME_WIDTH + 2 + MAX_MESSAGE
BLOCKS_BOUND = MAX_DIAGNOSTICS + 2  # a parser's LMF110 and the one that counts what was left out


def assert_render_bounded(output: str) -> None:
    lines = output.splitlines()
    assert len(lines) <= 5 * BLOCKS_BOUND, len(lines)
    assert max(map(len, lines), default=0) <= LINE_BOUND
    output.encode("utf-8")  # no lone surrogate: any UTF-8 stream takes it


HOSTILE = {
    "unmatched )": ")" * MAX_LENGTH,
    "unclosed (": "(" * MAX_LENGTH,
    "one long word": "a" * MAX_LENGTH,
    "words": "a " * (MAX_LENGTH // 2),
    "unterminated string": "'" + "x" * 60_000,
    "stray characters": "@" * MAX_LENGTH,
    "spaced stray characters": "@ " * (MAX_LENGTH // 2),
    "operators": "= " * (MAX_LENGTH // 2),
    "NOT chain": "NOT " * (MAX_LENGTH // 4),
    "stray ANDs": "AND " * (MAX_LENGTH // 4),
    "junk after a condition": "name = 'a' " + "x = " * 16_000,
    "one misspelling, many times": "nmae = 'x' AND " * (MAX_LENGTH // 15),
    "many misspellings, many lines": "nmae = 'x' AND\n" * (MAX_LENGTH // 15),
    "distinct misspellings": "".join(f"nm{i} = 1 AND " for i in range(5000))[:MAX_LENGTH],
    "== everywhere": "a == 1 AND " * (MAX_LENGTH // 11),
    "lone surrogates": "\ud800 " * (MAX_LENGTH // 2),
    "a long string of surrogates": "name = '" + "\udcff" * 60_000 + "'",
    "parentheses everywhere": "(name = 'a') AND " * (MAX_LENGTH // 17) + "x",
    "a huge number": "name = " + "9" * 65_000 + " AND x",
    "combining marks": "name = 'a" + "\u0301" * 65_000 + "' AND x",
    "wide characters": "name = '" + "键" * 65_000 + "' AND x",
    "controls": "name = '" + "\x1b[2J" * 16_000 + "' AND x",
    "just too long": "x" * (MAX_LENGTH + 1),
}


@pytest.mark.parametrize("text", HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_text_gets_a_bounded_report(text: str) -> None:
    diagnostics = lmfilter.check(text, "local")  # what parse and format meet too (from the cache)
    assert 1 <= len(diagnostics) <= BLOCKS_BOUND
    assert sum(d.code != LIMIT_CODE for d in diagnostics) <= MAX_DIAGNOSTICS
    assert_render_bounded(render(text, diagnostics))
    for diagnostic in diagnostics:
        assert 0 <= diagnostic.span.start <= diagnostic.span.end <= len(text)
        assert len(diagnostic.message) <= MAX_MESSAGE
    with pytest.raises(FilterError) as caught:
        lmfilter.parse(text)
    assert len(caught.value.diagnostics) <= BLOCKS_BOUND
    assert_render_bounded(str(caught.value))
    assert len(repr(caught.value)) < 200
    with pytest.raises(FilterError):
        lmfilter.format(text)


def test_the_parser_gives_up_after_so_many_problems() -> None:
    """Reading stops once MAX_DIAGNOSTICS problems are reported, long before the end: the rest costs
    nothing, and the LMF110 says where reading stopped."""
    text = ")" * MAX_LENGTH
    diagnostics = lmfilter.check(text)
    *problems, stop = diagnostics
    assert [d.code for d in problems] == ["LMF101"] * MAX_DIAGNOSTICS
    assert (stop.code, stop.severity) == (LIMIT_CODE, "error")
    assert stop.span == Span(MAX_DIAGNOSTICS, len(text))
    assert "read no further" in stop.message


def test_diagnostics_past_the_limit_are_counted_in_one_as_severe_as_the_worst() -> None:
    text = " AND ".join(["nmae = 'x'"] * (MAX_DIAGNOSTICS + 30))
    diagnostics = lmfilter.check(text)
    *kept, more = diagnostics
    assert [d.code for d in kept] == ["LMF202"] * MAX_DIAGNOSTICS
    assert (more.code, more.severity) == (LIMIT_CODE, "error")
    assert more.message == "30 more problems not listed (30 errors)"
    at = MAX_DIAGNOSTICS * len("nmae = 'x' AND ")
    assert more.span == Span(at, at + len("nmae"))


def test_a_valid_filter_with_many_infos_stays_valid() -> None:
    """Leaving infos out never makes a filter invalid: their count is an info too."""
    text = " AND ".join(["(name = 'a' OR name = 'b')"] * MAX_DIAGNOSTICS)
    diagnostics = lmfilter.check(text, target="mlflow")
    assert not has_errors(diagnostics)
    assert diagnostics[-1].code == LIMIT_CODE
    assert diagnostics[-1].severity == "info"
    assert lmfilter.is_valid(text, "mlflow")
    lmfilter.parse(text)


severities: st.SearchStrategy[Severity] = st.sampled_from(list(SEVERITY_RANK))


@settings(max_examples=100, deadline=None)
@given(st.lists(severities, max_size=3 * MAX_DIAGNOSTICS), st.integers(0, 2 * MAX_DIAGNOSTICS))
def test_capping_keeps_the_first_and_whether_there_are_errors(found: list[Severity], limit: int) -> None:
    diagnostics = [Diagnostic("LMF101", severity, "m", Span(i, i)) for i, severity in enumerate(found)]
    kept = capped(diagnostics, limit)
    assert kept[: min(limit, len(found))] == diagnostics[:limit]
    assert has_errors(kept) == has_errors(diagnostics)
    if len(found) > limit:
        more = kept[-1]
        assert more.code == LIMIT_CODE
        assert SEVERITY_RANK[more.severity] == min(SEVERITY_RANK[s] for s in found[limit:])
        assert more.span == diagnostics[limit].span
    else:
        assert kept == diagnostics
    assert capped(kept, limit) == kept  # capping again changes nothing


def test_messages_clip_the_users_text() -> None:
    (unknown,) = lmfilter.check("a" * (MAX_LENGTH - 6) + " = 'x'")
    assert unknown.code == "LMF202"
    assert unknown.message.startswith("unknown attribute 'aaaa")
    assert len(unknown.message) < 80
    key = "k" * 1000 + "\x1b"
    for message in (d.message for d in lmfilter.check(f'params.`{key}` > 1 AND name = "{key}"')):
        assert "\x1b" not in message
        assert len(message) < 200


def test_filter_error_is_rendered_when_asked_and_pickles() -> None:
    text = "metric.acc > 1 AND nmae = 'x'"
    with pytest.raises(FilterError) as caught:
        lmfilter.parse(text)
    error = caught.value
    assert str(error) == render(text, error.errors)
    again = pickle.loads(pickle.dumps(error))
    assert (again.text, again.diagnostics, str(again)) == (error.text, error.diagnostics, str(error))


# ---- code frames -----------------------------------------------------------------------------------


def test_a_short_line_is_shown_whole() -> None:
    assert frame("name = 'a'", 0, 4) == ("name = 'a'", "^^^^")
    assert frame("name =", 6, 6) == ("name =", "      ^")  # a missing piece: one caret after the end
    assert frame("a\tb", 2, 3) == ("a b", "  ^")


def test_a_long_line_is_cut_around_the_fault() -> None:
    line = "x" * 5000 + " AND nmae = 'b' AND " + "y" * 5000
    start = line.index("nmae")
    shown_line, carets = frame(line, start, start + 4)
    assert shown_line.startswith("…")
    assert shown_line.endswith("…")
    assert text_width(shown_line) == FRAME_WIDTH + 2
    column = len(carets) - 4
    assert carets[column:] == "^^^^"
    assert shown_line[column : column + 4] == "nmae"


def test_a_fault_wider_than_the_window_is_marked_to_its_edge() -> None:
    line = "name = '" + "z" * 1000 + "' AND x"
    shown_line, carets = frame(line, 7, 7 + 1002)
    assert shown_line.endswith("…")
    assert shown_line[carets.index("^")] == "'"
    assert len(carets) == text_width(shown_line) - 1  # to the window's edge, not over the ellipsis


def test_carets_stay_under_wide_and_escaped_characters() -> None:
    line = "tags.键 = '值' AND x\x1by = 1"
    at = line.index("值")
    assert frame(line, at, at + 1) == (line.replace("\x1b", "\\x1b"), " " * text_width(line[:at]) + "^^")
    at = line.index("\x1b")
    assert frame(line, at, at + 1)[1] == " " * text_width(line[:at]) + "^^^^"


unique_line = st.lists(
    st.sampled_from(
        [*"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ", *map(chr, range(0x4E00, 0x4E00 + 300))]
    ),
    unique=True,
    max_size=350,
).map("".join)


@settings(max_examples=150, deadline=None)
@given(unique_line, st.data())
def test_frames_fit_the_width_and_mark_the_faulty_character(line: str, data: st.DataObject) -> None:
    start = data.draw(st.integers(0, len(line)))
    stop = data.draw(st.integers(start, len(line) + 1))
    width = data.draw(st.integers(8, 60))
    shown_line, carets = frame(line, start, stop, width)
    assert text_width(shown_line) <= width + 2
    column = carets.index("^")
    assert carets[:column] == " " * column
    assert set(carets[column:]) == {"^"}
    # The character drawn at the first caret's column is the first one marked.
    drawn, at = "", 0
    for char in shown_line:
        if at >= column:
            drawn = char
            break
        at += text_width(char)
    assert drawn == (line[start] if start < len(line) else "")
    assert len(carets) <= text_width(shown_line) + 1


def test_render_shows_the_faulty_line_of_a_long_multi_line_filter() -> None:
    lines = ["name = 'v'"] * 3000
    lines[2000] = "nmae = 'x'"
    text = " AND\n".join(lines)
    output = render(text, lmfilter.check(text))
    assert output.splitlines()[1:5] == [
        "    --> 2001:1",
        "     |",
        "2001 | nmae = 'x' AND",
        "     | ^^^^ fix: replace with 'name'",
    ]


# ---- nesting -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text", ["(" * 100_000, "NOT " * 100_000, "(" * MAX_LENGTH, "NOT " * (MAX_LENGTH // 4)]
)
def test_deep_text_is_a_limit_diagnostic(text: str) -> None:
    (diagnostic,) = lmfilter.check(text)
    assert diagnostic.code in ("LMF105", "LMF106")
    with pytest.raises(FilterError):
        lmfilter.format(text)


@pytest.mark.parametrize(
    ("text", "deep"),
    [
        ("(NOT " * (MAX_DEPTH // 2) + "name = 'a'" + ")" * (MAX_DEPTH // 2), False),
        ("(NOT " * (MAX_DEPTH // 2 + 1) + "name = 'a'" + ")" * (MAX_DEPTH // 2 + 1), True),
        # Closing a group ends the NOTs in front of it: each group below adds one level, not the NOTs.
        (" AND ".join(["NOT " * 60 + "name = 'a'"] * 3), False),
        ("(" * 60 + "NOT " * 30 + "name = 'a'" + ")" * 60 + " AND " + "NOT " * 99 + "name = 'a'", False),
    ],
)
def test_depth_counts_parentheses_and_the_nots_in_front_of_each(text: str, deep: bool) -> None:
    assert [d.code for d in lmfilter.check(text, "local")] == (["LMF105"] if deep else [])


def test_a_hand_built_tree_too_deep_to_print_is_a_limit_diagnostic() -> None:
    tree: ast.Expr = lmfilter.parse("name = 'a'")
    for _ in range(10 * MAX_DEPTH):
        tree = ast.Not(tree)
    with pytest.raises(FilterError) as caught:
        lmfilter.format(tree)
    assert [d.code for d in caught.value.diagnostics] == ["LMF105"]
    deepest = "(" * MAX_DEPTH + "name = 'a' OR name = 'b'" + ") AND name = 'c'" * MAX_DEPTH
    assert lmfilter.format(lmfilter.parse(deepest)) == lmfilter.format(deepest)


# ---- lone surrogates -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("name = '\ud800'", "\ud800"),
        ("tags.`k\udcff` = 'x'", "\udcff"),
        ("tags.k\udcff = 'x'", "\udcff"),
        ("name = x\udfff", "\udfff"),
        ("na\ud800me = 'x'", "\ud800"),
        ("name = 'a' AND \udc80\udc81 = 1", "\udc80\udc81"),
        ("name = '\ude00\ud83d'", "\ude00\ud83d"),  # halves in the wrong order are no pair
    ],
)
def test_a_lone_surrogate_is_an_error_where_it_stands(text: str, where: str) -> None:
    with pytest.raises(FilterError) as caught:
        lmfilter.parse(text)
    (found,) = [d for d in caught.value.diagnostics if d.code == "LMF112"]
    assert found.span == Span(text.index(where), text.index(where) + len(where))
    assert found.message.startswith("lone surrogate")
    assert not found.fixes
    str(caught.value).encode("utf-8")
    for target in lmfilter.TARGETS:
        assert "LMF112" in [d.code for d in lmfilter.check(text, target)]


def test_a_surrogate_of_a_byte_that_is_not_utf8_says_so() -> None:
    text = os.fsdecode(b"name = '\xff'")
    (found,) = lmfilter.check(text)
    assert "bytes that are not UTF-8" in found.message
    assert "'\\udcff'" in found.message


def test_a_surrogate_pair_written_as_two_halves_is_mended_by_its_fix() -> None:
    text = "name = '\ud83d\ude00' AND tags.t = 'ok'"
    (found,) = lmfilter.check(text)
    assert (found.code, found.span) == ("LMF112", Span(8, 10))
    (fix,) = found.fixes
    assert fix.apply(text) == "name = '😀' AND tags.t = 'ok'"
    assert lmfilter.parse(fix.apply(text)) == lmfilter.parse("name = '😀' AND tags.t = 'ok'")


def test_real_astral_characters_are_fine() -> None:
    assert lmfilter.check("tags.`😀` = '𝔘𝔫𝔦𝔠𝔬𝔡𝔢'", native=True) == []


def test_no_request_is_built_or_sent_for_a_filter_with_a_surrogate() -> None:
    text = "name = '\ud800'"
    with pytest.raises(FilterError):
        lmfilter.compile(text, experiment_ids=["1"])
    with pytest.raises(FilterError):
        lmfilter.plan(text, experiment_ids=["1"])
    with recording_server() as (url, requests), lmfilter.Client(url, target="mlflow") as client:
        with pytest.raises(FilterError):
            list(client.search(text, experiment_ids=["1"]))
        assert requests == []


@pytest.fixture(name="surrogate_file")
def _surrogate_file(tmp_path: Path) -> Path:
    name = tmp_path / os.fsdecode(b"bad\xff.lmf")
    name.write_text("# a comment\nname = 'a' AND nmae = 'x'\n", encoding="utf-8")
    return name


def test_lint_of_a_file_named_in_bytes_that_are_not_utf8(
    surrogate_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (report,) = lint_paths([surrogate_file])
    assert [f.code for f in report.findings] == ["LMF202"]
    text = render_text([report])
    assert "bad\\udcff.lmf:2:16: LMF202" in text
    json_text(to_json([report])).encode("utf-8")
    sarif = to_sarif([report], root=surrogate_file.parent)
    assert sarif["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == (
        "bad%FF.lmf"
    )
    for form in ("text", "json", "sarif"):
        status = main(["lint", "--format", form, str(surrogate_file)])
        out, _ = capsys.readouterr()
        assert status == EXIT_ERRORS
        out.encode("utf-8")


def test_lint_of_a_python_filter_with_a_surrogate_escape() -> None:
    source = "import lmfilter\nlmfilter.parse(\"name = '\\ud800'\")\n"
    report = lint_source(source, "python", path="s.py")
    (finding,) = report.findings
    assert (finding.code, finding.region.line, finding.region.column) == ("LMF112", 2, 25)
    assert finding.filter == "name = '\ud800'"
    assert "s.py:2:25: LMF112" in render_text([report])
    assert json.loads(json_text(to_json([report])))[0]["filter"] == "name = '\ud800'"


def test_utf16_columns_count_a_lone_surrogate_as_one_unit() -> None:
    assert documents.utf16_column("a\ud800b😀c", 4) == 5


def test_check_json_prints_a_filter_with_a_surrogate_back(capsys: pytest.CaptureFixture[str]) -> None:
    text = "name = '\udcff' AND nmae = 'x'"
    status = main(["check", "--format", "json", text])
    out, _ = capsys.readouterr()
    assert status == EXIT_ERRORS
    out.encode("utf-8")
    (report,) = json.loads(out)
    assert report["filter"] == text
    assert [d["code"] for d in report["diagnostics"]] == ["LMF112", "LMF202"]


# ---- the installed command, with bytes that are not UTF-8 ----------------------------------------------


def run_bytes(*argv: str | bytes, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "LC_ALL": "C.UTF-8", "PYTHONIOENCODING": "utf-8"}
    return subprocess.run(
        [console_script(), *argv], input=stdin, capture_output=True, timeout=60, check=False, env=env
    )


@pytest.mark.parametrize("command", [["check"], ["check", "--format", "json"], ["fmt"]])
def test_the_command_reports_an_argument_that_is_not_utf8(command: list[str]) -> None:
    result = run_bytes(*command, b"name = '\xff'")
    assert result.returncode == EXIT_ERRORS
    assert b"Traceback" not in result.stderr
    printed = (result.stdout + result.stderr).decode("utf-8")
    assert "LMF112" in printed
    assert "\\udcff" in printed


def test_the_command_reports_stdin_lines_that_are_not_utf8() -> None:
    result = run_bytes("check", "-", stdin=b"name = 'a'\nname = '\xff\xfe'\nnmae = 'b'\n")
    assert result.returncode == EXIT_ERRORS
    assert b"Traceback" not in result.stderr
    out = result.stdout.decode("utf-8")
    lone = "lone surrogates are not characters: no server can be sent '\\udcff\\udcfe'"
    assert f"<stdin>:2:9: LMF112 {lone}" in out
    assert "<stdin>:3:1: LMF202" in out
    assert out.endswith("3 filters checked for MLflow 3.18: 2 errors, 0 warnings, 0 infos\n")


def test_the_commands_output_for_a_huge_filter_is_bounded(capsys: pytest.CaptureFixture[str]) -> None:
    text = ")" * MAX_LENGTH
    for argv in (["check", text], ["fmt", text]):
        assert main(argv) == EXIT_ERRORS
        out, err = capsys.readouterr()
        assert_render_bounded(out + err)
    assert main(["check", "--format", "json", text]) == EXIT_ERRORS
    (report,) = json.loads(capsys.readouterr().out)
    assert len(report["diagnostics"]) == MAX_DIAGNOSTICS + 1


def test_lint_of_a_huge_line_is_bounded(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "huge.lmf"
    path.write_text("# big\n" + "nmae = 'x' AND " * 4000 + "name = 'y'\n", encoding="utf-8")
    assert main(["lint", str(path)]) == EXIT_ERRORS
    out, _ = capsys.readouterr()
    assert_render_bounded(out)
    assert f"huge.lmf:2:{1 + MAX_DIAGNOSTICS * 15}: {LIMIT_CODE} 3,950 more problems not listed" in out


# ---- properties ------------------------------------------------------------------------------------------

surrogate = st.characters(categories=["Cs"])
texts_with_surrogates = st.one_of(
    any_text,
    st.text(st.one_of(surrogate, st.sampled_from("name='x' ANDtags.`k`\ud83d\ude00"))),
    st.builds(lambda a, s, b: a + s + b, any_text, st.text(surrogate, min_size=1, max_size=3), any_text),
)


@settings(max_examples=100, deadline=None)
@given(texts_with_surrogates)
def test_any_text_parses_or_is_a_bounded_filter_error(text: str) -> None:
    error: FilterError | None = None
    try:
        tree = lmfilter.parse(text)
    except FilterError as caught:
        error = caught
    if error is None:
        lmfilter.format(tree).encode("utf-8")  # a tree that parsed holds only text a server can take
    else:
        assert error.errors
        for diagnostic in error.diagnostics:
            assert 0 <= diagnostic.span.start <= diagnostic.span.end <= len(text)
        assert_render_bounded(str(error))
    for native in (False, True):
        diagnostics = lmfilter.check(text, native=native)
        assert_render_bounded(render(text, diagnostics))
        if any("\ud800" <= char <= "\udfff" for char in text):
            assert "LMF112" in [d.code for d in diagnostics]


@settings(max_examples=100, deadline=None)
@given(st.text(st.one_of(surrogate, st.characters()), max_size=200), st.integers(1, 300))
def test_shown_text_is_printable_and_bounded(text: str, limit: int) -> None:
    out = shown(text, limit)
    assert out.isprintable()
    assert len(out) <= limit
    out.encode("utf-8")


# ---- a real server that records what it is sent ------------------------------------------------------


class _Recorder(http.server.BaseHTTPRequestHandler):
    """Answers every request with no model, and notes its path in ``requests`` (set per server)."""

    requests: list[str]

    def do_GET(self) -> None:
        self._answer()

    def do_POST(self) -> None:
        self._answer()

    def _answer(self) -> None:
        self.requests.append(self.path)
        body = b'{"models": []}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
        pass


@contextlib.contextmanager
def recording_server() -> Iterator[tuple[str, list[str]]]:
    """A real HTTP server on a free loopback port, in a thread: its URL and the paths it was asked for."""
    requests: list[str] = []
    handler = type("Handler", (_Recorder,), {"requests": requests})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", requests
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def test_coded_escapes_in_a_python_filter_are_mapped_to_what_is_written() -> None:
    written = r"tags.\u00e9t\x41 = '\N{BULLET}\101' AND nmae = 1"
    source = f'import lmfilter\nlmfilter.parse("{written}")\n'
    (finding,) = lint_source(source, "python").findings
    assert finding.filter == "tags.étA = '•A' AND nmae = 1"
    assert (finding.code, finding.region.line) == ("LMF202", 2)
    assert finding.region.column == len('lmfilter.parse("') + written.index("nmae") + 1
    assert finding.region.end_column == finding.region.column + len("nmae")


def test_a_byte_order_mark_before_stdin_is_not_part_of_the_filter(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("\ufeffname = 'a'\n\ufeffname = 'b'\n"))
    assert main(["check", "-"]) == EXIT_ERRORS
    out, _ = capsys.readouterr()
    assert "<stdin>:1:" not in out  # the mark in front of the first line is dropped
    assert "<stdin>:2:1: LMF104 unexpected '\\ufeffname'" in out  # elsewhere it is a stray character
