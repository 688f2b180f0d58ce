"""One configuration for every face: ``[tool.lmfilter]`` read by lint, check and ``lmfilter config``; flags
win; per-path overrides and excludes; ``# noqa``; ``lint --fix``."""

from __future__ import annotations

import json
import os
import stat
import subprocess
from pathlib import Path

import pytest

from lmfilter.config import Config, ConfigError, Override, load, matches
from lmfilter.lint import fixed_source, lint_source
from tests.test_cli import console_script
from tests.test_lint import run, write

OR = "tags.a = 'x' OR tags.b = 'y'"
PYPROJECT = """
[project]
name = "demo"

[tool.lmfilter]
target = "mlflow-3.17"
exclude = ["legacy/", "*_generated.py"]

[[tool.lmfilter.overrides]]
paths = ["notebooks/**"]
target = "databricks"
native = true
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    write(tmp_path, "pyproject.toml", PYPROJECT)
    write(tmp_path, "filters/a.lmf", f"{OR}\nstatus = 'READY'\n")
    write(tmp_path, "notebooks/nb/b.lmf", f"{OR}\n")
    write(tmp_path, "legacy/old.lmf", "nmae = 'x'\n")
    write(tmp_path, "src/models_generated.py", 'import lmfilter\nlmfilter.parse("nmae = 1")\n')
    monkeypatch.chdir(tmp_path / "filters")  # the configuration is found from a sub-folder
    return tmp_path


def codes(out: str) -> list[str]:
    return [
        f"{f['file']}:{f['line']} {f['code']} {f['target']}{' native' if f['native'] else ''}"
        for f in json.loads(out)
    ]


def test_lint_reads_the_nearest_pyproject_with_overrides_and_excludes(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, _ = run(capsys, "lint", "..", "--format", "json")
    assert status == 1
    assert codes(out) == [
        "../filters/a.lmf:1 LMF301 mlflow-3.17",  # OR planned: an info
        "../filters/a.lmf:2 LMF309 mlflow-3.17",  # 3.17 compares status as a number
        "../notebooks/nb/b.lmf:1 LMF301 databricks native",  # the override: an error
    ]


def test_flags_win_over_the_file_and_its_overrides(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run(capsys, "lint", "..", "--format", "json", "--target", "mlflow", "--no-native")
    assert {line.split(" ", 2)[2] for line in codes(out)} == {"mlflow"}
    _, out, _ = run(capsys, "lint", "..", "--format", "json", "--isolated")
    assert "../legacy/old.lmf:1 LMF202 mlflow" in codes(out)  # nothing excluded without the file


def test_an_excluded_file_named_on_the_command_line_is_left_out_as_pre_commit_names_files(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, _ = run(capsys, "lint", "../legacy/old.lmf", "../src/models_generated.py", "a.lmf")
    assert status == 0
    assert out.endswith("1 file, 2 filters: 0 errors, 0 warnings, 2 infos\n")
    status, out, _ = run(capsys, "lint", "..", "--exclude", "notebooks", "--format", "json")
    assert all("notebooks" not in line for line in codes(out))


def test_check_reads_the_configuration_too(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "check", "status = 'READY'", "--native")
    assert status == 1
    assert "LMF309" in out
    assert "MLflow 3.17" in out
    status, out, _ = run(capsys, "check", "status = 'READY'", "--native", "--target", "mlflow")
    assert status == 0


def test_lmfilter_config_says_what_is_in_force_and_where_it_came_from(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, _ = run(capsys, "config", "../notebooks/nb/b.lmf", "--no-native", "--format", "json")
    payload = json.loads(out)
    assert status == 0
    assert payload["file"] == str(project / "pyproject.toml")
    settings = {s["name"]: (s["value"], s["from"]) for s in payload["settings"]}
    assert settings["target"] == ("mlflow-3.17", f"{project / 'pyproject.toml'} [tool.lmfilter]")
    assert settings["native"] == (False, "--no-native")
    assert settings["models"] == (None, "default")
    assert payload["for"] == {
        "path": "../notebooks/nb/b.lmf",
        "target": "databricks",
        "native": False,
        "excluded": False,
    }
    status, out, _ = run(capsys, "config", "../legacy/x.lmf")
    assert '= "mlflow-3.17"  # ' in out
    assert out.endswith("../legacy/x.lmf: target mlflow-3.17, native false, excluded\n")


@pytest.mark.parametrize(
    ("table", "says"),
    [
        ('target = "mlfow"', "unknown target 'mlfow'"),
        ("targte = 'mlflow'", "unknown setting 'targte'; did you mean 'target'?"),
        ("native = 'yes'", "native must be a bool, not 'yes'"),
        ("exclude = 'legacy'", "exclude must be a list, not 'legacy'"),
        ("exclude = ['']", "exclude must be a list of patterns"),
        ("exclude = ['../other']", "climbs out with '..'"),
        ("exclude = ['src\\\\gen']", "patterns separate folders with '/'"),
        ("[[tool.lmfilter.overrides]]\npaths = ['a/../../b']\nnative = true", "climbs out with '..'"),
        ("[[tool.lmfilter.overrides]]\ntarget = 'databricks'", "paths must be a list of patterns, not None"),
        (
            "[[tool.lmfilter.overrides]]\npaths = ['a']\nnatve = true",
            "unknown setting 'natve'; did you mean 'native'?",
        ),
        ("x = [" * 2000, "pyproject.toml"),  # not TOML (or nested too deeply to read)
    ],
)
def test_a_wrong_configuration_is_a_usage_error_naming_the_problem(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], table: str, says: str
) -> None:
    write(tmp_path, "pyproject.toml", f"[tool.lmfilter]\n{table}\n")
    write(tmp_path, "a.lmf", "nmae = 'x'\n")
    monkeypatch.chdir(tmp_path)
    for command in (["lint"], ["check", "name = 'a'"], ["config"]):
        status, out, err = run(capsys, *command)
        assert (status, out) == (2, ""), command
        assert says in err, command
        assert "Traceback" not in err


def test_config_and_isolated_together_are_a_usage_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exited:
        run(capsys, "lint", "--isolated", "--config", "pyproject.toml")
    assert exited.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err


def test_config_file_named_and_hostile_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "other.toml", "[tool.lmfilter]\ntarget = 'databricks'\n")
    status, out, _ = run(capsys, "config", "--config", "other.toml")
    assert status == 0
    assert '= "databricks"  # other.toml [tool.lmfilter]' in out
    write(tmp_path, "plain.toml", "[tool.black]\n")
    assert run(capsys, "config", "--config", "plain.toml")[2].endswith("no [tool.lmfilter] table\n")
    assert "missing.toml: no such file" in run(capsys, "config", "--config", "missing.toml")[2]
    os.mkfifo(tmp_path / "fifo.toml")  # reading would block for ever
    assert "not a regular file" in run(capsys, "config", "--config", "fifo.toml")[2]
    write(tmp_path, "big.toml", "# " + "x" * (1 << 20) + "\n")
    assert "over 1,048,576 bytes" in run(capsys, "config", "--config", "big.toml")[2]


def test_a_pyproject_without_the_table_is_passed_over(tmp_path: Path) -> None:
    write(tmp_path, "pyproject.toml", "[tool.lmfilter]\ntarget = 'local'\n")
    write(tmp_path, "sub/pyproject.toml", "[tool.ruff]\nline-length = 1\n")
    (tmp_path / "sub" / "deeper").mkdir()
    config = load(tmp_path / "sub" / "deeper")
    assert (config.target, config.file) == ("local", tmp_path / "pyproject.toml")
    assert load(tmp_path / "sub" / "deeper", file=None).root == tmp_path.resolve()


@pytest.mark.parametrize(
    ("pattern", "path", "expected"),
    [
        ("legacy", "legacy/a.lmf", True),
        ("legacy", "src/legacy/deep/a.lmf", True),
        ("legacy/", "src/legacy/a.lmf", True),
        ("/legacy", "src/legacy/a.lmf", False),
        ("src/legacy", "src/legacy/a.lmf", True),
        ("*.py", "a/b/c.py", True),
        ("src/*.py", "src/a/b.py", False),
        ("src/**/*.py", "src/a/b.py", True),
        ("src/**/*.py", "src/b.py", True),
        ("**/gen", "x/y/gen/a.py", True),
        ("a?c.lmf", "abc.lmf", True),
        ("a?c.lmf", "a/c.lmf", False),
        ("[ab].lmf", "[ab].lmf", True),  # brackets are taken as they are
        ("é*", "éa/x.lmf", True),
    ],
)
def test_patterns_read_as_gitignore_reads_them(pattern: str, path: str, expected: bool) -> None:
    assert matches(pattern, path) is expected


def test_a_path_outside_the_root_gets_the_plain_settings(tmp_path: Path) -> None:
    config = Config.of(
        {"exclude": ["*"], "overrides": [{"paths": ["*"], "target": "local"}]}, "t", base=tmp_path / "a"
    )
    assert not config.excluded(tmp_path / "b" / "x.lmf")
    assert config.for_path(tmp_path / "b" / "x.lmf") == ("mlflow", False)
    assert config.excluded(tmp_path / "a" / "x.lmf")
    with pytest.raises(ConfigError):
        Config.of({"target": 3}, "t")


# ---- noqa ----------------------------------------------------------------------------------------------

NOQA = f"""import mlflow
mlflow.search_logged_models(filter_string="{OR}")  # noqa: LMF301
mlflow.search_logged_models(filter_string="{OR}")  # noqa: LMF3
mlflow.search_logged_models(filter_string="{OR}")  # NOQA
mlflow.search_logged_models(filter_string="{OR}")  # noqa: LMF202
mlflow.search_logged_models(filter_string="{OR}")  # noqa:LMF202,LMF301
mlflow.search_logged_models(filter_string=\"\"\"
    {OR}
\"\"\")  # noqa: LMF301 (where the string ends: a comment cannot go inside it)
x = "# noqa"; mlflow.search_logged_models(filter_string="{OR}")
"""


def test_noqa_suppresses_the_codes_it_names_on_its_line() -> None:
    found = [(f.region.line, f.code) for f in lint_source(NOQA, "python").findings]
    assert found == [(5, "LMF301"), (10, "LMF301")]  # another code named; a noqa inside a string is not one


def test_noqa_at_the_end_of_a_lmf_line_is_a_comment_not_part_of_the_filter() -> None:
    source = (
        f"{OR}  # noqa: LMF301\nname = '# noqa'\ntags.`a # noqa` = 'x' # noqa\nnmae = 'x' # noqa: LMF301\n"
    )
    report = lint_source(source, "lmf", native=True)
    assert [(f.region.line, f.code, f.filter) for f in report.findings] == [(4, "LMF202", "nmae = 'x'")]
    assert report.filters == 4


# ---- lint --fix ------------------------------------------------------------------------------------------


def test_fix_applies_safe_fixes_and_keeps_encoding_line_breaks_and_mode(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    lmf = tmp_path / "a.lmf"
    lmf.write_bytes(b"\xef\xbb\xbfstatus = 2\r\nname = \"x\" AND nmae = 'y'\r\n")
    lmf.chmod(0o640)
    py = tmp_path / "b.py"
    py.write_bytes(
        b"# -*- coding: latin-1 -*-\nimport lmfilter\nlmfilter.parse(\"tags.\xe9 = 'a' AND status = 2\")\n"
    )
    status, out, _ = run(capsys, "lint", "--fix", "--target", "local")
    assert (
        lmf.read_bytes() == b"\xef\xbb\xbfstatus = 'READY'\r\nname = 'x' AND nmae = 'y'\r\n"
    )  # the guess is not safe
    assert stat.S_IMODE(lmf.stat().st_mode) == 0o640
    assert py.read_bytes().endswith(b"lmfilter.parse(\"tags.\xe9 = 'a' AND status = 'READY'\")\n")
    assert status == 1
    assert "LMF202" in out
    assert out.endswith("fixed 3 findings in 2 files\n")
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".lmfilter-")]  # no temporary left
    status, out, _ = run(capsys, "lint", "--fix", "--unsafe-fixes", "--target", "local")
    assert status == 0
    assert b"name = 'x' AND name = 'y'" in lmf.read_bytes()


def test_fix_leaves_a_file_with_mixed_line_breaks_and_a_read_only_one_fails_cleanly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    mixed = tmp_path / "m.lmf"
    mixed.write_bytes(b"status = 2\r\nstatus = 2\n")
    run(capsys, "lint", "--fix", "--target", "local")
    assert mixed.read_bytes() == b"status = 2\r\nstatus = 2\n"
    mixed.unlink()
    kept = write(tmp_path, "r.lmf", "status = 2\n")

    def refuse(source: str, destination: str) -> None:  # a file system that refuses the rename
        raise PermissionError(13, "Permission denied", destination)

    monkeypatch.setattr(os, "replace", refuse)
    status, _, err = run(capsys, "lint", "--fix", "--target", "local")
    assert status == 1
    assert err == "lmfilter lint: cannot write r.lmf: Permission denied\n"
    assert kept.read_text() == "status = 2\n"
    assert [p.name for p in tmp_path.iterdir()] == ["r.lmf"]  # the temporary file is gone too


def test_fixed_source_does_not_apply_overlapping_fixes_twice() -> None:
    fixed, count = fixed_source("status = 2 AND status = 3\n", "lmf", "local")
    assert fixed == "status = 'READY' AND status = 'FAILED'\n"
    assert count == 2
    assert fixed_source(fixed, "lmf", "local") == (fixed, 0)


def test_safe_fixes_of_the_parser_are_applied_too() -> None:
    fixed, count = fixed_source("name == 'a' AND AND status = 2\n", "lmf", "local")
    assert (fixed, count) == ("name = 'a' AND status = 'READY'\n", 3)


def test_lint_reports_a_fifo_instead_of_waiting_on_it_for_ever(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.lmf")
    write(tmp_path, "a.lmf", "nmae = 'x'\n")
    for argv in (["lint", "."], ["lint", "pipe.lmf"], ["lint", "--fix", "."]):
        done = subprocess.run(
            [console_script(), *argv], cwd=tmp_path, capture_output=True, text=True, timeout=60
        )
        assert "pipe.lmf: cannot read: not a regular file" in done.stderr, argv
        assert done.returncode == 1


def test_fix_goes_on_past_a_file_it_cannot_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ("a.lmf", "b.lmf", "c.lmf"):
        write(tmp_path, name, "status = 2\n")
    replace = os.replace

    def refuse_b(source: str, destination: str) -> None:
        if destination.endswith("b.lmf"):
            raise PermissionError(13, "Permission denied", destination)
        replace(source, destination)

    monkeypatch.setattr(os, "replace", refuse_b)
    status, out, err = run(capsys, "lint", "--fix", "--target", "local")
    assert status == 1
    assert err == "lmfilter lint: cannot write b.lmf: Permission denied\n"
    assert [(tmp_path / n).read_text() for n in ("a.lmf", "b.lmf", "c.lmf")] == [
        "status = 'READY'\n",
        "status = 2\n",
        "status = 'READY'\n",
    ]
    assert out.endswith("fixed 2 findings in 2 files\n")  # and the report of what is left


def test_a_path_through_a_link_to_the_project_gets_its_settings(tmp_path: Path) -> None:
    project = tmp_path / "project"
    write(project, "pyproject.toml", PYPROJECT)
    write(project, "legacy/old.lmf", "nmae = 'x'\n")
    (tmp_path / "link").symlink_to(project)
    config = load(project)
    assert config.excluded(tmp_path / "link" / "legacy" / "old.lmf")
    assert config.for_path(tmp_path / "link" / "notebooks" / "n.lmf") == ("databricks", True)


def test_noqa_after_another_comment() -> None:
    source = "import lmfilter\nlmfilter.parse('nmae = 1')  # type: ignore  # noqa: LMF202\n"
    assert lint_source(source, "python").findings == ()


def test_the_language_server_reads_the_pyproject_lint_reads(tmp_path: Path) -> None:
    from lmfilter.lsp.settings import Settings, pyproject_settings, resolve

    write(tmp_path, "pyproject.toml", PYPROJECT)
    (tmp_path / "sub" / "deeper").mkdir(parents=True)
    problems: list[str] = []
    layer = pyproject_settings(tmp_path / "sub" / "deeper", problems)  # a workspace opened below the project
    settings = resolve(Settings(), layer, {"overrides": [Override(("x/**",), "local")]})
    lint_config = load(tmp_path / "sub" / "deeper")
    assert problems == []
    assert (settings.target, settings.exclude, settings.root) == (
        lint_config.target,
        lint_config.exclude,
        lint_config.root,
    )
    assert [o.paths for o in settings.overrides] == [("notebooks/**",), ("x/**",)]  # they add up


def test_a_lmf_noqa_is_read_from_the_comment_that_ends_the_line() -> None:
    # The codes of the trailing comment, not of a "# noqa" inside the string before it.
    source = "nmae = '# noqa: LMF202' # noqa: LMF2\nnmae = '# noqa' # noqa: LMF3\n"
    assert [(f.region.line, f.code) for f in lint_source(source, "lmf").findings] == [(2, "LMF202")]
    # A line of a million blanks is read in one look for its comment (it once took quadratic time).
    long = "nmae = 'x'" + " " * 1_000_000 + "# noqa: LMF202\n"
    assert lint_source(long, "lmf").findings == ()
