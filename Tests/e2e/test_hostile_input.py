"""Whatever a client sends, the answer is a 4xx with the OpenAI error shape (or a success), never a 500.

Bodies the decoder accepts but the byte relay cannot rewrite (a UTF-8 byte-order mark before the JSON)
are answered; bodies that cannot be read (a malformed chunked encoding) are 400; and a few hundred
random and mutated bodies never make the gateway answer 500 or fall over.
"""

from __future__ import annotations

import gzip
import json
import random
import socket

import httpx
import pytest

from e2e_helpers import base_config

BODY = {"model": "sim-small", "messages": [{"role": "user", "content": "Hello"}], "max_tokens": 8}


@pytest.fixture(scope="module")
def gw(module_gateway, simulator):
    return module_gateway(base_config(simulator, server={"max_body_bytes": 65536}))


@pytest.fixture
def http():
    with httpx.Client(timeout=20) as c:
        yield c


def raw_exchange(port: int, request: bytes, timeout: float = 5.0) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(request)
        data = b""
        try:
            while b"\r\n\r\n" not in data or len(data) < 12:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
            # Read the rest of a short body, if any.
            s.settimeout(0.5)
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        except socket.timeout:
            pass
        return data


def status_of(raw: bytes) -> int:
    assert raw.startswith(b"HTTP/1.1 "), raw[:200]
    return int(raw[9:12])


@pytest.mark.parametrize("path", ["/v1/chat/completions", "/v1/messages", "/v1/embeddings"])
def test_a_byte_order_mark_before_the_json_is_answered(gw, http, path):
    body = dict(BODY)
    if path == "/v1/embeddings":
        body = {"model": "sim-small", "input": "hello"}
    for stream in ([False, True] if path != "/v1/embeddings" else [False]):
        payload = dict(body, stream=True) if stream else body
        r = http.post(f"{gw.base_url}{path}", content=b"\xef\xbb\xbf" + json.dumps(payload).encode(),
                      headers={"content-type": "application/json", "anthropic-version": "2023-06-01"})
        assert r.status_code == 200, r.text[:300]


@pytest.mark.parametrize("path", ["/v1/chat/completions", "/v1/messages"])
def test_a_compressed_body_is_415_and_says_why(gw, http, path):
    r = http.post(f"{gw.base_url}{path}", content=gzip.compress(json.dumps(BODY).encode()),
                  headers={"content-type": "application/json", "content-encoding": "gzip"})
    assert r.status_code == 415, r.text[:300]
    assert r.json()["error"]["code"] == "unsupported_content_encoding"
    assert "Content-Encoding" in r.json()["error"]["message"]
    if path == "/v1/chat/completions":
        r = http.put(f"{gw.base_url}/admin/pricing", content=gzip.compress(b'{"models": {"sim-small": {"input": 1, "output": 2}}}'),
                     headers={"content-type": "application/json", "content-encoding": "gzip"})
        assert r.status_code == 415 and r.json()["error"]["code"] == "unsupported_content_encoding", r.text[:300]
    # An unencoded body that says `identity` is read as any other.
    r = http.post(f"{gw.base_url}/v1/chat/completions", json=BODY, headers={"content-encoding": "identity"})
    assert r.status_code == 200, r.text[:300]


def test_a_malformed_chunked_body_is_400(gw):
    head = (b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n")
    for broken in [b"zz\r\n{}\r\n0\r\n\r\n", b"5\r\n{\"mod\r\nFFFFFFFFFFFFFFFFFFFF\r\n", b"3\r\n{}\r\n\r\n0\r\n\r\n"]:
        raw = raw_exchange(gw.port, head + broken)
        assert status_of(raw) == 400, raw[:300]
        assert json.loads(raw.split(b"\r\n\r\n", 1)[1])["error"]["code"] == "invalid_body", raw[:300]
    # The gateway is still up.
    assert httpx.post(f"{gw.v1}/chat/completions", json=BODY, timeout=10).status_code == 200


def mutations(rng: random.Random, seed: bytes) -> bytes:
    data = bytearray(seed)
    for _ in range(rng.randint(1, 6)):
        op = rng.randrange(6)
        pos = rng.randrange(len(data) + 1)
        if op == 0 and data:
            del data[pos % len(data)]
        elif op == 1:
            data[pos:pos] = bytes([rng.randrange(256)])
        elif op == 2:
            data[pos:pos] = rng.choice([b"\xef\xbb\xbf", b"\x00", b"\\u0000", b"\xff\xfe", b"1e999", b"-0", b"[", b"}",
                                         b'"', b"\\", b"null", b"\xc3\x28", b"\xed\xa0\x80", b"9" * 40])
        elif op == 3 and data:
            data[pos % len(data)] = rng.randrange(256)
        elif op == 4:
            data = data[:pos]
        else:
            data[pos:pos] = data[rng.randrange(len(data) + 1):][:rng.randint(0, 40)]
    return bytes(data)


SEEDS = [
    json.dumps(BODY).encode(),
    json.dumps(dict(BODY, stream=True, stream_options={"include_usage": True})).encode(),
    json.dumps({"model": "sim-small", "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}],
                "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}],
                "temperature": 0.5, "n": 1, "stop": ["x"], "response_format": {"type": "json_object"}}).encode(),
    json.dumps({"model": "claude-sim", "max_tokens": 8, "system": "s",
                "messages": [{"role": "user", "content": "hi"}]}).encode(),
    json.dumps({"model": "sim-small", "input": ["a", "b"]}).encode(),
]


def test_random_and_mutated_bodies_never_get_a_500(gw, http):
    rng = random.Random(7)
    paths = ["/v1/chat/completions", "/v1/messages", "/v1/embeddings"]
    failures = []
    for i in range(300):
        body = mutations(rng, rng.choice(SEEDS)) if i % 4 else bytes(rng.randrange(256) for _ in range(rng.randint(0, 200)))
        path = rng.choice(paths)
        try:
            r = http.post(f"{gw.base_url}{path}", content=body,
                          headers={"content-type": "application/json", "anthropic-version": "2023-06-01"})
        except httpx.HTTPError as exc:
            failures.append((path, body[:120], repr(exc)))
            continue
        if r.status_code >= 500:
            failures.append((path, body[:120], r.status_code, r.text[:200]))
        elif r.status_code >= 400:
            error = r.json().get("error")
            assert isinstance(error, dict) and error.get("message") and error.get("type"), r.text[:300]
    assert not failures, failures[:5]
    assert http.post(f"{gw.v1}/chat/completions", json=BODY).status_code == 200
