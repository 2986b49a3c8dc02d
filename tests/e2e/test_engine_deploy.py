"""What a deploy creates and names, its secrets, and how the engine refuses a port. Each case runs
in a process of its own (an engine sets process-wide AWS settings, and the session's engine is
running in this one)."""

import json
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from sfn_agents import moto_fixes

ROOT = Path(__file__).resolve().parents[2]


def _in_engine(body: str, port: int = 0, before: str = "") -> Any:
    """Run `body` with `engine` started (on `port`; `before` runs before it starts) and the
    template at hand; its printed JSON."""
    script = textwrap.dedent(
        f"""
        import json, sys
        from pathlib import Path
        from sfn_agents.engine import LocalEngine
        template = Path({str(ROOT / "template.yaml")!r})
        engine = LocalEngine(port={port})
        """
    )
    script += (
        textwrap.dedent(before) + "with engine:\n" + textwrap.indent(textwrap.dedent(body), "    ")
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def _preloaded_sql_tool(only: str) -> Any:
    """Preload what a deploy of ``only`` starts ahead, deploy it and invoke the SQL tool: the
    preloaded pids, the tool's sandbox pid, its answer, and each preloaded process's parent and
    command line."""
    return _in_engine(
        before=f"""
        import os
        engine.preload(template, only=[{only!r}])
        started = {{k: p.pid for k, p in engine._preloaded.items()}}
        """,
        body=f"""
        engine.deploy(template, only=[{only!r}])
        function = engine.function_for("SqlToolFunction")
        event = json.loads(Path("events/SqlToolFunction-query.json").read_text())
        payload, errored, logs = function.invoke(event)
        (sandbox,) = function._pool._all
        def parent(pid):
            return int(Path(f"/proc/{{pid}}/stat").read_text().rsplit(")", 1)[1].split()[1])
        def command(pid):
            return Path(f"/proc/{{pid}}/cmdline").read_bytes().decode().split("\\0")
        print(json.dumps({{
            "started": started, "pid": sandbox.process.pid, "errored": errored,
            "payload": json.loads(payload), "engine": os.getpid(),
            "parents": {{k: parent(pid) for k, pid in started.items()}},
            "commands": {{k: command(pid) for k, pid in started.items()}},
        }}))
        """,
    )


def test_a_python_function_started_before_the_engine_serves_its_first_invocation():
    """preload: the process started before the engine, with the libraries imported, is the
    function's first sandbox and runs the handler itself (its command line is still the
    preloader's)."""
    seen = _preloaded_sql_tool("SqlToolFunction")
    assert seen["started"] == {"SqlToolFunction": seen["pid"]}
    assert not seen["errored"] and json.loads(seen["payload"]["content"])["rows"], seen["payload"]
    command = seen["commands"]["SqlToolFunction"]
    assert command[1].endswith("preloader/python_sandbox.py"), command


def test_the_python_functions_of_an_agent_are_forked_from_one_server_and_run_as_children():
    """preload with the fork server: the agent's Python functions (its tool, its LLM function,
    the registry's custom resource) are processes forked from one server, children of the
    engine, and the tool's first invocation runs in its forked process."""
    seen = _preloaded_sql_tool("sql-agent")
    assert {"SqlToolFunction", "AnthropicLlmFunction"} <= set(seen["started"]), seen["started"]
    assert seen["started"]["SqlToolFunction"] == seen["pid"] and not seen["errored"]
    assert json.loads(seen["payload"]["content"])["rows"], seen["payload"]
    assert set(seen["parents"].values()) == {seen["engine"]}
    assert all("--fork-server" in c for c in seen["commands"].values()), seen["commands"]


def test_invoke_deploys_only_what_the_function_needs_and_a_lookup_adds_the_rest():
    created = _in_engine(
        """
        engine.deploy(template, only=["SqlToolFunction"])
        first = sorted(engine.created)
        name = engine.function_for("SqlToolFunction").name
        engine.state_machine_for("sql-agent")
        print(json.dumps({"first": first, "then": sorted(engine.created), "name": name}))
        """
    )
    # the artifact bucket logs to AccessLogBucket, the function to its own group (LoggingConfig)
    assert created["first"] == [
        "AccessLogBucket",
        "AgentCoreLayer",
        "ArtifactBucket",
        "SqlToolFunction",
        "SqlToolFunctionLogGroup",
    ]
    assert created["name"] == "sfn-agents-dev-SqlToolFunction"
    then = set(created["then"])
    assert {
        "SqlAgentStateMachine",
        "Registry",
        "AgentRegistryTable",
        "AnthropicLlmFunction",
    } <= then
    assert "SchemaAgentStateMachine" not in then  # the registry only needs its ARN
    assert "ResearchAgentStateMachine" not in then


def test_names_follow_one_rule_and_the_endpoint_reports_them():
    names = _in_engine(
        """
        engine.deploy(template, only=["sql-agent"])
        functions = engine.client("lambda").list_functions()["Functions"]
        machines = engine.client("stepfunctions").list_state_machines()["stateMachines"]
        print(json.dumps({
            "functions": sorted(f["FunctionName"] for f in functions),
            "machines": sorted(m["name"] for m in machines),
        }))
        """
    )
    assert "sfn-agents-dev-SqlToolFunction" in names["functions"]
    assert "sfn-agents-dev-AnthropicLlmFunction" in names["functions"]
    assert names["machines"] == ["sfn-agents-dev-sql-agent"]


def test_each_secret_gets_only_its_own_keys():
    secrets = _in_engine(
        """
        engine.deploy(
            template,
            secret_values={"ANTHROPIC_API_KEY": "llm-key", "PERPLEXITY_API_KEY": "tool-key"},
            only=["AnthropicLlmFunction", "WebResearchToolFunction"],
        )
        client = engine.client("secretsmanager")
        print(json.dumps({
            name: json.loads(client.get_secret_value(SecretId=name)["SecretString"])
            for name in ("/sfn-agents/dev/llm-api-keys", "/sfn-agents/dev/tool-api-keys")
        }))
        """
    )
    assert secrets["/sfn-agents/dev/llm-api-keys"] == {"ANTHROPIC_API_KEY": "llm-key"}
    assert secrets["/sfn-agents/dev/tool-api-keys"] == {"PERPLEXITY_API_KEY": "tool-key"}


def test_a_tables_stream_feeds_the_functions_it_maps_through_their_filters():
    """SAM's DynamoDB event: the table brings the function it feeds, each change the filters
    pass reaches it once, the others never (the approvals' lease comes and goes unseen)."""
    seen = _in_engine(
        """
        engine.deploy(template, only=["ApprovalsTable"])
        created = sorted(engine.created)
        dynamodb = engine.client("dynamodb")
        table = "sfn-agents-approvals-dev"
        lease, approval = {"approval_id": {"S": "#refresh"}}, {"approval_id": {"S": "a1"}}
        dynamodb.put_item(TableName=table, Item={**lease, "status": {"S": "lease"}})
        dynamodb.put_item(
            TableName=table,
            Item={**approval, "status": {"S": "pending"}, "agent": {"S": "sql-agent"}},
        )
        dynamodb.delete_item(TableName=table, Key=lease)
        dynamodb.update_item(
            TableName=table,
            Key=approval,
            UpdateExpression="SET #s = :s",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={":s": {"S": "approved"}},
        )
        stream = dynamodb.describe_table(TableName=table)["Table"]["LatestStreamArn"]
        calls = engine.function_for("ApprovalMetricsFunction").invocations
        print(json.dumps({
            "created": created,
            "records": [
                [(r["eventName"], r["dynamodb"]["NewImage"]["status"]["S"]) for r in
                 call["event"]["Records"]]
                for call in calls
            ],
            "sources": sorted({r["eventSourceARN"] == stream for c in calls
                               for r in c["event"]["Records"]}),
            "errored": [call["errored"] for call in calls],
        }))
        """
    )
    assert {"ApprovalsTable", "ApprovalMetricsFunction"} <= set(seen["created"])
    assert seen["records"] == [[["INSERT", "pending"]], [["MODIFY", "approved"]]]
    assert seen["sources"] == [True]
    assert seen["errored"] == [False, False]


def _engine_on(port: int) -> subprocess.CompletedProcess[str]:
    script = f"from sfn_agents.engine import LocalEngine\nLocalEngine(port={port}).start()"
    return subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=60
    )


def test_a_busy_port_fails_at_once_with_the_reason():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        started = time.monotonic()
        done = _engine_on(busy.getsockname()[1])
    assert done.returncode == 1
    assert "Address already in use" in done.stderr
    assert time.monotonic() - started < 30


@pytest.mark.parametrize("port", [70000, -1])
def test_a_port_out_of_range_is_refused(port):
    done = _engine_on(port)
    assert done.returncode == 1
    assert f"port {port} is out of range" in done.stderr


def test_another_moto_version_stops_the_engine_with_the_fix():
    with pytest.raises(moto_fixes.MotoVersionError, match=r"patches moto 5\.2\.5.*5\.3\.0"):
        moto_fixes.check_moto_version("5.3.0")
