"""The shared run follower: incremental history reads (checked against the Step Functions service
model by botocore's Stubber), event-to-step translation and the poll pacing."""

import json
from datetime import UTC, datetime

import boto3
import pytest
from botocore.stub import Stubber

from sfn_agents.run_events import HistoryReader, PollInterval, StepTranslator, follow

ARN = "arn:aws:states:us-east-1:123456789012:execution:sfn-agents-dev-sql-agent:run-1"
WHEN = datetime(2026, 12, 1, tzinfo=UTC)


def event(event_id: int, kind: str = "PassStateEntered", **details) -> dict:
    return {"id": event_id, "type": kind, "timestamp": WHEN, **details}


def request(next_token: str | None = None) -> dict:
    expected = {
        "executionArn": ARN,
        "reverseOrder": True,
        "maxResults": 3,
        "includeExecutionData": True,
    }
    return expected | ({"nextToken": next_token} if next_token else {})


@pytest.fixture
def sfn():
    client = boto3.client("stepfunctions", region_name="us-east-1")
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def test_reads_back_only_to_the_last_event_seen(sfn):
    client, stubber = sfn
    reader = HistoryReader(client, ARN, page_size=3)
    # first read: two pages, newest first
    stubber.add_response(
        "get_execution_history",
        {"events": [event(5), event(4), event(3)], "nextToken": "t1"},
        request(),
    )
    stubber.add_response("get_execution_history", {"events": [event(2), event(1)]}, request("t1"))
    assert [e["id"] for e in reader.read()] == [1, 2, 3, 4, 5]
    # second read: one new event, one call although more history exists
    stubber.add_response(
        "get_execution_history",
        {"events": [event(6), event(5), event(4)], "nextToken": "t2"},
        request(),
    )
    assert [e["id"] for e in reader.read()] == [6]
    # nothing new
    stubber.add_response(
        "get_execution_history",
        {"events": [event(6), event(5), event(4)], "nextToken": "t3"},
        request(),
    )
    assert reader.read() == []
    assert reader.calls == 4


def test_an_endpoint_that_ignores_paging_still_yields_each_event_once(sfn):
    client, stubber = sfn
    reader = HistoryReader(client, ARN, page_size=3)
    stubber.add_response("get_execution_history", {"events": [event(1), event(2)]}, request())
    stubber.add_response(
        "get_execution_history", {"events": [event(1), event(2), event(3), event(4)]}, request()
    )
    assert [e["id"] for e in reader.read()] == [1, 2]
    assert [e["id"] for e in reader.read()] == [3, 4]


def test_the_first_page_is_sized_to_what_arrives_between_polls(sfn):
    client, stubber = sfn
    reader = HistoryReader(client, ARN)  # pages of up to 100
    ask = {"executionArn": ARN, "reverseOrder": True, "includeExecutionData": True}
    stubber.add_response(
        "get_execution_history",
        {"events": [event(3), event(2), event(1)]},
        ask | {"maxResults": 100},
    )
    assert [e["id"] for e in reader.read()] == [1, 2, 3]
    # 3 events came: the next poll asks for 10 (at least MIN_PAGE_SIZE), then the rest in 100s
    newest = [event(i) for i in range(20, 10, -1)]
    stubber.add_response(
        "get_execution_history", {"events": newest, "nextToken": "t1"}, ask | {"maxResults": 10}
    )
    older = [event(i) for i in range(10, 0, -1)]
    stubber.add_response(
        "get_execution_history",
        {"events": older},
        ask | {"maxResults": 100, "nextToken": "t1"},
    )
    assert [e["id"] for e in reader.read()] == list(range(4, 21))
    stubber.add_response("get_execution_history", {"events": [event(20)]}, ask | {"maxResults": 34})
    assert reader.read() == []


def exited(event_id: int, state: str, output: dict) -> dict:
    return event(
        event_id,
        "TaskStateExited",
        stateExitedEventDetails={"name": state, "output": json.dumps(output)},
    )


