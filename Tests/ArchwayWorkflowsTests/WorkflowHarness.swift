import ArchwayConfig
import ArchwayCore
import ArchwayExecution
import ArchwayProviders
import ArchwayRouting
import ArchwayTelemetry
import ArchwayTestSupport
import ArchwayWorkflows
import Hummingbird
import InMemoryTracing
import Logging
import MetricsTestKit
import Foundation
import Synchronization

/// A workflow runner over a scripted upstream that answers each prompt as the test says, with
/// in-memory telemetry.
struct WorkflowHarness {
    let tracer = InMemoryTracer()
    let metrics = TestMetrics()
    let configuration: GatewayConfiguration

    init(baseURL: String, workflows: String) throws {
        configuration = try ConfigurationLoader(environment: [:]).load(yaml: """
        upstream: {max_retries: 0}
        providers:
          p: {kind: openai, base_url: "\(baseURL)/v1"}
        models:
          m: {provider: p, model: m-up, price: {input: 1, output: 1}}
        workflows:
        \(workflows)
        """)
    }

    var workflow: WorkflowConfiguration { configuration.workflows[0] }

    func run(_ inputs: [String: JSONValue] = [:], cancellation: (any CancellationCause)? = nil) async throws -> WorkflowResult {
        try await TestExecutor.with(
            configuration,
            telemetry: GenAITelemetry(tracer: tracer, metrics: metrics),
            pricing: PricingIndex(models: configuration.models)
        ) { executor in
            await WorkflowRunner(executor: executor).run(workflow, inputs: inputs, cancellation: cancellation)
        }
    }

    /// An OpenAI completion answering `text`.
    static func completion(_ text: String) -> Response {
        let escaped = text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
        return .scriptedJSON(#"{"id":"c","object":"chat.completion","created":1,"model":"m-up","choices":[{"index":0,"message":{"role":"assistant","content":"\#(escaped)"},"finish_reason":"stop"}],"usage":{"prompt_tokens":10,"completion_tokens":5,"total_tokens":15}}"#)
    }

    /// An upstream that answers by the prompt's first word: `broken` with 503, `notjson` with prose, `slow`
    /// after `slow`, anything else with `reply` and the prompt.
    static func upstream(slow: Duration = .seconds(6), reply: String = "ok ") -> ScriptedUpstream {
        ScriptedUpstream { received, _ in
            let prompt = prompt(received)
            if prompt.hasPrefix("broken") { return .scriptedJSON(#"{"error":{"message":"down"}}"#, status: .serviceUnavailable) }
            if prompt.hasPrefix("notjson") { return completion("certainly! here it is") }
            if prompt.hasPrefix("slow") { try await Task.sleep(for: slow) }
            return completion(reply + prompt)
        }
    }

    /// The user prompt of a received chat request.
    static func prompt(_ received: ScriptedUpstream.Received) -> String {
        guard let data = received.body.data(using: .utf8),
              let body = try? JSONDecoder().decode(JSONValue.self, from: data),
              case .array(let messages)? = body.objectValue?["messages"],
              let last = messages.last?.objectValue?["content"]?.stringValue else { return "" }
        return last
    }
}

/// Counts calls in flight at once.
final class Concurrency: Sendable {
    private let state = Mutex((now: 0, peak: 0))

    func enter() { state.withLock { $0.now += 1; $0.peak = max($0.peak, $0.now) } }
    func leave() { state.withLock { $0.now -= 1 } }
    var peak: Int { state.withLock { $0.peak } }
    var current: Int { state.withLock { $0.now } }
}
