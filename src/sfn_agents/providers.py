"""How the local engine wires each LLM provider: its function, its scripted protocol, the base-URL
variable its SDK reads, and the secret key it needs. Named OpenAI-compatible providers come from
functions/llm/openai/openai_llm/providers.json, so adding one there is all it takes."""

import json
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Provider:
    name: str
    function: str  # logical id of its LLM function
    protocol: str  # scripted-model protocol module
    base_url_variable: str  # what the SDK reads for its endpoint
    key_name: str | None  # key in the LLM API keys secret; None for IAM or keyless servers


FIXED = (
    Provider(
        "anthropic", "AnthropicLlmFunction", "anthropic", "ANTHROPIC_BASE_URL", "ANTHROPIC_API_KEY"
    ),
    Provider("gemini", "GeminiLlmFunction", "gemini", "GOOGLE_GEMINI_BASE_URL", "GEMINI_API_KEY"),
    Provider("bedrock", "BedrockLlmFunction", "bedrock", "AWS_ENDPOINT_URL_BEDROCK_RUNTIME", None),
)


def providers(template_root: Path) -> dict[str, Provider]:
    table = {p.name: p for p in FIXED}
    named = template_root / "functions" / "llm" / "openai" / "openai_llm" / "providers.json"
    if named.is_file():
        for name, spec in json.loads(named.read_text()).items():
            if not name.startswith("_"):
                table[name] = Provider(
                    name, "OpenAiLlmFunction", "openai", "OPENAI_BASE_URL", spec.get("api_key_name")
                )
    return table
