"""Which Python calls pass a filter, and what each sends: the call-site table and a resolver of names.

A filter string is checked as what its call does with it. MLflow's ``search_logged_models`` (the fluent
function and ``MlflowClient``'s method) and the Databricks SDK's ``experiments.search_logged_models`` send it
to a server unchanged, and so does a JSON body posted with ``requests`` or ``httpx`` to
``…/logged-models/search``: those are checked ``native=True`` for the server. lmfilter's own functions read it
as lmfilter plans or runs it (``compile`` and ``Client.search_page`` send it as it is, so natively too).

Calls are recognised by what their names are bound to, not by how they are spelled: ``import mlflow as mf``,
``from mlflow import search_logged_models as s``, ``from mlflow.tracking import MlflowClient``, and a
receiver whose class is known from an assignment (``c = MlflowClient()``, a walrus), an annotation
(``def f(c: MlflowClient)``) or a ``with`` (``with httpx.Client() as http``) in the same scope or an
enclosing one, or from an attribute of ``self`` that its class annotates or its methods assign one class
(``self.client = MlflowClient()``). A name a function binds anywhere is its own throughout (as in Python),
and ``except ImportError: mlflow = None`` leaves an import known. A filter held by a name assigned one
string literal in its scope is followed to that literal, and so is a body held by a name assigned one dict
literal. A receiver whose class is unknown is left alone (``re.search``, ``self.store.search``), except
for a method named ``search_logged_models`` given ``filter_string=`` (MLflow's name for it: every MLflow
client and store takes the filter so) or ``filter=`` (the Databricks SDK's).

>>> import ast
>>> tree = ast.parse('''
... import mlflow as mf
... from databricks.sdk import WorkspaceClient
... w = WorkspaceClient()
... mf.search_logged_models(["1"], "metrics.acc > 0.9")
... w.experiments.search_logged_models(filter="name = 'a'")
... ''')
>>> [(c.name, c.sends, ast.literal_eval(c.argument)) for c in calls_in(tree)]
[('mlflow.search_logged_models', 'mlflow', 'metrics.acc > 0.9'), \
('databricks.sdk.service.ml.ExperimentsAPI.search_logged_models', 'databricks', "name = 'a'")]
"""

from __future__ import annotations

import ast as pyast
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Literal

Sends = Literal["lmfilter", "mlflow", "databricks", "server"]
"""Who reads a call's filter: lmfilter itself, an MLflow client (which passes it to its server unchanged),
the Databricks SDK (likewise, to a workspace), or a server reached over plain HTTP."""


@dataclass(frozen=True, slots=True)
class Call:
    """A call that passes a filter: what it was recognised as, the filter argument, and how it is read.

    ``argument`` is the expression of the filter: a string literal or f-string (followed through a name
    assigned one), or another expression, which the caller leaves alone. ``target`` is a target named at
    the call or its receiver (``target="databricks"``, ``Client.for_databricks()``), else ``None``: the
    configured one. ``native`` is whether lmfilter sends the filter as it is (``None``: as configured);
    calls that go to a server are always native.
    """

    name: str
    argument: pyast.expr
    sends: Sends
    target: str | None = None
    native: bool | None = None


@dataclass(frozen=True, slots=True)
class Takes:
    """Where a callee takes its filter: by keyword, and at which position (``None``: keyword only)."""

    sends: Sends
    keyword: str = "filter"
    position: int | None = 0
    native: bool | None = None
    target_position: int | None = None  # where ``target`` may be passed by position, as ``check``'s
    native_position: int | None = None


# ---- the call-site table ------------------------------------------------------------------------------

_MLFLOW = Takes("mlflow", "filter_string", 1)  # (experiment_ids, filter_string, ...) in both MLflow APIs
_DATABRICKS = Takes("databricks", "filter", None)  # keyword-only in the SDK
_LMFILTER = Takes("lmfilter")

