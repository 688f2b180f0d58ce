"""The ``lmfilter`` command.

``lmfilter check [--target T] [--native] [--format text|json] FILTER`` prints the diagnostics of a filter
and exits 0 when there is no error, 1 when there is one, 2 on bad usage. ``lmfilter fmt FILTER`` prints the
canonical text. For either, a FILTER of ``-`` reads filters from standard input, one a line (blank lines
and lines starting with ``#`` are skipped).

``lmfilter eval FILTER --models FILE [--target T] [--datasets JSON] [--order-by JSON]
[--format ids|json|table]`` runs a filter over saved models (JSON lines, a JSON array or a saved search
answer; ``-`` for standard input; see :mod:`lmfilter.model_files`) as a search would, and prints the
matches in the search's order. It exits 0 when it ran (whether or not a model matched), 1 on a bad filter,
``--datasets``, ``--order-by`` or model file, 2 on bad usage.

``lmfilter lint [PATH ...] [--target T] [--native] [--format text|json|sarif]`` checks the filters of ``.lmf``
files and Python call sites (see :mod:`lmfilter.lint`); it exits 1 when one has an error or a file cannot be
read.
"""

from __future__ import annotations

import argparse
import datetime
import json
import logging
import shutil
import sys
import time
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from lmfilter import api, ast, lint
from lmfilter.client import Client, LoggedModelsError, RetryPolicy, key_values
from lmfilter.diagnostics import Diagnostic, FilterError, has_errors, json_text, render, shown, text_width
from lmfilter.evaluate import RowFilter, compile_query, latest_row, latest_row_by_time
from lmfilter.model_files import ModelFile, ModelFileError, json_value
from lmfilter.planner import plan as make_plan
from lmfilter.printer import field_text
from lmfilter.records import Record, RecordError
from lmfilter.requests import OrderKey, RequestError, datasets_of, order_keys
from lmfilter.requests import compile as compile_request
from lmfilter.schema import TARGETS, Target, get_target
from lmfilter.status import ModelStatus
from lmfilter.version import __version__
from lmfilter.wire import KeyValue, LoggedModel

EXIT_OK, EXIT_ERRORS, EXIT_USAGE = 0, 1, 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status (130 when interrupted, as shells expect)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if argv[:1] == ["lsp"]:  # the language server parses its own options (and loads pygls only then)
            return _run_lsp(argv[1:])
        parser = _parser()
        args = parser.parse_args(argv)
        result: int = args.run(args, sys.stdout, sys.stderr)
    except BrokenPipeError:  # e.g. piped into `head`
        return EXIT_OK
    except KeyboardInterrupt:
        sys.stderr.write("lmfilter: interrupted\n")
        return EXIT_INTERRUPTED
    return result


