"""Per-thread environment overlays, so handlers called in one process (tests, scripts; the engine
runs each function in processes of its own) each see their own environment variables, as each
would in its own Lambda sandbox, while they run in parallel.

``install()`` replaces ``os.environ`` with a mapping that consults the calling thread's overlay
first; ``overlay(env)`` applies one for the duration of a block. Writes go to the overlay when one
is active, so a function cannot change another function's environment.
"""

import os
import threading
from collections.abc import Iterator, Mapping, MutableMapping
from contextlib import contextmanager

_local = threading.local()
_REMOVED = object()


def _current() -> dict[str, object] | None:
    return getattr(_local, "overlay", None)


class ThreadEnviron(MutableMapping[str, str]):
    def __init__(self, base: MutableMapping[str, str]) -> None:
        self.base = base

    def __getitem__(self, key: str) -> str:
        layer = _current()
        if layer is not None and key in layer:
            value = layer[key]
            if value is _REMOVED:
                raise KeyError(key)
            return value  # type: ignore[return-value]
        return self.base[key]

    def __setitem__(self, key: str, value: str) -> None:
        layer = _current()
        if layer is None:
            self.base[key] = value
        else:
            layer[key] = str(value)

    def __delitem__(self, key: str) -> None:
        layer = _current()
        if layer is None:
            del self.base[key]
        else:
            if key not in self:
                raise KeyError(key)
            layer[key] = _REMOVED

    def _keys(self) -> set[str]:
        layer = _current() or {}
        present = {k for k, v in layer.items() if v is not _REMOVED}
        removed = {k for k, v in layer.items() if v is _REMOVED}
        return (set(self.base) | present) - removed

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys())

    def __len__(self) -> int:
        return len(self._keys())

    def copy(self) -> dict[str, str]:
        return dict(self)


def install() -> None:
    if not isinstance(os.environ, ThreadEnviron):
        os.environ = ThreadEnviron(os.environ)  # type: ignore[assignment]  # noqa: B003


@contextmanager
def overlay(env: Mapping[str, str]) -> Iterator[None]:
    """Run a block with ``env`` layered over the process environment, in this thread only."""
    install()
    previous = _current()
    _local.overlay = {**(previous or {}), **env}
    try:
        yield
    finally:
        _local.overlay = previous
