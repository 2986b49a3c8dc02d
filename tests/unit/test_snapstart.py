"""Clients are prewarmed only in an init no request waits for: a SnapStart snapshot or a
provisioned-concurrency sandbox (what the local engine's prestarted sandboxes are), not in an
on-demand cold start."""

import pytest
from agent_core.snapstart import prewarm


@pytest.mark.parametrize(
    ("initialization", "prewarmed"),
    [("snap-start", True), ("provisioned-concurrency", True), ("on-demand", False), (None, False)],
)
def test_prewarm_runs_only_ahead_of_requests(
    monkeypatch: pytest.MonkeyPatch, initialization: str | None, prewarmed: bool
):
    if initialization is None:
        monkeypatch.delenv("AWS_LAMBDA_INITIALIZATION_TYPE", raising=False)
    else:
        monkeypatch.setenv("AWS_LAMBDA_INITIALIZATION_TYPE", initialization)
    steps: list[str] = []
    prewarm(lambda: steps.append("clients"))
    assert steps == (["clients"] if prewarmed else [])
