"""Human approval, remote execution and supervisor agents in the local engine, with scripts."""

import json
import time
from concurrent.futures import Future, ThreadPoolExecutor

import boto3
import pytest

from sfn_agents.approvals import ApprovalDesk
from sfn_agents.worker import WorkerConfig, serve


def query(sql: str) -> dict:
    return {"name": "execute_sql_query", "input": {"sql_query": sql}}


class Desk(ApprovalDesk):
    """The terminal's desk, showing only requests that arrive after it was made (the engine and
    its approvals table serve the whole test session)."""

    def __init__(self, sfn, dynamodb) -> None:
        super().__init__(sfn, dynamodb)
        self.before = {a["approval_id"] for a in super().pending()}

    def pending(self) -> list[dict]:
        return [a for a in super().pending() if a["approval_id"] not in self.before]


@pytest.fixture
def desk(engine):
    dynamodb = boto3.resource("dynamodb", endpoint_url=engine.endpoint, region_name="us-east-1")
    return Desk(engine.client("stepfunctions"), dynamodb)


def approve(desk: ApprovalDesk, approval: dict, notes: str = "", reviewer: str = "ana") -> None:
    desk.answer(
        approval["approval_id"], {"approved": True, "review_notes": notes}, {"name": reviewer}
    )


@pytest.fixture
def in_background():
    executor = ThreadPoolExecutor(2)
    yield executor.submit
    executor.shutdown(wait=True)


def wait_for_approvals(desk: ApprovalDesk, count: int = 1, seconds: float = 30) -> list:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        pending = desk.pending()
        if len(pending) >= count:
            return pending
        time.sleep(0.2)
    raise AssertionError("no approval request arrived")


def iteration_transitions(run, tool_use_id: str) -> int:
    """States entered by the Map iteration that handled one tool call."""
    events = run.result.events
    starts = [e["id"] for e in events if e["type"] == "MapIterationStarted"]
    ends = [
        e["id"]
        for e in events
        if e["type"].startswith("MapIteration") and e["type"] != "MapIterationStarted"
    ]
    for start, end in zip(starts, ends, strict=False):
        inside = [e for e in events if start < e["id"] <= end]
        outputs = [e.get("stateExitedEventDetails", {}).get("output", "") for e in inside]
        if any(tool_use_id in output for output in outputs):
            return sum(1 for e in inside if e["type"].endswith("StateEntered"))
    raise AssertionError(f"no iteration for {tool_use_id}")


APPROVAL_SCRIPT = {
    "turns": [
        {"tool_calls": [query("SELECT name FROM teams ORDER BY name")]},
        {"text": "{{ results[0] }}"},
    ]
}


def test_approved_query_runs_and_costs_four_transitions(run_agent, desk, in_background):
    future: Future = in_background(run_agent, APPROVAL_SCRIPT, agent="sql-approval-agent")
    (approval,) = wait_for_approvals(desk)
    assert approval["tool"] == "execute_sql_query"
    assert approval["input"] == {"sql_query": "SELECT name FROM teams ORDER BY name"}
    assert approval["agent"] == "sql-approval-agent"
    assert approval["tool_use_id"].startswith("toolu_")
    assert approval["requested_at"]

    approve(desk, approval, notes="read-only, fine", reviewer="ana@example.com")
    run = future.result(timeout=60)

    assert run.result.status == "SUCCEEDED"
    assert approval["run_id"] == run.result.execution_arn.rsplit(":", 1)[-1]
    (result,) = run.tool_results()
    assert result["is_error"] is False and json.loads(result["content"])["row_count"] == 30
    assert iteration_transitions(run, approval["tool_use_id"]) == 4
    assert desk.pending() == []


