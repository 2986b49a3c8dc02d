"""The HTTP API in the local engine: what a call adds over the Step Functions call behind it,
and how many Step Functions reads a second following a run costs.

1. Added latency: the same reads, interleaved, N times each, on one finished run — directly with
   boto3 against the engine, and through the API (local API server -> REST proxy event -> the real
   API function -> the same engine): GET /runs/{id} vs DescribeExecution, GET /runs/{id}/events vs
   one GetExecutionHistory page. Medians and the difference.
2. Following a run as the web UI does (poll /events after the cursor: 300 ms after news, x1.5 up to
   2.5 s while nothing happens): the API function's GetExecutionHistory calls, counted where they
   reach the engine (the function runs in a process of its own), over the run's wall time.

    python bench/api.py [--repeats 50]
"""

import argparse
import json
import statistics
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from sfn_agents import local_iam  # noqa: E402
from sfn_agents.engine import LocalEngine  # noqa: E402
from sfn_agents.local_api import LocalApi  # noqa: E402
from sfn_agents.scripted import ScriptedServer  # noqa: E402

KEY = "bench-key"


def call(url: str, method: str, path: str, body: Any = None) -> Any:
    request = urllib.request.Request(
        url.rstrip("/") + path,
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"x-api-key": KEY, "content-type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


def timed(action: Any) -> float:
    started = time.perf_counter()
    action()
    return (time.perf_counter() - started) * 1000


def history_reads() -> list[float]:
    """When each GetExecutionHistory request reaches the engine: every request, over HTTP or in
    process, passes the local IAM guard in front of moto."""
    times: list[float] = []
    guarded = local_iam.Guard.__call__

    def counting(guard: local_iam.Guard, environ: dict[str, Any], start_response: Any) -> Any:
        if environ.get("HTTP_X_AMZ_TARGET", "").endswith(".GetExecutionHistory"):
            times.append(time.monotonic())
        return guarded(guard, environ, start_response)

    local_iam.Guard.__call__ = counting  # type: ignore[method-assign]
    return times


def follow_like_the_ui(url: str, run_id: str, approve: bool) -> tuple[float, int]:
    cursor, pause, polls = "", 0.3, 0
    started = time.monotonic()
    while True:
        page = call(url, "GET", f"/runs/{run_id}/events?after={cursor}")
        polls += 1
        cursor = page["next"]
        for step in page["events"]:
            if approve and step["kind"] == "waiting":
                call(url, "POST", f"/approvals/{step['approval_id']}/approve", {})
        if page["status"] != "RUNNING":
            return time.monotonic() - started, polls
        pause = 0.3 if page["events"] else min(pause * 1.5, 2.5)
        time.sleep(pause)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=50)
    args = parser.parse_args()
    scripts = {
        "sql-agent": json.loads((ROOT / "events" / "sql-agent-demo.script.json").read_text()),
        "sql-approval-agent": json.loads(
            (ROOT / "events" / "sql-approval-ui.script.json").read_text()
        ),
    }
    with (
        ScriptedServer("anthropic", {"turns": [{"text": "unused"}]}) as fake,
        LocalEngine() as engine,
    ):
        engine.deploy(
            ROOT / "template.yaml",
            function_env={"AnthropicLlmFunction": {"ANTHROPIC_BASE_URL": fake.url}},
            secret_values={"ANTHROPIC_API_KEY": "bench"},
        )
        with LocalApi(engine, port=0, api_key=KEY) as api:
            api.throttle = None  # the usage plan's 10 requests/s would pace the loop, not time it
            history_calls = history_reads()

            # 2. Follow runs as the UI does (and warm every function up for part 1).
            print("following a run as the web UI does:")
            for agent, script in scripts.items():
                fake.play(script)
                run = call(api.url, "POST", "/runs", {"agent": agent, "prompt": "How many?"})
                before = len(history_calls)
                seconds, polls = follow_like_the_ui(api.url, run["run_id"], approve=True)
                reads = len(history_calls) - before
                print(
                    f"  {agent}: {seconds:.1f} s, {polls} polls, {reads} GetExecutionHistory calls"
                    f" = {reads / seconds:.2f} calls/s (quota: 20/s refill per account)"
                )
            run_id = run["run_id"]

            # 1. Added latency, interleaved.
            sfn = engine.client("stepfunctions")
            arn = sfn.list_executions(
                stateMachineArn=engine.state_machine_for("sql-approval-agent")
            )["executions"][0]["executionArn"]
            pairs = {
                "GET /runs/{id} vs DescribeExecution": (
                    lambda: sfn.describe_execution(executionArn=arn),
                    lambda: call(api.url, "GET", f"/runs/{run_id}"),
                ),
                "GET /runs/{id}/events vs GetExecutionHistory": (
                    lambda: sfn.get_execution_history(
                        executionArn=arn,
                        reverseOrder=True,
                        maxResults=100,
                        includeExecutionData=True,
                    ),
                    lambda: call(api.url, "GET", f"/runs/{run_id}/events"),
                ),
                "GET /agents (registry scans, cached 60 s)": (
                    lambda: None,
                    lambda: call(api.url, "GET", "/agents"),
                ),
            }
            print(f"added latency per call, medians of {args.repeats}, interleaved:")
            for name, (direct, through_api) in pairs.items():
                direct_ms, api_ms = [], []
                for _ in range(args.repeats):
                    direct_ms.append(timed(direct))
                    api_ms.append(timed(through_api))
                d, a = statistics.median(direct_ms), statistics.median(api_ms)
                print(f"  {name}: direct {d:.1f} ms, API {a:.1f} ms, added {a - d:.1f} ms")


if __name__ == "__main__":
    main()
