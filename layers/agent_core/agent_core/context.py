"""Fitting a request into the agent's input-token budget; the stored history is never changed.

Tokens are estimated, not counted: one token per 3 characters of the request's canonical JSON.
That over-counts prose (~4 characters a token) and matches JSON, code and tables, which is what tool
results are; it needs no provider call and is the same for every provider.

Strategy, applied in order until the estimate fits:
1. Clear old tool results: from the oldest, the content of each tool_result before the newest user
   message is replaced by a short note (the tool_use/tool_result pair stays, so every provider
   still accepts the request).
2. Drop the oldest turns: (assistant, user) message pairs right after the first message go, and
   the first message gets a note saying how many messages were left out (OMITTED_NOTE), so the
   model knows and the scripted model can keep its place in a script.
3. If the newest exchange alone does not fit, the turn fails with a clear LlmFatalError.
Clearing and dropping move in steps of TRIM_STEP messages, so consecutive requests share their
prefix and prompt caching keeps working."""

import json
from functools import cache
from pathlib import Path
from typing import Any, NamedTuple

from agent_core.errors import LlmFatalError
from agent_core.messages import Message, TextBlock

WINDOWS_FILE = Path(__file__).with_name("context_windows.json")
CHARS_PER_TOKEN = 3
MARGIN = 0.05
OMITTED_NOTE = "[sfn-agents: {count} earlier messages were left out of this request to fit the context budget.]"  # noqa: E501
CLEARED_NOTE = "[tool result cleared to fit the context budget: {chars} characters]"
_KEEP_RESULT_CHARS = 200  # results this short are not worth clearing
# Trimming moves in steps of this many messages, so the trimmed prefix stays the same for several
# turns and the provider's prompt cache keeps hitting (a prefix that changes every turn would be
# written to the cache, at a premium, every turn).
TRIM_STEP = 16
# Each message object's sizes (see _sized), by id: a few long conversations' worth.
_SIZED: dict[int, "_Sized"] = {}
_SIZED_KEPT = 8192


@cache
def _windows() -> dict[str, int]:
    data: dict[str, Any] = json.loads(WINDOWS_FILE.read_text())
    return {k: int(v) for k, v in data.items() if not k.startswith("_")}


def context_window(model: str) -> int:
    table = _windows()
    if model in table:
        return table[model]
    prefixes = [k for k in table if k.endswith("*") and model.startswith(k[:-1])]
    return table[max(prefixes, key=len)]


def default_budget(model: str, max_output_tokens: int) -> int:
    window = context_window(model)
    return int(window * (1 - MARGIN)) - max_output_tokens


def estimate_tokens(system: str, tools: list[Any], messages: list[Message]) -> int:
    size = len(system) + len(json.dumps(tools)) + len(json.dumps(messages))
    return -(-size // CHARS_PER_TOKEN)


class _Sized(NamedTuple):
    message: Message  # kept, so its id is not reused while the entry lives
    whole: int  # characters it adds to a request's JSON, with its ", " separator
    cleared: Message  # the message with its long tool results replaced by CLEARED_NOTE
    cleared_size: int


def _sized(message: Message) -> _Sized:
    """``message`` sized and cleared once per message object: a warm function's stored history
    keeps its objects, so each turn sizes only its new messages (stored messages never change)."""
    entry = _SIZED.get(id(message))
    if entry is None or entry.message is not message:
        whole = len(json.dumps(message)) + 2
        cleared = _cleared(message)
        size = whole if cleared is message else len(json.dumps(cleared)) + 2
        entry = _Sized(message, whole, cleared, size)
        if len(_SIZED) >= _SIZED_KEPT:
            _SIZED.clear()
        _SIZED[id(message)] = entry
    return entry


def _cleared(message: Message) -> Message:
    """``message`` with each tool result too long to keep replaced by CLEARED_NOTE (itself if none
    is)."""
    content = message["content"]
    if not any(_clearable(block) for block in content):
        return message
    blocks = [
        {**block, "content": CLEARED_NOTE.format(chars=len(block["content"]))}  # type: ignore[typeddict-item]
        if _clearable(block)
        else block
        for block in content
    ]
    return {**message, "content": blocks}  # type: ignore[typeddict-item]


def _clearable(block: Any) -> bool:
    text = block.get("content") if block["type"] == "tool_result" else None
    return isinstance(text, str) and len(text) > _KEEP_RESULT_CHARS


def fit(system: str, tools: list[Any], messages: list[Message], budget: int) -> list[Message]:
    """``messages`` or a trimmed copy whose estimate is within ``budget`` tokens."""
    fixed = len(system) + len(json.dumps(tools))
    sized = [_sized(m) for m in messages]
    sizes = [entry.whole for entry in sized]
    limit = budget * CHARS_PER_TOKEN - fixed
    total = sum(sizes)  # kept up to date as results are cleared (summing each step grows as n²)
    if total <= limit:
        return messages
    newest_user = len(messages) - 1
    for index in range(newest_user):
        total += sized[index].cleared_size - sizes[index]
        sizes[index] = sized[index].cleared_size
        if total <= limit and (index + 1) % TRIM_STEP == 0:
            return [e.cleared for e in sized[: index + 1]] + messages[index + 1 :]
    if total <= limit:
        return [e.cleared for e in sized[:newest_user]] + messages[newest_user:]
    # Drop (assistant, user) pairs after the first message; keep the newest exchange.
    rest_sizes = sizes[1:]
    dropped = 0
    note_size = len(OMITTED_NOTE) + 40
    kept = sum(rest_sizes)
    while len(rest_sizes) - dropped > 2 and (
        sizes[0] + note_size + kept > limit or dropped % TRIM_STEP
    ):
        kept -= rest_sizes[dropped] + rest_sizes[dropped + 1]
        dropped += 2
    if sizes[0] + note_size + kept > limit:
        raise LlmFatalError(
            f"the request does not fit max_input_tokens={budget} even after clearing old tool "
            "results and dropping old turns: raise the limit or make tool results smaller"
        )
    first = sized[0].cleared
    if dropped:
        note: TextBlock = {"type": "text", "text": OMITTED_NOTE.format(count=dropped)}
        first = {**first, "content": [*first["content"], note]}
    kept_messages = [e.cleared for e in sized[1 + dropped : newest_user]]
    return [first, *kept_messages, messages[newest_user]]
