"""Anthropic's Messages API (`POST /v1/messages`), validated as strictly as the real API."""

import hashlib
import json
import re
import secrets
import threading
from collections.abc import Mapping
from typing import Any

from sfn_agents.scripted.script import Turn, estimate_tokens, stable_id
from sfn_agents.scripted.server import RejectedRequest, Reply, TurnProtocol

_TOP_LEVEL = {
    "model", "messages", "max_tokens", "system", "tools", "tool_choice", "metadata",
    "stop_sequences", "stream", "temperature", "top_k", "top_p", "thinking", "service_tier",
    "cache_control", "container", "diagnostics", "inference_geo", "output_config", "speed",
}  # fmt: skip
_TOOL_FIELDS = {
    "name", "description", "input_schema", "type", "cache_control", "strict", "defer_loading",
    "input_examples", "eager_input_streaming", "allowed_callers",
}  # fmt: skip
# Block type -> (required fields and their types, optional fields).
_BLOCKS: dict[str, tuple[dict[str, type], set[str]]] = {
    "text": ({"text": str}, {"cache_control", "citations"}),
    "image": ({"source": dict}, {"cache_control", "transformations"}),
    "document": ({"source": dict}, {"cache_control", "citations", "context", "title"}),
    "tool_use": ({"id": str, "name": str, "input": dict}, {"cache_control", "caller"}),
    "tool_result": ({"tool_use_id": str}, {"cache_control", "content", "is_error"}),
    "thinking": ({"thinking": str, "signature": str}, set()),
    "redacted_thinking": ({"data": str}, set()),
}
_USER_ONLY = {"image", "document", "tool_result"}
_ASSISTANT_ONLY = {"tool_use", "thinking", "redacted_thinking"}
_RESULT_CONTENT = ("text", "image", "document")
_SOURCES = {"base64": ("media_type", "data"), "url": ("url",), "file": ("file_id",),
            "text": ("media_type", "data"), "content": ("content",)}  # fmt: skip
_TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
_TOOL_USE_ID = re.compile(r"^[a-zA-Z0-9_-]+$")
_TYPE_NAMES = {str: "string", dict: "dictionary", list: "list", int: "integer", bool: "boolean"}
_ERROR_TYPES = {
    400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
    404: "not_found_error", 413: "request_too_large", 429: "rate_limit_error",
    500: "api_error", 503: "overloaded_error", 529: "overloaded_error",
}  # fmt: skip


class InvalidRequest(RejectedRequest):
    """A request the Messages API would refuse."""


# Claude model ids and aliases (claude-sonnet-5-5, claude-3-5-haiku-20241022, claude-opus-4-1).
_MODEL = re.compile(r"claude-[a-z0-9][a-z0-9.-]*")


