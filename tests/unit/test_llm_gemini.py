"""The Gemini LLM function: the real handler and google-genai SDK against the strict scripted
fake (reached through GOOGLE_GEMINI_BASE_URL), with S3 and Secrets Manager in moto."""

import functools
import json
import logging
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities import parameters
from gemini_llm import client as gemini_client
from google.genai import types
from moto import mock_aws
from provider_cases import QUERY_TOOL, SCHEMA_TOOL, SQL_SCRIPT, LambdaContext, tool_results

from sfn_agents.history import load_messages
from sfn_agents.scripted import Reply, Script, ScriptedServer

ROOT = Path(__file__).resolve().parents[2]
LAYER = ROOT / "layers" / "agent_core"
FUNCTION = "functions/llm/gemini"
SECRET_NAME = "/sfn-agents/test/gemini-api-keys"
SECRET_KEY = "AIzaTEST-gemini-DO-NOT-LOG-5b8e21"
GEMINI_3 = "gemini-3-pro-preview"
GEMINI_25 = "gemini-2.5-flash"
TOOLS: Any = [
    SCHEMA_TOOL,
    {
        **QUERY_TOOL,
        "input_schema": {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "type": "object",
            "properties": {"sql_query": {"type": "string", "minLength": 1, "default": "SELECT 1"}},
            "required": ["sql_query"],
            "additionalProperties": False,
        },
    },
]
SCRIPT = SQL_SCRIPT
Context = functools.partial(LambdaContext, "llm-gemini")


def event(
    new_messages: list[Any],
    conversation: Any = None,
    turn: int = 1,
    model: str = GEMINI_3,
    tools: Any = TOOLS,
    output_schema: Any = None,
) -> dict[str, Any]:
    return {
        "agent": {
            "name": "sql-agent",
            "system_prompt": "Be brief.",
            "provider": "gemini",
            "model": model,
            "max_output_tokens": 512,
            "output_schema": output_schema,
        },
        "tools": tools,
        "conversation": conversation,
        "new_messages": new_messages,
        "context": {"execution": "exec-1", "state_machine": "sm", "turn": turn},
    }


def user(text: str) -> list[Any]:
    return [{"role": "user", "content": [{"type": "text", "text": text}]}]


def stored(ref: dict[str, Any]) -> list[Any]:
    return load_messages(boto3.client("s3"), ref)


@pytest.fixture
def aws() -> Iterator[None]:
    parameters.clear_caches()  # Powertools caches secrets per process, across tests
    with mock_aws():
        boto3.client("s3").create_bucket(Bucket="artifacts")
        boto3.client("secretsmanager").create_secret(
            Name=SECRET_NAME, SecretString=json.dumps({"GEMINI_API_KEY": SECRET_KEY})
        )
        yield


@pytest.fixture
def handler_for(load_function: Any, aws: None) -> Iterator[Callable[..., Any]]:
    """handler_for(script_or_protocol, **env) -> (fake, the real handler pointed at it)."""
    servers: list[ScriptedServer] = []

    def load(script: Any = SCRIPT, protocol: Any = "gemini", **env: str) -> Any:
        fake = ScriptedServer(protocol, script)
        fake.start()
        servers.append(fake)
        return fake, load_function(
            FUNCTION,
            env={
                "GOOGLE_GEMINI_BASE_URL": fake.url,
                "LLM_API_KEYS_SECRET": SECRET_NAME,
                "ARTIFACT_BUCKET": "artifacts",
                "DEFAULT_MODEL": GEMINI_25,
                "LLM_MAX_RETRIES": "0",
                "POWERTOOLS_SERVICE_NAME": "llm-gemini",
                **env,
            },
        )

    yield load
    for fake in servers:
        fake.stop()


@pytest.fixture(scope="module")
def gemini() -> SimpleNamespace:
    """The adapter module (gemini_llm.client)."""
    return SimpleNamespace(**vars(gemini_client))


def error_type(raised: pytest.ExceptionInfo[BaseException]) -> str:
    """Lambda's errorType: the class name (the handler has its own copy of agent_core)."""
    return type(raised.value).__name__


# ------------------------------------------------------------------ through the handler


