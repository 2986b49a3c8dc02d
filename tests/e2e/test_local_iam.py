"""IAM in a local run: a grant deleted from an agent's role in a copy of the template makes the
call come back AccessDenied, as on AWS; the model gets it as an error result and the run goes on."""

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
SQL_GRANT = {"LambdaInvokePolicy": {"FunctionName": {"Ref": "SqlToolFunction"}}}
SUB_AGENT_GRANT = {
    "StepFunctionsExecutionPolicy": {
        "StateMachineName": {"Fn::GetAtt": ["SqlAgentStateMachine", "Name"]}
    }
}


def run(
    template: Path, agent: str, turns: list[dict[str, Any]], *options: str, status: int = 0
) -> str:
    script = template.parent / "iam.script.json"
    script.write_text(json.dumps({"turns": turns}))
    command = [sys.executable, "-m", "sfn_agents.cli", "run", agent, "question"]
    command += ["--template", str(template), "--script", str(script), *options]
    result = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert result.returncode == status, result.stdout + result.stderr
    return result.stdout + result.stderr


def test_a_deleted_tool_grant_reaches_the_model_as_access_denied(template_without_policy):
    turns = [
        {
            "text": "Counting.",
            "tool_calls": [{"name": "execute_sql_query", "input": {"sql_query": "SELECT 1"}}],
        },
        {"text": "The query was refused."},
    ]
    output = json.loads(
        run(
            template_without_policy("SqlAgentStateMachine", SQL_GRANT), "sql-agent", turns, "--json"
        )
    )

    assert (
        output["status"] == "SUCCEEDED" and output["output"]["answer"] == "The query was refused."
    )
    (result,) = [b for m in output["messages"] for b in m["content"] if b["type"] == "tool_result"]
    assert result["is_error"] is True
    assert result["content"].startswith(
        "Error: tool execute_sql_query failed (Lambda.AWSLambdaException): User: arn:aws:sts::"
        "123456789012:assumed-role/sfn-agents-dev-SqlAgentStateMachineRole/"
    )
    assert (
        " is not authorized to perform: lambda:InvokeFunction on resource: arn:aws:lambda:"
        "us-east-1:123456789012:function:sfn-agents-dev-SqlToolFunction because no identity-based"
        " policy allows the lambda:InvokeFunction action (Service: AWSLambda; Status Code: 403;"
        " Error Code: AccessDeniedException;"
    ) in result["content"]


def test_a_deleted_sub_agent_grant_shows_as_access_denied(template_without_policy):
    turns = [
        {
            "text": "Asking.",
            "tool_calls": [{"name": "ask_sql_agent", "input": {"prompt": "How many teams?"}}],
        },
        {"text": "The SQL agent could not be reached."},
    ]
    template = template_without_policy("AnalyticsSupervisorStateMachine", SUB_AGENT_GRANT)
    output = run(template, "analytics-supervisor", turns)

    (denied,) = [
        line for line in output.splitlines() if line.lstrip().startswith("✗ ask_sql_agent")
    ]
    assert "failed (StepFunctions.AWSStepFunctionsException): User: arn:aws:sts::" in denied
    assert "is not authorized to perform: states:StartExecution" in denied
    assert "status SUCCEEDED" in output and "The SQL agent could not be reached." in output


def test_a_function_without_its_bucket_grant_is_denied_its_own_calls(template_without_policy):
    grant = {"S3CrudPolicy": {"BucketName": {"Ref": "ArtifactBucket"}}}
    template = template_without_policy("AnthropicLlmFunction", grant)
    output = run(template, "sql-agent", [{"text": "unused"}], status=1)

    assert (
        "AccessDenied) when calling the PutObject operation: User: arn:aws:sts::123456789012:"
        "assumed-role/sfn-agents-dev-AnthropicLlmFunctionRole/sfn-agents-dev-AnthropicLlmFunction"
        " is not authorized to perform: s3:PutObject on resource: arn:aws:s3:::"
        "sfn-agents-dev-artifactbucket/conversations/sql-agent/"
    ) in output
