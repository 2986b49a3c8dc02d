"""The Bedrock LLM function through its real handler, against the scripted Converse fake.

S3 is a moto server reached through AWS_ENDPOINT_URL, as in the local engine; the function's
AWS_ENDPOINT_URL_BEDROCK_RUNTIME points bedrock-runtime at the fake and wins over it. (moto's
in-process `mock_aws` would intercept bedrock-runtime too, and moto has no Converse.)
"""

import copy
import functools
import json
import re
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest
from bedrock_llm import client as bedrock_client
from bedrock_llm import handler as bedrock_handler
from provider_cases import SQL_TOOLS, SQL_TURNS, LambdaContext, scripted_model, tool_results

from sfn_agents.history import load_messages
from sfn_agents.scripted import ScriptedServer
from sfn_agents.thread_env import overlay

ROOT = Path(__file__).resolve().parents[2]
FUNCTION = "functions/llm/bedrock"
BUCKET = "sfn-agents-artifacts-test"
MODEL = "us.amazon.nova-pro-v1:0"
SYSTEM = "You answer questions about baseball with SQL."
TOOLS: list[dict[str, Any]] = SQL_TOOLS
SCRIPT = {"turns": [{**SQL_TURNS[0], "text": "Reading the schema."}, *SQL_TURNS[1:]]}
Context = functools.partial(LambdaContext, "BedrockLlmFunction")
FINAL = {"turns": [{"text": "Done."}]}
ID = re.compile(r"[a-zA-Z0-9_-]{1,64}")
pytestmark = pytest.mark.usefixtures("no_backoff")
fake = scripted_model("bedrock", SCRIPT, scope="module")


# ----------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def moto_url(moto_endpoint: str) -> str:
    s3 = boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1")
    s3.create_bucket(Bucket=BUCKET)
    return moto_endpoint


Invoke = Callable[..., dict[str, Any]]


@pytest.fixture
def bedrock(load_function: Any, moto_url: str, fake: ScriptedServer) -> Callable[..., Invoke]:
    """bedrock(**env) -> invoke(event) through the real handler, env applied as the engine does."""

    def make(**overrides: str) -> Invoke:
        env = {
            "POWERTOOLS_SERVICE_NAME": "llm-bedrock",
            "ARTIFACT_BUCKET": BUCKET,
            "DEFAULT_MODEL": MODEL,
            "LLM_TIMEOUT_SECONDS": "10",
            "LLM_MAX_RETRIES": "0",
            "AWS_ENDPOINT_URL": moto_url,
            "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": fake.url,
            **overrides,
        }
        handler = load_function(FUNCTION, env=env)  # applies env around each invocation too

        def invoke(event: dict[str, Any]) -> dict[str, Any]:
            return handler(copy.deepcopy(event), Context())

        return invoke

    return make


@pytest.fixture(scope="module")
def module() -> dict[str, Any]:
    """The bedrock_llm.client module's namespace."""
    return vars(bedrock_client)


def event(
    new_messages: list[Any],
    conversation: Any = None,
    turn: int = 1,
    execution: str = "run-1",
    tools: list[dict[str, Any]] = TOOLS,
    **agent: Any,
) -> dict[str, Any]:
    return {
        "agent": {
            "name": "sql-agent",
            "system_prompt": SYSTEM,
            "provider": "bedrock",
            "model": MODEL,
            "max_output_tokens": 1024,
            "output_schema": None,
            **agent,
        },
        "tools": tools,
        "conversation": conversation,
        "new_messages": new_messages,
        "context": {"execution": execution, "state_machine": "sql-agent", "turn": turn},
    }


def prompt(text: str = "Which team was best?") -> dict[str, Any]:
    return {"role": "user", "content": [{"type": "text", "text": text}]}


def stored(moto_url: str, ref: dict[str, Any]) -> list[dict[str, Any]]:
    s3 = boto3.client("s3", endpoint_url=moto_url, region_name="us-east-1")
    return load_messages(s3, ref)


