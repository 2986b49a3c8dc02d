"""Gemini through the google-genai SDK, mapped to and from the canonical message contract.

The base URL comes from GOOGLE_GEMINI_BASE_URL (the SDK reads it too, but only when a client is
built, so app.py reads it at cold start and passes it on), so a proxy, a compatible server or the
scripted model can stand in for the real API without code changes.

Mapping (docs/contract.md <-> generateContent):

- the system prompt travels as `system_instruction`, never as a turn;
- user/assistant become the roles user/model; text blocks become text parts;
- tool_use becomes a function_call part. Gemini often issues no call ids, so such calls get
  stable `toolu_` ids derived from the turn position, the call's index, its name and its
  arguments: a retried turn that makes the same calls gets the same ids. Generated ids stay in
  the canonical history and are not sent back (the API never issued them); ids Gemini did issue
  are sent back on the call and its response;
- tool_result becomes a function_response part named after the tool it answers (looked up by
  tool_use id in the history) with `{"output": text}`, or `{"error": text}` when is_error;
- a part's thought signature (Gemini 3 rejects function calls sent back without theirs) is kept
  on the block as `thought_signature` (base64), so the history stays lossless.
"""

import base64
import hashlib
import json
import re
from collections.abc import Callable
from typing import Any

from agent_core.errors import LlmFatalError, LlmRetryableError, MalformedLlmEvent
from agent_core.messages import Block, Message, ToolSpec, Usage
from agent_core.secrets import KeyedClient
from agent_core.turn import ModelReply, ModelRequest
from google import genai
from google.genai import errors, types

PROVIDER = "gemini"
API_VERSION = "v1beta"  # function ids, JSON-schema parameters and thought signatures live here
GENERATED_ID_PREFIX = "toolu_"
SIGNATURE = "thought_signature"  # optional block field: a Gemini part's signature, base64

# Keywords Gemini documents for JSON-schema parameters and response schemas; the rest are
# dropped so a tool's schema means the same to every model (tool input is still validated
# against the full schema by agent_core.turn.check_tool_call).
_SCHEMA_KEYWORDS = {
    "$id", "$defs", "$ref", "$anchor", "type", "format", "title", "description", "enum",
    "items", "prefixItems", "minItems", "maxItems", "minimum", "maximum", "anyOf", "oneOf",
    "properties", "additionalProperties", "required", "propertyOrdering",
}  # fmt: skip
_REFUSALS = {
    "SAFETY", "RECITATION", "PROHIBITED_CONTENT", "BLOCKLIST", "SPII", "LANGUAGE",
    "IMAGE_SAFETY", "IMAGE_PROHIBITED_CONTENT", "IMAGE_RECITATION", "MODEL_ARMOR",
}  # fmt: skip
# The model produced a call the API could not parse: another attempt usually succeeds.
_RETRYABLE_FINISHES = {"MALFORMED_FUNCTION_CALL", "UNEXPECTED_TOOL_CALL", "MALFORMED_RESPONSE"}
_RETRYABLE_STATUS = {408, 409, 429}
_MAJOR_VERSION = re.compile(r"gemini-(\d+)")
_SCHEMA_INSTRUCTION = (
    "When you give your final answer (not a tool call), reply with only a JSON value, no prose "
    "and no code fence, that matches this JSON schema: "
)
_ID_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def _transport_errors() -> tuple[type[Exception], ...]:
    """Timeouts and connection failures of whichever httpx flavour the SDK uses."""
    found: list[type[Exception]] = []
    for name in ("httpx2", "httpx"):
        try:
            module = __import__(name)
        except ImportError:
            continue
        found.append(module.TransportError)
    return tuple(found)


_TRANSPORT_ERRORS = _transport_errors()
# What a generate_content call raises: API errors, transport errors, and ValueError for a 200
# whose body is not the JSON the SDK expects (requests are built before the call).
_CALL_ERRORS: tuple[type[Exception], ...] = (errors.APIError, *_TRANSPORT_ERRORS, ValueError)


def tool_call_id(turn: int, index: int, name: str, args: dict[str, Any]) -> str:
    """A stable id for call `index` of model turn `turn` (0-based) when Gemini issued none."""
    seed = json.dumps([turn, index, name, args], sort_keys=True, separators=(",", ":"))
    number = int.from_bytes(hashlib.sha256(seed.encode()).digest())
    chars = []
    for _ in range(24):
        number, digit = divmod(number, len(_ID_ALPHABET))
        chars.append(_ID_ALPHABET[digit])
    return GENERATED_ID_PREFIX + "".join(chars)