def test_rejected_query_reaches_the_model_which_changes_its_approach(
    run_agent, desk, in_background
):
    script = {
        "turns": [
            {"tool_calls": [query("SELECT * FROM players")]},
            {"tool_calls": [query("SELECT COUNT(*) FROM players")]},
            {"text": "There are {{ results[0].rows[0][0] }} players."},
        ]
    }
    future: Future = in_background(run_agent, script, agent="sql-approval-agent")
    (first,) = wait_for_approvals(desk)
    rejection = {
        "approved": False,
        "rejection_reason": "Do not dump personal data",
        "review_notes": "Aggregate instead",
    }
    desk.answer(first["approval_id"], rejection, {"name": "jo"})
    (second,) = wait_for_approvals(desk)
    assert second["input"]["sql_query"] == "SELECT COUNT(*) FROM players"
    approve(desk, second)
    run = future.result(timeout=60)

    assert run.result.status == "SUCCEEDED"
    rejected, counted = run.tool_results()
    content = json.loads(rejected["content"])
    assert rejected["is_error"] is True
    assert content["status"] == "rejected"
    assert content["reason"] == "Do not dump personal data"
    assert content["reviewer"] == "jo" and content["review_notes"] == "Aggregate instead"
    assert content["message"].startswith("Tool execution rejected by jo. Reason: Do not dump")
    assert counted["is_error"] is False
    assert run.output["answer"] == "There are 750 players."


def test_no_answer_within_the_timeout_is_a_result_not_a_failure(run_agent):
    run = run_agent(APPROVAL_SCRIPT, agent="sql-approval-agent", approval_timeout_seconds=1)

    assert run.result.status == "SUCCEEDED"
    (result,) = run.tool_results()
    assert result["is_error"] is True
    assert json.loads(result["content"]) == {
        "status": "timeout",
        "message": "No reviewer answered within 1 seconds, so execute_sql_query did not run.",
    }


def shell(command: str) -> dict:
    return {"name": "run_shell_command", "input": {"command": command}}


@pytest.fixture
def shell_worker(engine, in_background):
    sfn = engine.client("stepfunctions")
    (arn,) = [
        a["activityArn"]
        for a in sfn.list_activities()["activities"]
        if a["name"].endswith("run-shell-command")
    ]

    def start(tasks: int = 1) -> None:
        config = WorkerConfig(allow=frozenset({"echo", "false"}), timeout_seconds=10)
        for _ in range(tasks):
            in_background(serve, sfn, arn, config, True)

    return start


def test_remote_worker_runs_an_allowed_command(run_agent, shell_worker):
    shell_worker()
    run = run_agent(
        {"turns": [{"tool_calls": [shell("echo hello from the worker")]}, {"text": "ok"}]},
        agent="ops-agent",
    )

    (result,) = run.tool_results()
    content = json.loads(result["content"])
    assert result["is_error"] is False
    assert content["status"] == "success" and content["exit_code"] == 0
    assert content["output"] == "hello from the worker\n"
    assert content["execution_time_ms"] >= 0


def test_remote_failures_and_refusals_are_error_results(run_agent, shell_worker):
    shell_worker(tasks=2)
    run = run_agent(
        {
            "turns": [
                {"tool_calls": [shell("false")]},
                {"tool_calls": [shell("rm -rf /tmp/x")]},
                {"text": "ok"},
            ]
        },
        agent="ops-agent",
    )

    failed, refused = (json.loads(r["content"]) for r in run.tool_results())
    assert failed["status"] == "error" and failed["exit_code"] == 1
    assert refused["status"] == "error"
    assert refused["error"] == "rm is not on this worker's allow-list (echo, false)"


def test_remote_timeout_reaches_the_model(run_agent, engine):
    dynamodb = engine.client("dynamodb")
    key = {"tool_name": {"S": "run_shell_command"}, "version": {"S": "1.0.0"}}
    dynamodb.update_item(
        TableName="sfn-agents-tools-dev",
        Key=key,
        UpdateExpression="SET timeout_seconds = :t",
        ExpressionAttributeValues={":t": {"N": "1"}},
    )
    try:
        run = run_agent(
            {"turns": [{"tool_calls": [shell("echo nobody listens")]}, {"text": "ok"}]},
            agent="ops-agent",
        )
    finally:
        dynamodb.update_item(
            TableName="sfn-agents-tools-dev",
            Key=key,
            UpdateExpression="SET timeout_seconds = :t",
            ExpressionAttributeValues={":t": {"N": "300"}},
        )
    (result,) = run.tool_results()
    assert result["is_error"] is True
    assert (
        json.loads(result["content"])["error"]
        == "Remote execution of run_shell_command timed out after 1 seconds."
    )


