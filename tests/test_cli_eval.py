"""Reading model files (:mod:`lmfilter.model_files`), ``lmfilter eval``: formats, streaming, outputs, errors.

Most tests call :func:`lmfilter.cli.main` in process; one runs the installed console script. The last part
checks ``lmfilter eval`` over the bundled ``examples/models.json`` against :func:`lmfilter.select`.
"""

from __future__ import annotations

import io
import itertools
import json
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest

import lmfilter
from lmfilter import cli
from lmfilter.cli import EXIT_ERRORS, EXIT_OK, EXIT_USAGE, main
from lmfilter.model_files import ModelFile, ModelFileError, iter_models

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "models.json"
T0 = 1_700_000_000_000  # 2023-11-14T22:13:20Z


def metric(value: float, step: int, ts: int, dataset: str | None = None) -> dict[str, Any]:
    row: dict[str, Any] = {"key": "acc", "value": value, "step": step, "timestamp": ts}
    if dataset is not None:
        row["dataset_name"], row["dataset_digest"] = dataset, f"d-{dataset}"
    return row


# Three models, created a second apart; the default order is the newest first: m-c, m-b, m-a.
# m-a's latest acc is 0.6 (eval, step 1), its latest on train 0.95; m-b's is 0.7 (train); m-c has none.
MODELS: list[dict[str, Any]] = [
    {
        "info": {
            "model_id": "m-a",
            "experiment_id": "1",
            "name": "alpha",
            "creation_timestamp_ms": T0,
            "status": "LOGGED_MODEL_READY",
            "tags": [{"key": "team", "value": "vision"}],
        },
        "data": {
            "params": [{"key": "lr", "value": "0.01"}],
            "metrics": [metric(0.95, 0, T0 + 1, "train"), metric(0.6, 1, T0 + 2, "eval")],
        },
    },
    {
        "info": {
            "model_id": "m-b",
            "experiment_id": "1",
            "name": "模型",
            "creation_timestamp_ms": T0 + 1000,
            "status": "LOGGED_MODEL_PENDING",
        },
        "data": {"params": [{"key": "lr", "value": ""}], "metrics": [metric(0.7, 0, T0 + 5, "train")]},
    },
    {
        "info": {
            "model_id": "m-c",
            "experiment_id": "2",
            "name": "gamma",
            "creation_timestamp_ms": T0 + 2000,
            "status": "LOGGED_MODEL_UPLOAD_FAILED",
            "model_type": "sklearn",
        },
        "data": {},
    },
]
ALL_IDS = ["m-c", "m-b", "m-a"]


def jsonl(models: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(m, ensure_ascii=False) + "\n" for m in models)


# The same models in every form a model file takes.
FORMS: dict[str, str] = {
    "jsonl": jsonl(MODELS),
    "jsonl-blank-lines-crlf": "\r\n" + jsonl(MODELS).replace("\n", "\r\n\r\n"),
    "array": json.dumps(MODELS),
    "array-indented": "\n\n" + json.dumps(MODELS, indent=2) + "\n",
    "response": json.dumps({"models": MODELS}, indent=2),
    "response-one-line": json.dumps({"models": MODELS}),
    "response-token-first": json.dumps({"next_page_token": "abc", "models": MODELS, "extra": [1, {}]}),
    "bom": "\ufeff" + jsonl(MODELS),
}


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


@pytest.fixture
def models_file(tmp_path: Path) -> Path:
    path = tmp_path / "models.jsonl"
    path.write_text(jsonl(MODELS), encoding="utf-8")
    return path


def ids(models: Iterable[dict[str, Any]]) -> list[str]:
    return [m["info"]["model_id"] for m in models]


# ---- cache: the forms of a model file ------------------------------------------------------------


@pytest.mark.parametrize("form", list(FORMS))
def test_every_form_gives_the_models_in_file_order(tmp_path: Path, form: str) -> None:
    path = tmp_path / "models"
    path.write_text(FORMS[form], encoding="utf-8")
    assert ids(iter_models(path)) == ["m-a", "m-b", "m-c"]
    assert list(iter_models(str(path))) == MODELS


