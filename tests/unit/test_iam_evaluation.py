"""The local engine's IAM: the evaluator, SAM's policy templates as roles, and the checks on
state machines' and functions' calls, against the real template and copies missing a grant."""

import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from sfn_agents import local_iam
from sfn_agents.engine import ACCOUNT, REGION, LocalEngine

ROOT = Path(__file__).resolve().parents[2]
ARN = f"{REGION}:{ACCOUNT}"


# ---------------------------------------------------------------------------- evaluator
def allow(action: Any, resource: Any, effect: str = "Allow") -> dict[str, Any]:
    return {"Statement": [{"Effect": effect, "Action": action, "Resource": resource}]}


def test_allow_needs_both_action_and_resource_to_match():
    policy = allow("lambda:InvokeFunction", f"arn:aws:lambda:{ARN}:function:tool*")
    assert (
        local_iam.evaluate(
            [policy], "lambda:InvokeFunction", f"arn:aws:lambda:{ARN}:function:tool:live"
        )
        == "allow"
    )
    assert (
        local_iam.evaluate(
            [policy], "lambda:InvokeFunction", f"arn:aws:lambda:{ARN}:function:other"
        )
        == "implicit"
    )
    assert (
        local_iam.evaluate([policy], "lambda:GetFunction", f"arn:aws:lambda:{ARN}:function:tool")
        == "implicit"
    )


def test_explicit_deny_wins_over_any_allow():
    documents = [allow("s3:*", "*"), allow("s3:DeleteObject", "arn:aws:s3:::b/*", "Deny")]
    assert local_iam.evaluate(documents, "s3:DeleteObject", "arn:aws:s3:::b/k") == "explicit"
    assert local_iam.evaluate(documents, "s3:GetObject", "arn:aws:s3:::b/k") == "allow"


def test_actions_match_case_insensitively_and_resources_exactly():
    assert (
        local_iam.evaluate(
            [allow("DynamoDB:getitem", "arn:aws:dynamodb:*:*:table/T")],
            "dynamodb:GetItem",
            "arn:aws:dynamodb:r:a:table/T",
        )
        == "allow"
    )
    assert (
        local_iam.evaluate(
            [allow("dynamodb:GetItem", "arn:aws:dynamodb:*:*:table/t")],
            "dynamodb:GetItem",
            "arn:aws:dynamodb:r:a:table/T",
        )
        == "implicit"
    )


def test_wildcards_are_the_only_special_characters():
    policy = allow("s3:GetObject", ["arn:aws:s3:::a.b/?.csv"])
    assert local_iam.evaluate([policy], "s3:GetObject", "arn:aws:s3:::a.b/x.csv") == "allow"
    assert (
        local_iam.evaluate([policy], "s3:GetObject", "arn:aws:s3:::aXb/x.csv") == "implicit"
    )  # "." is literal
    assert local_iam.evaluate([policy], "s3:GetObject", "arn:aws:s3:::a.b/xy.csv") == "implicit"


def test_not_action_and_not_resource():
    documents = [
        {
            "Statement": [
                {"Effect": "Allow", "NotAction": "iam:*", "NotResource": "arn:aws:s3:::secret/*"}
            ]
        }
    ]
    assert local_iam.evaluate(documents, "s3:GetObject", "arn:aws:s3:::public/k") == "allow"
    assert local_iam.evaluate(documents, "s3:GetObject", "arn:aws:s3:::secret/k") == "implicit"
    assert local_iam.evaluate(documents, "iam:PassRole", "*") == "implicit"


def test_denial_message_reads_as_aws_writes_it():
    role = local_iam.Role("r", ACCOUNT, [allow("s3:GetObject", "*")])
    assert role.denial("s3:GetObject", "arn:aws:s3:::b/k", "s") is None
    assert role.denial("lambda:InvokeFunction", "arn:f", "s") == (
        f"User: arn:aws:sts::{ACCOUNT}:assumed-role/r/s is not authorized to perform: "
        "lambda:InvokeFunction on resource: arn:f because no identity-based policy allows the "
        "lambda:InvokeFunction action"
    )


# ---------------------------------------------------------------------------- SAM's policies
def test_sam_policy_templates_expand_as_samtranslator_expands_them():
    (document,) = local_iam.policy_documents(
        [{"LambdaInvokePolicy": {"FunctionName": {"Ref": "F"}}}]
    )
    (statement,) = document["Statement"]
    assert statement["Action"] == ["lambda:InvokeFunction"]
    assert statement["Resource"]["Fn::Sub"][1] == {"functionName": {"Ref": "F"}}


