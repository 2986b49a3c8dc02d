"""SQL tools on a read-only SQLite database: get_db_schema and execute_sql_query."""

from typing import Any

import settings
from agent_core.observability import logger, tracer
from agent_core.tools import ToolError, dispatch
from sql_database import SqlDatabase

tracer.patch(["sqlite3"])  # trace queries in X-Ray

database = SqlDatabase(
    settings.DATABASE_URI,
    settings.BUNDLED_DATABASE,
    settings.CALLER_DIRECTORY,
    settings.ROW_LIMIT,
    settings.TIME_LIMIT_SECONDS,
)


@tracer.capture_method(capture_response=False)
def get_db_schema(tool_input: dict[str, Any]) -> dict[str, Any]:
    return database.describe()


@tracer.capture_method(capture_response=False)
def execute_sql_query(tool_input: dict[str, Any]) -> dict[str, Any]:
    sql = tool_input.get("sql_query")
    if not isinstance(sql, str) or not sql.strip():
        raise ToolError("execute_sql_query needs 'sql_query': one SQLite statement, as a string.")
    result = database.query(sql)
    logger.info("SQL query", extra={"sql": sql, "rows": result["row_count"]})
    return result


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return dispatch(event, {"get_db_schema": get_db_schema, "execute_sql_query": execute_sql_query})