@pytest.mark.parametrize(
    ("text", "form"),
    [
        pytest.param(jsonl(MODELS), "jsonl", id="jsonl"),
        pytest.param(json.dumps(MODELS), "array", id="array"),
        pytest.param(json.dumps({"models": MODELS}), "response", id="response"),
        pytest.param(json.dumps(MODELS[0]) + "\n", "jsonl", id="one model on one line"),
        pytest.param(json.dumps({"data": {}, "info": {}}) + "\n", "jsonl", id="info after data"),
        pytest.param(json.dumps({"next_page_token": "x", "models": MODELS}), "response", id="token first"),
        pytest.param('{"models": [], "info": {}}', "response", id="models before info"),
    ],
)
def test_the_format_is_told_by_the_content(text: str, form: str) -> None:
    source = ModelFile.open(io.BytesIO(text.encode()))
    assert source.format is None
    list(source)
    assert source.format == form


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("", id="empty file"),
        pytest.param(" \n\n\t\n", id="blank lines"),
        pytest.param("{}", id="empty search answer"),
        pytest.param('{"models": []}\n', id="empty models"),
        pytest.param(" [ ] ", id="empty array"),
    ],
)
def test_files_without_models(text: str) -> None:
    assert list(iter_models(io.BytesIO(text.encode()))) == []


def test_text_streams_work_like_binary_ones() -> None:
    assert ids(iter_models(io.StringIO(FORMS["jsonl-blank-lines-crlf"]))) == ["m-a", "m-b", "m-c"]
    assert ids(iter_models(io.StringIO(FORMS["response"]))) == ["m-a", "m-b", "m-c"]


def test_dash_reads_binary_stdin(monkeypatch: pytest.MonkeyPatch) -> None:
    stdin = io.TextIOWrapper(io.BytesIO(FORMS["array"].encode()), encoding="utf-8")
    monkeypatch.setattr(sys, "stdin", stdin)
    source = ModelFile.open("-")
    assert source.name == "<stdin>"
    assert ids(source) == ["m-a", "m-b", "m-c"]


def test_dash_reads_a_text_stdin(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(FORMS["jsonl"]))
    assert ids(iter_models("-")) == ["m-a", "m-b", "m-c"]


# ---- cache: streaming ----------------------------------------------------------------------------


def test_jsonl_yields_the_good_lines_before_reporting_a_bad_third_line(tmp_path: Path) -> None:
    path = tmp_path / "models.jsonl"
    path.write_text(jsonl(MODELS[:2]) + '{"info": {"model_id": "m-3"\n' + jsonl(MODELS[2:]), encoding="utf-8")
    models = iter_models(path)
    assert next(models)["info"]["model_id"] == "m-a"
    assert next(models)["info"]["model_id"] == "m-b"
    with pytest.raises(ModelFileError) as caught:
        next(models)
    assert (caught.value.source, caught.value.line) == (str(path), 3)
    assert str(caught.value).startswith(f"{path}:3:")
    assert "bad JSON: Expecting ',' delimiter" in str(caught.value)


class EndlessModels(io.RawIOBase):
    """An endless JSON lines stream, made on demand; ``lines_made`` counts the lines produced so far."""

    def __init__(self) -> None:
        self.lines_made = 0
        self.pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        size = len(buffer)
        while len(self.pending) < size:
            self.lines_made += 1
            self.pending += json.dumps({"info": {"model_id": f"m-{self.lines_made}"}}).encode() + b"\n"
        buffer[:size], self.pending = self.pending[:size], self.pending[size:]
        return size