# ----------------------------------------------------------------------------- conversation
def test_three_turns_with_parallel_tools_through_the_handler(
    bedrock: Callable[..., Invoke], fake: ScriptedServer, moto_url: str
) -> None:
    fake.play(SCRIPT)
    invoke = bedrock()
    first = invoke(event([prompt()]))
    assert first["stop_reason"] == "tool_use" and first["provider"] == "bedrock"
    assert first["model"] == MODEL and first["priced"] is True
    assert [(c["name"], c["input"], c["error"]) for c in first["tool_calls"]] == [
        ("get_db_schema", {}, None)
    ]
    assert first["message"]["content"][0] == {"type": "text", "text": "Reading the schema."}
    assert first["usage"]["input_tokens"] > 0 and first["usage"]["cost_usd"] > 0
    schema_id = first["tool_calls"][0]["id"]
    assert schema_id.startswith("tooluse_")

    second = invoke(
        event([tool_results(first, "CREATE TABLE teams")], first["conversation"], turn=2)
    )
    assert second["stop_reason"] == "tool_use"
    calls = second["tool_calls"]
    assert [c["input"]["sql_query"] for c in calls] == ["SELECT team", "SELECT wins"]
    answers = tool_results(second, '{"rows": [["Lions"]]}', "42", errors=(False, True))

    final = invoke(event([answers], second["conversation"], turn=3))
    assert final["stop_reason"] == "end_turn" and final["tool_calls"] == []
    assert final["message"]["content"] == [
        {"type": "text", "text": "The best team was Lions with 42 wins."}
    ]
    assert final["conversation"]["messages"] == 6

    # The history in S3 is canonical, with Bedrock's ids unchanged.
    history = stored(moto_url, final["conversation"])
    assert history[:2] == [prompt(), first["message"]]
    assert history[4] == answers and history[5] == final["message"]
    assert [b["id"] for b in history[3]["content"] if b["type"] == "tool_use"] == [
        c["id"] for c in calls
    ]
    # What Bedrock saw on the last turn: Converse shapes, both results in one user message.
    request = fake.requests[-1]
    # Nova takes prompt-cache checkpoints after the system prompt and the newest message.
    assert request["system"] == [{"text": SYSTEM}, {"cachePoint": {"type": "default"}}]
    assert request["inferenceConfig"] == {"maxTokens": 1024}
    assert [t["toolSpec"]["name"] for t in request["toolConfig"]["tools"]] == [
        "get_db_schema",
        "execute_sql_query",
    ]
    assert request["toolConfig"]["tools"][1]["toolSpec"]["inputSchema"] == {
        "json": TOOLS[1]["input_schema"]
    }
    assert "toolChoice" not in request["toolConfig"]
    assert request["messages"][1]["content"][1] == {
        "toolUse": {"toolUseId": schema_id, "name": "get_db_schema", "input": {}}
    }
    assert request["messages"][4] == {
        "role": "user",
        "content": [
            {
                "toolResult": {
                    "toolUseId": calls[0]["id"],
                    "content": [{"text": '{"rows": [["Lions"]]}'}],
                    "status": "success",
                }
            },
            {
                "toolResult": {
                    "toolUseId": calls[1]["id"],
                    "content": [{"text": "42"}],
                    "status": "error",
                }
            },
            {"cachePoint": {"type": "default"}},
        ],
    }
    assert all("cachePoint" not in str(m) for m in request["messages"][:4])


def test_the_service_specific_endpoint_wins(moto_url: str, fake: ScriptedServer) -> None:
    """The local engine sets AWS_ENDPOINT_URL (moto) for every function; the Bedrock function's
    own AWS_ENDPOINT_URL_BEDROCK_RUNTIME points bedrock-runtime elsewhere."""
    env = {"ARTIFACT_BUCKET": BUCKET, "DEFAULT_MODEL": MODEL, "AWS_ENDPOINT_URL": moto_url}
    for extra, expected in [
        ({}, moto_url),
        ({"AWS_ENDPOINT_URL_BEDROCK_RUNTIME": fake.url}, fake.url),
    ]:
        with overlay({**env, **extra}):
            runtime = bedrock_handler.caller()[0].runtime
        assert runtime.meta.endpoint_url == expected


def test_the_example_event_runs(bedrock: Callable[..., Invoke], fake: ScriptedServer) -> None:
    fake.play(FINAL)
    example = json.loads((ROOT / "events" / "BedrockLlmFunction-turn.json").read_text())
    reply = bedrock()(example)
    assert reply["message"]["content"] == [{"type": "text", "text": "Done."}]
    assert fake.requests[0]["inferenceConfig"] == {"maxTokens": 2048}