def test_three_turns_with_a_parallel_tool_turn_and_history_in_s3(handler_for: Any) -> None:
    fake, handler = handler_for()
    first = handler(event(user("Which team was best?")), Context())
    assert first["stop_reason"] == "tool_use" and first["provider"] == "gemini"
    [schema_call] = first["tool_calls"]
    assert schema_call["name"] == "get_db_schema" and schema_call["error"] is None
    assert schema_call["id"].startswith("toolu_") and len(schema_call["id"]) == 30
    assert first["message"]["content"][0]["thought_signature"]  # kept for Gemini 3
    request = fake.requests[0]
    assert request["systemInstruction"] == {"parts": [{"text": "Be brief."}]}
    assert [c["role"] for c in request["contents"]] == ["user"]
    assert request["generationConfig"]["maxOutputTokens"] == 512
    assert first["conversation"]["key"].endswith("/turn-0001-a0.json")

    schema_results = [tool_results(first, "CREATE TABLE teams (name, wins)")]
    second = handler(event(schema_results, first["conversation"], turn=2), Context())
    assert second["stop_reason"] == "tool_use"
    assert second["message"]["content"][0] == {"type": "text", "text": "Running two queries."}
    ids = [c["id"] for c in second["tool_calls"]]
    assert [c["input"]["sql_query"] for c in second["tool_calls"]] == ["SELECT team", "SELECT wins"]
    assert len(set(ids) | {schema_call["id"]}) == 3
    answered = fake.requests[1]["contents"][2]
    assert answered == {
        "role": "user",
        "parts": [
            {
                "functionResponse": {
                    "name": "get_db_schema",  # the tool's real name, from the history
                    "response": {"output": "CREATE TABLE teams (name, wins)"},
                }
            }
        ],
    }
    # A retried turn gives the same ids and rewrites the same snapshot.
    retried = handler(event(schema_results, first["conversation"], turn=2), Context())
    assert [c["id"] for c in retried["tool_calls"]] == ids
    assert retried["conversation"] == second["conversation"]

    query_results = [tool_results(second, '{"rows": [["Lions"]]}', "42")]
    final = handler(event(query_results, second["conversation"], turn=3), Context())
    assert final["stop_reason"] == "end_turn"
    assert final["message"] == {
        "role": "assistant",
        "content": [{"type": "text", "text": "The best team was Lions with 42 wins."}],
    }
    assert final["tool_calls"] == []
    assert final["model"] == GEMINI_3 and final["priced"] is True
    usage = final["usage"]
    assert usage["input_tokens"] > 1 and usage["output_tokens"] >= 1 and usage["cost_usd"] > 0
    # The parallel calls were answered by one user turn, in order, by name.
    last = fake.requests[-1]["contents"]
    assert [c["role"] for c in last] == ["user", "model", "user", "model", "user"]
    assert [p["functionResponse"]["name"] for p in last[4]["parts"]] == ["execute_sql_query"] * 2
    assert "thoughtSignature" in last[3]["parts"][1]  # the first call of the turn keeps it
    history = stored(final["conversation"])
    assert len(history) == 6 == final["conversation"]["messages"]
    assert history[1] == first["message"] and history[3] == second["message"]
    assert [b["tool_use_id"] for b in history[4]["content"]] == ids


def test_tool_declarations_and_structured_output_requests(handler_for: Any) -> None:
    schema = {"type": "object", "properties": {"team": {"type": "string"}}, "required": ["team"]}
    fake, handler = handler_for({"turns": [{"text": '{"team": "Lions"}'}] * 3})
    handler(event(user("q"), output_schema=schema), Context())  # Gemini 3: JSON mode with tools
    declared = fake.requests[0]["tools"][0]["functionDeclarations"]
    assert declared[1] == {
        "name": "execute_sql_query",
        "description": "Run SQL",
        "parameters_json_schema": {
            "type": "object",
            "properties": {"sql_query": {"type": "string"}},
            "required": ["sql_query"],
            "additionalProperties": False,
        },
    }
    config = fake.requests[0]["generationConfig"]
    assert config["responseMimeType"] == "application/json"
    assert config["responseJsonSchema"] == schema

    handler(event(user("q"), model=GEMINI_25, tools=[], output_schema=schema), Context())
    assert fake.requests[1]["generationConfig"]["responseJsonSchema"] == schema
    assert "tools" not in fake.requests[1]

    # Gemini 2.5 rejects JSON mode beside function declarations: the schema becomes an instruction.
    reply = handler(event(user("q"), model=GEMINI_25, output_schema=schema), Context())
    assert reply["stop_reason"] == "end_turn"
    request = fake.requests[2]
    assert "responseMimeType" not in request["generationConfig"]
    system = request["systemInstruction"]["parts"][0]["text"]
    assert system.startswith("Be brief.\n\n") and json.dumps(schema, sort_keys=True) in system


