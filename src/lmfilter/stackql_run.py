"""Run the StackQL statements of ``databricks_workspace.ml.logged_models`` with lmfilter's client.

:func:`run_statements` takes a file of statements as :mod:`lmfilter.stackql` reads them (the page's forms,
``{{ name }}`` template variables, several statements separated by ``;``) and does what each asks, with a
:class:`~lmfilter.client.Client`, on a Databricks workspace or an MLflow server:

=========================================================  =================  =============================
statement                                                   method             client call
=========================================================  =================  =============================
``SELECT model … WHERE model_id = …``                       get                ``client.get``
``INSERT INTO … (data__experiment_id, …) SELECT …``         create             ``client.create``
``DELETE FROM … WHERE model_id = … AND tag_key = …``        delete_tag         ``client.delete_tag``
``DELETE FROM … WHERE model_id = …``                        delete             ``client.delete``
``EXEC ….finalize @model_id=… @@json='{"status": …}'``      finalize           ``client.finalize``
``EXEC ….log_params @model_id=… @@json='{"params": …}'``    log_params         ``client.log_params``
``EXEC ….search @@json='{"filter": …, …}'``                 search             ``client.search``
``EXEC ….set_tags @model_id=… @@json='{"tags": …}'``        set_tags           ``client.set_tags``
=========================================================  =================  =============================

Everything that can be known before a request is checked first, for the whole file, and any error means
nothing at all is sent (:class:`StatementsError`, its diagnostics in the file's offsets): what
:func:`~lmfilter.stackql.check_statements` finds (the search filter checked natively for the server, a
missing parameter, malformed JSON, a template variable with no value), an id or key no URL can carry, a
``deployment_name`` naming another workspace than the client's, and a variable's value that would change a
statement rather than fill a value in (see :func:`prepare`). Then the statements run in order; one that
fails stops the run (:class:`StatementFailedError`, naming the statement and its line) after the results of
those before it were given.

Results are :class:`StatementResult` s, rows shaped as StackQL prints them: a ``model`` column holding the
model object for ``SELECT model``, ``INSERT … RETURNING model``, finalize and each model a search finds;
no row, and StackQL's words ``The operation was despatched successfully``, for the others.

Values follow the page, where every body field is a string: a list field (``params``, ``tags``,
``experiment_ids``, ``datasets``, ``order_by``) may be written as its JSON in a string, ``max_results`` as
digits in a string. An empty string, and an empty list, is a field not given, as the API's proto3 JSON reads
them. On a Databricks workspace ``deployment_name`` names it (``NAME.cloud.databricks.com``: the first
label of the client's host); an MLflow server has none, and the value the grammar requires is not used.

>>> text = "DELETE FROM databricks_workspace.ml.logged_models WHERE model_id = '{{ id }}' AND " + (
...     "deployment_name = 'x'")
>>> [s.method for s in prepare(text, {"id": "m-1"}, target="mlflow").statements]
['delete']
>>> prepare(text, {"id": ".."}, target="mlflow")
Traceback (most recent call last):
...
lmfilter.stackql_run.StatementsError: error[LMF505]: model id '..' cannot be sent: '.' and '..' are steps ...
"""

from __future__ import annotations

import bisect
import dataclasses
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from lmfilter.client import Call, Client, LoggedModelsError, calls, check_route
from lmfilter.diagnostics import Diagnostic, FilterError, Position, Span, has_errors, ordered, quoted
from lmfilter.documents import line_starts
from lmfilter.errors import LmfilterError
from lmfilter.planner import Plan
from lmfilter.planner import plan as make_plan
from lmfilter.schema import TARGETS, Target, get_target
from lmfilter.stackql import (
    BAD_VALUE_CODE,
    UNDEFINED_CODE,
    Filled,
    JsonObject,
    JsonString,
    JsonValue,
    MethodName,
    Statement,
    check_statements,
    fill,
    parse_json,
    parse_statements,
    parser,
    plain,
)
from lmfilter.wire import LoggedModel

__all__ = [
    "DESPATCHED",
    "Row",
    "Script",
    "StatementFailedError",
    "StatementResult",
    "StatementsError",
    "position",
    "prepare",
    "run_statements",
    "variables_used",
]

