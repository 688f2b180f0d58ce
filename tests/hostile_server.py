"""A real HTTP server on 127.0.0.1 that misbehaves on purpose, for the client's hostile-server tests.

:class:`HostileServer` listens on a free loopback port and answers each request with the :class:`Reply` its
script gives: any status, headers (raw bytes allowed) and body, a body trickled one byte at a time, a
connection dropped without an answer, or a request held without an answer. It records every request it
read (:class:`Seen`). Every connection is closed after its answer, so each attempt of a client is a new
connection and shows in :attr:`HostileServer.requests`.

It stops when its ``with`` block ends, and by itself after ``lifetime`` seconds, so a test that goes wrong
cannot keep it (or a trickle, or a held request) running.

>>> with HostileServer(lambda seen: Reply.json({"path": seen.path})) as server:
...     httpx.get(server.base_url + "/a%2Fb").json()
{'path': '/a%2Fb'}
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self

import httpx  # noqa: F401 - the doctest uses it

__all__ = ["HostileServer", "Reply", "Seen", "closed_port"]

_REASONS = {200: "OK", 404: "Not Found", 429: "Too Many Requests", 500: "Internal Server Error"}


@dataclass(frozen=True)
class Seen:
    """A request as the server read it: the path as sent (percent-encoding kept, with any query)."""

    method: str
    path: str
    headers: dict[str, str]  # names in lower case
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


@dataclass(frozen=True)
class Reply:
    """What to answer: ``status``, ``headers`` and ``body``; ``trickle`` seconds between pieces of
    ``piece`` bytes of the body; ``drop`` closes the connection without a word; ``hang`` holds the request
    unanswered until the server stops. ``raw`` bytes are sent instead of all that, as they are (trickled
    too when asked): a status line and headers that never end, informational answers for ever, ..."""

    status: int = 200
    body: bytes = b""
    headers: Sequence[tuple[str, str | bytes]] = field(default=())
    trickle: float | None = None
    drop: bool = False
    hang: bool = False
    raw: bytes | None = None
    piece: int = 1

    @classmethod
    def json(cls, payload: Any, status: int = 200, headers: Sequence[tuple[str, str | bytes]] = ()) -> Reply:
        """An answer of JSON (``payload`` already text or bytes is sent as it is)."""
        if isinstance(payload, str):
            payload = payload.encode()
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        return cls(status, body, (("Content-Type", "application/json"), *headers))

    def head(self) -> bytes:
        lines = [f"HTTP/1.1 {self.status} {_REASONS.get(self.status, 'Whatever')}".encode()]
        lines += [
            name.encode() + b": " + (v if isinstance(v, bytes) else v.encode()) for name, v in self.headers
        ]
        lines += [f"Content-Length: {len(self.body)}".encode(), b"Connection: close"]
        return b"\r\n".join(lines) + b"\r\n\r\n"


Script = Callable[[Seen], Reply] | Sequence[Reply]


class HostileServer:
    """A scripted HTTP/1.1 server in threads: ``script`` is a function of the request, or a list of replies
    given in turn (the last one repeats)."""

    def __init__(self, script: Script, *, lifetime: float = 30.0) -> None:
        self.script = script
        self.requests: list[Seen] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.02)
        self.port: int = self._listener.getsockname()[1]
        self.base_url = f"http://127.0.0.1:{self.port}"
        self._threads: list[threading.Thread] = []
        self._accepting = threading.Thread(target=self._accept, daemon=True)
        self._timer = threading.Timer(lifetime, self._stop.set)
        self._timer.daemon = True

    def __enter__(self) -> Self:
        self._accepting.start()
        self._timer.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def stop(self) -> None:
        """Stop answering, end trickles and held requests, and close every socket."""
        self._stop.set()
        self._timer.cancel()
        if self._accepting.is_alive():
            self._accepting.join(5)
        for thread in self._threads:
            thread.join(5)
        self._listener.close()

    @property
    def serving(self) -> int:
        """How many connections are still being answered (a trickle ends once its client hangs up)."""
        return sum(thread.is_alive() for thread in self._threads)

    @property
    def paths(self) -> list[str]:
        return [f"{seen.method} {seen.path}" for seen in self.requests]

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                connection, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            thread = threading.Thread(target=self._serve, args=(connection,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _reply_to(self, seen: Seen) -> Reply:
        with self._lock:
            self.requests.append(seen)
            if not callable(self.script):
                return self.script[min(len(self.requests), len(self.script)) - 1]
            try:
                return self.script(seen)
            except Exception as error:  # a broken script answers so, instead of dying in its thread
                return Reply(599, f"the test's script failed: {error!r}".encode())

    def _serve(self, connection: socket.socket) -> None:
        with connection:
            connection.settimeout(5)
            try:
                seen = _read_request(connection)
            except (OSError, ValueError):
                return
            if seen is None:
                return
            reply = self._reply_to(seen)
            if reply.drop:
                return
            if reply.hang:
                self._stop.wait()
                return
            try:
                if reply.raw is None:
                    connection.sendall(reply.head())
                data = reply.body if reply.raw is None else reply.raw
                if reply.trickle is None:
                    connection.sendall(data)
                    return
                for i in range(0, len(data), reply.piece):
                    if self._stop.wait(reply.trickle):
                        return
                    connection.sendall(data[i : i + reply.piece])
            except OSError:
                return  # the client went away


def _read_request(connection: socket.socket) -> Seen | None:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = connection.recv(65536)
        if not chunk:
            return None
        data += chunk
        if len(data) > 1_000_000:
            raise ValueError("request head too large")
    head, _, body = data.partition(b"\r\n\r\n")
    request_line, *header_lines = head.decode("latin-1").split("\r\n")
    method, path, _ = request_line.split(" ", 2)
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        chunk = connection.recv(65536)
        if not chunk:
            break
        body += chunk
    return Seen(method, path, headers, body)


def closed_port() -> int:
    """A loopback port that nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port
