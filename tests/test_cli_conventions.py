"""Command-line conventions: ``check -`` placing faults at ``<stdin>:LINE:COL`` as ``lint`` does, carets that
stay under wide characters (one width function for code frames and tables), ``fmt`` of ``.lmf`` files with
``--check`` and ``--diff``, and shell completion made from the parser.

Expected terminal widths are written out here (``WIDTHS``), as a terminal draws each text, so that the
tests of carets and tables do not take the width function's word for it.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import stat
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lmfilter import api, cli, shell_completion
from lmfilter.cli import EXIT_ERRORS, EXIT_OK, EXIT_USAGE, main
from lmfilter.diagnostics import frame, text_width
from lmfilter.lint import lint_source, render_text
from lmfilter.schema import TARGETS
from tests.test_cli import feed_stdin, run


def caret_column(carets: str) -> int:
    """The 0-based terminal column of the first caret of a caret line."""
    return carets.index("^")


# ---- check -: <stdin>:LINE:COL ------------------------------------------------------------------------

STDIN = "# nightly filters\n\n   metric.acc > 0.9\nname = 'a' AND nmae = 'b'\n"


def test_check_of_stdin_places_each_fault_at_its_line_and_column(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    feed_stdin(monkeypatch, STDIN)
    status, out, _ = run(capsys, "check", "-")
    assert status == EXIT_ERRORS
    assert out.startswith(
        "<stdin>:3:4: LMF201 unknown entity 'metric'; did you mean 'metrics'?\n"
        "  3 |    metric.acc > 0.9\n"
        "    |    ^^^^^^ error; fix: replace with 'metrics'\n"
        "\n"
        "<stdin>:4:16: LMF202 unknown attribute 'nmae'; did you mean 'name'?\n"
        "  4 | name = 'a' AND nmae = 'b'\n"
        "    |                ^^^^ error; fix: replace with 'name'\n"
    )
    assert out.endswith("\n2 filters checked for MLflow 3.18: 2 errors, 0 warnings, 0 infos\n")


def test_check_of_stdin_reports_as_lint_reports_the_same_lines_in_a_file(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    feed_stdin(monkeypatch, STDIN)
    _, out, _ = run(capsys, "check", "-")
    linted = render_text([lint_source(STDIN, "lmf", path="<stdin>")])
    blocks = linted.rsplit("\n\n", 1)[0]  # without lint's summary
    assert out.rsplit("\n\n", 1)[0] == blocks


def test_a_byte_order_mark_is_not_a_column(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    feed_stdin(monkeypatch, "\ufeff  nmae = 'x'\r\n\tname = 'a' AND nmae = 2\r\n")
    _, out, _ = run(capsys, "check", "-")
    first, second = out.split("\n\n")[:2]
    assert first.startswith("<stdin>:1:3: LMF202")
    assert caret_column(first.splitlines()[2]) == first.splitlines()[1].index("nmae")
    assert second.startswith("<stdin>:2:17: LMF202")  # a tab is one column, as editors count it
    assert caret_column(second.splitlines()[2]) == second.splitlines()[1].index("nmae")


def test_check_json_of_stdin_gives_each_filters_line_and_column(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    feed_stdin(monkeypatch, STDIN)
    _, out, _ = run(capsys, "check", "--format", "json", "-")
    reports = json.loads(out)
    assert [(r["line"], r["column"], r["filter"]) for r in reports] == [
        (3, 4, "metric.acc > 0.9"),
        (4, 1, "name = 'a' AND nmae = 'b'"),
    ]
    assert list(reports[0]) == ["filter", "line", "column", "valid", "diagnostics"]
    # A diagnostic's column in the stdin line is the filter's column plus its own, less one.
    diagnostic = reports[1]["diagnostics"][0]
    line = STDIN.splitlines()[reports[1]["line"] - 1]
    assert line[reports[1]["column"] + diagnostic["column"] - 2 :].startswith("nmae")


def test_a_filter_given_as_an_argument_keeps_its_frame_without_a_place(
    capsys: pytest.CaptureFixture[str],
) -> None:
    _, out, _ = run(capsys, "check", "  nmae = 'x'")
    assert out.startswith("error[LMF202]: unknown attribute 'nmae'; did you mean 'name'?\n --> 1:3\n")
    _, out, _ = run(capsys, "check", "--format", "json", "nmae = 'x'")
    assert "line" not in json.loads(out)[0]


def test_fmt_of_stdin_places_its_errors_too(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    feed_stdin(monkeypatch, "params.a=1\n\n  nmae = 'x'\n")
    status, out, err = run(capsys, "fmt", "-")
    assert status == EXIT_ERRORS
    assert out == "params.a = '1'\n"
    assert err.startswith("<stdin>:3:3: LMF202 unknown attribute 'nmae'")


# ---- one width function: carets and tables ------------------------------------------------------------

WIDTHS = {  # text: the columns a terminal that draws emoji sequences as one gives it
    "键值": 4,
    "ＡＢ": 4,  # fullwidth forms
    "😀": 2,
    "❤": 1,  # text presentation by default
    "❤\ufe0f": 2,  # emoji presentation sequence
    "1\ufe0f\u20e3": 2,  # keycap
    "👍🏽": 2,  # skin tone modifier
    "👩\u200d💻": 2,  # ZWJ sequence
    "👨\u200d👩\u200d👧\u200d👦": 2,
    "🏳\ufe0f\u200d🌈": 2,
    "👩\u200d❤\ufe0f\u200d💋\u200d👨": 2,
    "🇫🇷": 2,  # a flag: two regional indicators
    "🇫🇷🇩🇪": 4,
    "🏴\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f": 2,  # a subdivision flag
    "e\u0301": 1,  # a combining mark
    "ệ": 1,  # precomposed
    "a\u0323\u0302": 1,  # two marks
    "\u1100\u1161\u11a8": 2,  # Hangul jamo: leading, medial, final
    "각": 2,
    "⌚\ufe0e": 2,  # a wide emoji asked for in text style stays two wide
}


@pytest.mark.parametrize(("text", "width"), WIDTHS.items())
def test_text_width_is_what_a_terminal_draws(text: str, width: int) -> None:
    assert text_width(text) == width


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("a\u200db", "a\\u200db"),  # a joiner outside an emoji sequence is invisible: shown escaped
        ("\u200d😀", "\\u200d😀"),
        ("🏴\U000e0041\U000e0020x", "🏴\\U000e0041\\U000e0020x"),  # tag text that would hide after a flag
        ("😀\U000e0067", "😀\\U000e0067"),  # tags only spell flags after the black flag
        ("🏴" + "\U000e0061" * 7, "🏴" + "\U000e0061" * 6 + "\\U000e0061"),  # no longer than a flag's
    ],
)
def test_invisible_characters_outside_emoji_sequences_are_shown_escaped(text: str, shown: str) -> None:
    line, _ = frame(text, 0, 1)
    assert line == shown


@pytest.mark.parametrize("text", WIDTHS)
def test_carets_line_up_after_wide_text_in_a_frame(text: str) -> None:
    line = f"tags.k = '{text}' AND nmae = 1"
    shown_line, carets = frame(line, line.index("nmae"), line.index("nmae") + 4)
    assert shown_line == line
    assert caret_column(carets) == len("tags.k = '") + WIDTHS[text] + len("' AND ")
    assert carets.endswith("^^^^")


@pytest.mark.parametrize("text", ["键值", "❤\ufe0f", "👩\u200d💻", "🇫🇷", "e\u0301", "\u1100\u1161\u11a8"])
def test_carets_line_up_in_check_and_lint_output(
    text: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    source = f"tags.k = '{text}' AND nmae = 1\n"
    expected = len("tags.k = '") + WIDTHS[text] + len("' AND ")
    feed_stdin(monkeypatch, source)
    _, checked, _ = run(capsys, "check", "-")
    _, from_argument, _ = run(capsys, "check", source.strip())
    linted = render_text([lint_source(source, "lmf", path="f.lmf")])
    for out in (checked, from_argument, linted):
        source_line, caret_line = (
            out.splitlines()[1:3] if out.startswith(("<", "f.")) else out.splitlines()[3:5]
        )
        gutter = source_line.index("|") + 2
        assert source_line[gutter:] == source.strip()
        assert caret_column(caret_line) - gutter == expected


def test_a_cut_frame_does_not_start_inside_an_emoji_sequence() -> None:
    family = "👨\u200d👩\u200d👧"
    line = family * 200 + " AND nmae = 1"
    start = line.index("nmae")
    for width in range(20, 40):
        shown_line, carets = frame(line, start, start + 4, width)
        assert shown_line.startswith("…👨")  # never a joiner or a joined emoji left alone
        columns = 1 + 2 * shown_line[1:].count(family) + len(" AND ")  # a family is two columns wide
        assert caret_column(carets) == columns


@pytest.mark.parametrize("inside", ["\u200d", "💻", "\u0301", "\ufe0f", "🇷"])
def test_a_fault_inside_a_sequence_is_marked_from_its_first_character(inside: str) -> None:
    line = "tags.k = '👩\u200d💻 e\u0301 ❤\ufe0f 🇫🇷' AND x = 1"
    shown_line, carets = frame(line, line.index(inside), line.index(inside) + 1)
    assert shown_line == line
    base = {"\u200d": "👩", "💻": "👩", "\u0301": "e", "\ufe0f": "❤", "🇷": "🇫"}[inside]
    assert caret_column(carets) == text_width(line[: line.index(base)])
    assert carets.endswith("^" * (1 if base == "e" else 2))


def test_a_mark_after_an_escape_is_escaped_too() -> None:
    """Drawn after ``\\x1b`` it would change the escape's last letter (and U+FE0F would make a ``1`` an
    emoji), so it is shown escaped as well."""
    assert frame("a\x1b\u0301\ufe0fb", 4, 5) == ("a\\x1b\\u0301\\ufe0fb", " " * 17 + "^")


def test_the_table_printer_aligns_wide_names(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    names = ["键值", "❤\ufe0f", "e\u0301", "🇫🇷🇩🇪", "\u1100\u1161\u11a8", "👍🏽", "plain"]
    models = [
        {"info": {"model_id": f"m-{i}", "name": name, "status": "LOGGED_MODEL_READY"}}
        for i, name in enumerate(names)
    ]
    path = tmp_path / "models.json"
    path.write_text(json.dumps(models), encoding="utf-8")
    status, out, _ = run(capsys, "eval", "", "--models", str(path), "--format", "table")
    assert status == EXIT_OK
    widest = max(len("name"), *(WIDTHS.get(name, len(name)) for name in names))
    rows = {line.split()[0]: line for line in out.splitlines()[2:-1]}
    for i, name in enumerate(names):
        padding = " " * (widest - WIDTHS.get(name, len(name)) + 2)
        assert rows[f"m-{i}"].startswith(f"{f'm-{i}':8}  {name}{padding}READY  ")


# ---- fmt of .lmf files ----------------------------------------------------------------------------------

MESSY = (
    "# nightly\r\n\r\n  metrics.acc>0.9 and params.opt='adam'\r\n\tname='a'  \r\nnmae = 'x'\r\nname = 'ok'"
)
TIDY = (
    "# nightly\r\n\r\n  metrics.acc > 0.9 AND params.opt = 'adam'\r\n"
    "\tname = 'a'  \r\nnmae = 'x'\r\nname = 'ok'"
)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode("utf-8"))
    return path


def test_fmt_rewrites_each_filter_and_keeps_everything_else(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path / "a.lmf", MESSY)
    path.chmod(0o640)
    status, out, err = run(capsys, "fmt", str(path))
    assert status == EXIT_ERRORS  # a filter does not parse: left as it is, and reported
    assert path.read_bytes() == TIDY.encode()
    assert err.startswith(f"{path}:5:1: LMF202 unknown attribute 'nmae'")
    assert out == "1 file reformatted, 0 left unchanged\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.lmf"]  # no temporary file left behind
    status, out, _ = run(capsys, "fmt", str(path))  # formatted once is formatted
    assert out == "0 files reformatted, 1 left unchanged\n"


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ("name='a'\n", "name = 'a'\n"),
        ("name='a'", "name = 'a'"),  # no final newline
        ("\ufeffname='a'\n", "\ufeffname = 'a'\n"),  # the byte order mark stays
        ("name='a'\rname='b'\r", "name = 'a'\rname = 'b'\r"),  # old Mac line breaks
        ("name='\u2028'\n", "name = '\u2028'\n"),  # not a line break for .lmf
        ("  # name='a'\n", "  # name='a'\n"),  # a comment
        ("name='键'\n", "name = '键'\n"),
    ],
)
def test_fmt_keeps_line_breaks_and_marks(
    before: str, after: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path / "f.lmf", before)
    assert run(capsys, "fmt", str(path))[0] == EXIT_OK
    assert path.read_bytes() == after.encode()


def test_fmt_check_writes_nothing_and_names_the_files_that_would_change(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    messy = write(tmp_path / "messy.lmf", "name='a'\n")
    tidy = write(tmp_path / "tidy.lmf", "name = 'a'\n")
    stamp = messy.stat().st_mtime_ns
    status, out, err = run(capsys, "fmt", "--check", str(tmp_path))
    assert status == EXIT_ERRORS
    assert out == f"would reformat {messy}\n1 file would be reformatted, 1 already formatted\n"
    assert err == ""
    assert (messy.read_text(), messy.stat().st_mtime_ns) == ("name='a'\n", stamp)
    assert run(capsys, "fmt", "--check", str(tidy))[0] == EXIT_OK


@pytest.mark.skipif(shutil.which("patch") is None, reason="needs patch(1)")
def test_fmt_diff_is_a_patch_that_formats(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path / "a.lmf", MESSY)
    status, out, err = run(capsys, "fmt", "--diff", str(path))
    assert status == EXIT_ERRORS
    assert path.read_bytes() == MESSY.encode()  # nothing written
    assert "-  metrics.acc>0.9 and params.opt='adam'\r\n" in out
    assert "+  metrics.acc > 0.9 AND params.opt = 'adam'\r\n" in out
    assert err.endswith("1 file would be reformatted, 0 already formatted\n")  # the diff alone on stdout
    applied = subprocess.run(
        ["patch", "-s", str(path)], input=out.encode(), capture_output=True, timeout=30, check=False
    )
    assert applied.returncode == 0, applied.stderr
    assert path.read_bytes() == TIDY.encode()


def test_fmt_walks_directories_as_lint_does(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    nested = write(tmp_path / "a" / "b" / "deep.lmf", "name='a'\n")
    hidden = write(tmp_path / ".cache" / "x.lmf", "name='a'\n")
    python = write(tmp_path / "code.py", "import lmfilter\nlmfilter.parse(\"name='a'\")\n")
    status, out, _ = run(capsys, "fmt", str(tmp_path))
    assert status == EXIT_OK
    assert nested.read_text() == "name = 'a'\n"
    assert hidden.read_text() == "name='a'\n"
    assert python.read_text() == "import lmfilter\nlmfilter.parse(\"name='a'\")\n"  # Python is left alone
    assert out == "1 file reformatted, 0 left unchanged\n"


def test_fmt_leaves_out_what_the_configuration_excludes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path / "pyproject.toml", '[tool.lmfilter]\nexclude = ["legacy/"]\n')
    kept = write(tmp_path / "legacy" / "old.lmf", "name='a'\n")
    formatted = write(tmp_path / "new.lmf", "name='a'\n")
    monkeypatch.chdir(tmp_path)
    status, out, _ = run(capsys, "fmt", ".")
    assert (status, out) == (EXIT_OK, "1 file reformatted, 0 left unchanged\n")
    assert (kept.read_text(), formatted.read_text()) == ("name='a'\n", "name = 'a'\n")
    assert run(capsys, "fmt", "--isolated", "--check", ".")[1].startswith("would reformat legacy/old.lmf\n")


def test_fmt_formats_a_file_named_twice_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path / "a.lmf", "name='a'\n")
    (tmp_path / "link.lmf").symlink_to("a.lmf")
    status, out, _ = run(capsys, "fmt", str(path), str(tmp_path), f"{tmp_path}/./a.lmf")
    assert status == EXIT_OK
    assert out == "1 file reformatted, 0 left unchanged\n"
    assert (tmp_path / "link.lmf").is_symlink()  # the link stays a link; the file it names is written
    assert path.read_text() == "name = 'a'\n"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["fmt", "-", "x.lmf"], "- (standard input) cannot be formatted with files"),
        (["fmt", "x.lmf", "name = 'a'"], "\"name = 'a'\", not a file or directory,"),
        (["fmt", "name = 'a'", "name = 'b'"], "\"name = 'b'\" is not a file or directory"),
        (["fmt", "--check", "name = 'a'"], "--check and --diff are for .lmf files"),
        (["fmt", "--diff", "-"], "--check and --diff are for .lmf files"),
    ],
)
def test_fmt_tells_paths_from_filters_and_refuses_a_mix(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = run(capsys, *argv)
    assert status == EXIT_USAGE
    assert out == ""
    assert message in err
    assert len(err.splitlines()) == 1


def test_a_name_ending_in_lmf_is_a_file_even_when_missing(capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = run(capsys, "fmt", "no/such/file.lmf")
    assert status == EXIT_ERRORS
    assert err == "lmfilter fmt: no/such/file.lmf: cannot read: No such file or directory\n"


def hostile_files(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    """Files fmt cannot format, each with the one line it should print."""
    cases: dict[str, tuple[Path, str]] = {}
    bad = tmp_path / "latin1.lmf"
    bad.write_bytes(b"name = 'a'\nname = '\xe9'\n")
    cases["not UTF-8"] = (bad, "cannot read: not UTF-8 text (line 2, byte 19)")
    loop = tmp_path / "loop.lmf"
    loop.symlink_to("loop.lmf")
    cases["symlink loop"] = (loop, "cannot read: Too many levels of symbolic links")
    dangling = tmp_path / "dangling.lmf"
    dangling.symlink_to("nowhere.lmf")
    cases["dangling link"] = (dangling, "cannot read: No such file or directory")
    fifo = tmp_path / "pipe.lmf"
    os.mkfifo(fifo)
    cases["a FIFO"] = (fifo, "cannot read: not a regular file")
    read_only = write(tmp_path / "read-only.lmf", "name='a'\n")
    read_only.chmod(0o444)
    cases["read-only"] = (read_only, "cannot write: the file is read-only")
    empty = tmp_path / "empty"
    empty.mkdir()
    write(empty / "notes.txt", "name='a'\n")
    cases["no .lmf in a directory"] = (empty, "no .lmf file to format in this directory")
    return cases


@pytest.mark.parametrize(
    "case", ["not UTF-8", "symlink loop", "dangling link", "a FIFO", "read-only", "no .lmf in a directory"]
)
def test_a_file_fmt_cannot_format_is_one_line_and_nothing_changes(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, message = hostile_files(tmp_path)[case]
    other = write(tmp_path / "other" / "fine.lmf", "name='a'\n")
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file() and not p.is_fifo()}
    status, _, err = run(capsys, "fmt", str(path), str(other))
    assert status == EXIT_ERRORS
    assert err == f"lmfilter fmt: {path}: {message}\n"
    assert other.read_text() == "name = 'a'\n"  # the other files are formatted
    after = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file() and not p.is_fifo()}
    assert after == {**before, other: b"name = 'a'\n"}  # and nothing else changed, no temporary file left


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_an_unreadable_file_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path / "secret.lmf", "name='a'\n")
    path.chmod(0)
    status, _, err = run(capsys, "fmt", str(path))
    assert status == EXIT_ERRORS
    assert err == f"lmfilter fmt: {path}: cannot read: Permission denied\n"


def test_a_huge_line_is_reported_bounded_and_left(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    huge = "name = 'a' AND " * 50_000 + "name='b'"
    path = write(tmp_path / "huge.lmf", f"name='a'\n{huge}\n")
    status, _, err = run(capsys, "fmt", str(path))
    assert status == EXIT_ERRORS
    assert path.read_text() == f"name = 'a'\n{huge}\n"
    assert err.startswith(f"{path}:2:")
    assert "LMF106" in err
    assert len(err) < 2_000


def test_a_file_changed_while_it_is_formatted_is_left_as_it_is(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path / "a.lmf", "name='a'\n")
    real_format = api.format

    def format_while_an_editor_saves(text: str) -> str:
        path.write_text("name = 'saved by the editor'\n")
        return real_format(text)

    monkeypatch.setattr(api, "format", format_while_an_editor_saves)
    status, _, err = run(capsys, "fmt", str(path))
    assert status == EXIT_ERRORS
    assert err == f"lmfilter fmt: {path}: changed while it was formatted: left as it is\n"
    assert path.read_text() == "name = 'saved by the editor'\n"


def test_an_interrupted_write_leaves_the_old_file_whole(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path / "a.lmf", "name='a'\n" * 1000)

    def interrupted(fd: int) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "fsync", interrupted)
    status, _, err = run(capsys, "fmt", str(path))
    assert status == 130
    assert err == "lmfilter: interrupted\n"
    assert path.read_text() == "name='a'\n" * 1000
    assert [p.name for p in tmp_path.iterdir()] == ["a.lmf"]


def test_a_named_link_that_leads_nowhere_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "loop").symlink_to("loop")
    status, _, err = run(capsys, "fmt", str(tmp_path / "loop"))
    assert status == EXIT_ERRORS
    assert err == f"lmfilter fmt: {tmp_path / 'loop'}: cannot read: Too many levels of symbolic links\n"


def test_a_python_file_named_is_left_alone(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path / "code.py", "x = 1\n")
    status, _, err = run(capsys, "fmt", str(path))
    assert status == EXIT_OK
    assert err == f"lmfilter fmt: {path}: not an .lmf file, left alone\n"


def test_a_path_that_is_not_utf8_is_shown_escaped(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    name = os.fsdecode(b"caf\xe9.lmf")  # a lone surrogate in the str, as Python reads such names
    path = write(tmp_path / name, "nmae = 1\n")
    status, _, err = run(capsys, "fmt", "--check", str(tmp_path))
    assert status == EXIT_ERRORS
    assert "caf\\udce9.lmf:1:1: LMF202" in err
    err.encode("utf-8")  # writable to any UTF-8 stream
    assert path.read_text() == "nmae = 1\n"


# ---- shell completion ---------------------------------------------------------------------------------


def bash_complete(
    script: str, *lines: list[str], cwd: Path | None = None, breaks_at_equals: bool = True
) -> list[list[str]]:
    """What the script's completion function replies for each command line (its words; the last one is
    being completed), run in one bash as bash runs it on TAB."""
    program = [script]
    if not breaks_at_equals:
        program.append("COMP_WORDBREAKS=${COMP_WORDBREAKS//=}")
    for words in lines:
        program.append(
            f"COMP_WORDS=({' '.join(shlex.quote(w) for w in words)}); COMP_CWORD={len(words) - 1}; "
            "_lmfilter; printf '%s\\n' \"${COMPREPLY[@]}\"; echo '<end>'"
        )
    result = subprocess.run(
        ["bash", "--norc", "--noprofile"],
        input="\n".join(program),
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    replies = result.stdout.split("<end>\n")[:-1]
    return [sorted(word for word in reply.split("\n") if word) for reply in replies]


@pytest.fixture(scope="module")
def bash_script() -> str:
    return shell_completion.script(cli._parser(), "bash")


def test_bash_parses_the_script(bash_script: str, tmp_path: Path) -> None:
    path = tmp_path / "lmfilter.bash"
    path.write_text(bash_script)
    checked = subprocess.run(["bash", "-n", str(path)], capture_output=True, text=True, timeout=30)
    assert (checked.returncode, checked.stderr) == (0, "")


def test_bash_completes_commands_options_and_choices(bash_script: str) -> None:
    targets = sorted(TARGETS)
    assert bash_complete(
        bash_script,
        ["lmfilter", "li"],
        ["lmfilter", "lint", "--for"],
        ["lmfilter", "check", "--target", ""],
        ["lmfilter", "check", "--target", "mlflow-"],
        ["lmfilter", "check", "--target", "=", ""],  # --target= when = breaks words, as by default
        ["lmfilter", "check", "--target", "=", "lo"],
        ["lmfilter", "lint", "--format", ""],
        ["lmfilter", "models", "fin"],
        ["lmfilter", "models", "finalize", "--status", ""],
        ["lmfilter", "completion", ""],
        ["lmfilter", "check", "--target", "local", "--nat"],  # a value is not read as a subcommand
        ["lmfilter", "check", ""],  # a filter is free text
        ["lmfilter", "--ver"],
    ) == [
        ["lint"],
        ["--format"],
        targets,
        ["mlflow-3.17", "mlflow-3.18"],
        targets,
        ["local"],
        ["json", "sarif", "text"],
        ["finalize"],
        ["FAILED", "READY"],
        ["bash", "fish", "zsh"],
        ["--native"],
        [],
        ["--version"],
    ]


def test_bash_completes_an_option_and_its_value_as_one_word(bash_script: str) -> None:
    assert bash_complete(bash_script, ["lmfilter", "check", "--target=mlflow-3"], breaks_at_equals=False) == [
        ["--target=mlflow-3.17", "--target=mlflow-3.18"]
    ]


def test_bash_completes_paths_where_a_path_goes(bash_script: str, tmp_path: Path) -> None:
    write(tmp_path / "filters.lmf", "")
    write(tmp_path / "fixtures" / "x.lmf", "")
    write(tmp_path / "my models.json", "")
    assert bash_complete(
        bash_script,
        ["lmfilter", "lint", "fi"],
        ["lmfilter", "fmt", "--check", "fi"],
        ["lmfilter", "eval", "name = 'a'", "--models", "my"],
        ["lmfilter", "check", "fi"],  # FILTER: not a path
        cwd=tmp_path,
    ) == [["filters.lmf", "fixtures"], ["filters.lmf", "fixtures"], ["my models.json"], []]


def test_bash_completes_every_option_of_every_command(bash_script: str) -> None:
    found = shell_completion.commands(cli._parser())
    replies = bash_complete(bash_script, *(["lmfilter", *command.words, "-"] for command in found))
    for command, reply in zip(found, replies, strict=True):
        assert reply == sorted(name for option in command.options for name in option.names), command.words
    assert {" ".join(command.words) for command in found} >= {
        "check",
        "fmt",
        "lint",
        "completion",
        "models get",
    }


def test_the_scripts_follow_the_parser(tmp_path: Path) -> None:
    """A new command, option or choice is completed without anything else to change."""
    parser = argparse.ArgumentParser(prog="lmfilter")
    parser.add_argument("--profile", help="a profile")
    commands = parser.add_subparsers()
    run_cmd = commands.add_parser("run", help="run: it (100%% sure)")
    run_cmd.add_argument("--speed", choices=["fast", "slow"], help="how fast, default %(default)s")
    run_cmd.add_argument("--log", metavar="LOG_FILE", help="where to log")
    run_cmd.add_argument("--input", type=argparse.FileType("r"))
    run_cmd.add_argument("--hidden", help=argparse.SUPPRESS)
    commands.add_parser("rest")
    write(tmp_path / "run.txt", "")
    script = shell_completion.script(parser, "bash")
    assert bash_complete(
        script,
        ["lmfilter", ""],
        ["lmfilter", "--profile", "run", "r"],  # "run" is the profile's value, not the command
        ["lmfilter", "run", "-"],
        ["lmfilter", "run", "--speed", ""],
        ["lmfilter", "run", "--log", "ru"],
        ["lmfilter", "run", "--input", "ru"],
        cwd=tmp_path,
    ) == [
        ["rest", "run"],
        ["rest", "run"],
        ["--help", "--input", "--log", "--speed", "-h"],
        ["fast", "slow"],
        ["run.txt"],
        ["run.txt"],
    ]
    assert "'run:run: it (100% sure)'" in shell_completion.script(parser, "zsh")


def test_a_word_no_script_can_hold_is_refused() -> None:
    parser = argparse.ArgumentParser(prog="lmfilter")
    parser.add_argument("--mode", choices=["a b", "c"])
    with pytest.raises(ValueError, match="cannot complete 'a b'"):
        shell_completion.script(parser, "bash")


@pytest.mark.parametrize("shell", shell_completion.SHELLS)
def test_each_script_names_every_command_option_and_choice(shell: shell_completion.Shell) -> None:
    script = shell_completion.script(cli._parser(), shell)
    for command in shell_completion.commands(cli._parser()):
        for sub, _ in command.subcommands:
            assert sub in script
        for option in command.options:
            for name in option.names:
                assert (name.lstrip("-") if shell == "fish" else name) in script
            for choice in option.choices:
                assert choice in script
    assert "mlflow-3.17" in script


def test_the_zsh_script_is_a_compdef_function() -> None:
    script = shell_completion.script(cli._parser(), "zsh")
    assert script.startswith("#compdef lmfilter\n")
    assert "compdef _lmfilter lmfilter" in script
    assert "'lint:check the filters of .lmf files and Python call sites'" in script  # described
    assert script.count("{") == script.count("}")


def test_the_fish_script_declares_each_option() -> None:
    script = shell_completion.script(cli._parser(), "fish")
    targets = " ".join(sorted(TARGETS))
    assert f"complete -c lmfilter -n '_lmfilter_at \\'check\\'' -l 'target' -x -a '{targets}'" in script
    assert "complete -c lmfilter -n '_lmfilter_at \\'eval\\'' -l 'models' -r -F" in script
    assert "complete -c lmfilter -n '_lmfilter_at \\'lint\\'' -F" in script
    lines = [line.strip() for line in script.splitlines()]
    opened = sum(line.split(" ")[0] in ("function", "switch", "for", "if") for line in lines)
    assert opened == lines.count("end")


@pytest.mark.parametrize(("shell", "check"), [("zsh", ["zsh", "-n"]), ("fish", ["fish", "--no-execute"])])
def test_the_shell_parses_its_script(shell: shell_completion.Shell, check: list[str], tmp_path: Path) -> None:
    if shutil.which(check[0]) is None:
        pytest.skip(f"{shell} is not installed here; the script is checked as text above")
    path = tmp_path / f"lmfilter.{shell}"
    path.write_text(shell_completion.script(cli._parser(), shell))
    result = subprocess.run([*check, str(path)], capture_output=True, text=True, timeout=30, check=False)
    assert (result.returncode, result.stderr) == (0, "")


def test_the_completion_command(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "completion", "bash")
    assert status == EXIT_OK
    assert out == shell_completion.script(cli._parser(), "bash")
    with pytest.raises(SystemExit) as exit_info:
        main(["completion", "tcsh"])
    assert exit_info.value.code == EXIT_USAGE
    assert "invalid choice: 'tcsh'" in capsys.readouterr().err


PIECES = {  # what the lines below are made of, with widths; "❤" and "1" are what a cut may leave of a piece
    "a": 1,
    " ": 1,
    "1": 1,
    "键": 2,
    "❤\ufe0f": 2,
    "❤": 1,
    "👩\u200d💻": 2,
    "🇫🇷": 2,
    "e\u0301": 1,
    "\u1100\u1161\u11a8": 2,
    "👍🏽": 2,
    "1\ufe0f\u20e3": 2,
}


def drawn(text: str) -> list[str]:
    """``text`` as the pieces a terminal draws; fails on a piece cut from its start (a lone mark)."""
    out = []
    while text:
        piece = max((p for p in PIECES if text.startswith(p)), key=len)
        out.append(piece)
        text = text[len(piece) :]
    return out


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(sorted(set(PIECES) - {"❤", "1"})), min_size=1, max_size=120), st.data())
def test_frames_of_emoji_and_marks_fit_and_mark_the_fault(pieces: list[str], data: st.DataObject) -> None:
    fault = data.draw(st.integers(0, len(pieces) - 1))
    marked = data.draw(st.integers(1, len(pieces) - fault))
    width = data.draw(st.integers(12, 60))
    line = "".join(pieces)
    start = len("".join(pieces[:fault]))
    stop = start + len("".join(pieces[fault : fault + marked]))
    shown_line, carets = frame(line, start, stop, width)
    inner = shown_line.removeprefix("…").removesuffix("…")
    shown_pieces = drawn(inner)  # never a joiner, mark or selector without what it belongs to
    assert sum(PIECES[p] for p in shown_pieces) <= width
    # The first caret stands where the fault's first character is drawn.
    at, index = (1 if shown_line.startswith("…") else 0), 0
    for piece in shown_pieces:
        if at >= caret_column(carets):
            break
        at, index = at + PIECES[piece], index + len(piece)
    assert at == caret_column(carets)
    assert line[:start].endswith(inner[:index])
    assert line[start:].startswith(inner[index:])


hostile_piece = st.sampled_from(
    [*PIECES, "\u200d", "\ufe0f", "\u0301" * 3, "\x1b", "🇫", "🏴", "\U000e0061", "\U000e007f", "\ud800", "\t"]
)


@settings(max_examples=200, deadline=None)
@given(st.lists(hostile_piece, max_size=100).map("".join), st.data())
def test_a_frame_of_any_sequence_fits_and_shows_no_orphan(line: str, data: st.DataObject) -> None:
    """Lone joiners, selectors, tags and marks, escapes: the frame still fits its width as a terminal
    draws it (its text measured on its own, outside the line), and the caret line stays under it."""
    start = data.draw(st.integers(0, len(line)))
    stop = data.draw(st.integers(start, len(line) + 1))
    width = data.draw(st.integers(8, 50))
    shown_line, carets = frame(line, start, stop, width)
    assert text_width(shown_line) <= width + 2
    assert carets.lstrip(" ") == "^" * len(carets.lstrip(" "))
    assert len(carets) <= text_width(shown_line) + 1
