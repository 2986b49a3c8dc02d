"""The local engine: the template's resources in moto, served on a loopback port, with state
machines executed by moto's Step Functions engine (JSONata through jsonata-python) and Lambda
invocations dispatched to the functions' real handlers, each function in processes of its own.

Everything, in-process or not, talks to it over HTTP with ordinary AWS clients, so the same engine
serves one ``sfn-agents run`` or, long-lived, other processes (boto3, the AWS CLI, a second
``sfn-agents``). Only a state machine's Lambda tasks skip the HTTP hop (see moto_clients).

Deploying is cheap when asked for less: ``deploy(..., only=[...])`` creates what those resources
need (the dependency closure of the template's references, plus the custom resources that fill a
data store in it), and a later lookup of anything else deploys it then. Physical names follow one
rule in every mode: the stack is ``sfn-agents-<EnvironmentName>`` (as samconfig.toml names it),
a resource without a name of its own is ``<stack>-<LogicalId>``."""

import base64
import contextlib
import functools
import io
import json
import os
import threading
import uuid
from collections.abc import Iterable, Mapping
from graphlib import TopologicalSorter
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sfn_agents import local_iam, log_capture, preload
from sfn_agents.lambdas import FunctionRegistry, LocalFunction
from sfn_agents.providers import providers
from sfn_agents.template import Resolver, Template, TemplateError, references, stream_events

if TYPE_CHECKING:
    from sfn_agents.moto_server import MotoServer

REGION = "us-east-1"
ACCOUNT = "123456789012"
CUSTOM_RESOURCE_TYPES = ("AWS::CloudFormation::CustomResource",)
DATA_STORE_TYPES = ("AWS::DynamoDB::Table", "AWS::S3::Bucket")
NAMED_BY_RULE = (  # identities known before creation: lookups need not create them
    "AWS::Serverless::Function",
    "AWS::Serverless::StateMachine",
    "AWS::StepFunctions::Activity",
)


@functools.cache
def _dummy_zip_base64() -> str:
    """A function's Code as moto wants it: the code itself runs from the working tree."""
    import zipfile

    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("README", "code runs from the working tree")
    return base64.b64encode(archive.getvalue()).decode()


# Set for the whole process (every AWS SDK call made here goes to the engine) and for every
# function's.
_LOCAL_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "local",
    "AWS_SECRET_ACCESS_KEY": "local",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_DEV": "false",
}


# Alarms, their subscriptions and dashboards watch AWS's metrics: created on AWS only.
OPERATIONS_ONLY = {"AWS::CloudWatch::Alarm", "AWS::CloudWatch::Dashboard", "AWS::SNS::Subscription"}


class DeployError(RuntimeError):
    """A resource of the template could not be created locally."""


class EngineStartError(RuntimeError):
    """The engine cannot serve (a busy port, a port out of range); the message says why."""


def _function_identity(name: str, props: Mapping[str, Any]) -> dict[str, str]:
    """The variables Lambda sets from a function's configuration."""
    return {
        "AWS_LAMBDA_FUNCTION_NAME": name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(props.get("MemorySize", 128)),
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
    }


def _check_port(port: int) -> None:
    if not 0 <= port <= 65535:
        raise EngineStartError(f"port {port} is out of range (0-65535; 0 picks a free one)")


