"""The scripted model, OpenAI Chat Completions protocol, driven through the real openai SDK."""

import json
from collections.abc import Iterator
from typing import Any

import openai
import pytest
from provider_cases import SQL_SCRIPT, refused, scripted_model, send_non_http

from sfn_agents.scripted import ScriptedServer

MODEL = "gpt-5-mini"
TOOLS: Any = [
    {
        "type": "function",
        "function": {
            "name": "get_db_schema",
            "description": "Schema",
            "parameters": {"type": "object", "properties": {}},
        },
    },
    {
        "type": "function",
        "function": {
            "name": "execute_sql_query",
            "parameters": {"type": "object", "properties": {"sql_query": {"type": "string"}}},
        },
    },
]
SCRIPT = SQL_SCRIPT
SYSTEM: Any = {"role": "system", "content": "You are terse."}
PROMPT: Any = {"role": "user", "content": "Which team was best?"}
fake = scripted_model("openai", SCRIPT)
HTTP = openai.DefaultHttpxClient()  # shared: building one per client is slow


@pytest.fixture(scope="module", autouse=True)
def _close_http() -> Iterator[None]:
    yield
    HTTP.close()


def client(server: ScriptedServer, path: str = "/v1", **options: Any) -> openai.OpenAI:
    return openai.OpenAI(
        api_key="test-key", base_url=server.url + path, max_retries=0, http_client=HTTP, **options
    )


def create(server: ScriptedServer, messages: list[Any], **params: Any) -> Any:
    params = {"model": MODEL, "tools": TOOLS, **params}
    return client(server).chat.completions.create(messages=messages, **params)


def replayed(completion: Any) -> dict[str, Any]:
    """A response's message as the assistant message of the next request (as the docs do)."""
    return completion.choices[0].message.model_dump(exclude_none=True)


def results(completion: Any, *contents: str) -> list[dict[str, Any]]:
    """One tool message per tool call of `completion`, answering it with `contents`, in order."""
    calls = completion.choices[0].message.tool_calls
    return [
        {"role": "tool", "tool_call_id": call.id, "content": content}
        for call, content in zip(calls, contents, strict=True)
    ]


def test_plays_a_conversation_with_parallel_tool_calls(fake: ScriptedServer) -> None:
    history: list[Any] = [SYSTEM, PROMPT]
    first = create(fake, history)
    choice = first.choices[0]
    assert choice.finish_reason == "tool_calls" and choice.message.content is None
    (call,) = choice.message.tool_calls
    assert (call.type, call.function.name, json.loads(call.function.arguments)) == (
        "function",
        "get_db_schema",
        {},
    )
    assert call.id.startswith("call_") and len(call.id) == 29

    history += [replayed(first), *results(first, "CREATE TABLE teams (name, wins)")]
    second = create(fake, history)
    message = second.choices[0].message
    assert second.choices[0].finish_reason == "tool_calls"
    assert message.content == "Running two queries."
    calls = message.tool_calls
    assert [json.loads(c.function.arguments)["sql_query"] for c in calls] == [
        "SELECT team",
        "SELECT wins",
    ]
    assert len({c.id for c in calls} | {call.id}) == 3

    history += [replayed(second), *results(second, '{"rows": [["Lions"]]}', "42")]
    final = create(fake, history)
    assert final.choices[0].finish_reason == "stop"
    assert final.choices[0].message.content == "The best team was Lions with 42 wins."
    assert final.choices[0].message.tool_calls is None
    assert final.model == MODEL and final.object == "chat.completion"
    assert final.id.startswith("chatcmpl-") and len(final.id) == 38
    assert final.usage is not None and final.usage.prompt_tokens > 1
    assert final.usage.total_tokens == final.usage.prompt_tokens + final.usage.completion_tokens
    assert final.usage.prompt_tokens_details is not None
    assert final.usage.prompt_tokens_details.cached_tokens == 0  # a short prompt
    assert final._request_id and final._request_id.startswith("req_")
    assert len(fake.requests) == 3 and fake.requests[2]["messages"] == history
    # Ids are stable: replaying a turn gives the same ids.
    assert create(fake, history[:4]).choices[0].message.tool_calls[0].id == calls[0].id


