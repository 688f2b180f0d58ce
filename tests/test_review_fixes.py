"""Fixes from a hostile review (issue 11): hand-built trees checked at every entry point (items 4, 10), each
model once (item 5), model files read in bounded pieces (item 9), a server's order verified (item 11).

Misbehaving servers are real HTTP servers on 127.0.0.1 (``tests.hostile_server.HostileServer``).
"""

from __future__ import annotations

import io
import json
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import lmfilter
from lmfilter import ast, model_files
from lmfilter.ast import Entity, Op, ValueType
from lmfilter.cli import main
from lmfilter.client import Client, RetryPolicy
from lmfilter.model_files import ModelFileError, iter_models
from lmfilter.optimizer import MATCH_NONE
from lmfilter.wire import MalformedAnswerError
from tests.hostile_server import HostileServer, Reply, Seen

JSON = dict[str, Any]


# ---- items 4 and 10: a tree built by hand is checked wherever a filter is taken --------------------------


def _field(entity: Entity, key: str, kind: ValueType = ValueType.STRING) -> ast.Field:
    return ast.Field(entity, key, kind)


BAD_TREES: dict[str, tuple[ast.Expr, str]] = {
    "a word holding more filter": (
        ast.Compare(_field(Entity.TAG, "a"), Op.EQ, ast.Word("'x' OR name = 'y'")),
        "LMF113",
    ),
    "double quotes holding more filter": (
        ast.Compare(_field(Entity.TAG, "a"), Op.EQ, ast.DoubleQuoted('" OR name = "y')),
        "LMF111",
    ),
    "an empty tag key": (ast.Compare(_field(Entity.TAG, ""), Op.EQ, ast.String("x")), "LMF209"),
    "an unknown attribute": (
        ast.Compare(_field(Entity.ATTRIBUTE, "bogus"), Op.EQ, ast.String("x")),
        "LMF202",
    ),
    "LIKE on a metric": (ast.Like(_field(Entity.METRIC, "a", ValueType.NUMBER), ast.Number("1")), "LMF203"),
    "a key with a backtick": (ast.Compare(_field(Entity.TAG, "a`b"), Op.EQ, ast.String("x")), "LMF113"),
    "a string where a status goes": (
        ast.Compare(_field(Entity.ATTRIBUTE, "status", ValueType.STATUS), Op.EQ, ast.String("READY")),
        "LMF113",
    ),
    "a word inside an OR under NOT": (
        ast.Not(
            ast.Or(
                (
                    ast.Compare(_field(Entity.ATTRIBUTE, "name"), Op.EQ, ast.String("a")),
                    ast.In(_field(Entity.PARAM, "p"), (ast.Word("'x') OR (name = 'z'"),)),
                )
            )
        ),
        "LMF1",  # the text does not even parse
    ),
}

ENTRY_POINTS: dict[str, Callable[[ast.Expr], object]] = {
    "compile": lambda t: lmfilter.compile(t, target="mlflow", experiment_ids=["1"]),
    "compile local": lambda t: lmfilter.compile(t, target="databricks", experiment_ids=["1"]),
    "plan": lambda t: lmfilter.plan(t, experiment_ids=["1"]),
    "select": lambda t: lmfilter.select([], t),
    "compile_query": lambda t: lmfilter.compile_query(t),
    "ModelTable.select": lambda t: lmfilter.ModelTable([]).select(t),
    "optimize": lambda t: lmfilter.optimize(t),
    "format": lambda t: lmfilter.format(t),
    "parse": lambda t: lmfilter.parse(t),
}


@pytest.mark.parametrize("entry", list(ENTRY_POINTS))
@pytest.mark.parametrize("case", list(BAD_TREES))
def test_every_entry_point_refuses_a_tree_that_is_not_its_text(case: str, entry: str) -> None:
    tree, code = BAD_TREES[case]
    with pytest.raises(lmfilter.FilterError) as caught:
        ENTRY_POINTS[entry](tree)
    assert any(d.code.startswith(code) for d in caught.value.errors), caught.value.diagnostics
    # check never raises on a bad filter: it reports the same error, and is_valid agrees
    assert any(d.code.startswith(code) and d.severity == "error" for d in lmfilter.check(tree))
    assert not lmfilter.is_valid(tree)


def test_the_injected_text_is_never_sent() -> None:
    tree, _ = BAD_TREES["a word holding more filter"]
    with pytest.raises(lmfilter.FilterError, match=r"LMF113.*1 comparison\(s\) but its text reads as 2"):
        lmfilter.compile(tree, experiment_ids=["1"])


def test_a_typed_or_untyped_tree_that_is_its_text_is_still_taken() -> None:
    untyped = ast.Compare(ast.Field(Entity.PARAM, "lr"), Op.LT, ast.Number("0.50"))
    assert lmfilter.parse(untyped).field.type is ValueType.STRING  # type: ignore[union-attr]
    assert lmfilter.compile(untyped, target="local", experiment_ids=["1"]).filter == "params.lr < 0.5"
    equality = ast.Compare(_field(Entity.PARAM, "lr"), Op.EQ, ast.Number("1"))  # read as BETWEEN 1 AND 1
    assert lmfilter.format(equality) == "params.lr BETWEEN 1 AND 1"
    assert lmfilter.compile(MATCH_NONE, experiment_ids=["1"]).filter == "model_id IN ()"
    assert lmfilter.plan(MATCH_NONE, experiment_ids=["1"]).requests == ()