DESPATCHED = "The operation was despatched successfully"
"""What StackQL prints for a statement that returns no rows."""

Row = dict[str, Any]
"""One row of a result, column name to value (the ``model`` column holds the model's JSON object)."""

MODEL_COLUMN = "model"


# ---- results and errors -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StatementResult:
    """What one statement did: its place in the file (``number`` counts from 1, ``line`` is where it
    starts in the file as written), its ``method``, the ``rows`` StackQL would print (``columns`` names
    theirs), and ``message``, StackQL's words for a statement with no rows. ``models`` holds every model
    the server answered, typed (a create without ``RETURNING`` answers one, but prints no row);
    ``statement`` is the statement as it was run (variables filled in)."""

    number: int
    line: int
    method: MethodName
    columns: tuple[str, ...]
    rows: tuple[Row, ...]
    models: tuple[LoggedModel, ...]
    message: str | None
    statement: Statement

    def to_json(self) -> dict[str, Any]:
        """The result as JSON: ``statement``, ``line``, ``method``, ``rows`` and ``message``."""
        return {
            "statement": self.number,
            "line": self.line,
            "method": self.method,
            "rows": list(self.rows),
            "message": self.message,
        }


class StatementsError(FilterError):
    """Statements that cannot be run, found before anything was sent: ``diagnostics`` (errors first) are in
    the offsets of ``text``, the file as written; ``str(error)`` shows each with its line and a caret."""


class StatementFailedError(LmfilterError):
    """A statement that failed once sent (its cause chained: a server error, an answer that cannot be
    read, a search whose pages would not end); the statements after it were not sent."""

    def __init__(self, number: int, line: int, method: MethodName, cause: Exception) -> None:
        self.number, self.line, self.method, self.cause = number, line, method, cause
        super().__init__(f"statement {number} (line {line}, {method}) failed: {cause}")


# ---- preparing: everything checked before anything is sent ------------------------------------------


Send = Callable[[Client], tuple[LoggedModel, ...]]


@dataclass(frozen=True, slots=True)
class _Planned:
    """One statement, ready to send: how (``send``) and what it prints (``columns``)."""

    number: int
    line: int
    statement: Statement
    columns: tuple[str, ...]
    send: Send


@dataclass(frozen=True, slots=True)
class Script:
    """Statements checked and ready to run (made by :func:`prepare`): ``warnings`` are the diagnostics
    that do not stop a run (a body field given twice), in the offsets of ``text``."""

    text: str = dataclasses.field(repr=False)
    target: Target | None
    warnings: tuple[Diagnostic, ...]
    planned: tuple[_Planned, ...] = dataclasses.field(repr=False)

    @property
    def statements(self) -> tuple[Statement, ...]:
        """The statements, variables filled in, in the order they run."""
        return tuple(step.statement for step in self.planned)

    def deployment_names(self) -> list[str]:
        """The workspaces the statements name (their ``deployment_name``), each once, in order."""
        names = (s.param("deployment_name") for s in self.statements)
        return list(dict.fromkeys(param.value.text for param in names if param is not None))

    def run(self, client: Client) -> Iterator[StatementResult]:
        """Send each statement in turn and give its result; the first that fails raises
        :class:`StatementFailedError` and the rest are not sent."""
        for step in self.planned:
            try:
                models = step.send(client)
            except (LoggedModelsError, LmfilterError, ValueError) as error:
                raise StatementFailedError(step.number, step.line, step.statement.method, error) from error
            yield _result(step, models)


def position(text: str, offset: int) -> Position:
    """The line and column of ``offset`` in ``text``, lines ending as editors end them (``\\n``, ``\\r\\n``
    or ``\\r``: :func:`lmfilter.documents.split_lines`)."""
    starts = line_starts(text)
    line = bisect.bisect_right(starts, offset) - 1
    return Position(line + 1, offset - starts[line] + 1)


