"""Activity tasks in moto's engine: workers poll GetActivityTask and answer with the task token."""

import json
import os
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from sfn_cases import create_machine, run_execution

from sfn_agents import moto_activities


@pytest.fixture(scope="module")
def endpoint(moto_sfn_endpoint: str) -> Iterator[str]:
    moto_activities.install(poll_seconds=5)
    yield moto_sfn_endpoint
    moto_activities.POLL_SECONDS = 55.0


@pytest.fixture(scope="module")
def sfn(endpoint: str) -> Any:
    return boto3.client("stepfunctions", endpoint_url=endpoint, region_name="us-east-1")


@pytest.fixture
def activity(sfn: Any) -> str:
    return sfn.create_activity(name=f"act-{uuid.uuid4().hex[:8]}")["activityArn"]


def _machine(sfn: Any, activity: str, **task_fields: Any) -> str:
    task = {
        "Type": "Task",
        "Resource": activity,
        "Arguments": {"question": "{% $states.input.question %}"},
        "Output": {"answer": "{% $states.result %}"},
        "Catch": [
            {
                "ErrorEquals": ["States.HeartbeatTimeout"],
                "Next": "Caught",
                "Output": {"heartbeat": "{% $states.errorOutput %}"},
            },
            {
                "ErrorEquals": ["States.ALL"],
                "Next": "Caught",
                "Output": {"caught": "{% $states.errorOutput %}"},
            },
        ],
        "End": True,
        **task_fields,
    }
    definition = {
        "QueryLanguage": "JSONata",
        "StartAt": "Ask",
        "States": {"Ask": task, "Caught": {"Type": "Pass", "End": True}},
    }
    return create_machine(sfn, definition)


def _worker(target: Any) -> threading.Thread:
    errors: list[BaseException] = []

    def run() -> None:
        try:
            target()
        except BaseException as error:
            errors.append(error)

    thread = threading.Thread(target=run, daemon=True)
    thread.errors = errors  # type: ignore[attr-defined]
    thread.start()
    return thread


