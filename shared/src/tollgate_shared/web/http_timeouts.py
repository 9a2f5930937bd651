"""Slow clients cannot hold a connection: uvicorn's httptools protocol (the one its "auto"
picks) with a deadline for each request's headers and one for its body.

Per connection there is at most one timer; a request only moves `_deadline`, and the timer,
when it fires early, re-arms itself for the later deadline. uvicorn's own keep-alive timeout
covers the idle time between requests."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from uvicorn.protocols.http.flow_control import FlowControl
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from tollgate_shared.infra.settings import ServiceSettings


class _ResumingFlowControl(FlowControl):
    """uvicorn's flow control, telling the protocol when it reads again after a pause."""

    def __init__(self, transport: asyncio.Transport, resumed: Callable[[], None]) -> None:
        super().__init__(transport)
        self._resumed = resumed

    def resume_reading(self) -> None:
        if self.read_paused:
            super().resume_reading()
            self._resumed()


class TimedHttpToolsProtocol(HttpToolsProtocol):
    """Closes a connection whose request headers are not complete `header_timeout` seconds
    after the connection opened or the request's first byte came, or whose body is not
    complete `body_timeout` seconds after its headers. Subclass it with `with_timeouts`."""

    header_timeout: float
    body_timeout: float
    _deadline: float | None = None
    _timeout: float
    _timer: asyncio.TimerHandle | None = None

    @classmethod
    def with_timeouts(cls, *, header: float, body: float) -> type[TimedHttpToolsProtocol]:
        """The protocol class to pass as `uvicorn.Config(http=...)`."""
        return type(cls.__name__, (cls,), {"header_timeout": header, "body_timeout": body})

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.flow = _ResumingFlowControl(transport, self._reading_resumed)
        self._complete_within(self.header_timeout)

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        self._deadline = None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._complete_within(self.header_timeout)

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        self._complete_within(self.body_timeout)

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._deadline = None

    def _reading_resumed(self) -> None:
        # While we did not read (a pipelined request, a body the app had not taken yet), the
        # wait was ours, not the client's: its time starts again now.
        if self._deadline is not None:
            self._complete_within(self._timeout)

    def _complete_within(self, timeout: float) -> None:
        self._timeout = timeout
        self._deadline = deadline = self.loop.time() + timeout
        timer = self._timer
        if timer is None or timer.when() > deadline:
            if timer is not None:
                timer.cancel()
            self._timer = self.loop.call_at(deadline, self._deadline_passed)

    def _deadline_passed(self) -> None:
        timer, self._timer = self._timer, None
        deadline = self._deadline
        # Nothing awaited, reading paused by us (resuming sets a new deadline), or the
        # connection was upgraded and is another protocol's now.
        if (
            timer is None
            or deadline is None
            or self.flow.read_paused
            or self.transport.get_protocol() is not self
        ):
            return
        if deadline > timer.when():
            self._timer = self.loop.call_at(deadline, self._deadline_passed)
        elif not self.transport.is_closing():
            self.logger.debug("Closing a connection whose request did not arrive in time.")
            self.transport.close()


def http_protocol(settings: ServiceSettings) -> type[TimedHttpToolsProtocol]:
    """The HTTP protocol of every Tollgate server, with the timeouts of `settings`."""
    return TimedHttpToolsProtocol.with_timeouts(
        header=settings.http_header_timeout_seconds, body=settings.http_body_timeout_seconds
    )
