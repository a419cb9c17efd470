import ArchwayCore
import ArchwayPrometheus
import ArchwayTelemetry
import ArchwayWire
import Foundation
import HTTPTypes
import HummingbirdTesting
import InMemoryTracing
import NIOCore
import Testing
import Tracing

@Suite struct GatewayIntegrationTests {
    static let chatBody = #"{"model":"sim-small","messages":[{"role":"user","content":"hello"}],"temperature":0.5,"max_tokens":10}"#

    func json(_ buffer: ByteBuffer?) throws -> JSONValue {
        try WireJSON.decode(JSONValue.self, from: String(buffer: try #require(buffer)))
    }

    @Test func chatCompletionIsOneServerSpanWithGenAIAndHTTPChildren() async throws {
        let harness = try GatewayTestHarness()
        try await harness.run { client in
            let response = try await client.execute(uri: "/v1/chat/completions", method: .post, headers: [.contentType: "application/json"], body: ByteBuffer(string: Self.chatBody))
            #expect(response.status == .ok)
            let body = try json(response.body)
            #expect(body["model"] == .string("sim-small"))
            #expect(body["choices"]?.arrayValue?.first?["message"]?["content"]?.stringValue?.isEmpty == false)
        }
        let spans = try await harness.finishedSpans(count: 3)
        let server = try #require(spans.first { $0.kind == .server })
        let genAI = try #require(spans.first { $0.operationName == "chat sim-small-upstream" })
        let http = try #require(spans.first { $0.kind == .client && $0.operationName == "POST" })
        #expect(server.operationName == "POST /v1/chat/completions")
        #expect(genAI.kind == .client)
        #expect(genAI.parentSpanID == server.spanID)
        #expect(http.parentSpanID == genAI.spanID)
        #expect(genAI.traceID == server.traceID && http.traceID == server.traceID)
        #expect(genAI.attributes["gen_ai.provider.name"]?.toSpanAttribute() == .string("archway.simulator"))
        #expect(genAI.attributes["gen_ai.request.temperature"]?.toSpanAttribute() == .double(0.5))
        #expect(genAI.attributes["gen_ai.request.max_tokens"]?.toSpanAttribute() == .int64(10))
        #expect(genAI.attributes["server.address"]?.toSpanAttribute() == .string("127.0.0.1"))
        guard case .int64(let input)? = genAI.attributes["gen_ai.usage.input_tokens"]?.toSpanAttribute(),
              case .int64(let output)? = genAI.attributes["gen_ai.usage.output_tokens"]?.toSpanAttribute(),
              case .double(let cost)? = genAI.attributes["archway.cost.usd"]?.toSpanAttribute()
        else {
            Issue.record("usage and cost attributes missing")
            return
        }
        #expect(abs(cost - (Double(input) * 1.0 + Double(output) * 2.0) / 1_000_000) < 1e-12)
        #expect(server.attributes["http.response.status_code"]?.toSpanAttribute() == .int64(200))
        #expect(http.attributes["http.response.status_code"]?.toSpanAttribute() == .int64(200))
        #expect(!harness.metrics.recorders(label: "gen_ai.client.operation.duration").isEmpty)
        #expect(!harness.metrics.recorders(label: "gen_ai.client.token.usage").isEmpty)
    }

    @Test func upstreamConnectionsArePublishedByState() async throws {
        let harness = try GatewayTestHarness()
        try await harness.run { client in
            let response = try await client.execute(uri: "/v1/chat/completions", method: .post, headers: [.contentType: "application/json"], body: ByteBuffer(string: Self.chatBody))
            #expect(response.status == .ok)
            // The publisher runs every second: the call's kept-alive connection shows as idle, none waits.
            func value(_ label: String, state: String?) -> Double? {
                harness.metrics.recorders(label: label).first { recorder in
                    state.map { state in recorder.dimensions.contains { $0 == ("http.connection.state", state) } } ?? true
                }?.lastValue
            }
            for _ in 0..<40 where value("http.client.open_connections", state: "idle") != 1 {
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(value("http.client.open_connections", state: "idle") == 1)
            #expect(value("http.client.open_connections", state: "active") == 0)
            #expect(value("archway.upstream.waiting_calls", state: nil) == 0)
            let recorder = try #require(harness.metrics.recorders(label: "http.client.open_connections").first)
            #expect(recorder.dimensions.contains { $0 == ("server.address", "127.0.0.1") })
        }
    }

    @Test func callersTraceparentIsContinued() async throws {
        let harness = try GatewayTestHarness()
        try await harness.run { client in
            // InMemoryTracer's propagation keys stand in for traceparent in process.
            var headers: HTTPFields = [.contentType: "application/json"]
            headers[HTTPField.Name("in-memory-trace-id")!] = "trace-from-caller"
            headers[HTTPField.Name("in-memory-span-id")!] = "span-from-caller"
            _ = try await client.execute(uri: "/v1/chat/completions", method: .post, headers: headers, body: ByteBuffer(string: Self.chatBody))
        }
        let spans = try await harness.finishedSpans(count: 3)
        let server = try #require(spans.first { $0.kind == .server })
        #expect(server.traceID == "trace-from-caller")
        #expect(server.parentSpanID == "span-from-caller")
        #expect(spans.allSatisfy { $0.traceID == "trace-from-caller" })
    }

    @Test func streamingRelaysChunksAndEndsSpansAfterTheStream() async throws {
        let harness = try GatewayTestHarness()
        try await harness.run { client in
            let body = #"{"model":"sim-small","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}"#
            let response = try await client.execute(uri: "/v1/chat/completions", method: .post, headers: [.contentType: "application/json"], body: ByteBuffer(string: body))
            #expect(response.status == .ok)
            #expect(response.headers[.contentType] == "text/event-stream")
            var parser = SSEParser()
            parser.append(response.body)
            var events: [ServerSentEvent] = []
            while let event = parser.nextEvent() { events.append(event) }
            #expect(events.last?.data == "[DONE]")
            let usage = try WireJSON.decode(JSONValue.self, from: events[events.count - 2].data)
            #expect(usage["usage"]?["completion_tokens"] != nil)
            #expect(usage["model"] == .string("sim-small"))
        }
        let spans = try await harness.finishedSpans(count: 3)
        let genAI = try #require(spans.first { $0.operationName == "chat sim-small-upstream" })
        #expect(genAI.attributes["gen_ai.request.stream"]?.toSpanAttribute() == .bool(true))
        #expect(genAI.attributes["gen_ai.response.time_to_first_chunk"] != nil)
        #expect(genAI.attributes["gen_ai.response.finish_reasons"]?.toSpanAttribute() == .stringArray(["stop"]))
        #expect(!harness.metrics.recorders(label: "gen_ai.client.operation.time_to_first_chunk").isEmpty)
    }

    @Test func anthropicMessagesAgainstAnOpenAIWireProvider() async throws {
        let harness = try GatewayTestHarness()
        try await harness.run { client in
            let body = #"{"model":"sim-small","max_tokens":8,"system":"Be brief.","messages":[{"role":"user","content":"hi"}]}"#
            let response = try await client.execute(uri: "/v1/messages", method: .post, headers: [.contentType: "application/json"], body: ByteBuffer(string: body))
            #expect(response.status == .ok)
            let message = try json(response.body)
            #expect(message["type"] == .string("message"))
            #expect(message["content"]?.arrayValue?.first?["type"] == .string("text"))
            #expect(message["stop_reason"] != nil)
        }
    }

    @Test func errorsHaveTheOpenAIShapeAndStatus() async throws {
        let harness = try GatewayTestHarness()
        try await harness.run { client in
            let cases: [(String, String, HTTPResponse.Status, String?)] = [
                ("/v1/chat/completions", "{nope", .badRequest, "invalid_json"),
                ("/v1/chat/completions", #"{"model":"missing","messages":[{"role":"user","content":"x"}]}"#, .notFound, "model_not_found"),
                ("/v1/chat/completions", #"{"model":"sim-small"}"#, .badRequest, "missing_required_parameter"),
                ("/v1/chat/completions", #"{"model":"broken-model","messages":[{"role":"user","content":"x"}]}"#, .serviceUnavailable, "upstream_unavailable"),
                ("/v1/nothing-here", "{}", .notFound, "unknown_url"),
                // No workflow is configured: a run names the workflow, not the URL, as unknown.
                ("/v1/workflows/nope/runs", "{}", .notFound, "workflow_not_found"),
                // Last: answered from its length, before its body, the connection then closes.
                ("/v1/chat/completions", #"{"model":"sim-small","messages":[{"role":"user","content":"\#(String(repeating: "x", count: 4000))"}]}"#, .contentTooLarge, "request_too_large"),
            ]
            for (uri, body, status, code) in cases {
                let response = try await client.execute(uri: uri, method: .post, headers: [.contentType: "application/json"], body: ByteBuffer(string: body))
                #expect(response.status == status, "\(uri) \(body.prefix(40))")
                let error = try json(response.body)["error"]
                #expect(error?["message"]?.stringValue?.isEmpty == false)
                #expect(error?["type"]?.stringValue != nil)
                #expect(error?.objectValue?.keys.contains("param") == true)
                #expect(error?["code"]?.stringValue == code, "\(uri)")
            }
        }
        let failed = try #require(harness.tracer.finishedSpans.first { $0.operationName == "chat broken-model" })
        #expect(failed.status?.code == .error)
        #expect(failed.attributes["error.type"]?.toSpanAttribute() == .string("503"))
    }

    @Test func serverSpansTakeTheirRouteFromTheMatchedEndpoint() async throws {
        let harness = try GatewayTestHarness()
        try await harness.run { client in
            _ = try await client.execute(uri: "/v1/nothing-here/\(UInt64.random(in: 0...UInt64.max))", method: .post, body: ByteBuffer(string: "{}"))
            _ = try await client.execute(uri: "/v1/models", method: .get)
            _ = try await client.execute(uri: "/healthz", method: .get)
        }
        let servers = try await harness.finishedSpans(count: 2).filter { $0.kind == .server }
        #expect(servers.map(\.operationName).sorted() == ["GET /v1/models", "POST"])
        let unmatched = try #require(servers.first { $0.operationName == "POST" })
        // A path nothing matched never becomes a route label: clients cannot inflate span names or series.
        #expect(unmatched.attributes["http.route"] == nil)
        #expect(unmatched.attributes["http.response.status_code"]?.toSpanAttribute() == .int64(404))
        let models = try #require(servers.first { $0.operationName == "GET /v1/models" })
        #expect(models.attributes["http.route"]?.toSpanAttribute() == .string("/v1/models"))
    }

    /// A path the gateway serves, asked with another method, is 405 with `Allow` (not 404 `unknown_url`,
    /// which says the path is wrong); HEAD of a GET route is its answer without the body.
    @Test func wrongMethodsAre405WithAllowAndHeadIsGetWithoutItsBody() async throws {
        let harness = try GatewayTestHarness()
        try await harness.run { client in
            let cases: [(String, HTTPRequest.Method, String)] = [
                ("/v1/chat/completions", .get, "POST"),
                ("/v1/chat/completions", .head, "POST"),
                ("/v1/messages", .put, "POST"),
                ("/v1/models", .delete, "GET, HEAD"),
                ("/v1/models", .post, "GET, HEAD"),
                ("/healthz", .options, "GET, HEAD"),
                // Methods outside HTTP's own set reach the router's not-found answer first.
                ("/v1/chat/completions", HTTPRequest.Method("PROPFIND")!, "POST"),
                ("/v1/models/sim-small", HTTPRequest.Method("MKCOL")!, "GET, HEAD"),
                ("/v1/models/org/sim-small", HTTPRequest.Method("LOCK")!, "GET, HEAD"),
            ]
            for (uri, method, allow) in cases {
                let response = try await client.execute(uri: uri, method: method)
                #expect(response.status == .methodNotAllowed, "\(method) \(uri)")
                #expect(response.headers[.allow] == allow, "\(method) \(uri)")
                guard method != .head else { continue }
                let error = try json(response.body)["error"]
                #expect(error?["code"]?.stringValue == "method_not_allowed")
                #expect(error?["message"]?.stringValue?.contains("\(method.rawValue) is not allowed on \(uri)") == true)
            }
            let anthropic = try await client.execute(uri: "/v1/messages", method: .get)
            #expect(try json(anthropic.body)["type"]?.stringValue == "error", "the Anthropic route keeps its error envelope")
            #expect(try await client.execute(uri: "/v1/nothing-here", method: .get).status == .notFound)
            // Below the Anthropic route, Anthropic's envelope too (its SDK's `count_tokens`, say).
            let countTokens = try await client.execute(uri: "/v1/messages/count_tokens", method: .post)
            #expect(countTokens.status == .notFound)
            #expect(try json(countTokens.body)["type"]?.stringValue == "error")
            #expect(try json(try await client.execute(uri: "/v1/messagesX", method: .post).body)["type"] == nil)
            #expect(try await client.execute(uri: "/v1/nothing-here", method: HTTPRequest.Method("PROPFIND")!).status == .notFound)
            #expect(try await client.execute(uri: "/v1/chat/completions/x", method: HTTPRequest.Method("PROPFIND")!).status == .notFound)

            let get = try await client.execute(uri: "/healthz", method: .get)
            let head = try await client.execute(uri: "/healthz", method: .head)
            #expect(head.status == .ok)
            #expect(head.headers[.contentLength] == String(get.body.readableBytes))
            #expect(head.body.readableBytes == 0)
            let models = try await client.execute(uri: "/v1/models", method: .head)
            #expect(models.status == .ok && models.body.readableBytes == 0)
            #expect(try await client.execute(uri: "/v1/models/sim-small", method: .get).status == .ok)
        }
        let spans = try await harness.finishedSpans(count: 16)
        let retrieve = try #require(spans.first { $0.operationName == "GET /v1/models/{model}" }, "a route template, not the catch-all")
        #expect(retrieve.attributes["http.route"]?.toSpanAttribute() == .string("/v1/models/{model}"))
        let head = try #require(spans.first { $0.operationName == "HEAD /v1/models" })
        #expect(head.attributes["http.response.status_code"]?.toSpanAttribute() == .int64(200))
        #expect(head.attributes["error.type"] == nil, "a HEAD answered is not a client that left")
        let refused = try #require(spans.first { $0.operationName == "GET /v1/chat/completions" })
        #expect(refused.attributes["http.route"]?.toSpanAttribute() == .string("/v1/chat/completions"))
        #expect(refused.attributes["http.response.status_code"]?.toSpanAttribute() == .int64(405))
    }

    @Test func modelsAndProbes() async throws {
        let harness = try GatewayTestHarness()
        try await harness.run { client in
            let models = try await client.execute(uri: "/v1/models", method: .get)
            #expect(try json(models.body)["data"]?.arrayValue?.compactMap { $0["id"]?.stringValue } == ["sim-small", "broken-model"])
            #expect(try await client.execute(uri: "/healthz", method: .get).status == .ok)
            #expect(try await client.execute(uri: "/readyz", method: .get).status == .ok)
            // One model, as `client.models.retrieve` asks for it.
            let one = try await client.execute(uri: "/v1/models/sim-small", method: .get)
            #expect(try json(one.body)["id"]?.stringValue == "sim-small")
            #expect(try json(one.body)["object"]?.stringValue == "model")
            let missing = try await client.execute(uri: "/v1/models/nope", method: .get)
            #expect(missing.status == .notFound)
            #expect(try json(missing.body)["error"]?["code"]?.stringValue == "model_not_found")
        }
    }

    @Test func masterKeyIsRequiredWhenConfigured() async throws {
        var harness = try GatewayTestHarness()
        harness.configuration.server.masterKey = "archway-test-master-key"
        try await harness.run { client in
            let denied = try await client.execute(uri: "/v1/models", method: .get)
            #expect(denied.status == .unauthorized)
            let allowed = try await client.execute(uri: "/v1/models", method: .get, headers: [.authorization: "Bearer archway-test-master-key"])
            #expect(allowed.status == .ok)
            // The scheme is case-insensitive.
            let lower = try await client.execute(uri: "/v1/models", method: .get, headers: [.authorization: "bearer archway-test-master-key"])
            #expect(lower.status == .ok)
            let wrong = try await client.execute(uri: "/v1/models", method: .get, headers: [.authorization: "bearer archway-test-master-keyX"])
            #expect(wrong.status == .unauthorized)
            #expect(try await client.execute(uri: "/healthz", method: .get).status == .ok)
            #expect(try await client.execute(uri: "/readyz", method: .get).status == .ok)
        }
    }

    /// The router reads repeated slashes as one: `//v1/…` is the model route, and must need the key as
    /// `/v1/…` does (a check of the path's prefix let it through, with the gateway's provider keys).
    @Test(arguments: ["//v1/chat/completions", "/v1//chat/completions", "///v1/chat/completions", "/nothing/here"])
    func theMasterKeyGuardsEveryRouteHoweverItsPathIsWritten(path: String) async throws {
        var harness = try GatewayTestHarness()
        harness.configuration.server.masterKey = "archway-test-master-key"
        try await harness.run { client in
            let denied = try await client.execute(uri: path, method: .post, headers: [.contentType: "application/json"], body: ByteBuffer(string: Self.chatBody))
            #expect(denied.status == .unauthorized)
            for admin in ["//admin/routing", "//admin/pricing", "/admin//routing"] {
                #expect(try await client.execute(uri: admin, method: .get).status == .unauthorized, "\(admin)")
            }
            #expect(try await client.execute(uri: "//admin/pricing", method: .put, body: ByteBuffer(string: "models: {}\n")).status == .unauthorized)
        }
    }
}

@Suite struct GatewayMetricsEndpointTests {
    @Test func metricsEndpointServesCollectorStyleNames() async throws {
        let harness = try GatewayTestHarness()
        let exposition = PrometheusExposition()
        try await harness.run(prometheus: exposition) { client in
            _ = try await client.execute(uri: "/v1/chat/completions", method: .post, headers: [.contentType: "application/json"], body: ByteBuffer(string: GatewayIntegrationTests.chatBody))
            let response = try await client.execute(uri: "/metrics", method: .get)
            #expect(response.status == .ok)
            #expect(response.headers[.contentType]?.hasPrefix("text/plain; version=0.0.4") == true)
            let text = String(buffer: response.body)
            #expect(text.contains("gen_ai_client_operation_duration_seconds_count{"))
            #expect(text.contains(#"http_server_request_duration_seconds_count{http_request_method="POST",http_route="/v1/chat/completions",http_response_status_code="200",url_scheme="http"} 1"#))
        }
    }
}

extension GatewayMetricsEndpointTests {
    /// A method HTTP's conventions do not name (WebDAV's PROPFIND, which SwiftNIO's parser accepts) is
    /// `_OTHER` in the span and the metric, keeping their label set closed.
    @Test func aMethodTheConventionsDoNotNameIsReportedAsOther() async throws {
        let harness = try GatewayTestHarness()
        let exposition = PrometheusExposition()
        try await harness.run(prometheus: exposition) { client in
            let other = try await client.execute(uri: "/v1/models", method: try #require(HTTPRequest.Method("PROPFIND")))
            #expect(other.status.code >= 400 && other.status.code < 500)
            let text = String(buffer: try await client.execute(uri: "/metrics", method: .get).body)
            #expect(text.contains(#"http_server_request_duration_seconds_count{http_request_method="_OTHER""#))
            #expect(!text.contains("PROPFIND"))
        }
        let server = try #require(try await harness.finishedSpans(count: 1).first { $0.kind == .server })
        #expect(server.operationName.hasPrefix("HTTP"))
        #expect(server.attributes["http.request.method"]?.toSpanAttribute() == .string("_OTHER"))
        #expect(server.attributes["http.request.method_original"]?.toSpanAttribute() == .string("PROPFIND"))
    }
}

@Suite struct GatewayRetryTests {
    @Test func failedCallAfterRetriesStillReportsItsAttempts() async throws {
        var harness = try GatewayTestHarness()
        harness.configuration.upstream.maxRetries = 1
        try await harness.run { client in
            let response = try await client.execute(
                uri: "/v1/chat/completions",
                method: .post,
                headers: [.contentType: "application/json"],
                body: ByteBuffer(string: #"{"model":"broken-model","messages":[{"role":"user","content":"x"}]}"#)
            )
            #expect(response.status == .serviceUnavailable)
        }
        let spans = try await harness.finishedSpans(count: 4)
        let genAI = try #require(spans.first { $0.operationName == "chat broken-model" })
        let attempts = spans.filter { $0.operationName == "POST" && $0.parentSpanID == genAI.spanID }
        #expect(attempts.count == 2)
        #expect(attempts.contains { $0.attributes["http.request.resend_count"]?.toSpanAttribute() == .int64(1) })
        #expect(genAI.attributes["archway.attempts"]?.toSpanAttribute() == .int64(2))
        #expect(harness.metrics.counterTotal(label: "archway.upstream.retries") == 1)
    }
}
