"""Amazon Bedrock's Converse API (`POST /model/{modelId}/converse`), validated like Bedrock.

Point boto3 at it with `AWS_ENDPOINT_URL_BEDROCK_RUNTIME=<server url>` (or `endpoint_url=`).
Requests must be signed (any `AWS4-HMAC-SHA256` Authorization header, or a Bedrock API key as
`Bearer`); the signature is not checked. Errors come back as Bedrock's do: the code in the
`x-amzn-ErrorType` header and `{"message": ...}` as the body, so botocore raises the matching
`ClientError` and its retry logic treats throttling and 5xx as it would against AWS.

What Bedrock rejects, this rejects: an empty or malformed conversation, roles that do not
alternate, blank text, union members that are not exactly one, tool use ids outside
`[a-zA-Z0-9_-]{1,64}`, tool blocks without `toolConfig`, a `toolUse` naming an undeclared tool, a
`toolUse` not answered by a `toolResult` in the next user message, and a few per-model limits
(system prompts, tool use, `toolChoice`) for the model families known not to support them.
"""

import json
import re
import uuid
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote

from sfn_agents.scripted.script import Turn, estimate_tokens, stable_id
from sfn_agents.scripted.server import RejectedRequest, Reply, TurnProtocol

_PATH = re.compile(r"^/model/([^/]+)/([a-z-]+)$")
# Foundation model ids: provider.model[:version] (amazon.nova-pro-v1:0), after any geography.
_MODEL = re.compile(
    r"(amazon|anthropic|meta|mistral|ai21|cohere|deepseek|openai|qwen|writer)\.[a-z0-9][a-z0-9.:-]*"
)
_TOP_LEVEL = {
    "messages", "system", "inferenceConfig", "toolConfig", "guardrailConfig",
    "additionalModelRequestFields", "additionalModelResponseFieldPaths", "promptVariables",
    "requestMetadata", "performanceConfig", "serviceTier", "outputConfig",
}  # fmt: skip
_CONTENT_MEMBERS = {
    "text", "image", "document", "video", "audio", "toolUse", "toolResult", "guardContent",
    "cachePoint", "reasoningContent", "citationsContent", "searchResult",
}  # fmt: skip
_SUPPORTED_CONTENT = {"text", "toolUse", "toolResult", "cachePoint"}
_RESULT_MEMBERS = {"json", "text", "image", "document", "video", "searchResult"}
_SYSTEM_MEMBERS = {"text", "guardContent", "cachePoint"}
_TOOL_MEMBERS = {"toolSpec", "systemTool", "cachePoint"}
_CHOICE_MEMBERS = {"auto", "any", "tool"}
_NAME_PATTERN = "[a-zA-Z0-9_-]+"
_NAME = re.compile(_NAME_PATTERN)
_GEOGRAPHY = re.compile(r"^(?:us|us-gov|eu|apac|global|jp|au|ca)\.")
# Per-model limits Bedrock enforces, for the families that have them (prefixes of model ids).
_NO_SYSTEM = ("mistral.mistral-7b-instruct", "mistral.mixtral-8x7b-instruct", "amazon.titan-text")
_NO_TOOLS = (
    *_NO_SYSTEM, "meta.llama2", "meta.llama3-8b-instruct", "meta.llama3-70b-instruct",
    "meta.llama3-2-1b", "meta.llama3-2-3b", "ai21.jamba-instruct", "anthropic.claude-v2",
    "anthropic.claude-instant", "deepseek.r1",
)  # fmt: skip
_CHOICE_SUPPORT = {  # besides auto
    "any": ("anthropic.claude-", "amazon.nova-", "mistral.mistral-large"),
    "tool": ("anthropic.claude-", "amazon.nova-"),
}
_STOP_REASONS = {"refusal": "content_filtered"}
_ERROR_CODES = {
    400: "ValidationException", 403: "AccessDeniedException", 404: "ResourceNotFoundException",
    408: "ModelTimeoutException", 424: "ModelErrorException", 429: "ThrottlingException",
    500: "InternalServerException", 503: "ServiceUnavailableException",
}  # fmt: skip


class BedrockError(RejectedRequest):
    def __init__(self, message: str, status: int = 400, code: str = "ValidationException") -> None:
        super().__init__(message, status)
        self.code = code


