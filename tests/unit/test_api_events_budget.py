"""GET /runs/{id}/events keeps each response within a budget of step data, well inside Lambda's
6 MB: a run with more is read in several responses (``more``), each step once and in order, with
the same steps as one response that holds them all. The Step Functions calls are checked against
its service model by botocore's Stubber."""

import json
from datetime import UTC, datetime
from types import SimpleNamespace

import boto3
import pytest
from agent_api import runs
from agent_api.runs import Runs
from agent_api.settings import ApiSettings
from botocore.stub import ANY, Stubber

PREFIX = "arn:aws:states:us-east-1:123456789012:"
RUN_ID = "sql-agent." + "0" * 32
WHEN = datetime(2026, 12, 1, tzinfo=UTC)
RESULT = "x" * 1_000  # each tool result's content


def history() -> list[dict]:
    """A finished run with ten tool results, newest first as the API reads it."""
    events = [{"id": 1, "type": "ExecutionStarted", "timestamp": WHEN}]
    for n in range(10):
        output = {"type": "tool_result", "tool_use_id": f"t{n}", "name": "q", "content": RESULT}
        events.append(
            {
                "id": n + 2,
                "type": "TaskStateExited",
                "timestamp": WHEN,
                "stateExitedEventDetails": {"name": "RunTool", "output": json.dumps(output)},
            }
        )
    events.append(
        {
            "id": 12,
            "type": "ExecutionSucceeded",
            "timestamp": WHEN,
            "executionSucceededEventDetails": {"output": json.dumps({"answer": "done"})},
        }
    )
    return events[::-1]


@pytest.fixture
def api_runs():
    sfn = boto3.client("stepfunctions", region_name="us-east-1")
    settings = ApiSettings(
        agent_table="agents",
        tool_table="tools",
        runs_table="runs",
        approvals_table="approvals",
        artifact_bucket="bucket",
        states_arn_prefix=PREFIX,
        name_prefix="sfn-agents-dev-",
        ui_origin="http://localhost",
    )
    catalog = SimpleNamespace(agents=lambda: {"sql-agent": object()})
    with Stubber(sfn) as stubber:
        yield Runs(settings=settings, catalog=catalog, sfn=sfn, table=None), stubber


def read_all(api_runs: Runs, stubber: Stubber) -> tuple[list[dict], int]:
    """Every step, following ``next`` while ``more``; and how many responses that took."""
    steps: list[dict] = []
    cursor, responses = None, 0
    while True:
        stubber.add_response(
            "get_execution_history",
            {"events": history()},
            {
                "executionArn": f"{PREFIX}execution:sfn-agents-dev-sql-agent:{RUN_ID}",
                "reverseOrder": True,
                "maxResults": ANY,
                "includeExecutionData": True,
            },
        )
        page = api_runs.events(RUN_ID, cursor)
        responses += 1
        assert page["status"] == "SUCCEEDED"  # the run's status, whether or not all fit
        steps += page["events"]
        cursor = page["next"]
        if not page["more"]:
            return steps, responses


def test_a_run_over_the_budget_comes_in_several_responses(api_runs, monkeypatch):
    runs_api, stubber = api_runs
    whole, responses = read_all(runs_api, stubber)
    assert responses == 1 and [s["kind"] for s in whole] == ["tool_result"] * 10 + ["finished"]
    monkeypatch.setattr(runs, "STEP_BUDGET_BYTES", 2_500)  # two results and a bit
    parts, responses = read_all(runs_api, stubber)
    assert responses == 4  # 3 + 3 + 3 + the last result and the end
    assert parts == whole
