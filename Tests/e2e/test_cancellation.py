"""A client that disconnects from a streamed answer makes the gateway cancel its upstream request.

The upstream is a standalone simulator whose streams are slow (5 tokens per second, so 12 to 24 tokens
last several seconds). The client reads two content chunks through the gateway and closes the
connection. The simulator's stream statistics (`GET /_simulator/stats`) then tell how the upstream
stream ended: `cancelled` (the gateway closed the connection before the end marker) is what must happen
within moments; `completed` means the gateway never closed its upstream connection. The simulator
notices a closed connection when it next writes, so `cancelled` lags the gateway's close by up to two
token intervals.

The last test covers a client that leaves while the upstream is still silent (before its first token).
"""

from __future__ import annotations

import json
import os
import time

import anthropic
import httpx
import openai
import pytest

from e2e_helpers import base_config, start_simulator

SLOW = {"x-simulator-tokens-per-second": "5"}
# How long the upstream stream may stay open after the client went away.
CANCEL_WITHIN = 3.0
# On failure, how much longer to watch, to tell "read to the end" from "left hanging".
DIAGNOSE_FOR = 8.0
CONTENT_CHUNKS = 2
ANTHROPIC_HEADERS = {"x-api-key": "sk-ant-client-test", "anthropic-version": "2023-06-01"}


@pytest.fixture(scope="module")
def sim(archway_bin, tmp_path_factory):
    """A simulator of this module's own, so no other test's streams show in its statistics."""
    url = start_simulator(archway_bin, tmp_path_factory.mktemp("cancel-sim"), name="cancel-simulator")
    yield url
    url.proc.stop(timeout=10)


@pytest.fixture(scope="module")
def gw(module_gateway, sim):
    cfg = base_config(sim, providers={"sim": {"headers": dict(SLOW)}, "claude": {"headers": dict(SLOW)}})
    return module_gateway(cfg)


def stream_stats(sim) -> dict:
    r = httpx.get(f"{sim}/_simulator/stats", timeout=5)
    r.raise_for_status()
    return r.json()["streams"]


def in_flight(stats: dict) -> int:
    return stats["started"] - stats["completed"] - stats["cancelled"] - stats["broken"]


def delta(after: dict, before: dict) -> dict:
    return {k: after[k] - before[k] for k in ("started", "completed", "cancelled", "broken")}


def settled(sim, timeout: float = 10.0) -> dict:
    """The stats once no stream is in flight (a previous test's stream must not count in this one)."""
    deadline = time.monotonic() + timeout
    while True:
        stats = stream_stats(sim)
        if in_flight(stats) == 0 or time.monotonic() >= deadline:
            return stats
        time.sleep(0.05)


def is_content_event(data: str, endpoint: str) -> bool:
    if not data or data == "[DONE]":
        return False
    payload = json.loads(data)
    if endpoint == "chat":
        choices = payload.get("choices") or [{}]
        return bool(choices[0].get("delta", {}).get("content"))
    return payload.get("type") == "content_block_delta"


def body_for(endpoint: str, model: str) -> dict:
    messages = [{"role": "user", "content": "Tell me a long story, slowly"}]
    if endpoint == "chat":
        return {"model": model, "stream": True, "messages": messages}
    return {"model": model, "max_tokens": 256, "stream": True, "messages": messages}


def read_then_disconnect_httpx(gw, endpoint: str, model: str) -> list[str]:
    """Reads CONTENT_CHUNKS content events through the gateway, then closes the connection."""
    url = f"{gw.v1}/chat/completions" if endpoint == "chat" else f"{gw.v1}/messages"
    headers = {} if endpoint == "chat" else dict(ANTHROPIC_HEADERS)
    seen: list[str] = []
    # A client of its own: leaving the `with` blocks closes the response before its end, and with it
    # the TCP connection (an unfinished HTTP/1.1 response cannot go back to the pool).
    with httpx.Client(timeout=10) as client:
        with client.stream("POST", url, json=body_for(endpoint, model), headers=headers) as resp:
            assert resp.status_code == 200, resp.read()
            for line in resp.iter_lines():
                if line.startswith("data:") and is_content_event(line[5:].strip(), endpoint):
                    seen.append(line)
                    if len(seen) >= CONTENT_CHUNKS:
                        break
    return seen


