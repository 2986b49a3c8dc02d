"""The local engine: the template's resources in moto, served on a loopback port, with state
machines executed by moto's Step Functions engine (JSONata through jsonata-python) and Lambda
invocations dispatched to the functions' real handlers.

Everything, in-process or not, talks to it over HTTP with ordinary AWS clients, so the same engine
serves one ``sfn-agents run`` or, long-lived, other processes (boto3, the AWS CLI, a second
``sfn-agents``)."""

import http.server
import io
import json
import logging
import os
import threading
import uuid
import zipfile
from collections.abc import Mapping
from graphlib import TopologicalSorter
from pathlib import Path
from typing import Any, ClassVar

import boto3
from moto.core.config import default_user_config
from moto.server import ThreadedMotoServer

from sfn_agents import (
    jsonata_bridge,
    log_capture,
    moto_activities,
    moto_fixes,
    moto_nested_executions,
    thread_env,
)
from sfn_agents.lambdas import FunctionRegistry, LocalFunction
from sfn_agents.template import Resolver, Template, TemplateError, references

REGION = "us-east-1"
ACCOUNT = "123456789012"
STACK = "sfn-agents-local"
_DUMMY_ZIP = io.BytesIO()
with zipfile.ZipFile(_DUMMY_ZIP, "w") as _zip:
    _zip.writestr("README", "code runs from the working tree")

# Set for the whole process: every AWS SDK call made here goes to the engine.
_LOCAL_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "local",
    "AWS_SECRET_ACCESS_KEY": "local",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_DEV": "false",
}


def _quiet_servers() -> None:
    for name in ("werkzeug", "moto", "botocore.credentials"):
        logging.getLogger(name).setLevel(logging.CRITICAL)


class _ResponseCatcher(http.server.BaseHTTPRequestHandler):
    """Receives the custom resource responses that CloudFormation would."""

    received: ClassVar[dict[str, dict[str, Any]]] = {}

    def do_PUT(self) -> None:
        length = int(self.headers.get("Content-Length", 0))
        self.received[self.path.strip("/")] = json.loads(self.rfile.read(length))
        self.send_response(200)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


# Alarms, their subscriptions and dashboards watch AWS's metrics: created on AWS only.
OPERATIONS_ONLY = {"AWS::CloudWatch::Alarm", "AWS::CloudWatch::Dashboard", "AWS::SNS::Subscription"}


class DeployError(RuntimeError):
    """A resource of the template could not be created locally."""