class AnthropicMessages(TurnProtocol[dict[str, Any]]):
    """Prompt caching is simulated: a prefix ending at a cache_control marker is written on first
    sight and read on later requests, so usage reports cache reads and writes as the API does."""

    def __init__(self) -> None:
        self._cached: set[str] = set()
        self._cache_lock = threading.Lock()

    def _usage(self, request: dict[str, Any], body_chars: int) -> dict[str, int]:
        """As the API does: at each marker, the longest cached prefix ending at that block or at
        one of the CACHE_LOOKBACK blocks before it is read; the marked prefix is written."""
        total = estimate_tokens(body_chars)
        positions = block_positions(request)
        prefixes = _Prefixes(request)
        read = written = 0
        with self._cache_lock:
            for point in cache_points(request):
                at = positions.index(point)
                for earlier in reversed(positions[max(0, at - CACHE_LOOKBACK) : at + 1]):
                    prefix = prefixes.text(earlier)
                    if _digest(prefix) in self._cached:
                        read = max(read, estimate_tokens(len(prefix)))
                        break
                marked = prefixes.text(point)
                if _digest(marked) not in self._cached:
                    self._cached.add(_digest(marked))
                    written = max(written, estimate_tokens(len(marked)))
        written = max(0, written - read)
        return {
            "input_tokens": max(1, total - read - written),
            "cache_read_input_tokens": read,
            "cache_creation_input_tokens": written,
        }

    def parse(
        self, method: str, path: str, headers: Mapping[str, str], body: bytes
    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        request = _parse(method, path, headers, body)
        return request, request["messages"]

    def tool_results(self, history: list[dict[str, Any]]) -> list[str]:
        return _tool_results(history[-1])

    def answer(self, request: dict[str, Any], turn_index: int, turn: Turn, body: bytes) -> Reply:
        body_text = body.decode(errors="replace")
        content: list[dict[str, Any]] = []
        if (text := turn.text) is not None:
            content.append({"type": "text", "text": text})
        for i, call in enumerate(turn.tool_calls):
            call_id = stable_id("toolu_", turn_index, i, call.name)
            content.append(
                {"type": "tool_use", "id": call_id, "name": call.name, "input": call.input}
            )
        message = {
            "id": stable_id("msg_", body_text),
            "type": "message",
            "role": "assistant",
            "model": request["model"],
            "content": content,
            "stop_reason": turn.stop_reason,
            "stop_sequence": None,
            "usage": {
                **self._usage(request, len(body_text)),
                "output_tokens": estimate_tokens(len(json.dumps(content))),
            },
        }
        return _reply(200, message)

    def error(self, status: int, message: str) -> Reply:
        kind = _ERROR_TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error")
        return _reply(status, {"type": "error", "error": {"type": kind, "message": message}})


PROTOCOL = AnthropicMessages()


def _reply(status: int, payload: dict[str, Any]) -> Reply:
    request_id = "req_" + secrets.token_hex(12)
    if payload["type"] == "error":
        payload["request_id"] = request_id
    headers = {"content-type": "application/json", "request-id": request_id}
    return Reply(status, headers, json.dumps(payload).encode())


def _parse(method: str, path: str, headers: Mapping[str, str], body: bytes) -> dict[str, Any]:
    """The request body, checked as the Messages API checks it; raises InvalidRequest."""
    if path.split("?", maxsplit=1)[0] != "/v1/messages":
        raise InvalidRequest(f"Not found: {path}", 404)
    if method != "POST":
        raise InvalidRequest(f"Method {method} not allowed on /v1/messages", 405)
    # SDK 2.x sends the API key as a bearer token, older SDKs as x-api-key.
    if not headers.get("x-api-key") and not headers.get("authorization", "").startswith("Bearer "):
        raise InvalidRequest("x-api-key header is required (or Authorization: Bearer)", 401)
    if not headers.get("anthropic-version"):
        raise InvalidRequest("anthropic-version: header is required")
    try:
        request = json.loads(body)
    except ValueError:
        raise InvalidRequest("There was an error parsing the body as JSON") from None
    _check_object("body", request, {"model", "messages", "max_tokens"}, _TOP_LEVEL)
    _check_type("model", request["model"], str)
    max_tokens = request["max_tokens"]
    _check_type("max_tokens", max_tokens, int)
    if max_tokens < 1:
        raise InvalidRequest("max_tokens: Input should be greater than or equal to 1")
    if request.get("stream"):
        raise InvalidRequest("stream: the scripted model does not support streaming")
    _check_system(request.get("system"))
    tool_names = _check_tools(request.get("tools"))
    _check_tool_choice(request.get("tool_choice"), tool_names)
    _check_messages(request["messages"], tool_names)
    _check_output_config(request.get("output_config"))
    _check_cache_points(request)
    if not _MODEL.fullmatch(
        request["model"]
    ):  # the API knows only its Claude models, once the body is valid
        raise InvalidRequest(f"model: {request['model']}", 404)
    return request


def _check_output_config(config: Any) -> None:
    if config is None:
        return
    _check_object("output_config", config, set(), {"effort", "format"})
    fmt = config.get("format")
    if fmt is not None:
        _check_object("output_config.format", fmt, {"type", "schema"}, set())
        if fmt["type"] != "json_schema":
            raise InvalidRequest("output_config.format.type: Input should be 'json_schema'")
        _check_type("output_config.format.schema", fmt["schema"], dict)
        if fmt["schema"].get("type") != "object":
            raise InvalidRequest("output_config.format.schema: the root type must be 'object'")


MAX_CACHE_POINTS = 4
CACHE_LOOKBACK = 20  # block boundaries before a marker the API checks for a cached prefix


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def block_positions(request: dict[str, Any]) -> list[tuple[str, ...]]:
    """Every block of the request in prefix order (tools, system, messages), as paths."""
    positions: list[tuple[str, ...]] = [
        ("tools", str(i)) for i in range(len(request.get("tools") or []))
    ]
    system = request.get("system")
    positions += [
        ("system", str(i)) for i in range(len(system if isinstance(system, list) else []))
    ]
    for i, message in enumerate(request["messages"]):
        positions += [("messages", str(i), str(j)) for j in range(len(_blocks(message)))]
    return positions


def cache_points(request: dict[str, Any]) -> list[tuple[str, ...]]:
    """The paths of the blocks that carry cache_control, in prefix order."""
    return [p for p in block_positions(request) if "cache_control" in _at(request, p)]


def _check_cache_points(request: dict[str, Any]) -> None:
    points = cache_points(request)
    if len(points) > MAX_CACHE_POINTS:
        raise InvalidRequest(
            f"A maximum of {MAX_CACHE_POINTS} blocks with cache_control may be provided. "
            f"Found {len(points)}."
        )
    for point in points:
        block = _at(request, point)
        control = block["cache_control"]
        _check_object(f"{'.'.join(point)}.cache_control", control, {"type"}, {"ttl"})
        if control["type"] != "ephemeral" or control.get("ttl", "5m") not in ("5m", "1h"):
            raise InvalidRequest(f"{'.'.join(point)}.cache_control: invalid cache_control")


def _at(request: dict[str, Any], point: tuple[str, ...]) -> dict[str, Any]:
    if point[0] == "messages":
        return _blocks(request["messages"][int(point[1])])[int(point[2])]
    block: dict[str, Any] = request[point[0]][int(point[1])]
    return block


def _clean(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _clean(v) for k, v in node.items() if k != "cache_control"}
    if isinstance(node, list):
        return [_clean(v) for v in node]
    return node


def _list(items: list[str]) -> str:
    return "[" + ", ".join(items) + "]"  # as json.dumps writes a list


class _Prefixes:
    """The prefix texts of one request (its content up to and including a block, in prefix
    order, without the markers: what the API's cache keys on), each block serialized once. A
    request has up to four markers, each checked at CACHE_LOOKBACK blocks: serializing every
    prefix anew cost more than the rest of a turn."""

    def __init__(self, request: dict[str, Any]) -> None:
        self.request = request
        system = request.get("system")
        system = system if isinstance(system, list) else [{"text": system or ""}]
        self.tools = [json.dumps(_clean(t)) for t in request.get("tools") or []]
        self.system = [json.dumps(_clean(b)) for b in system]
        self.messages: list[str] = []

    def text(self, point: tuple[str, ...]) -> str:
        if point[0] == "tools":
            return _list([_list(self.tools[: int(point[1]) + 1])])
        if point[0] == "system":
            return _list([_list(self.tools), _list(self.system[: int(point[1]) + 1])])
        i, j = int(point[1]), int(point[2])
        messages = self.request["messages"]
        while len(self.messages) < i:
            self.messages.append(json.dumps(_clean(messages[len(self.messages)])))
        last = json.dumps(_clean({**messages[i], "content": _blocks(messages[i])[: j + 1]}))
        return _list([_list(self.tools), _list(self.system), _list([*self.messages[:i], last])])


def _check_system(system: Any) -> None:
    if system is None or isinstance(system, str):
        return
    if not isinstance(system, list):
        raise InvalidRequest("system: Input should be a valid string or a list of text blocks")
    for i, block in enumerate(system):
        _check_block(f"system.{i}", block, ("text",))


def _check_tools(tools: Any) -> set[str] | None:
    """The defined tool names, or None when the request defines no tools."""
    if tools is None:
        return None
    _check_type("tools", tools, list)
    names: set[str] = set()
    for i, tool in enumerate(tools):
        where = f"tools.{i}"
        if isinstance(tool, dict) and tool.get("type", "custom") not in ("custom", None):
            raise InvalidRequest(f"{where}.type: the scripted model supports only custom tools")
        _check_object(where, tool, {"name", "input_schema"}, _TOOL_FIELDS)
        _check_type(f"{where}.name", tool["name"], str)
        if not _TOOL_NAME.match(tool["name"]):
            raise InvalidRequest(
                f"{where}.name: String should match pattern '{_TOOL_NAME.pattern}'"
            )
        _check_type(f"{where}.input_schema", tool["input_schema"], dict)
        if tool["input_schema"].get("type") != "object":
            raise InvalidRequest(f"{where}.input_schema.type: Input should be 'object'")
        if tool["name"] in names:
            raise InvalidRequest("tools: Tool names must be unique.")
        names.add(tool["name"])
    return names


def _check_tool_choice(choice: Any, tool_names: set[str] | None) -> None:
    if choice is None:
        return
    _check_type("tool_choice", choice, dict)
    kind = choice.get("type")
    if kind not in ("auto", "any", "tool", "none"):
        raise InvalidRequest(
            f"tool_choice.type: Input tag '{kind}' found using 'type' does not match any of the "
            "expected tags: 'auto', 'any', 'tool', 'none'"
        )
    optional = set() if kind == "none" else {"disable_parallel_tool_use"}
    _check_object("tool_choice", choice, {"type", "name"} if kind == "tool" else {"type"}, optional)
    if kind in ("any", "tool") and not tool_names:
        raise InvalidRequest("tool_choice may only be specified while providing tools.")
    if kind == "tool":
        _check_type("tool_choice.name", choice["name"], str)
    if kind == "tool" and choice["name"] not in (tool_names or ()):
        raise InvalidRequest(f"tool_choice.name: tool `{choice['name']}` is not in `tools`")


def _check_messages(messages: Any, tool_names: set[str] | None) -> None:
    _check_type("messages", messages, list)
    if not messages:
        raise InvalidRequest("messages: at least one message is required")
    for i, message in enumerate(messages):
        if isinstance(message, dict) and message.get("role") == "system":
            raise InvalidRequest(
                'messages: Unexpected role "system". The Messages API accepts a top-level '
                '`system` parameter, not "system" as an input message role.'
            )
        _check_object(f"messages.{i}", message, {"role", "content"}, set())
        role = message["role"]
        if role not in ("user", "assistant"):
            raise InvalidRequest(f"messages.{i}.role: Input should be 'user' or 'assistant'")
        if i == 0 and role != "user":
            raise InvalidRequest('messages: first message must use the "user" role')
        if i > 0 and role == messages[i - 1]["role"]:
            raise InvalidRequest(
                'messages: roles must alternate between "user" and "assistant", '
                f'but found multiple "{role}" roles in a row'
            )
        _check_content(f"messages.{i}", message["content"], role, tool_names)
    for i in range(len(messages)):
        _check_tool_pairing(messages, i)
    if messages[-1]["role"] != "user":
        raise InvalidRequest(
            "The scripted model does not support assistant message prefill. "
            "The conversation must end with a user message."
        )


def _check_content(where: str, content: Any, role: str, tool_names: set[str] | None) -> None:
    if isinstance(content, str):
        if not content:
            raise InvalidRequest(
                f"{where}: all messages must have non-empty content except for the optional "
                "final assistant message"
            )
        return
    _check_type(f"{where}.content", content, list)
    if not content:
        raise InvalidRequest(
            f"{where}: all messages must have non-empty content except for the optional final "
            "assistant message"
        )
    for j, block in enumerate(content):
        at = f"{where}.content.{j}"
        _check_block(at, block, tuple(_BLOCKS))
        kind = block["type"]
        if kind in (_ASSISTANT_ONLY if role == "user" else _USER_ONLY):
            other = "assistant" if role == "user" else "user"
            raise InvalidRequest(f"{at}: `{kind}` blocks can only be in `{other}` messages")
        if kind in ("tool_use", "tool_result") and tool_names is None:
            raise InvalidRequest(
                "Requests which include `tool_use` or `tool_result` blocks must define tools."
            )


def _check_block(where: str, block: Any, allowed: tuple[str, ...]) -> None:
    kind = block.get("type") if isinstance(block, dict) else None
    if kind not in allowed:
        tags = ", ".join(f"'{t}'" for t in allowed)
        raise InvalidRequest(
            f"{where}.type: Input tag '{kind}' found using 'type' does not match any of the "
            f"expected tags: {tags}"
        )
    required, optional = _BLOCKS[kind]
    _check_object(where, block, {"type", *required}, optional)
    for field, field_type in required.items():
        _check_type(f"{where}.{field}", block[field], field_type)
    if kind == "text" and not block["text"]:
        raise InvalidRequest(f"{where}: text content blocks must be non-empty")
    if kind == "text" and not block["text"].strip():
        raise InvalidRequest(f"{where}: text content blocks must contain non-whitespace text")
    if kind in ("image", "document"):
        source = block["source"]
        fields = _SOURCES.get(source.get("type"))
        if fields is None or any(f not in source for f in fields):
            raise InvalidRequest(f"{where}.source: invalid `{kind}` source: {json.dumps(source)}")
    if kind == "tool_use" and not _TOOL_USE_ID.match(block["id"]):
        raise InvalidRequest(f"{where}.id: String should match pattern '{_TOOL_USE_ID.pattern}'")
    if kind == "tool_result":
        _check_tool_result(where, block)


def _check_tool_result(where: str, block: dict[str, Any]) -> None:
    if "is_error" in block:
        _check_type(f"{where}.is_error", block["is_error"], bool)
    content = block.get("content", "")
    if not isinstance(content, str):
        _check_type(f"{where}.content", content, list)
        for k, inner in enumerate(content):
            _check_block(f"{where}.content.{k}", inner, _RESULT_CONTENT)


def _check_tool_pairing(messages: list[dict[str, Any]], i: int) -> None:
    """Each tool_use of an assistant message is answered by a tool_result leading the next
    message; each tool_result answers a tool_use of the previous message."""
    blocks = _blocks(messages[i])
    if messages[i]["role"] == "assistant":
        used = [b["id"] for b in blocks if b["type"] == "tool_use"]
        following = _blocks(messages[i + 1]) if i + 1 < len(messages) else []
        answered = set()
        for block in following:
            if block["type"] != "tool_result":
                break
            answered.add(block["tool_use_id"])
        if missing := [u for u in used if u not in answered]:
            raise InvalidRequest(
                f"messages.{i}: `tool_use` ids were found without `tool_result` blocks "
                f"immediately after: {', '.join(missing)}. Each `tool_use` block must have a "
                "corresponding `tool_result` block in the next message."
            )
        return
    previous = (
        {b["id"] for b in _blocks(messages[i - 1]) if b["type"] == "tool_use"} if i else set()
    )
    for j, block in enumerate(blocks):
        if block["type"] == "tool_result" and block["tool_use_id"] not in previous:
            raise InvalidRequest(
                f"messages.{i}.content.{j}: unexpected `tool_use_id` found in `tool_result` "
                f"blocks: {block['tool_use_id']}. Each `tool_result` block must have a "
                "corresponding `tool_use` block in the previous message."
            )


def _blocks(message: dict[str, Any]) -> list[dict[str, Any]]:
    content = message["content"]
    return [{"type": "text", "text": content}] if isinstance(content, str) else content


def _tool_results(message: dict[str, Any]) -> list[str]:
    """The text of each tool_result in a (user) message, in order."""
    results = []
    for block in _blocks(message):
        if block["type"] == "tool_result":
            content = block.get("content", "")
            if not isinstance(content, str):
                content = "".join(b["text"] for b in content if b["type"] == "text")
            results.append(content)
    return results


def _check_object(where: str, data: Any, required: set[str], optional: set[str]) -> None:
    _check_type(where, data, dict)
    if missing := sorted(required - set(data)):
        raise InvalidRequest(f"{where}.{missing[0]}: Field required".removeprefix("body."))
    if extra := sorted(set(data) - required - optional):
        raise InvalidRequest(
            f"{where}.{extra[0]}: Extra inputs are not permitted".removeprefix("body.")
        )


def _check_type(where: str, value: Any, expected: type) -> None:
    # bool is an int in Python, not in JSON.
    if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
        raise InvalidRequest(f"{where}: Input should be a valid {_TYPE_NAMES[expected]}")
