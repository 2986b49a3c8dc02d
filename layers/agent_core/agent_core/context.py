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
from typing import Any

from agent_core.errors import LlmFatalError
from agent_core.messages import Message

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


def fit(system: str, tools: list[Any], messages: list[Message], budget: int) -> list[Message]:
    """``messages`` or a trimmed copy whose estimate is within ``budget`` tokens."""
    fixed = len(system) + len(json.dumps(tools))
    sizes = [len(json.dumps(m)) + 2 for m in messages]
    limit = budget * CHARS_PER_TOKEN - fixed
    if sum(sizes) <= limit:
        return messages
    trimmed: list[dict[str, Any]] = [dict(m, content=list(m["content"])) for m in messages]
    newest_user = len(trimmed) - 1
    total = sum(sizes)  # kept up to date as results are cleared (summing each step grows as n²)
    for index in range(newest_user):
        content = trimmed[index]["content"]
        for position, block in enumerate(content):
            text = block.get("content") if block["type"] == "tool_result" else None
            if isinstance(text, str) and len(text) > _KEEP_RESULT_CHARS:
                content[position] = {**block, "content": CLEARED_NOTE.format(chars=len(text))}
        size = len(json.dumps(trimmed[index])) + 2
        total += size - sizes[index]
        sizes[index] = size
        if total <= limit and (index + 1) % TRIM_STEP == 0:
            return trimmed  # type: ignore[return-value]
    if total <= limit:
        return trimmed  # type: ignore[return-value]
    # Drop (assistant, user) pairs after the first message; keep the newest exchange.
    first, rest, rest_sizes = trimmed[0], trimmed[1:], sizes[1:]
    dropped = 0
    note_size = len(OMITTED_NOTE) + 40
    kept = sum(rest_sizes)
    while len(rest) - dropped > 2 and (sizes[0] + note_size + kept > limit or dropped % TRIM_STEP):
        kept -= rest_sizes[dropped] + rest_sizes[dropped + 1]
        dropped += 2
    rest = rest[dropped:]
    if sizes[0] + note_size + kept > limit:
        raise LlmFatalError(
            f"the request does not fit max_input_tokens={budget} even after clearing old tool "
            "results and dropping old turns: raise the limit or make tool results smaller"
        )
    note = {"type": "text", "text": OMITTED_NOTE.format(count=dropped)}
    first = {**first, "content": [*first["content"], note]} if dropped else first
    return [first, *rest]  # type: ignore[list-item]
