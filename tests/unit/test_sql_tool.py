"""The SQL tool function through its real handler: get_db_schema and execute_sql_query."""

import hashlib
import json
import resource
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest
from moto import mock_aws
from sql_tool import database as sql_database
from sql_tool.settings import SqlSettings

ROOT = Path(__file__).resolve().parents[2]
FUNCTION = "functions/tools/sql"
SAMPLE_DB = ROOT / FUNCTION / "data" / "baseball.sqlite"


@dataclass
class FakeContext:
    function_name: str = "SqlToolFunction"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:SqlToolFunction"
    aws_request_id: str = "00000000-0000-0000-0000-000000000000"


@pytest.fixture
def sql_tool(load_function):
    """sql_tool(**env) -> call(name, tool_input) returning the tool_result."""

    def make(**env: str):
        handler = load_function(FUNCTION, env={"SQL_DATABASE_URI": "", **env})

        def call(name: str, tool_input: dict) -> dict:
            return handler({"name": name, "id": "toolu_test", "input": tool_input}, FakeContext())

        return call

    return make


def query(call, sql: str) -> dict:
    result = call("execute_sql_query", {"sql_query": sql})
    assert result["is_error"] is False, result["content"]
    return json.loads(result["content"])


def error_of(call, sql: str) -> str:
    result = call("execute_sql_query", {"sql_query": sql})
    assert result["is_error"] is True, result["content"]
    return result["content"]


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def tiny_db(tmp_path) -> Path:
    path = tmp_path / "tiny.sqlite"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE fruit (name TEXT PRIMARY KEY, price REAL)")
        db.executemany("INSERT INTO fruit VALUES (?, ?)", [("apple", 0.5), ("pear", 0.75)])
    db.close()
    return path


def test_schema_describes_every_table(sql_tool):
    result = sql_tool()("get_db_schema", {})
    assert result["is_error"] is False
    assert result["tool_use_id"] == "toolu_test"
    schema = json.loads(result["content"])
    tables = {table["name"]: table for table in schema["tables"]}
    assert set(tables) == {"batting", "players", "seasons", "teams"}
    assert tables["teams"]["row_count"] == 30
    assert tables["seasons"]["row_count"] == 300
    assert tables["teams"]["columns"]["founded"] == "INTEGER"
    assert tables["seasons"]["primary_key"] == ["team_id", "year"]
    assert "(team_id, year) -> seasons(team_id, year)" in tables["batting"]["foreign_keys"]
    assert len(tables["players"]["sample_rows"]) == 3
    assert schema["dialect"].startswith("SQLite")


def test_join_returns_real_rows(sql_tool):
    result = query(
        sql_tool(),
        "SELECT t.city, t.name, s.wins, s.losses FROM seasons s JOIN teams t USING (team_id)"
        " WHERE s.year = 2024 ORDER BY s.wins DESC, t.team_id LIMIT 2",
    )
    assert result == {
        "columns": ["city", "name", "wins", "losses"],
        "rows": [["San Diego", "Sailors", 93, 69], ["Tampa Bay", "Manatees", 92, 70]],
        "row_count": 2,
        "truncated": False,
    }


def test_sample_data_is_consistent(sql_tool):
    call = sql_tool()
    by_year = query(call, "SELECT year, sum(wins), sum(losses) FROM seasons GROUP BY year")
    assert by_year["rows"] == [[year, 2430, 2430] for year in range(2015, 2025)]
    orphans = query(
        call,
        "SELECT count(*) FROM batting b LEFT JOIN seasons s USING (team_id, year)"
        " WHERE s.team_id IS NULL OR b.hits > b.at_bats OR b.home_runs > b.hits",
    )
    assert orphans["rows"] == [[0]]


def test_row_limit_truncates(sql_tool):
    result = query(sql_tool(SQL_ROW_LIMIT="5"), "SELECT * FROM players ORDER BY player_id")
    assert result["row_count"] == 5
    assert [row[0] for row in result["rows"]] == [1, 2, 3, 4, 5]
    assert result["truncated"] is True
    assert "LIMIT" in result["note"]
    exact = query(sql_tool(SQL_ROW_LIMIT="5"), "SELECT * FROM players LIMIT 5")
    assert exact["truncated"] is False


