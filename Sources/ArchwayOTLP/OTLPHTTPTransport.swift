import AsyncHTTPClient
import CompressNIO
import NIOCore
import NIOHTTP1

/// Posts one serialised OTLP export request to the signal's endpoint with the configured headers,
/// gzip-compressed when `OTEL_EXPORTER_OTLP_COMPRESSION` asks for it, and returns the HTTP status.
struct OTLPHTTPTransport: Sendable {
    let settings: OTLPExportSettings
    let client: HTTPClient

    /// Fastest level: export bodies are repetitive protobuf (attribute keys, ids, model names) that
    /// shrink several times even at level 1, and the CPU is the gateway's.
    static let gzip = CompressionAlgorithm.gzip(configuration: .init(compressionLevel: .fastestCompression))

    func post(_ body: ByteBuffer) async throws -> Int {
        var request = HTTPClientRequest(url: settings.endpoint)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/x-protobuf")
        for (name, value) in settings.headers { request.headers.add(name: name, value: value) }
        switch settings.compression {
        case .none:
            request.body = .bytes(body)
        case .gzip:
            request.headers.add(name: "Content-Encoding", value: "gzip")
            var plain = body
            request.body = .bytes(try plain.compress(with: Self.gzip))
        }
        let response = try await client.execute(request, timeout: TimeAmount(settings.timeout))
        // The answer (an ExportTraceServiceResponse, maybe a partial-success count) is read and let go.
        _ = try? await response.body.collect(upTo: 64 * 1024)
        return Int(response.status.code)
    }
}
