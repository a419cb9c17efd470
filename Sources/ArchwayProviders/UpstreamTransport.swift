public import ArchwayConfig
import ArchwayCore
import NIOCore
import NIOHTTP1
public import Tracing
import ArchwayTelemetry

/// Sends requests to providers through the current event loop's connection pool: an HTTP CLIENT span per
/// attempt with the W3C trace context injected, bounded retries on retryable failures, error mapping.
public struct UpstreamTransport: Sendable {
    public let clients: UpstreamClients
    public let settings: UpstreamSettings
    public let tracer: any Tracer

    public init(clients: UpstreamClients, settings: UpstreamSettings, tracer: any Tracer) {
        self.clients = clients
        self.settings = settings
        self.tracer = tracer
    }

    /// Sends `body` to `path` at `origin` (`url` is the same, for telemetry), retrying retryable failures,
    /// and returns the first successful response: at its head, or with its whole body when `collectLimit`
    /// is set (see `UpstreamClients.execute`).
    func send(
        origin: UpstreamOrigin,
        path: String,
        url: String,
        body: ByteBuffer,
        headers: HTTPHeaders,
        provider: ProviderConfiguration,
        call: UpstreamCall,
        collectLimit: Int? = nil
    ) async throws -> (response: UpstreamResponse, exchange: UpstreamExchange) {
        var attempt = 0
        while true {
            call.attempts.increment()
            let span = tracer.startSpan("POST", context: call.context, ofKind: .client)
            span.setInitialAttributes(capacity: 8) { attributes in
                attributes.set(GenAIAttributes.httpRequestMethod, "POST")
                attributes.set(GenAIAttributes.serverAddress, origin.host)
                attributes.set(GenAIAttributes.serverPort, origin.port)
                attributes.set(GenAIAttributes.urlFull, url)
                if attempt > 0 { attributes.set(GenAIAttributes.httpRequestResendCount, attempt) }
            }
            var head = HTTPRequestHead(version: .http1_1, method: .POST, uri: path, headers: headers)
            head.headers.add(name: "content-length", value: String(body.readableBytes))
            tracer.inject(span.context, into: &head.headers, using: HTTPHeadersInjector())
            let failed: GatewayError
            var retryAfter: Duration?
            var rateLimit: RateLimitHeadroom?
            do {
                let response = try await clients.execute(
                    origin: origin, head: head, body: body, deadline: Self.nioDeadline(call.deadline), collectLimit: collectLimit
                )
                span.modifyAttributes { $0.set(GenAIAttributes.httpResponseStatusCode, Int(response.status.code)) }
                if (200..<300).contains(response.status.code) {
                    return (response, UpstreamExchange(span: span))
                }
                let excerpt = await Self.errorExcerpt(response, secrets: provider.secrets)
                failed = response.status.code == 404
                    // The path without its query, which may hold a credential (`?api-key=`).
                    ? GatewayError.upstreamNotFound(provider: provider.name, path: String(path.prefix { $0 != "?" }), model: call.model)
                    : GatewayError.upstreamStatus(Int(response.status.code), provider: provider.name, excerpt: excerpt)
                retryAfter = Self.retryAfter(response.headers.first(name: "retry-after"))
                let headroom = RateLimitHeadroom(response.headers)
                if headroom.isKnown { rateLimit = headroom }
            } catch {
                if error is CancellationError || Task.isCancelled {
                    // The request did not end as asked (the HTTP conventions want its `error.type`); why the
                    // call was cancelled (a client that left, a run that failed) is its GenAI span's to say.
                    span.modifyAttributes { $0.set(GenAIAttributes.errorType, "cancelled") }
                    span.end()
                    throw CancellationError()
                }
                failed = Self.map(error, provider: provider.name)
            }
            var failure = failed
            failure.retryAfter = retryAfter
            failure.rateLimit = rateLimit
            span.modifyAttributes { $0.set(GenAIAttributes.errorType, failure.shortDescription) }
            span.setStatus(SpanStatus(code: .error))
            span.end()
            guard failure.isRetryable, attempt < (call.maxRetries ?? settings.maxRetries) else { throw failure }
            // Back off briefly (honouring a short retry-after), but never past the call's deadline. A
            // provider that asks for a longer wait is not asked again now: the failure goes back (with its
            // retry-after) to the route, which holds the model back, or to the client.
            if let retryAfter, retryAfter > Self.longestRetryWait { throw failure }
            let backoff = min(retryAfter ?? .milliseconds(50 << attempt), Self.longestRetryWait)
            guard ContinuousClock.now + backoff < call.deadline else { throw failure }
            try await Task.sleep(for: backoff)
            attempt += 1
        }
    }

