"""moto parses a definition once: every execution still evaluates its own fresh components, and
a definition with a syntax error is refused every time, as on AWS."""

import json
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser
from sfn_cases import create_machine, run_execution

from sfn_agents import moto_fixes

DEFINITION = {
    "QueryLanguage": "JSONata",
    "StartAt": "Double",
    "States": {"Double": {"Type": "Pass", "Output": "{% $states.input.n * 2 %}", "End": True}},
}


@pytest.fixture(scope="module")
def sfn(moto_sfn_endpoint: str) -> Any:
    moto_fixes.install()
    return boto3.client("stepfunctions", endpoint_url=moto_sfn_endpoint, region_name="us-east-1")


def test_a_definition_is_parsed_once_and_each_execution_gets_fresh_components(sfn):
    text = json.dumps(DEFINITION)
    first, tree = AmazonStateLanguageParser.parse(text)
    second, same_tree = AmazonStateLanguageParser.parse(text)
    assert same_tree is tree and second is not first
    machine = create_machine(sfn, DEFINITION)
    outputs = [json.loads(run_execution(sfn, machine, {"n": n})["output"]) for n in (1, 2, 3)]
    assert outputs == [2, 4, 6]


def test_a_syntax_error_is_refused_every_time(sfn):
    for _ in range(2):
        with pytest.raises(ClientError, match="mismatched input"):
            sfn.create_state_machine(
                name="broken",
                definition='{"StartAt": "A", "States": {"A": {"Type": "Nope"}}}',
                roleArn="arn:aws:iam::123456789012:role/r",
            )


def test_strings_are_decoded_as_json_strings_as_on_aws(sfn):
    """moto decoded them with Python's escapes, which keep JSON's escaped solidus as two
    characters."""
    literal = r'"quote \" solidus \/ tab \t e-acute \u00e9 backslash \\"'
    definition = (
        '{"QueryLanguage": "JSONata", "StartAt": "Say", "States": {"Say": {"Type": "Pass", '
        f'"Output": {{"said": {literal}, "joined": "{{% \'a\\/b\' & $states.input.x %}}"}}, '
        '"End": true}}}'
    )
    machine = sfn.create_state_machine(
        name="escapes", definition=definition, roleArn="arn:aws:iam::123456789012:role/r"
    )["stateMachineArn"]
    output = json.loads(run_execution(sfn, machine, {"x": "!"})["output"])
    assert output == {"said": json.loads(literal), "joined": "a/b!"}
    assert output["said"] == 'quote " solidus / tab \t e-acute \u00e9 backslash \\'
