"""One approvals store for the terminal and the HTTP API: a request either side took is listed by
both under the same id, answered from one, refused (409 / exit 1) from the other, and the run
finishes. Each request and each decision counts once in the EMF metrics, whichever side made it:
ApprovalMetricsFunction counts them from the table's stream, and nothing else does."""

import json
import runpy
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from test_api import KEY, UI_SCRIPT, Client, approval_of, start

from sfn_agents import cli
from sfn_agents.local_api import LocalApi

ROOT = Path(__file__).resolve().parents[2]
EMITTED = runpy.run_path(str(ROOT / "layers/agent_core/agent_core/metric_names.py"))["EMITTED"]


@pytest.fixture(scope="module")
def api(engine, scripted_model) -> Iterator[Client]:
    scripted_model.play(UI_SCRIPT)
    with LocalApi(engine, port=0, api_key=KEY) as local:
        yield Client(local.url)


@pytest.fixture
def function_logs(engine, monkeypatch) -> list[str]:
    """What every function (the API's, the approvals' stream's, ...) logged, one entry per
    invocation."""
    logs: list[str] = []
    invoke = engine.functions.invoke

    def logged(name: str, event: Any) -> Any:
        payload, errored, log = invoke(name, event)
        logs.append(log)
        return payload, errored, log

    monkeypatch.setattr(engine.functions, "invoke", logged)
    return logs


@pytest.fixture
def terminal(engine, monkeypatch, capsys):
    """``sfn-agents ARGS`` against the engine: (exit code, stdout lines, stderr)."""
    monkeypatch.setenv("SFN_AGENTS_ENDPOINT", engine.endpoint)

    def run(*argv: str) -> tuple[int, list[str], str]:
        capsys.readouterr()
        code = cli.main(list(argv))
        out, err = capsys.readouterr()
        return code, out.splitlines(), err

    return run


def metrics(logs: list[str], name: str) -> list[dict[str, Any]]:
    return [
        document
        for log in logs
        for line in log.splitlines()
        if line.startswith("{") and '"_aws"' in line
        for document in [json.loads(line)]
        if name in document
    ]


def counted(logs: list[str], name: str) -> dict[str, Any]:
    """The one EMF document of ``name`` in the logs: from the stream's function, with the
    dimension sets metric_names declares."""
    (document,) = metrics(logs, name)
    assert document["service"] == "approval-metrics" and document["environment"] == "dev"
    assert document[name] == [1.0] and as_declared(document, name)
    return document


def as_declared(document: dict[str, Any], name: str) -> bool:
    """Whether the document carries ``name`` with exactly the dimension sets metric_names
    declares for it (environment aside), as the dashboard test assumes."""
    sets = {
        tuple(sorted(set(dimensions) - {"environment"}))
        for directive in document["_aws"]["CloudWatchMetrics"]
        for dimensions in directive["Dimensions"]
    }
    return sets == {tuple(sorted(s)) for s in EMITTED[name]}


def table(engine) -> Any:
    dynamodb = boto3.resource("dynamodb", endpoint_url=engine.endpoint, region_name="us-east-1")
    return dynamodb.Table("sfn-agents-approvals-dev")


def table_item(engine, approval: str) -> dict[str, Any]:
    return table(engine).get_item(Key={"approval_id": approval})["Item"]


def test_the_terminal_takes_the_api_answers_and_the_terminal_is_refused(
    api, function_logs, terminal, engine
):
    started = start(api)
    approval = approval_of(api.follow(started["run_id"], until="waiting"))

    code, lines, _ = terminal("approvals")  # the terminal looks first: it takes the request
    assert code == 0
    (line,) = [row for row in lines if row.startswith(approval)]
    assert line == (
        f"{approval}  sql-approval-agent  execute_sql_query  "
        '{"sql_query": "SELECT COUNT(*) AS players FROM players"}'
    )
    listed = {a["approval_id"]: a for a in api.ok("GET", "/approvals")["approvals"]}
    assert listed[approval]["run_id"] == started["run_id"]

    api.ok("POST", f"/approvals/{approval}/approve", {"reviewer": "ana"})
    code, lines, err = terminal("reject", approval, "--reason", "too late")
    assert (code, lines) == (1, [])
    assert err == f"sfn-agents: approval {approval} was already answered: approved by ana\n"

    steps = api.follow(started["run_id"])
    assert steps[-1]["output"]["answer"] == "The database holds 750 players."
    requested = counted(function_logs, "ApprovalsRequested")  # recorded by the terminal
    assert requested["agent"] == "sql-approval-agent"
    answered = counted(function_logs, "ApprovalsAnswered")  # by the API, refused to the terminal
    assert answered["decision"] == "approved" and answered["agent"] == "sql-approval-agent"


