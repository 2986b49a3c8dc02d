"""The large-results contract's shared cases (tests/contract/large_results.json), which the Rust,
Java, Go and TypeScript helpers are tested against too, still describe the Python helper: its
preview, S3 key and content_ref, with the object stored in (moto's) S3 holding the whole content."""

import hashlib
import importlib.util
import json
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

ROOT = Path(__file__).resolve().parents[2]
CASES = json.loads((ROOT / "tests/contract/large_results.json").read_text())
_spec = importlib.util.spec_from_file_location(
    "reference_large_results", ROOT / "layers/agent_core/agent_core/large_results.py"
)
assert _spec and _spec.loader
large_results = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(large_results)


def test_the_cases_name_the_helpers_thresholds():
    assert CASES["inline_limit"] == large_results.INLINE_LIMIT == 16_384
    assert CASES["preview_chars"] == large_results.PREVIEW_CHARS == 4_096


@pytest.mark.parametrize("case", CASES["cases"], ids=lambda case: case["name"])
def test_the_python_helper_answers_each_case_as_written(case):
    content = case["unit"] * case["repeat"]
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="artifacts")
        result = large_results.bound(
            {"tool_use_id": case["tool_use_id"], "content": content}, case["bucket"] or "", s3
        )
        stored = [o["Key"] for o in s3.list_objects_v2(Bucket="artifacts").get("Contents", [])]
        ref = case["expect"]["content_ref"]
        if ref:
            body = s3.get_object(Bucket="artifacts", Key=ref["key"])["Body"].read()
            assert body.decode() == content

    expect = case["expect"]
    assert hashlib.sha256(result["content"].encode()).hexdigest() == expect["content_sha256"]
    assert result.get("content_ref") == ref
    assert stored == ([ref["key"]] if ref else [])
    if expect["content_ends_with"] is None:
        assert result["content"] == content
    else:
        assert result["content"].endswith(expect["content_ends_with"])
