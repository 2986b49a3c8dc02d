"""Conversations that last: sessions, history keyed per execution, limits as caps, the cost
budget and tool results of any size, through the real definition, handlers and strict fakes."""

import json
import threading
import time
from typing import Any

import pytest

from sfn_agents.history import load_messages, session_store

ECHO = {"turns": [{"text": "You asked: {{ messages[0].content[0].text }}"}]}
# Turn 1 answers the first run; turn 2, the follow-up, sees the first exchange in its request.
FOLLOW_UP = {
    "turns": [
        {"text": "There are 30 teams."},
        {"text": "{{ $count(messages) }} messages; earlier: {{ messages[1].content[0].text }}"},
    ]
}


def big_value_query(chars: int) -> dict[str, Any]:
    """A query whose one cell is `chars` characters long."""
    return {
        "name": "execute_sql_query",
        "input": {"sql_query": f"SELECT substr(hex(zeroblob({chars // 2 + 1})), 1, {chars})"},
    }


@pytest.fixture
def sessions(engine):
    engine.ensure(["SessionsTable", "ArtifactBucket"])
    table, bucket = engine.resolver.refs["SessionsTable"], engine.resolver.refs["ArtifactBucket"]
    return session_store(table, bucket, engine.client("dynamodb"), engine.client("s3"))


def test_a_follow_up_in_the_session_sees_the_earlier_exchange(run_agent, scripted_model, sessions):
    first = run_agent(FOLLOW_UP, prompt="How many teams?", session_id="s-follow-up")
    assert first.result.status == "SUCCEEDED", first.result.cause
    assert first.output["session_id"] == "s-follow-up"

    second = run_agent(FOLLOW_UP, prompt="And players?", session_id="s-follow-up")
    assert second.result.status == "SUCCEEDED", second.result.cause
    assert second.output["answer"] == "3 messages; earlier: There are 30 teams."
    sent = scripted_model.requests["anthropic"][-1]["messages"]
    assert [m["content"][0]["text"] for m in sent] == [
        "How many teams?",
        "There are 30 teams.",
        "And players?",
    ]

    other = run_agent(FOLLOW_UP, prompt="And players?", session_id="s-other")
    assert other.output["answer"] == "There are 30 teams."  # turn 1: nothing earlier

    item = sessions.get("s-follow-up")
    assert item["agent"] == "sql-agent" and item["runs"] == 2 and item["turns"] == 2
    assert item["usage"]["cost_usd"] > 0 and "active_execution" not in item
    assert item["expires_at"] > time.time() + 29 * 86400
    assert [m["role"] for m in sessions.messages("s-follow-up")] == ["user", "assistant"] * 2
    assert second.messages == sessions.messages("s-follow-up")
    listed = [s["session_id"] for s in sessions.list(agent="sql-agent")]
    assert listed.index("s-other") < listed.index("s-follow-up")  # newest first
    assert sessions.delete("s-other") is True and sessions.get("s-other") is None
    assert sessions.delete("s-other") is False


def test_a_session_is_bound_to_its_agent(run_agent):
    assert run_agent(ECHO, session_id="s-bound").result.status == "SUCCEEDED"

    other = run_agent(ECHO, agent="schema-agent", session_id="s-bound")
    assert other.result.status == "FAILED" and other.result.error == "SessionRefused"
    assert "belongs to agent sql-agent" in other.result.cause


def test_a_second_run_of_a_busy_session_is_refused_and_loses_nothing(
    run_agent, scripted_model, sessions
):
    answers = [{"text": "first answer"}, {"text": "second answer"}]
    slow = {"turns": answers, "faults": [{"delay_seconds": 3}]}
    runs: dict[str, Any] = {}
    first = threading.Thread(
        target=lambda: runs.setdefault("first", run_agent(slow, "one", session_id="s-busy"))
    )
    first.start()
    time.sleep(1.5)
    second = run_agent({"turns": answers}, prompt="two", session_id="s-busy")
    first.join()

    assert runs["first"].result.status == "SUCCEEDED", runs["first"].result.cause
    assert second.result.status == "FAILED" and second.result.error == "SessionRefused"
    assert "is in use by execution" in second.result.cause
    again = run_agent({"turns": answers}, prompt="two", session_id="s-busy")
    assert again.result.status == "SUCCEEDED", again.result.cause
    texts = [m["content"][0]["text"] for m in sessions.messages("s-busy")]
    assert texts == ["one", "first answer", "two", "second answer"]


