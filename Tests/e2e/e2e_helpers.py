"""Shared helpers for the Archway end-to-end suite.

Everything here is plain Python so test modules can import it directly
(``from e2e_helpers import ...``); the pytest fixtures live in conftest.py.
"""

from __future__ import annotations

import gzip
import json
import math
import re
import secrets
import subprocess
import sys
import threading
import zlib
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterable

import httpx
import yaml
from google.protobuf import text_format
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.proto.metrics.v1 import metrics_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

REPO_ROOT = Path(__file__).resolve().parents[2]

sys.path.insert(0, str(REPO_ROOT / "Tests" / "pylib"))
from archway_testkit import ManagedProcess, clean_env, closed_port, free_port, wait_for  # noqa: E402,F401

DEFAULT_BIN = REPO_ROOT / ".build" / "debug" / "archway"

SPAN_KIND_SERVER = trace_pb2.Span.SpanKind.SPAN_KIND_SERVER
SPAN_KIND_CLIENT = trace_pb2.Span.SpanKind.SPAN_KIND_CLIENT
SPAN_KIND_INTERNAL = trace_pb2.Span.SpanKind.SPAN_KIND_INTERNAL
STATUS_UNSET = trace_pb2.Status.StatusCode.STATUS_CODE_UNSET
STATUS_OK = trace_pb2.Status.StatusCode.STATUS_CODE_OK
STATUS_ERROR = trace_pb2.Status.StatusCode.STATUS_CODE_ERROR

TEMPORALITY_DELTA = metrics_pb2.AggregationTemporality.AGGREGATION_TEMPORALITY_DELTA
TEMPORALITY_CUMULATIVE = metrics_pb2.AggregationTemporality.AGGREGATION_TEMPORALITY_CUMULATIVE

DURATION_BOUNDS = [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92]
TOKEN_BOUNDS = [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864]


# --------------------------------------------------------------------------------------------
# small utilities
# --------------------------------------------------------------------------------------------


def new_traceparent() -> tuple[str, str, str]:
    """Returns (trace_id_hex, span_id_hex, traceparent header value)."""
    trace_id = secrets.token_hex(16)
    span_id = secrets.token_hex(8)
    return trace_id, span_id, f"00-{trace_id}-{span_id}-01"


def parse_traceparent(value: str | None) -> tuple[str, str] | None:
    if not value:
        return None
    m = re.fullmatch(r"\s*([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})\s*", value)
    if not m:
        return None
    return m.group(2), m.group(3)


def any_value_to_py(v) -> Any:
    which = v.WhichOneof("value")
    if which is None:
        return None
    if which == "array_value":
        return [any_value_to_py(x) for x in v.array_value.values]
    if which == "kvlist_value":
        return {kv.key: any_value_to_py(kv.value) for kv in v.kvlist_value.values}
    return getattr(v, which)


def kv_to_dict(kvs: Iterable) -> dict[str, Any]:
    return {kv.key: any_value_to_py(kv.value) for kv in kvs}


def deep_merge(base: dict, override: dict) -> dict:
    out = dict(base)
    for k, v in (override or {}).items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = v
    return out


def sse_events(lines: Iterable[str]) -> list[dict]:
    """Parses SSE text lines into a list of {"event": str|None, "data": str} dicts."""
    events: list[dict] = []
    event: str | None = None
    data: list[str] = []
    for raw in lines:
        line = raw.rstrip("\r\n")
        if line == "":
            if data or event is not None:
                events.append({"event": event, "data": "\n".join(data)})
            event, data = None, []
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if name == "event":
            event = value
        elif name == "data":
            data.append(value)
    if data or event is not None:
        events.append({"event": event, "data": "\n".join(data)})
    return events


def read_sse(client: httpx.Client, method: str, url: str, **kwargs) -> tuple[int, list[dict], BaseException | None]:
    """Streams an SSE response, returns (status, events, transport_error_or_None).

    A broken connection does not raise; the error is returned so tests can
    assert on what was received before it.
    """
    lines: list[str] = []
    error: BaseException | None = None
    with client.stream(method, url, **kwargs) as resp:
        status = resp.status_code
        try:
            for line in resp.iter_lines():
                lines.append(line)
        except (httpx.TransportError, httpx.StreamError) as exc:  # RemoteProtocolError, ReadError, ...
            error = exc
    return status, sse_events(lines), error


# --------------------------------------------------------------------------------------------
# OTLP/HTTP sink
# --------------------------------------------------------------------------------------------


