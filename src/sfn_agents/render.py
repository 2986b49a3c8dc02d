"""Readable, streaming rendering of an agent run: one line per step (see run_events), each tool
result next to the call it answers (name and a short id), once."""

import contextlib
import json
import re
from collections.abc import Iterable
from typing import Any, TextIO

from sfn_agents.run_events import Event, Step, StepTranslator
from sfn_agents.runner import RunResult

WIDTH = 300
WAITS = {
    "approval": "waits for approval",
    "remote": "sent to a remote worker",
    "sub_agent": "delegated to a sub-agent",
}
# States whose failures come back as a tool result, which is shown instead.
TOOL_STATES = {"InvokeTool", "RequestApproval", "RunApprovedTool", "RunRemote", "RunSubAgent"}
# Step Functions' cause for a failed JSONata expression quotes the expression, then the message.
_EVALUATION = re.compile(r"An error occurred while evaluating '.*': (?P<message>.*)\Z", re.S)
_STATE = re.compile(r"executing the state '(?P<state>[^']+)'")


def _short(value: Any, width: int = WIDTH) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def call_label(name: str | None, call_id: str | None) -> str:
    """A tool call as the stream shows it: its name and the end of its id (``name#a1b2c3``)."""
    return f"{name or '?'}#{(call_id or '')[-6:]}" if call_id else name or "?"


class AgentPrinter:
    """Prints an agent's steps as they arrive: model turns, tool calls, results and waits."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.turn = 0

    def _say(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    def __call__(self, step: Step) -> None:
        kind = step["kind"]
        if kind == "model_turn":
            self.turn = step["turn"]
            usage = step.get("usage") or {}
            self._say(
                f"▸ turn {step['turn']} · {step.get('model') or '?'} · "
                f"{usage.get('input_tokens', 0)} in / {usage.get('output_tokens', 0)} out tokens"
            )
        elif kind == "text":
            self._say(f"  {_short(step['text'])}")
        elif kind == "tool_call":
            label = call_label(step["name"], step["id"])
            self._say(f"  → {label} {_short(step.get('input', {}), 200)}")
        elif kind == "waiting":
            label = call_label(step.get("name"), step.get("id"))
            self._say(f"  ⏸ {label} {WAITS.get(step['wait'], 'waits')}")
        elif kind == "tool_result":
            mark = "✗" if step["is_error"] else "←"
            label = call_label(step["name"], step["id"])
            self._say(f"  {mark} {label}: {_short(step['content'])}")
        elif kind == "error" and step.get("state") not in TOOL_STATES:
            where = f"{step['state']}: " if step.get("state") else ""
            self._say(f"  ! {where}{step['error']}: {_short(step.get('cause', ''), 200)}")

    def summary(self, result: RunResult) -> None:
        output = result.output or {}
        usage = output.get("usage", {})
        # the run's receipt (model, transitions, sub-agents) once it finished, else model cost
        cost = (output.get("receipt") or {}).get("cost_usd", usage.get("cost_usd", 0))
        answer = output.get("answer", "")
        if answer and len(answer) > WIDTH:  # the streamed turn showed only its start
            self._say(f"\n{answer}\n")
        self._say(
            f"status {result.status} · stop reason {output.get('stop_reason', '-')} · "
            f"turns {output.get('turns', self.turn)} · transitions {result.transitions} · "
            f"tokens {usage.get('input_tokens', 0)} in / {usage.get('output_tokens', 0)} out · "
            f"cost ${cost:.4f} · {result.duration_seconds:.1f} s"
        )


def print_steps(steps: Iterable[Step], out: TextIO) -> AgentPrinter:
    """Print steps already read (a finished run, say) as ``run`` streams them."""
    printer = AgentPrinter(out)
    for step in steps:
        printer(step)
    return printer


def print_history(events: list[Event], out: TextIO) -> AgentPrinter:
    """Print a run's history events (oldest first) as ``run`` streams them."""
    return print_steps(StepTranslator().steps(events), out)


def failure_reason(error: str | None, cause: str | None) -> str:
    """Why a run failed, on one line and in full: a Lambda error's ``errorMessage``, the message
    of a failed JSONata expression (``$error``'s text, not the expression), else the cause."""
    message = cause or ""
    with contextlib.suppress(ValueError, AttributeError):
        message = json.loads(message).get("errorMessage", message)
    evaluation = _EVALUATION.search(message)
    if evaluation:
        state = _STATE.search(message)
        error = f"{error} in {state['state']}" if state else error
        message = evaluation["message"]
    return " ".join(f"{error}: {message}".split()) if message else str(error)
