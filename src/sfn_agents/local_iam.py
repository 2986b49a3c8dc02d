"""IAM, enforced by the local engine as AWS enforces it on the template's roles.

Each state machine and function gets the role SAM would create for it: its ``Policies``, with
SAM's policy templates expanded by samtranslator's own processor and their intrinsics resolved to
the engine's ARNs. Checked against it, and denied with AWS's AccessDenied errors:

- a state machine's Task calls (Lambda invoke, ``states:startExecution[.sync]``, DynamoDB
  and ``aws-sdk`` tasks), in moto's engine, so a denied tool call reaches the model as an error
  result as on AWS (for Lambda: ``Lambda.AWSLambdaException``, 403 AccessDeniedException);
- a function's own calls to DynamoDB, S3, Secrets Manager and Step Functions over the engine's
  HTTP endpoint: each function signs with access keys of its own (as each Lambda function gets
  its role's credentials), which name its role here.

Activity Task states need no grant on the state machine's role (Step Functions schedules them
itself); the workers that take and answer them (GetActivityTask, SendTask*) are checked.
Conditions in statements are not evaluated: a statement applies as if its condition held.
Callers the template does not describe (the CLI, other processes) are not checked.
"""

import base64
import functools
import hashlib
import io
import json
import re
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import parse_qs, unquote

from sfn_agents.template import cached_json, version_key

if TYPE_CHECKING:
    from sfn_agents.engine import LocalEngine

Decision = Literal["allow", "implicit", "explicit"]


# ---------------------------------------------------------------------------- evaluation
@functools.cache
def _pattern(text: str, ignore_case: bool) -> re.Pattern[str]:
    """An IAM wildcard (``*`` any run, ``?`` one character) as a regular expression."""
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in text)
    return re.compile(body, re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL)


def _matches(patterns: Any, value: str, ignore_case: bool) -> bool:
    values = patterns if isinstance(patterns, list) else [patterns]
    return any(_pattern(str(p), ignore_case).fullmatch(value) for p in values)


def _applies(statement: Mapping[str, Any], action: str, resource: str) -> bool:
    """Whether a statement covers the request (actions match case-insensitively, as in IAM)."""
    if "NotAction" in statement:
        if _matches(statement["NotAction"], action, True):
            return False
    elif not _matches(statement.get("Action", []), action, True):
        return False
    if "NotResource" in statement:
        return not _matches(statement["NotResource"], resource, False)
    return _matches(statement.get("Resource", []), resource, False)


def evaluate(documents: Iterable[Mapping[str, Any]], action: str, resource: str) -> Decision:
    """IAM's identity-policy logic: an explicit Deny wins, then any Allow; else an implicit deny."""
    allowed = False
    for document in documents:
        statements = document.get("Statement", [])
        for statement in statements if isinstance(statements, list) else [statements]:
            if _applies(statement, action, resource):
                if statement.get("Effect") == "Deny":
                    return "explicit"
                allowed = allowed or statement.get("Effect") == "Allow"
    return "allow" if allowed else "implicit"


@dataclass
class Role:
    """A role's policies, with its decisions cached per request."""

    name: str
    account: str
    documents: list[dict[str, Any]]
    complete: bool = True  # False: some statements name resources not created yet
    _decided: dict[tuple[str, str], Decision] = field(default_factory=dict)

    def denial(self, action: str, resource: str, session: str) -> str | None:
        """AWS's AccessDenied message for the request made in ``session`` (a function's name, an
        execution's), or None when the role allows it."""
        key = (action, resource)
        decision = self._decided.get(key)
        if decision is None:
            decision = self._decided[key] = evaluate(self.documents, action, resource)
        if decision == "allow":
            return None
        reason = (
            "with an explicit deny in an identity-based policy"
            if decision == "explicit"
            else f"because no identity-based policy allows the {action} action"
        )
        session_arn = f"arn:aws:sts::{self.account}:assumed-role/{self.name}/{session}"
        request = f"perform: {action} on resource: {resource}"
        return f"User: {session_arn} is not authorized to {request} {reason}"


