"""The ``lmfilter`` command.

``lmfilter check [--target T] [--native] [--format text|json] FILTER`` prints the diagnostics of a filter
and exits 0 when there is no error, 1 when there is one, 2 on bad usage. ``lmfilter fmt FILTER`` prints the
canonical text, and ``lmfilter fmt PATH ... [--check] [--diff]`` formats ``.lmf`` files in place. For either,
a FILTER of ``-`` reads standard input as an ``.lmf`` file (one a line; blank lines and ``#`` comments
skipped) and reports faults at ``<stdin>:LINE:COL``. ``lmfilter completion bash|zsh|fish`` prints a
completion script. ``lmfilter lint`` checks the filters of files, ``lmfilter config`` prints the
configuration in force (``[tool.lmfilter]``, :mod:`lmfilter.config`).

``lmfilter eval FILTER --models FILE [--target T] [--datasets JSON] [--order-by JSON]
[--format ids|json|table] [--engine auto|python|duckdb]`` runs a filter over saved models (JSON lines, a JSON
array or a saved search answer; ``-`` for standard input; see :mod:`lmfilter.model_files`; or a model store
of :mod:`lmfilter.sql`) as a search would, and prints the matches in the search's order. It exits 0 when it
ran (whether or not a model matched), 1 on a bad filter,
``--datasets``, ``--order-by`` or model file, 2 on bad usage.

``lmfilter lint [PATH ...] [--target T] [--native] [--var NAME=VALUE ...] [--format text|json|sarif]`` checks
the filters of ``.lmf`` files and Python call sites, and the StackQL statements of ``.iql``/``.sql`` files
(see :mod:`lmfilter.lint`); it exits 1 when one has an error or a file cannot be read.

``lmfilter stackql [FILE|-] [--var NAME=VALUE ...] [--server URL | ...] [--format table|json]`` runs the
StackQL statements of databricks_workspace.ml.logged_models (see :mod:`lmfilter.stackql_run`). ``lmfilter pull
(--server URL | ...) --experiment-id ID ... --into STORE [--full]`` keeps a model store in step with a server
(see :mod:`lmfilter.sql.pull`).
"""

from __future__ import annotations

import argparse
import datetime
import difflib
import io
import json
import logging
import os
import shutil
import stat
import sys
import time
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from lmfilter import api, ast, lint, shell_completion
from lmfilter.client import Client, LoggedModelsError, RetryPolicy, key_values
from lmfilter.config import Config, ConfigError
from lmfilter.config import load as load_config
from lmfilter.diagnostics import (
    Diagnostic,
    FilterError,
    Span,
    capped,
    has_errors,
    json_text,
    plural,
    quoted,
    render,
    render_located,
    shown,
    text_width,
)
from lmfilter.documents import Found, Run, filters_in, kind_of, split_lines
from lmfilter.errors import LmfilterError, is_interruption
from lmfilter.evaluate import RowFilter, compile_query, latest_row, latest_row_by_time
from lmfilter.model_files import ModelFile, json_value, starts_as_duckdb
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
        if getattr(args, "configured", False):
            try:
                args.config = _configure(args)
            except ConfigError as error:
                for problem in error.problems:
                    sys.stderr.write(f"lmfilter {args.command}: {shown(problem, None)}\n")
                return EXIT_USAGE
        result: int = args.run(args, sys.stdout, sys.stderr)
    except BrokenPipeError:  # e.g. piped into `head`
        return EXIT_OK
    except (KeyboardInterrupt, RuntimeError) as error:
        if not is_interruption(error):  # a RuntimeError of DuckDB's own when Ctrl-C comes mid-query
            raise
        sys.stderr.write("lmfilter: interrupted\n")
        return EXIT_INTERRUPTED
    return result


