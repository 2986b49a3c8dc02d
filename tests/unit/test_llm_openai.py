"""The OpenAI-family LLM function (GPT and OpenAI-compatible providers) through its real handler,
against the scripted Chat Completions model, with S3 and Secrets Manager mocked by moto."""

import functools
import json
import logging
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import boto3
import pytest
from agent_core import observability, turn
from aws_lambda_powertools.utilities import parameters
from moto import mock_aws
from openai.types import CompletionUsage
from openai_llm import client as openai_client
from openai_llm import handler as openai_handler
from provider_cases import SQL_TOOLS, SQL_TURNS, LambdaContext, tool_results

from sfn_agents.history import load_messages
from sfn_agents.scripted import Reply, Script, ScriptedServer
from sfn_agents.scripted.openai import PROTOCOL
from sfn_agents.thread_env import overlay

ROOT = Path(__file__).resolve().parents[2]
FUNCTION = "functions/llm/openai"
LAYER = ROOT / "layers" / "agent_core"
BUCKET = "sfn-agents-artifacts-test"
SECRET = "sfn-agents/llm-api-keys-test"
OPENAI_KEY = "sk-test-ZEBRA-7f3c9e1d-openai-key-never-logged"
DEEPSEEK_KEY = "sk-test-OKAPI-41d2a8b6-deepseek-key-never-logged"
DEFAULT_MODEL = "gpt-5-mini"
SYSTEM = "You are a SQL analyst. Use the tools."
TOOLS = SQL_TOOLS
SCRIPT = {
    "turns": [
        *SQL_TURNS[:2],
        {"text": "The best team was {{ results[0].rows[0][0] }}; the second query failed."},
    ]
}
Context = functools.partial(LambdaContext, "OpenAiLlmFunction")
PROMPT = {"role": "user", "content": [{"type": "text", "text": "Which team was best?"}]}


class Recording:
    """The scripted OpenAI protocol, also keeping each request's headers and path."""

    def __init__(self) -> None:
        self.headers: list[dict[str, str]] = []
        self.paths: list[str] = []

    def handle(
        self, script: Script, method: str, path: str, headers: Mapping[str, str], body: bytes
    ) -> Reply:
        self.headers.append(dict(headers))
        self.paths.append(path)
        return PROTOCOL.handle(script, method, path, headers, body)

    def error(self, status: int, message: str) -> Reply:
        return PROTOCOL.error(status, message)


@pytest.fixture
def aws() -> Iterator[Any]:
    parameters.clear_caches()
    with mock_aws():
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket=BUCKET)
        boto3.client("secretsmanager").create_secret(
            Name=SECRET,
            SecretString=json.dumps(
                {"OPENAI_API_KEY": OPENAI_KEY, "DEEPSEEK_API_KEY": DEEPSEEK_KEY}
            ),
        )
        yield s3
    parameters.clear_caches()


@pytest.fixture
def recording() -> Recording:
    return Recording()


@pytest.fixture
def fake(recording: Recording) -> Iterator[ScriptedServer]:
    with ScriptedServer(recording, SCRIPT) as server:
        yield server


@pytest.fixture
def llm(load_function: Any, aws: Any, fake: ScriptedServer) -> Any:
    """llm(**env) -> the real handler, pointed at the scripted model through OPENAI_BASE_URL."""

    def load(**env: str) -> Any:
        settings = {
            "LLM_API_KEYS_SECRET": SECRET,
            "ARTIFACT_BUCKET": BUCKET,
            "DEFAULT_MODEL": DEFAULT_MODEL,
            "OPENAI_BASE_URL": f"{fake.url}/v1",
            "LLM_MAX_RETRIES": "0",
            "LLM_TIMEOUT_SECONDS": "10",
            **env,
        }
        handler = load_function(FUNCTION, env=settings)
        return lambda event: handler(event, Context())

    return load


@pytest.fixture
def client_module() -> dict[str, Any]:
    """The namespace of openai_llm.client (mapping helpers)."""
    return vars(openai_client)


@pytest.fixture
def turn_module() -> dict[str, Any]:
    """The namespace of agent_core/turn.py."""
    return vars(turn)