# ---------------------------------------------------------------------------- the template's roles
@functools.cache
def _policy_templates() -> Any:
    from samtranslator.policy_template_processor.processor import PolicyTemplatesProcessor

    return PolicyTemplatesProcessor(PolicyTemplatesProcessor.get_default_policy_templates_json())


def _policy_template(name: str, parameters: Any) -> dict[str, Any] | None:
    """SAM's policy template ``name`` filled with ``parameters`` as samtranslator expands it
    (None: no such template), cached per samtranslator version: importing samtranslator costs
    more than deploying an agent."""
    request = json.dumps([name, parameters], sort_keys=True)
    key = hashlib.sha256((version_key("aws-sam-translator") + request).encode()).hexdigest()

    def convert() -> dict[str, Any] | None:
        processor = _policy_templates()
        return processor.convert(name, parameters) if processor.has(name) else None

    document: dict[str, Any] | None = cached_json("policy-templates", key, convert)
    return document


@functools.cache
def _managed_policies() -> dict[str, Any]:
    from moto.iam.aws_managed_policies import aws_managed_policies_data

    return json.loads(aws_managed_policies_data)


def policy_documents(
    policies: Any, own: Mapping[str, dict[str, Any]] | None = None
) -> list[dict[str, Any]]:
    """A SAM ``Policies`` value as policy documents, intrinsics unresolved: policy templates
    expanded by samtranslator, AWS managed policies (by name or ARN) from moto's copy of them,
    and the template's ``own`` managed policies (by logical id) named with ``Ref``."""
    documents = []
    for policy in policies if isinstance(policies, list) else [policies]:
        if isinstance(policy, dict) and set(policy) == {"Ref"} and policy["Ref"] in (own or {}):
            documents.append((own or {})[policy["Ref"]])
        elif isinstance(policy, str):
            managed = _managed_policies().get(policy.rsplit("/", 1)[-1])
            if managed is not None:
                documents.append(managed["Document"])
        elif isinstance(policy, dict) and "Statement" in policy:
            documents.append(policy)
        elif isinstance(policy, dict) and len(policy) == 1:
            ((name, parameters),) = policy.items()
            document = _policy_template(name, parameters or {})
            if document is not None:
                documents.append(document)
    return documents


def _resolved_statements(
    documents: list[dict[str, Any]], resolve: Callable[[Any], Any]
) -> tuple[list[dict[str, Any]], bool]:
    """The documents with intrinsics resolved; a statement naming a resource that does not exist
    yet is left out (it cannot match one), and the result is then marked incomplete."""
    from sfn_agents.template import TemplateError

    resolved, complete = [], True
    for document in documents:
        statements = document.get("Statement", [])
        kept = []
        for statement in statements if isinstance(statements, list) else [statements]:
            try:
                kept.append(resolve(statement))
            except TemplateError:
                complete = False
        resolved.append({"Statement": kept})
    return resolved, complete


def access_key(logical_id: str) -> str:
    """The access key id a function signs with locally: its role's, derived from its logical id."""
    digest = base64.b32encode(hashlib.sha256(logical_id.encode()).digest()).decode()
    return "ASIA" + digest[:16]


def credentials_env(logical_id: str) -> dict[str, str]:
    """The credentials Lambda gives a function (its role's), as environment variables."""
    return {"AWS_ACCESS_KEY_ID": access_key(logical_id), "AWS_SECRET_ACCESS_KEY": "local"}