def _run_lsp(argv: list[str]) -> int:
    try:
        from lmfilter.lsp import main as lsp_main
    except ImportError as error:  # lmfilter.lsp says which extra is missing, in words
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

    check_cmd = commands.add_parser(
        "check",
        help="report every problem in a filter",
        description="Report every problem in FILTER. With -, check each filter of standard input, read as an "
        ".lmf file is (one a line; blank lines and # comments skipped), and report each problem as lint "
        "does, at <stdin>:LINE:COL. Exits 1 when a filter has an error.",
    )
    check_cmd.add_argument(
        "filter", metavar="FILTER", help="the filter text, or - to read filters from stdin"
    )
    _check_options(check_cmd)
    check_cmd.add_argument("--format", choices=("text", "json"), default="text", help="output format")
    check_cmd.set_defaults(run=_run_check)

    fmt_cmd = commands.add_parser(
        "fmt",
        help="print a filter's canonical text, or format .lmf files in place",
        description="With a FILTER, print its canonical text; with -, that of each filter of standard input "
        "(one a line). With files and directories (walked as lint walks them), write each filter of each "
        ".lmf file as its canonical text, in place, keeping indentation, comments, blank lines and line "
        "endings; a filter that does not parse is left as it is and reported. An argument is a path when "
        "it ends in .lmf or names a file or directory that exists, - is standard input, and anything else "
        "is a FILTER. Exits 1 when a filter does not parse, a file cannot be read or written, or (--check, "
        "--diff) a file would change.",
    )
    fmt_cmd.add_argument(
        "inputs",
        nargs="+",
        metavar="FILTER|PATH",
        help="a filter, - to read filters from stdin, or .lmf files and directories",
    )
    fmt_cmd.add_argument(
        "--check", action="store_true", help="write nothing: list the files that would change, exit 1 if any"
    )
    fmt_cmd.add_argument(
        "--diff", action="store_true", help="write nothing: print the changes as a unified diff, exit 1 if so"
    )
    _config_options(fmt_cmd)  # [tool.lmfilter]'s exclude leaves files out, as for lint
    fmt_cmd.set_defaults(run=_run_fmt, configured=True, target=None, native=None)

    completion_cmd = commands.add_parser(
        "completion",
        help="print a shell completion script (bash, zsh, fish)",
        description="Print a completion script for SHELL, made from lmfilter's own commands and options. "
        "bash: source <(lmfilter completion bash), or save it as "
        "~/.local/share/bash-completion/completions/lmfilter; zsh: save it as _lmfilter in a directory of "
        "$fpath; fish: save it as ~/.config/fish/completions/lmfilter.fish.",
    )
    completion_cmd.add_argument(
        "shell", metavar="SHELL", choices=shell_completion.SHELLS, help="bash, zsh or fish"
    )
    completion_cmd.set_defaults(run=_run_completion)

    eval_cmd = commands.add_parser(
        "eval",
        help="run a filter over saved models, as a search would",
        description="Print the models of FILE that FILTER matches, in the order the search would return "
        "them. FILE holds logged models as the API sends them: one per line (JSON lines), a JSON array, "
        'or a saved search answer {"models": [...]}; - reads standard input. FILE may also be a model '
        "store (a .duckdb file of lmfilter.ModelStore) or a directory of its Parquet export, which DuckDB "
        "searches.",
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
    eval_cmd.add_argument(
        "--engine",
        choices=("auto", "python", "duckdb"),
        default="auto",
        help="who searches: python reads the models one by one, duckdb loads them into a model store and "
        "runs SQL (needs lmfilter[sql]); auto (default) takes duckdb for a store, a Parquet directory or "
        "a JSON file of 16 MiB or more when lmfilter[sql] is installed, else python",
    )
    eval_cmd.set_defaults(run=_run_eval)

    lint_cmd = commands.add_parser(
        "lint",
        help="check the filters of .lmf files and Python call sites",
        description="Check every filter of the .lmf and Python files named and under the directories named "
        "(default: the current directory): a Python call site as what its call sends; and the statements "
        "on databricks_workspace.ml.logged_models of .iql and .sql files, their search filters as the "
        "target (default there: databricks) reads them. Exits 1 when a filter has an error or a file cannot "
        "be read.",
    )
    lint_cmd.add_argument("paths", nargs="*", metavar="PATH", help="files and directories (default: .)")
    _check_options(lint_cmd)
    lint_cmd.add_argument("--format", choices=("text", "json", "sarif"), default="text", help="output format")
    lint_cmd.add_argument(
        "--exclude",
        action="append",
        metavar="PATTERN",
        help="leave out paths matching this pattern, as .gitignore reads it (repeatable; adds to the "
        "configuration's)",
    )
    lint_cmd.add_argument("--fix", action="store_true", help="apply the safe fixes in place, then report")
    lint_cmd.add_argument(
        "--unsafe-fixes", action="store_true", help="with --fix, apply the suggested fixes too (review them)"
    )
    lint_cmd.add_argument(
        "--var",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="fill in the {{ NAME }} templates of StackQL files (.iql, .sql) with VALUE before checking "
        "(repeatable); with any --var, a template given no value is an error",
    )
    lint_cmd.set_defaults(run=_run_lint)

    config_cmd = commands.add_parser(
        "config",
        help="print the settings in force and where each came from",
        description="Print the settings lint, check, fmt and the language server use here ([tool.lmfilter] "
        "of the nearest pyproject.toml, then the flags), each with where it came from; with a PATH, the "
        "target and native that file is checked for, and whether it is excluded.",
    )
    config_cmd.add_argument("path", nargs="?", metavar="PATH", help="a file to show the settings for")
    _check_options(config_cmd)
    config_cmd.add_argument("--format", choices=("text", "json"), default="text", help="output format")
    config_cmd.set_defaults(run=_run_config)
    _add_server_commands(commands)
    _add_pull_command(commands)
    _add_stackql_command(commands)
    commands.add_parser("lsp", help="run the language server on stdio (lmfilter lsp --help)")
    return parser


def _check_options(cmd: argparse.ArgumentParser) -> None:
    """``--target``, ``--native`` and the configuration: what a filter is checked against."""
    cmd.add_argument(
        "--target",
        choices=sorted(TARGETS),
        help="where the filters will run (default: the configuration's, else mlflow)",
    )
    cmd.add_argument(
        "--native",
        action=argparse.BooleanOptionalAction,
        help="filters are sent to the server as they are: what it would reject or misread is an error "
        "(default: the configuration's, else not)",
    )
    _config_options(cmd)
    cmd.set_defaults(configured=True)


def _config_options(cmd: argparse.ArgumentParser) -> None:
    which = cmd.add_mutually_exclusive_group()  # one of them would be ignored
    which.add_argument(
        "--config",
        metavar="FILE",
        help="read [tool.lmfilter] from this pyproject.toml (default: the nearest one that has it)",
    )
    which.add_argument("--isolated", action="store_true", help="read no configuration file")


def _configure(args: argparse.Namespace) -> Config:
    """The configuration for a command (``--config``, ``--isolated``, ``--exclude`` over the file), with
    ``args.target`` and ``args.native`` filled from it where no flag gave them. Raises ConfigError."""
    config = Config(root=Path.cwd()) if args.isolated else load_config(file=args.config)
    if args.target is not None:
        config = config.merged({"target": args.target}, "--target")
    if args.native is not None:
        config = config.merged({"native": args.native}, "--native" if args.native else "--no-native")
    extra = getattr(args, "exclude", None)
    if extra:
        config = config.merged({"exclude": (*config.exclude, *extra)}, "--exclude")
    args.flags = (args.target, args.native)  # what the command line itself said, over every override
    args.target, args.native = config.target, config.native
    return config


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


def _server_options(cmd: argparse.ArgumentParser, *, database: bool = False) -> None:
    where = cmd.add_mutually_exclusive_group()
    if database:
        where.add_argument(
            "--db",
            metavar="URL",
            help="an MLflow tracking database read directly, read-only (sqlite:///mlflow.db, as MLflow's "
            "--backend-store-uri), with the semantics of the MLflow version that made it (lmfilter[sql])",
        )
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
    _server_options(search_cmd, database=True)
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
    if args.db is not None:
        return _search_database(args, out, err)
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
    _print_found(args, models, datasets, order_by, target, out)
    return EXIT_OK


def _print_found(
    args: argparse.Namespace,
    models: Sequence[LoggedModel],
    datasets: Any,
    order_by: Any,
    target: str | Target,
    out: TextIO,
) -> None:
    """The rest of a search's answer: ids were written as they came."""
    if args.format == "json":
        out.write(json_text([m.to_json() for m in models]) + "\n")
    elif args.format == "table":
        out.write(_table(models, _columns(api.parse(args.filter), datasets, order_by, get_target(target))))
        out.write(f"{len(models)} model{'s' if len(models) != 1 else ''}\n")


def _search_database(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """``search --db``: the filter as SQL on an MLflow tracking database, read-only."""
    for option in ("profile", "token"):  # --server, --host, --deployment-name: argparse refuses
        if getattr(args, option, None) is not None:
            flag = "--" + option.replace("_", "-")
            err.write(f"lmfilter search: {flag} is for a server; --db reads the database itself\n")
            return EXIT_USAGE
    try:
        from lmfilter.sql import tables
        from lmfilter.sql.mlflow_db import open_database
    except ImportError as error:
        err.write(f"lmfilter search: --db needs the sql extra ({error.name}): pip install 'lmfilter[sql]'\n")
        return EXIT_USAGE
    try:
        datasets, order_by = _search_inputs(args)
        with open_database(args.db, target=args.target, timeout=args.timeout) as db:
            if db.warning:
                err.write(f"lmfilter search: {_line(db.warning)}\n")
            target = db.target
            if args.verbose:
                err.write(f"lmfilter search: {_line(db.describe())}, semantics of {target}\n")
            # One snapshot: the ids and the models read after them are of one committed state, however a
            # server writes the database meanwhile.
            with db.snapshot():
                statement = db.sql(
                    args.filter,
                    datasets=datasets,
                    order_by=order_by,
                    experiment_ids=db.experiment_ids_of(args.experiment_id),
                    max_results=args.max_results,
                )
                ids = db.ids(statement)
                models = [] if args.format == "ids" else tables.read_models(db, ids, dialect=db.dialect)
    except FilterError as error:
        err.write(str(error) + "\n")
        return EXIT_ERRORS
    except (_OptionError, LmfilterError) as error:
        err.write(f"lmfilter search: {_line(str(error))}\n")
        return EXIT_ERRORS
    if args.format == "ids":
        out.write("".join(f"{_line(model_id)}\n" for model_id in ids))
    _print_found(args, models, datasets, order_by, target, out)
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


STDIN = "<stdin>"


@dataclass(frozen=True)
class _Filters:
    """The filters ``check`` and ``fmt`` work on: one given as an argument, or those of standard input,
    read as an ``.lmf`` document is (one a line; blank lines and ``#`` comments skipped), whose lines place
    them as ``lint`` places the filters of a file."""

    found: list[Found]
    lines: list[str] | None = None  # standard input's lines without their breaks; None for an argument

    def place(self, found: Found) -> lint.Region | None:
        """Where a filter of standard input starts in it (``None`` for an argument)."""
        return None if self.lines is None else lint.Region.of(found.place, Span(0, 0))

    def render(self, found: Found, diagnostics: Sequence[Diagnostic]) -> str:
        """A filter's diagnostics: as ``lint`` shows them (``<stdin>:LINE:COL: CODE message``, the line,
        carets), one block after another, for standard input; as :func:`render` does for an argument."""
        if self.lines is None:
            return render(found.text, diagnostics)
        return "\n\n".join(_located(STDIN, found, self.lines, diagnostics))


def _located(where: str, found: Found, lines: Sequence[str], diagnostics: Iterable[Diagnostic]) -> list[str]:
    """A filter's diagnostics as ``lint`` shows them, each placed in the document ``where`` names."""
    return [render_located(where, lint.Region.of(found.place, d.span), lines, d) for d in capped(diagnostics)]


def _filters(arg: str, stdin: TextIO | None = None) -> _Filters:
    """The filters to work on: ``arg`` itself, or for ``-`` those of standard input.

    Standard input is read whole, as an ``.lmf`` file (:func:`lmfilter.documents.filters_in`): its lines
    and columns are counted as ``lint`` counts a file's (leading spaces are columns too). Bytes of stdin
    that are not text in its encoding become lone surrogates, as they do in arguments, and the parser
    reports them (LMF112) where they stand, instead of the run ending in a UnicodeDecodeError. A byte
    order mark in front of the first line is not part of the text (columns count from after it, as editors
    count them).
    """
    if arg != "-":
        return _Filters([Found(arg, Run(0, 0, len(arg)))])
    stream = stdin or sys.stdin
    reconfigure = getattr(stream, "reconfigure", None)
    if reconfigure is not None:
        reconfigure(errors="surrogateescape")
    source = stream.read().removeprefix("\ufeff")  # the byte order mark some editors and shells write first
    return _Filters(filters_in(source, "lmf"), split_lines(source))


def _run_check(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:

    filters = _filters(args.filter)
    results = [
        (found, api.check(found.text, target=args.target, native=args.native)) for found in filters.found
    ]
    failed = any(has_errors(diags) for _, diags in results)
    if args.format == "json":
        payload = []
        for found, diags in results:
            report: dict[str, object] = {"filter": found.text}
            place = filters.place(found)
            if place is not None:  # a diagnostic's column in the line is the filter's plus its own, less 1
                report["line"], report["column"] = place.line, place.column
            report["valid"] = not has_errors(diags)
            report["diagnostics"] = [d.to_json(found.text) for d in diags]
            payload.append(report)
        out.write(json_text(payload) + "\n")  # a filter may hold lone surrogates, which UTF-8 cannot take
        return EXIT_ERRORS if failed else EXIT_OK
    counts = {"error": 0, "warning": 0, "info": 0}
    for found, diags in results:
        for diag in diags:
            counts[diag.severity] += 1
        if diags:
            out.write(filters.render(found, diags) + "\n\n")
    summary = ", ".join(plural(n, kind) for kind, n in counts.items())
    out.write(
        f"{plural(len(results), 'filter')} checked for {TARGETS[args.target].title}"
        f"{' (native)' if args.native else ''}: {summary}\n"
    )
    return EXIT_ERRORS if failed else EXIT_OK


def _run_fmt(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    given: list[str] = args.inputs
    files = [arg for arg in given if _names_a_file(arg)]
    if files:
        other = next((arg for arg in given if not _names_a_file(arg)), None)
        if other is not None:
            what = "- (standard input)" if other == "-" else f"{quoted(other)}, not a file or directory,"
            err.write(f"lmfilter fmt: {what} cannot be formatted with files: give files or one FILTER\n")
            return EXIT_USAGE
        return _fmt_files(files, args, out, err)
    if len(given) > 1:
        err.write(f"lmfilter fmt: {quoted(given[1])} is not a file or directory: give one FILTER, or files\n")
        return EXIT_USAGE
    if args.check or args.diff:
        err.write("lmfilter fmt: --check and --diff are for .lmf files and directories, not a FILTER or -\n")
        return EXIT_USAGE
    filters = _filters(given[0])
    status = EXIT_OK
    for found in filters.found:
        try:
            out.write(api.format(found.text) + "\n")
        except FilterError as error:
            err.write(filters.render(found, error.errors) + ("\n" if filters.lines is None else "\n\n"))
            status = EXIT_ERRORS
    return status


def _names_a_file(arg: str) -> bool:
    """Whether a ``fmt`` argument is a path: it ends in ``.lmf`` or names something that exists (a
    dangling symbolic link too, to report it); ``-`` and anything else are not."""
    return arg != "-" and (arg.endswith(".lmf") or os.path.lexists(arg))


class _FileError(Exception):
    """A file ``fmt`` cannot read or write; the message says why, in one line."""


@dataclass(frozen=True)
class _LmfFile:
    """An ``.lmf`` file as read: its text, whether a byte order mark came first, and its status then."""

    path: str
    text: str
    bom: bool
    status: os.stat_result

    @classmethod
    def read(cls, path: str) -> _LmfFile:
        try:
            status = os.stat(path)
            if not stat.S_ISREG(status.st_mode):  # a FIFO or a device would block or never end
                raise _FileError("cannot read: not a regular file")
            with open(path, "rb") as file:
                data = file.read()
        except OSError as error:
            raise _FileError(f"cannot read: {error.strerror or error}") from None
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as error:
            line = data.count(b"\n", 0, error.start) + 1
            raise _FileError(f"cannot read: not UTF-8 text (line {line}, byte {error.start})") from None
        return cls(path, text.removeprefix("\ufeff"), text.startswith("\ufeff"), status)

    def replace(self, text: str) -> None:
        """Write ``text`` over the file, atomically: a whole new file is written beside it and renamed over
        it, with the file's permissions, so that the file is always either all old or all new. A symbolic
        link stays one (the file it names is written), and a file that is read-only, or that changed since
        it was read, is left as it is."""
        data = ("\ufeff" if self.bom else "").encode() + text.encode("utf-8")
        try:
            lint.write_atomically(self.path, data, self.status)
        except lint.ChangedError:
            raise _FileError("changed while it was formatted: left as it is") from None
        except OSError as error:
            raise _FileError(f"cannot write: {error.strerror or error}") from None


def _formatted(source: str, path: str) -> tuple[str, list[str]]:
    """An ``.lmf`` document with each filter that parses as its canonical text, and the rendered errors of
    those that do not (left as they are). Indentation, comments, blank lines, the rest of each line and
    the line breaks are kept: only the filters' characters are edited, as the editor's formatting does."""
    edits: list[lint.DocumentEdit] = []
    problems: list[str] = []
    lines: list[str] | None = None
    for found in filters_in(source, "lmf"):
        try:
            canonical = api.format(found.text)
        except FilterError as error:
            lines = split_lines(source) if lines is None else lines
            problems += _located(path, found, lines, error.errors)
            continue
        if canonical != found.text:
            edits.append(lint.DocumentEdit(lint.Region.of(found.place, Span(0, len(found.text))), canonical))
    return lint.apply_edits(source, "lmf", edits), problems


def _unified_diff(path: str, before: str, after: str) -> str:
    """The change as a unified diff, lines as the document counts them (``\\n``, ``\\r\\n``, ``\\r``)."""
    name = shown(path, None)
    old, new = (io.StringIO(text, newline="").readlines() for text in (before, after))
    return "".join(
        line if line.endswith(("\n", "\r")) else line + "\n\\ No newline at end of file\n"
        for line in difflib.unified_diff(old, new, fromfile=name, tofile=name)
    )


def _fmt_files(given: Sequence[str], args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """``fmt`` of files and directories: each ``.lmf`` file formatted in place, or with ``--check`` and
    ``--diff`` only told about. Exits 1 when a file would change (``--check``, ``--diff``), cannot be read
    or written, or holds a filter that does not parse."""
    status = EXIT_OK
    changed = unchanged = 0
    seen: set[str] = set()
    notes = err if args.diff else out  # the diff alone on stdout, so that it can be applied
    for argument in given:
        if not os.path.isdir(argument) and kind_of(argument) != "lmf":
            try:
                os.stat(argument)
            except OSError as error:  # a dangling link or a loop, named
                err.write(f"lmfilter fmt: {shown(argument, None)}: cannot read: {error.strerror or error}\n")
                status = EXIT_ERRORS
                continue
            err.write(f"lmfilter fmt: {shown(argument, None)}: not an .lmf file, left alone\n")
            continue
        config = getattr(args, "config", None)
        paths = [path for path in lint.documents_under([argument], config) if kind_of(path) == "lmf"]
        if not paths and os.path.isdir(argument):
            err.write(f"lmfilter fmt: {shown(argument, None)}: no .lmf file to format in this directory\n")
            status = EXIT_ERRORS
        for path in paths:
            real = os.path.realpath(path)
            if real in seen:  # named twice, or through a symbolic link
                continue
            seen.add(real)
            try:
                document = _LmfFile.read(path)
            except _FileError as error:
                err.write(f"lmfilter fmt: {shown(path, None)}: {error}\n")
                status = EXIT_ERRORS
                continue
            after, problems = _formatted(document.text, path)
            if problems:
                err.write("".join(block + "\n\n" for block in problems))
                status = EXIT_ERRORS
            if after == document.text:
                unchanged += 1
                continue
            changed += 1
            if args.diff:
                out.write(_unified_diff(path, document.text, after))
            if args.check:
                notes.write(f"would reformat {shown(path, None)}\n")
            if args.check or args.diff:
                status = EXIT_ERRORS
                continue
            try:
                document.replace(after)
            except _FileError as error:
                err.write(f"lmfilter fmt: {shown(path, None)}: {error}\n")
                status = EXIT_ERRORS
                changed -= 1
    if args.check or args.diff:
        notes.write(f"{plural(changed, 'file')} would be reformatted, {unchanged} already formatted\n")
    else:
        notes.write(f"{plural(changed, 'file')} reformatted, {unchanged} left unchanged\n")
    return status


def _run_completion(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    out.write(shell_completion.script(_parser(), args.shell))
    return EXIT_OK


def _run_lint(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    paths = args.paths or ["."]
    target, native = args.flags
    try:
        variables = _variables(args.var) if args.var else None
    except _OptionError as error:
        err.write(f"lmfilter lint: {_line(str(error))}\n")
        return EXIT_USAGE
    fixed: dict[str, int] = {}
    unwritten: dict[str, str] = {}
    if args.fix:
        fixed = lint.fix_paths(
            paths, target, native, config=args.config, unsafe=args.unsafe_fixes, failed=unwritten
        )
        for path, reason in unwritten.items():  # left as they were; the others are fixed all the same
            err.write(f"lmfilter lint: cannot write {shown(path, None)}: {shown(reason, None)}\n")
    reports = lint.lint_paths(paths, target, native, config=args.config, variables=variables)
    for report in reports:
        if report.error is not None:
            err.write(f"lmfilter lint: {shown(report.path, None)}: {report.error}\n")
    if args.format == "text":
        out.write(lint.render_text(reports) + "\n")
        if args.fix:
            count = sum(fixed.values())
            out.write(f"fixed {plural(count, 'finding')} in {plural(len(fixed), 'file')}\n")
    else:
        payload = lint.to_json(reports) if args.format == "json" else lint.to_sarif(reports)
        out.write(json_text(payload) + "\n")  # paths and filters may hold lone surrogates
    failed = unwritten or any(report.has_errors for report in reports)
    return EXIT_ERRORS if failed else EXIT_OK


def _run_config(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    config: Config = args.config
    settings = config.shown()
    about: dict[str, object] = {}
    if args.path is not None:
        target, native = lint.configured(config, args.path, kind_of(args.path))
        if args.flags[0] is not None:
            target = args.flags[0]
        if args.flags[1] is not None:
            native = args.flags[1]
        excluded = config.excluded(args.path)
        about = {"path": args.path, "target": target, "native": native, "excluded": excluded}
    if args.format == "json":
        payload = {
            "file": str(config.file) if config.file else None,
            "settings": [{"name": n, "value": v, "from": o} for n, v, o in settings],
            **({"for": about} if about else {}),
        }
        out.write(json_text(payload) + "\n")
        return EXIT_OK
    out.write(f"configuration file: {shown(str(config.file), None) if config.file else '(none)'}\n")
    width = max(len(name) for name, _, _ in settings)
    for name, value, origin in settings:
        written = shown(json_text(value, indent=None), None)
        out.write(f"{name.ljust(width)} = {written}  # {shown(origin, None)}\n")
    if about:
        out.write(
            f"{shown(args.path, None)}: target {about['target']}, native {str(about['native']).lower()}"
            f"{', excluded' if about['excluded'] else ''}\n"
        )
    return EXIT_OK


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
    # Paths and what the store and the reader say of them may hold line breaks and other controls: every
    # message below is shown as one line.
    engine = _engine(args.engine, args.models)
    if isinstance(engine, str):
        err.write(f"lmfilter eval: {_line(engine)}\n")
        return EXIT_USAGE
    try:
        if engine:
            try:
                matches, found_ids, total = _eval_in_store(
                    args.models, text, datasets, order_by, args.target, ids_only=args.format == "ids"
                )
            except RecordError as error:  # a record of the file DuckDB read, named as Python names it
                err.write(f"lmfilter eval: {_line(f'{args.models}: {error}')}\n")
                return EXIT_ERRORS
        else:
            found_ids = None
            with ModelFile.open(args.models) as source:
                try:
                    with _Progress.for_file(source, err) as progress:
                        matches = query.select(progress.track(source))
                except RecordError as error:  # found in the record read last
                    err.write(f"lmfilter eval: {_line(f'{source.where()}: {error}')}\n")
                    return EXIT_ERRORS
                total = source.models_read
    except LmfilterError as error:  # a model file's, a record's, or the store's own (StoreError)
        err.write(f"lmfilter eval: {_line(str(error))}\n")
        return EXIT_ERRORS
    # The whole answer is made, and checked to fit the output's encoding, before any of it is written: a
    # fault found on the way prints no part of it.
    if args.format == "ids":
        # One id a line, as it is: an id that cannot be written so is an error (written another way, it
        # would be another id).
        ids = found_ids if found_ids is not None else [m.model_id for m in matches]
        answer = "".join(f"{model_id}\n" for model_id in ids)
        bad = next((i for i in ids if "\n" in i or "\r" in i), None)
        why = "holds a line break"
        if bad is None and (fault := _unwritable(answer, out)) is not None:
            bad = ids[answer.count("\n", 0, fault.start)]
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
        summary = f"{len(matches)} of {total} model{'s' if total != 1 else ''}\n"
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


AUTO_DUCKDB_BYTES = 16 << 20
"""From this size on, ``eval --engine auto`` loads a JSON file into DuckDB (below it, starting DuckDB costs
more than reading the models one by one)."""


def _engine(choice: str, models: str) -> bool | str:
    """Whether ``eval`` runs on DuckDB (``True``) or in Python (``False``), or why it cannot run as asked
    (a usage error).

    Only DuckDB reads a directory (a store's Parquet export) or a DuckDB file; a path named ``*.duckdb``
    is taken for a store unless Python is asked to read it, so that what is wrong with it is said as a
    store's fault. Python reads standard input, and a path that names no file (the reader says why)."""
    if models == "-":
        if choice == "duckdb":
            return "--engine duckdb reads a file, not standard input: give its path, or --engine python"
        return False
    if "\0" in models:
        return False  # names no file: the model file reader says so, whichever engine was asked for
    path = Path(models)
    try:
        info: os.stat_result | None = path.stat()
    except OSError:
        info = None
    folder = info is not None and stat.S_ISDIR(info.st_mode)
    regular = info is not None and stat.S_ISREG(info.st_mode)
    store = folder or (regular and starts_as_duckdb(path))
    kind = "a directory (a model store's Parquet export)" if folder else "a DuckDB file (a model store)"
    try:
        import duckdb  # noqa: F401 - only to learn whether the sql extra is installed
        import sqlglot  # noqa: F401
    except ImportError:
        if choice == "duckdb" or store:
            what = "--engine duckdb" if choice == "duckdb" else f"{models} is {kind}: reading it"
            return f"{what} needs the sql extra: pip install 'lmfilter[sql]'"
        return False
    if choice == "python":
        return f"{models} is {kind}, which only --engine duckdb (or auto) reads" if store else False
    if choice == "duckdb":
        return True
    big = regular and info is not None and info.st_size >= AUTO_DUCKDB_BYTES
    return store or path.suffix == ".duckdb" or big


def _eval_in_store(
    models: str, text: str, datasets: Any, order_by: Any, target: str, *, ids_only: bool = False
) -> tuple[list[LoggedModel], list[str] | None, int]:
    """``eval`` on DuckDB: the matches, their ids (with ``ids_only``: only the ids, no model is built), and
    how many models were searched. A directory is a Parquet export, a ``*.duckdb`` or DuckDB file a store
    (opened read-only); any other file is loaded into a store in memory."""
    from lmfilter.sql import ModelStore

    path = Path(models)
    if path.is_dir():
        store = ModelStore.from_parquet(path)
    elif path.suffix == ".duckdb" or starts_as_duckdb(path):
        store = ModelStore(path, read_only=True)
    else:
        store = ModelStore()
        try:
            store.add(path)
        except BaseException:
            store.close()
            raise
    with store:
        if ids_only:
            return [], store.ids(text, datasets=datasets, order_by=order_by, target=target), len(store)
        return store.select(text, datasets=datasets, order_by=order_by, target=target), None, len(store)


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


# ---- stackql -------------------------------------------------------------------------------------


def _add_stackql_command(commands: Any) -> None:
    cmd = commands.add_parser(
        "stackql",
        help="run StackQL statements of databricks_workspace.ml.logged_models",
        description="Run the StackQL statements of FILE (or standard input) on databricks_workspace.ml."
        "logged_models, as its provider page writes them, with lmfilter's client: on a Databricks workspace "
        "or an MLflow server. {{ NAME }} template variables take the values of --var. The whole file is "
        "checked first (the search filter natively for the server): any error and nothing is sent. A "
        "statement that fails stops the run; those before it are shown. Without --server, --host, "
        "--deployment-name or --profile: MLFLOW_TRACKING_URI says where, else DATABRICKS_HOST, else the "
        "workspace the statements name (deployment_name). Exits 0 when every statement ran, 1 on an error, "
        "2 on bad usage.",
    )
    cmd.add_argument(
        "file", nargs="?", default="-", metavar="FILE", help="a file of statements (default, or -: stdin)"
    )
    cmd.add_argument(
        "--var",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="the value of {{ NAME }} (repeat for several); escaped for the string it stands in",
    )
    _server_options(cmd)
    cmd.add_argument(
        "--target",
        choices=sorted(name for name, t in TARGETS.items() if t.kind != "local"),
        help="the server's kind (default: Databricks for a workspace; an MLflow server's is asked)",
    )
    cmd.add_argument("--format", choices=("table", "json"), default="table", help="output format")
    cmd.set_defaults(run=_run_stackql)


def _run_stackql(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from lmfilter import stackql_run

    try:
        variables = _variables(args.var)
    except _OptionError as error:
        err.write(f"lmfilter stackql: {_line(str(error))}\n")
        return EXIT_USAGE
    where = STDIN if args.file == "-" else args.file
    try:
        text = sys.stdin.read() if args.file == "-" else Path(args.file).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        err.write(f"lmfilter stackql: cannot read {_line(where)}: {_line(str(error))}\n")
        return EXIT_ERRORS
    used = stackql_run.variables_used(text)
    unused = [name for name in variables if name not in used]
    if unused:
        err.write(
            f"lmfilter stackql: warning: --var {_line(', '.join(unused))}: not used by {_line(where)}\n"
        )
    done: list[stackql_run.StatementResult] = []
    failed: stackql_run.StatementFailedError | None = None
    try:
        _stackql_location(args, text, variables)
        with _Reporting(err, args.verbose), _client(args) as client:
            script = stackql_run.prepare(text, variables, client=client, target=args.target)
            _stackql_diagnostics(where, text, script.warnings, err)
            if not script.planned:
                err.write(f"lmfilter stackql: warning: no statement in {_line(where)}\n")
            try:
                for result in script.run(client):
                    done.append(result)
                    if args.format == "table":
                        out.write(_stackql_table(result, script.target, out.encoding))
                        out.flush()
            except stackql_run.StatementFailedError as error:
                failed = error
    except stackql_run.StatementsError as error:
        _stackql_diagnostics(where, text, error.diagnostics, err)
        err.write(
            f"lmfilter stackql: {plural(len(error.errors), 'error')} in {_line(where)}: nothing was sent\n"
        )
        missing = [name for name in used if name not in variables]
        if missing:  # one line for what each LMF507 above says, with the fix
            given = " ".join(f"--var {name}=VALUE" for name in missing)  # names are identifiers
            err.write(f"lmfilter stackql: give the template variables their values: {given}\n")
        return EXIT_ERRORS
    except (_OptionError, LoggedModelsError, ValueError) as error:
        err.write(f"lmfilter stackql: {_line(str(error))}\n")
        return EXIT_ERRORS
    if args.format == "json":
        shown_results: list[dict[str, Any]] = [result.to_json() for result in done]
        if failed is not None:
            shown_results.append(
                {
                    "statement": failed.number,
                    "line": failed.line,
                    "method": failed.method,
                    "error": str(failed.cause),
                }
            )
        out.write(json_text(shown_results) + "\n")
    if failed is not None:
        said = f"statement {failed.number} ({failed.method}) failed: {failed.cause}"
        err.write(f"lmfilter stackql: {_line(where)}:{failed.line}: {_line(said)}\n")
        if failed.number < len(script.planned):
            later = len(script.planned) - failed.number
            err.write(f"lmfilter stackql: {plural(later, 'later statement')} not sent\n")
        return EXIT_ERRORS
    return EXIT_OK


def _variables(given: Sequence[str]) -> dict[str, str]:
    """``--var NAME=VALUE`` values: each NAME a template variable's name, given once; the value is all
    after the first ``=`` (it may hold ``=``, quotes, anything: fill escapes it)."""
    from lmfilter.stackql import variable

    variables: dict[str, str] = {}
    for item in given:
        try:
            name, value = variable(item)
        except ValueError as error:
            raise _OptionError(f"--var {error}") from None
        if name in variables:
            raise _OptionError(f"--var {name} is given twice ({variables[name]!r} and {value!r})")
        variables[name] = value
    return variables


def _stackql_location(args: argparse.Namespace, text: str, variables: dict[str, str]) -> None:
    """Where the statements run when no option says: ``MLFLOW_TRACKING_URI``, else ``DATABRICKS_HOST``,
    else the workspace the statements name, as StackQL takes it (``deployment_name``, one for the file)."""
    from lmfilter.stackql_run import prepare

    given = (args.server, args.host, args.deployment_name, args.profile)
    if any(given) or os.environ.get("MLFLOW_TRACKING_URI"):
        return
    if os.environ.get("DATABRICKS_HOST"):
        args.host = os.environ["DATABRICKS_HOST"]
        return
    names = prepare(text, variables, target=args.target or "databricks").deployment_names()
    if len(names) > 1:
        listed = ", ".join(quoted(name) for name in names)
        raise _OptionError(
            f"the statements name several workspaces ({listed}): run them on one with --deployment-name"
        )
    if names:
        args.deployment_name = names[0]


def _stackql_diagnostics(where: str, text: str, diagnostics: Iterable[Diagnostic], err: TextIO) -> None:
    from lmfilter.stackql_run import position

    lines = split_lines(text)
    for diagnostic in capped(diagnostics):
        start, end = position(text, diagnostic.span.start), position(text, diagnostic.span.end)
        region = lint.Region(start.line, start.column, end.line, end.column)
        err.write(render_located(where, region, lines, diagnostic) + "\n")


def _stackql_table(result: Any, target: Target | None, charset: str | None) -> str:
    """One statement's result: a heading, then its models as ``search --format table`` shows them (the
    filter's fields as columns too), or StackQL's words for a statement with no rows."""
    heading = f"-- statement {result.number} (line {result.line}): {result.method}\n"
    if not result.columns:
        return heading + f"{result.message}\n\n"
    found = result.statement.search_filter()
    tree = api.parse(found.value) if found is not None and found.value.strip() else ast.MATCH_ALL
    columns = _columns(tree, None, None, target or get_target("mlflow"))
    models = result.models
    count = f"{len(models)} model{'s' if len(models) != 1 else ''}\n"
    return heading + _table(models, columns, charset=charset) + count + "\n"


# ---- pull ----------------------------------------------------------------------------------------


def _add_pull_command(commands: Any) -> None:
    pull_cmd = commands.add_parser(
        "pull",
        help="fill a model store from a server, incrementally",
        description="Fill the model store --into (a DuckDB file, made when missing) with the logged models "
        "of the experiments on a server: only the models updated since the last pull, a page per transaction "
        "(an interrupted pull leaves a whole store; run it again to go on). A pull is full (every model "
        "fetched again, and the models the server no longer has deleted) with --full, on an experiment's "
        "first pull, and when the last full one is older than --full-every; MLflow does not stamp tag, "
        "param and metric changes, so only a full pull sees them. Needs lmfilter[sql].",
    )
    pull_cmd.add_argument(
        "--experiment-id", action="append", required=True, metavar="ID", help="repeat for several"
    )
    pull_cmd.add_argument("--into", required=True, metavar="STORE", help="the model store file")
    pull_cmd.add_argument("--full", action="store_true", help="fetch every model, delete what is gone")
    pull_cmd.add_argument(
        "--full-every",
        type=_hours,
        default=24.0,
        metavar="HOURS",
        help="pull an experiment in full when its last full pull is older (default: 24; 0: never by itself)",
    )
    pull_cmd.add_argument(
        "--page-size", type=int, metavar="N", help="models a request asks for (default: 1000)"
    )
    _server_options(pull_cmd)
    pull_cmd.set_defaults(run=_run_pull)


def _hours(text: str) -> float:
    """A ``--full-every``: a number of hours, 0 or more (0: never)."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"expected a number of hours (0 for never), not {text!r}")
    return value


def _run_pull(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    try:
        from lmfilter.sql.pull import PullError
        from lmfilter.sql.store import ModelStore, StoreError
    except ImportError as error:
        err.write(f"lmfilter pull: needs the sql extra (pip install 'lmfilter[sql]'): {error}\n")
        return EXIT_USAGE
    bar = _PullBar(err)
    failure: list[str] = []
    try:
        with _Reporting(err, args.verbose), _client(args) as client, ModelStore(args.into) as store:
            report = store.pull(
                client,
                args.experiment_id,
                full=args.full,
                full_every=args.full_every * 3600 if args.full_every else None,
                page_size=args.page_size,
                progress=bar.draw,
            )
    except PullError as error:
        failure.append(str(error))
        if error.report is not None and error.report.fetched:
            failure.append(f"written before it stopped: {error.report.summary()}")
    except (_OptionError, StoreError, LoggedModelsError, ValueError) as error:
        failure.append(str(error))
    finally:
        bar.clear()  # before any other line, the interruption's too
    if failure:
        err.writelines(f"lmfilter pull: {_line(line)}\n" for line in failure)
        return EXIT_ERRORS
    out.write(f"{report.summary()}\n")
    return EXIT_OK


class _PullBar:
    """A pull's progress on a terminal's stderr: how far the mark has come from the first model fetched
    towards now, per experiment; nothing when stderr is not a terminal."""

    def __init__(self, err: TextIO, clock: Callable[[], float] = time.time) -> None:
        self.err, self.live, self.clock = err, err.isatty(), clock
        self.last, self.drawn = 0.0, False

    def draw(self, at: Any) -> None:
        now = time.monotonic()
        if not self.live or now - self.last < PROGRESS_INTERVAL_S:
            return
        self.last = now
        span = max(self.clock() * 1000 - (at.start_ms or at.mark), 1.0)
        within = min(max((at.mark - (at.start_ms or at.mark)) / span, 0.0), 1.0)
        fraction = (at.index + within) / at.of
        filled = round(fraction * 24)
        report = at.report
        rate = report.fetched / max(report.seconds, 1e-9)
        line = (
            f"[{'#' * filled}{'.' * (24 - filled)}] {fraction:4.0%}  experiment {at.experiment}"
            f"{' (full)' if at.full else ''}: {report.fetched:,} models, {report.requests:,} requests, "
            f"{rate:,.0f} models/s"
        )
        columns = shutil.get_terminal_size().columns - 1
        self.err.write("\r" + _line(line)[:columns] + "\033[K")
        self.err.flush()
        self.drawn = True

    def clear(self) -> None:
        if self.drawn:
            self.err.write("\r\033[K")
            self.err.flush()
            self.drawn = False


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
