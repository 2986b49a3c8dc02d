"""A remote-execution worker: polls a tool's activity, runs the requested command if its program
is on the allow-list (no shell: no pipes, redirections or substitutions), and answers with the
output, exit code and duration the model sees.

Safety model: the command's input is written by a model, so any input at all is answered with a
result (never a crash that leaves the task to time out); a command runs with only the allow-listed
environment variables, with stdin closed, in its own process group (killed with its children on
timeout); its output is read while it runs and kept only up to a cap. SIGINT or SIGTERM stops the
worker after the poll in flight, whose task, if one arrives, is answered rather than dropped."""

import json
import os
import selectors
import shlex
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Variables a command inherits from the worker unless the config names others.
DEFAULT_ENV_ALLOW = frozenset({"PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ"})
READ_CHUNK = 65_536
# shlex takes seconds on a command of 200,000 characters; no command a model writes needs that.
MAX_COMMAND_CHARS = 32_768


@dataclass(frozen=True)
class WorkerConfig:
    allow: frozenset[str]
    timeout_seconds: float = 60.0
    max_output_chars: int = 20_000
    env_allow: frozenset[str] = DEFAULT_ENV_ALLOW

    @classmethod
    def load(cls, path: str | None, allow: Iterable[str], timeout: float | None) -> "WorkerConfig":
        data: dict[str, Any] = json.loads(Path(path).read_text()) if path else {}
        if not isinstance(data, dict):
            raise ValueError("the worker config must be a JSON object")
        programs = frozenset([*data.get("allow", []), *allow])
        if not programs:
            raise ValueError("the worker needs an allow-list: --allow PROGRAM or a config file")
        env_allow = data.get("env_allow", sorted(DEFAULT_ENV_ALLOW))
        if not isinstance(env_allow, list) or not all(isinstance(n, str) for n in env_allow):
            raise ValueError("env_allow must be a list of environment variable names")
        return cls(
            allow=programs,
            timeout_seconds=float(timeout or data.get("timeout_seconds", 60)),
            max_output_chars=int(data.get("max_output_chars", 20_000)),
            env_allow=frozenset(env_allow),
        )

    def child_environment(self) -> dict[str, str]:
        return {name: os.environ[name] for name in self.env_allow if name in os.environ}


@dataclass(frozen=True)
class Captured:
    output: str
    exit_code: int | None  # None: still running at the deadline, then killed
    cut: bool


