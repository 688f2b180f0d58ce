"""JSON-RPC as lmfilter speaks it: pygls' protocol made to answer every request, however malformed.

:class:`LmfilterProtocol` structures each message whole and answers what cannot be with the JSON-RPC error
that says what is wrong where; :func:`strict_converter` refuses JSON scalars of the wrong type, which cattrs
would coerce. Nothing here knows about filters.
"""

from __future__ import annotations

import concurrent.futures
import re
from collections.abc import Callable, Iterator
from typing import Any, TypeVar, cast

import cattrs
import cattrs.v
from lsprotocol import types
from lsprotocol.types import ResponseErrorMessage
from pygls.exceptions import (
    JsonRpcException,
    JsonRpcInvalidParams,
    JsonRpcInvalidRequest,
    JsonRpcServerNotInitialized,
)
from pygls.protocol import (
    JsonRPCNotification,
    JsonRPCRequestMessage,
    JsonRPCResponseMessage,
    LanguageServerProtocol,
    default_converter,
    lsp_method,
)

T = TypeVar("T")


def _exactly(kind: type[T]) -> Callable[[object, type], T]:
    def structure(value: object, _: type) -> T:
        if type(value) is not kind:
            raise ValueError(f"expected {kind.__name__}, not {value!r}"[:200])
        return value

    return structure


def _number(value: object, _: type) -> float:
    if type(value) not in (int, float):
        raise ValueError(f"expected a number, not {value!r}"[:200])
    return float(value)  # type: ignore[arg-type]


def strict_converter() -> cattrs.Converter:
    """pygls' converter, strict about JSON's scalars: a line given as ``"3"``, ``1.5`` or ``true`` is refused
    (cattrs would take each as 3, 1 and 1)."""
    converter = cast(cattrs.Converter, default_converter())  # type: ignore[no-untyped-call]
    for kind in (int, str, bool):
        converter.register_structure_hook(kind, _exactly(kind))
    converter.register_structure_hook(float, _number)
    return converter


def _message_id(message: object) -> int | str | None:
    ident = message.get("id") if isinstance(message, dict) else None
    return ident if isinstance(ident, str) or type(ident) is int else None


def _described(error: BaseException, kind: type | None) -> str:
    # A validator's or a strict hook's own words say more than cattrs' "invalid value".
    if isinstance(error, ValueError) and str(error):
        return str(error).rstrip(".")
    return cattrs.v.format_exception(error, kind)


def _what_is_wrong(error: Exception) -> str:
    """What is wrong in a message that cattrs could not structure, at JSON's names of the fields.

    For example ``required field missing at $.params.textDocument.uri``.
    """
    if not isinstance(error, cattrs.BaseValidationError):
        return f"{type(error).__name__}: {error}"[:500]
    found = []
    for problem in cattrs.transform_error(error, path="$", format_exception=_described):
        text, at, path = problem.partition(" @ ")
        path = re.sub(r"_([a-z])", lambda match: match.group(1).upper(), path)  # text_document: textDocument
        found.append(f"{text} at {path}" if at else text)
    return "; ".join(found)[:500]


