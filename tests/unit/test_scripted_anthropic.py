"""The scripted model, Anthropic protocol, driven through the real anthropic SDK."""

import json
from collections.abc import Iterator
from typing import Any

import anthropic
import pytest
from provider_cases import SQL_SCRIPT, SQL_TOOLS, refused, scripted_model, send_non_http

from sfn_agents.scripted import ScriptedServer, ScriptError, load_script

MODEL = "claude-sonnet-5-5"
TOOLS: Any = SQL_TOOLS
SCRIPT = SQL_SCRIPT
PROMPT: Any = {"role": "user", "content": "Which team was best?"}
fake = scripted_model("anthropic", SCRIPT)
HTTP = anthropic.DefaultHttpxClient()  # shared: building one per client costs ~0.1 s


@pytest.fixture(scope="module", autouse=True)
def _close_http() -> Iterator[None]:
    yield
    HTTP.close()


def client(server: ScriptedServer, **options: Any) -> anthropic.Anthropic:
    return anthropic.Anthropic(
        api_key="test-key", base_url=server.url, max_retries=0, http_client=HTTP, **options
    )


def create(server: ScriptedServer, messages: list[Any], **params: Any) -> Any:
    params = {"model": MODEL, "max_tokens": 100, "tools": TOOLS, **params}
    return client(server).messages.create(messages=messages, **params)


def replayed(message: Any) -> dict[str, Any]:
    """A response as the assistant message of the next request."""
    return {
        "role": "assistant",
        "content": [b.model_dump(exclude_none=True) for b in message.content],
    }


def results(message: Any, *contents: str) -> dict[str, Any]:
    """The user message answering each tool_use of `message` with `contents`, in order."""
    uses = [b for b in message.content if b.type == "tool_use"]
    blocks = [
        {"type": "tool_result", "tool_use_id": u.id, "content": c}
        for u, c in zip(uses, contents, strict=True)
    ]
    return {"role": "user", "content": blocks}


def test_plays_a_conversation_with_parallel_tool_calls(fake: ScriptedServer) -> None:
    history: list[Any] = [PROMPT]
    first = create(fake, history)
    assert first.stop_reason == "tool_use"
    assert [(b.type, b.name, b.input) for b in first.content] == [("tool_use", "get_db_schema", {})]
    assert first.content[0].id.startswith("toolu_") and len(first.content[0].id) == 30

    history += [replayed(first), results(first, "CREATE TABLE teams (name, wins)")]
    second = create(fake, history)
    assert second.stop_reason == "tool_use"
    assert second.content[0].text == "Running two queries."
    calls = second.content[1:]
    assert [c.input["sql_query"] for c in calls] == ["SELECT team", "SELECT wins"]
    assert len({c.id for c in calls} | {first.content[0].id}) == 3

    history += [replayed(second), results(second, '{"rows": [["Lions"]]}', "42")]
    final = create(fake, history)
    assert final.stop_reason == "end_turn"
    assert [b.text for b in final.content] == ["The best team was Lions with 42 wins."]
    assert final.model == MODEL and final.id.startswith("msg_")
    assert final.usage.input_tokens > 1 and final.usage.output_tokens >= 1
    assert final.usage.cache_read_input_tokens == 0
    assert len(fake.requests) == 3 and fake.requests[2]["messages"] == history
    # Ids are stable: replaying a turn gives the same ids.
    assert create(fake, history[:3]).content[1].id == calls[0].id


TOOL_USE = {"type": "tool_use", "id": "toolu_a", "name": "get_db_schema", "input": {}}
RESULT = {"type": "tool_result", "tool_use_id": "toolu_a", "content": "ok"}


def asked(content: Any) -> dict[str, Any]:
    return {"role": "assistant", "content": content}


def told(content: Any) -> dict[str, Any]:
    return {"role": "user", "content": content}