class Enforcer:
    """The template's roles, each built on first use from the engine's template."""

    def __init__(self, engine: "LocalEngine") -> None:
        self.engine = engine
        self._roles: dict[str, Role] = {}
        self._keys: dict[str, str] | None = None
        self._lock = threading.Lock()
        self.task_tokens: dict[str, str] = {}  # activity task token -> activity ARN

    def role_of(self, logical_id: str) -> Role | None:
        """The role of a template's function or state machine."""
        from sfn_agents.engine import ACCOUNT

        template, resolver = self.engine.template, self.engine.resolver
        if template is None or resolver is None or logical_id not in template.resources:
            return None
        props = template.resources[logical_id].get("Properties", {})
        if "Role" in props:  # a role of the template's own: not modelled here
            return None
        with self._lock:
            role = self._roles.get(logical_id)
            if role is None or not role.complete:
                own = {
                    policy_id: spec["Properties"]["PolicyDocument"]
                    for policy_id, spec in template.of_type("AWS::IAM::ManagedPolicy").items()
                }
                documents = policy_documents(props.get("Policies", []), own)
                statements, complete = _resolved_statements(documents, resolver.resolve)
                name = f"{self.engine.stack}-{logical_id}Role"
                role = self._roles[logical_id] = Role(name, ACCOUNT, statements, complete)
            return role

    def state_machine_role(self, state_machine_arn: str) -> Role | None:
        for logical_id, arn in list(self.engine.state_machines.items()):
            if arn == state_machine_arn:
                return self.role_of(logical_id)
        return None

    def function_role(self, key: str) -> tuple[Role, str] | None:
        """The role of the function that signs with ``key``, and its session (its name)."""
        template, resolver = self.engine.template, self.engine.resolver
        if template is None or resolver is None:
            return None
        if self._keys is None:
            functions = template.of_type("AWS::Serverless::Function")
            self._keys = {access_key(logical_id): logical_id for logical_id in functions}
        logical_id = self._keys.get(key)
        role = self.role_of(logical_id) if logical_id else None
        return (role, resolver.refs.get(str(logical_id), str(logical_id))) if role else None

    def remember_task(self, token: str, activity_arn: str) -> None:
        if len(self.task_tokens) >= 10_000:  # forget the oldest half
            for old in list(self.task_tokens)[:5_000]:
                self.task_tokens.pop(old, None)
        self.task_tokens[token] = activity_arn


_enforcer: Enforcer | None = None


def enforce(engine: "LocalEngine") -> None:
    """Check calls against ``engine``'s template from now on."""
    global _enforcer
    _enforcer = Enforcer(engine)


def stop_enforcing(engine: "LocalEngine") -> None:
    global _enforcer
    if _enforcer is not None and _enforcer.engine is engine:
        _enforcer = None


# ---------------------------------------------------------------------------- what a call needs
def _arn(service: str, region: str, account: str, resource: str) -> str:
    return f"arn:aws:{service}:{region}:{account}:{resource}"


def _function_arn(name: str, region: str, account: str) -> str:
    if name.startswith("arn:"):
        return name
    return _arn("lambda", region, account, f"function:{name}")


def _dynamodb_needs(
    operation: str, params: Mapping[str, Any], region: str, account: str
) -> list[tuple[str, str]]:
    def table(name: str, index: str | None = None) -> str:
        if name.startswith("arn:"):
            return name
        arn = _arn("dynamodb", region, account, f"table/{name}")
        return f"{arn}/index/{index}" if index else arn

    if operation in ("BatchGetItem", "BatchWriteItem"):
        return [(f"dynamodb:{operation}", table(t)) for t in params.get("RequestItems", {})]
    if operation in ("TransactGetItems", "TransactWriteItems"):
        kinds = {
            "Get": "GetItem",
            "Put": "PutItem",
            "Update": "UpdateItem",
            "Delete": "DeleteItem",
            "ConditionCheck": "ConditionCheckItem",
        }
        return [
            (f"dynamodb:{kinds[kind]}", table(body["TableName"]))
            for item in params.get("TransactItems", [])
            for kind, body in item.items()
            if kind in kinds
        ]
    if "TableName" in params:
        return [(f"dynamodb:{operation}", table(params["TableName"], params.get("IndexName")))]
    return [(f"dynamodb:{operation}", "*")]