def event(
    new_messages: list[Any],
    conversation: Any = None,
    turn: int = 1,
    provider: str = "openai",
    model: str = "",
    **agent: Any,
) -> dict[str, Any]:
    return {
        "agent": {
            "name": "sql-agent",
            "system_prompt": SYSTEM,
            "provider": provider,
            "model": model,
            "max_output_tokens": 1024,
            "output_schema": None,
            **agent,
        },
        "tools": TOOLS,
        "conversation": conversation,
        "new_messages": new_messages,
        "context": {"execution": "exec-1", "state_machine": "sql-agent", "turn": turn},
    }


def stored(s3: Any, ref: dict[str, Any]) -> list[dict[str, Any]]:
    return load_messages(s3, ref)


# ---------------------------------------------------------------- conversations


def test_three_turns_with_parallel_tool_calls(llm: Any, aws: Any, fake: ScriptedServer) -> None:
    call = llm()
    first = call(event([PROMPT]))
    assert first["stop_reason"] == "tool_use"
    assert first["provider"] == "openai" and first["model"] == DEFAULT_MODEL
    assert [(c["name"], c["input"], c["error"]) for c in first["tool_calls"]] == [
        ("get_db_schema", {}, None)
    ]
    assert first["tool_calls"][0]["id"].startswith("call_")
    assert first["conversation"]["key"].startswith("conversations/sql-agent/")
    assert first["conversation"]["key"].endswith("/turn-0001-a0.json")
    assert first["conversation"]["messages"] == 2
    assert first["priced"] is True and first["usage"]["cost_usd"] > 0

    second = call(event([tool_results(first, "CREATE TABLE teams")], first["conversation"], turn=2))
    assert second["stop_reason"] == "tool_use"
    assert second["message"]["content"][0] == {"type": "text", "text": "Running two queries."}
    assert [c["input"]["sql_query"] for c in second["tool_calls"]] == ["SELECT team", "SELECT wins"]
    ids = [c["id"] for c in first["tool_calls"] + second["tool_calls"]]
    assert len(set(ids)) == 3

    third_input = tool_results(
        second, '{"rows": [["Lions"]]}', "no such column: wins", errors=(False, True)
    )
    third = call(event([third_input], second["conversation"], turn=3))
    assert third["stop_reason"] == "end_turn" and third["tool_calls"] == []
    assert third["message"] == {
        "role": "assistant",
        "content": [{"type": "text", "text": "The best team was Lions; the second query failed."}],
    }

    # The history went through S3 and came back whole: ids round-trip, in order.
    history = stored(aws, third["conversation"])
    assert history == [
        PROMPT,
        first["message"],
        tool_results(first, "CREATE TABLE teams"),
        second["message"],
        third_input,
        third["message"],
    ]
    for assistant, user in ((history[1], history[2]), (history[3], history[4])):
        uses = [b["id"] for b in assistant["content"] if b["type"] == "tool_use"]
        assert uses == [b["tool_use_id"] for b in user["content"]]

    # What the model saw on the last turn, in Chat Completions terms.
    sent = fake.requests[-1]
    assert sent["model"] == DEFAULT_MODEL and sent["max_completion_tokens"] == 1024
    assert "max_tokens" not in sent
    assert [m["role"] for m in sent["messages"]] == [
        "system", "user", "assistant", "tool", "assistant", "tool", "tool",
    ]  # fmt: skip
    assert sent["messages"][0] == {"role": "system", "content": SYSTEM}
    assert sent["messages"][4]["content"] == "Running two queries."
    assert [json.loads(c["function"]["arguments"]) for c in sent["messages"][4]["tool_calls"]] == [
        {"sql_query": "SELECT team"},
        {"sql_query": "SELECT wins"},
    ]
    assert [(m["tool_call_id"], m["content"]) for m in sent["messages"][5:]] == [
        (second["tool_calls"][0]["id"], '{"rows": [["Lions"]]}'),
        (second["tool_calls"][1]["id"], "Error: no such column: wins"),
    ]
    assert sent["tools"][0] == {
        "type": "function",
        "function": {
            "name": "get_db_schema",
            "parameters": {"type": "object", "properties": {}},
            "description": "Schema",
        },
    }
    assert len(fake.requests) == 3
    # Each turn stored only what it added: its user message and the model's reply.
    folder = third["conversation"]["key"].rsplit("/", 1)[0]
    objects = aws.list_objects_v2(Bucket=BUCKET, Prefix=folder + "/")["Contents"]
    assert [o["Key"].rsplit("/", 1)[1] for o in objects] == [
        f"turn-000{turn}-a0.json" for turn in (1, 2, 3)
    ]
    for item in objects:
        document = json.loads(aws.get_object(Bucket=BUCKET, Key=item["Key"])["Body"].read())
        assert len(document["messages"]) == 2


