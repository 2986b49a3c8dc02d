"""AWS clients for the CLI: AWS itself, or a running local engine when ``SFN_AGENTS_ENDPOINT`` is
set. An engine needs no AWS configuration: unless the user configured their own, its clients use
the engine's region and dummy credentials (the engine checks neither)."""

import functools
import os
import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported when first used: a local run starts its functions before boto3 loads
    import boto3
    from botocore.model import ServiceModel

ENDPOINT_VARIABLE = "SFN_AGENTS_ENDPOINT"
ENGINE_REGION = "us-east-1"  # the region the local engine serves (engine.REGION)
ENGINE_CREDENTIALS: dict[str, Any] = {
    "aws_access_key_id": "local",
    "aws_secret_access_key": "local",
}
_ARN_REGION = re.compile(r"^arn:aws[\w-]*:[\w-]+:([a-z0-9-]+):")


def endpoint() -> str | None:
    return os.environ.get(ENDPOINT_VARIABLE) or None


def arn_region(arn: str) -> str | None:
    """The region field of an ARN (``arn:aws:states:eu-west-1:…`` → ``eu-west-1``)."""
    match = _ARN_REGION.match(arn)
    return match.group(1) if match else None


@functools.cache
def service_model(service: str) -> "ServiceModel":
    """botocore's model of a service, as the session boto3's clients share has it loaded. (A new
    botocore session registers its handlers and reads the model again: ~0.1 s, which the local
    IAM check of a Task state's first call spent on a run's critical path.)"""
    import boto3

    return boto3._get_default_session()._session.get_service_model(service)


def _configured() -> tuple[str | None, bool]:
    """(region, has credentials) from the user's environment and files, without asking the
    instance or container metadata services (an engine on a laptop has neither)."""
    import botocore.session

    session = botocore.session.Session()
    resolver = session.get_component("credential_provider")
    for provider in ("iam-role", "container-role"):
        resolver.remove(provider)
    return session.get_config_variable("region"), resolver.load_credentials() is not None


@functools.cache
def session(endpoint_url: str | None = None, region: str | None = None) -> "boto3.Session":
    """A session for AWS, or for the engine at ``endpoint_url`` with its defaults filled in."""
    import boto3

    if not endpoint_url:
        return boto3.Session(region_name=region)
    configured_region, has_credentials = _configured()
    region = region or configured_region or ENGINE_REGION
    if has_credentials:
        return boto3.Session(region_name=region)
    return boto3.Session(region_name=region, **ENGINE_CREDENTIALS)


def client(service: str, region: str | None = None, endpoint_url: str | None = None) -> Any:
    """One client per service, region and endpoint (``SFN_AGENTS_ENDPOINT`` unless
    ``endpoint_url``)."""
    return _client(service, region, endpoint_url or endpoint())


@functools.cache
def _client(service: str, region: str | None, endpoint_url: str | None) -> Any:
    make: Any = session(endpoint_url, region).client  # typed per service name literal
    return make(service, endpoint_url=endpoint_url)


def where() -> str:
    """Where commands go, for messages: the engine's URL or AWS and its region."""
    url = endpoint()
    return url or f"AWS ({session().region_name or 'no region configured'})"
