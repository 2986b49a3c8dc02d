"""Runs: start an agent's execution, read its state, list runs, and follow its steps from the
execution history (``agent_core.run_events``, one GetExecutionHistory call per poll)."""

import json
import re
import time
import uuid
from collections.abc import Callable
from datetime import UTC
from typing import Any

from agent_core.approvals import approval_id
from agent_core.paging import scanned
from agent_core.run_events import TERMINAL_EVENTS, HistoryReader, PollInterval, StepTranslator
from botocore.exceptions import ClientError

from agent_api.errors import BadRequest, NotFound
from agent_api.service import TableService

RUN_ID = re.compile(r"^(?P<agent>[a-z0-9][a-z0-9-]{0,63})\.(?P<suffix>[0-9a-f]{32})$")
CURSOR = re.compile(r"^(?P<event>\d+)\.(?P<turn>\d+)\.(?P<transitions>\d+)$")
TERMINAL = {"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"}
PROMPT_PREVIEW = 500
LOOKBACK_EVENTS = 50
# The steps one response carries, as JSON (a step's data is at most a state's 256 KiB): well
# inside Lambda's 6 MB response, which API Gateway's proxy body escapes once more. A run with more
# is read in several responses (``more``).
STEP_BUDGET_BYTES = 1_000_000


def _iso(value: Any) -> str | None:
    # To the millisecond, as Step Functions has it: a session lists its runs in this order.
    return value.astimezone(UTC).isoformat(timespec="milliseconds") if value else None


def _missing(error: ClientError) -> bool:
    return error.response["Error"]["Code"] in ("ExecutionDoesNotExist", "ResourceNotFound")


def _within_budget(
    translator: StepTranslator, events: list[dict[str, Any]]
) -> tuple[list[dict[str, Any]], int, bool]:
    """The steps of the events, oldest first, up to STEP_BUDGET_BYTES (one event's steps past
    it): the steps, the id of the last event they cover, and whether events were left over."""
    steps: list[dict[str, Any]] = []
    size, last = 0, 0
    for index, event in enumerate(events):
        new = translator.steps([event])
        steps += new
        last = event["id"]
        size += sum(len(json.dumps(step, default=str)) for step in new)
        if size >= STEP_BUDGET_BYTES:
            return steps, last, index + 1 < len(events)
    return steps, last, False


class Cursor:
    """Where a reader of a run's events stopped: the last history event id, and the turns and
    state transitions counted up to it (so steps after the cursor are numbered as from the start).
    Opaque to clients: ``EVENT.TURN.TRANSITIONS``."""

    def __init__(self, event: int = 0, turn: int = 0, transitions: int = 0) -> None:
        self.event, self.turn, self.transitions = event, turn, transitions

    @classmethod
    def parse(cls, text: str | None) -> "Cursor":
        if not text:
            return cls()
        match = CURSOR.match(text)
        if not match:
            raise BadRequest(f"after={text!r} is not a cursor this API returned (as 'next')")
        return cls(*(int(match[name]) for name in ("event", "turn", "transitions")))

    def __str__(self) -> str:
        return f"{self.event}.{self.turn}.{self.transitions}"


