"""What the API's services over a table share."""

from dataclasses import dataclass
from typing import Any

from agent_api.catalog import Catalog
from agent_api.settings import ApiSettings


@dataclass
class TableService:
    """Settings, the agent catalog, a Step Functions client and the service's DynamoDB table."""

    settings: ApiSettings
    catalog: Catalog
    sfn: Any
    table: Any
