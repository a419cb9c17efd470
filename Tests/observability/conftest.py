"""Fixtures for the observability artifact tests (python -m pytest Tests/observability).

Needs Debian's `prometheus` package (prometheus + promtool; `make tools` installs it) and, for the
real-backend test, the archway binary: $ARCHWAY_BIN or <repo>/.build/debug/archway (copied to a temp
dir first so a concurrent rebuild cannot break the run).
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from obs_helpers import REPO_ROOT  # noqa: E402


@pytest.fixture(scope="session")
def archway_bin(tmp_path_factory) -> str:
    raw = os.environ.get("ARCHWAY_BIN")
    path = Path(raw) if raw else REPO_ROOT / ".build" / "debug" / "archway"
    if not path.is_absolute():
        path = REPO_ROOT / path
    if not (path.is_file() and os.access(path, os.X_OK)):
        pytest.fail(f"archway binary not found at {path}: build it first (`make build`) or set ARCHWAY_BIN",
                    pytrace=False)
    copy = tmp_path_factory.mktemp("bin") / "archway"
    shutil.copy2(path, copy)
    return str(copy)
