"""The command line's SQL faces: ``lmfilter eval --engine auto|python|duckdb`` over model files, a model store
(``.duckdb``) and its Parquet export, and ``lmfilter search --db`` over MLflow's own tracking database.

The engines must print the same answer, byte for byte, in every format; ``search --db`` must print what the
server answers for a native filter, and what ``eval`` answers over the same models beyond the native language,
with the semantics of the MLflow version that wrote the database. Bad input is one line of lmfilter's own on
stderr and the exit status of the command's conventions (1: a bad filter, option value, file or database; 2:
bad usage), never a traceback.

Most tests call :func:`lmfilter.cli.main` in process; those that need another process (a store held open, a
writer, a missing extra) run one. The ``mlflow`` ones read the real test servers' ``mlflow.db``.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import sqlite3
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import lmfilter
from lmfilter import ast, cli
from lmfilter.cli import AUTO_DUCKDB_BYTES, EXIT_ERRORS, EXIT_OK, EXIT_USAGE, main
from lmfilter.sql import ModelStore
from lmfilter.sql.mlflow_db import MLFLOW_3_17_2_HEAD, MLFLOW_3_18_0_HEAD
from tests.servers import DATASETS, TARGETS, SeededServer
from tests.strategies import KEYS, models, trees

JSON = dict[str, Any]
EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "models.json"
TRAIN1, TRAIN2, EVAL = ({"dataset_name": n, "dataset_digest": d} for n, d in DATASETS)
REVISIONS = {"3.17.2": MLFLOW_3_17_2_HEAD, "3.18.0": MLFLOW_3_18_0_HEAD}


def run(*argv: str) -> tuple[int, str, str]:
    """``lmfilter ARGV`` in process: the exit status (argparse's own 2 included), stdout and stderr."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            status = main(list(argv))
        except SystemExit as exit_:  # argparse's usage errors
            status = exit_.code if isinstance(exit_.code, int) else EXIT_USAGE
    return status, out.getvalue(), err.getvalue()


def one_error(result: tuple[int, str, str], status: int, command: str, pattern: str) -> str:
    """The one line of stderr of a failed command, checked: its status, nothing on stdout, no traceback."""
    code, out, err = result
    assert (code, out) == (status, ""), err
    assert err.startswith(f"lmfilter {command}: "), err
    assert err.endswith("\n"), err
    assert err.count("\n") == 1, err
    assert "Traceback" not in err
    assert re.search(pattern, err), err
    return err


def jsonl(records: list[JSON]) -> str:
    return "".join(json.dumps(m, ensure_ascii=False) + "\n" for m in records)


def example_models() -> list[JSON]:
    records: list[JSON] = json.loads(EXAMPLES.read_text(encoding="utf-8"))["models"]
    return records


def make_sources(folder: Path, records: list[JSON]) -> dict[str, Path]:
    """The same models as a JSON array, JSON lines, a saved search answer, a store file and the store's
    Parquet export."""
    folder.mkdir(parents=True, exist_ok=True)
    sources = {"json": folder / "models.json", "jsonl": folder / "models.jsonl", "answer": folder / "answer"}
    sources["json"].write_text(json.dumps(records), encoding="utf-8")
    sources["jsonl"].write_text(jsonl(records), encoding="utf-8")
    answer = {"models": records, "next_page_token": "page-2"}
    sources["answer"].write_text(json.dumps(answer, indent=1, ensure_ascii=False), encoding="utf-8")
    sources["store"], sources["parquet"] = folder / "models.duckdb", folder / "export"
    with ModelStore(sources["store"]) as store:
        store.add(sources["json"])
        store.to_parquet(sources["parquet"])
    return sources


# Every way eval reads the models: files by both engines, a store and an export by DuckDB (auto picks it).
READERS = [
    ("json", "duckdb"),
    ("jsonl", "python"),
    ("jsonl", "duckdb"),
    ("answer", "duckdb"),
    ("store", "auto"),
    ("store", "duckdb"),
    ("parquet", "auto"),
    ("parquet", "duckdb"),
]


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return make_sources(tmp_path_factory.mktemp("sources"), example_models())


def options(datasets: list[JSON] | None, order_by: list[JSON] | None, target: str | None = None) -> list[str]:
    argv = ["--target", target] if target is not None else []
    argv += ["--datasets", json.dumps(datasets)] if datasets is not None else []
    argv += ["--order-by", json.dumps(order_by)] if order_by is not None else []
    return argv


# ---- 1. the engines answer alike -------------------------------------------------------------------------

QUERIES = [
    pytest.param("metrics.acc > 0.5 OR params.optimizer IS NULL", None, None, "mlflow", id="or, is null"),
    pytest.param(
        "NOT params.lr < 0.05 AND tags.team IS NOT NULL",
        None,
        [{"field_name": "name", "ascending": False}],
        "mlflow",
        id="not, numeric param, order by name",
    ),
    pytest.param(
        "params.depth BETWEEN 3 AND 10 OR model_type IS NULL",
        [TRAIN1],
        [{"field_name": "metrics.acc", "ascending": False}],
        "mlflow",
        id="between, datasets, order by metric",
    ),
    pytest.param(
        "metrics.acc > 0.9",
        [TRAIN1, TRAIN2],
        [{"field_name": "metrics.loss", "dataset_name": "eval"}, {"field_name": "model_id"}],
        "mlflow-3.17",
        id="3.17: any row, order by a metric of a dataset",
    ),
    pytest.param(
        "tags.note LIKE '%b%' OR NOT metrics.loss IS NULL",
        [{"dataset_name": "train"}],
        [{"field_name": "metrics.acc", "dataset_name": "train"}, {"field_name": "status"}],
        "mlflow",
        id="like, not is null, dataset by name",
    ),
    pytest.param(
        "metrics.`my metric` > 0 OR tags.`模型` = '值' OR params.`a.b` IN ('x', 'X')",
        None,
        [{"field_name": "creation_timestamp", "ascending": True}],
        "mlflow-3.17",
        id="quoted keys, in",
    ),
    pytest.param(
        "status != 'READY' AND metrics.score IS NULL",
        None,
        [{"field_name": "metrics.f1", "ascending": False}],
        "databricks",
        id="databricks",
    ),
]


# Every query's ids; the models and tables of those with datasets and order_by (the store and the export must
# give every model back as it was, and the table's cells read from them).
CASES = [pytest.param(*query.values, "ids", id=f"{query.id}-ids") for query in QUERIES] + [
    pytest.param(*query.values, fmt, id=f"{query.id}-{fmt}")
    for query in QUERIES[2:5]
    for fmt in ("json", "table")
]


@pytest.mark.parametrize(("text", "datasets", "order_by", "target", "fmt"), CASES)
def test_every_engine_prints_what_python_prints_over_the_example(
    sources: dict[str, Path],
    text: str,
    datasets: list[JSON] | None,
    order_by: list[JSON] | None,
    target: str,
    fmt: str,
) -> None:
    argv = ["eval", text, "--format", fmt, *options(datasets, order_by, target)]
    expected = run(*argv, "--models", str(sources["json"]), "--engine", "python")
    assert expected[0] == EXIT_OK, expected[2]
    if fmt == "ids":  # the python engine is select, and the case is not an empty answer
        found = lmfilter.select(example_models(), text, datasets=datasets, order_by=order_by, target=target)
        assert expected[1].split() == [m.model_id for m in found]
        assert 0 < len(found) < len(example_models())
    for source, engine in READERS:
        got = run(*argv, "--models", str(sources[source]), "--engine", engine)
        assert got == expected, (source, engine)


dataset_choices = st.one_of(
    st.none(),
    st.lists(
        st.sampled_from([TRAIN1, TRAIN2, EVAL, {"dataset_name": "train"}]),
        min_size=1,
        max_size=2,
        unique_by=str,
    ),
)
order_choices = st.one_of(
    st.none(),
    st.lists(
        st.builds(
            lambda field, ascending, dataset: {"field_name": field, "ascending": ascending, **dataset},
            st.sampled_from(["name", "status", "creation_timestamp", *(f"metrics.{k}" for k in KEYS)]),
            st.booleans(),
            st.sampled_from(
                [{}, {"dataset_name": "train"}, {"dataset_name": "eval", "dataset_digest": "e1"}]
            ),
        ),
        min_size=1,
        max_size=2,
    ),
)


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    records=models(),
    tree=trees,
    datasets=dataset_choices,
    order_by=order_choices,
    target=st.sampled_from(["mlflow", "mlflow-3.17"]),
    fmt=st.sampled_from(["ids", "json", "table"]),
)
def test_every_engine_prints_what_python_prints_for_generated_cases(
    tmp_path_factory: pytest.TempPathFactory,
    records: list[JSON],
    tree: ast.Expr,
    datasets: list[JSON] | None,
    order_by: list[JSON] | None,
    target: str,
    fmt: str,
) -> None:
    where = make_sources(tmp_path_factory.mktemp("generated"), records)
    argv = ["eval", lmfilter.format(tree), "--format", fmt, *options(datasets, order_by, target)]
    expected = run(*argv, "--models", str(where["json"]), "--engine", "python")
    assert expected[0] == EXIT_OK, expected[2]
    for source, engine in READERS:
        assert run(*argv, "--models", str(where[source]), "--engine", engine) == expected, (source, engine)