def test_jsonl_streams_an_endless_file_in_step_with_the_reader() -> None:
    stream = EndlessModels()
    models = iter_models(io.BufferedReader(stream))
    assert ids(itertools.islice(models, 3)) == ["m-1", "m-2", "m-3"]
    first_read = stream.lines_made
    assert first_read < 1000  # one buffer's worth, not the whole (endless) file
    assert ids(itertools.islice(models, 5000))[-1] == "m-5003"
    assert stream.lines_made < 5003 + first_read


def test_progress_counts_bytes_and_models(tmp_path: Path) -> None:
    for name, text in [("lines", FORMS["jsonl"]), ("array", FORMS["array-indented"])]:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        with ModelFile.open(path) as source:
            assert source.size == len(text.encode())
            models = iter(source)
            next(models)
            assert 0 < source.bytes_read < source.size
            assert source.models_read == 1
            list(models)
            assert (source.bytes_read, source.models_read) == (source.size, 3)


def test_where_gives_the_line_of_the_last_model_read(tmp_path: Path) -> None:
    path = tmp_path / "models.json"
    path.write_text(FORMS["jsonl-blank-lines-crlf"], encoding="utf-8")
    with ModelFile.open(path) as source:
        assert source.where() == str(path)
        assert [source.where() for _ in source] == [f"{path}:{n}" for n in (2, 4, 6)]
    indented = json.dumps(MODELS, indent=1)
    source = ModelFile.open(io.BytesIO(indented.encode()))
    starts = [indented.count("\n", 0, indented.index(f'"{i}"')) - 1 for i in ("m-a", "m-b", "m-c")]
    assert [source.where() for _ in source] == [f"<stream>:{n}" for n in starts]


def test_a_model_file_is_read_once(models_file: Path) -> None:
    with ModelFile.open(models_file) as source:
        list(source)
        with pytest.raises(RuntimeError, match="read already"):
            list(source)


# ---- cache: errors -------------------------------------------------------------------------------

M = json.dumps({"info": {"model_id": "m-1"}})


BAD_FILES = {  # id: (content, the start of the error message)
    "jsonl line not an object": (
        f"{M}\n{M}\n[1, 2]\n",
        "<stream>:3: expected an object (a logged model) on each",
    ),
    "jsonl bad json": (f"{M}\n\n{{oops}}\n", "<stream>:3:2: bad JSON: Expecting property name enclosed in"),
    "jsonl truncated last line": (
        f"{M}\n" + '{"info": {}',
        "<stream>:2:12: bad JSON: Expecting ',' delimiter",
    ),
    "jsonl first line not a model": (
        '{"x": 1}\n' + M,
        '<stream>:1: a JSON object without "info": JSON lines',
    ),
    "array item not an object": (
        f"[{M},\n {M},\n 3]",
        "<stream>:3:2: item 3 of the array is a number, not an",
    ),
    "array no comma": (f"[{M}\n {M}]", "<stream>:2:2: bad JSON: expected ',' or ']', found '{'"),
    "array truncated": (f"[{M},", "<stream>:1:32: bad JSON: Expecting value"),
    "data after the array": (f"[{M}] [", "<stream>:1:33: bad JSON: more data after the end of the value"),
    "models not a list": ('{"models": {}}', '<stream>:1:12: "models" is an object, not a list'),
    "models twice": ('{"models": [], "models": []}', '<stream>:1:16: "models" appears twice'),
    "no models key": ('{"next_page_token": "x"}', """<stream>: no "models" key (it has 'next_page_token')"""),
    "a single indented model": ('{\n  "info": {}\n}', "<stream>: holds one logged model: put it in a list"),
    "not json at all": ("m-1\nm-2\n", "<stream>:1:1: expected JSON lines, a JSON array or a search answer"),
    "a number": ("\n  42", "<stream>:2:3: expected JSON lines"),
}


@pytest.mark.parametrize(("text", "message"), list(BAD_FILES.values()), ids=list(BAD_FILES))
def test_bad_files_name_the_place_and_the_fault(text: str, message: str) -> None:
    with pytest.raises(ModelFileError) as caught:
        list(iter_models(io.BytesIO(text.encode())))
    assert str(caught.value).startswith(message)


