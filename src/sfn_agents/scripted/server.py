"""A local HTTP server that speaks one provider's wire protocol and plays a script.

The server is protocol-agnostic: it reads requests, applies injected faults and hands everything
else to a protocol object (see `WireProtocol`). Protocols live in sibling modules, each exposing
a `PROTOCOL` instance, so `ScriptedServer("anthropic", ...)` loads `scripted/anthropic.py`; they
share the request-to-turn steps through `TurnProtocol`.
"""

import contextlib
import functools
import importlib
import json
import re
import socket
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, NamedTuple, Protocol, Self

from sfn_agents.scripted.script import (
    Fault,
    Script,
    ScriptExhausted,
    Turn,
    declared_tool_names,
    load_script,
    omitted_turns,
    parse_faults,
)

# What a "malformed" fault answers: a 200 whose JSON body was cut short.
MALFORMED_BODY = b'{"id": "msg_truncated", "type": "mess'


class Reply(NamedTuple):
    status: int
    headers: dict[str, str]
    body: bytes


class WireProtocol(Protocol):
    def handle(
        self, script: Script, method: str, path: str, headers: Mapping[str, str], body: bytes
    ) -> Reply:
        """Validate a request as the provider would and answer it from the script.
        `headers` has lower-case names."""
        ...

    def error(self, status: int, message: str) -> Reply:
        """A provider-style error reply."""
        ...


class RejectedRequest(Exception):
    """A request the provider would refuse, and the HTTP status it would refuse it with."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


class TurnProtocol[Request](ABC):
    """A `WireProtocol` that answers a request whose history holds N messages of `model_role`
    with turn N of the script, rendered over the tool results the request ends with. A request
    trimmed to its context budget says in its first message how many messages it left out
    (agent_core.context.OMITTED_NOTE); those count too, so trimming never moves the script.

    Subclasses validate (`parse`, raising `RejectedRequest`), find those results and encode the
    turn (`answer`); `Request` is whatever of the parsed request `answer` needs."""

    model_role = "assistant"

    def handle(
        self, script: Script, method: str, path: str, headers: Mapping[str, str], body: bytes
    ) -> Reply:
        try:
            request, history = self.parse(method, path, headers, body)
            turn_index = sum(1 for m in history if m["role"] == self.model_role)
            turn_index += omitted_turns(history)
            turn = script.turn(turn_index)
        except RejectedRequest as error:
            return self.rejected(error)
        except ScriptExhausted as error:
            return self.error(400, str(error))
        turn = turn.rendered(self.tool_results(history), history)
        return self.answer(request, turn_index, turn, body)

    @abstractmethod
    def parse(
        self, method: str, path: str, headers: Mapping[str, str], body: bytes
    ) -> tuple[Request, list[dict[str, Any]]]:
        """What `answer` needs of the request, and its history (messages or contents), checked
        as the provider checks them; raises RejectedRequest."""

    @abstractmethod
    def tool_results(self, history: list[dict[str, Any]]) -> list[str]:
        """The text of each tool result the history ends with, in order."""

    @abstractmethod
    def answer(self, request: Request, turn_index: int, turn: Turn, body: bytes) -> Reply:
        """The provider's reply playing `turn` (already rendered) to the request `body`."""

    @abstractmethod
    def error(self, status: int, message: str) -> Reply:
        """A provider-style error reply."""

    def rejected(self, error: RejectedRequest) -> Reply:
        """The reply to a request `parse` rejected."""
        return self.error(error.status, str(error))