@pytest.mark.parametrize(
    ("stop", "expected"), [("max_tokens", "max_tokens"), ("refusal", "refusal")]
)
def test_finish_reasons_through_the_handler(handler_for: Any, stop: str, expected: str) -> None:
    _, handler = handler_for({"turns": [{"text": "partial", "stop_reason": stop}]})
    reply = handler(event(user("q")), Context())
    assert reply["stop_reason"] == expected
    if stop == "refusal":  # Gemini sends no content with a safety stop
        assert reply["message"]["content"] == [{"type": "text", "text": ""}]


@pytest.mark.parametrize(
    ("fault", "kind", "text"),
    [
        ({"status": 429, "retry_after": "2"}, "LlmRetryableError", "HTTP 429 RESOURCE_EXHAUSTED"),
        ({"status": 500}, "LlmRetryableError", "HTTP 500 INTERNAL"),
        ({"status": 503}, "LlmRetryableError", "HTTP 503 UNAVAILABLE"),
        ({"delay_seconds": 3}, "LlmRetryableError", "request timed out"),
        ({"malformed": True}, "LlmRetryableError", "malformed response"),
        ({"status": 400}, "LlmFatalError", "HTTP 400 INVALID_ARGUMENT"),
        ({"status": 403}, "LlmFatalError", "HTTP 403 PERMISSION_DENIED"),
    ],
)
def test_faults_become_contract_errors(
    handler_for: Any, fault: dict[str, Any], kind: str, text: str
) -> None:
    fake, handler = handler_for({**SCRIPT, "faults": [fault]}, LLM_TIMEOUT_SECONDS="1")
    with pytest.raises(Exception) as raised:
        handler(event(user("q")), Context())
    assert error_type(raised) == kind
    message = str(raised.value)
    assert message.startswith(f"gemini {GEMINI_3}: ") and text in message
    assert SECRET_KEY not in message
    if "retry_after" in fault:
        assert "(retry after 2 s)" in message
    assert len(fake.requests) == 1  # LLM_MAX_RETRIES=0: the state machine owns the retries


def test_the_sdk_retries_as_configured(handler_for: Any) -> None:
    fake, handler = handler_for({**SCRIPT, "faults": [{"status": 503}]}, LLM_MAX_RETRIES="1")
    assert handler(event(user("q")), Context())["stop_reason"] == "tool_use"
    assert len(fake.requests) == 2


def test_connection_failures_are_retryable(aws: None, load_function: Any) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    handler = load_function(
        FUNCTION,
        env={
            "GOOGLE_GEMINI_BASE_URL": f"http://127.0.0.1:{port}",
            "LLM_API_KEYS_SECRET": SECRET_NAME,
            "ARTIFACT_BUCKET": "artifacts",
            "DEFAULT_MODEL": GEMINI_25,
            "LLM_MAX_RETRIES": "0",
        },
    )
    with pytest.raises(Exception) as raised:
        handler(event(user("q")), Context())
    assert error_type(raised) == "LlmRetryableError"
    assert "gemini gemini-3-pro-preview: connection failed" in str(raised.value)