# Functions, by every qualified name they are reached by.
FUNCTIONS: Mapping[str, Takes] = {
    "mlflow.search_logged_models": _MLFLOW,
    "mlflow.tracking.fluent.search_logged_models": _MLFLOW,
    **{
        f"{module}.{name}": _LMFILTER
        for module in ("lmfilter", "lmfilter.api")
        for name in ("parse", "format")
    },
    **{
        f"{module}.{name}": Takes("lmfilter", target_position=1, native_position=2)
        for module in ("lmfilter", "lmfilter.api")
        for name in ("check", "is_valid")
    },
    **{f"{m}.optimize": Takes("lmfilter", target_position=1) for m in ("lmfilter", "lmfilter.optimizer")},
    **{f"{m}.plan": _LMFILTER for m in ("lmfilter", "lmfilter.planner")},
    **{f"{m}.compile_query": _LMFILTER for m in ("lmfilter", "lmfilter.evaluate")},
    **{f"{m}.select": Takes("lmfilter", "filter", 1) for m in ("lmfilter", "lmfilter.evaluate")},
    **{f"{m}.compile": Takes("lmfilter", native=True) for m in ("lmfilter", "lmfilter.requests")},
}

# Classes, by every qualified name they are reached by: the name they are known by here.
CLASSES: Mapping[str, str] = {
    **dict.fromkeys(
        (
            "mlflow.MlflowClient",
            "mlflow.client.MlflowClient",
            "mlflow.tracking.MlflowClient",
            "mlflow.tracking.client.MlflowClient",
        ),
        "mlflow.MlflowClient",
    ),
    "databricks.sdk.WorkspaceClient": "databricks.sdk.WorkspaceClient",
    "databricks.sdk.service.ml.ExperimentsAPI": "databricks.sdk.service.ml.ExperimentsAPI",
    **{f"{m}.Client": "lmfilter.Client" for m in ("lmfilter", "lmfilter.client")},
    **{f"{m}.AsyncClient": "lmfilter.AsyncClient" for m in ("lmfilter", "lmfilter.client")},
    **{f"{m}.ModelTable": "lmfilter.ModelTable" for m in ("lmfilter", "lmfilter.table")},
    **dict.fromkeys(("requests.Session", "requests.sessions.Session"), "requests.Session"),
    "httpx.Client": "httpx.Client",
    "httpx.AsyncClient": "httpx.AsyncClient",
}

# Methods, by the class they are looked up on.
METHODS: Mapping[tuple[str, str], Takes] = {
    ("mlflow.MlflowClient", "search_logged_models"): _MLFLOW,
    ("databricks.sdk.service.ml.ExperimentsAPI", "search_logged_models"): _DATABRICKS,
    **{
        (client, method): Takes("lmfilter", native=method == "search_page")
        for client in ("lmfilter.Client", "lmfilter.AsyncClient")
        for method in ("search", "search_page", "plan")
    },
    ("lmfilter.ModelTable", "select"): _LMFILTER,
}

# Attributes that hold an object of a known class.
ATTRIBUTES: Mapping[tuple[str, str], str] = {
    ("databricks.sdk.WorkspaceClient", "experiments"): "databricks.sdk.service.ml.ExperimentsAPI",
}

# Class methods that make an instance, and the target it is for (None: as its arguments say).
FACTORIES: Mapping[str, tuple[str, str | None]] = {
    **{f"{cls}.for_databricks": (cls, "databricks") for cls in ("lmfilter.Client", "lmfilter.AsyncClient")},
    **{f"{cls}.from_env": (cls, None) for cls in ("lmfilter.Client", "lmfilter.AsyncClient")},
}

# Plain HTTP: functions and session methods that post, with the position of their URL.
HTTP_FUNCTIONS: Mapping[str, int] = {
    "requests.post": 0,
    "requests.api.post": 0,
    "httpx.post": 0,
    "requests.request": 1,
    "requests.api.request": 1,
    "httpx.request": 1,
}
HTTP_SESSIONS = frozenset({"requests.Session", "httpx.Client", "httpx.AsyncClient"})
SEARCH_PATH = "/logged-models/search"  # under /api/2.0/mlflow/ (MLflow) or /api/2.0/mlflow/ (Databricks)