def _run_lsp(argv: list[str]) -> int:
    try:
        from lmfilter.lsp import main as lsp_main
    except ImportError as error:  # lsp.py says which extra is missing, in words
        if "lmfilter[lsp]" not in str(error):
            raise
        sys.stderr.write(f"lmfilter lsp: {error}\n")
        return EXIT_USAGE
    return lsp_main(argv)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lmfilter",
        description="Check, format and run search filters for ML logged models (MLflow, Databricks).",
    )
    parser.add_argument("--version", action="version", version=f"lmfilter {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    check_cmd = commands.add_parser("check", help="report every problem in a filter")
    check_cmd.add_argument(
        "filter", metavar="FILTER", help="the filter text, or - to read filters from stdin"
    )
    _check_options(check_cmd)
    check_cmd.add_argument("--format", choices=("text", "json"), default="text", help="output format")
    check_cmd.set_defaults(run=_run_check)

    fmt_cmd = commands.add_parser("fmt", help="print a filter's canonical text")
    fmt_cmd.add_argument("filter", metavar="FILTER", help="the filter text, or - to read filters from stdin")
    fmt_cmd.set_defaults(run=_run_fmt)

    eval_cmd = commands.add_parser(
        "eval",
        help="run a filter over saved models, as a search would",
        description="Print the models of FILE that FILTER matches, in the order the search would return "
        "them. FILE holds logged models as the API sends them: one per line (JSON lines), a JSON array, "
        'or a saved search answer {"models": [...]}; - reads standard input.',
    )
    eval_cmd.add_argument("filter", metavar="FILTER", help="the filter text ('' for no condition)")
    eval_cmd.add_argument(
        "--models", metavar="FILE", required=True, help="the saved models (- for standard input)"
    )
    eval_cmd.add_argument(
        "--target",
        default="mlflow",
        choices=sorted(TARGETS),
        help="whose semantics to follow (default: mlflow, i.e. MLflow 3.18)",
    )
    eval_cmd.add_argument(
        "--datasets",
        metavar="JSON",
        help='the search\'s datasets, as JSON or @FILE: [{"dataset_name": "eval", "dataset_digest": "..."}]',
    )
    eval_cmd.add_argument(
        "--order-by",
        metavar="JSON",
        help='the search\'s order_by, as JSON or @FILE: [{"field_name": "metrics.acc", "ascending": false}]',
    )
    eval_cmd.add_argument(
        "--format",
        choices=("ids", "json", "table"),
        default="ids",
        help="model ids one a line (default), the models as a JSON array, or a table of the fields used",
    )
    eval_cmd.set_defaults(run=_run_eval)

    lint_cmd = commands.add_parser(
        "lint",
        help="check the filters of .lmf files and Python call sites",
        description="Check every filter of the .lmf and Python files named and under the directories named "
        "(default: the current directory). Exits 1 when a filter has an error or a file cannot be read.",
    )
    lint_cmd.add_argument("paths", nargs="*", metavar="PATH", help="files and directories (default: .)")
    _check_options(lint_cmd)
    lint_cmd.add_argument("--format", choices=("text", "json", "sarif"), default="text", help="output format")
    lint_cmd.set_defaults(run=_run_lint)
    _add_server_commands(commands)
    commands.add_parser("lsp", help="run the language server on stdio (lmfilter lsp --help)")
    return parser


def _check_options(cmd: argparse.ArgumentParser) -> None:
    """``--target`` and ``--native``: what a filter is checked against."""
    cmd.add_argument(
        "--target",
        default="mlflow",
        choices=sorted(TARGETS),
        help="where the filters will run (default: mlflow)",
    )
    cmd.add_argument(
        "--native",
        action="store_true",
        help="filters are sent to the server as they are: what it would reject or misread is an error",
    )


# ---- compile, explain, search, models ------------------------------------------------------------


def _search_options(cmd: argparse.ArgumentParser, *, target_default: str | None = "mlflow") -> None:
    cmd.add_argument(
        "--experiment-id", action="append", required=True, metavar="ID", help="repeat for several"
    )
    cmd.add_argument("--datasets", metavar="JSON", help="the search's datasets, as JSON or @FILE")
    cmd.add_argument("--order-by", metavar="JSON", help="the search's order_by, as JSON or @FILE")
    cmd.add_argument("--max-results", type=int, metavar="N", help="at most N models")
    cmd.add_argument(
        "--target",
        default=target_default,
        choices=sorted(TARGETS),
        help="the server's kind"
        + (f" (default: {target_default})" if target_default else " (default: ask it)"),
    )


def _server_options(cmd: argparse.ArgumentParser) -> None:
    where = cmd.add_mutually_exclusive_group()
    where.add_argument(
        "--server",
        metavar="URL",
        help="an MLflow tracking server (a user:password@ in it is basic auth); without --server, --host, "
        "--deployment-name or --profile, MLFLOW_TRACKING_URI says where, as for mlflow (http(s)://..., "
        "databricks or databricks://PROFILE)",
    )
    where.add_argument(
        "--host", metavar="HOST", help="a Databricks workspace (default: $DATABRICKS_HOST, or the profile's)"
    )
    where.add_argument(
        "--deployment-name", metavar="NAME", help="a Databricks workspace (NAME.cloud.databricks.com)"
    )
    cmd.add_argument(
        "--profile",
        metavar="NAME",
        help="a profile of ~/.databrickscfg for a Databricks workspace (needs lmfilter[databricks])",
    )
    cmd.add_argument(
        "--token",
        help="bearer token (default: $MLFLOW_TRACKING_TOKEN; for Databricks $DATABRICKS_TOKEN, or what the "
        "Databricks SDK's configuration gives)",
    )
    cmd.add_argument(
        "--timeout",
        type=_seconds,
        metavar="SECONDS",
        help="give up a request after SECONDS, retries and reading the answer included (default: 120)",
    )
    cmd.add_argument(
        "-v", "--verbose", action="store_true", help="print each request sent, and its answer's status"
    )


def _seconds(text: str) -> float:
    """A ``--timeout``: a positive, finite number of seconds."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, not {text!r}")
    return value


def _add_server_commands(commands: Any) -> None:
    compile_cmd = commands.add_parser("compile", help="print the search request body for a native filter")
    compile_cmd.add_argument("filter", metavar="FILTER")
    _search_options(compile_cmd)
    compile_cmd.set_defaults(run=_run_compile)

    explain_cmd = commands.add_parser(
        "explain", help="show how a filter would be run: requests and local check"
    )
    explain_cmd.add_argument("filter", metavar="FILTER")
    _search_options(explain_cmd)
    explain_cmd.set_defaults(run=_run_explain)

    search_cmd = commands.add_parser("search", help="search a server with any filter (planned as needed)")
    search_cmd.add_argument("filter", metavar="FILTER")
    _search_options(search_cmd, target_default=None)
    _server_options(search_cmd)
    search_cmd.add_argument("--format", choices=("ids", "json", "table"), default="ids")
    search_cmd.set_defaults(run=_run_search)

    models_cmd = commands.add_parser("models", help="the other logged-model operations")
    ops = models_cmd.add_subparsers(dest="operation", required=True, metavar="OPERATION")
    for name, helptext in (
        ("get", "print a model"),
        ("delete", "delete a model"),
        ("finalize", "set a model's final status"),
        ("log-params", "log params (KEY=VALUE or JSON ...)"),
        ("set-tags", "set tags (KEY=VALUE or JSON ...)"),
        ("delete-tag", "delete a tag"),
    ):
        op = ops.add_parser(name, help=helptext)
        op.add_argument("model_id", metavar="MODEL_ID")
        _server_options(op)
        op.set_defaults(run=_run_models)
    ops.choices["get"].add_argument("--allow-deleted", action="store_true")
    ops.choices["finalize"].add_argument("--status", required=True, choices=("READY", "FAILED"))
    for name in ("log-params", "set-tags"):
        ops.choices[name].add_argument("pairs", nargs="+", metavar="KEY=VALUE|JSON")
    ops.choices["delete-tag"].add_argument("key", metavar="KEY")
    create = ops.add_parser("create", help="create a model")
    create.add_argument("--experiment-id", required=True, metavar="ID")
    create.add_argument("--name")
    create.add_argument("--model-type")
    create.add_argument("--source-run-id")
    create.add_argument("--param", action="append", default=[], metavar="KEY=VALUE|JSON")
    create.add_argument("--tag", action="append", default=[], metavar="KEY=VALUE|JSON")
    _server_options(create)
    create.set_defaults(run=_run_models)


def _search_inputs(args: argparse.Namespace) -> tuple[list[Any] | None, list[Any] | None]:
    return _json_list(args.datasets, "--datasets"), _json_list(args.order_by, "--order-by")


def _run_compile(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    try:
        datasets, order_by = _search_inputs(args)
        body = compile_request(
            args.filter,
            target=args.target,
            experiment_ids=args.experiment_id,
            datasets=datasets,
            order_by=order_by,
            max_results=args.max_results,
        )
    except FilterError as error:
        err.write(str(error) + "\n")
        if any(d.code.startswith("LMF3") for d in error.diagnostics):
            err.write(
                "lmfilter compile: not native for the target; `lmfilter explain` shows how it is planned\n"
            )
        return EXIT_ERRORS
    except (_OptionError, RequestError) as error:
        err.write(f"lmfilter compile: {error}\n")
        return EXIT_ERRORS
    json.dump(body.to_json(), out, indent=2, ensure_ascii=False)
    out.write("\n")
    return EXIT_OK


def _run_explain(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    try:
        datasets, order_by = _search_inputs(args)
        planned = make_plan(
            args.filter,
            target=args.target,
            experiment_ids=args.experiment_id,
            datasets=datasets,
            order_by=order_by,
            max_results=args.max_results,
        )
    except FilterError as error:
        err.write(str(error) + "\n")
        return EXIT_ERRORS
    except (_OptionError, RequestError, ValueError) as error:
        err.write(f"lmfilter explain: {error}\n")
        return EXIT_ERRORS
    out.write(planned.explain() + "\n")
    return EXIT_OK


def _client(args: argparse.Namespace) -> Client:
    """The client the server options ask for: a Databricks workspace (--host, --deployment-name,
    --profile), an MLflow server (--server), or what MLflow's environment says."""
    options: dict[str, Any] = {}
    if getattr(args, "target", None):
        options["target"] = args.target
    if args.timeout is not None:
        options["retry"] = RetryPolicy(deadline=args.timeout)
    if args.host or args.deployment_name or args.profile:
        if args.server:
            raise _OptionError("--profile is for a Databricks workspace: give --host or none, not --server")
        return Client.for_databricks(
            args.deployment_name, args.token, host=args.host, profile=args.profile, **options
        )
    return Client.from_env(args.server, token=args.token, **options)


SHOWN_LINE = 4000  # characters of one line of a server command's stderr


def _line(text: str) -> str:
    """A message as one line of stderr: line breaks and other controls a server may have put in it escaped,
    so it can neither break the line nor drive the terminal."""

    return shown(text, SHOWN_LINE)


class _Reporting:
    """While a server command runs: the client's retries (and with ``-v`` every request sent and its
    status) as ``lmfilter: ...`` lines on stderr."""

    def __init__(self, err: TextIO, verbose: bool) -> None:

        class Lines(logging.Handler):
            def emit(self, record: logging.LogRecord) -> None:
                err.write(f"lmfilter: {_line(record.getMessage())}\n")
                err.flush()

        self.logger = logging.getLogger("lmfilter.client")
        self.handler = Lines()
        self.level, self.wanted = self.logger.level, logging.DEBUG if verbose else logging.INFO

    def __enter__(self) -> None:
        self.logger.addHandler(self.handler)
        self.logger.setLevel(self.wanted)

    def __exit__(self, *exc_info: object) -> None:
        self.logger.removeHandler(self.handler)
        self.logger.setLevel(self.level)


def _run_search(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:

    try:
        datasets, order_by = _search_inputs(args)
        with _Reporting(err, args.verbose), _client(args) as client:
            found = client.search(
                args.filter,
                experiment_ids=args.experiment_id,
                datasets=datasets,
                order_by=order_by,
                max_results=args.max_results,
            )
            models = []
            counter = _Counter(err)
            for model in found:
                models.append(model)
                counter.tick(len(models))
                if args.format == "ids":
                    out.write(f"{_line(model.model_id)}\n")  # a server's id may hold a line break
            counter.done()
            target = client.target
    except FilterError as error:
        err.write(str(error) + "\n")
        return EXIT_ERRORS
    except (_OptionError, RequestError, LoggedModelsError, ValueError) as error:
        err.write(f"lmfilter search: {_line(str(error))}\n")
        return EXIT_ERRORS
    if args.format == "json":
        out.write(json_text([m.to_json() for m in models]) + "\n")
    elif args.format == "table":
        out.write(_table(models, _columns(api.parse(args.filter), datasets, order_by, target)))
        out.write(f"{len(models)} model{'s' if len(models) != 1 else ''}\n")
    return EXIT_OK


def _pairs(items: Sequence[str], option: str) -> tuple[KeyValue, ...]:
    """Params or tags from the command line: ``KEY=VALUE``, or JSON (``{"KEY": "VALUE"}``, or a list of
    ``{"key": ..., "value": ...}`` objects or ``[KEY, VALUE]`` pairs) for keys that hold ``=``."""
    found: list[Any] = []
    for item in items:
        if item.lstrip()[:1] in ("{", "["):
            try:
                data = json.loads(item)
            except ValueError:
                data = None  # e.g. a key that starts with a bracket: read as KEY=VALUE below
            if isinstance(data, dict):
                found += data.items()
                continue
            if isinstance(data, list):
                found += data
                continue
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise _OptionError(f'{option}: expected KEY=VALUE or JSON ({{"KEY": "VALUE"}}), not {item!r}')
        found.append((key, value))
    try:
        return key_values(found, option)
    except (TypeError, ValueError) as error:
        raise _OptionError(str(error)) from None


def _run_models(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:

    try:
        with _Reporting(err, args.verbose), _client(args) as client:
            model: LoggedModel | None = None
            match args.operation:
                case "get":
                    model = client.get(args.model_id, allow_deleted=args.allow_deleted)
                case "create":
                    model = client.create(
                        args.experiment_id,
                        name=args.name,
                        model_type=args.model_type,
                        source_run_id=args.source_run_id,
                        params=_pairs(args.param, "--param"),
                        tags=_pairs(args.tag, "--tag"),
                    )
                case "delete":
                    client.delete(args.model_id)
                case "finalize":
                    model = client.finalize(args.model_id, args.status)
                case "log-params":
                    client.log_params(args.model_id, _pairs(args.pairs, "log-params"))
                case "set-tags":
                    client.set_tags(args.model_id, _pairs(args.pairs, "set-tags"))
                case "delete-tag":
                    client.delete_tag(args.model_id, args.key)
    except (_OptionError, LoggedModelsError, ValueError) as error:
        err.write(f"lmfilter models {args.operation}: {_line(str(error))}\n")
        return EXIT_ERRORS
    if model is not None:
        out.write(json_text(model.to_json()) + "\n")
    return EXIT_OK


class _Counter:
    """A count of models found, on a terminal's stderr, for long searches."""

    def __init__(self, err: TextIO) -> None:
        self.err, self.live, self.last = err, err.isatty(), 0.0

    def tick(self, count: int) -> None:
        now = time.monotonic()
        if self.live and now - self.last > 0.1:
            self.err.write(f"\r{count:,} models found...")
            self.err.flush()
            self.last = now

    def done(self) -> None:
        if self.live and self.last:
            self.err.write("\r\033[K")
            self.err.flush()


def _filters(arg: str, stdin: TextIO | None = None) -> Iterator[tuple[str, int | None]]:
    """The filters to work on, each with its line number when read from stdin.

    Bytes of stdin that are not text in its encoding become lone surrogates, as they do in arguments, and
    the parser reports them (LMF112) where they stand, instead of the run ending in a UnicodeDecodeError. A
    byte order mark in front of the first line is not part of the filter.
    """
    if arg != "-":
        yield arg, None
        return
    stream = stdin or sys.stdin
    reconfigure = getattr(stream, "reconfigure", None)
    if reconfigure is not None:
        reconfigure(errors="surrogateescape")
    for number, line in enumerate(stream, start=1):
        text = line.rstrip("\r\n")
        if number == 1:
            text = text.removeprefix("\ufeff")  # the byte order mark some editors and shells write first
        if text.strip() and not text.lstrip().startswith("#"):
            yield text, number


def _run_check(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:

    results: list[tuple[str, int | None, list[Diagnostic]]] = [
        (text, line, api.check(text, target=args.target, native=args.native))
        for text, line in _filters(args.filter)
    ]
    failed = any(has_errors(diags) for _, _, diags in results)
    if args.format == "json":
        payload = [
            {
                "filter": text,
                **({"line": line} if line is not None else {}),
                "valid": not has_errors(diags),
                "diagnostics": [d.to_json(text) for d in diags],
            }
            for text, line, diags in results
        ]
        out.write(json_text(payload) + "\n")  # a filter may hold lone surrogates, which UTF-8 cannot take
        return EXIT_ERRORS if failed else EXIT_OK
    counts = {"error": 0, "warning": 0, "info": 0}
    for text, line, diags in results:
        for diag in diags:
            counts[diag.severity] += 1
        if diags:
            if line is not None:
                out.write(f"<stdin>:{line}:\n")
            out.write(render(text, diags) + "\n\n")
    summary = ", ".join(f"{n} {kind}{'s' if n != 1 else ''}" for kind, n in counts.items())
    plural = "s" if len(results) != 1 else ""
    out.write(
        f"{len(results)} filter{plural} checked for {TARGETS[args.target].title}"
        f"{' (native)' if args.native else ''}: {summary}\n"
    )
    return EXIT_ERRORS if failed else EXIT_OK


def _run_fmt(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    status = EXIT_OK
    for text, line in _filters(args.filter):
        try:
            out.write(api.format(text) + "\n")
        except FilterError as error:
            where = f"<stdin>:{line}:\n" if line is not None else ""
            err.write(where + str(error) + "\n")
            status = EXIT_ERRORS
    return status


def _run_lint(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:

    reports = lint.lint_paths(args.paths or ["."], target=args.target, native=args.native)
    for report in reports:
        if report.error is not None:
            err.write(f"lmfilter lint: {shown(report.path, None)}: {report.error}\n")
    if args.format == "text":
        out.write(lint.render_text(reports) + "\n")
    else:
        payload = lint.to_json(reports) if args.format == "json" else lint.to_sarif(reports)
        out.write(json_text(payload) + "\n")  # paths and filters may hold lone surrogates
    return EXIT_ERRORS if any(report.has_errors for report in reports) else EXIT_OK


# ---- eval ----------------------------------------------------------------------------------------


class _OptionError(ValueError):
    """A ``--datasets`` or ``--order-by`` value that is not a JSON list."""


def _run_eval(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    text: str = args.filter
    diagnostics = api.check(text, target="local")  # evaluation runs the whole language
    if has_errors(diagnostics):
        err.write(render(text, diagnostics) + "\n")
        return EXIT_ERRORS
    warnings = [d for d in diagnostics if d.severity == "warning"]
    if warnings:
        err.write(render(text, warnings) + "\n")
    try:
        datasets = _json_list(args.datasets, "--datasets")
        order_by = _json_list(args.order_by, "--order-by")
        query = compile_query(text, datasets=datasets, order_by=order_by, target=args.target)
    except (_OptionError, RequestError) as error:
        err.write(f"lmfilter eval: {error}\n")
        return EXIT_ERRORS
    try:
        with ModelFile.open(args.models) as source:
            try:
                with _Progress.for_file(source, err) as progress:
                    matches = query.select(progress.track(source))
            except RecordError as error:  # found in the record read last
                err.write(f"lmfilter eval: {source.where()}: {error}\n")
                return EXIT_ERRORS
    except ModelFileError as error:
        err.write(f"lmfilter eval: {error}\n")
        return EXIT_ERRORS
    # The whole answer is made, and checked to fit the output's encoding, before any of it is written: a
    # fault found on the way prints no part of it.
    if args.format == "ids":
        # One id a line, as it is: an id that cannot be written so is an error (written another way, it
        # would be another id).
        answer = "".join(f"{model.model_id}\n" for model in matches)
        bad = next((m.model_id for m in matches if "\n" in m.model_id or "\r" in m.model_id), None)
        why = "holds a line break"
        if bad is None and (fault := _unwritable(answer, out)) is not None:
            bad = matches[answer.count("\n", 0, fault.start)].model_id
            why = f"has a character {out.encoding} lacks"
        if bad is not None:
            err.write(f"lmfilter eval: the model id {bad!a} {why}: use --format json\n")
            return EXIT_ERRORS
    elif args.format == "json":
        payload = [model.to_json() for model in matches]
        answer = json.dumps(payload, indent=2, ensure_ascii=False) + "\n"
        if _unwritable(answer, out) is not None:
            answer = json.dumps(payload, indent=2) + "\n"  # the same JSON, other characters as \u escapes
    else:
        columns = _columns(api.parse(text), datasets, order_by, get_target(args.target))
        summary = f"{len(matches)} of {source.models_read} model{'s' if source.models_read != 1 else ''}\n"
        answer = _table(matches, columns) + summary
        if _unwritable(answer, out) is not None:
            answer = _table(matches, columns, charset=out.encoding) + summary
    try:
        out.write(answer)
        out.flush()
    except BrokenPipeError:
        raise  # the reader left (e.g. `head`): main() ends quietly
    except OSError as error:  # e.g. a full disk
        err.write(f"lmfilter eval: cannot write the answer: {error.strerror or error}\n")
        return EXIT_ERRORS
    return EXIT_OK


def _unwritable(text: str, out: TextIO) -> UnicodeEncodeError | None:
    """Why ``out`` cannot write ``text`` (a character its encoding lacks), or ``None`` when it can."""
    encoding = getattr(out, "encoding", None)
    if not isinstance(encoding, str):
        return None  # a stream of str (StringIO) takes any text
    try:
        text.encode(encoding, getattr(out, "errors", None) or "strict")
    except UnicodeEncodeError as error:
        return error
    except LookupError:  # an encoding Python does not know: the write will tell
        return None
    return None


def _json_list(value: str | None, option: str) -> list[Any] | None:
    """An option's JSON list, from its text or, for ``@path``, from that file."""
    if value is None:
        return None
    if value.startswith("@"):
        path = value[1:]
        try:
            with open(path, encoding="utf-8") as file:
                value = file.read()
        except OSError as error:
            raise _OptionError(f"{option}: cannot read {path}: {error.strerror or error}") from None
        except UnicodeDecodeError as error:
            raise _OptionError(f"{option}: {path} is not UTF-8: {error.reason}") from None
    try:
        parsed = json_value(value)
    except json.JSONDecodeError as error:
        raise _OptionError(f"{option}: bad JSON: {error}") from None
    if not isinstance(parsed, list):
        example = '[{"dataset_name": "eval"}]' if option == "--datasets" else '[{"field_name": "name"}]'
        kind = "an object" if isinstance(parsed, dict) else type(parsed).__name__
        raise _OptionError(f"{option}: expected a JSON list of objects like {example}, not {kind}")
    return parsed


# ---- the table -----------------------------------------------------------------------------------

MISSING = "-"  # a cell with no value (a missing param, tag or metric, a null attribute)


@dataclass(frozen=True)
class _Column:
    header: str
    cell: Callable[[LoggedModel, Record], Any]  # the value, or None when missing
    numeric: bool = False


_BASE_COLUMNS = (  # attributes read as filters read them (a model without a creation time was created at 0)
    _Column("model_id", lambda model, record: model.model_id),
    _Column("name", lambda model, record: record.attribute("name")),
    _Column("status", lambda model, record: record.attribute("status")),
    _Column("created", lambda model, record: _iso(record.attribute("creation_timestamp"))),
)
_BASE_ATTRIBUTES = frozenset({"model_id", "name", "status", "creation_timestamp"})
_TIMESTAMPS = frozenset({"creation_timestamp", "last_updated_timestamp"})
_ORDER_ENTITIES = {"attribute": ast.Entity.ATTRIBUTE, "param": ast.Entity.PARAM, "tag": ast.Entity.TAG}


def _columns(
    tree: ast.Expr, datasets: Iterable[Any] | None, order_by: Iterable[Any] | None, target: Target
) -> list[_Column]:
    """The base columns, then one per field the filter or the order reads (each once, in order of use).

    A metric's cell is the value compared: for the filter, the latest passing row by (step, timestamp,
    value), as MLflow 3.18 compares it; for ``order_by``, the value the target sorts by.
    """
    everywhere = tuple((d.dataset_name, d.dataset_digest) for d in datasets_of(datasets)) or None
    columns: dict[str, _Column] = {}

    def add(column: _Column) -> None:
        columns.setdefault(column.header, column)

    for comparison in ast.comparisons(tree):
        field = comparison.field
        if field.entity is ast.Entity.METRIC:
            add(_metric_column(field.key, RowFilter(everywhere), by_time=False))
        elif not (field.entity is ast.Entity.ATTRIBUTE and field.key in _BASE_ATTRIBUTES):
            add(_Column(_header(field), _field_cell(field)))
    for key in order_keys(order_by):
        if key.kind == "metric":
            add(_order_column(key, everywhere, target))
        elif not (key.kind == "attribute" and key.name in _BASE_ATTRIBUTES):
            field = ast.Field(_ORDER_ENTITIES[key.kind], key.name)
            add(_Column(_header(field), _field_cell(field)))
    return [*_BASE_COLUMNS, *columns.values()]


def _order_column(
    key: OrderKey, everywhere: tuple[tuple[str, str | None], ...] | None, target: Target
) -> _Column:
    if target.metric_order == "latest":
        return _metric_column(key.name, RowFilter(everywhere, key.dataset_name, key.dataset_digest))
    return _metric_column(key.name, RowFilter(None, key.dataset_name, key.dataset_digest), by_time=True)


def _metric_column(key: str, rows: RowFilter, *, by_time: bool = False) -> _Column:
    notes = [f"{rows.name}@{rows.digest}" if rows.digest else rows.name] if rows.name else []
    notes += ["by-time"] if by_time else []
    header = _header(ast.Field(ast.Entity.METRIC, key)) + "".join(f"[{note}]" for note in notes)

    def cell(model: LoggedModel, record: Record) -> float | None:
        passing = [m for m in record.metric_rows((key,)).get(key, ()) if rows.passes(m)]
        if not passing:
            return None
        row = (latest_row_by_time if by_time else latest_row)(passing)
        return None if row is None else row.value

    return _Column(header, cell, numeric=True)


def _field_cell(field: ast.Field) -> Callable[[LoggedModel, Record], Any]:
    key = field.key
    match field.entity:
        case ast.Entity.PARAM:
            return lambda model, record: model.data.param(key)
        case ast.Entity.TAG:
            return lambda model, record: model.info.tag(key)
    if key in _TIMESTAMPS:
        return lambda model, record: _iso(record.attribute(key))
    return lambda model, record: record.attribute(key)


def _header(field: ast.Field) -> str:
    try:
        return field_text(field)
    except ValueError:  # a key with a backtick cannot be written in a filter
        return f"{field.entity.value}.{field.key}"


def _iso(ms: int | None) -> str | None:
    """A time in milliseconds since the epoch as ISO 8601 in UTC, to the millisecond."""
    if ms is None:
        return None
    try:
        when = datetime.datetime.fromtimestamp(ms / 1000, tz=datetime.UTC)
    except (OverflowError, ValueError, OSError):  # beyond the years datetime knows
        return str(ms)
    return when.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _cell_text(value: Any) -> str:
    if value is None:
        return MISSING
    if isinstance(value, float):
        return repr(value)
    text = value.name if isinstance(value, ModelStatus) else str(value)
    if text == "" or text == MISSING:
        return repr(text)  # '' and '-' are values, not missing ones
    if any(unicodedata.category(c)[0] == "C" for c in text):
        return repr(text)  # newlines, tabs and other controls would break the table
    return text


def _table(models: Sequence[LoggedModel], columns: Sequence[_Column], *, charset: str | None = None) -> str:
    """An aligned text table: a header, a rule, one row per model; numbers aligned right.

    With ``charset``, a character that encoding cannot write is shown as its escape (``\\u6a21``)."""
    rows = [[col.header for col in columns]]
    for index, model in enumerate(models):
        record = Record.of(model, index)
        rows.append([_cell_text(col.cell(model, record)) for col in columns])
    if charset is not None:
        rows = [[cell.encode(charset, "backslashreplace").decode(charset) for cell in row] for row in rows]
    widths = [max(text_width(row[i]) for row in rows) for i in range(len(columns))]
    rows.insert(1, ["-" * w for w in widths])
    lines = []
    for row in rows:
        cells = []
        for text, width, col in zip(row, widths, columns, strict=True):
            pad = " " * (width - text_width(text))
            cells.append(pad + text if col.numeric else text + pad)
        lines.append("  ".join(cells).rstrip() + "\n")
    return "".join(lines)


# ---- progress ------------------------------------------------------------------------------------

PROGRESS_MIN_BYTES = 5_000_000  # smaller files are read before a bar would be seen
PROGRESS_INTERVAL_S = 0.1


class _Progress:
    """A one-line progress bar on a terminal while a model file is read: bytes read, models a second.

    Redrawn at most every :data:`PROGRESS_INTERVAL_S` seconds, and cleared at the end. Shown only when
    ``stream`` is a terminal and the file is larger than :data:`PROGRESS_MIN_BYTES`; otherwise it does
    nothing.
    """

    def __init__(
        self, source: ModelFile, stream: TextIO | None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.source, self.stream, self.clock = source, stream, clock
        self.started = self.last = clock()
        self.drawn = False

    @classmethod
    def for_file(cls, source: ModelFile, stream: TextIO) -> _Progress:
        big = source.size is not None and source.size > PROGRESS_MIN_BYTES
        return cls(source, stream if big and stream.isatty() else None)

    def __enter__(self) -> _Progress:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.drawn and self.stream is not None:
            self.stream.write("\r\033[K")
            self.stream.flush()

    def track(self, models: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        """The models, redrawing the bar as they go by."""
        if self.stream is None:
            yield from models
            return
        for model in models:
            now = self.clock()
            if now - self.last >= PROGRESS_INTERVAL_S:
                self.last = now
                self.draw(now)
            yield model

    def draw(self, now: float) -> None:
        assert self.stream is not None
        done, total = self.source.bytes_read, self.source.size or 1
        fraction = min(done / total, 1.0)
        rate = self.source.models_read / max(now - self.started, 1e-9)
        bar_width = 24
        filled = round(fraction * bar_width)
        line = (
            f"[{'#' * filled}{'.' * (bar_width - filled)}] {fraction:4.0%}"
            f"  {done / 1e6:,.1f}/{total / 1e6:,.1f} MB  {rate:,.0f} models/s  {Path(self.source.name).name}"
        )
        columns = shutil.get_terminal_size().columns - 1
        self.stream.write("\r" + line[:columns] + "\033[K")
        self.stream.flush()
        self.drawn = True


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