class BedrockConverse(TurnProtocol[None]):
    def parse(
        self, method: str, path: str, headers: Mapping[str, str], body: bytes
    ) -> tuple[None, list[dict[str, Any]]]:
        _model, request = _parse(method, path, headers, body)
        return None, request["messages"]

    def tool_results(self, history: list[dict[str, Any]]) -> list[str]:
        return _tool_results(history[-1])

    def answer(self, request: None, turn_index: int, turn: Turn, body: bytes) -> Reply:
        content: list[dict[str, Any]] = []
        if (text := turn.text) is not None:
            content.append({"text": text})
        for i, call in enumerate(turn.tool_calls):
            call_id = stable_id("tooluse_", turn_index, i, call.name, length=22)
            content.append(
                {"toolUse": {"toolUseId": call_id, "name": call.name, "input": call.input}}
            )
        input_tokens = estimate_tokens(len(body))
        output_tokens = estimate_tokens(len(json.dumps(content)))
        response = {
            "output": {"message": {"role": "assistant", "content": content}},
            "stopReason": _STOP_REASONS.get(turn.stop_reason, turn.stop_reason),
            "usage": {
                "inputTokens": input_tokens,
                "outputTokens": output_tokens,
                "totalTokens": input_tokens + output_tokens,
            },
            "metrics": {"latencyMs": 100 + output_tokens},
        }
        return Reply(200, _headers(), json.dumps(response).encode())

    def error(self, status: int, message: str) -> Reply:
        default = "InternalServerException" if status >= 500 else "ValidationException"
        return _error(status, _ERROR_CODES.get(status, default), message)

    def rejected(self, error: RejectedRequest) -> Reply:
        return _error(error.status, getattr(error, "code", "ValidationException"), str(error))


PROTOCOL = BedrockConverse()


def _headers() -> dict[str, str]:
    return {"content-type": "application/json", "x-amzn-requestid": str(uuid.uuid4())}


def _error(status: int, code: str, message: str) -> Reply:
    headers = {**_headers(), "x-amzn-errortype": f"{code}:http://internal.amazon.com/coral/"}
    return Reply(status, headers, json.dumps({"message": message}).encode())


def _base_model(model: str) -> str:
    return _GEOGRAPHY.sub("", model.rsplit("/", 1)[-1], count=1)


def _parse(
    method: str, path: str, headers: Mapping[str, str], body: bytes
) -> tuple[str, dict[str, Any]]:
    """The model id and the request body, checked as Bedrock checks them; raises BedrockError."""
    match = _PATH.match(path.split("?", maxsplit=1)[0])
    if match is None or method != "POST":
        raise BedrockError(f"Unknown operation {method} {path}", 404, "UnknownOperationException")
    model, operation = unquote(match.group(1)), match.group(2)
    if operation != "converse":
        raise BedrockError(f"the scripted model supports Converse only, not {operation}")
    authorization = headers.get("authorization", "")
    if not authorization.startswith(("AWS4-HMAC-SHA256 ", "Bearer ")):
        raise BedrockError(
            "The security token included in the request is invalid.",
            403,
            "UnrecognizedClientException",
        )
    if not _MODEL.fullmatch(_base_model(model)) and not model.startswith("arn:"):
        raise BedrockError("The provided model identifier is invalid.")
    try:
        request = json.loads(body)
    except ValueError:
        raise BedrockError(
            "Malformed input request, please reformat your input and try again."
        ) from None
    if not isinstance(request, dict):
        raise BedrockError("Malformed input request, please reformat your input and try again.")
    if extra := sorted(set(request) - _TOP_LEVEL):
        raise BedrockError(f"Malformed input request: extraneous key [{extra[0]}] is not permitted")
    base = _base_model(model)
    _check_inference(request.get("inferenceConfig"))
    _check_system(request.get("system"), base)
    tool_names = _check_tool_config(request.get("toolConfig"), base)
    _check_messages(request.get("messages"), tool_names)
    return model, request


def _violation(value: Any, where: str, constraint: str) -> BedrockError:
    shown = value if isinstance(value, str) else json.dumps(value)
    return BedrockError(
        f"1 validation error detected: Value '{shown}' at '{where}' failed to satisfy "
        f"constraint: Member must {constraint}"
    )


def _union(where: str, value: Any, members: set[str], shape: str) -> str:
    """The one member set in a union, or a ValidationException."""
    if not isinstance(value, dict):
        raise BedrockError(f"The {shape} object at {where} must be a JSON object.")
    keys = [k for k in value if k in members]
    if len(keys) != 1 or len(value) != 1:
        raise BedrockError(
            f"The {shape} object at {where} must set exactly one of: {', '.join(sorted(members))}."
        )
    return keys[0]


def _check_inference(config: Any) -> None:
    if config is None:
        return
    if not isinstance(config, dict):
        raise BedrockError("The inferenceConfig field must be a JSON object.")
    max_tokens = config.get("maxTokens")
    if max_tokens is not None and (type(max_tokens) is not int or max_tokens < 1):
        raise _violation(
            max_tokens, "inferenceConfig.maxTokens", "have value greater than or equal to 1"
        )
    for field in ("temperature", "topP"):
        value = config.get(field)
        if value is not None and (isinstance(value, bool) or not 0 <= value <= 1):
            raise _violation(
                value, f"inferenceConfig.{field}", "have value less than or equal to 1"
            )


