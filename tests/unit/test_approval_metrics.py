"""Approvals are counted from the approvals table's stream: the real handler, given the changes
agent_core.approvals writes (whoever wrote them), emits one ApprovalsRequested per request
recorded and one ApprovalsAnswered per decision, with the declared dimension sets; the template's
event filters pass exactly the changes that count."""

from pathlib import Path
from typing import Any

import pytest
from boto3.dynamodb.types import TypeSerializer
from provider_cases import LambdaContext
from test_telemetry import declared, emf_documents, emitted

from sfn_agents import moto_streams
from sfn_agents.template import Template, stream_events

ROOT = Path(__file__).resolve().parents[2]
CONTEXT = LambdaContext("ApprovalMetricsFunction")
SERIALIZE = TypeSerializer().serialize
PENDING = {
    "approval_id": "0123456789abcdef",
    "status": "pending",
    "agent": "sql-approval-agent",
    "run_id": "run-1",
    "tool": "execute_sql_query",
    "recorded_at": 1_800_000_000,
    "task_token": "token",
}
LEASE = {"approval_id": "#refresh", "status": "lease", "owner": "x", "expires": 1_800_000_020}


def answered(status: str, agent: str = "sql-approval-agent") -> dict[str, Any]:
    return {
        **PENDING,
        "agent": agent,
        "status": status,
        "decision": "{}",
        "reviewer": {"name": "a"},
    }


def change(name: str, old: dict[str, Any] | None, new: dict[str, Any] | None) -> dict[str, Any]:
    """A stream record as Lambda delivers it (NEW_AND_OLD_IMAGES)."""
    images = {"OldImage": old, "NewImage": new}
    return {
        "eventID": "1",
        "eventName": name,
        "eventSource": "aws:dynamodb",
        "dynamodb": {
            "Keys": {"approval_id": SERIALIZE((old or new or {})["approval_id"])},
            "StreamViewType": "NEW_AND_OLD_IMAGES",
            **{k: SERIALIZE(v)["M"] for k, v in images.items() if v is not None},
        },
    }


COUNTED = [
    change("INSERT", None, PENDING),
    change("MODIFY", PENDING, answered("approved")),
    change("MODIFY", {**PENDING, "agent": "ops-agent"}, answered("rejected", "ops-agent")),
]
IGNORED = [
    change("INSERT", None, LEASE),
    change("REMOVE", LEASE, None),
    change("MODIFY", PENDING, {**PENDING, "status": "expired"}),  # its run ended
    change("MODIFY", answered("approved"), {**answered("approved"), "status": "expired"}),
    change("MODIFY", PENDING, PENDING),
    change("REMOVE", answered("rejected"), None),
]


@pytest.fixture
def handler(load_function):
    env = {"POWERTOOLS_SERVICE_NAME": "approval-metrics", "ENVIRONMENT_NAME": "test"}
    return load_function("functions/approval_metrics", env=env)


def test_each_request_and_each_decision_counts_once(handler, capsys):
    assert handler({"Records": IGNORED + COUNTED + IGNORED}, CONTEXT) is None
    documents = emf_documents(capsys.readouterr().out)
    counts = [
        (name, document.get("agent"), document.get("decision"))
        for document in documents
        for name in ("ApprovalsRequested", "ApprovalsAnswered")
        if document.get(name) == [1.0]
    ]
    assert counts == [
        ("ApprovalsRequested", "sql-approval-agent", None),
        ("ApprovalsAnswered", "sql-approval-agent", "approved"),
        ("ApprovalsAnswered", "ops-agent", "rejected"),
    ]
    assert len(documents) == 3
    assert {d["service"] for d in documents} == {"approval-metrics"}
    assert {d["environment"] for d in documents} == {"test"}
    assert emitted(documents) == declared("ApprovalsRequested", "ApprovalsAnswered")


def test_changes_that_do_not_count_emit_nothing(handler, capsys):
    handler({"Records": IGNORED}, CONTEXT)
    assert emf_documents(capsys.readouterr().out) == []


def test_the_template_filters_pass_exactly_the_changes_that_count():
    props = Template.load(ROOT / "template.yaml").function_properties("ApprovalMetricsFunction")
    (event,) = stream_events(props)
    patterns = moto_streams.patterns(event["FilterCriteria"])

    def passes(record: dict[str, Any]) -> bool:
        return any(moto_streams.matches(pattern, record) for pattern in patterns)

    assert [passes(r) for r in COUNTED] == [True] * len(COUNTED)
    assert [passes(r) for r in IGNORED] == [False] * len(IGNORED)