class ScriptedServer:
    """`with ScriptedServer("anthropic", "script.json") as fake: call(fake.url)`."""

    def __init__(
        self,
        protocol: str | WireProtocol,
        script: Script | str | Path | Mapping[str, Any],
        faults: Sequence[Fault | Mapping[str, Any]] = (),
    ) -> None:
        self.protocol = _load_protocol(protocol) if isinstance(protocol, str) else protocol
        self.script = script if isinstance(script, Script) else load_script(script)
        self.requests: list[dict[str, Any]] = []  # JSON-object request bodies, in arrival order
        # Seconds spent answering requests since the last play(): the provider's share of a run,
        # which benchmarks take out of the loop's own cost.
        self.busy_seconds = 0.0
        self._faults = list(self.script.faults + parse_faults(faults))
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    def play(self, script: Script | str | Path | Mapping[str, Any]) -> None:
        """Switch to another script (and its faults), forgetting the requests seen so far."""
        with self._lock:
            self.script = script if isinstance(script, Script) else load_script(script)
            self._faults = list(self.script.faults)
            self.requests.clear()
            self.busy_seconds = 0.0

    @property
    def url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("the scripted server is not running")
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def start(self) -> str:
        """Start serving on 127.0.0.1 (a free port); returns the base URL."""
        self._stopping.clear()
        self._httpd = _HTTPServer(self)
        # A short poll interval keeps stop() fast.
        serve = functools.partial(self._httpd.serve_forever, poll_interval=0.02)
        self._thread = threading.Thread(target=serve, daemon=True)
        self._thread.start()
        return self.url

    def stop(self) -> None:
        self._stopping.set()  # wakes requests sleeping on a delay fault
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd.close_connections()
        if self._thread is not None:
            self._thread.join()
        self._httpd = self._thread = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def respond(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> Reply:
        """Answer one request: the next fault if any, else the protocol's reply."""
        started = time.perf_counter()
        try:
            return self._respond(method, path, headers, body)
        finally:
            with self._lock:
                self.busy_seconds += time.perf_counter() - started

    def _respond(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> Reply:
        with self._lock:
            self._record(body)
            fault = self._faults.pop(0) if self._faults else None
        if fault is not None:
            self._stopping.wait(fault.delay_seconds)
            if fault.status is not None:
                reply = self.protocol.error(fault.status, f"injected fault: HTTP {fault.status}")
                if fault.retry_after is not None:
                    reply.headers["retry-after"] = fault.retry_after
                return reply
            if fault.malformed:
                return Reply(200, {"content-type": "application/json"}, MALFORMED_BODY)
        try:
            script = self.script
            if script.agents:
                script = script.for_tools(declared_tool_names(_json_or_none(body)))
            return self.protocol.handle(script, method, path, headers, body)
        except Exception as error:
            return self.protocol.error(
                500, f"scripted model failed: {type(error).__name__}: {error}"
            )

    def _record(self, body: bytes) -> None:
        try:
            data = json.loads(body)
        except ValueError:
            return
        if isinstance(data, dict):
            self.requests.append(data)


class _HTTPServer(ThreadingHTTPServer):
    def __init__(self, scripted: ScriptedServer) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.scripted = scripted
        self.connections: set[socket.socket] = set()  # open keep-alive connections

    def process_request(self, request: Any, client_address: Any) -> None:
        self.connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        self.connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """End the threads still waiting on keep-alive connections."""
        for connection in list(self.connections):
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Quiet: clients that give up (timeouts) and broken connections are expected."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in two writes
    server: _HTTPServer

    def do_POST(self) -> None:
        scripted = self.server.scripted
        try:
            length = int(self.headers.get("content-length") or 0)
            if length < 0:
                raise ValueError(length)
        except ValueError:
            reply = scripted.protocol.error(400, "invalid Content-Length header")
            self.close_connection = True
        else:
            headers = {name.lower(): value for name, value in self.headers.items()}
            reply = scripted.respond(self.command, self.path, headers, self.rfile.read(length))
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.send_header("content-length", str(len(reply.body)))
        self.end_headers()
        self.wfile.write(reply.body)

    do_GET = do_PUT = do_PATCH = do_DELETE = do_POST

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests read `ScriptedServer.requests` instead."""


def _json_or_none(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return None


def _load_protocol(name: str) -> WireProtocol:
    if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
        raise ValueError(f"unknown protocol {name!r}")
    module_name = f"{__package__}.{name}"
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        if error.name != module_name:
            raise
        module = None
    protocol: WireProtocol | None = getattr(module, "PROTOCOL", None)
    if protocol is None:
        raise ValueError(f"unknown protocol {name!r}")
    return protocol