def test_named_provider_uses_its_default_model_and_key(
    llm: Any, fake: ScriptedServer, recording: Recording
) -> None:
    reply = llm()(event([PROMPT], provider="deepseek"))
    assert reply["provider"] == "deepseek" and reply["model"] == "deepseek-chat"
    assert reply["priced"] is True
    assert recording.headers[-1]["authorization"] == f"Bearer {DEEPSEEK_KEY}"
    assert recording.paths[-1] == "/v1/chat/completions"
    sent = fake.requests[-1]
    assert sent["model"] == "deepseek-chat"
    assert sent["max_tokens"] == 1024 and "max_completion_tokens" not in sent

    # The agent's own model wins over the provider's default.
    assert llm()(event([PROMPT], provider="deepseek", model="deepseek-reasoner"))["model"] == (
        "deepseek-reasoner"
    )


def test_keyless_local_provider_needs_no_secret(
    load_function: Any, fake: ScriptedServer, recording: Recording
) -> None:
    parameters.clear_caches()
    with mock_aws():  # no secret at all
        boto3.client("s3").create_bucket(Bucket=BUCKET)
        handler = load_function(
            FUNCTION,
            env={
                "LLM_API_KEYS_SECRET": SECRET,
                "ARTIFACT_BUCKET": BUCKET,
                "OPENAI_BASE_URL": fake.url,
            },
        )
        reply = handler(event([PROMPT], provider="ollama"), Context())
    assert reply["provider"] == "ollama" and reply["model"] == "qwen3:8b"
    # A local server's default model is in prices.json at no charge.
    assert reply["priced"] is True and reply["usage"]["cost_usd"] == 0
    assert recording.headers[-1]["authorization"] == "Bearer sfn-agents-keyless"
    assert recording.paths[-1] == "/chat/completions"


def test_missing_key_and_unknown_provider(load_function: Any, fake: ScriptedServer) -> None:
    parameters.clear_caches()
    with mock_aws():
        boto3.client("s3").create_bucket(Bucket=BUCKET)
        boto3.client("secretsmanager").create_secret(
            Name=SECRET, SecretString=json.dumps({"OPENAI_API_KEY": OPENAI_KEY})
        )
        env = {
            "LLM_API_KEYS_SECRET": SECRET,
            "ARTIFACT_BUCKET": BUCKET,
            "OPENAI_BASE_URL": fake.url,
        }
        handler = load_function(FUNCTION, env=env)
        with pytest.raises(Exception, match="has no XAI_API_KEY") as raised:
            handler(event([PROMPT], provider="xai"), Context())
        assert type(raised.value).__name__ == "LlmFatalError"
        with pytest.raises(Exception, match=r"unknown provider 'mistral'.*deepseek") as raised:
            handler(event([PROMPT], provider="mistral"), Context())
        assert type(raised.value).__name__ == "MalformedLlmEvent"
    parameters.clear_caches()
    assert fake.requests == []


def test_base_url_comes_from_the_provider_unless_overridden() -> None:
    env = {"LLM_API_KEYS_SECRET": SECRET, "ARTIFACT_BUCKET": BUCKET}
    with overlay(env):
        caller = openai_handler.caller()
    urls = {
        name: str(caller.client_for({"agent": {"provider": name}})._sdk.base_url)
        for name in openai_handler.PROVIDERS
    }
    assert urls == {
        "openai": "https://api.openai.com/v1/",
        "deepseek": "https://api.deepseek.com",
        "xai": "https://api.x.ai/v1/",
        "ollama": "http://localhost:11434/v1/",
        "vllm": "http://localhost:8000/v1/",
        "lmstudio": "http://localhost:1234/v1/",
    }
    assert caller.client_for({"agent": {"provider": "xai"}}) is caller.clients["xai"]  # cached
    assert caller.client_for({"agent": {"name": "a"}}).provider == "openai"  # the default
    with overlay({**env, "OPENAI_BASE_URL": "http://127.0.0.1:9/v1"}):
        overridden = openai_handler.caller().client_for
    assert str(overridden({"agent": {"provider": "deepseek"}})._sdk.base_url) == (
        "http://127.0.0.1:9/v1/"
    )