def test_select_over_like_on_a_number_field_is_a_filter_error_not_an_assertion() -> None:
    tree = ast.Like(_field(Entity.ATTRIBUTE, "creation_timestamp", ValueType.NUMBER), ast.String("1%"))
    models = [{"info": {"model_id": "m-1", "creation_timestamp_ms": 1}}]
    with pytest.raises(lmfilter.FilterError, match="LMF203"):
        lmfilter.select(models, tree)


# ---- item 5: each model once ---------------------------------------------------------------------------


def model_json(model_id: str, created: int = 1) -> JSON:
    return {"info": {"model_id": model_id, "experiment_id": "1", "creation_timestamp_ms": created}}


def test_two_records_with_one_model_id_are_a_record_error() -> None:
    models = [model_json("a", 1), model_json("b", 2), model_json("a", 3)]
    with pytest.raises(
        lmfilter.RecordError, match=r"record 2 \(model_id 'a'\): info.model_id: another record"
    ):
        lmfilter.select(models)
    with pytest.raises(lmfilter.RecordError) as caught:
        lmfilter.ModelTable(models)
    assert (caught.value.index, caught.value.field) == (2, "info.model_id")
    # as LoggedModel objects too
    with pytest.raises(lmfilter.RecordError):
        lmfilter.select([lmfilter.LoggedModel.model_validate(m) for m in models], "name = 'nobody'")


def quick() -> RetryPolicy:
    return RetryPolicy(deadline=10.0, jitter=0.0)


def pages(*answers: JSON) -> Callable[[Seen], Reply]:
    """A server that answers its search requests with ``answers`` in turn (the last one again after)."""
    count = iter(range(10**6))

    def reply(seen: Seen) -> Reply:
        if not seen.path.endswith("/logged-models/search"):
            return Reply.json({})
        return Reply.json(answers[min(next(count), len(answers) - 1)])

    return reply


def search(server: HostileServer, filter: str | None = None, **options: Any) -> list[str]:  # noqa: A002
    with Client(server.base_url, target="mlflow", retry=quick()) as client:
        return [m.model_id for m in client.search(filter, experiment_ids=["1"], **options)]


def test_a_model_listed_again_as_paging_shifts_comes_out_once() -> None:
    # Offset paging shifts by one when a model is created meanwhile: page 2 starts with page 1's last.
    a, b, c = model_json("a", 3), model_json("b", 2), model_json("c", 1)
    with HostileServer(pages({"models": [a, b], "next_page_token": "t1"}, {"models": [b, c]})) as server:
        assert search(server) == ["a", "b", "c"]


def test_a_model_two_requests_of_a_fan_out_find_comes_out_once() -> None:
    both = {"models": [model_json("x", 5), model_json("y", 4)]}
    with HostileServer(pages(both)) as server:
        found = search(server, "params.a = 'x' OR tags.t = 'y'")
    # the local check runs on what came back: the models hold neither, so none match; the point is that
    # two requests were made and nothing came out twice
    assert found == []
    with HostileServer(pages(both)) as server:
        assert search(server, "name = '' OR model_type IS NULL") == ["x", "y"]


# ---- item 11: a server's order is verified -------------------------------------------------------------

ASCENDING = [{"field_name": "creation_timestamp", "ascending": True}]


@pytest.mark.parametrize(
    "answers",
    [
        pytest.param(({"models": [model_json("b", 2), model_json("a", 1)]},), id="within a page"),
        pytest.param(
            (
                {"models": [model_json("a", 1), model_json("b", 2)], "next_page_token": "t1"},
                {"models": [model_json("a", 1)]},
            ),
            id="across pages (a page repeated)",
        ),
        pytest.param(
            ({"models": [model_json("a", 1), model_json("a", 1), model_json("b", 2), model_json("a", 1)]},),
            id="a, a, b, a",
        ),
    ],
)
def test_a_server_that_answers_out_of_order_is_a_malformed_answer(answers: tuple[JSON, ...]) -> None:
    with (
        HostileServer(pages(*answers)) as server,
        pytest.raises(MalformedAnswerError, match="out of order") as caught,
    ):
        search(server, order_by=ASCENDING)
    assert "creation_timestamp ASC" in str(caught.value)


def test_the_default_order_is_verified_too() -> None:
    # No order_by: the server sorts by creation_timestamp DESC, model_id ASC.
    backwards = {"models": [model_json("b", 1), model_json("a", 1)]}
    with (
        HostileServer(pages(backwards)) as server,
        pytest.raises(MalformedAnswerError, match="'a' after 'b'"),
    ):
        search(server)
    with HostileServer(pages({"models": [model_json("a", 1), model_json("b", 1)]})) as server:
        assert search(server) == ["a", "b"]