def variables_used(text: str) -> list[str]:
    """The names of the template variables ``text`` uses, in order of first use (those in comments are
    not: :func:`~lmfilter.stackql.fill` leaves them alone)."""
    names = (_template_name(text[d.span.start : d.span.end]) for d in fill(text, {}).diagnostics)
    return list(dict.fromkeys(names))


def _result(step: _Planned, models: tuple[LoggedModel, ...]) -> StatementResult:
    rows = tuple({MODEL_COLUMN: model.to_json()} for model in models) if step.columns else ()
    return StatementResult(
        step.number,
        step.line,
        step.statement.method,
        step.columns,
        rows,
        models,
        None if step.columns else DESPATCHED,
        step.statement,
    )


def run_statements(
    client: Client,
    text: str,
    variables: Mapping[str, str] | None = None,
    *,
    target: str | Target | None = None,
) -> Iterator[StatementResult]:
    """Run every statement of ``text`` with ``client``, ``{{ name }}`` filled from ``variables``.

    The whole file is checked before this returns (see :func:`prepare`): an error raises
    :class:`StatementsError` and nothing is sent. The iterator then sends the statements one at a time,
    giving each result as it comes; a statement that fails raises :class:`StatementFailedError` and the
    later ones are not sent. ``target`` is the server's kind as the checks read it; by default the
    client's (for an MLflow server whose version is not known yet, ``GET /version`` is asked only when the
    file reads differently on 3.17 and 3.18).
    """
    return prepare(text, variables, client=client, target=target).run(client)


def prepare(
    text: str,
    variables: Mapping[str, str] | None = None,
    *,
    client: Client | None = None,
    target: str | Target | None = None,
) -> Script:
    """Read, fill in and check every statement of ``text``, and make each a call; raises
    :class:`StatementsError` (nothing sent) on any error.

    Checked: everything :func:`~lmfilter.stackql.check_statements` checks, for ``target`` (default: the
    client's; ``databricks`` without a client); an id, key or body the client would refuse to send; on a
    Databricks workspace, a ``deployment_name`` that names another than the ``client``'s; and the values of
    ``variables``: one filled in outside quotes must be one SQL string or number (``{{ id }}`` given
    ``'a'; DELETE …`` would add a statement), none may change a statement's form or the top-level fields
    of its ``@@json`` body, and none may hold a ``{{ name }}`` itself (it would pass unchecked as a
    template).
    """
    values = dict(variables or {})
    found = _value_faults(text, values)
    if found:  # the filled-in text is not what the file means: nothing more of it is worth reading
        raise StatementsError(text, ordered(found))
    profile, candidates = _target(client, target)
    if profile is None:
        # An MLflow server whose version is not known yet: the file is checked for each version it could
        # be, and the server asked (GET /version, a read) only when they read the file differently.
        checked = {c.name: check_statements(text, c.name, values) for c in candidates}
        failing = [name for name, diagnostics in checked.items() if has_errors(diagnostics)]
        if failing and len(failing) < len(checked) and client is not None:
            profile = client.target
            found += checked.get(profile.name) or check_statements(text, profile.name, values)
        else:
            found += checked[failing[0] if failing else candidates[0].name]
    else:
        found += check_statements(text, profile.name, values)
    planned: list[_Planned] = []
    if not has_errors(found):
        filled = fill(text, values)
        statements, _ = parse_statements(filled.text)
        found += _form_faults(text, filled, statements)
        sending = profile or candidates[0]
        if client is not None and sending.kind == "databricks":
            found += _deployment_faults(statements, filled, client.base_url)
        planned, faults = _plan(text, filled, statements, sending)
        found += faults
    if has_errors(found):
        raise StatementsError(text, ordered(found))
    warnings = tuple(d for d in ordered(found) if d.severity != "error")
    return Script(text, profile, warnings, tuple(planned))


def _target(client: Client | None, target: str | Target | None) -> tuple[Target | None, tuple[Target, ...]]:
    """The target the file runs on if it is known without asking the server; else the MLflow versions it
    could be."""
    if target is not None:
        profile = get_target(target)
        if not profile.is_server:
            raise ValueError(f"statements run on a server: {profile.name!r} is no server's target")
        return profile, ()
    if client is None:
        return get_target("databricks"), ()
    known = client.known_target
    if known is not None:
        return known, ()
    return None, tuple({t.name: t for t in TARGETS.values() if t.kind == "mlflow"}.values())


