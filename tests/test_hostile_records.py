"""Records that try to break local evaluation, and one meaning for a record whatever its form (issue 11, 8-9).

- Item 9: an attribute a record leaves out means what the server stores for it (``lmfilter.records``:
  nullable attributes are null, the others hold the zero of their type), so API-JSON dicts, ``LoggedModel``
  objects, the columnar ``ModelTable`` and the optimized tree all give the same answer, in the same order.
- Item 8: a value the wire format allows is evaluated as the server would (experiment ids sort as MLflow's
  INTEGER column sorts them); any other is a ``RecordError`` naming the record, its model id and the field,
  never a ``TypeError``, ``OverflowError``, ``RecursionError`` or ``UnicodeEncodeError``. A model file that is
  not text (half a surrogate pair, JSON nested past the stack, a number of thousands of digits) is a
  ``ModelFileError`` with its place, and ``lmfilter eval`` prints a whole answer or none of it.
"""

from __future__ import annotations

import copy
import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, TextIO

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

import lmfilter
from lmfilter import ast
from lmfilter.ast import Entity, Op, ValueType
from lmfilter.cli import EXIT_ERRORS, EXIT_OK, main
from lmfilter.evaluate import experiment_order
from lmfilter.model_files import ModelFileError, iter_models
from lmfilter.optimizer import optimize
from lmfilter.records import RecordError
from lmfilter.schema import ATTRIBUTES
from lmfilter.status import ModelStatus
from tests.strategies import TEXTS, models, trees

JSON = dict[str, Any]
TARGETS = st.sampled_from(["mlflow", "mlflow-3.17"])


def ids(found: list[lmfilter.LoggedModel]) -> list[str]:
    return [m.model_id for m in found]


READERS = ("dicts", "table", "optimized", "models")


def answers(cache: list[JSON], tree: ast.Expr, order_by: list[JSON], target: str) -> dict[str, Any]:
    """What each reader answers over ``cache``: its ids in order, or ``RecordError``. The readers: ``select``
    over the dicts, a ``ModelTable`` of them, ``select`` with the optimized tree, and, when every record is a
    logged model, ``select`` over ``LoggedModel`` objects."""

    def attempt(run: Any) -> Any:
        try:
            return ids(run())
        except RecordError:
            return RecordError

    found = {
        "dicts": attempt(lambda: lmfilter.select(cache, tree, order_by=order_by, target=target)),
        "table": attempt(lambda: lmfilter.ModelTable(cache).select(tree, order_by=order_by, target=target)),
        "optimized": attempt(
            lambda: lmfilter.select(cache, optimize(tree, target), order_by=order_by, target=target)
        ),
    }
    try:
        parsed = [lmfilter.LoggedModel.model_validate(m) for m in cache]
    except ValidationError:
        return found
    found["models"] = attempt(lambda: lmfilter.select(parsed, tree, order_by=order_by, target=target))
    return found


# ---- item 9: what a missing attribute is -----------------------------------------------------------


def attribute_field(name: str) -> ast.Field:
    attr = next(a for a in ATTRIBUTES if a.name == name)
    return ast.Field(Entity.ATTRIBUTE, name, attr.type)


@pytest.mark.parametrize("attr", ATTRIBUTES, ids=lambda a: a.name)
def test_an_attribute_left_out_is_null_only_where_the_server_stores_null(attr: Any) -> None:
    bare = {"info": {"model_id": "m-1"}}
    for negated in (False, True):
        tree = ast.IsNull(attribute_field(attr.name), negated)
        matched = attr.nullable != negated
        assert answers([bare], tree, [], "mlflow") == dict.fromkeys(READERS, ["m-1"] if matched else [])