def _check_system(system: Any, model: str) -> None:
    if system is None:
        return
    if not isinstance(system, list):
        raise BedrockError("The system field must be a list of SystemContentBlock objects.")
    if system and model.startswith(_NO_SYSTEM):
        raise BedrockError("This model doesn't support system messages.")
    for i, block in enumerate(system):
        member = _union(f"system.{i}", block, _SYSTEM_MEMBERS, "SystemContentBlock")
        if member == "guardContent":
            raise BedrockError("the scripted model does not support guardContent")
        if member == "text" and not (isinstance(block["text"], str) and block["text"].strip()):
            raise BedrockError(
                f"The text field in the SystemContentBlock object at system.{i} is blank. "
                "Add text to the text field, and try again."
            )


def _check_tool_config(config: Any, model: str) -> set[str] | None:
    """The declared tool names, or None when the request has no toolConfig."""
    if config is None:
        return None
    if not isinstance(config, dict) or set(config) - {"tools", "toolChoice"}:
        raise BedrockError("The toolConfig field must hold only tools and toolChoice.")
    if model.startswith(_NO_TOOLS):
        raise BedrockError("This model doesn't support tool use.")
    tools = config.get("tools")
    if not isinstance(tools, list) or not tools:
        raise _violation(tools, "toolConfig.tools", "have length greater than or equal to 1")
    names: set[str] = set()
    for i, tool in enumerate(tools):
        member = _union(f"toolConfig.tools.{i}", tool, _TOOL_MEMBERS, "Tool")
        if member == "systemTool":
            raise BedrockError("the scripted model does not support systemTool")
        if member == "toolSpec":
            names.add(_check_tool_spec(i, tool["toolSpec"], names))
    choice = config.get("toolChoice")
    if choice is not None:
        kind = _union("toolConfig.toolChoice", choice, _CHOICE_MEMBERS, "ToolChoice")
        if kind != "auto" and not model.startswith(_CHOICE_SUPPORT[kind]):
            raise BedrockError(
                f"This model doesn't support the toolConfig.toolChoice.{kind} field. "
                f"Remove toolConfig.toolChoice.{kind} and try again."
            )
        if kind == "tool":
            name = choice["tool"].get("name") if isinstance(choice["tool"], dict) else None
            if name not in names:
                raise BedrockError(
                    f"The tool {name} in toolConfig.toolChoice.tool.name is not defined in "
                    "toolConfig.tools."
                )
    return names


def _check_tool_spec(i: int, spec: Any, names: set[str]) -> str:
    where = f"toolConfig.tools.{i}.member.toolSpec"
    if not isinstance(spec, dict) or "name" not in spec or "inputSchema" not in spec:
        raise BedrockError(f"The toolSpec at toolConfig.tools.{i} needs name and inputSchema.")
    if extra := sorted(set(spec) - {"name", "description", "inputSchema", "strict"}):
        raise BedrockError(f"Malformed input request: extraneous key [{extra[0]}] is not permitted")
    name = spec["name"]
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise _violation(
            name, f"{where}.name", f"satisfy regular expression pattern: {_NAME_PATTERN}"
        )
    if len(name) > 64:
        raise _violation(name, f"{where}.name", "have length less than or equal to 64")
    description = spec.get("description")
    if description is not None and not (isinstance(description, str) and description):
        raise _violation(
            description, f"{where}.description", "have length greater than or equal to 1"
        )
    schema = spec["inputSchema"]
    if _union(f"toolConfig.tools.{i}.toolSpec.inputSchema", schema, {"json"}, "ToolInputSchema"):
        json_schema = schema["json"]
        if not isinstance(json_schema, dict) or json_schema.get("type") != "object":
            raise BedrockError(
                f"The value at toolConfig.tools.{i}.toolSpec.inputSchema.json.type must be one "
                "of the following: object."
            )
    if name in names:
        raise BedrockError(
            f"The model returned the following errors: tools: Tool names must be unique. ({name})"
        )
    return name


def _check_messages(messages: Any, tool_names: set[str] | None) -> None:
    if not isinstance(messages, list) or not messages:
        raise _violation(messages, "messages", "have length greater than or equal to 1")
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or set(message) != {"role", "content"}:
            raise BedrockError(
                f"The Message object at messages.{i} must have exactly role and content."
            )
        role = message["role"]
        if role not in ("user", "assistant"):
            raise _violation(
                role, f"messages.{i}.member.role", "satisfy enum value set: [user, assistant]"
            )
        if i == 0 and role != "user":
            raise BedrockError(
                "A conversation must start with a user message. Try again with a conversation "
                "that starts with a user message."
            )
        if i > 0 and role == messages[i - 1]["role"]:
            raise BedrockError(
                "A conversation must alternate between user and assistant roles. Make sure the "
                "conversation alternates between user and assistant roles and try again."
            )
        content = message["content"]
        if not isinstance(content, list) or not content:
            raise BedrockError(
                f"The content field in the Message object at messages.{i} is empty. Add a "
                "ContentBlock object to the content field and try again."
            )
        for j, block in enumerate(content):
            _check_block(f"messages.{i}.content.{j}", block, role, tool_names)
    for i in range(len(messages)):
        _check_pairing(messages, i)
    if messages[-1]["role"] != "user":
        raise BedrockError(
            "The scripted model does not support assistant message prefill. "
            "The conversation must end with a user message."
        )


