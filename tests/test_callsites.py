"""Call sites are checked as what they send: the golden table of ``golden/callsites.txt``, and the resolver's
edges.

Each block of the golden file is ``### title``, a Python snippet, ``--- findings`` and one line per finding
that ``lint`` gives for the snippet (under the default configuration, MLflow 3.18 not native):
``LINE:COL CODE severity | call -> target [native] | message``. After a deliberate change, regenerate with
``UPDATE_GOLDEN=1 ./dev test tests/test_callsites.py`` and review the diff.
"""

from __future__ import annotations

import ast
import os
from pathlib import Path

import pytest

from lmfilter.callsites import calls_in
from lmfilter.lint import Finding, lint_source

GOLDEN = Path(__file__).parent / "golden" / "callsites.txt"


def _blocks() -> list[tuple[str, str, str]]:
    blocks = []
    for chunk in GOLDEN.read_text(encoding="utf-8").split("### ")[1:]:
        title, _, rest = chunk.partition("\n")
        code, separator, expected = rest.partition("--- findings\n")
        assert separator, f"block {title!r} has no '--- findings' line"
        blocks.append((title, code, expected.strip("\n")))
    return blocks


def _line(finding: Finding) -> str:
    how = f"{finding.call or '-'} -> {finding.target}{' native' if finding.native else ''}"
    where = f"{finding.region.line}:{finding.region.column}"
    return f"{where} {finding.code} {finding.severity} | {how} | {finding.message}"


def _findings(code: str) -> str:
    return "\n".join(_line(finding) for finding in lint_source(code, "python", path="snippet.py").findings)


BLOCKS = _blocks()


@pytest.mark.parametrize(("title", "code", "expected"), BLOCKS, ids=[b[0] for b in BLOCKS])
def test_golden_call_sites(title: str, code: str, expected: str) -> None:
    ast.parse(code)  # every snippet is Python
    assert _findings(code) == expected


def test_update_golden() -> None:
    """With UPDATE_GOLDEN=1, rewrite the expected findings from the current code (for review in git)."""
    if not os.environ.get("UPDATE_GOLDEN"):
        pytest.skip("set UPDATE_GOLDEN=1 to regenerate golden/callsites.txt")
    chunks = [
        f"### {title}\n{code}--- findings\n" + (f"{found}\n" if (found := _findings(code)) else "")
        for title, code, _ in BLOCKS
    ]
    GOLDEN.write_text("\n".join(chunks), encoding="utf-8")


# ---- the resolver's edges -------------------------------------------------------------------------------


def _sends(code: str) -> list[tuple[str, str]]:
    return [(call.name, call.sends) for call in calls_in(ast.parse(code))]


@pytest.mark.parametrize(
    "code",
    [
        "import mlflow\nmlflow.search_logged_models(*args, 'a = 1')",  # where the filter lands is unknown
        "import mlflow\nmlflow.search_logged_models(**options)",
        "import mlflow\nmlflow.search_logged_models(filter_string=None)",
        "import mlflow\nmlflow.search_logged_models(filter_string=b'a = 1')",
        "import mlflow\nmlflow.search_logged_models(filter_string=build())",
        "from mlflow import *\nsearch_logged_models(['1'], 'a = 1')",  # a star import binds nothing known
        "from .mlflow import search_logged_models\nsearch_logged_models(['1'], 'a = 1')",  # relative: another
        "import mlflow\nmlflow.search_runs(filter_string='a = 1')",  # not a logged-models search
    ],
)
def test_what_is_not_known_to_pass_a_literal_filter_is_silent(code: str) -> None:
    assert [f for f in lint_source(code, "python").findings if f.code != "LMF401"] == []


def test_a_class_body_binds_names_its_methods_do_not_see() -> None:
    code = (
        "import mlflow\n"
        "class C:\n"
        "    mlflow = object()\n"
        "    def m(self):\n"
        "        return mlflow.search_logged_models(['1'], 'a = 1')\n"  # the module's mlflow
    )
    assert _sends(code) == [("mlflow.search_logged_models", "mlflow")]


def test_a_function_body_reads_what_its_scope_binds_after_it() -> None:
    code = (
        "import mlflow\n"
        "def run():\n"
        "    return client.search_logged_models(['1'], 'a = 1')\n"
        "client = mlflow.MlflowClient()\n"  # bound after the def, before it runs
    )
    assert _sends(code) == [("mlflow.MlflowClient.search_logged_models", "mlflow")]


def test_module_paths_and_lambdas() -> None:
    code = (
        "import mlflow.tracking.fluent as fluent\n"
        "import lmfilter.api\n"
        "pick = lambda text=lmfilter.api.check('a = 1'): fluent.search_logged_models(['1'], text)\n"
        "later = lambda: fluent.search_logged_models(filter_string='b = 2')\n"
    )
    assert _sends(code) == [
        ("lmfilter.api.check", "lmfilter"),
        ("mlflow.tracking.fluent.search_logged_models", "mlflow"),  # its filter is a parameter: not linted
        ("mlflow.tracking.fluent.search_logged_models", "mlflow"),
    ]