# ---- what names stand for -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Ref:
    """A module, function or class, by qualified name."""

    name: str


@dataclass(frozen=True, slots=True)
class _Instance:
    """An object of a known class (by its name in :data:`CLASSES`), and the target it was made for."""

    cls: str
    target: str | None = None


@dataclass(frozen=True, slots=True)
class _Method:
    receiver: _Instance
    name: str


@dataclass(frozen=True, slots=True)
class _Literal:
    """A string or dict literal that a name was assigned once."""

    node: pyast.expr


@dataclass(frozen=True, slots=True)
class _Self:
    """The first parameter of a method: the attributes its class gives an object of a known class."""

    attributes: Mapping[str, _Instance]


_Value = _Ref | _Instance | _Method | _Literal | _Self

_OPTIONAL = (_Ref("typing.Optional"), _Ref("typing_extensions.Optional"))


@dataclass
class _Scope:
    bindings: dict[str, _Value | None] = field(default_factory=dict)
    parent: _Scope | None = None
    assigned: Counter[str] = field(default_factory=Counter)  # how often each name is bound in the scope

    def lookup(self, name: str) -> _Value | None:
        scope: _Scope | None = self
        while scope is not None:
            if name in scope.bindings:
                return scope.bindings[name]
            scope = scope.parent
        return None


_Function = pyast.FunctionDef | pyast.AsyncFunctionDef | pyast.Lambda


def calls_in(tree: pyast.AST) -> list[Call]:
    """Every call of a module that passes a filter, in the order of their filter arguments."""
    calls = list(_Resolver().module(tree))
    calls.sort(key=lambda call: (call.argument.lineno, call.argument.col_offset))
    return calls


