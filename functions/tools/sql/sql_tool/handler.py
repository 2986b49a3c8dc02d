"""SQL tools on a read-only SQLite database: get_db_schema and execute_sql_query."""

from pathlib import Path
from typing import Any

from agent_core.observability import logger, observed, tracer
from agent_core.settings import per_environment
from agent_core.tools import ToolError, dispatch

from sql_tool.database import SqlDatabase
from sql_tool.settings import BUNDLED_DATABASE, SqlSettings

tracer.patch(["sqlite3"])  # trace queries in X-Ray


@per_environment
def database() -> SqlDatabase:
    """The configured database; a relative SQL_DATABASE_URI starts at the working directory."""
    settings = SqlSettings.from_env()
    return SqlDatabase(
        settings.database_uri,
        BUNDLED_DATABASE,
        Path.cwd(),
        settings.row_limit,
        settings.time_limit_seconds,
    )


@tracer.capture_method(capture_response=False)
def get_db_schema(tool_input: dict[str, Any]) -> dict[str, Any]:
    return database().describe()


@tracer.capture_method(capture_response=False)
def execute_sql_query(tool_input: dict[str, Any]) -> dict[str, Any]:
    sql = tool_input.get("sql_query")
    if not isinstance(sql, str) or not sql.strip():
        raise ToolError("execute_sql_query needs 'sql_query': one SQLite statement, as a string.")
    result = database().query(sql)
    logger.info("SQL query", extra={"sql": sql, "rows": result["row_count"]})
    return result


@observed
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    database()  # a bad setting fails the invocation (SettingsError), not one tool call
    return dispatch(event, {"get_db_schema": get_db_schema, "execute_sql_query": execute_sql_query})
