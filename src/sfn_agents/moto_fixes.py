"""Narrow fixes to moto 5.2.5's Step Functions engine, each where the gap is.

Every moto_* module patches moto 5.2.5's internals; ``check_moto_version`` stops the engine at
start on any other version, rather than letting a patch miss its target silently.

- Service integration tasks (DynamoDB, aws-sdk:*) report an error raised while evaluating their
  Arguments (a JSONata $error, an undefined value) as a service exception such as
  DynamoDB.AmazonDynamoDBException. AWS reports the evaluation failure itself
  (States.QueryEvaluationError with its cause), as moto already does for Lambda tasks.
"""

from collections.abc import Callable
from importlib import metadata
from typing import Any

from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
    FailureEvent,
    FailureEventException,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
    state_task_service_aws_sdk,
    state_task_service_dynamodb,
)

MOTO_VERSION = "5.2.5"
"""The moto release the engine's patches were written for and tested on."""


class MotoVersionError(RuntimeError):
    """The installed moto is not the one the engine's patches were written for."""


def check_moto_version(installed: str | None = None) -> None:
    installed = installed or metadata.version("moto")
    if installed != MOTO_VERSION:
        raise MotoVersionError(
            f"the local engine patches moto {MOTO_VERSION}, but moto {installed} is installed: "
            f"pip install moto=={MOTO_VERSION} (or `make install`)"
        )


_SERVICE_TASKS = (
    state_task_service_aws_sdk.StateTaskServiceAwsSdk,
    state_task_service_dynamodb.StateTaskServiceDynamoDB,
)


def _keep_evaluation_failures(original: Callable[..., FailureEvent]) -> Callable[..., FailureEvent]:
    def _from_error(self: Any, env: Any, ex: Exception) -> FailureEvent:
        if isinstance(ex, FailureEventException):
            return ex.failure_event
        return original(self, env, ex)

    _from_error.patched = True  # type: ignore[attr-defined]
    return _from_error


def install() -> None:
    for task in _SERVICE_TASKS:
        if not getattr(task._from_error, "patched", False):
            task._from_error = _keep_evaluation_failures(task._from_error)  # type: ignore[method-assign]