@dataclass
class SpanRecord:
    span: Any  # opentelemetry.proto.trace.v1.trace_pb2.Span
    resource: dict[str, Any]
    scope: str

    @property
    def name(self) -> str:
        return self.span.name

    @property
    def kind(self) -> int:
        return self.span.kind

    @property
    def trace_id(self) -> str:
        return self.span.trace_id.hex()

    @property
    def span_id(self) -> str:
        return self.span.span_id.hex()

    @property
    def parent_span_id(self) -> str:
        return self.span.parent_span_id.hex()

    @property
    def attrs(self) -> dict[str, Any]:
        return kv_to_dict(self.span.attributes)

    @property
    def status_code(self) -> int:
        return self.span.status.code

    def __repr__(self) -> str:  # compact, for assertion messages
        kind = trace_pb2.Span.SpanKind.Name(self.kind)
        return (f"<span {self.name!r} {kind} trace={self.trace_id} id={self.span_id} "
                f"parent={self.parent_span_id or '-'} status={self.status_code}>")


@dataclass
class MetricRecord:
    name: str
    unit: str
    kind: str  # gauge | sum | histogram | exponential_histogram | summary
    points: list
    temporality: int | None
    is_monotonic: bool | None
    resource: dict[str, Any]
    scope: str


class OTLPSink:
    """Minimal OTLP/HTTP (protobuf) receiver decoding with the official generated classes."""

    DECODERS = {
        "/v1/traces": (trace_service_pb2.ExportTraceServiceRequest, trace_service_pb2.ExportTraceServiceResponse),
        "/v1/metrics": (metrics_service_pb2.ExportMetricsServiceRequest, metrics_service_pb2.ExportMetricsServiceResponse),
        "/v1/logs": (logs_service_pb2.ExportLogsServiceRequest, logs_service_pb2.ExportLogsServiceResponse),
    }

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.trace_requests: list = []
        # (path, headers) of every export request, in order.
        self.request_headers: list[tuple[str, dict[str, str]]] = []
        self.metric_requests: list = []
        self.log_requests: list = []
        self.raw_bodies: list[tuple[str, bytes]] = []
        self.rejected: list[str] = []
        # (path, Content-Encoding) of every export request, in arrival order.
        self.encodings: list[tuple[str, str]] = []
        # Answers to give instead of accepting, per path, oldest first: (status, headers).
        self.refusals: dict[str, list[tuple[int, dict[str, str]]]] = {}
        # (path, body) of every export refused that way, in order.
        self.refused_bodies: list[tuple[str, bytes]] = []
        sink = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, fmt, *args):  # keep pytest output quiet
                pass

            def _read_body(self) -> bytes:
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    chunks = []
                    while True:
                        size_line = self.rfile.readline().strip()
                        size = int(size_line.split(b";")[0], 16)
                        if size == 0:
                            # trailers until empty line
                            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                                pass
                            break
                        chunks.append(self.rfile.read(size))
                        self.rfile.readline()
                    body = b"".join(chunks)
                else:
                    body = self.rfile.read(int(self.headers.get("Content-Length", "0") or 0))
                enc = self.headers.get("Content-Encoding", "").lower()
                sink._note_encoding(self.path.split("?", 1)[0], enc)
                if enc == "gzip":
                    body = gzip.decompress(body)
                elif enc == "deflate":
                    body = zlib.decompress(body)
                return body

            def _reply(self, status: int, body: bytes, ctype: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self):  # noqa: N802
                path = self.path.split("?", 1)[0]
                with sink._lock:
                    sink.request_headers.append((path, {k.lower(): v for k, v in self.headers.items()}))
                try:
                    body = self._read_body()
                except Exception as exc:  # pragma: no cover - diagnostic only
                    sink._reject(f"{path}: unreadable body: {exc!r}")
                    self._reply(400, b"bad body", "text/plain")
                    return
                if path not in OTLPSink.DECODERS:
                    sink._reject(f"unexpected path {path}")
                    self._reply(404, b"not found", "text/plain")
                    return
                ctype = self.headers.get("Content-Type", "").split(";")[0].strip().lower()
                if ctype != "application/x-protobuf":
                    sink._reject(f"{path}: unexpected content type {ctype!r}")
                    self._reply(415, b"unsupported media type", "text/plain")
                    return
                with sink._lock:
                    refusal = sink.refusals.get(path, []) and sink.refusals[path].pop(0)
                if refusal:
                    status, headers = refusal
                    with sink._lock:
                        sink.refused_bodies.append((path, body))
                    self.send_response(status)
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                req_cls, resp_cls = OTLPSink.DECODERS[path]
                msg = req_cls()
                try:
                    msg.ParseFromString(body)
                except Exception as exc:
                    sink._reject(f"{path}: protobuf decode failed: {exc!r}")
                    self._reply(400, b"decode failed", "text/plain")
                    return
                sink._store(path, body, msg)
                self._reply(200, resp_cls().SerializeToString(), "application/x-protobuf")

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="otlp-sink", daemon=True)

    # lifecycle ---------------------------------------------------------------------------------
    def start(self) -> "OTLPSink":
        self._thread.start()
        return self

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    # storage -----------------------------------------------------------------------------------
    def _store(self, path: str, raw: bytes, msg) -> None:
        with self._lock:
            self.raw_bodies.append((path, raw))
            if path == "/v1/traces":
                self.trace_requests.append(msg)
            elif path == "/v1/metrics":
                self.metric_requests.append(msg)
            else:
                self.log_requests.append(msg)

    def refuse(self, path: str, status: int, times: int = 1, **headers: str) -> None:
        """Answers the next `times` exports to `path` with `status` (and headers) instead of accepting them."""
        with self._lock:
            self.refusals.setdefault(path, []).extend([(status, headers)] * times)

    def _note_encoding(self, path: str, encoding: str) -> None:
        with self._lock:
            self.encodings.append((path, encoding))

    def _reject(self, why: str) -> None:
        with self._lock:
            self.rejected.append(why)

    def clear(self) -> None:
        with self._lock:
            self.trace_requests.clear()
            self.metric_requests.clear()
            self.log_requests.clear()
            self.raw_bodies.clear()
            self.rejected.clear()
            self.encodings.clear()

    # queries -----------------------------------------------------------------------------------
    def spans(self) -> list[SpanRecord]:
        with self._lock:
            reqs = list(self.trace_requests)
        out: list[SpanRecord] = []
        for req in reqs:
            for rs in req.resource_spans:
                res = kv_to_dict(rs.resource.attributes)
                for ss in rs.scope_spans:
                    for sp in ss.spans:
                        out.append(SpanRecord(sp, res, ss.scope.name))
        return out

    def spans_in_trace(self, trace_id: str) -> list[SpanRecord]:
        return [s for s in self.spans() if s.trace_id == trace_id]

    @staticmethod
    def attrs(span) -> dict[str, Any]:
        target = span.span if isinstance(span, SpanRecord) else span
        return kv_to_dict(target.attributes)

    def metric_records(self) -> list[MetricRecord]:
        with self._lock:
            reqs = list(self.metric_requests)
        out: list[MetricRecord] = []
        for req in reqs:
            for rm in req.resource_metrics:
                res = kv_to_dict(rm.resource.attributes)
                for sm in rm.scope_metrics:
                    for m in sm.metrics:
                        kind = m.WhichOneof("data")
                        data = getattr(m, kind) if kind else None
                        points = list(data.data_points) if data is not None else []
                        temporality = getattr(data, "aggregation_temporality", None) if data is not None else None
                        mono = getattr(data, "is_monotonic", None) if kind == "sum" else None
                        out.append(MetricRecord(m.name, m.unit, kind or "", points, temporality, mono, res,
                                                sm.scope.name))
        return out

    def metrics(self) -> list[tuple[str, str, list]]:
        """List of (name, unit, data points) over every export received, in arrival order."""
        return [(r.name, r.unit, r.points) for r in self.metric_records()]

    def metric_names(self) -> set[str]:
        return {r.name for r in self.metric_records()}

    def dump_text(self) -> str:
        """Every decoded request rendered with protobuf text_format (for secret scanning)."""
        with self._lock:
            reqs = list(self.trace_requests) + list(self.metric_requests) + list(self.log_requests)
        return "\n".join(text_format.MessageToString(r, as_utf8=True) for r in reqs)

    def raw_concat(self) -> bytes:
        with self._lock:
            return b"\n".join(b for _, b in self.raw_bodies)

    def summary(self) -> str:
        spans = self.spans()
        tail = spans[-15:]
        return (f"{len(self.trace_requests)} trace exports / {len(spans)} spans "
                f"(last: {tail}), {len(self.metric_requests)} metric exports "
                f"(names: {sorted(self.metric_names())}), rejected: {self.rejected[-5:]}")

    wait_for = staticmethod(wait_for)

    # convenience for telemetry tests ---------------------------------------------------------
    def matching_points(self, name: str, where: dict[str, Any]) -> list[tuple[MetricRecord, Any]]:
        out = []
        for rec in self.metric_records():
            if rec.name != name:
                continue
            for p in rec.points:
                a = kv_to_dict(p.attributes)
                if all(a.get(k) == v for k, v in where.items()):
                    out.append((rec, p))
        return out

    def aggregate(self, name: str, where: dict[str, Any]) -> dict[str, float] | None:
        """Total (count, sum) of histogram points / value of sum points matching ``where``,
        honouring the aggregation temporality (cumulative: latest point per attribute set,
        delta: sum of all points)."""
        matches = self.matching_points(name, where)
        if not matches:
            return None
        latest: dict[frozenset, Any] = {}
        total = {"count": 0.0, "sum": 0.0, "value": 0.0}
        for rec, p in matches:
            key = frozenset((k, json.dumps(v, sort_keys=True)) for k, v in kv_to_dict(p.attributes).items())
            if rec.temporality == TEMPORALITY_DELTA:
                _accumulate(total, rec.kind, p)
            else:
                prev = latest.get(key)
                if prev is None or p.time_unix_nano >= prev[1].time_unix_nano:
                    latest[key] = (rec, p)
        for rec, p in latest.values():
            _accumulate(total, rec.kind, p)
        return total