def test_bytes_that_are_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin1.jsonl"
    path.write_bytes(M.encode() + b"\n" + M.replace("m-1", "m-\xe9").encode("latin-1") + b"\n")
    with pytest.raises(ModelFileError, match=r"latin1\.jsonl:2:\d+: not UTF-8"):
        list(iter_models(path))


def test_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ModelFileError, match=r"nowhere\.json: cannot read it: No such file or directory"):
        ModelFile.open(tmp_path / "nowhere.json")


# ---- eval: outputs -------------------------------------------------------------------------------


def test_ids_one_a_line_in_search_order(capsys: pytest.CaptureFixture[str], models_file: Path) -> None:
    status, out, err = run(capsys, "eval", "metrics.acc > 0.5", "--models", str(models_file))
    assert (status, out, err) == (EXIT_OK, "m-b\nm-a\n", "")


def test_an_empty_filter_keeps_every_model(capsys: pytest.CaptureFixture[str], models_file: Path) -> None:
    status, out, _ = run(capsys, "eval", "", "--models", str(models_file))
    assert (status, out.split()) == (EXIT_OK, ALL_IDS)


def test_no_match_is_success_with_no_output(capsys: pytest.CaptureFixture[str], models_file: Path) -> None:
    assert run(capsys, "eval", "name = 'nobody'", "--models", str(models_file)) == (EXIT_OK, "", "")


def test_json_output_is_the_models_as_the_api_sends_them(
    capsys: pytest.CaptureFixture[str], models_file: Path
) -> None:
    status, out, _ = run(
        capsys, "eval", "tags.team IS NULL", "--models", str(models_file), "--format", "json"
    )
    assert status == EXIT_OK
    expected = [lmfilter.LoggedModel.model_validate(m).to_json() for m in (MODELS[2], MODELS[1])]
    assert json.loads(out) == expected
    assert '"name": "模型"' in out  # readable, not \u-escaped


def test_table_output(capsys: pytest.CaptureFixture[str], models_file: Path) -> None:
    status, out, _ = run(
        capsys,
        "eval",
        "metrics.acc > 0.1 OR params.lr = ''",
        "--models",
        str(models_file),
        "--format",
        "table",
    )
    assert status == EXIT_OK
    assert out == (
        "model_id  name   status   created                   metrics.acc  params.lr\n"
        "--------  -----  -------  ------------------------  -----------  ---------\n"
        "m-b       模型   PENDING  2023-11-14T22:13:21.000Z          0.7  ''\n"  # 模型 is 4 columns wide
        "m-a       alpha  READY    2023-11-14T22:13:20.000Z          0.6  0.01\n"
        "2 of 3 models\n"
    )


def test_table_shows_missing_values_and_referenced_attributes(
    capsys: pytest.CaptureFixture[str], models_file: Path
) -> None:
    status, out, _ = run(
        capsys,
        "eval",
        "model_type IS NULL OR tags.`team` != 'x' OR metrics.f1 IS NULL",
        "--models",
        str(models_file),
        "--format",
        "table",
    )
    assert status == EXIT_OK
    header, _, *rows, footer = out.splitlines()
    assert header.split() == [
        "model_id",
        "name",
        "status",
        "created",
        "model_type",
        "tags.team",
        "metrics.f1",
    ]
    assert [[row.split()[i] for i in (0, 4, 5, 6)] for row in rows] == [
        ["m-c", "sklearn", "-", "-"],
        ["m-b", "-", "-", "-"],
        ["m-a", "-", "vision", "-"],
    ]
    assert footer == "3 of 3 models"


def test_table_of_no_match_has_the_header_and_the_count(
    capsys: pytest.CaptureFixture[str], models_file: Path
) -> None:
    status, out, _ = run(capsys, "eval", "name = 'nobody'", "--models", str(models_file), "--format", "table")
    assert status == EXIT_OK
    assert out.splitlines()[0].split() == ["model_id", "name", "status", "created"]
    assert out.splitlines()[2:] == ["0 of 3 models"]


