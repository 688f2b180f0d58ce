"""How long an editor waits: for diagnostics after a change, and for a hover while a large document is linted.

Starts ``python -m lmfilter.lsp`` as a subprocess on stdio and speaks JSON-RPC to it.

1. didChange -> publishDiagnostics: N full-text changes of a ~200-character filter (a different filter each
   time, so no cache helps), each timed from writing the notification to reading its diagnostics. As
   baselines, in the same run: ``lmfilter.check`` alone on the same texts, and the round trip of a change to a
   document with no filter in it (transport, JSON and pygls, no checking).
2. Hover under load: hovers on a small document with nothing else open, then while a document of M megabytes
   of filters (one error each) is linted in the background, then during a burst of keystrokes in it. Each
   hover is timed from writing the request to reading its answer; the lint, from opening the large document
   to reading its diagnostics.

    .venv/bin/python benchmarks/lsp_latency.py [N] [M]
"""

from __future__ import annotations

import json
import queue
import statistics
import subprocess
import sys
import threading
import time
from typing import IO, Any

import lmfilter

URI = "file:///benchmark/filters.lmf"
SMALL = "file:///benchmark/small.lmf"
LARGE = "file:///benchmark/large.lmf"
HOVERS = 30


def filter_text(i: int) -> str:
    """A ~200-character filter, different for each ``i``, with one error in it."""
    return (
        f"metrics.accuracy > 0.{i:04d} AND params.optimizer = 'adam-{i}' "
        f"AND tags.team IN ('ads', 'search', 'x{i}') "
        f"AND name LIKE 'churn-{i}%' AND status = 'READY' AND creation_time > {1_700_000_000_000 + i} "
        f"AND nmae = 'm{i}'"
    )


