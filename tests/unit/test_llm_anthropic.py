"""The Anthropic LLM function: the real handler and SDK against the strict scripted fake, with S3
and Secrets Manager in moto."""

import functools
import json

import boto3
import pytest
from aws_lambda_powertools.utilities import parameters
from moto import mock_aws
from provider_cases import SQL_TOOLS, LambdaContext

from sfn_agents.scripted import ScriptedServer

SECRET_KEY = "sk-ant-test-DO-NOT-LOG-7f3a9c"
TOOLS = SQL_TOOLS
Context = functools.partial(LambdaContext, "llm-anthropic")


def event(new_messages, conversation=None, turn=1):
    return {
        "agent": {
            "name": "sql-agent",
            "system_prompt": "Be brief.",
            "provider": "anthropic",
            "model": "",
        },
        "tools": TOOLS,
        "conversation": conversation,
        "new_messages": new_messages,
        "context": {"execution": "exec-1", "state_machine": "sm", "turn": turn},
    }


def user(text):
    return [{"role": "user", "content": [{"type": "text", "text": text}]}]


@pytest.fixture
def aws():
    with mock_aws():
        boto3.client("s3").create_bucket(Bucket="artifacts")
        boto3.client("secretsmanager").create_secret(
            Name="/sfn-agents/test/llm-api-keys",
            SecretString=json.dumps({"ANTHROPIC_API_KEY": SECRET_KEY}),
        )
        yield


@pytest.fixture
def handler_for(load_function, aws):
    def load(script, **env):
        fake = ScriptedServer("anthropic", script)
        fake.start()
        handlers.append(fake)
        return fake, load_function(
            "functions/llm/anthropic",
            env={
                "ANTHROPIC_BASE_URL": fake.url,
                "LLM_API_KEYS_SECRET": "/sfn-agents/test/llm-api-keys",
                "ARTIFACT_BUCKET": "artifacts",
                "DEFAULT_MODEL": "claude-sonnet-5-5",
                "POWERTOOLS_SERVICE_NAME": "llm-anthropic",
                **env,
            },
        )

    handlers: list[ScriptedServer] = []
    yield load
    for fake in handlers:
        fake.stop()


def test_a_tool_turn_then_an_answer_with_history_in_s3(handler_for):
    fake, handler = handler_for(
        {
            "turns": [
                {
                    "text": "Two queries.",
                    "tool_calls": [
                        {"name": "execute_sql_query", "input": {"sql_query": "SELECT 1"}},
                        {"name": "execute_sql_query", "input": {"sql_query": "SELECT 2"}},
                    ],
                },
                {"text": "Got {{ results[0] }} and {{ results[1] }}."},
            ]
        }
    )
    first = handler(event(user("count")), Context())
    calls = first["tool_calls"]
    assert first["stop_reason"] == "tool_use"
    assert [c["input"]["sql_query"] for c in calls] == ["SELECT 1", "SELECT 2"]
    assert all(c["error"] is None for c in calls)
    assert first["conversation"]["messages"] == 2
    assert fake.requests[0]["system"] == "Be brief."
    assert fake.requests[0]["model"] == "claude-sonnet-5-5"

    results = [
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": c["id"],
                    "content": str(i),
                    "is_error": False,
                }
                for i, c in enumerate(calls, 1)
            ],
        }
    ]
    second = handler(event(results, first["conversation"], turn=2), Context())

    assert second["stop_reason"] == "end_turn"
    assert second["message"]["content"][0]["text"] == "Got 1 and 2."
    assert second["conversation"]["messages"] == 4
    stored = json.loads(
        boto3.client("s3")
        .get_object(Bucket="artifacts", Key=second["conversation"]["key"])["Body"]
        .read()
    )
    assert [m["role"] for m in stored["messages"]] == ["user", "assistant", "user", "assistant"]
    assert second["usage"]["input_tokens"] > 0 and second["priced"] is True


def test_unknown_tools_and_schema_violations_are_flagged_not_run(handler_for):
    _, handler = handler_for(
        {
            "turns": [
                {
                    "tool_calls": [
                        {"name": "rm_rf", "input": {}},
                        {"name": "execute_sql_query", "input": {"sql": "SELECT 1"}},
                    ]
                }
            ]
        }
    )
    unknown, invalid = handler(event(user("go")), Context())["tool_calls"]
    assert unknown["error"].startswith(
        "Unknown tool rm_rf. Available tools: execute_sql_query, get_db_schema"
    )
    assert invalid["error"].startswith("Invalid input for tool execute_sql_query")


