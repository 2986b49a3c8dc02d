"""Amazon Bedrock models (Nova, Claude, Llama, Mistral, Jamba, ...) through the Converse API of
boto3's `bedrock-runtime` client, mapped to and from the canonical message contract.

boto3 reads AWS_ENDPOINT_URL_BEDROCK_RUNTIME (and, failing that, AWS_ENDPOINT_URL), so the scripted
model or a proxy can stand in for Bedrock without code changes. Authentication is the function's
IAM role: there is no API key.

Choices the mapping makes, all visible in the request it builds:

- Tool use ids: Bedrock passes them to the model, and Claude on Bedrock wants ``^[a-zA-Z0-9_-]+$``
  (at most 64 characters). An id from another provider's history that does not fit is replaced by
  a deterministic alias (a readable prefix plus a hash of the original), the same for the
  ``toolUse`` and its ``toolResult``, so a provider switch mid-conversation stays valid. The stored
  history keeps the original ids; ids that fit are sent unchanged.
- Tool results travel as ``[{"text": content}]`` (empty content as ``[]``), never as ``json``,
  so the canonical string comes back byte for byte. ``status`` is sent to models that accept it
  (capabilities.json); for the others an error result is marked in its text instead.
- Models without system-prompt support in Converse (capabilities.json: Mistral 7B / Mixtral
  Instruct, Titan Text) get the system prompt prepended to the first user text, separated by a
  blank line, rather than losing it.
- Structured output (``agent.output_schema``): Converse has no response format every model
  accepts, so the schema becomes the input schema of a ``final_answer`` tool. Without agent tools
  the model is forced to call it (``toolChoice.tool``, or ``any`` where only that is supported);
  with agent tools the model must call some tool (``any``) and ends by calling ``final_answer``.
  Its input comes back as JSON text in a text block with stop reason ``end_turn``. Models with
  neither choice are asked to call it in the system prompt; models without tool use are asked to
  answer with JSON only. A schema whose type is not ``object`` is wrapped in ``{"value": ...}``.
"""

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import boto3
from agent_core.errors import LlmFatalError, LlmRetryableError, MalformedLlmEvent
from agent_core.messages import Block, Message, Usage
from agent_core.turn import ModelReply, ModelRequest
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError
from botocore.parsers import ResponseParserError

PROVIDER = "bedrock"
FINAL_ANSWER = "final_answer"
CAPABILITIES_FILE = Path(__file__).with_name("capabilities.json")

_TOOL_USE_ID = re.compile(r"[a-zA-Z0-9_-]{1,64}")
_UNSAFE_ID_CHARS = re.compile(r"[^a-zA-Z0-9_-]")
# Cross-region inference profiles prefix the model id with a geography: us.amazon.nova-pro-v1:0.
_GEOGRAPHY = re.compile(r"^(?:us|us-gov|eu|apac|global|jp|au|ca)\.")
_STOP_REASONS = {
    "end_turn": "end_turn",
    "tool_use": "tool_use",
    "max_tokens": "max_tokens",
    "stop_sequence": "end_turn",
    "guardrail_intervened": "refusal",
    "content_filtered": "refusal",
    "model_context_window_exceeded": "max_tokens",
}
# A 200 whose output the model botched: sampling again may well succeed.
_MALFORMED_STOPS = {"malformed_model_output", "malformed_tool_use"}
RETRYABLE_CODES = frozenset(
    {
        "ThrottlingException",
        "ServiceUnavailableException",
        "InternalServerException",
        "ModelNotReadyException",
        "ModelTimeoutException",
        # 424: the model failed while processing; AWS's text says "Try your request again". The
        # state machine retries a bounded number of times, so a deterministic one costs little.
        "ModelErrorException",
        "ServiceQuotaExceededException",
        "RequestTimeout",
        "RequestTimeoutException",
    }
)
FATAL_CODES = frozenset(
    {
        "ValidationException",
        "AccessDeniedException",
        "ResourceNotFoundException",
        "UnrecognizedClientException",
        "InvalidSignatureException",
        "ExpiredTokenException",
        "IncompleteSignatureException",
        "MissingAuthenticationTokenException",
    }
)


