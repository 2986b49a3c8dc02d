"""The HTTP API as a client sees it: the real API function behind the local API server (the
template's routes, API-key check and gateway responses) against the local engine, with the
scripted model playing the approval agent's script."""

import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sfn_agents.local_api import LocalApi

ROOT = Path(__file__).resolve().parents[2]
UI_SCRIPT = json.loads((ROOT / "events" / "sql-approval-ui.script.json").read_text())
KEY = "test-api-key"


class Client:
    def __init__(self, url: str, key: str = KEY) -> None:
        self.url = url.rstrip("/")
        self.key = key

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        key: str | None = None,
        headers: dict[str, str] | None = None,
        retry_throttled: bool = True,
    ) -> tuple[int, Any, dict[str, str]]:
        """One request; a throttled one (429) is sent again after a growing pause, as a client of
        a usage plan should (the tests together call faster than its 10 requests a second)."""
        for attempt in range(8 if retry_throttled else 1):
            answer = self._send(method, path, body, key, headers)
            if answer[0] != 429:
                break
            time.sleep(min(0.1 * 2**attempt, 2))
        return answer

    def _send(
        self,
        method: str,
        path: str,
        body: Any,
        key: str | None,
        headers: dict[str, str] | None,
    ) -> tuple[int, Any, dict[str, str]]:
        sent = {"content-type": "application/json", **(headers or {})}
        if (key if key is not None else self.key) != "":
            sent["x-api-key"] = key if key is not None else self.key
        request = urllib.request.Request(
            self.url + path,
            method=method,
            data=json.dumps(body).encode() if body is not None else None,
            headers=sent,
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                status, text, got = response.status, response.read().decode(), response.headers
        except urllib.error.HTTPError as error:
            status, text, got = error.code, error.read().decode(), error.headers
        try:
            data = json.loads(text)
        except ValueError:
            data = text
        return status, data, dict(got)

    def ok(self, method: str, path: str, body: Any = None, status: int = 200) -> Any:
        got, data, _ = self.call(method, path, body)
        assert got == status, data
        return data

    def follow(self, run_id: str, until: str = "finished", timeout: float = 90) -> list[dict]:
        """Steps of a run, read page by page from the cursor, until a step of kind ``until``."""
        steps: list[dict[str, Any]] = []
        cursor = ""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            page = self.ok("GET", f"/runs/{run_id}/events?after={cursor}")
            steps += page["events"]
            cursor = page["next"]
            if any(step["kind"] == until for step in page["events"]):
                return steps
            time.sleep(0.1)
        raise AssertionError(f"no {until} step within {timeout} s: {steps}")


@pytest.fixture(scope="module")
def api(engine, scripted_model) -> Iterator[Client]:
    scripted_model.play(UI_SCRIPT)
    with LocalApi(engine, port=0, api_key=KEY) as local:
        yield Client(local.url)


def start(api: Client, prompt: str = "How many players?", **extra: Any) -> dict[str, Any]:
    body = {"agent": "sql-approval-agent", "prompt": prompt, **extra}
    return api.ok("POST", "/runs", body, status=202)


def approval_of(steps: list[dict[str, Any]]) -> str:
    return next(step["approval_id"] for step in steps if step["kind"] == "waiting")


def test_agents_lists_every_agent_with_provider_and_tools(api):
    agents = {agent["name"]: agent for agent in api.ok("GET", "/agents")["agents"]}
    registry = {p.stem for p in (ROOT / "registry" / "agents").glob("*.json")}
    assert set(agents) == registry
    approval = agents["sql-approval-agent"]
    assert approval["provider"] == "anthropic"
    assert approval["tools"] == ["get_db_schema", "execute_sql_query"]
    assert approval["approval_required_tools"] == ["execute_sql_query"]


@pytest.mark.parametrize("key", ["", "wrong-key"])
def test_every_api_route_refuses_a_missing_or_wrong_key(api, key):
    for method, path in [
        ("GET", "/agents"),
        ("POST", "/runs"),
        ("GET", "/runs"),
        ("GET", "/runs/sql-agent.0/events"),
        ("GET", "/approvals"),
        ("POST", "/approvals/x/approve"),
        ("DELETE", "/sessions/x"),
    ]:
        status, body, _ = api.call(method, path, {} if method == "POST" else None, key=key)
        assert (status, body["error"]) == (403, "forbidden"), (method, path)


def test_the_page_and_its_files_need_no_key(api):
    status, page, headers = api.call("GET", "/", key="")
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert 'type="password"' in page and "ui/app.js" in page
    assert api.call("GET", "/ui/app.js", key="")[0] == 200
    assert api.call("GET", "/ui/missing.js", key="")[0] == 404


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({"prompt": "hi"}, "agent: Field required"),
        ({"agent": "sql-agent"}, "prompt: Field required"),
        ({"agent": "sql-agent", "prompt": ""}, "prompt: String should have at least 1 character"),
        ({"agent": "sql-agent", "prompt": "hi", "session_id": "no spaces"}, "session_id"),
        ({"agent": "sql-agent", "prompt": "hi", "temperature": 2}, "temperature: Extra inputs"),
    ],
)
def test_bad_run_requests_get_400_saying_what_is_wrong(api, body, says):
    status, answer, _ = api.call("POST", "/runs", body)
    assert status == 400 and answer["error"] == "bad_request"
    assert says in answer["message"]