def test_an_empty_store_answers_nothing(tmp_path: Path) -> None:
    where = make_sources(tmp_path, [])
    for source in ("json", "store", "parquet"):
        assert run("eval", "", "--models", str(where[source]), "--engine", "duckdb") == (EXIT_OK, "", "")
        status, out, _ = run("eval", "", "--models", str(where[source]), "--format", "table")
        assert (status, out.splitlines()[-1]) == (EXIT_OK, "0 of 0 models")


# ---- 2. which engine auto takes ---------------------------------------------------------------------------


def test_auto_takes_duckdb_for_a_store_and_python_for_a_small_file(
    sources: dict[str, Path], tmp_path: Path
) -> None:
    assert cli._engine("auto", str(sources["store"])) is True
    assert cli._engine("auto", str(sources["parquet"])) is True
    assert cli._engine("auto", str(sources["json"])) is False
    assert cli._engine("auto", "-") is False
    # a store is known by its content, whatever its name; a name in .duckdb is a store that is not there yet
    renamed = tmp_path / "cache.bin"
    renamed.write_bytes(sources["store"].read_bytes())
    assert cli._engine("auto", str(renamed)) is True
    assert cli._engine("auto", str(tmp_path / "missing.duckdb")) is True
    assert cli._engine("auto", str(tmp_path / "missing.json")) is False
    # a file of AUTO_DUCKDB_BYTES or more (sparse here: only its size is read)
    for size, duckdb in ((AUTO_DUCKDB_BYTES - 1, False), (AUTO_DUCKDB_BYTES, True)):
        big = tmp_path / f"big-{size}.jsonl"
        with big.open("wb") as file:
            file.truncate(size)
        assert cli._engine("auto", str(big)) is duckdb
        assert cli._engine("python", str(big)) is False
    # what is forced is taken
    assert cli._engine("duckdb", str(sources["json"])) is True
    assert cli._engine("python", str(sources["json"])) is False