def test_the_default_model_applies_when_the_agent_names_none(
    bedrock: Callable[..., Invoke], fake: ScriptedServer
) -> None:
    fake.play(FINAL)
    reply = bedrock(DEFAULT_MODEL="amazon.nova-lite-v1:0")(event([prompt()], model=""))
    assert reply["model"] == "amazon.nova-lite-v1:0" and reply["priced"] is True


# ----------------------------------------------------------------------------- tool use ids
FOREIGN_IDS = [
    "toolu_01A09q90qw90lq917835lq9",  # Anthropic: valid as is
    "call_Xa9kQ2mB7vN1pL0sR4tU6wY8",  # OpenAI: valid as is
    "functions.get_db_schema:0",  # OpenAI-compatible servers: '.' and ':'
    "fc_" + "0123456789abcdef" * 5,  # 83 characters
]


def test_ids_from_another_provider_are_mapped_deterministically(
    bedrock: Callable[..., Invoke], fake: ScriptedServer, moto_url: str
) -> None:
    """A conversation begun on another provider continues on Bedrock: ids Bedrock rejects get a
    stable alias in the request; the stored history keeps the originals."""
    uses = [
        {"type": "tool_use", "id": i, "name": "execute_sql_query", "input": {"sql_query": str(n)}}
        for n, i in enumerate(FOREIGN_IDS)
    ]
    answers = [
        {"type": "tool_result", "tool_use_id": i, "content": f"r{n}", "is_error": False}
        for n, i in enumerate(FOREIGN_IDS)
    ]
    history = [
        prompt(),
        {"role": "assistant", "content": [{"type": "text", "text": "Four."}, *uses]},
        {"role": "user", "content": answers},
    ]
    fake.play({"turns": [{"text": "unused"}, {"text": "Switched providers fine."}]})
    invoke = bedrock()
    reply = invoke(event(history, execution="switch"))
    assert reply["message"]["content"] == [{"type": "text", "text": "Switched providers fine."}]

    sent = fake.requests[-1]["messages"]
    used = [b["toolUse"]["toolUseId"] for b in sent[1]["content"] if "toolUse" in b]
    answered = [b["toolResult"]["toolUseId"] for b in sent[2]["content"] if "toolResult" in b]
    assert used == answered
    assert used[:2] == FOREIGN_IDS[:2]
    assert all(ID.fullmatch(i) for i in used) and len(set(used)) == 4
    assert used[2].startswith("functions_get_db_schema_0_")
    # Deterministic: the next turn sends the same aliases.
    fake.play({"turns": [{"text": "unused"}, {"text": "again"}]})
    invoke(event(history, execution="switch-again"))
    assert [
        b["toolUse"]["toolUseId"] for b in fake.requests[-1]["messages"][1]["content"][1:]
    ] == used

    assert stored(moto_url, reply["conversation"])[1]["content"][1:] == uses


def test_the_alias_function(module: dict[str, Any]) -> None:
    alias = module["bedrock_tool_id"]
    for valid in ("toolu_abc", "call_1", "tooluse_kZJMlvQmRJ6eAyJE5GIl7Q", "a" * 64):
        assert alias(valid) == valid
    mapped = [alias(i) for i in ("a.b", "a:b", "a_b_", "a" * 65, "x" * 500, "é")]
    assert all(ID.fullmatch(m) for m in mapped) and len(set(mapped)) == len(mapped)
    assert alias("a.b") == alias("a.b")