class _Resolver:
    """Walks a module once, scope by scope, binding names as the statements run.

    A function's body is read after the rest of its scope (it runs later, when what the scope assigns is
    there). Within a scope the walk is in source order and takes each binding as it comes; a string or dict
    literal counts only for a name bound once in its scope, where no branch or loop can make it another.
    """

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.selves: dict[int, _Self] = {}  # by id() of a method: what its first parameter holds

    def module(self, tree: pyast.AST) -> Iterator[Call]:
        self._scope(tree, None, [])
        return iter(self.calls)

    def _scope(
        self,
        node: pyast.AST,
        parent: _Scope | None,
        parameters: list[pyast.arg],
        self_of: _Self | None = None,
    ) -> None:
        scope = _Scope(parent=parent, assigned=_bound_names(node))
        if parent is not None:  # a name a function binds anywhere is its own throughout, as Python has it
            scope.bindings.update(dict.fromkeys(scope.assigned))
        for parameter in parameters:
            scope.bindings[parameter.arg] = self._annotated(parameter.annotation, scope)
        if self_of is not None and parameters and scope.bindings[parameters[0].arg] is None:
            scope.bindings[parameters[0].arg] = self_of
        deferred: list[_Function] = []
        body = (
            node.body if isinstance(node, pyast.Module | pyast.FunctionDef | pyast.AsyncFunctionDef) else []
        )
        if isinstance(node, pyast.Lambda):
            self._expression(node.body, scope, deferred)
        for statement in body:
            self._statement(statement, scope, deferred)
        for function in deferred:
            arguments = function.args
            parameters = [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]
            parameters += [a for a in (arguments.vararg, arguments.kwarg) if a is not None]
            self._scope(function, scope, parameters, self.selves.get(id(function)))

    def _statement(self, node: pyast.stmt, scope: _Scope, deferred: list[_Function]) -> None:
        if isinstance(node, pyast.FunctionDef | pyast.AsyncFunctionDef):
            for expression in [*node.decorator_list, *node.args.defaults, *node.args.kw_defaults]:
                if expression is not None:
                    self._expression(expression, scope, deferred)
            scope.bindings[node.name] = None
            deferred.append(node)
            return
        if isinstance(node, pyast.ClassDef):
            # A class body is a scope its methods do not see: its names are kept apart, its methods are
            # read with the enclosing scope.
            body = _Scope(parent=scope, assigned=_bound_names(node))
            for expression in [*node.bases, *node.decorator_list]:
                self._expression(expression, scope, deferred)
            self_of = self._attributes(node, scope)
            for statement in node.body:
                if isinstance(statement, pyast.FunctionDef | pyast.AsyncFunctionDef) and not any(
                    isinstance(d, pyast.Name) and d.id in ("staticmethod", "classmethod")
                    for d in statement.decorator_list
                ):
                    self.selves[id(statement)] = self_of
                self._statement(statement, body, deferred)
            scope.bindings[node.name] = None
            return
        if isinstance(node, pyast.Import):
            for alias in node.names:
                if alias.asname:
                    scope.bindings[alias.asname] = _Ref(alias.name)
                else:
                    top = alias.name.split(".")[0]
                    scope.bindings[top] = _Ref(top)
            return
        if isinstance(node, pyast.ImportFrom):
            for alias in node.names:
                if node.level == 0 and node.module and alias.name != "*":
                    scope.bindings[alias.asname or alias.name] = _Ref(f"{node.module}.{alias.name}")
            return
        # Expressions first (a call in the value runs before the name is bound), then what is bound.
        for child in pyast.iter_child_nodes(node):
            if isinstance(child, pyast.expr):
                self._expression(child, scope, deferred)
            elif isinstance(child, pyast.withitem):
                self._expression(child.context_expr, scope, deferred)
        if isinstance(node, pyast.Assign):
            value = self._value(node.value, scope)
            for target in node.targets:
                # `except ImportError: mlflow = None` leaves the import known (the optional dependency's way).
                erases_an_import = (
                    isinstance(node.value, pyast.Constant)
                    and node.value.value is None
                    and isinstance(target, pyast.Name)
                    and isinstance(scope.bindings.get(target.id), _Ref)
                )
                if not erases_an_import:
                    self._bind(target, value, scope)
        elif isinstance(node, pyast.AnnAssign):
            value = self._value(node.value, scope) if node.value is not None else None
            self._bind(node.target, value or self._annotated(node.annotation, scope), scope)
        elif isinstance(node, pyast.AugAssign | pyast.For | pyast.AsyncFor):
            self._bind(node.target, None, scope)
        elif isinstance(node, pyast.With | pyast.AsyncWith):
            for item in node.items:
                if item.optional_vars is not None:
                    # The HTTP clients and lmfilter's return themselves from __enter__.
                    self._bind(item.optional_vars, self._value(item.context_expr, scope), scope)
        for child in pyast.iter_child_nodes(node):
            if isinstance(child, pyast.stmt):
                self._statement(child, scope, deferred)
            elif isinstance(child, pyast.ExceptHandler | pyast.match_case):
                captured = [child] if isinstance(child, pyast.ExceptHandler) else pyast.walk(child.pattern)
                for part in captured:  # `except E as name`, `case Point(x=name)`: bound to what is unknown
                    name = getattr(part, "name", None) or getattr(part, "rest", None)
                    if isinstance(name, str):
                        scope.bindings[name] = None
                if isinstance(child, pyast.match_case) and child.guard is not None:
                    self._expression(child.guard, scope, deferred)
                for statement in child.body:
                    self._statement(statement, scope, deferred)

    def _attributes(self, node: pyast.ClassDef, scope: _Scope) -> _Self:
        """The attributes of a class's objects that hold an object of a known class: annotated in the class
        body (``client: MlflowClient``), or assigned one in a method (``self.client = MlflowClient()``), the
        same class wherever assigned."""
        found: dict[str, set[_Value | None]] = {}
        for statement in node.body:
            if isinstance(statement, pyast.AnnAssign) and isinstance(statement.target, pyast.Name):
                annotated = self._annotated(statement.annotation, scope)
                found.setdefault(statement.target.id, set()).add(annotated)
            if not isinstance(statement, pyast.FunctionDef | pyast.AsyncFunctionDef):
                continue
            arguments = [*statement.args.posonlyargs, *statement.args.args]
            if not arguments:
                continue
            first = arguments[0].arg
            for child in pyast.walk(statement):
                targets: list[pyast.expr] = []
                value: pyast.expr | None = None
                if isinstance(child, pyast.Assign):
                    targets, value = child.targets, child.value
                elif isinstance(child, pyast.AnnAssign):
                    targets, value = [child.target], child.value
                for target in targets:
                    if (
                        isinstance(target, pyast.Attribute)
                        and isinstance(target.value, pyast.Name)
                        and target.value.id == first
                    ):
                        held = self._value(value, scope) if value is not None else None
                        if held is None and isinstance(child, pyast.AnnAssign):
                            held = self._annotated(child.annotation, scope)
                        found.setdefault(target.attr, set()).add(held)
        return _Self(
            {
                name: held
                for name, kinds in found.items()
                if len(kinds) == 1 and isinstance(held := next(iter(kinds)), _Instance)
            }
        )

    def _bind(self, target: pyast.expr, value: _Value | None, scope: _Scope) -> None:
        if isinstance(target, pyast.Name):
            if isinstance(value, _Literal) and scope.assigned[target.id] != 1:
                value = None
            scope.bindings[target.id] = value
        elif isinstance(target, pyast.Tuple | pyast.List):
            for element in target.elts:
                self._bind(element.value if isinstance(element, pyast.Starred) else element, None, scope)

    def _expression(self, node: pyast.expr, scope: _Scope, deferred: list[_Function]) -> None:
        """Find the calls of an expression, in the order they run; walked with a stack, as a file Python
        parses may nest deeper than recursion goes (``"a" + "a" + …``)."""
        stack: list[pyast.AST] = [node]
        while stack:
            item = stack.pop()
            if isinstance(item, pyast.Lambda):  # its body is a scope of its own, read later
                deferred.append(item)
                stack += reversed([d for d in [*item.args.defaults, *item.args.kw_defaults] if d is not None])
                continue
            if isinstance(item, pyast.Call):
                call = self._call(item, scope)
                if call is not None:
                    self.calls.append(call)
            elif isinstance(item, pyast.NamedExpr):  # (client := MlflowClient())
                self._bind(item.target, self._value(item.value, scope), scope)
            stack += reversed(
                [
                    child
                    for child in pyast.iter_child_nodes(item)
                    if isinstance(child, pyast.expr | pyast.keyword | pyast.comprehension)
                ]
            )

    def _annotated(self, annotation: pyast.expr | None, scope: _Scope) -> _Value | None:
        if isinstance(annotation, pyast.Constant) and isinstance(annotation.value, str):
            try:  # a string annotation: "MlflowClient"
                annotation = pyast.parse(annotation.value, mode="eval").body
            except SyntaxError:
                return None
        if isinstance(annotation, pyast.BinOp) and isinstance(annotation.op, pyast.BitOr):  # X | None
            return self._annotated(annotation.left, scope) or self._annotated(annotation.right, scope)
        if isinstance(annotation, pyast.Subscript) and self._value(annotation.value, scope) in _OPTIONAL:
            return self._annotated(annotation.slice, scope)  # Optional[X]
        kind = self._value(annotation, scope) if annotation is not None else None
        if isinstance(kind, _Ref) and kind.name in CLASSES:
            return _Instance(CLASSES[kind.name])
        return None

    # ---- values -------------------------------------------------------------------------------------

    def _value(self, node: pyast.expr, scope: _Scope) -> _Value | None:
        """What an expression stands for, when it is something the table knows of."""
        if isinstance(node, pyast.Name):
            return scope.lookup(node.id)
        if isinstance(node, pyast.Attribute):
            base = self._value(node.value, scope)
            if isinstance(base, _Self):
                return base.attributes.get(node.attr)
            if isinstance(base, _Ref):
                return _Ref(f"{base.name}.{node.attr}")
            if isinstance(base, _Instance):
                held = ATTRIBUTES.get((base.cls, node.attr))
                return _Instance(held) if held is not None else _Method(base, node.attr)
            return None
        if isinstance(node, pyast.Call):
            callee = self._value(node.func, scope)
            if isinstance(callee, _Ref):
                if callee.name in CLASSES:
                    return _Instance(CLASSES[callee.name], self._text(_argument(node, "target", None), scope))
                if _canonical(callee.name) in FACTORIES:
                    cls, target = FACTORIES[_canonical(callee.name)]
                    return _Instance(cls, target or self._text(_argument(node, "target", None), scope))
            return None
        if isinstance(node, pyast.Constant) and isinstance(node.value, str):
            return _Literal(node)
        if isinstance(node, pyast.JoinedStr | pyast.Dict):
            return _Literal(node)
        return None

    def _literal(self, node: pyast.expr, scope: _Scope) -> pyast.expr:
        """The literal a name holds, else the expression itself."""
        if isinstance(node, pyast.Name):
            value = scope.lookup(node.id)
            if isinstance(value, _Literal):
                return value.node
        return node

    # ---- calls ----------------------------------------------------------------------------------------

    def _call(self, node: pyast.Call, scope: _Scope) -> Call | None:
        callee = self._value(node.func, scope)
        if isinstance(callee, _Ref):
            name = _canonical(callee.name)
            takes = FUNCTIONS.get(name)
            if takes is not None:
                return self._passed(node, name, takes, scope, None)
            if name in HTTP_FUNCTIONS:
                return self._posted(node, name, HTTP_FUNCTIONS[name], scope)
            return None
        if isinstance(callee, _Method):
            receiver = callee.receiver
            name = f"{receiver.cls}.{callee.name}"
            takes = METHODS.get((receiver.cls, callee.name))
            if takes is not None:
                return self._passed(node, name, takes, scope, receiver.target)
            if receiver.cls in HTTP_SESSIONS and callee.name in ("post", "request"):
                return self._posted(node, name, 0 if callee.name == "post" else 1, scope)
            return None
        if (
            callee is None
            and isinstance(node.func, pyast.Attribute)
            and node.func.attr == "search_logged_models"
        ):
            # A receiver of unknown class: its keyword says whose method this is.
            for takes in (_MLFLOW, _DATABRICKS):
                if any(keyword.arg == takes.keyword for keyword in node.keywords):
                    return self._passed(node, "search_logged_models", takes, scope, None, keyword_only=True)
        return None

    def _passed(
        self,
        node: pyast.Call,
        name: str,
        takes: Takes,
        scope: _Scope,
        target: str | None,
        *,
        keyword_only: bool = False,
    ) -> Call | None:
        position = None if keyword_only else takes.position
        argument = _argument(node, takes.keyword, position)
        if argument is None:
            return None
        native = takes.native
        if takes.sends == "lmfilter":
            # A target or native written at the call wins over the receiver's.
            target = self._text(_argument(node, "target", takes.target_position), scope) or target
            if native is None:
                native = _bool(_argument(node, "native", takes.native_position))
        else:
            native = True
        return Call(name, self._literal(argument, scope), takes.sends, target, native)

    def _text(self, node: pyast.expr | None, scope: _Scope) -> str | None:
        """The string a literal, or a name bound once to one, holds."""
        literal = self._literal(node, scope) if node is not None else None
        return (
            literal.value if isinstance(literal, pyast.Constant) and isinstance(literal.value, str) else None
        )

    def _posted(self, node: pyast.Call, name: str, url_position: int, scope: _Scope) -> Call | None:
        """A POST of a literal JSON body with a ``filter`` to a URL that ends in ``logged-models/search``."""
        if url_position == 1:  # request(method, url, ...)
            method = _argument(node, "method", 0)
            if not (isinstance(method, pyast.Constant) and str(method.value).upper() == "POST"):
                return None
        url = _argument(node, "url", url_position)
        if url is None or not self._is_search_url(url, scope):
            return None
        body = self._body(node, scope)
        if body is None:
            return None
        filters = [
            value
            for key, value in zip(body.keys, body.values, strict=True)
            if isinstance(key, pyast.Constant) and key.value == "filter"
        ]
        if not filters:
            return None
        return Call(name, self._literal(filters[-1], scope), "server", None, True)  # the last one counts

    def _body(self, node: pyast.Call, scope: _Scope) -> pyast.Dict | None:
        """The dict literal posted as ``json=``, or as ``data=``/``content=`` through ``json.dumps``."""
        for keyword in node.keywords:
            value = keyword.value
            if keyword.arg in ("data", "content") and isinstance(value, pyast.Call) and value.args:
                dumps = self._value(value.func, scope)
                if isinstance(dumps, _Ref) and dumps.name == "json.dumps":
                    value = value.args[0]
                else:
                    continue
            elif keyword.arg != "json":
                continue
            literal = self._literal(value, scope)
            if isinstance(literal, pyast.Dict):
                return literal
        return None

    def _is_search_url(self, node: pyast.expr, scope: _Scope) -> bool:
        """Whether a URL expression ends in ``logged-models/search``: a literal, the literal end of an
        f-string, the right side of ``base + "/…"``, or the last argument of ``urljoin``; a query is left
        out."""
        node = self._literal(node, scope)
        tail: str | None = None
        if isinstance(node, pyast.Constant) and isinstance(node.value, str):
            tail = node.value
        elif isinstance(node, pyast.JoinedStr) and node.values:
            last = node.values[-1]
            tail = last.value if isinstance(last, pyast.Constant) and isinstance(last.value, str) else None
        elif isinstance(node, pyast.BinOp) and isinstance(node.op, pyast.Add):
            return self._is_search_url(node.right, scope)
        elif isinstance(node, pyast.Call) and len(node.args) == 2:
            joiner = self._value(node.func, scope)
            if isinstance(joiner, _Ref) and joiner.name in ("urllib.parse.urljoin", "httpx.URL.join"):
                return self._is_search_url(node.args[1], scope)
        if tail is None:
            return False
        path = "/" + tail.split("?", 1)[0].split("#", 1)[0].rstrip("/")
        return path.endswith(SEARCH_PATH)


