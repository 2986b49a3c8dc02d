"""The price table: every model an agent runs by default has a price, and every price says what
it is (input, output, cache read and write per million tokens), when and from where."""

import json
import runpy
from pathlib import Path

import pytest

from sfn_agents.template import Template

ROOT = Path(__file__).resolve().parents[2]
PRICES = ROOT / "layers/agent_core/agent_core/prices.json"
pricing = runpy.run_path(str(ROOT / "layers/agent_core/agent_core/pricing.py"))
# The template parameter holding each provider function's default model.
MODEL_PARAMETERS = {
    "anthropic": "AnthropicModel",
    "openai": "OpenAiModel",
    "gemini": "GeminiModel",
    "bedrock": "BedrockModel",
}


def default_models() -> dict[str, str]:
    """Where each default model comes from -> the model."""
    template = Template.load(ROOT / "template.yaml")
    models = {f"template {name}": template.parameters[name] for name in MODEL_PARAMETERS.values()}
    providers = json.loads((ROOT / "functions/llm/openai/providers.json").read_text())
    for provider, spec in providers.items():
        if not provider.startswith("_"):
            models[f"providers.json {provider}"] = spec["default_model"]
    for path in sorted((ROOT / "registry/agents").glob("*.json")):
        spec = json.loads(path.read_text())
        model = spec.get("model") or template.parameters.get(
            MODEL_PARAMETERS.get(spec["provider"], ""), ""
        )
        models[f"agent {path.stem}"] = model or providers[spec["provider"]]["default_model"]
    return models


@pytest.mark.parametrize(("where", "model"), sorted(default_models().items()))
def test_every_default_model_has_a_price(where, model):
    assert pricing["price_for"](model) is not None, f"{where}: {model} is not in {PRICES.name}"


def test_every_price_has_all_four_rates_a_date_and_a_source():
    table = json.loads(PRICES.read_text())
    for key, entry in table.items():
        if key.startswith("_") and key != "_step_functions":
            continue
        assert entry["date"][:2] == "20" and entry["source"], key
        if key != "_step_functions":
            rates = [entry[f] for f in ("input", "output", "cache_read", "cache_write")]
            assert all(isinstance(r, float) and r >= 0 for r in rates), key


def test_the_longest_prefix_wins():
    assert pricing["price_for"]("gpt-5-mini-2025-08-07")["lookup"] == "openai/gpt-5-mini"
    assert pricing["price_for"]("gpt-5")["lookup"] == "openai/gpt-5"
    assert pricing["price_for"]("no-such-model") is None
