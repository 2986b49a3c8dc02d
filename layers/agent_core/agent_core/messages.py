"""The canonical message format (docs/contract.md) and checks that a history follows it."""

from typing import Any, Literal, NotRequired, TypedDict

from agent_core.errors import MalformedLlmEvent


class TextBlock(TypedDict):
    type: Literal["text"]
    text: str


class ToolUseBlock(TypedDict):
    type: Literal["tool_use"]
    id: str
    name: str
    input: dict[str, Any]


class ToolResultBlock(TypedDict):
    type: Literal["tool_result"]
    tool_use_id: str
    content: str
    is_error: NotRequired[bool]


Block = TextBlock | ToolUseBlock | ToolResultBlock


class Message(TypedDict):
    role: Literal["user", "assistant"]
    content: list[Block]


class ToolSpec(TypedDict):
    name: str
    description: str
    input_schema: dict[str, Any]


class Usage(TypedDict):
    input_tokens: int
    output_tokens: int
    cache_read_input_tokens: int
    cache_creation_input_tokens: int


# Each block type's required fields and their types.
_REQUIRED_FIELDS: dict[str, dict[str, type]] = {
    "text": {"text": str},
    "tool_use": {"id": str, "name": str, "input": dict},
    "tool_result": {"tool_use_id": str, "content": str},
}
_ALLOWED_BLOCKS = {"user": {"text", "tool_result"}, "assistant": {"text", "tool_use"}}


def check_messages(
    messages: Any, where: str = "messages", follows: list[Message] | None = None
) -> list[Message]:
    """Raise MalformedLlmEvent unless ``messages`` is a list of canonical messages: roles
    alternate starting with the user when the list starts a conversation (``where`` is not
    new_messages), and every tool_result answers a tool_use of the message before it.
    ``follows`` is an already checked history that ``messages`` continue: only the new messages
    are checked (each turn checks what it adds), and errors name their place in the whole list."""
    if not isinstance(messages, list):
        raise MalformedLlmEvent(f"{where} must be a list of messages")
    previous: dict[str, Any] | None = follows[-1] if follows else None  # type: ignore[assignment]
    for index, message in enumerate(messages, len(follows or [])):
        at = f"{where}[{index}]"
        role = message.get("role") if isinstance(message, dict) else None
        if not isinstance(role, str) or role not in _ALLOWED_BLOCKS:
            raise MalformedLlmEvent(f"{at} must be an object with role 'user' or 'assistant'")
        content = message.get("content")
        if not isinstance(content, list) or not content:
            raise MalformedLlmEvent(f"{at}.content must be a non-empty list of blocks")
        for position, block in enumerate(content):
            _check_block(block, role, f"{at}.content[{position}]")
        if previous is not None or where != "new_messages":  # new messages follow a history
            expected = (
                "user" if previous is None or previous["role"] == "assistant" else "assistant"
            )
            if role != expected:
                raise MalformedLlmEvent(
                    f"{at}: roles must alternate user/assistant, starting with user; got {role}"
                )
            _check_answers(message, previous, at)
        previous = message
    return messages


def _check_block(block: Any, role: str, at: str) -> None:
    kind = block.get("type") if isinstance(block, dict) else None
    if not isinstance(kind, str) or kind not in _ALLOWED_BLOCKS[role]:
        shown = kind if isinstance(kind, str) or kind is None else type(kind).__name__
        raise MalformedLlmEvent(f"{at}: a {role} message cannot hold {shown!r}")
    missing = [f for f in _REQUIRED_FIELDS[kind] if f not in block]
    if missing:
        raise MalformedLlmEvent(f"{at} lacks {', '.join(missing)}")
    for field, field_type in _REQUIRED_FIELDS[kind].items():
        if not isinstance(block[field], field_type):
            raise MalformedLlmEvent(f"{at}.{field} must be a {field_type.__name__}")
    if kind == "tool_result" and not isinstance(block.get("is_error", False), bool):
        raise MalformedLlmEvent(f"{at}.is_error must be true or false")


def _check_answers(message: dict[str, Any], previous: dict[str, Any] | None, at: str) -> None:
    """A tool_result must answer a tool_use of the assistant message just before it."""
    asked = {b["id"] for b in (previous or {}).get("content", []) if b.get("type") == "tool_use"}
    for block in message["content"]:
        if block["type"] == "tool_result" and block["tool_use_id"] not in asked:
            raise MalformedLlmEvent(
                f"{at}: tool_result {block['tool_use_id']!r} answers no tool_use of the "
                "assistant message before it"
            )


def text_of(message: Message) -> str:
    return "\n".join(b["text"] for b in message["content"] if b["type"] == "text")


def tool_uses(message: Message) -> list[ToolUseBlock]:
    return [b for b in message["content"] if b["type"] == "tool_use"]


def zero_usage() -> Usage:
    return {
        "input_tokens": 0,
        "output_tokens": 0,
        "cache_read_input_tokens": 0,
        "cache_creation_input_tokens": 0,
    }
