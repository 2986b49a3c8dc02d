"""Provider API keys: read from the secret with a client of boto3's default session; SDK clients
follow the key, one client per key and a new one after rotation."""

import json

import boto3
from agent_core.secrets import KeyedClient, api_key
from aws_lambda_powertools.utilities import parameters
from aws_lambda_powertools.utilities.parameters import base
from moto import mock_aws


def test_the_key_is_read_with_a_client_of_the_default_session(monkeypatch):
    """One session per sandbox: Powertools' own provider would make a second one, and decode
    botocore's endpoint data again on every cold start."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delitem(base.DEFAULT_PROVIDERS, "secrets", raising=False)
    parameters.clear_caches()
    with mock_aws():
        boto3.client("secretsmanager").create_secret(
            Name="keys", SecretString=json.dumps({"ANTHROPIC_API_KEY": "sk-test"})
        )
        assert api_key("keys", "ANTHROPIC_API_KEY") == "sk-test"
        session = boto3._get_default_session()._session
    client = base.DEFAULT_PROVIDERS["secrets"].client
    assert client._loader is session.get_component("data_loader")
    parameters.clear_caches()


def test_a_rotated_key_gets_a_new_client_and_an_unchanged_key_keeps_it():
    keys = iter(["key-1", "key-1", "key-2"])
    made: list[str] = []

    def make(key: str) -> object:
        made.append(key)
        return object()

    sdk = KeyedClient(lambda: next(keys), make)
    first = sdk()
    assert sdk() is first and made == ["key-1"]
    rotated = sdk()
    assert rotated is not first and made == ["key-1", "key-2"]
    assert sdk.key == "key-2"  # what error messages redact
