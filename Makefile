# Archway: `make run` starts the gateway on the built-in simulator; `make test` runs every test.
SWIFT ?= swift
PYTHON ?= python3
VENV := .venv
BIN := .build/debug/archway
CONFIG ?= examples/quickstart.yaml

.PHONY: build build-tests run test test-swift test-e2e test-observability tools venv check clean

# `make run` builds only the executable. `make test` builds the tests, runs them, and then builds the
# executable as `make run` builds it (for the end-to-end suites), all in the same .build/debug. `swift test`
# re-plans the build for testing, so the product build must come after it: then `make run` right after
# `make test` has nothing left to compile.
build: system-deps
	$(SWIFT) build --product archway

build-tests: system-deps
	$(SWIFT) build --build-tests

# Debian packages the build links, each installed only if absent: zlib's header, for gzip-compressed OTLP
# export (compress-nio), and jemalloc, the executable's allocator on Linux (Sources/CArchwayAllocator).
.PHONY: system-deps
system-deps:
	@missing=""; \
	[ -f /usr/include/zlib.h ] || missing="$$missing zlib1g-dev"; \
	[ "$$(uname -s)" != Linux ] || [ -f /usr/include/jemalloc/jemalloc.h ] || missing="$$missing libjemalloc-dev"; \
	[ -z "$$missing" ] || ($(SUDO) apt-get update && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $$missing)

run: build
	$(BIN) serve --config $(CONFIG)

check: build
	$(BIN) check --config $(CONFIG)

# The end-to-end tests' Python environment, with pinned packages (official openai, anthropic and
# opentelemetry-proto packages).
venv: $(VENV)/.installed

$(VENV)/.installed: Tests/e2e/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r Tests/e2e/requirements.txt
	touch $@

test: test-swift test-e2e test-observability

test-swift: build-tests
	$(SWIFT) test --skip-build

test-e2e: build venv
	ARCHWAY_BIN=$(CURDIR)/$(BIN) $(VENV)/bin/python -m pytest -q Tests/e2e

# Debian's prometheus package gives the observability tests `prometheus` and `promtool`.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
tools:
	@command -v promtool >/dev/null 2>&1 && command -v prometheus >/dev/null 2>&1 || \
	  ($(SUDO) apt-get update && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends prometheus)

# Dashboards, SLO rules (promtool check/test), collector configs and the compose stack, checked against
# a real Prometheus scraping a real Archway (Tests/observability).
test-observability: build venv tools
	ARCHWAY_BIN=$(CURDIR)/$(BIN) $(VENV)/bin/python -m pytest -q Tests/observability

clean:
	rm -rf .build $(VENV)

# Macro benchmarks (bench/README.md): release build in .build-release, canned nginx upstream on 127.0.0.1.
# `make bench [BENCH_DURATION=10] [PEERS=litellm]`, `make bench-soak [SOAK_DURATION=600]`, `make bench-routing`.
BENCH_DURATION ?= 10
SOAK_DURATION ?= 600
PEERS ?=

.PHONY: bench bench-soak bench-pairs bench-counts bench-routing bench-streams

bench:
	SWIFT="$(SWIFT)" PYTHON="$(PYTHON)" BENCH_DURATION="$(BENCH_DURATION)" PEERS="$(PEERS)" bench/run.sh bench

bench-soak:
	SWIFT="$(SWIFT)" PYTHON="$(PYTHON)" SOAK_DURATION="$(SOAK_DURATION)" bench/run.sh soak

# Two binaries in interleaved rounds, for a noisy machine (bench/pairs.py):
# `make bench-pairs ARCHWAY_BEFORE_BIN=/path/to/old/archway [PAIRS_ROUNDS=6]`; the other is this tree's release build.
PAIRS_ROUNDS ?= 6
bench-pairs:
	SWIFT="$(SWIFT)" PYTHON="$(PYTHON)" PAIRS_ROUNDS="$(PAIRS_ROUNDS)" ARCHWAY_BEFORE_BIN="$(ARCHWAY_BEFORE_BIN)" bench/run.sh pairs

# Runtime calls a chat request makes (jobs, executor switches, mallocs, retains), counted with perf's uprobes
# (root): `make bench-counts [ARCHWAY_BEFORE_BIN=/path/to/old/archway] [COUNTS_REQUESTS=1000]` (bench/counts.py).
COUNTS_REQUESTS ?= 1000
bench-counts:
	SWIFT="$(SWIFT)" PYTHON="$(PYTHON)" COUNTS_REQUESTS="$(COUNTS_REQUESTS)" ARCHWAY_BEFORE_BIN="$(ARCHWAY_BEFORE_BIN)" bench/run.sh counts