# ----------------------------------------------------------------------------- mapping
def test_round_trip_of_a_parallel_two_tool_conversation(module: dict[str, Any]) -> None:
    conversation: list[Any] = [
        prompt("Compare two seasons."),
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Querying both."},
                {"type": "tool_use", "id": "toolu_01", "name": "q", "input": {"year": 2023}},
                {
                    "type": "tool_use",
                    "id": "call.2:x",
                    "name": "q",
                    "input": {"n": [1, {"a": None}]},
                },
            ],
        },
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": "toolu_01",
                    "content": '{"w": 1}',
                    "is_error": False,
                },
                {
                    "type": "tool_result",
                    "tool_use_id": "call.2:x",
                    "content": "boom",
                    "is_error": True,
                },
            ],
        },
        {"role": "assistant", "content": [{"type": "text", "text": "2023 was better."}]},
    ]
    caps = module["capabilities"](MODEL)
    converse = module["to_converse_messages"](conversation, caps)
    aliases = module["tool_id_aliases"](conversation)
    back = [module["from_converse_message"](m, aliases) for m in converse]
    assert back == conversation
    assert converse[2]["content"][1]["toolResult"]["status"] == "error"
    # JSON tool results (which this adapter never sends) come back as JSON text.
    result = {
        "toolResult": {"toolUseId": "t", "content": [{"json": {"a": 1}}], "status": "success"}
    }
    assert module["from_converse_content"]([result]) == [
        {"type": "tool_result", "tool_use_id": "t", "content": '{"a": 1}', "is_error": False}
    ]


def test_models_without_result_status_get_errors_in_the_text(module: dict[str, Any]) -> None:
    caps = module["capabilities"]("meta.llama3-3-70b-instruct-v1:0")
    assert not caps.tool_result_status and caps.tools
    block = {"type": "tool_result", "tool_use_id": "t1", "content": "timeout", "is_error": True}
    message = {"role": "user", "content": [block]}
    [converted] = module["to_converse_messages"]([message], caps)
    assert converted["content"] == [
        {"toolResult": {"toolUseId": "t1", "content": [{"text": "Error: timeout"}]}}
    ]


def test_empty_text_and_empty_results(module: dict[str, Any]) -> None:
    messages: list[Any] = [
        {"role": "user", "content": [{"type": "text", "text": ""}, {"type": "text", "text": "q"}]},
        {"role": "assistant", "content": [{"type": "text", "text": ""}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t", "content": ""}]},
    ]
    converted = module["to_converse_messages"](messages)
    assert converted[0]["content"] == [{"text": "q"}]
    assert converted[1]["content"] == [{"text": "(no content)"}]
    assert converted[2]["content"][0]["toolResult"]["content"] == []


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("us.amazon.nova-pro-v1:0", "amazon.nova-pro-v1:0"),
        ("amazon.nova-pro-v1:0", "amazon.nova-pro-v1:0"),
        (
            "global.anthropic.claude-sonnet-4-5-20250929-v1:0",
            "anthropic.claude-sonnet-4-5-20250929-v1:0",
        ),
        ("apac.meta.llama3-2-90b-instruct-v1:0", "meta.llama3-2-90b-instruct-v1:0"),
        (
            "arn:aws:bedrock:us-east-1:123456789012:inference-profile/eu.mistral.pixtral-large-2502-v1:0",
            "mistral.pixtral-large-2502-v1:0",
        ),
        (
            "arn:aws:bedrock:us-east-1::foundation-model/ai21.jamba-1-5-large-v1:0",
            "ai21.jamba-1-5-large-v1:0",
        ),
        ("meta.llama3-8b-instruct-v1:0", "meta.llama3-8b-instruct-v1:0"),
    ],
)
def test_base_model_ids(module: dict[str, Any], model: str, expected: str) -> None:
    assert module["base_model_id"](model) == expected


def test_capability_table(module: dict[str, Any]) -> None:
    caps = module["capabilities"]
    assert caps("us.amazon.nova-micro-v1:0").tool_choice == {"any", "tool"}
    assert caps("us.anthropic.claude-3-5-haiku-20241022-v1:0").tool_result_status
    assert caps("anthropic.claude-v2:1").tools is False
    assert caps("mistral.mistral-7b-instruct-v0:2").system is False
    assert caps("mistral.mistral-large-2407-v1:0").tool_choice == {"any"}
    assert caps("meta.llama3-1-70b-instruct-v1:0").tools is True
    assert caps("meta.llama3-70b-instruct-v1:0").tools is False
    assert caps("ai21.jamba-instruct-v1:0").tools is False
    assert caps("ai21.jamba-1-5-mini-v1:0").tools is True
    assert caps("arn:aws:bedrock:us-east-1:1:application-inference-profile/abc") == caps("x.y")


