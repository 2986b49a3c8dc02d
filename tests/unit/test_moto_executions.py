"""The execution API as AWS has it: history pages, the input limit, StopExecution of a waiting
run, and a bounded number of kept executions."""

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto.stepfunctions.parser.utils import TMP_THREADS
from sfn_cases import create_machine, run_execution

from sfn_agents import moto_activities, moto_executions


@pytest.fixture(scope="module")
def sfn(moto_sfn_endpoint: str) -> Iterator[Any]:
    moto_executions.install()
    moto_activities.install(poll_seconds=1)
    yield boto3.client("stepfunctions", endpoint_url=moto_sfn_endpoint, region_name="us-east-1")
    moto_activities.POLL_SECONDS = 55.0


def _passes(count: int) -> dict[str, Any]:
    states = {f"P{i}": {"Type": "Pass", "Next": f"P{i + 1}"} for i in range(count)}
    states[f"P{count}"] = {"Type": "Succeed"}
    return {"QueryLanguage": "JSONata", "StartAt": "P0", "States": states}


@pytest.fixture(scope="module")
def long_history(sfn: Any) -> tuple[str, list[dict[str, Any]]]:
    """An execution of 130 Pass states (263 events) and its whole history, read in one call."""
    machine = create_machine(sfn, _passes(130))
    execution = run_execution(sfn, machine, {})
    whole = sfn.get_execution_history(executionArn=execution["executionArn"], maxResults=1000)
    return execution["executionArn"], whole["events"]


def test_history_comes_in_pages_of_100_by_default(sfn, long_history):
    arn, whole = long_history
    assert len(whole) > 200
    first = sfn.get_execution_history(executionArn=arn)
    assert [e["id"] for e in first["events"]] == list(range(1, 101))
    second = sfn.get_execution_history(executionArn=arn, nextToken=first["nextToken"])
    assert second["events"][0]["id"] == 101


def test_following_next_tokens_reads_every_event_once_in_order(sfn, long_history):
    arn, whole = long_history
    events, arguments = [], {"executionArn": arn, "maxResults": 7}
    while True:
        page = sfn.get_execution_history(**arguments)
        assert len(page["events"]) <= 7
        events += page["events"]
        if "nextToken" not in page:
            break
        arguments["nextToken"] = page["nextToken"]
    assert [e["id"] for e in events] == [e["id"] for e in whole]


def test_reverse_order_pages_from_the_newest_event(sfn, long_history):
    arn, whole = long_history
    first = sfn.get_execution_history(executionArn=arn, maxResults=3, reverseOrder=True)
    assert first["events"][0]["type"] == "ExecutionSucceeded"
    assert [e["id"] for e in first["events"]] == [len(whole), len(whole) - 1, len(whole) - 2]
    second = sfn.get_execution_history(
        executionArn=arn, maxResults=3, reverseOrder=True, nextToken=first["nextToken"]
    )
    assert [e["id"] for e in second["events"]] == [len(whole) - 3, len(whole) - 4, len(whole) - 5]


def test_pages_read_as_moto_s_serializer_writes_them(sfn, monkeypatch):
    """History pages are written as JSON directly; a client reads them exactly as it reads
    moto's generic serializer's (timestamps, details, a failure, a token)."""
    definition = {
        "QueryLanguage": "JSONata",
        "StartAt": "Shape",
        "States": {
            "Shape": {"Type": "Pass", "Output": {"n": 1, "é": ["\\/", None, True]}, "Next": "No"},
            "No": {"Type": "Fail", "Error": "Because", "Cause": "{% 'a ' & $string(1) %}"},
        },
    }
    execution = run_execution(sfn, create_machine(sfn, definition), {"x": "y"})
    request = {"executionArn": execution["executionArn"], "maxResults": 4, "reverseOrder": True}
    bodies: list[bytes] = []
    sfn.meta.events.register(
        "before-parse.states.GetExecutionHistory",
        lambda response_dict, **_: bodies.append(response_dict["body"]),
    )
    direct = sfn.get_execution_history(**request)
    monkeypatch.setattr(moto_executions, "history_json", moto_executions.ActionResult)
    serialized = sfn.get_execution_history(**request)
    for page in (direct, serialized):
        page.pop("ResponseMetadata")
    assert direct == serialized
    # On the wire too: timestamps are epoch seconds, as AWS sends them (not text to parse).
    wire = [[event["timestamp"] for event in json.loads(body)["events"]] for body in bodies]
    assert wire[0] == wire[1] and all(isinstance(t, float) for t in wire[0])
    assert direct["events"][0]["executionFailedEventDetails"]["cause"] == "a 1"
    assert direct["events"][0]["timestamp"].tzinfo is not None and "nextToken" in direct