def test_answers_without_v1_in_the_base_url(fake: ScriptedServer) -> None:
    completion = client(fake, path="").chat.completions.create(
        model=MODEL, messages=[PROMPT], tools=TOOLS
    )
    assert completion.choices[0].finish_reason == "tool_calls"


def test_reports_cached_tokens_for_a_long_repeated_prefix() -> None:
    long_system = {"role": "system", "content": "Be careful. " * 600}
    with ScriptedServer("openai", SCRIPT) as server:
        first = create(server, [long_system, PROMPT])
        assert first.usage.prompt_tokens_details.cached_tokens == 0
        second = create(server, [long_system, PROMPT, replayed(first), *results(first, "ok")])
    cached = second.usage.prompt_tokens_details.cached_tokens
    assert cached >= 1024 and cached % 128 == 0 and cached < second.usage.prompt_tokens


def test_structured_output(fake: ScriptedServer) -> None:
    schema = {
        "type": "object",
        "properties": {"team": {"type": "string"}},
        "required": ["team"],
        "additionalProperties": False,
    }
    fake.play({"turns": [{"text": '{"team": "Lions"}'}]})
    response_format: Any = {
        "type": "json_schema",
        "json_schema": {"name": "answer", "schema": schema, "strict": True},
    }
    completion = create(fake, [PROMPT], response_format=response_format, tools=openai.omit)
    assert json.loads(completion.choices[0].message.content) == {"team": "Lions"}


CALL = {
    "id": "call_a",
    "type": "function",
    "function": {"name": "get_db_schema", "arguments": "{}"},
}
ASKED: Any = {"role": "assistant", "content": None, "tool_calls": [CALL]}
ANSWER: Any = {"role": "tool", "tool_call_id": "call_a", "content": "ok"}
STRICT_SCHEMA = {"type": "object", "properties": {"a": {"type": "string"}}}


