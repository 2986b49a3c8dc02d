"""The AWS clients moto 5.2.5's Step Functions engine uses for its Task states.

moto builds a new boto3 client for every Task it runs (``boto_client_for``: tens of milliseconds
each, more than most local calls take) and sends it to ``localhost`` (which may try IPv6 first).
Here each (service, region) gets one client, built once, on 127.0.0.1 with moto's own settings,
its calls made in process (``moto_server.send``).

The Lambda client is wrapped: an ``Invoke`` of a function the local registry runs goes straight to
it, without the HTTP round trip through moto's Lambda service, with the same outcome (the
function's timeout, errors, log capture and concurrency are the registry's, as over HTTP). Any
other call, and an invoke of a function or qualifier the registry does not know, goes over HTTP,
so moto answers with AWS's errors (ResourceNotFoundException, ...).
"""

import io
import json
import sys
import threading
from typing import Any

import boto3
from botocore.config import Config
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
    state_task_service_factory,  # noqa: F401  (imports every service task module)
)
from moto.stepfunctions.parser.asl.utils import boto_client
from moto.stepfunctions.parser.asl.utils.boto_client import TimeoutSeconds

from sfn_agents.lambdas import FunctionRegistry, LocalFunction
from sfn_agents.moto_server import in_process

_ORIGINAL = boto_client.boto_client_for
_clients: dict[tuple[str, str, str], Any] = {}
_lock = threading.Lock()
_registry: FunctionRegistry | None = None


def _http_client(service: str, region: str) -> Any:
    endpoint = f"http://127.0.0.1:{boto_client.moto_server_port()}"
    key = (service, region, endpoint)
    with _lock:
        if key not in _clients:
            _clients[key] = in_process(
                boto3.client(  # type: ignore[call-overload]
                    service_name=service,
                    region_name=region,
                    endpoint_url=endpoint,
                    aws_access_key_id="ak",
                    aws_secret_access_key="sk",
                    config=Config(
                        parameter_validation=False,
                        retries={"max_attempts": 0, "total_max_attempts": 1},
                        connect_timeout=TimeoutSeconds.DEFAULT_TIMEOUT_SECONDS,
                        read_timeout=TimeoutSeconds.DEFAULT_TIMEOUT_SECONDS,
                        max_pool_connections=64,
                    ),
                )
            )
        return _clients[key]


def _target(parameters: dict[str, Any]) -> tuple[str, str]:
    """FunctionName (name, ARN or partial ARN, maybe qualified) and Qualifier -> name, qualifier."""
    name = str(parameters.get("FunctionName", ""))
    qualifier = str(parameters.get("Qualifier") or "")
    parts = name.split(":")
    if name.startswith("arn:") and len(parts) >= 7:
        name, qualifier = parts[6], (parts[7] if len(parts) > 7 else qualifier)
    elif len(parts) == 2:
        name, qualifier = parts
    return name, qualifier or "$LATEST"


class InProcessLambda:
    """A Lambda client whose Invoke of a local function calls it directly."""

    def __init__(self, http: Any, registry: FunctionRegistry) -> None:
        self._http, self._registry = http, registry

    def _local(self, parameters: dict[str, Any]) -> LocalFunction | None:
        if parameters.get("InvocationType", "RequestResponse") != "RequestResponse":
            return None
        name, qualifier = _target(parameters)
        function = self._registry.by_name.get(name)
        return function if function is not None and qualifier in function.qualifiers else None

    def invoke(self, **parameters: Any) -> dict[str, Any]:
        function = self._local(parameters)
        if function is None:
            return dict(self._http.invoke(**parameters))
        payload = parameters.get("Payload") or b"{}"
        try:
            event = json.loads(payload)
        except ValueError:
            return dict(self._http.invoke(**parameters))  # moto says what is wrong with it
        text, errored, _logs = function.invoke(event)
        response: dict[str, Any] = {
            "StatusCode": 200,
            "Payload": io.BytesIO(text.encode()),
            "ExecutedVersion": "$LATEST",
        }
        if errored:
            response["FunctionError"] = "Unhandled"
        return response

    def __getattr__(self, name: str) -> Any:
        return getattr(self._http, name)


def boto_client_for(region: str, service: str, state_credentials: Any = None) -> Any:
    client = _http_client(service, region)
    if service == "lambda" and _registry is not None:
        return InProcessLambda(client, _registry)
    return client


def install(registry: FunctionRegistry) -> None:
    """Use the cached clients (and the in-process Lambda) in every module of moto's engine."""
    global _registry
    _registry = registry
    for name, module in list(sys.modules.items()):
        if name.startswith("moto.stepfunctions.parser") and (
            getattr(module, "boto_client_for", None) in (_ORIGINAL, boto_client_for)
        ):
            module.boto_client_for = boto_client_for  # type: ignore[attr-defined]
