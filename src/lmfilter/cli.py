"""The ``lmfilter`` command.

``lmfilter check [--target T] [--native] [--format text|json] FILTER`` prints the diagnostics of a filter
and exits 0 when there is no error, 1 when there is one, 2 on bad usage. ``lmfilter fmt FILTER`` prints the
canonical text. For either, a FILTER of ``-`` reads filters from standard input, one a line (blank lines
and lines starting with ``#`` are skipped).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator, Sequence
from typing import TextIO

from lmfilter import front
from lmfilter.diagnostics import Diagnostic, FilterError, has_errors, render
from lmfilter.schema import TARGETS

EXIT_OK, EXIT_ERRORS, EXIT_USAGE = 0, 1, 2


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        result: int = args.run(args, sys.stdout, sys.stderr)
    except BrokenPipeError:  # e.g. piped into `head`
        return EXIT_OK
    return result


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lmfilter",
        description="Check, format and run search filters for ML logged models (MLflow, Databricks).",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    check_cmd = commands.add_parser("check", help="report every problem in a filter")
    check_cmd.add_argument(
        "filter", metavar="FILTER", help="the filter text, or - to read filters from stdin"
    )
    check_cmd.add_argument(
        "--target",
        default="mlflow",
        choices=sorted(TARGETS),
        help="where the filter will run (default: mlflow)",
    )
    check_cmd.add_argument(
        "--native",
        action="store_true",
        help="the filter is sent to the server as it is: what it would reject or misread is an error",
    )
    check_cmd.add_argument("--format", choices=("text", "json"), default="text", help="output format")
    check_cmd.set_defaults(run=_run_check)

    fmt_cmd = commands.add_parser("fmt", help="print a filter's canonical text")
    fmt_cmd.add_argument("filter", metavar="FILTER", help="the filter text, or - to read filters from stdin")
    fmt_cmd.set_defaults(run=_run_fmt)
    return parser


def _filters(arg: str, stdin: TextIO | None = None) -> Iterator[tuple[str, int | None]]:
    """The filters to work on, each with its line number when read from stdin."""
    if arg != "-":
        yield arg, None
        return
    for number, line in enumerate(stdin or sys.stdin, start=1):
        text = line.rstrip("\r\n")
        if text.strip() and not text.lstrip().startswith("#"):
            yield text, number


def _run_check(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    results: list[tuple[str, int | None, list[Diagnostic]]] = [
        (text, line, front.check(text, target=args.target, native=args.native))
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
        json.dump(payload, out, indent=2, ensure_ascii=False)
        out.write("\n")
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
            out.write(front.format(text) + "\n")
        except FilterError as error:
            where = f"<stdin>:{line}:\n" if line is not None else ""
            err.write(where + str(error) + "\n")
            status = EXIT_ERRORS
    return status


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