def _accumulate(total: dict[str, float], kind: str, p) -> None:
    if kind in ("histogram", "exponential_histogram"):
        total["count"] += p.count
        total["sum"] += p.sum
    else:
        which = p.WhichOneof("value")
        v = getattr(p, which) if which else 0
        total["value"] += v
        total["count"] += 1


# --------------------------------------------------------------------------------------------
# processes
# --------------------------------------------------------------------------------------------


class SimulatorURL(str):
    """The simulator base URL (``http://127.0.0.1:N``) with a few extras attached."""

    port: int
    proc: ManagedProcess

    def __new__(cls, port: int, proc: ManagedProcess):
        obj = super().__new__(cls, f"http://127.0.0.1:{port}")
        obj.port = port
        obj.proc = proc
        return obj

    @property
    def v1(self) -> str:
        return f"{self}/v1"

    def requests(self, include_internal: bool = False) -> list[dict]:
        """The simulator's request log (oldest first); hides its own /_simulator/* entries."""
        r = httpx.get(f"{self}/_simulator/requests", timeout=5)
        r.raise_for_status()
        reqs = r.json()["requests"]
        if include_internal:
            return reqs
        return [q for q in reqs if not str(q.get("path", "")).startswith("/_simulator")]

    def requests_for_trace(self, trace_id: str) -> list[dict]:
        out = []
        for req in self.requests():
            tp = parse_traceparent(req.get("traceparent"))
            if tp and tp[0] == trace_id:
                out.append(req)
        return out


