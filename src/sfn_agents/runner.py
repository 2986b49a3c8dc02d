"""Start a state machine execution and follow its history as it happens."""

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

POLL_SECONDS = 0.05
HistoryEvent = dict[str, Any]


@dataclass
class RunResult:
    execution_arn: str
    status: str
    output: dict[str, Any] | None
    error: str | None
    cause: str | None
    duration_seconds: float
    events: list[HistoryEvent] = field(default_factory=list)

    @property
    def transitions(self) -> int:
        """State transitions as Step Functions bills them: one per state entered."""
        return sum(1 for e in self.events if e["type"].endswith("StateEntered"))


def _history(sfn: Any, execution_arn: str) -> list[HistoryEvent]:
    events: list[HistoryEvent] = []
    arguments: dict[str, Any] = {"executionArn": execution_arn, "includeExecutionData": True}
    while True:
        page = sfn.get_execution_history(**arguments)
        events.extend(page["events"])
        if not page.get("nextToken"):
            return events
        arguments["nextToken"] = page["nextToken"]


def run_execution(
    sfn: Any,
    state_machine_arn: str,
    execution_input: dict[str, Any],
    on_event: Callable[[HistoryEvent], None] = lambda event: None,
    timeout_seconds: float = 3600,
) -> RunResult:
    started = time.monotonic()
    execution_arn = sfn.start_execution(
        stateMachineArn=state_machine_arn,
        name=f"run-{uuid.uuid4().hex[:16]}",
        input=json.dumps(execution_input),
    )["executionArn"]
    seen = 0
    while True:
        description = sfn.describe_execution(executionArn=execution_arn)
        events = _history(sfn, execution_arn)
        for event in events[seen:]:
            on_event(event)
        seen = len(events)
        if description["status"] != "RUNNING":
            break
        if time.monotonic() - started > timeout_seconds:
            sfn.stop_execution(executionArn=execution_arn, error="sfn-agents.Timeout")
            continue
        time.sleep(POLL_SECONDS)
    output = description.get("output")
    return RunResult(
        execution_arn=execution_arn,
        status=description["status"],
        output=json.loads(output) if output else None,
        error=description.get("error"),
        cause=description.get("cause"),
        duration_seconds=time.monotonic() - started,
        events=events,
    )
