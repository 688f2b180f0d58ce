"""The public API as one piece: one word for the filter, a text or a tree everywhere, one default target,
``max_results`` as MLflow's search takes it, one error family in words, and no process-wide side effect."""

from __future__ import annotations

import gc
import inspect
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import lmfilter
from lmfilter import api, ast
from lmfilter.cli import EXIT_ERRORS, main
from lmfilter.model_files import CacheError
from lmfilter.wire import SearchLoggedModelsResponse

MODELS: list[dict[str, Any]] = [
    {
        "info": {"model_id": f"m-{i}", "name": f"n{i % 3}", "creation_timestamp_ms": i},
        "data": {"params": [{"key": "alpha", "value": str(i / 10)}], "metrics": [{"key": "acc", "value": i}]},
    }
    for i in range(8)
]


def ids(models: list[lmfilter.LoggedModel]) -> list[str]:
    return [m.model_id for m in models]


# ---- one vocabulary ---------------------------------------------------------------------------------

ENTRY_POINTS: list[Callable[..., Any]] = [
    lmfilter.parse,
    lmfilter.check,
    lmfilter.format,
    lmfilter.is_valid,
    lmfilter.compile_query,
    lmfilter.compile,
    lmfilter.plan,
    lmfilter.ModelTable.select,
]


@pytest.mark.parametrize("entry", ENTRY_POINTS, ids=lambda f: f.__qualname__)
def test_the_filter_argument_is_called_filter_and_the_target_defaults_to_mlflow(
    entry: Callable[..., Any],
) -> None:
    parameters = inspect.signature(entry).parameters
    assert "filter" in parameters
    assert "text" not in parameters
    if "target" in parameters:
        assert parameters["target"].default == "mlflow"


def test_select_and_optimize_name_their_arguments_alike() -> None:
    assert list(inspect.signature(lmfilter.select).parameters)[:2] == ["models", "filter"]
    assert inspect.signature(lmfilter.select).parameters["target"].default == "mlflow"
    assert inspect.signature(lmfilter.optimize).parameters["target"].default == "mlflow"


def test_every_entry_point_takes_filter_by_keyword() -> None:
    text = "params.alpha < 0.3 OR name = 'n2'"
    tree = lmfilter.parse(filter=text)
    assert lmfilter.check(filter=text) == lmfilter.check(text)
    assert lmfilter.format(filter=tree) == text
    assert lmfilter.is_valid(filter=text)
    expected = ["m-5", "m-2", "m-1", "m-0"]
    assert ids(lmfilter.select(MODELS, filter=text)) == expected
    assert ids(lmfilter.ModelTable(MODELS).select(filter=text)) == expected
    assert ids(lmfilter.compile_query(filter=text).select(MODELS)) == expected
    assert lmfilter.compile(filter="name = 'x'", experiment_ids=["1"]).filter == "name = 'x'"
    assert lmfilter.plan(filter=text, experiment_ids=["1"]).residual == lmfilter.parse(text)


def test_a_tree_is_taken_wherever_a_text_is() -> None:
    text = "params.alpha < 0.3 AND metrics.acc >= 1"
    tree = lmfilter.parse(text)
    assert lmfilter.parse(tree) == tree
    assert lmfilter.is_valid(tree)
    assert not lmfilter.is_valid(tree, native=True)
    assert ids(lmfilter.select(MODELS, tree)) == ids(lmfilter.select(MODELS, text)) == ["m-2", "m-1"]
    assert lmfilter.optimize(text) == lmfilter.optimize(tree)


def test_a_tree_is_checked_as_its_canonical_text() -> None:
    # Built by hand, with an untyped field and no spans: checked as the text format() gives it.
    field = ast.Field(ast.Entity.PARAM, "alpha")
    tree = ast.And(
        (ast.Compare(field, ast.Op.LT, ast.Number("0.3")), ast.Not(ast.IsNull(field, negated=False)))
    )
    text = lmfilter.format(tree)
    assert text == "params.alpha < 0.3 AND NOT params.alpha IS NULL"
    found = lmfilter.check(tree, native=True)
    assert found == lmfilter.check(text, native=True)
    assert [d.code for d in found] == ["LMF306", "LMF302", "LMF304"]
    assert [text[d.span.start : d.span.end] for d in found][:2] == ["params.alpha < 0.3", "NOT"]
    typed = lmfilter.parse(tree)  # a hand-built tree comes back checked: its field has a type now
    assert isinstance(typed, ast.And)
    assert isinstance(typed.items[0], ast.Compare)
    assert typed.items[0].field.type is ast.ValueType.STRING