def test_no_api_key_in_logs_errors_or_history(
    handler_for: Any, capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    # The SDK's and its HTTP stack's debug logs too. (Not botocore's: at DEBUG it logs every
    # response body, the Secrets Manager one included.)
    for name in ("google_genai", "httpx2", "httpcore", "httpx", "google.auth"):
        caplog.set_level(logging.DEBUG, logger=name)
    fake, handler = handler_for(
        {**SCRIPT, "faults": [{"status": 403}, {"status": 429, "retry_after": "1"}]},
        POWERTOOLS_LOG_LEVEL="DEBUG",
    )
    for _ in range(2):
        with pytest.raises(Exception) as raised:
            handler(event(user("q")), Context())
        assert SECRET_KEY not in str(raised.value)
    reply = handler(event(user("q")), Context())
    assert reply["stop_reason"] == "tool_use"  # the key did reach the fake: it answered
    captured = capfd.readouterr()
    assert "model turn" in caplog.text  # the handler's structured log was captured
    for text in (captured.out, captured.err, caplog.text, json.dumps(reply)):
        assert SECRET_KEY not in text
    assert SECRET_KEY not in json.dumps(stored(reply["conversation"]))
    assert SECRET_KEY not in json.dumps(fake.requests)


# ------------------------------------------------------------------ mapping


CONVERSATION: Any = [
    {"role": "user", "content": [{"type": "text", "text": "Which team was best?"}]},
    {
        "role": "assistant",
        "content": [
            {"type": "text", "text": "Let me look.", "thought_signature": "c2lnLTE="},
            {"type": "tool_use", "id": "", "name": "get_db_schema", "input": {}},
        ],
    },
    {
        "role": "user",
        "content": [
            {
                "type": "tool_result",
                "tool_use_id": "",
                "content": "CREATE TABLE t",
                "is_error": False,
            }
        ],
    },
    {
        "role": "assistant",
        "content": [
            {
                "type": "tool_use",
                "id": "",
                "name": "execute_sql_query",
                "input": {"sql_query": "SELECT a"},
                "thought_signature": "c2lnLTI=",
            },
            {
                "type": "tool_use",
                "id": "",
                "name": "execute_sql_query",
                "input": {"sql_query": "x"},
            },
        ],
    },
    {
        "role": "user",
        "content": [
            {
                "type": "tool_result",
                "tool_use_id": "",
                "content": '{"rows": []}',
                "is_error": False,
            },
            {"type": "tool_result", "tool_use_id": "", "content": "syntax error", "is_error": True},
            {"type": "text", "text": "Answer now."},
        ],
    },
    {"role": "assistant", "content": [{"type": "text", "text": "No rows."}]},
]


def with_generated_ids(gemini: SimpleNamespace) -> list[Any]:
    """CONVERSATION with the ids the adapter generates for id-less Gemini calls."""
    messages = json.loads(json.dumps(CONVERSATION))
    turn = 0
    ids: list[str] = []
    for message in messages:
        uses = [b for b in message["content"] if b["type"] == "tool_use"]
        results_ = [b for b in message["content"] if b["type"] == "tool_result"]
        for index, block in enumerate(uses):
            block["id"] = gemini.tool_call_id(turn, index, block["name"], block["input"])
        if message["role"] == "assistant":
            turn += 1
            ids = [b["id"] for b in uses]
        elif results_:
            for block, call_id in zip(results_, ids, strict=True):
                block["tool_use_id"] = call_id
    return messages


def test_round_trip_is_identity(gemini: SimpleNamespace) -> None:
    messages = with_generated_ids(gemini)
    contents = gemini.to_gemini_contents(messages)
    assert [c.role for c in contents] == ["user", "model", "user", "model", "user", "model"]
    responses = [p.function_response for p in contents[4].parts]
    assert [r.name if r else None for r in responses] == ["execute_sql_query"] * 2 + [None]
    assert responses[1].response == {"error": "syntax error"}
    assert all(p.function_call.id is None for p in contents[3].parts)  # ours: not sent
    assert contents[3].parts[0].thought_signature == b"sig-2"
    assert gemini.from_gemini_contents(contents) == messages
    # ... and through the JSON the SDK would send.
    wire = [types.Content.model_validate_json(c.model_dump_json()) for c in contents]
    assert gemini.from_gemini_contents(wire) == messages


def test_gemini_issued_ids_are_kept_and_sent_back(gemini: SimpleNamespace) -> None:
    messages = with_generated_ids(gemini)
    messages[1]["content"][1]["id"] = "call-abc"
    messages[2]["content"][0]["tool_use_id"] = "call-abc"
    contents = gemini.to_gemini_contents(messages)
    assert contents[1].parts[1].function_call.id == "call-abc"
    assert contents[2].parts[0].function_response.id == "call-abc"
    assert gemini.from_gemini_contents(contents) == messages


def test_ids_are_stable_and_distinct(gemini: SimpleNamespace) -> None:
    make = gemini.tool_call_id
    assert make(1, 0, "t", {"a": 1, "b": 2}) == make(1, 0, "t", {"b": 2, "a": 1})
    distinct = {make(1, 0, "t", {}), make(1, 1, "t", {}), make(2, 0, "t", {}), make(1, 0, "u", {})}
    assert len(distinct) == 4


def test_a_result_for_an_unknown_call_is_a_malformed_event(gemini: SimpleNamespace) -> None:
    orphan = [
        {"role": "user", "content": [{"type": "text", "text": "q"}]},
        {"role": "assistant", "content": [{"type": "text", "text": "a"}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "x", "content": ""}]},
    ]
    with pytest.raises(Exception, match="tool_result x answers no tool_use") as raised:
        gemini.to_gemini_contents(orphan)
    assert error_type(raised) == "MalformedLlmEvent"


