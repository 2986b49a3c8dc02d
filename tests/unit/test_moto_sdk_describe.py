"""The aws-sdk:sfn:describeExecution integration as AWS has it (a session takeover uses it):
``ExecutionArn`` in, ``Status`` out."""

import json
from typing import Any

import boto3
import pytest
from sfn_cases import create_machine, run_execution

DESCRIBE = {
    "QueryLanguage": "JSONata",
    "StartAt": "Describe",
    "States": {
        "Describe": {
            "Type": "Task",
            "Resource": "arn:aws:states:::aws-sdk:sfn:describeExecution",
            "Arguments": {"ExecutionArn": "{% $states.input.arn %}"},
            "Output": "{% {'status': $states.result.Status, 'arn': $states.result.ExecutionArn} %}",
            "End": True,
        }
    },
}


@pytest.fixture(scope="module")
def sfn(moto_sfn_endpoint: str) -> Any:
    return boto3.client("stepfunctions", endpoint_url=moto_sfn_endpoint, region_name="us-east-1")


def test_describe_execution_gives_another_executions_status(sfn):
    done = create_machine(sfn, {"StartAt": "S", "States": {"S": {"Type": "Succeed"}}})
    finished = run_execution(sfn, done, {})["executionArn"]

    described = run_execution(sfn, create_machine(sfn, DESCRIBE), {"arn": finished})

    assert described["status"] == "SUCCEEDED", described
    assert json.loads(described["output"]) == {"status": "SUCCEEDED", "arn": finished}


def test_describing_an_unknown_execution_fails_as_on_aws(sfn):
    unknown = "arn:aws:states:us-east-1:123456789012:execution:nowhere:gone"

    described = run_execution(sfn, create_machine(sfn, DESCRIBE), {"arn": unknown})

    assert described["status"] == "FAILED"
    history = sfn.get_execution_history(executionArn=described["executionArn"])["events"]
    failed = next(e for e in history if e["type"] == "TaskFailed")["taskFailedEventDetails"]
    assert failed["error"] == "Sfn.ExecutionDoesNotExistException"