# --------------------------------------------------------------------- capabilities
@dataclass(frozen=True)
class Capabilities:
    system: bool
    tools: bool
    tool_choice: frozenset[str]  # besides auto: "any", "tool"
    tool_result_status: bool
    cache_points: frozenset[str] = frozenset()  # where cachePoint blocks go


def base_model_id(model: str) -> str:
    """The foundation-model id behind a model id, an inference profile id or an ARN."""
    name = model.rsplit("/", 1)[-1]  # ...:foundation-model/<id>, ...:inference-profile/<id>
    return _GEOGRAPHY.sub("", name, count=1)


@cache
def _capability_table() -> dict[str, Capabilities]:
    data: dict[str, Any] = json.loads(CAPABILITIES_FILE.read_text())
    return {
        prefix: Capabilities(
            system=bool(entry["system"]),
            tools=bool(entry["tools"]),
            tool_choice=frozenset(entry["tool_choice"]),
            tool_result_status=bool(entry["tool_result_status"]),
            cache_points=frozenset(entry.get("cache_points", [])),
        )
        for prefix, entry in data.items()
        if prefix != "_comment"
    }


def capabilities(model: str) -> Capabilities:
    table = _capability_table()
    model_id = base_model_id(model)
    prefixes = [p for p in table if not p.startswith("_") and model_id.startswith(p)]
    return table[max(prefixes, key=len)] if prefixes else table["_default"]


# --------------------------------------------------------------------- tool use ids
def bedrock_tool_id(tool_id: str) -> str:
    """``tool_id`` if Bedrock accepts it, else a stable alias that it accepts (<= 64 chars)."""
    if _TOOL_USE_ID.fullmatch(tool_id):
        return tool_id
    readable = _UNSAFE_ID_CHARS.sub("_", tool_id)[:40]
    digest = hashlib.sha256(tool_id.encode()).hexdigest()[:20]
    return f"{readable}_{digest}"


def tool_id_aliases(messages: Iterable[Message]) -> dict[str, str]:
    """Bedrock id -> canonical id, for every tool use whose id had to be replaced."""
    aliases = {}
    for message in messages:
        for block in message["content"]:
            if block["type"] == "tool_use" and bedrock_tool_id(block["id"]) != block["id"]:
                aliases[bedrock_tool_id(block["id"])] = block["id"]
    return aliases


# --------------------------------------------------------------------- canonical -> Converse
def to_converse_messages(
    messages: list[Message], caps: Capabilities | None = None
) -> list[dict[str, Any]]:
    status = caps.tool_result_status if caps is not None else True
    converted = []
    for message in messages:
        blocks: list[dict[str, Any]] = []
        for block in message["content"]:
            if block["type"] == "text":
                if block["text"]:  # Converse rejects blank text blocks
                    blocks.append({"text": block["text"]})
            elif block["type"] == "tool_use":
                tool_use = {
                    "toolUseId": bedrock_tool_id(block["id"]),
                    "name": block["name"],
                    "input": block["input"],
                }
                blocks.append({"toolUse": tool_use})
            else:
                blocks.append({"toolResult": _tool_result(block, status)})
        if not blocks:  # only empty text: keep the turn (roles must alternate) with a marker
            blocks.append({"text": "(no content)"})
        converted.append({"role": message["role"], "content": blocks})
    return converted


def _tool_result(block: Any, with_status: bool) -> dict[str, Any]:
    content: str = block["content"]
    is_error = bool(block.get("is_error", False))
    if is_error and not with_status and not content.lower().startswith("error"):
        content = f"Error: {content}"
    result: dict[str, Any] = {
        "toolUseId": bedrock_tool_id(block["tool_use_id"]),
        "content": [{"text": content}] if content else [],
    }
    if with_status:
        result["status"] = "error" if is_error else "success"
    return result