def start_simulator(archway_bin: str, workdir: Path, *args: str, name: str | None = None,
                    ready_timeout: float = 30.0) -> SimulatorURL:
    port = free_port()
    argv = [archway_bin, "simulate", "--host", "127.0.0.1", "--port", str(port), *args]
    proc = ManagedProcess(argv, workdir, name or f"simulator-{port}", clean_env())
    url = SimulatorURL(port, proc)

    def ready():
        if not proc.alive():
            raise RuntimeError("simulator exited early")
        try:
            return httpx.get(f"{url}/v1/models", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_for(ready, timeout=ready_timeout, interval=0.1, message="simulator GET /v1/models")
    except (AssertionError, RuntimeError) as exc:
        desc = proc.describe()
        proc.kill()
        raise AssertionError(f"simulator did not become ready: {exc}\n{desc}") from None
    return url


@dataclass
class Gateway:
    base_url: str
    port: int
    proc: ManagedProcess
    config_path: Path
    config_text: str
    env: dict[str, str] = field(repr=False, default_factory=dict)

    @property
    def process(self) -> subprocess.Popen:
        return self.proc.process

    @property
    def v1(self) -> str:
        return f"{self.base_url}/v1"

    @property
    def stdout(self) -> str:
        return self.proc.stdout

    @property
    def stderr(self) -> str:
        return self.proc.stderr

    @property
    def stdout_path(self) -> Path:
        return self.proc.stdout_path

    @property
    def stderr_path(self) -> Path:
        return self.proc.stderr_path

    def output(self) -> str:
        return self.proc.output()

    def alive(self) -> bool:
        return self.proc.alive()

    def stop(self, timeout: float = 15.0) -> int:
        return self.proc.stop(timeout)

    def describe(self) -> str:
        return f"config:\n{self.config_text}\n{self.proc.describe()}"


class GatewayLauncher:
    """Writes a YAML config and starts ``archway serve --config FILE``."""

    def __init__(self, archway_bin: str, workdir: Path, sink: OTLPSink):
        self.archway_bin = archway_bin
        self.workdir = workdir
        self.sink = sink
        self.started: list[Gateway] = []
        self._n = 0

    def __call__(self, config: dict | str, *, env: dict[str, str] | None = None,
                 otlp_endpoint: str | None = None, wait_ready: bool = True,
                 ready_timeout: float = 30.0) -> Gateway:
        self._n += 1
        if isinstance(config, dict):
            config = dict(config)
            if "listen" not in config:
                config["listen"] = f"127.0.0.1:{free_port()}"
            text = yaml.safe_dump(config, sort_keys=False)
            listen = config["listen"]
        else:
            text = config
            listen = yaml.safe_load(text)["listen"]
        host, _, port_s = str(listen).rpartition(":")
        port = int(port_s)
        cfg_dir = self.workdir / f"gateway-{self._n}"
        cfg_dir.mkdir(parents=True, exist_ok=True)
        cfg_path = cfg_dir / "archway.yaml"
        cfg_path.write_text(text)
        genv = clean_env({
            "OTEL_EXPORTER_OTLP_ENDPOINT": otlp_endpoint or self.sink.endpoint,
            "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
            "OTEL_METRIC_EXPORT_INTERVAL": "500",
            "OTEL_BSP_SCHEDULE_DELAY": "100",
            "OTEL_BLRP_SCHEDULE_DELAY": "100",
            "OTEL_SERVICE_NAME": "archway-e2e",
        })
        if env:
            genv.update(env)
        proc = ManagedProcess([self.archway_bin, "serve", "--config", str(cfg_path)], cfg_dir, "gateway", genv)
        gw = Gateway(f"http://{host}:{port}", port, proc, cfg_path, text, genv)
        self.started.append(gw)
        if wait_ready:
            def ready():
                if not proc.alive():
                    raise RuntimeError("gateway exited early")
                try:
                    return httpx.get(f"{gw.base_url}/readyz", timeout=1).status_code == 200
                except httpx.HTTPError:
                    return False
            try:
                wait_for(ready, timeout=ready_timeout, interval=0.1, message="gateway GET /readyz == 200")
            except (AssertionError, RuntimeError) as exc:
                desc = gw.describe()
                proc.kill()
                raise AssertionError(f"gateway did not become ready: {exc}\n{desc}") from None
        return gw

    def stop_all(self) -> None:
        for gw in self.started:
            if gw.alive():
                gw.stop(timeout=10)
            else:
                gw.proc.kill()


# --------------------------------------------------------------------------------------------
# config builders
# --------------------------------------------------------------------------------------------

SIM_PRICE = {"input": 0.15, "output": 0.60}


def base_config(sim: str, **overrides) -> dict:
    """A config with the standard providers/models used across the suite."""
    cfg = {
        "listen": f"127.0.0.1:{free_port()}",
        "server": {"max_body_bytes": 1048576, "shutdown_timeout": "10s"},
        "upstream": {"connect_timeout": "2s", "first_byte_timeout": "1s", "request_timeout": "30s",
                     "max_retries": 0},
        "providers": {
            "sim": {"kind": "simulator", "base_url": f"{sim}/v1", "api_key": "sk-sim-upstream"},
            "claude": {"kind": "anthropic", "base_url": f"{sim}/v1", "api_key": "sk-ant-test"},
        },
        "models": {
            "sim-small": {"provider": "sim", "model": "sim-small-upstream", "price": dict(SIM_PRICE)},
            "claude-sim": {"provider": "claude"},
        },
        "telemetry": {"capture_content": False},
    }
    return deep_merge(cfg, overrides)


def expected_cost(input_tokens: int, output_tokens: int, price: dict = SIM_PRICE) -> float:
    return (input_tokens * price["input"] + output_tokens * price["output"]) / 1e6


def is_finite_number(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def run_check(archway_bin: str, path: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    """`archway check --config PATH` with a clean environment."""
    return subprocess.run([archway_bin, "check", "--config", str(path)], capture_output=True, text=True,
                          timeout=30, env=clean_env(env))


def assert_check_reports(archway_bin: str, path: Path, expected: list[tuple[int, str, str]]) -> str:
    """`archway check` fails and reports each (line, key path, message) at PATH:LINE:COL; returns its output."""
    cp = run_check(archway_bin, path)
    out = cp.stdout + cp.stderr
    assert cp.returncode == 1, out
    for line, key, message in expected:
        assert re.search(rf"{re.escape(path.name)}:{line}:\d+: .*{re.escape(key)}.*{re.escape(message)}", out), (key, out)
    return out

