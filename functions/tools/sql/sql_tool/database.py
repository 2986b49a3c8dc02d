"""Read-only access to one SQLite database: describe its schema and run bounded queries.

Every call opens its own connection, guarded four ways, so a query can neither change the database
nor leave state behind for the next one nor exhaust the function:

- read-only: a `mode=ro` URI plus `PRAGMA query_only`;
- an authorizer that allows reading, a vetted list of functions and introspection pragmas only
  (no ATTACH, no settings such as `temp_store_directory`, no `fts3_tokenizer`);
- SQLite's own limits cap every string or blob, and every row SQLite builds, at VALUE_LIMIT bytes
  before it exists (`zeroblob(500000000)` fails at once instead of allocating);
- a deadline enforced by a progress handler and, for work between two checks, by a timer that
  interrupts the connection.
"""

import hashlib
import json
import sqlite3
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from agent_core.observability import logger
from agent_core.tools import ToolError

SAMPLE_ROWS = 3
# Rows stop before their JSON reaches this size, far below Step Functions' 256 KiB payload limit.
MAX_RESULT_CHARS = 100_000
# Largest string or blob (and record) SQLite may build: no single value larger can be shown.
VALUE_LIMIT = MAX_RESULT_CHARS
# Widest result and longest statement a query may have.
COLUMN_LIMIT = 500
SQL_LIMIT = 100_000
# SQLite virtual-machine instructions between two checks of the deadline.
PROGRESS_INTERVAL = 1_000
SQLITE_HEADER = b"SQLite format 3\x00"

# Functions a query may call: SQLite's core, date, math, aggregate, window and JSON functions.
# Not printf/format: their width runs in one uninterruptible call (printf('%.*c', 2e9, 'x') spins
# for a minute even when its result is capped).
ALLOWED_FUNCTIONS = frozenset(
    """
    abs char coalesce concat concat_ws glob hex ifnull iif instr length like likelihood
    likely lower ltrim max min nullif octet_length quote random randomblob replace round
    rtrim sign soundex substr substring trim typeof unhex unicode unlikely upper zeroblob
    sqlite_version changes total_changes last_insert_rowid
    date time datetime julianday unixepoch strftime timediff
    avg count group_concat string_agg sum total
    row_number rank dense_rank percent_rank cume_dist ntile lag lead first_value last_value
    nth_value
    acos acosh asin asinh atan atan2 atanh ceil ceiling cos cosh degrees exp floor ln log log2
    log10 mod pi pow power radians sin sinh sqrt tan tanh trunc
    json json_array json_array_length json_error_position json_extract json_insert json_object
    json_patch json_remove json_replace json_set json_type json_valid json_quote
    json_group_array json_group_object -> ->>
    """.split()  # noqa: SIM905 (a word list reads better than 110 quoted strings)
)
# Pragmas a query may run: schema introspection, never a setting.
ALLOWED_PRAGMAS = frozenset(
    "table_info table_xinfo table_list index_list index_info index_xinfo foreign_key_list".split()  # noqa: SIM905
)
_READS = frozenset([sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_RECURSIVE])


class DatabaseConfigError(ToolError):
    """The configured database cannot be used: a deployment problem, not the model's."""

    def __init__(self, uri: str, problem: str) -> None:
        super().__init__(
            f"The SQL tool is misconfigured: SQL_DATABASE_URI={uri!r} {problem}. "
            "No query can fix this; tell the user that the tool's database setting needs fixing."
        )


@dataclass(frozen=True)
class S3Object:
    bucket: str
    key: str

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