# ---------------------------------------------------------------- mapping


CONVERSATION: list[Any] = [
    {"role": "user", "content": [{"type": "text", "text": "Compare 2023 and 2024."}]},
    {
        "role": "assistant",
        "content": [
            {"type": "text", "text": "Two queries, in parallel."},
            {"type": "tool_use", "id": "call_a1", "name": "q", "input": {"sql": "SELECT 1"}},
            {
                "type": "tool_use",
                "id": "toolu_from_claude",
                "name": "q",
                "input": {"sql": "SELECT 2", "options": {"limit": 5, "tags": ["x", "é"]}},
            },
        ],
    },
    {
        "role": "user",
        "content": [
            {
                "type": "tool_result",
                "tool_use_id": "call_a1",
                "content": "[[1]]",
                "is_error": False,
            },
            {
                "type": "tool_result",
                "tool_use_id": "toolu_from_claude",
                "content": "syntax error",
                "is_error": True,
            },
        ],
    },
    {
        "role": "assistant",
        "content": [
            {
                "type": "tool_use",
                "id": "call_b2",
                "name": "q",
                "input": {"_raw_arguments": '{"sql": '},
            }
        ],
    },
    {
        "role": "user",
        "content": [
            {
                "type": "tool_result",
                "tool_use_id": "call_b2",
                "content": "bad JSON",
                "is_error": True,
            },
            {"type": "text", "text": "Please retry."},
        ],
    },
    {"role": "assistant", "content": [{"type": "text", "text": "2024 was better."}]},
]


def test_mapping_round_trip_is_identity(client_module: dict[str, Any]) -> None:
    to_openai, from_openai = (
        client_module["to_openai_messages"],
        client_module["from_openai_messages"],
    )
    wire = to_openai("Be brief.", CONVERSATION)
    assert [m["role"] for m in wire] == [
        "system", "user", "assistant", "tool", "tool", "assistant", "tool", "user", "assistant",
    ]  # fmt: skip
    assert wire[0] == {"role": "system", "content": "Be brief."}
    assert wire[2]["tool_calls"][1] == {
        "id": "toolu_from_claude",
        "type": "function",
        "function": {
            "name": "q",
            "arguments": '{"sql": "SELECT 2", "options": {"limit": 5, "tags": ["x", "é"]}}',
        },
    }
    assert wire[4] == {
        "role": "tool",
        "tool_call_id": "toolu_from_claude",
        "content": "Error: syntax error",
    }
    assert wire[5] == {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": "call_b2",
                "type": "function",
                "function": {"name": "q", "arguments": '{"sql": '},
            }
        ],
    }
    assert from_openai(json.loads(json.dumps(wire))) == ("Be brief.", CONVERSATION)


def test_error_results_are_prefixed_once(client_module: dict[str, Any]) -> None:
    user = {
        "role": "user",
        "content": [
            {"type": "tool_result", "tool_use_id": "a", "content": "no rows", "is_error": True},
            {
                "type": "tool_result",
                "tool_use_id": "b",
                "content": "Error: tool q failed (States.Timeout): ...",
                "is_error": True,
            },
            {
                "type": "tool_result",
                "tool_use_id": "c",
                "content": "Error is fine",
                "is_error": False,
            },
        ],
    }
    wire = client_module["to_openai_messages"]("", [user])
    assert [m["content"] for m in wire] == [
        "Error: no rows",
        "Error: tool q failed (States.Timeout): ...",
        "Error is fine",
    ]


def test_round_trip_through_the_real_sdk_types(client_module: dict[str, Any]) -> None:
    """A response parsed by the SDK maps back to the message that produced it."""
    from openai.types.chat import ChatCompletionMessage

    assistant = CONVERSATION[1]
    wire = client_module["to_openai_messages"]("", [assistant])[0]
    parsed = ChatCompletionMessage.model_validate(wire)
    assert client_module["from_openai_message"](parsed.model_dump()) == assistant