def test_auto_over_a_large_saved_answer_is_python_s_answer(tmp_path: Path) -> None:
    records = example_models()
    large = tmp_path / "answer.json"  # a saved search answer grown past the threshold by its page token
    large.write_text(json.dumps({"models": records, "next_page_token": "t" * AUTO_DUCKDB_BYTES}), "utf-8")
    assert cli._engine("auto", str(large)) is True
    text = "metrics.acc > 0.5 OR params.lr IS NULL"
    expected = [m.model_id for m in lmfilter.select(records, text)]
    assert expected
    assert run("eval", text, "--models", str(large)) == (EXIT_OK, "".join(f"{i}\n" for i in expected), "")


def test_python_cannot_read_a_store(sources: dict[str, Path]) -> None:
    for source, kind in (("store", "a DuckDB file"), ("parquet", "a directory")):
        result = run("eval", "", "--models", str(sources[source]), "--engine", "python")
        one_error(result, EXIT_USAGE, "eval", re.escape(f"{sources[source]} is {kind}") + ".*--engine duckdb")


def test_without_the_sql_extra(sources: dict[str, Path], tmp_path: Path) -> None:
    """A Python without duckdb and sqlglot: files are read by Python, stores and --db say what to install."""
    code = textwrap.dedent("""
        import sys
        sys.modules["duckdb"] = sys.modules["sqlglot"] = None  # import duckdb raises ImportError
        from lmfilter.cli import main
        sys.exit(main(sys.argv[1:]))
    """)

    def lmfilter_(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-c", code, *argv], capture_output=True, text=True, timeout=60, check=False
        )

    plain = lmfilter_("eval", "metrics.acc > 0.5", "--models", str(sources["jsonl"]))
    assert (plain.returncode, plain.stdout, plain.stderr) == (
        EXIT_OK,
        run("eval", "metrics.acc > 0.5", "--models", str(sources["jsonl"]))[1],
        "",
    )
    for argv in (
        ["eval", "", "--models", str(sources["store"])],
        ["eval", "", "--models", str(sources["parquet"])],
        ["eval", "", "--models", str(sources["json"]), "--engine", "duckdb"],
        ["search", "", "--db", str(tmp_path / "mlflow.db"), "--experiment-id", "1"],
    ):
        done = lmfilter_(*argv)
        one_error(
            (done.returncode, done.stdout, done.stderr), EXIT_USAGE, argv[0], r"pip install 'lmfilter\[sql\]'"
        )
    assert not (tmp_path / "mlflow.db").exists()


# ---- 3. what is not a store, and paths that are not paths --------------------------------------------


def test_a_duckdb_file_that_is_not_a_store(tmp_path: Path) -> None:
    import duckdb

    path = tmp_path / "other.duckdb"
    duckdb.connect(str(path)).execute("CREATE TABLE t (x INTEGER)").close()
    for engine in ("auto", "duckdb"):
        one_error(
            run("eval", "", "--models", str(path), "--engine", engine),
            EXIT_ERRORS,
            "eval",
            "not a model store",
        )
    one_error(
        run("eval", "", "--models", str(path), "--engine", "python"), EXIT_USAGE, "eval", "a DuckDB file"
    )


