"""An agent run as the steps a person follows, read from its Step Functions execution history.

Shared by everything that follows a run (the ``sfn-agents`` CLI, the HTTP API and its UI), so a
step means the same everywhere. Standard library only: ``src/sfn_agents/run_events.py`` is a
link to this file.

- :class:`HistoryReader` reads only the events a run added since the last read: newest first
  (``reverseOrder``) back to the last event it saw, so a poll costs one ``GetExecutionHistory``
  call while fewer than a page of events arrived (the API refills 20 calls/s for a whole account).
  Its first page is sized to what the last read brought (twice that, at least MIN_PAGE_SIZE), not
  always PAGE_SIZE: a page of events with their data is ~5 KB an event to send and parse, and a
  run adds a few events between polls.
- :class:`StepTranslator` turns history events into steps (``kind``: ``model_turn``, ``text``,
  ``tool_call``, ``tool_result``, ``waiting``, ``error``, ``finished``), each carrying the id of
  the event it came from as its ``cursor``. Each call's result is one step, however many states
  pass it on; an ``error`` step names the ``state`` that failed.
- :class:`PollInterval` paces polling: fast right after something happened, backing off while
  nothing does, with a floor that keeps one followed run under 5 Step Functions reads a second.
"""

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

Event = dict[str, Any]
Step = dict[str, Any]

PAGE_SIZE = 100
MIN_PAGE_SIZE = 10
TERMINAL_EVENTS = {
    "ExecutionSucceeded": "SUCCEEDED",
    "ExecutionFailed": "FAILED",
    "ExecutionTimedOut": "TIMED_OUT",
    "ExecutionAborted": "ABORTED",
}
# States of the loop whose entry means a tool call is waiting on someone or something else.
WAITING_STATES = {"RequestApproval": "approval", "RunRemote": "remote", "RunSubAgent": "sub_agent"}


class HistoryReader:
    """New history events of one execution, oldest first, in as few calls as the API allows."""

    def __init__(self, sfn: Any, execution_arn: str, after: int = 0, page_size: int = PAGE_SIZE):
        self.sfn = sfn
        self.execution_arn = execution_arn
        self.after = after
        self.page_size = page_size
        self.calls = 0
        self._first_page = page_size  # the whole page until a read shows how many events come

    def read(self, between_pages: Callable[[], None] = lambda: None) -> list[Event]:
        """The events added since the last read; ``between_pages`` runs before each page after
        the first (a follower's pause, so a read of several pages keeps to its pacing)."""
        arguments: dict[str, Any] = {
            "executionArn": self.execution_arn,
            "reverseOrder": True,
            "maxResults": self._first_page,
            "includeExecutionData": True,
        }
        new: dict[int, Event] = {}
        while True:
            page = self.sfn.get_execution_history(**arguments)
            self.calls += 1
            ids = [event["id"] for event in page["events"]]
            new.update((event["id"], event) for event in page["events"] if event["id"] > self.after)
            # Newest first: a page reaching back to an event already seen ends the read.
            if not page.get("nextToken") or (ids and min(ids) <= self.after):
                break
            arguments.update(nextToken=page["nextToken"], maxResults=self.page_size)
            between_pages()
        events = [new[event_id] for event_id in sorted(new)]
        self._first_page = min(self.page_size, max(MIN_PAGE_SIZE, 2 * len(events)))
        if events:
            self.after = events[-1]["id"]
        return events


def _json(text: str | None) -> Any:
    try:
        return json.loads(text) if text else None
    except ValueError:
        return text


def _details(event: Event) -> dict[str, Any]:
    """The event's one ``…EventDetails`` member (its name follows the event type)."""
    return next((v for k, v in event.items() if k.endswith("EventDetails")), {})


def _payload(output: Any) -> Any:
    """A Lambda task's state output is the invoke result unless the state shaped its Output."""
    if isinstance(output, dict) and "Payload" in output and "StatusCode" in output:
        return output["Payload"]
    return output