def test_a_token_of_another_request_is_refused(sfn, long_history):
    arn, _ = long_history
    token = sfn.get_execution_history(executionArn=arn, maxResults=2)["nextToken"]
    with pytest.raises(ClientError, match="InvalidToken"):
        sfn.get_execution_history(executionArn=arn, nextToken=token, reverseOrder=True)
    with pytest.raises(ClientError, match="InvalidToken"):
        sfn.get_execution_history(executionArn=arn, nextToken="not-a-token")


def test_an_input_over_256_kib_is_rejected_as_aws_does(sfn):
    machine = create_machine(sfn, _passes(1))
    with pytest.raises(ClientError, match="less than or equal to 262144") as raised:
        sfn.start_execution(stateMachineArn=machine, input=json.dumps({"x": "a" * 300_000}))
    assert raised.value.response["Error"]["Code"] == "ValidationException"
    just_fits = json.dumps({"x": "a" * (262_144 - 9)})
    assert len(just_fits) == 262_144
    assert sfn.start_execution(stateMachineArn=machine, input=just_fits)["executionArn"]


def _wait_until(predicate: Any, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


@pytest.mark.parametrize("waiting_on", ["activity", "task token"])
def test_stop_execution_stops_a_run_that_waits(sfn, waiting_on):
    if waiting_on == "activity":
        resource = sfn.create_activity(name=f"act-{uuid.uuid4().hex[:8]}")["activityArn"]
        task: dict[str, Any] = {"Resource": resource}
    else:
        resource = "arn:aws:states:::lambda:invoke.waitForTaskToken"
        task = {"Resource": resource, "Arguments": {"FunctionName": "nowhere"}}
    machine = create_machine(
        sfn,
        {
            "QueryLanguage": "JSONata",
            "StartAt": "Wait",
            "States": {"Wait": {"Type": "Task", "TimeoutSeconds": 300, "End": True, **task}},
        },
    )
    arn = sfn.start_execution(stateMachineArn=machine, input="{}")["executionArn"]
    scheduled = "ActivityScheduled" if waiting_on == "activity" else "TaskScheduled"
    _wait_until(
        lambda: any(
            e["type"] == scheduled
            for e in sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
        )
    )
    started = time.monotonic()
    sfn.stop_execution(executionArn=arn, error="User.Stop", cause="no longer needed")
    _wait_until(lambda: sfn.describe_execution(executionArn=arn)["status"] != "RUNNING", 5)
    assert time.monotonic() - started < 5
    assert sfn.describe_execution(executionArn=arn)["status"] == "ABORTED"
    last = sfn.get_execution_history(executionArn=arn, reverseOrder=True, maxResults=1)
    assert last["events"][0]["type"] == "ExecutionAborted"


def test_a_long_lived_engine_keeps_a_bounded_number_of_ended_executions(sfn, monkeypatch):
    monkeypatch.setattr(moto_executions, "KEEP_ENDED_EXECUTIONS", 3)
    machine = create_machine(sfn, _passes(1))
    arns = [run_execution(sfn, machine, {"n": n})["executionArn"] for n in range(6)]
    kept = sfn.list_executions(stateMachineArn=machine)["executions"]
    assert len(kept) <= 4  # the bound, plus the one that ended after the last start
    assert sfn.describe_execution(executionArn=arns[-1])["status"] == "SUCCEEDED"
    with pytest.raises(ClientError, match="ExecutionDoesNotExist"):
        sfn.describe_execution(executionArn=arns[0])


def test_finished_engine_threads_are_not_kept(sfn):
    machine = create_machine(
        sfn,
        {
            "QueryLanguage": "JSONata",
            "StartAt": "Each",
            "States": {
                "Each": {
                    "Type": "Map",
                    "Items": "{% [1, 2, 3, 4] %}",
                    "ItemProcessor": {
                        "StartAt": "P",
                        "States": {"P": {"Type": "Pass", "End": True}},
                    },
                    "End": True,
                }
            },
        },
    )

    def run_to_the_end() -> list[Any]:
        """One execution; its threads, once they finished (others' may be running: not counted)."""
        before = set(TMP_THREADS)
        run_execution(sfn, machine, {})
        started = [thread for thread in TMP_THREADS if thread not in before]
        for thread in started:
            thread.join(timeout=5)
        return started

    ours = [thread for _ in range(10) for thread in run_to_the_end()]
    one_run = len(ours) / 10
    assert one_run >= 5  # the execution, its four iterations, ...: the test sees them
    assert sum(thread in TMP_THREADS for thread in ours) <= one_run + 1


def test_the_shared_follower_reads_each_event_once_from_the_paged_history(sfn, long_history):
    from sfn_agents.run_events import HistoryReader

    arn, whole = long_history
    reader = HistoryReader(sfn, arn, after=len(whole) - 150, page_size=40)
    assert [e["id"] for e in reader.read()] == [e["id"] for e in whole[-150:]]
    assert reader.calls == 4  # 150 new events in pages of 40, newest first
    assert reader.read() == []
