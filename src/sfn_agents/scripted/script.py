"""A script for the scripted model: the turns it plays and the faults it injects.

Provider-neutral: protocol modules read turns from here and encode them in their own wire format.
"""

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonata

_PLACEHOLDER = re.compile(r"\{\{(.+?)\}\}", re.DOTALL)
_ID_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
STOP_REASONS = ("end_turn", "tool_use", "max_tokens", "refusal")


class ScriptError(ValueError):
    """The script is invalid; the message names the bad field."""


class ScriptExhausted(LookupError):
    """A request asked for a turn the script does not have."""


@dataclass(frozen=True)
class ToolCall:
    name: str
    input: dict[str, Any]


@dataclass(frozen=True)
class Turn:
    text: str | None
    tool_calls: tuple[ToolCall, ...]
    stop_reason: str  # one of STOP_REASONS; protocols map it to their own vocabulary

    def rendered(self, results: Sequence[str], messages: Any) -> "Turn":
        """This turn with each `{{ EXPR }}` in its text and in its tool calls' string inputs
        replaced by JSONata EXPR evaluated over {"results": the tool results the model just got
        (JSON-parsed when JSON), "messages": the request's messages}. A model passes on what a
        tool returned (an S3 key, say) this way."""
        data = {"results": [_maybe_json(r) for r in results], "messages": messages}

        def substitute(match: re.Match[str]) -> str:
            value = jsonata.Jsonata(match.group(1).strip()).evaluate(data)
            return value if isinstance(value, str) else json.dumps(value)

        def render(value: Any) -> Any:
            if isinstance(value, str):
                return _PLACEHOLDER.sub(substitute, value)
            if isinstance(value, dict):
                return {k: render(v) for k, v in value.items()}
            if isinstance(value, list):
                return [render(v) for v in value]
            return value

        return Turn(
            text=render(self.text),
            tool_calls=tuple(ToolCall(c.name, render(c.input)) for c in self.tool_calls),
            stop_reason=self.stop_reason,
        )


@dataclass(frozen=True)
class Fault:
    """Applied to one request: wait `delay_seconds`, then answer with an error `status`, a
    malformed 200, or (neither) the normal reply."""

    status: int | None = None
    retry_after: str | None = None
    delay_seconds: float = 0.0
    malformed: bool = False


@dataclass(frozen=True)
class Script:
    turns: tuple[Turn, ...]
    faults: tuple[Fault, ...] = ()
    # For runs with several agents (a supervisor and its sub-agents): each agent's own turns,
    # chosen by the tools the request declares. The first entry whose tools are all declared wins.
    agents: tuple[tuple[frozenset[str], "Script"], ...] = ()

    def for_tools(self, declared: set[str]) -> "Script":
        for tools, script in self.agents:
            if tools <= declared:
                return script
        return self

    def turn(self, index: int) -> Turn:
        """Turn `index` (0-based), answered when the history holds `index` assistant messages."""
        if index >= len(self.turns):
            raise ScriptExhausted(
                f"the scripted model has {len(self.turns)} turns and turn {index + 1} was requested"
            )
        return self.turns[index]


def stable_id(prefix: str, *parts: object, length: int = 24) -> str:
    """A provider-like id (`prefix` + `length` base62 chars) derived from `parts`, e.g.
    stable_id("toolu_", turn, call, name) for call `call` of turn `turn`."""
    seed = ":".join(str(part) for part in parts).encode()
    number = int.from_bytes(hashlib.sha256(seed).digest())
    chars = []
    for _ in range(length):
        number, digit = divmod(number, len(_ID_ALPHABET))
        chars.append(_ID_ALPHABET[digit])
    return prefix + "".join(chars)


# How agent_core.context marks a request it trimmed (its OMITTED_NOTE), in any wire format.
_OMITTED = re.compile(r"\[sfn-agents: (\d+) earlier messages were left out of this request")


def omitted_turns(history: Sequence[Any]) -> int:
    """Model turns a trimmed request left out: half the omitted (model, user) messages."""
    match = _OMITTED.search(json.dumps(history[0])) if history else None
    return int(match.group(1)) // 2 if match else 0