class LmfilterProtocol(LanguageServerProtocol):
    """pygls' protocol, answering every request however malformed.

    pygls reads a request whose params do not fit their type, logs it and never answers (the client waits
    for ever); one before ``initialize`` fails inside, one after ``shutdown`` is dropped. Here a message is
    structured whole once JSON has read it, and a request that cannot be gets an error: ``InvalidParams``
    saying what is wrong where, ``InvalidRequest`` for what is not a request, ``ServerNotInitialized``
    before ``initialize``. A response that cannot be structured fails the request it answers; a
    notification that cannot be is dropped with a message in the client's log.
    """

    def structure_message(self, data: dict[str, Any]) -> Any:
        return data  # json.loads calls this for each object, the innermost first: wait for the whole message

    def handle_message(self, message: Any) -> None:
        if not isinstance(message, dict) or message.get("jsonrpc") != self.VERSION:
            if not (isinstance(message, dict) and ("result" in message or "error" in message)):
                self.fail(_message_id(message), JsonRpcInvalidRequest("not a JSON-RPC 2.0 message"))
            return
        method = message.get("method")
        request = "id" in message and method is not None
        if method is not None and not isinstance(method, str):
            self.fail(
                _message_id(message), JsonRpcInvalidRequest(f"a method is a string, not {method!r}"[:200])
            )
            return
        if "id" in message and _message_id(message) is None:
            if request:  # an answer to nothing the server asked is dropped
                wrong = f"a request's id is a string or an integer, not {message['id']!r}"[:200]
                self.fail(None, JsonRpcInvalidRequest(wrong))
            return
        if self._workspace is None and method not in (types.INITIALIZE, types.EXIT):
            if request:
                self.fail(message["id"], JsonRpcServerNotInitialized("initialize first"))
            return  # a notification before initialize is dropped, as LSP says
        if self._shutdown and request and method != types.EXIT:
            self.fail(message["id"], JsonRpcInvalidRequest("the server is shutting down"))
            return
        try:
            structured: Any = self._converter.structure(message, self._message_type(message))
        except Exception as error:
            self._unreadable(message, _what_is_wrong(error))
            return
        super().handle_message(structured)

    def _message_type(self, message: dict[str, Any]) -> type:
        method = message.get("method")
        if method is None:  # the client's answer to a request of the server's
            expected = self._result_types.pop(message["id"], None)
            return ResponseErrorMessage if "error" in message else expected or JsonRPCResponseMessage
        return self.get_message_type(method) or (
            JsonRPCRequestMessage if "id" in message else JsonRPCNotification
        )

    def _send_handler_result(self, future: concurrent.futures.Future[Any], *, msg_id: Any) -> None:
        error = None if future.cancelled() else future.exception()
        if isinstance(error, JsonRpcException):  # refused on purpose: answered, not logged as a crash
            self._request_futures.pop(msg_id, None)
            self.fail(msg_id, error)
            return
        super()._send_handler_result(future, msg_id=msg_id)

    def fail(self, ident: int | str | None, error: JsonRpcException) -> None:
        """Answer request ``ident`` (``None``: one whose id is unknown) with an error."""
        self._send_data(
            {"jsonrpc": self.VERSION, "id": ident, "error": {"code": error.code, "message": error.message}}
        )

    def _unreadable(self, message: dict[str, Any], wrong: str) -> None:
        method = message.get("method")
        if method is None:
            future = self._request_futures.pop(message["id"], None)
            if future is not None and not future.done():
                future.set_exception(JsonRpcInvalidParams(f"the client's answer does not fit: {wrong}"))
        elif "id" in message:
            self.fail(message["id"], JsonRpcInvalidParams(f"invalid params of {method}: {wrong}"))
        else:
            params = types.LogMessageParams(
                type=types.MessageType.Warning, message=f"lmfilter ignored a {method} notification: {wrong}"
            )
            self.notify(types.WINDOW_LOG_MESSAGE, params)

    # pygls keeps its own copy of each document, which it splits into lines as Python does (at U+2028, form
    # feeds, ...), not as LSP does, and which fails on a change to a document never opened. The server keeps
    # its own (:class:`~lmfilter.lsp.open_documents.Document`), so the copy is not made.

    def _ours(self, method: str, params: Any) -> Iterator[Any]:
        if (handler := self.fm.features.get(method)) is not None:
            yield handler, (params,), None

    @lsp_method(types.TEXT_DOCUMENT_DID_OPEN)
    def lsp_text_document__did_open(self, params: types.DidOpenTextDocumentParams) -> Iterator[Any]:
        yield from self._ours(types.TEXT_DOCUMENT_DID_OPEN, params)

    @lsp_method(types.TEXT_DOCUMENT_DID_CHANGE)
    def lsp_text_document__did_change(self, params: types.DidChangeTextDocumentParams) -> Iterator[Any]:
        yield from self._ours(types.TEXT_DOCUMENT_DID_CHANGE, params)

    @lsp_method(types.TEXT_DOCUMENT_DID_CLOSE)
    def lsp_text_document__did_close(self, params: types.DidCloseTextDocumentParams) -> Iterator[Any]:
        yield from self._ours(types.TEXT_DOCUMENT_DID_CLOSE, params)
