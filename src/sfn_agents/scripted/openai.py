"""OpenAI's Chat Completions API (`POST /v1/chat/completions`, also `/chat/completions` for
clients whose base URL has no `/v1`), validated as strictly as the real API.

The same wire format stands in for every OpenAI-compatible server (DeepSeek, xAI, vLLM, Ollama,
LM Studio). Cached prompt tokens are simulated as OpenAI reports them: the part of the prompt a
previous turn already sent (everything before the last assistant message) counts as cached when
it reaches 1024 tokens, in steps of 128.
"""

import json
import re
import secrets
import time
from collections.abc import Mapping
from typing import Any, NoReturn

from sfn_agents.scripted.script import Turn, estimate_tokens, stable_id
from sfn_agents.scripted.server import RejectedRequest, Reply, TurnProtocol

PATHS = ("/v1/chat/completions", "/chat/completions")
_TOP_LEVEL = {
    "model", "messages", "audio", "frequency_penalty", "function_call", "functions",
    "logit_bias", "logprobs", "max_completion_tokens", "max_tokens", "metadata", "modalities",
    "moderation", "n", "parallel_tool_calls", "prediction", "presence_penalty",
    "prompt_cache_key", "prompt_cache_options", "prompt_cache_retention", "reasoning_effort",
    "response_format", "safety_identifier", "seed", "service_tier", "stop", "store", "stream",
    "stream_options", "temperature", "tool_choice", "tools", "top_logprobs", "top_p", "user",
    "verbosity", "web_search_options",
}  # fmt: skip
# Role -> (required fields, optional fields).
_MESSAGE_FIELDS: dict[str, tuple[set[str], set[str]]] = {
    "system": ({"content"}, {"name"}),
    "developer": ({"content"}, {"name"}),
    "user": ({"content"}, {"name"}),
    "assistant": (
        set(),
        {"content", "name", "tool_calls", "refusal", "audio", "function_call", "annotations"},
    ),
    "tool": ({"content", "tool_call_id"}, set()),
    "function": ({"content", "name"}, set()),
}
_ROLES = "'system', 'assistant', 'user', 'function', 'tool', and 'developer'"
_USER_PARTS = {
    "text": "text",
    "image_url": "image_url",
    "input_audio": "input_audio",
    "file": "file",
}
_FUNCTION_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
# Models that take max_completion_tokens only (reasoning models).
_REASONING_MODEL = re.compile(r"^(o\d|gpt-5)")
_FINISH = {"end_turn": "stop", "tool_use": "tool_calls", "max_tokens": "length",
           "refusal": "content_filter"}  # fmt: skip
_ERRORS = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    403: ("invalid_request_error", "unsupported_country_region_territory"),
    404: ("invalid_request_error", None),
    429: ("requests", "rate_limit_exceeded"),
}
CACHE_MINIMUM_TOKENS = 1024
CACHE_STEP_TOKENS = 128


# Model ids of OpenAI and the compatible APIs in providers.json (gpt-5-mini, o4-mini,
# deepseek-chat, grok-4), Perplexity's (sonar, sonar-pro) that the web research tool calls, and
# local servers' name:tag or org/name ids (qwen3:8b, Qwen/Qwen3-8B).
_MODEL = re.compile(
    r"(gpt-|chatgpt-|o[1-9]|deepseek-|grok-)[A-Za-z0-9.-]*$|sonar(-[a-z-]+)?$|[\w.-]+[:/][\w.:/-]+$"
)


class InvalidRequest(RejectedRequest):
    def __init__(
        self, message: str, param: str | None = None, code: str | None = None, status: int = 400
    ) -> None:
        super().__init__(message, status)
        self.param = param
        self.code = code


