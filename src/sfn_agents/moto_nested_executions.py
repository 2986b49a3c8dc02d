"""Nested executions (``arn:aws:states:::states:startExecution[.sync[:2]]``) for moto 5.2.5.

moto's port of LocalStack's engine dropped the step that maps a service task's ASL arguments onto
the boto3 request shape and the boto3 response back onto Step Functions casing (LocalStack does it
in ``StateTaskService._normalise_parameters``/``_normalise_response``, which moto left empty). For
the Step Functions integration that means ``start_execution(StateMachineArn=...)`` fails with
KeyError 'StateMachineArn', and the ``.sync`` resolvers would look for ``ExecutionArn`` in a
response that has ``executionArn``. We restore both mappings for this one integration, from
botocore's model of the Step Functions API, and give timestamps the epoch milliseconds AWS shows.
The same mapping serves the ``aws-sdk:sfn:*`` integration (``DescribeExecution`` with
``ExecutionArn``, giving ``Status``), which moto leaves unmapped too; other aws-sdk services are
left as they are.
"""

import datetime
import functools
from collections.abc import Callable
from typing import Any

from botocore.model import ServiceModel, StructureShape
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
    state_task_service,
    state_task_service_aws_sdk,
    state_task_service_sfn,
)

from sfn_agents import aws

StateTaskServiceSfn = state_task_service_sfn.StateTaskServiceSfn
StateTaskServiceAwsSdk = state_task_service_aws_sdk.StateTaskServiceAwsSdk
StateTaskService = state_task_service.StateTaskService


def _service_model() -> ServiceModel:
    return aws.service_model("stepfunctions")


@functools.cache
def _operation_names() -> dict[str, str]:
    """boto3 method name (start_execution) -> API operation name (StartExecution)."""
    from botocore import xform_name

    return {xform_name(name): name for name in _service_model().operation_names}


def _shape(action: str, direction: str) -> StructureShape | None:
    operation = _operation_names().get(action)
    if operation is None:
        return None
    return getattr(_service_model().operation_model(operation), direction)


def _epoch_millis(value: Any) -> Any:
    if isinstance(value, datetime.datetime):
        return int(value.timestamp() * 1000)
    if isinstance(value, dict):
        return {key: _epoch_millis(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_epoch_millis(item) for item in value]
    return value


def _normalise_parameters(original: Callable[..., None]) -> Callable[..., None]:
    def normalise(
        self: StateTaskService,
        parameters: dict,
        boto_service_name: str | None = None,
        service_action_name: str | None = None,
    ) -> None:
        original(self, parameters, boto_service_name, service_action_name)  # JSON-encodes Input
        if self._get_boto_service_name(boto_service_name) != "stepfunctions":
            return  # an aws-sdk task of another service
        shape = _shape(self._get_boto_service_action(service_action_name), "input_shape")
        if shape is not None:
            self._to_boto_request(parameters, shape)  # StateMachineArn -> stateMachineArn, ...

    normalise.patched = True  # type: ignore[attr-defined]
    return normalise


def _normalise_response(original: Callable[..., None]) -> Callable[..., None]:
    def normalise(
        self: StateTaskService,
        response: Any,
        boto_service_name: str | None = None,
        service_action_name: str | None = None,
    ) -> None:
        original(self, response, boto_service_name, service_action_name)
        if self._get_boto_service_name(boto_service_name) != "stepfunctions":
            return
        if not isinstance(response, dict):
            return
        response.pop("ResponseMetadata", None)
        shape = _shape(self._get_boto_service_action(service_action_name), "output_shape")
        if shape is not None:
            self._from_boto_response(response, shape)  # executionArn -> ExecutionArn, ...
        for key, value in response.items():
            response[key] = _epoch_millis(value)

    normalise.patched = True  # type: ignore[attr-defined]
    return normalise


def install() -> None:
    for owner in (StateTaskServiceSfn, StateTaskServiceAwsSdk):
        if getattr(vars(owner).get("_normalise_parameters"), "patched", False):
            continue
        owner._normalise_parameters = _normalise_parameters(  # type: ignore[method-assign]
            owner._normalise_parameters
        )
        owner._normalise_response = _normalise_response(  # type: ignore[method-assign]
            owner._normalise_response
        )