@pytest.mark.parametrize(
    ("text", "matched"),
    [
        ("name = ''", True),  # a server always names a model: '' stands for a name left out
        ("experiment_id = ''", True),
        ("status = 'UNSPECIFIED'", True),
        ("creation_timestamp = 0", True),
        ("last_updated_timestamp <= 0", True),
        ("artifact_location = ''", True),
        ("model_type = ''", False),  # null: unknown, not ''
        ("source_run_id != 'r'", False),
        ("status_message IS NULL", True),
    ],
)
def test_the_value_an_attribute_left_out_holds(text: str, matched: bool) -> None:
    tree = lmfilter.parse(text)
    bare = {"info": {"model_id": "m-1"}}
    assert answers([bare], tree, [], "mlflow") == dict.fromkeys(READERS, ["m-1"] if matched else [])


def test_a_table_shows_an_attribute_left_out_as_it_is_read(tmp_path: Path, capsys: Any) -> None:
    path = tmp_path / "models.jsonl"
    path.write_text(json.dumps({"info": {"model_id": "m-1"}}) + "\n", encoding="utf-8")
    assert main(["eval", "name = ''", "--models", str(path), "--format", "table"]) == EXIT_OK
    header, _, row, _ = capsys.readouterr().out.splitlines()
    assert header.split() == ["model_id", "name", "status", "created"]
    assert row.split() == ["m-1", "''", "UNSPECIFIED", "1970-01-01T00:00:00.000Z"]


# Records over the shared vocabulary, with fields left out and written in the other forms the wire allows.
_LEFT_OUT = (
    "name",
    "experiment_id",
    "status",
    "creation_timestamp_ms",
    "model_type",
    "source_run_id",
    "status_message",
    "artifact_uri",
)


@st.composite
def records(draw: st.DrawFn) -> list[JSON]:
    cache = draw(models(max_size=8))
    for m in cache:
        info = m["info"]
        info["experiment_id"] = draw(st.sampled_from(["1", "2", "10", "", "x"]))
        info["last_updated_timestamp_ms"] = draw(st.integers(0, 3))
        if draw(st.booleans()):
            info["source_run_id"] = draw(st.sampled_from(TEXTS))
        for field in draw(st.lists(st.sampled_from(_LEFT_OUT), unique=True, max_size=4)):
            info.pop(field, None)
        if "creation_timestamp_ms" in info and draw(st.booleans()):
            info["creation_timestamp_ms"] = str(info["creation_timestamp_ms"])  # int64 as text
        if "status" in info and draw(st.booleans()):
            info["status"] = ModelStatus(info["status"]).number  # by number, as 3.17 stores it
        for metric in m["data"]["metrics"]:
            form = draw(st.integers(0, 3))
            if form == 1 and metric["value"].is_integer():
                metric["value"] = int(metric["value"])
            elif form == 2:
                metric["value"] = repr(metric["value"])  # a double as text
            elif form == 3:
                del metric["step"]
        if not info["tags"] and draw(st.booleans()):
            del info["tags"]  # servers leave empty lists out
        if not (m["data"]["params"] or m["data"]["metrics"]) and draw(st.booleans()):
            del m["data"]
    return cache


@st.composite
def attribute_conditions(draw: st.DrawFn) -> ast.Expr:
    attr = draw(st.sampled_from(ATTRIBUTES))
    field = attribute_field(attr.name)
    if draw(st.booleans()):
        return ast.IsNull(field, draw(st.booleans()))
    if attr.type is ValueType.NUMBER:
        return ast.Compare(field, draw(st.sampled_from(list(Op))), ast.Number(str(draw(st.integers(0, 3)))))
    if attr.type is ValueType.STATUS:
        return ast.Compare(field, Op.EQ, ast.StatusValue(draw(st.sampled_from(list(ModelStatus)))))
    values = st.sampled_from([*TEXTS, "1", "10", "m-1"]).map(ast.String)
    return ast.Compare(field, draw(st.sampled_from([Op.EQ, Op.NE])), draw(values))