def _states_needs(operation: str, params: Mapping[str, Any]) -> list[tuple[str, str]]:
    for key in ("stateMachineArn", "executionArn", "activityArn"):
        if params.get(key):
            return [(f"states:{operation}", str(params[key]))]
    if "taskToken" in params:
        activity = _enforcer.task_tokens.get(str(params["taskToken"])) if _enforcer else None
        return [(f"states:{operation}", activity)] if activity else []  # a callback's token
    return [(f"states:{operation}", "*")]


def _secret_arn(secret_id: str, region: str, account: str) -> str:
    from moto.secretsmanager.models import secretsmanager_backends

    if secret_id.startswith("arn:"):
        return secret_id
    secret = secretsmanager_backends[account][region].secrets.get(secret_id)
    return str(getattr(secret, "arn", "")) or _arn(
        "secretsmanager", region, account, f"secret:{secret_id}"
    )


def json_call_needs(
    service: str, operation: str, params: Mapping[str, Any], region: str, account: str
) -> list[tuple[str, str]]:
    """The (IAM action, resource ARN) pairs a call of a JSON-protocol API needs; [] for a
    service not checked here."""
    if service == "dynamodb":
        return _dynamodb_needs(operation, params, region, account)
    if service == "states":
        return _states_needs(operation, params)
    if service == "secretsmanager":
        if "SecretId" in params:
            return [
                (f"secretsmanager:{operation}", _secret_arn(params["SecretId"], region, account))
            ]
        return [(f"secretsmanager:{operation}", "*")]
    return []


_LISTING = {"list-type", "prefix", "delimiter", "max-keys", "continuation-token", "start-after"}
_LISTING |= {"encoding-type", "fetch-owner", "marker"}


def s3_call_needs(
    method: str, path: str, query: str, headers: Mapping[str, str], body: bytes
) -> list[tuple[str, str]]:
    """The (IAM action, resource ARN) pairs an S3 REST call (path-style) needs."""
    bucket, _, key = unquote(path).lstrip("/").partition("/")
    arguments = parse_qs(query, keep_blank_values=True)
    if not bucket:
        return [("s3:ListAllMyBuckets", "*")]
    if not key:
        if method == "POST" and "delete" in arguments:
            keys = re.findall(rb"<Key>(.*?)</Key>", body)
            return [("s3:DeleteObject", f"arn:aws:s3:::{bucket}/{k.decode()}") for k in keys]
        if method in ("GET", "HEAD") and set(arguments) <= _LISTING:
            return [("s3:ListBucket", f"arn:aws:s3:::{bucket}")]
        if "location" in arguments:
            return [("s3:GetBucketLocation", f"arn:aws:s3:::{bucket}")]
        return []  # bucket configuration: not checked
    resource = f"arn:aws:s3:::{bucket}/{key}"
    if method in ("GET", "HEAD"):
        return [("s3:GetObject", resource)]
    if method in ("PUT", "POST"):
        needs = [("s3:PutObject", resource)]
        source = headers.get("x-amz-copy-source")
        if source:
            needs.append(
                ("s3:GetObject", f"arn:aws:s3:::{unquote(source).lstrip('/').split('?')[0]}")
            )
        return needs
    if method == "DELETE":
        return [("s3:DeleteObject", resource)]
    return []


# ---------------------------------------------------------------------------- functions' calls
_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/[^/]+/([^/]+)/([^/]+)/")


def _denied_response(service: str, message: str) -> tuple[str, list[tuple[str, str]], bytes]:
    request_id = str(uuid.uuid4())
    if service == "s3":
        body = (
            "<?xml version='1.0' encoding='UTF-8'?>\n<Error><Code>AccessDenied</Code>"
            f"<Message>{message}</Message><RequestId>{request_id}</RequestId></Error>"
        ).encode()
        return "403 Forbidden", [("Content-Type", "application/xml")], body
    kind = "AccessDeniedException"
    if service in ("dynamodb", "states"):
        kind = "com.amazon.coral.service#AccessDeniedException"
    body = json.dumps({"__type": kind, "message": message, "Message": message}).encode()
    headers = [("Content-Type", "application/x-amz-json-1.0"), ("x-amzn-RequestId", request_id)]
    return "400 Bad Request", headers, body


