"""Helpers for tests: run the emulator in-process, receive webhooks, wait for conditions."""

import contextlib
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar

import httpx
import uvicorn

from stripe_emulator.app import create_app
from stripe_emulator.emulator import Emulator
from stripe_emulator.settings import Settings

T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for(condition: Callable[[], T], timeout: float = 10.0, what: str = "condition") -> T:
    """Poll `condition` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


@dataclass
class RunningEmulator:
    """An emulator serving on `base_url`, with its `/_emulator` controls at hand."""

    base_url: str
    http: httpx.Client
    emulator: Emulator
    """The served emulator's state, e.g. its `limiter` (whose clock a test may replace)."""

    def control(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.http.request(method, f"/_emulator{path}", **kwargs)
        response.raise_for_status()
        return response.json()

    def events(self, type: str | None = None) -> list[dict[str, Any]]:
        """Every event so far, oldest first."""
        events: list[dict[str, Any]] = self.control(
            "GET", "/events", params={"type": type} if type else None
        )
        return events

    def event_types(self) -> list[str]:
        return [event["type"] for event in self.events()]


@contextlib.contextmanager
def serve(settings: Settings) -> Iterator[RunningEmulator]:
    """Run the emulator under uvicorn in a background thread for the block's duration."""
    app = create_app(settings)
    server = uvicorn.Server(
        uvicorn.Config(app, host=settings.host, port=settings.port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        wait_for(lambda: server.started or not thread.is_alive(), what="the emulator to start")
        if not server.started:
            raise RuntimeError("the emulator did not start")
        with httpx.Client(base_url=settings.base_url, timeout=10) as http:
            yield RunningEmulator(settings.base_url, http, app.state.emulator)
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@dataclass(frozen=True)
class Received:
    body: bytes
    signature: str

    @property
    def event(self) -> dict[str, Any]:
        event: dict[str, Any] = json.loads(self.body)
        return event


@dataclass
class WebhookReceiver:
    """A real HTTP server storing what it receives; it answers 500 to the next `fail_next`."""

    url: str = ""
    received: list[Received] = field(default_factory=list)
    fail_next: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def snapshot(self) -> list[Received]:
        with self.lock:
            return list(self.received)

    def types(self) -> list[str]:
        return [item.event["type"] for item in self.snapshot()]

    def _handle(self, body: bytes, signature: str) -> int:
        with self.lock:
            if self.fail_next > 0:
                self.fail_next -= 1
                return 500
            self.received.append(Received(body, signature))
            return 200


@contextlib.contextmanager
def receive_webhooks(path: str = "/webhooks/stripe") -> Iterator[WebhookReceiver]:
    """Serve a `WebhookReceiver` on a free local port for the block's duration."""
    receiver = WebhookReceiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            status = receiver._handle(body, self.headers.get("Stripe-Signature", ""))
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}{path}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