filters = st.one_of(
    trees,
    attribute_conditions(),
    st.tuples(trees, attribute_conditions()).map(ast.And),
    st.tuples(attribute_conditions(), trees).map(ast.Or),
    attribute_conditions().map(ast.Not),
)
orders = st.lists(
    st.builds(
        lambda f, a: {"field_name": f, "ascending": a},
        st.sampled_from([a.name for a in ATTRIBUTES] + ["metrics.a"]),
        st.booleans(),
    ),
    max_size=2,
)


@settings(max_examples=200, deadline=None)
@given(records(), filters, orders, TARGETS)
def test_dicts_models_the_table_and_the_optimized_tree_give_one_answer(
    cache: list[JSON], tree: ast.Expr, order_by: list[JSON], target: str
) -> None:
    found = answers(cache, tree, order_by, target)
    assert "models" in found  # these records are all valid
    assert found["dicts"] is not RecordError
    assert found["models"] == found["dicts"]
    assert found["table"] == found["dicts"]
    assert found["optimized"] == found["dicts"]


# ---- item 8: values that break a comparison or a sort -----------------------------------------------


EXPERIMENT_IDS = ["1", "", "10", "9", "x", "²", "١", "-3", "+4", "9" * 25, "0x1", " 2"]


NUMBERS_FIRST = [
    "-3",
    "1",
    "+4",
    "9",
    "10",
    "9" * 25,
    "",
    " 2",
    "0x1",
    "x",
    "²",
    "١",
]  # then text by code point


@pytest.mark.parametrize("ascending", [True, False])
def test_experiment_ids_sort_as_the_servers_integer_column(ascending: bool) -> None:
    """MLflow keeps experiment ids in an INTEGER column; mixing "1" and "" raised a TypeError before."""
    assert sorted(EXPERIMENT_IDS, key=experiment_order) == NUMBERS_FIRST
    cache = [
        {"info": {"model_id": f"m-{i:02}", "experiment_id": eid, "creation_timestamp_ms": 0}}
        for i, eid in enumerate(EXPERIMENT_IDS)
    ]
    order_by = [{"field_name": "experiment_id", "ascending": ascending}]
    in_order = NUMBERS_FIRST if ascending else NUMBERS_FIRST[::-1]
    expected = [f"m-{EXPERIMENT_IDS.index(eid):02}" for eid in in_order]
    assert answers(cache, ast.MATCH_ALL, order_by, "mlflow") == dict.fromkeys(READERS, expected)


def deep(levels: int) -> Any:
    value: Any = "x"
    for _ in range(levels):
        value = [value]
    return value


DEEP = deep(100_000)


