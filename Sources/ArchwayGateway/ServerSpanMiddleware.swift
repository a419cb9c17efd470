import ArchwayCore
import ArchwayTelemetry
import HTTPTypes
import Hummingbird
import Metrics
import Tracing
import NIOCore

/// Opens the SERVER span of each request (continuing a caller's `traceparent`), turns every error into
/// the OpenAI error shape, and records `http.server.request.duration`. A streamed response keeps its
/// span open until the last byte is written.
struct ServerSpanMiddleware: RouterMiddleware {
    typealias Context = GatewayRequestContext

    let tracer: any Tracer
    let telemetry: GenAITelemetry

    /// Route templates are a closed set, so span names and metric labels cannot be inflated by clients.
    static let knownRoutes: Set<String> = ["/v1/chat/completions", "/v1/embeddings", "/v1/models", "/v1/messages"]

    /// Probes and scrapes arrive every few seconds and say nothing about model traffic: no spans for them.
    static let untracedRoutes: Set<String> = ["/metrics", "/healthz", "/readyz"]

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if Self.untracedRoutes.contains(request.uri.path) {
            do {
                return try await next(request, context)
            } catch {
                return GatewayError.from(error).response()
            }
        }
        let start = ContinuousClock.now
        var parent = ServiceContext.topLevel
        tracer.extract(request.headers, into: &parent, using: HTTPFieldsExtractor())
        let path = request.uri.path
        let route = Self.knownRoutes.contains(path) ? path : nil
        let method = request.method.rawValue
        let span = tracer.startSpan(route.map { "\(method) \($0)" } ?? method, context: parent, ofKind: .server)
        if span.isRecording {
            span.updateAttributes { attributes in
                attributes[GenAIAttributes.httpRequestMethod] = method
                attributes[GenAIAttributes.urlPath] = path
                attributes[GenAIAttributes.urlScheme] = "http"
                if let route { attributes[GenAIAttributes.httpRoute] = route }
                if let agent = request.headers[.userAgent] { attributes[GenAIAttributes.userAgentOriginal] = String(agent.prefix(256)) }
            }
        }
        var context = context
        context.serviceContext = span.context
        var response: Response
        do {
            response = try await next(request, context)
        } catch {
            var gatewayError = GatewayError.from(error)
            if gatewayError.code == "unknown_url" { gatewayError = .notFound(path: path) }
            response = gatewayError.response(anthropicEnvelope: path == "/v1/messages")
        }
        let status = Int(response.status.code)
        span.attributes[GenAIAttributes.httpResponseStatusCode] = status
        if status >= 500 {
            span.attributes[GenAIAttributes.errorType] = String(status)
            span.setStatus(SpanStatus(code: .error))
        }
        let duration = telemetry.histogram(GenAIMetricSet.httpServerDuration, unit: "s", [
            (GenAIAttributes.httpRequestMethod, method),
            (GenAIAttributes.httpRoute, route ?? "other"),
            (GenAIAttributes.httpResponseStatusCode, String(status)),
        ])
        guard response.body.contentLength == nil else {
            span.end()
            duration.record(start.duration(to: .now).seconds)
            return response
        }
        let body = response.body
        response.body = ResponseBody { writer in
            defer {
                span.end()
                duration.record(start.duration(to: .now).seconds)
            }
            try await body.write(writer)
        }
        return response
    }
}

struct HTTPFieldsExtractor: Extractor {
    func extract(key: String, from carrier: HTTPFields) -> String? {
        guard let name = HTTPField.Name(key) else { return nil }
        return carrier[name]
    }
}