# ---- what a variable's value may do -------------------------------------------------------------------


def _error(message: str, span: Span, code: str = BAD_VALUE_CODE) -> Diagnostic:
    return Diagnostic(code, "error", message, span)


def _value_faults(text: str, values: Mapping[str, str]) -> list[Diagnostic]:
    """A value that would change a statement instead of filling a value in.

    :func:`~lmfilter.stackql.fill` escapes a value for a SQL string and a JSON string, so there it stays
    data. Outside quotes it is written as it is (a template there stands for SQL text): so such a value
    must be one SQL literal. A value holding ``{{ name }}`` would be read as a template not filled, and
    a template's value is not checked."""
    found: list[Diagnostic] = []
    for token in parser().lex(text):
        name = _template_name(str(token)) if token.type == "TEMPLATE" else None
        value = values.get(name) if name is not None else None
        if value is None:
            continue  # check_statements reports a variable with no value
        literal = list(parser().lex(value))
        # One token, and nothing else: not even a comment, which could hide the rest of the line.
        if (
            len(literal) != 1
            or literal[0].type not in ("STRING", "NUMBER")
            or str(literal[0]) != value.strip()
        ):
            found.append(
                _error(
                    f"{{{{ {name} }}}} stands outside quotes, so its value is SQL text: it must be one "
                    f"string ('...') or number, not {quoted(value)}; write '{{{{ {name} }}}}' to pass it as "
                    "a string",
                    Span(token.start_pos or 0, token.end_pos or 0),
                )
            )
    # Every use of every variable, as fill reports each one it has no value for.
    uses = [(_template_name(text[d.span.start : d.span.end]), d.span) for d in fill(text, {}).diagnostics]
    holding = {name for name, value in values.items() if fill(_sql_string(value), {}).diagnostics}
    for name, span in uses:
        value = values.get(name)
        if value is not None and name in holding:
            found.append(
                _error(
                    f"the value of {quoted(name)} holds a {{{{ template }}}} ({quoted(value)}): it "
                    "would be read as a variable with no value, and go unchecked",
                    span,
                    UNDEFINED_CODE,
                )
            )
    return found


def _template_name(template: str) -> str:
    """The variable of a ``{{ name }}`` as the grammar's TEMPLATE token reads it."""
    return template[2:-2].strip()


def _sql_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _form_faults(text: str, filled: Filled, statements: Sequence[Statement]) -> list[Diagnostic]:
    """A statement whose form the variables' values changed: one the file does not hold as written (it
    starts elsewhere, its method or its parameters differ), or a ``@@json`` body with other top-level
    fields."""
    written = {s.span.start: s for s in parse_statements(text).statements}
    found = []
    for statement in statements:
        span = filled.origin.span(statement.span)
        before = written.get(span.start)
        if before is None or _form(before) != _form(statement):
            # As written (templates unfilled) no such statement stands here: the values made it.
            found.append(_error("the variables' values change this statement's form", span))
        elif isinstance(before.body, JsonObject) and not _same_fields(before.body, statement.body):
            assert statement.body is not None
            found.append(
                _error(
                    "the variables' values change the fields of this @@json body: a value filled in where "
                    "a JSON value goes must be one JSON value",
                    filled.origin.span(statement.body.span),
                )
            )
    return found


def _form(statement: Statement) -> tuple[str, tuple[str, ...]]:
    """What makes a statement the one it is: its method and the parameters it names, in order."""
    return statement.method, tuple(param.name.key for param in statement.params)


def _same_fields(before: JsonObject, after: JsonValue | None) -> bool:
    if not isinstance(after, JsonObject) or len(after.members) != len(before.members):
        return False
    return all(
        "{{" in old.key.value or old.key.value == new.key.value
        for old, new in zip(before.members, after.members, strict=True)
    )


# ---- deployment_name ----------------------------------------------------------------------------------