def test_empty_replies_are_not_sent_and_roles_still_alternate(gemini: SimpleNamespace) -> None:
    messages = [
        {"role": "user", "content": [{"type": "text", "text": "q"}]},
        {"role": "assistant", "content": [{"type": "text", "text": ""}]},
        {"role": "user", "content": [{"type": "text", "text": "again"}]},
    ]
    [content] = gemini.to_gemini_contents(messages)
    assert [p.text for p in content.parts] == ["q", "again"]


def test_schema_conversion(gemini: SimpleNamespace) -> None:
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": {
            "kind": {"const": "sql", "description": "always sql"},
            "limit": {"type": "integer", "minimum": 1, "exclusiveMaximum": 1000, "default": 10},
            "tags": {"type": "array", "items": {"type": "string", "pattern": "^[a-z]+$"}},
            "where": {"$ref": "#/$defs/filter", "description": "dropped beside $ref"},
            "either": {"anyOf": [{"type": "string", "examples": ["a"]}, {"type": "null"}]},
        },
        "$defs": {"filter": {"type": "object", "additionalProperties": {"type": "string"}}},
        "required": ["kind"],
        "additionalProperties": False,
        "allOf": [{"required": ["limit"]}],
    }
    assert gemini.to_gemini_schema(schema) == {
        "type": "object",
        "properties": {
            "kind": {"description": "always sql", "enum": ["sql"]},
            "limit": {"type": "integer", "minimum": 1},
            "tags": {"type": "array", "items": {"type": "string"}},
            "where": {"$ref": "#/$defs/filter"},
            "either": {"anyOf": [{"type": "string"}, {"type": "null"}]},
        },
        "$defs": {"filter": {"type": "object", "additionalProperties": {"type": "string"}}},
        "required": ["kind"],
        "additionalProperties": False,
    }
    draft_07 = {
        "type": "object",
        "properties": {"f": {"$ref": "#/definitions/filter"}},
        "definitions": {"filter": {"type": "string"}},
    }
    assert gemini.to_gemini_schema(draft_07) == {
        "type": "object",
        "properties": {"f": {"$ref": "#/$defs/filter"}},
        "$defs": {"filter": {"type": "string"}},
    }
    untyped = [
        {"name": "a", "description": "", "input_schema": {}},
        {"name": "b", "description": "d", "input_schema": {"properties": {"x": {}}}},
    ]
    declarations = gemini.to_function_declarations(untyped)
    assert [d.parameters_json_schema for d in declarations] == [
        {"type": "object"},
        {"type": "object", "properties": {"x": {}}},
    ]


@pytest.mark.parametrize(
    ("finish", "has_calls", "expected"),
    [
        ("STOP", False, "end_turn"),
        ("STOP", True, "tool_use"),
        (None, False, "end_turn"),
        ("MAX_TOKENS", True, "max_tokens"),
        ("SAFETY", False, "refusal"),
        ("RECITATION", False, "refusal"),
        ("PROHIBITED_CONTENT", False, "refusal"),
        ("BLOCKLIST", False, "refusal"),
        ("OTHER", False, "end_turn"),
        ("MALFORMED_FUNCTION_CALL", False, "LlmRetryableError"),
        ("MISSING_THOUGHT_SIGNATURE", False, "LlmFatalError"),
    ],
)
def test_finish_reasons(
    gemini: SimpleNamespace, finish: Any, has_calls: bool, expected: str
) -> None:
    reason = types.FinishReason(finish) if finish else None
    if expected.startswith("Llm"):
        with pytest.raises(Exception) as raised:
            gemini.stop_reason(reason, has_calls, "gemini-x")
        assert error_type(raised) == expected and "gemini gemini-x" in str(raised.value)
    else:
        assert gemini.stop_reason(reason, has_calls, "gemini-x") == expected


