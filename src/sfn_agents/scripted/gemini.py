"""Google's Gemini API (`POST /v1beta/models/{model}:generateContent`), validated as strictly as
the real API: proto-style field checks (camelCase or snake_case names, unknown names rejected),
user/model roles only, one data field per part, every functionCall answered by a functionResponse
of the same name in the next user turn, declared function names, thought signatures for
Gemini 3 models.

Replies carry no function call ids (as Gemini usually does not), and a thought signature on the
first functionCall part of a turn (as Gemini 3 does); a `gemini-3*` model rejects a history whose
current-turn function calls lost their signatures.
"""

import base64
import binascii
import hashlib
import json
import re
import secrets
from collections import Counter
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs, urlsplit

from sfn_agents.scripted.script import Turn, estimate_tokens, stable_id
from sfn_agents.scripted.server import RejectedRequest, Reply, TurnProtocol

_PATH = re.compile(r"^/(v1|v1beta)/models/([^/:]+):([A-Za-z]+)$")
_STATUS = {
    400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED",
    404: "NOT_FOUND", 409: "ABORTED", 429: "RESOURCE_EXHAUSTED", 499: "CANCELLED",
    500: "INTERNAL", 501: "UNIMPLEMENTED", 503: "UNAVAILABLE", 504: "DEADLINE_EXCEEDED",
}  # fmt: skip
_FINISH = {
    "end_turn": "STOP", "tool_use": "STOP", "max_tokens": "MAX_TOKENS", "refusal": "SAFETY",
}  # fmt: skip
_REQUEST = {
    "model", "contents", "tools", "toolConfig", "safetySettings", "systemInstruction",
    "generationConfig", "cachedContent", "store",
}  # fmt: skip
_CONTENT = {"role", "parts"}
_PART_DATA = {
    "text", "inlineData", "functionCall", "functionResponse", "fileData", "executableCode",
    "codeExecutionResult", "toolCall", "toolResponse",
}  # fmt: skip
_PART = _PART_DATA | {
    "thought", "thoughtSignature", "videoMetadata", "partMetadata", "mediaResolution",
}  # fmt: skip
_FUNCTION_CALL = {"id", "name", "args"}
_FUNCTION_RESPONSE = {"id", "name", "response", "willContinue", "scheduling", "parts"}
_TOOL = {
    "functionDeclarations", "googleSearch", "googleSearchRetrieval", "codeExecution",
    "urlContext", "fileSearch", "googleMaps", "computerUse",
}  # fmt: skip
_DECLARATION = {
    "name", "description", "parameters", "parametersJsonSchema", "response",
    "responseJsonSchema", "behavior",
}  # fmt: skip
# Fields of the OpenAPI-subset `Schema` message (the `parameters`/`responseSchema` fields).
_SCHEMA = {
    "type", "format", "title", "description", "nullable", "enum", "maxItems", "minItems",
    "properties", "required", "minProperties", "maxProperties", "minLength", "maxLength",
    "pattern", "example", "anyOf", "propertyOrdering", "default", "items", "minimum", "maximum",
}  # fmt: skip
_SCHEMA_TYPES = {
    "TYPE_UNSPECIFIED", "STRING", "NUMBER", "INTEGER", "BOOLEAN", "ARRAY", "OBJECT", "NULL",
}  # fmt: skip
_GENERATION = {
    "stopSequences", "responseMimeType", "responseSchema", "responseJsonSchema",
    "responseModalities", "candidateCount", "maxOutputTokens", "temperature", "topP", "topK",
    "seed", "presencePenalty", "frequencyPenalty", "responseLogprobs", "logprobs",
    "enableEnhancedCivicAnswers", "speechConfig", "thinkingConfig", "imageConfig",
    "mediaResolution",
}  # fmt: skip
_MIME_TYPES = {
    "text/plain", "application/json", "application/xml", "application/yaml", "text/x.enum",
}  # fmt: skip
_TOOL_CONFIG = {"functionCallingConfig", "retrievalConfig"}
_CALLING_MODES = {"MODE_UNSPECIFIED", "AUTO", "ANY", "NONE", "VALIDATED"}
_FUNCTION_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.:-]{0,63}$")
_TYPE_NAMES = {str: "string", dict: "object", list: "list", int: "integer", bool: "boolean"}
_DOCS = "https://ai.google.dev/gemini-api/docs/thought-signatures"