@pytest.mark.parametrize("call", [lmfilter.parse, lmfilter.check, lmfilter.is_valid, lmfilter.optimize])
def test_neither_a_text_nor_a_tree_is_a_type_error_that_says_so(call: Callable[[Any], Any]) -> None:
    with pytest.raises(TypeError, match=r"a filter is a str or a tree \(lmfilter.Expr\), not bytes"):
        call(b"name = 'x'")
    with pytest.raises(TypeError, match="not String"):  # a node, but not a filter
        call(ast.String("x"))


def test_check_and_is_valid_agree_on_their_default_target() -> None:
    # MLflow 3.17 compares status by number: a name is an error there, not on the default target, MLflow 3.18.
    text = "status = 'READY'"
    assert not lmfilter.is_valid(text, target="mlflow-3.17", native=True)
    assert lmfilter.is_valid(text, native=True) == (not api.check(text, native=True)) is True
    # numeric params: fine locally, not natively on the default target; check and is_valid say the same
    assert lmfilter.is_valid("params.a < 1", target="local", native=True)
    assert not lmfilter.is_valid("params.a < 1", native=True)
    assert [d.code for d in lmfilter.check("params.a < 1", native=True)] == ["LMF306"]


# ---- max_results ------------------------------------------------------------------------------------


def test_max_results_keeps_the_first_models_of_the_order() -> None:
    everything = ids(lmfilter.select(MODELS))
    assert everything == [f"m-{i}" for i in reversed(range(8))]
    table = lmfilter.ModelTable(MODELS)
    query = lmfilter.compile_query(
        "name != 'n1'", order_by=[{"field_name": "metrics.acc", "ascending": True}]
    )
    ordered = ids(query.select(MODELS))
    for n in (0, 1, 3, 100):
        assert ids(lmfilter.select(MODELS, max_results=n)) == everything[:n]
        assert ids(table.select(max_results=n)) == everything[:n]
        assert ids(query.select(MODELS, max_results=n)) == ordered[:n]
        assert ids(table.run(query, max_results=n)) == ordered[:n]
    assert ids(lmfilter.select(MODELS, max_results=None)) == everything


@pytest.mark.parametrize("bad", [-1, True, 1.5, "3"])
def test_a_max_results_that_is_not_a_count_is_a_request_error(bad: Any) -> None:
    message = rf"max_results: must be a whole number of at least 0, not {bad!r}"
    for call in (
        lambda: lmfilter.select(iter(MODELS), max_results=bad),
        lambda: lmfilter.ModelTable(MODELS).select(max_results=bad),
        lambda: lmfilter.plan(experiment_ids=["1"], max_results=bad),
    ):
        with pytest.raises(lmfilter.RequestError, match=message.replace("(", r"\(").replace(")", r"\)")):
            call()
    with pytest.raises(lmfilter.RequestError, match="page_size: must be a whole number of at least 1"):
        lmfilter.plan(experiment_ids=["1"], page_size=-5)


def test_max_results_is_checked_before_a_model_is_read() -> None:
    def never() -> Iterator[dict[str, Any]]:
        raise AssertionError("read")
        yield {}

    with pytest.raises(lmfilter.RequestError):
        lmfilter.select(never(), max_results=-1)


# ---- Plan.steps yields public types -----------------------------------------------------------------


