"""Start a state machine execution and follow it as it happens, reading only the history events
added since the last read (see run_events: one GetExecutionHistory call a poll, paced to stay
within AWS's quotas; with the engine in this process, a poll as soon as there is news)."""

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

from sfn_agents import history_news
from sfn_agents.run_events import Event, HistoryReader, PollInterval, Step, StepTranslator, follow

HistoryEvent = Event
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}


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


class _RecordingReader(HistoryReader):
    """A reader that also keeps every event it returned."""

    def __init__(self, sfn: Any, execution_arn: str) -> None:
        super().__init__(sfn, execution_arn)
        self.events: list[Event] = []

    def read(self, between_pages: Callable[[], None] = lambda: None) -> list[Event]:
        new = super().read(between_pages)
        self.events.extend(new)
        return new


def is_local(sfn: Any) -> bool:
    """Whether a client talks to an engine on this machine (polled fast) rather than AWS."""
    return urlparse(sfn.meta.endpoint_url).hostname in LOOPBACK_HOSTS


def start_execution(sfn: Any, state_machine_arn: str, execution_input: dict[str, Any]) -> str:
    return str(
        sfn.start_execution(
            stateMachineArn=state_machine_arn,
            name=f"run-{uuid.uuid4().hex[:16]}",
            input=json.dumps(execution_input),
        )["executionArn"]
    )


def follow_execution(
    sfn: Any,
    execution_arn: str,
    on_step: Callable[[Step], None] = lambda step: None,
    timeout_seconds: float = 3600,
    interval: PollInterval | None = None,
    translator: StepTranslator | None = None,
) -> RunResult:
    """Follow a run to its end, handing each step on as it happens. A run still going after
    ``timeout_seconds`` is stopped (and followed to its end)."""
    started = time.monotonic()
    reader = _RecordingReader(sfn, execution_arn)
    pacing = interval or PollInterval.for_endpoint(local=is_local(sfn))
    stopped = False

    def pace(seconds: float) -> None:
        nonlocal stopped
        if not stopped and time.monotonic() - started > timeout_seconds:
            sfn.stop_execution(executionArn=execution_arn, error="sfn-agents.Timeout")
            stopped = True
        # Woken by an engine in this process as soon as the run has news (see history_news),
        # but no sooner than the pacing allows (between a read's pages, just that: they are there).
        soonest = min(seconds, pacing.fastest)
        history_news.wait(execution_arn, reader.after, seconds, at_least=soonest)

    with history_news.following(execution_arn):
        final = follow(reader, on_step, pacing, pace, translator)
    output = final.get("output")
    return RunResult(
        execution_arn=execution_arn,
        status=final["status"],
        output=output if isinstance(output, dict) else None,
        error=final.get("error"),
        cause=final.get("cause"),
        duration_seconds=time.monotonic() - started,
        events=reader.events,
    )


def run_execution(
    sfn: Any,
    state_machine_arn: str,
    execution_input: dict[str, Any],
    on_step: Callable[[Step], None] = lambda step: None,
    timeout_seconds: float = 3600,
) -> RunResult:
    started = time.monotonic()
    execution_arn = start_execution(sfn, state_machine_arn, execution_input)
    result = follow_execution(sfn, execution_arn, on_step, timeout_seconds)
    result.duration_seconds = time.monotonic() - started
    return result