def test_invalid_arguments_keep_the_call(client_module: dict[str, Any]) -> None:
    from_message = client_module["from_openai_message"]
    message = from_message(
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "q", "arguments": '{"a": 1'},
                },
                {
                    "id": "call_2",
                    "type": "function",
                    "function": {"name": "q", "arguments": "[1, 2]"},
                },
                {"id": "", "type": "function", "function": {"name": "q", "arguments": ""}},
            ],
        },
        salt="chatcmpl-1",
    )
    calls = message["content"]
    assert [c["input"] for c in calls] == [
        {"_raw_arguments": '{"a": 1'},
        {"_raw_arguments": "[1, 2]"},
        {},
    ]
    assert [c["id"] for c in calls[:2]] == ["call_1", "call_2"]
    assert calls[2]["id"].startswith("toolu_") and len(calls[2]["id"]) == 30
    assert all(client_module["has_raw_arguments"](c) for c in calls[:2])


def test_invalid_arguments_generate_a_stable_id(client_module: dict[str, Any]) -> None:
    from_message = client_module["from_openai_message"]
    unnamed = {"tool_calls": [{"type": "function", "function": {"name": "q", "arguments": "{}"}}]}
    first = from_message(unnamed, salt="chatcmpl-1")["content"][0]["id"]
    assert first == from_message(unnamed, salt="chatcmpl-1")["content"][0]["id"]
    assert first != from_message(unnamed, salt="chatcmpl-2")["content"][0]["id"]


def check_unparsed_arguments(turn_module: dict[str, Any], call_id: str, name: str) -> Any:
    """What the loop's check says of a call to tool `name` whose arguments were not JSON."""
    call = {"type": "tool_use", "id": call_id, "name": name, "input": {"_raw_arguments": "{"}}
    return turn_module["check_tool_call"](call, {t["name"]: t for t in TOOLS})


def test_the_loop_answers_invalid_arguments_with_an_error(turn_module: dict[str, Any]) -> None:
    assert check_unparsed_arguments(turn_module, "call_1", "get_db_schema") is not None


def test_invalid_arguments_fail_a_schema_with_required_fields(
    turn_module: dict[str, Any],
) -> None:
    assert "sql_query" in check_unparsed_arguments(turn_module, "c", "execute_sql_query")


@pytest.mark.parametrize(
    ("finish_reason", "has_calls", "expected"),
    [
        ("tool_calls", True, "tool_use"),
        ("stop", False, "end_turn"),
        ("stop", True, "tool_use"),  # some compatible servers
        ("length", False, "max_tokens"),
        ("length", True, "max_tokens"),
        ("content_filter", False, "refusal"),
        ("function_call", True, "tool_use"),
        (None, False, "end_turn"),
    ],
)
def test_finish_reasons(
    client_module: dict[str, Any], finish_reason: Any, has_calls: bool, expected: str
) -> None:
    content: list[Any] = [{"type": "text", "text": "x"}]
    if has_calls:
        content.append({"type": "tool_use", "id": "c", "name": "q", "input": {}})
    message = {"role": "assistant", "content": content}
    assert client_module["stop_reason"](finish_reason, message) == expected


@pytest.mark.parametrize(
    ("stop_reason", "expected"),
    [("end_turn", "end_turn"), ("max_tokens", "max_tokens"), ("refusal", "refusal")],
)
def test_finish_reasons_through_the_handler(
    llm: Any, fake: ScriptedServer, stop_reason: str, expected: str
) -> None:
    fake.play({"turns": [{"text": "Partial answer", "stop_reason": stop_reason}]})
    reply = llm()(event([PROMPT]))
    assert reply["stop_reason"] == expected
    assert reply["message"]["content"] == [{"type": "text", "text": "Partial answer"}]