def _check_block(where: str, block: Any, role: str, tool_names: set[str] | None) -> None:
    member = _union(where, block, _CONTENT_MEMBERS, "ContentBlock")
    if member not in _SUPPORTED_CONTENT:
        raise BedrockError(f"{where}: the scripted model does not support {member} blocks")
    if member == "text":
        if not isinstance(block["text"], str) or not block["text"].strip():
            raise BedrockError(
                f"The text field in the ContentBlock object at {where} is blank. Add text to the "
                "text field, and try again."
            )
        return
    if member == "cachePoint":
        return
    if tool_names is None:
        raise BedrockError(
            "The toolConfig field must be defined when using toolUse and toolResult content blocks."
        )
    expected = "assistant" if member == "toolUse" else "user"
    if role != expected:
        raise BedrockError(f"A {member} block at {where} can only be in an {expected} message.")
    value = block[member]
    if not isinstance(value, dict):
        raise BedrockError(f"The {member} object at {where} must be a JSON object.")
    _check_tool_use_id(f"{where}.{member}.toolUseId", value.get("toolUseId"))
    if member == "toolUse":
        _check_tool_use(where, value, tool_names)
    else:
        _check_tool_result(where, value)


def _check_tool_use(where: str, value: dict[str, Any], tool_names: set[str]) -> None:
    if set(value) - {"toolUseId", "name", "input"} or not isinstance(value.get("input"), dict):
        raise BedrockError(f"The toolUse at {where} needs toolUseId, name and an object input.")
    if value.get("name") not in tool_names:
        raise BedrockError(
            f"The toolUse at {where} uses tool {value.get('name')}, which toolConfig.tools "
            "does not define."
        )


def _check_tool_result(where: str, value: dict[str, Any]) -> None:
    if set(value) - {"toolUseId", "content", "status"}:
        raise BedrockError(f"The toolResult at {where} holds only toolUseId, content and status.")
    if value.get("status", "success") not in ("success", "error"):
        raise _violation(
            value["status"],
            f"{where}.toolResult.status",
            "satisfy enum value set: [success, error]",
        )
    content = value.get("content")
    if not isinstance(content, list):
        raise BedrockError(f"The content of the toolResult at {where} must be a list.")
    for k, part in enumerate(content):
        at = f"{where}.toolResult.content.{k}"
        kind = _union(at, part, _RESULT_MEMBERS, "ToolResultContentBlock")
        if kind not in ("text", "json"):
            raise BedrockError(f"{where}: the scripted model does not support {kind} tool results")
        if kind == "text" and not isinstance(part["text"], str):
            raise BedrockError(f"The text at {at} must be a string.")


def _check_tool_use_id(where: str, tool_use_id: Any) -> None:
    if not isinstance(tool_use_id, str) or not _NAME.fullmatch(tool_use_id):
        raise _violation(tool_use_id, where, f"satisfy regular expression pattern: {_NAME_PATTERN}")
    if len(tool_use_id) > 64:
        raise _violation(tool_use_id, where, "have length less than or equal to 64")


def _check_pairing(messages: list[dict[str, Any]], i: int) -> None:
    """A user message answers every toolUse of the assistant message before it, by id."""
    if messages[i]["role"] != "user":
        return
    before = messages[i - 1]["content"] if i else []
    used = [b["toolUse"]["toolUseId"] for b in before if "toolUse" in b]
    answered = [b["toolResult"]["toolUseId"] for b in messages[i]["content"] if "toolResult" in b]
    if len(answered) > len(used):
        raise BedrockError(
            f"The number of toolResult blocks at messages.{i}.content exceeds the number of "
            "toolUse blocks of previous turn."
        )
    if missing := [u for u in used if u not in answered]:
        raise BedrockError(
            f"Expected toolResult blocks at messages.{i}.content for the following Ids: "
            + ", ".join(missing)
        )


def _tool_results(message: dict[str, Any]) -> list[str]:
    """The text of each toolResult in a (user) message, in order (json parts as JSON text)."""
    results = []
    for block in message["content"]:
        if "toolResult" in block:
            parts = block["toolResult"]["content"]
            results.append(
                "".join(p["text"] if "text" in p else json.dumps(p["json"]) for p in parts)
            )
    return results
