"""Typed function settings: explicit values first, then environment variables, validated once.

A function declares its settings as a subclass of ``Settings`` whose fields name their variable::

    @dataclass(frozen=True, kw_only=True)
    class SqlSettings(Settings):
        row_limit: int = env("SQL_ROW_LIMIT", 200)

``SqlSettings.from_env(row_limit=5)`` takes ``row_limit`` as given and every other field from the
environment (or its default), checks types and minimums, and raises SettingsError naming the
variable. Without explicit values the result is cached per distinct environment, so a handler can
call ``from_env()`` on every invocation: in Lambda it validates once, at the first invocation, and
in the local engine each function gets the settings of its own environment.
"""

import dataclasses
import functools
import math
import os
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any, Self, cast, get_type_hints

_REQUIRED: Any = dataclasses.MISSING


class SettingsError(RuntimeError):
    """A required environment variable is missing or a value is invalid."""


def env(name: str, default: Any = _REQUIRED, *, minimum: float | None = None) -> Any:
    """A settings field read from environment variable ``name`` (required without ``default``)."""
    metadata = {"env": name, "minimum": minimum}
    return dataclasses.field(default=default, metadata=metadata)


def _parse(name: str, raw: str, kind: Any) -> Any:
    if kind in (str, str | None):
        return raw
    if kind is Path:
        return Path(raw)
    if kind is bool:
        if raw.lower() not in ("true", "false", "1", "0"):
            raise SettingsError(f"{name} must be true or false, got {raw!r}")
        return raw.lower() in ("true", "1")
    try:
        return kind(raw)
    except ValueError:
        what = "a whole number" if kind is int else "a number"
        raise SettingsError(f"{name} must be {what}, got {raw!r}") from None


@dataclasses.dataclass(frozen=True, kw_only=True)
class Settings:
    """Base of every function's settings (a frozen, hashable dataclass of ``env`` fields)."""

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            minimum = field.metadata.get("minimum")
            value = getattr(self, field.name)
            if minimum is None or not isinstance(value, int | float):
                continue
            if not math.isfinite(value) or value < minimum:
                name = field.metadata["env"]
                raise SettingsError(f"{name} must be at least {minimum}, got {value!r}")

    @classmethod
    def from_env(cls, **explicit: Any) -> Self:
        """``explicit`` values, the rest from the environment (cached when nothing is explicit)."""
        names = [field.metadata["env"] for field in dataclasses.fields(cls)]
        raw = tuple(os.environ.get(name, "").strip() for name in names)
        if not explicit:
            return cast(Self, _cached(cast(Any, cls), raw))
        return _build(cls, raw, explicit)


def _build[S: Settings](cls: type[S], raw: tuple[str, ...], explicit: dict[str, Any]) -> S:
    fields = dataclasses.fields(cls)
    unknown = set(explicit) - {field.name for field in fields}
    if unknown:
        raise TypeError(f"{cls.__name__} has no setting {', '.join(sorted(unknown))}")
    kinds = get_type_hints(cls)
    values = dict(explicit)
    for field, text in zip(fields, raw, strict=True):
        name = field.metadata["env"]
        if field.name in values:
            continue
        if text:
            values[field.name] = _parse(name, text, kinds[field.name])
        elif field.default is _REQUIRED:
            raise SettingsError(f"environment variable {name} must be set (see template.yaml)")
    return cls(**values)


@cache
def _cached(cls: Any, raw: tuple[str, ...]) -> Any:
    return _build(cls, raw, {})


PER_INVOCATION = frozenset({"_X_AMZN_TRACE_ID"})  # the runtime sets it for each invocation


def sandbox_environment() -> frozenset[tuple[str, str]]:
    """The environment a sandbox keeps across invocations: all but what the runtime sets for
    each one (Lambda's Python runtime sets ``_X_AMZN_TRACE_ID`` before every invocation)."""
    return frozenset((k, v) for k, v in os.environ.items() if k not in PER_INVOCATION)


def per_environment[T](build: Callable[[], T]) -> Callable[[], T]:
    """``build()`` (a function's clients, from its settings) once per distinct environment.

    In a Lambda sandbox that environment never changes, so this is the sandbox's init work, done
    at first use. Tests run many functions' handlers in one process, each with its own
    environment: each gets its own clients, as each would in its own sandbox."""

    @functools.lru_cache(maxsize=32)
    def built(environment: frozenset[tuple[str, str]]) -> T:
        return build()

    @functools.wraps(build)
    def current() -> T:
        return built(sandbox_environment())

    return current


@dataclasses.dataclass(frozen=True, kw_only=True)
class LlmSettings(Settings):
    """What every LLM caller reads: where conversations live, its model and SDK limits."""

    artifact_bucket: str = env("ARTIFACT_BUCKET")
    default_model: str = env("DEFAULT_MODEL")
    timeout_seconds: int = env("LLM_TIMEOUT_SECONDS", 120, minimum=1)
    max_retries: int = env("LLM_MAX_RETRIES", 2, minimum=0)


@dataclasses.dataclass(frozen=True, kw_only=True)
class KeyedLlmSettings(LlmSettings):
    """An LLM caller whose provider needs an API key, from this Secrets Manager secret."""

    api_keys_secret: str = env("LLM_API_KEYS_SECRET")
