"""The sfn-agents command as a user runs it: a fresh process per command."""

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEMO_SCRIPT = ROOT / "events" / "sql-agent-demo.script.json"


def sfn_agents(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sfn_agents.cli", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )


def write_script(tmp_path: Path, turns: list) -> Path:
    path = tmp_path / "script.json"
    path.write_text(json.dumps({"turns": turns}))
    return path


@pytest.fixture
def planets_db(tmp_path: Path) -> Path:
    path = tmp_path / "planets.sqlite"
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE planets (name TEXT, moons INTEGER)")
        connection.executemany(
            "INSERT INTO planets VALUES (?, ?)", [("Mars", 2), ("Jupiter", 95), ("Saturn", 146)]
        )
    return path


def test_run_streams_steps_and_ends_with_the_summary():
    result = sfn_agents("run", "sql-agent", "Best team in 2024?", "--script", str(DEMO_SCRIPT))

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert any(line.startswith("▸ turn 1") for line in lines)
    assert any("→ get_db_schema" in line for line in lines)
    (failed,) = [line for line in lines if "✗" in line]  # a failed tool's result, once
    assert re.fullmatch(
        r"  ✗ execute_sql_query#\w{6}: SQLite error: no such column: b\.homeruns\. .*", failed
    )
    call_id = failed.split("#")[1][:6]
    assert any(line.startswith(f"  → execute_sql_query#{call_id} ") for line in lines)
    assert "won the most games in 2024" in result.stdout
    summary, receipt = lines[-2:]
    assert summary.startswith("status SUCCEEDED · stop reason end_turn · turns 4 · transitions 20")
    # 20 transitions at $25 per million
    assert receipt.startswith("cost $") and " · 20 transitions $0.0005 · " in receipt


def test_run_json_on_another_database_given_by_parameter_override(tmp_path, planets_db):
    script = write_script(
        tmp_path,
        [
            {"tool_calls": [{"name": "get_db_schema", "input": {}}]},
            {
                "tool_calls": [
                    {
                        "name": "execute_sql_query",
                        "input": {
                            "sql_query": "SELECT name, moons FROM planets ORDER BY moons DESC"
                        },
                    }
                ]
            },
            {
                "text": "{{ results[0].rows[0][0] }} has the most moons: "
                "{{ results[0].rows[0][1] }}."
            },
        ],
    )
    result = sfn_agents(
        "run",
        "sql-agent",
        "Which planet has the most moons?",
        "--json",
        "--script",
        str(script),
        "--parameter-overrides",
        f"SqlDatabaseUri={planets_db}",
    )

    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["status"] == "SUCCEEDED"
    assert report["output"]["answer"] == "Saturn has the most moons: 146."
    assert "planets" in report["messages"][2]["content"][0]["content"]  # the schema tool result
    assert [m["role"] for m in report["messages"]] == ["user", "assistant"] * 3
    assert report["transitions"] == 3 + 4 + 4 + 4
    assert report["usage"]["input_tokens"] > 0


def test_a_tool_that_raises_becomes_an_error_result(tmp_path):
    script = write_script(
        tmp_path,
        [
            {"tool_calls": [{"name": "get_db_schema", "input": {}}]},
            {"text": "The database is unavailable."},
        ],
    )
    result = sfn_agents(
        "run",
        "sql-agent",
        "Anything?",
        "--json",
        "--script",
        str(script),
        "--parameter-overrides",
        "SqlDatabaseUri=s3://no-such-bucket/db.sqlite",
    )

    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    tool_result = report["messages"][2]["content"][0]
    assert tool_result["is_error"] is True
    # a configuration error the model can relay, with no trace or local path in it
    assert tool_result["content"].startswith("The SQL tool is misconfigured: SQL_DATABASE_URI=")
    assert "Traceback" not in tool_result["content"] and "/work" not in tool_result["content"]
    assert report["output"]["answer"] == "The database is unavailable."


def test_invoke_runs_one_function_with_an_event_file():
    result = sfn_agents("invoke", "SqlToolFunction", "-e", "events/SqlToolFunction-query.json")

    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["type"] == "tool_result"
    assert payload["tool_use_id"] == "toolu_01SqlQueryExample0000001"
    assert json.loads(payload["content"])["row_count"] > 0


def test_failed_execution_exits_non_zero_with_one_line(tmp_path):
    script = write_script(tmp_path, [{"tool_calls": [{"name": "get_db_schema", "input": {}}]}])
    result = sfn_agents("run", "sql-agent", "x", "--script", str(script))

    assert result.returncode == 1
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("sfn-agents: execution failed: LlmFatalError: anthropic ")
    assert "HTTP 400 invalid_request_error: the scripted model has 1 turns" in line


def test_unknown_agent_is_a_usage_error():
    result = sfn_agents("run", "no-such-agent", "x", "--script", str(DEMO_SCRIPT))

    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("sfn-agents: no agent or state machine 'no-such-agent'; known: ")
    assert "sql-agent" in line and "SqlAgentStateMachine" in line


def test_secrets_push_sets_key_names_and_never_prints_values(engine, tmp_path):
    dotenv = tmp_path / ".env"
    dotenv.write_text("ANTHROPIC_API_KEY=sk-ant-pushed-value\n# comment\nOPENAI_API_KEY=\n")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "sfn_agents.cli",
            "secrets",
            "push",
            "--env",
            "dev",
            "--dotenv",
            str(dotenv),
            "--endpoint-url",
            engine.endpoint,
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        env={k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")},
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "/sfn-agents/dev/llm-api-keys: set ANTHROPIC_API_KEY"
    assert "sk-ant-pushed-value" not in result.stdout + result.stderr
    stored = engine.client("secretsmanager").get_secret_value(
        SecretId="/sfn-agents/dev/llm-api-keys"
    )
    assert json.loads(stored["SecretString"])["ANTHROPIC_API_KEY"] == "sk-ant-pushed-value"


@pytest.mark.parametrize("provider", ["openai", "deepseek", "gemini", "bedrock"])
def test_run_on_each_provider_with_the_demo_script(provider):
    result = sfn_agents(
        "run",
        "sql-agent",
        "Best team in 2024?",
        "--script",
        str(DEMO_SCRIPT),
        "--provider",
        provider,
        "--json",
    )

    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["output"]["provider"] == provider
    assert "won the most games in 2024" in report["output"]["answer"]


def test_input_from_stdin_with_the_prompt_in_it(tmp_path):
    script = write_script(tmp_path, [{"text": "You asked about {{ $count(messages) }} thing."}])
    command = [sys.executable, "-m", "sfn_agents.cli", "run", "sql-agent", "--input", "-"]
    result = subprocess.run(
        [*command, "--json", "--script", str(script)],
        input=json.dumps({"prompt": "from stdin", "max_turns": 1}),
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )

    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["messages"][0]["content"][0]["text"] == "from stdin"
    assert report["output"]["answer"] == "You asked about 1 thing."


def test_ctrl_c_stops_an_in_process_run_with_one_line():
    script = ROOT / "events" / "sql-approval-demo.script.json"
    command = [sys.executable, "-m", "sfn_agents.cli", "run", "sql-approval-agent", "How many?"]
    agent = subprocess.Popen(
        [*command, "--script", str(script)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert agent.stdout is not None
    for line in agent.stdout:
        if "waits for approval" in line:
            break
    agent.send_signal(signal.SIGINT)
    _, err = agent.communicate(timeout=120)

    assert agent.returncode == 130
    (line,) = err.strip().splitlines()
    assert re.fullmatch(
        r"sfn-agents: interrupted; stopped arn:aws:states:us-east-1:\d+:execution:"
        r"sfn-agents-dev-sql-approval-agent:run-\w+",
        line,
    )


def test_agents_and_tools_list_what_the_template_holds():
    agents = sfn_agents("agents", "--json")
    tools = sfn_agents("tools")

    assert agents.returncode == 0, agents.stderr
    by_name = {row["agent"]: row for row in json.loads(agents.stdout)}
    assert by_name["sql-agent"]["state_machine"] == "SqlAgentStateMachine"
    assert by_name["sql-agent"]["tools"] == "get_db_schema, execute_sql_query"
    assert len(by_name) == len(list((ROOT / "registry" / "agents").glob("*.json")))
    assert tools.returncode == 0, tools.stderr
    header, *rows = tools.stdout.splitlines()
    assert header.split() == ["TOOL", "RUNS_ON", "LANGUAGE", "APPROVAL", "DESCRIPTION"]
    assert any(
        r.split()[:4] == ["run_shell_command", "remote", "ShellCommandActivity", "python"]
        for r in rows
    )
    assert len(rows) == len(list((ROOT / "registry" / "tools").glob("*.json")))