def _tool_spec(name: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = {"name": name, "inputSchema": {"json": schema}}
    if description:  # NonEmptyString: botocore rejects "" before sending
        spec["description"] = description
    return {"toolSpec": spec}


@dataclass(frozen=True)
class StructuredOutput:
    schema: dict[str, Any]
    wrapped: bool  # the schema is not an object: the tool input is {"value": <answer>}

    @classmethod
    def of(cls, schema: dict[str, Any]) -> "StructuredOutput":
        if schema.get("type") == "object":
            return cls(schema, wrapped=False)
        wrapper = {"type": "object", "properties": {"value": schema}, "required": ["value"]}
        return cls(wrapper, wrapped=True)

    def answer(self, tool_input: dict[str, Any]) -> str:
        value = tool_input.get("value") if self.wrapped else tool_input
        return json.dumps(value, ensure_ascii=False)


def _history_tool_names(messages: list[Message]) -> list[str]:
    names = []
    for message in messages:
        for block in message["content"]:
            if block["type"] == "tool_use" and block["name"] not in names:
                names.append(block["name"])
    return names


def _has_tool_blocks(messages: list[Message]) -> bool:
    return any(b["type"] != "text" for m in messages for b in m["content"])


def to_converse_request(
    request: ModelRequest,
) -> tuple[dict[str, Any], StructuredOutput | None]:
    """The keyword arguments of ``converse`` and, when the agent wants structured output, how to
    read it back."""
    caps = capabilities(request.model)
    if not caps.tools and (request.tools or _has_tool_blocks(request.messages)):
        raise LlmFatalError(
            f"{PROVIDER} {request.model}: this model does not support tool use in the Converse "
            "API; give the agent a model that does (see functions/llm/bedrock/capabilities.json)"
        )
    tools = _declared_tools(request)
    structured = StructuredOutput.of(request.output_schema) if request.output_schema else None
    system, tool_choice = request.system, None
    if structured is not None:
        system, tool_choice = _ask_for_structured_output(request, caps, structured, tools)
    messages = to_converse_messages(request.messages, caps)
    arguments: dict[str, Any] = {
        "modelId": request.model,
        "messages": messages,
        "inferenceConfig": {"maxTokens": request.max_output_tokens},
    }
    if system and caps.system:
        arguments["system"] = [{"text": system}]
    elif system:
        _prepend_system(messages, system)
    if tools:
        arguments["toolConfig"] = {"tools": tools}
        if tool_choice is not None:
            arguments["toolConfig"]["toolChoice"] = tool_choice
    if request.cache:
        _add_cache_points(arguments, caps.cache_points)
    return arguments, structured


_CACHE_POINT = {"cachePoint": {"type": "default"}}


def _add_cache_points(arguments: dict[str, Any], places: frozenset[str]) -> None:
    """Prompt-cache checkpoints after the system prompt, the tools and the newest message, where
    the model supports them: each turn's request extends the last one's."""
    if "system" in places and arguments.get("system"):
        arguments["system"].append(dict(_CACHE_POINT))
    if "tools" in places and arguments.get("toolConfig"):
        arguments["toolConfig"]["tools"].append(dict(_CACHE_POINT))
    if "messages" in places:
        arguments["messages"][-1]["content"].append(dict(_CACHE_POINT))


def _declared_tools(request: ModelRequest) -> list[dict[str, Any]]:
    """The agent's tools, plus any tool the history names that the agent no longer has: Converse
    wants every tool a toolUse names declared."""
    tools = [
        _tool_spec(
            t["name"], t.get("description") or "", t.get("input_schema") or {"type": "object"}
        )
        for t in request.tools
    ]
    declared = {t["name"] for t in request.tools}
    for name in _history_tool_names(request.messages):
        if name not in declared:
            tools.append(_tool_spec(name, "No longer available.", {"type": "object"}))
            declared.add(name)
    return tools


def _ask_for_structured_output(
    request: ModelRequest,
    caps: Capabilities,
    structured: StructuredOutput,
    tools: list[dict[str, Any]],
) -> tuple[str, dict[str, Any] | None]:
    """Add the final_answer tool to ``tools``; the system prompt and toolChoice to use."""
    system = request.system
    if not caps.tools:
        instruction = (
            "Answer with only a JSON value (no other text) that matches this JSON schema: "
        )
        return _join(system, instruction + json.dumps(request.output_schema)), None
    if any(t["toolSpec"]["name"] == FINAL_ANSWER for t in tools):
        raise MalformedLlmEvent(
            f"the agent has a tool named {FINAL_ANSWER}, which structured output reserves"
        )
    description = "Give your final answer. Call this exactly once, when you are done."
    tools.append(_tool_spec(FINAL_ANSWER, description, structured.schema))
    tool_choice: dict[str, Any] | None = None
    if not request.tools and "tool" in caps.tool_choice:
        tool_choice = {"tool": {"name": FINAL_ANSWER}}
    elif "any" in caps.tool_choice:
        tool_choice = {"any": {}}
    if request.tools or tool_choice is None:
        system = _join(
            system, f"When you have the final answer, give it by calling {FINAL_ANSWER}."
        )
    return system, tool_choice


def _join(*parts: str) -> str:
    return "\n\n".join(p for p in parts if p)


def _prepend_system(messages: list[dict[str, Any]], system: str) -> None:
    """For models without system prompts: the prompt leads the first user message's text."""
    first = messages[0]["content"] if messages else None
    if first is None:
        return
    if "text" in first[0]:
        first[0] = {"text": _join(system, first[0]["text"])}
    else:
        first.insert(0, {"text": system})


# --------------------------------------------------------------------- Converse -> canonical
def from_converse_content(
    content: list[dict[str, Any]], aliases: Mapping[str, str] | None = None
) -> list[Block]:
    """Canonical blocks of a Converse message (reasoning and other block kinds are dropped)."""
    aliases = aliases or {}
    blocks: list[Block] = []
    for block in content:
        if "text" in block:
            blocks.append({"type": "text", "text": block["text"]})
        elif "toolUse" in block:
            use = block["toolUse"]
            blocks.append(
                {
                    "type": "tool_use",
                    "id": aliases.get(use["toolUseId"], use["toolUseId"]),
                    "name": use["name"],
                    "input": dict(use.get("input") or {}),
                }
            )
        elif "toolResult" in block:
            result = block["toolResult"]
            parts = [
                p["text"] if "text" in p else json.dumps(p["json"])
                for p in result.get("content", [])
                if "text" in p or "json" in p
            ]
            blocks.append(
                {
                    "type": "tool_result",
                    "tool_use_id": aliases.get(result["toolUseId"], result["toolUseId"]),
                    "content": "".join(parts),
                    "is_error": result.get("status") == "error",
                }
            )
    return blocks


def from_converse_message(
    message: dict[str, Any], aliases: Mapping[str, str] | None = None
) -> Message:
    content = from_converse_content(message.get("content") or [], aliases)
    return {"role": message["role"], "content": content}


def _usage(usage: Mapping[str, Any]) -> Usage:
    input_tokens = int(usage.get("inputTokens") or 0)
    output_tokens = int(usage.get("outputTokens") or 0)
    cache_read = int(usage.get("cacheReadInputTokens") or 0)
    cache_write = int(usage.get("cacheWriteInputTokens") or 0)
    # Bedrock reports inputTokens without the cached ones (totalTokens = input + output + cache
    # read + cache write). Should a model count them in, take them out: the contract's
    # input_tokens are the uncached ones.
    cached = cache_read + cache_write
    if cached and usage.get("totalTokens") == input_tokens + output_tokens >= cached:
        input_tokens = max(0, input_tokens - cached)
    return {
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "cache_read_input_tokens": cache_read,
        "cache_creation_input_tokens": cache_write,
    }


def from_converse_response(
    response: Mapping[str, Any],
    request: ModelRequest,
    structured: StructuredOutput | None = None,
) -> ModelReply:
    model = request.model
    try:
        message = response["output"]["message"]
        content = message["content"]
        stop = response["stopReason"]
        if not isinstance(content, list) or not isinstance(stop, str):
            raise TypeError("content must be a list and stopReason a string")
        blocks = from_converse_content(content, tool_id_aliases(request.messages))
    except (KeyError, TypeError, AttributeError) as error:
        raise LlmRetryableError(
            f"{PROVIDER} {model}: malformed response: {type(error).__name__}: {error}"
        ) from None
    if stop in _MALFORMED_STOPS:
        raise LlmRetryableError(f"{PROVIDER} {model}: the model stopped with {stop}")
    stop_reason = _STOP_REASONS.get(stop, "end_turn")
    if structured is not None:
        answer = next(
            (b for b in blocks if b["type"] == "tool_use" and b["name"] == FINAL_ANSWER), None
        )
        if answer is not None:
            blocks = [{"type": "text", "text": structured.answer(answer["input"])}]
            stop_reason = "end_turn"
    if not blocks:
        blocks.append({"type": "text", "text": ""})
    return ModelReply(
        message={"role": "assistant", "content": blocks},
        stop_reason=stop_reason,
        usage=_usage(response.get("usage") or {}),
        model=model,
    )


# --------------------------------------------------------------------- errors
def classify(error: Exception, model: str) -> Exception:
    """Map a botocore error to the contract's retryable or fatal error."""
    if isinstance(error, ClientError):
        details = error.response.get("Error", {})
        code = str(details.get("Code") or "")
        status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
        text = (
            f"{PROVIDER} {model}: {code or 'error'} (HTTP {status}): {details.get('Message', '')}"
        )
        if code in RETRYABLE_CODES:
            return LlmRetryableError(text)
        if code in FATAL_CODES:
            return LlmFatalError(text)
        retryable = status in (408, 429) or status >= 500
        return LlmRetryableError(text) if retryable else LlmFatalError(text)
    if isinstance(error, BotoConnectionError | HTTPClientError):  # timeouts, refused, reset
        return LlmRetryableError(f"{PROVIDER} {model}: {type(error).__name__}: {error}")
    if isinstance(error, ResponseParserError):
        return LlmRetryableError(f"{PROVIDER} {model}: malformed response: {error}")
    # ParamValidationError, NoCredentialsError, ...: a bug or a misconfiguration.
    return LlmFatalError(f"{PROVIDER} {model}: {type(error).__name__}: {error}")


# --------------------------------------------------------------------- client
def runtime_client(timeout: float, max_retries: int) -> Any:
    """A bedrock-runtime client. Standard retry mode: exponential backoff with jitter on
    throttling, 5xx and connection errors, and no client-side rate limiter (adaptive mode's
    limiter is per process, which in Lambda means per sandbox, and sleeps inside the timeout)."""
    config = Config(
        connect_timeout=min(10, timeout),
        read_timeout=timeout,
        retries={"mode": "standard", "total_max_attempts": max_retries + 1},
        user_agent_extra="sfn-agents",
    )
    return boto3.client("bedrock-runtime", config=config)


class BedrockClient:
    provider = PROVIDER

    def __init__(self, runtime: Any) -> None:
        self.runtime = runtime

    def complete(self, request: ModelRequest) -> ModelReply:
        arguments, structured = to_converse_request(request)
        try:
            response = self.runtime.converse(**arguments)
        except (ClientError, BotoCoreError, ResponseParserError) as error:
            raise classify(error, request.model) from None
        return from_converse_response(response, request, structured)