def _take(sfn: Any, activity: str, **worker: Any) -> dict[str, Any]:
    """A task, polling again after an empty poll as workers do (a loaded machine can take longer
    than one poll to start the execution)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        task: dict[str, Any] = sfn.get_activity_task(activityArn=activity, **worker)
        if task.get("taskToken"):
            return task
    raise AssertionError("no task within 30 s")


def _join(thread: threading.Thread) -> None:
    thread.join(40)
    assert not thread.is_alive()
    assert not thread.errors  # type: ignore[attr-defined]


def test_list_and_describe_activities(sfn: Any, activity: str) -> None:
    assert activity in [a["activityArn"] for a in sfn.list_activities()["activities"]]
    described = sfn.describe_activity(activityArn=activity)
    assert described["name"] == activity.rsplit(":", 1)[1]


def test_worker_success_continues_with_its_output(sfn: Any, activity: str) -> None:
    machine = _machine(sfn, activity, TimeoutSeconds=25)
    seen: list[dict] = []

    def work() -> None:
        task = _take(sfn, activity, workerName="w1")
        seen.append(json.loads(task["input"]))
        sfn.send_task_success(taskToken=task["taskToken"], output=json.dumps({"n": 42}))

    worker = _worker(work)
    result = run_execution(sfn, machine, {"question": "life"}, timeout=30)
    _join(worker)
    assert seen == [{"question": "life"}]
    assert result["status"] == "SUCCEEDED"
    assert json.loads(result["output"]) == {"answer": {"n": 42}}
    history = sfn.get_execution_history(executionArn=result["executionArn"])["events"]
    started = [e for e in history if e["type"] == "ActivityStarted"]
    assert started[0]["activityStartedEventDetails"] == {"workerName": "w1"}


def test_worker_failure_reaches_the_catch_with_error_and_cause(sfn: Any, activity: str) -> None:
    machine = _machine(sfn, activity)

    def work() -> None:
        task = _take(sfn, activity)
        sfn.send_task_failure(taskToken=task["taskToken"], error="Tool.Broken", cause="disk full")

    worker = _worker(work)
    result = run_execution(sfn, machine, {"question": "q"}, timeout=30)
    _join(worker)
    assert json.loads(result["output"]) == {
        "caught": {"Error": "Tool.Broken", "Cause": "disk full"}
    }


def test_no_answer_within_timeout_seconds_is_a_caught_states_timeout(
    sfn: Any, activity: str
) -> None:
    machine = _machine(sfn, activity, TimeoutSeconds=1)
    tokens: list[str] = []
    worker = _worker(lambda: tokens.append(_take(sfn, activity)["taskToken"]))
    result = run_execution(sfn, machine, {"question": "slow"})
    _join(worker)
    assert json.loads(result["output"])["caught"]["Error"] == "States.Timeout"
    with pytest.raises(sfn.exceptions.ClientError, match="TaskTimedOut"):
        sfn.send_task_success(taskToken=tokens[0], output="{}")


def test_a_task_nobody_picked_before_its_timeout_is_not_handed_out_later(
    sfn: Any, activity: str
) -> None:
    result = run_execution(sfn, _machine(sfn, activity, TimeoutSeconds=1), {"question": "lost"})
    assert json.loads(result["output"])["caught"]["Error"] == "States.Timeout"
    moto_activities.POLL_SECONDS, saved = 0.2, moto_activities.POLL_SECONDS
    try:
        assert not sfn.get_activity_task(activityArn=activity).get("taskToken")
    finally:
        moto_activities.POLL_SECONDS = saved


def test_missed_heartbeat_is_caught_as_heartbeat_timeout(sfn: Any, activity: str) -> None:
    machine = _machine(sfn, activity, TimeoutSeconds=10, HeartbeatSeconds=1)
    worker = _worker(lambda: _take(sfn, activity))  # takes it, goes quiet
    result = run_execution(sfn, machine, {"question": "quiet"})
    _join(worker)
    # AWS records a missed heartbeat as States.Timeout; States.HeartbeatTimeout catches it.
    assert json.loads(result["output"])["heartbeat"]["Error"] == "States.Timeout"


def test_heartbeats_keep_a_long_task_alive(sfn: Any, activity: str) -> None:
    # The task outlives its heartbeat interval (4 s > 3 s); each gap (1 s) leaves slack for load.
    machine = _machine(sfn, activity, TimeoutSeconds=20, HeartbeatSeconds=3)

    def work() -> None:
        token = _take(sfn, activity)["taskToken"]
        for _ in range(4):
            time.sleep(1.0)
            sfn.send_task_heartbeat(taskToken=token)
        sfn.send_task_success(taskToken=token, output='"done"')

    worker = _worker(work)
    result = run_execution(sfn, machine, {"question": "long"}, timeout=30)
    _join(worker)
    assert json.loads(result["output"]) == {"answer": "done"}


def test_get_activity_task_returns_empty_when_nothing_is_pending(sfn: Any, activity: str) -> None:
    moto_activities.POLL_SECONDS, saved = 0.3, moto_activities.POLL_SECONDS
    try:
        started = time.monotonic()
        task = sfn.get_activity_task(activityArn=activity)
        waited = time.monotonic() - started
    finally:
        moto_activities.POLL_SECONDS = saved
    assert not task.get("taskToken")
    assert 0.25 < waited < 3


def test_an_external_process_polls_and_answers(sfn: Any, activity: str, endpoint: str) -> None:
    script = textwrap.dedent(
        """
        import json, sys
        import boto3
        sfn = boto3.client("stepfunctions", endpoint_url=sys.argv[1], region_name="us-east-1")
        task = sfn.get_activity_task(activityArn=sys.argv[2], workerName="external")
        question = json.loads(task["input"])["question"]
        sfn.send_task_success(taskToken=task["taskToken"], output=json.dumps(question.upper()))
        """
    )
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x"}
    worker = subprocess.Popen([sys.executable, "-c", script, endpoint, activity], env=env)
    try:
        result = run_execution(
            sfn, _machine(sfn, activity, TimeoutSeconds=15), {"question": "hi"}, 15
        )
        assert worker.wait(10) == 0
    finally:
        if worker.poll() is None:
            worker.kill()
    assert json.loads(result["output"]) == {"answer": "HI"}