@pytest.mark.parametrize(
    ("record", "text", "field"),
    [
        # a metric value past the largest double, as an exact integer (OverflowError before)
        ({"data": {"metrics": [{"key": "a", "value": 10**400}]}}, "metrics.a > 0", "data.metrics.0.value"),
        (
            {"data": {"metrics": [{"key": "a", "value": -(10**5000)}]}},
            "metrics.a > 0",
            "data.metrics.0.value",
        ),
        (
            {"info": {"creation_timestamp_ms": float("nan")}},
            "creation_timestamp > 0",
            "info.creation_timestamp_ms",
        ),
        ({"info": {"creation_timestamp_ms": float("inf")}}, "", "info.creation_timestamp_ms"),
        ({"data": {"metrics": [{"key": "a", "step": 1.5}]}}, "metrics.a > 0", "data.metrics.0.step"),
        ({"info": {"name": ["a"]}}, "name = 'a'", "info.name"),
        ({"info": {"name": None}}, "name IS NULL", "info.name"),
        ({"info": {"model_type": 7}}, "model_type = '7'", "info.model_type"),
        ({"info": {"experiment_id": 1}}, "experiment_id = '1'", "info.experiment_id"),
        ({"info": {"status": True}}, "status = 'READY'", "info.status"),
        ({"info": {"status": "failure"}}, "status = 'READY'", "info.status"),
        ({"info": {"tags": {}}}, "tags.t IS NULL", "info.tags"),
        ({"info": {"tags": None}}, "tags.t IS NULL", "info.tags"),
        ({"info": {"tags": [{"key": None, "value": "x"}]}}, "tags.t IS NULL", "info.tags.0.key"),
        ({"info": {"tags": [{"key": "t", "value": None}]}}, "tags.t IS NULL", "info.tags.0.value"),
        ({"info": {"tags": [{"key": "t", "value": ["x"]}]}}, "tags.t = 'x'", "info.tags.0.value"),
        ({"data": {"params": "a=1"}}, "params.a = '1'", "data.params"),
        ({"data": None}, "params.a = '1'", "data"),
        ({"data": {"metrics": [{"value": 1}]}}, "metrics.a > 0", "data.metrics.0.key"),
        (
            {"data": {"metrics": [{"key": "a", "dataset_name": 5}]}},
            "metrics.a > 0",
            "data.metrics.0.dataset_name",
        ),
        # nesting far past Python's stack, wherever it sits (RecursionError before)
        ({"info": {"creation_timestamp_ms": DEEP}}, "", "info.creation_timestamp_ms"),
        ({"info": {"name": DEEP}}, "name = 'x'", "info.name"),
        ({"info": {"tags": DEEP}}, "tags.t = 'x'", "info.tags.0"),
        ({"info": {"tags": [{"key": "t", "value": DEEP}]}}, "tags.t = 'x'", "info.tags.0.value"),
        ({"data": {"metrics": [{"key": "a", "value": DEEP}]}}, "metrics.a > 0", "data.metrics.0.value"),
        ({"data": {"metrics": DEEP}}, "metrics.a > 0", "data.metrics.0"),
        ({"data": DEEP}, "params.a = 'x'", "data"),
    ],
)
def test_a_value_the_wire_does_not_allow_is_a_record_error(record: JSON, text: str, field: str) -> None:
    good = {"info": {"model_id": "m-0", "name": "x", "tags": [{"key": "t", "value": "x"}]}}
    bad: JSON = {"info": {"model_id": "m-bad", **record.get("info", {})}}
    if "data" in record:
        bad["data"] = record["data"]
    for table in (False, True):
        with pytest.raises(RecordError) as caught:
            lmfilter.ModelTable([good, bad]).select(text) if table else lmfilter.select([good, bad], text)
        error = caught.value
        assert (error.index, error.model_id, error.field) == (1, "m-bad", field)
        assert len(str(error)) < 300  # however large or deep the value


@pytest.mark.parametrize(
    "info",
    [
        {},  # no model_id
        {"model_id": None},
        {"model_id": 5},
        {"model_id": DEEP},
    ],
)
def test_a_record_without_a_model_id_is_an_error_whatever_the_filter(info: JSON) -> None:
    for text in ("", "name = 'nothing matches this'"):
        with pytest.raises(RecordError, match=r"^record 1: info.model_id: "):
            lmfilter.select([{"info": {"model_id": "m-0"}}, {"info": info}], text)
        with pytest.raises(RecordError, match=r"^record 1: info.model_id: "):
            lmfilter.ModelTable([{"info": {"model_id": "m-0"}}, {"info": info}])


@pytest.mark.parametrize(
    ("record", "text", "field"),
    [
        (
            {"data": {"params": [{"key": "a", "value": "1"}, {"key": "a", "value": "2"}]}},
            "params.a = '1'",
            "data.params.1.key",
        ),
        ({"info": {"tags": [{"key": "t"}, {"key": "u"}, {"key": "t"}]}}, "tags.u = ''", "info.tags.2.key"),
    ],
)
def test_a_key_twice_in_params_or_tags_is_a_record_error_in_every_form(
    record: JSON, text: str, field: str
) -> None:
    bad: JSON = {"info": {"model_id": "m-bad", **record.get("info", {})}, "data": record.get("data", {})}
    for cache in ([bad], [lmfilter.LoggedModel.model_validate(bad)]):
        with pytest.raises(RecordError, match="appears twice") as caught:
            lmfilter.select(cache, text)
        assert (caught.value.model_id, caught.value.field) == ("m-bad", field)
        with pytest.raises(RecordError, match="appears twice"):
            lmfilter.ModelTable(cache).select(text)


