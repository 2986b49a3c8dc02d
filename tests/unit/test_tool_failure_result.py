"""What the model sees when a tool task fails: the loop's own FailedResult expression, evaluated as
the engine evaluates it, on the Causes Lambda and Step Functions give."""

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from moto.stepfunctions.parser.asl.component.intrinsic.jsonata import (
    get_intrinsic_functions_declarations,
)
from moto.stepfunctions.parser.asl.jsonata.jsonata import extract_jsonata_variable_references

from sfn_agents.jsonata_bridge import evaluate

ASL = Path(__file__).resolve().parents[2] / "statemachines/agent.asl.yaml"
CALL = {"id": "toolu_1", "name": "execute_sql_query"}
TRACE = ['  File "/var/task/app.py", line 12, in lambda_handler\n', "    raise KeyError('x')\n"]


def failed_result_expression() -> str:
    """InvokeTool's catch-all Output, found by its shape rather than its place in the file."""
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            output = node.get("Output")
            if node.get("ErrorEquals") == ["States.ALL"] and isinstance(output, str):
                found.append(output)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(yaml.safe_load(ASL.read_text()))
    expression = next(o for o in found if "'the sub-agent failed with '" in o)
    expression = expression.strip().removeprefix("{%").removesuffix("%}")
    declarations = get_intrinsic_functions_declarations(
        extract_jsonata_variable_references(expression)
    )
    return f"({declarations}{expression})"


def model_sees(error: str, cause: Any) -> str:
    states = {"input": {"call": CALL}, "errorOutput": {"Error": error, "Cause": cause}}
    result = evaluate(failed_result_expression(), {"states": states})
    assert result["is_error"] is True and result["tool_use_id"] == "toolu_1"
    return str(result["content"])


def test_a_crashed_function_gives_its_type_and_message_without_the_trace():
    cause = {"errorMessage": "'x'", "errorType": "KeyError", "stackTrace": TRACE}
    seen = model_sees("KeyError", json.dumps(cause))
    assert seen == "Error: tool execute_sql_query failed (KeyError): 'x'"


def test_escapes_in_the_message_are_decoded():
    cause = {"errorMessage": 'bad "quote"\n\\ back', "errorType": "ValueError", "stackTrace": TRACE}
    seen = model_sees("ValueError", json.dumps(cause))
    assert seen.endswith('(ValueError): bad "quote"\n\\ back')


def test_a_long_message_is_cut_to_500_characters():
    cause = {"errorMessage": "m" * 2_000, "errorType": "RuntimeError", "stackTrace": TRACE}
    seen = model_sees("RuntimeError", json.dumps(cause))
    assert seen.endswith("(RuntimeError): " + "m" * 500)


def test_a_failed_sub_agent_names_the_child_error():
    cause = json.dumps({"Error": "States.Timeout", "Cause": "child timed out", "Status": "FAILED"})
    seen = model_sees("States.TaskFailed", cause)
    assert seen.endswith("(States.TaskFailed): the sub-agent failed with States.Timeout")


def test_a_plain_text_cause_is_the_message():
    cause = (
        "User: arn:aws:sts::1:assumed-role/r/x is not authorized to perform: lambda:InvokeFunction"
    )
    assert model_sees("Lambda.AWSLambdaException", cause).endswith(
        f"(Lambda.AWSLambdaException): {cause}"
    )


@pytest.mark.parametrize("cause", ['{"unexpected": true}', ""])
def test_other_causes_point_to_the_history(cause):
    seen = model_sees("States.Timeout", cause)
    assert seen == (
        "Error: tool execute_sql_query failed (States.Timeout): "
        "no message; the execution history has the details"
    )