@pytest.mark.parametrize(
    ("messages", "params", "message"),
    [
        ([], {}, "Invalid 'messages': empty array."),
        ([{"role": "robot", "content": "x"}], {}, "Invalid value: 'robot'. Supported values are"),
        ([{"role": "user"}], {}, "Missing required parameter: 'messages[0].content'."),
        (
            [{"role": "user", "content": "x", "colour": "red"}],
            {},
            "Additional properties are not allowed ('colour' was unexpected)",
        ),
        (
            [PROMPT, {"role": "assistant", "content": None}],
            {},
            "Invalid value for 'messages[1].content': expected a string, got null.",
        ),
        (
            [{"role": "user", "content": [{"type": "video"}]}],
            {},
            "Invalid value: 'video'.",
        ),
        (
            [PROMPT, ASKED, {"role": "user", "content": "thanks"}],
            {},
            "An assistant message with 'tool_calls' must be followed by tool messages responding "
            "to each 'tool_call_id'. The following tool_call_ids did not have response messages: "
            "call_a",
        ),
        (
            [PROMPT, ASKED],
            {},
            "The following tool_call_ids did not have response messages: call_a",
        ),
        (
            [PROMPT, ANSWER],
            {},
            "Invalid parameter: messages with role 'tool' must be a response to a preceeding "
            "message with 'tool_calls'.",
        ),
        (
            [PROMPT, ASKED, {**ANSWER, "tool_call_id": "call_zz"}],
            {},
            "Invalid parameter: 'tool_call_id' of 'call_zz' not found in 'tool_calls'",
        ),
        (
            [
                PROMPT,
                ASKED,
                ANSWER,
                ANSWER | {"content": "again"},
                {"role": "user", "content": "x"},
            ],
            {},
            None,  # answering a call twice is allowed
        ),
        (
            [PROMPT, {**ASKED, "tool_calls": [{**CALL, "function": {"name": "get_db_schema"}}]}],
            {},
            "Missing required parameter: 'messages[1].tool_calls[0].function.arguments'.",
        ),
        (
            [{"role": "tool", "content": "x"}],
            {},
            "Missing required parameter: 'messages[0].tool_call_id'.",
        ),
        ([PROMPT], {"tools": []}, "Invalid 'tools': empty array."),
        (
            [PROMPT],
            {"tools": [{"type": "function", "function": {"name": "bad name"}}]},
            "Invalid 'tools[0].function.name': string does not match pattern.",
        ),
        (
            [PROMPT],
            {"tools": [{"type": "retrieval", "function": {"name": "x"}}]},
            "Invalid value: 'retrieval'. Supported values are: 'function' and 'custom'.",
        ),
        (
            [PROMPT],
            {
                "tools": [
                    {
                        "type": "function",
                        "function": {"name": "t", "parameters": {"type": "object"}},
                    }
                ]
            },
            "Invalid schema for function 't': In context=(), object schema missing properties.",
        ),
        (
            [PROMPT],
            {
                "tools": [
                    {"type": "function", "function": {"name": "t", "parameters": {"type": "array"}}}
                ]
            },
            "schema must be a JSON Schema of 'type: \"object\"', got 'type: \"array\"'.",
        ),
        (
            [PROMPT],
            {"tools": openai.omit, "tool_choice": "required"},
            "'tool_choice' is only allowed when 'tools' are specified.",
        ),
        ([PROMPT], {"tool_choice": "sometimes"}, "Invalid value: 'sometimes'."),
        (
            [PROMPT],
            {"tool_choice": {"type": "function", "function": {"name": "nope"}}},
            "function 'nope' not found in 'tools'",
        ),
        (
            [PROMPT],
            {
                "response_format": {
                    "type": "json_schema",
                    "json_schema": {"name": "a", "schema": STRICT_SCHEMA, "strict": True},
                }
            },
            "'additionalProperties' is required to be supplied and to be false.",
        ),
        (
            [PROMPT],
            {
                "response_format": {
                    "type": "json_schema",
                    "json_schema": {
                        "name": "a",
                        "schema": {**STRICT_SCHEMA, "additionalProperties": False},
                        "strict": True,
                    },
                }
            },
            "'required' is required to be supplied and to be an array including every key in "
            "properties. Missing 'a'.",
        ),
        (
            [PROMPT],
            {"model": "o4-mini", "max_tokens": 10},
            "Unsupported parameter: 'max_tokens' is not supported with this model.",
        ),
        ([PROMPT], {"max_completion_tokens": 0}, "integer below minimum value"),
        (
            [PROMPT],
            {"extra_body": {"colour": "red"}},
            "Unrecognized request argument supplied: colour",
        ),
        ([PROMPT], {"model": ""}, "you must provide a model parameter"),
    ],
)
def test_rejects_what_the_real_api_rejects(
    fake: ScriptedServer, messages: list[Any], params: dict[str, Any], message: str | None
) -> None:
    if message is None:
        fake.play({"turns": [{"text": "one"}, {"text": "two"}]})
        assert create(fake, messages, **params).choices[0].message.content == "two"
        return
    with pytest.raises(openai.BadRequestError) as raised:
        create(fake, messages, **params)
    assert raised.value.status_code == 400
    assert message in raised.value.message
    body: Any = raised.value.body
    assert set(body) == {"message", "type", "param", "code"}
    assert body["type"] == "invalid_request_error"
    assert raised.value.request_id and raised.value.request_id.startswith("req_")


def test_error_params_point_at_the_culprit(fake: ScriptedServer) -> None:
    with pytest.raises(openai.BadRequestError) as raised:
        create(fake, [PROMPT, ASKED, {"role": "user", "content": "x"}])
    assert raised.value.param == "messages.[2].role" and raised.value.code is None
    with pytest.raises(openai.BadRequestError) as raised:
        create(fake, [{"role": "tool", "content": "x"}])
    assert raised.value.param == "messages[0].tool_call_id"
    assert raised.value.code == "missing_required_parameter"


