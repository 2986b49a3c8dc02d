"""The LLM caller shape shared by the four providers: init work only inside a SnapStart snapshot."""

from unittest import mock

import pytest
from agent_core.llm_function import turn_handler
from agent_core.settings import KeyedLlmSettings, LlmSettings


@pytest.mark.parametrize(
    ("initialization", "settings_type", "store_connects", "secrets_connect"),
    [
        ("snap-start", KeyedLlmSettings, 1, 1),
        ("snap-start", LlmSettings, 1, 0),  # Bedrock: the role signs, no secret to read
        ("on-demand", KeyedLlmSettings, 0, 0),  # first use pays, not every cold start
    ],
)
def test_clients_connect_ahead_only_during_a_snapshot(
    monkeypatch, initialization, settings_type, store_connects, secrets_connect
):
    monkeypatch.setenv("AWS_LAMBDA_INITIALIZATION_TYPE", initialization)
    store = mock.Mock()
    with mock.patch("agent_core.secrets.connect") as connect:
        turn_handler(lambda _: (mock.Mock(), store, "model"), lambda: store, settings_type)
    assert store.connect.call_count == store_connects
    assert connect.call_count == secrets_connect