class Runs(TableService):
    """Runs started through the API (the runs table) and their executions."""

    # ------------------------------------------------------------------ ids
    def _parse(self, run_id: str) -> str:
        """The run's agent, or 404 for an id this API could not have made."""
        match = RUN_ID.match(run_id)
        if not match or match["agent"] not in self.catalog.agents():
            raise NotFound(f"no run {run_id!r}")
        return match["agent"]

    def _describe(self, run_id: str) -> dict[str, Any]:
        agent = self._parse(run_id)
        try:
            execution = self.sfn.describe_execution(
                executionArn=self.settings.execution_arn(agent, run_id)
            )
        except ClientError as error:
            if _missing(error):
                raise NotFound(f"no run {run_id!r}") from None
            raise
        return dict(execution) | {"agent": agent}

    # ------------------------------------------------------------------ start
    def start(self, agent: str, prompt: str, session_id: str | None) -> dict[str, Any]:
        self.catalog.get(agent)  # 404 for an unknown agent
        run_id = f"{agent}.{uuid.uuid4().hex}"
        session_id = session_id or str(uuid.uuid4())
        started = self.sfn.start_execution(
            stateMachineArn=self.settings.state_machine_arn(agent),
            name=run_id,
            input=json.dumps({"prompt": prompt, "session_id": session_id}),
        )
        self.table.put_item(
            Item={
                "run_id": run_id,
                "agent": agent,
                "session_id": session_id,
                "prompt": prompt[:PROMPT_PREVIEW],
                "started": _iso(started["startDate"]),
                "status": "RUNNING",
            }
        )
        return {"run_id": run_id, "session_id": session_id, "status": "RUNNING"}

    # ------------------------------------------------------------------ read
    def get(self, run_id: str) -> dict[str, Any]:
        execution = self._describe(run_id)
        output = json.loads(execution.get("output") or "null")
        execution_input = json.loads(execution.get("input") or "{}")
        run = {
            "run_id": run_id,
            "agent": execution["agent"],
            "session_id": (output or {}).get("session_id") or execution_input.get("session_id"),
            "prompt": execution_input.get("prompt", ""),
            "status": execution["status"],
            "output": output,
            "usage": (output or {}).get("usage"),
            "receipt": (output or {}).get("receipt"),
            "error": execution.get("error"),
            "cause": execution.get("cause"),
            "started": _iso(execution.get("startDate")),
            "stopped": _iso(execution.get("stopDate")),
        }
        if run["status"] in TERMINAL:
            self._record_end(run)
        return run

    def _record_end(self, run: dict[str, Any]) -> None:
        """Keep what the runs list shows, so listing finished runs costs no Step Functions call."""
        output = run["output"] or {}
        summary = {
            "usage": output.get("usage"),
            "receipt": output.get("receipt"),
            "turns": output.get("turns"),
            "stop_reason": output.get("stop_reason"),
        }
        values = {
            "status": run["status"],
            "stopped": run["stopped"],
            "summary": json.dumps(summary),
            "agent": run["agent"],
            "session_id": run["session_id"] or "",
        }
        kept = {"started": run["started"], "prompt": run["prompt"][:PROMPT_PREVIEW]}
        sets = [f"#{name} = :{name}" for name in values]
        sets += [f"#{name} = if_not_exists(#{name}, :{name})" for name in kept]
        self.table.update_item(
            Key={"run_id": run["run_id"]},
            UpdateExpression="SET " + ", ".join(sets),
            ExpressionAttributeNames={f"#{name}": name for name in values | kept},
            ExpressionAttributeValues={
                f":{name}": value for name, value in (values | kept).items()
            },
        )

    def list(
        self, agent: str | None = None, session_id: str | None = None, limit: int = 50
    ) -> list[dict[str, Any]]:
        """Runs started through the API, newest first (a session's: oldest first, as a chat)."""
        if agent:
            self.catalog.get(agent)
        if session_id:
            items = self.table.query(
                IndexName="RunsBySession",
                KeyConditionExpression="session_id = :s",
                ExpressionAttributeValues={":s": session_id},
            )["Items"]
            items.sort(key=lambda item: item["started"])
        else:
            items = scanned(self.table.scan)
            items.sort(key=lambda item: item["started"], reverse=True)
        runs = [self._listed(item) for item in items if not agent or item["agent"] == agent]
        return runs[:limit]

    def _listed(self, item: dict[str, Any]) -> dict[str, Any]:
        if item["status"] not in TERMINAL:  # only unfinished runs cost a DescribeExecution
            try:
                run = self.get(item["run_id"])
            except NotFound:
                run = {"status": "UNKNOWN"}
            item = item | {"status": run["status"], "stopped": run.get("stopped")}
            if run.get("output") is not None:
                item["summary"] = json.dumps(
                    {k: run["output"].get(k) for k in ("usage", "receipt", "turns")}
                )
        summary = json.loads(item.get("summary") or "{}")
        return {
            "run_id": item["run_id"],
            "agent": item["agent"],
            "session_id": item.get("session_id"),
            "prompt": item.get("prompt", ""),
            "status": item["status"],
            "started": item["started"],
            "stopped": item.get("stopped"),
            "turns": summary.get("turns"),
            "usage": summary.get("usage"),
            "receipt": summary.get("receipt"),
        }

    # ------------------------------------------------------------------ events
    def events(
        self, run_id: str, after: str | None, between_pages: Callable[[], None] = lambda: None
    ) -> dict[str, Any]:
        """The run's steps after the cursor: ``{events, next, status, more}`` (status: RUNNING
        until the run has ended; more: steps beyond ``next`` did not fit this response, so ask
        again at once); ``between_pages`` paces a read of several pages."""
        agent = self._parse(run_id)
        cursor = Cursor.parse(after)
        # Reading a little before the cursor (usually in the same page) recovers what steps
        # after it refer to: the names of tool calls made earlier.
        reader = HistoryReader(
            self.sfn,
            self.settings.execution_arn(agent, run_id),
            after=max(0, cursor.event - LOOKBACK_EVENTS),
        )
        try:
            events = reader.read(between_pages)
        except ClientError as error:
            if _missing(error):
                raise NotFound(f"no run {run_id!r}") from None
            raise
        earlier = StepTranslator()
        earlier.steps([event for event in events if event["id"] <= cursor.event])
        translator = StepTranslator(
            turn=cursor.turn,
            transitions=cursor.transitions,
            tool_names=earlier.tool_names,
            results=earlier.results,
        )
        steps, last, more = _within_budget(
            translator, [event for event in events if event["id"] > cursor.event]
        )
        # The run's end is its last event: seen here even when the cursor is already past it.
        status = TERMINAL_EVENTS.get(events[-1]["type"], "RUNNING") if events else "RUNNING"
        for step in steps:
            if step["kind"] == "waiting" and step["wait"] == "approval":
                step["approval_id"] = approval_id(run_id, step.get("id") or "")
            if step["kind"] == "finished":
                step["transitions"] = translator.transitions
        next_cursor = Cursor(max(last, cursor.event), translator.turn, translator.transitions)
        return {
            "events": steps,
            "next": str(next_cursor),
            "status": status,
            "more": more,
            "calls": reader.calls,
        }

    def wait_for_news(self, run_id: str, after: str | None, seconds: float) -> dict[str, Any]:
        """Like ``events``, but polls (paced by ``PollInterval``, like every follower) until there
        are new steps or ``seconds`` have passed: a long poll, which API Gateway's buffered Lambda
        integration can serve as server-sent events. A run that has ended has no news to wait
        for: its page comes back at once."""
        interval = PollInterval.for_endpoint(self.settings.local)
        deadline = time.monotonic() + seconds
        calls = 0
        while True:
            page = self.events(run_id, after, lambda: time.sleep(interval.fastest))
            calls += page["calls"]
            if page["events"] or page["status"] != "RUNNING" or time.monotonic() >= deadline:
                return page | {"calls": calls}
            pause = interval.next(news=False)
            time.sleep(max(0.0, min(pause, deadline - time.monotonic())))
