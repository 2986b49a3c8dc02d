"""GPT models and every OpenAI-compatible server (DeepSeek, xAI, vLLM, Ollama, LM Studio) through
the openai SDK's Chat Completions API, mapped to and from the canonical message contract.

Which servers exist is data (providers.json): a named provider is a base URL, the name of its key
in the LLM API keys secret and a default model. One adapter (and one SDK client) per provider.

Mapping notes (docs/contract.md is the canonical side):

- the system prompt is the first message, role ``system``; it is never sent as a user message;
- a canonical user message holding tool results becomes one ``tool`` message per result, in order,
  followed by a ``user`` message with its text, if any; an error result reaches the model as
  ``Error: <content>`` (not prefixed twice: the state machine's own error results start with it);
- tool-call arguments travel as JSON text. Arguments the model wrote that are not a JSON object are
  kept verbatim as ``{"_raw_arguments": "<text>"}`` (and sent back verbatim), so the call is never
  lost and the loop can answer it with an error result.
"""

import hashlib
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import openai
from agent_core.errors import LlmFatalError, LlmRetryableError
from agent_core.messages import Block, Message, ToolResultBlock, ToolSpec, ToolUseBlock, Usage
from agent_core.turn import ModelReply, ModelRequest

RAW_ARGUMENTS = "_raw_arguments"
ERROR_PREFIX = "Error: "
KEYLESS = "sfn-agents-keyless"  # the SDK insists on a key; keyless local servers ignore it
MAX_TOKENS_PARAMETERS = ("max_completion_tokens", "max_tokens")
FINISH_REASONS = {
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "stop": "end_turn",
    "length": "max_tokens",
    "content_filter": "refusal",
}
_SCHEMA_NAME = re.compile(r"[^a-zA-Z0-9_-]")


@dataclass(frozen=True)
class Provider:
    name: str
    base_url: str | None
    api_key_name: str | None
    default_model: str
    max_tokens_parameter: str = "max_completion_tokens"


def load_providers(path: Path) -> dict[str, Provider]:
    """The named providers of providers.json; ValueError names a bad entry."""
    data = json.loads(path.read_text())
    providers = {}
    for name, entry in data.items():
        if name.startswith("_"):
            continue
        if not isinstance(entry, dict):
            raise ValueError(f"{path.name}: provider {name} must be an object")
        unknown = set(entry) - {"base_url", "api_key_name", "default_model", "max_tokens_parameter"}
        if unknown:
            raise ValueError(f"{path.name}: provider {name} has unknown field {sorted(unknown)[0]}")
        for field in ("base_url", "api_key_name"):
            if entry.get(field) is not None and not isinstance(entry[field], str):
                raise ValueError(f"{path.name}: {name}.{field} must be a string or null")
        if not isinstance(entry.get("default_model"), str) or not entry["default_model"]:
            raise ValueError(f"{path.name}: {name}.default_model must be a non-empty string")
        parameter = entry.get("max_tokens_parameter", "max_completion_tokens")
        if parameter not in MAX_TOKENS_PARAMETERS:
            raise ValueError(
                f"{path.name}: {name}.max_tokens_parameter must be one of "
                f"{', '.join(MAX_TOKENS_PARAMETERS)}"
            )
        providers[name] = Provider(
            name=name,
            base_url=entry.get("base_url") or None,
            api_key_name=entry.get("api_key_name") or None,
            default_model=entry["default_model"],
            max_tokens_parameter=parameter,
        )
    return providers


# ---------------------------------------------------------------- canonical -> Chat Completions


