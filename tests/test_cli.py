"""The ``lmfilter`` command: exit statuses, text and JSON reports, reading filters from stdin, ``fmt``.

Most tests call :func:`lmfilter.cli.main` in process; the last ones run the installed console script.
"""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from lmfilter.cli import EXIT_ERRORS, EXIT_OK, EXIT_USAGE, main

CLEAN = "metrics.accuracy > 0.9 AND params.optimizer = 'adam'"
BROKEN = "metric.accuracy > 0.9"  # LMF201, with a fix
OR_FILTER = "name = 'a' OR name = 'b'"

STDIN_FILTERS = """\
# filters for the nightly report

metrics.accuracy > 0.9
   # an indented comment
metric.accuracy > 0.9

name = 'a' OR name = 'b'
"""


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def feed_stdin(monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(text))


# ---- check: exit statuses ------------------------------------------------------------------------


def test_check_clean_filter_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run(capsys, "check", CLEAN)
    assert status == EXIT_OK == 0
    assert out == "1 filter checked for MLflow 3.18: 0 errors, 0 warnings, 0 infos\n"
    assert err == ""


def test_check_error_exits_1_with_a_rendered_diagnostic(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "check", BROKEN)
    assert status == EXIT_ERRORS == 1
    assert out.startswith(
        "error[LMF201]: unknown entity 'metric'; did you mean 'metrics'?\n"
        " --> 1:1\n"
        "  |\n"
        "1 | metric.accuracy > 0.9\n"
        "  | ^^^^^^ fix: replace with 'metrics'\n"
    )
    assert out.endswith("1 filter checked for MLflow 3.18: 1 error, 0 warnings, 0 infos\n")


def test_check_warning_alone_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "check", "tags.t = x")  # LMF207: an unquoted word
    assert status == EXIT_OK
    assert "warning[LMF207]" in out
    assert out.endswith("0 errors, 1 warning, 0 infos\n")