def test_unknown_agent_run_approval_session_and_route_get_404(api):
    cases = [
        ("POST", "/runs", {"agent": "no-such-agent", "prompt": "hi"}),
        ("GET", "/runs/sql-agent.00000000000000000000000000000000", None),
        ("GET", "/runs/not-a-run-id/events", None),
        ("POST", "/approvals/0000000000000000/approve", {}),
        ("GET", "/sessions/no-such-session", None),
        ("DELETE", "/sessions/no-such-session", None),
        ("GET", "/no/such/route", None),
    ]
    for method, path, body in cases:
        status, answer, _ = api.call(method, path, body)
        assert (status, answer["error"]) == (404, "not_found"), (path, answer)
    status, answer, _ = api.call("GET", "/runs?agent=no-such-agent")
    assert status == 404 and "no-such-agent" in answer["message"]


def test_a_run_waits_for_approval_is_approved_once_and_answers(api):
    started = start(api)
    assert started["status"] == "RUNNING" and started["session_id"]
    steps = api.follow(started["run_id"], until="waiting")
    kinds = [step["kind"] for step in steps]
    assert kinds[:3] == ["model_turn", "text", "tool_call"] and kinds[-1] == "waiting"
    approval = approval_of(steps)

    pending = {a["approval_id"]: a for a in api.ok("GET", "/approvals")["approvals"]}
    assert pending[approval]["tool"] == "execute_sql_query"
    assert pending[approval]["input"] == {"sql_query": "SELECT COUNT(*) AS players FROM players"}
    assert pending[approval]["run_id"] == started["run_id"]
    assert "task_token" not in pending[approval]

    answered = api.ok(
        "POST", f"/approvals/{approval}/approve", {"notes": "fine", "reviewer": "ana"}
    )
    assert answered["status"] == "approved"
    assert answered["reviewer"] == {"name": "ana", "api_key_id": "local-api-key"}
    status, again, _ = api.call("POST", f"/approvals/{approval}/reject", {"reason": "late"})
    assert (status, again["error"]) == (409, "conflict") and "already answered" in again["message"]
    assert approval not in {a["approval_id"] for a in api.ok("GET", "/approvals")["approvals"]}

    steps = api.follow(started["run_id"])
    result = next(step for step in steps if step["kind"] == "tool_result")
    assert json.loads(result["content"])["rows"] == [[750]]
    finished = steps[-1]
    assert finished["output"]["answer"] == "The database holds 750 players."
    assert finished["output"]["turns"] == 2 and finished["transitions"] > 0

    run = api.ok("GET", f"/runs/{started['run_id']}")
    assert run["status"] == "SUCCEEDED" and run["session_id"] == started["session_id"]
    assert run["usage"]["input_tokens"] > 0 and run["started"] and run["stopped"]
    assert run["output"]["answer"] == finished["output"]["answer"]


def test_a_rejection_reaches_the_model_with_its_reason(api):
    started = start(api)
    approval = approval_of(api.follow(started["run_id"], until="waiting"))
    status, missing, _ = api.call("POST", f"/approvals/{approval}/reject", {"notes": "no reason"})
    assert status == 400 and "reason: Field required" in missing["message"]
    api.ok("POST", f"/approvals/{approval}/reject", {"reason": "count players with batting lines"})
    steps = api.follow(started["run_id"])
    result = json.loads(next(s for s in steps if s["kind"] == "tool_result")["content"])
    assert result["status"] == "rejected" and result["reason"] == "count players with batting lines"
    assert "rejected my query (count players with batting lines)" in steps[-1]["output"]["answer"]


def test_the_cursor_returns_each_step_once_in_order(api):
    started = start(api)
    approval = approval_of(api.follow(started["run_id"], until="waiting"))
    api.ok("POST", f"/approvals/{approval}/approve", {})
    incremental = api.follow(started["run_id"])
    whole = api.ok("GET", f"/runs/{started['run_id']}/events")
    assert whole["status"] == "SUCCEEDED"
    assert [s["cursor"] for s in incremental] == [s["cursor"] for s in whole["events"]]
    assert incremental == whole["events"]  # turns and transitions carried by the cursor
    at_end = api.ok("GET", f"/runs/{started['run_id']}/events?after={whole['next']}")
    assert at_end["events"] == [] and at_end["next"] == whole["next"]
    middle = whole["events"][3]["cursor"]
    status, bad, _ = api.call("GET", f"/runs/{started['run_id']}/events?after={middle}")
    assert status == 400 and "not a cursor" in bad["message"]