def test_usage_normalisation(gemini: SimpleNamespace) -> None:
    metadata = types.GenerateContentResponseUsageMetadata(
        prompt_token_count=1000,
        cached_content_token_count=600,
        candidates_token_count=50,
        thoughts_token_count=200,
        tool_use_prompt_token_count=10,
        total_token_count=1260,
    )
    assert gemini.usage_from(metadata) == {
        "input_tokens": 410,
        "output_tokens": 250,
        "cache_read_input_tokens": 600,
        "cache_creation_input_tokens": 0,
    }
    assert gemini.usage_from(None)["input_tokens"] == 0
    bare = types.GenerateContentResponseUsageMetadata(prompt_token_count=7)
    assert gemini.usage_from(bare)["output_tokens"] == 0


# ------------------------------------------------------------------ replies the script can't make


class Canned:
    """A protocol answering every request with one fixed generateContent body."""

    def __init__(self, body: dict[str, Any]) -> None:
        self.body = body

    def handle(self, script: Script, method: str, path: str, headers: Any, body: bytes) -> Reply:
        return Reply(200, {"content-type": "application/json"}, json.dumps(self.body).encode())

    def error(self, status: int, message: str) -> Reply:
        payload = {"error": {"code": status, "message": message, "status": "INTERNAL"}}
        return Reply(status, {"content-type": "application/json"}, json.dumps(payload).encode())


ANY_SCRIPT = {"turns": [{"text": "unused"}]}


def test_cached_and_thinking_tokens_and_issued_ids(handler_for: Any) -> None:
    body = {
        "candidates": [
            {
                "content": {
                    "role": "model",
                    "parts": [
                        {"text": "thinking...", "thought": True},
                        {"functionCall": {"id": "fc-1", "name": "get_db_schema", "args": {}}},
                    ],
                },
                "finishReason": "STOP",
            }
        ],
        "usageMetadata": {
            "promptTokenCount": 1000,
            "cachedContentTokenCount": 800,
            "candidatesTokenCount": 20,
            "thoughtsTokenCount": 30,
            "totalTokenCount": 1050,
        },
        "modelVersion": "gemini-2.5-flash-001",
        "responseId": "r1",
    }
    _, handler = handler_for(ANY_SCRIPT, protocol=Canned(body))
    reply = handler(event(user("q"), model=GEMINI_25), Context())
    assert reply["message"]["content"] == [
        {"type": "tool_use", "id": "fc-1", "name": "get_db_schema", "input": {}}
    ]
    assert reply["stop_reason"] == "tool_use" and reply["model"] == "gemini-2.5-flash-001"
    usage = reply["usage"]
    assert (usage["input_tokens"], usage["cache_read_input_tokens"], usage["output_tokens"]) == (
        200,
        800,
        50,
    )
    # gemini-2.5-flash in prices.json: $0.30 input, $0.03 cache read, $2.50 output per million
    assert usage["cost_usd"] == pytest.approx((200 * 0.3 + 800 * 0.03 + 50 * 2.5) / 1e6)


def test_a_blocked_prompt_is_a_refusal(handler_for: Any) -> None:
    body = {"promptFeedback": {"blockReason": "SAFETY"}, "usageMetadata": {"promptTokenCount": 5}}
    _, handler = handler_for(ANY_SCRIPT, protocol=Canned(body))
    reply = handler(event(user("q")), Context())
    assert reply["stop_reason"] == "refusal" and reply["tool_calls"] == []


def test_a_malformed_function_call_is_retryable(handler_for: Any) -> None:
    body = {"candidates": [{"finishReason": "MALFORMED_FUNCTION_CALL"}], "modelVersion": "m"}
    _, handler = handler_for(ANY_SCRIPT, protocol=Canned(body))
    with pytest.raises(Exception, match="unusable \\(MALFORMED_FUNCTION_CALL\\)") as raised:
        handler(event(user("q")), Context())
    assert error_type(raised) == "LlmRetryableError"