def _canonical(name: str) -> str:
    """A qualified name with its class alias made the class's known name (``mlflow.client.MlflowClient``)."""
    head, _, attr = name.rpartition(".")
    return f"{CLASSES[head]}.{attr}" if head in CLASSES else name


def _bound_names(node: pyast.AST) -> Counter[str]:
    """How often each name is bound in a scope's own body (nested functions and classes are scopes of
    their own, though their names are bound here); a binding in a loop counts twice. Walked with a stack:
    a file Python parses may nest deeper than recursion goes."""
    counts: Counter[str] = Counter()
    stack = [(child, 1) for child in pyast.iter_child_nodes(node) if not isinstance(child, pyast.arguments)]
    while stack:
        child, times = stack.pop()
        if isinstance(child, pyast.FunctionDef | pyast.AsyncFunctionDef | pyast.ClassDef):
            counts[child.name] += times
            continue
        if isinstance(child, pyast.Lambda):
            continue
        if isinstance(child, pyast.Name) and isinstance(child.ctx, pyast.Store | pyast.Del):
            counts[child.id] += times  # a walrus's target too
        elif isinstance(child, pyast.alias):
            counts[(child.asname or child.name).split(".")[0]] += times
        elif isinstance(child, pyast.ExceptHandler | pyast.MatchAs | pyast.MatchStar) and child.name:
            counts[child.name] += times
        elif isinstance(child, pyast.MatchMapping) and child.rest:
            counts[child.rest] += times
        looped = isinstance(child, pyast.For | pyast.AsyncFor | pyast.While)
        stack += ((grandchild, 2 if looped else times) for grandchild in pyast.iter_child_nodes(child))
    return counts


def _argument(node: pyast.Call, keyword: str, position: int | None) -> pyast.expr | None:
    for given in node.keywords:
        if given.arg == keyword:
            return given.value
    if position is None or len(node.args) <= position:
        return None
    if any(isinstance(arg, pyast.Starred) for arg in node.args[: position + 1]):
        return None  # *args: where the filter lands is not known
    return node.args[position]


def _bool(value: pyast.expr | None) -> bool | None:
    return value.value if isinstance(value, pyast.Constant) and isinstance(value.value, bool) else None