class InvalidRequest(RejectedRequest):
    """A request generateContent would refuse."""


class GeminiGenerateContent(TurnProtocol[str]):
    model_role = "model"

    def parse(
        self, method: str, path: str, headers: Mapping[str, str], body: bytes
    ) -> tuple[str, list[dict[str, Any]]]:
        model, request = _parse(method, path, headers, body)
        return model, request["contents"]

    def tool_results(self, history: list[dict[str, Any]]) -> list[str]:
        return _function_results(history[-1])

    def answer(self, model: str, turn_index: int, turn: Turn, body: bytes) -> Reply:
        parts: list[dict[str, Any]] = []
        if (text := turn.text) is not None:
            parts.append({"text": text})
        for i, call in enumerate(turn.tool_calls):
            part: dict[str, Any] = {"functionCall": {"name": call.name, "args": call.input}}
            if i == 0:
                part["thoughtSignature"] = _signature(turn_index, call.name)
            parts.append(part)
        candidate: dict[str, Any] = {"finishReason": _FINISH[turn.stop_reason], "index": 0}
        if parts and turn.stop_reason != "refusal":
            candidate = {"content": {"parts": parts, "role": "model"}, **candidate}
        prompt_tokens = estimate_tokens(len(body))
        output_tokens = estimate_tokens(len(json.dumps(parts)))
        response = {
            "candidates": [candidate],
            "usageMetadata": {
                "promptTokenCount": prompt_tokens,
                "candidatesTokenCount": output_tokens,
                "totalTokenCount": prompt_tokens + output_tokens,
                "promptTokensDetails": [{"modality": "TEXT", "tokenCount": prompt_tokens}],
            },
            "modelVersion": model,
            "responseId": stable_id("", body.decode(errors="replace"), length=22),
        }
        return _reply(200, response)

    def error(self, status: int, message: str) -> Reply:
        code = _STATUS.get(status, "INTERNAL" if status >= 500 else "FAILED_PRECONDITION")
        return _reply(status, {"error": {"code": status, "message": message, "status": code}})


PROTOCOL = GeminiGenerateContent()


def _reply(status: int, payload: dict[str, Any]) -> Reply:
    headers = {
        "content-type": "application/json; charset=UTF-8",
        "x-request-id": secrets.token_hex(8),  # not a real Gemini header; for debugging only
    }
    return Reply(status, headers, json.dumps(payload).encode())


def _signature(turn_index: int, name: str) -> str:
    """The opaque signature the scripted model puts on the first function call of a turn."""
    digest = hashlib.sha256(f"scripted-thought:{turn_index}:{name}".encode()).digest()
    return base64.b64encode(digest).decode()


def _bytes(encoded: str) -> bytes:
    """A proto JSON `bytes` value: standard or URL-safe base64, padded or not."""
    standard = encoded.translate(str.maketrans("-_", "+/"))
    return base64.b64decode(standard + "=" * (-len(standard) % 4), validate=True)


def _function_results(content: dict[str, Any]) -> list[str]:
    """Each functionResponse of a (user) content as text: the `output`/`result`/`error` value
    when the response holds just that, else the whole response as JSON."""
    results = []
    for part in content["parts"]:
        response = part.get("functionResponse")
        if response is None:
            continue
        payload = response.get("response") or {}
        value = next(iter(payload.values())) if len(payload) == 1 else payload
        if set(payload) - {"output", "result", "error"}:
            value = payload
        results.append(value if isinstance(value, str) else json.dumps(value))
    return results


# ------------------------------------------------------------------ request validation