@pytest.mark.parametrize(
    ("where", "value"),
    [
        ("value", True),  # a boolean is not a number on the wire (Python's True is an int)
        ("timestamp", False),
        ("step", True),
        ("timestamp", 2**63),  # past int64
        ("step", -(2**63) - 1),
        ("timestamp", "1_0"),  # not the decimal text of an integer
        ("value", " 5"),
        ("value", "1e400"),  # text past the largest double
        ("dataset_name", "a\ud800"),  # half a surrogate pair: not text
    ],
)
def test_the_wire_forms_are_one_rule_for_dicts_and_models(where: str, value: Any) -> None:
    bad = {"info": {"model_id": "m-bad"}, "data": {"metrics": [{"key": "a", where: value}]}}
    with pytest.raises(ValidationError):
        lmfilter.LoggedModel.model_validate(bad)
    with pytest.raises(RecordError) as caught:
        lmfilter.select([bad], "metrics.a IS NOT NULL")
    assert caught.value.field == f"data.metrics.0.{where}"


@pytest.mark.parametrize(
    ("info", "text"),
    [
        ({"creation_timestamp_ms": 10**30}, "creation_timestamp > 0"),
        ({"creation_timestamp_ms": True}, "creation_timestamp > 0"),
        ({"name": "\udc80"}, "name = 'x'"),
        ({"model_id": "m-\ud800"}, ""),
        ({"tags": [{"key": "\udfff", "value": "x"}]}, "tags.t = 'x'"),
    ],
)
def test_info_fields_the_wire_does_not_allow(info: JSON, text: str) -> None:
    bad = {"info": {"model_id": "m-bad", **info}}
    with pytest.raises(ValidationError):
        lmfilter.LoggedModel.model_validate(bad)
    with pytest.raises(RecordError):
        lmfilter.select([bad], text)


@pytest.mark.parametrize(
    ("value", "stored"),
    [
        ("5", 5.0),  # a double as text
        ("-2.5e1", -25.0),
        (3, 3.0),
        (2**60, float(2**60)),  # an int past 2**53: rounded as a double
        ("NaN", 0.0),  # as the SQL store keeps them
        ("Infinity", 1.7976931348623157e308),
        (float("-inf"), -1.7976931348623157e308),
    ],
)
def test_values_the_wire_allows_are_read_alike_from_dicts_and_models(value: Any, stored: float) -> None:
    record = {"info": {"model_id": "m-1"}, "data": {"metrics": [{"key": "a", "value": value, "step": "2"}]}}
    text = f"metrics.a = {stored!r}"
    model = lmfilter.LoggedModel.model_validate(record)
    assert ids(lmfilter.select([record], text)) == ids(lmfilter.select([model], text)) == ["m-1"]
    assert ids(lmfilter.ModelTable([record]).select(text)) == ["m-1"]