def test_usage_subtracts_cached_tokens(client_module: dict[str, Any]) -> None:
    usage_of = client_module["usage_of"]
    openai_usage = CompletionUsage.model_validate(
        {
            "prompt_tokens": 2000,
            "completion_tokens": 150,
            "total_tokens": 2150,
            "prompt_tokens_details": {"cached_tokens": 1536},
        }
    )
    assert usage_of(openai_usage) == {
        "input_tokens": 464,
        "output_tokens": 150,
        "cache_read_input_tokens": 1536,
        "cache_creation_input_tokens": 0,
    }
    deepseek_usage = CompletionUsage.model_validate(
        {
            "prompt_tokens": 900,
            "completion_tokens": 10,
            "total_tokens": 910,
            "prompt_cache_hit_tokens": 640,
            "prompt_cache_miss_tokens": 260,
        }
    )
    assert usage_of(deepseek_usage)["input_tokens"] == 260
    assert usage_of(deepseek_usage)["cache_read_input_tokens"] == 640
    bare = CompletionUsage(prompt_tokens=12, completion_tokens=3, total_tokens=15)
    assert usage_of(bare)["input_tokens"] == 12
    assert usage_of(None)["output_tokens"] == 0


def test_cached_tokens_through_the_handler(llm: Any, aws: Any) -> None:
    call = llm()
    long_prompt = "You are a careful SQL analyst. " * 300  # ~9000 characters: cacheable
    first = call(event([PROMPT], system_prompt=long_prompt))
    assert first["usage"]["cache_read_input_tokens"] == 0
    second = call(
        event(
            [tool_results(first, "CREATE TABLE teams")],
            first["conversation"],
            turn=2,
            system_prompt=long_prompt,
        )
    )
    usage = second["usage"]
    cached = usage["cache_read_input_tokens"]
    assert cached >= 1024 and cached % 128 == 0
    assert usage["input_tokens"] < cached  # the new part only
    # gpt-5-mini in prices.json: $0.25 input, $0.025 cache read, $2 output per million
    expected = (usage["input_tokens"] * 0.25 + cached * 0.025 + usage["output_tokens"] * 2) / 1e6
    assert usage["cost_usd"] == pytest.approx(expected)


def test_structured_output_request(llm: Any, fake: ScriptedServer) -> None:
    schema = {
        "title": "Best team",
        "type": "object",
        "properties": {"team": {"type": "string"}, "wins": {"type": "integer"}},
        "required": ["team", "wins"],
        "additionalProperties": False,
    }
    fake.play({"turns": [{"text": '{"team": "Lions", "wins": 99}'}]})
    reply = llm()(event([PROMPT], output_schema=schema))
    assert json.loads(reply["message"]["content"][0]["text"]) == {"team": "Lions", "wins": 99}
    assert fake.requests[-1]["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "Best_team", "schema": schema, "strict": True},
    }
    # A schema strict mode would reject is still sent, as a hint.
    loose = {"type": "object", "properties": {"team": {"type": "string"}}}
    fake.play({"turns": [{"text": '{"team": "Lions"}'}]})
    llm()(event([PROMPT], output_schema=loose))
    assert fake.requests[-1]["response_format"]["json_schema"] == {
        "name": "output",
        "schema": loose,
        "strict": False,
    }


# ---------------------------------------------------------------- faults


def test_rate_limit_with_retry_after_survives_through_sdk_retries(
    llm: Any, fake: ScriptedServer
) -> None:
    fake.play({**SCRIPT, "faults": [{"status": 429, "retry_after": "0.3"}]})
    started = time.monotonic()
    reply = llm(LLM_MAX_RETRIES="2")(event([PROMPT]))
    assert reply["stop_reason"] == "tool_use"
    assert time.monotonic() - started >= 0.3  # waited as the server asked
    assert len(fake.requests) == 2


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        ({"status": 429, "retry_after": "1"}, "openai gpt-5-mini: HTTP 429 rate_limit_exceeded"),
        ({"status": 500}, "openai gpt-5-mini: HTTP 500 server_error: injected fault"),
        ({"status": 503}, "openai gpt-5-mini: HTTP 503 server_error: injected fault"),
        ({"malformed": True}, "openai gpt-5-mini: malformed response"),
        ({"delay_seconds": 3}, "openai gpt-5-mini: request timed out"),
    ],
)
def test_retryable_faults(llm: Any, fake: ScriptedServer, fault: Any, message: str) -> None:
    fake.play({**SCRIPT, "faults": [fault]})
    with pytest.raises(Exception, match=message) as raised:
        llm(LLM_TIMEOUT_SECONDS="1")(event([PROMPT]))
    assert type(raised.value).__name__ == "LlmRetryableError"


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        ({"status": 400}, "deepseek deepseek-chat: HTTP 400 invalid_request_error: injected"),
        ({"status": 401}, "deepseek deepseek-chat: HTTP 401 invalid_api_key: injected"),
        ({"status": 403}, "deepseek deepseek-chat: HTTP 403"),
        ({"status": 404}, "deepseek deepseek-chat: HTTP 404"),
        ({"status": 422}, "deepseek deepseek-chat: HTTP 422"),
    ],
)
def test_fatal_faults_name_provider_and_model(
    llm: Any, fake: ScriptedServer, fault: Any, message: str
) -> None:
    fake.play({**SCRIPT, "faults": [fault]})
    with pytest.raises(Exception, match=message) as raised:
        llm(LLM_MAX_RETRIES="2")(event([PROMPT], provider="deepseek"))
    assert type(raised.value).__name__ == "LlmFatalError"
    assert len(fake.requests) == 1  # not retried


