import ArchwayCore
import AsyncHTTPClient
import CompressNIO
import NIOCore
import NIOHTTP1
import ServiceLifecycle

/// Posts one serialised OTLP export request to the signal's endpoint with the configured headers,
/// gzip-compressed when `OTEL_EXPORTER_OTLP_COMPRESSION` asks for it, and retries what the OTLP
/// specification calls transient (429, 502, 503 and 504) with exponential back-off
/// and jitter, honouring `Retry-After`. A collector shedding load gets time instead of losing the batch.
struct OTLPHTTPTransport: Sendable {
    let settings: OTLPExportSettings
    let client: HTTPClient

    /// How an export ended: delivered, or not, with the last status (nil when no answer came) and why.
    enum Outcome: Sendable, Equatable {
        case delivered
        case failed(status: Int?, reason: String)
    }

    /// Fastest level: export bodies are repetitive protobuf (attribute keys, ids, model names) that
    /// shrink several times even at level 1, and the CPU is the gateway's.
    static let gzip = CompressionAlgorithm.gzip(configuration: .init(compressionLevel: .fastestCompression))

    static let userAgent = "Archway-OTLP-Exporter/\(ArchwayVersion.current) (swift)"

    /// Retries after the first try, and the longest wait for one: past these the batch is dropped, so a
    /// collector that stays down never holds the exporter for long (new spans wait in the bounded queue).
    static let maxRetries = 4
    static let maxBackoff = Duration.seconds(8)

    /// Sends `body`, retrying transient failures; never during shutdown, where the time left is the last
    /// batch's.
    func send(_ body: ByteBuffer) async -> Outcome {
        var body = body
        if settings.compression == .gzip {
            guard let compressed = try? body.compress(with: Self.gzip) else { return .failed(status: nil, reason: "gzip failed") }
            body = compressed
        }
        var attempt = 0
        while true {
            let status: Int
            let headers: HTTPHeaders
            do {
                (status, headers) = try await post(body)
            } catch {
                // AsyncHTTPClient has already retried connecting until the timeout; a request that may have
                // reached the collector and timed out is not sent twice.
                return .failed(status: nil, reason: "\(type(of: error))")
            }
            if (200..<300).contains(status) { return .delivered }
            let outcome = Outcome.failed(status: status, reason: "status \(status)")
            guard Self.isTransient(status) else { return outcome }
            let retryAfter = headers.first(name: "retry-after").flatMap(Int.init).map { Duration.seconds(max(0, $0)) }
            attempt += 1
            guard attempt <= Self.maxRetries, !Task.isShuttingDownGracefully, !Task.isCancelled else { return outcome }
            let backoff = Self.backoff(attempt: attempt, retryAfter: retryAfter)
            guard (try? await cancelWhenGracefulShutdown({ try await Task.sleep(for: backoff) })) != nil else { return outcome }
        }
    }

    private func post(_ body: ByteBuffer) async throws -> (Int, HTTPHeaders) {
        var request = HTTPClientRequest(url: settings.endpoint)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/x-protobuf")
        request.headers.add(name: "User-Agent", value: Self.userAgent)
        for (name, value) in settings.headers { request.headers.replaceOrAdd(name: name, value: value) }
        if settings.compression == .gzip { request.headers.add(name: "Content-Encoding", value: "gzip") }
        request.body = .bytes(body)
        let response = try await client.execute(request, timeout: TimeAmount(settings.timeout))
        // The answer (an ExportTraceServiceResponse, maybe a partial-success count) is read and let go.
        _ = try? await response.body.collect(upTo: 64 * 1024)
        return (Int(response.status.code), response.headers)
    }

    /// The statuses the OTLP/HTTP specification says to retry.
    static func isTransient(_ status: Int) -> Bool {
        status == 429 || status == 502 || status == 503 || status == 504
    }

    /// 0.5 s doubling per attempt, up to `maxBackoff`, jittered down by up to half; a `Retry-After` the
    /// collector gave is waited for instead, up to the same cap.
    static func backoff(attempt: Int, retryAfter: Duration?) -> Duration {
        if let retryAfter { return min(retryAfter, maxBackoff) }
        let full = min(Duration.milliseconds(500 << min(attempt - 1, 10)), maxBackoff)
        return full * Double.random(in: 0.5...1.0)
    }
}