def _deployment_faults(statements: Sequence[Statement], filled: Filled, base_url: str) -> list[Diagnostic]:
    """On a Databricks workspace, each ``deployment_name`` must name the client's: the first label of its
    host (``NAME.cloud.databricks.com``). Another would mean the statement meant another workspace."""
    label = httpx.URL(base_url).host.split(".", 1)[0]
    found = []
    for statement in statements:
        param = statement.param("deployment_name")
        if param is None or param.value.text.lower() == label.lower():
            continue
        name = param.value.text
        found.append(
            _error(
                f"deployment_name {quoted(name)} names the workspace https://{name}.cloud.databricks.com, "
                f"but the client talks to {base_url}: run the file on that workspace (--deployment-name "
                f"{name}), or write deployment_name = '{label}'",
                filled.origin.span(param.value.span),
            )
        )
    return found


# ---- the calls ----------------------------------------------------------------------------------------


class _RefusedError(Exception):
    """A value the client refuses to send (its words), and where it is in the filled text."""

    def __init__(self, message: str, span: Span) -> None:
        super().__init__(message)
        self.message, self.span = message, span


def _plan(
    text: str, filled: Filled, statements: Sequence[Statement], target: Target
) -> tuple[list[_Planned], list[Diagnostic]]:
    planned: list[_Planned] = []
    found: list[Diagnostic] = []
    for number, statement in enumerate(statements, 1):
        line = position(text, filled.origin.start(statement.span.start)).line
        try:
            columns, send = _call(statement, target)
        except _RefusedError as refused:
            found.append(_error(refused.message, filled.origin.span(refused.span)))
            continue
        planned.append(_Planned(number, line, statement, columns, send))
    return planned, found


def _call(statement: Statement, target: Target) -> tuple[tuple[str, ...], Send]:
    """The call a statement makes (built now, so that what the client refuses is refused before anything is
    sent), and the columns it prints."""
    method = statement.method
    body = statement.body if isinstance(statement.body, JsonObject) else JsonObject((), statement.span)
    if method == "search":
        return (MODEL_COLUMN,), _search(statement, body, target)
    if method == "create":
        experiment_id = _text(statement, "data__experiment_id")
        if not experiment_id.strip():
            raise _RefusedError(
                "data__experiment_id is empty: create needs the id of the experiment that owns the model",
                _where(statement, "data__experiment_id"),
            )
        options = {name: value for name in _CREATE_COLUMNS if (value := _column(statement, name)) is not None}
        _built(lambda: calls.create(experiment_id, **options), statement, body, target)
        returns = (MODEL_COLUMN,) if statement.columns else ()
        return returns, lambda client: (client.create(experiment_id, **options),)
    model_id = _text(statement, "model_id")
    if method == "get":
        _built(lambda: calls.get(model_id), statement, body, target)
        return (MODEL_COLUMN,), lambda client: (client.get(model_id),)
    if method == "delete":
        _built(lambda: calls.delete(model_id), statement, body, target)
        return (), lambda client: _nothing(client.delete(model_id))
    if method == "delete_tag":
        key = _text(statement, "tag_key")
        _built(lambda: calls.delete_tag(model_id, key), statement, body, target)
        return (), lambda client: _nothing(client.delete_tag(model_id, key))
    if method == "finalize":
        status = str(_field(body, "status"))
        _built(lambda: calls.finalize(model_id, status), statement, body, target)
        return (MODEL_COLUMN,), lambda client: (client.finalize(model_id, status),)
    if method == "log_params":
        params = _field(body, "params") or []
        _built(lambda: calls.log_params(model_id, params), statement, body, target)
        return (), lambda client: _nothing(client.log_params(model_id, params))
    tags = _field(body, "tags") or []
    _built(lambda: calls.set_tags(model_id, tags), statement, body, target)
    return (), lambda client: _nothing(client.set_tags(model_id, tags))


_CREATE_COLUMNS = ("name", "model_type", "source_run_id", "params", "tags")
_LIST_FIELDS = frozenset({"params", "tags", "experiment_ids", "datasets", "order_by"})


def _nothing(_: None) -> tuple[LoggedModel, ...]:
    return ()


def _text(statement: Statement, name: str) -> str:
    param = statement.param(name)
    assert param is not None  # check_statements requires it
    return param.value.text


