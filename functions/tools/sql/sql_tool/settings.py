"""The SQL tool's settings (agent_core.settings: explicit values, then the environment).

SQL_DATABASE_URI        empty: the bundled sample database (data/baseball.sqlite);
                        a file: PATH, file:PATH or sqlite:///PATH, relative paths starting at the
                        caller's working directory (in Lambda, this function's directory);
                        or s3://bucket/key, downloaded to /tmp on first use.
                        Checked on first use: a bad value is a clear error result, not a crash.
SQL_ROW_LIMIT           most rows a query returns (default 200)
SQL_TIME_LIMIT_SECONDS  longest a query may run (default 5)
"""

from dataclasses import dataclass
from pathlib import Path

from agent_core.settings import Settings, env

BUNDLED_DATABASE = Path(__file__).resolve().parents[1] / "data" / "baseball.sqlite"


@dataclass(frozen=True, kw_only=True)
class SqlSettings(Settings):
    database_uri: str = env("SQL_DATABASE_URI", "")
    row_limit: int = env("SQL_ROW_LIMIT", 200, minimum=1)
    time_limit_seconds: float = env("SQL_TIME_LIMIT_SECONDS", 5.0, minimum=0.001)