def test_requires_a_bearer_key(fake: ScriptedServer) -> None:
    with pytest.raises(openai.AuthenticationError, match="You didn't provide an API key") as raised:
        create(fake, [PROMPT], extra_headers={"Authorization": openai.Omit()})
    body: Any = raised.value.body
    assert body == {
        "message": body["message"],
        "type": "invalid_request_error",
        "param": None,
        "code": None,
    }
    with pytest.raises(openai.AuthenticationError):
        create(fake, [PROMPT], extra_headers={"Authorization": "Basic dXNlcjpwYXNz"})


def test_unknown_paths_are_not_found(fake: ScriptedServer) -> None:
    with pytest.raises(openai.NotFoundError, match=r"Invalid URL \(POST /v1/responses\)"):
        client(fake).responses.create(model=MODEL, input="hi")


def test_reports_a_script_that_ran_out_of_turns() -> None:
    exhausted = pytest.raises(openai.BadRequestError, match="has 1 turns and turn 2 was requested")
    with ScriptedServer("openai", {"turns": [{"text": "only"}]}) as server, exhausted:
        create(server, [PROMPT, {"role": "assistant", "content": "only"}, PROMPT])


def test_a_failing_template_answers_500() -> None:
    failing = {"turns": [{"text": '{{ $number("x") }}'}]}
    with (
        ScriptedServer("openai", failing) as server,
        pytest.raises(openai.InternalServerError, match="scripted model failed") as raised,
    ):
        create(server, [PROMPT])
    assert raised.value.body["type"] == "server_error"  # type: ignore[index]


@pytest.mark.parametrize("status", [500, 502, 503])
def test_injects_server_errors(status: int) -> None:
    with ScriptedServer("openai", SCRIPT, faults=[{"status": status}]) as server:
        with pytest.raises(openai.InternalServerError) as raised:
            create(server, [PROMPT])
        assert raised.value.status_code == status
        assert create(server, [PROMPT]).choices[0].finish_reason == "tool_calls"


def test_injects_rate_limits_with_retry_after() -> None:
    script = {**SCRIPT, "faults": [{"status": 429, "retry_after": "2"}]}
    with ScriptedServer("openai", script) as server:
        with pytest.raises(openai.RateLimitError) as raised:
            create(server, [PROMPT])
        assert raised.value.response.headers["retry-after"] == "2"
        assert raised.value.code == "rate_limit_exceeded"
        assert len(server.requests) == 1


def test_the_sdk_retries_a_rate_limit_as_told() -> None:
    script = {**SCRIPT, "faults": [{"status": 429, "retry_after": "0.2"}]}
    with ScriptedServer("openai", script) as server:
        retrying = client(server).with_options(max_retries=1)
        completion = retrying.chat.completions.create(model=MODEL, messages=[PROMPT], tools=TOOLS)
        assert completion.choices[0].finish_reason == "tool_calls"
        assert len(server.requests) == 2


def test_injects_delays_and_malformed_bodies() -> None:
    faults: list[dict[str, Any]] = [{"delay_seconds": 5}, {"malformed": True}]
    with ScriptedServer("openai", SCRIPT, faults=faults) as server:
        slow = client(server, timeout=0.2)
        with pytest.raises(openai.APITimeoutError):
            slow.chat.completions.create(model=MODEL, messages=[PROMPT], tools=TOOLS)
        # The SDK lets a truncated JSON body through as json.JSONDecodeError.
        with pytest.raises(ValueError):
            create(server, [PROMPT])


def test_survives_garbage() -> None:
    auth = {"authorization": "Bearer k", "content-type": "application/json"}
    with ScriptedServer("openai", SCRIPT) as server:
        for body, headers in [
            (b"\xff\x00not json", auth),
            (b"[1, 2]", auth),
            (b'{"model": "m", "messages": "hi"}', auth),
            (b'{"model": "m", "messages": [1]}', auth),
            (b"{}", {"content-length": "-5"}),
        ]:
            error = refused(f"{server.url}/v1/chat/completions", body, headers)
            assert error.code == 400
            assert set(json.loads(error.read())["error"]) == {
                "message",
                "type",
                "param",
                "code",
            }
        send_non_http(server)
        assert create(server, [PROMPT]).choices[0].finish_reason == "tool_calls"
