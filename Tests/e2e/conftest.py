"""Fixtures for the Archway end-to-end suite.

Run with:  python -m pytest -q Tests/e2e     (cwd = repository root)
Binary:    $ARCHWAY_BIN or <repo>/.build/debug/archway (copied to a temp dir at session start;
           set ARCHWAY_E2E_COPY_BIN=0 to run it in place)
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from e2e_helpers import (
    DEFAULT_BIN,
    REPO_ROOT,
    GatewayLauncher,
    OTLPSink,
    start_simulator,
)


@pytest.fixture(scope="session")
def archway_bin(tmp_path_factory) -> str:
    raw = os.environ.get("ARCHWAY_BIN")
    path = Path(raw) if raw else DEFAULT_BIN
    if not path.is_absolute():
        path = REPO_ROOT / path
    if not path.is_file():
        pytest.fail(
            f"archway binary not found at {path}. Build it first (`swift build` in {REPO_ROOT}) "
            f"or point ARCHWAY_BIN at an existing binary.",
            pytrace=False,
        )
    if not os.access(path, os.X_OK):
        pytest.fail(f"archway binary at {path} is not executable", pytrace=False)
    if os.environ.get("ARCHWAY_E2E_COPY_BIN", "1") != "0":
        # Run a private copy so a concurrent `swift build` relinking the binary cannot break the run.
        copy = tmp_path_factory.mktemp("bin") / "archway"
        shutil.copy2(path, copy)
        return str(copy)
    return str(path)


@pytest.fixture(scope="session")
def otlp_sink():
    sink = OTLPSink().start()
    yield sink
    sink.close()


@pytest.fixture(scope="session")
def simulator(archway_bin, tmp_path_factory):
    """Session-wide `archway simulate` on a free port; yields its base URL (a str subclass
    with `.port`, `.v1`, `.requests()`, `.requests_for_trace(trace_id)`)."""
    url = start_simulator(archway_bin, tmp_path_factory.mktemp("simulator"), name="simulator")
    yield url
    url.proc.stop(timeout=10)


@pytest.fixture
def simulator_factory(archway_bin, tmp_path):
    """Starts extra simulators with custom CLI flags: `simulator_factory("--seed", "7")`."""
    started = []

    def factory(*args: str):
        url = start_simulator(archway_bin, tmp_path / f"sim-{len(started)}", *args)
        started.append(url)
        return url

    yield factory
    for url in started:
        url.proc.stop(timeout=10)


@pytest.fixture
def gateway(archway_bin, otlp_sink, tmp_path):
    """Factory: `gateway(config_dict_or_yaml, env=..., otlp_endpoint=...)` -> Gateway.
    Every gateway started through it is stopped (SIGTERM) at the end of the test."""
    launcher = GatewayLauncher(archway_bin, tmp_path, otlp_sink)
    yield launcher
    launcher.stop_all()


@pytest.fixture(scope="module")
def module_gateway(archway_bin, otlp_sink, tmp_path_factory):
    """Module-scoped variant of `gateway` so a test module can share one process."""
    launcher = GatewayLauncher(archway_bin, tmp_path_factory.mktemp("gateway"), otlp_sink)
    yield launcher
    launcher.stop_all()
