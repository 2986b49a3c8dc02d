"""The price table: every model an agent runs by default has a price, and every price says what
it is (input, output, cache read and write per million tokens), when and from where."""

import json
import runpy
from pathlib import Path

import pytest

from sfn_agents.providers import providers
from sfn_agents.template import Template

ROOT = Path(__file__).resolve().parents[2]
PRICES = ROOT / "layers/agent_core/agent_core/prices.json"
pricing = runpy.run_path(str(ROOT / "layers/agent_core/agent_core/pricing.py"))


def default_models() -> dict[str, str]:
    """Where each default model comes from -> the model: each LLM function's DEFAULT_MODEL
    parameter, each named OpenAI-compatible provider's default, and each agent's (its spec's
    model, else its provider's default)."""
    template = Template.load(ROOT / "template.yaml")
    table = providers(ROOT)
    named = json.loads((ROOT / "functions/llm/openai/openai_llm/providers.json").read_text())

    def function_default(provider: str) -> str:
        env = template.function_properties(table[provider].function)["Environment"]["Variables"]
        return template.parameters[env["DEFAULT_MODEL"]["Ref"]]

    models = {f"{p.function} DEFAULT_MODEL": function_default(p.name) for p in table.values()}
    for provider, spec in named.items():
        if not provider.startswith("_"):
            models[f"providers.json {provider}"] = spec["default_model"]
    for path in sorted((ROOT / "registry/agents").glob("*.json")):
        spec = json.loads(path.read_text())
        provider = spec["provider"]
        fallback = named[provider]["default_model"] if provider in named else None
        models[f"agent {path.stem}"] = spec.get("model") or fallback or function_default(provider)
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
