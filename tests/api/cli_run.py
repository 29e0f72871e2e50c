"""The gridgov command run as a subprocess against a database of the test's choosing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

GRIDGOV = str(Path(sys.executable).parent / "gridgov")


def run(*args: str, database_url: str, check: bool = False) -> subprocess.CompletedProcess[str]:
    """Run `gridgov` with DATABASE_URL pointing at `database_url`."""
    env = os.environ | {"DATABASE_URL": database_url, "COLUMNS": "200"}
    result = subprocess.run(
        [GRIDGOV, *args], capture_output=True, text=True, env=env, timeout=300, check=False
    )
    if check:
        assert result.returncode == 0, result.stderr
    return result