# Values of every kind a JSON file or a Python caller may put anywhere in a record.
HOSTILE: list[Any] = [
    True,
    False,
    None,
    0,
    -1,
    2,
    1.5,
    10**400,
    2**63,
    -(2**63) - 1,
    float("nan"),
    float("inf"),
    "",
    "5",
    "5.0",
    " 5",
    "1_0",
    "1e400",
    "NaN",
    "abc",
    "LOGGED_MODEL_READY",
    "é",
    "模型",
    "\ud800",
    "x\udfff",
    [],
    ["a"],
    [{"key": "a", "value": "x"}],
    {},
    {"key": "a"},
    deep(3000),
]
PLACES = [
    ("info", "model_id"),
    ("info", "name"),
    ("info", "experiment_id"),
    ("info", "status"),
    ("info", "creation_timestamp_ms"),
    ("info", "last_updated_timestamp_ms"),
    ("info", "model_type"),
    ("info", "source_run_id"),
    ("info", "artifact_uri"),
    ("info", "tags"),
    ("tag", "key"),
    ("tag", "value"),
    ("data", "params"),
    ("param", "key"),
    ("param", "value"),
    ("data", "metrics"),
    ("metric", "key"),
    ("metric", "value"),
    ("metric", "timestamp"),
    ("metric", "step"),
    ("metric", "dataset_name"),
    ("metric", "run_id"),
    ("record", "info"),
    ("record", "data"),
]


def corrupt(record: JSON, place: tuple[str, str], value: Any) -> None:
    """Put ``value`` at ``place`` in ``record``: a field of it, of its info or data, or of a new tag, param
    or metric (where an earlier corruption left no room, nothing is done)."""
    where, key = place
    if where == "record":
        record[key] = value
        return
    info, data = record.get("info"), record.setdefault("data", {})
    if not (isinstance(info, dict) and isinstance(data, dict)):
        return
    if where in ("info", "data"):
        (info if where == "info" else data)[key] = value
        return
    holder, name = {"tag": (info, "tags"), "param": (data, "params"), "metric": (data, "metrics")}[where]
    item: JSON = {"key": "a", "value": 1.0} if where == "metric" else {"key": "zz", "value": "x"}
    items = holder.setdefault(name, [])
    if isinstance(items, list):
        items.append({**item, key: value})


@settings(max_examples=150, deadline=None)
@given(
    records(),
    st.lists(st.tuples(st.sampled_from(PLACES), st.sampled_from(HOSTILE)), min_size=1, max_size=3),
    st.data(),
    filters,
    orders,
    TARGETS,
)
def test_any_value_anywhere_gives_an_answer_or_a_record_error(
    cache: list[JSON],
    corruptions: list[tuple[tuple[str, str], Any]],
    data: st.DataObject,
    tree: ast.Expr,
    order_by: list[JSON],
    target: str,
) -> None:
    for place, value in corruptions:
        corrupt(data.draw(st.sampled_from(cache)), place, copy.copy(value))
    found = answers(cache, tree, order_by, target)  # anything but RecordError fails the test
    if "models" in found:  # every record is a logged model: every reader agrees
        assert found["models"] == found["dicts"] == found["table"] == found["optimized"]


# ---- model files that are not text -------------------------------------------------------------------


GOOD = '{"info": {"model_id": "m-1"}}'
NESTED = "[" * 100_000 + "]" * 100_000


def raw(members: str) -> str:
    """A model's JSON text whose info holds ``members`` (JSON text) after its id."""
    return '{"info": {"model_id": "a", ' + members + "}}"


@pytest.mark.parametrize(
    ("text", "where", "reason"),
    [
        (raw('"x": ' + NESTED) + "\n" + GOOD + "\n", ":1:", "nested too deeply"),
        (GOOD + "\n" + raw('"x": ' + NESTED) + "\n", ":2:1:", "nested too deeply"),
        ("[" + GOOD + ",\n" + raw('"x": ' + NESTED) + "]", ":2:1:", "nested too deeply"),
        ('{"models": [' + GOOD + ", " + NESTED + "]}", ":1:", "nested too deeply"),
        (NESTED, ":1:", "nested too deeply"),
        (GOOD + "\n" + raw('"step": ' + "1" * 5000) + "\n", ":2:1:", "digits"),
        ("[" + raw('"creation_timestamp_ms": ' + "9" * 4400) + "]", ":1:", "digits"),
        ('{"info": {"model_id": "a\\ud800"}}\n', ":1:", "info.model_id: a \\u escape of half a surrogate"),
        (GOOD + "\n" + raw('"name": "\\uDC00b"') + "\n", ":2:", "info.name: a \\u escape"),
        (
            "[" + GOOD + ",\n " + raw('"tags": [{"key": "k", "value": "\\ud83d"}]') + "]",
            ":2:",
            "info.tags.0.value: a \\u escape",
        ),
        ('{"models": [' + raw('"\\udfff": 1') + "]}", ":1:", "a key in info: a \\u escape"),
    ],
    ids=[
        "deep first line",
        "deep later line",
        "deep in an array",
        "deep in an answer",
        "deep at the top",
        "5000 digits on a line",
        "4400 digits in an array",
        "half a pair in an id",
        "low half in a name",
        "high half in a tag",
        "half a pair in a key",
    ],
)
def test_a_file_that_is_not_text_is_a_cache_error_with_its_place(
    tmp_path: Path, text: str, where: str, reason: str
) -> None:
    path = tmp_path / "models"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ModelFileError) as caught:
        list(iter_models(path))
    assert str(caught.value).startswith(f"{path}{where}")
    assert reason in str(caught.value)


