"""The hostile-input corpus of scripts/hostile_inputs.py against every Python function's real
handler, the SQL tool and the remote worker: nothing may fail."""

import importlib.util
import logging
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "hostile_inputs.py"
spec = importlib.util.spec_from_file_location("hostile_inputs", SCRIPT)
assert spec and spec.loader
hostile = importlib.util.module_from_spec(spec)
spec.loader.exec_module(hostile)

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


@pytest.fixture(scope="module")
def response_url():
    with hostile.aws_sandbox() as url:
        yield url


@pytest.fixture(autouse=True)
def quiet_logs():
    logging.disable(logging.CRITICAL)
    yield
    logging.disable(logging.NOTSET)


@pytest.mark.parametrize("target", hostile.TARGETS, ids=lambda t: t.category)
def test_every_malformed_event_gets_the_contracts_answer(target, response_url):
    outcome = hostile.run_events(target, response_url)
    assert outcome.tried > 30
    assert outcome.failures == []


def test_hostile_sql_is_bounded_and_changes_nothing():
    outcome = hostile.run_sql()
    assert outcome.tried == len(hostile.HOSTILE_SQL)
    assert outcome.failures == []


def test_hostile_worker_requests_are_answered_safely():
    outcome = hostile.run_worker()
    assert outcome.tried == len(hostile.worker_requests())
    assert outcome.failures == []
