#!/usr/bin/env bash
# Entry point of `make bench` and `make bench-soak`:
#   bench/run.sh bench   builds release, installs missing tools, runs bench/bench.py
#   bench/run.sh soak    the same, then bench/soak.py
#   bench/run.sh routing the same, then bench/routing.py (routing strategies against a hindsight oracle)
#   bench/run.sh pairs   the same, then bench/pairs.py (two binaries in interleaved rounds)
# Environment: SWIFT, PYTHON, PEERS (litellm), LITELLM_VERSION, BENCH_SKIP_BUILD=1, ARCHWAY_BIN, and the
# BENCH_* / SOAK_* settings documented in bench/README.md.
set -euo pipefail

mode="${1:-bench}"
cd "$(dirname "$0")/.."

SWIFT="${SWIFT:-swift}"
PYTHON="${PYTHON:-python3}"
PEERS="${PEERS:-}"
# Pinned to a release that predates the March 2026 supply-chain compromise of LiteLLM's PyPI uploads
# (1.107.0 was reported compromised too): change the pin only to a release known to be clean.
LITELLM_VERSION="${LITELLM_VERSION:-1.81.13}"

say() { printf '[bench] %s\n' "$*" >&2; }

# 0. Debian packages the build links, only if absent: zlib's header (compress-nio, gzip-compressed OTLP
#    export) and jemalloc (the executable's allocator on Linux), as `make` installs them.
missing=()
[[ -f /usr/include/zlib.h ]] || missing+=(zlib1g-dev)
[[ "$(uname -s)" != Linux || -f /usr/include/jemalloc/jemalloc.h ]] || missing+=(libjemalloc-dev)
if (( ${#missing[@]} )); then
    sudo_cmd=()
    [[ "$(id -u)" != "0" ]] && sudo_cmd=(sudo)
    "${sudo_cmd[@]}" apt-get update -qq && DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

# 1. Release build in its own scratch path, so it never disturbs the debug build in .build.
if [[ "${BENCH_SKIP_BUILD:-0}" != "1" && -z "${ARCHWAY_BIN:-}" ]]; then
    say "swift build -c release --product archway --scratch-path .build-release"
    "$SWIFT" build -c release --product archway --scratch-path .build-release
    # Issue 16's spike and the async floor it is compared with (bench/spike/), beside the binary.
    if [[ "$mode" == "bench" || "$mode" == "streams" ]]; then
        for product in bench-nio-forwarder bench-async-floor bench-stream-load; do
            "$SWIFT" build -c release --product "$product" --scratch-path .build-release
        done
    fi
fi
export ARCHWAY_BIN="${ARCHWAY_BIN:-$PWD/.build-release/release/archway}"
if [[ ! -x "$ARCHWAY_BIN" ]]; then
    say "no archway binary at $ARCHWAY_BIN"
    exit 1
fi

# 2. Tools from Debian's packages, installed only when absent.
missing=()
command -v nginx >/dev/null 2>&1 || [[ -x /usr/sbin/nginx ]] || missing+=(nginx)
command -v wrk >/dev/null 2>&1 || missing+=(wrk)
[[ "$mode" != counts ]] || command -v perf >/dev/null 2>&1 || missing+=(linux-perf)
if ! command -v "$PYTHON" >/dev/null 2>&1; then
    missing+=(python3 python3-venv)
elif [[ ",$PEERS," == *",litellm,"* ]] && ! "$PYTHON" -c 'import ensurepip, venv' >/dev/null 2>&1; then
    missing+=(python3-venv)
fi
if ((${#missing[@]})); then
    say "installing ${missing[*]} with apt-get"
    sudo_cmd=()
    if [[ "$(id -u)" != "0" ]]; then
        command -v sudo >/dev/null 2>&1 || { say "need root or sudo to install ${missing[*]}"; exit 1; }
        sudo_cmd=(sudo)
    fi
    # Debian's postinst would start a system nginx on port 80; policy-rc.d is honoured where present.
    "${sudo_cmd[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi
export PATH="$PATH:/usr/sbin"

# 3. Optional peers, in bench/.venv; a failed install skips the peer instead of failing the run.
if [[ ",$PEERS," == *",litellm,"* ]]; then
    venv=bench/.venv
    want="litellm==$LITELLM_VERSION"
    if [[ ! -x "$venv/bin/litellm" || "$(cat "$venv/.litellm-version" 2>/dev/null)" != "$LITELLM_VERSION" ]]; then
        say "installing 'litellm[proxy]==$LITELLM_VERSION' into $venv (PyPI)"
        if { [[ -x "$venv/bin/python" ]] || "$PYTHON" -m venv "$venv"; } \
            && timeout 1200 "$venv/bin/pip" install --quiet --disable-pip-version-check "litellm[proxy]==$LITELLM_VERSION" >&2; then
            echo "$LITELLM_VERSION" > "$venv/.litellm-version"
        else
            say "LiteLLM ($want) could not be installed: the litellm target will be skipped"
        fi
    fi
fi

# 4. Many sockets: 64 connections per target here, 1,000 streams (two sockets each) in the soak.
ulimit -Sn "$(ulimit -Hn)" 2>/dev/null || ulimit -Sn 65536 2>/dev/null || true

case "$mode" in
    bench) exec "$PYTHON" bench/bench.py ;;
    soak) exec "$PYTHON" bench/soak.py ;;
    routing) exec "$PYTHON" bench/routing.py ;;
    streams) exec "$PYTHON" bench/streams.py ;;
    pairs) exec "$PYTHON" bench/pairs.py ;;
    counts) exec "$PYTHON" bench/counts.py ;;
    *) say "usage: bench/run.sh bench|soak|routing|streams|pairs|counts"; exit 2 ;;
esac
