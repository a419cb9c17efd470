/// Names, units and bucket boundaries of the metrics Archway records.
///
/// By default Archway emits the metric set today's consumers read (Datadog LLM Observability, Grafana's
/// GenAI dashboards): `gen_ai.client.operation.duration` and `gen_ai.client.token.usage`. With
/// `OTEL_SEMCONV_STABILITY_OPT_IN` containing `gen_ai_latest_experimental` it emits the newest
/// experimental set instead (`gen_ai.client.inference.*`).
public struct GenAIMetricSet: Sendable, Hashable {
    public enum Version: Sendable, Hashable {
        case stable
        case latestExperimental
    }

    public var version: Version

    public init(version: Version) {
        self.version = version
    }

    /// Reads `OTEL_SEMCONV_STABILITY_OPT_IN` (a comma-separated list).
    public init(environment: [String: String]) {
        let optIn = environment["OTEL_SEMCONV_STABILITY_OPT_IN"]?.split(separator: ",").map { $0.trimmingWhitespace() } ?? []
        self.version = optIn.contains("gen_ai_latest_experimental") ? .latestExperimental : .stable
    }

    /// Explicit bucket boundaries the conventions give for durations, in seconds.
    public static let durationBuckets: [Double] = [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92]
    /// Explicit bucket boundaries the conventions give for token counts.
    public static let tokenBuckets: [Double] = [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864]
    /// Boundaries for the gateway's own HTTP server durations (HTTP semantic conventions' advice).
    public static let httpServerDurationBuckets: [Double] = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10]

    public var operationDuration: String {
        version == .stable ? "gen_ai.client.operation.duration" : "gen_ai.client.inference.duration"
    }

    public var timeToFirstChunk: String {
        version == .stable ? "gen_ai.client.operation.time_to_first_chunk" : "gen_ai.client.inference.time_to_first_chunk"
    }

    public var timePerOutputChunk: String {
        version == .stable ? "gen_ai.client.operation.time_per_output_chunk" : "gen_ai.client.inference.time_per_output_chunk"
    }

    /// Stable set: one histogram by `gen_ai.token.type`.
    public static let tokenUsage = "gen_ai.client.token.usage"
    /// Latest experimental set: per-operation histograms and per-modality counters.
    public static let inputTokensHistogram = "gen_ai.client.inference.operation.input_tokens"
    public static let outputTokensHistogram = "gen_ai.client.inference.operation.output_tokens"
    public static let inputTokensCounter = "gen_ai.client.inference.usage.input_tokens"
    public static let outputTokensCounter = "gen_ai.client.inference.usage.output_tokens"
    public static let cacheReadTokensCounter = "gen_ai.client.inference.usage.cache_read.input_tokens"
    public static let cacheWriteTokensCounter = "gen_ai.client.inference.usage.cache_write.input_tokens"
    public static let reasoningTokensCounter = "gen_ai.client.inference.usage.reasoning.output_tokens"
    /// Latest experimental set, embeddings: their duration and input tokens (they have no output).
    public static let embeddingsDuration = "gen_ai.client.embeddings.duration"
    public static let embeddingsInputTokensHistogram = "gen_ai.client.embeddings.operation.input_tokens"

    /// Gateway metrics.
    public static let cost = "archway.cost"
    public static let upstreamRetries = "archway.upstream.retries"
    public static let httpServerDuration = "http.server.request.duration"
    public static let telemetryDrops = "archway.telemetry.dropped"
    /// Routing: decisions by route, chosen model and reason; moves to another candidate; ejections and
    /// probes by model; live endpoint figures (gauges, refreshed every second).
    public static let routeDecisions = "archway.route.decisions"
    public static let routeFallbacks = "archway.route.fallbacks"
    public static let endpointEjections = "archway.endpoint.ejections"
    public static let endpointProbes = "archway.endpoint.probes"
    public static let endpointLatency = "archway.endpoint.latency"
    public static let endpointInFlight = "archway.endpoint.in_flight"
    public static let endpointEjected = "archway.endpoint.ejected"
    public static let endpointErrorRate = "archway.endpoint.error_rate"
    public static let endpointPrice = "archway.endpoint.price"
    /// HTTP semantic conventions: connections to each upstream by `http.connection.state` (active | idle).
    public static let httpClientOpenConnections = "http.client.open_connections"
    public static let upstreamWaitingCalls = "archway.upstream.waiting_calls"
    public static let routeEligibleCandidates = "archway.route.eligible_candidates"
    public static let routeMinQuality = "archway.route.min_quality"
    /// Consistency shadowing: each model's windowed score per route (gauge), samples by label, and
    /// shadow samples by outcome (evaluated, dropped when the queue is full, failed).
    public static let consistencyScore = "archway.consistency.score"
    public static let consistencySamples = "archway.consistency.samples"
    public static let shadowSamples = "archway.shadow.samples"
    /// Workflows: each run's duration (`gen_ai.workflow.name`, `error.type` on failure), each step's
    /// duration by status, and each step's cost.
    public static let workflowDuration = "gen_ai.workflow.duration"
    public static let workflowStepDuration = "archway.workflow.step.duration"
    public static let workflowStepCost = "archway.workflow.step.cost"
    /// The policy stage: detections by guardrail (`pii`, `injection`), entity kind and action taken.
    public static let policyDetections = "archway.policy.detections"

    // The process's own resource use (OpenTelemetry's process metrics).
    public static let processCPUTime = "process.cpu.time"
    public static let processMemoryUsage = "process.memory.usage"
    public static let processMemoryVirtual = "process.memory.virtual"
    public static let processThreadCount = "process.thread.count"
    public static let processFileDescriptorCount = "process.unix.file_descriptor.count"

    /// Every histogram Archway records, with its unit and bucket boundaries.
    public static let histograms: [String: (unit: String, buckets: [Double])] = [
        "gen_ai.client.operation.duration": ("s", durationBuckets),
        "gen_ai.client.inference.duration": ("s", durationBuckets),
        "gen_ai.client.operation.time_to_first_chunk": ("s", durationBuckets),
        "gen_ai.client.inference.time_to_first_chunk": ("s", durationBuckets),
        "gen_ai.client.operation.time_per_output_chunk": ("s", durationBuckets),
        "gen_ai.client.inference.time_per_output_chunk": ("s", durationBuckets),
        tokenUsage: ("{token}", tokenBuckets),
        inputTokensHistogram: ("{token}", tokenBuckets),
        outputTokensHistogram: ("{token}", tokenBuckets),
        httpServerDuration: ("s", httpServerDurationBuckets),
        workflowDuration: ("s", durationBuckets),
        workflowStepDuration: ("s", durationBuckets),
    ]

    /// Bucket boundaries by metric name, for the OTLP exporter's configuration.
    public static var histogramBuckets: [String: [Double]] {
        histograms.mapValues(\.buckets)
    }
}

extension Substring {
    func trimmingWhitespace() -> String {
        String(drop { $0 == " " }.reversed().drop { $0 == " " }.reversed())
    }
}