def test_a_stopped_runs_lock_is_taken_over_by_the_next_run(
    engine, run_agent, scripted_model, sessions
):
    assert run_agent(FOLLOW_UP, "How many teams?", session_id="s-stopped").output["turns"] == 1
    scripted_model.play({**FOLLOW_UP, "faults": [{"delay_seconds": 3}]})
    sfn = engine.client("stepfunctions")
    stuck = sfn.start_execution(
        stateMachineArn=engine.state_machine_for("sql-agent"),
        input=json.dumps({"prompt": "Never answered", "session_id": "s-stopped"}),
    )["executionArn"]
    deadline = time.monotonic() + 30
    while sessions.get("s-stopped").get("active_execution") != stuck:  # it holds the lock
        assert time.monotonic() < deadline, "the second run never took the session's lock"
        time.sleep(0.1)
    sfn.stop_execution(executionArn=stuck)
    # moto shows ABORTED once the model call in flight returns (AWS at once)
    while sfn.describe_execution(executionArn=stuck)["status"] == "RUNNING":
        assert time.monotonic() < deadline, "the stopped run kept running"
        time.sleep(0.1)
    assert sfn.describe_execution(executionArn=stuck)["status"] == "ABORTED"
    assert sessions.get("s-stopped")["active_execution"] == stuck  # it kept the lock

    again = run_agent(FOLLOW_UP, prompt="And players?", session_id="s-stopped")

    assert again.result.status == "SUCCEEDED", again.result.cause
    assert again.output["answer"] == "3 messages; earlier: There are 30 teams."
    item = sessions.get("s-stopped")
    assert item["runs"] == 2 and "active_execution" not in item
    texts = [m["content"][0]["text"] for m in sessions.messages("s-stopped")]
    assert texts == [
        "How many teams?",
        "There are 30 teams.",
        "And players?",
        "3 messages; earlier: There are 30 teams.",
    ]


def test_executions_named_x_plus_1_and_x_equals_1_keep_their_own_history(engine, scripted_model):
    scripted_model.play(ECHO)
    sfn = engine.client("stepfunctions")
    machine = engine.state_machine_for("sql-agent")
    suffix = str(time.time_ns())
    arns = {
        name: sfn.start_execution(
            stateMachineArn=machine, name=f"{name}-{suffix}", input=json.dumps({"prompt": name})
        )["executionArn"]
        for name in ("x+1", "x=1")
    }
    outputs = {}
    for name, arn in arns.items():
        while (described := sfn.describe_execution(executionArn=arn))["status"] == "RUNNING":
            time.sleep(0.05)
        outputs[name] = json.loads(described["output"])
    assert {n: o["answer"] for n, o in outputs.items()} == {
        "x+1": "You asked: x+1",
        "x=1": "You asked: x=1",
    }
    keys = {o["conversation"]["key"] for o in outputs.values()}
    assert len(keys) == 2
    for name, output in outputs.items():
        messages = load_messages(engine.client("s3"), output["conversation"])
        assert messages[0]["content"][0]["text"] == name


TOOL_LOOP = {"turns": [{"tool_calls": [big_value_query(10)]}] * 5 + [{"text": "done"}]}


@pytest.mark.parametrize(
    "limits, problem",
    [
        ({"max_turns": 40}, "input max_turns=40 exceeds the agent's limit 20"),
        ({"max_turns": 0}, "input max_turns must be a positive whole number, got 0"),
        ({"max_total_tokens": -5}, "must be a positive whole number, got -5"),
        ({"max_input_tokens": 1.5}, "must be a positive whole number, got 1.5"),
        ({"max_turns": "3"}, "must be a positive whole number, got 3"),
        ({"max_cost_usd": 0}, "input max_cost_usd must be a positive number, got 0"),
    ],
)
def test_bad_or_raised_limits_fail_at_the_start(run_agent, scripted_model, limits, problem):
    run = run_agent(TOOL_LOOP, **limits)
    assert run.result.status == "FAILED"
    assert problem in run.result.cause
    assert scripted_model.requests["anthropic"] == []  # no paid model call