def test_plan_steps_yield_page_streams_a_caller_can_drive() -> None:
    text = "name = 'n1' OR metrics.acc > 5"
    planned = lmfilter.plan(text, experiment_ids=["1"], max_results=2)
    assert len(planned.requests) == 2  # one stream per OR term
    got = []
    for step in planned.steps():
        if isinstance(step, lmfilter.LoggedModel):
            got.append(step.model_id)
            continue
        assert step
        assert all(isinstance(stream, lmfilter.PageStream) for stream in step)
        for stream in step:  # a server that answers each request in one page, as select() would
            page = lmfilter.select(MODELS, stream.next_request().filter)
            stream.feed(SearchLoggedModelsResponse(models=tuple(page)))
    assert got == ids(lmfilter.select(MODELS, text, max_results=2)) == ["m-7", "m-6"]
    assert "PageStream" in lmfilter.planner.__all__
    assert "Step" in lmfilter.__all__


# ---- one error family -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "error",
    [
        lmfilter.FilterError,
        lmfilter.RequestError,
        lmfilter.RecordError,
        lmfilter.ModelFileError,
        lmfilter.UnknownTargetError,
    ],
)
def test_the_errors_about_a_value_are_lmfilter_errors_and_value_errors(error: type[Exception]) -> None:
    assert issubclass(error, lmfilter.LmfilterError)
    assert issubclass(error, ValueError)
    assert error.__name__ in lmfilter.__all__


def test_the_client_errors_are_lmfilter_errors() -> None:
    assert issubclass(lmfilter.PagingError, lmfilter.LoggedModelsError)
    assert issubclass(lmfilter.LoggedModelsError, lmfilter.LmfilterError)


def test_one_except_catches_what_each_stage_raises(tmp_path: Path) -> None:
    bad_file = tmp_path / "bad.jsonl"
    bad_file.write_text("not json\n")
    raisers: list[Callable[[], Any]] = [
        lambda: lmfilter.parse("nmae = 'x'"),
        lambda: lmfilter.select(MODELS, datasets=[{"dataset_name": ""}]),
        lambda: lmfilter.select([{"info": {"model_id": "m", "name": 5}}], "name = 'x'"),
        lambda: list(lmfilter.iter_models(bad_file)),
        lambda: lmfilter.check("name = 'x'", target="mlflow-9"),
    ]
    for raiser in raisers:
        with pytest.raises(lmfilter.LmfilterError):
            raiser()
    assert CacheError is lmfilter.ModelFileError  # the old name still catches it


@pytest.mark.parametrize(
    ("datasets", "order_by", "message"),
    [
        (["train"], None, 'datasets[0]: expected an object like {"dataset_name": "eval"}, got a string'),
        ([["train"]], None, "datasets[0]: expected an object like"),
        ([{}], None, r"datasets[0].dataset_name: missing (it is required)"),
        ([{"dataset_name": 7}], None, "datasets[0].dataset_name: expected a string, got a number (7)"),
        (
            [{"dataset_name": "a", "digest": "x"}],
            None,
            "datasets[0].digest: unknown key 'digest' (the keys are",
        ),
        (None, ["name"], 'order_by[0]: expected an object like {"field_name": "name", "ascending": false}'),
        (
            None,
            [{"field_name": "name", "ascending": "no"}],
            "order_by[0].ascending: expected true or false, got a",
        ),
        (
            None,
            [{"field_name": "name", "ascending": "false"}],
            "order_by[0].ascending: expected true or false",
        ),
        (None, [{"field_name": "name", "ascending": 0}], "order_by[0].ascending: expected true or false"),
        (
            None,
            [{"field_name": "name", "ascending": None}],
            "order_by[0].ascending: expected true or false, got null",
        ),
        (None, [{"field_name": "name", "asc": False}], "order_by[0].asc: unknown key 'asc'"),
        (None, [{"field_name": None}], "order_by[0].field_name: expected a string, got null"),
    ],
)
def test_a_bad_entry_is_a_request_error_in_words(datasets: Any, order_by: Any, message: str) -> None:
    calls: list[Callable[[], Any]] = [
        lambda: lmfilter.select(MODELS, datasets=datasets, order_by=order_by),
        lambda: lmfilter.compile(experiment_ids=["1"], datasets=datasets, order_by=order_by),
        lambda: lmfilter.plan(experiment_ids=["1"], datasets=datasets, order_by=order_by),
    ]
    for call in calls:
        with pytest.raises(lmfilter.RequestError) as caught:
            call()
        assert str(caught.value).startswith(message)
        assert "instance of" not in str(caught.value)
        assert "Input should" not in str(caught.value)


