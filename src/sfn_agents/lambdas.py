"""Lambda invocations for the local engine: moto's Lambda backend hands every invocation (from a
state machine, boto3 or the CLI) to the function's real handler here instead of to Docker."""

import json
import os
import threading
import time
import traceback
import uuid
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import moto.awslambda.models as lambda_models

from sfn_agents import log_capture
from sfn_agents.launchers import LaunchError, launch_for
from sfn_agents.python_runtime import Handler, load_handler
from sfn_agents.runtime_api import SandboxPool
from sfn_agents.thread_env import overlay

Outcome = tuple[str, bool, str]  # payload JSON text, errored, logs: moto's _invoke_lambda contract
KEPT_INVOCATIONS = 50  # per function, for tests and inspection; older ones are dropped


@dataclass
class LambdaContext:
    function_name: str
    invoked_function_arn: str
    memory_limit_in_mb: int
    timeout_seconds: int
    function_version: str = "$LATEST"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    started: float = field(default_factory=time.monotonic)

    @property
    def log_group_name(self) -> str:
        return f"/aws/lambda/{self.function_name}"

    @property
    def log_stream_name(self) -> str:
        return f"local/{self.aws_request_id}"

    def get_remaining_time_in_millis(self) -> int:
        elapsed = time.monotonic() - self.started
        return max(0, int((self.timeout_seconds - elapsed) * 1000))


def _error(error_type: str, message: str, trace: list[str] | None = None) -> str:
    return json.dumps({"errorMessage": message, "errorType": error_type, "stackTrace": trace or []})


@dataclass
class LocalFunction:
    """One function of the template. Python functions run in this process; other runtimes run as
    processes behind the Lambda Runtime API (see runtime_api and launchers)."""

    logical_id: str
    name: str
    arn: str
    runtime: str
    code_dir: Path
    handler: str
    layer_dirs: list[Path]
    env: dict[str, str]
    timeout: int
    memory: int
    build_method: str = ""
    repo_root: Path = Path()
    qualifiers: set[str] = field(default_factory=lambda: {"$LATEST"})
    invocations: deque[dict[str, Any]] = field(
        default_factory=lambda: deque(maxlen=KEPT_INVOCATIONS)
    )
    _loaded: Handler | None = None
    _pool: SandboxPool | None = None
    _load_lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def in_process(self) -> bool:
        return self.runtime.startswith("python")

    def _handler(self) -> Handler:
        with self._load_lock:  # the first invocation is the cold start
            if self._loaded is None:
                self._loaded = load_handler(self.code_dir, self.handler, self.layer_dirs, self.env)
            return self._loaded

    def _sandboxes(self) -> SandboxPool:
        with self._load_lock:
            if self._pool is None:
                launch = launch_for(
                    self.runtime,
                    self.build_method,
                    self.code_dir,
                    self.handler,
                    self.repo_root,
                    memory_mb=self.memory,
                )
                env = {**_process_env(), **self.env, **launch.env}
                env.update(
                    AWS_LAMBDA_LOG_GROUP_NAME=f"/aws/lambda/{self.name}",
                    AWS_LAMBDA_LOG_STREAM_NAME="local",
                    _HANDLER=env.get("_HANDLER", self.handler),
                )
                self._pool = SandboxPool(launch.command, launch.cwd, env, memory_mb=self.memory)
            return self._pool

    def _run(self, event: Any, context: LambdaContext, outcome: list[Outcome]) -> None:
        with overlay(self.env), log_capture.captured() as logs:
            try:
                result = self._handler()(event, context)
                try:
                    payload, errored = json.dumps(result), False
                except (TypeError, ValueError) as error:
                    payload, errored = _error("Runtime.MarshalError", str(error)), True
            except ImportError as error:
                payload, errored = _error("Runtime.ImportModuleError", str(error)), True
            except SystemExit as error:  # Lambda: the runtime exits, the invocation fails
                status = error.code if isinstance(error.code, int) else int(error.code is not None)
                if not isinstance(error.code, int | None):
                    print(error.code)
                message = f"RequestId: {context.aws_request_id} Error: Runtime exited"
                message += f" with error: exit status {status}"
                payload, errored = _error("Runtime.ExitError", message), True
                print(message)
                self._loaded = None  # the next invocation is a cold start, as after an exit
            except Exception as error:
                trace = traceback.format_exception(error)
                payload, errored = _error(type(error).__name__, str(error), trace), True
                print("".join(trace), end="")
        outcome.append((payload, errored, logs.getvalue()))

    def _invoke_in_process(self, event: Any) -> Outcome:
        context = LambdaContext(self.name, self.arn, self.memory, self.timeout)
        outcome: list[Outcome] = []
        worker = threading.Thread(
            target=self._run,
            args=(event, context, outcome),
            name=f"lambda-{self.name}",
            daemon=True,
        )
        worker.start()
        worker.join(self.timeout)
        if not outcome:
            message = f"Task timed out after {self.timeout:.2f} seconds"
            outcome.append((_error("Sandbox.Timedout", message), True, message + "\n"))
        return outcome[0]

    def _invoke_process(self, event: Any) -> Outcome:
        try:
            pool = self._sandboxes()
        except LaunchError as error:
            return _error("Runtime.InvalidEntrypoint", str(error)), True, str(error)
        payload, errored, logs = pool.invoke(event, self.arn, self.timeout)
        return payload.decode(errors="replace"), errored, logs

    def invoke(self, event: Any) -> Outcome:
        started = time.monotonic()
        if self.in_process:
            payload, errored, logs = self._invoke_in_process(event)
        else:
            payload, errored, logs = self._invoke_process(event)
        self.invocations.append(
            {
                "event": event,
                "payload": payload,
                "errored": errored,
                "logs": logs,
                "duration": time.monotonic() - started,
            }
        )
        return payload, errored, logs

    def stop(self) -> None:
        if self._pool is not None:
            self._pool.stop()


def _process_env() -> dict[str, str]:
    """What a runtime process inherits from this one: the basics and the local AWS settings."""
    keep = ("PATH", "HOME", "LANG", "TZ", "TMPDIR")
    return {k: v for k, v in os.environ.items() if k in keep or k.startswith("AWS_")}


class FunctionRegistry:
    """The functions moto's Lambda backend dispatches to, by function name."""

    def __init__(self) -> None:
        self.by_name: dict[str, LocalFunction] = {}

    def add(self, function: LocalFunction) -> None:
        self.by_name[function.name] = function

    def invoke(self, name: str, event: Any) -> Outcome:
        function = self.by_name.get(name)
        if function is None:
            return _error("ResourceNotFound", f"no local runtime for function {name}"), True, ""
        return function.invoke(event)

    def stop(self) -> None:
        for function in self.by_name.values():
            function.stop()

    def install(self) -> None:
        registry = self

        def _invoke_lambda(self: Any, event: Any = None) -> Outcome:
            return registry.invoke(self.function_name, event if event is not None else {})

        lambda_models.LambdaFunction._invoke_lambda = _invoke_lambda  # type: ignore[method-assign]