def to_openai_messages(system: str, messages: list[Message]) -> list[dict[str, Any]]:
    converted: list[dict[str, Any]] = []
    if system:
        converted.append({"role": "system", "content": system})
    for message in messages:
        if message["role"] == "assistant":
            converted.append(_assistant_to_openai(message))
            continue
        texts = [b["text"] for b in message["content"] if b["type"] == "text"]
        results = [b for b in message["content"] if b["type"] == "tool_result"]
        for result in results:
            content = result["content"]
            if result.get("is_error") and not content.startswith(ERROR_PREFIX):
                content = ERROR_PREFIX + content  # the state machine's errors carry it already
            converted.append(
                {"role": "tool", "tool_call_id": result["tool_use_id"], "content": content}
            )
        texts = [t for t in texts if t] if results else texts
        if len(texts) == 1:
            converted.append({"role": "user", "content": texts[0]})
        elif texts:
            converted.append(
                {"role": "user", "content": [{"type": "text", "text": t} for t in texts]}
            )
    return converted


def _assistant_to_openai(message: Message) -> dict[str, Any]:
    text = "\n\n".join(b["text"] for b in message["content"] if b["type"] == "text" and b["text"])
    calls = [
        {
            "id": b["id"],
            "type": "function",
            "function": {"name": b["name"], "arguments": _arguments_text(b["input"])},
        }
        for b in message["content"]
        if b["type"] == "tool_use"
    ]
    converted: dict[str, Any] = {"role": "assistant", "content": text or (None if calls else "")}
    if calls:
        converted["tool_calls"] = calls
    return converted


def _arguments_text(arguments: dict[str, Any]) -> str:
    if set(arguments) == {RAW_ARGUMENTS} and isinstance(arguments[RAW_ARGUMENTS], str):
        return arguments[RAW_ARGUMENTS]  # what the model wrote, as it wrote it
    return json.dumps(arguments, ensure_ascii=False)


def to_openai_tool(tool: ToolSpec) -> dict[str, Any]:
    parameters = dict(tool.get("input_schema") or {"type": "object"})
    if parameters.get("type") == "object" and "properties" not in parameters:
        parameters["properties"] = {}  # OpenAI: "object schema missing properties"
    function: dict[str, Any] = {"name": tool["name"], "parameters": parameters}
    if tool.get("description"):
        function["description"] = tool["description"]
    return {"type": "function", "function": function}


def response_format(schema: dict[str, Any]) -> dict[str, Any]:
    """Structured output: the schema, enforced (strict) when it meets strict mode's rules."""
    name = _SCHEMA_NAME.sub("_", str(schema.get("title") or "output"))[:64] or "output"
    return {
        "type": "json_schema",
        "json_schema": {"name": name, "schema": schema, "strict": strict_compatible(schema)},
    }


def strict_compatible(schema: Any) -> bool:
    """Whether strict structured outputs accept ``schema``: every object lists all its properties
    as required and forbids additional ones."""
    if isinstance(schema, list):
        return all(strict_compatible(item) for item in schema)
    if not isinstance(schema, dict):
        return True
    types = schema.get("type")
    is_object = types == "object" or (isinstance(types, list) and "object" in types)
    if is_object or "properties" in schema:
        properties = schema.get("properties") or {}
        if schema.get("additionalProperties") is not False:
            return False
        if sorted(schema.get("required") or []) != sorted(properties):
            return False
    nested = [v for k, v in schema.items() if k not in ("enum", "const", "default", "examples")]
    return all(strict_compatible(v) for v in nested if isinstance(v, dict | list))


# ---------------------------------------------------------------- Chat Completions -> canonical


def from_openai_message(message: Mapping[str, Any], salt: str = "") -> Message:
    """An assistant message (a response's ``choices[0].message`` as a dict) in canonical form.
    Tool calls without an id (some local servers) get a stable ``toolu_`` id derived from
    ``salt`` (the response id) and the call."""
    content: list[Block] = []
    text = _text_of(message.get("content"))
    if text:
        content.append({"type": "text", "text": text})
    if not text and message.get("refusal"):
        content.append({"type": "text", "text": str(message["refusal"])})
    for index, call in enumerate(message.get("tool_calls") or []):
        content.append(_tool_use(call, index, salt))
    if not content:
        content.append({"type": "text", "text": ""})
    return {"role": "assistant", "content": content}