    /// The longest wait before a retry at the same provider.
    static let longestRetryWait = Duration.seconds(2)

    /// A `retry-after` in seconds or as an HTTP date, within an hour; nil for anything else, so a
    /// provider's odd value can never trap a conversion.
    static func retryAfter(_ value: String?, now: Int = currentUnixSeconds()) -> Duration? {
        guard let value else { return nil }
        if let seconds = Double(value.filter { $0 != " " }), seconds.isFinite, seconds >= 0 {
            return .milliseconds(Int64(min(seconds, 3600) * 1000))
        }
        // The HTTP-date form (`Wed, 21 Oct 2026 07:28:00 GMT`, RFC 9110's IMF-fixdate): the time until then.
        guard let date = imfFixdate(value) else { return nil }
        return .seconds(min(max(date - now, 0), 3600))
    }

    /// Seconds since the Unix epoch of an IMF-fixdate, or nil.
    static func imfFixdate(_ text: String) -> Int? {
        let parts = text.split(separator: " ")
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        guard parts.count == 6, parts[5] == "GMT", let day = Int(parts[1]), (1...31).contains(day),
              let month = months.firstIndex(of: String(parts[2])), let year = Int(parts[3]), (1970...9999).contains(year)
        else { return nil }
        let time = parts[4].split(separator: ":").compactMap { Int($0) }
        guard time.count == 3, (0..<24).contains(time[0]), (0..<60).contains(time[1]), (0...60).contains(time[2]) else { return nil }
        // Days from the civil date (Howard Hinnant's algorithm), March-based years.
        let y = month < 2 ? year - 1 : year
        let era = y / 400
        let yearOfEra = y - era * 400
        let monthFromMarch = (month + 10) % 12  // `month` counts from 0
        let dayOfYear = (153 * monthFromMarch + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        let days = era * 146_097 + dayOfEra - 719_468
        return days * 86_400 + time[0] * 3_600 + time[1] * 60 + time[2]
    }

    static func nioDeadline(_ deadline: ContinuousClock.Instant) -> NIODeadline {
        let remaining = ContinuousClock.now.duration(to: deadline)
        return .now() + .nanoseconds(max(remaining.nanoseconds, 0))
    }

    static func map(_ error: any Error, provider: String) -> GatewayError {
        if let error = error as? GatewayError { return error }
        if let error = error as? UpstreamConnectionError {
            switch error.code {
            case .readTimeout, .bodyStalled, .deadlineExceeded, .connectTimeout:
                return .upstreamTimeout(provider: provider, phase: error.shortDescription)
            case .remoteConnectionClosed:
                return .streamInterrupted(provider: provider)
            case .invalidResponse:
                // An answer came that is not HTTP the parser can read (a header block over its limit, say).
                return .upstreamInvalidResponse(provider: provider, reason: error.shortDescription)
            case .connectFailed, .tlsFailed, .tlsUntrustedCertificate, .tlsHostnameMismatch, .tlsTrustStore, .closedBeforeAnswer, .shutdown:
                return .upstreamUnreachable(provider: provider, reason: error.shortDescription)
            }
        }
        if let error = error as? NIOTooManyBytesError {
            return .upstreamInvalidResponse(provider: provider, reason: "an answer over \(error.maxBytes.map { "\($0 >> 20) MB" } ?? "the limit")")
        }
        return .upstreamUnreachable(provider: provider, reason: String(describing: type(of: error)))
    }

    /// A short, credential-free excerpt of an error body: its `error.message` when it is JSON.
    static func errorExcerpt(_ response: UpstreamResponse, secrets: [String]) async -> String? {
        guard let buffer = try? await response.body.collect(upTo: 16 * 1024) else { return nil }
        let text = String(buffer: buffer)
        var message = text
        if let value = try? WireJSONAccess.decodeValue(text) {
            message = value["error"]?["message"]?.stringValue ?? value["message"]?.stringValue ?? value["error"]?.stringValue ?? text
        }
        // Scrubbed whole, then cut: a key across the cut would otherwise leave its first part behind.
        return String(CredentialScrubber.scrub(message, secrets: secrets).prefix(300))
    }
}

struct HTTPHeadersInjector: Injector {
    func inject(_ value: String, forKey key: String, into carrier: inout HTTPHeaders) {
        carrier.replaceOrAdd(name: key, value: value)
    }
}

extension Duration {
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}