class LocalEngine:
    def __init__(self, port: int = 0) -> None:
        self.port = port
        self.server: ThreadedMotoServer | None = None
        self.functions = FunctionRegistry()
        self.state_machines: dict[str, str] = {}  # logical id -> ARN
        self.agents: dict[str, str] = {}  # agent name -> state machine logical id
        self.template: Template | None = None
        self.resolver: Resolver | None = None
        self.role_arn = ""

    # ------------------------------------------------------------------ lifecycle
    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "LocalEngine":
        _quiet_servers()
        thread_env.install()
        log_capture.install()
        jsonata_bridge.install()
        moto_fixes.install()
        moto_activities.install()
        moto_nested_executions.install()
        self.functions.install()
        default_user_config.setdefault("stepfunctions", {})["execute_state_machine"] = True
        self.server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self.server.start()
        self.port = self.server.get_host_and_port()[1]
        os.environ.update(_LOCAL_AWS_ENV)
        os.environ["MOTO_PORT"] = str(self.port)  # moto's Step Functions engine calls back here
        os.environ["AWS_ENDPOINT_URL"] = self.endpoint
        self.role_arn = self.client("iam").create_role(
            RoleName=f"{STACK}-execution", AssumeRolePolicyDocument="{}"
        )["Role"]["Arn"]
        return self

    def stop(self) -> None:
        self.functions.stop()
        if self.server is not None:
            self.server.stop()
            self.server = None

    def __enter__(self) -> "LocalEngine":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def client(self, service: Any) -> Any:
        return boto3.client(service, endpoint_url=self.endpoint, region_name=REGION)

    # ------------------------------------------------------------------ deploy
    def deploy(
        self,
        template_path: Path,
        overrides: Mapping[str, str] | None = None,
        function_env: Mapping[str, Mapping[str, str]] | None = None,
        secret_values: Mapping[str, str] | None = None,
    ) -> None:
        """Create the template's resources. ``function_env`` adds variables per logical id (or
        ``*`` for all); ``secret_values`` are merged into every secret's JSON."""
        template = Template.load(template_path, overrides)
        self.template = template
        self.resolver = Resolver(template, REGION, ACCOUNT)
        self._function_env = function_env or {}
        self._secret_values = dict(secret_values or {})
        graph = {
            logical_id: references(spec) & set(template.resources)
            for logical_id, spec in template.resources.items()
        }
        for logical_id in TopologicalSorter(graph).static_order():
            spec = template.resources[logical_id]
            try:
                self._create(logical_id, spec)
            except TemplateError as error:
                raise DeployError(f"{logical_id}: {error}") from None

    def _create(self, logical_id: str, spec: dict[str, Any]) -> None:
        kind = spec["Type"]
        handlers = {
            "AWS::Serverless::LayerVersion": self._layer,
            "AWS::S3::Bucket": self._bucket,
            "AWS::SecretsManager::Secret": self._secret,
            "AWS::DynamoDB::Table": self._table,
            "AWS::Serverless::Function": self._function,
            "AWS::Serverless::StateMachine": self._state_machine,
            "AWS::StepFunctions::Activity": self._activity,
            "AWS::Logs::LogGroup": self._log_group,
            "AWS::SNS::Topic": self._topic,
        }
        if kind in OPERATIONS_ONLY:  # nothing runs them locally; the template tests check them
            assert self.resolver is not None
            self.resolver.record(logical_id, logical_id)
        elif kind in handlers:
            handlers[kind](logical_id, spec.get("Properties", {}))
        elif kind.startswith("Custom::") or kind == "AWS::CloudFormation::CustomResource":
            self._custom_resource(logical_id, spec.get("Properties", {}))
        else:
            raise DeployError(f"{logical_id}: resource type {kind} is not supported locally")

    @property
    def _env_name(self) -> str:
        assert self.template is not None
        return self.template.parameters.get("EnvironmentName", "local")

    def _resolve(self, value: Any) -> Any:
        assert self.resolver is not None
        return self.resolver.resolve(value)

    def _layer(self, logical_id: str, props: dict[str, Any]) -> None:
        assert self.template is not None and self.resolver is not None
        path = (self.template.root / props["ContentUri"]).resolve()
        arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:layer:{logical_id}:1"
        self.resolver.record(logical_id, arn, Arn=arn, path=str(path))

    def _bucket(self, logical_id: str, props: dict[str, Any]) -> None:
        assert self.resolver is not None
        name = self._resolve(props.get("BucketName")) or f"{STACK}-{logical_id.lower()}"
        self.client("s3").create_bucket(Bucket=name)
        self.resolver.record(logical_id, name, Arn=f"arn:aws:s3:::{name}", DomainName=name)

    def _secret(self, logical_id: str, props: dict[str, Any]) -> None:
        assert self.resolver is not None
        name = self._resolve(props.get("Name")) or f"{STACK}-{logical_id}"
        try:
            value = json.loads(self._resolve(props.get("SecretString", "{}")) or "{}")
        except json.JSONDecodeError:
            value = {}
        value.update(self._secret_values)
        arn = self.client("secretsmanager").create_secret(
            Name=name, SecretString=json.dumps(value)
        )["ARN"]
        self.resolver.record(logical_id, arn, Id=arn)

    def _table(self, logical_id: str, props: dict[str, Any]) -> None:
        assert self.resolver is not None
        name = self._resolve(props.get("TableName")) or f"{STACK}-{logical_id}"
        arguments = {
            "TableName": name,
            "KeySchema": props["KeySchema"],
            "AttributeDefinitions": props["AttributeDefinitions"],
            "BillingMode": "PAY_PER_REQUEST",
        }
        if props.get("GlobalSecondaryIndexes"):
            arguments["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
        arn = self.client("dynamodb").create_table(**arguments)["TableDescription"]["TableArn"]
        self.resolver.record(logical_id, name, Arn=arn)

    def _log_group(self, logical_id: str, props: dict[str, Any]) -> None:
        assert self.resolver is not None
        name = self._resolve(props.get("LogGroupName")) or f"/{STACK}/{logical_id}"
        self.client("logs").create_log_group(logGroupName=name)
        arn = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{name}:*"
        self.resolver.record(logical_id, name, Arn=arn)

    def _topic(self, logical_id: str, props: dict[str, Any]) -> None:
        assert self.resolver is not None
        name = self._resolve(props.get("TopicName")) or f"{STACK}-{logical_id}"
        arn = self.client("sns").create_topic(Name=name)["TopicArn"]
        self.resolver.record(logical_id, arn, TopicArn=arn, TopicName=name)

    def _activity(self, logical_id: str, props: dict[str, Any]) -> None:
        assert self.resolver is not None
        name = self._resolve(props["Name"])
        arn = self.client("stepfunctions").create_activity(name=name)["activityArn"]
        self.resolver.record(logical_id, arn, Name=name)

    def _function(self, logical_id: str, _: dict[str, Any]) -> None:
        assert self.template is not None and self.resolver is not None
        props = self.template.function_properties(logical_id)
        name = self._resolve(props.get("FunctionName")) or f"{STACK}-{logical_id}"
        arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"
        env = {k: str(v) for k, v in self._resolve(props["Environment"]["Variables"]).items()}
        env.update(self._function_env.get("*", {}))
        env.update(self._function_env.get(logical_id, {}))
        env.update(
            AWS_LAMBDA_FUNCTION_NAME=name,
            AWS_LAMBDA_FUNCTION_MEMORY_SIZE=str(props.get("MemorySize", 128)),
            AWS_LAMBDA_FUNCTION_VERSION="$LATEST",
        )
        layers = [
            Path(self.resolver.attributes[ref["Ref"]]["path"]) for ref in props.get("Layers", [])
        ]
        self.client("lambda").create_function(
            FunctionName=name,
            Runtime=props.get("Runtime", "python3.13"),
            Role=self.role_arn,
            Handler=props.get("Handler", "bootstrap"),
            Code={"ZipFile": _DUMMY_ZIP.getvalue()},
            Timeout=int(props.get("Timeout", 3)),
            MemorySize=int(props.get("MemorySize", 128)),
        )
        if props.get("AutoPublishAlias"):  # state machines may call the alias, as on AWS
            version = self.client("lambda").publish_version(FunctionName=name)["Version"]
            self.client("lambda").create_alias(
                FunctionName=name, Name=props["AutoPublishAlias"], FunctionVersion=version
            )
        self.functions.add(
            LocalFunction(
                logical_id=logical_id,
                name=name,
                arn=arn,
                runtime=props.get("Runtime", ""),
                code_dir=(self.template.root / props["CodeUri"]).resolve(),
                handler=props["Handler"],
                layer_dirs=layers,
                env=env,
                timeout=int(props.get("Timeout", 3)),
                memory=int(props.get("MemorySize", 128)),
                build_method=self.template.resources[logical_id]
                .get("Metadata", {})
                .get("BuildMethod", ""),
                repo_root=self.template.root,
            )
        )
        alias = props.get("AutoPublishAlias", "live")
        self.resolver.record(logical_id, name, Arn=arn, Version=f"{arn}:1", Alias=f"{arn}:{alias}")

    def _state_machine(self, logical_id: str, props: dict[str, Any]) -> None:
        assert self.template is not None and self.resolver is not None
        name = self._resolve(props.get("Name")) or f"{STACK}-{logical_id}"
        definition = (self.template.root / props["DefinitionUri"]).read_text()
        substitutions = self._resolve(props.get("DefinitionSubstitutions", {}))
        for key, value in substitutions.items():
            definition = definition.replace("${" + key + "}", str(value))
        tags = self._resolve(props.get("Tags", {}))
        logging_config = self._resolve(props.get("Logging", {"Level": "OFF"}))
        arn = self.client("stepfunctions").create_state_machine(
            name=name,
            definition=definition,
            roleArn=self.role_arn,
            type=props.get("Type", "STANDARD"),
            tags=[{"key": k, "value": str(v)} for k, v in tags.items()],
            loggingConfiguration={  # SAM's Logging, in the API's casing (sam logs reads it)
                "level": logging_config["Level"],
                "includeExecutionData": bool(logging_config.get("IncludeExecutionData", False)),
                "destinations": [
                    {
                        "cloudWatchLogsLogGroup": {
                            "logGroupArn": d["CloudWatchLogsLogGroup"]["LogGroupArn"]
                        }
                    }
                    for d in logging_config.get("Destinations", [])
                ],
            },
        )["stateMachineArn"]
        self.state_machines[logical_id] = arn
        if "AgentName" in substitutions:
            self.agents[substitutions["AgentName"]] = logical_id
        self.resolver.record(logical_id, arn, Arn=arn, Name=name)

    def _custom_resource(self, logical_id: str, props: dict[str, Any]) -> None:
        """Invoke the ServiceToken function with a Create event, as CloudFormation does."""
        assert self.resolver is not None
        resolved = self._resolve(props)
        catcher = http.server.HTTPServer(("127.0.0.1", 0), _ResponseCatcher)
        threading.Thread(target=catcher.handle_request, daemon=True).start()
        request_id = str(uuid.uuid4())
        event = {
            "RequestType": "Create",
            "ServiceToken": resolved["ServiceToken"],
            "ResponseURL": f"http://127.0.0.1:{catcher.server_port}/{request_id}",
            "StackId": f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/{STACK}/local",
            "RequestId": request_id,
            "LogicalResourceId": logical_id,
            "ResourceType": "Custom::Resource",
            "ResourceProperties": resolved,
        }
        function_name = resolved["ServiceToken"].split(":")[6]
        payload, errored, logs = self.functions.invoke(function_name, event)
        catcher.server_close()
        response = _ResponseCatcher.received.pop(request_id, None)
        if errored or response is None or response.get("Status") != "SUCCESS":
            reason = (response or {}).get("Reason") or payload
            raise DeployError(f"custom resource {logical_id} failed: {reason}\n{logs}")
        self.resolver.record(logical_id, response.get("PhysicalResourceId", logical_id))

    # ------------------------------------------------------------------ lookups
    def state_machine_for(self, agent_or_logical_id: str) -> str:
        logical_id = self.agents.get(agent_or_logical_id, agent_or_logical_id)
        if logical_id not in self.state_machines:
            known = sorted(set(self.agents) | set(self.state_machines))
            raise KeyError(
                f"no agent or state machine {agent_or_logical_id!r}; known: {', '.join(known)}"
            )
        return self.state_machines[logical_id]

    def function_for(self, logical_id_or_name: str) -> LocalFunction:
        for function in self.functions.by_name.values():
            if logical_id_or_name in (function.logical_id, function.name):
                return function
        known = sorted(f.logical_id for f in self.functions.by_name.values())
        raise KeyError(f"no function {logical_id_or_name!r}; known: {', '.join(known)}")