def test_time_limit_stops_runaway_query(sql_tool):
    call = sql_tool(SQL_TIME_LIMIT_SECONDS="0.3")
    started = time.monotonic()
    message = error_of(
        call,
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c",
    )
    assert time.monotonic() - started < 1
    assert "exceeded the 0.3 s time limit" in message
    assert query(call, "SELECT count(*) FROM teams")["rows"] == [[30]]  # the next call works


def test_deadline_interrupts_work_between_progress_checks(monkeypatch):
    """With the progress handler out of the way, the timer alone stops the query, and the
    thread running it (a warm sandbox's, or a test's) is free again."""
    monkeypatch.setattr(sql_database, "PROGRESS_INTERVAL", 10**9)
    database = sql_database.SqlDatabase("", SAMPLE_DB, ROOT, 200, 0.3)
    outcome: list[str] = []

    def run() -> None:
        try:
            database.query(
                "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c)"
                " SELECT count(*) FROM c"
            )
        except Exception as error:
            outcome.append(str(error))

    worker = threading.Thread(target=run)
    started = time.monotonic()
    worker.start()
    worker.join(timeout=3)
    assert not worker.is_alive()
    assert time.monotonic() - started < 1
    assert "exceeded the 0.3 s time limit" in outcome[0]


@pytest.mark.parametrize(
    "sql",
    [
        "INSERT INTO teams VALUES ('XXX', 'Test', 'Nowhere', 'American', 'East', 2000)",
        "DROP TABLE batting",
        "UPDATE seasons SET wins = 162",
        "CREATE TABLE notes (text TEXT)",
    ],
)
def test_writes_are_refused_and_change_nothing(sql_tool, tmp_path, sql):
    copy = tmp_path / "copy.sqlite"
    shutil.copy(SAMPLE_DB, copy)
    before = digest(copy)
    call = sql_tool(SQL_DATABASE_URI=str(copy))
    assert "read-only: send SELECT statements only" in error_of(call, sql)
    assert digest(copy) == before
    assert query(call, "SELECT count(*) FROM teams")["rows"] == [[30]]


def test_attach_is_refused(sql_tool, tmp_path):
    target = tmp_path / "other.sqlite"
    message = error_of(sql_tool(), f"ATTACH DATABASE '{target}' AS other")
    assert "ATTACH and DETACH are not allowed" in message
    assert not target.exists()


@pytest.mark.parametrize(
    ("sql", "refusal"),
    [
        ("PRAGMA temp_store_directory = '/tmp'", "PRAGMA temp_store_directory is not allowed"),
        ("PRAGMA temp_store_directory", "PRAGMA temp_store_directory is not allowed"),
        ("PRAGMA cache_size = 1", "PRAGMA cache_size is not allowed"),
        ("PRAGMA writable_schema = ON", "PRAGMA writable_schema is not allowed"),
        ("SELECT fts3_tokenizer('simple')", "the function fts3_tokenizer() is not allowed"),
        ("SELECT load_extension('/tmp/x')", "the function load_extension() is not allowed"),
        ("SELECT printf('%.*c', 300000000, 'x')", "the function printf() is not allowed"),
        ("BEGIN", "read-only"),
        ("CREATE TEMP TABLE t (x)", "read-only"),
        ("CREATE VIRTUAL TABLE t USING fts5(x)", "read-only"),
    ],
)
def test_settings_and_unvetted_functions_are_refused(sql_tool, sql, refusal):
    call = sql_tool()
    assert refusal in error_of(call, sql)
    assert query(call, "SELECT count(*) FROM teams")["rows"] == [[30]]


