"""One model turn, independent of the provider: parse the event, extend the stored history, call the
model through a ModelClient, check the tool calls it made, store the history, return the reply."""

import json
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Protocol

from aws_lambda_powertools.utilities.validation import SchemaValidationError, validate

from agent_core import context as context_budget
from agent_core import telemetry
from agent_core.conversation import ConversationStore, scope_for
from agent_core.errors import MalformedLlmEvent
from agent_core.event_checks import check_turn_event, load_history
from agent_core.large_results import MAX_PARALLEL_CALLS, MAX_TOOL_INPUT_BYTES
from agent_core.messages import Message, ToolSpec, ToolUseBlock, Usage, check_messages, tool_uses
from agent_core.observability import logger, metrics
from agent_core.pricing import cost_usd, transition_price_usd


@dataclass(frozen=True)
class ModelRequest:
    model: str
    system: str
    messages: list[Message]
    tools: list[ToolSpec]
    max_output_tokens: int
    output_schema: dict[str, Any] | None = None
    cache: bool = True  # mark prompt-cache breakpoints where the provider supports them


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
    attempt: int
    session_id: str | None


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
    attempt = context.get("attempt", 0)
    if not isinstance(attempt, int) or attempt < 0:
        raise MalformedLlmEvent("context.attempt must be a non-negative integer")
    session_id = context.get("session_id")
    if session_id is not None and (not isinstance(session_id, str) or not session_id):
        raise MalformedLlmEvent("context.session_id must be null or a non-empty string")
    return TurnEvent(
        agent=agent,
        tools=tools,
        conversation=event.get("conversation"),
        new_messages=new_messages,
        execution=str(context.get("execution") or "local"),
        state_machine=str(context.get("state_machine") or "local"),
        turn=turn,
        attempt=attempt,
        session_id=session_id,
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


def input_budget(agent: dict[str, Any], model: str, max_output_tokens: int) -> int:
    """The agent's max_input_tokens, capped by the model's context window."""
    default = context_budget.default_budget(model, max_output_tokens)
    asked = agent.get("max_input_tokens")
    return min(asked, default) if isinstance(asked, int) and asked > 0 else default


def _answerable(call: ToolUseBlock, index: int, tools: dict[str, ToolSpec]) -> str | None:
    if index >= MAX_PARALLEL_CALLS:
        return (
            f"Too many tool calls in one turn: at most {MAX_PARALLEL_CALLS} run; "
            "call the rest in the next turn."
        )
    size = len(json.dumps(call["input"]))
    if size > MAX_TOOL_INPUT_BYTES:
        return (
            f"Input for tool {call['name']} is {size} bytes; the limit is "
            f"{MAX_TOOL_INPUT_BYTES}. Send smaller input (for example a reference to data)."
        )
    return check_tool_call(call, tools)


@telemetry.counts_llm_errors
def run_turn(
    event: Any, client: ModelClient, store: ConversationStore, default_model: str
) -> dict[str, Any]:
    turn_event = parse_event(event)
    ref = turn_event.conversation
    history = load_history(store, ref) if ref else []
    messages = history + check_messages(turn_event.new_messages, follows=history)
    agent = turn_event.agent
    model = agent.get("model") or default_model
    max_output_tokens = int(agent.get("max_output_tokens") or 4096)
    system = agent.get("system_prompt") or ""
    budget = input_budget(agent, model, max_output_tokens)
    request = ModelRequest(
        model=model,
        system=system,
        messages=context_budget.fit(system, list(turn_event.tools), messages, budget),
        tools=turn_event.tools,
        max_output_tokens=max_output_tokens,
        output_schema=agent.get("output_schema"),
    )
    reply = client.complete(request)
    scope = scope_for(str(agent["name"]), turn_event.session_id)
    saved = store.save(
        ref,  # type: ignore[arg-type]
        scope,
        turn_event.execution,
        turn_event.turn,
        turn_event.attempt,
        history,
        [*turn_event.new_messages, reply.message],
    )
    tools_by_name = {t["name"]: t for t in turn_event.tools}
    tool_calls: list[dict[str, Any]] = [
        {**call, "error": _answerable(call, index, tools_by_name)}
        for index, call in enumerate(tool_uses(reply.message))
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
            "request_messages": len(request.messages),
            "history_messages": len(messages) + 1,
        },
    )
    return {
        "message": _bounded(reply.message),
        "tool_calls": [
            {
                "id": c["id"],
                "name": c["name"],
                "input": _bounded_input(c["input"]),
                "error": c["error"],
            }
            for c in tool_calls
        ],
        "stop_reason": reply.stop_reason,
        "usage": {**reply.usage, "cost_usd": cost if cost is not None else 0},
        "priced": cost is not None,
        "transition_price_usd": transition_price_usd(),  # for the run's receipt
        "conversation": saved,
        "provider": client.provider,
        "model": reply.model,
    }


def _bounded_input(tool_input: dict[str, Any]) -> dict[str, Any]:
    """Tool input as the state carries it: too large an input is left out (S3 has it, and the
    call is answered with an error)."""
    size = len(json.dumps(tool_input))
    return {"_omitted_bytes": size} if size > MAX_TOOL_INPUT_BYTES else tool_input


def _bounded(message: Message) -> Message:
    content: list[dict[str, Any]] = [dict(b) for b in message["content"]]
    for block in content:
        if block["type"] == "tool_use":
            block["input"] = _bounded_input(block["input"])
    return {"role": message["role"], "content": content}  # type: ignore[typeddict-item]