def _issued(call_id: str) -> str | None:
    """The id to send back to Gemini: only ids Gemini issued itself."""
    return None if call_id.startswith(GENERATED_ID_PREFIX) else call_id


def _signature(block: Block) -> bytes | None:
    encoded = block.get(SIGNATURE)
    return base64.b64decode(encoded) if isinstance(encoded, str) and encoded else None


def _with_signature(block: Any, part: types.Part) -> Any:
    if part.thought_signature:
        block[SIGNATURE] = base64.b64encode(part.thought_signature).decode()
    return block


# ------------------------------------------------------------------ canonical -> Gemini


def to_gemini_contents(messages: list[Message]) -> list[types.Content]:
    """The history as Gemini contents. Raises MalformedLlmEvent for a tool_result that answers
    no tool_use of the history (the function_response needs the tool's name)."""
    names = {
        block["id"]: block["name"]
        for message in messages
        for block in message["content"]
        if block["type"] == "tool_use"
    }
    contents: list[types.Content] = []
    for position, message in enumerate(messages):
        parts: list[types.Part] = []
        for block in message["content"]:
            if block["type"] == "text":
                if block["text"]:  # the API rejects empty text parts
                    parts.append(
                        types.Part(text=block["text"], thought_signature=_signature(block))
                    )
            elif block["type"] == "tool_use":
                call = types.FunctionCall(
                    id=_issued(block["id"]), name=block["name"], args=block["input"]
                )
                parts.append(types.Part(function_call=call, thought_signature=_signature(block)))
            else:
                name = names.get(block["tool_use_id"])
                if name is None:
                    raise MalformedLlmEvent(
                        f"messages[{position}]: tool_result {block['tool_use_id']} answers no "
                        "tool_use in the conversation"
                    )
                key = "error" if block.get("is_error") else "output"
                response = types.FunctionResponse(
                    id=_issued(block["tool_use_id"]),
                    name=name,
                    response={key: block["content"]},
                )
                parts.append(types.Part(function_response=response))
        role = "user" if message["role"] == "user" else "model"
        if not parts:  # e.g. an empty reply: nothing to send for it
            continue
        if contents and contents[-1].role == role:  # keep user/model alternating
            contents[-1].parts = [*(contents[-1].parts or []), *parts]
        else:
            contents.append(types.Content(role=role, parts=parts))
    return contents