def test_a_store_with_another_layout(sources: dict[str, Path], tmp_path: Path) -> None:
    """MLflow's table names over other columns, in a store file or a Parquet export: refused, not run."""
    import duckdb

    path = tmp_path / "changed.duckdb"
    path.write_bytes(sources["store"].read_bytes())
    with duckdb.connect(str(path)) as con:
        con.execute("DROP TABLE logged_models")
        con.execute("CREATE TABLE logged_models (x INTEGER)")
    export = tmp_path / "export"
    export.mkdir()
    for part in sources["parquet"].iterdir():
        (export / part.name).write_bytes(part.read_bytes())
    with duckdb.connect() as con:
        target = str(export / "logged_models.parquet").replace("'", "''")
        con.execute(f"COPY (SELECT 1 AS x) TO '{target}' (FORMAT parquet)")
    for where in (path, export):
        one_error(
            run("eval", "name = 'a'", "--models", str(where)), EXIT_ERRORS, "eval", re.escape(str(where))
        )


def test_a_file_named_duckdb_that_is_not_duckdb(tmp_path: Path) -> None:
    path = tmp_path / "models.duckdb"
    path.write_text("SQLite format 3\0 or anything else", encoding="utf-8")
    for engine in ("auto", "duckdb"):
        one_error(run("eval", "", "--models", str(path), "--engine", engine), EXIT_ERRORS, "eval", "DuckDB")
    # asked to, Python reads it as the model file it is not
    one_error(
        run("eval", "", "--models", str(path), "--engine", "python"), EXIT_ERRORS, "eval", "expected JSON"
    )
    # and a model file so named is read by Python when asked
    path.write_text(jsonl(example_models()), encoding="utf-8")
    status, out, _ = run("eval", "", "--models", str(path), "--engine", "python")
    assert (status, out.split()) == (EXIT_OK, [m["info"]["model_id"] for m in example_models()])


def test_an_empty_file_named_duckdb(tmp_path: Path) -> None:
    path = tmp_path / "empty.duckdb"
    path.touch()
    one_error(run("eval", "", "--models", str(path)), EXIT_ERRORS, "eval", re.escape(str(path)))
    assert path.stat().st_size == 0  # opened read-only: not made into a database


@pytest.mark.parametrize(
    ("make", "message"),
    [
        ("empty", r"no logged_models\.parquet"),
        ("partial", r"no logged_model_metrics\.parquet"),
        ("damaged", r"cannot read its Parquet files"),
    ],
)
def test_a_directory_that_is_not_an_export(
    sources: dict[str, Path], tmp_path: Path, make: str, message: str
) -> None:
    folder = tmp_path / "export"
    folder.mkdir()
    if make != "empty":
        for part in sources["parquet"].iterdir():
            (folder / part.name).write_bytes(part.read_bytes())
    if make == "partial":
        (folder / "logged_model_metrics.parquet").unlink()
    if make == "damaged":
        (folder / "logged_model_tags.parquet").write_bytes(b"not parquet")
    for engine in ("auto", "duckdb"):
        result = run("eval", "", "--models", str(folder), "--engine", engine)
        one_error(result, EXIT_ERRORS, "eval", re.escape(f"{folder}: ") + message)
    one_error(
        run("eval", "", "--models", str(folder), "--engine", "python"), EXIT_USAGE, "eval", "a directory"
    )


