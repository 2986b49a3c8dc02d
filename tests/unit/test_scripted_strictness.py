"""The scripted models refuse what the real providers refuse, with the providers' status codes
and error shapes, seen through the real SDKs: unknown models, whitespace-only prompts, and (on
Bedrock) a tool result that answers no tool use."""

from collections.abc import Iterator
from typing import Any

import anthropic
import boto3
import openai
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from google import genai
from google.genai import errors as genai_errors
from google.genai import types

from sfn_agents.scripted import ScriptedServer

SCRIPT = {"turns": [{"text": "ok"}]}


@pytest.fixture(scope="module")
def servers() -> Iterator[dict[str, ScriptedServer]]:
    with (
        ScriptedServer("anthropic", SCRIPT) as claude,
        ScriptedServer("openai", SCRIPT) as gpt,
        ScriptedServer("gemini", SCRIPT) as gemini,
        ScriptedServer("bedrock", SCRIPT) as bedrock,
    ):
        yield {"anthropic": claude, "openai": gpt, "gemini": gemini, "bedrock": bedrock}


def claude(server: ScriptedServer, model: str, text: str) -> Any:
    sdk = anthropic.Anthropic(api_key="test-key", base_url=server.url, max_retries=0)
    return sdk.messages.create(
        model=model,
        max_tokens=50,
        messages=[{"role": "user", "content": [{"type": "text", "text": text}]}],
    )


def gpt(server: ScriptedServer, model: str, text: str) -> Any:
    sdk = openai.OpenAI(api_key="test-key", base_url=f"{server.url}/v1", max_retries=0)
    return sdk.chat.completions.create(model=model, messages=[{"role": "user", "content": text}])


def gemini(server: ScriptedServer, model: str, text: str) -> Any:
    options = types.HttpOptions(base_url=server.url, api_version="v1beta")
    sdk = genai.Client(api_key="test-key", vertexai=False, http_options=options)
    return sdk.models.generate_content(model=model, contents=text)