def test_surrogate_pairs_and_escaped_backslashes_are_text() -> None:
    text = '[{"info": {"model_id": "a\\ud83d\\ude00", "name": "\\\\ud800"}}]'
    [model] = iter_models(io.BytesIO(text.encode()))
    assert model["info"] == {"model_id": "a😀", "name": "\\ud800"}


def test_a_text_stream_that_cannot_be_decoded_is_a_cache_error() -> None:
    stream = io.TextIOWrapper(io.BytesIO(GOOD.encode() + b"\n\xff\n"), encoding="utf-8")
    with pytest.raises(ModelFileError, match="cannot read it: 'utf-8' codec can't decode"):
        list(iter_models(stream))


# ---- eval prints a whole answer or none of it ----------------------------------------------------------


def write_models(path: Path, model_ids: list[str], **info: Any) -> Path:
    lines = [
        json.dumps({"info": {"model_id": m, "name": m, "creation_timestamp_ms": 100 - i, **info}}) + "\n"
        for i, m in enumerate(model_ids)
    ]
    path.write_text("".join(lines), encoding="utf-8")
    return path


def run_eval(out: TextIO, *argv: str) -> tuple[int, str]:
    err = io.StringIO()
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = out, err
    try:
        status = main(["eval", *argv])
    finally:
        sys.stdout, sys.stderr = saved
    return status, err.getvalue()


def ascii_stream() -> io.TextIOWrapper:
    return io.TextIOWrapper(io.BytesIO(), encoding="ascii", write_through=True)


def written(stream: io.TextIOWrapper) -> bytes:
    stream.flush()
    buffer = stream.buffer
    assert isinstance(buffer, io.BytesIO)
    return buffer.getvalue()


def test_an_id_the_output_cannot_write_prints_nothing(tmp_path: Path) -> None:
    path = write_models(tmp_path / "m.jsonl", [f"m-{i}" for i in range(10)] + ["m-é"])
    out = ascii_stream()
    status, err = run_eval(out, "", "--models", str(path))
    assert status == EXIT_ERRORS
    assert written(out) == b""  # before: ten ids, then a UnicodeEncodeError
    assert err == "lmfilter eval: the model id 'm-\\xe9' has a character ascii lacks: use --format json\n"


def test_an_id_with_a_line_break_prints_nothing(tmp_path: Path) -> None:
    path = write_models(tmp_path / "m.jsonl", ["m-1", "m-2\nm-3"])
    out = ascii_stream()
    status, err = run_eval(out, "", "--models", str(path))
    assert (status, written(out)) == (EXIT_ERRORS, b"")
    assert "the model id 'm-2\\nm-3' holds a line break" in err
    status, _ = run_eval(out, "", "--models", str(path), "--format", "json")
    assert status == EXIT_OK
    assert [m["info"]["model_id"] for m in json.loads(written(out))] == ["m-1", "m-2\nm-3"]


