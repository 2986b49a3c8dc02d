"""One model turn, independent of the provider: parse the event, extend the stored history, call the
model through a ModelClient, check the tool calls it made, store the history, return the reply."""

import json
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Protocol

from aws_lambda_powertools.utilities.validation import SchemaValidationError, validate

from agent_core import telemetry
from agent_core.conversation import ConversationStore
from agent_core.errors import MalformedLlmEvent
from agent_core.event_checks import check_turn_event, load_history
from agent_core.messages import Message, ToolSpec, ToolUseBlock, Usage, check_messages, tool_uses
from agent_core.observability import logger, metrics
from agent_core.pricing import cost_usd


@dataclass(frozen=True)
class ModelRequest:
    model: str
    system: str
    messages: list[Message]
    tools: list[ToolSpec]
    max_output_tokens: int
    output_schema: dict[str, Any] | None = None


@dataclass(frozen=True)
class ModelReply:
    message: Message
    stop_reason: str
    usage: Usage
    model: str


class ModelClient(Protocol):
    provider: str

    def complete(self, request: ModelRequest) -> ModelReply: ...


@dataclass(frozen=True)
class TurnEvent:
    agent: dict[str, Any]
    tools: list[ToolSpec]
    conversation: dict[str, Any] | None
    new_messages: list[Message]
    execution: str
    state_machine: str
    turn: int


def parse_event(event: Any) -> TurnEvent:
    check_turn_event(event)  # every field's type; what follows reads them
    agent = event["agent"]
    tools = event.get("tools", [])
    new_messages = check_messages(event.get("new_messages"), "new_messages")
    if not new_messages:
        raise MalformedLlmEvent("new_messages must hold at least one message")
    context = event.get("context") or {}
    turn = context.get("turn", 1)
    if not isinstance(turn, int) or turn < 1:
        raise MalformedLlmEvent("context.turn must be a positive integer")
    return TurnEvent(
        agent=agent,
        tools=tools,
        conversation=event.get("conversation"),
        new_messages=new_messages,
        execution=str(context.get("execution") or "local"),
        state_machine=str(context.get("state_machine") or "local"),
        turn=turn,
    )


# Where adapters keep tool arguments the model wrote that do not parse as a JSON object.
RAW_ARGUMENTS = "_raw_arguments"


@lru_cache(maxsize=256)
def _schema(schema_json: str) -> dict[str, Any]:
    return json.loads(schema_json)


def check_tool_call(call: ToolUseBlock, tools: dict[str, ToolSpec]) -> str | None:
    """Why this call cannot run, or None. The state machine answers such calls with an error."""
    spec = tools.get(call["name"])
    if spec is None:
        return (
            f"Unknown tool {call['name']}. Available tools: {', '.join(sorted(tools)) or 'none'}."
        )
    raw = call["input"].get(RAW_ARGUMENTS)
    if raw is not None:  # an adapter kept arguments the model wrote that are not a JSON object
        return (
            f"Invalid input for tool {call['name']}: arguments are not a JSON object: {raw[:200]}"
        )
    schema = spec.get("input_schema") or {"type": "object"}
    try:
        validate(event=call["input"], schema=_schema(json.dumps(schema, sort_keys=True)))
    except SchemaValidationError as error:
        return f"Invalid input for tool {call['name']}: {error}"
    return None


@telemetry.counts_llm_errors
def run_turn(
    event: Any, client: ModelClient, store: ConversationStore, default_model: str
) -> dict[str, Any]:
    turn_event = parse_event(event)
    history = load_history(store, turn_event.conversation) if turn_event.conversation else []
    messages = check_messages(history + turn_event.new_messages)
    agent = turn_event.agent
    request = ModelRequest(
        model=agent.get("model") or default_model,
        system=agent.get("system_prompt") or "",
        messages=messages,
        tools=turn_event.tools,
        max_output_tokens=int(agent.get("max_output_tokens") or 4096),
        output_schema=agent.get("output_schema"),
    )
    reply = client.complete(request)
    messages.append(reply.message)
    ref = store.save(str(agent["name"]), turn_event.execution, turn_event.turn, messages)
    tools_by_name = {t["name"]: t for t in turn_event.tools}
    tool_calls = [
        {**call, "error": check_tool_call(call, tools_by_name)} for call in tool_uses(reply.message)
    ]
    cost = cost_usd(reply.model, reply.usage)
    agent_name = str(agent["name"])
    telemetry.record_turn(
        metrics, agent_name, reply.model, turn_event.state_machine, reply.usage, cost
    )
    telemetry.record_tool_errors(agent_name, history, turn_event.new_messages)
    logger.info(
        "model turn",
        extra={
            "turn": turn_event.turn,
            "stop_reason": reply.stop_reason,
            "tool_calls": [c["name"] for c in tool_calls],
            "usage": reply.usage,
        },
    )
    return {
        "message": reply.message,
        "tool_calls": [
            {"id": c["id"], "name": c["name"], "input": c["input"], "error": c["error"]}
            for c in tool_calls
        ],
        "stop_reason": reply.stop_reason,
        "usage": {**reply.usage, "cost_usd": cost if cost is not None else 0},
        "priced": cost is not None,
        "conversation": ref,
        "provider": client.provider,
        "model": reply.model,
    }