def test_a_local_order_does_not_depend_on_the_server_s_order() -> None:
    # Sorted by a param, which no server can: the server's order is not the plan's, and is not checked.
    by_param = [{"field_name": "params.p", "ascending": True}]
    with HostileServer(pages({"models": [model_json("b", 1), model_json("a", 2)]})) as server:
        assert sorted(search(server, order_by=by_param)) == ["a", "b"]


# ---- item 9: model files read in bounded pieces --------------------------------------------------------


class Endless(io.RawIOBase):
    """``size`` bytes of ``fill`` (for ever with ``None``), made as read: no disk, no memory of its own."""

    def __init__(self, fill: bytes, size: int | None, head: bytes = b"") -> None:
        self.fill, self.left, self.head = fill, size, head

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self.head:
            n = min(len(buffer), len(self.head))
            buffer[:n], self.head = self.head[:n], self.head[n:]
            return n
        n = len(buffer) if self.left is None else min(len(buffer), self.left)
        buffer[:n] = self.fill * n
        if self.left is not None:
            self.left -= n
        return n


def peak_while(read: Callable[[], object]) -> int:
    tracemalloc.start()
    try:
        read()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_dev_zero_is_a_model_file_error_at_once() -> None:
    stream = io.BufferedReader(Endless(b"\0", None))
    with pytest.raises(ModelFileError, match=r"<stream>:1:1: expected JSON lines.*not text starting '\\x00"):
        list(iter_models(stream))


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
def test_eval_of_dev_zero_is_an_error_not_a_traceback(capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["eval", "", "--models", "/dev/zero"])
    err = capsys.readouterr().err
    assert status == 1
    assert err.startswith("lmfilter eval: /dev/zero:1:1: expected JSON lines")


def test_a_long_line_of_blanks_costs_no_memory() -> None:
    size = 300 * 1024 * 1024
    stream = io.BufferedReader(Endless(b" ", size))
    peak = peak_while(lambda: list(iter_models(stream)))
    assert peak < 16 * model_files.PIECE  # a few pieces, not the 300 MB line
    model = json.dumps(model_json("m-1")).encode()
    blanks_first = io.BytesIO(b"\n\n" + b" " * (3 * model_files.PIECE) + model + b"\n")
    assert [m["info"]["model_id"] for m in iter_models(blanks_first)] == ["m-1"]


def test_a_json_line_over_the_cap_names_its_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(model_files, "MAX_LINE", 1000)
    monkeypatch.setattr(model_files, "PIECE", 64)
    good = json.dumps(model_json("m-1"))
    long = json.dumps({"info": {"model_id": "m-2", "name": "x" * 2000}})
    models = iter_models(io.BytesIO(f"{good}\n\n{long}\n{good}\n".encode()))
    assert next(models)["info"]["model_id"] == "m-1"
    with pytest.raises(ModelFileError, match=r"<stream>:3: a line longer than 1,000 characters") as caught:
        next(models)
    assert caught.value.line == 3
    # the first line too, and a line of JSON lines never grows past the cap while read
    with pytest.raises(ModelFileError, match=r"<stream>:1: a line longer than 1,000"):
        list(iter_models(io.BufferedReader(Endless(b"x", None, head=b'{"info": {"name": "'))))
    # an answer or an array on one line is one JSON value, not a line of JSON lines: no cap
    answer = json.dumps({"models": [json.loads(long)]})
    assert [m["info"]["model_id"] for m in iter_models(io.BytesIO(answer.encode()))] == ["m-2"]
    assert [m["info"]["model_id"] for m in iter_models(io.BytesIO(f"[{long}]".encode()))] == ["m-2"]


def test_places_are_kept_after_blank_pieces(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(model_files, "PIECE", 8)
    with pytest.raises(ModelFileError, match=r"<stream>:2:21: expected JSON lines"):
        list(iter_models(io.BytesIO(b"\n" + b" " * 20 + b"42")))
    text = "\n" + " " * 20 + '{"info": {"model_id": "m-\\ud800"}}\n'
    with pytest.raises(ModelFileError, match=r"<stream>:2: info.model_id: a \\u escape"):
        list(iter_models(io.BytesIO(text.encode())))
    with pytest.raises(ModelFileError, match=r"<stream>:1:12: not UTF-8"):
        list(iter_models(io.BytesIO(b'{"info": {"\xff": 1}}\n')))


def _lines(n: int) -> Iterator[str]:
    return (json.dumps(model_json(f"m-{i}")) for i in range(n))


def test_a_text_stream_is_read_in_pieces_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(model_files, "PIECE", 7)
    text = "\n".join(_lines(3)) + "\n"
    assert [m["info"]["model_id"] for m in iter_models(io.StringIO(text))] == ["m-0", "m-1", "m-2"]
    assert [m["info"]["model_id"] for m in iter_models(io.BytesIO(text.encode()))] == ["m-0", "m-1", "m-2"]
