"""The checker: which diagnostics a filter gets, for each target and mode."""

from __future__ import annotations

import pytest

import lmfilter
from lmfilter import ast
from lmfilter.diagnostics import Diagnostic
from lmfilter.schema import TARGETS, Feature, Target, get_target

CodeAndSeverity = tuple[str, str]


def codes(text: str, target: str = "local", native: bool = False) -> list[CodeAndSeverity]:
    return [(d.code, d.severity) for d in lmfilter.check(text, target=target, native=native)]


# Whatever the target: field and type errors.
TYPE_ERRORS = [
    ("metric.acc > 1", [("LMF201", "error")]),
    ("param.x = 'a'", [("LMF201", "error")]),
    ("Metrics.acc > 1", [("LMF201", "error")]),
    ("foo.bar = 'x'", [("LMF201", "error")]),
    ("nmae = 'x'", [("LMF202", "error")]),
    ("NAME = 'x'", [("LMF202", "error")]),
    ("attributes.nmae = 'x'", [("LMF202", "error")]),
    ("artifact_uri = 'x'", [("LMF202", "error")]),
    ("metrics.acc LIKE 'x'", [("LMF203", "error")]),
    ("name > 3", [("LMF203", "error")]),
    ("tags.t < 3", [("LMF203", "error")]),
    ("params.x > 'a'", [("LMF203", "error")]),
    ("name BETWEEN 1 AND 2", [("LMF203", "error"), ("LMF203", "error")]),
    ("status LIKE 'R%'", [("LMF203", "error")]),
    ("status > 'READY'", [("LMF203", "error")]),
    ("metrics.acc > 'high'", [("LMF204", "error")]),
    ("metrics.acc IN ('a')", [("LMF204", "error")]),
    ("creation_timestamp = '5'", [("LMF204", "error")]),
    ("metrics.acc > high", [("LMF204", "error")]),
    ("status = 'RAEDY'", [("LMF205", "error")]),
    ("status = 'ready'", [("LMF205", "error")]),
    ("status IN ('READY', 'BOGUS')", [("LMF205", "error")]),
    ("status = 2", [("LMF211", "error")]),
    ('name = "x"', [("LMF111", "error")]),
    ("params.\"a b\" = 'x'", [("LMF111", "error")]),
    ("tags.`` = 'x'", [("LMF209", "error")]),
    # warnings: the filter means something, maybe not what was meant
    ("params.x IN ()", [("LMF206", "warning")]),
    ("tags.t = x", [("LMF207", "warning")]),
    ("params.lr = 0.01", [("LMF208", "warning")]),
    ("metrics.a BETWEEN 2 AND 1", [("LMF210", "warning")]),
    ("name IS NULL", [("LMF212", "warning")]),
    ("metrics.a = nan", [("LMF213", "warning")]),
    ("tags.t IN (x)", [("LMF207", "error")]),
    # clean
    ("model_type IS NULL OR NOT (params.alpha < 0.3 AND metrics.acc BETWEEN 0.1 AND 0.2)", []),
    ("status IN ('READY', 'LOGGED_MODEL_PENDING') AND source_run_id != ''", []),
]


@pytest.mark.parametrize(("text", "expected"), TYPE_ERRORS, ids=[t for t, _ in TYPE_ERRORS])
@pytest.mark.parametrize("target", ["local", "mlflow", "mlflow-3.17", "databricks"])
def test_type_diagnostics_hold_for_every_target(
    text: str, expected: list[CodeAndSeverity], target: str
) -> None:
    found = [c for c in codes(text, target) if not c[0].startswith("LMF3")]
    assert found == expected


