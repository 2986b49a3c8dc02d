"""Lambda invocations for the local engine: moto's Lambda backend hands every invocation (from a
state machine, boto3 or the CLI) to the function's sandboxes here instead of to Docker."""

import json
import os
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sfn_agents import preload
from sfn_agents.launchers import Launch, LaunchError, launch_for

if TYPE_CHECKING:  # imported on first use (with http.server), after the preload has started
    from sfn_agents.runtime_api import SandboxPool

Outcome = tuple[str, bool, str]  # payload JSON text, errored, logs: moto's _invoke_lambda contract
KEPT_INVOCATIONS = 50  # per function, for tests and inspection; older ones are dropped


def _error(error_type: str, message: str) -> str:
    return json.dumps({"errorMessage": message, "errorType": error_type, "stackTrace": []})


@dataclass
class LocalFunction:
    """One function of the template, run as processes behind the Lambda Runtime API (see
    runtime_api and launchers), whatever its runtime."""

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
    preloaded: preload.Process | None = None  # for its first sandbox (see preload)
    _pool: "SandboxPool | None" = None
    _pool_lock: threading.Lock = field(default_factory=threading.Lock)

    def launch(self) -> tuple[Launch, dict[str, str]]:
        """How its sandboxes start (building it first if need be), and their environment."""
        launch = launch_for(
            self.runtime,
            self.build_method,
            self.code_dir,
            self.handler,
            self.repo_root,
            memory_mb=self.memory,
            layer_dirs=self.layer_dirs,
        )
        env = {**_process_env(), **self.env, **launch.env}
        env.update(
            AWS_LAMBDA_LOG_GROUP_NAME=f"/aws/lambda/{self.name}",
            AWS_LAMBDA_LOG_STREAM_NAME="local",
            _HANDLER=env.get("_HANDLER", self.handler),
        )
        return launch, env

    def _sandboxes(self) -> "SandboxPool":
        from sfn_agents.runtime_api import SandboxPool

        with self._pool_lock:
            if self._pool is None:
                launch, env = self.launch()
                preloaded, self.preloaded = self.preloaded, None
                self._pool = SandboxPool(
                    launch.command, launch.cwd, env, memory_mb=self.memory, preloaded=preloaded
                )
            return self._pool

    def prestart(self) -> None:
        """Start a Python function's first sandbox now: its init (the handler's imports) runs while
        the engine goes on. Other runtimes may need a build first, left to the first invocation."""
        if self.runtime.startswith("python"):
            self._sandboxes().prestart()

    def invoke(self, event: Any) -> Outcome:
        started = time.monotonic()
        try:
            raw, errored, logs = self._sandboxes().invoke(event, self.arn, self.timeout)
            payload = raw.decode(errors="replace")
        except LaunchError as error:
            payload, errored, logs = (
                _error("Runtime.InvalidEntrypoint", str(error)),
                True,
                str(error),
            )
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
        if self.preloaded is not None:
            preload.discard(self.preloaded)
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
        """All at once: each sandbox waits up to a poll interval (50 ms) for its Runtime API
        endpoint's loop to end, which one after the other took most of a command's exit."""
        from concurrent.futures import ThreadPoolExecutor

        functions = list(self.by_name.values())
        if functions:
            with ThreadPoolExecutor(len(functions)) as pool:
                list(pool.map(LocalFunction.stop, functions))

    def install(self) -> None:
        import moto.awslambda.models as lambda_models

        registry = self

        def _invoke_lambda(self: Any, event: Any = None) -> Outcome:
            return registry.invoke(self.function_name, event if event is not None else {})

        lambda_models.LambdaFunction._invoke_lambda = _invoke_lambda  # type: ignore[method-assign]