def test_temp_store_directory_does_not_leak_into_the_process(sql_tool, tmp_path):
    error_of(sql_tool(), f"PRAGMA temp_store_directory = '{tmp_path}'")
    with sqlite3.connect(":memory:") as other:
        assert other.execute("PRAGMA temp_store_directory").fetchone() in (None, ("",))


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM pragma_table_info('teams')",
        "PRAGMA table_info(teams)",
        "SELECT value FROM json_each('[1, 2]')",
        "SELECT upper(name), round(avg(founded), 1) FROM teams GROUP BY name LIMIT 1",
        "SELECT name, rank() OVER (ORDER BY founded) FROM teams LIMIT 1",
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT 3) SELECT x FROM c",
        "SELECT date('2024-01-02', '+1 day'), '{\"a\": 1}' ->> '$.a', sqrt(16)",
    ],
)
def test_vetted_reads_work(sql_tool, sql):
    assert query(sql_tool(), sql)["row_count"] >= 1


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT zeroblob(500000000)",
        "SELECT randomblob(200000)",
        "SELECT group_concat(hex(zeroblob(50000))) FROM players",
    ],
)
def test_huge_values_are_refused_before_they_exist(sql_tool, sql):
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    started = time.monotonic()
    message = error_of(sql_tool(), sql)
    assert "string or blob too big" in message
    assert "length(x)" in message
    assert time.monotonic() - started < 2
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_before < 50 * 1024


def test_wide_rows_stop_at_the_result_budget(sql_tool):
    columns = ", ".join(f"hex(zeroblob(20000)) AS c{i}" for i in range(20))
    result = query(sql_tool(), f"SELECT {columns} FROM players")
    assert result["truncated"] is True
    assert len(json.dumps(result["rows"])) <= 100_000


@pytest.mark.parametrize(
    ("sql", "sqlite_message"),
    [
        ("SELECT team_name FROM season", "no such table: season"),
        ("SELECT nickname FROM teams", "no such column: nickname"),
        ("SELEC * FROM teams", 'near "SELEC": syntax error'),
        ("SELECT 1; SELECT 2", "You can only execute one statement at a time"),
    ],
)
def test_bad_sql_is_an_error_result_with_sqlites_message(sql_tool, sql, sqlite_message):
    assert sqlite_message in error_of(sql_tool(), sql)


@pytest.mark.parametrize(
    "tool_input", [{}, {"sql_query": ""}, {"sql_query": "  "}, {"sql_query": 1}]
)
def test_missing_sql_query_is_an_error_result(sql_tool, tool_input):
    result = sql_tool()("execute_sql_query", tool_input)
    assert result["is_error"] is True
    assert "sql_query" in result["content"]


def test_unknown_tool_is_an_error_result(sql_tool):
    result = sql_tool()("drop_everything", {})
    assert result["is_error"] is True
    assert "execute_sql_query" in result["content"]
    assert "get_db_schema" in result["content"]


def test_malformed_event_raises(load_function):
    handler = load_function(FUNCTION)
    with pytest.raises(ValueError) as raised:
        handler({"name": "get_db_schema", "input": {}}, FakeContext())
    assert type(raised.value).__name__ == "MalformedToolEvent"


def test_file_path_database(sql_tool, tiny_db):
    call = sql_tool(SQL_DATABASE_URI=str(tiny_db))
    schema = json.loads(call("get_db_schema", {})["content"])
    assert [table["name"] for table in schema["tables"]] == ["fruit"]
    result = query(call, "SELECT name, price FROM fruit ORDER BY price DESC")
    assert result["rows"] == [["pear", 0.75], ["apple", 0.5]]


def test_relative_path_starts_at_the_callers_directory(sql_tool, tiny_db, monkeypatch):
    monkeypatch.chdir(tiny_db.parent)
    call = sql_tool(SQL_DATABASE_URI="tiny.sqlite")
    assert query(call, "SELECT count(*) FROM fruit")["rows"] == [[2]]


@pytest.mark.parametrize(
    "uri",
    [
        "file:{path}",
        "file://{path}",
        "sqlite:///{path}",
        "file:tiny.sqlite",
        "sqlite:///tiny.sqlite",
    ],
)
def test_file_and_sqlite_uri_forms(sql_tool, tiny_db, monkeypatch, uri):
    monkeypatch.chdir(tiny_db.parent)
    call = sql_tool(SQL_DATABASE_URI=uri.format(path=tiny_db))
    assert query(call, "SELECT count(*) FROM fruit")["rows"] == [[2]]