def to_gemini_schema(schema: Any) -> Any:
    """A JSON schema restricted to what Gemini's JSON-schema fields support."""
    if isinstance(schema, list):
        return [to_gemini_schema(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    if "$ref" in schema:  # Gemini allows only $-keywords beside $ref
        kept = {k: v for k, v in schema.items() if k in _SCHEMA_KEYWORDS and k.startswith("$")}
        if isinstance(kept["$ref"], str) and kept["$ref"].startswith("#/definitions/"):
            kept["$ref"] = "#/$defs/" + kept["$ref"].removeprefix("#/definitions/")
        return kept
    converted: dict[str, Any] = {}
    for key, value in schema.items():
        if key in ("$defs", "definitions") and isinstance(value, dict):  # draft-07 spelling
            definitions = {name: to_gemini_schema(s) for name, s in value.items()}
            converted.setdefault("$defs", {}).update(definitions)
        elif key == "properties" and isinstance(value, dict):
            converted[key] = {name: to_gemini_schema(s) for name, s in value.items()}
        elif key in ("items", "prefixItems", "anyOf", "oneOf", "additionalProperties"):
            converted[key] = to_gemini_schema(value)
        elif key in _SCHEMA_KEYWORDS:
            converted[key] = value
        elif key == "const" and "enum" not in schema:
            converted["enum"] = [value]
    return converted


def to_function_declarations(tools: list[ToolSpec]) -> list[types.FunctionDeclaration]:
    declarations = []
    for tool in tools:
        schema = to_gemini_schema(tool.get("input_schema") or {})
        schema.setdefault("type", "object")  # Gemini wants an object of named parameters
        declarations.append(
            types.FunctionDeclaration(
                name=tool["name"],
                description=tool.get("description") or "",
                parameters_json_schema=schema,
            )
        )
    return declarations


def structured_output_with_tools(model: str) -> bool:
    """Gemini before 3 rejects a JSON response type in a request that declares functions."""
    match = _MAJOR_VERSION.match(model.removeprefix("models/"))
    return match is None or int(match.group(1)) >= 3


def generation_config(
    model: str,
    system: str,
    tools: list[ToolSpec],
    max_output_tokens: int,
    output_schema: dict[str, Any] | None,
) -> types.GenerateContentConfig:
    config = types.GenerateContentConfig(
        max_output_tokens=max_output_tokens,
        # Our tools are declarations only; never let the SDK call anything itself.
        automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True),
    )
    if output_schema and tools and not structured_output_with_tools(model):
        # The schema cannot be enforced on this model while tools are declared: ask for it.
        schema_text = json.dumps(output_schema, sort_keys=True)
        system = (system + "\n\n" if system else "") + _SCHEMA_INSTRUCTION + schema_text
        output_schema = None
    if system:
        config.system_instruction = types.Content(parts=[types.Part(text=system)])
    if tools:
        config.tools = [types.Tool(function_declarations=to_function_declarations(tools))]
    if output_schema:
        config.response_mime_type = "application/json"
        config.response_json_schema = to_gemini_schema(output_schema)
    return config


# ------------------------------------------------------------------ Gemini -> canonical


def _args(call: types.FunctionCall) -> dict[str, Any]:
    return dict(call.args or {})


def from_gemini_content(content: types.Content | None, turn: int) -> list[Block]:
    """The blocks of the model's reply, the `turn`-th model turn (0-based) of the conversation."""
    blocks: list[Block] = []
    calls = 0
    for part in (content.parts or []) if content else []:
        if part.thought:  # thought summaries are not part of the conversation
            continue
        if part.function_call is not None:
            call = part.function_call
            name = call.name or ""
            call_id = call.id or tool_call_id(turn, calls, name, _args(call))
            calls += 1
            block = {"type": "tool_use", "id": call_id, "name": name, "input": _args(call)}
            blocks.append(_with_signature(block, part))
        elif part.text:
            blocks.append(_with_signature({"type": "text", "text": part.text}, part))
    if not blocks:
        blocks.append({"type": "text", "text": ""})
    return blocks


def _result_block(response: types.FunctionResponse, tool_use_id: str) -> Block:
    payload = response.response or {}
    if set(payload) == {"error"}:
        text, is_error = payload["error"], True
    elif set(payload) in ({"output"}, {"result"}):
        text, is_error = next(iter(payload.values())), False
    else:
        text, is_error = payload, False
    if not isinstance(text, str):
        text = json.dumps(text)
    return {
        "type": "tool_result",
        "tool_use_id": tool_use_id,
        "content": text,
        "is_error": is_error,
    }


def from_gemini_contents(contents: list[types.Content]) -> list[Message]:
    """A Gemini history as canonical messages (the inverse of to_gemini_contents)."""
    messages: list[Message] = []
    turn = 0
    previous_ids: list[str] = []
    for content in contents:
        if content.role == "model":
            blocks = from_gemini_content(content, turn)
            turn += 1
            previous_ids = [b["id"] for b in blocks if b["type"] == "tool_use"]
            messages.append({"role": "assistant", "content": blocks})
            continue
        user_blocks: list[Block] = []
        answered = 0
        for part in content.parts or []:
            if part.function_response is not None:
                response = part.function_response
                if response.id:
                    tool_use_id = response.id
                elif answered < len(previous_ids):
                    tool_use_id = previous_ids[answered]
                else:
                    raise ValueError("a function_response answers no function_call")
                answered += 1
                user_blocks.append(_result_block(response, tool_use_id))
            elif part.text:
                user_blocks.append({"type": "text", "text": part.text})
        messages.append({"role": "user", "content": user_blocks})
    return messages


def stop_reason(finish_reason: Any, has_calls: bool, model: str) -> str:
    reason = getattr(finish_reason, "value", finish_reason) or "STOP"
    if reason == "MAX_TOKENS":
        return "max_tokens"
    if reason in _REFUSALS:
        return "refusal"
    if reason in _RETRYABLE_FINISHES:
        raise LlmRetryableError(f"{PROVIDER} {model}: the model's reply was unusable ({reason})")
    if reason == "MISSING_THOUGHT_SIGNATURE":
        raise LlmFatalError(f"{PROVIDER} {model}: a function call lacked its thought signature")
    return "tool_use" if has_calls else "end_turn"


def usage_from(metadata: types.GenerateContentResponseUsageMetadata | None) -> Usage:
    """Normalised usage: Gemini's prompt count includes cached tokens, its output count excludes
    thinking tokens (which are billed as output)."""
    if metadata is None:
        return {
            "input_tokens": 0,
            "output_tokens": 0,
            "cache_read_input_tokens": 0,
            "cache_creation_input_tokens": 0,
        }
    cached = metadata.cached_content_token_count or 0
    prompt = (metadata.prompt_token_count or 0) + (metadata.tool_use_prompt_token_count or 0)
    return {
        "input_tokens": max(0, prompt - cached),
        "output_tokens": (metadata.candidates_token_count or 0)
        + (metadata.thoughts_token_count or 0),
        "cache_read_input_tokens": cached,
        "cache_creation_input_tokens": 0,
    }


# ------------------------------------------------------------------ errors


def _retry_after(error: errors.APIError) -> str:
    headers = getattr(error.response, "headers", None)
    value = headers.get("retry-after") if headers is not None else None
    return f" (retry after {value} s)" if value else ""


def classify(error: Exception, model: str) -> Exception:
    """Map an SDK or transport error to the contract's retryable or fatal error."""
    if isinstance(error, errors.APIError):
        status = f" {error.status}" if error.status else ""
        text = f"{PROVIDER} {model}: HTTP {error.code}{status}: {error.message or 'no message'}"
        if error.code in _RETRYABLE_STATUS or error.code >= 500:
            return LlmRetryableError(text + _retry_after(error))
        return LlmFatalError(text)
    if isinstance(error, _TRANSPORT_ERRORS):
        kind = "request timed out" if "Timeout" in type(error).__name__ else "connection failed"
        return LlmRetryableError(f"{PROVIDER} {model}: {kind}: {type(error).__name__}: {error}")
    # A 200 whose body is not the JSON the SDK expects.
    return LlmRetryableError(f"{PROVIDER} {model}: malformed response: {error}")


def _redacted(error: Exception, key: str) -> Exception:
    """The error with the API key masked, should any layer below have echoed it."""
    text = str(error)
    if key and key in text:
        return type(error)(text.replace(key, "***"))
    return error


# ------------------------------------------------------------------ client


class GeminiClient:
    provider = PROVIDER

    def __init__(
        self,
        api_key: Callable[[], str],
        timeout: float,
        max_retries: int,
        base_url: str | None = None,
    ) -> None:
        self._http_options = types.HttpOptions(
            base_url=base_url or None,
            api_version=API_VERSION,
            timeout=int(timeout * 1000),  # milliseconds, per attempt
            # The SDK retries 408, 429, 5xx, timeouts and connection errors with exponential
            # backoff and jitter; it does not read Retry-After.
            retry_options=types.HttpRetryOptions(
                attempts=max_retries + 1, initial_delay=0.5, max_delay=8.0
            ),
        )
        self._sdk = KeyedClient(
            api_key,
            lambda key: genai.Client(
                api_key=key, vertexai=False, http_options=self._http_options.model_copy()
            ),
        )

    def complete(self, request: ModelRequest) -> ModelReply:
        contents = to_gemini_contents(request.messages)
        config = generation_config(
            request.model,
            request.system,
            request.tools,
            request.max_output_tokens,
            request.output_schema,
        )
        client = self._sdk()
        try:
            response = client.models.generate_content(
                model=request.model, contents=contents, config=config
            )
        except _CALL_ERRORS as error:
            raise _redacted(classify(error, request.model), self._sdk.key) from None
        turn = sum(1 for m in request.messages if m["role"] == "assistant")
        candidate = response.candidates[0] if response.candidates else None
        if candidate is None:  # the prompt itself was blocked
            blocked = response.prompt_feedback and response.prompt_feedback.block_reason
            if not blocked:
                raise LlmRetryableError(f"{PROVIDER} {request.model}: the reply has no candidate")
            blocks: list[Block] = [{"type": "text", "text": ""}]
            reason = "refusal"
        else:
            blocks = from_gemini_content(candidate.content, turn)
            has_calls = any(b["type"] == "tool_use" for b in blocks)
            reason = stop_reason(candidate.finish_reason, has_calls, request.model)
        return ModelReply(
            message={"role": "assistant", "content": blocks},
            stop_reason=reason,
            usage=usage_from(response.usage_metadata),
            model=response.model_version or request.model,
        )