def test_hostile_python_is_a_bounded_warning_or_plain_findings() -> None:
    deep = "import mlflow\n" + "".join(f"{'    ' * i}def f{i}():\n" for i in range(90))
    deep += "    " * 90 + "mlflow.search_logged_models(filter_string='nmae = 1')\n"
    assert [f.code for f in lint_source(deep, "python").findings] in (["LMF202"], ["LMF402"])
    many = "import mlflow\n" + "mlflow.search_logged_models(filter_string='nmae = 1')\n" * 5000
    report = lint_source(many, "python")
    assert (report.filters, len(report.findings)) == (5000, 5000)
    surrogate = "import mlflow\nmlflow.search_logged_models(filter_string='name = \\'\\ud800\\'')\n"
    assert [f.code for f in lint_source(surrogate, "python").findings] == ["LMF112"]


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        pytest.param(  # a walrus binds the function's own name: the module's literal is not what is sent
            "import mlflow\nF = 'a = 1 OR b = 2'\ndef f():\n    if (F := compute()):\n"
            "        mlflow.search_logged_models(['1'], F)\n",
            [("mlflow.search_logged_models", None)],
            id="walrus shadows",
        ),
        pytest.param(
            "import mlflow\nc = mlflow.MlflowClient()\ndef g():\n    try:\n        pass\n"
            "    except Exception as c:\n        c.search_logged_models(['1'], 'a = 1')\n",
            [],
            id="except-as shadows",
        ),
        pytest.param(
            "import mlflow\nc = mlflow.MlflowClient()\ndef g(x):\n    match x:\n        case [c]:\n"
            "            c.search_logged_models(['1'], 'a = 1')\n",
            [],
            id="match capture shadows",
        ),
        pytest.param(
            "try:\n    import mlflow\nexcept ImportError:\n    mlflow = None\n"
            "mlflow.search_logged_models(['1'], 'a = 1')\n",
            [("mlflow.search_logged_models", "a = 1")],
            id="optional import",
        ),
        pytest.param(
            "import mlflow\nif (c := mlflow.MlflowClient()):\n    c.search_logged_models(['1'], 'a = 1')\n",
            [("mlflow.MlflowClient.search_logged_models", "a = 1")],
            id="walrus binds a client",
        ),
        pytest.param(
            "from typing import Optional\nimport mlflow\n"
            "def f(a: mlflow.MlflowClient | None, b: Optional[mlflow.MlflowClient]):\n"
            "    a.search_logged_models(['1'], 'a = 1')\n    b.search_logged_models(['1'], 'b = 1')\n",
            [("mlflow.MlflowClient.search_logged_models", "a = 1")] * 1
            + [("mlflow.MlflowClient.search_logged_models", "b = 1")],
            id="optional annotations",
        ),
        pytest.param(
            "import requests\n"
            "requests.post('http://h/api/2.0/mlflow/xlogged-models/search', json={'filter': 'a'})\n"
            "requests.post('http://h/logged-models/search/', json={'filter': 'b', 'filter': 'c'})\n",
            [("requests.post", "c")],  # a path boundary; the last of two keys, as Python keeps it
            id="urls and bodies",
        ),
    ],
)
def test_names_bound_as_python_binds_them(code: str, expected: list[tuple[str, str | None]]) -> None:
    found = [
        (call.name, call.argument.value if isinstance(call.argument, ast.Constant) else None)
        for call in calls_in(ast.parse(code))
    ]
    assert found == expected


@pytest.mark.parametrize(
    ("call", "target", "native"),
    [
        ("lmfilter.check(F, 'databricks', True)", "databricks", True),
        ("lmfilter.is_valid(F, 'mlflow-3.17')", "mlflow-3.17", None),
        ("lmfilter.ModelTable(models).select(F, target='local')", "local", None),
        ("lmfilter.Client.for_databricks('w').search(F, experiment_ids=['1'])", "databricks", False),
        ("lmfilter.optimize(F, T)", "mlflow-3.17", None),  # a target held by a name bound once
    ],
)
def test_a_target_or_native_written_at_the_call_is_read(call: str, target: str, native: bool | None) -> None:
    code = f"import lmfilter\nF = 'a = 1'\nT = 'mlflow-3.17'\n{call}\n"
    (found,) = calls_in(ast.parse(code))
    assert (found.target, found.native) == (target, native)


def test_a_receiver_made_for_a_target_held_by_a_name() -> None:
    code = "import lmfilter\nT = 'databricks'\nlmfilter.Client('http://h', target=T).search_page('a = 1')\n"
    (found,) = calls_in(ast.parse(code))
    assert (found.target, found.native) == ("databricks", True)
