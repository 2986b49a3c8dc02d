"""Tool {{ cookiecutter.name }}: its logic, and its handler answering the tool contract."""

import json
from types import SimpleNamespace

import pytest
from agent_core.tools import ToolError
from {{ cookiecutter.name }}_tool.handler import lambda_handler
from {{ cookiecutter.name }}_tool.tool import {{ cookiecutter.name }}

CONTEXT = SimpleNamespace(
    function_name="{{ cookiecutter.logical_id }}",
    memory_limit_in_mb=512,
    invoked_function_arn="arn:aws:lambda:us-east-1:123456789012:function:{{ cookiecutter.logical_id }}",
    aws_request_id="00000000-0000-0000-0000-000000000000",
)


def test_counts_words_and_characters():
    assert {{ cookiecutter.name }}({"text": "one two  three"}) == {"words": 3, "characters": 14}
    assert {{ cookiecutter.name }}({"text": ""}) == {"words": 0, "characters": 0}


def test_refuses_a_text_that_is_not_a_string():
    with pytest.raises(ToolError, match="text must be a string"):
        {{ cookiecutter.name }}({"text": 3})


def test_the_handler_answers_a_tool_call():
    event = {"name": "{{ cookiecutter.name }}", "id": "toolu_1", "input": {"text": "hello world"}}
    result = lambda_handler(event, CONTEXT)
    assert result["is_error"] is False and result["tool_use_id"] == "toolu_1"
    assert json.loads(result["content"]) == {"words": 2, "characters": 11}


def test_the_handler_reports_bad_input_to_the_model():
    event = {"name": "{{ cookiecutter.name }}", "id": "toolu_2", "input": {}}
    result = lambda_handler(event, CONTEXT)
    assert result["is_error"] is True and "text must be a string" in result["content"]