def _capture(argv: list[str], cwd: str | None, config: WorkerConfig) -> Captured:
    """Run argv, reading its output as it comes; keep at most the cap, drain the rest."""
    cap = config.max_output_chars * 4  # bytes; a UTF-8 character takes at most four
    kept = bytearray()
    cut = False
    deadline = time.monotonic() + config.timeout_seconds
    with subprocess.Popen(
        argv,
        cwd=cwd,
        env=config.child_environment(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    ) as process:
        assert process.stdout is not None
        with selectors.DefaultSelector() as selector:
            selector.register(process.stdout, selectors.EVENT_READ)
            while (remaining := deadline - time.monotonic()) > 0:
                if not selector.select(remaining):
                    continue
                chunk = os.read(process.stdout.fileno(), READ_CHUNK)
                if not chunk:
                    break
                room = cap - len(kept)
                kept += chunk[:room]
                cut = cut or len(chunk) > room
        try:
            exit_code: int | None = process.wait(timeout=max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            exit_code = None
            with_children = os.getpgid(process.pid)
            os.killpg(with_children, signal.SIGKILL)
            process.wait()
    output = kept.decode("utf-8", errors="replace")
    if len(output) > config.max_output_chars:
        output, cut = output[: config.max_output_chars], True
    if cut:
        output += f"\n[output cut at {config.max_output_chars:,} characters]"
    return Captured(output, exit_code, cut)


def run_command(request: Any, config: WorkerConfig) -> dict[str, Any]:
    """Run one request's command; every outcome is a result for the model, never an exception."""
    started = time.monotonic()

    def result(status: str, **fields: Any) -> dict[str, Any]:
        elapsed = int((time.monotonic() - started) * 1000)
        return {"status": status, **fields, "execution_time_ms": elapsed}

    def refuse(error: str) -> dict[str, Any]:
        return result("error", error=error, exit_code=-1)

    tool_input = request.get("tool_input") if isinstance(request, dict) else None
    if not isinstance(tool_input, dict):
        return refuse("the request must hold tool_input, an object with a command")
    command = tool_input.get("command")
    if not isinstance(command, str) or not command.strip():
        return refuse("tool_input.command must be a non-empty string")
    cwd = tool_input.get("working_directory") or None
    if cwd is not None and not isinstance(cwd, str):
        return refuse("tool_input.working_directory must be a string")
    if len(command) > MAX_COMMAND_CHARS:
        return refuse(
            f"the command has {len(command):,} characters; the limit is {MAX_COMMAND_CHARS:,}"
        )
    if "\0" in command or (cwd and "\0" in cwd):
        return refuse("the command or working directory contains a NUL byte")
    try:
        argv = shlex.split(command)
    except ValueError as error:
        return refuse(f"cannot parse the command: {error}")
    if not argv:
        return refuse("tool_input.command must name a program")
    if argv[0] not in config.allow:
        allowed = ", ".join(sorted(config.allow))
        return refuse(f"{argv[0]} is not on this worker's allow-list ({allowed})")
    try:
        captured = _capture(argv, cwd, config)
    except OSError as error:
        return refuse(f"cannot run {argv[0]}: {error.strerror or error}")
    except Exception as error:  # whatever the input, the worker answers and keeps serving
        return refuse(f"cannot run {argv[0]}: {type(error).__name__}: {error}")
    if captured.exit_code is None:
        message = f"timed out after {config.timeout_seconds:g} s"
        return result("error", error=message, output=captured.output, exit_code=-1)
    if captured.exit_code == 0:
        return result("success", output=captured.output, exit_code=0)
    return result(
        "error",
        error=captured.output or f"exit code {captured.exit_code}",
        exit_code=captured.exit_code,
    )


def _parse_input(raw: str | None) -> Any:
    try:
        return json.loads(raw or "{}")
    except ValueError:
        return None  # run_command answers that it is not a request


def _readable(request: Any) -> dict[str, Any]:
    """The request for on_task: {} unless it holds a tool_input object."""
    if isinstance(request, dict) and isinstance(request.get("tool_input"), dict):
        return request
    return {}


@contextmanager
def stop_on_signals(
    stopping: threading.Event, notify: Callable[[str], None]
) -> Iterator[threading.Event]:
    """In the main thread, SIGINT and SIGTERM set ``stopping``; a second one quits at once."""
    if threading.current_thread() is not threading.main_thread():
        yield stopping
        return

    def handle(signum: int, frame: Any) -> None:
        if stopping.is_set():
            raise KeyboardInterrupt
        stopping.set()
        notify(
            f"{signal.Signals(signum).name}: stopping after the current poll (at most a minute), "
            "so no task is lost; send it again to quit now"
        )

    previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stopping
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def serve(
    sfn: Any,
    activity_arn: str,
    config: WorkerConfig,
    once: bool = False,
    on_task: Callable[[dict[str, Any], dict[str, Any]], None] = lambda request, answer: None,
    stopping: threading.Event | None = None,
    notify: Callable[[str], None] = _stderr,
) -> None:
    """Poll the activity and answer each task; with ``once``, stop after the first task.

    A poll is never abandoned half-way: the service may already have handed it a task, which
    would then wait out its timeout. A stop request (``stopping``, or SIGINT/SIGTERM when this
    runs in the main thread) takes effect when the poll in flight returns; a task it brings is
    answered with an error result saying that the command did not run."""
    name = f"sfn-agents-worker@{os.uname().nodename}"
    with stop_on_signals(stopping or threading.Event(), notify) as stop:
        while True:
            task = sfn.get_activity_task(activityArn=activity_arn, workerName=name)
            token = task.get("taskToken")
            request = _parse_input(task.get("input")) if token else None
            if token and stop.is_set():
                answer = {"status": "error", "exit_code": -1, "execution_time_ms": 0}
                answer["error"] = "the worker was stopping and did not run this command"
                sfn.send_task_success(taskToken=token, output=json.dumps(answer))
                return
            if token:
                answer = run_command(request, config)
                sfn.send_task_success(taskToken=token, output=json.dumps(answer))
                on_task(_readable(request), answer)
            if stop.is_set() or (once and token):
                return