def _parse(
    method: str, path: str, headers: Mapping[str, str], body: bytes
) -> tuple[str, dict[str, Any]]:
    """The model and the request, checked as generateContent checks them; raises InvalidRequest."""
    url = urlsplit(path)
    match = _PATH.match(url.path)
    if match is None:
        raise InvalidRequest(f"Requested entity was not found: {url.path}", 404)
    if method != "POST":
        raise InvalidRequest(f"Method {method} is not allowed on {url.path}", 404)
    key = headers.get("x-goog-api-key") or parse_qs(url.query).get("key", [""])[0]
    if not key:
        raise InvalidRequest(
            "Method doesn't allow unregistered callers (callers without established identity). "
            "Please use API key or other form of API consumer identity to call this API.",
            403,
        )
    if match.group(3) != "generateContent":
        raise InvalidRequest(
            f"The scripted model serves only generateContent, not {match.group(3)}"
        )
    model = match.group(2)
    if not re.fullmatch(r"(gemini|gemma)-[a-z0-9][a-z0-9.-]*", model):
        raise InvalidRequest(
            f"models/{model} is not found for API version {match.group(1)}, or is not supported "
            "for generateContent. Call ListModels to see the list of available models and their "
            "supported methods.",
            404,
        )
    try:
        raw = json.loads(body)
    except ValueError:
        raise InvalidRequest("Invalid JSON payload received. Unexpected token.") from None
    request = _message("", raw, _REQUEST)
    declared = _check_tools(request.get("tools"))
    _check_tool_config(request.get("toolConfig"), declared)
    if "systemInstruction" in request:
        _check_system(request["systemInstruction"])
    if "generationConfig" in request:
        request["generationConfig"] = _check_generation(request["generationConfig"])
    if "contents" not in request or request["contents"] in (None, []):
        raise InvalidRequest("* GenerateContentRequest.contents: contents is not specified")
    mime = (request.get("generationConfig") or {}).get("responseMimeType")
    major = re.match(r"gemini-(\d+)", model)
    if declared and mime == "application/json" and major and int(major.group(1)) < 3:
        raise InvalidRequest(
            "Function calling with a response mime type: 'application/json' is unsupported"
        )
    contents = _check_contents(request["contents"])
    request["contents"] = contents
    _check_function_turns(contents, declared)
    if model.startswith("gemini-3"):
        _check_signatures(contents)
    return model, request


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(word[:1].upper() + word[1:] for word in rest)


def _message(where: str, data: Any, fields: set[str]) -> dict[str, Any]:
    """A proto message as a dict with camelCase keys; unknown names are rejected."""
    if not isinstance(data, dict):
        at = f" at '{where}'" if where else ""
        raise InvalidRequest(
            f"Invalid JSON payload received. Expected an object{at}, got {_json_type(data)}."
        )
    result: dict[str, Any] = {}
    for key, value in data.items():
        name = _camel(key)
        if name not in fields:
            at = f" at '{where}'" if where else ""
            raise InvalidRequest(
                f'Invalid JSON payload received. Unknown name "{key}"{at}: Cannot find field.'
            )
        result[name] = value
    return result


def _json_type(value: Any) -> str:
    for kind, name in _TYPE_NAMES.items():
        if isinstance(value, kind):
            return name
    return "null" if value is None else type(value).__name__


def _check_type(where: str, value: Any, expected: type) -> None:
    if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
        raise InvalidRequest(
            f"Invalid value at '{where}' ({_TYPE_NAMES[expected]}), {json.dumps(value)}"
        )