# Target support: (filter, target, diagnostics when native).
NATIVE = [
    ("name = 'a' OR name = 'b'", "mlflow", ["LMF301"]),
    ("NOT name = 'a'", "mlflow", ["LMF302"]),
    ("name NOT LIKE 'a'", "mlflow", ["LMF302"]),
    ("name NOT ILIKE 'a'", "mlflow-3.17", ["LMF302"]),
    ("(name = 'a')", "databricks", ["LMF303"]),
    ("model_type IS NULL", "mlflow", ["LMF304"]),
    ("model_type IS NOT NULL", "mlflow", ["LMF304"]),
    ("metrics.a BETWEEN 0 AND 1", "mlflow", ["LMF305"]),
    ("params.alpha < 0.3", "databricks", ["LMF306"]),
    ("params.alpha BETWEEN 1 AND 2", "mlflow", ["LMF305", "LMF306"]),
    ("name = 'it''s'", "mlflow", ["LMF307"]),
    ("name IN ('a\\b')", "mlflow", ["LMF307"]),
    ("name = 'a\\'", "mlflow-3.17", ["LMF307"]),
    ("name LIKE '%\\%%'", "mlflow", []),
    ("name = 'a\\b'", "mlflow", []),
    ("params.x = True", "mlflow", ["LMF314", "LMF207"]),
    ("name = date", "mlflow", ["LMF314", "LMF207"]),
    ("name = Äpfel", "mlflow", ["LMF207"]),
    ("source_run_id = 'r'", "databricks", ["LMF308"]),
    ("experiment_id = '1'", "databricks", ["LMF308"]),
    ("status = 'READY'", "mlflow-3.17", ["LMF309"]),
    ("status = 'READY'", "databricks", ["LMF309"]),
    ("status = 'LOGGED_MODEL_READY'", "mlflow", ["LMF314"]),
    ("metrics.a IN (1, 2)", "mlflow", ["LMF310"]),
    ("attributes.creation_time > 1", "mlflow", ["LMF311"]),
    ("attributes.last_updated_timestamp > 1", "mlflow", ["LMF311"]),
    ("tags.in = 'x'", "mlflow", ["LMF312"]),
    ("params.123 = 'x'", "mlflow", ["LMF312"]),
    ("tags.a$b = 'x'", "mlflow", ["LMF312"]),
    ("metrics.a > +1", "mlflow", ["LMF314"]),
    ("params.x IN (1)", "mlflow", ["LMF314", "LMF208"]),
    ("   ", "mlflow", ["LMF314"]),
    ("name = 'a' AND", "mlflow", ["LMF107"]),
    ("name = 'a' name = 'b'", "mlflow", ["LMF108"]),
    # native as MLflow 3.18 takes them
    ("status = 'READY'", "mlflow", []),
    ("status IN ('FAILED', PENDING)", "mlflow", []),
    ("attributes.creation_timestamp_ms > 1 AND creation_time > 1 AND attributes.name = 'a'", "mlflow", []),
    ("tags.`in` = 'x' AND params.`123` = 'y' AND tags.a-b = 'z' AND tags.é = 'w'", "mlflow", []),
    ("name IN ('a', 'b') AND name NOT IN ('c') AND name ILIKE 'A%' AND params.a.b = 'c'", "mlflow", []),
    ("source_run_id = 'r' AND experiment_id = '1'", "mlflow-3.17", []),
    ("", "databricks", []),
]


@pytest.mark.parametrize(("text", "target", "expected"), NATIVE, ids=[f"{t}|{g}" for t, g, _ in NATIVE])
def test_native_target_support(text: str, target: str, expected: list[str]) -> None:
    native = codes(text, target, native=True)
    assert [code for code, _ in native] == expected
    support = [
        severity for code, severity in native if code.startswith("LMF3") or code in ("LMF107", "LMF108")
    ]
    assert support == ["error"] * len(support)
    # Without native, what lmfilter can run by planning is at most a warning or an info.
    planned = codes(text, target)
    assert [severity for code, severity in planned if code.startswith("LMF3")] in (
        ["info"] * len(support),
        [],  # misreadings (LMF314) only matter for text sent as it is
    )
    assert all(severity != "error" for _, severity in planned)
    # Local evaluation runs everything.
    assert not [code for code, _ in codes(text, "local", native=True) if code.startswith("LMF3")]


def test_three_mistakes_give_three_diagnostics() -> None:
    diags = lmfilter.check("metric.acc > 1 AND nmae = 'x' AND metrics.acc LIKE 'x'")
    assert [d.code for d in diags] == ["LMF201", "LMF202", "LMF203"]
    assert all(d.severity == "error" for d in diags)


def test_errors_of_every_layer_are_collected_together() -> None:
    text = "name = AND nmae = 'x' AND metrics.a > 'high' OR ("
    assert [d.code for d in lmfilter.check(text, target="local")] == ["LMF101", "LMF202", "LMF204", "LMF102"]


def test_parse_raises_filter_error_with_every_diagnostic() -> None:
    with pytest.raises(lmfilter.FilterError) as caught:
        lmfilter.parse("metric.acc > 1 AND nmae = 'x'")
    error = caught.value
    assert [d.code for d in error.diagnostics] == ["LMF201", "LMF202"]
    assert error.errors == error.diagnostics
    first: Diagnostic = error.diagnostics[0]
    assert (first.span.start, first.span.end) == (0, 6)
    assert first.fixes[0].apply(error.text) == "metrics.acc > 1 AND nmae = 'x'"
    assert "^^^^^^" in str(error)


