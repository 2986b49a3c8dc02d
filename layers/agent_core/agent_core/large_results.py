"""Tool results of any size: content above INLINE_LIMIT characters goes to the artifact bucket and
the model gets a preview plus the object's reference instead (docs/contract.md, "Large results").

The limits keep a whole turn inside Step Functions' 256 KiB state limit: the LLM function answers
at most MAX_PARALLEL_CALLS calls per turn, and MAX_PARALLEL_CALLS * INLINE_LIMIT plus the envelope
stays well under 256 KiB however large each tool's real output is (Lambda allows 6 MB)."""

import hashlib
import os
import re
from typing import Any

INLINE_LIMIT = 16_384
PREVIEW_CHARS = 4_096
MAX_PARALLEL_CALLS = 12
MAX_TOOL_INPUT_BYTES = 65_536
PREFIX = "tool-results"
_SAFE = re.compile(r"[^A-Za-z0-9_-]")


def object_key(tool_use_id: str, content: str) -> str:
    """Content-addressed, so a retried call rewrites the same object."""
    digest = hashlib.sha256(content.encode()).hexdigest()[:32]
    return f"{PREFIX}/{_SAFE.sub('_', tool_use_id)[:80]}/{digest}.txt"


def preview(content: str, where: str) -> str:
    return (
        f"{content[:PREVIEW_CHARS]}\n[result truncated: {len(content)} characters in all; "
        f"the first {PREVIEW_CHARS} are shown. Full result: {where}]"
    )


def bound(result: dict[str, Any], bucket: str | None = None, s3: Any = None) -> dict[str, Any]:
    """``result`` (a tool_result) with oversized content moved to S3 and replaced by a preview."""
    content = result.get("content")
    if not isinstance(content, str) or len(content) <= INLINE_LIMIT:
        return result
    bucket = bucket or os.environ.get("ARTIFACT_BUCKET")
    if not bucket:
        return {**result, "content": preview(content, "not stored (no ARTIFACT_BUCKET)")}
    if s3 is None:
        import boto3

        s3 = boto3.client("s3")
    key = object_key(str(result.get("tool_use_id", "")), content)
    s3.put_object(
        Bucket=bucket, Key=key, Body=content.encode(), ContentType="text/plain; charset=utf-8"
    )
    return {
        **result,
        "content": preview(content, f"s3://{bucket}/{key}"),
        "content_ref": {"bucket": bucket, "key": key, "chars": len(content)},
    }
