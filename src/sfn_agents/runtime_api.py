"""The Lambda Runtime API, for every function: each runs as a process of its own, through its
runtime's official client (Python's awslambdaric, Node's aws-lambda-ric,
aws-lambda-java-runtime-interface-client; Go and Rust binaries link their runtime library).

Each sandbox is one process with one Runtime API endpoint, handling one invocation at a time, as
in Lambda; parallel invocations get more sandboxes. A pool can start its first sandbox ahead of
the first invocation (``prestart``), so the function's init (a Python handler's imports) overlaps
whatever the engine does meanwhile; its init logs go with its first invocation's. A sandbox that
exceeds the function's timeout is killed, as Lambda does. A sandbox's process gets the function's
MemorySize as its data-segment limit (RLIMIT_DATA, which counts what a process commits, not address
space it only reserves, as the JVM, V8 and Go do) and fails as Lambda would when it needs more.
An event or a response over Lambda's 6 MB for a synchronous invocation fails as it does there.

A runtime that goes away mid-request (killed, timed out, stopped with the engine) is normal here:
the connection errors that follow are not reported as errors.
"""

import codecs
import json
import os
import queue
import select
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from sfn_agents import preload

PREFIX = "/2018-06-01/runtime"
NEXT_POLL_SECONDS = 1.0
# Lambda's payload limits for a synchronous invocation (bytes; the response's is 100 more).
MAX_EVENT_BYTES = 6_291_456
MAX_RESPONSE_BYTES = 6_291_556


def _error(kind: str, message: str) -> bytes:
    return json.dumps({"errorMessage": message, "errorType": kind}).encode()


@dataclass
class Invocation:
    request_id: str
    event: bytes
    deadline_ms: int
    function_arn: str
    done: threading.Event = field(default_factory=threading.Event)
    payload: bytes = b""
    errored: bool = False


class _Endpoint(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):  # a runtime that went away
            super().handle_error(request, client_address)

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _RuntimeHandler)
        self.pending: queue.Queue[Invocation] = queue.Queue()
        self.active: dict[str, Invocation] = {}
        self.init_error: bytes | None = None
        self.closing = threading.Event()
        self.ready_at: float | None = None  # when the runtime first asked for an invocation


class _RuntimeHandler(BaseHTTPRequestHandler):
    server: _Endpoint
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # a reply's headers and body go out at once, not 40 ms apart

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _reply(self, status: int, body: bytes = b"{}", headers: Mapping[str, str] = {}) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        if self.path != f"{PREFIX}/invocation/next":
            self._reply(404, b'{"errorMessage": "unknown path"}')
            return
        if self.server.ready_at is None:
            self.server.ready_at = time.monotonic()
        while True:  # long poll, as Lambda's endpoint does
            try:
                invocation = self.server.pending.get(timeout=NEXT_POLL_SECONDS)
                break
            except queue.Empty:
                if self.server.closing.is_set():
                    self._reply(410, b'{"errorMessage": "sandbox shutting down"}')
                    return
        self.server.active[invocation.request_id] = invocation
        self._reply(
            200,
            invocation.event,
            {
                "Lambda-Runtime-Aws-Request-Id": invocation.request_id,
                "Lambda-Runtime-Deadline-Ms": str(invocation.deadline_ms),
                "Lambda-Runtime-Invoked-Function-Arn": invocation.function_arn,
                "Lambda-Runtime-Trace-Id": f"Root=1-{uuid.uuid4().hex[:8]}-{uuid.uuid4().hex[:24]}",
            },
        )

    def do_POST(self) -> None:
        body = self._body()
        parts = self.path.removeprefix(PREFIX).strip("/").split("/")
        if parts == ["init", "error"]:
            self.server.init_error = body
            self._reply(202, b'{"status": "OK"}')
            return
        if len(parts) == 3 and parts[0] == "invocation" and parts[2] in ("response", "error"):
            invocation = self.server.active.pop(parts[1], None)
            if invocation is None:
                self._reply(400, b'{"errorMessage": "unknown request id"}')
                return
            invocation.payload, invocation.errored = body, parts[2] == "error"
            invocation.done.set()
            self._reply(202, b'{"status": "OK"}')
            return
        self._reply(404, b'{"errorMessage": "unknown path"}')