# Routing strategies (and LiteLLM's routers with PEERS=litellm) against a hindsight oracle on a simulated
# workload with an outage, a recovery, a model that drifts and a price drop: `make bench-routing [ROUTING_REQUESTS=150]`.
ROUTING_REQUESTS ?= 150
bench-routing:
	SWIFT="$(SWIFT)" PYTHON="$(PYTHON)" PEERS="$(PEERS)" ROUTING_REQUESTS="$(ROUTING_REQUESTS)" bench/run.sh routing

# Streams at LLM scale (bench/streams.py): thousands of concurrent streams at a token rate, OpenAI and
# Anthropic upstreams behind the OpenAI wire, tool calls in some: `make bench-streams [STREAMS_LEVELS=1000x50,5000x10] [PEERS=litellm]`.
STREAMS_LEVELS ?= 1000x50,5000x10
bench-streams:
	SWIFT="$(SWIFT)" PYTHON="$(PYTHON)" PEERS="$(PEERS)" STREAMS_LEVELS="$(STREAMS_LEVELS)" bench/run.sh streams

# Micro benchmarks of the hot path (Benchmarks/, package-benchmark): wall time, instructions (where the
# CPU exposes them), malloc counts. `bench-micro-check` fails when a result leaves the committed
# Benchmarks/Thresholds/ by more than the tolerances in Benchmarks/Benchmarks/HotPath/HotPath.swift;
# `bench-micro-thresholds` records new ones after an intended change. BENCH_MICRO_ARGS goes to the runner,
# e.g. `make bench-micro BENCH_MICRO_ARGS="--filter 'Record.*' --allocation-stacks"` (where each allocation comes from).
BENCH_MICRO_ARGS ?=
.PHONY: bench-micro bench-micro-check bench-micro-thresholds
bench-micro:
	cd Benchmarks && $(SWIFT) package --disable-sandbox benchmark $(BENCH_MICRO_ARGS)

# The check reads a staged copy of Thresholds/ (bench/micro_thresholds.py says why), holding allocations and
# instructions only.
BENCH_MICRO_CHECK_DIR = $(CURDIR)/Benchmarks/.build/thresholds-check
bench-micro-check:
	rm -rf "$(BENCH_MICRO_CHECK_DIR)"
	$(PYTHON) bench/micro_thresholds.py Benchmarks/Thresholds "$(BENCH_MICRO_CHECK_DIR)"
	cd Benchmarks && $(SWIFT) package --disable-sandbox benchmark thresholds check --path "$(BENCH_MICRO_CHECK_DIR)" $(BENCH_MICRO_ARGS)

bench-micro-thresholds:
	cd Benchmarks && $(SWIFT) package --disable-sandbox --allow-writing-to-package-directory benchmark thresholds update

# libFuzzer over everything that reads client and provider bytes (Fuzz/): `make fuzz [FUZZ_SECONDS=120]`.
# Findings are written as crash-* files in Fuzz/; the seed corpora are Fuzz/corpus/wire, Fuzz/corpus/upstream
# (an upstream's HTTP/1.1 bytes through Archway's client), Fuzz/corpus/ingress (a client's HTTP/1.1 bytes
# through Archway's ingress) and Fuzz/corpus/policy (the PII scanner, redaction
# and restoration, the injection scorer, the consistency measure, workflow templates).
FUZZ_SECONDS ?= 120
.PHONY: fuzz
fuzz:
	cd Fuzz && $(SWIFT) build -c release --sanitize=fuzzer
	mkdir -p Fuzz/.build/corpus && cp Fuzz/corpus/wire/* Fuzz/.build/corpus/
	cd Fuzz && SWIFT_BACKTRACE=enable=no ./.build/release/FuzzWire .build/corpus corpus/wire -max_total_time=$(FUZZ_SECONDS) -max_len=4096 -print_final_stats=1
	mkdir -p Fuzz/.build/corpus-upstream && cp Fuzz/corpus/upstream/* Fuzz/.build/corpus-upstream/
	cd Fuzz && SWIFT_BACKTRACE=enable=no ./.build/release/FuzzUpstream .build/corpus-upstream corpus/upstream -max_total_time=$(FUZZ_SECONDS) -max_len=4096 -print_final_stats=1
	mkdir -p Fuzz/.build/corpus-ingress && cp Fuzz/corpus/ingress/* Fuzz/.build/corpus-ingress/
	cd Fuzz && SWIFT_BACKTRACE=enable=no ./.build/release/FuzzIngress .build/corpus-ingress corpus/ingress -max_total_time=$(FUZZ_SECONDS) -max_len=4096 -print_final_stats=1
	mkdir -p Fuzz/.build/corpus-policy && cp Fuzz/corpus/policy/* Fuzz/.build/corpus-policy/
	cd Fuzz && SWIFT_BACKTRACE=enable=no ./.build/release/FuzzPolicy .build/corpus-policy corpus/policy -max_total_time=$(FUZZ_SECONDS) -max_len=4096 -print_final_stats=1
