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
            span.setInitialAttributes(capacity: 12) { attributes in
                attributes.set(GenAIAttributes.httpRequestMethod, method)
                if method != original { attributes.set(GenAIAttributes.httpRequestMethodOriginal, String(original.prefix(64))) }
                attributes.set(GenAIAttributes.urlPath, request.uri.path)
                attributes.set(GenAIAttributes.urlScheme, "http")
                if let route { attributes.set(GenAIAttributes.httpRoute, route) }
                if let agent = request.headers[.userAgent] { attributes.set(GenAIAttributes.userAgentOriginal, String(agent.prefix(256))) }
                if let client = context.client, let peer = client.peerAddress {
                    attributes.set(GenAIAttributes.networkPeerAddress, peer)
                    attributes.set(GenAIAttributes.networkPeerPort, client.peerPort)
                    // Behind a proxy the client is the one the proxy says it forwarded for.
                    if let forwarded = request.headers[Self.xForwardedFor].flatMap(Self.forwardedAddress) {
                        attributes.set(GenAIAttributes.clientAddress, forwarded)
                    } else {
                        attributes.set(GenAIAttributes.clientAddress, peer)
                        attributes.set(GenAIAttributes.clientPort, client.peerPort)
                    }
                }
            }
        }
        let end = ServerSpanEnd(span: span, start: start, method: method, route: route, telemetry: telemetry)
        var context = context
        context.serviceContext = span.context
        context.serverSpan = span
        context.serverSpanEnd = end
        let response: Response
        do {
            response = try await next(request, context)
        } catch {
            // Errors are answered further in; anything that still arrives here is answered by Hummingbird.
            end.end(status: (error as? any HTTPResponseError)?.status ?? .internalServerError)
            throw error
        }
        let status = response.status
        end.responded(status)
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

/// Ends a SERVER span and records `http.server.request.duration` exactly once: after the last byte of the
/// body, or, when the server drops a response whose body never ran, when the last reference goes. What
/// failed after the status went out (a stream that broke, a client that left) is reported here, so the
/// span and the metric both carry its `error.type`, with the SDK off too.
final class ServerSpanEnd: Sendable {
    private struct State {
        var span: (any Span)?
        var status: HTTPResponse.Status?
        var errorType: String?
        var isError = false
    }

    private let state: Mutex<State>
    private let start: ContinuousClock.Instant
    private let method: String
    private let route: String?
    private let telemetry: GenAITelemetry

    init(span: any Span, start: ContinuousClock.Instant, method: String, route: String?, telemetry: GenAITelemetry) {
        self.state = Mutex(State(span: span))
        self.start = start
        self.method = method
        self.route = route
        self.telemetry = telemetry
    }

    /// The status the response went out with, before its body runs.
    func responded(_ status: HTTPResponse.Status) {
        state.withLock { $0.status = status }
    }

    /// The answer failed after its status went out: `errorType` (the first one reported) on the span and
    /// the metric; `isError` also marks the span ERROR (a failure on the gateway's or the upstream's side,
    /// where a client that left is not one).
    func fail(_ errorType: String, isError: Bool) {
        state.withLock { state in
            if state.errorType == nil { state.errorType = errorType }
            if isError { state.isError = true }
        }
    }

    func end(status: HTTPResponse.Status) {
        guard let (span, taken) = take() else { return }
        let code = Int(status.code)
        // 499 (nginx's "client closed request") is written for a client that left before its answer.
        let errorType = taken.errorType ?? (code >= 500 ? String(code) : code == 499 ? GatewayError.clientClosed.shortDescription : nil)
        span.modifyAttributes { attributes in
            attributes.set(GenAIAttributes.httpResponseStatusCode, code)
            if let errorType { attributes.set(GenAIAttributes.errorType, errorType) }
        }
        if code >= 500 || taken.isError { span.setStatus(SpanStatus(code: .error)) }
        record(status: code, errorType: errorType)
        span.end()
    }

    /// The span, once, with what was reported of the answer.
    private func take() -> (any Span, State)? {
        state.withLock { state in
            guard let span = state.span else { return nil }
            state.span = nil
            return (span, state)
        }
    }

    private func record(status: Int, errorType: String?) {
        telemetry.httpServerDuration(method: method, route: route, status: status, errorType: errorType)
            .record(start.duration(to: .now).seconds)
    }

    deinit {
        // The body never ran: the client went away before its response started.
        guard let (span, taken) = take() else { return }
        let errorType = GatewayError.clientClosed.shortDescription
        span.modifyAttributes { $0.set(GenAIAttributes.errorType, errorType) }
        record(status: Int(taken.status?.code ?? 499), errorType: errorType)
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

extension ServerSpanMiddleware {
    static let xForwardedFor = HTTPField.Name("X-Forwarded-For")!

    /// The last entry of `X-Forwarded-For`, when it reads as an address: the one the proxy in front of the
    /// gateway added, which the client cannot choose (proxies append; the first entry is whatever the
    /// client sent). At most 64 characters of those IPv4, IPv6 and host names use, so no arbitrary text
    /// reaches spans.
    static func forwardedAddress(_ value: String) -> String? {
        var entry = value.utf8.split(separator: UInt8(ascii: ","), omittingEmptySubsequences: false).last ?? value.utf8[...]
        while let byte = entry.first, byte == 0x20 || byte == 0x09 { entry = entry.dropFirst() }
        while let byte = entry.last, byte == 0x20 || byte == 0x09 { entry = entry.dropLast() }
        guard (1...64).contains(entry.count), entry.allSatisfy(Self.isAddressByte) else { return nil }
        return String(Substring(entry))
    }

    /// Letters, digits, `.`, `-`, `_`, `:` and the brackets around an IPv6 address.
    private static func isAddressByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: ":"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
             UInt8(ascii: "."), UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "["), UInt8(ascii: "]"):
            true
        default:
            false
        }
    }
}