class Sandbox:
    """One runtime process and its Runtime API endpoint."""

    def __init__(
        self,
        pool: "SandboxPool",
        env: Mapping[str, str],
        preloaded: preload.Process | None = None,
    ) -> None:
        """A sandbox of ``pool``'s command, with ``env``; in ``preloaded`` if given and alive."""
        command, cwd, memory_mb = pool.command, pool.cwd, pool.memory_mb
        self.endpoint = _Endpoint()
        self.started = time.monotonic()
        self.memory_mb = memory_mb
        threading.Thread(
            target=self.endpoint.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        address = f"127.0.0.1:{self.endpoint.server_address[1]}"
        self._logs: list[str] = []
        self._reported = 0  # how many of the logs an invocation has returned
        self._log_lock = threading.Lock()
        env = {**env, "AWS_LAMBDA_RUNTIME_API": address}
        self.process: preload.Process
        if preloaded is not None and preload.adopt(preloaded, command, cwd, env):
            self.process = preloaded
        else:
            self.process = subprocess.Popen(
                list(command),
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C reaches the engine, which stops its sandboxes
            )
        preload.limit_memory(self.process, memory_mb)
        assert self.process.stdout is not None
        self._output = self.process.stdout.fileno()
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        threading.Thread(target=self._collect_logs, daemon=True).start()

    def _read_logs(self, wait: float) -> int | None:
        """Append what the process has written, waiting up to ``wait`` for it: how many bytes,
        None once the process has closed its output."""
        output = self._output
        if output < 0:
            return None
        if wait and not select.select([output], [], [], wait)[0]:
            return 0
        with self._log_lock:  # another reader may have taken it meanwhile: look again
            if self._output < 0 or not select.select([self._output], [], [], 0)[0]:
                return None if self._output < 0 else 0
            data = os.read(self._output, 65536)
            self._logs.append(self._decoder.decode(data, final=not data))
            if not data:
                self._output = -1
                return None
            return len(data)

    def _collect_logs(self) -> None:
        while self._read_logs(0.05) is not None:
            pass

    def _logs_since_last(self) -> str:
        """An invocation's logs, from the end of the previous invocation's (the first one's start
        with the init's): all its runtime wrote before posting the outcome, so already in the
        pipe."""
        while self._read_logs(0):
            pass
        with self._log_lock:
            logs = "".join(self._logs[self._reported :])
            self._reported = len(self._logs)
        return logs

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    @property
    def init_seconds(self) -> float | None:
        """How long its init took (None while it runs)."""
        ready = self.endpoint.ready_at
        return None if ready is None else ready - self.started

    def invoke(self, event: Any, function_arn: str, timeout: float) -> tuple[bytes, bool, str]:
        body = json.dumps(event).encode()
        if len(body) > MAX_EVENT_BYTES:  # refused before any runtime sees it
            message = (
                f"Request must be smaller than {MAX_EVENT_BYTES} bytes for the Invoke operation"
            )
            return _error("RequestEntityTooLargeException", message), True, ""
        invocation = Invocation(
            request_id=str(uuid.uuid4()),
            event=body,
            deadline_ms=int((time.time() + timeout) * 1000),
            function_arn=function_arn,
        )
        self.endpoint.pending.put(invocation)
        deadline = time.monotonic() + timeout
        while not invocation.done.wait(0.05):
            if (
                self.endpoint.init_error is not None
                or not self.alive
                or time.monotonic() > deadline
            ):
                failure, line = self._failure(invocation, timeout)
                return failure, True, self._logs_since_last() + line
        if len(invocation.payload) > MAX_RESPONSE_BYTES:
            message = (
                f"Response payload size ({len(invocation.payload)} bytes) exceeded maximum allowed"
                f" payload size ({MAX_RESPONSE_BYTES} bytes)."
            )
            return _error("Function.ResponseSizeTooLarge", message), True, self._logs_since_last()
        return invocation.payload, invocation.errored, self._logs_since_last()

    def _failure(self, invocation: Invocation, timeout: float) -> tuple[bytes, str]:
        """The error, and the line Lambda's platform logs for it (a runtime logs its own init
        error)."""
        if self.endpoint.init_error is not None:
            return self.endpoint.init_error, ""
        if self.alive:  # still running past its timeout: Lambda kills the sandbox
            self.stop()
            message, kind = f"Task timed out after {timeout:.2f} seconds", "Sandbox.Timedout"
        else:
            status = self.process.wait()  # it has exited
            message = f"RequestId: {invocation.request_id} Error: Runtime exited with error: "
            message += f"exit status {status}" if status >= 0 else f"signal {-status}"
            if self.memory_mb:
                message += f" (its memory is limited to the function's {self.memory_mb} MB)"
            kind = "Runtime.ExitError"
        return _error(kind, message), message + "\n"

    def stop(self) -> None:
        self.endpoint.closing.set()
        if self.alive:
            self.process.kill()
        self.process.wait()
        self.endpoint.shutdown()
        self.endpoint.server_close()


class SandboxPool:
    """Reuses idle sandboxes (warm starts) and starts new ones for concurrent invocations, unless
    a busy one is free again sooner than a new one would be ready: an invocation that finds none
    idle waits for one while one is in its init (one init at a time), then up to the longest init
    its live sandboxes took. Locally a cold start costs CPU that the invocations share
    (importing an SDK takes seconds; a warm invocation, milliseconds), so a burst of invocations
    is served by few sandboxes, while slow handlers still get sandboxes of their own."""

    def __init__(
        self,
        command: Sequence[str],
        cwd: Path,
        env: Mapping[str, str],
        memory_mb: int = 0,
        preloaded: preload.Process | None = None,
    ) -> None:
        self.command, self.cwd, self.env = list(command), cwd, dict(env)
        self.memory_mb = memory_mb
        self._preloaded = preloaded  # a process for the first sandbox (see preload)
        self._idle: list[Sandbox] = []
        self._all: list[Sandbox] = []
        self._lock = threading.Lock()
        self._freed = threading.Condition(self._lock)

    def _start(self, initialization: str = preload.ON_DEMAND) -> Sandbox:  # with the lock held
        env = {**self.env, "AWS_LAMBDA_INITIALIZATION_TYPE": initialization}
        preloaded, self._preloaded = self._preloaded, None
        sandbox = Sandbox(self, env, preloaded)
        self._all.append(sandbox)
        return sandbox

    def prestart(self) -> None:
        """Start a sandbox for the next invocation unless one is idle (its init runs meanwhile)."""
        with self._lock:
            if not self._idle:
                self._idle.append(self._start(preload.PROVISIONED))

    def _take(self) -> Sandbox:
        since = time.monotonic()
        with self._freed:
            while not self._idle:
                live = [s for s in self._all if s.alive]
                inits = [(s.started, s.init_seconds) for s in live if s.init_seconds is not None]
                if not live or (
                    len(inits) == len(live)  # one init at a time: none is running
                    and time.monotonic() - max([since, *(start + init for start, init in inits)])
                    >= max(init for _, init in inits)  # waited as long as an init takes
                ):
                    return self._start()
                self._freed.wait(0.05)
            return self._idle.pop()

    def invoke(self, event: Any, function_arn: str, timeout: float) -> tuple[bytes, bool, str]:
        sandbox = self._take()
        try:
            return sandbox.invoke(event, function_arn, timeout)
        finally:
            with self._freed:
                if sandbox.alive:
                    self._idle.append(sandbox)
                    self._freed.notify()

    def stop(self) -> None:
        if self._preloaded is not None:
            preload.discard(self._preloaded)
            self._preloaded = None
        for sandbox in self._all:
            sandbox.stop()
        self._all.clear()
        self._idle.clear()
