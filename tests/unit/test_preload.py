"""Python sandboxes started early (sfn_agents.preload): the process imports a function's libraries,
then runs the command it is handed in that process only when that is what a fresh process would
do, and otherwise becomes a fresh process; on Linux, forked from a server that imported what the
functions share."""

import json
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sfn_agents import preload

PROBE = """
import json, os, sys
print(json.dumps({
    "preloaded": "settings_reader" in sys.modules,
    "setting": os.environ.get("PROBE_SETTING"),
    "path0": sys.path[0],
    "path1": sys.path[1],
    "parent": os.getppid(),
    "argv": sys.argv[1:],
    "stdin": sys.stdin.read(),
}))
"""


@pytest.fixture
def code(tmp_path: Path) -> Path:
    """A function's directory with a probe module, and a library (an installed distribution,
    settings_reader) that reads PROBE_SETTING as it is imported, as some libraries do."""
    (tmp_path / "probe.py").write_text(PROBE)
    library = tmp_path / "lib"
    (library / "settings_reader-1.0.dist-info").mkdir(parents=True)
    (library / "settings_reader-1.0.dist-info" / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: settings_reader\nVersion: 1.0\n"
    )
    (library / "settings_reader-1.0.dist-info" / "top_level.txt").write_text("settings_reader\n")
    (library / "settings_reader.py").write_text(
        "import os\nSETTING = os.environ.get('PROBE_SETTING', 'default')\n"
    )
    return tmp_path


def _env(code: Path, **extra: str) -> dict[str, str]:
    return {"PATH": os.environ["PATH"], "PYTHONPATH": str(code / "lib"), **extra}


def _run(
    code: Path, early: dict[str, str], final: dict[str, str], starter: Any = preload.start
) -> dict[str, Any]:
    process = starter(code, early, ["settings_reader==1.0"])
    assert preload.adopt(process, [sys.executable, "-m", "probe", "a", "b"], code, final)
    assert process.stdout is not None
    out = process.stdout.read()
    assert process.wait(timeout=60) == 0, out
    process.stdout.close()
    return json.loads(out.decode().splitlines()[-1])


def test_the_same_environment_runs_in_the_preloaded_process(code):
    env = _env(code, PROBE_SETTING="x")
    seen = _run(code, env, {**env, "LATE": "known only at adoption"})
    assert seen == {
        "preloaded": True,
        "setting": "x",
        "path0": str(code),  # as `python -m` has it, not the preloader's directory
        "path1": str(code / "lib"),
        "parent": os.getpid(),
        "argv": ["a", "b"],
        "stdin": "",
    }


def test_a_distribution_without_top_level_txt_is_imported_by_its_record(code):
    """Its modules are the first parts of the paths RECORD lists (not its metadata directory,
    nor a __pycache__, which is no module to import)."""
    info = code / "lib" / "settings_reader-1.0.dist-info"
    (info / "top_level.txt").unlink()
    (info / "RECORD").write_text(
        "settings_reader.py,sha256=x,10\n"
        "__pycache__/settings_reader.cpython-313.pyc,,\n"
        '"settings_reader-1.0.dist-info/METADATA",,\n'
    )
    env = _env(code)
    assert _run(code, env, env)["preloaded"]


def test_a_variable_the_imports_read_that_changed_means_a_fresh_process(code):
    seen = _run(code, _env(code), _env(code, PROBE_SETTING="set later"))
    assert seen["preloaded"] is False
    assert seen["setting"] == "set later"
    assert seen["argv"] == ["a", "b"]


def test_variables_nothing_read_may_change(code):
    seen = _run(code, _env(code), _env(code, AWS_LAMBDA_RUNTIME_API="127.0.0.1:1"))
    assert seen["preloaded"] is True


def test_a_changed_start_up_variable_means_a_fresh_process(code):
    seen = _run(code, _env(code), _env(code, PYTHONWARNINGS="error"))
    assert seen["preloaded"] is False


def test_a_process_never_adopted_ends_when_its_input_closes(code):
    process = preload.start(code, _env(code), ["settings_reader==1.0"])
    assert process.stdin is not None
    process.stdin.close()
    assert process.wait(timeout=60) == 0
    preload.discard(process)


def test_a_preloaded_process_that_is_gone_is_not_adopted(code):
    process = preload.start(code, _env(code), [])
    process.kill()
    process.wait()
    assert not preload.adopt(process, [sys.executable, "-m", "probe"], code, _env(code))


@pytest.fixture
def forks(code: Path) -> Iterator[preload.ForkServer]:
    """A fork server that imported settings_reader with the functions' shared environment."""
    server = preload.ForkServer(_env(code), ["settings_reader==1.0"])
    yield server
    server.stop()


def test_a_forked_process_shares_the_server_s_imports_and_is_this_process_s_child(code, forks):
    env = _env(code, LATE="known only at adoption")
    seen = _run(code, _env(code), env, forks.start)
    assert seen["preloaded"] is True
    assert seen["parent"] == os.getpid()  # reparented to its engine, which waits for it
    assert (seen["path0"], seen["path1"], seen["argv"]) == (
        str(code),
        str(code / "lib"),
        ["a", "b"],
    )


def test_a_variable_the_server_s_imports_read_that_differs_means_a_fresh_process(code, forks):
    env = _env(code, PROBE_SETTING="this function's")
    seen = _run(code, env, env, forks.start)
    assert seen["preloaded"] is False
    assert seen["setting"] == "this function's"


def test_a_function_s_own_pythonpath_entries_come_after_the_server_s(code, forks, tmp_path):
    own = tmp_path / "own"
    own.mkdir()
    env = _env(code, PYTHONPATH=f"{code / 'lib'}:{own}")
    seen = _run(code, env, env, forks.start)
    assert seen["preloaded"] is True
    assert (seen["path0"], seen["path1"]) == (str(code), str(code / "lib"))
    (own / "settings_reader.py").write_text("SETTING = 'a copy'\n")  # shadows what is imported
    seen = _run(code, env, env, forks.start)
    assert seen["preloaded"] is False


def test_processes_forked_before_the_server_stopped_still_run(code, forks):
    process = forks.start(code, _env(code), ["settings_reader==1.0"])
    assert process.pid > 0  # (waits for the server's reply)
    forks.stop()
    assert preload.adopt(process, [sys.executable, "-m", "probe"], code, _env(code))
    assert process.stdout is not None
    out = process.stdout.read()
    assert process.wait(timeout=60) == 0, out
    process.stdout.close()
    assert json.loads(out.decode().splitlines()[-1])["preloaded"] is True
    later = _run(code, _env(code), _env(code), forks.start)  # a process of its own now
    assert later["preloaded"] is True


def test_a_server_that_died_leaves_each_function_a_process_of_its_own(code, forks):
    assert forks._process is not None
    forks._process.kill()  # as if it crashed
    forks._process.wait()
    time.sleep(0.2)  # its end of the socket is closed
    seen = _run(code, _env(code), _env(code), forks.start)
    assert seen["preloaded"] is True and seen["parent"] == os.getpid()