def test_translates_a_tool_turn_into_steps():
    reply = {
        "message": {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Let me look."},
                {"type": "tool_use", "id": "t1", "name": "execute_sql_query", "input": {"q": 1}},
            ],
        },
        "tool_calls": [{"id": "t1", "name": "execute_sql_query", "input": {"q": 1}}],
        "model": "claude",
        "usage": {"input_tokens": 10, "output_tokens": 2},
    }
    events = [
        event(1, "TaskStateEntered", stateEnteredEventDetails={"name": "CallModel"}),
        exited(2, "CallModel", {"StatusCode": 200, "Payload": reply}),
        event(
            3,
            "TaskStateEntered",
            stateEnteredEventDetails={
                "name": "RequestApproval",
                "input": json.dumps(
                    {"call": {"id": "t1", "name": "execute_sql_query", "input": {"q": 1}}}
                ),
            },
        ),
        exited(
            4,
            "RunApprovedTool",
            {"type": "tool_result", "tool_use_id": "t1", "content": "boom", "is_error": True},
        ),
        event(
            5,
            "ExecutionSucceeded",
            executionSucceededEventDetails={"output": json.dumps({"answer": "42"})},
        ),
    ]
    translator = StepTranslator()
    steps = translator.steps(events)
    assert [s["kind"] for s in steps] == [
        "model_turn",
        "text",
        "tool_call",
        "waiting",
        "tool_result",
        "finished",
    ]
    assert steps[2]["name"] == "execute_sql_query" and steps[2]["input"] == {"q": 1}
    assert steps[3]["wait"] == "approval" and steps[3]["input"] == {"q": 1}
    assert steps[4]["name"] == "execute_sql_query" and steps[4]["is_error"] is True
    assert steps[5]["status"] == "SUCCEEDED" and steps[5]["output"] == {"answer": "42"}
    assert [s["cursor"] for s in steps] == [2, 2, 2, 3, 4, 5]
    assert translator.transitions == 2


def test_poll_interval_backs_off_while_idle_and_stays_within_quota():
    interval = PollInterval.for_endpoint(local=False)
    waits = [interval.next(news=False) for _ in range(12)]
    assert waits[0] == 0.3 and waits == sorted(waits) and waits[-1] == 5.0
    assert interval.next(news=True) == 0.3  # at most 3.3 polls a second, a second page spare


def test_follow_stops_at_the_end_of_the_run(sfn):
    client, stubber = sfn
    reader = HistoryReader(client, ARN, page_size=3)
    stubber.add_response("get_execution_history", {"events": []}, request())
    stubber.add_response(
        "get_execution_history",
        {
            "events": [
                event(
                    2, "ExecutionFailed", executionFailedEventDetails={"error": "E", "cause": "c"}
                ),
                event(1),
            ]
        },
        request(),
    )
    slept: list[float] = []
    seen: list[str] = []
    final = follow(reader, lambda s: seen.append(s["kind"]), PollInterval(0.1, 1.0), slept.append)
    assert final["status"] == "FAILED" and final["error"] == "E"
    assert seen == ["finished"] and slept == [0.1]


def test_the_pages_of_a_read_are_paced_like_reads(sfn):
    """Against AWS a poll that needed two pages waits the interval before its second page too:
    no two calls come closer than the interval, so a followed run stays within 3.3 calls a
    second however many events arrive."""
    client, stubber = sfn
    reader = HistoryReader(client, ARN, page_size=3)
    stubber.add_response(
        "get_execution_history",
        {"events": [event(4), event(3), event(2)], "nextToken": "t1"},
        request(),
    )
    stubber.add_response("get_execution_history", {"events": [event(1)]}, request("t1"))
    stubber.add_response(
        "get_execution_history", {"events": [event(5, "ExecutionSucceeded")]}, request()
    )
    slept: list[float] = []
    final = follow(reader, lambda s: None, PollInterval(0.3, 5.0), slept.append)
    assert final["status"] == "SUCCEEDED"
    assert slept == [0.3, 0.3] and reader.calls == 3