def test_warnings_do_not_stop_parse() -> None:
    tree = lmfilter.parse("tags.t = x AND")
    assert tree == lmfilter.parse("tags.t = 'x'")


@pytest.mark.parametrize(
    ("text", "fixed"),
    [
        ("metric.acc > 1", "metrics.acc > 1"),
        ("nmae = 'x'", "name = 'x'"),
        ("attributes.nmae = 'x'", "attributes.name = 'x'"),
        ("metrics.acc > '0.5'", "metrics.acc > 0.5"),
        ("status = 'RAEDY'", "status = 'READY'"),
        ("status = 2", "status = 'READY'"),
        ('name = "x"', "name = 'x'"),
        ("params.\"a b\" = 'x'", "params.`a b` = 'x'"),
        ("tags.t = x", "tags.t = 'x'"),
        ("name = 'a' AND", "name = 'a'"),
        ("name = 'a' name = 'b'", "name = 'a' AND name = 'b'"),
        ("name == 'a'", "name = 'a'"),
        ("name = 'abc", "name = 'abc'"),
        ("(name = 'a'", "(name = 'a')"),
        ("name = 'a')", "name = 'a'"),
        ("metrics.a BETWEEN 2 AND 1", "metrics.a BETWEEN 1 AND 2"),
    ],
)
def test_fixes_mend_the_filter(text: str, fixed: str) -> None:
    (diag,) = [d for d in lmfilter.check(text) if d.fixes]
    assert diag.fixes[0].apply(text) == fixed
    assert not [d for d in lmfilter.check(fixed) if d.code == diag.code]


@pytest.mark.parametrize(
    ("text", "target", "fixed"),
    [
        ("attributes.creation_time > 1", "mlflow", "creation_timestamp > 1"),
        ("tags.in = 'x'", "mlflow", "tags.`in` = 'x'"),
        ("status = 'LOGGED_MODEL_FAILED'", "local", "status = 'FAILED'"),
        ("status = 'LOGGED_MODEL_UPLOAD_FAILED'", "mlflow", "status = 'FAILED'"),
        ("metrics.a > +1", "mlflow", "metrics.a > 1"),
    ],
)
def test_native_fixes_make_the_filter_native(text: str, target: str, fixed: str) -> None:
    diag = next(d for d in lmfilter.check(text, target, native=True) if d.fixes)
    assert diag.fixes[0].apply(text) == fixed
    assert lmfilter.check(fixed, target, native=True) == []


def test_checked_tree_is_typed() -> None:
    tree = lmfilter.parse("creation_time > 5 AND params.lr = 0.01 AND status = READY")
    assert isinstance(tree, ast.And)
    created, lr, status = tree.items
    assert isinstance(created, ast.Compare)
    assert isinstance(lr, ast.Compare)
    assert isinstance(status, ast.Compare)
    assert (created.field.entity, created.field.key, created.field.type) == (
        ast.Entity.ATTRIBUTE,
        "creation_timestamp",
        ast.ValueType.NUMBER,
    )
    assert created.field.written == "creation_time"
    assert lr.value == ast.String("0.01")
    assert status.value == ast.StatusValue(lmfilter.ModelStatus.READY)


def test_targets_are_profiles_found_by_name() -> None:
    assert get_target("mlflow") is TARGETS["mlflow-3.18"]
    assert get_target("mlflow-3.17").metric_rule == "any"
    assert get_target("mlflow").metric_rule == "latest"
    assert get_target("databricks").max_results == 50
    custom = Target(
        name="mlflow-next",
        title="MLflow next",
        kind="mlflow",
        features=frozenset({Feature.OR}),
        attributes=get_target("mlflow").attributes,
        status_filter="names",
        metric_rule="latest",
        metric_order="latest",
        max_results=None,
    )
    assert codes("name = 'a' OR name = 'b'", "mlflow", native=True) == [("LMF301", "error")]
    diags = lmfilter.check("name = 'a' OR name = 'b'", target=custom, native=True)
    assert diags == []


def test_unknown_target_is_a_clear_error() -> None:
    with pytest.raises(lmfilter.UnknownTargetError, match="did you mean 'mlflow'"):
        lmfilter.check("name = 'a'", target="mlfow")


@pytest.mark.parametrize("bad", [None, 3, b"name = 'a'"])
def test_non_text_is_a_type_error(bad: object) -> None:
    with pytest.raises(TypeError):
        lmfilter.parse(bad)  # type: ignore[arg-type]