class Guard:
    """WSGI middleware in front of moto: a request signed with a function's access key is checked
    against that function's role before moto sees it."""

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        enforcer = _enforcer
        found = _CREDENTIAL.search(environ.get("HTTP_AUTHORIZATION", ""))
        caller = enforcer.function_role(found.group(1)) if enforcer and found else None
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        if enforcer is not None and target.endswith(".GetActivityTask"):
            return self._remembering_tokens(enforcer, caller, environ, start_response)
        if caller is None or found is None:
            return self.app(environ, start_response)
        region, service = found.group(2), found.group(3)
        if service == "s3" and environ.get("REQUEST_METHOD") != "POST":
            body = b""  # uploads stream through unread
        else:
            body = self._body(environ)
        denied = _denial(caller, self._needs(service, region, target, environ, body))
        if denied is not None:
            return _refuse(service, denied, start_response)
        return self.app(environ, start_response)

    @staticmethod
    def _body(environ: dict[str, Any]) -> bytes:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
        return body

    @staticmethod
    def _needs(
        service: str, region: str, target: str, environ: dict[str, Any], body: bytes
    ) -> list[tuple[str, str]]:
        from sfn_agents.engine import ACCOUNT

        if service == "s3":
            headers = {
                k[5:].lower().replace("_", "-"): v
                for k, v in environ.items()
                if k.startswith("HTTP_")
            }
            return s3_call_needs(
                environ.get("REQUEST_METHOD", "GET"),
                environ.get("PATH_INFO", "/"),
                environ.get("QUERY_STRING", ""),
                headers,
                body,
            )
        if not target:
            return []
        try:
            params = json.loads(body or b"{}")
        except ValueError:
            return []  # moto answers that it is malformed
        return json_call_needs(service, target.rsplit(".", 1)[-1], params, region, ACCOUNT)

    def _remembering_tokens(
        self,
        enforcer: Enforcer,
        caller: tuple[Role, str] | None,
        environ: dict[str, Any],
        start_response: Callable[..., Any],
    ) -> Iterator[bytes]:
        """GetActivityTask, checked like any call, and the token it hands out remembered with its
        activity (SendTaskSuccess/Failure/Heartbeat are authorised on that activity)."""
        try:
            activity = str(json.loads(self._body(environ) or b"{}").get("activityArn", ""))
        except ValueError:
            activity = ""
        denied = _denial(caller, [("states:GetActivityTask", activity)]) if caller else None
        if denied is not None:
            yield from _refuse("states", denied, start_response)
            return
        chunks = list(self.app(environ, start_response))
        try:
            token = json.loads(b"".join(chunks) or b"{}").get("taskToken")
        except ValueError:
            token = None
        if token and activity:
            enforcer.remember_task(token, activity)
        yield from chunks


def _denial(caller: tuple[Role, str], needs: list[tuple[str, str]]) -> str | None:
    role, session = caller
    for action, resource in needs:
        message = role.denial(action, resource, session)
        if message is not None:
            return message
    return None


def _refuse(service: str, message: str, start_response: Callable[..., Any]) -> list[bytes]:
    status, headers, payload = _denied_response(service, message)
    start_response(status, [*headers, ("Content-Length", str(len(payload)))])
    return [payload]


def guard(app: Callable[..., Iterable[bytes]]) -> Guard:
    return Guard(app)


# ---------------------------------------------------------------------------- state machines' calls
def _access_denied(message: str, status: int) -> Exception:
    from botocore.exceptions import ClientError

    response: Any = {
        "Error": {"Code": "AccessDeniedException", "Message": message},
        "ResponseMetadata": {"HTTPStatusCode": status, "RequestId": str(uuid.uuid4())},
    }
    return ClientError(response, "Invoke")