def read_then_disconnect_openai_sdk(gw, endpoint: str, model: str) -> list[str]:
    client = openai.OpenAI(api_key="sk-client-test", base_url=gw.v1, max_retries=0, timeout=10)
    seen: list[str] = []
    try:
        stream = client.chat.completions.create(model=model, stream=True,
                                                messages=body_for("chat", model)["messages"])
        for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                seen.append(chunk.choices[0].delta.content)
                if len(seen) >= CONTENT_CHUNKS:
                    break
        stream.close()
    finally:
        client.close()
    return seen


def read_then_disconnect_anthropic_sdk(gw, endpoint: str, model: str) -> list[str]:
    client = anthropic.Anthropic(api_key="sk-ant-client-test", base_url=gw.base_url, max_retries=0, timeout=10)
    seen: list[str] = []
    try:
        stream = client.messages.create(model=model, max_tokens=256, stream=True,
                                        messages=body_for("messages", model)["messages"])
        for event in stream:
            if event.type == "content_block_delta":
                seen.append(event.delta.text)
                if len(seen) >= CONTENT_CHUNKS:
                    break
        stream.close()
    finally:
        client.close()
    return seen


CASES = [
    # (client, endpoint the client calls, model: sim-small has an OpenAI-wire upstream, claude-sim an Anthropic one)
    pytest.param(read_then_disconnect_httpx, "chat", "sim-small", id="httpx-chat-openai_upstream"),
    pytest.param(read_then_disconnect_httpx, "messages", "claude-sim", id="httpx-messages-anthropic_upstream"),
    pytest.param(read_then_disconnect_httpx, "chat", "claude-sim", id="httpx-chat-anthropic_upstream"),
    pytest.param(read_then_disconnect_httpx, "messages", "sim-small", id="httpx-messages-openai_upstream"),
    pytest.param(read_then_disconnect_openai_sdk, "chat", "sim-small", id="openai_sdk-chat"),
    pytest.param(read_then_disconnect_anthropic_sdk, "messages", "claude-sim", id="anthropic_sdk-messages"),
]


@pytest.mark.parametrize(("read_then_disconnect", "endpoint", "model"), CASES)
def test_client_disconnect_cancels_upstream_stream(gw, sim, read_then_disconnect, endpoint, model):
    before = settled(sim)
    assert in_flight(before) == 0, f"a previous stream is still open upstream: {before}"

    t0 = time.monotonic()
    seen = read_then_disconnect(gw, endpoint, model)
    closed_at = time.monotonic() - t0
    assert len(seen) == CONTENT_CHUNKS, seen

    # The premise: when the client left, the upstream stream was under way and far from its end.
    at_close = delta(stream_stats(sim), before)
    assert at_close["started"] == 1 and at_close["completed"] == 0, (
        f"the upstream stream should still be running when the client closes (after {closed_at:.2f}s): {at_close}")

    # Wait until the upstream stream ended, at most CANCEL_WITHIN seconds.
    deadline = time.monotonic() + CANCEL_WITHIN
    now = delta(stream_stats(sim), before)
    while in_flight(now) > 0 and time.monotonic() < deadline:
        time.sleep(0.05)
        now = delta(stream_stats(sim), before)
    ended_after = time.monotonic() - t0 - closed_at

    if now != {"started": 1, "completed": 0, "cancelled": 1, "broken": 0}:
        # Watch a little longer so the failure says what the gateway did with the abandoned stream.
        later, waited = now, ended_after
        diagnose_until = time.monotonic() + DIAGNOSE_FOR
        while in_flight(later) > 0 and time.monotonic() < diagnose_until:
            time.sleep(0.1)
            later = delta(stream_stats(sim), before)
        waited = time.monotonic() - t0 - closed_at
        if later["completed"]:
            what = (f"the upstream stream ran to its end marker {waited:.2f}s after the client closed: "
                    f"the gateway did not close its upstream connection")
        elif in_flight(later):
            what = f"the upstream stream is still open {waited:.2f}s after the client closed"
        else:
            what = f"the upstream stream ended {waited:.2f}s after the client closed"
        pytest.fail(
            f"client closed after {closed_at:.2f}s ({CONTENT_CHUNKS} content chunks read); "
            f"{CANCEL_WITHIN}s later the simulator's stream stats were {now} (expected cancelled == 1, completed == 0); "
            f"{what}: {later}\n--- gateway stderr ---\n{gw.proc.stderr[-3000:]}"
        )


