"""A function's clients are its sandbox's init work: built once per environment, though Lambda's
runtime sets a new _X_AMZN_TRACE_ID before each invocation."""

import pytest
from agent_core.settings import per_environment


def test_clients_outlive_the_per_invocation_trace_id_but_not_a_changed_setting(
    monkeypatch: pytest.MonkeyPatch,
):
    @per_environment
    def clients() -> object:
        return object()

    monkeypatch.setenv("_X_AMZN_TRACE_ID", "Root=1-00000000-000000000000000000000001")
    first = clients()
    monkeypatch.setenv("_X_AMZN_TRACE_ID", "Root=1-00000000-000000000000000000000002")
    assert clients() is first
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "another-function")
    assert clients() is not first
