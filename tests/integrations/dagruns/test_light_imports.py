"""A DAG file that uses these operators and sensors parses without loading the store."""

from __future__ import annotations

import subprocess
import sys


def test_importing_them_loads_no_database_code() -> None:
    code = (
        "import sys\n"
        "from sluice.integrations.external_task import ExternalTaskMarker, ExternalTaskSensor\n"
        "from sluice.integrations.filesystem import FileSensor\n"
        "from sluice.integrations.trigger_dagrun import TriggerDagRunOperator\n"
        "from sluice.sensors import DateTimeSensor, TimeDeltaSensor, TimeSensor\n"
        "heavy = ('sqlalchemy', 'sluice.store', 'sluice.actions', 'requests', 'boto3')\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout == "[]\n"