def test_json_and_python_booleans_are_taken() -> None:
    for ascending, first in ((True, "m-0"), (False, "m-7")):
        order_by = [{"field_name": "metrics.acc", "ascending": ascending}]
        assert ids(lmfilter.select(MODELS, order_by=order_by))[0] == first
    entry = lmfilter.OrderBy(field_name="metrics.acc", ascending=False)
    assert ids(lmfilter.select(MODELS, order_by=[entry]))[0] == "m-7"


def test_the_cli_says_what_a_bad_option_entry_should_be(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    models = tmp_path / "models.jsonl"
    models.write_text('{"info": {"model_id": "m-1", "name": "a"}}\n')
    cases = [
        (
            ["eval", "name = 'a'", "--models", str(models), "--datasets", '["train"]'],
            'lmfilter eval: datasets[0]: expected an object like {"dataset_name": "eval"}, got a string\n',
        ),
        (
            [
                "eval",
                "name = 'a'",
                "--models",
                str(models),
                "--order-by",
                '[{"field_name": "name", "ascending": "no"}]',
            ],
            "lmfilter eval: order_by[0].ascending: expected true or false, got a string ('no')\n",
        ),
        (
            [
                "compile",
                "name = 'a'",
                "--experiment-id",
                "1",
                "--order-by",
                '[{"field_name": "name", "ascending": "no"}]',
            ],
            "lmfilter compile: order_by[0].ascending: expected true or false, got a string ('no')\n",
        ),
        (
            [
                "explain",
                "name = 'a'",
                "--experiment-id",
                "1",
                "--datasets",
                '[{"dataset_name": "a", "x": 1}]',
            ],
            "lmfilter explain: datasets[0].x: unknown key 'x' (the keys are dataset_name, dataset_digest)\n",
        ),
    ]
    for argv, message in cases:
        assert main(argv) == EXIT_ERRORS
        out, err = capsys.readouterr()
        assert (out, err) == ("", message)


# ---- no process-wide side effects -------------------------------------------------------------------


def watched(models: list[dict[str, Any]], seen: list[bool], fail_at: int | None = None) -> Iterator[Any]:
    """The models, noting for each whether the collector was running while the caller's code ran."""
    for i, model in enumerate(models):
        seen.append(gc.isenabled())
        if i == fail_at:
            raise KeyError("the caller's own error")
        yield model


MANY = [
    {"info": {"model_id": f"m-{i}", "name": "a" if i % 2 else "b"}, "data": {}} for i in range(1500)
]  # several batches


@pytest.mark.parametrize("run", ["select", "table", "query"])
def test_the_callers_iterator_runs_with_the_collector_as_the_caller_set_it(run: str) -> None:
    def search(models: Iterator[Any]) -> list[lmfilter.LoggedModel]:
        if run == "select":
            return lmfilter.select(models, "name = 'a'")
        if run == "query":
            return lmfilter.compile_query("name = 'a'").select(models)
        return lmfilter.ModelTable(models).select("name = 'a'")

    assert gc.isenabled()
    seen: list[bool] = []
    assert len(search(watched(MANY, seen))) == 750
    assert len(seen) == len(MANY)
    assert all(seen)
    assert gc.isenabled()
    # An error in the caller's iterator, and one in a record: the collector runs again after either.
    with pytest.raises(KeyError):
        search(watched(MANY, [], fail_at=1200))
    assert gc.isenabled()
    broken = [*MANY[:900], {"info": {"model_id": "x", "name": ["a"]}}]
    with pytest.raises(lmfilter.RecordError):
        search(iter(broken))
    assert gc.isenabled()
    # A caller who paused the collector finds it paused still, and its iterator saw it paused.
    gc.disable()
    try:
        seen = []
        search(watched(MANY, seen))
        assert not any(seen)
        assert not gc.isenabled()
    finally:
        gc.enable()