@pytest.mark.parametrize(
    ("messages", "params", "message"),
    [
        ([], {}, "messages: at least one message is required"),
        ([{"role": "system", "content": "x"}, PROMPT], {}, "top-level `system` parameter"),
        ([asked("hi"), PROMPT], {}, 'first message must use the "user" role'),
        ([PROMPT, PROMPT], {}, 'found multiple "user" roles in a row'),
        ([told("")], {}, "messages.0: all messages must have non-empty content"),
        ([told([{"type": "text"}])], {}, "messages.0.content.0.text: Field required"),
        ([told([{"type": "video"}])], {}, "Input tag 'video' found using 'type'"),
        ([told([TOOL_USE])], {}, "messages.0.content.0: `tool_use` blocks can only be in"),
        (
            [PROMPT, asked([TOOL_USE]), told("thanks")],
            {},
            "messages.1: `tool_use` ids were found without `tool_result` blocks immediately "
            "after: toolu_a. Each `tool_use` block must have a corresponding `tool_result`",
        ),
        (
            [PROMPT, asked([TOOL_USE]), told([{"type": "text", "text": "see:"}, RESULT])],
            {},
            "messages.1: `tool_use` ids were found without `tool_result` blocks",
        ),
        (
            [PROMPT, asked("hi"), told([RESULT])],
            {},
            "messages.2.content.0: unexpected `tool_use_id` found in `tool_result` blocks: toolu_a",
        ),
        (
            [PROMPT, asked([TOOL_USE]), told([RESULT])],
            {"tools": anthropic.omit},
            "Requests which include `tool_use` or `tool_result` blocks must define tools.",
        ),
        ([PROMPT, asked("Sure")], {}, "does not support assistant message prefill"),
        ([PROMPT], {"max_tokens": 0}, "max_tokens: Input should be greater than or equal to 1"),
        ([PROMPT], {"system": [{"type": "image"}]}, "system.0.type: Input tag 'image'"),
        (
            [PROMPT],
            {"tools": [{"name": "bad name", "input_schema": {"type": "object"}}]},
            "tools.0.name: String should match pattern '^[a-zA-Z0-9_-]{1,64}$'",
        ),
        (
            [PROMPT],
            {"tools": [{"name": "t", "input_schema": {"type": "array"}}]},
            "tools.0.input_schema.type: Input should be 'object'",
        ),
        ([PROMPT], {"tools": TOOLS + TOOLS[:1]}, "tools: Tool names must be unique."),
        (
            [PROMPT],
            {"tools": anthropic.omit, "tool_choice": {"type": "any"}},
            "tool_choice may only be specified while providing tools.",
        ),
        ([PROMPT], {"tool_choice": {"type": "tool", "name": "nope"}}, "tool `nope` is not in"),
        ([PROMPT], {"extra_body": {"colour": "red"}}, "colour: Extra inputs are not permitted"),
    ],
)
def test_rejects_what_the_real_api_rejects(
    fake: ScriptedServer, messages: list[Any], params: dict[str, Any], message: str
) -> None:
    with pytest.raises(anthropic.BadRequestError) as raised:
        create(fake, messages, **params)
    assert raised.value.status_code == 400
    assert message in raised.value.message
    assert raised.value.body["error"]["type"] == "invalid_request_error"  # type: ignore[index]
    assert raised.value.request_id and raised.value.request_id.startswith("req_")


def test_requires_auth_and_version_headers(fake: ScriptedServer) -> None:
    with pytest.raises(anthropic.AuthenticationError, match="x-api-key header is required"):
        create(fake, [PROMPT], extra_headers={"Authorization": anthropic.Omit()})
    with pytest.raises(anthropic.BadRequestError, match="anthropic-version: header is required"):
        create(fake, [PROMPT], extra_headers={"anthropic-version": anthropic.Omit()})
    # Older SDKs send the key as x-api-key.
    older = {"Authorization": anthropic.Omit(), "x-api-key": "test-key"}
    assert create(fake, [PROMPT], extra_headers=older).stop_reason == "tool_use"


def test_reports_a_script_that_ran_out_of_turns() -> None:
    exhausted = pytest.raises(
        anthropic.BadRequestError, match="has 1 turns and turn 2 was requested"
    )
    with ScriptedServer("anthropic", {"turns": [{"text": "only"}]}) as server, exhausted:
        create(server, [PROMPT, asked("only"), told("and?")])


