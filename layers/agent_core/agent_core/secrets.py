"""Provider API keys from the per-environment Secrets Manager secret (cached by Powertools).

Powertools Parameters is imported on first use, so it is not part of every cold start;
``connect()`` creates its client ahead of time (see agent_core.snapstart)."""

import logging
from collections.abc import Callable
from typing import Any

from agent_core.errors import LlmFatalError

CACHE_SECONDS = 300
# At DEBUG botocore logs response bodies, and the secret's body holds every provider's API key.
logging.getLogger("botocore.parsers").setLevel(logging.INFO)


def _parameters() -> Any:
    from aws_lambda_powertools.utilities import parameters

    return parameters


def connect() -> None:
    """Create the Secrets Manager client now (it is what get_secret would use on first use): a
    client of boto3's default session. Powertools' own provider would make a session of its own,
    which decodes botocore's endpoint data a second time (~0.1 s of a cold start)."""
    import boto3
    from aws_lambda_powertools.utilities.parameters import base
    from aws_lambda_powertools.utilities.parameters.secrets import SecretsProvider

    if "secrets" not in base.DEFAULT_PROVIDERS:
        client = boto3.client("secretsmanager")
        base.DEFAULT_PROVIDERS["secrets"] = SecretsProvider(boto3_client=client)


def api_key(secret_name: str, key_name: str) -> str:
    connect()
    keys = _parameters().get_secret(secret_name, transform="json", max_age=CACHE_SECONDS)
    value = keys.get(key_name) if isinstance(keys, dict) else None
    if not value:
        raise LlmFatalError(
            f"secret {secret_name} has no {key_name}: put it in .env and run "
            "`sfn-agents secrets push` (or set it in the environment for local runs)"
        )
    return str(value)


class KeyedClient[T]:
    """An SDK client made with the current API key, and made again when the secret is rotated."""

    def __init__(self, api_key: Callable[[], str], make: Callable[[str], T]) -> None:
        self._api_key = api_key
        self._make = make
        self._client: T | None = None
        self.key = ""  # the key the client was made with

    def __call__(self) -> T:
        key = self._api_key()
        if self._client is None or key != self.key:
            self._client, self.key = self._make(key), key
        return self._client