def _tool_use(call: Mapping[str, Any], index: int, salt: str) -> ToolUseBlock:
    if call.get("type") == "custom":  # free-form tools: this function never defines any
        function = call.get("custom") or {}
        raw = str(function.get("input") or "")
    else:
        function = call.get("function") or {}
        arguments = function.get("arguments")
        raw = arguments if isinstance(arguments, str) else json.dumps(arguments)
    name = str(function.get("name") or "")
    call_id = call.get("id") or _generated_id(salt, index, name, raw)
    return {"type": "tool_use", "id": str(call_id), "name": name, "input": parse_arguments(raw)}


def parse_arguments(raw: str) -> dict[str, Any]:
    """Arguments as an object; anything else is kept verbatim under ``_raw_arguments``."""
    if not raw.strip():
        return {}  # some compatible servers send "" for a call without arguments
    try:
        value = json.loads(raw)
    except ValueError:
        return {RAW_ARGUMENTS: raw}
    return value if isinstance(value, dict) else {RAW_ARGUMENTS: raw}


def has_raw_arguments(call: ToolUseBlock) -> bool:
    return set(call["input"]) == {RAW_ARGUMENTS}


def _generated_id(*parts: object) -> str:
    digest = hashlib.sha256(":".join(str(p) for p in parts).encode()).hexdigest()
    return "toolu_" + digest[:24]


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts: text (and refusal) parts carry text
        return "".join(
            str(part.get("text") or part.get("refusal") or "")
            for part in content
            if isinstance(part, dict)
        )
    return ""


def from_openai_messages(messages: list[Mapping[str, Any]]) -> tuple[str, list[Message]]:
    """A Chat Completions conversation as (system prompt, canonical messages): the inverse of
    ``to_openai_messages``. Consecutive tool messages and the user message after them form one
    canonical user message."""
    system: list[str] = []
    converted: list[Message] = []
    pending: list[Block] | None = None  # the user message being assembled
    for message in messages:
        role = message.get("role")
        if role in ("system", "developer"):
            system.append(_text_of(message.get("content")))
        elif role == "assistant":
            if pending is not None:
                converted.append({"role": "user", "content": pending})
                pending = None
            converted.append(from_openai_message(message))
        elif role == "tool":
            pending = pending if pending is not None else []
            pending.append(_tool_result(message))
        elif role == "user":
            pending = pending if pending is not None else []
            content = message.get("content")
            if isinstance(content, list):
                texts = [
                    str(p.get("text", ""))
                    for p in content
                    if isinstance(p, dict) and p.get("type") == "text"
                ]
            else:
                texts = [_text_of(content)]
            pending.extend({"type": "text", "text": t} for t in texts)
    if pending is not None:
        converted.append({"role": "user", "content": pending})
    return "\n\n".join(system), converted


def _tool_result(message: Mapping[str, Any]) -> ToolResultBlock:
    content = _text_of(message.get("content"))
    is_error = content.startswith(ERROR_PREFIX)
    return {
        "type": "tool_result",
        "tool_use_id": str(message.get("tool_call_id") or ""),
        "content": content.removeprefix(ERROR_PREFIX) if is_error else content,
        "is_error": is_error,
    }


def stop_reason(finish_reason: str | None, message: Message) -> str:
    has_calls = any(b["type"] == "tool_use" for b in message["content"])
    if has_calls and finish_reason in (None, "stop", "tool_calls", "function_call"):
        return "tool_use"  # some compatible servers say "stop" after calling tools
    return FINISH_REASONS.get(finish_reason or "stop", "end_turn")


