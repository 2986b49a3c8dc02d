"""`sfn-agents runs`, `show` and `cost` against the local engine's endpoint, after real runs of a
SQL agent and a supervisor with two sub-agents, each command a fresh process."""

import json
import os
import re

import boto3
import pytest
from samcli.lib.observability.cw_logs.cw_log_group_provider import LogGroupProvider
from test_approval_remote_supervisor import SUPERVISOR_SCRIPT
from test_local_endpoint import ENGINE_LINE, EVENTS, FREE_PORTS, read_until, sfn_agents

TRANSITION_USD = 25 / 1_000_000  # Standard workflows


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory):
    home = tmp_path_factory.mktemp("home")
    supervisor, _, schema_agent = SUPERVISOR_SCRIPT["agents"]
    sql_agent = {
        "tools": ["execute_sql_query", "get_db_schema"],
        **json.loads((EVENTS / "sql-agent-demo.script.json").read_text()),
    }
    script = home / "script.json"
    script.write_text(json.dumps({"agents": [supervisor, sql_agent, schema_agent]}))
    server = sfn_agents(
        "local", "start", *FREE_PORTS, "--script", str(script), env=dict(os.environ), wait=False
    )
    url, _ = read_until(server, ENGINE_LINE)
    env = {**os.environ, "SFN_AGENTS_ENDPOINT": url}
    yield env
    server.terminate()
    server.wait(timeout=30)


@pytest.fixture(scope="module")
def ran(endpoint):
    """Two runs, as a user starts them: the SQL agent, then the supervisor."""
    sql = sfn_agents("run", "sql-agent", "Best team in 2024?", "--json", env=endpoint)
    supervisor = sfn_agents("run", "analytics-supervisor", "Teams and wins?", env=endpoint)
    assert sql.returncode == 0 and supervisor.returncode == 0, sql.stderr + supervisor.stderr
    return json.loads(sql.stdout), supervisor.stdout