# ----------------------------------------------------------------------------- capabilities
def test_system_prompt_is_prepended_for_models_without_system_support(
    bedrock: Callable[..., Invoke], fake: ScriptedServer, moto_url: str
) -> None:
    model = "mistral.mistral-7b-instruct-v0:2"  # the fake rejects a system field for it
    fake.play({"turns": [{"text": "Lions."}, {"text": "42."}]})
    invoke = bedrock()
    first = invoke(event([prompt("Best team?")], tools=[], model=model))
    sent = fake.requests[-1]
    assert "system" not in sent and "toolConfig" not in sent
    assert sent["messages"][0]["content"] == [{"text": f"{SYSTEM}\n\nBest team?"}]
    follow_up = prompt("Wins?")
    invoke(event([follow_up], first["conversation"], turn=2, tools=[], model=model))
    assert fake.requests[-1]["messages"][0]["content"] == [{"text": f"{SYSTEM}\n\nBest team?"}]
    assert fake.requests[-1]["messages"][2]["content"] == [{"text": "Wins?"}]
    # The stored history stays canonical: no system prompt in it.
    assert stored(moto_url, first["conversation"])[0] == prompt("Best team?")


def test_tools_on_a_model_without_tool_use_fail_at_once(
    bedrock: Callable[..., Invoke], fake: ScriptedServer
) -> None:
    fake.play(FINAL)
    model = "meta.llama3-8b-instruct-v1:0"
    with pytest.raises(Exception, match=f"bedrock {re.escape(model)}: .*tool use") as raised:
        bedrock()(event([prompt()], model=model))
    assert type(raised.value).__name__ == "LlmFatalError"
    assert fake.requests == []


# ----------------------------------------------------------------------------- structured output
ANSWER_SCHEMA = {
    "type": "object",
    "properties": {"team": {"type": "string"}, "wins": {"type": "integer"}},
    "required": ["team", "wins"],
}
ANSWER = {
    "turns": [{"tool_calls": [{"name": "final_answer", "input": {"team": "Lions", "wins": 42}}]}]
}


def test_structured_output_forces_the_final_answer_tool(
    bedrock: Callable[..., Invoke], fake: ScriptedServer
) -> None:
    fake.play(ANSWER)
    reply = bedrock()(event([prompt()], tools=[], output_schema=ANSWER_SCHEMA))
    assert reply["stop_reason"] == "end_turn" and reply["tool_calls"] == []
    [block] = reply["message"]["content"]
    assert block["type"] == "text" and json.loads(block["text"]) == {"team": "Lions", "wins": 42}
    config = fake.requests[-1]["toolConfig"]
    assert config["toolChoice"] == {"tool": {"name": "final_answer"}}
    assert config["tools"][0]["toolSpec"]["name"] == "final_answer"
    assert config["tools"][0]["toolSpec"]["inputSchema"] == {"json": ANSWER_SCHEMA}
    assert fake.requests[-1]["system"][0] == {"text": SYSTEM}


def test_structured_output_with_tools_requires_some_tool(
    bedrock: Callable[..., Invoke], fake: ScriptedServer
) -> None:
    fake.play(
        {
            "turns": [
                {"tool_calls": [{"name": "get_db_schema", "input": {}}]},
                ANSWER["turns"][0],
            ]
        }
    )
    invoke = bedrock()
    first = invoke(event([prompt()], output_schema=ANSWER_SCHEMA))
    assert first["stop_reason"] == "tool_use" and first["tool_calls"][0]["name"] == "get_db_schema"
    config = fake.requests[-1]["toolConfig"]
    assert config["toolChoice"] == {"any": {}}
    assert [t["toolSpec"]["name"] for t in config["tools"]] == [
        "get_db_schema",
        "execute_sql_query",
        "final_answer",
    ]
    assert "calling final_answer" in fake.requests[-1]["system"][0]["text"]
    answered = [tool_results(first, "schema")]
    second = invoke(event(answered, first["conversation"], turn=2, output_schema=ANSWER_SCHEMA))
    assert second["stop_reason"] == "end_turn" and second["tool_calls"] == []
    assert json.loads(second["message"]["content"][0]["text"])["wins"] == 42


