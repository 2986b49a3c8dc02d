"""A follower in the engine's process is woken by its run's news (sfn_agents.history_news)
instead of sleeping its poll interval through."""

import threading
import time
from typing import Any

import boto3
import pytest
from sfn_cases import create_machine

from sfn_agents import history_news
from sfn_agents.run_events import PollInterval
from sfn_agents.runner import follow_execution, start_execution

ARN = "arn:aws:states:us-east-1:123456789012:execution:m:run"


@pytest.fixture(scope="module")
def sfn(moto_sfn_endpoint: str) -> Any:
    return boto3.client("stepfunctions", endpoint_url=moto_sfn_endpoint, region_name="us-east-1")


def _publish_later(arn: str, event_id: int, seconds: float) -> None:
    timer = threading.Timer(seconds, history_news.published, (arn, event_id))
    timer.start()


def _waited(arn: str, after: int, seconds: float) -> float:
    started = time.monotonic()
    history_news.wait(arn, after, seconds)
    return time.monotonic() - started


def test_a_newer_event_wakes_its_follower_at_once():
    with history_news.following(ARN):
        _publish_later(ARN, 3, 0.1)
        assert _waited(ARN, 2, seconds=10) < 2


def test_events_already_seen_or_of_another_run_do_not_wake_it():
    with history_news.following(ARN), history_news.following(ARN + "-other"):
        _publish_later(ARN, 2, 0.05)
        _publish_later(ARN + "-other", 9, 0.1)
        assert _waited(ARN, 2, seconds=0.5) >= 0.45


def test_only_followed_runs_are_kept():
    history_news.published(ARN, 5)  # nobody follows it: nothing to remember
    with history_news.following(ARN):
        assert _waited(ARN, 0, seconds=0.3) >= 0.25
        with history_news.following(ARN):  # a second follower of the same run
            history_news.published(ARN, 1)
        assert _waited(ARN, 0, seconds=5) < 1  # still followed by the first
    assert not history_news._newest and not history_news._followers


def test_the_end_of_a_run_in_this_process_is_seen_at_once_however_long_the_interval(sfn):
    """Polls back off to 2 s after one without news; a run that waits 1 s in the engine of this
    process is still seen ending as it ends, not at the next poll."""
    definition = {
        "QueryLanguage": "JSONata",
        "StartAt": "Wait",
        "States": {"Wait": {"Type": "Wait", "Seconds": 1, "End": True}},
    }
    arn = start_execution(sfn, create_machine(sfn, definition), {})
    interval = PollInterval(fastest=0.02, slowest=10.0, backoff=100.0)
    result = follow_execution(sfn, arn, interval=interval)
    ended = sfn.describe_execution(executionArn=arn)["stopDate"].timestamp()
    assert result.status == "SUCCEEDED"
    assert time.time() - ended < 0.5