def _column(statement: Statement, name: str) -> Any:
    """A ``data__`` column's value as the client takes it (``None`` when empty)."""
    param = statement.param("data__" + name)
    if param is None:
        return None
    value = param.value
    return _given(_plain(JsonString(value.text, value.span, value.offsets), name))


def _field(body: JsonObject, name: str) -> Any:
    """A body field's value as the client takes it (``None`` when absent or empty)."""
    value = body.get(name)
    return None if value is None else _given(_plain(value, name))


def _given(value: Any) -> Any:
    """An empty string or list is a field not given, as proto3 JSON reads it."""
    return None if value in ("", []) else value


def _plain(value: JsonValue, name: str) -> Any:
    """The Python value of a field: a string holding a list field's JSON is that JSON (the page writes
    every field as a string)."""
    if name in _LIST_FIELDS and isinstance(value, JsonString):
        if not value.value.strip():
            return None
        read = parse_json(value.value, value.offsets)
        assert not isinstance(read, Diagnostic)  # check_statements read the same text
        value = read
    return plain(value)


def _built(build: Callable[[], Call[Any]], statement: Statement, body: JsonObject, target: Target) -> None:
    """Build the statement's call as the client will, and check it as the client will before sending it
    to ``target`` (an MLflow server routes on a decoded ``/``), raising :class:`_RefusedError` where the
    client refuses."""
    try:
        check_route(target, build())
    except (ValueError, TypeError) as error:
        raise _RefusedError(str(error), _blame(statement, body, str(error))) from None


def _blame(statement: Statement, body: JsonObject, message: str) -> Span:
    """Where the value the client refused is: the one its message names (the client's messages start with
    what they are about: ``tag key ...``, ``params[0]: ...``, ``model id ...``)."""
    about = message.removeprefix("a ")
    if about.startswith("tag key"):
        return _where(statement, "tag_key")
    for field in ("params", "tags"):
        if about.startswith(field):
            value = body.get(field)
            return value.span if value is not None else _where(statement, "data__" + field)
    if about.startswith("model id") or "the model id" in about:
        return _where(statement, "model_id")
    if "the tag key" in about:
        return _where(statement, "tag_key")
    return statement.method_span


def _where(statement: Statement, name: str) -> Span:
    param = statement.param(name)
    return param.value.span if param is not None else statement.method_span


# ---- search -------------------------------------------------------------------------------------------


def _search(statement: Statement, body: JsonObject, target: Target) -> Send:
    """``EXEC ….search``: every model (or ``max_results``), paged by the client, from ``page_token`` on
    when one is given. The filter was checked native for the target, so the plan is its one request."""
    max_results = _field(body, "max_results")
    options: dict[str, Any] = {
        "experiment_ids": _field(body, "experiment_ids") or [],
        "datasets": _field(body, "datasets"),
        "order_by": _field(body, "order_by"),
        "max_results": None if max_results is None else int(max_results),
    }
    text = _field(body, "filter")
    token = _field(body, "page_token")
    try:
        planned = make_plan(text, target=target, **options)
    except (ValueError, TypeError) as error:  # RequestError and FilterError are ValueErrors
        where = _body_span(body, str(error)) or statement.method_span
        raise _RefusedError(str(error), where) from None
    if token is not None and len(planned.requests) > 1:
        raise _RefusedError(
            "a page_token continues one request, and this search is planned as several",
            _body_span(body, "page_token") or statement.method_span,
        )

    def send(client: Client) -> tuple[LoggedModel, ...]:
        if token is None:
            return tuple(client.search(text, **options))
        started = _from_token(client.plan(text, **options), token)
        return tuple(client.run(started))

    return send


def _body_span(body: JsonObject, message: str) -> Span | None:
    for member in body.members:
        if member.key.value in message:
            return member.value.span
    return None


def _from_token(planned: Plan, token: str) -> Plan:
    requests = tuple(
        dataclasses.replace(r, body=r.body.model_copy(update={"page_token": token})) for r in planned.requests
    )
    return dataclasses.replace(planned, requests=requests)