def locate(uri: str, bundled: Path, base: Path) -> Path | S3Object:
    """Where SQL_DATABASE_URI points: the bundled sample when empty, an S3 object, or a file
    (a path, `file:PATH` or `sqlite:///PATH`; relative paths start at ``base``)."""
    if not uri:
        return bundled
    scheme = urlsplit(uri).scheme.lower() if "://" in uri or uri.startswith("file:") else ""
    if scheme == "s3":
        bucket, _, key = uri.split("://", 1)[1].partition("/")
        if not bucket or not key:
            raise DatabaseConfigError(uri, "is not of the form s3://bucket/key")
        return S3Object(bucket, key)
    if scheme == "sqlite":
        path = uri.split("://", 1)[1].split("?", 1)[0]
        if not path.startswith("/"):
            raise DatabaseConfigError(uri, "must be sqlite:///PATH (three slashes)")
        path = path[1:]  # sqlite:///relative, sqlite:////absolute, as SQLAlchemy writes them
    elif scheme == "file":
        parts = urlsplit(uri)
        if parts.netloc not in ("", "localhost"):
            raise DatabaseConfigError(uri, "names a remote host; only local files are supported")
        path = unquote(parts.path)
    elif scheme:
        raise DatabaseConfigError(
            uri,
            f"uses {scheme}://, but the SQL tool reads SQLite files only (a path, "
            "file:PATH, sqlite:///PATH or s3://bucket/key)",
        )
    else:
        path = uri
    if not path:
        raise DatabaseConfigError(uri, "names no file")
    return base / Path(path).expanduser()  # an absolute path replaces base


def check_sqlite_file(uri: str, path: Path) -> Path:
    try:
        with path.open("rb") as file:
            header = file.read(len(SQLITE_HEADER))
    except FileNotFoundError:
        raise DatabaseConfigError(uri, "names no existing file") from None
    except IsADirectoryError:
        raise DatabaseConfigError(uri, "names a directory, not a database file") from None
    except OSError as error:
        raise DatabaseConfigError(uri, f"cannot be read ({error.strerror})") from None
    if header != SQLITE_HEADER:
        raise DatabaseConfigError(uri, "is not an SQLite database file")
    return path


def download(source: S3Object) -> Path:
    """Copy the database to /tmp, once per URI and process."""
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    name = hashlib.sha256(str(source).encode()).hexdigest()[:16]
    target = Path(tempfile.gettempdir()) / "sfn-agents-sql" / f"{name}.sqlite"
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        boto3.client("s3").download_file(source.bucket, source.key, str(target))
    except (BotoCoreError, ClientError) as error:
        logger.exception("cannot download the SQL database", extra={"uri": str(source)})
        code = getattr(error, "response", {}).get("Error", {}).get("Code", type(error).__name__)
        raise DatabaseConfigError(str(source), f"cannot be downloaded ({code})") from error
    return target


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class Guard:
    """The authorizer of one connection; remembers what it refused, for the error message."""

    def __init__(self) -> None:
        self.refused: str | None = None

    def __call__(self, action: int, arg1: str | None, arg2: str | None, *_: Any) -> int:
        if action in _READS:
            return sqlite3.SQLITE_OK
        if action == sqlite3.SQLITE_FUNCTION and (arg2 or "").lower() in ALLOWED_FUNCTIONS:
            return sqlite3.SQLITE_OK
        if action == sqlite3.SQLITE_PRAGMA and (arg1 or "").lower() in ALLOWED_PRAGMAS:
            return sqlite3.SQLITE_OK
        if action == sqlite3.SQLITE_UPDATE and arg1 == "sqlite_master":
            # SQLite asks this while connecting a table-valued function (json_each,
            # pragma_table_info); ignoring it changes nothing on a read-only connection.
            return sqlite3.SQLITE_IGNORE
        if action == sqlite3.SQLITE_FUNCTION:
            self.refused = f"the function {arg2}() is not allowed"
        elif action == sqlite3.SQLITE_PRAGMA:
            self.refused = f"PRAGMA {arg1} is not allowed (only schema pragmas such as table_info)"
        elif action in (sqlite3.SQLITE_ATTACH, sqlite3.SQLITE_DETACH):
            self.refused = "the database stands alone: ATTACH and DETACH are not allowed"
        else:
            self.refused = "the database is read-only: send SELECT statements only"
        return sqlite3.SQLITE_DENY