def test_the_api_takes_the_terminal_answers_and_the_api_is_refused(
    api, function_logs, terminal, engine
):
    started = start(api)
    approval = approval_of(api.follow(started["run_id"], until="waiting"))
    assert approval in {a["approval_id"] for a in api.ok("GET", "/approvals")["approvals"]}
    assert counted(function_logs, "ApprovalsRequested")["agent"] == "sql-approval-agent"

    code, lines, _ = terminal("approvals")
    assert code == 0 and any(row.startswith(f"{approval}  sql-approval-agent") for row in lines)
    code, lines, err = terminal("reject", approval, "--reason", "count players with batting lines")
    assert (code, err) == (0, "")
    assert lines == [f"rejected {approval}: execute_sql_query for sql-approval-agent"]

    status, again, _ = api.call("POST", f"/approvals/{approval}/approve", {})
    assert status == 409 and "already answered: rejected by" in again["message"]
    code, _, err = terminal("approve", approval)
    assert code == 1 and "already answered: rejected" in err
    assert approval not in {a["approval_id"] for a in api.ok("GET", "/approvals")["approvals"]}

    reviewer = table_item(engine, approval)["reviewer"]
    assert reviewer["name"] and reviewer["user"].startswith(f"{reviewer['name']}@")
    assert "aws_identity" not in reviewer  # the engine has no identity worth recording
    steps = api.follow(started["run_id"])
    result = json.loads(next(s for s in steps if s["kind"] == "tool_result")["content"])
    assert result["status"] == "rejected" and result["reviewer"] == reviewer["name"]
    assert "rejected my query (count players with batting lines)" in steps[-1]["output"]["answer"]
    answered = counted(function_logs, "ApprovalsAnswered")  # by the terminal, refused to the API
    assert answered["decision"] == "rejected" and answered["agent"] == "sql-approval-agent"
    counted(function_logs, "ApprovalsRequested")  # still once: listing again records nothing


def test_an_unknown_id_is_a_usage_error_and_a_missing_table_a_failure(terminal):
    code, _, err = terminal("approve", "0000000000000000")
    assert code == 2 and "no pending approval 0000000000000000" in err
    code, _, err = terminal("approvals", "--env", "nowhere")
    assert code == 1
    assert "no approvals table sfn-agents-approvals-nowhere at http://127.0.0.1:" in err


def test_requests_of_runs_that_ended_expire(api, terminal, engine):
    """A request recorded for a run no longer running (its approval timed out, or the run was
    stopped) is marked expired once settled, on both sides; a fresh one is kept a while, as
    ListExecutions may not show a run that just started."""
    item = {
        "status": "pending",
        "agent": "sql-approval-agent",
        "run_id": "sql-approval-agent.gone",
        "tool": "execute_sql_query",
        "tool_use_id": "toolu_gone",
        "input": "{}",
        "requested_at": "2026-12-01T00:00:00+00:00",
        "task_token": "token-of-a-run-that-ended",
    }
    stale, fresh = "5ta1e0000000000a", "f4e5h0000000000a"
    table(engine).put_item(Item={**item, "approval_id": stale, "recorded_at": 1_700_000_000})
    table(engine).put_item(Item={**item, "approval_id": fresh, "recorded_at": int(time.time())})
    try:
        code, lines, _ = terminal("approvals")
        assert code == 0 and not any(row.startswith(stale) for row in lines)
        assert any(row.startswith(fresh) for row in lines)
        assert table_item(engine, stale)["status"] == "expired"
        assert stale not in {a["approval_id"] for a in api.ok("GET", "/approvals")["approvals"]}
        code, _, err = terminal("approve", stale)
        assert (code, err) == (1, f"sfn-agents: approval {stale} expired before it was answered\n")
        status, answer, _ = api.call("POST", f"/approvals/{stale}/approve", {})
        assert status == 409 and "expired" in answer["message"]
    finally:
        table(engine).delete_item(Key={"approval_id": fresh})
