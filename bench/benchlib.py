"""Shared pieces of Archway's macro benchmarks (bench/bench.py, bench/soak.py).

Standard library only. Every server runs on 127.0.0.1, in the foreground, as a child of the harness, and
is stopped by its own process id when the harness ends (normally, on an error, or on SIGINT/SIGTERM).
"""

from __future__ import annotations

import datetime
import grp
import http.client
import json
import os
import platform
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent
CLK_TCK = os.sysconf("SC_CLK_TCK")

UPSTREAM_KEY = "sk-bench-upstream-key"
LITELLM_MASTER_KEY = "sk-bench-master-key"


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def utc_stamp() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


def env_float(name: str, default: float) -> float:
    value = os.environ.get(name, "").strip()
    return float(value) if value else default


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- request bodies ------------------------------------------------------------------------------------

def chat_body(model: str, stream: bool) -> bytes:
    """A typical small OpenAI chat request (system + user message, a few sampling parameters)."""
    body = {
        "model": model,
        "messages": [
            {"role": "system", "content": "You are a concise assistant. Answer in one sentence."},
            {"role": "user", "content": "In one sentence, what does an API gateway in front of an LLM provider do?"},
        ],
        "temperature": 0.2,
        "max_tokens": 64,
    }
    if stream:
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    return json.dumps(body, separators=(",", ":")).encode()


# --- processes -----------------------------------------------------------------------------------------

class Children:
    """The processes this harness started; stopped by their own ids, never by name."""

    def __init__(self) -> None:
        self.procs: list[tuple[str, subprocess.Popen]] = []

    def start(self, name: str, argv: list[str], log_path: Path, env: dict | None = None, cwd: Path | None = None) -> subprocess.Popen:
        handle = open(log_path, "ab")
        proc = subprocess.Popen(
            argv, stdout=handle, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env=env, cwd=str(cwd) if cwd else None, start_new_session=True,
        )
        handle.close()
        self.procs.append((name, proc))
        log(f"started {name} (pid {proc.pid})")
        return proc

    def stop(self, proc: subprocess.Popen, sig: int = signal.SIGTERM, grace: float = 10.0) -> None:
        if proc.poll() is None:
            try:
                proc.send_signal(sig)
                proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                # nginx's workers and LiteLLM's children are in the child's own process group.
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.wait(timeout=5)
            except ProcessLookupError:
                pass
        self.procs = [(n, p) for (n, p) in self.procs if p is not proc]

    def stop_all(self) -> None:
        for _, proc in reversed(list(self.procs)):
            self.stop(proc)


def install_signal_handlers() -> None:
    def handler(signum, _frame):
        raise SystemExit(128 + signum)
    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


