"""HTTP/1.1 as clients speak it to Archway's ingress, on raw sockets.

Keep-alive and pipelining (answers in order on one connection), `Connection: close` and HTTP/1.0, the
`Date` and `Server` headers, `Expect: 100-continue`, an upload larger than `server.max_body_bytes` (413 in
the OpenAI error shape, the connection still usable; with `Expect: 100-continue` answered from its head), a
body trickled in small pieces, malformed requests (400 or 431 in the OpenAI shape, then closed), HEAD, a
wrong method (405 with `Allow`) and a streamed answer sent chunked.
"""

from __future__ import annotations

import email.utils
import json
import socket
import time

import httpx
import pytest

from e2e_helpers import base_config

BODY = json.dumps({"model": "sim-small", "messages": [{"role": "user", "content": "Hello"}], "max_tokens": 8}).encode()
LIMIT = 65536


@pytest.fixture(scope="module")
def gw(module_gateway, simulator):
    return module_gateway(base_config(simulator, server={"max_body_bytes": LIMIT}))


class Connection:
    """One client connection, reading answers one after another (Content-Length or chunked)."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buffer = b""

    def __enter__(self) -> "Connection":
        return self

    def __exit__(self, *_: object) -> None:
        self.sock.close()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def _fill(self) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError("connection closed")
        self.buffer += chunk

    def _line(self) -> bytes:
        while b"\r\n" not in self.buffer:
            self._fill()
        line, self.buffer = self.buffer.split(b"\r\n", 1)
        return line

    def _exactly(self, count: int) -> bytes:
        while len(self.buffer) < count:
            self._fill()
        data, self.buffer = self.buffer[:count], self.buffer[count:]
        return data

    def head(self) -> tuple[int, dict[str, str]]:
        status = int(self._line().split()[1])
        headers: dict[str, str] = {}
        while line := self._line():
            name, value = line.decode().split(":", 1)
            headers[name.strip().lower()] = value.strip()
        return status, headers

    def response(self) -> tuple[int, dict[str, str], bytes]:
        status, headers = self.head()
        if "content-length" in headers:
            body = self._exactly(int(headers["content-length"]))
        elif headers.get("transfer-encoding") == "chunked":
            body = b""
            while (size := int(self._line().split(b";")[0], 16)) > 0:
                body += self._exactly(size)
                assert self._exactly(2) == b"\r\n"
            while self._line():  # trailers, then the empty line
                pass
        else:
            body = b""
        return status, headers, body

    def closed(self, within: float = 5.0) -> bool:
        """True when the server closes the connection (after anything still unread)."""
        self.sock.settimeout(within)
        try:
            while self.sock.recv(65536):
                pass
            return True
        except socket.timeout:
            return False
        except ConnectionResetError:
            return True


def post(path: str, body: bytes, extra: str = "") -> bytes:
    return (f"POST {path} HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n{extra}\r\n").encode() + body


def get(path: str, extra: str = "") -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: gw\r\n{extra}\r\n".encode()


def test_keep_alive_answers_carry_date_and_server(gw):
    with Connection(gw.port) as conn:
        for _ in range(3):
            conn.send(post("/v1/chat/completions", BODY))
            status, headers, body = conn.response()
            assert status == 200, body
            assert json.loads(body)["object"] == "chat.completion"
            assert headers["server"] == "archway"
            date = email.utils.parsedate_to_datetime(headers["date"])
            assert headers["date"].endswith(" GMT") and abs(date.timestamp() - time.time()) < 10, headers["date"]
            assert "connection" not in headers


def test_pipelined_requests_are_answered_in_order(gw):
    with Connection(gw.port) as conn:
        conn.send(get("/healthz") + post("/v1/chat/completions", BODY) + get("/v1/models") + get("/nope"))
        answers = [conn.response() for _ in range(4)]
    assert [status for status, _, _ in answers] == [200, 200, 200, 404]
    assert json.loads(answers[0][2]) == {"status": "ok"}
    assert json.loads(answers[1][2])["object"] == "chat.completion"
    assert json.loads(answers[2][2])["object"] == "list"
    assert json.loads(answers[3][2])["error"]["code"] == "unknown_url"


def test_connection_close_is_honoured(gw):
    with Connection(gw.port) as conn:
        conn.send(post("/v1/chat/completions", BODY, "Connection: close\r\n"))
        status, headers, _ = conn.response()
        assert status == 200
        assert headers.get("connection") == "close"
        assert conn.closed()


def test_an_upload_over_the_limit_is_413_at_once_and_the_connection_closes_cleanly(gw):
    """A body past the limit is answered as soon as it is known to be (from `Content-Length`, or once a chunked
    one passes it), not after the whole upload: an endless one would be read for ever. The client reads the
    413 rather than a reset: the gateway closes its side and reads on for a moment."""
    big = json.dumps({"model": "sim-small", "messages": [{"role": "user", "content": "x" * (LIMIT * 4)}]}).encode()
    head = b"POST /v1/chat/completions HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    with Connection(gw.port) as conn:
        conn.send(head)
        sent = 0
        conn.sock.settimeout(0.05)
        answered = False
        while sent < 100 * LIMIT and not answered:  # far past the limit, and never the end of the body
            conn.send(f"{10_000:x}\r\n".encode() + b"x" * 10_000 + b"\r\n")
            sent += 10_000
            try:
                conn._fill()
                answered = True
            except (socket.timeout, BlockingIOError):
                pass
        conn.sock.settimeout(10)
        assert answered and sent < 10 * LIMIT, f"no answer after {sent} bytes of a body over a {LIMIT}-byte limit"
        status, headers, body = conn.response()
        assert status == 413, body
        assert json.loads(body)["error"]["code"] == "request_too_large"
        assert headers.get("connection") == "close"
        assert conn.closed()
    # From its length alone: answered before any of the body.
    with Connection(gw.port) as conn:
        conn.send(b"POST /v1/chat/completions HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\n"
                  + f"Content-Length: {100 * LIMIT}\r\n\r\n".encode() + big[:1000])
        status, headers, body = conn.response()
        assert status == 413 and headers.get("connection") == "close", body
    with Connection(gw.port) as conn:
        conn.send(post("/v1/chat/completions", BODY))
        status, _, body = conn.response()
        assert status == 200, body


def test_a_body_trickled_in_small_pieces_arrives_whole(gw):
    request = post("/v1/chat/completions", BODY)
    with Connection(gw.port) as conn:
        for start in range(0, len(request), 7):
            conn.send(request[start:start + 7])
            time.sleep(0.002)
        status, _, body = conn.response()
    assert status == 200, body
    assert json.loads(body)["choices"][0]["message"]["content"]


CHUNKED_HEAD = b"POST /v1/chat/completions HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"


@pytest.mark.parametrize("request_bytes,status,code", [
    (b"NOT HTTP AT ALL\r\n\r\n", 400, "invalid_request"),
    (b"FOO /v1/chat/completions HTTP/1.1\r\nHost: gw\r\n\r\n", 400, "invalid_request"),
    # RFC 9112 §3.2: an HTTP/1.1 request needs a Host.
    (b"GET /healthz HTTP/1.1\r\n\r\n", 400, "invalid_request"),
    # ... and only one: a proxy that reads the other would route it elsewhere.
    (b"GET /healthz HTTP/1.1\r\nHost: gw\r\nX-A: 1\r\nhost: evil\r\n\r\n", 400, "invalid_request"),
    (CHUNKED_HEAD + b"ZZ\r\nabc\r\n0\r\n\r\n", 400, "invalid_body"),
    (CHUNKED_HEAD + b"3\r\nabcXX0\r\n\r\n", 400, "invalid_body"),
    # A header block over the parser's limit, still being sent when the answer comes: the answer must
    # survive (a close with the client's bytes unread would be a reset that destroys it).
    (b"GET /healthz HTTP/1.1\r\nHost: gw\r\nX-Big: " + b"a" * 200_000 + b"\r\n\r\n", 431, "request_header_fields_too_large"),
])
def test_a_malformed_request_is_answered_in_the_openai_shape_then_closed(gw, request_bytes, status, code):
    with Connection(gw.port) as conn:
        try:
            conn.send(request_bytes)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the answer came while the request was still being sent; it must still be readable
        got, headers, body = conn.response()
        assert got == status, body
        assert headers["connection"] == "close" and headers["content-type"] == "application/json"
        error = json.loads(body)["error"]
        assert error["code"] == code and error["type"] == "invalid_request_error" and "param" in error
        assert b"aaaa" not in body and b"NOT HTTP" not in body  # the client's bytes are never echoed
        assert conn.closed()
    with Connection(gw.port) as conn:  # and the gateway is still up
        conn.send(get("/healthz"))
        assert conn.response()[0] == 200
    # Answered before any route, it still counts in the HTTP metric, classed by its error code.
    metrics = httpx.get(f"{gw.base_url}/metrics", timeout=5).text
    counts = [ln for ln in metrics.splitlines() if ln.startswith("http_server_request_duration_seconds_count{")]
    assert any(f'error_type="{code}"' in ln and f'http_response_status_code="{status}"' in ln and 'http_route="other"' in ln
               for ln in counts), counts


def test_head_of_a_get_route_is_its_answer_without_the_body(gw):
    with Connection(gw.port) as conn:
        conn.send(get("/v1/models"))
        _, full_headers, full = conn.response()
        conn.send(b"HEAD /v1/models HTTP/1.1\r\nHost: gw\r\n\r\n")
        # A HEAD answer has the GET's length and no body: read the head alone.
        status, headers = conn.head()
        assert status == 200
        assert headers["content-length"] == str(len(full)) == full_headers["content-length"]
        conn.send(get("/healthz"))  # nothing of a body came between: the next answer follows at once
        assert conn.response()[0] == 200


@pytest.mark.parametrize("method,path,allow", [
    ("GET", "/v1/chat/completions", "POST"),
    ("DELETE", "/v1/models", "GET, HEAD"),
    ("OPTIONS", "/v1/embeddings", "POST"),
    ("PROPFIND", "/v1/chat/completions", "POST"),
])
def test_a_served_path_asked_with_another_method_is_405_with_allow(gw, method, path, allow):
    with Connection(gw.port) as conn:
        conn.send(f"{method} {path} HTTP/1.1\r\nHost: gw\r\nContent-Length: 0\r\n\r\n".encode())
        status, headers, body = conn.response()
        assert status == 405 and headers["allow"] == allow
        error = json.loads(body)["error"]
        assert error["code"] == "method_not_allowed" and method in error["message"]
        conn.send(get("/healthz"))  # the connection stays usable
        assert conn.response()[0] == 200


def test_a_streamed_answer_is_sent_chunked_and_the_connection_kept(gw):
    stream = json.dumps({"model": "sim-small", "stream": True, "messages": [{"role": "user", "content": "Hello"}]}).encode()
    with Connection(gw.port) as conn:
        conn.send(post("/v1/chat/completions", stream))
        status, headers, body = conn.response()
        assert status == 200
        assert headers["transfer-encoding"] == "chunked"
        assert headers["content-type"].startswith("text/event-stream")
        assert body.rstrip().endswith(b"data: [DONE]")
        conn.send(get("/healthz"))
        assert conn.response()[0] == 200


def test_http_1_0_without_keep_alive_is_answered_then_closed(gw):
    with Connection(gw.port) as conn:
        conn.send(b"GET /healthz HTTP/1.0\r\n\r\n")
        status, headers, body = conn.response()
        assert status == 200 and json.loads(body) == {"status": "ok"}
        assert headers.get("connection") == "close"
        assert conn.closed()
    with Connection(gw.port) as conn:
        conn.send(b"GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        status, headers, _ = conn.response()
        # An HTTP/1.0 client keeps the connection only when the answer says so.
        assert status == 200 and headers.get("connection") == "keep-alive", headers
        conn.send(b"GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        assert conn.response()[0] == 200


def test_expect_100_continue_is_answered_before_the_body(gw):
    with Connection(gw.port) as conn:
        conn.send((f"POST /v1/chat/completions HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\n"
                   f"Content-Length: {len(BODY)}\r\nExpect: 100-continue\r\n\r\n").encode())
        conn.sock.settimeout(0.5)  # well under the second curl would wait before sending anyway
        status, _, _ = conn.response()
        assert status == 100
        conn.sock.settimeout(10)
        conn.send(BODY)
        status, _, body = conn.response()
        assert status == 200, body


def test_expect_100_continue_over_the_limit_is_413_at_once_and_closed(gw):
    with Connection(gw.port) as conn:
        conn.send((f"POST /v1/chat/completions HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\n"
                   f"Content-Length: {LIMIT * 64}\r\nExpect: 100-continue\r\n\r\n").encode())
        conn.sock.settimeout(0.5)  # answered from the head: the client never has to send the body
        status, headers, body = conn.response()
        assert status == 413, body
        assert json.loads(body)["error"]["code"] == "request_too_large"
        assert headers["connection"] == "close"
        assert conn.closed()


KEY = "sk-ingress-master-key-0123456789"


@pytest.fixture(scope="module")
def keyed(module_gateway, simulator):
    return module_gateway(base_config(simulator, server={"master_key": KEY}))


@pytest.mark.parametrize("path", ["//v1/chat/completions", "/v1//chat/completions", "///v1/chat/completions",
                                  "/./v1/chat/completions", "/v1/chat/completions/", "/V1/chat/completions"])
def test_the_master_key_guards_a_model_route_however_its_path_is_written(keyed, simulator, path):
    """The router reads `//v1/…` as `/v1/…`; the key check must too, or anyone spends the provider keys."""
    calls = len(simulator.requests())
    with Connection(keyed.port) as conn:
        conn.send(post(path, BODY))
        status, _, body = conn.response()
        assert status in (401, 404), (path, status, body)
        if status == 401:
            assert json.loads(body)["error"]["code"] == "invalid_api_key"
        conn.send(post(path, BODY, f"Authorization: Bearer {KEY}\r\n"))
        assert conn.response()[0] in (200, 404)
    assert len(simulator.requests()) <= calls + 1, "no model call without the key"


@pytest.mark.parametrize("request_bytes", [
    get("//admin/routing"), get("/admin//pricing"), get("//admin/pricing"),
    b"PUT //admin/pricing HTTP/1.1\r\nHost: gw\r\nContent-Length: 11\r\n\r\nmodels: {}\n",
    get("/nothing/here"),
])
def test_admin_and_unknown_paths_need_the_key_and_health_and_metrics_do_not(keyed, request_bytes):
    with Connection(keyed.port) as conn:
        conn.send(request_bytes)
        status, _, body = conn.response()
        assert status == 401 and json.loads(body)["error"]["code"] == "invalid_api_key", (request_bytes, status, body)
        for open_path in ("/healthz", "/readyz", "//healthz"):
            conn.send(get(open_path))
            assert conn.response()[0] == 200, open_path


@pytest.fixture(scope="module")
def brisk(module_gateway, simulator):
    # Streams paced at 5 tokens a second, so one outlasts the idle timeout.
    return module_gateway(base_config(simulator, server={"idle_timeout": "1s", "read_timeout": "1s"},
                                      providers={"sim": {"headers": {"x-simulator-tokens-per-second": "5"}}}))


def _send_slowly(conn, data: bytes, pause: float, for_at_most: float) -> None:
    """Sends `data` a byte at a time until the server closes or `for_at_most` seconds have passed."""
    started = time.monotonic()
    for byte in data:
        try:
            conn.send(bytes([byte]))
        except (BrokenPipeError, ConnectionResetError):
            return
        if time.monotonic() - started > for_at_most:
            return
        time.sleep(pause)


def test_an_idle_connection_and_a_head_that_never_completes_are_closed(brisk):
    """Without timeouts a client holding sockets (or sending a byte a second) held them for ever."""
    with Connection(brisk.port) as idle, Connection(brisk.port) as dribbling, Connection(brisk.port) as kept:
        kept.send(get("/healthz"))
        assert kept.response()[0] == 200
        started = time.monotonic()
        _send_slowly(dribbling, b"GET /healthz HTTP/1.1\r\nHost: gw\r\nX-Slow: " + b"a" * 100, 0.1, 4)
        assert time.monotonic() - started < 3, "a head a byte at a time is no request"
        assert idle.closed(within=3) and kept.closed(within=1) and dribbling.closed(within=1)


def test_a_body_too_slow_is_answered_408_and_closed(brisk):
    with Connection(brisk.port) as conn:
        conn.send(f"POST /v1/chat/completions HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\n"
                  f"Content-Length: {len(BODY)}\r\n\r\n".encode() + BODY[:5])
        _send_slowly(conn, BODY[5:], 0.15, 4)
        status, headers, body = conn.response()
        assert status == 408 and json.loads(body)["error"]["code"] == "request_timeout", body
        assert headers.get("connection") == "close" and conn.closed()


def test_a_long_answer_is_not_cut_by_the_idle_timeout(brisk):
    """The idle clock runs only while no request is in flight: a stream longer than it ends whole."""
    body = json.dumps({"model": "sim-small", "messages": [{"role": "user", "content": "long"}], "stream": True,
                       "max_tokens": 30}).encode()
    with Connection(brisk.port) as conn:
        conn.send(post("/v1/chat/completions", body))
        started = time.monotonic()
        status, _, streamed = conn.response()
        assert status == 200 and b"[DONE]" in streamed
        assert time.monotonic() - started > 1.5, "the stream should outlast the idle timeout"
        conn.send(get("/healthz"))
        assert conn.response()[0] == 200, "and the connection is still usable at once after it"


@pytest.mark.parametrize("request_bytes", [
    b"GET /healthz HTTP/1.1\r\nHost: gw\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n\r\n",
    b"GET /healthz HTTP/1.1\r\nHost: gw\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n",
    b"CONNECT api.openai.com:443 HTTP/1.1\r\nHost: api.openai.com:443\r\n\r\n",
])
def test_an_upgrade_or_connect_is_answered_and_its_connection_closed(gw, request_bytes):
    """The parser reads nothing after them: a kept-alive connection would hang the client's next request."""
    with Connection(gw.port) as conn:
        conn.send(request_bytes)
        status, headers, _ = conn.response()
        assert status in (200, 404, 405)
        assert headers.get("connection") == "close"
        assert conn.closed(within=3)


@pytest.mark.parametrize("request_bytes,status", [
    (b"GET /healthz HTTP/1.0\r\n\r\n", 200), (get("/nothing/here", "Connection: close\r\n"), 404),
])
def test_a_client_that_half_closes_after_its_request_still_gets_the_answer(gw, request_bytes, status):
    with Connection(gw.port) as conn:
        conn.send(request_bytes)
        conn.sock.shutdown(socket.SHUT_WR)
        assert conn.response()[0] == status
        assert conn.closed()


def test_an_http_1_0_expect_is_not_answered_100(gw):
    """RFC 9110 §10.1.1: an HTTP/1.0 client knows no 100 Continue; its Expect is ignored."""
    with Connection(gw.port) as conn:
        conn.send(f"POST /v1/chat/completions HTTP/1.0\r\nContent-Type: application/json\r\nExpect: 100-continue\r\n"
                  f"Content-Length: {len(BODY)}\r\n\r\n".encode() + BODY)
        status, _, _ = conn.response()
        assert status == 200