@dataclass
class StepTranslator:
    """History events to steps. Keeps what later events need: the turn and each call's name."""

    turn: int = 0
    transitions: int = 0
    tool_names: dict[str, str] = field(default_factory=dict)
    # A caught tool error leaves its result twice (the failed state's, then ToolFailed's): once.
    results: set[str] = field(default_factory=set)
    # event id -> the state it belongs to, followed through previousEventId (Task* events)
    state_of_event: dict[int, str] = field(default_factory=dict)

    def steps(self, events: list[Event]) -> list[Step]:
        return [step for event in events for step in self._translate(event)]

    def _translate(self, event: Event) -> Iterator[Step]:
        kind = event["type"]
        base = {"cursor": event["id"], "time": str(event.get("timestamp", ""))}
        state = self.state_of_event.get(event.get("previousEventId", -1))
        if state and not kind.endswith("StateExited"):
            self.state_of_event[event["id"]] = state
        if kind.endswith("StateEntered"):
            self.transitions += 1
            details = event.get("stateEnteredEventDetails", {})
            self.state_of_event[event["id"]] = details.get("name", "")
            state_input = _json(details.get("input"))
            call = state_input.get("call") if isinstance(state_input, dict) else None
            if isinstance(call, dict) and call.get("id"):  # a tool state: its result's name
                self.tool_names[call["id"]] = call.get("name", "?")
            wait = WAITING_STATES.get(details.get("name", ""))
            if wait:
                call = call or {}
                yield base | {
                    "kind": "waiting",
                    "wait": wait,
                    "id": call.get("id"),
                    "name": call.get("name"),
                    "input": call.get("input"),
                }
        elif kind.endswith("StateExited"):
            details = event.get("stateExitedEventDetails", {})
            output = _payload(_json(details.get("output")))
            if details.get("name") == "CallModel" and isinstance(output, dict):
                yield from self._model_turn(base, output)
            elif (
                isinstance(output, dict)
                and output.get("type") == "tool_result"
                and output.get("tool_use_id", "") not in self.results
            ):
                call_id = output.get("tool_use_id", "")
                self.results.add(call_id)
                yield base | {
                    "kind": "tool_result",
                    "id": call_id,
                    "name": output.get("name") or self.tool_names.get(call_id, "?"),
                    "content": output.get("content", ""),
                    "is_error": bool(output.get("is_error")),
                }
        elif kind in ("TaskFailed", "TaskTimedOut", "ActivityFailed", "ActivityTimedOut"):
            details = _details(event)
            yield base | {
                "kind": "error",
                "state": state or "",
                "error": details.get("error", kind),
                "cause": details.get("cause", ""),
            }
        elif kind in TERMINAL_EVENTS:
            details = _details(event)
            yield base | {
                "kind": "finished",
                "status": TERMINAL_EVENTS[kind],
                "output": _json(details.get("output")),
                "error": details.get("error"),
                "cause": details.get("cause"),
            }

    def _model_turn(self, base: Step, reply: dict[str, Any]) -> Iterator[Step]:
        self.turn += 1
        yield base | {
            "kind": "model_turn",
            "turn": self.turn,
            "model": reply.get("model"),
            "usage": reply.get("usage", {}),
        }
        for block in (reply.get("message") or {}).get("content", []):
            if block.get("type") == "text" and block.get("text"):
                yield base | {"kind": "text", "turn": self.turn, "text": block["text"]}
        for call in reply.get("tool_calls", []):
            self.tool_names[call["id"]] = call["name"]
            yield base | {
                "kind": "tool_call",
                "turn": self.turn,
                "id": call["id"],
                "name": call["name"],
                "input": call.get("input", {}),
            }


@dataclass
class PollInterval:
    """Seconds to wait before the next poll: ``fastest`` after news, growing by ``backoff`` to
    ``slowest`` while nothing happens; ``fastest`` is also the wait between the pages of a read.
    On AWS that floor of 0.3 s between any two calls keeps one followed run at 3.3 reads a second
    at most (4 in any one second); locally 20 ms keeps runs snappy."""

    fastest: float
    slowest: float
    backoff: float = 1.5
    current: float = 0.0

    @classmethod
    def for_endpoint(cls, local: bool) -> "PollInterval":
        return cls(0.02, 0.5) if local else cls(0.3, 5.0)

    def next(self, news: bool) -> float:
        grown = self.current * self.backoff if self.current else self.fastest
        self.current = self.fastest if news else min(self.slowest, grown)
        return self.current


def follow(
    reader: HistoryReader,
    on_step: Callable[[Step], None],
    interval: PollInterval,
    sleep: Callable[[float], None],
    translator: StepTranslator | None = None,
) -> Step:
    """Reads, translates and hands on steps until the run ends; returns the ``finished`` step."""
    translator = translator or StepTranslator()
    while True:
        started = time.monotonic()
        steps = translator.steps(reader.read(between_pages=lambda: sleep(interval.fastest)))
        read_seconds = time.monotonic() - started
        for step in steps:
            on_step(step)
            if step["kind"] == "finished":
                return step
        # Never poll more than half the time: an endpoint that answers slowly (a long history it
        # cannot page) is given as long to work as the last read took.
        sleep(max(interval.next(news=bool(steps)), read_seconds))
