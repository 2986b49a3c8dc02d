"""CloudFormation custom resource that writes the specs in this folder to the registry tables on
every deploy that changes them (the resource's SpecsVersion follows this function's version)."""

import json
import urllib.request
from typing import Any
from urllib.parse import urlsplit

import boto3
from agent_core.observability import logger, serve
from aws_lambda_powertools.utilities.typing import LambdaContext

from registry_sync.specs import sync

PHYSICAL_ID = "sfn-agents-registry"
REQUEST_TYPES = ("Create", "Update", "Delete")
IDENTITY = ("StackId", "RequestId", "LogicalResourceId")
TABLES = ("ToolRegistryTable", "AgentRegistryTable")


class MalformedRegistryEvent(ValueError):
    """The event is not a CloudFormation custom-resource request this function can answer."""


def _response_url(event: Any) -> str:
    url = event.get("ResponseURL") if isinstance(event, dict) else None
    if not isinstance(url, str) or urlsplit(url).scheme not in ("https", "http"):
        raise MalformedRegistryEvent(
            "not a CloudFormation custom-resource request: ResponseURL must be an https URL"
        )
    return url


def _problem(event: dict[str, Any]) -> str | None:
    """What makes a request with a usable ResponseURL malformed, or None."""
    missing = [key for key in IDENTITY if not isinstance(event.get(key), str) or not event[key]]
    if missing:
        return f"the request lacks {', '.join(missing)}"
    if event.get("RequestType") not in REQUEST_TYPES:
        return f"RequestType must be one of {', '.join(REQUEST_TYPES)}"
    if event["RequestType"] == "Delete":
        return None
    properties = event.get("ResourceProperties")
    if not isinstance(properties, dict):
        return "ResourceProperties must be an object"
    bad = [name for name in TABLES if not isinstance(properties.get(name), str)]
    if bad:
        return f"ResourceProperties.{' and '.join(bad)} must name a table"
    if not isinstance(properties.get("ResourceArns"), dict):
        return "ResourceProperties.ResourceArns must map logical ids to ARNs"
    return None


def _respond(event: dict[str, Any], status: str, reason: str, data: dict[str, Any]) -> None:
    body = json.dumps(
        {
            "Status": status,
            "Reason": reason[:1000],
            "PhysicalResourceId": PHYSICAL_ID,
            **{key: str(event.get(key) or "") for key in IDENTITY},
            "Data": data,
        }
    ).encode()
    request = urllib.request.Request(
        _response_url(event), data=body, method="PUT", headers={"Content-Type": ""}
    )
    with urllib.request.urlopen(request, timeout=30):
        pass


@serve
@logger.inject_lambda_context
def lambda_handler(event: Any, context: LambdaContext) -> None:
    _response_url(event)  # without it nobody can be told anything
    problem = _problem(event)
    if problem:
        logger.error("malformed custom-resource request", extra={"problem": problem})
        _respond(event, "FAILED", f"malformed request: {problem}", {})
        return
    if event["RequestType"] == "Delete":  # the tables go with the stack
        _respond(event, "SUCCESS", "nothing to do", {})
        return
    properties = event["ResourceProperties"]
    try:
        counts = sync(
            boto3.client("dynamodb"),
            properties["ToolRegistryTable"],
            properties["AgentRegistryTable"],
            properties["ResourceArns"],
        )
    except Exception as error:
        logger.exception("registry sync failed")
        _respond(event, "FAILED", f"registry sync failed: {error}", {})
        return
    logger.info("registry synced", extra=counts)
    _respond(event, "SUCCESS", "registry synced", {k: json.dumps(v) for k, v in counts.items()})