SUPERVISOR_SCRIPT = {
    "agents": [
        {
            "tools": ["ask_sql_agent"],
            "turns": [
                {
                    "tool_calls": [
                        {"name": "ask_sql_agent", "input": {"prompt": "How many teams are there?"}},
                        {"name": "ask_schema_agent", "input": {"prompt": "Where are wins stored?"}},
                    ]
                },
                {
                    "text": "SQL agent: {{ results[0].answer }} "
                    "Schema agent: {{ results[1].answer }}"
                },
            ],
        },
        {
            "tools": ["execute_sql_query"],
            "turns": [
                {"tool_calls": [query("SELECT COUNT(*) FROM teams")]},
                {"text": "There are {{ results[0].rows[0][0] }} teams."},
            ],
        },
        {
            "tools": ["get_db_schema"],
            "turns": [
                {"tool_calls": [{"name": "get_db_schema", "input": {}}]},
                {"text": "Wins are in {{ $join(results[0].tables[columns.wins].name, ', ') }}."},
            ],
        },
    ]
}


def test_supervisor_combines_two_sub_agents_run_as_their_own_executions(run_agent, engine):
    run = run_agent(SUPERVISOR_SCRIPT, agent="analytics-supervisor")

    assert run.result.status == "SUCCEEDED"
    assert (
        run.output["answer"] == "SQL agent: There are 30 teams. Schema agent: Wins are in seasons."
    )
    sql_result, schema_result = (json.loads(r["content"]) for r in run.tool_results())
    sfn = engine.client("stepfunctions")
    child = sfn.describe_execution(executionArn=sql_result["execution_arn"])
    assert child["status"] == "SUCCEEDED"
    assert child["stateMachineArn"] == engine.state_machine_for("sql-agent")
    assert (
        json.loads(child["input"])["AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID"]
        == run.result.execution_arn
    )
    assert schema_result["stop_reason"] == "end_turn"


def test_a_supervisors_output_totals_include_its_sub_agents(run_agent, engine):
    run = run_agent(SUPERVISOR_SCRIPT, agent="analytics-supervisor")

    sfn = engine.client("stepfunctions")
    children = [
        json.loads(
            sfn.describe_execution(executionArn=json.loads(r["content"])["execution_arn"])["output"]
        )
        for r in run.tool_results()
    ]
    usage, receipt = run.output["usage"], run.output["receipt"]
    own_model_usd = receipt["model_cost_usd"]
    for name in ("input_tokens", "output_tokens", "cost_usd"):
        assert usage[name] > sum(child["usage"][name] for child in children) > 0, name
    assert usage["cost_usd"] == pytest.approx(
        own_model_usd + sum(c["usage"]["cost_usd"] for c in children)
    )
    assert receipt["sub_agents"] == 2
    assert receipt["sub_agents_transitions"] == sum(c["receipt"]["transitions"] for c in children)
    assert receipt["sub_agents_cost_usd"] == pytest.approx(
        sum(c["receipt"]["cost_usd"] for c in children)
    )
    # the run's own transitions, as Step Functions bills them, at the Standard price
    assert receipt["transitions"] == run.result.transitions
    assert receipt["transitions_cost_usd"] == pytest.approx(receipt["transitions"] * 25e-6)
    assert receipt["cost_usd"] == pytest.approx(
        own_model_usd + receipt["transitions_cost_usd"] + receipt["sub_agents_cost_usd"]
    )
    # the model saw the tool results without the receipt's bookkeeping
    assert all(set(r) <= {"type", "tool_use_id", "content", "is_error"} for r in run.tool_results())


def test_a_failing_sub_agent_reaches_the_supervisor_as_an_error_result(run_agent):
    script = {
        "agents": [
            {
                "tools": ["ask_sql_agent"],
                "turns": [
                    {"tool_calls": [{"name": "ask_sql_agent", "input": {"prompt": "Count teams"}}]},
                    {"text": "The SQL agent failed, sorry."},
                ],
            },
            # the SQL agent's script runs out after one turn: its provider rejects turn 2
            {"tools": ["execute_sql_query"], "turns": [{"tool_calls": [query("SELECT 1")]}]},
        ]
    }
    run = run_agent(script, agent="analytics-supervisor")

    assert run.result.status == "SUCCEEDED"
    (result,) = run.tool_results()
    assert result["is_error"] is True
    assert result["content"].startswith("Error: tool ask_sql_agent failed (States.TaskFailed)")
    assert "LlmFatalError" in result["content"]
    assert run.output["answer"] == "The SQL agent failed, sorry."