def test_policy_templates_are_cached_per_parameters(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    policy = {"LambdaInvokePolicy": {"FunctionName": {"Ref": "F"}}}
    expanded = local_iam.policy_documents([policy])
    monkeypatch.setattr(local_iam, "_policy_templates", lambda: pytest.fail("not cached"))
    assert local_iam.policy_documents([policy]) == expanded
    with pytest.raises(pytest.fail.Exception, match="not cached"):  # other parameters: computed
        local_iam.policy_documents([{"LambdaInvokePolicy": {"FunctionName": "G"}}])


def test_managed_policies_by_name_or_arn_and_inline_documents():
    inline = allow("s3:GetObject", "*")
    by_name, by_arn, kept = local_iam.policy_documents(
        [
            "AWSLambdaBasicExecutionRole",
            "arn:aws:iam::aws:policy/AWSLambdaBasicExecutionRole",
            inline,
        ]
    )
    assert (
        by_name == by_arn and local_iam.evaluate([by_name], "logs:PutLogEvents", "arn:x") == "allow"
    )
    assert kept is inline


def test_calls_name_the_resources_iam_checks():
    needs = local_iam.json_call_needs
    assert needs("dynamodb", "Query", {"TableName": "T", "IndexName": "I"}, "r", "1") == [
        ("dynamodb:Query", "arn:aws:dynamodb:r:1:table/T/index/I")
    ]
    assert needs(
        "dynamodb",
        "TransactWriteItems",
        {"TransactItems": [{"Put": {"TableName": "A"}}, {"Delete": {"TableName": "B"}}]},
        "r",
        "1",
    ) == [
        ("dynamodb:PutItem", "arn:aws:dynamodb:r:1:table/A"),
        ("dynamodb:DeleteItem", "arn:aws:dynamodb:r:1:table/B"),
    ]
    assert needs("states", "StartExecution", {"stateMachineArn": "arn:sm"}, "r", "1") == [
        ("states:StartExecution", "arn:sm")
    ]
    assert local_iam.s3_call_needs("GET", "/b/k%20x", "", {}, b"") == [
        ("s3:GetObject", "arn:aws:s3:::b/k x")
    ]
    assert local_iam.s3_call_needs("GET", "/b", "list-type=2&prefix=p", {}, b"") == [
        ("s3:ListBucket", "arn:aws:s3:::b")
    ]
    assert local_iam.s3_call_needs(
        "POST", "/b", "delete", {}, b"<Delete><Object><Key>a</Key></Object></Delete>"
    ) == [("s3:DeleteObject", "arn:aws:s3:::b/a")]


# ---------------------------------------------------------------------------- the template's roles
def planned(template: Path) -> local_iam.Enforcer:
    """An engine's enforcer for the template, nothing created (roles need names and ARNs only)."""
    engine = LocalEngine()
    engine.deploy(template, only=[])
    assert local_iam._enforcer is not None and local_iam._enforcer.engine is engine
    return local_iam._enforcer


@pytest.fixture
def real() -> local_iam.Enforcer:
    return planned(ROOT / "template.yaml")


def machine_arn(enforcer: local_iam.Enforcer, logical_id: str) -> str:
    assert enforcer.engine.resolver is not None
    return enforcer.engine.resolver.attributes[logical_id]["Arn"]


def function_arn(enforcer: local_iam.Enforcer, logical_id: str) -> str:
    assert enforcer.engine.resolver is not None
    return enforcer.engine.resolver.attributes[logical_id]["Arn"]


def test_every_agent_may_call_its_tools_and_models_and_nothing_else(real):
    """The unmodified template: each agent's role allows the functions and sub-agents of the tools
    its registry spec lists, and the model functions, and no other tool's."""
    grants = {}  # tool -> the (action, resource) calling it needs
    for path in (ROOT / "registry" / "tools").glob("*.json"):
        spec = json.loads(path.read_text())
        if "function" in spec:
            grants[spec["tool_name"]] = (
                "lambda:InvokeFunction",
                function_arn(real, spec["function"]),
            )
        elif "state_machine" in spec:
            grants[spec["tool_name"]] = (
                "states:StartExecution",
                machine_arn(real, spec["state_machine"]),
            )
        # a remote tool runs on an activity, which needs no grant on the agent's role
    for path in (ROOT / "registry" / "agents").glob("*.json"):
        agent = json.loads(path.read_text())
        role = real.role_of(real.engine.agents[agent["agent_name"]])
        assert role is not None
        own = {grants[t] for t in agent["tools"] if t in grants}
        for action, resource in set(grants.values()):
            allowed = role.denial(action, resource, "run") is None
            assert allowed == ((action, resource) in own), (agent["agent_name"], resource)
        for model in ("AnthropicLlmFunction", "OpenAiLlmFunction", "BedrockLlmFunction"):
            assert (
                role.denial("lambda:InvokeFunction", function_arn(real, model) + ":live", "run")
                is None
            )


def test_a_missing_sub_agent_grant_denies_starting_it(template_without_policy):
    grant = {
        "StepFunctionsExecutionPolicy": {
            "StateMachineName": {"Fn::GetAtt": ["SqlAgentStateMachine", "Name"]}
        }
    }
    enforcer = planned(template_without_policy("AnalyticsSupervisorStateMachine", grant))
    role = enforcer.role_of("AnalyticsSupervisorStateMachine")
    assert role is not None
    denied = role.denial(
        "states:StartExecution", machine_arn(enforcer, "SqlAgentStateMachine"), "exec-1"
    )
    assert denied is not None and "states:StartExecution" in denied
    assert "assumed-role/sfn-agents-dev-AnalyticsSupervisorStateMachineRole/exec-1" in denied
    assert (
        role.denial("states:StartExecution", machine_arn(enforcer, "SchemaAgentStateMachine"), "e")
        is None
    )


# ---------------------------------------------------------------------------- functions' own calls
def signed(logical_id: str, service: str, target: str, body: dict[str, Any]) -> dict[str, Any]:
    payload = json.dumps(body).encode()
    key = local_iam.access_key(logical_id)
    return {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/",
        "HTTP_AUTHORIZATION": f"AWS4-HMAC-SHA256 Credential={key}/20260101/{REGION}/{service}"
        "/aws4_request, SignedHeaders=host, Signature=x",
        "HTTP_X_AMZ_TARGET": target,
        "CONTENT_LENGTH": str(len(payload)),
        "wsgi.input": io.BytesIO(payload),
    }


def call(environ: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    seen: list[str] = []

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        start_response("200 OK", [])
        return [environ["wsgi.input"].read() or b"{}"]  # moto still gets the whole body

    def start_response(status: str, headers: list[tuple[str, str]]) -> None:
        seen.append(status)

    body = b"".join(local_iam.guard(app)(environ, start_response))
    return seen[0], json.loads(body)


def activity_arn(enforcer: local_iam.Enforcer, logical_id: str) -> str:
    assert enforcer.engine.resolver is not None
    return enforcer.engine.resolver.refs[logical_id]


def test_a_missing_activity_grant_denies_taking_approvals(template_copy):
    def edit(resources: dict[str, Any]) -> None:
        (statement,) = [
            s
            for s in resources["AgentApiPolicy"]["Properties"]["PolicyDocument"]["Statement"]
            if s.get("Sid") == "TakeAndAnswerApprovals"
        ]
        statement["Resource"].remove({"Ref": "SqlApprovalAgentApprovalActivity"})

    enforcer = planned(template_copy(edit))
    denied = activity_arn(enforcer, "SqlApprovalAgentApprovalActivity")
    status, answer = call(
        signed("ApiFunction", "states", "AWSStepFunctions.GetActivityTask", {"activityArn": denied})
    )
    assert status.startswith("400") and answer["__type"].endswith("#AccessDeniedException")
    assert (
        f"is not authorized to perform: states:GetActivityTask on resource: {denied}"
        in answer["message"]
    )
    still = activity_arn(enforcer, "SqlAgentApprovalActivity")
    status, _ = call(
        signed("ApiFunction", "states", "AWSStepFunctions.GetActivityTask", {"activityArn": still})
    )
    assert status.startswith("200")


def test_functions_calls_are_checked_against_their_own_role(real):
    assert real.engine.resolver is not None
    table = "sfn-agents-dev-ToolRegistryTable"  # as the engine records it when it creates it
    arn = f"arn:aws:dynamodb:{ARN}:table/{table}"
    real.engine.resolver.record("ToolRegistryTable", table, Arn=arn)
    read = {"TableName": table, "Key": {"tool_name": {"S": "x"}}}
    status, _ = call(signed("ApiFunction", "dynamodb", "DynamoDB_20120810.GetItem", read))
    assert status.startswith("200")
    status, answer = call(signed("ApiFunction", "dynamodb", "DynamoDB_20120810.PutItem", read))
    assert status.startswith("400") and "dynamodb:PutItem" in answer["message"]
    status, _ = call(signed("SqlToolFunction", "dynamodb", "DynamoDB_20120810.GetItem", read))
    assert status.startswith("400")  # the SQL tool has no grant on the registry


def test_callers_the_template_does_not_describe_are_not_checked(real):
    environ = signed("ApiFunction", "dynamodb", "DynamoDB_20120810.PutItem", {"TableName": "t"})
    environ["HTTP_AUTHORIZATION"] = environ["HTTP_AUTHORIZATION"].replace(
        local_iam.access_key("ApiFunction"), "local"
    )
    status, _ = call(environ)
    assert status.startswith("200")