@pytest.mark.parametrize(
    "argv",
    [
        pytest.param(["check"], id="no filter"),
        pytest.param(["check", "--target", "mlflow-9", CLEAN], id="unknown target"),
        pytest.param(["check", "--frobnicate", CLEAN], id="unknown option"),
        pytest.param(["check", "--format", "xml", CLEAN], id="unknown format"),
        pytest.param([], id="no command"),
        pytest.param(["frobnicate", CLEAN], id="unknown command"),
    ],
)
def test_bad_usage_exits_2(capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == EXIT_USAGE == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert "usage: lmfilter" in err


def test_unknown_target_names_the_known_ones(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["check", "--target", "mlflow-9", CLEAN])
    err = capsys.readouterr().err
    assert "invalid choice: 'mlflow-9'" in err
    for target in ("databricks", "local", "mlflow", "mlflow-3.17"):
        assert f"'{target}'" in err


# ---- check: targets and --native -----------------------------------------------------------------


def test_or_is_an_info_without_native(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "check", "--target", "mlflow", OR_FILTER)
    assert status == EXIT_OK
    assert "info[LMF301]: MLflow 3.18 does not run OR itself" in out
    assert out.endswith("0 errors, 0 warnings, 1 info\n")


def test_native_makes_or_an_error_for_mlflow(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "check", "--target", "mlflow", "--native", OR_FILTER)
    assert status == EXIT_ERRORS
    assert "error[LMF301]: MLflow 3.18 does not accept OR\n --> 1:12\n" in out
    assert out.endswith("checked for MLflow 3.18 (native): 1 error, 0 warnings, 0 infos\n")


def test_native_for_local_stays_clean(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "check", "--target", "local", "--native", OR_FILTER)
    assert status == EXIT_OK
    assert out == "1 filter checked for local evaluation (native): 0 errors, 0 warnings, 0 infos\n"


def test_status_by_name_is_an_error_natively_on_mlflow_3_17(capsys: pytest.CaptureFixture[str]) -> None:
    text = "status = 'READY'"
    assert run(capsys, "check", "--target", "mlflow", "--native", text)[0] == EXIT_OK
    status, out, _ = run(capsys, "check", "--target", "mlflow-3.17", "--native", text)
    assert status == EXIT_ERRORS
    assert "error[LMF309]" in out


# ---- check --format json -------------------------------------------------------------------------


def test_json_report_has_every_field(capsys: pytest.CaptureFixture[str]) -> None:
    text = "name = 'a'\n  AND nmae = 'b'"
    status, out, _ = run(capsys, "check", "--format", "json", text)
    assert status == EXIT_ERRORS
    [report] = json.loads(out)
    assert report["filter"] == text
    assert report["valid"] is False
    assert "line" not in report  # only filters read from stdin have a line number
    [diag] = report["diagnostics"]
    assert set(diag) == {"code", "severity", "message", "span", "fixes", "line", "column"}
    assert diag["code"] == "LMF202"
    assert diag["severity"] == "error"
    assert diag["message"] == "unknown attribute 'nmae'; did you mean 'name'?"
    start = text.index("nmae")
    assert diag["span"] == {"start": start, "end": start + 4}
    assert (diag["line"], diag["column"]) == (2, 7)
    assert diag["fixes"] == [
        {"title": "replace with 'name'", "edits": [{"start": start, "end": start + 4, "replacement": "name"}]}
    ]


def test_json_report_of_a_clean_filter(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "check", "--format", "json", CLEAN)
    assert status == EXIT_OK
    assert json.loads(out) == [{"filter": CLEAN, "valid": True, "diagnostics": []}]


def test_json_report_of_stdin_gives_line_numbers(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    feed_stdin(monkeypatch, STDIN_FILTERS)
    status, out, _ = run(capsys, "check", "--native", "--format", "json", "-")
    assert status == EXIT_ERRORS
    reports = json.loads(out)
    assert [(r["line"], r["filter"], r["valid"]) for r in reports] == [
        (3, "metrics.accuracy > 0.9", True),
        (5, "metric.accuracy > 0.9", False),
        (7, OR_FILTER, False),
    ]
    assert [d["code"] for d in reports[2]["diagnostics"]] == ["LMF301"]


# ---- reading filters from stdin ------------------------------------------------------------------


def test_stdin_skips_blank_and_comment_lines_and_reports_line_numbers(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    feed_stdin(monkeypatch, STDIN_FILTERS)
    status, out, _ = run(capsys, "check", "-")
    assert status == EXIT_ERRORS
    assert "<stdin>:5:1: LMF201 unknown entity 'metric'" in out  # placed as lint places it: line, column
    assert "<stdin>:7:12: LMF301 " in out
    assert "<stdin>:3:" not in out  # a clean filter prints nothing
    assert "nightly" not in out  # comments are not filters
    assert "indented" not in out
    assert out.endswith("3 filters checked for MLflow 3.18: 1 error, 0 warnings, 1 info\n")


def test_stdin_of_clean_filters_exits_0(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    feed_stdin(monkeypatch, f"{CLEAN}\r\n\r\n# done\r\nname = 'x'\r\n")
    status, out, _ = run(capsys, "check", "-")
    assert status == EXIT_OK
    assert out == "2 filters checked for MLflow 3.18: 0 errors, 0 warnings, 0 infos\n"


def test_empty_stdin_checks_no_filter(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    feed_stdin(monkeypatch, "# nothing here\n\n")
    status, out, _ = run(capsys, "check", "-")
    assert status == EXIT_OK
    assert out.startswith("0 filters checked")


# ---- fmt -----------------------------------------------------------------------------------------


def test_fmt_prints_the_canonical_text(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run(capsys, "fmt", "not(name='a'or tags.`x`='1')and creation_time>5.0")
    assert status == EXIT_OK
    assert out == "NOT (name = 'a' OR tags.x = '1') AND creation_timestamp > 5\n"
    assert err == ""


def test_fmt_of_a_bad_filter_exits_1_with_the_error(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run(capsys, "fmt", "name = ")
    assert status == EXIT_ERRORS
    assert out == ""
    assert err.startswith("error[LMF102]: unexpected end of filter")
    assert "1 | name = \n" in err
    assert "^" in err


def test_fmt_of_stdin_formats_each_line_and_names_bad_ones(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    feed_stdin(monkeypatch, "# header\nparams.a=1\n\nnmae = 'x'\nmetrics.a>=1_000\n")
    status, out, err = run(capsys, "fmt", "-")
    assert status == EXIT_ERRORS
    assert out == "params.a = '1'\nmetrics.a >= 1000\n"
    assert err.startswith("<stdin>:4:1: LMF202 unknown attribute 'nmae'")


def test_fmt_takes_no_target(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["fmt", "--target", "mlflow", CLEAN])
    assert exit_info.value.code == EXIT_USAGE
    assert "unrecognized arguments" in capsys.readouterr().err


# ---- the installed command -----------------------------------------------------------------------


def console_script() -> str:
    """The installed ``lmfilter`` script: on PATH, or next to this Python (a venv's bin directory)."""
    beside = Path(sys.executable).parent / "lmfilter"
    found = str(beside) if beside.is_file() else shutil.which("lmfilter")
    assert found is not None, "the lmfilter console script is not installed"
    return found


def run_script(*argv: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [console_script(), *argv], input=stdin, capture_output=True, text=True, timeout=60, check=False
    )


def test_installed_command_exit_statuses() -> None:
    clean = run_script("check", CLEAN)
    assert (clean.returncode, clean.stdout) == (
        0,
        "1 filter checked for MLflow 3.18: 0 errors, 0 warnings, 0 infos\n",
    )
    broken = run_script("check", "--native", OR_FILTER)
    assert broken.returncode == 1
    assert "error[LMF301]" in broken.stdout
    usage = run_script("check", "--target", "nowhere", CLEAN)
    assert usage.returncode == 2
    assert "invalid choice" in usage.stderr


def test_installed_command_reads_stdin() -> None:
    result = run_script("check", "--format", "json", "-", stdin=STDIN_FILTERS)
    assert result.returncode == 1
    assert [r["line"] for r in json.loads(result.stdout)] == [3, 5, 7]
    formatted = run_script("fmt", "-", stdin="metrics.a>1\nname='it''s'\n")
    assert (formatted.returncode, formatted.stdout) == (0, "metrics.a > 1\nname = 'it''s'\n")


def test_python_dash_m_runs_the_same_command() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "lmfilter", "check", "--native", BROKEN],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert "error[LMF201]" in result.stdout


# ---- what a user meets first: --version, Ctrl-C, a missing extra -----------------------------------------


def test_version_is_the_package_metadata(capsys: pytest.CaptureFixture[str]) -> None:
    import importlib.metadata

    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out.strip() == f"lmfilter {importlib.metadata.version('lmfilter')}"


def test_ctrl_c_exits_130_without_a_traceback() -> None:
    """A real SIGINT to the installed command while it waits for models on stdin. It starts with SIGINT's
    default action, as a terminal gives it: a shell that runs the suite in the background (``nohup … &``)
    hands its children SIGINT ignored, and Python then installs no KeyboardInterrupt handler."""
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    command = Path(sys.executable).parent / "lmfilter"
    # SIGINT's default action (kept across exec), then the command itself, in this very process
    as_a_terminal = (
        "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); "
        "os.execv(sys.argv[1], sys.argv[1:])"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", as_a_terminal, str(command), "eval", "name = 'a'", "--models", "-"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # Let it start and block on stdin (its start takes over a second, more on a busy machine): Linux
        # names the kernel function a process waits in, a pipe read here.
        waiting = Path(f"/proc/{process.pid}/wchan")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not waiting.read_text().endswith("pipe_read"):
            time.sleep(0.05)
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == 130
    assert "Traceback" not in err
    assert err.strip() == "lmfilter: interrupted"
    assert out == ""


def test_a_missing_lsp_extra_is_one_line() -> None:
    import subprocess
    import sys

    script = (
        "import sys; sys.modules['pygls'] = None; "  # pygls not installed: importing it fails
        "from lmfilter.cli import main; sys.exit(main(['lsp']))"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        "lmfilter lsp: lmfilter's language server needs pygls: pip install 'lmfilter[lsp]'"
    ]