def converse(server: ScriptedServer, model: str, messages: list[Any], **params: Any) -> Any:
    runtime = boto3.client(
        "bedrock-runtime",
        endpoint_url=server.url,
        region_name="us-east-1",
        config=Config(retries={"total_max_attempts": 1}),
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    return runtime.converse(modelId=model, messages=messages, **params)


def bedrock(server: ScriptedServer, model: str, text: str) -> Any:
    return converse(server, model, [{"role": "user", "content": [{"text": text}]}])


# ----------------------------------------------------------------------------- unknown models


@pytest.mark.parametrize("model", ["claude-sonnet-5-5", "claude-opus-4-1"])
def test_anthropic_serves_claude_models(servers, model):
    assert claude(servers["anthropic"], model, "hi").content[0].text == "ok"


@pytest.mark.parametrize(
    "model", ["gpt-5-mini", "o4-mini", "deepseek-chat", "grok-4", "sonar", "sonar-pro", "qwen3:8b"]
)
def test_openai_serves_openai_and_compatible_models(servers, model):
    assert gpt(servers["openai"], model, "hi").choices[0].message.content == "ok"


@pytest.mark.parametrize("model", ["gemini-2.5-flash", "gemini-3-pro-preview"])
def test_gemini_serves_gemini_models(servers, model):
    assert gemini(servers["gemini"], model, "hi").text == "ok"


@pytest.mark.parametrize(
    "model", ["us.amazon.nova-pro-v1:0", "anthropic.claude-3-haiku-20240307-v1:0", "meta.llama3-8b"]
)
def test_bedrock_serves_foundation_models(servers, model):
    reply = bedrock(servers["bedrock"], model, "hi")
    assert reply["output"]["message"]["content"][0]["text"] == "ok"


@pytest.mark.parametrize("model", ["gpt-5-mini", "sonnet"])
def test_anthropic_refuses_an_unknown_model_with_404_not_found(servers, model):
    with pytest.raises(anthropic.NotFoundError) as raised:
        claude(servers["anthropic"], model, "hi")
    assert raised.value.status_code == 404
    assert raised.value.body["error"] == {"type": "not_found_error", "message": f"model: {model}"}


@pytest.mark.parametrize("model", ["claude-sonnet-5-5", "gpt5", "text-davinci"])
def test_openai_refuses_an_unknown_model_with_404_model_not_found(servers, model):
    with pytest.raises(openai.NotFoundError) as raised:
        gpt(servers["openai"], model, "hi")
    assert raised.value.code == "model_not_found"
    assert f"The model `{model}` does not exist" in raised.value.message


@pytest.mark.parametrize("model", ["gpt-5-mini", "claude-sonnet-5-5"])
def test_gemini_refuses_an_unknown_model_with_404_not_found(servers, model):
    with pytest.raises(genai_errors.ClientError) as raised:
        gemini(servers["gemini"], model, "hi")
    assert raised.value.code == 404 and raised.value.status == "NOT_FOUND"
    assert f"models/{model} is not found" in raised.value.message


@pytest.mark.parametrize("model", ["gpt-5-mini", "nova-pro", "us.acme.model-v1"])
def test_bedrock_refuses_an_unknown_model_with_a_validation_exception(servers, model):
    with pytest.raises(ClientError) as raised:
        bedrock(servers["bedrock"], model, "hi")
    error = raised.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert error["Error"]["Code"] == "ValidationException"
    assert error["Error"]["Message"] == "The provided model identifier is invalid."


# ----------------------------------------------------------------------------- blank prompts


@pytest.mark.parametrize("text", [" ", "\n\t "])
def test_anthropic_refuses_a_whitespace_only_prompt(servers, text):
    with pytest.raises(anthropic.BadRequestError) as raised:
        claude(servers["anthropic"], "claude-sonnet-5-5", text)
    assert "text content blocks must contain non-whitespace text" in raised.value.message


@pytest.mark.parametrize("text", [" ", "\n\t "])
def test_openai_refuses_a_whitespace_only_prompt(servers, text):
    with pytest.raises(openai.BadRequestError) as raised:
        gpt(servers["openai"], "gpt-5-mini", text)
    assert raised.value.code == "invalid_value"
    assert "must contain non-whitespace text" in raised.value.message

    sdk = openai.OpenAI(api_key="test-key", base_url=f"{servers['openai'].url}/v1", max_retries=0)
    with pytest.raises(openai.BadRequestError):  # the same as a text part
        sdk.chat.completions.create(
            model="gpt-5-mini",
            messages=[{"role": "user", "content": [{"type": "text", "text": text}]}],
        )


@pytest.mark.parametrize("text", [" ", "\n\t "])
def test_gemini_refuses_a_whitespace_only_prompt(servers, text):
    with pytest.raises(genai_errors.ClientError) as raised:
        gemini(servers["gemini"], "gemini-2.5-flash", text)
    assert raised.value.code == 400 and raised.value.status == "INVALID_ARGUMENT"
    assert "empty text parameter" in raised.value.message


@pytest.mark.parametrize("text", [" ", "\n\t "])
def test_bedrock_refuses_a_whitespace_only_prompt(servers, text):
    with pytest.raises(ClientError) as raised:
        bedrock(servers["bedrock"], "us.amazon.nova-pro-v1:0", text)
    assert raised.value.response["Error"]["Code"] == "ValidationException"
    assert "is blank" in raised.value.response["Error"]["Message"]


# ----------------------------------------------------------------------------- orphan results


def test_bedrock_refuses_a_tool_result_that_answers_no_tool_use(servers):
    tools = {"tools": [{"toolSpec": {"name": "t", "inputSchema": {"json": {"type": "object"}}}}]}
    orphan = {"toolResult": {"toolUseId": "tooluse_1", "content": [{"text": "42"}]}}
    with pytest.raises(ClientError) as raised:
        converse(
            servers["bedrock"],
            "us.amazon.nova-pro-v1:0",
            [{"role": "user", "content": [orphan]}],
            toolConfig=tools,
        )
    assert raised.value.response["Error"]["Code"] == "ValidationException"
    assert (
        "toolResult blocks at messages.0.content exceeds"
        in raised.value.response["Error"]["Message"]
    )