def runs_json(env, *options):
    result = sfn_agents("runs", "--json", *options, env=env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_runs_lists_every_run_newest_first_with_its_cost(endpoint, ran):
    result = sfn_agents("runs", env=endpoint)
    assert result.returncode == 0, result.stderr
    header, *rows = result.stdout.splitlines()
    assert header.split() == [
        "RUN",
        "AGENT",
        "STATUS",
        "STARTED",
        "DURATION",
        "TURNS",
        "TOKENS",
        "COST",
        "STOP",
    ]
    agents = [row.split()[1] for row in rows]
    assert sorted(agents) == ["analytics-supervisor", "schema-agent", "sql-agent", "sql-agent"]
    assert agents[-1] == "sql-agent"  # the first run is the oldest
    for row in rows:
        assert re.search(r" SUCCEEDED .* \$\d+\.\d{4} +end_turn$", row), row


def test_runs_filters_by_agent_status_and_limit(endpoint, ran):
    (only,) = runs_json(endpoint, "--agent", "sql-agent", "--status", "SUCCEEDED", "--limit", "1")
    assert only["agent"] == "sql-agent" and only["status"] == "SUCCEEDED"
    assert runs_json(endpoint, "--status", "FAILED") == []
    unknown = sfn_agents("runs", "--agent", "no-such-agent", env=endpoint)
    assert unknown.returncode == 2 and "no agent 'no-such-agent'" in unknown.stderr


def test_a_supervisors_receipt_includes_its_sub_agents_and_its_transitions(endpoint, ran):
    sql_run, _ = ran
    runs = runs_json(endpoint)
    (supervisor,) = [r for r in runs if r["agent"] == "analytics-supervisor"]
    subs = [r for r in runs if r["started"] >= supervisor["started"] and r is not supervisor]
    assert sorted(r["agent"] for r in subs) == ["schema-agent", "sql-agent"]
    usage = supervisor["usage"]
    assert usage["sub_agents"] == 2
    assert usage["sub_agents_cost_usd"] == pytest.approx(sum(r["usage"]["cost_usd"] for r in subs))
    for field in ("input_tokens", "output_tokens"):  # tokens: its own and its sub-agents'
        assert usage[field] > sum(r["usage"][field] for r in subs) > 0, field
    assert usage["transitions_cost_usd"] == pytest.approx(usage["transitions"] * TRANSITION_USD)
    assert usage["cost_usd"] == pytest.approx(
        usage["model_cost_usd"] + usage["transitions_cost_usd"] + usage["sub_agents_cost_usd"]
    )
    # `run --json` reports the same receipt as `runs` for the same run, the one in its output
    (listed,) = [r for r in runs if r["execution_arn"] == sql_run["execution_arn"]]
    assert sql_run["receipt"] == listed["usage"]
    assert sql_run["receipt"]["transitions"] == sql_run["transitions"]
    assert sql_run["output"]["receipt"]["cost_usd"] == pytest.approx(listed["usage"]["cost_usd"])


def test_show_prints_a_runs_steps_as_run_streamed_them(endpoint, ran):
    _, streamed = ran
    runs = runs_json(endpoint, "--agent", "analytics-supervisor")
    shown = sfn_agents("show", runs[0]["run"], env=endpoint)
    assert shown.returncode == 0, shown.stderr
    *steps, summary, receipt = shown.stdout.splitlines()
    *streamed_steps, streamed_summary, streamed_receipt = streamed.splitlines()
    assert steps == streamed_steps
    assert summary.rsplit(" · ", 1)[0] == streamed_summary.rsplit(" · ", 1)[0]  # but duration
    assert receipt == streamed_receipt
    assert receipt.startswith("cost $") and " · 2 sub-agent runs $" in receipt
    missing = sfn_agents("show", "no-such-run", env=endpoint)
    assert missing.returncode == 2 and "no run 'no-such-run'" in missing.stderr


def test_cost_totals_each_run_once_by_agent_and_by_model(endpoint, ran):
    runs = runs_json(endpoint)
    (supervisor,) = [r for r in runs if r["agent"] == "analytics-supervisor"]
    sql_run, _ = ran
    # the supervisor's receipt holds its sub-agents; the first SQL run stands alone
    expected = supervisor["usage"]["cost_usd"] + sql_run["receipt"]["cost_usd"]
    for by in ("agent", "model"):
        result = sfn_agents("cost", "--since", "1h", "--by", by, "--json", env=endpoint)
        assert result.returncode == 0, result.stderr
        totals = json.loads(result.stdout)["totals"]
        assert sum(t["cost_usd"] for t in totals.values()) == pytest.approx(expected), by
    by_agent = json.loads(sfn_agents("cost", "--json", env=endpoint).stdout)["totals"]
    assert {name: t["runs"] for name, t in by_agent.items()} == {
        "sql-agent": 2,
        "schema-agent": 1,
        "analytics-supervisor": 1,
    }
    table = sfn_agents("cost", env=endpoint).stdout.splitlines()
    assert table[1].split() == ["AGENT", "RUNS", "MODEL", "TRANSITIONS", "TOTAL"]
    assert table[-1].split() == ["total", "4", f"${expected:.4f}"]
    bad = sfn_agents("cost", "--since", "yesterday", env=endpoint)
    assert bad.returncode == 2 and "--since wants" in bad.stderr


def test_sam_logs_finds_each_state_machines_log_group(endpoint):
    """SAM CLI's own resolver (what `sam logs -n <StateMachine>` runs) on the deployed machines."""
    url = endpoint["SFN_AGENTS_ENDPOINT"]

    def clients(service):
        return boto3.client(service, endpoint_url=url, region_name="us-east-1")

    logs = {g["logGroupName"] for g in clients("logs").describe_log_groups()["logGroups"]}
    machines = clients("stepfunctions").list_state_machines()["stateMachines"]
    assert len(machines) == 8
    for machine in machines:
        group = LogGroupProvider.for_step_functions(clients, machine["stateMachineArn"])
        assert group == f"/aws/vendedlogs/states/{machine['name']}" and group in logs