def test_limits_the_input_lowers_are_honoured(run_agent):
    run = run_agent(TOOL_LOOP, max_turns=2)
    assert run.output["stop_reason"] == "max_turns" and run.output["turns"] == 2


def test_the_cost_budget_stops_a_run(run_agent):
    run = run_agent(TOOL_LOOP, max_cost_usd=0.000001)
    assert run.result.status == "SUCCEEDED"
    assert run.output["stop_reason"] == "cost_budget" and run.output["turns"] == 1


def test_three_90_kb_results_in_one_turn_complete(run_agent):
    script = {"turns": [{"tool_calls": [big_value_query(90_000)] * 3}, {"text": "done"}]}
    run = run_agent(script)
    assert run.result.status == "SUCCEEDED", run.result.cause
    results = run.tool_results()
    assert len(results) == 3
    for result in results:
        assert len(result["content"]) < 16_384 and "result truncated" in result["content"]
        assert result["content_ref"]["chars"] > 90_000  # the whole result is in S3


@pytest.fixture
def long_running_sql_agent(engine, run_agent):
    """The SQL agent with max_turns raised to 250: a spec change, which only the registry makes."""
    run_agent(ECHO)  # the agent and its registry entry are deployed
    dynamodb = engine.client("dynamodb")
    table = engine.resolver.refs["AgentRegistryTable"]
    key = {"agent_name": {"S": "sql-agent"}, "version": {"S": "1"}}
    item = dynamodb.get_item(TableName=table, Key=key)["Item"]
    spec = json.loads(item["spec"]["S"])
    raised = {**spec, "limits": {**spec["limits"], "max_turns": 250, "max_total_tokens": 10**9}}
    dynamodb.put_item(TableName=table, Item={**item, "spec": {"S": json.dumps(raised)}})
    yield
    dynamodb.put_item(TableName=table, Item=item)


def test_a_200_turn_run_stays_inside_its_input_budget(
    run_agent, scripted_model, long_running_sql_agent
):
    script = {"turns": [{"tool_calls": [big_value_query(14_000)]}] * 199 + [{"text": "done"}]}
    run = run_agent(script, max_input_tokens=30_000, max_turns=200, timeout_seconds=900)

    assert run.result.status == "SUCCEEDED", run.result.cause
    assert run.output["turns"] == 200 and run.output["answer"] == "done"
    requests = scripted_model.requests["anthropic"]
    assert len(requests) == 200  # the strict fake refused none
    assert max(len(json.dumps(r)) for r in requests) < 30_000 * 4  # the fake's chars per token
    assert len(run.messages) == 400  # the full history is kept
    assert len(run.tool_results()[0]["content"]) > 14_000


def test_a_failed_run_releases_its_session(run_agent, sessions):
    # the script has one turn: the strict fake refuses the second, so the run fails
    failing = {"turns": [{"tool_calls": [big_value_query(10)]}]}
    failed = run_agent(failing, prompt="one", session_id="s-crashed")
    assert failed.result.status == "FAILED" and failed.result.error == "LlmFatalError"
    assert "active_execution" not in sessions.get("s-crashed")

    again = run_agent(ECHO, prompt="two", session_id="s-crashed")
    assert again.result.status == "SUCCEEDED", again.result.cause


def test_a_session_stores_the_user_id_only_when_given(run_agent, sessions):
    assert run_agent(ECHO, session_id="s-anonymous").result.status == "SUCCEEDED"
    assert "user_id" not in sessions.get("s-anonymous")
    claimed = run_agent(ECHO, session_id="s-anonymous", user_id="alice")
    assert "belongs to another user" in claimed.result.cause

    assert run_agent(ECHO, session_id="s-alice", user_id="alice").result.status == "SUCCEEDED"
    assert sessions.get("s-alice")["user_id"] == "alice"
    anonymous = run_agent(ECHO, session_id="s-alice")
    assert anonymous.result.error == "SessionRefused"
    assert "belongs to another user" in anonymous.result.cause
    follow_up = {"turns": ECHO["turns"] * 2}  # the session's second model turn
    assert run_agent(follow_up, session_id="s-alice", user_id="alice").result.status == "SUCCEEDED"