def test_a_request_the_api_rejects_is_fatal(llm: Any, fake: ScriptedServer) -> None:
    bad = event([PROMPT])
    bad["tools"] = [{"name": "bad name", "description": "", "input_schema": {"type": "object"}}]
    with pytest.raises(
        Exception, match="openai gpt-5-mini: HTTP 400 invalid_value: Invalid 'tools"
    ) as raised:
        llm()(bad)
    assert type(raised.value).__name__ == "LlmFatalError"


def test_no_api_key_in_logs_or_errors(
    llm: Any,
    fake: ScriptedServer,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    caplog.set_level(logging.DEBUG)
    # The functions' one Powertools logger keeps the stream it was made with: the captured one.
    monkeypatch.setattr(observability.logger.registered_handler, "stream", sys.stdout)
    call = llm(
        POWERTOOLS_LOG_LEVEL="DEBUG", POWERTOOLS_SERVICE_NAME="llm-openai-keys", LLM_MAX_RETRIES="1"
    )
    first = call(event([PROMPT]))
    call(event([tool_results(first, "CREATE TABLE teams")], first["conversation"], turn=2))
    fake.play({**SCRIPT, "faults": [{"status": 500}, {"status": 401}]})
    with pytest.raises(Exception, match="HTTP 401") as raised:
        call(event([PROMPT]))
    logs = capsys.readouterr()
    assert '"message":"model turn"' in logs.out  # the function's logs were captured
    assert "Retrying request" in caplog.text  # and so were the SDK's
    for text in (logs.out, logs.err, caplog.text, str(raised.value)):
        assert OPENAI_KEY not in text
        assert DEEPSEEK_KEY not in text


def test_a_key_echoed_by_the_server_is_scrubbed(load_function: Any, aws: Any) -> None:
    class Echo(Recording):
        def handle(self, script: Any, method: str, path: str, headers: Any, body: bytes) -> Reply:
            key = headers["authorization"].removeprefix("Bearer ")
            return PROTOCOL.error(401, f"Incorrect API key provided: {key}.")

    with ScriptedServer(Echo(), SCRIPT) as server:
        env = {
            "LLM_API_KEYS_SECRET": SECRET,
            "ARTIFACT_BUCKET": BUCKET,
            "OPENAI_BASE_URL": server.url,
        }
        handler = load_function(FUNCTION, env=env)
        with pytest.raises(Exception, match=r"Incorrect API key provided: \*\*\*") as raised:
            handler(event([PROMPT]), Context())
    assert OPENAI_KEY not in str(raised.value)


def test_the_sample_event_is_a_valid_first_turn(
    client_module: dict[str, Any], turn_module: dict[str, Any]
) -> None:
    sample = json.loads((ROOT / "events/OpenAiLlmFunction-turn.json").read_text())
    parsed = turn_module["parse_event"](sample)
    assert parsed.conversation is None and parsed.turn == 1
    providers = client_module["load_providers"](ROOT / FUNCTION / "openai_llm" / "providers.json")
    assert sample["agent"]["provider"] in providers
    assert set(providers) == {"openai", "deepseek", "xai", "ollama", "vllm", "lmstudio"}