def estimate_tokens(chars: int) -> int:
    return max(1, chars // 4)


def load_script(source: str | Path | Mapping[str, Any]) -> Script:
    """A script from a JSON file path or an already-parsed mapping."""
    if isinstance(source, Mapping):
        return parse_script(source)
    try:
        data = json.loads(Path(source).read_text())
    except (OSError, ValueError) as error:
        raise ScriptError(f"{source}: cannot read the script: {error}") from error
    return parse_script(data)


def parse_script(data: Any) -> Script:
    _check_fields("script", data, {"turns", "faults", "agents"})
    if "agents" in data:
        return _parse_agents(data)
    turns = data.get("turns")
    if not isinstance(turns, list) or not turns:
        raise ScriptError("turns: must be a non-empty list")
    faults = data.get("faults", [])
    if not isinstance(faults, list):
        raise ScriptError("faults: must be a list")
    return Script(
        turns=tuple(_parse_turn(f"turns[{i}]", t) for i, t in enumerate(turns)),
        faults=parse_faults(faults),
    )


def _parse_agents(data: Mapping[str, Any]) -> Script:
    entries = data["agents"]
    if not isinstance(entries, list) or not entries:
        raise ScriptError("agents: must be a non-empty list of {tools, turns}")
    agents = []
    for index, entry in enumerate(entries):
        where = f"agents[{index}]"
        _check_fields(where, entry, {"tools", "turns", "faults"})
        tools = entry.get("tools")
        if not isinstance(tools, list) or not tools or not all(isinstance(t, str) for t in tools):
            raise ScriptError(f"{where}.tools: must be a non-empty list of tool names")
        try:
            script = parse_script({k: v for k, v in entry.items() if k != "tools"})
        except ScriptError as error:
            raise ScriptError(f"{where}.{error}") from None
        agents.append((frozenset(tools), script))
    faults = data.get("faults", [])
    if not isinstance(faults, list):
        raise ScriptError("faults: must be a list")
    return Script(turns=agents[0][1].turns, faults=parse_faults(faults), agents=tuple(agents))


def declared_tool_names(request: Any) -> set[str]:
    """Tool names a request declares, in any provider's format (Anthropic tools[].name, OpenAI
    tools[].function.name, Gemini tools[].functionDeclarations[].name, Bedrock
    toolConfig.tools[].toolSpec.name)."""
    names: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("name"), str):
                names.add(node["name"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    if isinstance(request, dict):
        walk(request.get("tools"))
        walk(request.get("toolConfig"))
    return names


def parse_faults(faults: Sequence[Fault | Mapping[str, Any]]) -> tuple[Fault, ...]:
    return tuple(
        f if isinstance(f, Fault) else _parse_fault(f"faults[{i}]", f) for i, f in enumerate(faults)
    )


def _parse_turn(where: str, data: Any) -> Turn:
    _check_fields(where, data, {"text", "tool_calls", "stop_reason"})
    text = data.get("text")
    if text is not None:
        if not isinstance(text, str) or not text:
            raise ScriptError(f"{where}.text: must be a non-empty string")
        for match in _PLACEHOLDER.finditer(text):
            try:
                jsonata.Jsonata(match.group(1).strip())
            except Exception as error:
                raise ScriptError(
                    f"{where}.text: bad expression {match.group(0)}: {error}"
                ) from None
    calls = data.get("tool_calls", [])
    if not isinstance(calls, list):
        raise ScriptError(f"{where}.tool_calls: must be a list")
    if text is None and not calls:
        raise ScriptError(f"{where}: needs `text`, `tool_calls` or both")
    tool_calls = tuple(_parse_call(f"{where}.tool_calls[{i}]", c) for i, c in enumerate(calls))
    stop_reason = data.get("stop_reason", "tool_use" if tool_calls else "end_turn")
    if stop_reason not in STOP_REASONS:
        raise ScriptError(f"{where}.stop_reason: must be one of {', '.join(STOP_REASONS)}")
    return Turn(text=text, tool_calls=tool_calls, stop_reason=stop_reason)


def _parse_call(where: str, data: Any) -> ToolCall:
    _check_fields(where, data, {"name", "input"})
    name = data.get("name")
    if not isinstance(name, str) or not name:
        raise ScriptError(f"{where}.name: must be a non-empty string")
    arguments = data.get("input", {})
    if not isinstance(arguments, dict):
        raise ScriptError(f"{where}.input: must be an object")
    return ToolCall(name=name, input=arguments)


def _parse_fault(where: str, data: Any) -> Fault:
    _check_fields(where, data, {"status", "retry_after", "delay_seconds", "malformed"})
    status = data.get("status")
    if status is not None and (type(status) is not int or not 400 <= status <= 599):
        raise ScriptError(f"{where}.status: must be an HTTP error status (400-599)")
    retry_after = data.get("retry_after")
    if retry_after is not None and not isinstance(retry_after, str):
        raise ScriptError(f'{where}.retry_after: must be a string, e.g. "2"')
    delay = data.get("delay_seconds", 0)
    if isinstance(delay, bool) or not isinstance(delay, int | float) or delay < 0:
        raise ScriptError(f"{where}.delay_seconds: must be a non-negative number")
    malformed = data.get("malformed", False)
    if not isinstance(malformed, bool):
        raise ScriptError(f"{where}.malformed: must be a boolean")
    if status is not None and malformed:
        raise ScriptError(f"{where}: `status` and `malformed` exclude each other")
    if status is None and not malformed and not delay:
        raise ScriptError(f"{where}: needs `status`, `delay_seconds` or `malformed`")
    return Fault(status, retry_after, float(delay), malformed)


def _check_fields(where: str, data: Any, allowed: set[str]) -> None:
    if not isinstance(data, Mapping):
        raise ScriptError(f"{where}: must be an object")
    if unknown := sorted(set(data) - allowed):
        raise ScriptError(
            f"{where}.{unknown[0]}: unknown field (allowed: {', '.join(sorted(allowed))})"
        )


def _maybe_json(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text
