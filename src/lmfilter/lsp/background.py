"""Work off the event loop, so that the server goes on reading messages while it lints or answers.

The :class:`Linter` lints open documents in one background thread, a :class:`Job` per revision, and hands
what it finds back to the event loop; :func:`in_thread` and :func:`off_loop` run a request's work in a
thread of its own, stopped when the document changes or the request is cancelled.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from pygls.exceptions import JsonRpcContentModified

from lmfilter.lsp.analysis import Analysis, Stale, check_outline
from lmfilter.lsp.open_documents import Document
from lmfilter.lsp.settings import Settings

T = TypeVar("T")

_SLICE = 0.5
"""Seconds a lint job runs before it lets a waiting one go first (it resumes after it)."""


@dataclass(frozen=True, slots=True)
class Job:
    """Linting one revision of a document under some settings."""

    document: Document
    revision: int
    text: str
    settings: Settings
    generation: int

    def run(self, stop: Callable[[], bool]) -> Analysis:
        document = self.document
        key = (self.settings.target, self.settings.native)
        if document.memo[0] != key:
            document.memo = (key, {})
        memo = document.memo[1]
        began = time.monotonic()
        found = document.outline_of(self.revision, self.text)
        analysis = check_outline(found, self.settings, memo, stop, document.path)
        texts = {site.text for site in found.sites}
        document.memo = (key, {k: v for k, v in memo.items() if k[0] in texts})  # only what is there
        document.lint_seconds = time.monotonic() - began
        return analysis


class Linter:
    """Lints open documents in one background thread, so that no request ever waits for linting.

    A change schedules its document to be linted once typing pauses
    (:attr:`~lmfilter.lsp.open_documents.Document.delay`): a burst of keystrokes is linted once. A job
    lints the text of the moment it is taken and asks between filters whether it is still wanted (its
    document unchanged and open, the settings the same); one that is not stops, and what it found is never
    published. A job that has run for :data:`_SLICE` lets a waiting one go first and then resumes where it
    stopped (what it checked is memoized). Results go to ``finish`` on the event loop, which publishes them
    if they are still current.
    """

    def __init__(
        self, settings: Callable[[], Settings], finish: Callable[[Job, Analysis | Exception], None]
    ) -> None:
        self._settings = settings
        self._finish = finish
        self._pending: dict[str, Job] = {}  # by document key, the oldest first
        self._wake = threading.Condition()
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self.generation = 0  # one more whenever the settings change: every job before is stale
        self.stopped = False

    def wanted(self, job: Job) -> bool:
        document = job.document
        return (
            not self.stopped
            and document.open
            and document.revision == job.revision
            and job.generation == self.generation
        )

    def schedule(self, document: Document, delay: float) -> None:
        """Lint ``document`` once ``delay`` seconds pass without another schedule (call on the event loop)."""
        if self.stopped:
            return
        loop = self._start()
        self.cancel(document)
        self._timers[document.key] = loop.call_later(delay, self._submit, document)

    def cancel(self, document: Document) -> None:
        """Forget the lint that ``document`` is waiting for, if any (a running one stops by itself)."""
        timer = self._timers.pop(document.key, None)
        if timer is not None:
            timer.cancel()
        with self._wake:
            job = self._pending.get(document.key)
            if job is not None and job.document is document:
                del self._pending[document.key]

    def stop(self) -> None:
        self.stopped = True
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        with self._wake:
            self._pending.clear()
            self._wake.notify_all()

    def _start(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
            # A daemon: exiting the server never waits for a lint.
            threading.Thread(target=self._work, args=(self._loop,), name="lmfilter-lint", daemon=True).start()
        return self._loop

    def _submit(self, document: Document) -> None:
        self._timers.pop(document.key, None)
        if not document.open or self.stopped:
            return
        job = Job(document, document.revision, document.text, self._settings(), self.generation)
        with self._wake:
            self._pending.pop(document.key, None)
            self._pending[document.key] = job
            self._wake.notify()

    def _work(self, loop: asyncio.AbstractEventLoop) -> None:
        while True:
            with self._wake:
                while not self._pending and not self.stopped:
                    self._wake.wait()
                if self.stopped:
                    return
                job = self._pending.pop(next(iter(self._pending)))
            if not self.wanted(job):
                continue
            began = time.monotonic()

            def stop(job: Job = job, began: float = began) -> bool:
                return not self.wanted(job) or (bool(self._pending) and time.monotonic() - began > _SLICE)

            result: Analysis | Exception
            try:
                result = job.run(stop)
            except Stale:
                if self.wanted(job):
                    with self._wake:
                        self._pending.setdefault(job.document.key, job)  # after those waiting
                continue
            except Exception as error:  # a bug, or a document no reader expected: reported, never fatal
                result = error
            try:
                loop.call_soon_threadsafe(self._finish, job, result)
            except RuntimeError:  # the loop is closed: the server is gone
                return


def in_thread(function: Callable[..., T], *arguments: Any) -> asyncio.Future[T]:
    """Call ``function`` in a thread of its own; its result, on the event loop.

    Unlike :func:`asyncio.to_thread`, the thread is a daemon: exiting the server never waits for work that
    is no longer wanted (a model file that is slow to read, an outline of a huge document).
    """
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def settle(outcome: Callable[[], None]) -> None:
        if not future.done():  # a cancelled request's future stays cancelled
            outcome()

    def run() -> None:
        try:
            result = function(*arguments)
        except BaseException as error:  # handed to the loop, which raises it in the awaiting task
            answer = functools.partial(future.set_exception, error)
        else:
            answer = functools.partial(future.set_result, result)
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits
            loop.call_soon_threadsafe(settle, answer)

    threading.Thread(target=run, name="lmfilter-request", daemon=True).start()
    return future


async def off_loop(document: Document, revision: int, work: Callable[[Callable[[], bool]], T]) -> T:
    """Run a request's ``work`` on ``revision`` of a document in a thread, so that the event loop goes on
    reading messages.

    ``work`` is given a ``stop`` to ask between steps: it says so once the request is cancelled or the
    document is at another revision, and the request then fails with ``ContentModified``.
    """
    abandoned = threading.Event()

    def stop() -> bool:
        return abandoned.is_set() or document.revision != revision or not document.open

    try:
        return await in_thread(work, stop)
    except Stale:
        raise JsonRpcContentModified(f"{document.uri} changed while the request was being answered") from None
    finally:
        abandoned.set()
