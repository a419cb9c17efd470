import ArchwayCore
import ArchwayTelemetry
import HTTPTypes
import Hummingbird
import Metrics
import Synchronization
import Tracing
import NIOCore

/// Opens the SERVER span of each request (continuing a caller's `traceparent`) and records
/// `http.server.request.duration`. It only traces: errors have become responses further in
/// (`OpenAIErrorMiddleware`). A response keeps its span open until its last byte is written, and the
/// span ends even when the body never runs (a client that hung up first).
struct ServerSpanMiddleware: RouterMiddleware {
    typealias Context = GatewayRequestContext

    let tracer: any Tracer
    let telemetry: GenAITelemetry

    /// Probes and scrapes arrive every few seconds and say nothing about model traffic: no spans for them.
    static let untracedRoutes: Set<String> = ["/metrics", "/healthz", "/readyz"]

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        // The router matched the request before any middleware ran: its endpoint is the route template
        // (a closed set, so span names and metric labels cannot be inflated by clients); nil when nothing matched.
        let route = context.endpointPath
        if let route, Self.untracedRoutes.contains(route) {
            return try await next(request, context)
        }
        let start = ContinuousClock.now
        var parent = ServiceContext.topLevel
        tracer.extract(request.headers, into: &parent, using: HTTPFieldsExtractor())
        let original = request.method.rawValue
        let method = Self.conventionalMethod(original)
        let span = tracer.startSpan(Self.spanName(method: method, route: route), context: parent, ofKind: .server)
        if span.isRecording {
            span.setInitialAttributes(capacity: 8) { attributes in
                attributes.set(GenAIAttributes.httpRequestMethod, method)
                if method != original { attributes.set(GenAIAttributes.httpRequestMethodOriginal, String(original.prefix(64))) }
                attributes.set(GenAIAttributes.urlPath, request.uri.path)
                attributes.set(GenAIAttributes.urlScheme, "http")
                if let route { attributes.set(GenAIAttributes.httpRoute, route) }
                if let agent = request.headers[.userAgent] { attributes.set(GenAIAttributes.userAgentOriginal, String(agent.prefix(256))) }
            }
        }
        var context = context
        context.serviceContext = span.context
        context.serverSpan = span
        let response: Response
        do {
            response = try await next(request, context)
        } catch {
            // Errors are answered further in; anything that still arrives here is answered by Hummingbird.
            let status = (error as? any HTTPResponseError)?.status ?? .internalServerError
            let end = ServerSpanEnd(span: span, start: start, duration: duration(method: method, route: route, status: status))
            end.end(status: status)
            throw error
        }
        let status = response.status
        let end = ServerSpanEnd(span: span, start: start, duration: duration(method: method, route: route, status: status))
        if request.method == .head {
            // The router answers HEAD with GET's head and no body: the body wrapped below would never be
            // written, and the span would end as if the client had left.
            end.end(status: status)
            return response
        }
        // The span ends, and the duration is taken, once the response's last byte has been written (the
        // writer's finish waits for its flush), as `http.server.request.duration` asks. This also keeps the
        // span's encoding out of the time a client waits for its answer.
        var answered = response
        let body = response.body
        answered.body = ResponseBody(contentLength: body.contentLength) { writer in
            defer { end.end(status: status) }
            try await body.write(writer)
        }
        return answered
    }

    private func duration(method: String, route: String?, status: HTTPResponse.Status) -> Recorder {
        telemetry.httpServerDuration(method: method, route: route, status: status.code)
    }

    /// `{method} {http.route}`, or the method alone when no route matched; the conventions name an unknown
    /// method's span `HTTP`. The model routes' names are constants: interpolating one allocated its string
    /// on every request.
    static func spanName(method: String, route: String?) -> String {
        let nameMethod = method == "_OTHER" ? "HTTP" : method
        guard let route else { return nameMethod }
        if nameMethod == "POST" {
            switch route {
            case "/v1/chat/completions": return "POST /v1/chat/completions"
            case "/v1/messages": return "POST /v1/messages"
            case "/v1/embeddings": return "POST /v1/embeddings"
            case "/v1/workflows/{name}/runs": return "POST /v1/workflows/{name}/runs"
            default: break
            }
        }
        return "\(nameMethod) \(route)"
    }

    /// The methods HTTP's conventions name; any other that SwiftNIO's parser accepts (WebDAV's and a few
    /// more) is reported as `_OTHER`, its original in `http.request.method_original`, so span names and the
    /// metric's label set stay the conventions' closed ones.
    static func conventionalMethod(_ method: String) -> String {
        switch method {
        case "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH": method
        default: "_OTHER"
        }
    }
}

/// Ends a SERVER span and records its duration exactly once: after the last byte of the body, or, when
/// the server drops a response whose body never ran, when the last reference goes.
final class ServerSpanEnd: Sendable {
    private let span: Mutex<(any Span)?>
    private let start: ContinuousClock.Instant
    private let duration: Recorder

    init(span: any Span, start: ContinuousClock.Instant, duration: Recorder) {
        self.span = Mutex(span)
        self.start = start
        self.duration = duration
    }

    func end(status: HTTPResponse.Status) {
        guard let span = span.withLock({ span in defer { span = nil }; return span }) else { return }
        let code = Int(status.code)
        span.modifyAttributes { attributes in
            attributes.set(GenAIAttributes.httpResponseStatusCode, code)
            if code >= 500 { attributes.set(GenAIAttributes.errorType, String(code)) }
        }
        if code >= 500 { span.setStatus(SpanStatus(code: .error)) }
        duration.record(start.duration(to: .now).seconds)
        span.end()
    }

    deinit {
        // The body never ran: the client went away before its response started.
        guard let span = span.withLock({ span in defer { span = nil }; return span }) else { return }
        span.modifyAttributes { $0.set(GenAIAttributes.errorType, "client_closed") }
        duration.record(start.duration(to: .now).seconds)
        span.end()
    }
}

struct HTTPFieldsExtractor: Extractor {
    /// The names the tracers ask for on every request, made once (a name from a string is checked and
    /// lower-cased each time).
    static let traceparent = HTTPField.Name("traceparent")!
    static let tracestate = HTTPField.Name("tracestate")!

    func extract(key: String, from carrier: HTTPFields) -> String? {
        switch key {
        case "traceparent": return carrier[Self.traceparent]
        case "tracestate": return carrier[Self.tracestate]
        default: return HTTPField.Name(key).flatMap { carrier[$0] }
        }
    }
}