def test_json_and_table_write_what_the_output_cannot_as_escapes(tmp_path: Path) -> None:
    path = write_models(tmp_path / "m.jsonl", ["m-1", "m-模型"], model_type="é")
    utf8, ascii_out = io.StringIO(), ascii_stream()
    assert run_eval(utf8, "", "--models", str(path), "--format", "json")[0] == EXIT_OK
    assert run_eval(ascii_out, "", "--models", str(path), "--format", "json")[0] == EXIT_OK
    assert written(ascii_out).isascii()
    assert json.loads(written(ascii_out)) == json.loads(utf8.getvalue())

    table = ascii_stream()
    text = "model_type = 'é'"
    assert run_eval(table, text, "--models", str(path), "--format", "table")[0] == EXIT_OK
    lines = written(table).decode("ascii").splitlines()
    assert lines[-1] == "2 of 2 models"
    assert lines[3].startswith("m-\\u6a21\\u578b  m-\\u6a21\\u578b")
    assert lines[2].index("\\xe9") == lines[3].index("\\xe9") == lines[0].index("model_type")  # aligned


def test_a_real_ascii_stdout_gets_a_whole_answer_or_none(tmp_path: Path) -> None:
    path = write_models(tmp_path / "m.jsonl", [f"m-{i}" for i in range(10)] + ["m-é"])
    env = {**os.environ, "PYTHONIOENCODING": "ascii"}
    command = [sys.executable, "-m", "lmfilter", "eval", "", "--models", str(path)]
    done = subprocess.run(command, capture_output=True, env=env, timeout=60, check=False)
    assert (done.returncode, done.stdout) == (EXIT_ERRORS, b"")
    assert b"Traceback" not in done.stderr
    done = subprocess.run(
        [*command, "--format", "json"], capture_output=True, env=env, timeout=60, check=False
    )
    assert done.returncode == EXIT_OK
    assert len(json.loads(done.stdout)) == 11


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_a_write_that_fails_is_an_error_not_a_traceback(tmp_path: Path) -> None:
    path = write_models(tmp_path / "m.jsonl", ["m-1"])
    # Unbuffered, so that closing it does not try the write again.
    with io.TextIOWrapper(open("/dev/full", "wb", buffering=0), write_through=True) as full:
        status, err = run_eval(full, "", "--models", str(path))
    assert status == EXIT_ERRORS
    assert err == "lmfilter eval: cannot write the answer: No space left on device\n"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\xff[]", "is not UTF-8"),
        (b"[" * 100_000 + b"]" * 100_000, "bad JSON: nested too deeply"),
        (b"[" + b"1" * 5000 + b"]", "bad JSON: a number of more than 4300 digits"),
    ],
)
def test_an_order_by_file_that_cannot_be_read_is_an_option_error(
    tmp_path: Path, content: bytes, message: str
) -> None:
    path = write_models(tmp_path / "m.jsonl", ["m-1"])
    order = tmp_path / "order.json"
    order.write_bytes(content)
    out = io.StringIO()
    status, err = run_eval(out, "", "--models", str(path), "--order-by", f"@{order}")
    assert (status, out.getvalue()) == (EXIT_ERRORS, "")
    assert err.startswith("lmfilter eval: --order-by: ")
    assert message in err


def test_a_file_with_half_a_surrogate_pair_prints_nothing(tmp_path: Path) -> None:
    path = write_models(tmp_path / "m.jsonl", [f"m-{i}" for i in range(10)])
    with path.open("a", encoding="utf-8") as file:
        file.write('{"info": {"model_id": "m-\\ud800"}}\n')
    out = io.StringIO()
    status, err = run_eval(out, "", "--models", str(path))
    assert (status, out.getvalue()) == (EXIT_ERRORS, "")
    assert err.startswith(f"lmfilter eval: {path}:11: info.model_id: a \\u escape of half a surrogate pair")