def raise_nofile(target: int = 65536) -> int:
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(target, hard) if hard != resource.RLIM_INFINITY else target
    if soft < want:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
        except (ValueError, OSError):
            pass
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def wait_port(port: int, timeout: float, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process {proc.pid} exited with {proc.returncode} before listening on {port}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listening on 127.0.0.1:{port} after {timeout:.0f} s")


def log_tail(path: Path | None, lines: int = 5) -> str:
    if path is None:
        return ""
    try:
        tail = path.read_text(errors="replace").strip().splitlines()[-lines:]
    except OSError:
        return ""
    return (" | last log lines: " + " / ".join(line.strip()[:200] for line in tail)) if tail else " | empty log"


def wait_http_ok(port: int, path: str, timeout: float, proc: subprocess.Popen | None = None,
                 log_path: Path | None = None) -> None:
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process {proc.pid} exited with {proc.returncode} before it was ready{log_tail(log_path)}")
        try:
            status, _, _ = http_request(port, "GET", path, timeout=2)
            if status == 200:
                return
            last = f"status {status}"
        except OSError as error:
            last = str(error)
        time.sleep(0.2)
    raise RuntimeError(f"GET {path} on port {port} not ready after {timeout:.0f} s ({last}){log_tail(log_path)}")


def http_request(port: int, method: str, path: str, body: bytes | None = None, headers: dict | None = None,
                 timeout: float = 10) -> tuple[int, dict, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        data = response.read()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, data
    finally:
        conn.close()


# --- /proc accounting ----------------------------------------------------------------------------------

def process_tree(pid: int) -> list[int]:
    """pid and its descendants (nginx workers, LiteLLM's worker processes)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read().decode(errors="replace")
            ppid = int(stat[stat.rindex(")") + 2:].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    result, todo = [], [pid]
    while todo:
        current = todo.pop()
        result.append(current)
        todo.extend(children.get(current, []))
    return result


def cpu_seconds(pids: list[int]) -> float:
    """utime + stime of each process (all threads), summed."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat", "rb") as f:
                stat = f.read().decode(errors="replace")
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        total += int(fields[11]) + int(fields[12])  # fields 14 and 15 of stat(5)
    return total / CLK_TCK


def wait_quiet(pids: list[int], limit_s: float = 15.0, interval_s: float = 0.5, busy_share: float = 0.1) -> float:
    """Waits until the processes use less than `busy_share` of a core over `interval_s` (work deferred from a
    run, such as a telemetry exporter's backlog, is done), at most `limit_s`. Returns the seconds waited."""
    start = time.monotonic()
    last = cpu_seconds(pids)
    while time.monotonic() - start < limit_s:
        time.sleep(interval_s)
        now = cpu_seconds(pids)
        if now - last < busy_share * interval_s:
            break
        last = now
    return round(time.monotonic() - start, 2)


def status_kb(pids: list[int], key: str) -> int:
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith(key + ":"):
                        total += int(line.split()[1])
                        break
        except OSError:
            continue
    return total


def open_fds(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            total += len(os.listdir(f"/proc/{pid}/fd"))
        except OSError:
            continue
    return total


def rss_mb(pids: list[int]) -> float:
    return round(status_kb(pids, "VmRSS") / 1024, 1)


def rss_split_mb(pids: list[int]) -> dict[str, float]:
    """Resident memory split into anonymous (heap, stacks) and file-backed (code and data of the binaries)."""
    return {"anon": round(status_kb(pids, "RssAnon") / 1024, 1), "file": round(status_kb(pids, "RssFile") / 1024, 1)}


def hwm_mb(pids: list[int]) -> float:
    return round(status_kb(pids, "VmHWM") / 1024, 1)


# --- nginx ---------------------------------------------------------------------------------------------

def nginx_binary() -> str:
    return os.environ.get("NGINX") or shutil.which("nginx") or "/usr/sbin/nginx"


def nginx_string(text: str) -> str:
    """text as the inside of a single-quoted nginx string (nginx unescapes \\n, \\', \\\\)."""
    if "$" in text:
        raise ValueError("canned bodies must not contain '$' (nginx would read it as a variable)")
    return text.replace("\\", "\\\\").replace("'", "\\'").replace("\r", "\\r").replace("\n", "\\n")


def nginx_body(name: str, text: str, indent: str = "            ") -> tuple[str, str]:
    """(`set` lines, `return` text) serving `text`: nginx caps one configuration token at 4 KB, so a
    longer body is split over a few variables that the `return` text joins."""
    pieces = [text[i:i + 2000] for i in range(0, len(text), 2000)] or [""]
    if len(pieces) == 1:
        return "# fits in one token", nginx_string(text)
    sets = f"\n{indent}".join(f"set ${name}_{i} '{nginx_string(piece)}';" for i, piece in enumerate(pieces))
    return sets, "".join(f"${{{name}_{i}}}" for i in range(len(pieces)))


def nofile_limit() -> int:
    import resource
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def user_directive() -> str:
    # A root master would switch its workers to `nobody`; keep them as the current user instead.
    if os.geteuid() != 0:
        return "# not root: workers run as the current user"
    user = pwd.getpwuid(os.geteuid()).pw_name
    group = grp.getgrgid(os.getegid()).gr_name
    return f"user {user} {group};"


def render(template: Path, out: Path, values: dict) -> Path:
    text = template.read_text()
    for key, value in values.items():
        text = text.replace(f"@{key}@", str(value))
    code = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    leftover = re.search(r"@[A-Z][A-Z_]*@", code)
    if leftover:
        raise ValueError(f"unrendered placeholder {leftover.group(0)} in {template.name}")
    out.write_text(text)
    return out


def start_nginx(children: Children, name: str, conf: Path, prefix: Path, port: int) -> subprocess.Popen:
    nginx = nginx_binary()
    check = subprocess.run([nginx, "-t", "-q", "-p", str(prefix), "-e", str(prefix / f"{name}-error.log"), "-c", str(conf)],
                           capture_output=True, text=True, timeout=30)
    if check.returncode != 0:
        raise RuntimeError(f"nginx -t failed for {conf}:\n{check.stderr}")
    proc = children.start(name, [nginx, "-p", str(prefix), "-e", str(prefix / f"{name}-error.log"), "-c", str(conf)],
                          prefix / f"{name}.out")
    wait_port(port, 10, proc)
    return proc


class Upstream:
    """The canned nginx upstream plus the OTLP sink (one nginx master, two servers)."""

    def __init__(self, children: Children, work: Path, workers: str, slow_rate: int = 200, hosts: int = 1) -> None:
        self.port = free_port()
        self.sink_port = free_port()
        json_body = (BENCH_DIR / "fixtures" / "chat-completion.json").read_text()
        sse_body = (BENCH_DIR / "fixtures" / "chat-completion.sse").read_text()
        json_set, json_return = nginx_body("json", json_body)
        sse_set, sse_return = nginx_body("sse", sse_body)
        conf = render(BENCH_DIR / "nginx" / "upstream.conf.template", work / "upstream.conf", {
            "USER_DIRECTIVE": user_directive(), "WORKERS": workers, "PREFIX": work, "NOFILE": nofile_limit(),
            "UPSTREAM_PORT": self.port, "SINK_PORT": self.sink_port, "SLOW_RATE": slow_rate,
            # Extra loopback addresses (127.0.0.2…) for the soak's SOAK_UPSTREAM_HOSTS.
            "EXTRA_LISTEN": "\n        ".join(f"listen 127.0.0.{n}:{self.port} backlog=4096;" for n in range(2, hosts + 1))
                            or "# one address",
            "JSON_SET": json_set, "JSON_BODY": json_return, "SSE_SET": sse_set, "SSE_BODY": sse_return,
        })
        self.proc = start_nginx(children, "upstream", conf, work, self.port)
        wait_port(self.sink_port, 10, self.proc)
        self.sink_log = work / "sink-access.log"
        self.sse_size = len(sse_body.encode())

    def sink_counts(self) -> dict:
        counts: dict[str, int] = {}
        try:
            for line in self.sink_log.read_text(errors="replace").splitlines():
                parts = line.split('"')
                if len(parts) < 3:
                    continue
                request = parts[1].split()
                status = parts[2].split()[0] if parts[2].split() else "?"
                key = f"{request[0] if request else '?'} {request[1] if len(request) > 1 else '?'} {status}"
                counts[key] = counts.get(key, 0) + 1
        except OSError:
            pass
        return counts


# --- Archway -------------------------------------------------------------------------------------------

def archway_binary() -> Path:
    override = os.environ.get("ARCHWAY_BIN")
    return Path(override) if override else REPO_DIR / ".build-release" / "release" / "archway"


def archway_env(sink_port: int | None, telemetry: bool) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env.setdefault("LOG_LEVEL", "info")
    if telemetry:
        env["OTEL_EXPORTER_OTLP_ENDPOINT"] = f"http://127.0.0.1:{sink_port}"
        env["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf"
    else:
        env["OTEL_SDK_DISABLED"] = "true"
    return env


def start_archway(children: Children, name: str, work: Path, upstream: Upstream, telemetry: bool,
                  slow_hosts: int = 1, binary: Path | None = None) -> tuple[subprocess.Popen, int]:
    binary = binary or archway_binary()
    if not binary.exists():
        raise RuntimeError(f"{binary} not found: build it with `swift build -c release --product archway --scratch-path .build-release`")
    port = free_port()
    # bench-slow-2… : the slow route on 127.0.0.2… (each upstream host gets its own connection pool).
    extra_providers = "".join(
        f"  canned-slow-{n}:\n    kind: openai\n    base_url: http://127.0.0.{n}:{upstream.port}/slow/v1\n"
        f"    api_key: {UPSTREAM_KEY}\n" for n in range(2, slow_hosts + 1))
    extra_models = "".join(
        f"  bench-slow-{n}:\n    provider: canned-slow-{n}\n    model: gpt-4o-mini\n"
        f"    price: {{input: 0.15, output: 0.60}}\n" for n in range(2, slow_hosts + 1))
    conf = render(BENCH_DIR / "config" / "archway.yaml.template", work / f"{name}.yaml",
                  {"PORT": port, "UPSTREAM_PORT": upstream.port,
                   "EXTRA_PROVIDERS": extra_providers.rstrip("\n") or "  # no extra slow providers",
                   "EXTRA_MODELS": extra_models.rstrip("\n") or "  # no extra slow models"})
    check = subprocess.run([str(binary), "check", "--config", str(conf)], capture_output=True, text=True, timeout=30)
    if check.returncode != 0:
        raise RuntimeError(f"archway check failed:\n{check.stdout}{check.stderr}")
    proc = children.start(name, [str(binary), "serve", "--config", str(conf)], work / f"{name}.log",
                          env=archway_env(upstream.sink_port, telemetry))
    wait_http_ok(port, "/readyz", 30, proc, log_path=work / f"{name}.log")
    return proc, port


def read_metrics(port: int) -> dict:
    """Archway's GET /metrics: the archway_telemetry_dropped_total series (absent means none dropped)."""
    status, _, data = http_request(port, "GET", "/metrics", timeout=10)
    dropped: dict[str, float] = {}
    lines = data.decode(errors="replace").splitlines()
    for line in lines:
        # name{labels} value [timestamp]
        match = re.match(r"^(archway_telemetry_dropped_total(?:\{[^}]*\})?)\s+(\S+)", line)
        if match:
            dropped[match.group(1)] = float(match.group(2))
    return {"status": status, "dropped": dropped, "dropped_total": sum(dropped.values()), "series": len(lines)}


def log_problems(path: Path, limit: int = 20) -> dict:
    """Counts of warning/error/critical lines in a server log, with the first few distinct ones."""
    counts, samples = {}, []
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return {"counts": counts, "samples": samples}
    for line in lines:
        lowered = line.lower()
        for level in ("critical", "error", "warning", "fatal", "panic", "traceback"):
            if f" {level}" in lowered or lowered.startswith(level) or f"[{level}]" in lowered:
                counts[level] = counts.get(level, 0) + 1
                trimmed = line[:300]
                if len(samples) < limit and trimmed not in samples:
                    samples.append(trimmed)
                break
    return {"counts": counts, "samples": samples}


# --- load generators -----------------------------------------------------------------------------------

def wrk_version() -> str:
    try:
        out = subprocess.run(["wrk", "-v"], capture_output=True, text=True, timeout=10)
        return (out.stdout + out.stderr).strip().splitlines()[0]
    except (OSError, IndexError, subprocess.TimeoutExpired):
        return "unknown"


def nginx_version() -> str:
    try:
        out = subprocess.run([nginx_binary(), "-v"], capture_output=True, text=True, timeout=10)
        return (out.stdout + out.stderr).strip()
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"


def run_wrk(work: Path, port: int, path: str, body_file: Path, connections: int, duration: float,
            auth: str | None = None, alt_body_file: Path | None = None, threads: int | None = None,
            label: str = "wrk") -> dict:
    """One fixed-duration wrk run (keep-alive, closed loop); returns wrk's summary as a dict."""
    threads = threads or max(1, min(connections, os.cpu_count() or 1, 2))
    out = work / f"{label}-{connections}c-{time.monotonic_ns()}.json"
    env = dict(os.environ, BENCH_BODY_FILE=str(body_file), BENCH_WRK_OUT=str(out))
    env.pop("BENCH_ALT_BODY_FILE", None)
    env.pop("BENCH_AUTH", None)
    if auth:
        env["BENCH_AUTH"] = auth
    if alt_body_file:
        env["BENCH_ALT_BODY_FILE"] = str(alt_body_file)
    seconds = max(1, int(round(duration)))
    argv = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s", "--latency",
            "-s", str(BENCH_DIR / "wrk" / "chat.lua"), f"http://127.0.0.1:{port}{path}"]
    completed = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=seconds + 60)
    if completed.returncode != 0 or not out.exists():
        raise RuntimeError(f"wrk failed ({completed.returncode}): {completed.stderr.strip()} {completed.stdout.strip()}")
    result = json.loads(out.read_text())
    result["threads"] = threads
    result["connections"] = connections
    result["rps"] = result["requests"] / (result["duration_us"] / 1e6) if result["duration_us"] else 0.0
    return result


def machine_info() -> dict:
    info = {"cores": os.cpu_count(), "kernel": platform.release(), "python": platform.python_version()}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        info["mem_total_mb"] = int(Path("/proc/meminfo").read_text().split()[1]) // 1024
    except (OSError, ValueError, IndexError):
        pass
    info["loadavg_at_start"] = os.getloadavg()
    return info


def git_info() -> dict:
    def git(*args: str) -> str:
        try:
            return subprocess.run(["git", *args], cwd=REPO_DIR, capture_output=True, text=True, timeout=10).stdout.strip()
        except (OSError, subprocess.TimeoutExpired):
            return ""
    return {"commit": git("rev-parse", "HEAD"), "dirty": bool(git("status", "--porcelain", "--untracked-files=no"))}


def make_workdir(prefix: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=prefix))