@pytest.mark.parametrize(
    ("faults", "error_type", "text"),
    [
        ([{"status": 529}] * 3, "LlmRetryableError", "HTTP 529 overloaded_error"),
        ([{"status": 500}] * 3, "LlmRetryableError", "HTTP 500"),
        (
            [{"status": 429, "retry_after": "0"}] * 3,
            "LlmRetryableError",
            "HTTP 429 rate_limit_error",
        ),
        ([{"malformed": True}], "LlmRetryableError", "malformed response"),
        ([{"delay_seconds": 2}] * 3, "LlmRetryableError", "timed out"),
    ],
)
def test_provider_faults_raise_typed_errors(handler_for, faults, error_type, text):
    _, handler = handler_for(
        {"turns": [{"text": "hi"}], "faults": faults}, LLM_MAX_RETRIES="2", LLM_TIMEOUT_SECONDS="1"
    )
    with pytest.raises(Exception) as raised:
        handler(event(user("hi")), Context())
    assert type(raised.value).__name__ == error_type
    assert text in str(raised.value) and "claude-sonnet-5-5" in str(raised.value)


def test_rate_limit_is_survived_by_sdk_retries_honouring_retry_after(handler_for):
    fake, handler = handler_for(
        {"turns": [{"text": "hi"}], "faults": [{"status": 429, "retry_after": "0"}]}
    )
    assert handler(event(user("hi")), Context())["message"]["content"][0]["text"] == "hi"
    assert len(fake.requests) == 2


def test_a_bad_request_is_fatal_and_names_provider_and_model(handler_for):
    _, handler = handler_for({"turns": [{"text": "only one"}]})
    bad_tools = {**event(user("a")), "tools": [{"name": "bad name", "input_schema": {}}]}
    with pytest.raises(Exception) as raised:  # the API refuses a tool name with a space
        handler(bad_tools, Context())
    assert type(raised.value).__name__ == "LlmFatalError"
    assert str(raised.value).startswith(
        "anthropic claude-sonnet-5-5: HTTP 400 invalid_request_error"
    )


@pytest.mark.parametrize(
    ("new_messages", "complaint"),
    [
        ([{"role": "system", "content": []}], "role 'user' or 'assistant'"),
        (user("a") + user("b"), "roles must alternate"),
        (user("   "), "empty or whitespace"),
        ([{"role": "user", "content": [{"type": "text", "text": 5}]}], "text must be a str"),
        (
            [
                {
                    "role": "user",
                    "content": [{"type": "tool_result", "tool_use_id": "t", "content": "x"}],
                }
            ],
            "answers no tool_use",
        ),
    ],
)
def test_malformed_event_is_rejected_before_any_call(handler_for, new_messages, complaint):
    fake, handler = handler_for({"turns": [{"text": "x"}]})
    with pytest.raises(Exception) as raised:
        handler(event(new_messages), Context())
    assert type(raised.value).__name__ == "MalformedLlmEvent"
    assert complaint in str(raised.value)
    assert fake.requests == []


def test_missing_key_is_fatal_and_the_key_never_reaches_the_log(handler_for, capsys):
    _, handler = handler_for(
        {"turns": [{"text": "x"}, {"text": "y"}]}, POWERTOOLS_LOG_LEVEL="DEBUG"
    )
    handler(event(user("hi")), Context())
    output = capsys.readouterr()
    assert SECRET_KEY not in output.out + output.err

    boto3.client("secretsmanager").put_secret_value(
        SecretId="/sfn-agents/test/llm-api-keys", SecretString="{}"
    )
    parameters.clear_caches()  # Powertools caches the secret for 5 minutes, as in a warm Lambda
    _, fresh = handler_for({"turns": [{"text": "x"}]})
    with pytest.raises(Exception) as raised:
        fresh(event(user("hi")), Context())
    assert type(raised.value).__name__ == "LlmFatalError"
    assert "has no ANTHROPIC_API_KEY" in str(raised.value)