@functools.cache
def _operation_name(service: str, method: str) -> str:
    """boto3 method (batch_get_item) -> API operation (BatchGetItem), from botocore's model."""
    from botocore import xform_name

    from sfn_agents.aws import service_model

    names = service_model(service).operation_names
    return next((op for op in names if xform_name(op) == method), method)


def task_needs(
    service: str, method: str, params: Mapping[str, Any], region: str
) -> list[tuple[str, str]]:
    """What a Task state's service call needs of the state machine's role."""
    from sfn_agents.engine import ACCOUNT

    if service == "lambda":
        if method != "invoke":
            return []
        name = str(params.get("FunctionName", ""))
        qualifier = params.get("Qualifier")
        arn = _function_arn(name, region, ACCOUNT)
        return [("lambda:InvokeFunction", f"{arn}:{qualifier}" if qualifier else arn)]
    operation = _operation_name(service, method)
    prefix = {"stepfunctions": "states"}.get(service, service)
    if prefix == "states" and operation == "StartExecution":
        return [("states:StartExecution", str(params.get("stateMachineArn", "*")))]
    return json_call_needs(prefix, operation, params, region, ACCOUNT)


def _checked_task(original: Callable[..., Any], status: int) -> Callable[..., Any]:
    def _eval_service_task(
        self: Any,
        env: Any,
        resource_runtime_part: Any,
        normalised_parameters: dict[str, Any],
        state_credentials: Any,
    ) -> Any:
        enforcer = _enforcer
        if enforcer is not None:
            context = env.states.context_object.context_object_data
            role = enforcer.state_machine_role(context["StateMachine"]["Id"])
            if role is not None:
                service = self._get_boto_service_name()
                method = self._get_boto_service_action()
                region = resource_runtime_part.region
                needs = task_needs(service, method, normalised_parameters, region)
                denied = _denial((role, context["Execution"]["Name"]), needs)
                if denied is not None:
                    raise _access_denied(denied, status)
        return original(self, env, resource_runtime_part, normalised_parameters, state_credentials)

    _eval_service_task.patched = True  # type: ignore[attr-defined]
    return _eval_service_task


# Errors of a service the Java SDK Step Functions uses does not model, named as AWS names them.
_UNMODELLED = {
    "Lambda": "Lambda.AWSLambdaException",
    "StepFunctions": "StepFunctions.AWSStepFunctionsException",
}


def _named_as_aws(original: Callable[..., Any]) -> Callable[..., Any]:
    from moto.stepfunctions.parser.asl.component.common.error_name import custom_error_name

    def _from_error(self: Any, env: Any, ex: Exception) -> Any:
        event = original(self, env, ex)
        from botocore.exceptions import ClientError

        if isinstance(ex, ClientError) and ex.response["Error"]["Code"] == "AccessDeniedException":
            details = event.event_details["taskFailedEventDetails"]
            service = str(details["error"]).split(".", 1)[0]
            if service in _UNMODELLED:
                details["error"] = _UNMODELLED[service]
                event.error_name = custom_error_name.CustomErrorName(_UNMODELLED[service])
        return event

    _from_error.patched = True  # type: ignore[attr-defined]
    return _from_error


def install() -> None:
    """Idempotent: the checks in moto's Task states."""
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        state_task_service_aws_sdk,
        state_task_service_dynamodb,
        state_task_service_lambda,
        state_task_service_sfn,
    )

    services = [
        (state_task_service_lambda.StateTaskServiceLambda, 403),
        (state_task_service_sfn.StateTaskServiceSfn, 400),
        (state_task_service_dynamodb.StateTaskServiceDynamoDB, 400),
        (state_task_service_aws_sdk.StateTaskServiceAwsSdk, 400),
    ]
    for owner, status in services:
        current = owner.__dict__["_eval_service_task"]
        if not getattr(current, "patched", False):
            owner._eval_service_task = _checked_task(current, status)  # type: ignore[method-assign]
        current = owner.__dict__.get("_from_error")
        if current is not None and not getattr(current, "patched", False):
            owner._from_error = _named_as_aws(current)  # type: ignore[method-assign]
