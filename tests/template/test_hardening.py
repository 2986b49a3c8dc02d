"""Stack hardening in template.yaml: stateful resources survive a delete or a replacement, the
artifact bucket is versioned and access-logged, the LLM functions' concurrency is a parameter."""

from pathlib import Path

import pytest

from sfn_agents.template import Template

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = Template.load(ROOT / "template.yaml")
STATEFUL = ("AWS::DynamoDB::Table", "AWS::S3::Bucket", "AWS::SecretsManager::Secret")
LLM_FUNCTIONS = ("AnthropicLlmFunction", "OpenAiLlmFunction", "GeminiLlmFunction",
                 "BedrockLlmFunction")  # fmt: skip


@pytest.mark.parametrize("logical_id", sorted(TEMPLATE.of_type(*STATEFUL)))
def test_stateful_resources_are_retained_on_delete_and_replacement(logical_id):
    resource = TEMPLATE.resources[logical_id]
    assert resource.get("DeletionPolicy") == "Retain"
    assert resource.get("UpdateReplacePolicy") == "Retain"


def test_every_kind_of_stateful_resource_is_covered():
    kinds = {spec["Type"] for spec in TEMPLATE.of_type(*STATEFUL).values()}
    assert kinds == set(STATEFUL)


def test_artifact_bucket_is_versioned_and_access_logged():
    props = TEMPLATE.resources["ArtifactBucket"]["Properties"]
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    logging = props["LoggingConfiguration"]
    assert logging["DestinationBucketName"] == {"Ref": "AccessLogBucket"}
    rules = props["LifecycleConfiguration"]["Rules"]
    assert any("NoncurrentVersionExpiration" in rule for rule in rules), "old versions pile up"


def test_only_s3_log_delivery_may_write_the_access_logs():
    policy = TEMPLATE.resources["AccessLogBucketPolicy"]["Properties"]
    assert policy["Bucket"] == {"Ref": "AccessLogBucket"}
    (statement,) = policy["PolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": "logging.s3.amazonaws.com"}
    assert statement["Action"] == "s3:PutObject"
    assert statement["Condition"]["ArnLike"] == {
        "aws:SourceArn": {"Fn::GetAtt": ["ArtifactBucket", "Arn"]}
    }
    log_bucket = TEMPLATE.resources["AccessLogBucket"]["Properties"]
    assert log_bucket["PublicAccessBlockConfiguration"]["BlockPublicPolicy"] is True


@pytest.mark.parametrize("logical_id", LLM_FUNCTIONS)
def test_llm_functions_reserve_the_concurrency_parameter(logical_id):
    props = TEMPLATE.resources[logical_id]["Properties"]
    assert props["ReservedConcurrentExecutions"] == {
        "Fn::If": [
            "ReserveLlmConcurrency",
            {"Ref": "LlmReservedConcurrency"},
            {"Ref": "AWS::NoValue"},
        ]
    }


def test_concurrency_parameter_defaults_to_no_reservation():
    parameter = TEMPLATE.body["Parameters"]["LlmReservedConcurrency"]
    assert parameter["Type"] == "Number" and parameter["Default"] == -1
    assert TEMPLATE.body["Conditions"]["ReserveLlmConcurrency"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "LlmReservedConcurrency"}, -1]}]
    }


def test_every_llm_function_is_covered():
    llm = {i for i, spec in TEMPLATE.of_type("AWS::Serverless::Function").items()
           if "functions/llm/" in str(spec["Properties"].get("CodeUri"))}  # fmt: skip
    assert llm == set(LLM_FUNCTIONS)
