"""Python sandboxes started before the engine: a function's process imports its libraries (an
SDK takes seconds) while the engine imports moto and deploys, then the function's sandbox adopts
it with the whole environment (see preloader/python_sandbox.py, which runs the handler in that
process only when that is the same as a fresh one, and else starts a fresh one in its place).

On Linux the processes are forked from one fork server that has imported what the functions
share (boto3, common distributions) once, instead of each process spending ~0.5 s of CPU on them.
SFN_AGENTS_FORK_SERVER=off turns it off."""

import contextlib
import ctypes
import json
import os
import resource
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Protocol

PRELOADER = Path(__file__).parent / "preloader" / "python_sandbox.py"
_PR_SET_CHILD_SUBREAPER = 36
# AWS_LAMBDA_INITIALIZATION_TYPE, as Lambda sets it: a sandbox started ahead of its first invocation
# is initialised as provisioned concurrency's are.
ON_DEMAND, PROVISIONED = "on-demand", "provisioned-concurrency"


class Process(Protocol):
    """What sandboxes use of a process: subprocess.Popen's, or a ForkedProcess's."""

    @property
    def pid(self) -> int: ...
    @property
    def stdin(self) -> IO[bytes] | None: ...
    @property
    def stdout(self) -> IO[bytes] | None: ...

    def poll(self) -> int | None: ...
    def wait(self, timeout: float | None = None) -> int: ...
    def kill(self) -> None: ...


def requirements(dirs: Sequence[Path]) -> list[str]:
    """The requirement lines of a function's code directory and layers."""
    lines: list[str] = []
    for directory in dirs:
        path = directory / "requirements.txt"
        if path.is_file():
            lines += [line.strip() for line in path.read_text().splitlines()]
    return [line for line in lines if line and not line.startswith(("#", "-"))]


def limit_memory(process: Process, memory_mb: int) -> None:
    """A function's MemorySize as its process's data-segment limit, set from here (preexec_fn is
    unsafe with threads): every later allocation is checked against it."""
    if memory_mb:
        size = memory_mb * 1024 * 1024
        with contextlib.suppress(ProcessLookupError):  # already gone: reported as an exit
            if process.pid > 0:  # (a fork that failed has none)
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


def adopt(process: Process, command: Sequence[str], cwd: Path, env: Mapping[str, str]) -> bool:
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


def discard(process: Process) -> None:
    with contextlib.suppress(OSError):
        process.kill()
    process.wait()
    for stream in (process.stdin, process.stdout):
        if stream is not None:
            with contextlib.suppress(OSError):
                stream.close()


class ForkedProcess:
    """A process the fork server forks, reparented to this one: Popen's poll, wait and kill over
    its pid, which the server's reply gives (until then it counts as running)."""

    def __init__(self, stdin: IO[bytes], stdout: IO[bytes], memory_mb: int) -> None:
        self.stdin, self.stdout, self.memory_mb = stdin, stdout, memory_mb
        self.returncode: int | None = None
        self._pid = 0
        self._forked = threading.Event()
        self._lock = threading.Lock()

    def forked(self, pid: int | None) -> None:
        """The server's reply: the pid, or None if it did not fork (the process failed)."""
        if not pid:
            self.returncode = 1
        self._pid = pid or 0
        self._forked.set()
        limit_memory(self, self.memory_mb)

    @property
    def pid(self) -> int:
        self._forked.wait()
        return self._pid

    def poll(self) -> int | None:
        with self._lock:
            if self.returncode is None and self._forked.is_set():
                try:
                    pid, status = os.waitpid(self._pid, os.WNOHANG)
                except ChildProcessError:  # not ours after all: gone, its status unknown
                    self.returncode = -signal.SIGKILL
                else:
                    if pid:
                        self.returncode = os.waitstatus_to_exitcode(status)
            return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while (code := self.poll()) is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(f"pid {self._pid}", timeout or 0)
            time.sleep(0.01)
        return code

    def kill(self) -> None:
        if self.pid and self.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self._pid, signal.SIGKILL)


def _become_subreaper() -> bool:
    """Adopt orphaned descendants (Linux): the fork server's processes become our children."""
    if not sys.platform.startswith("linux"):
        return False
    libc = ctypes.CDLL(None, use_errno=True)
    return libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0


class ForkServer:
    """Forks preloaded processes from one process that imported ``shared`` (and boto3) in
    ``env``, the environment the functions share. Requests do not wait for the server (it may
    still be importing): a reader thread hands each process its pid as the replies come, in
    order. Where there is no such server (not Linux), ``start`` is the module's."""

    def __init__(self, env: Mapping[str, str], shared: Sequence[str]) -> None:
        self._lock = threading.Lock()
        self._waiting: list[ForkedProcess] = []  # sent, not yet answered, in order
        self._channel: socket.socket | None = None
        self._process: subprocess.Popen[bytes] | None = None
        if os.environ.get("SFN_AGENTS_FORK_SERVER") == "off" or not _become_subreaper():
            return
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self._process = subprocess.Popen(
            [sys.executable, str(PRELOADER), "--fork-server", str(theirs.fileno()), *shared],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            pass_fds=[theirs.fileno()],
            start_new_session=True,
        )
        theirs.close()
        assert self._process.stdin is not None
        self._process.stdin.write(json.dumps(env).encode() + b"\n")  # what it was started with
        self._process.stdin.close()
        self._channel = ours
        threading.Thread(target=self._read_replies, args=(ours,), daemon=True).start()

    def start(
        self, cwd: Path, env: Mapping[str, str], dists: Sequence[str], memory_mb: int = 0
    ) -> Process:
        if self._channel is None:
            return start(cwd, env, dists, memory_mb)
        stdin_r, stdin_w = os.pipe()
        output_r, output_w = os.pipe()
        process = ForkedProcess(os.fdopen(stdin_w, "wb"), os.fdopen(output_r, "rb"), memory_mb)
        request = json.dumps({"cwd": str(cwd), "env": dict(env), "dists": list(dists)})
        try:
            with self._lock:
                self._waiting.append(process)
                socket.send_fds(self._channel, [request.encode()], [stdin_r, output_w])
        except OSError:  # the server is gone: a process of its own
            with self._lock:
                self._waiting.remove(process)
            process.forked(None)
            discard(process)
            return start(cwd, env, dists, memory_mb)
        finally:
            os.close(stdin_r)
            os.close(output_w)
        return process

    def _read_replies(self, channel: socket.socket) -> None:
        while True:
            try:
                reply = channel.recv(256)
            except OSError:
                reply = b""
            with self._lock:
                if not reply:  # the server ended: what it did not answer never forked
                    waiting, self._waiting = self._waiting, []
                    break
                process = self._waiting.pop(0)
            process.forked(json.loads(reply)["pid"])
        for process in waiting:
            process.forked(None)

    def stop(self) -> None:
        """End the server; the processes it forked are this process's children and stay."""
        if self._channel is not None:
            self._channel.shutdown(socket.SHUT_RDWR)
            self._channel.close()
            self._channel = None
        if self._process is not None:
            self._process.kill()
            self._process.wait()
            self._process = None