class SqlDatabase:
    def __init__(
        self, uri: str, bundled: Path, base: Path, row_limit: int, time_limit: float
    ) -> None:
        self.uri = uri
        self.bundled = bundled
        self.base = base
        self.row_limit = row_limit
        self.time_limit = time_limit

    @cached_property
    def path(self) -> Path:
        """The database file, checked on first use (raises DatabaseConfigError)."""
        source = locate(self.uri, self.bundled, self.base)
        path = download(source) if isinstance(source, S3Object) else source
        return check_sqlite_file(self.uri, path)

    def describe(self) -> dict[str, Any]:
        """Tables and views with their columns, foreign keys, row counts and a few rows."""
        with self._connect() as db:
            objects = db.execute(
                "SELECT name, type, sql FROM sqlite_master"
                " WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite_%' ORDER BY name"
            ).fetchall()
            tables = [self._describe_table(db, *row) for row in objects]
        return {"dialect": f"SQLite {sqlite3.sqlite_version}", "tables": tables}

    def query(self, sql: str) -> dict[str, Any]:
        """Run one statement; return at most row_limit rows, and whether more were left."""
        rows: list[list[Any]] = []
        size, truncated = 0, False
        with self._connect() as db:
            cursor = db.execute(sql)
            columns = [column[0] for column in cursor.description or ()]
            for row in cursor:
                size += len(json.dumps(row, default=str))
                if len(rows) == self.row_limit or size > MAX_RESULT_CHARS:
                    truncated = True
                    break
                rows.append(list(row))
        result = {"columns": columns, "rows": rows, "row_count": len(rows), "truncated": truncated}
        if truncated:
            result["note"] = (
                f"Only the first {len(rows)} rows are shown. "
                "Aggregate, filter or add a LIMIT to see what you need."
            )
        return result

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True)
        guard = Guard()
        deadline = time.monotonic() + self.time_limit
        timer = threading.Timer(self.time_limit, db.interrupt)
        timer.daemon = True
        try:
            db.execute("PRAGMA query_only = ON")
            db.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, VALUE_LIMIT)
            db.setlimit(sqlite3.SQLITE_LIMIT_COLUMN, COLUMN_LIMIT)
            db.setlimit(sqlite3.SQLITE_LIMIT_SQL_LENGTH, SQL_LIMIT)
            db.setlimit(sqlite3.SQLITE_LIMIT_ATTACHED, 0)
            db.set_authorizer(guard)
            db.set_progress_handler(lambda: time.monotonic() > deadline, PROGRESS_INTERVAL)
            timer.start()
            yield db
        except sqlite3.Error as error:
            if time.monotonic() > deadline:
                raise ToolError(
                    f"The query exceeded the {self.time_limit:g} s time limit and was stopped. "
                    "Make it cheaper: filter earlier, aggregate, or add a LIMIT."
                ) from error
            message = str(error).rstrip(".")
            raise ToolError(f"SQLite error: {message}. {_hint(message, guard)}") from error
        finally:
            timer.cancel()
            db.close()

    def _describe_table(self, db: sqlite3.Connection, name: str, kind: str, sql: str) -> dict:
        columns = db.execute("SELECT name, type, pk FROM pragma_table_info(?)", (name,)).fetchall()
        foreign_keys: dict[int, tuple[list[str], str, list[str]]] = {}
        for key, table, source, target in db.execute(
            'SELECT id, "table", "from", "to" FROM pragma_foreign_key_list(?) ORDER BY id, seq',
            (name,),
        ):
            sources, _, targets = foreign_keys.setdefault(key, ([], table, []))
            sources.append(source)
            targets.extend([target] if target else [])
        samples = db.execute(f"SELECT * FROM {_quoted(name)} LIMIT {SAMPLE_ROWS}").fetchall()
        return {
            "name": name,
            "type": kind,
            "row_count": db.execute(f"SELECT count(*) FROM {_quoted(name)}").fetchone()[0],
            "columns": {column: type_ for column, type_, _ in columns},
            "primary_key": [column for column, _, pk in sorted(columns, key=lambda c: c[2]) if pk],
            "foreign_keys": [
                f"({', '.join(sources)}) -> {table}({', '.join(targets)})"
                for sources, table, targets in foreign_keys.values()
            ],
            "definition": sql,
            "sample_rows": [list(row) for row in samples],
        }


def _hint(message: str, guard: Guard) -> str:
    if "not authorized" in message and guard.refused:
        return f"Refused: {guard.refused}."
    if "readonly" in message or "not authorized" in message:
        return "The database is read-only and stands alone: send SELECT statements only."
    if "too big" in message or "too many columns" in message:
        return (
            f"Values are limited to {VALUE_LIMIT:,} bytes and results to {COLUMN_LIMIT} columns: "
            "select length(x) or substr(x, 1, 1000) instead of the whole value."
        )
    if "one statement at a time" in message:
        return "Send a single statement per call."
    return "Fix the query (SQLite dialect; get_db_schema lists tables and columns) and retry."