def test_a_missing_store_is_not_made(tmp_path: Path) -> None:
    path = tmp_path / "missing.duckdb"
    for engine in ("auto", "duckdb"):
        one_error(
            run("eval", "", "--models", str(path), "--engine", engine), EXIT_ERRORS, "eval", "no such store"
        )
    one_error(
        run("eval", "", "--models", str(path), "--engine", "python"), EXIT_ERRORS, "eval", "cannot read it"
    )
    (tmp_path / "dangling.duckdb").symlink_to(path)
    one_error(
        run("eval", "", "--models", str(tmp_path / "dangling.duckdb")), EXIT_ERRORS, "eval", "no such store"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dangling.duckdb"]


@contextlib.contextmanager
def held_open(path: Path, *, read_only: bool) -> Iterator[None]:
    """The store open in another process until the block ends."""
    code = textwrap.dedent("""
        import sys
        from lmfilter.sql import ModelStore
        with ModelStore(sys.argv[1], read_only=sys.argv[2] == "ro"):
            print("open", flush=True)
            sys.stdin.read()  # until the test closes the pipe
    """)
    holder = subprocess.Popen(
        [sys.executable, "-c", code, str(path), "ro" if read_only else "rw"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline() == "open\n"
        yield
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(timeout=30)
        assert holder.stdout is not None
        holder.stdout.close()


def test_a_store_another_process_writes_is_refused(sources: dict[str, Path], tmp_path: Path) -> None:
    path = tmp_path / "held.duckdb"
    path.write_bytes(sources["store"].read_bytes())
    before = path.read_bytes()
    with held_open(path, read_only=False):
        result = run("eval", "", "--models", str(path))
        one_error(
            result, EXIT_ERRORS, "eval", re.escape(str(path)) + ": the store is open in another process"
        )
    assert path.read_bytes() == before
    expected = run("eval", "", "--models", str(sources["json"]), "--engine", "python")
    assert run("eval", "", "--models", str(path)) == expected  # free again once the other closed it


def test_a_store_another_process_reads_is_read(sources: dict[str, Path]) -> None:
    expected = run("eval", "params.lr < 0.05", "--models", str(sources["json"]), "--engine", "python")
    with held_open(sources["store"], read_only=True):
        assert run("eval", "params.lr < 0.05", "--models", str(sources["store"])) == expected


def test_a_store_this_process_holds_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "mine.duckdb"
    with ModelStore(path):
        one_error(run("eval", "", "--models", str(path)), EXIT_ERRORS, "eval", "already open in this process")


HOSTILE_NAMES = ["new\nline", 'it\'s "quoted"', "tab\tand\x1b[31mescape", "per%cent ?#*"]


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_a_store_and_an_export_at_a_hostile_path(sources: dict[str, Path], tmp_path: Path, name: str) -> None:
    expected = run("eval", "metrics.acc > 0.5", "--models", str(sources["json"]), "--engine", "python")
    store, export = tmp_path / f"{name}.duckdb", tmp_path / f"{name} export"
    store.write_bytes(sources["store"].read_bytes())
    with ModelStore(store, read_only=True) as opened:
        opened.to_parquet(export)
    for where in (store, export):
        assert run("eval", "metrics.acc > 0.5", "--models", str(where)) == expected


@pytest.mark.parametrize("name", HOSTILE_NAMES)
@pytest.mark.parametrize("suffix", [".duckdb", ".json", "/"])
def test_a_hostile_path_that_names_nothing_is_one_line(tmp_path: Path, name: str, suffix: str) -> None:
    path = str(tmp_path / name) + suffix
    for engine in ("auto", "python", "duckdb"):
        err = one_error(run("eval", "", "--models", path, "--engine", engine), EXIT_ERRORS, "eval", "")
        assert err[:-1].isprintable(), err  # the path's controls escaped, not written to the terminal
        assert name.split("\n")[0].split("\t")[0] in err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", ["a\0b.duckdb", "a\0b.json", "\0"])
def test_a_path_with_nul_is_one_line(name: str) -> None:
    for engine in ("auto", "python", "duckdb"):
        result = run("eval", "", "--models", name, "--engine", engine)
        one_error(result, EXIT_ERRORS, "eval", r"\\x00.*holds no NUL character")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("not json\n", r"expected JSON lines, a JSON array or a search answer"),
        ('{"info": {"model_id": "m-1"}\n', r"bad JSON"),
        ("[1, 2]", r"item 1 of the array is a number"),
        ('{"info": {"model_id": "m-\udce9"}}\n', r":1:\d+: not UTF-8"),
    ],
)
def test_a_file_that_is_no_model_file_says_so_alike_in_both_engines(
    tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "models.json"
    path.write_bytes(text.encode("utf-8", "surrogateescape"))  # \udce9: the byte 0xe9, not UTF-8 here
    python = one_error(
        run("eval", "", "--models", str(path), "--engine", "python"), EXIT_ERRORS, "eval", message
    )
    assert run("eval", "", "--models", str(path), "--engine", "duckdb") == (EXIT_ERRORS, "", python)


def test_a_bad_record_names_the_file_in_both_engines(tmp_path: Path) -> None:
    records = example_models()
    path = tmp_path / "twice.json"
    path.write_text(json.dumps([*records, records[0]]), encoding="utf-8")
    pattern = re.escape(str(path)) + r"(:\d+)?: record 38 .*another record before it has this id"
    for engine in ("python", "duckdb"):
        one_error(run("eval", "", "--models", str(path), "--engine", engine), EXIT_ERRORS, "eval", pattern)


def test_standard_input_is_for_python(monkeypatch: pytest.MonkeyPatch, sources: dict[str, Path]) -> None:
    text = sources["jsonl"].read_text(encoding="utf-8")
    expected = run("eval", "metrics.acc > 0.5", "--models", str(sources["jsonl"]), "--engine", "python")
    for engine in ("auto", "python"):
        monkeypatch.setattr(sys, "stdin", io.StringIO(text))
        assert run("eval", "metrics.acc > 0.5", "--models", "-", "--engine", engine) == expected
    monkeypatch.setattr(sys, "stdin", io.StringIO(text))
    result = run("eval", "metrics.acc > 0.5", "--models", "-", "--engine", "duckdb")
    one_error(result, EXIT_USAGE, "eval", "--engine duckdb reads a file, not standard input")
    assert sys.stdin.read() == text  # left unread


def test_a_fifo_is_never_opened_as_a_store(tmp_path: Path) -> None:
    """Bounded: a FIFO without a writer would block whoever opens it."""
    fifo = tmp_path / "pipe.duckdb"
    os.mkfifo(fifo)
    for engine in ("auto", "duckdb"):
        done = subprocess.run(
            [sys.executable, "-m", "lmfilter", "eval", "", "--models", str(fifo), "--engine", engine],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        one_error((done.returncode, done.stdout, done.stderr), EXIT_ERRORS, "eval", "not a store file")


# ---- 4. search --db against the real servers' databases ---------------------------------------------------


def where_args(seeded: SeededServer) -> list[str]:
    return [a for e in seeded.seeded.experiment_ids for a in ("--experiment-id", e)]


def db_url(seeded: SeededServer) -> str:
    return f"sqlite:///{seeded.server.tmpdir / 'mlflow.db'}"


def same_answer(fmt: str, db: str, other: str, *, eval_: bool = False) -> bool:
    """Whether two answers say the same: the same text; JSON parsed; a table but for its closing count
    (eval's says of how many models)."""
    if fmt == "json":
        return bool(json.loads(db) == json.loads(other))
    if fmt == "table" and eval_:
        return db.splitlines()[:-1] == other.splitlines()[:-1]
    return db == other


Request = tuple[str, list[JSON] | None, list[JSON] | None]  # a filter, datasets and order_by
NATIVE: list[Request] = [
    ("params.optimizer ILIKE 'adam'", None, None),
    ("metrics.acc > 0.5", [TRAIN1, TRAIN2], [{"field_name": "metrics.acc", "ascending": False}]),
    ("tags.team LIKE 'Ä%'", None, [{"field_name": "name"}, {"field_name": "model_id", "ascending": False}]),
    ("", [EVAL], [{"field_name": "metrics.loss", "dataset_name": "eval", "dataset_digest": "d-eval-1"}]),
    ("name LIKE 'model-%' AND params.depth = '10'", None, [{"field_name": "creation_timestamp"}]),
]


@pytest.mark.parametrize("fmt", ["ids", "json", "table"])
def test_db_prints_what_the_server_prints(mlflow_server: SeededServer, fmt: str) -> None:
    url, base = db_url(mlflow_server), mlflow_server.server.base_url
    for text, datasets, order_by in NATIVE:
        target = TARGETS[mlflow_server.server.version]
        assert lmfilter.check(text, target, native=True) == [], text
        argv = ["search", text, *where_args(mlflow_server), "--format", fmt]
        argv += options(datasets, order_by)
        served = run(*argv, "--server", base)
        assert served[0] == EXIT_OK, served[2]
        read = run(*argv, "--db", url)
        assert (read[0], read[2]) == (EXIT_OK, "")
        assert same_answer(fmt, read[1], served[1]), (text, datasets, order_by)
        if fmt == "ids":
            assert read[1], text  # no empty case
            short = run(*argv, "--db", url, "--max-results", "2")
            assert short[1].splitlines() == read[1].splitlines()[:2]


EXTENDED: list[Request] = [
    ("params.optimizer = 'adam' OR tags.team IS NULL", None, None),
    ("NOT metrics.acc > 0.5", [{"dataset_name": "train"}], None),
    ("params.depth > 5 AND params.lr < 1", None, [{"field_name": "metrics.acc", "ascending": False}]),
    ("metrics.score IS NULL OR metrics.loss NOT BETWEEN 0.5 AND 1.5", [TRAIN1], [{"field_name": "name"}]),
    ("model_type IS NULL OR source_run_id = ''", None, [{"field_name": "status"}]),
]


@pytest.mark.parametrize("fmt", ["ids", "json", "table"])
def test_db_prints_what_eval_prints_beyond_the_native_language(
    mlflow_server: SeededServer, fmt: str, tmp_path: Path
) -> None:
    saved = tmp_path / "models.json"
    saved.write_text(json.dumps({"models": list(mlflow_server.seeded.models.values())}), encoding="utf-8")
    target = TARGETS[mlflow_server.server.version]
    for text, datasets, order_by in EXTENDED:
        assert lmfilter.check(text, target, native=True) != [], text  # the server cannot run it
        more = [*options(datasets, order_by), "--format", fmt]
        evaluated = run("eval", text, "--models", str(saved), "--target", target, *more)
        assert evaluated[0] == EXIT_OK, evaluated[2]
        read = run("search", text, *where_args(mlflow_server), "--db", db_url(mlflow_server), *more)
        assert (read[0], read[2]) == (EXIT_OK, "")
        assert same_answer(fmt, read[1], evaluated[1], eval_=True), (text, datasets, order_by)
        assert read[1].strip() or fmt == "table", text


def test_db_reads_with_the_semantics_of_its_version(
    mlflow_server_317: SeededServer, mlflow_server_318: SeededServer
) -> None:
    # 3.18 compares a metric's latest row among the datasets', 3.17 any of them
    text, datasets = "metrics.acc < 0.5", [TRAIN1]
    for seeded, other in ((mlflow_server_317, "mlflow"), (mlflow_server_318, "mlflow-3.17")):
        version = seeded.server.version
        own = TARGETS[version]

        def ids(target: str, seeded: SeededServer = seeded) -> list[str]:
            found = lmfilter.select(seeded.seeded.models.values(), text, datasets=datasets, target=target)
            return [m.model_id for m in found]

        assert ids(own) != ids(other), "a case where the versions differ"
        argv = ["search", text, *where_args(seeded), "--datasets", json.dumps(datasets)]
        served = run(*argv, "--server", seeded.server.base_url)
        read = run(*argv, "--db", db_url(seeded), "-v")
        assert read[1] == served[1] == "".join(f"{i}\n" for i in ids(own))
        assert read[0] == EXIT_OK
        database = str(seeded.server.tmpdir / "mlflow.db")
        assert read[2] == (
            f"lmfilter search: database {database!r} (sqlite, MLflow {version}, "
            f"alembic revision {REVISIONS[version]}), semantics of {own}\n"
        )
        # a target given is taken over the database's
        forced = run(*argv, "--db", db_url(seeded), "--target", other)
        assert forced == (EXIT_OK, "".join(f"{i}\n" for i in ids(other)), "")


def test_db_reads_while_the_server_writes(mlflow_server: SeededServer) -> None:
    """The server writes its database (models created, params logged, some deleted) while searches read it."""
    server = mlflow_server.server
    experiment = server.rest.post("experiments/create", {"name": f"cli-sql-writes-{server.version}"})
    experiment_id = experiment["experiment_id"]
    created: list[str] = []
    deleted: list[str] = []
    failure: list[BaseException] = []

    def write() -> None:
        try:
            for i in range(12):
                model = server.rest.post("logged-models", {"experiment_id": experiment_id, "name": f"w-{i}"})
                model_id = model["model"]["info"]["model_id"]
                created.append(model_id)
                params = {"model_id": model_id, "params": [{"key": "i", "value": str(i)}]}
                server.rest.post(f"logged-models/{model_id}/params", params)
                if i % 3 == 2:
                    server.rest.delete(f"logged-models/{model_id}")
                    deleted.append(model_id)
        except BaseException as error:  # reported by the test's thread
            failure.append(error)

    argv = ["search", "params.i >= 0 OR params.i IS NULL", "--experiment-id", experiment_id]
    writer = threading.Thread(target=write)
    writer.start()
    seen: set[str] = set()
    searches = 0
    try:
        while writer.is_alive() or searches == 0:
            status, out, err = run(*argv, "--db", db_url(mlflow_server), "--format", "json")
            assert (status, err) == (EXIT_OK, "")
            seen.update(m["info"]["model_id"] for m in json.loads(out))
            searches += 1
    finally:
        writer.join(60)
    assert not failure, failure
    assert searches >= 3  # most while the server wrote
    assert seen <= set(created)
    final = run(*argv, "--db", db_url(mlflow_server))
    assert final == run(*argv, "--server", server.base_url)
    assert sorted(final[1].split()) == sorted(set(created) - set(deleted))


def test_db_answer_is_one_committed_state(server_copy: Path, mlflow_server_318: SeededServer) -> None:
    """A writer changes a param and a tag of every model in each transaction: an answer never mixes two."""
    with contextlib.closing(sqlite3.connect(server_copy)) as setup:
        for table in ("logged_model_params", "logged_model_tags"):
            setup.execute(
                f"INSERT INTO {table} SELECT model_id, experiment_id, 'probe', '0' FROM logged_models"
            )
        setup.commit()
    code = textwrap.dedent("""
        import sqlite3, sys, time
        c = sqlite3.connect(sys.argv[1], timeout=30, isolation_level=None)
        end, n = time.monotonic() + float(sys.argv[2]), 0
        while time.monotonic() < end:
            n += 1
            c.execute("BEGIN IMMEDIATE")
            c.execute("UPDATE logged_model_params SET param_value = ? WHERE param_key = 'probe'", (str(n),))
            c.execute("UPDATE logged_model_tags SET tag_value = ? WHERE tag_key = 'probe'", (str(n),))
            c.execute("COMMIT")
            time.sleep(0.002)  # as a server does, between requests
    """)
    argv = ["search", "tags.probe LIKE '%'", *where_args(mlflow_server_318), "--db", str(server_copy)]
    writer = subprocess.Popen([sys.executable, "-c", code, str(server_copy), "2"])
    answers = []
    try:
        while writer.poll() is None:
            status, out, err = run(*argv, "--format", "json")
            assert (status, err) == (EXIT_OK, "")
            answers.append(json.loads(out))
    finally:
        writer.wait(60)
    assert writer.returncode == 0
    assert len(answers) >= 3
    for found in answers:
        assert len(found) == len(mlflow_server_318.seeded.models)
        values = {p["value"] for m in found for p in m["data"]["params"] if p["key"] == "probe"}
        values |= {t["value"] for m in found for t in m["info"]["tags"] if t["key"] == "probe"}
        assert len(values) == 1, values


# ---- search --db: what is not a database to read --------------------------------------------------------


@pytest.mark.parametrize(
    "flags",
    [
        ["--server", "http://127.0.0.1:9"],
        ["--host", "https://x.cloud.databricks.com"],
        ["--deployment-name", "x"],
    ],
    ids=lambda flags: flags[0],
)
def test_db_with_a_server_is_a_usage_error(tmp_path: Path, flags: list[str]) -> None:
    status, out, err = run("search", "", "--db", str(tmp_path / "mlflow.db"), "--experiment-id", "1", *flags)
    assert (status, out) == (EXIT_USAGE, "")
    assert f"argument {flags[0]}: not allowed with argument --db" in err


@pytest.mark.parametrize("flags", [["--token", "t"], ["--profile", "p"]], ids=lambda flags: flags[0])
def test_db_with_a_servers_option_is_a_usage_error(tmp_path: Path, flags: list[str]) -> None:
    result = run("search", "", "--db", str(tmp_path / "mlflow.db"), "--experiment-id", "1", *flags)
    one_error(result, EXIT_USAGE, "search", re.escape(flags[0]) + " is for a server")
    assert not (tmp_path / "mlflow.db").exists()


def _not_mlflow(folder: Path) -> dict[str, tuple[Path, str]]:
    import duckdb

    sqlite_other = folder / "other.db"
    with contextlib.closing(sqlite3.connect(sqlite_other)) as con:
        con.execute("CREATE TABLE t (x)")
        con.commit()
    store = folder / "models.duckdb"
    duckdb.connect(str(store)).close()
    text = folder / "models.json"
    text.write_text("[]", encoding="utf-8")
    empty = folder / "empty.db"
    empty.touch()
    directory = folder / "server"
    directory.mkdir()
    (directory / "mlflow.db").touch()
    return {
        "sqlite, not mlflow": (sqlite_other, "not MLflow's tracking database"),
        "duckdb": (store, "not an SQLite database"),
        "json": (text, "not an SQLite database"),
        "empty": (empty, "empty"),
        "directory": (directory, "is a directory.*did you mean .*mlflow\\.db"),
    }


@pytest.mark.parametrize("case", ["sqlite, not mlflow", "duckdb", "json", "empty", "directory"])
def test_db_that_is_not_mlflows(tmp_path: Path, case: str) -> None:
    path, message = _not_mlflow(tmp_path)[case]
    before = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*")}
    for url in (str(path), f"sqlite:///{path}"):
        one_error(run("search", "", "--db", url, "--experiment-id", "1"), EXIT_ERRORS, "search", message)
    assert {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*")} == before  # nothing written


def test_db_missing_is_not_made(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for url in ("sqlite:///mlflow.db", f"sqlite:///{tmp_path / 'mlflow.db'}", "mlflow.db", "new\nline.db"):
        result = run("search", "", "--db", url, "--experiment-id", "1")
        one_error(result, EXIT_ERRORS, "search", "does not exist")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("postgresql://me:secret@127.0.0.1:1/mlflow", r"cannot be reached"),
        ("postgresql+psycopg2://me:secret@db:5432/mlflow?bogus=1", r"libpq's connection keywords"),
        ("mysql://me:secret@db/mlflow", r"MySQL is not read by lmfilter"),
        ("http://127.0.0.1:5000", r"is a tracking server, not a database: search it with --server"),
        ("sqlite:///:memory:", r"in-memory database"),
        ("sqlite://host/mlflow.db", r"names a host"),
        ("sqlite:///mlflow.db?mode=rwc", r"has options"),
        ("", r"no database given"),
        ("a\0b.db", r"holds a NUL character"),
    ],
)
def test_db_url_lmfilter_does_not_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, url: str, message: str
) -> None:
    monkeypatch.chdir(tmp_path)
    err = one_error(run("search", "", "--db", url, "--experiment-id", "1"), EXIT_ERRORS, "search", message)
    assert "secret" not in err
    assert list(tmp_path.iterdir()) == []


def test_db_unknown_experiment_and_bad_options(mlflow_server_318: SeededServer) -> None:
    url = db_url(mlflow_server_318)
    one_error(
        run("search", "", "--db", url, "--experiment-id", "999999"), EXIT_ERRORS, "search", "no experiment"
    )
    ids = where_args(mlflow_server_318)
    one_error(
        run("search", "", "--db", url, *ids, "--target", "databricks"), EXIT_ERRORS, "search", "MLflow target"
    )
    one_error(
        run("search", "", "--db", url, *ids, "--max-results", "-1"), EXIT_ERRORS, "search", "max_results"
    )
    one_error(run("search", "", "--db", url, *ids, "--datasets", "{}"), EXIT_ERRORS, "search", "--datasets")
    status, out, err = run("search", "name = 'a' OR", "--db", url, *ids)
    assert (status, out) == (EXIT_ERRORS, "")
    assert err.startswith("error[LMF102]")
    # experiments by name too, each once
    named = run("search", "", "--db", url, "--experiment-id", "lmfilter-conformance-a", *ids)
    assert named == run("search", "", "--db", url, *ids)
