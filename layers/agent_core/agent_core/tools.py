"""The tool contract shared by tools in every language.

Input:  {"name": str, "id": str, "input": object}
Output: {"type": "tool_result", "tool_use_id": str, "name": str, "content": str, "is_error": bool}

Expected failures (bad SQL, an empty data set, an upstream 404) are reported to the model as an
error result so it can change its approach. Anything else a handler raises is a bug or an outage:
the model gets a short error result naming the error type only, and the function's log gets the
stack trace (paths and internals never reach the model).

An event that is not a tool call cannot be answered with a tool_result: it raises
MalformedToolEvent (the Lambda errorType) with a message that says what is wrong.
"""

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from agent_core.observability import logger


class MalformedToolEvent(ValueError):
    """The event is not a tool call: it cannot be answered with a tool_result."""


class ToolError(Exception):
    """An expected failure whose message the model should read."""


@dataclass(frozen=True)
class ToolUse:
    id: str
    name: str
    input: dict[str, Any]


def parse_tool_use(event: Any) -> ToolUse:
    if not isinstance(event, dict):
        raise MalformedToolEvent(f"tool event must be a JSON object, got {type(event).__name__}")
    missing = [
        key for key in ("id", "name") if not isinstance(event.get(key), str) or not event[key]
    ]
    if missing:
        raise MalformedToolEvent(f"tool event lacks string field(s): {', '.join(missing)}")
    tool_input = event.get("input", {})
    if not isinstance(tool_input, dict):
        raise MalformedToolEvent("tool event field 'input' must be a JSON object")
    return ToolUse(id=event["id"], name=event["name"], input=tool_input)


def tool_result(call: ToolUse, content: Any, is_error: bool = False) -> dict[str, Any]:
    text = content if isinstance(content, str) else json.dumps(content, default=str)
    return {
        "type": "tool_result",
        "tool_use_id": call.id,
        "name": call.name,
        "content": text,
        "is_error": is_error,
    }


ToolHandler = Callable[[dict[str, Any]], Any]


def dispatch(event: Any, handlers: Mapping[str, ToolHandler]) -> dict[str, Any]:
    """Route one tool call to its handler and wrap the outcome as a tool_result."""
    call = parse_tool_use(event)
    handler = handlers.get(call.name)
    if handler is None:
        known = ", ".join(sorted(handlers))
        return tool_result(
            call, f"Unknown tool '{call.name}'. This function serves: {known}.", True
        )
    try:
        return tool_result(call, handler(call.input))
    except ToolError as error:
        return tool_result(call, str(error), is_error=True)
    except Exception as error:
        logger.exception("tool failed", extra={"tool": call.name, "tool_use_id": call.id})
        return tool_result(
            call,
            f"The tool {call.name} failed with an internal error ({type(error).__name__}); "
            "the details are in the function's log. Retrying the same call will likely fail too.",
            is_error=True,
        )