def _list(where: str, value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise InvalidRequest(
            f"Invalid JSON payload received. Expected a list at '{where}', got {_json_type(value)}."
        )
    return value


def _check_contents(raw: Any) -> list[dict[str, Any]]:
    contents = []
    for i, item in enumerate(_list("contents", raw)):
        where = f"contents[{i}]"
        content = _message(where, item, _CONTENT)
        role = content.get("role")
        if role not in ("user", "model"):
            raise InvalidRequest("Please use a valid role: user, model.")
        parts = content.get("parts")
        if not parts:
            raise InvalidRequest(
                f"* GenerateContentRequest.{where}.parts: contents.parts must not be empty."
            )
        content["parts"] = [
            _check_part(f"{where}.parts[{j}]", part, role)
            for j, part in enumerate(_list(f"{where}.parts", parts))
        ]
        contents.append(content)
    return contents


def _check_part(where: str, raw: Any, role: str) -> dict[str, Any]:
    part = _message(where, raw, _PART)
    data = [k for k in part if k in _PART_DATA and part[k] not in (None, "")]
    if not data:
        raise InvalidRequest(
            f"* GenerateContentRequest.{where}.data: required oneof field 'data' must have one "
            "initialized field"
        )
    if len(data) > 1:
        raise InvalidRequest(
            f"Invalid JSON payload received. Oneof field 'data' is already set. Cannot set "
            f"'{data[1]}' at '{where}'"
        )
    if "text" in part:
        _check_type(f"{where}.text", part["text"], str)
        if not part["text"].strip() and "thoughtSignature" not in part:
            raise InvalidRequest(
                "Unable to submit request because it has an empty text parameter. Add a value "
                "to the parameter and try again."
            )
    if "thoughtSignature" in part:
        _check_type(f"{where}.thought_signature", part["thoughtSignature"], str)
        try:
            _bytes(part["thoughtSignature"])
        except binascii.Error:
            raise InvalidRequest(
                f"Invalid value at '{where}.thought_signature' (TYPE_BYTES), Base64 decoding failed"
            ) from None
    if "functionCall" in part:
        if role != "model":
            raise InvalidRequest(
                f"* GenerateContentRequest.{where}: function calls are only allowed in model turns"
            )
        call = _message(f"{where}.function_call", part["functionCall"], _FUNCTION_CALL)
        part["functionCall"] = call
        if not call.get("name"):
            raise InvalidRequest(
                f"* GenerateContentRequest.{where}.function_call.name: name is not specified"
            )
        _check_type(f"{where}.function_call.name", call["name"], str)
        if "args" in call:
            _check_type(f"{where}.function_call.args", call["args"], dict)
    if "functionResponse" in part:
        if role != "user":
            raise InvalidRequest(
                f"* GenerateContentRequest.{where}: function responses are only allowed in "
                "user turns"
            )
        response = part["functionResponse"] = _message(
            f"{where}.function_response", part["functionResponse"], _FUNCTION_RESPONSE
        )
        if not response.get("name"):
            raise InvalidRequest(
                f"* GenerateContentRequest.{where}.function_response.name: name is not specified"
            )
        _check_type(f"{where}.function_response.name", response["name"], str)
        if "response" not in response:
            raise InvalidRequest(
                f"* GenerateContentRequest.{where}.function_response.response: response is not "
                "specified"
            )
        _check_type(f"{where}.function_response.response", response["response"], dict)
    return part


def _calls(content: dict[str, Any]) -> list[dict[str, Any]]:
    return [p["functionCall"] for p in content["parts"] if "functionCall" in p]


def _responses(content: dict[str, Any]) -> list[dict[str, Any]]:
    return [p["functionResponse"] for p in content["parts"] if "functionResponse" in p]


def _check_function_turns(contents: list[dict[str, Any]], declared: set[str]) -> None:
    for i, content in enumerate(contents):
        calls = _calls(content)
        if calls:
            if i == 0 or contents[i - 1]["role"] != "user":
                raise InvalidRequest(
                    "Please ensure that function call turn comes immediately after a user turn "
                    "or after a function response turn."
                )
            following = contents[i + 1] if i + 1 < len(contents) else None
            responses = _responses(following) if following else []
            if len(responses) != len(calls):
                raise InvalidRequest(
                    "Please ensure that the number of function response parts is equal to the "
                    "number of function call parts of the function call turn."
                )
            call_names = Counter(c["name"] for c in calls)
            if Counter(r["name"] for r in responses) != call_names:
                raise InvalidRequest(
                    f"* GenerateContentRequest.contents[{i + 1}]: the function responses "
                    f"({', '.join(r['name'] for r in responses)}) do not answer the function "
                    f"calls of contents[{i}] ({', '.join(c['name'] for c in calls)}): each "
                    "function_response must have the name of the function_call it answers."
                )
            call_ids = {c["id"] for c in calls if c.get("id")}
            for response in responses:
                if response.get("id") and response["id"] not in call_ids:
                    raise InvalidRequest(
                        f"* GenerateContentRequest.contents[{i + 1}]: function response id "
                        f"{response['id']} matches no function call id of contents[{i}]."
                    )
        responses = _responses(content)
        if responses and (i == 0 or not _calls(contents[i - 1])):
            raise InvalidRequest(
                "Please ensure that function response turn comes immediately after a function "
                "call turn."
            )
        for response in responses:
            if response["name"] not in declared:
                raise InvalidRequest(
                    f"* GenerateContentRequest.contents[{i}]: function response name "
                    f"{response['name']} is not declared in tools[].function_declarations."
                )


def _check_signatures(contents: list[dict[str, Any]]) -> None:
    """Gemini 3: each function-calling model turn since the last user text needs the signature it
    was given, on its first function call."""
    start = 0
    for i, content in enumerate(contents):
        if content["role"] == "user" and any("text" in p for p in content["parts"]):
            start = i
    turn_index = -1
    for i, content in enumerate(contents):
        if content["role"] != "model":
            continue
        turn_index += 1
        parts = [p for p in content["parts"] if "functionCall" in p]
        if i < start or not parts:
            continue
        first = parts[0]
        signature = first.get("thoughtSignature")
        if not signature:
            raise InvalidRequest(
                f"Function call is missing a thought_signature in functionCall parts. This is "
                f"required for tools to work correctly, and missing thought_signature may lead "
                f"to degraded model performance. Additional data, function call "
                f"`{first['functionCall']['name']}` , position {i}. Please refer to {_DOCS} for "
                "more details."
            )
        if _bytes(signature) != _bytes(_signature(turn_index, first["functionCall"]["name"])):
            raise InvalidRequest(f"Corrupted thought signature at contents[{i}].")


def _check_system(raw: Any) -> None:
    system = _message("system_instruction", raw, _CONTENT)
    if system.get("role") not in (None, "", "user", "system"):
        raise InvalidRequest("Please use a valid role: user, model.")
    for j, item in enumerate(_list("system_instruction.parts", system.get("parts") or [])):
        part = _check_part(f"system_instruction.parts[{j}]", item, "user")
        if "text" not in part:
            raise InvalidRequest(
                f"* GenerateContentRequest.system_instruction.parts[{j}]: only text parts are "
                "allowed in a system instruction"
            )


def _check_tools(raw: Any) -> set[str]:
    """The declared function names."""
    names: set[str] = set()
    for i, item in enumerate(_list("tools", raw) if raw is not None else []):
        tool = _message(f"tools[{i}]", item, _TOOL)
        declarations = tool.get("functionDeclarations") or []
        listed = _list(f"tools[{i}].function_declarations", declarations)
        for j, raw_declaration in enumerate(listed):
            where = f"tools[{i}].function_declarations[{j}]"
            declaration = _message(where, raw_declaration, _DECLARATION)
            name = declaration.get("name")
            if not isinstance(name, str) or not _FUNCTION_NAME.match(name):
                raise InvalidRequest(
                    f"* GenerateContentRequest.{where}.name: Invalid function name. Must start "
                    "with a letter or an underscore. Must be alphameric (a-z, A-Z, 0-9), "
                    "underscores (_), dots (.), colons (:), or dashes (-), with a maximum "
                    "length of 64."
                )
            if name in names:
                raise InvalidRequest(f"Duplicate function declaration found: {name}")
            names.add(name)
            if "description" in declaration:
                _check_type(f"{where}.description", declaration["description"], str)
            if "parameters" in declaration and "parametersJsonSchema" in declaration:
                raise InvalidRequest(
                    f"* GenerateContentRequest.{where}: parameters and parameters_json_schema "
                    "are mutually exclusive"
                )
            if "parameters" in declaration:
                _check_schema(f"{where}.parameters", declaration["parameters"])
            if "parametersJsonSchema" in declaration:
                schema = declaration["parametersJsonSchema"]
                if not isinstance(schema, dict) or schema.get("type") != "object":
                    raise InvalidRequest(
                        f"* GenerateContentRequest.{where}.parameters_json_schema: the schema "
                        "must describe an object where the properties are the parameters to "
                        "the function"
                    )
                _check_json_schema(f"{where}.parameters_json_schema", schema)
    return names


def _check_schema(where: str, raw: Any) -> None:
    """The OpenAPI-subset Schema message: unknown fields are proto errors."""
    schema = _message(where, raw, _SCHEMA)
    kind = schema.get("type")
    if kind is not None and (not isinstance(kind, str) or kind.upper() not in _SCHEMA_TYPES):
        raise InvalidRequest(
            f"Invalid value at '{where}.type' (type.googleapis.com/google.ai.generativelanguage."
            f'v1beta.Type), "{kind}"'
        )
    for name, sub in (schema.get("properties") or {}).items():
        _check_schema(f"{where}.properties[{name}].value", sub)
    if "items" in schema:
        _check_schema(f"{where}.items", schema["items"])
    for k, sub in enumerate(schema.get("anyOf") or []):
        _check_schema(f"{where}.any_of[{k}]", sub)


def _check_json_schema(where: str, schema: Any) -> None:
    """Gemini's documented rule for JSON-schema fields: beside $ref only $-keywords."""
    if isinstance(schema, list):
        for k, sub in enumerate(schema):
            _check_json_schema(f"{where}[{k}]", sub)
        return
    if not isinstance(schema, dict):
        return
    if "$ref" in schema and (extra := sorted(k for k in schema if not k.startswith("$"))):
        raise InvalidRequest(
            f"* GenerateContentRequest.{where}: if $ref is set, no other properties except "
            f"those starting with $ may be set (found {', '.join(extra)})"
        )
    for key in ("properties", "$defs"):
        for name, sub in (schema.get(key) or {}).items():
            _check_json_schema(f"{where}.{key}.{name}", sub)
    for key in ("items", "prefixItems", "anyOf", "oneOf", "additionalProperties"):
        if key in schema:
            _check_json_schema(f"{where}.{key}", schema[key])


def _check_tool_config(raw: Any, declared: set[str]) -> None:
    if raw is None:
        return
    config = _message("tool_config", raw, _TOOL_CONFIG)
    calling = config.get("functionCallingConfig")
    if calling is None:
        return
    calling = _message(
        "tool_config.function_calling_config", calling, {"mode", "allowedFunctionNames"}
    )
    mode = calling.get("mode", "AUTO")
    if mode not in _CALLING_MODES:
        raise InvalidRequest(
            f"Invalid value at 'tool_config.function_calling_config.mode', \"{mode}\""
        )
    for name in calling.get("allowedFunctionNames") or []:
        if name not in declared:
            raise InvalidRequest(
                f"* GenerateContentRequest.tool_config.function_calling_config."
                f"allowed_function_names: function {name} is not declared"
            )


def _check_generation(raw: Any) -> dict[str, Any]:
    config = _message("generation_config", raw, _GENERATION)
    if "maxOutputTokens" in config:
        _check_type("generation_config.max_output_tokens", config["maxOutputTokens"], int)
    mime = config.get("responseMimeType")
    if mime is not None and mime not in _MIME_TYPES:
        raise InvalidRequest(
            f"* GenerateContentRequest.generation_config.response_mime_type: allowed mimetypes "
            f"are {', '.join(sorted(_MIME_TYPES))}, got {mime}"
        )
    if "responseSchema" in config and "responseJsonSchema" in config:
        raise InvalidRequest(
            "* GenerateContentRequest.generation_config: response_schema and "
            "response_json_schema are mutually exclusive"
        )
    if ("responseSchema" in config or "responseJsonSchema" in config) and mime not in (
        "application/json",
        "text/x.enum",
    ):
        raise InvalidRequest(
            "* GenerateContentRequest.generation_config.response_mime_type: must be "
            "application/json (or text/x.enum) when a response schema is set"
        )
    if "responseSchema" in config:
        _check_schema("generation_config.response_schema", config["responseSchema"])
    if "responseJsonSchema" in config:
        _check_json_schema("generation_config.response_json_schema", config["responseJsonSchema"])
    return config