def test_the_stream_serves_server_sent_events_to_resume_from(api):
    started = start(api)
    approval = approval_of(api.follow(started["run_id"], until="waiting"))
    api.ok("POST", f"/approvals/{approval}/approve", {})
    api.follow(started["run_id"])
    status, text, headers = api.call("GET", f"/runs/{started['run_id']}/stream")
    assert status == 200 and headers["Content-Type"].startswith("text/event-stream")
    frames = [frame for frame in text.split("\n\n") if frame.strip()]
    assert frames[0] == "retry: 500"
    steps = [json.loads(f.split("data: ", 1)[1]) for f in frames if f.startswith("event: step")]
    assert steps[-1]["kind"] == "finished"
    end = frames[-1].splitlines()
    assert end[1] == "event: end" and end[0].startswith("id: ")
    asked = time.monotonic()
    resumed = api.call(
        "GET", f"/runs/{started['run_id']}/stream", headers={"Last-Event-ID": end[0][4:]}
    )[1]
    assert "event: step" not in resumed and "event: end" in resumed
    assert time.monotonic() - asked < 5  # an ended run's stream does not hold for 20 s


def test_concurrent_runs_each_finish_with_their_own_answer(api):
    runs = [start(api, prompt=f"question {n}") for n in range(3)]
    approvals = [approval_of(api.follow(run["run_id"], until="waiting")) for run in runs]
    assert len(set(approvals)) == 3
    errors: list[BaseException] = []

    def approve(approval: str) -> None:
        try:
            api.ok("POST", f"/approvals/{approval}/approve", {})
        except BaseException as error:  # reported below, in the test's thread
            errors.append(error)

    threads = [threading.Thread(target=approve, args=(a,)) for a in approvals]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    for run in runs:
        assert api.follow(run["run_id"])[-1]["status"] == "SUCCEEDED"
    listed = {r["run_id"]: r for r in api.ok("GET", "/runs?agent=sql-approval-agent")["runs"]}
    for run in runs:
        assert listed[run["run_id"]]["status"] == "SUCCEEDED"
        assert listed[run["run_id"]]["usage"]["cost_usd"] > 0
        receipt = api.ok("GET", f"/runs/{run['run_id']}")["output"]["receipt"]
        assert listed[run["run_id"]]["receipt"] == receipt and receipt["cost_usd"] > 0


def test_runs_of_a_session_and_the_session_itself(api):
    first = start(api, prompt="first question")
    session = first["session_id"]
    api.ok("POST", f"/approvals/{approval_of(api.follow(first['run_id'], 'waiting'))}/approve", {})
    api.follow(first["run_id"])
    second = start(api, prompt="second question", session_id=session)
    assert second["session_id"] == session
    api.ok("POST", f"/approvals/{approval_of(api.follow(second['run_id'], 'waiting'))}/approve", {})
    api.follow(second["run_id"])

    listed = api.ok("GET", f"/runs?session_id={session}")["runs"]
    assert [r["run_id"] for r in listed] == [first["run_id"], second["run_id"]]
    found = api.ok("GET", f"/sessions/{session}")
    assert found["session_id"] == session
    assert [m["role"] for m in found["messages"]][:2] == ["user", "assistant"]
    assert api.ok("DELETE", f"/sessions/{session}") == {"session_id": session, "deleted": True}
    assert api.call("GET", f"/sessions/{session}")[0] == 404


def test_cors_allows_only_the_ui_origin(api):
    status, _, headers = api.call("OPTIONS", "/runs", key="")
    assert status == 200
    assert headers["Access-Control-Allow-Origin"] == "http://localhost:3000"
    assert "x-api-key" in headers["Access-Control-Allow-Headers"]
    _, _, headers = api.call("GET", "/agents", headers={"Origin": "http://localhost:3000"})
    assert headers["Access-Control-Allow-Origin"] == "http://localhost:3000"


def test_the_usage_plans_throttle_answers_429_beyond_its_burst(api):
    """ApiThrottleBurstLimit (20) requests at once, then ApiThrottleRateLimit (10) a second."""
    time.sleep(2)  # a full bucket
    answers = [api.call("GET", "/agents", retry_throttled=False) for _ in range(40)]
    statuses = [status for status, _, _ in answers]
    assert statuses[:20] == [200] * 20, statuses
    throttled = [answer for status, answer, _ in answers if status == 429]
    assert throttled and throttled[0] == {
        "error": "throttled",
        "message": "too many requests for this API key",
    }
    time.sleep(0.3)  # three tokens back
    assert api.call("GET", "/agents", retry_throttled=False)[0] == 200
