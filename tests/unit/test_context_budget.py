"""agent_core's context budget and large tool results (S3 in moto)."""

import hashlib
import json

import boto3
from agent_core import context, tools
from moto import mock_aws

from sfn_agents.scripted.script import omitted_turns


def conversation(turns: int, result_chars: int) -> list[dict]:
    messages: list[dict] = [{"role": "user", "content": [{"type": "text", "text": "task"}]}]
    for turn in range(turns):
        use = {"type": "tool_use", "id": f"t{turn}", "name": "q", "input": {"n": turn}}
        result = {"type": "tool_result", "tool_use_id": f"t{turn}", "content": "x" * result_chars}
        messages += [
            {"role": "assistant", "content": [use]},
            {"role": "user", "content": [result]},
        ]
    return messages


def pairs_intact(messages: list[dict]) -> bool:
    for assistant, user in zip(messages[1::2], messages[2::2], strict=False):
        uses = [b["id"] for b in assistant["content"] if b["type"] == "tool_use"]
        results = [b["tool_use_id"] for b in user["content"] if b["type"] == "tool_result"]
        if uses != results:
            return False
    return True


def test_a_request_within_budget_is_sent_unchanged():
    messages = conversation(3, 100)
    assert context.fit("", [], messages, 10_000) is messages


def test_old_tool_results_are_cleared_first_and_pairs_stay():
    messages = conversation(5, 3_000)
    fitted = context.fit("", [], messages, 3_000)
    assert len(fitted) == len(messages) and pairs_intact(fitted)
    assert fitted[-1] == messages[-1]  # the newest results are whole
    assert "cleared to fit" in fitted[2]["content"][0]["content"]
    assert context.estimate_tokens("", [], fitted) <= 3_000
    assert messages[2]["content"][0]["content"] == "x" * 3_000  # the history is untouched


def test_then_the_oldest_turns_go_and_the_request_says_how_many():
    messages = conversation(800, 14_000)  # too many turns even with results cleared
    fitted = context.fit("", [], messages, 30_000)
    assert context.estimate_tokens("", [], fitted) <= 30_000 and pairs_intact(fitted)
    assert fitted[0]["content"][0]["text"] == "task" and fitted[-1] == messages[-1]
    dropped = len(messages) - len(fitted)
    assert dropped > 0 and f"{dropped} earlier messages were left out" in json.dumps(fitted[0])
    # The scripted model reads the same note, so it keeps its place in a script.
    assert omitted_turns(fitted) == dropped // 2


def test_default_budget_is_the_window_less_output_and_margin():
    assert context.default_budget("claude-sonnet-5-5", 4096) == 190_000 - 4096
    assert context.default_budget("some-unknown-model", 1000) == int(128_000 * 0.95) - 1000


def test_a_1_mb_result_goes_to_s3_and_the_model_gets_a_preview(monkeypatch):
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="artifacts")
        monkeypatch.setenv("ARTIFACT_BUCKET", "artifacts")
        big = "row," * 262_144  # 1 MiB
        result = tools.dispatch(
            {"name": "dump", "id": "toolu_1", "input": {}}, {"dump": lambda _: big}
        )
        assert len(result["content"]) < 5_000 and "1048576 characters" in result["content"]
        ref = result["content_ref"]
        body = s3.get_object(Bucket=ref["bucket"], Key=ref["key"])["Body"].read().decode()
        assert body == big and f"s3://artifacts/{ref['key']}" in result["content"]
        small = tools.dispatch({"name": "dump", "id": "t2", "input": {}}, {"dump": lambda _: "ok"})
        assert small["content"] == "ok" and "content_ref" not in small


def growing_conversation(turns: int):
    """The history a run holds after each turn, the same message objects extended turn by turn
    (as the warm function's store keeps them): mixed results, some too short to clear."""
    messages: list[dict] = [{"role": "user", "content": [{"type": "text", "text": "task"}]}]
    for turn in range(turns):
        uses = [
            {"type": "tool_use", "id": f"t{turn}-{n}", "name": "q", "input": {"n": n}}
            for n in range(1 + turn % 3)
        ]
        chars = 150 + 997 * turn % 9000
        results = [
            {"type": "tool_result", "tool_use_id": u["id"], "content": "r" * chars} for u in uses
        ]
        messages += [
            {"role": "assistant", "content": [{"type": "text", "text": f"step {turn}"}, *uses]},
            {"role": "user", "content": results},
        ]
        yield messages


# sha256 of every fitted request of a 260-turn run, per budget, recorded before the size memo:
# within budget, clearing only, clearing then dropping turns.
PINNED_REQUESTS = {
    1_000_000: "2cfe50e58e16be207bcc6846ff8667b181ceb7cb94a3223f45bfdedfca6847c2",
    60_000: "465bd5eb09891b40f120f81a8dd191f3c4253b9a26258e90a28b164b80e9968d",
    20_000: "254c31de4b6cd15ddce6b6ea159a69b00a82004e962479f260599766e516eaef",
}


def test_the_requests_of_a_long_run_are_pinned():
    for budget, pinned in PINNED_REQUESTS.items():
        digest = hashlib.sha256()
        for messages in growing_conversation(260):
            fitted = context.fit("system", [{"name": "q"}], messages, budget)
            digest.update(json.dumps(fitted).encode())
        assert digest.hexdigest() == pinned, budget
