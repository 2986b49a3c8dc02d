"""The local engine as a long-lived endpoint, driven from other processes as a person would from
several terminals: an agent waits for approval while a reviewer approves from another terminal,
and a remote worker runs a command for another agent."""

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import boto3
import pytest

ROOT = Path(__file__).resolve().parents[2]
EVENTS = ROOT / "events"


ENGINE_LINE = re.compile(r"sfn-agents local engine on (\S+)")
API_LINE = re.compile(r"sfn-agents API and web UI on (\S+)")
# `local start` picks free ports itself: a port picked here first may be another test's by the
# time the engine binds it.
FREE_PORTS = ["--port", "0", "--api-port", "0"]


def read_until(process: subprocess.Popen, pattern: re.Pattern[str]) -> tuple[str, list[str]]:
    """What ``pattern``'s group matches in the first line of ``process``'s output that it
    matches, and the lines up to it."""
    lines: list[str] = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line and process.poll() is not None:
            raise AssertionError(process.stderr.read())
        lines.append(line)
        if match := pattern.match(line):
            return match[1], lines
    raise AssertionError(f"no line like {pattern.pattern!r} in {lines}")


def sfn_agents(*args: str, env: dict[str, str], wait: bool = True):
    command = [sys.executable, "-m", "sfn_agents.cli", *args]
    if not wait:
        return subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory):
    home = tmp_path_factory.mktemp("home")
    script = home / "script.json"  # each agent plays its own demo script
    script.write_text(
        json.dumps(
            {
                "agents": [
                    {
                        "tools": ["run_shell_command"],
                        **json.loads((EVENTS / "ops-agent-demo.script.json").read_text()),
                    },
                    {
                        "tools": ["execute_sql_query"],
                        **json.loads((EVENTS / "sql-approval-demo.script.json").read_text()),
                    },
                ]
            }
        )
    )
    env = {**os.environ, "SFN_AGENTS_HOME": str(home)}
    server = sfn_agents("local", "start", *FREE_PORTS, "--script", str(script), env=env, wait=False)
    url, _ = read_until(server, ENGINE_LINE)
    yield url, {**env, "SFN_AGENTS_ENDPOINT": url}
    server.terminate()
    server.wait(timeout=30)


def test_other_processes_see_the_engine_through_ordinary_aws_clients(endpoint):
    url, _ = endpoint
    sfn = boto3.client("stepfunctions", endpoint_url=url, region_name="us-east-1")
    names = {m["name"] for m in sfn.list_state_machines()["stateMachines"]}
    assert "sfn-agents-dev-sql-approval-agent" in names


def test_reviewer_approves_from_a_second_terminal_while_the_agent_waits(endpoint):
    _, env = endpoint
    agent = sfn_agents(
        "run", "sql-approval-agent", "How many players are there?", env=env, wait=False
    )
    deadline, listed = time.monotonic() + 60, ""
    while time.monotonic() < deadline and "execute_sql_query" not in listed:
        listed = sfn_agents("approvals", env=env).stdout
        time.sleep(0.5)
    (line,) = [row for row in listed.splitlines() if "execute_sql_query" in row]
    assert "sql-approval-agent" in line and "SELECT COUNT(*) AS players FROM players" in line
    approval_id = line.split()[0]

    answered = sfn_agents("approve", approval_id, "--notes", "read-only", env=env)
    assert answered.returncode == 0, answered.stderr
    assert (
        answered.stdout.strip()
        == f"approved {approval_id}: execute_sql_query for sql-approval-agent"
    )

    out, err = agent.communicate(timeout=120)
    assert agent.returncode == 0, err
    assert "The database holds 750 players." in out
    assert re.search(r"status SUCCEEDED · stop reason end_turn · turns 2 · transitions 14", out)


def test_unknown_approval_id_is_a_usage_error(endpoint):
    _, env = endpoint
    result = sfn_agents("reject", "deadbeef", "--reason", "no", env=env)
    assert result.returncode == 2
    assert "no pending approval deadbeef" in result.stderr


def test_invoke_reaches_a_function_through_the_endpoint(endpoint):
    _, env = endpoint
    result = sfn_agents(
        "invoke", "SqlToolFunction", "-e", "events/SqlToolFunction-query.json", env=env
    )

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["tool_use_id"] == "toolu_01SqlQueryExample0000001"


def test_remote_worker_process_runs_allowed_commands_for_the_ops_agent(endpoint):
    _, env = endpoint
    worker = sfn_agents(
        "worker",
        "ShellCommandActivity",  # the template's name for it
        "--allow",
        "uname",
        "--once",
        env=env,
        wait=False,
    )
    result = sfn_agents("run", "ops-agent", "What system is the worker on?", env=env)
    worker_out, _ = worker.communicate(timeout=60)

    assert result.returncode == 0, result.stderr
    expected = subprocess.run(["uname", "-sm"], capture_output=True, text=True).stdout.strip()
    assert f"The worker runs {expected}" in result.stdout
    assert "success (0) uname -sm" in worker_out


def test_names_are_the_same_as_in_the_in_process_engine(endpoint):
    _, env = endpoint
    result = sfn_agents("run", "SqlAgentStateMachine", "", env=env)  # logical id; empty prompt

    assert result.returncode == 1
    assert result.stderr.strip() == (
        "sfn-agents: execution failed: States.QueryEvaluationError in LoadAgent: The execution "
        'input needs a non-empty string field "prompt", for example '
        '{"prompt": "How many teams are there?"}.'
    )
    unknown = sfn_agents("worker", "NoSuchActivity", "--allow", "ls", env=env)
    assert unknown.returncode == 2
    assert "valid: ShellCommandActivity (sfn-agents-dev-run-shell-command)" in unknown.stderr


def test_ctrl_c_on_a_run_says_the_execution_is_still_running(endpoint):
    _, env = endpoint
    agent = sfn_agents("run", "sql-approval-agent", "How many players?", env=env, wait=False)
    for line in agent.stdout:
        if "waits for approval" in line:
            break
    agent.send_signal(signal.SIGINT)
    _, err = agent.communicate(timeout=60)

    assert agent.returncode == 130
    (line,) = err.strip().splitlines()
    assert re.fullmatch(
        r"sfn-agents: interrupted; arn:aws:states:us-east-1:\d+:execution:"
        r"sfn-agents-dev-sql-approval-agent:run-\w+ is still running "
        r"\(--stop-on-interrupt stops it\)",
        line,
    )


def test_a_busy_port_fails_at_once_with_one_line(endpoint):
    url, env = endpoint
    port = url.rsplit(":", 1)[1]
    started = time.monotonic()
    result = sfn_agents("local", "start", "--port", port, env=env)

    assert result.returncode == 1
    assert result.stderr.strip() == f"sfn-agents: port {port} is in use; pick another with --port"
    assert time.monotonic() - started < 30


def test_agents_and_tools_list_what_the_endpoint_holds(endpoint):
    _, env = endpoint
    agents = sfn_agents("agents", "--json", env=env)
    tools = sfn_agents("tools", "--json", env=env)

    assert agents.returncode == 0, agents.stderr
    assert {
        "agent": "ops-agent",
        "provider": "anthropic",
        "state_machine": "OpsAgentStateMachine",
        "tools": "run_shell_command",
    } in json.loads(agents.stdout)
    assert tools.returncode == 0, tools.stderr
    listed = {row["tool"]: row for row in json.loads(tools.stdout)}
    assert listed["execute_sql_query"]["runs_on"] == "lambda SqlToolFunction"
