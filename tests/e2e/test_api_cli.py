"""`sfn-agents local start` serves the template's API on --api-port beside the engine, with the
key from SFN_AGENTS_API_KEY or a generated one it prints."""

import json
import os
import re
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from test_local_endpoint import API_LINE, FREE_PORTS, read_until

ROOT = Path(__file__).resolve().parents[2]
AGENTS = len(list((ROOT / "registry" / "agents").glob("*.json")))


def agents(url: str, key: str) -> int:
    request = urllib.request.Request(url + "agents", headers={"x-api-key": key})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return len(json.loads(response.read())["agents"])
    except urllib.error.HTTPError as error:
        return -error.code


@pytest.mark.parametrize("given", ["", "chosen-key"])
def test_local_start_serves_the_api_with_a_given_or_printed_key(given):
    env = {k: v for k, v in os.environ.items() if k != "SFN_AGENTS_API_KEY"}
    if given:
        env["SFN_AGENTS_API_KEY"] = given
    command = [sys.executable, "-m", "sfn_agents.cli", "local", "start", *FREE_PORTS]
    server = subprocess.Popen(
        [*command, "--script", "events/sql-approval-ui.script.json"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url, before = read_until(server, API_LINE)
        key_line, after = read_until(server, re.compile(r"  (API key: .*)"))
        lines = before + after
        if given:
            assert key_line == "API key: from SFN_AGENTS_API_KEY" and given not in "".join(lines)
            key = given
        else:
            key = key_line.removeprefix("API key: ").split()[0]
            assert len(key) >= 24
        assert agents(url, key) == AGENTS
        assert agents(url, key + "x") == -403
    finally:
        server.terminate()
        server.wait(timeout=30)