def test_table_cells_that_would_break_it_are_quoted(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    odd = {"info": {"model_id": "m-1", "name": "two\nlines", "creation_timestamp_ms": 10**18}}
    monkeypatch.setattr(sys, "stdin", io.StringIO(jsonl([odd])))
    status, out, _ = run(capsys, "eval", "", "--models", "-", "--format", "table")
    assert status == EXIT_OK
    assert out.splitlines()[2].split() == ["m-1", "'two\\nlines'", "UNSPECIFIED", str(10**18)]


# ---- eval: --datasets, --order-by, --target ------------------------------------------------------

TRAIN = '[{"dataset_name": "train", "dataset_digest": "d-train"}]'
ACC_DESC = '[{"field_name": "metrics.acc", "ascending": false}]'


def test_datasets_restrict_the_rows_a_metric_condition_reads(
    capsys: pytest.CaptureFixture[str], models_file: Path
) -> None:
    # m-a's latest acc is 0.6, but 0.95 on train.
    argv = ["eval", "metrics.acc > 0.9", "--models", str(models_file)]
    assert run(capsys, *argv)[1] == ""
    assert run(capsys, *argv, "--datasets", TRAIN)[1] == "m-a\n"
    table = run(capsys, *argv, "--datasets", TRAIN, "--format", "table")[1]
    assert table.splitlines()[2].split()[-1] == "0.95"


def test_order_by_a_metric(capsys: pytest.CaptureFixture[str], models_file: Path) -> None:
    argv = ["eval", "", "--models", str(models_file), "--order-by", ACC_DESC]
    assert run(capsys, *argv)[1].split() == ["m-b", "m-a", "m-c"]  # 0.7, 0.6, none (last)
    assert run(capsys, *argv, "--datasets", TRAIN)[1].split() == ["m-a", "m-b"]  # 0.95, 0.7


def test_order_by_and_datasets_from_files(
    capsys: pytest.CaptureFixture[str], models_file: Path, tmp_path: Path
) -> None:
    (tmp_path / "order.json").write_text(ACC_DESC, encoding="utf-8")
    (tmp_path / "datasets.json").write_text(TRAIN, encoding="utf-8")
    status, out, _ = run(
        capsys,
        "eval",
        "",
        "--models",
        str(models_file),
        "--order-by",
        f"@{tmp_path / 'order.json'}",
        "--datasets",
        f"@{tmp_path / 'datasets.json'}",
    )
    assert (status, out.split()) == (EXIT_OK, ["m-a", "m-b"])


def test_table_columns_of_order_by_metrics(capsys: pytest.CaptureFixture[str], models_file: Path) -> None:
    order = (
        '[{"field_name": "metrics.acc", "dataset_name": "eval"}, {"field_name": "last_updated_timestamp"}]'
    )
    argv = [
        "eval",
        "metrics.acc >= 0",
        "--models",
        str(models_file),
        "--order-by",
        order,
        "--format",
        "table",
    ]
    header, _, *rows, _ = run(capsys, *argv)[1].splitlines()
    assert header.split()[4:] == ["metrics.acc", "metrics.acc[eval]", "last_updated_timestamp"]
    # eval first; the models leave last_updated_timestamp_ms out, which stands for 0 (a server always has one)
    epoch = "1970-01-01T00:00:00.000Z"
    assert [row.split()[4:] for row in rows] == [["0.6", "0.6", epoch], ["0.7", "-", epoch]]
    # MLflow 3.17 sorts by the latest row by time, which the header says.
    header_317 = run(capsys, *argv, "--target", "mlflow-3.17")[1].splitlines()[0]
    assert header_317.split()[4:] == ["metrics.acc", "metrics.acc[eval][by-time]", "last_updated_timestamp"]


def test_order_by_metric_column_shows_the_targets_sort_value(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The latest row by step (0.9) is not the latest by time (0.1), which MLflow 3.17 sorts by.
    model = {"info": {"model_id": "m-1"}, "data": {"metrics": [metric(0.9, 5, 1), metric(0.1, 1, 9)]}}
    argv = ["eval", "", "--models", "-", "--order-by", '[{"field_name": "metrics.acc"}]', "--format", "table"]
    cells = {}
    for target in ("mlflow", "mlflow-3.17"):
        monkeypatch.setattr(sys, "stdin", io.StringIO(jsonl([model])))
        header, _, row, _ = run(capsys, *argv, "--target", target)[1].splitlines()
        cells[target] = dict(zip(header.split(), row.split(), strict=True))
    assert cells["mlflow"]["metrics.acc"] == "0.9"
    assert cells["mlflow-3.17"]["metrics.acc[by-time]"] == "0.1"


def test_target_picks_the_metric_semantics(capsys: pytest.CaptureFixture[str], models_file: Path) -> None:
    # MLflow 3.17: some row of acc > 0.9 (m-a's 0.95); MLflow 3.18: the latest row (0.6) is not.
    argv = ["eval", "metrics.acc > 0.9", "--models", str(models_file)]
    assert run(capsys, *argv, "--target", "mlflow-3.17")[1] == "m-a\n"
    assert run(capsys, *argv, "--target", "mlflow")[1] == ""


def test_models_from_stdin(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    for form in ("jsonl", "response"):
        monkeypatch.setattr(sys, "stdin", io.StringIO(FORMS[form]))
        assert run(capsys, "eval", "name != 'gamma'", "--models", "-") == (EXIT_OK, "m-b\nm-a\n", "")


def test_a_warning_goes_to_stderr_and_the_filter_still_runs(
    capsys: pytest.CaptureFixture[str], models_file: Path
) -> None:
    status, out, err = run(capsys, "eval", "tags.team = vision", "--models", str(models_file))
    assert (status, out) == (EXIT_OK, "m-a\n")
    assert err.startswith("warning[LMF207]: unquoted word 'vision'")


# ---- eval: errors and exit statuses --------------------------------------------------------------


def test_a_bad_filter_exits_1_with_its_diagnostics(
    capsys: pytest.CaptureFixture[str], models_file: Path
) -> None:
    status, out, err = run(capsys, "eval", "metric.acc > 0.9 AND nmae = 'x'", "--models", str(models_file))
    assert (status, out) == (EXIT_ERRORS, "")
    assert err.startswith("error[LMF201]: unknown entity 'metric'; did you mean 'metrics'?\n --> 1:1\n")
    assert "error[LMF202]: unknown attribute 'nmae'" in err


BAD_OPTIONS = {  # id: (option, value, part of the error message)
    "bad json": ("--datasets", "[{", "--datasets: bad JSON: Expecting property name"),
    "an object": ("--datasets", '{"dataset_name": "x"}', "--datasets: expected a JSON list of objects like"),
    "empty name": ("--datasets", '[{"dataset_name": ""}]', "datasets[0].dataset_name: must not be empty"),
    "not an object": ("--datasets", "[3]", "datasets[0]: "),
    "order by a param": ("--order-by", '[{"field_name": "params.lr"}]', "cannot order by 'params.lr'"),
    "unknown attribute": ("--order-by", '[{"field_name": "nmae"}]', "invalid order by field name 'nmae'"),
    "missing @file": ("--order-by", "@/nonexistent/o.json", "--order-by: cannot read /nonexistent/o.json"),
}


@pytest.mark.parametrize(("option", "value", "message"), list(BAD_OPTIONS.values()), ids=list(BAD_OPTIONS))
def test_bad_datasets_or_order_by_exit_1(
    capsys: pytest.CaptureFixture[str], models_file: Path, option: str, value: str, message: str
) -> None:
    status, out, err = run(capsys, "eval", "", "--models", str(models_file), option, value)
    assert (status, out) == (EXIT_ERRORS, "")
    assert err.startswith("lmfilter eval: ")
    assert message in err
    assert "Traceback" not in err


def test_a_malformed_record_names_its_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    bad = json.loads(json.dumps(MODELS[1]))
    bad["info"]["status"] = "FAILED-ISH"
    path = tmp_path / "models.jsonl"
    path.write_text(jsonl([MODELS[0]]) + "\n" + jsonl([bad]), encoding="utf-8")
    status, out, err = run(capsys, "eval", "status = 'READY'", "--models", str(path))
    assert (status, out) == (EXIT_ERRORS, "")
    assert err.startswith(f"lmfilter eval: {path}:3: record 1 (model_id 'm-b'): info.status: unknown status")


def test_a_bad_file_exits_1(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "models.json"
    path.write_text('{"models": [1]}', encoding="utf-8")
    status, out, err = run(capsys, "eval", "", "--models", str(path))
    assert (status, out) == (EXIT_ERRORS, "")
    assert (
        err
        == f"lmfilter eval: {path}:1:13: item 1 of the array is a number, not an object (a logged model)\n"
    )
    missing = run(capsys, "eval", "", "--models", str(tmp_path / "nowhere.json"))
    assert missing[0] == EXIT_ERRORS
    assert "nowhere.json: cannot read it" in missing[2]


@pytest.mark.parametrize(
    "argv",
    [
        pytest.param(["eval", "name = 'a'"], id="no --models"),
        pytest.param(["eval", "--models", "x.json"], id="no filter"),
        pytest.param(["eval", "", "--models", "x.json", "--format", "csv"], id="unknown format"),
        pytest.param(["eval", "", "--models", "x.json", "--target", "mlflow-2"], id="unknown target"),
    ],
)
def test_bad_usage_exits_2(capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == EXIT_USAGE
    assert "usage: lmfilter eval" in capsys.readouterr().err


# ---- eval: the progress bar ----------------------------------------------------------------------


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_on_a_terminal_is_cleared_at_the_end(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, models_file: Path
) -> None:
    monkeypatch.setattr(cli, "PROGRESS_MIN_BYTES", 0)
    monkeypatch.setattr(cli, "PROGRESS_INTERVAL_S", 0.0)
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    status = main(["eval", "", "--models", str(models_file)])
    assert (status, capsys.readouterr().out.split()) == (EXIT_OK, ALL_IDS)
    drawn = terminal.getvalue()
    assert drawn.count("\r") == 4  # three redraws, one clearing
    assert "\r[" in drawn
    assert f"models/s  {models_file.name}\033[K" in drawn
    assert "100%" in drawn
    assert "models/s" in drawn
    assert drawn.endswith("\r\033[K")


def test_no_progress_bar_off_a_terminal_or_for_a_small_file(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, models_file: Path
) -> None:
    monkeypatch.setattr(cli, "PROGRESS_INTERVAL_S", 0.0)
    monkeypatch.setattr(cli, "PROGRESS_MIN_BYTES", 0)
    assert run(capsys, "eval", "", "--models", str(models_file))[2] == ""  # capsys' stderr is no terminal
    monkeypatch.setattr(cli, "PROGRESS_MIN_BYTES", 5_000_000)
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    assert main(["eval", "", "--models", str(models_file)]) == EXIT_OK
    assert terminal.getvalue() == ""


def fake_clock(step: float) -> Callable[[], float]:
    ticks = itertools.count()
    return lambda: next(ticks) * step


def test_progress_is_redrawn_at_most_ten_times_a_second(tmp_path: Path) -> None:
    path = tmp_path / "many.jsonl"
    path.write_text(jsonl([{"info": {"model_id": f"m-{i}"}} for i in range(200)]), encoding="utf-8")
    terminal = Terminal()
    with ModelFile.open(path) as source, cli._Progress(source, terminal, clock=fake_clock(0.01)) as progress:
        assert len(list(progress.track(source))) == 200  # two seconds on the fake clock
    assert 15 <= terminal.getvalue().count("\r") <= 21
    assert "100 models/s" in terminal.getvalue()


# ---- eval over the bundled example, against lmfilter.select --------------------------------------

EXAMPLE_QUERIES = [
    pytest.param("metrics.acc > 0.5", None, None, "mlflow", id="metric"),
    pytest.param("metrics.acc > 0.9", None, None, "mlflow-3.17", id="metric, any row (3.17)"),
    pytest.param(
        "params.lr IN ('0.01', '0.010') OR tags.team ILIKE 'apfel'", None, None, "mlflow", id="or, in, ilike"
    ),
    pytest.param(
        "metrics.acc > 0.5",
        [{"dataset_name": "train", "dataset_digest": "d-train-1"}],
        [{"field_name": "metrics.acc", "ascending": False}],
        "mlflow",
        id="datasets and order_by",
    ),
    pytest.param(
        "model_type IS NULL OR status != 'READY'",
        None,
        [{"field_name": "metrics.loss", "dataset_name": "eval"}, {"field_name": "name", "ascending": False}],
        "mlflow-3.17",
        id="is null, order by metric on a dataset (3.17)",
    ),
]


def example_models() -> list[dict[str, Any]]:
    models: list[dict[str, Any]] = json.loads(EXAMPLES.read_text(encoding="utf-8"))["models"]
    return models


def test_the_example_file_is_a_search_answer_with_missing_values() -> None:
    models = example_models()
    assert 20 <= len(models) <= 100
    assert EXAMPLES.stat().st_size < 300_000
    datasets = {m.get("dataset_name") for model in models for m in model.get("data", {}).get("metrics", [])}
    assert {"train", "eval", None} <= datasets
    assert any("metrics" not in model.get("data", {}) for model in models)
    assert any("lr" not in {p["key"] for p in model.get("data", {}).get("params", [])} for model in models)


def test_an_empty_filter_over_the_example_keeps_the_servers_order(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "eval", "", "--models", str(EXAMPLES))
    assert status == EXIT_OK
    assert out.split() == ids(example_models())


@pytest.mark.parametrize(("text", "datasets", "order_by", "target"), EXAMPLE_QUERIES)
def test_eval_over_the_example_is_select(
    capsys: pytest.CaptureFixture[str],
    text: str,
    datasets: list[dict[str, Any]] | None,
    order_by: list[dict[str, Any]] | None,
    target: str,
) -> None:
    models = example_models()
    expected = [
        m.model_id for m in lmfilter.select(models, text, datasets=datasets, order_by=order_by, target=target)
    ]
    assert 0 < len(expected) < len(models)
    argv = ["eval", text, "--models", str(EXAMPLES), "--target", target]
    argv += ["--datasets", json.dumps(datasets)] if datasets else []
    argv += ["--order-by", json.dumps(order_by)] if order_by else []
    status, out, err = run(capsys, *argv)
    assert (status, out.split(), err) == (EXIT_OK, expected, "")


# ---- the installed command -----------------------------------------------------------------------


def test_installed_command_evaluates_stdin() -> None:
    script = Path(sys.executable).parent / "lmfilter"
    command = str(script) if script.is_file() else shutil.which("lmfilter")
    assert command is not None, "the lmfilter console script is not installed"
    result = subprocess.run(
        [command, "eval", "metrics.acc > 0.5", "--models", "-", "--format", "json"],
        input=FORMS["jsonl"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (result.returncode, ids(json.loads(result.stdout)), result.stderr) == (0, ["m-b", "m-a"], "")
    broken = subprocess.run(
        [command, "eval", "", "--models", "-"],
        input="[1]",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (broken.returncode, broken.stdout) == (1, "")
    assert (
        broken.stderr
        == "lmfilter eval: <stdin>:1:2: item 1 of the array is a number, not an object (a logged model)\n"
    )
