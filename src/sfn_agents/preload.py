"""Python sandboxes started before the engine: a function's process imports its libraries (an
SDK takes seconds) while the engine imports moto and deploys, then the function's sandbox adopts
it with the whole environment (see preloader/python_sandbox.py, which runs the handler in that
process only when that is the same as a fresh one, and else starts a fresh one in its place)."""

import contextlib
import json
import resource
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

PRELOADER = Path(__file__).parent / "preloader" / "python_sandbox.py"


def requirements(dirs: Sequence[Path]) -> list[str]:
    """The requirement lines of a function's code directory and layers."""
    lines: list[str] = []
    for directory in dirs:
        path = directory / "requirements.txt"
        if path.is_file():
            lines += [line.strip() for line in path.read_text().splitlines()]
    return [line for line in lines if line and not line.startswith(("#", "-"))]


def limit_memory(process: subprocess.Popen[bytes], memory_mb: int) -> None:
    """A function's MemorySize as its process's data-segment limit, set from here (preexec_fn is
    unsafe with threads): every later allocation is checked against it."""
    if memory_mb:
        size = memory_mb * 1024 * 1024
        with contextlib.suppress(ProcessLookupError):  # already gone: reported as an exit
            resource.prlimit(process.pid, resource.RLIMIT_DATA, (size, size))


def start(
    cwd: Path, env: Mapping[str, str], dists: Sequence[str], memory_mb: int = 0
) -> subprocess.Popen[bytes]:
    """A process importing ``dists`` (within ``memory_mb``) until ``adopt`` tells it what to
    run."""
    process = subprocess.Popen(
        [sys.executable, str(PRELOADER), *dists],
        cwd=cwd,
        env=dict(env),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # as a sandbox's: Ctrl-C reaches the engine, which stops it
    )
    limit_memory(process, memory_mb)
    assert process.stdin is not None
    process.stdin.write(json.dumps(dict(env)).encode() + b"\n")  # what it was started with
    process.stdin.flush()
    return process


def adopt(
    process: subprocess.Popen[bytes], command: Sequence[str], cwd: Path, env: Mapping[str, str]
) -> bool:
    """Hand ``process`` its command; False if it is gone (a fresh process is needed)."""
    assert process.stdin is not None
    spec = {"command": list(command), "cwd": str(cwd), "env": dict(env)}
    try:
        process.stdin.write(json.dumps(spec).encode() + b"\n")
        process.stdin.close()
    except OSError:
        discard(process)
        return False
    return True


def discard(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(OSError):
        process.kill()
    process.wait()
    for stream in (process.stdin, process.stdout):
        if stream is not None:
            with contextlib.suppress(OSError):
                stream.close()