def test_structured_output_of_a_non_object_schema_is_wrapped(
    bedrock: Callable[..., Invoke], fake: ScriptedServer
) -> None:
    schema = {"type": "array", "items": {"type": "string"}}
    fake.play(
        {"turns": [{"tool_calls": [{"name": "final_answer", "input": {"value": ["a", "b"]}}]}]}
    )
    reply = bedrock()(event([prompt()], tools=[], output_schema=schema))
    assert json.loads(reply["message"]["content"][0]["text"]) == ["a", "b"]
    spec = fake.requests[-1]["toolConfig"]["tools"][0]["toolSpec"]
    assert spec["inputSchema"]["json"]["properties"]["value"] == schema


@pytest.mark.parametrize(
    ("model", "choice", "instructed"),
    [
        ("anthropic.claude-3-haiku-20240307-v1:0", {"tool": {"name": "final_answer"}}, False),
        ("mistral.mistral-large-2407-v1:0", {"any": {}}, False),
        ("meta.llama3-1-70b-instruct-v1:0", None, True),
    ],
)
def test_structured_output_follows_tool_choice_support(
    module: dict[str, Any], model: str, choice: Any, instructed: bool
) -> None:
    request = module["ModelRequest"](
        model=model, system="Be brief.", messages=[prompt()], tools=[],
        max_output_tokens=100, output_schema=ANSWER_SCHEMA,
    )  # fmt: skip
    arguments, structured = module["to_converse_request"](request)
    assert arguments["toolConfig"].get("toolChoice") == choice
    assert ("final_answer" in arguments["system"][0]["text"]) is instructed
    assert structured is not None and not structured.wrapped


def test_structured_output_without_tool_use_asks_for_json(module: dict[str, Any]) -> None:
    request = module["ModelRequest"](
        model="mistral.mistral-7b-instruct-v0:2", system="Be brief.", messages=[prompt("Q?")],
        tools=[], max_output_tokens=100, output_schema=ANSWER_SCHEMA,
    )  # fmt: skip
    arguments, _ = module["to_converse_request"](request)
    assert "toolConfig" not in arguments and "system" not in arguments
    text = arguments["messages"][0]["content"][0]["text"]
    assert text.startswith("Be brief.\n\nAnswer with only a JSON value") and text.endswith("Q?")


# ----------------------------------------------------------------------------- replies
def reply_of(module: dict[str, Any], response: dict[str, Any]) -> Any:
    request = module["ModelRequest"](
        model=MODEL, system="", messages=[prompt()], tools=[], max_output_tokens=10
    )
    return module["from_converse_response"](response, request)


def converse_response(stop: str = "end_turn", **usage: int) -> dict[str, Any]:
    return {
        "output": {"message": {"role": "assistant", "content": [{"text": "hi"}]}},
        "stopReason": stop,
        "usage": {"inputTokens": 10, "outputTokens": 5, "totalTokens": 15, **usage},
        "metrics": {"latencyMs": 1},
    }


@pytest.mark.parametrize(
    ("stop", "expected"),
    [
        ("end_turn", "end_turn"),
        ("tool_use", "tool_use"),
        ("max_tokens", "max_tokens"),
        ("stop_sequence", "end_turn"),
        ("guardrail_intervened", "refusal"),
        ("content_filtered", "refusal"),
        ("model_context_window_exceeded", "max_tokens"),
        ("something_new", "end_turn"),
    ],
)
def test_stop_reasons(module: dict[str, Any], stop: str, expected: str) -> None:
    assert reply_of(module, converse_response(stop)).stop_reason == expected


@pytest.mark.parametrize("stop", ["malformed_model_output", "malformed_tool_use"])
def test_malformed_model_output_is_retryable(module: dict[str, Any], stop: str) -> None:
    with pytest.raises(module["LlmRetryableError"], match=stop):
        reply_of(module, converse_response(stop))


def test_usage_with_prompt_caching(module: dict[str, Any]) -> None:
    # Bedrock: inputTokens excludes cached tokens; totalTokens counts them.
    usage = reply_of(
        module,
        converse_response(
            inputTokens=4, outputTokens=10, totalTokens=1514,
            cacheReadInputTokens=1000, cacheWriteInputTokens=500,
        ),
    ).usage  # fmt: skip
    assert usage == {
        "input_tokens": 4,
        "output_tokens": 10,
        "cache_read_input_tokens": 1000,
        "cache_creation_input_tokens": 500,
    }
    # A model that counted them in inputTokens is normalised.
    inclusive = converse_response(
        inputTokens=1504, outputTokens=10, totalTokens=1514, cacheReadInputTokens=1500
    )
    assert reply_of(module, inclusive).usage["input_tokens"] == 4