class LocalEngine:
    def __init__(self, port: int = 0) -> None:
        _check_port(port)
        self.port = port
        self.server: MotoServer | None = None
        self.functions = FunctionRegistry()
        self.state_machines: dict[str, str] = {}  # logical id -> ARN, of those created
        self.agents: dict[str, str] = {}  # agent name -> state machine logical id, all of them
        self.template: Template | None = None
        self.resolver: Resolver | None = None
        self.created: set[str] = set()
        self._clients: dict[str, Any] = {}
        self._lock = threading.RLock()
        self._role_arn = ""
        self._prestart: set[str] = set()  # logical ids of functions to start when created
        self._preloaded: dict[str, preload.Process] = {}  # by logical id (see preload)
        self._fork_server: preload.ForkServer | None = None
        self._loaded: tuple[Path, list[tuple[str, str]]] | None = None  # template and overrides

    # ------------------------------------------------------------------ lifecycle
    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "LocalEngine":
        from moto.core.config import default_user_config

        from sfn_agents import (
            jsonata_bridge,
            moto_activities,
            moto_clients,
            moto_executions,
            moto_fixes,
            moto_nested_executions,
            moto_streams,
        )
        from sfn_agents.moto_server import MotoServer, quiet_servers

        moto_fixes.check_moto_version()
        quiet_servers()
        log_capture.install()
        jsonata_bridge.install()
        moto_fixes.install()
        moto_activities.install()
        moto_nested_executions.install()
        moto_executions.install()
        moto_streams.install()
        moto_clients.install(self.functions)
        local_iam.install()
        self.functions.install()
        default_user_config.setdefault("stepfunctions", {})["execute_state_machine"] = True
        server = MotoServer(self.port)
        server.start()
        self.server = server
        self.port = server.get_host_and_port()[1]
        os.environ.update(_LOCAL_AWS_ENV)
        os.environ["MOTO_PORT"] = str(self.port)  # moto's Step Functions engine calls back here
        os.environ["AWS_ENDPOINT_URL"] = self.endpoint
        return self

    def stop(self) -> None:
        local_iam.stop_enforcing(self)
        # The server's loop ends within a poll interval (50 ms), as the sandboxes' do: meanwhile.
        server_stopping = threading.Thread(target=self.server.stop) if self.server else None
        if server_stopping is not None:
            server_stopping.start()
        self.functions.stop()
        for process in self._preloaded.values():  # of functions the deploy did not create
            preload.discard(process)
        self._preloaded.clear()
        if self._fork_server is not None:
            self._fork_server.stop()
            self._fork_server = None
        if server_stopping is not None:
            server_stopping.join()
            self.server = None
        for client in self._clients.values():
            client.close()
        self._clients.clear()

    def __enter__(self) -> "LocalEngine":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def client(self, service: Any) -> Any:
        """One client per service, shared (boto3 clients are thread-safe), its calls to the
        engine made in process (moto_server.send)."""
        with self._lock:
            if service not in self._clients:
                import boto3
                from botocore.config import Config

                from sfn_agents.moto_server import in_process

                self._clients[service] = in_process(
                    boto3.client(
                        service,
                        endpoint_url=self.endpoint,
                        region_name=REGION,
                        config=Config(max_pool_connections=64),
                    )
                )
            return self._clients[service]

    @property
    def role_arn(self) -> str:
        """The role every function and state machine gets (moto checks that it exists)."""
        from moto.iam.models import iam_backends

        with self._lock:
            if not self._role_arn:
                self._role_arn = (
                    iam_backends[ACCOUNT]["global"]
                    .create_role(
                        role_name=f"{self.stack}-execution",
                        assume_role_policy_document="{}",
                        path="/",
                        permissions_boundary=None,
                        description="",
                        tags=[],
                        max_session_duration=None,
                    )
                    .arn
                )
            return self._role_arn

    @property
    def stack(self) -> str:
        return self.template.stack_name if self.template else "sfn-agents-local"

    # ------------------------------------------------------------------ deploy
    def deploy(
        self,
        template_path: Path,
        overrides: Mapping[str, str] | None = None,
        function_env: Mapping[str, Mapping[str, str]] | None = None,
        secret_values: Mapping[str, str] | None = None,
        only: Iterable[str] | None = None,
    ) -> None:
        """Create the template's resources, or only what ``only`` (agent names, logical ids or
        function names) needs; anything else is created when first looked up. ``function_env``
        adds variables per logical id (or ``*`` for all). ``secret_values`` are API keys: a
        provider's key goes only into the secrets its LLM function reads, any other key only into
        the secrets the tool functions read."""
        self._load(template_path, overrides)
        local_iam.enforce(self)  # the template's roles, checked from now on
        self._function_env = function_env or {}
        self._secret_values = dict(secret_values or {})
        self.ensure(self._wanted(only))

    def preload(
        self,
        template_path: Path,
        overrides: Mapping[str, str] | None = None,
        only: Iterable[str] | None = None,
    ) -> None:
        """Before start(), for a deploy of the same: start the processes of the Python functions
        it will start ahead, so that their imports overlap the engine's start and deploy."""
        self._load(template_path, overrides)
        assert self.template is not None
        plans = {}
        for logical_id in sorted(self._to_prestart(self._closure(self._wanted(only)))):
            props = self.template.function_properties(logical_id)
            if logical_id not in self._preloaded and str(props.get("Runtime", "")).startswith(
                "python"
            ):
                plans[logical_id] = self._preload_plan(logical_id, props)
        if len(plans) > 1 and self._fork_server is None:  # what they share, imported once
            envs = [env for _, env, _, _ in plans.values()]
            lists = [dists for _, _, dists, _ in plans.values()]
            shared_env = {k: v for k, v in envs[0].items() if all(e.get(k) == v for e in envs)}
            # and the PYTHONPATH entries they all start with (what Lambda's runtime lacks)
            common: list[str] = []
            for entries in zip(
                *(e.get("PYTHONPATH", "").split(os.pathsep) for e in envs), strict=False
            ):
                if len(set(entries)) > 1 or not entries[0]:
                    break
                common.append(entries[0])
            if common:
                shared_env["PYTHONPATH"] = os.pathsep.join(common)
            shared = [d for d in lists[0] if all(d in other for other in lists)]
            self._fork_server = preload.ForkServer(shared_env, shared)
        starter = self._fork_server.start if self._fork_server is not None else preload.start
        for logical_id, (cwd, env, dists, memory_mb) in plans.items():
            self._preloaded[logical_id] = starter(cwd, env, dists, memory_mb)

    def _load(self, template_path: Path, overrides: Mapping[str, str] | None) -> None:
        """Load the template and plan what follows from it alone (names, the agents, the graph)."""
        key = (Path(template_path).resolve(), sorted((overrides or {}).items()))
        if self._loaded == key:
            return
        template = Template.load(template_path, overrides)
        self.template = template
        self.resolver = Resolver(template, REGION, ACCOUNT)
        self._graph = {
            logical_id: references(spec) & set(template.resources)
            for logical_id, spec in template.resources.items()
        }
        self._plan_identities()
        self._loaded = key

    def _wanted(self, only: Iterable[str] | None) -> set[str]:
        """What a deploy of ``only`` creates first (a name the template lacks is left to the
        lookup, which lists what there is)."""
        assert self.template is not None
        if only is None:
            return set(self.template.resources)
        return {logical_id for name in only if (logical_id := self._known(name))}

    def ensure(self, logical_ids: Iterable[str]) -> None:
        """Create the given resources and what they need, unless already there."""
        assert self.template is not None
        with self._lock:
            needed = self._closure(set(logical_ids))
            self._prestart |= self._to_prestart(needed)
            graph = {k: self._graph[k] & needed for k in needed - self.created}
            order = TopologicalSorter(graph)
            order.prepare()
            early = self._dependencies(self._prestart & needed, graph)
            while order.is_active():  # the functions started ahead, and what they need, first:
                # their init overlaps the rest
                ready = sorted(
                    order.get_ready(), key=lambda k: (k not in early, self._not_a_function(k))
                )
                for logical_id in ready:
                    if logical_id not in self.created:
                        try:
                            self._create(logical_id, self.template.resources[logical_id])
                        except TemplateError as error:
                            raise DeployError(f"{logical_id}: {error}") from None
                        self.created.add(logical_id)
                    order.done(logical_id)

    @staticmethod
    def _dependencies(wanted: set[str], graph: Mapping[str, set[str]]) -> set[str]:
        """``wanted`` and everything in ``graph`` they depend on."""
        found: set[str] = set()
        pending = list(wanted)
        while pending:
            logical_id = pending.pop()
            if logical_id not in found:
                found.add(logical_id)
                pending.extend(graph.get(logical_id, ()))
        return found

    def _not_a_function(self, logical_id: str) -> bool:
        assert self.template is not None
        return self.template.resources[logical_id]["Type"] != "AWS::Serverless::Function"

    def _to_prestart(self, needed: set[str]) -> set[str]:
        """The functions among ``needed`` whose first sandbox starts when they are created: all
        but the LLM functions of providers that none of the agents among them uses (an agent's
        provider is in its spec, registry/agents/<name>.json; a run with another provider
        starts that function's sandbox when it first calls it)."""
        assert self.template is not None
        used: set[str] = set()
        for logical_id in needed & set(self.template.of_type("AWS::Serverless::StateMachine")):
            props = self.template.resources[logical_id].get("Properties", {})
            agent = props.get("DefinitionSubstitutions", {}).get("AgentName")
            spec = self.template.root / "registry" / "agents" / f"{agent}.json"
            if isinstance(agent, str) and spec.is_file():
                used.add(json.loads(spec.read_text()).get("provider", ""))
        table = providers(self.template.root).values()
        unused = {p.function for p in table} - {p.function for p in table if p.name in used}
        return needed & set(self.template.of_type("AWS::Serverless::Function")) - unused

    def _known(self, name: str) -> str | None:
        """An agent name, logical id or physical function name -> its logical id."""
        assert self.template is not None and self.resolver is not None
        if name in self.agents:
            return self.agents[name]
        if name in self.template.resources:
            return name
        for logical_id in self.template.of_type("AWS::Serverless::Function"):
            if self.resolver.refs.get(logical_id) == name:
                return logical_id
        return None

    def _plan_identities(self) -> None:
        """Record the names and ARNs that follow from the naming rule alone, and the agents."""
        assert self.template is not None and self.resolver is not None
        for logical_id, spec in self.template.resources.items():
            if spec["Type"] not in NAMED_BY_RULE:
                continue
            props = spec.get("Properties", {})
            try:
                if spec["Type"] == "AWS::Serverless::Function":
                    self._record_function(logical_id, props)
                elif spec["Type"] == "AWS::Serverless::StateMachine":
                    self._record_state_machine(logical_id, props)
                    agent = props.get("DefinitionSubstitutions", {}).get("AgentName")
                    if isinstance(agent, str):
                        self.agents[agent] = logical_id
                else:
                    name = self._resolve(props["Name"])
                    arn = f"arn:aws:states:{REGION}:{ACCOUNT}:activity:{name}"
                    self.resolver.record(logical_id, arn, Name=name)
            except TemplateError:
                pass  # a name made of other resources: known once they exist

    def _closure(self, wanted: set[str]) -> set[str]:
        """``wanted`` and all they refer to, and the custom resources that write to a data store
        among them with what those need to run (their other references only need names), and
        the functions a table's stream among them feeds."""
        assert self.template is not None and self.resolver is not None
        resources = self.template.resources
        planned = set(self.resolver.refs)
        needed: set[str] = set()
        pending = list(wanted)
        while True:
            while pending:
                logical_id = pending.pop()
                if logical_id in needed:
                    continue
                needed.add(logical_id)
                if _is_custom(resources[logical_id]["Type"]):
                    token = resources[logical_id].get("Properties", {}).get("ServiceToken")
                    pending += references(token) & set(resources)
                    pending += [r for r in self._graph[logical_id] if r not in planned]
                else:
                    pending += self._graph[logical_id]
            stores = {r for r in needed if resources[r]["Type"] in DATA_STORE_TYPES}
            joining = [
                logical_id
                for logical_id, spec in resources.items()
                if logical_id not in needed
                and (
                    (_is_custom(spec["Type"]) and self._graph[logical_id] & stores)
                    or references(stream_events(spec.get("Properties", {}))) & stores
                )
            ]
            if not joining:
                return needed
            pending += joining

    def _create(self, logical_id: str, spec: dict[str, Any]) -> None:
        kind = spec["Type"]
        handlers = {
            "AWS::Serverless::LayerVersion": self._layer,
            "AWS::S3::Bucket": self._bucket,
            "AWS::S3::BucketPolicy": self._bucket_policy,
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
        elif kind == "AWS::Serverless::Api":  # served by sfn_agents.local_api, not by moto
            assert self.resolver is not None
            self.resolver.record(logical_id, logical_id)
        elif kind == "AWS::IAM::ManagedPolicy":  # local_iam reads its document from the template
            assert self.resolver is not None
            self.resolver.record(logical_id, f"arn:aws:iam::{ACCOUNT}:policy/{logical_id}")
        elif _is_custom(kind):
            self._custom_resource(logical_id, spec.get("Properties", {}))
        else:
            raise DeployError(f"{logical_id}: resource type {kind} is not supported locally")

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
        name = self._resolve(props.get("BucketName")) or f"{self.stack}-{logical_id.lower()}"
        self.client("s3").create_bucket(Bucket=name)
        self.resolver.record(logical_id, name, Arn=f"arn:aws:s3:::{name}", DomainName=name)

    def _bucket_policy(self, logical_id: str, props: dict[str, Any]) -> None:
        policy = json.dumps(self._resolve(props["PolicyDocument"]))
        self.client("s3").put_bucket_policy(Bucket=self._resolve(props["Bucket"]), Policy=policy)

    def _secret(self, logical_id: str, props: dict[str, Any]) -> None:
        assert self.resolver is not None
        name = self._resolve(props.get("Name")) or f"{self.stack}-{logical_id}"
        try:
            value = json.loads(self._resolve(props.get("SecretString", "{}")) or "{}")
        except json.JSONDecodeError:
            value = {}
        value.update(self._keys_for_secret(logical_id))
        arn = self.client("secretsmanager").create_secret(
            Name=name, SecretString=json.dumps(value)
        )["ARN"]
        self.resolver.record(logical_id, arn, Id=arn)

    def _table(self, logical_id: str, props: dict[str, Any]) -> None:
        assert self.resolver is not None
        name = self._resolve(props.get("TableName")) or f"{self.stack}-{logical_id}"
        arguments = {
            "TableName": name,
            "KeySchema": props["KeySchema"],
            "AttributeDefinitions": props["AttributeDefinitions"],
            "BillingMode": "PAY_PER_REQUEST",
        }
        if props.get("GlobalSecondaryIndexes"):
            arguments["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
        if props.get("StreamSpecification"):
            view = props["StreamSpecification"]["StreamViewType"]
            arguments["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": view}
        table = self.client("dynamodb").create_table(**arguments)["TableDescription"]
        stream = {"StreamArn": table["LatestStreamArn"]} if "LatestStreamArn" in table else {}
        self.resolver.record(logical_id, name, Arn=table["TableArn"], **stream)

    def _log_group(self, logical_id: str, props: dict[str, Any]) -> None:
        assert self.resolver is not None
        name = self._resolve(props.get("LogGroupName")) or f"/{self.stack}/{logical_id}"
        self.client("logs").create_log_group(logGroupName=name)
        arn = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{name}:*"
        self.resolver.record(logical_id, name, Arn=arn)

    def _topic(self, logical_id: str, props: dict[str, Any]) -> None:
        assert self.resolver is not None
        name = self._resolve(props.get("TopicName")) or f"{self.stack}-{logical_id}"
        arn = self.client("sns").create_topic(Name=name)["TopicArn"]
        self.resolver.record(logical_id, arn, TopicArn=arn, TopicName=name)

    def _activity(self, logical_id: str, props: dict[str, Any]) -> None:
        assert self.resolver is not None
        name = self._resolve(props["Name"])
        arn = self.client("stepfunctions").create_activity(name=name)["activityArn"]
        self.resolver.record(logical_id, arn, Name=name)

    def _keys_for_secret(self, secret_id: str) -> dict[str, str]:
        """The API keys a secret holds: those of the functions that read it, and no others."""
        assert self.template is not None
        llm_keys: dict[str, set[str]] = {}
        for provider in providers(self.template.root).values():
            if provider.key_name:
                llm_keys.setdefault(provider.key_name, set()).add(provider.function)
        llm_functions = set().union(*llm_keys.values()) if llm_keys else set()
        readers = {
            logical_id
            for logical_id in self.template.of_type("AWS::Serverless::Function")
            if secret_id in self._graph[logical_id]
        }
        return {
            key: value
            for key, value in self._secret_values.items()
            if readers & (llm_keys[key] if key in llm_keys else set(readers) - llm_functions)
        }

    def _record_function(self, logical_id: str, props: dict[str, Any]) -> None:
        assert self.resolver is not None
        name = self._resolve(props.get("FunctionName")) or f"{self.stack}-{logical_id}"
        arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"
        alias = props.get("AutoPublishAlias", "live")
        self.resolver.record(logical_id, name, Arn=arn, Version=f"{arn}:1", Alias=f"{arn}:{alias}")

    def _record_state_machine(self, logical_id: str, props: dict[str, Any]) -> None:
        assert self.resolver is not None
        name = self._resolve(props.get("Name")) or f"{self.stack}-{logical_id}"
        arn = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{name}"
        self.resolver.record(logical_id, arn, Arn=arn, Name=name)

    def _register_function(self, name: str, props: dict[str, Any]) -> set[str]:
        """Create the function in moto's Lambda backend (in process: it is this process's, and a
        Lambda client's service model costs more to load than the calls take). The qualifiers
        it answers to."""
        from moto.awslambda.models import lambda_backends

        backend = lambda_backends[ACCOUNT][REGION]
        backend.create_function(
            {
                "FunctionName": name,
                "Runtime": props.get("Runtime", "python3.13"),
                "Role": self.role_arn,
                "Handler": props.get("Handler", "bootstrap"),
                "Code": {"ZipFile": _dummy_zip_base64()},
                "Timeout": int(props.get("Timeout", 3)),
                "MemorySize": int(props.get("MemorySize", 128)),
            }
        )
        qualifiers = {"$LATEST"}
        alias = props.get("AutoPublishAlias")
        if alias:  # state machines may call the alias, as on AWS
            published = backend.publish_version(name)
            assert published is not None
            version = str(published.version)
            backend.create_alias(alias, name, version, "", None)  # type: ignore[arg-type]
            qualifiers |= {version, alias}
        return qualifiers

    def _function(self, logical_id: str, _: dict[str, Any]) -> None:
        assert self.template is not None and self.resolver is not None
        props = self.template.function_properties(logical_id)
        self._record_function(logical_id, props)
        name = self.resolver.refs[logical_id]
        env = dict(_LOCAL_AWS_ENV)  # under its own variables, as in this process
        env.update({k: str(v) for k, v in self._resolve(props["Environment"]["Variables"]).items()})
        env.update(self._function_env.get("*", {}))
        env.update(self._function_env.get(logical_id, {}))
        env.update(local_iam.credentials_env(logical_id))  # its role's, as Lambda gives it
        env.update(_function_identity(name, props))
        layers = [
            Path(self.resolver.attributes[ref["Ref"]]["path"]) for ref in props.get("Layers", [])
        ]
        qualifiers = self._register_function(name, props)
        function = self._local_function(logical_id, props, env, layers)
        function.qualifiers = qualifiers
        function.preloaded = self._preloaded.pop(logical_id, None)
        self.functions.add(function)
        if logical_id in self._prestart:
            function.prestart()  # its init overlaps the rest of the deploy
        self._map_streams(logical_id, name, props)

    def _local_function(
        self, logical_id: str, props: dict[str, Any], env: dict[str, str], layers: list[Path]
    ) -> LocalFunction:
        assert self.template is not None and self.resolver is not None
        return LocalFunction(
            logical_id=logical_id,
            name=self.resolver.refs[logical_id],
            arn=self.resolver.attributes[logical_id]["Arn"],
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

    def _preload_plan(
        self, logical_id: str, props: dict[str, Any]
    ) -> tuple[Path, dict[str, str], list[str], int]:
        """How to start a process for the function's first sandbox: directory, the environment
        known before the deploy (its sandbox adopts it with the whole one: see preload), the
        distributions to import, and the memory limit."""
        assert self.template is not None and self.resolver is not None
        layers = [
            (self.template.root / self.template.resources[ref["Ref"]]["Properties"]["ContentUri"])
            for ref in props.get("Layers", [])
        ]
        env = {**_LOCAL_AWS_ENV, **_function_identity(self.resolver.refs[logical_id], props)}
        function = self._local_function(logical_id, props, env, layers)
        launch, sandbox_env = function.launch()
        sandbox_env["AWS_LAMBDA_INITIALIZATION_TYPE"] = preload.PROVISIONED
        dists = preload.requirements([function.code_dir, *layers])
        return launch.cwd, sandbox_env, dists, function.memory

    def _map_streams(self, logical_id: str, name: str, props: dict[str, Any]) -> None:
        """The function's DynamoDB events as event source mappings (see moto_streams)."""
        from moto.awslambda.models import lambda_backends

        from sfn_agents import moto_streams

        for event in stream_events(props):
            filters = self._resolve(event.get("FilterCriteria"))
            try:
                moto_streams.patterns(filters)
            except moto_streams.FilterError as error:
                raise DeployError(f"{logical_id}: {error}") from None
            lambda_backends[ACCOUNT][REGION].create_event_source_mapping(
                {
                    "FunctionName": name,
                    "EventSourceArn": self._resolve(event["Stream"]),
                    "StartingPosition": event.get("StartingPosition", "LATEST"),
                    "FilterCriteria": filters,
                }
            )

    def _state_machine(self, logical_id: str, props: dict[str, Any]) -> None:
        assert self.template is not None and self.resolver is not None
        self._record_state_machine(logical_id, props)
        name = self.resolver.attributes[logical_id]["Name"]
        definition = definition_json(self.template.root / props["DefinitionUri"])
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

    def _custom_resource(self, logical_id: str, props: dict[str, Any]) -> None:
        """Invoke the ServiceToken function with a Create event, as CloudFormation does."""
        assert self.resolver is not None
        resolved = self._resolve(props)
        from sfn_agents.cfn_response import ResponseCatcher

        request_id = str(uuid.uuid4())
        with contextlib.closing(ResponseCatcher()) as catcher:
            event = {
                "RequestType": "Create",
                "ServiceToken": resolved["ServiceToken"],
                "ResponseURL": catcher.url(request_id),
                "StackId": f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/{self.stack}/local",
                "RequestId": request_id,
                "LogicalResourceId": logical_id,
                "ResourceType": "Custom::Resource",
                "ResourceProperties": resolved,
            }
            function_name = resolved["ServiceToken"].split(":")[6]
            payload, errored, logs = self.functions.invoke(function_name, event)
            response = catcher.response
        if errored or response is None or response.get("Status") != "SUCCESS":
            reason = (response or {}).get("Reason") or payload
            raise DeployError(f"custom resource {logical_id} failed: {reason}\n{logs}")
        self.resolver.record(logical_id, response.get("PhysicalResourceId", logical_id))

    # ------------------------------------------------------------------ lookups
    def state_machine_for(self, agent_or_logical_id: str) -> str:
        """The ARN of an agent's state machine (by agent name or logical id), deployed if needed."""
        assert self.template is not None
        logical_id = self.agents.get(agent_or_logical_id, agent_or_logical_id)
        machines = self.template.of_type("AWS::Serverless::StateMachine")
        if logical_id not in machines:
            known = sorted(set(self.agents) | set(machines))
            raise KeyError(
                f"no agent or state machine {agent_or_logical_id!r}; known: {', '.join(known)}"
            )
        self.ensure([logical_id])
        return self.state_machines[logical_id]

    def function_for(self, logical_id_or_name: str) -> LocalFunction:
        """A function by logical id or name, deployed if needed."""
        assert self.template is not None
        functions = self.template.of_type("AWS::Serverless::Function")
        logical_id = self._known(logical_id_or_name)
        if logical_id not in functions:
            known = sorted(functions)
            raise KeyError(f"no function {logical_id_or_name!r}; known: {', '.join(known)}")
        self.ensure([str(logical_id)])
        return next(f for f in self.functions.by_name.values() if f.logical_id == logical_id)


def _is_custom(kind: str) -> bool:
    return kind.startswith("Custom::") or kind in CUSTOM_RESOURCE_TYPES


def definition_json(path: Path) -> str:
    """A state machine definition as JSON text; SAM converts a YAML DefinitionUri the same way.
    YAML is read with libyaml's safe loader where PyYAML has it (the agent loop: 4 ms, not 70)."""
    text = path.read_text()
    if path.suffix in (".yaml", ".yml"):
        import yaml

        return json.dumps(
            yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)), indent=2
        )
    return text
