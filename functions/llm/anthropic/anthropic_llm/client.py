"""Claude through the anthropic SDK, mapped to and from the canonical message contract.

The SDK reads ANTHROPIC_BASE_URL, so a proxy, a compatible server or the scripted model can stand
in for the real API without code changes."""

from collections.abc import Callable
from typing import Any

import anthropic
from agent_core.errors import LlmFatalError, LlmRetryableError
from agent_core.messages import Block, Message, Usage
from agent_core.secrets import KeyedClient
from agent_core.turn import ModelReply, ModelRequest

_STOP_REASONS = {"stop_sequence": "end_turn", "pause_turn": "end_turn"}
_CACHE_POINT = {"type": "ephemeral"}


def mark_cache_points(arguments: dict[str, Any]) -> None:
    """Prompt-cache breakpoints (3 of the 4 allowed): the end of the tools, of the system prompt
    and of the newest message. Each turn's request extends the last one's, so everything up to the
    previous turn's newest message is read from the cache."""
    if arguments.get("tools"):
        arguments["tools"][-1]["cache_control"] = _CACHE_POINT
    if arguments.get("system"):
        arguments["system"] = [
            {"type": "text", "text": arguments["system"], "cache_control": _CACHE_POINT}
        ]
    last = arguments["messages"][-1]["content"]
    if last:
        last[-1]["cache_control"] = _CACHE_POINT


def to_anthropic_messages(messages: list[Message]) -> list[dict[str, Any]]:
    converted = []
    for message in messages:
        blocks: list[dict[str, Any]] = []
        for block in message["content"]:
            if block["type"] == "text":
                if block["text"]:  # the API rejects empty text blocks
                    blocks.append({"type": "text", "text": block["text"]})
            elif block["type"] == "tool_use":
                blocks.append(
                    {
                        "type": "tool_use",
                        "id": block["id"],
                        "name": block["name"],
                        "input": block["input"],
                    }
                )
            else:
                blocks.append(
                    {
                        "type": "tool_result",
                        "tool_use_id": block["tool_use_id"],
                        "content": block["content"],
                        "is_error": bool(block.get("is_error", False)),
                    }
                )
        converted.append({"role": message["role"], "content": blocks})
    return converted


def from_anthropic_content(content: list[Any]) -> list[Block]:
    blocks: list[Block] = []
    for block in content:
        if block.type == "text":
            blocks.append({"type": "text", "text": block.text})
        elif block.type == "tool_use":
            blocks.append(
                {"type": "tool_use", "id": block.id, "name": block.name, "input": dict(block.input)}
            )
    if not blocks:
        blocks.append({"type": "text", "text": ""})
    return blocks


def _usage(usage: Any) -> Usage:
    return {
        "input_tokens": usage.input_tokens or 0,
        "output_tokens": usage.output_tokens or 0,
        "cache_read_input_tokens": getattr(usage, "cache_read_input_tokens", None) or 0,
        "cache_creation_input_tokens": getattr(usage, "cache_creation_input_tokens", None) or 0,
    }


def classify(error: anthropic.APIError, model: str) -> Exception:
    """Map an SDK error to the contract's retryable or fatal error, with no secret in the text."""
    if isinstance(error, anthropic.APITimeoutError):
        return LlmRetryableError(f"anthropic {model}: request timed out")
    if isinstance(error, anthropic.APIConnectionError):
        return LlmRetryableError(f"anthropic {model}: connection failed: {error.message}")
    if isinstance(error, anthropic.APIStatusError):
        body = error.body if isinstance(error.body, dict) else {}
        detail = body.get("error", {}) if isinstance(body.get("error"), dict) else {}
        kind = detail.get("type", "error")
        message = detail.get("message") or error.message
        text = f"anthropic {model}: HTTP {error.status_code} {kind}: {message}"
        retryable = error.status_code in (408, 409, 429) or error.status_code >= 500
        return LlmRetryableError(text) if retryable else LlmFatalError(text)
    return LlmRetryableError(f"anthropic {model}: invalid response: {error.message}")


class AnthropicClient:
    provider = "anthropic"

    def __init__(self, api_key: Callable[[], str], timeout: float, max_retries: int) -> None:
        self._sdk = KeyedClient(
            api_key,
            lambda key: anthropic.Anthropic(api_key=key, timeout=timeout, max_retries=max_retries),
        )

    def complete(self, request: ModelRequest) -> ModelReply:
        arguments: dict[str, Any] = {
            "model": request.model,
            "max_tokens": request.max_output_tokens,
            "messages": to_anthropic_messages(request.messages),
        }
        if request.system:
            arguments["system"] = request.system
        if request.tools:
            arguments["tools"] = [
                {
                    "name": t["name"],
                    "description": t.get("description", ""),
                    "input_schema": t["input_schema"],
                }
                for t in request.tools
            ]
        if request.output_schema:
            arguments["output_config"] = {
                "format": {"type": "json_schema", "schema": request.output_schema}
            }
        if request.cache:
            mark_cache_points(arguments)
        try:
            response = self._sdk().messages.create(**arguments)
        except anthropic.APIError as error:
            raise classify(error, request.model) from None
        except ValueError as error:  # a 200 whose body is not the JSON the SDK expects
            raise LlmRetryableError(
                f"anthropic {request.model}: malformed response: {error}"
            ) from None
        return ModelReply(
            message={"role": "assistant", "content": from_anthropic_content(response.content)},
            stop_reason=_STOP_REASONS.get(
                response.stop_reason or "", response.stop_reason or "end_turn"
            ),
            usage=_usage(response.usage),
            model=response.model,
        )