@pytest.mark.parametrize(
    ("uri", "problem"),
    [
        ("postgresql://db.example/shop", "reads SQLite files only"),
        ("mysql://root@localhost/shop", "reads SQLite files only"),
        ("/no/such/file.sqlite", "names no existing file"),
        ("missing.sqlite", "names no existing file"),
        ("sqlite://shop.sqlite", "three slashes"),
        ("s3://bucket-without-key", "s3://bucket/key"),
        ("{not_sqlite}", "is not an SQLite database file"),
        ("{directory}", "names a directory"),
    ],
)
def test_bad_database_uri_is_a_configuration_error_at_first_use(sql_tool, tmp_path, uri, problem):
    not_sqlite = tmp_path / "notes.csv"
    not_sqlite.write_text("a,b\n1,2\n")
    call = sql_tool(SQL_DATABASE_URI=uri.format(not_sqlite=not_sqlite, directory=tmp_path))
    for name, tool_input in [
        ("get_db_schema", {}),
        ("execute_sql_query", {"sql_query": "SELECT 1"}),
    ]:
        result = call(name, tool_input)
        assert result["is_error"] is True
        assert "The SQL tool is misconfigured" in result["content"]
        assert problem in result["content"]
        assert "Fix the query" not in result["content"]
        assert "Traceback" not in result["content"] and "database.py" not in result["content"]


def test_s3_database_is_downloaded_once(sql_tool, tiny_db):
    with mock_aws():
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket="artifacts")
        s3.upload_file(str(tiny_db), "artifacts", "databases/tiny.sqlite")
        call = sql_tool(SQL_DATABASE_URI="s3://artifacts/databases/tiny.sqlite")
        assert query(call, "SELECT count(*) FROM fruit")["rows"] == [[2]]
        s3.delete_object(Bucket="artifacts", Key="databases/tiny.sqlite")
        assert query(call, "SELECT name FROM fruit WHERE price < 0.6")["rows"] == [["apple"]]


@pytest.mark.parametrize(
    ("env", "complaint"),
    [
        ({"SQL_ROW_LIMIT": "lots"}, "SQL_ROW_LIMIT"),
        ({"SQL_ROW_LIMIT": "0"}, "SQL_ROW_LIMIT"),
        ({"SQL_TIME_LIMIT_SECONDS": "-1"}, "SQL_TIME_LIMIT_SECONDS"),
    ],
)
def test_invalid_settings_fail_the_invocation(load_function, env, complaint):
    handler = load_function(FUNCTION, env=env)
    with pytest.raises(Exception, match=complaint) as raised:
        handler({"name": "get_db_schema", "id": "toolu_1", "input": {}}, FakeContext())
    assert type(raised.value).__name__ == "SettingsError"


def test_explicit_settings_come_before_the_environment(monkeypatch):
    monkeypatch.setenv("SQL_ROW_LIMIT", "7")
    monkeypatch.setenv("SQL_TIME_LIMIT_SECONDS", "2.5")
    assert SqlSettings.from_env(row_limit=3) == SqlSettings(row_limit=3, time_limit_seconds=2.5)
    assert SqlSettings.from_env().row_limit == 7


@pytest.mark.parametrize(
    ("event", "is_error"),
    [("get-schema", False), ("query", False), ("bad-sql", True)],
)
def test_sample_events(load_function, event, is_error):
    payload = json.loads((ROOT / f"events/SqlToolFunction-{event}.json").read_text())
    result = load_function(FUNCTION, env={"SQL_DATABASE_URI": ""})(payload, FakeContext())
    assert result["is_error"] is is_error, result["content"]


def test_generator_is_deterministic(tmp_path):
    output = tmp_path / "baseball.sqlite"
    script = ROOT / "scripts" / "build_sample_db.py"
    subprocess.run([sys.executable, script, "--output", output], check=True, capture_output=True)
    with sqlite3.connect(output) as fresh, sqlite3.connect(SAMPLE_DB) as committed:
        assert list(fresh.iterdump()) == list(committed.iterdump())
    assert SAMPLE_DB.stat().st_size < 2 * 1024 * 1024
