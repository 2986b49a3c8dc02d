"""Fixtures the unit tests share: moto servers of their own, botocore retries without sleeping."""

import contextlib
import logging
from collections.abc import Iterator

import pytest
from botocore.retries import standard
from moto.core.config import default_user_config
from moto.server import ThreadedMotoServer

from sfn_agents import jsonata_bridge, moto_executions, moto_nested_executions


@contextlib.contextmanager
def _moto_server() -> Iterator[tuple[str, int]]:
    """A moto server (every service) on a free port: its URL and port."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        port = server.get_host_and_port()[1]
        yield f"http://127.0.0.1:{port}", port
    finally:
        server.stop()


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    """The URL of a moto server of the test module's own."""
    with _moto_server() as (url, _port):
        yield url


@pytest.fixture(scope="module")
def moto_sfn_endpoint() -> Iterator[str]:
    """The URL of a moto server that runs state machines as the local engine has it: JSONata,
    nested executions, and MOTO_PORT naming the server so the engine can call back into it."""
    for name in ("werkzeug", "moto"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    jsonata_bridge.install()
    moto_nested_executions.install()
    moto_executions.install()  # names unnamed executions, as AWS does
    default_user_config.setdefault("stepfunctions", {})["execute_state_machine"] = True
    with _moto_server() as (url, port), pytest.MonkeyPatch.context() as env:
        env.setenv("MOTO_PORT", str(port))
        yield url


@pytest.fixture
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """botocore's retries keep their count and classification, without the sleeping."""
    monkeypatch.setattr(standard.ExponentialBackoff, "delay_amount", lambda self, context: 0)
