"""Checks of an LLM function's input (docs/contract.md) beyond its structure: the types of every
field a provider adapter reads, and the stored history a conversation reference points to.

Anything wrong raises MalformedLlmEvent with a message that names the field, so a malformed event
never reaches a provider SDK (whose errors would be a 400 at best and a TypeError at worst) and
never surfaces as a bare KeyError or an S3 error."""

from typing import Any

from agent_core.errors import MalformedLlmEvent
from agent_core.messages import Message, check_messages

# Far above every model's output limit; an int beyond it is not a token budget.
MAX_OUTPUT_TOKENS = 1_000_000


def _optional(value: Any, kind: type, where: str, what: str) -> None:
    if value is not None and (not isinstance(value, kind) or isinstance(value, bool)):
        raise MalformedLlmEvent(f"{where} must be {what} when given, got {type(value).__name__}")


def _check_agent(agent: Any) -> None:
    if not isinstance(agent, dict):
        raise MalformedLlmEvent("agent must be an object with at least a string name")
    name = agent.get("name")
    if not isinstance(name, str) or not name.strip():
        raise MalformedLlmEvent("agent.name must be a non-empty string")
    for field in ("model", "provider"):  # empty: the function's default
        value = agent.get(field)
        if value is not None and (not isinstance(value, str) or (value and not value.strip())):
            raise MalformedLlmEvent(f"agent.{field} must be a string (empty for the default)")
    _optional(agent.get("system_prompt"), str, "agent.system_prompt", "a string")
    _optional(agent.get("output_schema"), dict, "agent.output_schema", "a JSON schema object")
    tokens = agent.get("max_output_tokens")
    _optional(tokens, int, "agent.max_output_tokens", "an integer")
    if tokens is not None and not 1 <= tokens <= MAX_OUTPUT_TOKENS:
        raise MalformedLlmEvent(
            f"agent.max_output_tokens must be from 1 to {MAX_OUTPUT_TOKENS:,}, got {tokens}"
        )


def _check_tools(tools: Any) -> None:
    if not isinstance(tools, list):
        raise MalformedLlmEvent("tools must be a list of {name, description, input_schema}")
    seen: set[str] = set()
    for index, tool in enumerate(tools):
        at = f"tools[{index}]"
        if not isinstance(tool, dict):
            raise MalformedLlmEvent(f"{at} must be an object {{name, description, input_schema}}")
        name = tool.get("name")
        if not isinstance(name, str) or not name:
            raise MalformedLlmEvent(f"{at}.name must be a non-empty string")
        if name in seen:
            raise MalformedLlmEvent(f"{at}: tool name {name!r} appears twice")
        seen.add(name)
        _optional(tool.get("description"), str, f"{at}.description", "a string")
        if not isinstance(tool.get("input_schema"), dict):
            raise MalformedLlmEvent(f"{at}.input_schema must be a JSON schema object")


def _check_context(context: Any) -> None:
    if context is None:
        return
    if not isinstance(context, dict):
        raise MalformedLlmEvent("context must be an object {execution, state_machine, turn}")
    turn = context.get("turn")
    _optional(turn, int, "context.turn", "a positive integer")
    for field in ("execution", "state_machine"):
        _optional(context.get(field), str, f"context.{field}", "a string")


def _check_conversation(ref: Any) -> None:
    if ref is None:
        return
    if not isinstance(ref, dict):
        raise MalformedLlmEvent("conversation must be null or {bucket, key} from the last turn")
    if not isinstance(ref.get("key"), str) or not ref["key"]:
        raise MalformedLlmEvent("conversation.key must be a non-empty string")
    _optional(ref.get("bucket"), str, "conversation.bucket", "a string")


def _check_new_texts(messages: list[Message]) -> None:
    """Providers refuse a text block of only whitespace; say so before calling them."""
    for index, message in enumerate(messages):
        for position, block in enumerate(message["content"]):
            if block["type"] == "text" and not block["text"].strip():
                raise MalformedLlmEvent(
                    f"new_messages[{index}].content[{position}]: the text is empty or whitespace"
                )


def check_turn_event(event: Any) -> None:
    """Raise MalformedLlmEvent unless every field of the LLM function's input has its type."""
    if not isinstance(event, dict):
        raise MalformedLlmEvent(
            f"the LLM function's input must be a JSON object, got {type(event).__name__}"
        )
    _check_agent(event.get("agent"))
    _check_tools(event.get("tools", []))
    _check_context(event.get("context"))
    _check_conversation(event.get("conversation"))
    new_messages = check_messages(event.get("new_messages"), "new_messages")
    _check_new_texts(new_messages)


def load_history(store: Any, ref: dict[str, Any]) -> list[Message]:
    """The stored conversation ``ref`` points to, or MalformedLlmEvent saying why it cannot be
    read. Only the function's own artifact bucket is read."""
    from botocore.exceptions import ClientError

    bucket = ref.get("bucket", store.bucket)
    if bucket != store.bucket:
        raise MalformedLlmEvent(
            f"conversation.bucket {bucket!r} is not this function's artifact bucket"
        )
    try:
        history: list[Message] = store.load(ref)
    except MalformedLlmEvent:
        raise
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        if code in ("NoSuchKey", "404", "NoSuchBucket", "AccessDenied", "403"):
            raise MalformedLlmEvent(
                f"conversation {ref['key']!r} cannot be read from the artifact bucket ({code}): "
                "pass null on the first turn, then the reference the last turn returned"
            ) from None
        raise
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise MalformedLlmEvent(
            f"conversation {ref['key']!r} is not a stored conversation "
            f"({type(error).__name__}): pass the reference the last turn returned"
        ) from None
    return history