def test_an_empty_reply_becomes_one_empty_text_block(module: dict[str, Any]) -> None:
    response = converse_response()
    response["output"]["message"]["content"] = []
    assert reply_of(module, response).message["content"] == [{"type": "text", "text": ""}]


# ----------------------------------------------------------------------------- faults
def error_type(error: BaseException) -> str:
    return type(error).__name__


def test_throttling_is_retried_by_botocore_then_succeeds(
    bedrock: Callable[..., Invoke], fake: ScriptedServer
) -> None:
    fake.play({**FINAL, "faults": [{"status": 429}, {"status": 429}]})
    reply = bedrock(LLM_MAX_RETRIES="2")(event([prompt()]))
    assert reply["message"]["content"] == [{"type": "text", "text": "Done."}]
    assert len(fake.requests) == 3


def test_throttling_past_the_retries_is_retryable(
    bedrock: Callable[..., Invoke], fake: ScriptedServer
) -> None:
    fake.play({**FINAL, "faults": [{"status": 429}] * 3})
    with pytest.raises(
        Exception, match=f"bedrock {re.escape(MODEL)}: ThrottlingException"
    ) as raised:
        bedrock(LLM_MAX_RETRIES="2")(event([prompt()]))
    assert error_type(raised.value) == "LlmRetryableError"
    assert len(fake.requests) == 3


@pytest.mark.parametrize(
    ("status", "code", "kind"),
    [
        (500, "InternalServerException", "LlmRetryableError"),
        (503, "ServiceUnavailableException", "LlmRetryableError"),
        (408, "ModelTimeoutException", "LlmRetryableError"),
        (424, "ModelErrorException", "LlmRetryableError"),
        (400, "ValidationException", "LlmFatalError"),
        (403, "AccessDeniedException", "LlmFatalError"),
        (404, "ResourceNotFoundException", "LlmFatalError"),
    ],
)
def test_error_statuses_are_classified(
    bedrock: Callable[..., Invoke], fake: ScriptedServer, status: int, code: str, kind: str
) -> None:
    fake.play({**FINAL, "faults": [{"status": status}]})
    with pytest.raises(Exception, match=f"^bedrock {re.escape(MODEL)}: {code}") as raised:
        bedrock()(event([prompt()]))
    assert error_type(raised.value) == kind
    assert f"HTTP {status}" in str(raised.value)


def test_a_real_validation_error_is_fatal_and_names_provider_and_model(
    bedrock: Callable[..., Invoke], fake: ScriptedServer
) -> None:
    fake.play({"turns": [{"text": "only one"}]})
    history = [
        prompt(),
        {"role": "assistant", "content": [{"type": "text", "text": "a"}]},
        prompt(),
    ]
    with pytest.raises(Exception, match=r"bedrock .*ValidationException.*has 1 turns") as raised:
        bedrock()(event(history))
    assert error_type(raised.value) == "LlmFatalError"


def test_a_timeout_is_retryable(bedrock: Callable[..., Invoke], fake: ScriptedServer) -> None:
    fake.play({**FINAL, "faults": [{"delay_seconds": 5}]})
    with pytest.raises(Exception, match="ReadTimeoutError") as raised:
        bedrock(LLM_TIMEOUT_SECONDS="1")(event([prompt()]))
    assert error_type(raised.value) == "LlmRetryableError"


def test_a_malformed_body_is_retryable(
    bedrock: Callable[..., Invoke], fake: ScriptedServer
) -> None:
    fake.play({**FINAL, "faults": [{"malformed": True}]})
    with pytest.raises(
        Exception, match=f"bedrock {re.escape(MODEL)}: malformed response"
    ) as raised:
        bedrock()(event([prompt()]))
    assert error_type(raised.value) == "LlmRetryableError"


def test_no_endpoint_is_retryable(bedrock: Callable[..., Invoke]) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}"
    with pytest.raises(Exception, match="EndpointConnectionError") as raised:
        bedrock(AWS_ENDPOINT_URL_BEDROCK_RUNTIME=closed)(event([prompt()]))
    assert error_type(raised.value) == "LlmRetryableError"
