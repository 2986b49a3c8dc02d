"""moto parses a definition once: every execution still evaluates its own fresh components, and
a definition with a syntax error is refused every time, as on AWS. The tree is kept in the user's
cache directory too, so the next process loads it instead of parsing."""

import json
import uuid
from pathlib import Path
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


def _new_process(monkeypatch: pytest.MonkeyPatch, cache: Path) -> None:
    """As a new process starts: an empty in-memory cache, the user's cache directory at hand."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    monkeypatch.setattr(moto_fixes, "_trees", type(moto_fixes._trees)())


def test_the_next_process_loads_the_tree_from_the_cache_directory(sfn, monkeypatch, tmp_path):
    definition = {**DEFINITION, "Comment": uuid.uuid4().hex}  # never parsed before
    text = json.dumps(definition)
    _new_process(monkeypatch, tmp_path)
    AmazonStateLanguageParser.parse(text)
    (stored,) = (tmp_path / "sfn-agents" / "asl-trees").iterdir()
    _new_process(monkeypatch, tmp_path)
    parsed: list[str] = []
    monkeypatch.setattr(moto_fixes, "ASLLexer", lambda *a: parsed.append("parsed"))
    machine = create_machine(sfn, definition)  # from the stored tree: ANTLR's lexer never runs
    outputs = [json.loads(run_execution(sfn, machine, {"n": n})["output"]) for n in (4, 5)]
    assert (outputs, parsed) == ([8, 10], [])
    stored.write_bytes(b"not a pickle")  # a damaged cache costs a parse, nothing else
    monkeypatch.undo()
    _new_process(monkeypatch, tmp_path)
    assert json.loads(run_execution(sfn, create_machine(sfn, definition), {"n": 6})["output"]) == 12
    assert stored.read_bytes() != b"not a pickle"  # parsed again, and stored again
