"""SQL for any database a connection describes (SQLite, PostgreSQL, MySQL/MariaDB): the
hook, query and transfer operators, the sensor and the data-quality checks.

Importing this package imports none of SQLAlchemy or the drivers: a hook opens them when
it first connects.
"""

from sluice.integrations.sql.check_results import (
    DataQualityCheckFailed,
    DataQualityCheckFailedNoRetry,
)
from sluice.integrations.sql.checks import (
    BaseCheckOperator,
    SQLCheckOperator,
    SQLColumnCheckOperator,
    SQLIntervalCheckOperator,
    SQLTableCheckOperator,
    SQLThresholdCheckOperator,
    SQLValueCheckOperator,
)
from sluice.integrations.sql.hook import SqlHook, SqlHookError
from sluice.integrations.sql.operators import (
    BaseSQLOperator,
    SQLExecuteQueryOperator,
    SqlOperatorError,
)
from sluice.integrations.sql.sensors import SqlSensor, SqlSensorFailure
from sluice.integrations.sql.transfer import GenericTransfer

__all__ = [
    "BaseCheckOperator",
    "BaseSQLOperator",
    "DataQualityCheckFailed",
    "DataQualityCheckFailedNoRetry",
    "GenericTransfer",
    "SQLCheckOperator",
    "SQLColumnCheckOperator",
    "SQLExecuteQueryOperator",
    "SQLIntervalCheckOperator",
    "SQLTableCheckOperator",
    "SQLThresholdCheckOperator",
    "SQLValueCheckOperator",
    "SqlHook",
    "SqlHookError",
    "SqlOperatorError",
    "SqlSensor",
    "SqlSensorFailure",
]
