"""Process, port and waiting helpers shared by the end-to-end (Tests/e2e) and observability
(Tests/observability) suites. Each suite's helper module puts this folder on sys.path."""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Any, Callable

# ------------------------------------------------------------------------------------------- ports


_GIVEN: set[int] = set()


def free_port() -> int:
    """A port on 127.0.0.1 that was free a moment ago (for a server the test starts right away).

    Drawn below the kernel's ephemeral range (32768 and up on Linux): a port the kernel handed out for
    `bind(0)` and took back could be handed out again, to an embedded simulator or any other listener that
    binds port 0, between this call and the server's own bind."""
    for _ in range(200):
        port = random.randint(20000, 32000)
        if port in _GIVEN:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _GIVEN.add(port)
        return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# Bound but never listening: connecting is refused, and no other process can take the port while this
# process lives, so a "nothing answers here" test cannot meet a server that started there meanwhile.
_HELD: list[socket.socket] = []


def closed_port() -> int:
    """A port on 127.0.0.1 where nothing listens, held for the rest of the test session."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    _HELD.append(s)
    return s.getsockname()[1]


# ------------------------------------------------------------------------------------- environment


def clean_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """This process's environment without OTEL_* and proxy variables (tests set what they need)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    for k in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        env.pop(k, None)
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    if extra:
        env.update(extra)
    return env


# ----------------------------------------------------------------------------------------- waiting


def wait_for(predicate: Callable[[], Any], timeout: float = 10.0, interval: float = 0.05,
             message: str | Callable[[], str] | None = None, *, what: str | None = None) -> Any:
    """Polls ``predicate`` until it returns something truthy and returns that value. A predicate may
    assert or raise while the condition does not hold yet; the last failure is in the timeout message."""
    deadline = time.monotonic() + timeout
    last_exc: BaseException | None = None
    while True:
        try:
            value = predicate()
            if value:
                return value
            last_exc = None
        except Exception as exc:  # noqa: BLE001 - a predicate may fail until the condition holds
            last_exc = exc
        if time.monotonic() >= deadline:
            desc = message() if callable(message) else (message or what)
            desc = desc or getattr(predicate, "__name__", repr(predicate))
            extra = f" (last failure: {last_exc})" if last_exc else ""
            raise AssertionError(f"timed out after {timeout}s waiting for: {desc}{extra}")
        time.sleep(interval)


# ----------------------------------------------------------------------------------------- processes


def _tail(path: Path, limit: int) -> str:
    try:
        return path.read_bytes()[-limit:].decode("utf-8", "replace")
    except OSError:
        return "<no output file>"


class ManagedProcess:
    """A child process with its stdout and stderr in files, so tests can assert on them; stopped by its
    own pid only (it runs in a session of its own)."""

    def __init__(self, argv: list[str], workdir: Path, name: str, env: dict[str, str] | None = None):
        workdir.mkdir(parents=True, exist_ok=True)
        self.argv = argv
        self.name = name
        self.stdout_path = workdir / f"{name}.stdout.log"
        self.stderr_path = workdir / f"{name}.stderr.log"
        self._out = open(self.stdout_path, "wb")
        self._err = open(self.stderr_path, "wb")
        self.process = subprocess.Popen(argv, stdout=self._out, stderr=self._err, stdin=subprocess.DEVNULL,
                                        env=env if env is not None else clean_env(), cwd=str(workdir),
                                        start_new_session=True)
        self.returncode: int | None = None

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def stdout(self) -> str:
        return self.stdout_path.read_text(errors="replace")

    @property
    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def output(self, limit: int | None = None) -> str:
        if limit is None:
            return self.stdout + self.stderr
        return (f"--- {self.stdout_path.name} ---\n{_tail(self.stdout_path, limit)}\n"
                f"--- {self.stderr_path.name} ---\n{_tail(self.stderr_path, limit)}")

    def alive(self) -> bool:
        return self.process.poll() is None

    def describe(self) -> str:
        return f"{self.name} argv={self.argv} rc={self.process.poll()}\n{self.output(4000)}"

    def signal(self, sig: int) -> None:
        if self.alive():
            self.process.send_signal(sig)

    def stop(self, timeout: float = 15.0) -> int:
        """SIGTERM, wait up to ``timeout`` (then SIGKILL). Returns the exit code, -999 when it had to be killed."""
        if self.alive():
            self.process.send_signal(signal.SIGTERM)
        try:
            self.returncode = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)
            self.returncode = None
        finally:
            self._close_files()
        return self.returncode if self.returncode is not None else -999

    def kill(self) -> None:
        if self.alive():
            self.process.kill()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:  # pragma: no cover
                pass
        self._close_files()

    def _close_files(self) -> None:
        for f in (self._out, self._err):
            try:
                f.close()
            except Exception:  # noqa: BLE001
                pass