class Connection:
    """JSON-RPC over the server's stdin and stdout, with LSP's Content-Length framing.

    A thread reads what the server writes as it comes, so that neither side blocks on a full pipe while the
    other writes megabytes.
    """

    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        assert process.stdin is not None
        assert process.stdout is not None
        self.writer: IO[bytes] = process.stdin
        self.reader: IO[bytes] = process.stdout
        self.next_id = 0
        self.messages: queue.Queue[dict[str, Any]] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        while True:
            length = 0
            while (line := self.reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.decode("ascii").partition(":")
                if name.lower() == "content-length":
                    length = int(value)
            if not length:
                return
            self.messages.put(json.loads(self.reader.read(length)))

    def send(self, method: str, params: Any, *, request: bool = False) -> int | None:
        message: dict[str, Any] = {"jsonrpc": "2.0", "method": method, "params": params}
        ident = None
        if request:
            self.next_id += 1
            ident = message["id"] = self.next_id
        self._write(message)
        return ident

    def _write(self, message: dict[str, Any]) -> None:
        body = json.dumps(message).encode("utf-8")
        self.writer.write(b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
        self.writer.flush()

    def wait_for(
        self, ident: int | None = None, version: int | None = None, uri: str = URI, timeout: float = 600
    ) -> dict[str, Any]:
        """The response to request ``ident``, or the diagnostics published for ``uri`` at ``version``."""
        while True:
            message = self.messages.get(timeout=timeout)
            if ident is not None and message.get("id") == ident and "method" not in message:
                return message
            if message.get("method") == "textDocument/publishDiagnostics":
                params = message["params"]
                if params["uri"] == uri and params.get("version") == version:
                    return message
            if "id" in message and "method" in message:  # a request to the client: answer null
                self._write({"jsonrpc": "2.0", "id": message["id"], "result": None})


def round_trips(connection: Connection, texts: list[str], first_version: int) -> tuple[list[float], int]:
    """Seconds from each didChange to its diagnostics, and how many diagnostics the last one had."""
    times = []
    count = 0
    for version, text in enumerate(texts, start=first_version):
        params = {
            "textDocument": {"uri": URI, "version": version},
            "contentChanges": [{"text": text}],
        }
        started = time.perf_counter()
        connection.send("textDocument/didChange", params)
        published = connection.wait_for(version=version)
        times.append(time.perf_counter() - started)
        count = len(published["params"]["diagnostics"])
    return times, count


def hovers(connection: Connection, uri: str, count: int = HOVERS) -> list[float]:
    """Seconds for each of ``count`` hovers over ``metrics.accuracy`` on the first line of ``uri``."""
    times = []
    for _ in range(count):
        params = {"textDocument": {"uri": uri}, "position": {"line": 0, "character": 3}}
        started = time.perf_counter()
        ident = connection.send("textDocument/hover", params, request=True)
        answer = connection.wait_for(ident=ident)
        times.append(time.perf_counter() - started)
        assert "metrics.accuracy" in answer["result"]["contents"]["value"], answer
    return times


def milliseconds(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return 1000 * ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def hover_under_load(connection: Connection, megabytes: float) -> None:
    """Part 2: hovers with nothing else to do, while a large document is linted, and as it is typed in."""
    item = {"uri": SMALL, "languageId": "lmfilter", "version": 1, "text": filter_text(0)}
    connection.send("textDocument/didOpen", {"textDocument": item})
    connection.wait_for(version=1, uri=SMALL)
    idle = hovers(connection, SMALL)

    lines, size = [], 0
    while size < megabytes * 1_000_000:
        lines.append(filter_text(len(lines)))
        size += len(lines[-1]) + 1
    large = "\n".join(lines) + "\n"
    opened = time.perf_counter()
    item = {"uri": LARGE, "languageId": "lmfilter", "version": 1, "text": large}
    connection.send("textDocument/didOpen", {"textDocument": item})
    linting_small = hovers(connection, SMALL)
    linting_large = hovers(connection, LARGE)
    published = connection.wait_for(version=1, uri=LARGE)
    lint = time.perf_counter() - opened

    typing = []
    for version in range(2, 2 + HOVERS):  # a keystroke, then a hover, each time
        change = {
            "range": {"start": {"line": 1, "character": 0}, "end": {"line": 1, "character": 0}},
            "text": "x",
        }
        connection.send(
            "textDocument/didChange",
            {"textDocument": {"uri": LARGE, "version": version}, "contentChanges": [change]},
        )
        typing += hovers(connection, LARGE, 1)

    def row(name: str, values: list[float]) -> str:
        p50 = milliseconds(values, 0.5)
        return (
            f"  {name:<40} p50 {p50:8.2f} ms   max {1000 * max(values):8.2f} ms   "
            f"(p50 / idle = {p50 / milliseconds(idle, 0.5):.1f}x)"
        )

    shown = len(published["params"]["diagnostics"])
    print(f"\nhover -> answer, {HOVERS} hovers each; {len(large) / 1e6:.1f} MB of {len(lines):,} filters")
    print(f"  (its lint in the background, opened to published: {lint:.1f} s; {shown} diagnostics)")
    print(row("idle, small document", idle))
    print(row("while linting the large one: small", linting_small))
    print(row("while linting the large one: large", linting_large))
    print(row("typing in the large one, hovering it", typing))


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    megabytes = float(sys.argv[2]) if len(sys.argv) > 2 else 5.0
    texts = [filter_text(i) for i in range(count)]
    empty = [f"# change {i}" for i in range(count)]
    process = subprocess.Popen(
        [sys.executable, "-m", "lmfilter.lsp"], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    connection = Connection(process)
    try:
        ident = connection.send(
            "initialize", {"processId": None, "rootUri": None, "capabilities": {}}, request=True
        )
        connection.wait_for(ident=ident)
        connection.send("initialized", {})
        item = {"uri": URI, "languageId": "lmfilter", "version": 0, "text": filter_text(-1)}
        connection.send("textDocument/didOpen", {"textDocument": item})
        connection.wait_for(version=0)
        round_trips(connection, [filter_text(-2 - i) for i in range(20)], 1)  # warm up
        server, diagnostics = round_trips(connection, texts, 100)
        floor, _ = round_trips(connection, empty, 100 + count)

        lmfilter.check(filter_text(-1))  # build the parser before timing
        alone = []
        for text in texts:
            started = time.perf_counter()
            lmfilter.check(text)
            alone.append(time.perf_counter() - started)

        length = round(statistics.mean(len(t) for t in texts))
        p50, p95, worst = milliseconds(server, 0.5), milliseconds(server, 0.95), 1000 * max(server)
        check_p50 = milliseconds(alone, 0.5)
        print(f"didChange -> publishDiagnostics: {count} changes of a {length}-character filter")
        print(f"  (diagnostics published per change: {diagnostics})")
        print(f"  server:               p50 {p50:.2f} ms   p95 {p95:.2f} ms   max {worst:.2f} ms")
        print(f"  lmfilter.check alone: p50 {check_p50:.2f} ms   (server / check = {p50 / check_p50:.1f}x)")
        print(f"  no filter (transport, JSON, pygls): p50 {milliseconds(floor, 0.5):.2f} ms")

        hover_under_load(connection, megabytes)
        ident = connection.send("shutdown", None, request=True)
        connection.wait_for(ident=ident)
        connection.send("exit", None)
    finally:
        process.wait(timeout=10)


if __name__ == "__main__":
    main()