# ------------------------------------------------------------------ a disconnect while the upstream is silent

SILENT_FOR_MS = 4000


def upstream_connections(pid: int, port: int) -> int | None:
    """Established TCP connections that process `pid` holds to 127.0.0.1:`port` (Linux /proc), or None
    where /proc cannot tell."""
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return None
    inodes = set()
    for fd in fds:
        try:
            link = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if link.startswith("socket:["):
            inodes.add(link[len("socket:["):-1])
    count = 0
    for table in (f"/proc/{pid}/net/tcp", f"/proc/{pid}/net/tcp6"):
        try:
            with open(table) as f:
                rows = f.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            remote_port = int(fields[2].rsplit(":", 1)[1], 16)
            if remote_port == port and fields[3] == "01" and fields[9] in inodes:  # 01 = ESTABLISHED
                count += 1
    return count


def test_client_disconnect_while_upstream_is_silent_cancels_upstream(gateway, simulator_factory):
    """The client leaves while the upstream has not sent a token yet (a long time to first token, as with
    reasoning models). The gateway must drop its upstream connection then, not when the first token comes.

    The simulator itself only notices a closed connection when it next writes, so the gateway's upstream
    connection is watched directly (/proc); the simulator's statistics confirm the outcome afterwards."""
    sim = simulator_factory()
    silent = {"x-simulator-ttft-ms": str(SILENT_FOR_MS), **SLOW}
    # A gateway of its own, so no pooled idle connection to the simulator is counted; a first-byte timeout
    # longer than the silence, so that it is the disconnect, not a timeout, that must end the call.
    gw = gateway(base_config(sim, upstream={"first_byte_timeout": "30s"}, providers={"sim": {"headers": silent}}))
    if upstream_connections(gw.proc.pid, sim.port) is None:
        pytest.skip("needs Linux /proc to see the gateway's upstream connections")

    t0 = time.monotonic()
    with httpx.Client(timeout=10) as client:
        with client.stream("POST", f"{gw.v1}/chat/completions", json=body_for("chat", "sim-small")) as resp:
            assert resp.status_code == 200
            time.sleep(0.3)
            assert upstream_connections(gw.proc.pid, sim.port) == 1, "the upstream stream should be open"
    closed_at = time.monotonic() - t0
    assert stream_stats(sim)["completed"] == 0

    deadline = time.monotonic() + 1.5
    while upstream_connections(gw.proc.pid, sim.port) and time.monotonic() < deadline:
        time.sleep(0.05)
    dropped_after = time.monotonic() - t0 - closed_at
    still_open = upstream_connections(gw.proc.pid, sim.port)
    if still_open:
        while upstream_connections(gw.proc.pid, sim.port) and time.monotonic() - t0 < SILENT_FOR_MS / 1000 + 5:
            time.sleep(0.05)
        pytest.fail(
            f"client closed {closed_at:.2f}s into a stream whose first token comes after {SILENT_FOR_MS}ms; "
            f"{dropped_after:.2f}s later the gateway still held its upstream connection; it dropped it "
            f"{time.monotonic() - t0 - closed_at:.2f}s after the client closed; simulator stats: {stream_stats(sim)}")
    # The simulator counts the stream cancelled once it tries to write its first token.
    deadline = time.monotonic() + SILENT_FOR_MS / 1000 + 3
    while in_flight(stream_stats(sim)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert stream_stats(sim) == {"started": 1, "completed": 0, "cancelled": 1, "broken": 0}
