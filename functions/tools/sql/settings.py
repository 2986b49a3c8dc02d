"""The SQL tool's settings, read once from the environment at import and validated.

SQL_DATABASE_URI        empty: the bundled sample database (data/baseball.sqlite);
                        a file: PATH, file:PATH or sqlite:///PATH, relative paths starting at the
                        caller's working directory (in Lambda, this function's directory);
                        or s3://bucket/key, downloaded to /tmp on first use.
                        Checked on first use: a bad value is a clear error result, not a crash.
SQL_ROW_LIMIT           most rows a query returns (default 200)
SQL_TIME_LIMIT_SECONDS  longest a query may run (default 5)
"""

import math
import os
from pathlib import Path

HERE = Path(__file__).resolve().parent
BUNDLED_DATABASE = HERE / "data" / "baseball.sqlite"


class SettingsError(ValueError):
    """An environment variable holds a value the SQL tool cannot use."""


def _positive(name: str, default: str, kind: type[int] | type[float]) -> float:
    raw = os.environ.get(name, "").strip() or default
    try:
        value = kind(raw)
    except ValueError:
        value = 0
    if not math.isfinite(value) or value <= 0:
        raise SettingsError(f"{name}={raw!r} must be a positive {kind.__name__}")
    return value


DATABASE_URI = os.environ.get("SQL_DATABASE_URI", "").strip()
CALLER_DIRECTORY = Path.cwd()
ROW_LIMIT = int(_positive("SQL_ROW_LIMIT", "200", int))
TIME_LIMIT_SECONDS = _positive("SQL_TIME_LIMIT_SECONDS", "5", float)
