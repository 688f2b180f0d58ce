"""How long an editor waits for diagnostics: from sending didChange to receiving publishDiagnostics.

Starts ``python -m lmfilter.lsp`` as a subprocess on stdio, opens a ``.lmf`` document and sends N full-text
changes of a ~200-character filter (a different filter each time, so no cache helps), timing each from
writing the notification to reading its diagnostics. As baselines, in the same run: ``lmfilter.check``
alone on the same texts, and the round trip of a change to a document with no filter in it (transport,
JSON and pygls, no checking).

    .venv/bin/python benchmarks/lsp_latency.py [N]
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from typing import IO, Any

import lmfilter

URI = "file:///benchmark/filters.lmf"


def filter_text(i: int) -> str:
    """A ~200-character filter, different for each ``i``, with one error in it."""
    return (
        f"metrics.accuracy > 0.{i:04d} AND params.optimizer = 'adam-{i}' "
        f"AND tags.team IN ('ads', 'search', 'x{i}') "
        f"AND name LIKE 'churn-{i}%' AND status = 'READY' AND creation_time > {1_700_000_000_000 + i} "
        f"AND nmae = 'm{i}'"
    )


class Connection:
    """JSON-RPC over the server's stdin and stdout, with LSP's Content-Length framing."""

    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        assert process.stdin is not None
        assert process.stdout is not None
        self.writer: IO[bytes] = process.stdin
        self.reader: IO[bytes] = process.stdout
        self.next_id = 0

    def send(self, method: str, params: Any, *, request: bool = False) -> int | None:
        message: dict[str, Any] = {"jsonrpc": "2.0", "method": method, "params": params}
        ident = None
        if request:
            self.next_id += 1
            ident = message["id"] = self.next_id
        body = json.dumps(message).encode("utf-8")
        self.writer.write(b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
        self.writer.flush()
        return ident

    def receive(self) -> dict[str, Any]:
        length = 0
        while (line := self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("ascii").partition(":")
            if name.lower() == "content-length":
                length = int(value)
        if not length:
            raise EOFError("the server closed its output")
        message: dict[str, Any] = json.loads(self.reader.read(length))
        return message

    def wait_for(self, ident: int | None = None, version: int | None = None) -> dict[str, Any]:
        """The response to request ``ident``, or the diagnostics published for ``version``."""
        while True:
            message = self.receive()
            if ident is not None and message.get("id") == ident and "method" not in message:
                return message
            if message.get("method") == "textDocument/publishDiagnostics":
                params = message["params"]
                if params["uri"] == URI and params.get("version") == version:
                    return message
            if "id" in message and "method" in message:  # a request to the client: answer null
                reply = {"jsonrpc": "2.0", "id": message["id"], "result": None}
                body = json.dumps(reply).encode("utf-8")
                self.writer.write(b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
                self.writer.flush()


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


def milliseconds(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return 1000 * ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 200
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
        ident = connection.send("shutdown", None, request=True)
        connection.wait_for(ident=ident)
        connection.send("exit", None)
    finally:
        process.wait(timeout=10)

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


if __name__ == "__main__":
    main()