def usage_of(usage: Any) -> Usage:
    """Canonical usage. OpenAI counts cached tokens inside prompt_tokens (prompt_tokens_details);
    DeepSeek reports prompt_cache_hit_tokens instead."""
    if usage is None:
        return {
            "input_tokens": 0,
            "output_tokens": 0,
            "cache_read_input_tokens": 0,
            "cache_creation_input_tokens": 0,
        }
    details = getattr(usage, "prompt_tokens_details", None)
    cached = (getattr(details, "cached_tokens", None) if details else None) or getattr(
        usage, "prompt_cache_hit_tokens", None
    )
    written = getattr(details, "cache_write_tokens", None) if details else None
    cached, written = int(cached or 0), int(written or 0)
    prompt = int(getattr(usage, "prompt_tokens", 0) or 0)
    return {
        "input_tokens": max(prompt - cached - written, 0),
        "output_tokens": int(getattr(usage, "completion_tokens", 0) or 0),
        "cache_read_input_tokens": cached,
        "cache_creation_input_tokens": written,
    }


# ---------------------------------------------------------------- errors


def classify(error: openai.APIError, where: str, secret: str = "") -> Exception:
    """The contract's retryable or fatal error for an SDK error. ``where`` names provider and
    model; ``secret`` (the API key) is scrubbed from the text should a server echo it."""
    if isinstance(error, openai.APITimeoutError):
        text = f"{where}: request timed out"
        retryable = True
    elif isinstance(error, openai.APIConnectionError):
        text = f"{where}: connection failed: {error.message}"
        retryable = True
    elif isinstance(error, openai.APIStatusError):
        body = error.body if isinstance(error.body, dict) else {}
        kind = body.get("code") or body.get("type")  # e.g. context_length_exceeded
        message = body.get("message") if isinstance(body.get("message"), str) else error.message
        label = (
            f"HTTP {error.status_code} {kind}"
            if isinstance(kind, str)
            else f"HTTP {error.status_code}"
        )
        text = f"{where}: {label}: {message}"
        retryable = error.status_code in (408, 409, 429) or error.status_code >= 500
    else:  # APIResponseValidationError and other malformed replies
        text = f"{where}: invalid response: {error.message}"
        retryable = True
    if secret and len(secret) >= 8:
        text = text.replace(secret, "***")
    return LlmRetryableError(text) if retryable else LlmFatalError(text)


# ---------------------------------------------------------------- the adapter


class OpenAiClient:
    """agent_core.turn.ModelClient for one named provider."""

    def __init__(
        self,
        provider: Provider,
        api_key: Callable[[], str],
        base_url: str | None,
        timeout: float,
        max_retries: int,
        http_client: Any = None,
    ) -> None:
        self.provider = provider.name
        self.config = provider
        self._sdk = openai.OpenAI(
            api_key=api_key,  # called before each request: a rotated secret is picked up
            base_url=base_url,
            timeout=timeout,
            max_retries=max_retries,
            http_client=http_client,
        )

    def request_arguments(self, request: ModelRequest) -> dict[str, Any]:
        arguments: dict[str, Any] = {
            "model": request.model,
            "messages": to_openai_messages(request.system, request.messages),
            self.config.max_tokens_parameter: request.max_output_tokens,
        }
        if request.tools:
            arguments["tools"] = [to_openai_tool(t) for t in request.tools]
        if request.output_schema:
            arguments["response_format"] = response_format(request.output_schema)
        return arguments

    def complete(self, request: ModelRequest) -> ModelReply:
        where = f"{self.provider} {request.model}"
        try:
            response = self._sdk.chat.completions.create(**self.request_arguments(request))
        except openai.APIError as error:
            raise classify(error, where, self._sdk.api_key) from None
        except ValueError as error:  # a 200 whose body is not the JSON the SDK expects
            raise LlmRetryableError(f"{where}: malformed response: {error}") from None
        choices = getattr(response, "choices", None)
        if not choices or getattr(choices[0], "message", None) is None:
            raise LlmRetryableError(f"{where}: malformed response: no choices")
        choice = choices[0]
        message = from_openai_message(choice.message.model_dump(), salt=response.id or "")
        return ModelReply(
            message=message,
            stop_reason=stop_reason(choice.finish_reason, message),
            usage=usage_of(response.usage),
            model=response.model or request.model,
        )