class ChatCompletions(TurnProtocol[dict[str, Any]]):
    def parse(
        self, method: str, path: str, headers: Mapping[str, str], body: bytes
    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        request = _parse(method, path, headers, body)
        return request, request["messages"]

    def tool_results(self, history: list[dict[str, Any]]) -> list[str]:
        return _trailing_tool_results(history)

    def answer(self, request: dict[str, Any], turn_index: int, turn: Turn, body: bytes) -> Reply:
        text = turn.text
        calls = [
            {
                "id": stable_id("call_", turn_index, i, call.name),
                "type": "function",
                "function": {"name": call.name, "arguments": json.dumps(call.input)},
            }
            for i, call in enumerate(turn.tool_calls)
        ]
        message: dict[str, Any] = {
            "role": "assistant",
            "content": text,
            "refusal": None,
            "annotations": [],
        }
        if calls:
            message["tool_calls"] = calls
        body_text = body.decode(errors="replace")
        prompt_tokens = estimate_tokens(len(body_text))
        completion_tokens = estimate_tokens(len(json.dumps(message)))
        completion = {
            "id": stable_id("chatcmpl-", body_text, length=29),
            "object": "chat.completion",
            "created": int(time.time()),
            "model": request["model"],
            "choices": [
                {
                    "index": 0,
                    "message": message,
                    "logprobs": None,
                    "finish_reason": _FINISH[turn.stop_reason],
                }
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
                "prompt_tokens_details": {
                    "cached_tokens": min(_cached_tokens(request), prompt_tokens),
                    "audio_tokens": 0,
                },
                "completion_tokens_details": {
                    "reasoning_tokens": 0,
                    "audio_tokens": 0,
                    "accepted_prediction_tokens": 0,
                    "rejected_prediction_tokens": 0,
                },
            },
            "service_tier": "default",
            "system_fingerprint": "fp_scripted",
        }
        return _reply(200, completion)

    def error(self, status: int, message: str) -> Reply:
        return _error(status, message)

    def rejected(self, error: RejectedRequest) -> Reply:
        param, code = getattr(error, "param", None), getattr(error, "code", None)
        return _error(error.status, str(error), param, code, typical_code=False)


PROTOCOL = ChatCompletions()


def _error(
    status: int,
    message: str,
    param: str | None = None,
    code: str | None = None,
    typical_code: bool = True,
) -> Reply:
    """OpenAI's error reply; `typical_code` fills in the usual code for the status (e.g.
    rate_limit_exceeded) when `code` is None."""
    kind, usual = _ERRORS.get(status, ("server_error", None))
    if status not in _ERRORS and status < 500:
        kind = "invalid_request_error"
    error = {
        "message": message,
        "type": kind,
        "param": param,
        "code": code or (usual if typical_code else None),
    }
    return _reply(status, {"error": error})


def _reply(status: int, payload: dict[str, Any]) -> Reply:
    headers = {"content-type": "application/json", "x-request-id": "req_" + secrets.token_hex(16)}
    return Reply(status, headers, json.dumps(payload).encode())


def _cached_tokens(request: dict[str, Any]) -> int:
    messages = request["messages"]
    last_assistant = max((i for i, m in enumerate(messages) if m["role"] == "assistant"), default=0)
    if not last_assistant:
        return 0
    prefix = {k: v for k, v in request.items() if k != "messages"}
    prefix["messages"] = messages[:last_assistant]
    tokens = estimate_tokens(len(json.dumps(prefix)))
    if tokens < CACHE_MINIMUM_TOKENS:
        return 0
    return tokens // CACHE_STEP_TOKENS * CACHE_STEP_TOKENS


def _trailing_tool_results(messages: list[dict[str, Any]]) -> list[str]:
    """The contents of the tool messages after the last assistant message, in order."""
    results: list[str] = []
    for message in messages:
        if message["role"] == "assistant":
            results = []
        elif message["role"] == "tool":
            results.append(_text(message["content"]))
    return results


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    return "".join(p.get("text", "") for p in content or [] if isinstance(p, dict))


# ---------------------------------------------------------------- validation


def _parse(method: str, path: str, headers: Mapping[str, str], body: bytes) -> dict[str, Any]:
    """The request body, checked as the Chat Completions API checks it; raises InvalidRequest."""
    route = path.split("?", maxsplit=1)[0]
    if route not in PATHS or method != "POST":
        raise InvalidRequest(f"Invalid URL ({method} {route})", status=404)
    authorization = headers.get("authorization", "")
    if not authorization.startswith("Bearer ") or not authorization[7:].strip():
        raise InvalidRequest(
            "You didn't provide an API key. You need to provide your API key in an Authorization "
            "header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
            status=401,
            code=None,
        )
    try:
        request = json.loads(body)
    except ValueError:
        raise InvalidRequest(
            "We could not parse the JSON body of your request. (HINT: This likely means you "
            "aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, but "
            "what was sent was not valid JSON.)"
        ) from None
    if not isinstance(request, dict):
        raise InvalidRequest(
            f"Invalid type for body: expected an object, but got {_json_type(request)} instead.",
            code="invalid_type",
        )
    if unknown := sorted(set(request) - _TOP_LEVEL):
        raise InvalidRequest(f"Unrecognized request argument supplied: {unknown[0]}")
    if not request.get("model"):
        raise InvalidRequest("you must provide a model parameter")
    _check_type("model", request["model"], str)
    if "messages" not in request:
        raise InvalidRequest(
            "Missing required parameter: 'messages'.", "messages", "missing_required_parameter"
        )
    _check_generation(request)
    tool_names = _check_tools(request.get("tools"))
    _check_tool_choice(request.get("tool_choice"), tool_names)
    _check_response_format(request.get("response_format"))
    _check_messages(request["messages"])
    if not _MODEL.match(request["model"]):  # known only once the body is valid
        raise InvalidRequest(
            f"The model `{request['model']}` does not exist or you do not have access to it.",
            code="model_not_found",
            status=404,
        )
    return request


def _check_generation(request: dict[str, Any]) -> None:
    for field in ("max_tokens", "max_completion_tokens"):
        value = request.get(field)
        if value is None:
            continue
        _check_type(field, value, int)
        if value < 1:
            raise InvalidRequest(
                f"Invalid '{field}': integer below minimum value. Expected a value >= 1, but got "
                f"{value} instead.",
                field,
                "integer_below_min_value",
            )
    if request.get("max_tokens") is not None and _REASONING_MODEL.match(request["model"]):
        raise InvalidRequest(
            "Unsupported parameter: 'max_tokens' is not supported with this model. Use "
            "'max_completion_tokens' instead.",
            "max_tokens",
            "unsupported_parameter",
        )
    if request.get("stream"):
        raise InvalidRequest("stream: the scripted model does not support streaming", "stream")
    if request.get("n") not in (None, 1):
        raise InvalidRequest("n: the scripted model answers with one choice only", "n")


def _check_tools(tools: Any) -> set[str] | None:
    if tools is None:
        return None
    _check_type("tools", tools, list)
    if not tools:
        raise InvalidRequest(
            "Invalid 'tools': empty array. Expected an array with minimum length 1, but got an "
            "empty array instead.",
            "tools",
            "empty_array",
        )
    names: set[str] = set()
    for i, tool in enumerate(tools):
        where = f"tools[{i}]"
        _check_type(where, tool, dict)
        if "type" not in tool:
            _missing(f"{where}.type")
        if tool["type"] != "function":
            raise InvalidRequest(
                f"Invalid value: '{tool['type']}'. Supported values are: 'function' and 'custom'.",
                f"{where}.type",
                "invalid_value",
            )
        _check_fields(where, tool, {"type", "function"})
        if "function" not in tool:
            _missing(f"{where}.function")
        function = tool["function"]
        _check_type(f"{where}.function", function, dict)
        _check_fields(
            f"{where}.function", function, {"name", "description", "parameters", "strict"}
        )
        if "name" not in function:
            _missing(f"{where}.function.name")
        name = function["name"]
        _check_type(f"{where}.function.name", name, str)
        if not _FUNCTION_NAME.match(name):
            raise InvalidRequest(
                f"Invalid '{where}.function.name': string does not match pattern. Expected a "
                "string that matches the pattern '^[a-zA-Z0-9_-]+$'.",
                f"{where}.function.name",
                "invalid_value",
            )
        if "parameters" in function:
            _check_parameters(where, name, function["parameters"])
        names.add(name)
    return names


def _check_parameters(where: str, name: str, parameters: Any) -> None:
    param = f"{where}.function.parameters"
    _check_type(param, parameters, dict)
    kind = parameters.get("type")
    if kind != "object":
        raise InvalidRequest(
            f"Invalid schema for function '{name}': schema must be a JSON Schema of 'type: "
            f'"object"\', got \'type: "{kind}"\'.',
            param,
            "invalid_function_parameters",
        )
    if "properties" not in parameters:
        raise InvalidRequest(
            f"Invalid schema for function '{name}': In context=(), object schema missing "
            "properties.",
            param,
            "invalid_function_parameters",
        )


def _check_tool_choice(choice: Any, tool_names: set[str] | None) -> None:
    if choice is None:
        return
    if tool_names is None:
        raise InvalidRequest(
            "Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are "
            "specified.",
            "tool_choice",
        )
    if isinstance(choice, str):
        if choice not in ("none", "auto", "required"):
            raise InvalidRequest(
                f"Invalid value: '{choice}'. Supported values are: 'none', 'auto', and 'required'.",
                "tool_choice",
                "invalid_value",
            )
        return
    _check_type("tool_choice", choice, dict)
    if choice.get("type") != "function":
        raise InvalidRequest(
            "tool_choice: the scripted model supports 'none', 'auto', 'required' and "
            '{"type": "function", "function": {"name": ...}}',
            "tool_choice.type",
        )
    name = (choice.get("function") or {}).get("name")
    if name not in tool_names:
        raise InvalidRequest(
            f"Invalid value for 'tool_choice': function '{name}' not found in 'tools'.",
            "tool_choice",
        )


def _check_response_format(response_format: Any) -> None:
    if response_format is None:
        return
    _check_type("response_format", response_format, dict)
    kind = response_format.get("type")
    if kind in ("text", "json_object"):
        return
    if kind != "json_schema":
        raise InvalidRequest(
            f"Invalid value: '{kind}'. Supported values are: 'text', 'json_object', and "
            "'json_schema'.",
            "response_format.type",
            "invalid_value",
        )
    spec = response_format.get("json_schema")
    if not isinstance(spec, dict):
        _missing("response_format.json_schema")
    _check_fields("response_format.json_schema", spec, {"name", "description", "schema", "strict"})
    name = spec.get("name")
    if not isinstance(name, str):
        _missing("response_format.json_schema.name")
    if not _FUNCTION_NAME.match(name):
        raise InvalidRequest(
            "Invalid 'response_format.json_schema.name': string does not match pattern. Expected "
            "a string that matches the pattern '^[a-zA-Z0-9_-]+$'.",
            "response_format.json_schema.name",
            "invalid_value",
        )
    if spec.get("strict"):
        _check_strict(name, spec.get("schema"), ())


def _check_strict(name: str, schema: Any, context: tuple[str, ...]) -> None:
    """Strict structured outputs: every object forbids additional properties and requires all."""
    if not isinstance(schema, dict):
        return
    where = f"Invalid schema for response_format '{name}': In context={context!r}, "
    param = "response_format"
    types = schema.get("type")
    if types == "object" or (isinstance(types, list) and "object" in types):
        if schema.get("additionalProperties") is not False:
            raise InvalidRequest(
                where + "'additionalProperties' is required to be supplied and to be false.",
                param,
                "invalid_json_schema",
            )
        properties = schema.get("properties") or {}
        if missing := [p for p in properties if p not in (schema.get("required") or [])]:
            raise InvalidRequest(
                where + "'required' is required to be supplied and to be an array including "
                f"every key in properties. Missing '{missing[0]}'.",
                param,
                "invalid_json_schema",
            )
        for key, value in properties.items():
            _check_strict(name, value, (*context, "properties", key))
    if isinstance(schema.get("items"), dict):
        _check_strict(name, schema["items"], (*context, "items"))
    for keyword in ("anyOf", "$defs", "definitions"):
        nested = schema.get(keyword)
        values = nested.items() if isinstance(nested, dict) else enumerate(nested or [])
        for key, value in values:
            _check_strict(name, value, (*context, keyword, str(key)))


def _check_messages(messages: Any) -> None:
    _check_type("messages", messages, list)
    if not messages:
        raise InvalidRequest(
            "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an "
            "empty array instead.",
            "messages",
            "empty_array",
        )
    for i, message in enumerate(messages):
        where = f"messages[{i}]"
        _check_type(where, message, dict)
        role = message.get("role")
        if role is None:
            _missing(f"{where}.role")
        if role not in _MESSAGE_FIELDS:
            raise InvalidRequest(
                f"Invalid value: '{role}'. Supported values are: {_ROLES}.",
                f"{where}.role",
                "invalid_value",
            )
        required, optional = _MESSAGE_FIELDS[role]
        for field in sorted(required - set(message)):
            _missing(f"{where}.{field}")
        if extra := sorted(set(message) - required - optional - {"role"}):
            raise InvalidRequest(
                f"Additional properties are not allowed ('{extra[0]}' was unexpected) - "
                f"'messages.{i}'"
            )
        _check_content(where, role, message)
    _check_tool_pairing(messages)


def _check_content(where: str, role: str, message: dict[str, Any]) -> None:
    content = message.get("content")
    if role == "assistant":
        calls = message.get("tool_calls")
        if content is None and not calls and message.get("function_call") is None:
            raise InvalidRequest(
                f"Invalid value for '{where}.content': expected a string, got null.",
                f"{where}.content",
            )
        if calls is not None:
            _check_tool_calls(where, calls)
        allowed = {"text", "refusal"}
    elif role == "user":
        allowed = set(_USER_PARTS)
    else:
        allowed = {"text"}
    if role == "tool":
        _check_type(f"{where}.tool_call_id", message["tool_call_id"], str)
    if content is None and role == "assistant":
        return
    if isinstance(content, str):
        _check_prompt_text(where, role, content)
        return
    if not isinstance(content, list):
        raise InvalidRequest(
            f"Invalid type for '{where}.content': expected one of a string or array of objects, "
            f"but got {_json_type(content)} instead.",
            f"{where}.content",
            "invalid_type",
        )
    if not content:
        raise InvalidRequest(
            f"Invalid '{where}.content': empty array. Expected an array with minimum length 1, "
            "but got an empty array instead.",
            f"{where}.content",
            "empty_array",
        )
    for j, part in enumerate(content):
        at = f"{where}.content[{j}]"
        kind = part.get("type") if isinstance(part, dict) else None
        if kind not in allowed:
            supported = ", ".join(f"'{k}'" for k in sorted(allowed))
            raise InvalidRequest(
                f"Invalid value: '{kind}'. Supported values are: {supported}.",
                f"{at}.type",
                "invalid_value",
            )
        field = "refusal" if kind == "refusal" else _USER_PARTS.get(kind, "text")
        if field not in part:
            _missing(f"{at}.{field}")
        if field in ("text", "refusal"):
            _check_type(f"{at}.{field}", part[field], str)
        if kind == "text":
            _check_prompt_text(at, role, part["text"])


def _check_prompt_text(where: str, role: str, text: str) -> None:
    """A user prompt of only whitespace is refused (the wording is the fake's own)."""
    if role == "user" and not text.strip():
        raise InvalidRequest(
            f"Invalid '{where}': a user message must contain non-whitespace text.",
            where,
            "invalid_value",
        )


def _check_tool_calls(where: str, calls: Any) -> None:
    _check_type(f"{where}.tool_calls", calls, list)
    if not calls:
        raise InvalidRequest(
            f"Invalid '{where}.tool_calls': empty array. Expected an array with minimum length "
            "1, but got an empty array instead.",
            f"{where}.tool_calls",
            "empty_array",
        )
    for k, call in enumerate(calls):
        at = f"{where}.tool_calls[{k}]"
        _check_type(at, call, dict)
        for field in ("id", "type", "function"):
            if field not in call:
                _missing(f"{at}.{field}")
        _check_fields(at, call, {"id", "type", "function"})
        if call["type"] != "function":
            raise InvalidRequest(
                f"Invalid value: '{call['type']}'. Supported values are: 'function'.",
                f"{at}.type",
                "invalid_value",
            )
        _check_type(f"{at}.id", call["id"], str)
        function = call["function"]
        _check_type(f"{at}.function", function, dict)
        for field in ("name", "arguments"):
            if field not in function:
                _missing(f"{at}.function.{field}")
            _check_type(f"{at}.function.{field}", function[field], str)


def _check_tool_pairing(messages: list[dict[str, Any]]) -> None:
    """Every tool_call of an assistant message is answered by the tool messages right after it;
    a tool message answers a tool_call of the assistant message before the run of tool messages."""
    expected: list[str] = []  # ids of the open tool_calls
    open_at = -1
    for i, message in enumerate(messages):
        role = message["role"]
        if role == "tool":
            if open_at < 0:
                raise InvalidRequest(
                    "Invalid parameter: messages with role 'tool' must be a response to a "
                    "preceeding message with 'tool_calls'.",
                    f"messages.[{i}].role",
                )
            call_id = message["tool_call_id"]
            if call_id not in [c["id"] for c in messages[open_at]["tool_calls"]]:
                raise InvalidRequest(
                    f"Invalid parameter: 'tool_call_id' of '{call_id}' not found in 'tool_calls' "
                    "of previous message.",
                    f"messages.[{i}].tool_call_id",
                )
            if call_id in expected:
                expected.remove(call_id)
            continue
        if expected:
            raise InvalidRequest(
                "An assistant message with 'tool_calls' must be followed by tool messages "
                "responding to each 'tool_call_id'. The following tool_call_ids did not have "
                f"response messages: {', '.join(expected)}",
                f"messages.[{i}].role",
            )
        open_at = -1
        if role == "assistant" and message.get("tool_calls"):
            open_at = i
            expected = [c["id"] for c in message["tool_calls"]]
    if expected:
        raise InvalidRequest(
            "An assistant message with 'tool_calls' must be followed by tool messages responding "
            "to each 'tool_call_id'. The following tool_call_ids did not have response messages: "
            f"{', '.join(expected)}",
            f"messages.[{len(messages)}].role",
        )


def _check_fields(where: str, data: dict[str, Any], allowed: set[str]) -> None:
    if extra := sorted(set(data) - allowed):
        raise InvalidRequest(
            f"Unrecognized request argument supplied: {where}.{extra[0]}", f"{where}.{extra[0]}"
        )


def _missing(param: str) -> NoReturn:
    raise InvalidRequest(
        f"Missing required parameter: '{param}'.", param, "missing_required_parameter"
    )


_JSON_TYPES = {str: "a string", dict: "an object", list: "an array", int: "an integer",
               bool: "a boolean", float: "a decimal"}  # fmt: skip


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    return _JSON_TYPES.get(type(value), type(value).__name__)


def _check_type(where: str, value: Any, expected: type) -> None:
    # bool is an int in Python, not in JSON.
    if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
        raise InvalidRequest(
            f"Invalid type for '{where}': expected {_JSON_TYPES[expected]}, but got "
            f"{_json_type(value)} instead.",
            where,
            "invalid_type",
        )