def test_a_failing_template_answers_500() -> None:
    failing = {"turns": [{"text": '{{ $number("x") }}'}]}
    with (
        ScriptedServer("anthropic", failing) as server,
        pytest.raises(anthropic.InternalServerError, match="scripted model failed"),
    ):
        create(server, [PROMPT])


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (500, anthropic.InternalServerError),
        (503, anthropic.ServiceUnavailableError),
        (529, anthropic.OverloadedError),
    ],
)
def test_injects_server_errors(status: int, error: type[Exception]) -> None:
    with ScriptedServer("anthropic", SCRIPT, faults=[{"status": status}]) as server:
        with pytest.raises(error):
            create(server, [PROMPT])
        assert create(server, [PROMPT]).stop_reason == "tool_use"


def test_injects_rate_limits_with_retry_after() -> None:
    script = {**SCRIPT, "faults": [{"status": 429, "retry_after": "2"}]}
    with ScriptedServer("anthropic", script) as server:
        with pytest.raises(anthropic.RateLimitError) as raised:
            create(server, [PROMPT])
        assert raised.value.response.headers["retry-after"] == "2"
        assert raised.value.body["error"]["type"] == "rate_limit_error"  # type: ignore[index]
        assert len(server.requests) == 1


def test_injects_delays_and_malformed_bodies() -> None:
    faults: list[dict[str, Any]] = [{"delay_seconds": 5}, {"malformed": True}]
    with ScriptedServer("anthropic", SCRIPT, faults=faults) as server:
        slow = client(server, timeout=0.2)
        with pytest.raises(anthropic.APITimeoutError):
            slow.messages.create(model=MODEL, max_tokens=10, messages=[PROMPT], tools=TOOLS)
        # The SDK lets a truncated JSON body through as json.JSONDecodeError.
        with pytest.raises(ValueError):
            create(server, [PROMPT])


def test_counts_the_seconds_spent_answering_until_the_next_play() -> None:
    with ScriptedServer("anthropic", SCRIPT, faults=[{"delay_seconds": 1}]) as server:
        create(server, [PROMPT])  # delayed: a slow provider
        assert 1 <= server.busy_seconds < 5
        server.play(SCRIPT)
        assert server.busy_seconds == 0
        create(server, [PROMPT])
        assert 0 < server.busy_seconds < 1


def test_survives_garbage() -> None:
    with ScriptedServer("anthropic", SCRIPT) as server:
        for body, headers in [
            (b"\xff\x00not json", {"x-api-key": "k", "anthropic-version": "1"}),
            (b"[1, 2]", {"x-api-key": "k", "anthropic-version": "1"}),
            (b"{}", {"content-length": "-5"}),
        ]:
            error = refused(f"{server.url}/v1/messages", body, headers)
            assert error.code == 400
            assert json.loads(error.read())["type"] == "error"
        send_non_http(server)
        assert create(server, [PROMPT]).stop_reason == "tool_use"


@pytest.mark.parametrize(
    ("script", "field"),
    [
        ({}, "turns: must be a non-empty list"),
        ({"turns": [{}]}, "turns[0]: needs `text`, `tool_calls` or both"),
        ({"turns": [{"txt": "x"}]}, "turns[0].txt: unknown field"),
        ({"turns": [{"tool_calls": [{"input": {}}]}]}, "turns[0].tool_calls[0].name"),
        ({"turns": [{"tool_calls": [{"name": "t", "input": 1}]}]}, "tool_calls[0].input"),
        ({"turns": [{"text": "{{ results[ }}"}]}, "turns[0].text: bad expression"),
        ({"turns": [{"text": "x", "stop_reason": "done"}]}, "turns[0].stop_reason"),
        ({"turns": [{"text": "x"}], "faults": [{"status": 200}]}, "faults[0].status"),
        ({"turns": [{"text": "x"}], "faults": [{}]}, "faults[0]: needs"),
    ],
)
def test_script_errors_name_the_field(script: dict[str, Any], field: str) -> None:
    with pytest.raises(ScriptError, match=field.replace("[", r"\[").replace("(", r"\(")):
        load_script(script)


def test_loads_a_script_file_and_rejects_unknown_protocols(tmp_path: Any) -> None:
    path = tmp_path / "script.json"
    path.write_text(json.dumps(SCRIPT))
    assert len(load_script(path).turns) == 3
    with pytest.raises(ValueError, match="unknown protocol 'script'"):
        ScriptedServer("script", path)
